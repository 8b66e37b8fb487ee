"""The full DPI pipeline as a consumer for ``bench/live_capture.py``.

``python bench/live_capture.py --consumer bench.pipeline_consumer:factory
--pcap <mixed capture>`` measures live capture with every metric, the flow
table and heavy hitters computed, for the services of the mixed capture
(``bench/mixed_capture.py``), instead of only counting packets.
"""
import time

from bench import mixed_capture


def _make():
    from dpiaas.dpi import pipeline
    from dpiaas.dpi import spec as spec_mod
    from dpiaas.dpi import warmup
    warmup.warm_up()
    spec = spec_mod.CollectorSpec(
        services=[spec_mod.Service.parse(s)
                  for s in mixed_capture.SERVICES],
        vm_ips=[mixed_capture.VM_IP4, mixed_capture.VM_IP6])
    collector = pipeline.Collector(spec, live=True)

    def consume(batch):
        if len(batch):
            collector.feed(batch)
        collector.advance(time.time_ns() - 150000000)
    return consume


def factory():
    """What ``--consumer module:factory`` calls, once in each worker: a
    fresh pipeline and the function that feeds it a batch."""
    return _make()
