"""Request-to-response latency: pending requests and per-interval samples.

SIP (Call-ID + CSeq) and DNS (flow + id) requests wait in a small
set-associative table keyed by a 64-bit hash; the response that matches
takes its request out and leaves one latency sample. HTTP pairs in order on
its connection instead (see :mod:`dpiaas.dpi.streams`). Samples are kept
per (service row, application) and interval, up to a fixed number each
(reservoir sampling beyond it), so p50/p95 cost O(samples) once per interval
and memory is bounded however busy a service is.
"""
import numba
import numpy as np

WAYS = 4
P_KEY = 0
P_TS = 1


def new_pending(size):
    size = max(WAYS, 1 << (int(size) - 1).bit_length())
    return np.zeros((size, 2), dtype=np.int64)


def new_samples(slots, per_slot):
    return (np.zeros((slots, per_slot), dtype=np.float64),
            np.zeros(slots, dtype=np.int64))


@numba.njit(cache=True, inline='always', _nrt=False)
def pending_put(pend, key, ts):
    """Remember a request; a retransmission keeps the first timestamp."""
    if key == 0:
        key = 1
    base = (np.uint64(key) & np.uint64(pend.shape[0] - 1)) \
        & ~np.uint64(WAYS - 1)
    victim = -1
    oldest = np.int64(0x7FFFFFFFFFFFFFFF)
    for w in range(WAYS):
        j = np.int64(base) + w
        if pend[j, P_KEY] == key:
            return
        if pend[j, P_KEY] == 0:
            if victim < 0 or oldest > -1:
                victim = j
                oldest = -1
        elif oldest > -1 and pend[j, P_TS] < oldest:
            oldest = pend[j, P_TS]
            victim = j
    pend[victim, P_KEY] = key
    pend[victim, P_TS] = ts


@numba.njit(cache=True, inline='always', _nrt=False)
def pending_take(pend, key, ts, timeout_ns):
    """Take the request answered at ``ts``; its latency in ns or -1."""
    if key == 0:
        key = 1
    base = (np.uint64(key) & np.uint64(pend.shape[0] - 1)) \
        & ~np.uint64(WAYS - 1)
    for w in range(WAYS):
        j = np.int64(base) + w
        if pend[j, P_KEY] == key:
            pend[j, P_KEY] = 0
            dt = ts - pend[j, P_TS]
            if dt < 0 or dt > timeout_ns:
                return -1
            return dt
    return -1


@numba.njit(cache=True, inline='always', _nrt=False)
def add_sample(lat, latn, slot, value, rng):
    """Add a latency sample (ms) to ``slot``; reservoir beyond capacity."""
    n = latn[slot]
    cap = lat.shape[1]
    if n < cap:
        lat[slot, n] = value
    else:
        x = rng[0]
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
        rng[0] = x
        j = np.int64(x % np.uint64(n + 1))
        if j < cap:
            lat[slot, j] = value
    latn[slot] = n + 1


def percentiles(lat, latn, slot):
    """(p50, p95) in ms of ``slot``'s samples, or None when it has none."""
    n = min(int(latn[slot]), lat.shape[1])
    if n == 0:
        return None
    p50, p95 = np.percentile(lat[slot, :n], (50, 95))
    return round(float(p50), 3), round(float(p95), 3)


@numba.njit(cache=True)
def _quantile(x, n, q):
    """``np.percentile``'s default ("linear") estimate, to the last bit:
    the same virtual index, neighbours and interpolation (from the lower
    neighbour below a weight of 0.5, from the upper one above)."""
    v = (n - 1) * q
    if v >= n - 1:
        return np.max(x)
    lo = np.int64(np.floor(v))
    g = v - np.floor(v)
    p = np.partition(x, lo)
    a = p[lo]
    b = np.min(p[lo + 1:])
    diff = b - a
    if g >= 0.5:
        return b - diff * (1 - g)
    return a + diff * g


@numba.njit(cache=True)
def percentiles_all(lat, latn, out):
    """:func:`percentiles` of every slot at once, unrounded, into
    ``out[slot] = (p50, p95)``; NaN for a slot with no sample.

    One compiled call per interval: ``np.percentile`` per slot cost tens
    of microseconds of Python overhead each, a visible share of closing
    an interval.
    """
    cap = lat.shape[1]
    for slot in range(lat.shape[0]):
        n = min(latn[slot], cap)
        if n == 0:
            out[slot, 0] = np.nan
            out[slot, 1] = np.nan
            continue
        x = lat[slot, :n]
        out[slot, 0] = _quantile(x, n, 0.5)
        out[slot, 1] = _quantile(x, n, 0.95)
