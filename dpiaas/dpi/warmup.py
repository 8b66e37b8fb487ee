"""Compile the numba kernels ahead of first use.

numba caches compiled kernels on disk (``cache=True``), so the first run
after an install pays the compilation once (about 20 s here) and later
processes load them in well under a second. Services and the test runner
call :func:`warm_up` at start so that no interval is late because of it.
"""
import struct
import time

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import pipeline
from dpiaas.dpi import spec as spec_mod

# One packet of each kind the kernels branch on: SIP/UDP, HTTP/TCP, DNS/UDP
# (and the SIP one again in two fragments, see packets()).
_FRAMES = (
    '02000000000102000000000208004500003b0001000040110000c6120001c612000a'
    '13c413c40027000052454749535445522073697020534950'
    '2f322e300d0a0d0a',
)


def _fragmented(frame, at=16):
    """The IPv4 frame (Ethernet, 20-byte IP header) cut in two fragments,
    the first carrying ``at`` bytes of the IP payload: reassembly has its
    own compiled pass (:mod:`dpiaas.dpi.fragments`), which would otherwise
    compile at a live collector's first fragment (about 2 s uncached)."""
    eth, ip = frame[:14], frame[14:34]
    payload = frame[34:14 + struct.unpack('!H', frame[16:18])[0]]
    out = []
    for off, part, more in ((0, payload[:at], 1),
                            (at, payload[at:], 0)):
        hdr = bytearray(ip)
        struct.pack_into('!H', hdr, 2, 20 + len(part))
        struct.pack_into('!H', hdr, 6, (more << 13) | (off // 8))
        out.append(eth + bytes(hdr) + part)
    return out


def packets():
    """The warm-up packets, (timestamp ns, frame) in order."""
    frames = [bytes.fromhex(f) for f in _FRAMES]
    frames += _fragmented(frames[0])
    return [(1000000000 + k, f) for k, f in enumerate(frames)]


def warm_up():
    """Run a tiny batch through every kernel; return the seconds it took."""
    t0 = time.monotonic()
    spec = spec_mod.CollectorSpec(services=[
        spec_mod.Service.parse('udp/5060=sip'),
        spec_mod.Service.parse('tcp/80=http'),
        spec_mod.Service.parse('udp/53=dns'),
        spec_mod.Service.parse('tcp/53=dns')])
    collector = pipeline.Collector(spec)
    collector.feed(batch_mod.PacketBatch.from_packets(packets()))
    collector.flush()
    return time.monotonic() - t0
