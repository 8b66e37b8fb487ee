"""In-process micro-benchmarks of the engine's per-sample paths (seconds).

    .venv/bin/python -m bench.loadgen.micro
        [--part rpc|detector|reconciler|sqlite-gil]
        [--batches 20] [--version-cap 1.1] [--monitors 1000]

``rpc``: one agent batch of 1,000 samples (metrics shaped like a
collector's: dpiaas.detect.synthetic) through what a ``report_samples``
cast costs on both ends, stage by stage: the agent's ``Reporter.add``
and ``EngineAPI.report_samples`` up to the cast, the JSON encoding
oslo.messaging and kombu do (an envelope holding the JSON message), the
decoding on the engine, ``EngineEndpoint.report_samples`` into ingest,
ingest's consumers and ``Storage`` write (SQLite file) and the detector's
merge of a monitor's collectors. ``--version-cap 1.1`` measures the
dict samples of RPC 1.0/1.1.

``detector``: ``Detection`` queueing and lag bookkeeping for ``--batches``
ingest batches (the scoring itself is dpiaas.detect's).

``reconciler``: one reconciler pass of ``--monitors`` monitors against a
static inventory (fake storage and agents), and its inventory lookups.
"""
import argparse
import json
import os
import tempfile
import time

N = 1000


def _best(fn, repeat):
    best = float('inf')
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


class _Report:
    __slots__ = ('ts', 'interval_ms', 'metrics', 'flows', 'heavy_hitters')

    def __init__(self, ts, metrics):
        self.ts, self.interval_ms, self.metrics = ts, 500, metrics
        self.flows, self.heavy_hitters = (), None


def bench_rpc(args):
    import oslo_messaging as messaging
    from oslo_config import cfg
    from oslo_serialization import jsonutils

    from dpiaas.agent import reporter as reporter_mod
    from dpiaas.db import api as db_api
    from dpiaas.db import migration
    from dpiaas.detect import synthetic
    from dpiaas.engine import detection
    from dpiaas.engine import ingest as ingest_mod
    from dpiaas.engine import rpc_endpoint
    from dpiaas.rpc import engine_api

    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(conf, url='fake://')
    api = engine_api.EngineAPI(transport, version_cap=args.version_cap)
    # as after get_desired answered at 1.3 (the cap may lower it)
    api.compact = api.packed = True
    sent = []
    api._cast = lambda ctxt, method, client=None, version='1.0', **kw: \
        sent.append({'method': method, 'args': kw, 'version': version})
    trace = synthetic.Trace(seed=1)
    pool = [trace.interval() for _ in range(200)]
    cids = ['c%05d' % i for i in range(N)]
    mids = ['m%05d' % i for i in range(N)]
    results = {}

    def agent(ts):
        rep = reporter_mod.Reporter(api, 'h1', batch_max=N, send_flows=False)
        for i in range(N):
            rep.add(cids[i], mids[i], _Report(ts, dict(pool[i % 200])))
        del sent[:]
        rep.flush()
        return sent[0]
    results['agent_add_and_cast_ms'], msg = _best(lambda: agent(1e9), 5)

    def encode():
        body = {'oslo.version': '2.0',
                'oslo.message': jsonutils.dumps(msg)}
        return json.dumps(body)
    results['encode_ms'], wire = _best(encode, 5)
    results['message_kib'] = len(wire) / 1024.0

    def decode():
        return jsonutils.loads(json.loads(wire)['oslo.message'])
    results['decode_ms'], got = _best(decode, 5)

    tmp = tempfile.mkdtemp(prefix='dpiaas-micro-')
    url = 'sqlite:///%s' % os.path.join(tmp, 'db.sqlite')
    migration.upgrade(url)
    storage = db_api.Storage(url)
    ingest = ingest_mod.Ingest(storage, batch_size=500)
    consumed = []
    ingest.add_consumer(consumed.extend)
    endpoint = rpc_endpoint.EngineEndpoint(storage, ingest, None)
    k = [0]

    def handle():
        k[0] += 1
        a = dict(got['args'])
        del consumed[:]
        # a new interval each time: the rows must be new rows
        if 'samples' in a and a['samples']:
            a['samples'] = [dict(s, ts=s['ts'] + k[0]) for s in a['samples']]
        for key in ('compact', 'packed'):
            if a.get(key):
                a[key] = dict(a[key], rows=[
                    r[:2] + [r[2] + k[0]] + r[3:] for r in a[key]['rows']])
        t0 = time.perf_counter()
        endpoint.report_samples(None, **a)
        t1 = time.perf_counter()
        ingest.flush()
        return t1 - t0, time.perf_counter() - t1
    handle()    # layouts stored once
    rpc_s, write_s = [], []
    for _ in range(5):
        a, b = handle()
        rpc_s.append(a)
        write_s.append(b)
    results['endpoint_ms'] = min(rpc_s)
    results['consume_and_write_ms'] = min(write_s)
    results['detector_merge_ms'], merged = _best(
        lambda: detection.merge_intervals(consumed), 5)
    storage.close()
    total = (results['decode_ms'] + results['endpoint_ms']
             + results['consume_and_write_ms'] + results['detector_merge_ms'])
    results['engine_total_ms'] = total
    results['engine_samples_per_s'] = N / total
    for k2 in list(results):
        if k2.endswith('_ms'):
            results[k2] *= 1000.0
    return results


def bench_reconciler(args):
    from dpiaas.inventory import static

    n = args.monitors
    ports = [{'id': 'p%05d' % i, 'device_id': 'vm%05d' % i,
              'binding:host_id': 'h%d' % (i % 10),
              'mac_address': 'fa:16:3e:00:%02x:%02x' % (i // 256, i % 256),
              'fixed_ips': [{'ip_address': '10.%d.%d.%d' % (
                  i // 65536, (i // 256) % 256, i % 256)}],
              'security_groups': ['sg']} for i in range(n)]
    inv = static.StaticInventory({'ports': ports, 'security_groups': [
        {'id': 'sg', 'security_group_rules': [
            {'direction': 'ingress', 'protocol': 'udp',
             'port_range_min': 5060, 'port_range_max': 5060,
             'remote_group_id': 'sg', 'ethertype': 'IPv4'}]}]})

    def lookups():
        for i in range(n):
            inv.ports_of(port_id='p%05d' % i)

    t, _ = _best(lookups, 3)
    sample = inv.ports[:100]

    def rules():
        for port in sample:
            inv.rules_of(port)
    t2, _ = _best(rules, 3)
    from dpiaas.engine import scheduler as scheduler_mod
    sched = scheduler_mod.Scheduler(inv)
    monitors = [{'id': 'm%05d' % i, 'project_id': 'p', 'port_id': 'p%05d' % i,
                 'interval_ms': 500, 'protocols': {}, 'server_id': None}
                for i in range(n)]

    def plans():
        for m in monitors:
            sched.plan(m, {})
    t3, _ = _best(plans, 1)
    return {'monitors': n, 'scheduler_plans_ms': t3 * 1000.0,
            'port_lookups_ms': t * 1000.0,
            'per_lookup_us': t / n * 1e6,
            'rules_of_remote_group_us': t2 / len(sample) * 1e6}


class _Store:
    """Just what Detection asks of Storage, in memory."""

    def __init__(self, state, n):
        from bench import load
        self.state = state
        self.monitors = {'m%05d' % i: {
            'id': 'm%05d' % i, 'project_id': load.PROJECT,
            'name': 'm%05d' % i,
            'status': 'active', 'alarm_id': 'a%05d' % i,
            'detector': {'baseline_s': 60, 'sensitivity': 0.5}}
            for i in range(n)}
        self.alarm_writes = 0

    def get_monitor(self, mid):
        return dict(self.monitors[mid])

    def list_monitors(self, ids=None, **kwargs):
        return [dict(self.monitors[i]) for i in ids or self.monitors
                if i in self.monitors]

    def load_detector_states(self, mids):
        return {mid: self.load_detector_state(mid) for mid in mids}

    def save_detector_states(self, states):
        pass

    def set_alarm_states(self, updates):
        self.alarm_writes += 1
        return {u['id']: None for u in updates}

    def update_monitor(self, mid, values):
        self.monitors[mid].update(values)
        return dict(self.monitors[mid])

    def load_detector_state(self, mid):
        self.state.monitor_id = mid
        self.state.detector.monitor_id = mid
        return self.state.to_bytes(), {}

    def save_detector_state(self, mid, state, meta):
        pass

    def set_alarm_state(self, *args, **kwargs):
        self.alarm_writes += 1
        return {}

    def get_alarm(self, aid):
        return {'id': aid}


def bench_detector(args):
    """Detection.run_once over ``--monitors`` trained monitors, one
    interval each per pass (what the engine does at 2 Hz)."""
    import cProfile
    import pstats

    from bench import load
    from dpiaas.detect import synthetic
    from dpiaas.engine import detection
    from dpiaas.engine import ingest

    import gc
    from dpiaas.engine import service
    # as EngineService.start() does: the default thresholds cost the
    # detector loop 15-30 % (dpiaas.engine.service.GC_THRESHOLDS)
    gc.set_threshold(*service.GC_THRESHOLDS)
    conf = load.make_conf([])
    template = load.trained_state(conf, {'baseline_s': 60,
                                         'sensitivity': 0.5})
    n = args.monitors
    store = _Store(template, n)
    det = detection.Detection(conf, store, None)
    trace = synthetic.Trace(seed=3)
    pool = [trace.interval() for _ in range(100)]
    names = [tuple(m) for m in pool]
    t = [time.time() - 30]

    def batch():
        t[0] += 0.5
        return [ingest.Sample('c%05d' % i, 'm%05d' % i, t[0], 500,
                              names[i % 100], list(pool[i % 100].values()))
                for i in range(n)]
    # the clock of each pass is its samples' (an engine scores samples
    # half a second old): with the wall clock, samples 30 s old made
    # every monitor go insufficient_data and back each second, and the
    # pass measured alarm transitions no steady engine makes
    det.run_once(batch(), now=t[0] + 0.5)   # loads every detector
    det.run_once(batch(), now=t[0] + 0.5)
    rounds = 4
    batches = [batch() for _ in range(rounds)]
    # the profiler doubles the time: only when asked for
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    if args.profile:
        prof.enable()
    for b in batches:
        det.run_once(b, now=b[0].ts + 0.5)
    prof.disable()
    dt = (time.perf_counter() - t0) / rounds
    if args.profile:
        pstats.Stats(prof).sort_stats('cumulative').print_stats(25)
    t1 = time.perf_counter()
    merged = detection.merge_intervals(batches[0])
    merge = time.perf_counter() - t1
    return {'monitors': n, 'run_once_ms': dt * 1000.0,
            'intervals_per_s': n / dt, 'merge_ms': merge * 1000.0,
            'merged': len(merged)}


def bench_sqlite_gil(args):
    """500 sample rows into SQLite (WAL, synchronous NORMAL) per
    transaction, as ``executemany`` (a GIL hand-over per row) and as one
    multi-row INSERT (dpiaas.db.bulk), alone and beside a busy thread:
    what the engine's ingest writer met (issue 7, "Load")."""
    import os
    import sqlite3
    import tempfile
    import threading

    path = os.path.join(tempfile.mkdtemp(prefix='dpiaas-gil-'), 'g.db')
    conn = sqlite3.connect(path, isolation_level=None,
                           check_same_thread=False)
    conn.execute('PRAGMA journal_mode = WAL')
    conn.execute('PRAGMA synchronous = NORMAL')
    conn.execute('CREATE TABLE s (id INTEGER PRIMARY KEY, m TEXT, l INT, '
                 'ts REAL, i INT, v BLOB)')
    conn.execute('CREATE INDEX ix ON s (m, ts)')
    rows = [('m%05d' % (i % 5000), 1, time.time() + i, 500, os.urandom(200))
            for i in range(500)]
    multi = ('INSERT INTO s (m, l, ts, i, v) VALUES '
             + ', '.join(['(?, ?, ?, ?, ?)'] * len(rows)))
    flat = [v for r in rows for v in r]

    def run(mode, n):
        t0 = time.perf_counter()
        for _ in range(n):
            conn.execute('BEGIN IMMEDIATE')
            if mode == 'many':
                conn.executemany('INSERT INTO s (m, l, ts, i, v) VALUES '
                                 '(?, ?, ?, ?, ?)', rows)
            else:
                conn.execute(multi, flat)
            conn.execute('COMMIT')
        return (time.perf_counter() - t0) / n * 1000.0

    out = {'executemany_ms': run('many', 20), 'multirow_ms': run('multi', 20)}
    stop = threading.Event()

    def busy():
        x = 0
        while not stop.is_set():
            x += 1
    t = threading.Thread(target=busy)
    t.start()
    try:
        out['executemany_busy_thread_ms'] = run('many', 3)
        out['multirow_busy_thread_ms'] = run('multi', 3)
    finally:
        stop.set()
        t.join()
        conn.close()
        for suffix in ('', '-wal', '-shm'):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        os.rmdir(os.path.dirname(path))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--part', default='rpc',
                   choices=('rpc', 'reconciler', 'detector',
                            'sqlite-gil'))
    p.add_argument('--profile', action='store_true')
    p.add_argument('--version-cap', default=None)
    p.add_argument('--monitors', type=int, default=1000)
    args = p.parse_args(argv)
    out = {'rpc': bench_rpc, 'reconciler': bench_reconciler,
           'detector': bench_detector,
           'sqlite-gil': bench_sqlite_gil}[args.part](args)
    for key, value in out.items():
        print('%-26s %s' % (key, '%.2f' % value
                            if isinstance(value, float) else value))


if __name__ == '__main__':
    main()
