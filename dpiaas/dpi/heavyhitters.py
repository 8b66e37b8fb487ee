"""Heavy hitters: the top flows of an interval by packets and by bytes.

Runs once per interval over the flow table's interval counters, never per
packet: one compiled pass over the flows active in the interval (the
table lists them as they get counts) keeps the k largest of each counter
by insertion (k is small) and zeroes the counters for the next interval as
it goes. Reading only those flows, not the whole table, makes the cost
follow the traffic rather than the table's size.
"""
import numba
import numpy as np

from dpiaas.dpi import flowtable


@numba.njit(cache=True, _nrt=False, inline='always')
def _before(v, s, bv, bs):
    """Does (value v, slot s) rank before (bv, bs)? Larger values first;
    on a tie the lower slot, as a scan of the table in slot order gives."""
    return v > bv or (v == bv and bs >= 0 and s < bs)


@numba.njit(cache=True, _nrt=False)
def _insert(best_v, best_o, best_s, v, o, s):
    """Insert slot ``s`` (value ``v``, other counter ``o``) in a top list."""
    k = best_v.shape[0]
    if not _before(v, s, best_v[k - 1], best_s[k - 1]):
        return
    j = k - 1
    while j > 0 and _before(v, s, best_v[j - 1], best_s[j - 1]):
        best_v[j] = best_v[j - 1]
        best_o[j] = best_o[j - 1]
        best_s[j] = best_s[j - 1]
        j -= 1
    best_v[j] = v
    best_o[j] = o
    best_s[j] = s


@numba.njit(cache=True, _nrt=False, inline='always')
def _visit(key, cnt, s, by_pk, by_by):
    p = cnt[s, flowtable.C_IVP]
    b = cnt[s, flowtable.C_IVB]
    if p == 0.0 and b == 0.0:
        return
    if key[s, flowtable.K_PPA] != 0:
        _insert(by_pk[0], by_pk[1], by_pk[2], p, b, s)
        _insert(by_by[1], by_by[0], by_by[2], b, p, s)
    cnt[s, flowtable.C_IVP] = 0.0
    cnt[s, flowtable.C_IVB] = 0.0


@numba.njit(cache=True, _nrt=False)
def top_and_reset(key, cnt, by_pk, by_by):
    """Fill the top-k lists (rows: packets, bytes, slot) by interval
    packets and by interval bytes; zero the interval counters."""
    for s in range(key.shape[0]):
        _visit(key, cnt, s, by_pk, by_by)


@numba.njit(cache=True, _nrt=False)
def top_active(t, by_pk, by_by):
    """:func:`top_and_reset` over the interval's active flows only.

    Those are listed by hash (a flow moves when another is deleted
    before it); a flow listed twice is seen with zeroed counts the second
    time. The order of visits does not matter (ties rank by slot). If the
    list overflowed, the whole table is scanned.
    """
    if t.ctl[flowtable.CTL_ACT_OVER] != 0:
        top_and_reset(t.key, t.cnt, by_pk, by_by)
    else:
        na = t.ctl[flowtable.CTL_ACTIVE]
        for j in range(na):
            if j + 8 < na:
                # rows anywhere in a table larger than the cache: fetch a
                # later flow's while this one is ranked
                flowtable.prefetch_home(t, t.act[j + 8])
            s = flowtable.find_hash(t, t.act[j])
            if s >= 0:
                _visit(t.key, t.cnt, s, by_pk, by_by)
    t.ctl[flowtable.CTL_ACTIVE] = 0
    t.ctl[flowtable.CTL_ACT_OVER] = 0


def top(t, k):
    """``{"packets": [...], "bytes": [...]}``: the interval's top-k flows,
    and a new interval.

    Each entry is the flow's record so far (:func:`flowtable.flow_dict`)
    plus its (estimated) ``packets`` and ``bytes`` in the interval. Flows
    must still be in the table: an expired or evicted flow's interval
    counts leave with it.
    """
    if k <= 0:
        reset(t)
        return {'packets': [], 'bytes': []}
    lists = {'packets': np.zeros((3, k)), 'bytes': np.zeros((3, k))}
    for rows in lists.values():
        rows[2] = -1
    top_active(t, lists['packets'], lists['bytes'])
    # both lists' flows converted in one go: the numpy-to-Python steps
    # cost per call, not per flow
    rows = np.concatenate([lists['packets'], lists['bytes']], axis=1)
    rows = rows[:, rows[2] >= 0]
    slots = rows[2].astype(np.int64)
    flows = flowtable.flow_dicts(t.key[slots], t.cnt[slots])
    counts = flowtable.counts_of(rows[:2])
    for j, f in enumerate(flows):
        f['packets'] = counts[0][j]
        f['bytes'] = counts[1][j]
    n = int(np.count_nonzero(lists['packets'][2] >= 0))
    return {'packets': flows[:n], 'bytes': flows[n:]}


def reset(t):
    """Start a new interval."""
    t.cnt[:, flowtable.C_IVP] = 0.0
    t.cnt[:, flowtable.C_IVB] = 0.0
    t.ctl[flowtable.CTL_ACTIVE] = 0
    t.ctl[flowtable.CTL_ACT_OVER] = 0
