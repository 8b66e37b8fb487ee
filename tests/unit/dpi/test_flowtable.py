# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""The flow table, and flow accounting in exact mode."""
import ipaddress

import numba
import numpy as np
import pytest

from dpiaas.dpi import batch as batch_mod
from dpiaas.dpi import flowaccounting
from dpiaas.dpi import flowtable
from dpiaas.dpi import headers
from dpiaas.dpi import heavyhitters
from dpiaas.dpi import settings as settings_mod

S = 10**9
T0 = 1_700_000_000 * S
COLS = ('status', 'proto', 'src_hi', 'src_lo', 'dst_hi', 'dst_lo', 'sport',
        'dport', 'fhash', 'fdir', 'ts_ns', 'wirelen', 'weight', 'app')


def _ip(text):
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return 0, int(headers.V4_MAPPED_LO) | int(a)
    v = int(a)
    return v >> 64, v & 0xFFFFFFFFFFFFFFFF


@numba.njit(cache=True)
def _hash(s_hi, s_lo, d_hi, d_lo, sp, dp, pr, fhash, fdir):
    # The canonical order as headers.decode_headers has it: lower end first.
    for i in range(len(fhash)):
        if (s_hi[i], s_lo[i], sp[i]) <= (d_hi[i], d_lo[i], dp[i]):
            fdir[i] = 0
            fhash[i] = headers.flow_hash(s_hi[i], s_lo[i], d_hi[i], d_lo[i],
                                         sp[i], dp[i], pr[i])
        else:
            fdir[i] = 1
            fhash[i] = headers.flow_hash(d_hi[i], d_lo[i], s_hi[i], s_lo[i],
                                         dp[i], sp[i], pr[i])


def columns(ts, s_hi, s_lo, d_hi, d_lo, sp, dp, pr, ln):
    """Header columns of a batch from per-packet arrays."""
    n = len(ts)
    c = {
        'status': np.zeros(n, np.int8), 'proto': np.asarray(pr, np.uint8),
        'src_hi': np.asarray(s_hi, np.uint64),
        'src_lo': np.asarray(s_lo, np.uint64),
        'dst_hi': np.asarray(d_hi, np.uint64),
        'dst_lo': np.asarray(d_lo, np.uint64),
        'sport': np.asarray(sp, np.int32), 'dport': np.asarray(dp, np.int32),
        'fhash': np.zeros(n, np.uint64), 'fdir': np.zeros(n, np.int8),
        'ts_ns': np.asarray(ts, np.int64),
        'wirelen': np.asarray(ln, np.int32),
        'weight': np.ones(n, np.int32), 'app': np.zeros(n, np.int32)}
    _hash(c['src_hi'], c['src_lo'], c['dst_hi'], c['dst_lo'], c['sport'],
          c['dport'], c['proto'], c['fhash'], c['fdir'])
    return c


def packets(spec):
    """Header columns for ``(ts_ns, src, dst, sport, dport, proto, len)``."""
    src = [_ip(p[1]) for p in spec]
    dst = [_ip(p[2]) for p in spec]
    return columns([p[0] for p in spec], [a[0] for a in src],
                   [a[1] for a in src], [a[0] for a in dst],
                   [a[1] for a in dst], [p[3] for p in spec],
                   [p[4] for p in spec], [p[5] for p in spec],
                   [p[6] for p in spec])


def feed(acc, cols, batch=4096):
    """Account columns in batches, as the packet kernel does."""
    n = len(cols['ts_ns'])
    args = [cols[k] for k in COLS]
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        acc.reserve(hi - lo)
        flowaccounting.account_batch(
            hi - lo, *[a[lo:hi] for a in args], acc.table, acc.sketch,
            acc.evicted, acc.stats)
        acc.collect_evicted()


def settings(**kw):
    return settings_mod.DpiSettings(**kw)


def _key(r):
    return (r['src'], r['dst'], r['sport'], r['dport'], r['proto'])


# -- the table itself -----------------------------------------------------

def _put(t, h, n):
    ppa = flowtable.pack_ppa(n, 80, 6)
    return flowtable.insert(t, np.uint64(h), np.uint64(0), np.uint64(n),
                            np.uint64(0), np.uint64(n + 1), ppa, T0 + n, 0)


def _find(t, h, n):
    ppa = flowtable.pack_ppa(n, 80, 6)
    return flowtable.lookup(t, np.uint64(h), np.uint64(0), np.uint64(n),
                            np.uint64(0), np.uint64(n + 1), ppa)


def test_inserted_flow_is_found_and_absent_one_is_not():
    t = flowtable.new_table(64)
    s = _put(t, 12345, 1)
    assert _find(t, 12345, 1) == s
    assert _find(t, 12345, 2) == -1
    assert _find(t, 999, 1) == -1
    assert t.ctl[flowtable.CTL_COUNT] == 1


def test_delete_shifts_back_so_colliding_flows_stay_reachable():
    t = flowtable.new_table(16)
    # Same home slot (15) for all: the run wraps around the end.
    slots = [_put(t, 15 + 16 * n, n) for n in range(5)]
    assert slots == [15, 0, 1, 2, 3]
    flowtable.delete(t, slots[1])
    for n in (0, 2, 3, 4):
        assert _find(t, 15 + 16 * n, n) >= 0
    assert _find(t, 15 + 16, 1) == -1
    assert t.ctl[flowtable.CTL_COUNT] == 4
    # No tombstones: the run got one shorter.
    assert t.key[3, flowtable.K_PPA] == 0


def test_random_inserts_and_deletes_agree_with_a_dict():
    t = flowtable.new_table(64)
    rs = np.random.RandomState(5)
    live = {}
    for step in range(3000):
        n = int(rs.randint(0, 60))
        h = int(rs.randint(0, 8)) * 64 + n % 7   # heavy clustering
        if n in live:
            s = _find(t, live[n], n)
            assert s >= 0
            flowtable.delete(t, s)
            del live[n]
        elif len(live) < 48:
            assert _find(t, h, n) == -1
            _put(t, h, n)
            live[n] = h
        if step % 100 == 0:
            for m, hm in live.items():
                assert _find(t, hm, m) >= 0
            check_columns(t)
    assert t.ctl[flowtable.CTL_COUNT] == len(live)


def check_columns(t):
    """The compact columns say what the slots' rows say.

    Probes read the tags and the eviction window and idle scan the
    last-seen column, not the rows: a slot is used exactly when its tag
    is set (and K_PPA, which records carry, is nonzero), the tag is the
    row's hash with TAG_USED, and the column's time is the row's.
    """
    used = t.tag != 0
    assert (used == (t.key[:, flowtable.K_PPA] != 0)).all()
    assert int(used.sum()) == t.ctl[flowtable.CTL_COUNT]
    assert (t.tag[used] == (t.key[used, flowtable.K_HASH]
                            | flowtable.TAG_USED)).all()
    assert (t.last[used] == t.key[used, flowtable.K_LAST].astype(
        np.int64)).all()
    assert (t.last[~used] == flowtable.NO_LAST).all()


def _row_lookup(t, h, key_row):
    """The reference probe: slot by slot over the rows, as before tags."""
    mask = len(t.key) - 1
    s = int(h) & mask
    while t.key[s, flowtable.K_PPA] != 0:
        if (t.key[s, :flowtable.K_FIRST] == key_row).all():
            return s
        s = (s + 1) & mask
    return -1


def _row_victim(t, h):
    """The reference eviction choice, from the rows' K_PPA and K_LAST."""
    mask = len(t.key) - 1
    s = int(h) & mask
    best = -1
    for _ in range(flowtable.EVICT_WINDOW):
        if t.key[s, flowtable.K_PPA] != 0 and (
                best < 0 or int(t.key[s, flowtable.K_LAST])
                < int(t.key[best, flowtable.K_LAST])):
            best = s
        s = (s + 1) & mask
    while best < 0 and t.ctl[flowtable.CTL_COUNT]:
        if t.key[s, flowtable.K_PPA] != 0:
            best = s
        s = (s + 1) & mask
    return best


def test_tags_and_times_stay_in_sync_with_the_rows():
    # A small table kept full by a Zipf trace: flows are inserted,
    # evicted (backward shifts), updated and expired, in both modes.
    cols, _ = zipf_columns(20000, 3000, seconds=60.0)
    for exact in (True, False):
        acc = flowaccounting.FlowAccounting(
            settings(flow_table_size=256, flow_idle_timeout_s=5),
            exact=exact)
        t = acc.table
        rs = np.random.RandomState(1)
        n = len(cols['ts_ns'])
        for lo in range(0, n, 2000):
            feed(acc, {k: v[lo:lo + 2000] for k, v in cols.items()})
            check_columns(t)
            for h in rs.randint(0, 2**63, 50, dtype=np.uint64):
                assert flowtable.victim(t, h) == _row_victim(t, h)
            for s in np.flatnonzero(t.tag != 0)[:50]:
                row = t.key[s, :flowtable.K_FIRST].copy()
                h = row[flowtable.K_HASH]
                assert _row_lookup(t, h, row) == s
                assert flowtable.lookup(t, h, *row[1:]) == s
                assert flowtable.find_hash(t, h) == s
            acc.expire(int(cols['ts_ns'][min(n, lo + 2000) - 1]) - 5 * S)
            check_columns(t)
        assert acc.evictions > 1000
        acc.flush_all()
        check_columns(t)
        assert not t.tag.any()


def test_a_tag_match_is_checked_against_the_row():
    # Tags drop the hash's top bit: two hashes that differ only there
    # share a tag, and the row's hash and key tell them apart.
    t = flowtable.new_table(64)
    top = 1 << 63
    s = _put(t, 5, 1)
    assert t.tag[s] == (5 | top)
    assert _find(t, 5 | top, 1) == -1
    assert flowtable.find_hash(t, np.uint64(5 | top)) == -1
    s2 = _put(t, 5 | top, 1)
    assert s2 == s + 1 and t.tag[s2] == t.tag[s]
    assert _find(t, 5 | top, 1) == s2
    assert flowtable.find_hash(t, np.uint64(5 | top)) == s2
    assert flowtable.find_hash(t, np.uint64(5)) == s
    flowtable.delete(t, s)
    assert _find(t, 5 | top, 1) == s
    check_columns(t)


# -- exact accounting -----------------------------------------------------

def test_exact_mode_counts_each_direction_and_times():
    acc = flowaccounting.FlowAccounting(settings(), exact=True)
    feed(acc, packets([
        (T0, '10.0.0.2', '10.0.0.1', 40000, 80, 6, 100),
        (T0 + 5, '10.0.0.1', '10.0.0.2', 80, 40000, 6, 1500),
        (T0 + 9, '10.0.0.1', '10.0.0.2', 80, 40000, 6, 1500),
    ]))
    (r,) = acc.flush_all()
    # 10.0.0.1 is the lower end: it is src, its packets are a->b.
    assert r == {
        'src': '10.0.0.1', 'dst': '10.0.0.2', 'sport': 80,
        'dport': 40000, 'proto': 6, 'first_seen': T0 / 1e9,
        'last_seen': (T0 + 9) / 1e9, 'packets_ab': 2, 'bytes_ab': 3000,
        'packets_ba': 1, 'bytes_ba': 100, 'app': 0}
    assert acc.packets_seen == 3
    assert acc.table_updates == 3
    assert acc.flows == 0


def test_account_takes_decoded_batches_segment_by_segment():
    from scapy.layers import inet
    from scapy.layers import l2

    def frame(src, dst, sport, dport, size):
        p = (l2.Ether() / inet.IP(src=src, dst=dst)
             / inet.UDP(sport=sport, dport=dport) / (b'x' * size))
        return bytes(p)

    b = batch_mod.PacketBatch.from_packets([
        (T0, frame('10.0.0.9', '10.0.0.1', 5060, 5060, 100)),
        (T0 + 1, frame('10.0.0.1', '10.0.0.9', 5060, 5060, 20)),
        (T0 + 2, b'\x00' * 10),       # truncated: not counted
        (T0 + 3, frame('10.0.0.9', '10.0.0.1', 5060, 5060, 100)),
    ])
    hdr = headers.Headers(len(b))
    hdr.decode(b)
    app = np.full(len(b), 2, np.int8)
    acc = flowaccounting.FlowAccounting(settings(), exact=True)
    acc.account(hdr, b, app, 0, 2)
    acc.account(hdr, b, app, 2, 4)
    (r,) = acc.flush_all()
    assert (r['src'], r['dst'], r['app']) == ('10.0.0.1', '10.0.0.9', 2)
    assert (r['packets_ab'], r['bytes_ab']) == (1, 14 + 20 + 8 + 20)
    assert (r['packets_ba'], r['bytes_ba']) == (2, 2 * (14 + 20 + 8 + 100))


def test_ipv6_addresses_are_printed_as_ipv6():
    acc = flowaccounting.FlowAccounting(settings(), exact=True)
    feed(acc, packets([(T0, '2001:db8::1', '2001:db8::2', 5060, 5060, 17,
                        400)]))
    (r,) = acc.flush_all()
    assert (r['src'], r['dst']) == ('2001:db8::1', '2001:db8::2')


def test_packets_not_decoded_are_not_counted():
    acc = flowaccounting.FlowAccounting(settings(), exact=True)
    cols = packets([(T0, '10.0.0.1', '10.0.0.2', 1, 2, 17, 60)] * 3)
    cols['status'][1] = headers.ST_TRUNCATED
    feed(acc, cols)
    (r,) = acc.flush_all()
    assert r['packets_ab'] == 2
    assert acc.packets_seen == 2


def test_app_id_comes_from_the_caller():
    acc = flowaccounting.FlowAccounting(settings(), exact=True)
    cols = packets([(T0, '10.0.0.1', '10.0.0.2', 1, 5060, 17, 60)] * 2)
    cols['app'][:] = 3
    feed(acc, cols)
    assert acc.flush_all()[0]['app'] == 3


def test_idle_flows_expire_with_a_record_and_active_ones_stay():
    acc = flowaccounting.FlowAccounting(settings(flow_idle_timeout_s=30),
                                        exact=True)
    feed(acc, packets([
        (T0, '10.0.0.1', '10.0.0.2', 1000, 53, 17, 80),
        (T0 + 20 * S, '10.0.0.3', '10.0.0.2', 1001, 53, 17, 80),
    ]))
    assert acc.expire(T0 + 29 * S) == []
    (r,) = acc.expire(T0 + 31 * S)
    assert (r['src'], r['sport']) == ('10.0.0.1', 1000)
    assert acc.flows == 1
    (r,) = acc.expire(T0 + 51 * S)
    assert r['src'] == '10.0.0.2'
    assert acc.flows == 0


def test_idle_column_follows_every_packet():
    # The idle scan and the eviction window read only the last-seen
    # column: a flow inserted at T0 and seen again at T0 + 25 s must
    # have T0 + 25 s there, and so stay at T0 + 31 s.
    acc = flowaccounting.FlowAccounting(settings(flow_idle_timeout_s=30),
                                        exact=True)
    feed(acc, packets([
        (T0, '10.0.0.1', '10.0.0.2', 1000, 53, 17, 80),
        (T0 + 25 * S, '10.0.0.1', '10.0.0.2', 1000, 53, 17, 80),
    ]))
    t = acc.table
    (s,) = np.flatnonzero(t.tag != 0)
    assert t.last[s] == T0 + 25 * S
    assert acc.expire(T0 + 31 * S) == []
    (r,) = acc.expire(T0 + 56 * S)
    assert r['packets_ab'] == 2
    assert r['last_seen'] == (T0 + 25 * S) / 1e9


def test_key_and_count_rows_of_a_slot_share_one_128_byte_block():
    t = flowtable.new_table(64)
    base = t.key.ctypes.data
    assert base % 128 == 0
    assert t.cnt.ctypes.data == base + 64
    assert t.key.strides[0] == t.cnt.strides[0] == 128
    # the views are distinct: a count write leaves the key row alone
    s = _put(t, 7, 1)
    t.cnt[s, flowtable.C_PK] = 3.0
    assert _find(t, 7, 1) == s
    assert t.key[s, flowtable.K_HASH] == 7


def test_full_table_evicts_the_oldest_flow_in_the_window():
    acc = flowaccounting.FlowAccounting(settings(flow_table_size=16),
                                        exact=True)
    limit = int(acc.table.ctl[flowtable.CTL_LIMIT])
    spec = [(T0 + i * S, '10.0.0.1', '10.0.1.%d' % i, 1000 + i, 80, 6, 60)
            for i in range(limit + 1)]
    feed(acc, packets(spec))
    assert acc.evictions == 1
    assert acc.flows == limit
    (r,) = acc.expire(0)     # eviction records come out with the next call
    assert r['packets_ab'] == 1
    # All 16 slots are the window here, so the oldest flow went.
    assert r['dst'] == '10.0.1.0'


def test_memory_is_allocated_once_whatever_the_flows():
    acc = flowaccounting.FlowAccounting(settings(flow_table_size=64),
                                        exact=True)
    arrays = [id(a) for a in acc.table]
    before = acc.memory()
    spec = [(T0 + i, '10.%d.%d.1' % (i >> 8 & 255, i & 255), '10.9.9.9',
             1024 + i % 50000, 443, 6, 60) for i in range(5000)]
    feed(acc, packets(spec))
    assert acc.flows <= acc.table.ctl[flowtable.CTL_LIMIT]
    assert acc.evictions == 5000 - acc.flows
    assert [id(a) for a in acc.table] == arrays
    assert acc.memory()['table'] == before['table']
    records = acc.expire(0) + acc.flush_all()
    assert len(records) == 5000
    assert sum(r['packets_ab'] + r['packets_ba'] for r in records) == 5000


def zipf_columns(n_packets, n_flows, seconds=10.0, s=1.1, seed=3):
    """A time-ordered Zipf trace and its exact counts.

    Returns the columns and ``{(src, dst, sport, dport, proto): [packets
    a->b, packets b->a, bytes a->b, bytes b->a, first_ns, last_ns]}``.
    The flows' a ends are 10.0.x.y, their b end 10.200.0.1.
    """
    rs = np.random.RandomState(seed)
    p = np.arange(1, n_flows + 1, dtype=float) ** -s
    sizes = rs.multinomial(n_packets, p / p.sum())
    sizes = sizes[sizes > 0]
    fid = np.repeat(np.arange(len(sizes)), sizes)
    ts = T0 + (rs.random_sample(len(fid)) * seconds * S).astype(np.int64)
    order = np.argsort(ts, kind='stable')
    fid, ts = fid[order], ts[order]
    n = len(fid)
    fwd = rs.random_sample(n) < 0.6
    ln = np.where(fwd, rs.choice([1514, 576, 1200], n),
                  rs.choice([66, 66, 300], n))
    a_ip = int(headers.V4_MAPPED_LO) | 0x0A000000 | fid
    b_ip = np.full(n, int(headers.V4_MAPPED_LO) | 0x0AC80001)
    a_port = 20000 + fid % 40000
    cols = columns(ts, np.zeros(n), np.where(fwd, a_ip, b_ip), np.zeros(n),
                   np.where(fwd, b_ip, a_ip), np.where(fwd, a_port, 80),
                   np.where(fwd, 80, a_port), np.full(n, 6), ln)
    nf = len(sizes)
    pk = [np.bincount(fid[m], minlength=nf) for m in (fwd, ~fwd)]
    by = [np.bincount(fid[m], ln[m], minlength=nf) for m in (fwd, ~fwd)]
    first = np.full(nf, -1, np.int64)
    first[fid[::-1]] = ts[::-1]
    last = np.zeros(nf, np.int64)
    last[fid] = ts
    truth = {}
    for f in range(nf):
        k = (flowtable.ip_text(0, int(headers.V4_MAPPED_LO) | 0x0A000000 | f),
             '10.200.0.1', 20000 + f % 40000, 80, 6)
        truth[k] = [int(pk[0][f]), int(pk[1][f]), int(by[0][f]),
                    int(by[1][f]), int(first[f]), int(last[f])]
    return cols, truth


@pytest.fixture(scope='module')
def small_zipf():
    return zipf_columns(60000, 3000)


def test_exact_mode_equals_ground_truth(small_zipf):
    cols, truth = small_zipf
    acc = flowaccounting.FlowAccounting(settings(), exact=True)
    feed(acc, cols)
    records = acc.flush_all()
    assert len(records) == len(truth)
    for r in records:
        want = truth[_key(r)]
        got = [r['packets_ab'], r['packets_ba'], r['bytes_ab'],
               r['bytes_ba'], r['first_seen'] * 1e9, r['last_seen'] * 1e9]
        assert got[:4] == want[:4]
        assert abs(got[4] - want[4]) < 1e3 and abs(got[5] - want[5]) < 1e3
    assert acc.table_updates == acc.packets_seen == 60000


# -- heavy hitters ----------------------------------------------------------

def _top_by_table_scan(t, k):
    """The reference: a scan of a copy of the whole table, in slot order."""
    key, cnt = t.key.copy(), t.cnt.copy()
    lists = {'packets': np.zeros((3, k)), 'bytes': np.zeros((3, k))}
    for rows in lists.values():
        rows[2] = -1
    heavyhitters.top_and_reset(key, cnt, lists['packets'], lists['bytes'])
    out = {}
    for name, rows in lists.items():
        out[name] = []
        for p, b, s in rows.T:
            if s < 0:
                break
            f = flowtable.flow_dict(key[int(s)], cnt[int(s)])
            f['packets'] = flowtable.count(p)
            f['bytes'] = flowtable.count(b)
            out[name].append(f)
    return out


@pytest.mark.parametrize('overflow', [False, True])
def test_heavy_hitters_of_active_flows_equal_a_table_scan(overflow):
    # many flows with equal counts: ties must rank as the scan ranks them
    rs = np.random.RandomState(5)
    spec = []
    for i in range(3000):
        n = 1 + rs.randint(4)
        spec += [(T0 + i, '10.0.%d.%d' % (i // 250, i % 250), '10.9.0.1',
                  1000 + i, 53, 17, 100)] * n
    acc = flowaccounting.FlowAccounting(settings(flow_table_size=1024),
                                        exact=True)
    feed(acc, packets(spec), batch=512)
    assert acc.evictions > 0      # flows moved and left during the interval
    if overflow:
        acc.table.ctl[flowtable.CTL_ACT_OVER] = 1
    want = _top_by_table_scan(acc.table, 10)
    got = heavyhitters.top(acc.table, 10)
    assert len(got['packets']) == 10
    assert got == want
    # the counters were reset, the list emptied: a quiet interval is empty
    assert heavyhitters.top(acc.table, 10) == {'packets': [], 'bytes': []}
    assert not acc.table.cnt[:, flowtable.C_IVP].any()


def test_flow_dicts_equal_flow_dict_row_by_row():
    rs = np.random.RandomState(3)
    keys = rs.randint(0, 2**63, size=(200, flowtable.ROW), dtype=np.uint64)
    keys[:50, flowtable.K_AHI] = 0
    keys[:50, flowtable.K_ALO] = headers.V4_MAPPED_LO | np.uint64(1234)
    cnts = rs.standard_normal((200, flowtable.ROW)) * 1000
    cnts[:100] = np.round(cnts[:100]) + 0.5       # halves round to even
    cnts[:, flowtable.C_APP] = rs.randint(0, 4, 200)
    want = [flowtable.flow_dict(k, c) for k, c in zip(keys, cnts)]
    got = flowtable.flow_dicts(keys, cnts)
    assert got == want
    assert [type(v) for v in got[0].values()] == \
        [type(v) for v in want[0].values()]
