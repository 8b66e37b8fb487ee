"""Heavy hitters: the top flows of an interval by packets and by bytes.

Runs once per interval over the flow table's interval counters, never per
packet: one compiled pass over the table keeps the k largest of each
counter by insertion (k is small) and zeroes the counters for the next
interval as it goes, so the table is read once, not four times as numpy's
column operations on its interleaved rows would.
"""
import numba
import numpy as np

from dpiaas.dpi import flowtable


@numba.njit(cache=True, _nrt=False)
def _insert(best_v, best_o, best_s, v, o, s):
    """Insert slot ``s`` (value ``v``, other counter ``o``) in a top list."""
    k = best_v.shape[0]
    if v <= best_v[k - 1]:
        return
    j = k - 1
    while j > 0 and best_v[j - 1] < v:
        best_v[j] = best_v[j - 1]
        best_o[j] = best_o[j - 1]
        best_s[j] = best_s[j - 1]
        j -= 1
    best_v[j] = v
    best_o[j] = o
    best_s[j] = s


@numba.njit(cache=True, _nrt=False)
def top_and_reset(key, cnt, by_pk, by_by):
    """Fill the top-k lists (rows: packets, bytes, slot) by interval
    packets and by interval bytes; zero the interval counters."""
    for s in range(key.shape[0]):
        p = cnt[s, flowtable.C_IVP]
        b = cnt[s, flowtable.C_IVB]
        if p == 0.0 and b == 0.0:
            continue
        if key[s, flowtable.K_PPA] != 0:
            _insert(by_pk[0], by_pk[1], by_pk[2], p, b, s)
            _insert(by_by[1], by_by[0], by_by[2], b, p, s)
        cnt[s, flowtable.C_IVP] = 0.0
        cnt[s, flowtable.C_IVB] = 0.0


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
    top_and_reset(t.key, t.cnt, lists['packets'], lists['bytes'])
    out = {}
    for name, rows in lists.items():
        flows = []
        for p, b, s in rows.T:
            if s < 0:
                break
            f = flowtable.flow_dict(t.key[int(s)], t.cnt[int(s)])
            f['packets'] = flowtable.count(p)
            f['bytes'] = flowtable.count(b)
            flows.append(f)
        out[name] = flows
    return out


def reset(t):
    """Start a new interval."""
    t.cnt[:, flowtable.C_IVP] = 0.0
    t.cnt[:, flowtable.C_IVB] = 0.0
