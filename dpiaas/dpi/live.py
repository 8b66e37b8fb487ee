"""Live collection: a tap device in, one report per wall-clock interval out.

:class:`LiveCollector` ties a capture (one AF_PACKET ring, or several
worker processes in a PACKET_FANOUT group when one core is not enough) to
the pipeline and closes intervals by the wall clock, so that an interval
with no packets at all is still reported, with zeros. Intervals are closed
``grace_ms`` after they end so that packets still in the ring land in the
interval their timestamps say. With several workers each runs its own
pipeline on its share of the flows and the parent merges their reports:
counters add up, latency percentiles are computed over the workers' pooled
samples, heavy hitters are re-ranked.
"""
import logging
import queue
import threading
import time

import numpy as np

from dpiaas.dpi import pipeline
from dpiaas.dpi import settings as settings_mod
from dpiaas.dpi import spec as spec_mod
from dpiaas.dpi import warmup
from dpiaas.dpi.capture import afpacket
from dpiaas.dpi.capture import CaptureError
from dpiaas.dpi.capture import bpf
from dpiaas.dpi.capture import fanout

LOG = logging.getLogger(__name__)
NS = 1000000000


def _now_ns():
    return time.time_ns()


def _drive(collector, batches, stats, grace_ns, emit, stop, deadline_ns):
    """Feed ``batches`` into ``collector``; close intervals by the clock."""
    last = {'packets': 0, 'drops': 0}
    for batch in batches:
        if len(batch):
            for report in collector.feed(batch):
                emit(report)
        now = _now_ns()
        if stats is not None:
            cur = stats()
            collector.record_capture_stats(cur['packets'] - last['packets'],
                                           cur['drops'] - last['drops'])
            last = cur
        for report in collector.advance(now - grace_ns):
            emit(report)
        if (stop is not None and stop.is_set()) or (
                deadline_ns is not None and now >= deadline_ns):
            break


class PipelineWorker:
    """The fanout ``worker_fn``: a whole pipeline on one worker's share."""

    def __init__(self, spec_dict, settings, grace_ms):
        self.spec_dict = spec_dict
        self.settings = settings
        self.grace_ns = int(grace_ms * 1e6)

    def __call__(self, batches, index, results):
        """Runs until the parent stops the capture (``batches`` ends)."""
        spec = spec_mod.CollectorSpec.from_dict(self.spec_dict)
        collector = pipeline.Collector(spec, self.settings, live=True,
                                       keep_samples=True)
        _drive(collector, batches, None, self.grace_ns,
               lambda r: results.put((index, r)), None, None)
        for report in collector.flush():
            results.put((index, report))


def merge_reports(reports, heavy_hitters=10):
    """One report from the workers' reports of the same interval."""
    first = reports[0]
    metrics = {}
    samples = {}
    for r in reports:
        for name, value in r.metrics.items():
            if '.latency_ms.' in name:
                continue
            metrics[name] = metrics.get(name, 0) + value
        for prefix, values in (r.samples or {}).items():
            samples.setdefault(prefix, []).append(values)
    for prefix, parts in samples.items():
        values = np.concatenate(parts)
        if len(values):
            p50, p95 = np.percentile(values, (50, 95))
            metrics[prefix + 'p50'] = round(float(p50), 3)
            metrics[prefix + 'p95'] = round(float(p95), 3)
    hh = {}
    for key in ('packets', 'bytes'):
        rows = [row for r in reports
                for row in (r.heavy_hitters or {}).get(key, [])]
        rows.sort(key=lambda row: row.get(key, 0), reverse=True)
        hh[key] = rows[:heavy_hitters]
    return pipeline.IntervalReport(
        ts=first.ts, interval_ms=first.interval_ms, metrics=metrics,
        flows=[f for r in reports for f in r.flows], heavy_hitters=hh)


class LiveCollector:
    """Collect ``spec``'s metrics from ``interface`` until stopped."""

    def __init__(self, interface, spec, settings=None, workers=1,
                 grace_ms=150, capture_opts=None):
        self.interface = interface
        self.spec = spec
        self.settings = settings or settings_mod.DpiSettings(
            interval_ms=spec.interval_ms)
        self.workers = int(workers)
        self.grace_ms = grace_ms
        self.capture_opts = dict(capture_opts or {})
        self.filter = bpf.filter_expression(spec.services)
        self.stop_event = threading.Event()
        self.last_stats = {'packets': 0, 'drops': 0}

    def stop(self):
        self.stop_event.set()

    def run(self, emit, duration_s=None):
        """Call ``emit(report)`` for every interval; returns when stopped
        (or after ``duration_s``). Raises CaptureError when the interface
        cannot be captured or vanishes."""
        # compile (or load) the kernels before the first packet waits
        warmup.warm_up()
        if self.workers <= 1:
            return self._run_single(emit, duration_s)
        return self._run_fanout(emit, duration_s)

    def _run_single(self, emit, duration_s):
        collector = pipeline.Collector(self.spec, self.settings, live=True)
        deadline = None if duration_s is None else \
            _now_ns() + int(duration_s * NS)
        with afpacket.AfPacketCapture(self.interface,
                                      bpf_filter=self.filter,
                                      **self.capture_opts) as cap:
            _drive(collector, cap.batches(timeout_ms=100), cap.stats,
                   int(self.grace_ms * 1e6), emit, self.stop_event,
                   deadline)
            self.last_stats = cap.stats()
        for report in collector.flush():
            emit(report)

    def _run_fanout(self, emit, duration_s):
        worker = PipelineWorker(self.spec.to_dict(), self.settings,
                                self.grace_ms)
        pending = {}
        latest = {}
        last = {'packets': 0, 'drops': 0}

        def collect(item):
            index, report = item
            pending.setdefault(report.ts, {})[index] = report
            latest[index] = report.ts

        def release(final=False):
            # workers report their intervals in order, but start at
            # different times: an interval is complete once every worker
            # has reported it or a later one
            nonlocal last
            done_upto = min(latest.values()) if \
                len(latest) == self.workers else None
            for ts in sorted(pending):
                parts = pending[ts]
                if not final and (done_upto is None or ts > done_upto):
                    break
                merged = merge_reports(list(parts.values()),
                                       self.settings.heavy_hitters)
                cur = fc.stats()
                merged.metrics['capture.packets'] = cur['packets'] - \
                    last['packets']
                merged.metrics['capture.drops'] = cur['drops'] - \
                    last['drops']
                last = {'packets': cur['packets'], 'drops': cur['drops']}
                del pending[ts]
                emit(merged)

        capture_opts = dict(self.capture_opts)
        with fanout.FanoutCapture(self.interface, worker,
                                  workers=self.workers,
                                  bpf_filter=self.filter,
                                  capture_opts=capture_opts) as fc:
            # the duration counts from when every worker captures
            deadline = None if duration_s is None else \
                time.monotonic() + duration_s
            while not self.stop_event.is_set():
                try:
                    collect(fc.get(timeout=0.2))
                except queue.Empty:
                    pass
                release()
                errors = fc.errors()
                if errors:
                    raise CaptureError('; '.join(errors.values()))
                if not fc.alive() or (deadline is not None
                                      and time.monotonic() > deadline):
                    break
            for item in fc.stop():
                collect(item)
            self.last_stats = fc.stats()
        release(final=True)
