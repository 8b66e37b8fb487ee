"""TCP streams of decoded services: a bounded table and in-order delivery.

Messages split across segments, several messages in one segment and
pipelining all need per-connection state. This module keeps that state in
one preallocated ``int64[slots, NF]`` array (8-way set associative on the
flow hash, least recently used evicted when a set is full, evictions
counted) plus a small per-direction line buffer, and turns segments into
in-order byte ranges: retransmitted bytes are dropped (a message is counted
once per connection even when TCP sends it twice), overlaps trimmed, and a
gap (lost segment) puts the direction into resynchronisation unless it fell
inside a body being skipped anyway.
"""
import numba
import numpy as np

WAYS = 8
LINE_BUF = 256
LINE_TAIL = 16
HTTP_QUEUE = 8

# Connection fields.
S_KEY = 0
S_TS = 1
S_ROW = 2
S_APP = 3
S_QHEAD = 4
S_QLEN = 5
S_QHEADS = 6     # bit k: queued request k was HEAD
S_QCONNECT = 7   # bit k: queued request k was CONNECT
S_Q0 = 8         # HTTP request timestamps, HTTP_QUEUE of them
S_DIR0 = S_Q0 + HTTP_QUEUE
# Per-direction fields, at S_DIR0 + d * D_SIZE.
D_NEXT = 0
D_VALID = 1
D_MODE = 2
D_REMAIN = 3
D_LLEN = 4
D_FLAGS = 5
D_CL = 6
D_KIND = 7
D_DETAIL = 8
D_H1 = 9
D_H2 = 10
D_FIN = 11
D_SIZE = 12
NF = S_DIR0 + 2 * D_SIZE

# Direction modes.
M_START = 0
M_HEADERS = 1
M_BODY = 2
M_CHUNK_SIZE = 3
M_CHUNK_DATA = 4
M_TRAILER = 5
M_UNTIL_CLOSE = 6
M_LOST = 7
M_DNS_LEN = 8
M_DNS_HDR = 9

# Stats slots.
STAT_EVICTIONS = 0
STAT_STREAMS = 1
STAT_RETRANSMITTED = 2
STAT_GAPS = 3


def new_table(size):
    size = max(WAYS, 1 << (int(size) - 1).bit_length())
    return (np.zeros((size, NF), dtype=np.int64),
            np.zeros((size, 2, LINE_BUF), dtype=np.uint8),
            np.zeros(4, dtype=np.int64))


@numba.njit(cache=True, inline='always', _nrt=False)
def reset_dir(st, slot, d, mode):
    b = S_DIR0 + d * D_SIZE
    for k in range(D_SIZE):
        st[slot, b + k] = 0
    st[slot, b + D_MODE] = mode


@numba.njit(cache=True, _nrt=False)
def lookup(st, stats, key, ts, row, app, create):
    """Slot of the connection ``key`` (a flow hash); -1 if absent and not
    ``create``. A new connection starts both directions at message start."""
    if key == 0:
        key = 1
    base = np.int64((np.uint64(key) & np.uint64(st.shape[0] - 1))
                    & ~np.uint64(WAYS - 1))
    free = -1
    lru = base
    for w in range(WAYS):
        j = base + w
        k = st[j, S_KEY]
        if k == key:
            st[j, S_TS] = ts
            return j
        if k == 0:
            if free < 0:
                free = j
        elif st[j, S_TS] < st[lru, S_TS]:
            lru = j
    if not create:
        return -1
    if free < 0:
        free = lru
        stats[STAT_EVICTIONS] += 1
    stats[STAT_STREAMS] += 1
    for k in range(NF):
        st[free, k] = 0
    st[free, S_KEY] = key
    st[free, S_TS] = ts
    st[free, S_ROW] = row
    st[free, S_APP] = app
    first = M_DNS_LEN if app == 3 else M_START
    reset_dir(st, free, 0, first)
    reset_dir(st, free, 1, first)
    return free


@numba.njit(cache=True, inline='always', _nrt=False)
def release(st, slot):
    st[slot, S_KEY] = 0


@numba.njit(cache=True, _nrt=False)
def sequence(st, stats, slot, d, seq, flags, plen):
    """Where this segment's new bytes start (offset into its payload).

    Returns (skip, gap): ``skip`` bytes of the payload were seen before
    (or -1: nothing new), ``gap`` the number of bytes lost before it (-1:
    the connection was picked up mid-way, what came before is unknown).
    """
    b = S_DIR0 + d * D_SIZE
    syn = (flags & 0x02) != 0
    fin = (flags & 0x01) != 0
    seq = np.int64(seq)
    if syn:
        st[slot, b + D_NEXT] = (seq + 1 + plen + (1 if fin else 0)) \
            & 0xFFFFFFFF
        st[slot, b + D_VALID] = 1
        return 0, 0
    if st[slot, b + D_VALID] == 0:
        # picked up mid-connection: where messages start is unknown
        st[slot, b + D_VALID] = 1
        st[slot, b + D_NEXT] = (seq + plen + (1 if fin else 0)) & 0xFFFFFFFF
        return 0, -1
    delta = (seq - st[slot, b + D_NEXT]) & 0xFFFFFFFF
    if delta >= 0x80000000:
        delta -= 0x100000000
    skip = 0
    gap = 0
    if delta < 0:
        if -delta >= plen:
            if plen > 0:
                stats[STAT_RETRANSMITTED] += 1
            return -1, 0
        skip = -delta
    elif delta > 0:
        gap = delta
        stats[STAT_GAPS] += 1
    end = (seq + plen + (1 if fin else 0)) & 0xFFFFFFFF
    st[slot, b + D_NEXT] = end
    return skip, gap
