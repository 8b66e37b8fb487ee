"""The flow table: every bidirectional 5-tuple, in preallocated arrays.

A flow is keyed by its canonical 5-tuple (lower end ``a`` first, as
:func:`dpiaas.dpi.headers.decode_headers` orders it and hashes it into
``fhash``). The table is open addressing with linear probing and
backward-shift deletion over a power-of-two number of slots: no tombstones,
so lookups stay short however many flows come and go, and every array is
allocated once, so memory is bounded by ``flow_table_size`` whatever the
traffic does (DATI keeps its flow table in memory the same way).

At most :data:`MAX_LOAD` of the slots are used. A new flow that finds the
table at that limit evicts the flow idle the longest within
:data:`EVICT_WINDOW` slots of its home slot; evicted flows produce a record
just as expired ones do, and are counted. Evicting from the probe window
keeps eviction O(1) and never scans the table on the packet path.

Each slot is two 64-byte rows, key and times (uint64) and counts
(float64), so that a lookup reads one cache line and an update two: with
one array per field it read a dozen. The two rows of a slot are the two
halves of one 128-byte-aligned block (``key`` and ``cnt`` are strided
views of one buffer): the CPU's adjacent-line prefetcher fetches the pair
together, so a table touch waits for memory once, not twice. Counts are
float64: exact integers in exact mode (below 2**53), estimates when
:mod:`dpiaas.dpi.regulator` counts for the table.

Beside the slots are two 8-byte columns, ``tag`` (the flow's hash with
:data:`TAG_USED` set, 0 for a free slot) and ``last`` (the flow's
last-seen time). Probes (lookup, insert, the backward shift of a delete,
the searches by hash of the harvest and the heavy hitters) walk the tags,
eight slots per cache line, and read a slot's rows only where the tag
matches: at 75 % load a probe for an absent flow passes about eight used
slots, which were eight cache lines of rows. The eviction window reads
``last`` (sixteen slots: two or three lines, not sixteen), as does the
idle-flow scan. Keeping ``last`` exact costs one more store per table
touch, into a 512 KB column for the default table, and pays: against a
lower bound written only at insertion and by the idle scan (the window
then reading each used slot's K_LAST row), the flow part of the 1 M
bench capture took 0.1086 s against 0.1217 (regulated mode; exact mode
0.0782 against 0.0819; best of 4 processes, 2026-11-22; before the tags,
0.1157 and 0.0856).

This module only stores and moves flows; deciding when a packet touches
the table is :mod:`dpiaas.dpi.flowaccounting`'s job.
"""
import collections
import collections.abc
import socket

import numba
import numpy as np

from dpiaas.dpi import bytescan
from dpiaas.dpi import headers

MAX_LOAD = 0.75
EVICT_WINDOW = 16

# Columns of FlowTable.key (uint64): one 64-byte row per slot, so that a
# lookup reads one cache line. PPA packs the ports and protocol, with a
# bit that marks the slot used.
K_HASH = 0      # headers.flow_hash of the canonical key
K_AHI = 1       # lower end a, then upper end b
K_ALO = 2
K_BHI = 3
K_BLO = 4
K_PPA = 5       # pa | pb << 16 | proto << 32 | USED
K_FIRST = 6     # first_seen, ns (capture clock)
K_LAST = 7      # last_seen, ns
USED = np.uint64(1 << 40)
NO_LAST = np.iinfo(np.int64).max
# Set in every used slot's tag; the rest of the tag is the flow's hash,
# so its home slot is still ``tag & mask`` (the table has < 2**63 slots).
TAG_USED = np.uint64(1 << 63)

# Columns of FlowTable.cnt (float64): exact integers in exact mode (below
# 2**53), estimates when the regulator counts for the table.
C_PK = 0        # packets a->b; C_PK + 1: b->a
C_BY = 2        # bytes a->b; C_BY + 1: b->a
C_IVP = 4       # packets of the current interval (both directions)
C_IVB = 5       # bytes of the current interval
C_APP = 6       # application id given by the caller, 0 generic
C_STAMP = 7     # harvest that last read the flow's residue back
ROW = 8

# Indices into FlowTable.ctl.
CTL_COUNT = 0       # flows in the table
CTL_LIMIT = 1       # most flows allowed (MAX_LOAD of the slots)
CTL_EVICTIONS = 2   # flows evicted to make room
CTL_REFUSED = 3     # flows not stored: no slot at all (never in practice)
CTL_ACTIVE = 4      # hashes in FlowTable.act
CTL_ACT_OVER = 5    # 1: act overflowed this interval (scan the table)
CTL_SIZE = 6

FlowTable = collections.namedtuple('FlowTable', [
    'key',      # uint64 [slots, ROW]
    'cnt',      # float64 [slots, ROW]
    'ctl',      # int64 [CTL_SIZE]
    # uint64 [slots]: hashes of the flows given interval counts since the
    # last heavy-hitter pass, so that it reads those flows, not the table
    'act',
    # int64 [slots]: K_LAST of each used slot, NO_LAST for a free one,
    # written with it: the eviction window and the idle-flow scan read
    # this 8-byte column, not the 128-byte slots.
    'last',
    # uint64 [slots]: the slot's flow hash | TAG_USED, 0 for a free slot.
    # Probes walk this 8-byte column (8 slots per cache line) and read a
    # slot's rows only where the tag matches.
    'tag',
])

# Flow records (expired or evicted flows), in columns.
Records = collections.namedtuple('Records', [
    'key',      # uint64 [n, ROW]: as FlowTable.key
    'cnt',      # float64 [n, ROW]: as FlowTable.cnt
    'n',        # int64 [2]: records held, records lost (buffer full)
])


def slots_for(size):
    """The power of two of slots that holds ``size`` (at least 16)."""
    return 1 << max(4, int(size - 1).bit_length())


SLOT = 2 * ROW     # uint64 words of a slot: key row, then count row


def _rows(n, dtype):
    """Zeroed [n, ROW] array whose rows start on 64-byte boundaries."""
    buf = np.zeros(n * ROW + ROW, dtype)
    skip = (-buf.ctypes.data % 64) // buf.itemsize
    return buf[skip:skip + n * ROW].reshape(n, ROW)


def _slots(n):
    """Key and count views of n zeroed 128-byte-aligned slots."""
    buf = np.zeros(n * SLOT + SLOT, np.uint64)
    skip = (-buf.ctypes.data % 128) // buf.itemsize
    block = buf[skip:skip + n * SLOT].reshape(n, SLOT)
    return block[:, :ROW], block[:, ROW:].view(np.float64)


def new_table(size):
    """Allocate a table of ``slots_for(size)`` slots, all memory up front."""
    c = slots_for(size)
    ctl = np.zeros(CTL_SIZE, np.int64)
    ctl[CTL_LIMIT] = max(1, int(c * MAX_LOAD))
    key, cnt = _slots(c)
    return FlowTable(key=key, cnt=cnt, ctl=ctl, act=np.zeros(c, np.uint64),
                     last=np.full(c, NO_LAST, np.int64),
                     tag=np.zeros(c, np.uint64))


def new_records(capacity):
    c = max(1, int(capacity))
    return Records(key=np.zeros((c, ROW), np.uint64),
                   cnt=np.zeros((c, ROW), np.float64),
                   n=np.zeros(2, np.int64))


def nbytes(nt):
    """Memory held by the arrays of a table or records buffer."""
    return sum(a.nbytes for a in nt)


@numba.njit(cache=True, _nrt=False, inline='always')
def _words(a):
    """Elements from one row of ``a`` to the next (its row stride)."""
    return a.strides[0] // a.itemsize


@numba.njit(cache=True, inline='always')
def canonical(src_hi, src_lo, dst_hi, dst_lo, sport, dport, fdir):
    """The flow's key, lower end first, from one packet and its ``fdir``."""
    if fdir == 0:
        return src_hi, src_lo, dst_hi, dst_lo, sport, dport
    return dst_hi, dst_lo, src_hi, src_lo, dport, sport


@numba.njit(cache=True, inline='always')
def pack_ppa(pa, pb, proto):
    return (np.uint64(pa & 0xFFFF) | (np.uint64(pb & 0xFFFF) << np.uint64(16))
            | (np.uint64(proto) << np.uint64(32)) | USED)


@numba.njit(cache=True, _nrt=False, inline='always')
def used(t, s):
    return t.tag[s] != 0


@numba.njit(cache=True, _nrt=False, inline='always')
def lookup(t, h, a_hi, a_lo, b_hi, b_lo, ppa):
    """Slot of the flow, or -1.

    The probe walks the tag column and reads a slot's key row only on a
    tag match (the flow itself, almost always): with 128-byte slots each
    probe step was a cache line, now 8 steps are one.
    """
    mask = len(t.tag) - 1
    g = h | TAG_USED
    s = np.int64(h & np.uint64(mask))
    while True:
        x = t.tag[s]
        if x == g:
            if (t.key[s, K_HASH] == h and t.key[s, K_PPA] == ppa
                    and t.key[s, K_ALO] == a_lo and t.key[s, K_BLO] == b_lo
                    and t.key[s, K_AHI] == a_hi
                    and t.key[s, K_BHI] == b_hi):
                return s
        elif x == 0:
            return -1
        s = (s + 1) & mask


@numba.njit(cache=True, _nrt=False, inline='always')
def find_hash(t, h):
    """Slot of the first flow whose hash is h (64 bits: the flow), or -1."""
    mask = len(t.tag) - 1
    g = h | TAG_USED
    s = np.int64(h & np.uint64(mask))
    while True:
        x = t.tag[s]
        if x == g:
            if t.key[s, K_HASH] == h:
                return s
        elif x == 0:
            return -1
        s = (s + 1) & mask


@numba.njit(cache=True, _nrt=False, inline='always')
def prefetch_home(t, h):
    """Hint the CPU to fetch h's home slot (where a lookup of h starts):
    its tag, then its key and count rows, for a lookup a little later."""
    s = np.int64(h & np.uint64(len(t.tag) - 1))
    bytescan.prefetch(t.tag, s)
    bytescan.prefetch(t.key, s * _words(t.key))
    bytescan.prefetch(t.cnt, s * _words(t.cnt))


@numba.njit(cache=True, _nrt=False, inline='always')
def insert(t, h, a_hi, a_lo, b_hi, b_lo, ppa, ts, app):
    """Store a flow known to be absent; its slot, or -1 if none is free.

    The caller makes room first (:func:`victim`, :func:`delete`) when the
    table is at its limit; one slot always stays empty so probes end.
    """
    c = len(t.key)
    if t.ctl[CTL_COUNT] >= c - 1:
        t.ctl[CTL_REFUSED] += 1
        return -1
    mask = c - 1
    s = np.int64(h & np.uint64(mask))
    while t.tag[s] != 0:
        s = (s + 1) & mask
    t.tag[s] = h | TAG_USED
    t.key[s, K_HASH] = h
    t.key[s, K_AHI] = a_hi
    t.key[s, K_ALO] = a_lo
    t.key[s, K_BHI] = b_hi
    t.key[s, K_BLO] = b_lo
    t.key[s, K_PPA] = ppa
    t.key[s, K_FIRST] = np.uint64(ts)
    t.key[s, K_LAST] = np.uint64(ts)
    t.last[s] = ts
    for j in range(ROW):
        t.cnt[s, j] = 0.0
    t.cnt[s, C_APP] = app
    t.ctl[CTL_COUNT] += 1
    return s


@numba.njit(cache=True, _nrt=False, inline='always')
def note_active(t, s):
    """Call before adding to slot s's interval counts: a flow whose counts
    are still zero joins the list of the interval's active flows."""
    if t.cnt[s, C_IVP] == 0.0 and t.cnt[s, C_IVB] == 0.0:
        n = t.ctl[CTL_ACTIVE]
        if n < len(t.act):
            t.act[n] = t.key[s, K_HASH]
            t.ctl[CTL_ACTIVE] = n + 1
        else:
            t.ctl[CTL_ACT_OVER] = 1


@numba.njit(cache=True, _nrt=False, inline='always')
def set_last(t, s, ts):
    """The flow in slot s was seen at ts (later than before)."""
    t.key[s, K_LAST] = np.uint64(ts)
    t.last[s] = ts


@numba.njit(cache=True, _nrt=False, inline='always')
def seen_at(t, s, ts):
    """The flow in slot s was seen at ts: keep the latest time.

    Compares with the key row, which the lookup has just read.
    """
    if ts > np.int64(t.key[s, K_LAST]):
        set_last(t, s, ts)


@numba.njit(cache=True, _nrt=False, inline='always')
def last_ns(t, s):
    return t.last[s]


@numba.njit(cache=True, _nrt=False, inline='always')
def full(t):
    return t.ctl[CTL_COUNT] >= t.ctl[CTL_LIMIT]


@numba.njit(cache=True, _nrt=False, inline='always')
def victim(t, h):
    """The flow idle the longest within EVICT_WINDOW slots of h's home.

    If the window holds no flow, the first flow after it (at the load
    limit there is one within a few slots); -1 only for an empty table.
    """
    mask = len(t.tag) - 1
    s = np.int64(h & np.uint64(mask))
    best = -1
    # free slots hold NO_LAST, later than any flow's time: no tag needed
    oldest = NO_LAST
    for _ in range(EVICT_WINDOW):
        x = t.last[s]
        if x < oldest:
            best = s
            oldest = x
        s = (s + 1) & mask
    for _ in range(mask + 1):
        if best >= 0:
            break
        if t.tag[s] != 0:
            best = s
        s = (s + 1) & mask
    return best


@numba.njit(cache=True, _nrt=False, inline='always')
def _stays(t, hole, j, mask):
    """Does the entry in slot j stay when slot ``hole`` before it empties?
    It does when its home lies cyclically in (hole, j]: it is already as
    close to home as it can be."""
    home = np.int64(t.tag[j] & np.uint64(mask))
    if hole <= j:
        return hole < home and home <= j
    return hole < home or home <= j


@numba.njit(cache=True, _nrt=False, inline='always')
def prefetch_delete(t, s):
    """Hint the CPU to fetch the rows that removing slot s's flow reads:
    its own (emitted first) and those of the entries :func:`delete` will
    shift back, found from the tags alone. Asked for together, these
    misses overlap instead of coming one after the other (account_batch
    on the 1 M bench capture, regulated: 0.0776 s against 0.0818 without,
    best of 6 processes, 2026-11-22)."""
    mask = len(t.tag) - 1
    bytescan.prefetch(t.key, s * _words(t.key))
    bytescan.prefetch(t.cnt, s * _words(t.cnt))
    hole = s
    j = s
    while True:
        j = (j + 1) & mask
        if t.tag[j] == 0:
            break
        if not _stays(t, hole, j, mask):
            bytescan.prefetch(t.key, j * _words(t.key))
            bytescan.prefetch(t.cnt, j * _words(t.cnt))
            hole = j


@numba.njit(cache=True, _nrt=False)
def delete(t, s):
    """Remove the flow in slot s, shifting its probe run back (no tombstone).

    An entry j after the hole moves into it unless its home lies cyclically
    in (hole, j]: then it is already as close to home as it can be. Only
    the tags say where the run ends and what moves; rows are read only to
    be moved.
    """
    mask = len(t.tag) - 1
    hole = s
    j = s
    while True:
        j = (j + 1) & mask
        x = t.tag[j]
        if x == 0:
            break
        if _stays(t, hole, j, mask):
            continue
        for c in range(ROW):
            t.key[hole, c] = t.key[j, c]
            t.cnt[hole, c] = t.cnt[j, c]
        t.last[hole] = t.last[j]
        t.tag[hole] = x
        hole = j
    t.tag[hole] = 0
    t.key[hole, K_PPA] = 0
    t.last[hole] = NO_LAST
    t.ctl[CTL_COUNT] -= 1


@numba.njit(cache=True, _nrt=False)
def emit(t, s, rec):
    """Append slot s's flow to ``rec``; False (and counted) if rec is full."""
    i = rec.n[0]
    if i >= len(rec.key):
        rec.n[1] += 1
        return False
    for c in range(ROW):
        rec.key[i, c] = t.key[s, c]
        rec.cnt[i, c] = t.cnt[s, c]
    rec.n[0] = i + 1
    return True


_V4_HI = int(headers.V4_MAPPED_HI)
_V4_PREFIX = int(headers.V4_MAPPED_LO) >> 32


_IP_TEXT = {}
_IP_TEXT_MAX = 65536


def ip_text(hi, lo):
    """An address column pair as text: IPv4 when IPv4-mapped.

    socket's formatting, ten times faster than ``ipaddress`` objects, which
    dominated the cost of publishing flow records; the same few addresses
    recur in every interval's heavy hitters, so the texts are remembered
    (a bounded cache, emptied when full).
    """
    hi = int(hi)
    lo = int(lo)
    key = (hi, lo)
    text = _IP_TEXT.get(key)
    if text is None:
        if len(_IP_TEXT) >= _IP_TEXT_MAX:
            _IP_TEXT.clear()
        text = _IP_TEXT[key] = _ip_text(hi, lo)
    return text


def _ip_text(hi, lo):
    if hi == _V4_HI and (lo >> 32) == _V4_PREFIX:
        return socket.inet_ntop(socket.AF_INET,
                                (lo & 0xFFFFFFFF).to_bytes(4, 'big'))
    return socket.inet_ntop(socket.AF_INET6,
                            hi.to_bytes(8, 'big') + lo.to_bytes(8, 'big'))


def count(x):
    """An exact or estimated count as a published integer (never < 0)."""
    return max(0, int(round(float(x))))


def flow_dict(key, cnt):
    """One flow (a key row and a count row) as the dict callers publish.

    ``src`` is the flow's lower end: the ``_ab`` counts go from src to dst.
    Times are epoch seconds; estimated counts are rounded to integers.
    """
    ppa = int(key[K_PPA])
    return {
        'src': ip_text(key[K_AHI], key[K_ALO]),
        'dst': ip_text(key[K_BHI], key[K_BLO]),
        'sport': ppa & 0xFFFF,
        'dport': (ppa >> 16) & 0xFFFF,
        'proto': (ppa >> 32) & 0xFF,
        'first_seen': int(key[K_FIRST]) / 1e9,
        'last_seen': int(key[K_LAST]) / 1e9,
        'packets_ab': count(cnt[C_PK]),
        'bytes_ab': count(cnt[C_BY]),
        'packets_ba': count(cnt[C_PK + 1]),
        'bytes_ba': count(cnt[C_BY + 1]),
        'app': int(cnt[C_APP]),
    }


def flow_dicts(keys, cnts):
    """:func:`flow_dict` of each row of ``keys`` and ``cnts`` (2-D).

    The same values, the numeric fields converted a column at a time:
    for the few flows of each interval's heavy hitters, per-value
    Python conversions were most of the cost of closing an interval.
    """
    if not len(keys):
        return []
    ppa = keys[:, K_PPA]
    sport = (ppa & np.uint64(0xFFFF)).astype(np.int64).tolist()
    dport = ((ppa >> np.uint64(16)) & np.uint64(0xFFFF)).astype(
        np.int64).tolist()
    proto = ((ppa >> np.uint64(32)) & np.uint64(0xFF)).astype(
        np.int64).tolist()
    first = (keys[:, K_FIRST].astype(np.float64) / 1e9).tolist()
    last = (keys[:, K_LAST].astype(np.float64) / 1e9).tolist()
    counts = counts_of(cnts[:, C_PK:C_BY + 2])
    app = cnts[:, C_APP].astype(np.int64).tolist()
    addr = keys[:, K_AHI:K_BLO + 1].tolist()
    out = []
    for i, (ahi, alo, bhi, blo) in enumerate(addr):
        c = counts[i]
        out.append({
            'src': ip_text(ahi, alo),
            'dst': ip_text(bhi, blo),
            'sport': sport[i], 'dport': dport[i], 'proto': proto[i],
            'first_seen': first[i], 'last_seen': last[i],
            'packets_ab': c[0], 'bytes_ab': c[2],
            'packets_ba': c[1], 'bytes_ba': c[3],
            'app': app[i],
        })
    return out


def counts_of(x):
    """:func:`count` of every element of the array ``x``, as lists."""
    return np.maximum(np.rint(np.asarray(x, np.float64)), 0.0).astype(
        np.int64).tolist()


class FlowRecords(collections.abc.Sequence):
    """Flow records as arrays, turned into dicts only when read.

    Tens of thousands of flows can expire per second; most intervals'
    records are only stored or counted, so building their dicts (the
    published form, see :func:`flow_dict`) waits until someone looks.
    """

    def __init__(self, parts=()):
        self._parts = [p for p in parts if len(p[0])]
        self._dicts = None

    def extend(self, other):
        self._parts.extend(other._parts)
        self._dicts = None

    def __len__(self):
        return sum(len(k) for k, _ in self._parts)

    def __getitem__(self, i):
        if self._dicts is None:
            self._dicts = [flow_dict(k, c) for keys, cnts in self._parts
                           for k, c in zip(keys, cnts)]
        return self._dicts[i]

    def __add__(self, other):
        return FlowRecords(self._parts + list(other._parts))

    def __eq__(self, other):
        return list(self) == list(other)


def records_to_dicts(rec):
    """The records held in ``rec`` (copied out) as a :class:`FlowRecords`."""
    n = int(rec.n[0])
    return FlowRecords([(rec.key[:n].copy(), rec.cnt[:n].copy())])
