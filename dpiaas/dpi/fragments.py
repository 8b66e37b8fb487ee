"""IP fragment reassembly, the packet path's slow lane.

Fragments are rare on a VM's tap (path MTU discovery avoids them) but real:
a large SIP INVITE over UDP is the classic case. The kernel leaves them
here; this module collects them per (family, src, dst, id, protocol),
bounded in datagrams and time, and returns each completed datagram as one
packet (its link header, a rebuilt IP header, the whole payload) that
stands for all its fragments: weight = number of fragments, wire length =
their sum.

Two lanes, chosen by measurement. One numba call per batch
(:func:`_scan`) reads every fragment's fields at once into a row of
integers (key, offset, more flag, payload and header position); then
finds the datagrams whose fragments are all in this batch, in order and
adjacent (the usual case: a sender's fragments leave back to back) and
writes each of them out whole, header rebuilt. When a batch holds only
those, the batch of datagrams is built from numba's columns with no
Python per fragment. Any other fragment goes through the bookkeeping in
Python (a dict of pending datagrams, each a dict of parts, only the
payload bytes copied), as does a whole datagram whose key is pending, or
all of them when the batch could fill the pending table (which datagram
is dropped then depends on them).

The former code sliced out and copied each fragment whole, parsed its
header with ``struct``, kept every datagram in the dicts and built each
batch through ``PacketBatch.from_packets``. On the 1 M packet bench
capture (2,373 fragments, 791 datagrams, 184 calls) replayed alone, in
one process alternating (min of 9): 0.024 s before, 0.0031 s now (0.032
and 0.0064 s with the caches flushed between calls, as in the pipeline);
with the rows and the Python bookkeeping alone (no whole lane) it was
0.011 s, so the whole lane is most of the gain. In the pipeline
(``stages2.py``, three runs each, alternating) ``add_batch`` went from
0.038-0.049 s to 0.008-0.009 s per run. Reassembly wholly in numba would
also need a byte pool for the parts that wait across batches, a hash
table with deletion and the drop order, for what is now a rare case.

The rules (``tests/unit/dpi/test_fragments.py`` holds the former code and
checks the two agree on random streams):

- parts are keyed by offset and copied in the order their offsets were
  first seen, so where two overlap the later one wins; a fragment at an
  offset seen before replaces that part's bytes in the part's place;
- a datagram with a part past ``max_size`` is dropped (its fragments so
  far count in ``dropped``), as is one whose rebuilt IP length field would
  not fit in 16 bits (the former code raised there);
- when ``max_datagrams`` are pending, a new datagram drops the oldest one
  (by first fragment); ``expire`` drops those older than the timeout, in
  that order, stopping at the first one still young;
- IPv6 extension headers before the fragment header are skipped (at most
  8 headers) and left out of the rebuilt header;
- a fragment captured short of its length keeps the bytes it has (the
  datagram then never completes and times out); one captured short of its
  IP header, or with an IPv4 header length under 20, is ignored (the
  header decoder never passes such a fragment; the former code raised).
"""
import collections
import struct

import numba
import numpy as np

from dpiaas.dpi import batch as batch_mod

# Columns of a fragment's row, see _extract.
NCOLS = 16
# Rows of the whole datagrams' table, see _whole.
DCOLS = 10
_pack16 = struct.Struct('!H').pack_into
_MAX16 = 0xFFFF


class _Datagram:
    __slots__ = ('first_seen', 'parts', 'total', 'count', 'wire', 'head',
                 'l2', 'hlen', 'edge')

    def __init__(self, ts):
        self.first_seen = ts
        self.parts = {}
        self.total = None
        self.count = 0
        self.wire = 0
        self.head = None    # link header + IP header of the offset 0 part
        self.l2 = 0         # where the IP header starts in head
        self.hlen = 0       # IP header length (IPv6: the fixed 40 bytes)
        # end of the parts while each came right after the one before
        # (not empty, none replaced); -1 once one did not
        self.edge = 0


class Reassembler:
    """Collects fragments; ``add_batch`` returns completed datagrams."""

    def __init__(self, max_datagrams=4096, timeout_s=30.0,
                 max_size=65535 + 40):
        self.max_datagrams = max_datagrams
        self.timeout_ns = int(timeout_s * 1e9)
        self.max_size = max_size
        self.pending = collections.OrderedDict()
        self.dropped = 0
        self.completed = 0
        self._grow(64)
        self._out = np.zeros(1 << 16, dtype=np.uint8)

    def _grow(self, n):
        """Scratch for batches of up to ``n`` fragments."""
        self._rows = np.zeros((n, NCOLS), dtype=np.int64)
        self._done = np.zeros((DCOLS, n), dtype=np.int64)
        self._nxt = np.zeros(n, dtype=np.int64)
        self._tail = np.zeros(n, dtype=np.int64)
        size = 2
        while size < 2 * n:
            size *= 2
        self._table = np.zeros(size, dtype=np.int64)

    def add_batch(self, b, h, indices):
        """Take fragments ``indices`` of batch ``b`` (decoded as ``h``).

        Returns a PacketBatch of completed datagrams (or None).
        """
        idx = np.asarray(indices, dtype=np.int64)
        k = len(idx)
        if k > len(self._rows):
            self._grow(2 * k)
        rows = self._rows
        done = self._done
        out = self._out
        pending = self.pending
        # datagrams whole in this batch skip the bookkeeping; not when
        # the batch could fill the pending table (which datagram is
        # dropped then depends on them)
        nd, nslow, full = _scan(
            b.buf, b.off, b.caplen, h.l3_off, h.ipver, b.ts_ns, b.wirelen,
            idx, rows, len(pending) + k < self.max_datagrams,
            self.max_size, self._table, self._nxt, self._tail, done, out)
        if full:
            self._out = np.zeros(2 * len(out), dtype=np.uint8)
        demoted = None
        if nd and pending:
            # a datagram of a key here is pending: the former code added
            # these fragments to it, so they go fragment by fragment
            for g, key in enumerate(done[5:10, :nd].T.tolist()):
                if tuple(key) in pending:
                    if demoted is None:
                        demoted = set()
                    demoted.add(g)
        if not nslow and demoted is None:
            if not nd:
                return None
            self.completed += nd
            return batch_mod.PacketBatch(
                buf=out[:done[0, nd - 1] + done[1, nd - 1]].copy(),
                off=done[0, :nd].copy(), caplen=done[1, :nd].astype(np.int32),
                wirelen=done[3, :nd].astype(np.int32),
                ts_ns=done[4, :nd].copy(),
                pkttype=np.full(nd, batch_mod.PKTTYPE_UNKNOWN, dtype=np.int8),
                linktype=b.linktype, weight=done[2, :nd].astype(np.int32))
        omv = memoryview(out)
        mv = memoryview(b.buf)
        get = pending.get
        max_size = self.max_size
        pieces = []
        offs = []
        lens = []
        stamps = []
        weights = []
        wires = []
        at_end = 0
        for (x, a0, a1, a2, a3, offset, more, ps, pl, p, l3, hl, ts, wl,
             kind, grp) in rows[:k].tolist():
            if kind and (demoted is None or grp not in demoted):
                if kind == 3:
                    start = done[0, grp]
                    n = int(done[1, grp])
                    self.completed += 1
                    pieces.append(omv[start:start + n])
                    offs.append(at_end)
                    at_end += n
                    lens.append(n)
                    stamps.append(ts)
                    weights.append(int(done[2, grp]))
                    wires.append(int(done[3, grp]))
                continue
            if not x:
                continue
            key = (x, a0, a1, a2, a3)
            dg = get(key)
            if dg is None:
                if len(pending) >= self.max_datagrams:
                    _, old = pending.popitem(last=False)
                    self.dropped += old.count
                dg = pending[key] = _Datagram(ts)
            dg.count += 1
            dg.wire += wl
            if offset + pl > max_size:
                del pending[key]
                self.dropped += dg.count
                continue
            if offset == dg.edge and pl:
                dg.edge += pl
            else:
                dg.edge = -1
            dg.parts[offset] = mv[ps:ps + pl].tobytes()
            if offset == 0:
                dg.head = mv[p:l3 + hl].tobytes()
                dg.l2 = l3 - p
                dg.hlen = hl
            if not more:
                dg.total = offset + pl
            if dg.total is None or dg.head is None:
                continue
            total = dg.total
            if dg.edge >= 0:
                # in order, adjacent: what _join gives, without its checks
                if dg.edge < total:
                    continue
                data = b''.join(dg.parts.values())
                if len(data) > total:
                    data = data[:total]
            else:
                data = _join(dg.parts, total)
                if data is None:
                    continue
            del pending[key]
            head = bytearray(dg.head)
            n = len(data)
            at = dg.l2
            if x & 0xFF == 4:
                if dg.hlen + n > _MAX16:
                    self.dropped += dg.count
                    continue
                _pack16(head, at + 2, dg.hlen + n)
                _pack16(head, at + 6, 0)
            else:
                if n > _MAX16:
                    self.dropped += dg.count
                    continue
                _pack16(head, at + 4, n)
                head[at + 6] = (x >> 8) & 0xFF
            self.completed += 1
            pieces.append(head)
            pieces.append(data)
            n += len(head)
            offs.append(at_end)
            at_end += n
            lens.append(n)
            stamps.append(ts)
            weights.append(dg.count)
            wires.append(dg.wire)
        if not lens:
            return None
        # two conversions for the five columns: numpy's cost per call is
        # most of the cost here (rows of a C array are C contiguous)
        c64 = np.array((offs, stamps), dtype=np.int64)
        c32 = np.array((lens, wires, weights), dtype=np.int32)
        return batch_mod.PacketBatch(
            buf=np.frombuffer(bytearray().join(pieces), dtype=np.uint8),
            off=c64[0], caplen=c32[0], wirelen=c32[1], ts_ns=c64[1],
            pkttype=np.full(len(lens), batch_mod.PKTTYPE_UNKNOWN,
                            dtype=np.int8),
            linktype=b.linktype, weight=c32[2])

    def expire(self, now_ns):
        while self.pending:
            key, dg = next(iter(self.pending.items()))
            if now_ns - dg.first_seen <= self.timeout_ns:
                break
            del self.pending[key]
            self.dropped += dg.count


@numba.njit(cache=True, inline='always', _nrt=False)
def _be(buf, i, n):
    v = np.int64(0)
    for k in range(n):
        v = (v << 8) | np.int64(buf[i + k])
    return v


@numba.njit(cache=True, _nrt=False)
def _extract(buf, off, caplen, l3_off, ipver, ts_ns, wirelen, idx, rows):
    """One row per fragment ``idx[k]``: the key (id << 16 | protocol << 8
    | family, 0 to ignore the fragment; four words of src and dst, IPv4's
    in the first), offset, more flag, payload start and length, packet
    start, IP header start and length, timestamp, wire length. Positions
    index ``buf``."""
    for k in range(idx.shape[0]):
        i = idx[k]
        p = off[i]
        end = p + np.int64(caplen[i])
        l3 = l3_off[i]
        for c in range(NCOLS):
            rows[k, c] = 0
        rows[k, 9] = p
        rows[k, 10] = l3
        rows[k, 12] = ts_ns[i]
        rows[k, 13] = wirelen[i]
        if l3 < p:
            continue
        if ipver[i] == 4:
            if end - l3 < 20:
                continue
            ihl = np.int64(buf[l3] & 0x0F) * 4
            if ihl < 20 or end - l3 < ihl:
                continue
            tot = _be(buf, l3 + 2, 2)
            fo = _be(buf, l3 + 6, 2)
            pend = end
            if tot >= ihl and l3 + tot < end:
                pend = l3 + tot
            rows[k, 0] = (_be(buf, l3 + 4, 2) << 16) \
                | (np.int64(buf[l3 + 9]) << 8) | 4
            rows[k, 1] = _be(buf, l3 + 12, 8)
            rows[k, 5] = (fo & 0x1FFF) * 8
            rows[k, 6] = (fo >> 13) & 1
            rows[k, 7] = l3 + ihl
            rows[k, 8] = max(0, pend - (l3 + ihl))
            rows[k, 11] = ihl
            continue
        if end - l3 < 40:
            continue
        nh = buf[l3 + 6]
        plen = _be(buf, l3 + 4, 2)
        pend = min(end, l3 + 40 + plen)
        r = l3 + 40
        for _ in range(8):
            if nh == 0 or nh == 43 or nh == 60:
                if end - r < 2:
                    break
                nh = buf[r]
                r += (np.int64(buf[r + 1]) + 1) * 8
            elif nh == 44:
                if end - r < 8:
                    break
                fo = _be(buf, r + 2, 2)
                rows[k, 0] = (_be(buf, r + 4, 4) << 16) \
                    | (np.int64(buf[r]) << 8) | 6
                for w in range(4):
                    rows[k, 1 + w] = _be(buf, l3 + 8 + 8 * w, 8)
                rows[k, 5] = fo & 0xFFF8
                rows[k, 6] = fo & 1
                rows[k, 7] = r + 8
                rows[k, 8] = max(0, pend - (r + 8))
                rows[k, 11] = 40
                break
            else:
                break


@numba.njit(cache=True, inline='always', _nrt=False)
def _copy(dst, d, src, s, n):
    """dst[d:d + n] = src[s:s + n]; unsigned indices let LLVM vectorise
    the loop (a slice assignment needs numba's runtime)."""
    d = np.uint64(d)
    s = np.uint64(s)
    for q in range(np.uint64(n)):
        dst[d + q] = src[s + q]


@numba.njit(cache=True, _nrt=False)
def _scan(buf, off, caplen, l3_off, ipver, ts_ns, wirelen, idx, rows,
          whole_ok, max_size, table, nxt, tail, done, out):
    """:func:`_extract`, then (if ``whole_ok``) :func:`_whole`; returns
    the number of whole datagrams, of fragments left to the slow lane
    and whether ``out`` was too small for one."""
    n = idx.shape[0]
    _extract(buf, off, caplen, l3_off, ipver, ts_ns, wirelen, idx, rows)
    nd = 0
    full = False
    if whole_ok and n > 1:
        nd, full = _whole(buf, rows, n, max_size, table, nxt, tail, done,
                          out)
    nslow = 0
    for j in range(n):
        if rows[j, 0] != 0 and rows[j, 14] == 0:
            nslow += 1
    return nd, nslow, full


@numba.njit(cache=True, _nrt=False)
def _whole(buf, rows, n, max_size, table, nxt, tail, done, out):
    """Datagrams whose fragments are all in this batch, in order: every
    fragment of the key is here, the first at offset 0, each next one
    right after the one before and not empty, only the last without the
    more flag, none past ``max_size``, the IP length field in 16 bits.
    The former code would create, fill and complete such a datagram
    within the batch; here it is written into ``out`` at once (link
    header, rebuilt IP header, payload) in the order they complete, with
    a column of ``done`` (start in out, length, fragments, wire length,
    timestamp, key) and its fragments' rows marked (column 14: 1 first,
    2 middle, 3 last; 15: the column of done). One that does not fit in
    ``out`` is left to the slow lane. ``table`` (a power of two of at
    least 2n entries), ``nxt`` and ``tail`` are scratch."""
    size = 2
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    for t in range(size):
        table[t] = -1
    # chain the rows of each key in order: nxt[j] is the key's next row,
    # tail[first] the key's last one so far, column 15 the key's first
    for j in range(n):
        rows[j, 14] = 0
        rows[j, 15] = -1
        nxt[j] = -1
        if rows[j, 0] == 0:
            continue
        hv = np.uint64(rows[j, 0])
        for c in range(1, 5):
            hv = (hv * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(rows[j, c])
        hv = hv * np.uint64(0x9E3779B97F4A7C15)
        t = np.int64((hv >> np.uint64(32)) & mask)
        while True:
            g = table[t]
            if g < 0:
                table[t] = j
                tail[j] = j
                rows[j, 15] = j
                break
            if rows[g, 0] == rows[j, 0] and rows[g, 1] == rows[j, 1] \
                    and rows[g, 2] == rows[j, 2] \
                    and rows[g, 3] == rows[j, 3] \
                    and rows[g, 4] == rows[j, 4]:
                nxt[tail[g]] = j
                tail[g] = j
                rows[j, 15] = g
                break
            t = np.int64((np.uint64(t) + np.uint64(1)) & mask)
    # which keys make a whole datagram: mark their rows
    for g in range(n):
        if rows[g, 0] == 0 or rows[g, 15] != g or nxt[g] < 0:
            continue
        edge = 0
        ok = True
        j = g
        while j >= 0:
            o = rows[j, 5]
            pl = rows[j, 8]
            if o != edge or pl == 0 or o + pl > max_size \
                    or (rows[j, 6] == 0) != (nxt[j] < 0):
                ok = False
                break
            edge += pl
            j = nxt[j]
        fam = rows[g, 0] & 0xFF
        if not ok or (fam == 4 and rows[g, 11] + edge > 0xFFFF) \
                or (fam != 4 and edge > 0xFFFF):
            continue
        j = g
        while j >= 0:
            rows[j, 14] = 2 if nxt[j] >= 0 else 3
            j = nxt[j]
        rows[g, 14] = 1
    # write them out in the order of their last fragments
    nd = 0
    at = 0
    full = False
    for last in range(n):
        if rows[last, 14] != 3:
            continue
        g = rows[last, 15]
        edge = 0
        count = 0
        wire = 0
        j = g
        while j >= 0:
            edge += rows[j, 8]
            count += 1
            wire += rows[j, 13]
            j = nxt[j]
        p = rows[g, 9]
        l3 = rows[g, 10]
        hl = rows[g, 11]
        length = l3 + hl - p + edge
        if at + length > out.shape[0]:
            full = True
            j = g
            while j >= 0:
                rows[j, 14] = 0
                j = nxt[j]
            continue
        done[0, nd] = at
        done[1, nd] = length
        done[2, nd] = count
        done[3, nd] = wire
        done[4, nd] = rows[last, 12]
        for c in range(5):
            done[5 + c, nd] = rows[g, c]
        _copy(out, at, buf, p, l3 + hl - p)
        h = at + (l3 - p)
        at += l3 + hl - p
        if rows[g, 0] & 0xFF == 4:
            v = hl + edge
            out[h + 2] = (v >> 8) & 0xFF
            out[h + 3] = v & 0xFF
            out[h + 6] = 0
            out[h + 7] = 0
        else:
            out[h + 4] = (edge >> 8) & 0xFF
            out[h + 5] = edge & 0xFF
            out[h + 6] = (rows[g, 0] >> 8) & 0xFF
        j = g
        while j >= 0:
            _copy(out, at, buf, rows[j, 7], rows[j, 8])
            at += rows[j, 8]
            rows[j, 15] = nd
            j = nxt[j]
        nd += 1
    return nd, full


def _join(parts, total):
    """The datagram's payload, or None while a byte is missing.

    Parts are copied in the dict's order (a later overlapping fragment
    wins); coverage is checked on the parts sorted by offset, not byte by
    byte. The usual datagram (parts adjacent, none overlapping) is one
    join of the parts in offset order, which gives the same bytes.
    """
    covered = 0
    adjacent = True
    offs = sorted(parts)
    used = 0
    for off in offs:
        if off > covered:
            return None
        if off != covered:
            adjacent = False
        covered = max(covered, off + len(parts[off]))
        used += 1
        if covered >= total:
            break
    if covered < total:
        return None
    if used < len(offs) and offs[used] < total:
        adjacent = False    # a later part overlaps the end
    if adjacent:
        data = b''.join([parts[off] for off in offs[:used]])
        return data if len(data) == total else data[:total]
    out = bytearray(total)
    for off, data in parts.items():
        data = data[:max(0, total - off)]
        out[off:off + len(data)] = data
    return bytes(out)
