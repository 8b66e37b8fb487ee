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
"""How well the FlowRegulator counts, against exact counts (one command).

    .venv/bin/python bench/flow_regulator.py [--packets 2000000]

Traces: (a) every capture under ../shared/data/pcaps/zeek (read with dpkt,
decoded by dpiaas's own header decoder), concatenated on one clock; (b) a
synthetic Zipf trace generated directly as header columns: flows with Zipf
sizes, each active for a while, packet sizes from a bulk/interactive mix.

For each trace both modes run through the same
:func:`dpiaas.dpi.flowaccounting.account_batch` in batches, an interval
closes every 500 ms of capture time. Ground truth is computed here with
numpy from the columns (per flow key and direction), independently of the
flow table. Printed: regulation rate (table updates / packets, and the part
that is one update per flow and epoch), relative standard error of packets
and bytes of flows above a size, heavy-hitter precision and recall of the
per-interval top-k and of the whole-trace top-k, and ns per packet.
"""
import argparse
import gzip
import os
import sys
import time

import dpkt
import numba
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from dpiaas.dpi import batch as batch_mod  # noqa: E402
from dpiaas.dpi import flowaccounting  # noqa: E402
from dpiaas.dpi import flowtable  # noqa: E402
from dpiaas.dpi import headers  # noqa: E402
from dpiaas.dpi import settings as settings_mod  # noqa: E402

ZEEK = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data',
                    'pcaps', 'zeek')
COLS = ('status', 'proto', 'src_hi', 'src_lo', 'dst_hi', 'dst_lo', 'sport',
        'dport', 'fhash', 'fdir', 'ts_ns', 'wirelen', 'weight', 'app')
PAPER = {'rate': 1.02, 'se': 0.65, 'hh': 99.8}


# -- traces ---------------------------------------------------------------

@numba.njit(cache=True)
def _hash_columns(src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto,
                  fhash, fdir):
    for i in range(len(fhash)):
        a = (src_hi[i], src_lo[i], sport[i])
        b = (dst_hi[i], dst_lo[i], dport[i])
        if a <= b:
            fdir[i] = 0
            fhash[i] = headers.flow_hash(src_hi[i], src_lo[i], dst_hi[i],
                                         dst_lo[i], sport[i], dport[i],
                                         proto[i])
        else:
            fdir[i] = 1
            fhash[i] = headers.flow_hash(dst_hi[i], dst_lo[i], src_hi[i],
                                         src_lo[i], dport[i], sport[i],
                                         proto[i])


def zipf_trace(n_packets, n_flows, s=1.1, duration_s=20.0, seed=7):
    """Header columns of a Zipf trace, in time order.

    Flow sizes: a multinomial draw over Zipf(s) ranks. Each flow starts at
    a random time and lasts size * gap (gap log-uniform 0.2-20 ms, cut at
    the trace end). Half the flows are bulk (70 % of packets a->b, mostly
    1514-byte data; acknowledgements back), half interactive (small packets
    both ways).
    """
    rs = np.random.RandomState(seed)
    p = np.arange(1, n_flows + 1, dtype=np.float64) ** -s
    sizes = rs.multinomial(n_packets, p / p.sum())
    sizes = sizes[sizes > 0]
    nf = len(sizes)
    fid = np.repeat(np.arange(nf), sizes)
    dur_ns = duration_s * 1e9
    gap = np.exp(rs.uniform(np.log(2e5), np.log(2e7), nf))
    life = np.minimum(sizes * gap, dur_ns)
    start = rs.uniform(0, dur_ns - life)
    ts = (start[fid] + rs.random_sample(len(fid)) * life[fid]).astype(
        np.int64) + 1_700_000_000 * 10**9
    order = np.argsort(ts, kind='stable')
    fid = fid[order]
    ts = ts[order]
    n = len(fid)
    bulk = rs.random_sample(nf) < 0.5
    fwd = np.where(bulk[fid], rs.random_sample(n) < 0.7,
                   rs.random_sample(n) < 0.5)
    data = np.where(rs.random_sample(n) < 0.7, 1514,
                    np.where(rs.random_sample(n) < 0.33, 576,
                             rs.randint(200, 1400, n)))
    ack = np.where(rs.random_sample(n) < 0.9, 66, rs.randint(66, 300, n))
    small = rs.randint(66, 400, n)
    wirelen = np.where(bulk[fid], np.where(fwd, data, ack), small)
    a_ip = 0x0A000000 + rs.randint(1, 1 << 16, nf)      # 10.0.0.0/16
    b_ip = 0xC0A80000 + rs.randint(1, 1 << 16, nf)      # 192.168.0.0/16
    a_port = rs.randint(1024, 65535, nf)
    b_port = rs.choice([80, 443, 5060, 53, 8080, 22], nf)
    proto = np.where(rs.random_sample(nf) < 0.8, 6, 17).astype(np.uint8)
    mapped = np.uint64(headers.V4_MAPPED_LO)
    src = np.where(fwd, a_ip[fid], b_ip[fid]).astype(np.uint64) | mapped
    dst = np.where(fwd, b_ip[fid], a_ip[fid]).astype(np.uint64) | mapped
    cols = {
        'status': np.zeros(n, np.int8),
        'proto': proto[fid],
        'src_hi': np.zeros(n, np.uint64), 'src_lo': src,
        'dst_hi': np.zeros(n, np.uint64), 'dst_lo': dst,
        'sport': np.where(fwd, a_port[fid], b_port[fid]).astype(np.int32),
        'dport': np.where(fwd, b_port[fid], a_port[fid]).astype(np.int32),
        'fhash': np.zeros(n, np.uint64), 'fdir': np.zeros(n, np.int8),
        'ts_ns': ts, 'wirelen': wirelen.astype(np.int32),
        'weight': np.ones(n, np.int32), 'app': np.zeros(n, np.int32),
    }
    _hash_columns(cols['src_hi'], cols['src_lo'], cols['dst_hi'],
                  cols['dst_lo'], cols['sport'], cols['dport'],
                  cols['proto'], cols['fhash'], cols['fdir'])
    return cols


def _read_capture(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        head = f.read(4)
        f.seek(0)
        if head == b'\x0a\x0d\x0d\x0a':
            reader = dpkt.pcapng.Reader(f)
        else:
            reader = dpkt.pcap.Reader(f)
        linktype = reader.datalink()
        pkts = []
        try:
            for ts, buf in reader:   # ts: float, or Decimal (ns pcap)
                pkts.append((int(ts * 10**9), bytes(buf)))
        except (ValueError, dpkt.dpkt.Error):
            pass    # a cut capture: keep what was read
    return linktype, pkts


def capture_trace(root=ZEEK):
    """Header columns of every capture under root, one after the other."""
    paths = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
        if '.pcap' in f)
    parts = []
    clock = 1_700_000_000 * 10**9
    for path in paths:
        try:
            linktype, pkts = _read_capture(path)
        except (ValueError, dpkt.dpkt.Error, OSError):
            continue
        if not pkts or not headers.supported(linktype):
            continue
        b = batch_mod.PacketBatch.from_packets(pkts, linktype=linktype)
        hdr = headers.Headers(len(b))
        hdr.decode(b)
        n = len(b)
        ts = b.ts_ns - b.ts_ns.min() + clock
        ts = np.maximum.accumulate(ts)
        clock = int(ts.max()) + 10**9
        parts.append({
            'status': hdr.status[:n].copy(), 'proto': hdr.proto[:n].copy(),
            'src_hi': hdr.src_hi[:n].copy(), 'src_lo': hdr.src_lo[:n].copy(),
            'dst_hi': hdr.dst_hi[:n].copy(), 'dst_lo': hdr.dst_lo[:n].copy(),
            'sport': hdr.sport[:n].copy(), 'dport': hdr.dport[:n].copy(),
            'fhash': hdr.fhash[:n].copy(), 'fdir': hdr.fdir[:n].copy(),
            'ts_ns': ts, 'wirelen': b.wirelen.copy(), 'weight': b.weight,
            'app': np.zeros(n, np.int32)})
    cols = {k: np.concatenate([p[k] for p in parts]) for k in COLS}
    return cols, len(paths)


# -- ground truth ---------------------------------------------------------

def truth(cols):
    """Exact per-flow counts computed with numpy, keyed like the records."""
    ok = cols['status'] == headers.ST_OK
    fdall = cols['fdir'].astype(bool)
    keycols = [np.where(fdall, cols[b], cols[a])[ok]
               for a, b in (('src_hi', 'dst_hi'), ('src_lo', 'dst_lo'),
                            ('dst_hi', 'src_hi'), ('dst_lo', 'src_lo'),
                            ('sport', 'dport'), ('dport', 'sport'))]
    keycols.append(cols['proto'][ok])
    fd = fdall[ok]
    key = np.rec.fromarrays([k.astype(np.uint64) for k in keycols])
    uniq, inv = np.unique(key, return_inverse=True)
    inv = inv.ravel()
    nf = len(uniq)
    w = cols['weight'][ok].astype(np.float64)
    wl = cols['wirelen'][ok].astype(np.float64)
    pk = np.zeros((nf, 2))
    by = np.zeros((nf, 2))
    np.add.at(pk, (inv, fd.astype(int)), w)
    np.add.at(by, (inv, fd.astype(int)), wl)
    names = [(flowtable.ip_text(u[0], u[1]), flowtable.ip_text(u[2], u[3]),
              int(u[4]), int(u[5]), int(u[6])) for u in uniq]
    return {'names': names, 'index': {k: i for i, k in enumerate(names)},
            'pk': pk, 'by': by, 'inv': inv, 'ok': ok}


def _name(d):
    return (d['src'], d['dst'], d['sport'], d['dport'], d['proto'])


# -- one run --------------------------------------------------------------

def run(cols, exact, settings, interval_ns=500 * 10**6, batch=8192,
        **kw):
    acc = flowaccounting.FlowAccounting(settings, exact=exact, **kw)
    ts = cols['ts_ns']
    n = len(ts)
    args = [cols[k] for k in COLS]
    records, hh = [], []
    t_close = 0.0
    t0 = ts[0] - ts[0] % interval_ns
    edge = t0 + interval_ns
    lo = 0
    acc.reserve(batch)
    while lo < n:
        hi = min(n, lo + batch)
        cut = int(np.searchsorted(ts[lo:hi], edge, side='left')) + lo
        if cut < hi:
            hi = cut
        if hi > lo:
            flowaccounting.account_batch(
                hi - lo, *[a[lo:hi] for a in args], acc.table, acc.sketch,
                acc.evicted, acc.stats)
            acc.collect_evicted()
        lo = hi
        if lo < n and ts[lo] >= edge:
            c0 = time.perf_counter()
            hh.append(((edge - t0) // interval_ns - 1, acc.close_interval()))
            records.extend(acc.expire(edge))
            t_close += time.perf_counter() - c0
            # Empty intervals have no heavy hitters: skip them (captures
            # can span days).
            edge = ts[lo] - ts[lo] % interval_ns + interval_ns
    hh.append(((edge - t0) // interval_ns - 1, acc.close_interval()))
    records.extend(acc.flush_all())
    return {'acc': acc, 'records': records, 'hh': hh,
            't_close': t_close / max(1, len(hh) - 1),
            'interval_ns': interval_ns, 't0': t0}


def throughput(cols, exact, settings, reps, batch=8192):
    """Best ns per packet of account_batch alone, in full batches."""
    args = [cols[k] for k in COLS]
    n = len(cols['ts_ns'])
    best = float('inf')
    for _ in range(reps):
        acc = flowaccounting.FlowAccounting(settings, exact=exact)
        acc.reserve(batch)
        c0 = time.perf_counter()
        for lo in range(0, n, batch):
            hi = min(n, lo + batch)
            flowaccounting.account_batch(
                hi - lo, *[a[lo:hi] for a in args], acc.table, acc.sketch,
                acc.evicted, acc.stats)
            acc.collect_evicted()
        best = min(best, time.perf_counter() - c0)
    return 1e9 * best / max(1, n)


def call_overhead(settings, reps=200):
    """Microseconds of one account_batch call from Python (0 packets)."""
    acc = flowaccounting.FlowAccounting(settings)
    cols = {k: np.zeros(1, np.dtype(v)) for k, v in (
        ('status', 'i1'), ('proto', 'u1'), ('src_hi', 'u8'), ('src_lo', 'u8'),
        ('dst_hi', 'u8'), ('dst_lo', 'u8'), ('sport', 'i4'), ('dport', 'i4'),
        ('fhash', 'u8'), ('fdir', 'i1'), ('ts_ns', 'i8'), ('wirelen', 'i4'),
        ('weight', 'i4'), ('app', 'i4'))}
    args = [cols[k] for k in COLS]
    c0 = time.perf_counter()
    for _ in range(reps):
        flowaccounting.account_batch(0, *args, acc.table, acc.sketch,
                                     acc.evicted, acc.stats)
    return 1e6 * (time.perf_counter() - c0) / reps


# -- measures -------------------------------------------------------------

def _estimates(tr, records):
    """Per-flow [a->b, b->a] packets and bytes summed over the records."""
    nf = len(tr['names'])
    pk = np.zeros((nf, 2))
    by = np.zeros((nf, 2))
    missing = 0
    for r in records:
        i = tr['index'].get(_name(r))
        if i is None:
            missing += 1
            continue
        pk[i] += (r['packets_ab'], r['packets_ba'])
        by[i] += (r['bytes_ab'], r['bytes_ba'])
    return pk, by, missing


def rse(est, true, size, lo):
    """RMS relative error (%) over flows of >= lo packets, and their count."""
    sel = size >= lo
    if not sel.any():
        return float('nan'), 0
    rel = (est[sel] - true[sel]) / true[sel]
    return 100.0 * float(np.sqrt(np.mean(rel ** 2))), int(sel.sum())


def hh_scores(cols, tr, res, k):
    """Mean precision and recall (%) of the per-interval top-k.

    A reported flow is right when its true count in the interval is at
    least the true k-th largest (ties at the boundary are not errors).
    """
    ts = cols['ts_ns'][tr['ok']]
    iv = ((ts - res['t0']) // res['interval_ns']).astype(np.int64)
    inv = tr['inv']
    nf = len(tr['names'])
    order = np.argsort(iv, kind='stable')
    ivs = iv[order]
    out = {}
    for metric, col in (('packets', 'weight'), ('bytes', 'wirelen')):
        vals = cols[col][tr['ok']].astype(np.float64)
        ps, rs = [], []
        for j, top in res['hh']:
            sel = order[np.searchsorted(ivs, j):np.searchsorted(ivs, j + 1)]
            if not len(sel):
                continue
            tot = np.bincount(inv[sel], weights=vals[sel], minlength=nf)
            kk = min(k, int((tot > 0).sum()))
            kth = -np.partition(-tot, kk - 1)[kk - 1]
            found = [tr['index'].get(_name(f)) for f in top[metric]]
            good = sum(1 for f in found if f is not None and tot[f] >= kth)
            ps.append(good / len(found) if found else 0.0)
            rs.append(min(good, kk) / kk)
        out[metric] = (100 * np.mean(ps), 100 * np.mean(rs))
    return out


def trace_hh(tr, pk, by, k):
    """Share (%) of the true whole-trace top-k found in the reported top-k."""
    out = {}
    for metric, est, true in (('packets', pk, tr['pk']),
                              ('bytes', by, tr['by'])):
        t = true.sum(axis=1)
        want = set(np.argsort(-t, kind='stable')[:k].tolist())
        found = set(np.argsort(-est.sum(axis=1), kind='stable')[:k].tolist())
        out[metric] = 100.0 * len(want & found) / k
    return out


def measure(name, cols, settings, k, big, reps):
    tr = truth(cols)
    npk = int(cols['weight'][tr['ok']].sum())
    size = tr['pk'].sum(axis=1)
    rows = []
    for exact in (True, False):
        res = run(cols, exact, settings)
        t_close = res['t_close']
        for _ in range(reps - 1):   # the machine is shared: best of reps
            t_close = min(t_close, run(cols, exact, settings)['t_close'])
        acc = res['acc']
        st = acc.stats
        pk, by, missing = _estimates(tr, res['records'])
        per = 100.0 / max(1, acc.packets_seen)
        row = {
            'trace': name, 'mode': 'exact' if exact else 'regulated',
            'packets': npk, 'flows': len(tr['names']), 'missing': missing,
            'records': len(res['records']),
            'rate': acc.table_updates * per,
            'presence': acc.presence_updates * per,
            'pk_ev': st[flowaccounting.S_PK_EVENTS] * per,
            'by_ev': st[flowaccounting.S_BY_EVENTS] * per,
            'ns': throughput(cols, exact, settings, reps),
            'ms_close': 1e3 * t_close,
            'evictions': acc.evictions,
            'total_pk': 100.0 * (pk.sum() / tr['pk'].sum() - 1),
            'total_by': 100.0 * (by.sum() / tr['by'].sum() - 1),
            'hh': hh_scores(cols, tr, res, k),
            'trace_hh': trace_hh(tr, pk, by, k),
            'memory': acc.memory(),
            'call_us': call_overhead(settings),
        }
        for lo in big:
            row['pk', lo] = rse(pk.sum(axis=1), size, size, lo)
            row['by', lo] = rse(by.sum(axis=1), tr['by'].sum(axis=1), size,
                                lo)
        rows.append(row)
    return rows


def _fmt(v):
    return '%6.2f' % v if v == v else '     -'


def report(rows, k, big):
    print('table updates per packet (%): all; first packet of a flow in an'
          ' epoch; packet and byte sketch events. Time: account_batch per'
          ' packet in batches of 8192 (ns); close_interval + expire per'
          ' interval (ms)')
    print('%-10s %-9s %8s %6s %8s %8s %6s %6s %7s %6s %6s' % (
        'trace', 'mode', 'packets', 'flows', 'updates', 'presence',
        'pk-ev', 'by-ev', 'ns/pkt', 'ms/iv', 'evict'))
    for r in rows:
        print('%-10s %-9s %8d %6d %8.3f %8.3f %6.3f %6.3f %7.1f %6.1f %6d'
              % (r['trace'], r['mode'], r['packets'], r['flows'], r['rate'],
                 r['presence'], r['pk_ev'], r['by_ev'], r['ns'],
                 r['ms_close'], r['evictions']))
    print()
    print('relative standard error (%) of packets / bytes per flow, flows'
          ' with >= N packets (how many)')
    print('%-10s %-9s ' % ('trace', 'mode') + ' '.join(
        '%20s' % ('N=%d' % lo) for lo in big))
    for r in rows:
        cells = []
        for lo in big:
            (ep, nflows), (eb, _) = r['pk', lo], r['by', lo]
            cells.append('%s %s (%4d)' % (_fmt(ep), _fmt(eb), nflows))
        print('%-10s %-9s ' % (r['trace'], r['mode']) + ' '.join(cells))
    print()
    print('heavy hitters, top-%d: per 500 ms interval precision/recall (%%)'
          ' by packets and by bytes; whole trace (%%); error of the totals'
          ' (%%)' % k)
    for r in rows:
        h = r['hh']
        print('%-10s %-9s pk %5.1f/%5.1f  by %5.1f/%5.1f  trace pk %5.1f by'
              ' %5.1f  total pk %+.2f by %+.2f  records %d missing %d' % (
                  r['trace'], r['mode'], h['packets'][0], h['packets'][1],
                  h['bytes'][0], h['bytes'][1], r['trace_hh']['packets'],
                  r['trace_hh']['bytes'], r['total_pk'], r['total_by'],
                  r['records'], r['missing']))
    print()
    print('paper (Jang et al.): %.2f %% updates with a 128 KB sketch, %.2f %%'
          ' standard error on large flows, %.1f %% heavy-hitter accuracy' % (
              PAPER['rate'], PAPER['se'], PAPER['hh']))
    m = rows[-1]['memory']
    print('memory (bytes): ' + ', '.join(
        '%s %d' % kv for kv in sorted(m.items())))
    print('one account_batch call from Python costs %.1f us (argument'
          ' unboxing); from a numba kernel nothing' % rows[-1]['call_us'])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--packets', type=int, default=2_000_000)
    ap.add_argument('--flows', type=int, default=50_000)
    ap.add_argument('--zipf', type=float, default=1.1)
    ap.add_argument('--seconds', type=float, default=20.0)
    ap.add_argument('--reps', type=int, default=3,
                    help='timing runs per mode (the best is shown)')
    ap.add_argument('--skip-captures', action='store_true')
    args = ap.parse_args(argv)
    settings = settings_mod.DpiSettings()
    k = settings.heavy_hitters
    big = (100, 1000, 10000, 100000)
    rows = []
    if not args.skip_captures and os.path.isdir(ZEEK):
        cols, nfiles = capture_trace()
        rows += measure('zeek', cols, settings, k, big, args.reps)
    cols = zipf_trace(args.packets, args.flows, args.zipf, args.seconds)
    rows += measure('zipf%.1f' % args.zipf, cols, settings, k, big,
                    args.reps)
    report(rows, k, big)


if __name__ == '__main__':
    main()
