"""API latency on SQLite: 10,000 alarms page by page, an hour of a metric.

    .venv/bin/python bench/api_latency.py [--alarms 10000] [--rounds 3]

Builds a SQLite database in a temporary directory with ``--alarms``
alarms in one project (plus as many in another project, so that the
project filter has work to do) and one monitor with an hour of samples
(500 ms intervals, 30 metrics, one collector). Then, through the whole
WSGI stack in-process (request id, auth=noauth, policy, validation,
Storage; no network), it times:

* ``GET /v1/alarms?limit=N`` followed page by page through its ``next``
  links until the last page, for N = 100 (the default) and 1000;
* ``GET /v1/monitors/{id}/metrics/{name}`` without start/end: the last
  hour, 7,200 raw measures.

Prints p50/p95/p99/max per kind in milliseconds, wall clock and (in
brackets) the CPU time of this process, which is what the wall clock
would be on an otherwise idle machine; the target is a wall-clock p99
under 50 ms. Exit status 1 when a p99 misses it.
"""
import argparse
import os
import sys
import tempfile
import time
import uuid

from oslo_config import cfg
import sqlalchemy as sa

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from dpiaas.api import app as app_mod  # noqa: E402
from dpiaas import conf as dpiaas_conf  # noqa: E402
from dpiaas.db import api as db_api  # noqa: E402
from dpiaas.db import migration  # noqa: E402
from dpiaas.db import models  # noqa: E402
from dpiaas.wsgi import api as wsgi_api  # noqa: E402

TARGET_MS = 50.0
PROJECT = 'bench-project'
OTHER = 'other-project'
METRIC = 'sip.5060.responses.2xx'


class Inventory:
    def check_owner(self, project_id, server_id=None, port_id=None):
        return []


def _percentiles(samples):
    s = sorted(samples)

    def at(q):
        return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]
    return {'n': len(s), 'p50': at(0.50), 'p95': at(0.95),
            'p99': at(0.99), 'max': s[-1]}


def _insert_alarms(url, count, monitor_id):
    """Bulk rows (a setup shortcut; the API only reads them)."""
    engine = sa.create_engine(url)
    table = models.Alarm.__table__
    now = time.time()
    rows = []
    for i in range(count * 2):
        project = PROJECT if i % 2 == 0 else OTHER
        ts = now - count * 2 + i
        rows.append({'id': str(uuid.uuid4()), 'project_id': project,
                     'monitor_id': monitor_id if i == 0 else None,
                     'name': 'alarm %d' % i,
                     'state': ('ok', 'alarm', 'insufficient_data')[i % 3],
                     'state_reason': 'bench', 'score': 1.0,
                     'severity': 'low', 'explanation': None,
                     'state_timestamp': ts, 'created_at': ts,
                     'updated_at': ts})
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()


def _add_hour(storage, monitor_id, now):
    collector = str(uuid.uuid4())
    names = [METRIC] + ['sip.5060.m%02d' % i for i in range(29)]
    batch = []
    start = now - 3600
    for i in range(7200):
        batch.append({'collector_id': collector, 'monitor_id': monitor_id,
                      'ts': start + i * 0.5, 'interval_ms': 500,
                      'metrics': {n: float(i % 13) for n in names}})
        if len(batch) == 500:
            storage.add_samples(batch)
            batch = []
    if batch:
        storage.add_samples(batch)


def _timed(client, url, headers):
    c0, t0 = time.process_time(), time.perf_counter()
    resp = client.get(url, headers=headers)
    elapsed = (time.perf_counter() - t0) * 1000.0
    cpu = (time.process_time() - c0) * 1000.0
    if resp.status_code != 200:
        raise SystemExit('GET %s: %s %s' % (url, resp.status_code,
                                            resp.get_data(as_text=True)))
    return elapsed, cpu, resp.get_json()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--alarms', type=int, default=10000)
    parser.add_argument('--rounds', type=int, default=3,
                        help='walks through every page, per page size')
    parser.add_argument('--series-reads', type=int, default=200)
    parser.add_argument('--no-freeze', action='store_true',
                        help='leave the start-up heap to the garbage '
                             'collector (what gc.freeze() saves)')
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix='dpiaas-bench-api-')
    url = 'sqlite:///%s/dpiaas.sqlite' % tmp.name
    migration.upgrade(url)
    storage = db_api.Storage(url)
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf([], project='dpiaas', default_config_files=[])
    conf.set_override('auth_strategy', 'noauth', group='api')
    app = app_mod.create_app(conf, storage=storage, inventory=Inventory())
    client = app.test_client()
    headers = {'X-Project-Id': PROJECT}

    t0 = time.time()
    resp = client.post('/v1/monitors', headers=headers,
                       json={'server_id': str(uuid.uuid4())})
    monitor = resp.get_json()['monitor']
    _insert_alarms(url, args.alarms, monitor['id'])
    _add_hour(storage, monitor['id'], time.time())
    if not args.no_freeze:
        wsgi_api.freeze_heap()     # as dpiaas.wsgi.api does after start
    print('setup: %d alarms (+%d in another project), 7200 samples x 30 '
          'metrics in %.1f s' % (args.alarms, args.alarms,
                                 time.time() - t0))

    results = {}
    for limit in (100, 1000):
        times, cpus, seen = [], [], 0
        for _ in range(args.rounds):
            next_url, seen = '/v1/alarms?limit=%d' % limit, 0
            while next_url:
                ms, cpu, body = _timed(client, next_url, headers)
                times.append(ms)
                cpus.append(cpu)
                seen += len(body['alarms'])
                next_url = body.get('next')
        if seen < args.alarms:
            raise SystemExit('listed %d alarms, expected at least %d'
                             % (seen, args.alarms))
        results['alarms page (limit=%d)' % limit] = (
            _percentiles(times), _percentiles(cpus))

    series_url = '/v1/monitors/%s/metrics/%s' % (monitor['id'], METRIC)
    times, cpus, points = [], [], 0
    for _ in range(args.series_reads):
        ms, cpu, body = _timed(client, series_url, headers)
        times.append(ms)
        cpus.append(cpu)
        points = len(body['measures'])
    results['series, last hour (%d measures)' % points] = (
        _percentiles(times), _percentiles(cpus))

    print('wall-clock ms (CPU ms of this process in brackets: the latency '
          'of an idle machine)')
    print('%-34s %5s %14s %14s %14s %14s' % ('request', 'n', 'p50', 'p95',
                                             'p99', 'max'))
    failed = False
    for name, (r, c) in results.items():
        print('%-34s %5d' % (name, r['n']) + ''.join(
            ' %6.1f [%5.1f]' % (r[k], c[k])
            for k in ('p50', 'p95', 'p99', 'max')))
        failed |= r['p99'] >= TARGET_MS
    print('target: p99 < %.0f ms: %s' % (TARGET_MS,
                                         'MISSED' if failed else 'met'))
    storage.close()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
