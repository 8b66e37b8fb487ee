"""Load: one engine with many monitors, one agent with many taps.

    sudo .venv/bin/python -m bench.load [--part engine|agent|all]
        [--monitors 10000] [--duration 100] [--warmup 40] [--py-spy]
        [--taps 100] [--pps 50] [--json OUT]

``--part agent`` (root) is bench/loadgen/agent100.py: 100 veth taps with
real traffic under a real ``dpiaas-agent``. ``--part engine`` is below.

What runs (DESIGN 3, doc/source/admin/capacity.rst):

* RabbitMQ: the broker on 127.0.0.1:5672, on a private virtual host
  created with ``rabbitmqctl`` (deleted at exit);
* a real ``dpiaas-engine`` process on a fresh SQLite file, with a static
  inventory of ``--monitors`` ports (one per monitor, SIP and HTTP allowed
  by their security group);
* the monitors are created through ``Storage`` (their collectors and
  services by the engine's own reconciler code, against the same
  inventory), ``running`` and ``active``, with a trained detector state
  saved for each, so that every interval is scored from the first one;
* ``--hosts`` simulated agents (one process each): every collector gives
  one sample per 500 ms interval, metrics shaped like a collector's
  (``dpiaas.detect.synthetic``: SIP registrations, HTTP, capture
  counters), handed to the agent's real ``Reporter`` which batches them
  to ``EngineAPI.report_samples`` casts exactly as ``dpiaas-agent`` does,
  plus ``report_state`` heartbeats with every collector;
* halfway through the measured window ``--anomalies`` monitors switch to
  a SIP 5xx burst (``db_5xx``).

Measured (over ``--duration`` seconds after ``--warmup``): samples/s
offered and stored, ingest latency (interval end -> row visible in the
``samples`` table, polled every 0.1 s on ``--probes`` monitors), alarm
latency (first anomalous interval's end -> the alarm's state ``alarm``
visible in the database, polled every 0.1 s), engine CPU and RSS
(psutil), database growth and an extrapolation to 24 hours under the
retention of ``dpiaas.conf.database`` (see :func:`extrapolate`).
"""
import argparse
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_BIN = os.path.join(ROOT, '.venv', 'bin')
# another broker (e.g. a private one while the shared one is down):
# DPIAAS_RABBIT_URL and DPIAAS_RABBIT_ENV (its rabbitmqctl environment)
BROKER = os.environ.get('DPIAAS_RABBIT_URL',
                        'rabbit://guest:guest@127.0.0.1:5672/')
RABBIT_ENV = os.environ.get('DPIAAS_RABBIT_ENV',
                            '/tmp/osreal/rabbitmq/env.sh')
INTERVAL_S = 0.5
PROJECT = 'load-project'
POOL = 4000                      # normal metric dicts per agent process


# --- pure helpers (tests/unit/test_bench_load.py) ---------------------------

def percentile(values, q):
    """The ``q``-th percentile (0..100), linear interpolation; None if
    empty."""
    values = sorted(values)
    if not values:
        return None
    pos = (len(values) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def parse_rollups(items):
    """``['10:172800', ...]`` -> ``[(10, 172800), ...]``."""
    out = []
    for item in items:
        res, keep = item.split(':')
        out.append((int(res), int(keep)))
    return out


def extrapolate(collectors, raw_bytes, rollup_bytes, raw_retention,
                rollups, horizon_s=86400.0, interval_s=INTERVAL_S):
    """Database bytes of sample data after ``horizon_s`` of steady load.

    Every table is bounded by its retention, so the rows of a level are
    ``collectors * min(horizon, retention) / resolution``; bytes are rows
    times the measured bytes per row (table plus its indexes) of that
    level. Returns ``{'raw': bytes, '<res>s': bytes, ..., 'total':
    bytes}``.
    """
    out = {'raw': collectors * min(horizon_s, raw_retention) / interval_s
           * raw_bytes}
    for res, keep in rollups:
        out['%ds' % res] = (collectors * (min(horizon_s, keep) // res)
                            * rollup_bytes)
    out['total'] = sum(out.values())
    return out


def human_bytes(n):
    if n is None:
        return '-'
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if abs(n) < 1024 or unit == 'TiB':
            return ('%.0f %s' if unit == 'B' else '%.1f %s') % (n, unit)
        n /= 1024.0


def table(rows):
    """Two aligned columns: ``[(name, value), ...]`` -> text."""
    width = max(len(name) for name, _ in rows)
    return '\n'.join('%-*s  %s' % (width, name, value)
                     for name, value in rows)


def fmt(value, spec='%.2f', unit=''):
    return '-' if value is None else (spec % value) + unit


# --- broker ---------------------------------------------------------------

def _rabbitmqctl(*args, capture=False):
    # the shared broker (/work/shared/openstack/up.sh) is a named node
    # with its own HOME (cookie): its env.sh says which
    script = 'rabbitmqctl -q "$@"'
    if os.path.exists(RABBIT_ENV):
        script = ('. %s; rabbitmqctl -q -n "$RABBITMQ_NODENAME" "$@"'
                  % RABBIT_ENV)
    done = subprocess.run(['bash', '-c', script, 'rabbitmqctl'] + list(args),
                          check=True, timeout=60, text=True,
                          stdout=subprocess.PIPE if capture
                          else subprocess.DEVNULL)
    return done.stdout


@contextlib.contextmanager
def private_vhost(name):
    """A RabbitMQ virtual host for this run only, on the shared broker."""
    ctl = _rabbitmqctl
    ctl('add_vhost', name)
    try:
        ctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')
        yield BROKER + name
    finally:
        try:
            ctl('delete_vhost', name)
        except Exception as exc:
            print('warning: vhost %s not deleted: %s' % (name, exc),
                  file=sys.stderr)


# --- setup ----------------------------------------------------------------

def make_conf(args=()):
    """A ConfigOpts with dpiaas' and oslo.messaging's options."""
    from oslo_config import cfg
    from dpiaas.cmd import engine as engine_cmd
    from dpiaas import conf as dpiaas_conf
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    engine_cmd.register_transport_opts(conf)
    conf(list(args), project='dpiaas-load', default_config_files=[])
    return conf


def write_inventory(path, n, hosts):
    """One port per monitor, spread over ``hosts``; SIP and HTTP open."""
    sg = str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:load:sg'))
    rules = [{'id': str(uuid.uuid5(uuid.NAMESPACE_URL,
                                   'dpiaas:load:rule:%d' % i)),
              'direction': 'ingress', 'ethertype': 'IPv4', 'protocol': proto,
              'port_range_min': port, 'port_range_max': port,
              'remote_ip_prefix': '0.0.0.0/0'}
             for i, (proto, port) in enumerate((('udp', 5060),
                                                ('tcp', 80)))]
    ports = []
    for i in range(n):
        pid = str(uuid.uuid5(uuid.NAMESPACE_URL, 'dpiaas:load:port:%d' % i))
        ports.append({
            'id': pid, 'device_id': str(uuid.uuid5(
                uuid.NAMESPACE_URL, 'dpiaas:load:server:%d' % i)),
            'project_id': PROJECT, 'binding:host_id': hosts[i % len(hosts)],
            'binding:vnic_type': 'normal',
            'mac_address': 'fa:16:3e:%02x:%02x:%02x' % (
                (i >> 16) & 255, (i >> 8) & 255, i & 255),
            'fixed_ips': [{'ip_address': '10.%d.%d.%d' % (
                (i >> 16) & 255, (i >> 8) & 255, i & 255)}],
            'security_groups': [sg], 'tap_device': 'tap' + pid[:11]})
    with open(path, 'w') as f:
        json.dump({'ports': ports, 'security_groups': [
            {'id': sg, 'project_id': PROJECT, 'name': 'load',
             'security_group_rules': rules}]}, f)
    return [p['id'] for p in ports]


def trained_state(conf, detector, seed=0):
    """A detector trained on normal synthetic intervals (one monitor)."""
    from dpiaas.conf import detect as detect_conf
    from dpiaas.detect import monitor as monitor_mod
    from dpiaas.detect import synthetic
    params = detect_conf.params_for(conf, detector)
    mon = monitor_mod.Monitor('template', PROJECT, params)
    trace = synthetic.Trace(seed=seed)
    ts = time.time() - 4 * params.baseline_s - 60
    for _ in range(int(4 * params.baseline_s / INTERVAL_S) + 10):
        mon.process(ts, trace.interval(), 500)
        ts += INTERVAL_S
        if mon.status == 'active':
            break
    if mon.status != 'active':
        raise RuntimeError('the template detector did not learn')
    return mon


class _IndexedInventory:
    """The static inventory with its ports looked up by id (setup only:
    the engine itself uses the driver as it is)."""

    def __init__(self, inventory):
        self.inventory = inventory
        self.by_id = {p.id: p for p in inventory.ports}

    def ports_of(self, server_id=None, port_id=None):
        port = self.by_id.get(port_id)
        return [port] if port is not None else []

    def __getattr__(self, name):
        return getattr(self.inventory, name)


def populate(conf, storage, inventory, port_ids, baseline_s, log):
    """Monitors (active), their services and collectors (running), alarms
    and trained detector states.

    Rows are the ones ``Storage.create_monitor``, ``set_services``,
    ``upsert_collector``, ``create_alarm`` and ``save_detector_state``
    write, with the collectors and services the engine's scheduler plans
    against the same inventory; they go in with one multi-row insert per
    table (tens of thousands of single-row transactions would take
    minutes on this machine).
    """
    from dpiaas.db import models
    from dpiaas.db import resources
    from dpiaas.engine import scheduler as scheduler_mod
    detector = {'baseline_s': baseline_s, 'sensitivity': 0.5}
    t0 = time.monotonic()
    template = trained_state(conf, detector)
    log('template detector trained in %.0f s' % (time.monotonic() - t0))
    t0 = time.monotonic()
    sched = scheduler_mod.Scheduler(_IndexedInventory(inventory))
    now = time.time()
    monitors, services, collectors, alarms, states = [], [], [], [], []
    for i, port_id in enumerate(port_ids):
        mid = str(uuid.uuid4())
        aid = str(uuid.uuid4())
        m = dict(resources.MONITOR_DEFAULTS, id=mid, created_at=now,
                 updated_at=now, project_id=PROJECT, name='load-%05d' % i,
                 port_id=port_id, interval_ms=500, detector=detector,
                 status='active', alarm_id=aid,
                 status_reason='baseline learned; scoring every interval')
        monitors.append(m)
        plan = sched.plan(m, {})
        if plan.problems:
            raise RuntimeError('monitor %d: %s' % (i, plan.reason))
        for sd in plan.services:
            row = {k: sd.get(k) for k in resources.SERVICE_KEYS}
            row['monitor_id'] = mid
            services.append(row)
        for c in plan.collectors:
            c = scheduler_mod.renumber(dict(c), None)
            c.update(status='running', status_reason='', updated_at=now)
            collectors.append(dict(resources.COLLECTOR_DEFAULTS, **{
                k: v for k, v in c.items()
                if k in models.Collector.__table__.c}))
        alarms.append({
            'id': aid, 'project_id': PROJECT, 'monitor_id': mid,
            'name': 'anomaly of load-%05d' % i, 'state':
            template.alarm.state, 'state_reason': template.alarm.reason,
            'score': None, 'severity': None, 'explanation': None,
            'state_timestamp': now, 'created_at': now, 'updated_at': now})
        template.monitor_id = mid
        template.detector.monitor_id = mid
        states.append({'monitor_id': mid, 'state': template.to_bytes(),
                       'meta': template.meta(), 'updated_at': now})
    with storage._write() as conn:
        for model, rows in ((models.Monitor, monitors),
                            (models.Service, services),
                            (models.Collector, collectors),
                            (models.Alarm, alarms),
                            (models.DetectorState, states)):
            for i in range(0, len(rows), 1000):
                conn.execute(model.__table__.insert(), rows[i:i + 1000])
    log('%d monitors, %d services, %d collectors, alarms and detector '
        'states stored in %.0f s' % (len(monitors), len(services),
                                     len(collectors),
                                     time.monotonic() - t0))
    return monitors, collectors


# --- the simulated agent (a child process) ---------------------------------

class _Report:
    """What a collector hands the Reporter every interval."""

    __slots__ = ('ts', 'interval_ms', 'metrics', 'flows', 'heavy_hitters')

    def __init__(self, ts, metrics):
        self.ts = ts
        self.interval_ms = 500
        self.metrics = metrics
        self.flows = ()
        self.heavy_hitters = None


def run_agent(spec):
    """Offer one sample per collector per interval until ``spec['end']``.

    ``spec``: conf (config file with transport_url), host, db (URL),
    anomalous (monitor ids), ready, go and out (paths): the agent writes
    ``ready`` once it can send, starts sending, and reads ``start``,
    ``end`` and ``anomaly_at`` (epoch s) from ``go`` when it appears;
    it writes its counters to ``out`` at the end.
    """
    import oslo_messaging as messaging
    from dpiaas.agent import reporter as reporter_mod
    from dpiaas.db import api as db_api
    from dpiaas.detect import synthetic
    from dpiaas.rpc import engine_api
    from dpiaas.rpc import transport as rpc_transport

    conf = make_conf(['--config-file', spec['conf']])
    storage = db_api.Storage(spec['db'])
    collectors = storage.list_collectors(host=spec['host'])
    storage.close()
    transport = rpc_transport.get_rpc_transport(conf)
    api = engine_api.EngineAPI(transport, retry=3)
    # as dpiaas-agent does at start; tells whether the engine takes
    # compact (RPC 1.2) or packed (1.3) samples
    for _ in range(30):
        try:
            api.get_desired(None, spec['host'], timeout=10)
            break
        except messaging.MessagingException as exc:
            print('get_desired failed: %s' % exc, file=sys.stderr)
    rep = reporter_mod.Reporter(api, spec['host'], batch_interval=1.0,
                                batch_max=1000, send_flows=False)
    seed = abs(hash(spec['host'])) % 1000
    trace = synthetic.Trace(seed=seed)
    normal = [trace.interval() for _ in range(POOL)]
    faulty = [trace.interval('db_5xx') for _ in range(200)]
    anomalous = set(spec['anomalous'])
    started_at = time.time()
    state = {'started_at': started_at, 'version': 'load-bench',
             'collectors': [{'id': c['id'], 'generation': c['generation'],
                             'status': 'running', 'reason': None,
                             'interface': c['tap_device'],
                             'capture_packets': 0, 'capture_drops': 0}
                            for c in collectors],
             'buffer': {'queued': 0, 'dropped': 0}}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rep.start()
    with open(spec['ready'], 'w') as f:
        f.write('ready')
    # the parent says when the window starts once every agent is ready
    go = {'start': float('inf'), 'end': float('inf'),
          'anomaly_at': float('inf')}
    offered = 0
    late = 0
    next_beat = 0.0
    # intervals aligned on 500 ms boundaries; a sample's ts is its start
    t_end = (int(time.time() / INTERVAL_S) + 1) * INTERVAL_S
    k = 0
    while not stop.is_set() and t_end <= go['end']:
        if go['end'] == float('inf') and os.path.exists(spec['go']):
            with open(spec['go']) as f:
                go = json.load(f)
        delay = t_end - time.time()
        if delay > 0:
            stop.wait(delay)
        elif delay < -INTERVAL_S:
            late += 1
        ts = t_end - INTERVAL_S
        if time.time() >= next_beat:
            state['buffer'] = rep.state()
            try:
                api.report_state(None, spec['host'], state)
            except messaging.MessagingException as exc:
                print('report_state failed: %s' % exc, file=sys.stderr)
            next_beat = time.time() + conf.agent.report_interval
        bad = ts >= go['anomaly_at']
        for i, c in enumerate(collectors):
            if bad and c['monitor_id'] in anomalous:
                metrics = faulty[(k + i) % len(faulty)]
            else:
                metrics = normal[(k * 7 + i) % POOL]
            rep.add(c['id'], c['monitor_id'], _Report(ts, dict(metrics)))
        offered += len(collectors) if ts >= go['start'] else 0
        k += 1
        t_end += INTERVAL_S
    # counters first: what is still queued is not part of the window
    with open(spec['out'], 'w') as f:
        json.dump({'offered': offered, 'late_ticks': late,
                   'sent': rep.sent, 'dropped': rep.dropped,
                   'queued': rep.state()['queued'],
                   'collectors': len(collectors)}, f)
    rep.stop(flush=False)
    transport.cleanup()


# --- measuring --------------------------------------------------------------

class Poller(threading.Thread):
    """Reads the database every ``period`` s: probe monitors' newest
    sample (ingest latency) and the anomalous monitors' alarm states
    (alarm latency). Read-only, one SQLite connection."""

    def __init__(self, db_path, probes, alarms, period=0.1):
        super().__init__(daemon=True, name='load-poller')
        self.db_path = db_path
        self.probes = list(probes)
        self.alarms = dict(alarms)          # alarm id -> monitor id
        self.period = period
        self.latest = {}
        self.ingest = []                    # (wall, latency)
        self.alarmed = {}                   # monitor id -> wall time
        self.measure_from = float('inf')
        self.stop_event = threading.Event()

    def run(self):
        conn = sqlite3.connect('file:%s?mode=ro' % self.db_path, uri=True,
                               timeout=30)
        conn.execute('PRAGMA busy_timeout = 30000')
        qp = ('SELECT monitor_id, max(ts) FROM samples WHERE monitor_id IN '
              '(%s) GROUP BY monitor_id' % ','.join('?' * len(self.probes)))
        qa = ('SELECT id, state FROM alarms WHERE id IN (%s)'
              % ','.join('?' * len(self.alarms)))
        while not self.stop_event.wait(self.period):
            now = time.time()
            try:
                rows = conn.execute(qp, self.probes).fetchall()
                states = conn.execute(qa, list(self.alarms)).fetchall() \
                    if self.alarms else []
            except sqlite3.Error:
                continue
            for mid, ts in rows:
                ts = _ts(ts)
                if ts is None:
                    continue
                if ts > self.latest.get(mid, -1):
                    if mid in self.latest and ts >= self.measure_from:
                        self.ingest.append((now, now - (ts + INTERVAL_S)))
                    self.latest[mid] = ts
            for aid, state in states:
                mid = self.alarms[aid]
                if state == 'alarm' and mid not in self.alarmed:
                    self.alarmed[mid] = now
        conn.close()


def _ts(value):
    """A TS column as read by sqlite3 (float, or a datetime string)."""
    if value is None or isinstance(value, (int, float)):
        return value
    from datetime import datetime, timezone
    try:
        return datetime.fromisoformat(str(value)).replace(
            tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _log_max(log_path, patterns, per_process_sum=False):
    """The largest number each regex's group 1 matched in the engine's
    log (0 when never), or Nones without a log. ``per_process_sum``:
    the largest of each process (oslo.log's pid field), summed over the
    engine's workers (running totals each of them logs)."""
    if not os.path.exists(log_path):
        return [None] * len(patterns)
    found = [collections.defaultdict(float) for _ in patterns]
    with open(log_path) as f:
        for line in f:
            for i, pattern in enumerate(patterns):
                m = re.search(pattern, line)
                if m:
                    fields = line.split(None, 3)
                    pid = fields[2] if per_process_sum and \
                        len(fields) > 2 else ''
                    found[i][pid] = max(found[i][pid], float(m.group(1)))
    return [sum(f.values()) if per_process_sum else max(f.values(),
                                                        default=0)
            for f in found]


def engine_drops(log_path):
    """Samples ingest dropped (backlog full) and samples the detector
    dropped (its queue full), from the engine's log."""
    ingest, detector = _log_max(log_path, (
        r'ingest backlog full .* (\d+) dropped in all',
        r'detector queue full .* (\d+) dropped in all'),
        per_process_sum=True)
    if ingest is None:
        return None, None
    return int(ingest), int(detector)


def engine_max_lag(log_path):
    """The largest detector lag the engine logged (seconds; 0 if it never
    said it was behind), or None without a log."""
    return _log_max(log_path,
                    (r'detector behind: scoring samples ([\d.]+) s',))[0]


def queue_depth(vhost, queue='dpiaas-engine'):
    """Messages waiting in the engine's queue (rabbitmqctl), or None."""
    try:
        out = _rabbitmqctl('list_queues', '-p', vhost, 'name', 'messages',
                           capture=True)
    except Exception:
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue and parts[1].isdigit():
            return int(parts[1])
    return None


def db_bytes(path):
    return sum(os.path.getsize(p) for p in (path, path + '-wal')
               if os.path.exists(p))


def table_bytes(path, tables):
    """Bytes of ``tables`` and their indexes (SQLite dbstat)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE tbl_name IN (%s)"
            % ','.join('?' * len(tables)), tables)]
        return conn.execute(
            'SELECT sum(pgsize) FROM dbstat WHERE name IN (%s)'
            % ','.join('?' * len(names)), names).fetchone()[0] or 0
    finally:
        conn.close()


def count_rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0] or 0
    finally:
        conn.close()


def max_id(path):
    conn = sqlite3.connect('file:%s?mode=ro' % path, uri=True, timeout=30)
    try:
        return conn.execute('SELECT max(id) FROM samples').fetchone()[0] or 0
    finally:
        conn.close()


def py_spy(pid, seconds, out):
    """``py-spy record --format raw`` of the engine and its workers;
    top frames."""
    exe = shutil.which('py-spy') or os.path.join(VENV_BIN, 'py-spy')
    if not os.path.exists(exe):
        return None
    subprocess.run([exe, 'record', '--pid', str(pid), '-d', str(seconds),
                    '-r', '50', '--format', 'raw', '-o', out,
                    '--subprocesses',
                    '--nonblocking'], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=seconds + 60)
    return top_frames(out) if os.path.exists(out) else None


# where an engine's time goes, by the function that owns it
FOCUS = (('AMQP receive (kombu/amqp)', 'Connection.drain_events'),
         ('  of which JSON decoding', 'loads'),
         ('RPC dispatch (endpoints)', 'RPCServer._process_incoming'),
         ('ingest: Storage.add_samples', 'SamplesMixin.add_samples'),
         ('ingest: Storage.add_sample_rows (RPC 1.2, 1.3)',
          'SamplesMixin.add_sample_rows'),
         ('detector: Detection.run_once', 'Detection.run_once'),
         ('heartbeats: report_state', 'EngineEndpoint.report_state'),
         ('reconciler pass', 'Reconciler.reconcile_all'),
         ('retention: expire', 'RetentionMixin.expire'))


def focus(top):
    """``[(label, share)]`` of :data:`FOCUS` from :func:`top_frames`."""
    shares = dict(top or [])
    return [(label, shares.get(name, 0.0)) for label, name in FOCUS]


def top_frames(path, n=None):
    """Inclusive share of samples per function (dpiaas and libraries),
    from py-spy's raw (collapsed stacks) output."""
    totals, total = {}, 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip().rpartition(' ')
            if not count.isdigit():
                continue
            count = int(count)
            total += count
            seen = set()
            for frame in stack.split(';'):
                name = frame.split(' (')[0]
                if name not in seen:
                    seen.add(name)
                    totals[name] = totals.get(name, 0) + count
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    return [(name, 100.0 * c / total) for name, c in ranked[:n]
            if total]


def run_engine_bench(args, log):
    import psutil
    from dpiaas.db import api as db_api
    from dpiaas.db import migration
    from dpiaas.inventory import static

    work = tempfile.mkdtemp(prefix='dpiaas-load-')
    procs = []
    try:
        db_path = os.path.join(work, 'load.db')
        url = 'sqlite:///' + db_path
        hosts = ['load-host-%d' % i for i in range(args.hosts)]
        inv_path = os.path.join(work, 'inventory.json')
        port_ids = write_inventory(inv_path, args.monitors, hosts)
        migration.upgrade(url)
        storage = db_api.Storage(url)
        conf = make_conf()
        monitors, collectors = populate(
            conf, storage, static.load(inv_path), port_ids, args.baseline,
            log)
        storage.close()
        anomalous = [m['id'] for m in monitors[:args.anomalies]]
        probes = [m['id'] for m in monitors[-args.probes:]]
        vhost = 'dpiaas-load-%d' % os.getpid()
        with private_vhost(vhost) as transport_url:
            try:
                conf_path = os.path.join(work, 'engine.conf')
                with open(conf_path, 'w') as f:
                    f.write('[DEFAULT]\nhost = load-engine\n'
                            'transport_url = %s\ninventory_driver = static\n'
                            'inventory_file = %s\nlog_file = %s\n'
                            '[database]\nconnection = %s\n'
                            '[engine]\nreconcile_interval = %s\n'
                            'workers = %d\n'
                            '[coordination]\nbackend_url = %s\n'
                            % (transport_url, inv_path,
                               os.path.join(work, 'engine.log'), url,
                               args.reconcile_interval, args.workers,
                               'file://' + os.path.join(work, 'ring')
                               if args.workers > 1 else ''))
                engine = subprocess.Popen(
                    [os.path.join(VENV_BIN, 'dpiaas-engine'), '--config-file',
                     conf_path], stdout=subprocess.DEVNULL,
                    stderr=open(os.path.join(work, 'engine.err'), 'w'))
                procs.append(engine)
                _wait_log(os.path.join(work, 'engine.log'),
                          'dpiaas-engine load-engine', engine, 60,
                          count=args.workers)
                log('engine pid %d up; agents start' % engine.pid)
                for host in hosts:
                    spec = {'conf': conf_path, 'host': host, 'db': url,
                            'anomalous': anomalous,
                            'ready': os.path.join(work, host + '.ready'),
                            'go': os.path.join(work, host + '.go'),
                            'out': os.path.join(work, host + '.json')}
                    spec_path = os.path.join(work, host + '.spec')
                    with open(spec_path, 'w') as f:
                        json.dump(spec, f)
                    procs.append(subprocess.Popen(
                        [sys.executable, '-m', 'bench.load', '_agent',
                         spec_path], cwd=ROOT,
                        stderr=open(os.path.join(work, host + '.err'), 'w')))
                deadline = time.time() + 300
                while not all(os.path.exists(os.path.join(work, h + '.ready'))
                              for h in hosts):
                    check_alive(procs, work, hosts)
                    if time.time() > deadline:
                        raise RuntimeError('agents not ready in 300 s')
                    time.sleep(0.5)
                start = time.time() + args.warmup
                end = start + args.duration
                anomaly_at = start + args.duration * 0.4
                for host in hosts:
                    with open(os.path.join(work, host + '.go.tmp'), 'w') as f:
                        json.dump({'start': start, 'end': end,
                                   'anomaly_at': anomaly_at}, f)
                    os.rename(os.path.join(work, host + '.go.tmp'),
                              os.path.join(work, host + '.go'))
                log('agents ready; warm-up %d s, then %d s measured'
                    % (args.warmup, args.duration))
                alarms = {m['alarm_id']: m['id']
                          for m in monitors[:args.anomalies]}
                poller = Poller(db_path, probes, alarms)
                poller.measure_from = start
                poller.start()
                ps = EngineProcesses(psutil.Process(engine.pid))
                while time.time() < start:
                    check_alive(procs, work, hosts)
                    time.sleep(0.5)
                cpu0 = ps.cpu_seconds()
                # what else ran: the simulated agents, and the machine as
                # a whole (the engine's figures follow the CPU it gets)
                agent_ps = [EngineProcesses(psutil.Process(p.pid))
                            for p in procs[1:]]
                agents0 = sum(a.cpu_seconds() for a in agent_ps)
                machine0 = psutil.cpu_times()
                size0, id0 = db_bytes(db_path), max_id(db_path)
                t0 = time.time()
                rss = []
                spy = None
                if args.py_spy:
                    spy_out = os.path.join(work, 'engine.spy')
                    spy_thread = threading.Thread(
                        target=lambda: spy_result.append(
                            py_spy(engine.pid, 20, spy_out)), daemon=True)
                    spy_result = []
                    time.sleep(min(10, args.duration / 4))
                    spy_thread.start()
                while time.time() < end:
                    rss.append(ps.rss())
                    time.sleep(1.0)
                cpu1 = ps.cpu_seconds()
                agents1 = sum(a.cpu_seconds() for a in agent_ps)
                machine1 = psutil.cpu_times()
                depth = queue_depth(vhost)
                size1, id1 = db_bytes(db_path), max_id(db_path)
                t1 = time.time()
                # the agents stop at the end of the window: an engine
                # behind catches up; alarms still count (late) for up to
                # --grace s
                grace_end = time.time() + args.grace
                while time.time() < grace_end and \
                        len(poller.alarmed) < len(alarms):
                    time.sleep(0.5)
                poller.stop_event.set()
                poller.join(5)
                if args.py_spy:
                    spy_thread.join(60)
                    spy = spy_result[0] if spy_result else None
                agents = []
                for host in hosts:
                    out = os.path.join(work, host + '.json')
                    deadline = time.time() + 60
                    while not os.path.exists(out) and \
                            time.time() < deadline:
                        time.sleep(0.5)
                    with open(out) as f:
                        agents.append(json.load(f))
                # an engine behind writes its whole backlog at stop: the
                # window is over, do not wait for it
                engine.send_signal(signal.SIGTERM)
                try:
                    engine.wait(20)
                except subprocess.TimeoutExpired:
                    engine.kill()
                    engine.wait(10)
                ingest_dropped, detector_dropped = engine_drops(
                    os.path.join(work, 'engine.log'))
                detector_lag = engine_max_lag(
                    os.path.join(work, 'engine.log'))
            finally:
                stop_procs(procs)
        # rollups: one pass of the finest level over the measured data
        storage = db_api.Storage(url)
        raw_rows = count_rows(db_path, 'SELECT count(*) FROM samples')
        raw_b = table_bytes(db_path, ['samples'])
        res_conf = parse_rollups(conf.database.rollups)
        t_roll = time.monotonic()
        counts = storage.expire(now=end + res_conf[0][0] + 120)
        t_roll = time.monotonic() - t_roll
        storage.close()
        log('rollup pass: %d samples rolled up in %.1f s'
            % (counts.get('rolled_up', 0), t_roll))
        roll_rows = count_rows(db_path,
                               'SELECT count(*) FROM sample_rollups')
        roll_b = table_bytes(db_path, ['sample_rollups'])
        history = count_rows(
            db_path, "SELECT count(*) FROM alarm_history WHERE "
            "state = 'alarm'")
        first_bad = anomaly_at_first(anomaly_at)
        conn = sqlite3.connect(db_path)
        try:
            detector_delay = [
                _ts(ts) - first_bad for (ts,) in conn.execute(
                    "SELECT min(timestamp) FROM alarm_history WHERE state = "
                    "'alarm' AND monitor_id IN (%s) GROUP BY monitor_id"
                    % ','.join('?' * len(anomalous)), anomalous)]
        finally:
            conn.close()
        cpu = (cpu1 - cpu0) / (t1 - t0)
        offered = sum(a['offered'] for a in agents) / args.duration
        alarm_lat = [poller.alarmed[m] - (first_bad + INTERVAL_S)
                     for m in anomalous if m in poller.alarmed]
        ingest_lat = [lat for _w, lat in poller.ingest]
        per_raw = raw_b / raw_rows if raw_rows else None
        per_roll = roll_b / roll_rows if roll_rows else per_raw
        extra = extrapolate(len(collectors), per_raw or 0, per_roll or 0,
                            conf.database.raw_retention, res_conf)
        return {
            'monitors': args.monitors, 'collectors': len(collectors),
            'workers': args.workers,
            'hosts': args.hosts, 'duration_s': args.duration,
            'offered_per_s': offered,
            'stored_per_s': (id1 - id0) / (t1 - t0),
            'agent_dropped': sum(a['dropped'] for a in agents),
            'broker_queue_at_end': depth,
            'engine_ingest_dropped': ingest_dropped,
            'engine_detector_dropped': detector_dropped,
            'engine_detector_max_lag_logged_s': detector_lag,
            'agent_queued_at_end': sum(a['queued'] for a in agents),
            'agent_late_ticks': sum(a['late_ticks'] for a in agents),
            'ingest_latency_p50_s': percentile(ingest_lat, 50),
            'ingest_latency_p99_s': percentile(ingest_lat, 99),
            'ingest_latency_n': len(ingest_lat),
            'anomalies': len(anomalous), 'alarmed': len(alarm_lat),
            'alarm_latency_p50_s': percentile(alarm_lat, 50),
            'alarm_latency_p99_s': percentile(alarm_lat, 99),
            'alarm_transitions': history,
            'detector_delay_p50_s': percentile(detector_delay, 50),
            'detector_delay_p99_s': percentile(detector_delay, 99),
            'engine_cpu_cores': cpu,
            'agents_cpu_cores': (agents1 - agents0) / (t1 - t0),
            'machine_cpu_busy_cores': _busy(machine0, machine1)
            / (t1 - t0),
            'machine_cores': psutil.cpu_count(),
            'engine_rss_max': max(rss) if rss else None,
            'db_growth_bytes_per_s': (size1 - size0) / (t1 - t0),
            'db_bytes_end': size1,
            'raw_bytes_per_sample': per_raw,
            'rollup_bytes_per_row': per_roll,
            'rollup_pass_s': t_roll, 'rollup_rows_in': raw_rows,
            'db_24h_bytes': extra,
            'py_spy_focus': focus(spy) if spy else None,
            'py_spy_top': spy[:30] if spy else None,
            'workdir': work if args.keep else None,
        }
    finally:
        stop_procs(procs)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _busy(t0, t1):
    """CPU seconds all cores were busy between two psutil.cpu_times()."""
    idle = (t1.idle + getattr(t1, 'iowait', 0)) - \
        (t0.idle + getattr(t0, 'iowait', 0))
    return sum(t1) - sum(t0) - idle


class EngineProcesses:
    """The engine process and its ``[engine] workers`` processes:
    their CPU seconds and RSS summed (a worker restarted in the window
    would be counted from its start only; the engine log says so)."""

    def __init__(self, proc):
        self.proc = proc

    def _all(self):
        return [self.proc] + self.proc.children(recursive=True)

    def cpu_seconds(self):
        total = 0.0
        for p in self._all():
            try:
                t = p.cpu_times()
            except Exception:  # exited between listing and reading
                continue
            total += t.user + t.system
        return total

    def rss(self):
        total = 0
        for p in self._all():
            try:
                total += p.memory_info().rss
            except Exception:
                continue
        return total


def check_alive(procs, work, hosts):
    """Raise with the child's last stderr line when one died."""
    for p, name in zip(procs, ['engine'] + hosts):
        if p.poll() is not None:
            err = os.path.join(work, name + '.err')
            last = ''
            if os.path.exists(err):
                with open(err) as f:
                    lines = [ln for ln in f.read().splitlines() if ln]
                last = lines[-1] if lines else ''
            raise RuntimeError('%s exited (%s): %s' % (name, p.returncode,
                                                       last))


def stop_procs(procs):
    """SIGTERM (then SIGKILL) the children still running."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def anomaly_at_first(anomaly_at):
    """Start of the first interval that the agents make anomalous."""
    k = int(anomaly_at / INTERVAL_S)
    first = k * INTERVAL_S
    return first if first >= anomaly_at else first + INTERVAL_S


def _wait_log(path, text, proc, timeout, count=1):
    """Wait for ``count`` lines of ``path`` with ``text`` and
    ' started' (one per engine worker)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('dpiaas-engine exited with %s'
                               % proc.returncode)
        if os.path.exists(path):
            with open(path) as f:
                if sum(text in line and ' started' in line
                       for line in f) >= count:
                    return
        time.sleep(0.2)
    raise RuntimeError('dpiaas-engine did not start in %d s' % timeout)


def report_engine(r):
    extra = r['db_24h_bytes']
    rows = [
        ('monitors (collectors, agent hosts)', '%d (%d, %d)'
         % (r['monitors'], r['collectors'], r['hosts'])),
        ('engine processes ([engine] workers)', str(r.get('workers', 1))),
        ('measured window', '%d s' % r['duration_s']),
        ('samples/s offered', fmt(r['offered_per_s'], '%.0f')),
        ('samples/s stored (sustained)', fmt(r['stored_per_s'], '%.0f')),
        ('ingest latency p50 / p99', '%s / %s (n=%d)' % (
            fmt(r['ingest_latency_p50_s'], '%.2f', ' s'),
            fmt(r['ingest_latency_p99_s'], '%.2f', ' s'),
            r['ingest_latency_n'])),
        ('alarms raised / anomalies injected', '%d / %d'
         % (r['alarmed'], r['anomalies'])),
        ('alarm latency p50 / p99', '%s / %s' % (
            fmt(r['alarm_latency_p50_s'], '%.1f', ' s'),
            fmt(r['alarm_latency_p99_s'], '%.1f', ' s'))),
        ('  of which detector (event ts - anomaly start)', '%s / %s' % (
            fmt(r['detector_delay_p50_s'], '%.1f', ' s'),
            fmt(r['detector_delay_p99_s'], '%.1f', ' s'))),
        ('alarm transitions to alarm (all)', str(r['alarm_transitions'])),
        ('engine CPU', fmt(r['engine_cpu_cores'] * 100, '%.0f',
                           ' % of one core')),
        ('engine RSS (max)', human_bytes(r['engine_rss_max'])),
        ('simulated agents CPU / machine busy', '%s / %s of %s cores' % (
            fmt(r.get('agents_cpu_cores'), '%.2f'),
            fmt(r.get('machine_cpu_busy_cores'), '%.2f'),
            r.get('machine_cores'))),
        ('database growth', human_bytes(r['db_growth_bytes_per_s']) + '/s'),
        ('bytes per raw sample (with indexes)',
         fmt(r['raw_bytes_per_sample'], '%.0f')),
        ('bytes per rollup row (with indexes)',
         fmt(r['rollup_bytes_per_row'], '%.0f')),
        ('rollup pass (10 s tier) over the raw rows', '%.1f s for %d rows'
         % (r['rollup_pass_s'], r['rollup_rows_in'])),
        ('database after 24 h (samples)', '%s (raw %s + %s)' % (
            human_bytes(extra['total']), human_bytes(extra['raw']),
            ' + '.join('%s tier %s' % (k, human_bytes(v))
                       for k, v in extra.items()
                       if k not in ('raw', 'total')))),
        ('agent buffers: dropped / queued at end', '%d / %d' % (
            r['agent_dropped'], r['agent_queued_at_end'])),
        ('agent late ticks', str(r['agent_late_ticks'])),
        ('engine queue at end (messages of <=1000)',
         str(r['broker_queue_at_end'])),
        ('engine drops: ingest / detector samples', '%s / %s' % (
            r['engine_ingest_dropped'], r['engine_detector_dropped'])),
        ('detector lag logged (max)', fmt(
            r.get('engine_detector_max_lag_logged_s'), '%.1f', ' s')),
    ]
    out = table(rows)
    if r.get('py_spy_focus'):
        out += '\n\nengine py-spy (20 s, share of samples, inclusive):\n'
        out += '\n'.join('  %5.1f %%  %s' % (share, label)
                         for label, share in r['py_spy_focus'])
    return out


def run_agent_bench(args, log):
    from bench.loadgen import agent100
    vhost = 'dpiaas-load-agent-%d' % os.getpid()
    with private_vhost(vhost) as transport_url:
        return agent100.measure(args, transport_url, log)


def report_agent(r):
    return table([
        ('agent taps (collectors)', str(r['taps'])),
        ('traffic offered per tap', '%.0f packets/s' %
         r['pps_per_tap_offered']),
        ('measured window', '%.0f s' % r['duration_s']),
        ('all collectors running after', fmt(r.get('all_running_after_s'),
                                             '%.0f', ' s')),
        ('agent CPU (agent + capture workers)',
         fmt(r['agent_cpu_cores'] * 100, '%.0f', ' % of one core')),
        ('agent RSS (sum of %d processes, max)' % r['agent_processes'],
         human_bytes(r['agent_rss_max'])),
        ('samples/s reported', fmt(r['samples_per_s'], '%.0f')),
        ('packets/s captured (capture.packets)',
         fmt(r['packets_per_s'], '%.0f')),
        ('kernel drops (capture.drops)', str(r['capture_drops'])),
    ])


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='bench.load', description=__doc__.splitlines()[0])
    p.add_argument('--monitors', type=int, default=10000)
    p.add_argument('--duration', type=float, default=100.0,
                   help='measured seconds after the warm-up')
    p.add_argument('--warmup', type=float, default=40.0)
    p.add_argument('--hosts', type=int, default=2,
                   help='simulated agents (one process each)')
    p.add_argument('--anomalies', type=int, default=20)
    p.add_argument('--probes', type=int, default=50,
                   help='monitors whose newest stored sample is polled')
    # 30 s (60 intervals, 15 held out) calibrates a threshold so high at
    # the default false-alarm rate that a SIP outage is not flagged at
    # all: the alarm latency measured then is the detector's, not load's
    p.add_argument('--baseline', type=int, default=120,
                   help='detector baseline_s of the monitors')
    p.add_argument('--grace', type=float, default=60.0,
                   help='seconds after the window to wait for the alarms '
                        'of the injected anomalies')
    p.add_argument('--reconcile-interval', type=float, default=10.0)
    p.add_argument('--workers', type=int, default=1,
                   help='the engine\'s [engine] workers (processes)')
    p.add_argument('--py-spy', action='store_true',
                   help='profile the engine for 20 s (py-spy)')
    p.add_argument('--keep', action='store_true',
                   help='keep the work directory (logs, database)')
    p.add_argument('--part', choices=('engine', 'agent', 'all'),
                   default='all',
                   help='engine: one engine with --monitors monitors; '
                        'agent: one agent with --taps taps (root)')
    p.add_argument('--taps', type=int, default=100)
    p.add_argument('--pps', type=float, default=50.0,
                   help='packets per second sent on every tap')
    p.add_argument('--ring-mb', type=int, default=None,
                   help='the agent\'s [agent] capture_ring_mb (its default '
                        'when unset)')
    p.add_argument('--agent-duration', type=float, default=60.0)
    p.add_argument('--agent-warmup', type=float, default=15.0)
    p.add_argument('--json', metavar='OUT')
    args = p.parse_args(argv)
    if min(args.monitors, args.duration, args.hosts, args.taps, args.pps,
           args.agent_duration) <= 0:
        p.error('--monitors, --duration, --hosts, --taps, --pps and '
                '--agent-duration must be positive')
    args.anomalies = min(args.anomalies, args.monitors)
    args.probes = max(1, min(args.probes, args.monitors - args.anomalies))
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['_agent']:
        with open(argv[1]) as f:
            run_agent(json.load(f))
        return 0
    args = parse_args(argv)

    def log(msg):
        print('[%s] %s' % (time.strftime('%H:%M:%S'), msg), file=sys.stderr,
              flush=True)

    import warnings
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    results = {}
    failed = False
    try:
        if args.part in ('engine', 'all'):
            try:
                results['engine'] = run_engine_bench(args, log)
                print(report_engine(results['engine']), flush=True)
            except (RuntimeError, subprocess.SubprocessError,
                    OSError) as exc:
                print('bench.load: engine: error: %s' % exc,
                      file=sys.stderr)
                failed = True
        if args.part in ('agent', 'all'):
            try:
                results['agent'] = run_agent_bench(args, log)
                if results.get('engine'):
                    print()
                print(report_agent(results['agent']), flush=True)
            except (RuntimeError, subprocess.SubprocessError,
                    OSError) as exc:
                print('bench.load: agent: error: %s' % exc, file=sys.stderr)
                failed = True
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0
    return 0


if __name__ == '__main__':
    sys.exit(main())
