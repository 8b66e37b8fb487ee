"""IP fragment reassembly, the packet path's slow lane.

Fragments are rare on a VM's tap (path MTU discovery avoids them) but real:
a large SIP INVITE over UDP is the classic case. The kernel leaves them
here; this module collects them per (family, src, dst, id, protocol),
bounded in datagrams and time, and returns each completed datagram as one
packet (its link header, a rebuilt IP header, the whole payload) that
stands for all its fragments: weight = number of fragments, wire length =
their sum. Plain Python is fine at this rate.
"""
import collections
import struct

import numpy as np

from dpiaas.dpi import batch as batch_mod


class _Datagram:
    __slots__ = ('first_seen', 'parts', 'total', 'count', 'wire', 'l2',
                 'l3hdr', 'nh', 'family')

    def __init__(self, ts):
        self.first_seen = ts
        self.parts = {}
        self.total = None
        self.count = 0
        self.wire = 0
        self.l2 = None
        self.l3hdr = None
        self.nh = 0
        self.family = 4


class Reassembler:
    """Collects fragments; ``add`` returns completed datagrams."""

    def __init__(self, max_datagrams=4096, timeout_s=30.0,
                 max_size=65535 + 40):
        self.max_datagrams = max_datagrams
        self.timeout_ns = int(timeout_s * 1e9)
        self.max_size = max_size
        self.pending = collections.OrderedDict()
        self.dropped = 0
        self.completed = 0

    def add_batch(self, b, h, indices):
        """Take fragments ``indices`` of batch ``b`` (decoded as ``h``).

        Returns a PacketBatch of completed datagrams (or None).
        """
        out = []
        # the columns of just these packets as Python ints, once: int() of
        # numpy scalars per field was most of the cost of a fragment
        idx = np.asarray(indices, dtype=np.int64)
        off = b.off[idx].tolist()
        caplen = b.caplen[idx].tolist()
        l3_off = h.l3_off[idx].tolist()
        ipver = h.ipver[idx].tolist()
        ts_ns = b.ts_ns[idx].tolist()
        wirelen = b.wirelen[idx].tolist()
        buf = b.buf
        for k in range(len(off)):
            start = off[k]
            done = self._add(buf[start:start + caplen[k]].tobytes(),
                             l3_off[k] - start, ipver[k], ts_ns[k],
                             wirelen[k])
            if done is not None:
                out.append(done)
        if not out:
            return None
        pb = batch_mod.PacketBatch.from_packets(
            [(ts, data) for ts, data, _, _ in out], linktype=b.linktype)
        pb.weight[:] = [w for _, _, w, _ in out]
        pb.wirelen[:] = [wl for _, _, _, wl in out]
        return pb

    def expire(self, now_ns):
        while self.pending:
            key, dg = next(iter(self.pending.items()))
            if now_ns - dg.first_seen <= self.timeout_ns:
                break
            del self.pending[key]
            self.dropped += dg.count

    def _add(self, raw, l3r, family, ts, wirelen):
        """Take one fragment (its captured bytes ``raw``, IP header at
        ``l3r``); the completed datagram or None."""
        parsed = _parse_fragment(raw, l3r, family)
        if parsed is None:
            return None
        key, offset, more, payload, l3hdr, nh = parsed
        dg = self.pending.get(key)
        if dg is None:
            if len(self.pending) >= self.max_datagrams:
                _, old = self.pending.popitem(last=False)
                self.dropped += old.count
            dg = self.pending[key] = _Datagram(ts)
        dg.count += 1
        dg.wire += wirelen
        if offset + len(payload) > self.max_size:
            del self.pending[key]
            self.dropped += dg.count
            return None
        dg.parts[offset] = payload
        if offset == 0:
            dg.l2 = raw[:l3r]
            dg.l3hdr = l3hdr
            dg.nh = nh
            dg.family = family
        if not more:
            dg.total = offset + len(payload)
        if dg.total is None or dg.l2 is None:
            return None
        data = _join(dg.parts, dg.total)
        if data is None:
            return None
        del self.pending[key]
        self.completed += 1
        return ts, dg.l2 + _header(dg, len(data)) + data, dg.count, dg.wire


def _parse_fragment(raw, l3, family):
    """(key, offset, more, payload, l3 header, next header) or None."""
    if family == 4:
        ihl = (raw[l3] & 0x0F) * 4
        tot = struct.unpack_from('!H', raw, l3 + 2)[0]
        ident, fo = struct.unpack_from('!HH', raw, l3 + 4)
        proto = raw[l3 + 9]
        end = min(len(raw), l3 + tot) if tot >= ihl else len(raw)
        key = (4, raw[l3 + 12:l3 + 20], ident, proto)
        return (key, (fo & 0x1FFF) * 8, bool(fo & 0x2000),
                raw[l3 + ihl:end], raw[l3:l3 + ihl], proto)
    nh = raw[l3 + 6]
    plen = struct.unpack_from('!H', raw, l3 + 4)[0]
    end = min(len(raw), l3 + 40 + plen)
    r = l3 + 40
    for _ in range(8):
        if nh in (0, 43, 60):
            nh, r = raw[r], r + (raw[r + 1] + 1) * 8
        elif nh == 44:
            nxt = raw[r]
            fo = struct.unpack_from('!H', raw, r + 2)[0]
            ident = struct.unpack_from('!I', raw, r + 4)[0]
            key = (6, raw[l3 + 8:l3 + 40], ident, nxt)
            return (key, fo & 0xFFF8, bool(fo & 1), raw[r + 8:end],
                    raw[l3:l3 + 40], nxt)
        else:
            return None
    return None


def _join(parts, total):
    """The datagram's payload, or None while a byte is missing.

    Parts are copied in arrival order (a later overlapping fragment wins);
    coverage is checked on the parts sorted by offset, not byte by byte.
    """
    covered = 0
    for off in sorted(parts):
        if off > covered:
            return None
        covered = max(covered, off + len(parts[off]))
        if covered >= total:
            break
    if covered < total:
        return None
    out = bytearray(total)
    for off, data in parts.items():
        data = data[:max(0, total - off)]
        out[off:off + len(data)] = data
    return bytes(out)


def _header(dg, plen):
    hdr = bytearray(dg.l3hdr)
    if dg.family == 4:
        struct.pack_into('!H', hdr, 2, len(hdr) + plen)
        struct.pack_into('!H', hdr, 6, 0)
    else:
        struct.pack_into('!H', hdr, 4, plen)
        hdr[6] = dg.nh
    return bytes(hdr)
