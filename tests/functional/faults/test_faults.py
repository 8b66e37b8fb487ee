"""Faults the control plane must survive without losing samples.

Real components throughout: ``dpiaas-engine`` and one ``dpiaas-agent`` as
processes on a private RabbitMQ (:mod:`tests.functional.faults.broker`,
so that stopping it disturbs nobody else), a SQLite database, the static
inventory (DESIGN 4.3) describing one port whose tap is a real veth, and a
"VM" behind it answering SIP OPTIONS. Each test sends a known number of
OPTIONS before and during the fault and checks that the database ends up
with exactly that many ``sip.5060.requests.options``.

1. RabbitMQ stopped and started again: the agent keeps its samples
   (reporter buffer) and sends them when the broker is back.
2. The database refuses writes: the engine keeps the samples (ingest
   backlog) and writes them when it can again. How: the test holds
   SQLite's write lock (``BEGIN EXCLUSIVE`` in its own connection) for
   longer than the engine's busy timeout, so every engine write fails with
   "database is locked" -- the outage a stuck writer or a backup tool
   causes. ``chmod 000`` does not work here (the engine runs as root,
   which ignores file modes) and moving the file away does not either
   (open connections keep writing to the moved inode).

Issue 7 (fixed): RabbitMQ deletes a transient queue when it restarts, and
casts the reconnected agent published before the engine had declared its
topic queue again were routed nowhere and dropped by the broker, yet
counted as sent. dpiaas now defaults ``[oslo_messaging_rabbit]
amqp_durable_queues`` to true (the queue and its binding outlive the
restart) and publishes what the agent buffers *mandatory*, so that an
unroutable report comes back as ``MessageUndeliverable`` and stays in the
agent's buffer. Test 1 runs with the default configuration and with
transient queues set explicitly (the mandatory flag alone must suffice).
"""
import sqlite3
import time
import uuid

from oslo_config import cfg
import pytest
import yaml

from dpiaas.db import api as db_api
from dpiaas.db import engines as db_engines
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport
from tests.functional import service_process
from tests.functional.sip_probe import send_options, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]

METRIC = 'sip.5060.requests.options'
HOST = 'fault-compute-1'
INTERVAL_MS = 500
# SQLite busy timeout of the engine plus margin: the lock must outlast
# at least one whole write attempt for the write to fail
COLLECTOR_START_TIMEOUT = 240
LOCK_SECONDS = db_engines.SQLITE_BUSY_TIMEOUT_MS / 1000.0 + 15


def inventory(vm, port_id):
    sg_id = str(uuid.uuid4())
    return {
        'ports': [{
            'id': port_id, 'device_id': str(uuid.uuid4()),
            'project_id': 'fault-project', 'binding:host_id': HOST,
            'binding:vnic_type': 'normal', 'mac_address': vm.mac,
            'fixed_ips': [{'ip_address': vm.ip}],
            'security_groups': [sg_id], 'tap_device': vm.tap}],
        'security_groups': [{
            'id': sg_id, 'project_id': 'fault-project', 'name': 'sip',
            'security_group_rules': [{
                'id': str(uuid.uuid4()), 'direction': 'ingress',
                'ethertype': 'IPv4', 'protocol': 'udp',
                'port_range_min': 5060, 'port_range_max': 5060,
                'remote_ip_prefix': '0.0.0.0/0'}]}],
    }


class Deployment:
    """Engine + agent + monitor on a veth "VM", ready for faults."""

    def __init__(self, tmp_path, broker, vm, extra=''):
        self.tmp_path = tmp_path
        self.broker = broker
        self.vm = vm
        self.db_path = tmp_path / 'dpiaas.sqlite'
        self.db_url = 'sqlite:///%s' % self.db_path
        self.exchange = 'dpiaas-faults-' + uuid.uuid4().hex[:8]
        self.port_id = str(uuid.uuid4())
        inv = tmp_path / 'inventory.yaml'
        inv.write_text(yaml.safe_dump(inventory(vm, self.port_id)))
        common = ('[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n'
                  'debug = false\n' % (broker.url, self.exchange))
        self.engine = service_process.Proc(tmp_path, 'engine', common + (
            'host = fault-engine-1\ninventory_driver = static\n'
            'inventory_file = %s\ninventory_cache_ttl = 0\n'
            '[database]\nconnection = %s\n'
            '[engine]\nreconcile_interval = 1\nagent_down_time = 120\n'
            'liveness_interval = 1\ningest_retry_interval = 1\n'
            % (inv, self.db_url)) + extra)
        self.agent = service_process.Proc(tmp_path, 'agent', common + (
            'host = %s\n[agent]\nreport_interval = 1\n'
            'report_batch_interval = 0.3\ntap_retry_interval = 0.5\n'
            'engine_retry_interval = 0.5\n' % HOST) + extra)
        self.extra = extra
        # more fields of the monitor up() creates (detector settings)
        self.monitor_fields = {}
        self.procs = (self.engine, self.agent)
        self.transport = None
        self.storage = None
        self.monitor = None

    def logs(self):
        return '\n'.join('--- %s\n%s' % (p.name, p.text()[-4000:])
                         for p in self.procs)

    def alive(self):
        return all(p.alive() for p in self.procs)

    def tracebacks(self):
        return {p.name: p.text().count('Traceback') for p in self.procs}

    def up(self):
        service_process.db_sync(self.db_url)
        self.storage = db_api.Storage(self.db_url)
        client = self.tmp_path / 'client.conf'
        client.write_text('[DEFAULT]\ncontrol_exchange = %s\n'
                          % self.exchange + self.extra)
        conf = cfg.ConfigOpts()
        conf(['--config-file', str(client)], project='dpiaas')
        self.transport = rpc_transport.get_rpc_transport(
            conf, url=self.broker.url)
        self.engine.start('dpiaas-engine')
        self.agent.start('dpiaas-agent')
        wait_for(lambda: self.storage.list_agents() or not self.alive(),
                 90, 'the agent to report\n' + self.logs())
        assert self.alive(), self.logs()
        self.monitor = self.storage.create_monitor(dict({
            'project_id': 'fault-project', 'port_id': self.port_id,
            'name': 'fault-test', 'interval_ms': INTERVAL_MS},
            **self.monitor_fields))
        engine_api.EngineControlAPI(self.transport).monitor_changed(
            None, self.monitor['id'])
        wait_for(lambda: [c for c in self.storage.list_collectors(
            monitor_id=self.monitor['id']) if c['status'] == 'running'],
            # generous: a cold numba cache (any change to dpiaas/dpi)
            # makes the agent compile its kernels before capturing
            COLLECTOR_START_TIMEOUT, 'a running collector\n' + self.logs())

    def down(self):
        for p in self.procs:
            p.stop()
        if self.transport is not None:
            self.transport.cleanup()

    def series(self, start):
        return self.storage.get_series(self.monitor['id'], METRIC, start,
                                       time.time() + 5)

    def total(self, start):
        return sum(v for _, v in self.series(start))

    def wait_total(self, start, expected, timeout, what):
        """Seconds until the stored total is ``expected``; never above."""
        began = time.monotonic()
        try:
            wait_for(lambda: self.total(start) >= expected, timeout, what)
        except AssertionError as exc:
            raise AssertionError('%s: want %d %s, have %s\n%s' % (
                exc, expected, METRIC, self.total(start), self.logs()))
        return time.monotonic() - began


def max_gap(series, start, end):
    """Largest distance between consecutive sample timestamps."""
    ts = [t for t, _ in series if start <= t <= end]
    return max((b - a for a, b in zip(ts, ts[1:])), default=None)


@pytest.fixture
def deployment(request, tmp_path, broker, vm):
    extra = getattr(request, 'param', '')
    d = Deployment(tmp_path, broker, vm, extra)
    try:
        d.up()
        yield d
    finally:
        d.down()


TRANSIENT = '[oslo_messaging_rabbit]\namqp_durable_queues = false\n'


@pytest.mark.parametrize('deployment', [''], indirect=True,
                         ids=['default'])
def test_broker_restart_loses_nothing(deployment, broker, vm):
    """dpiaas's defaults: durable queues, mandatory reports."""
    _broker_restart(deployment, broker, vm)


@pytest.mark.parametrize('deployment', [TRANSIENT], indirect=True,
                         ids=['transient_queues'])
def test_broker_restart_loses_nothing_transient(deployment, broker, vm):
    """Transient queues (an operator's choice): the queue is gone after
    the restart, and the mandatory flag keeps what the broker could not
    route in the agent's buffer until the engine declares it again."""
    _broker_restart(deployment, broker, vm)


def _broker_restart(deployment, broker, vm):
    d = deployment
    start = time.time() - 2
    n, m = 20, 30
    assert send_options(vm.ip, n) == n
    d.wait_total(start, n, 30, 'samples flowing before the fault')

    stopped_at = time.time()
    broker.stop()
    assert send_options(vm.ip, m) == m
    # long enough for several failed casts to be buffered by the agent
    wait_for(lambda: 'Cannot report to the engine' in d.agent.text(), 30,
             'the agent to notice the broker is gone\n' + d.logs())
    time.sleep(5)   # the outage itself: the broker stays down a while
    down_for = time.time() - stopped_at
    boot = broker.start()
    back_at = time.time()
    catch_up = d.wait_total(start, n + m, 60, 'buffered samples after the '
                            'broker restart')
    # let anything duplicated arrive before checking "exactly"
    time.sleep(3)
    total = d.total(start)
    series = d.series(start)
    gap = max_gap(series, stopped_at - 2, back_at + catch_up + 2)
    print('\nbroker down %.1f s (boot %.1f s); samples complete %.1f s '
          'after the broker answered; largest sample gap %.2f s '
          '(interval %.1f s); total %s of %d'
          % (down_for, boot, catch_up, gap or -1, INTERVAL_MS / 1000.0,
             total, n + m))
    assert total == n + m, d.logs()
    assert gap is not None and gap <= 2 * INTERVAL_MS / 1000.0 + 0.5, gap
    assert d.alive(), d.logs()
    assert d.tracebacks() == {'engine': 0, 'agent': 0}, d.logs()


def test_database_outage_loses_nothing(deployment, vm):
    d = deployment
    start = time.time() - 2
    n, m = 20, 30
    assert send_options(vm.ip, n) == n
    d.wait_total(start, n, 30, 'samples flowing before the fault')

    lock = sqlite3.connect(str(d.db_path), timeout=60, isolation_level=None)
    try:
        lock.execute('BEGIN EXCLUSIVE')
        locked_at = time.monotonic()
        assert send_options(vm.ip, m) == m
        wait_for(lambda: 'cannot write samples' in d.engine.text(),
                 LOCK_SECONDS + 10,
                 'the engine to fail writing\n' + d.logs())
        left = LOCK_SECONDS - (time.monotonic() - locked_at)
        if left > 0:
            time.sleep(left)   # the outage itself
        assert d.total(start) == n   # readers still work under WAL
    finally:
        lock.rollback()
        lock.close()
    outage = time.monotonic() - locked_at
    catch_up = d.wait_total(start, n + m, 60, 'the ingest backlog written')
    time.sleep(3)
    total = d.total(start)
    print('\ndatabase locked %.1f s; backlog written %.1f s after release; '
          'total %s of %d; tracebacks %s'
          % (outage, catch_up, total, n + m, d.tracebacks()))
    assert total == n + m, d.logs()
    assert 'samples written again' in d.engine.text(), d.logs()
    assert d.alive(), d.logs()
    # the engine's RPC handlers log the locked database (report_state);
    # the agent must not notice anything
    assert d.tracebacks()['agent'] == 0, d.logs()
