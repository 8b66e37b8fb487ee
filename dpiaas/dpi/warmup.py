"""Compile the numba kernels ahead of first use.

numba caches compiled kernels on disk (``cache=True``), so the first run
after an install pays the compilation once (about 20 s here) and later
processes load them in well under a second. Services and the test runner
call :func:`warm_up` at start so that no interval is late because of it.
"""
import time

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import pipeline
from dpiaas.dpi import spec as spec_mod

# One packet of each kind the kernels branch on: SIP/UDP, HTTP/TCP, DNS/UDP.
_FRAMES = (
    '02000000000102000000000208004500003b0001000040110000c6120001c612000a'
    '13c413c40027000052454749535445522073697020534950'
    '2f322e300d0a0d0a',
)


def warm_up():
    """Run a tiny batch through every kernel; return the seconds it took."""
    t0 = time.monotonic()
    spec = spec_mod.CollectorSpec(services=[
        spec_mod.Service.parse('udp/5060=sip'),
        spec_mod.Service.parse('tcp/80=http'),
        spec_mod.Service.parse('udp/53=dns'),
        spec_mod.Service.parse('tcp/53=dns')])
    collector = pipeline.Collector(spec)
    packets = [(1000000000 + k, bytes.fromhex(f))
               for k, f in enumerate(_FRAMES)]
    collector.feed(batch_mod.PacketBatch.from_packets(packets))
    collector.flush()
    return time.monotonic() - t0
