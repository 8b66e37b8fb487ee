"""Sample storage at scale: packed rows against a row per metric value.

    .venv/bin/python -m bench.db_ingest --backend sqlite|postgresql|mysql|all

For each backend (PostgreSQL and MariaDB are throwaway servers started
with tests/functional/dbservers.py): ``--samples`` samples of
``--collectors`` collectors (one monitor each, ``--metrics`` metrics, 2 Hz)
are written through :meth:`Storage.add_samples` in batches of ``--batch``,
interleaved with one monitor's whole last hour (7,200 samples) so that its
rows are scattered among the others', as in a real table. Then that hour
is read back: one metric (``get_series``) and every metric
(``get_matrix``), median of 5. The naive baseline, a row per metric value
with an index on (monitor, name, ts), does the same in the same database.
Only storage calls are timed, not the making of the sample dicts.
"""
import argparse
import gc
import statistics
import sys
import tempfile
import time

import numpy as np
import sqlalchemy as sa

from dpiaas.db import api
from dpiaas.db import engines
from dpiaas.db import migration

HOUR = 7200                       # samples of one monitor's hour at 2 Hz
APPS = (('sip', 5060), ('http', 80), ('dns', 53))
PER_APP = ('packets_in', 'packets_out', 'bytes_in', 'bytes_out',
           'requests.register', 'requests.invite', 'responses.2xx',
           'responses.4xx', 'latency_ms.p50', 'latency_ms.p95')
READ_MONITOR = 'read-monitor'


def metric_names(count):
    names = ['%s.%d.%s' % (app, port, m) for app, port in APPS
             for m in PER_APP] + ['capture.packets', 'capture.drops']
    return names[:count]


def batches(collectors, total, batch, names, t0, rng):
    """Batches of sample dicts; the read monitor's hour spread over them."""
    nbatches = max(1, total // batch)
    read_per = -(-HOUR // nbatches)
    read_i = 0
    i = 0
    for _ in range(nbatches):
        out = []
        for _ in range(batch):
            c = i % collectors
            ts = t0 + (i // collectors) * 0.5
            vals = rng.integers(0, 1000, len(names)).tolist()
            out.append({'collector_id': 'col-%05d' % c,
                        'monitor_id': 'mon-%05d' % c, 'ts': ts,
                        'interval_ms': 500,
                        'metrics': dict(zip(names, vals))})
            i += 1
        for _ in range(read_per):
            if read_i < HOUR:
                vals = rng.integers(0, 1000, len(names)).tolist()
                out.append({'collector_id': 'col-read',
                            'monitor_id': READ_MONITOR,
                            'ts': t0 + read_i * 0.5, 'interval_ms': 500,
                            'metrics': dict(zip(names, vals))})
                read_i += 1
        yield out


def _median_ms(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run_packed(storage, args, names, t0):
    rng = np.random.default_rng(1)
    written, spent = 0, 0.0
    for b in batches(args.collectors, args.samples, args.batch, names, t0,
                     rng):
        t = time.perf_counter()
        storage.add_samples(b)
        spent += time.perf_counter() - t
        written += len(b)
    end = t0 + HOUR * 0.5
    series = storage.get_series(READ_MONITOR, names[0], t0, end,
                                resolution=0)
    assert len(series) == HOUR, len(series)
    names_, ts, vals = storage.get_matrix(READ_MONITOR, t0, end)
    assert vals.shape == (HOUR, len(names)), vals.shape
    # Read as the API reads: dpiaas.wsgi.api freezes the start-up heap so
    # that a full collection does not walk it during a request (measured
    # on PostgreSQL: the hour in 130 ms unfrozen, ~55 ms frozen, the
    # difference being gen-2 collections inside psycopg2's fetchall)
    gc.collect()
    gc.freeze()
    return {
        'rate': written / spent,
        'series_ms': _median_ms(lambda: storage.get_series(
            READ_MONITOR, names[0], t0, end, resolution=0)),
        'matrix_ms': _median_ms(lambda: storage.get_matrix(
            READ_MONITOR, t0, end, resolution=0)),
    }


NAIVE = sa.Table(
    'naive_samples', sa.MetaData(),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              primary_key=True, autoincrement=True),
    sa.Column('monitor_id', sa.String(36), nullable=False),
    sa.Column('collector_id', sa.String(36), nullable=False),
    sa.Column('ts', sa.Double(), nullable=False),
    sa.Column('name', sa.String(255), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Index('ix_naive', 'monitor_id', 'name', 'ts'))


def run_naive(url, args, names, t0):
    """The same through a row per metric value (the baseline)."""
    engine = engines.create_engine(url)
    NAIVE.metadata.create_all(engine)
    rng = np.random.default_rng(1)
    written, spent = 0, 0.0
    total = max(args.baseline_samples, HOUR)
    for b in batches(args.collectors, total, args.batch, names, t0, rng):
        t = time.perf_counter()
        rows = [{'monitor_id': s['monitor_id'],
                 'collector_id': s['collector_id'], 'ts': s['ts'],
                 'name': n, 'value': v}
                for s in b for n, v in s['metrics'].items()]
        with engine.begin() as conn:
            conn.execute(NAIVE.insert(), rows)
        spent += time.perf_counter() - t
        written += len(b)
    end = t0 + HOUR * 0.5

    def series():
        q = (sa.select(NAIVE.c.ts, sa.func.sum(NAIVE.c.value))
             .where(NAIVE.c.monitor_id == READ_MONITOR,
                    NAIVE.c.name == names[0], NAIVE.c.ts >= t0,
                    NAIVE.c.ts < end)
             .group_by(NAIVE.c.ts).order_by(NAIVE.c.ts))
        with engine.connect() as conn:
            return conn.execute(q).all()

    def matrix():
        q = (sa.select(NAIVE.c.ts, NAIVE.c.name, NAIVE.c.value)
             .where(NAIVE.c.monitor_id == READ_MONITOR, NAIVE.c.ts >= t0,
                    NAIVE.c.ts < end))
        with engine.connect() as conn:
            rows = conn.execute(q).all()
        ts, ti = np.unique([r[0] for r in rows], return_inverse=True)
        nm, ni = np.unique([r[1] for r in rows], return_inverse=True)
        out = np.full((len(ts), len(nm)), np.nan)
        out[ti, ni] = [r[2] for r in rows]
        return nm, ts, out

    assert len(series()) == HOUR
    result = {'rate': written / spent, 'series_ms': _median_ms(series),
              'matrix_ms': _median_ms(matrix, repeat=3)}
    engine.dispose()
    return result


def bench_backend(kind, args):
    server = None
    tmp = None
    if kind == 'sqlite':
        tmp = tempfile.TemporaryDirectory(prefix='dpiaas-bench-')
        url = 'sqlite:///%s/bench.sqlite' % tmp.name
    else:
        from tests.functional import dbservers
        server = dbservers.start(kind)
        url = server.create_database('dpiaas_bench')
    try:
        migration.upgrade(url)
        storage = api.Storage(url)
        names = metric_names(args.metrics)
        t0 = float(int(time.time()) - 3600)
        packed = run_packed(storage, args, names, t0)
        storage.close()
        naive = run_naive(url, args, names, t0)
        return packed, naive
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backend', default='sqlite',
                   choices=('sqlite', 'postgresql', 'mysql', 'all'))
    p.add_argument('--collectors', type=int, default=10000)
    p.add_argument('--samples', type=int, default=100000,
                   help='samples written (besides the read monitor hour)')
    p.add_argument('--baseline-samples', type=int, default=10000,
                   help='samples the naive baseline writes')
    p.add_argument('--batch', type=int, default=500)
    p.add_argument('--metrics', type=int, default=30)
    args = p.parse_args(argv)
    kinds = (['sqlite', 'postgresql', 'mysql'] if args.backend == 'all'
             else [args.backend])
    print('%d collectors, %d metrics a sample, batches of %d; read: one '
          'monitor, last hour (%d samples)' % (args.collectors, args.metrics,
                                               args.batch, HOUR))
    head = ('backend', 'layout', 'samples/s', 'series ms', 'matrix ms')
    print('%-11s %-16s %12s %10s %10s' % head)
    for kind in kinds:
        packed, naive = bench_backend(kind, args)
        for label, r in (('packed', packed), ('row per value', naive)):
            print('%-11s %-16s %12.0f %10.1f %10.1f' % (
                kind, label, r['rate'], r['series_ms'], r['matrix_ms']))
        print('%-11s %-16s %11.1fx %9.1fx %9.1fx' % (
            kind, 'packed / naive', packed['rate'] / naive['rate'],
            naive['series_ms'] / packed['series_ms'],
            naive['matrix_ms'] / packed['matrix_ms']))
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
