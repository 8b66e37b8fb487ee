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
        for i in indices:
            done = self._add(b, h, int(i))
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

    def _add(self, b, h, i):
        start = int(b.off[i])
        end = start + int(b.caplen[i])
        l3 = int(h.l3_off[i])
        raw = b.buf[start:end].tobytes()
        l3r = l3 - start
        ts = int(b.ts_ns[i])
        parsed = _parse_fragment(raw, l3r, int(h.ipver[i]))
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
        dg.wire += int(b.wirelen[i])
        if offset + len(payload) > self.max_size:
            del self.pending[key]
            self.dropped += dg.count
            return None
        dg.parts[offset] = payload
        if offset == 0:
            dg.l2 = raw[:l3r]
            dg.l3hdr = l3hdr
            dg.nh = nh
            dg.family = int(h.ipver[i])
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
    out = bytearray(total)
    have = np.zeros(total, dtype=bool)
    for off, data in parts.items():
        data = data[:max(0, total - off)]
        out[off:off + len(data)] = data
        have[off:off + len(data)] = True
    if not have.all():
        return None
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
