"""One of two engines killed: its monitors are evaluated again within 30 s.

Two ``dpiaas-engine`` processes share the monitors through tooz (the
``file://`` backend: members heartbeat by touching their file, and a
member whose file is older than ``?timeout=`` is gone, which is how a
SIGKILLed engine leaves the group), one ``dpiaas-agent`` captures a real
veth whose "VM" answers SIP OPTIONS sent all along. Samples reach
whichever engine the broker picks; the one that does not own the monitor
stores them and forwards them to the owner for scoring.

The owner (computed from the same hash ring the engines build) saves the
monitor's detector state every second while it scores. It is killed with
SIGKILL; from then on only the survivor can change the saved state, and
it does so only after it has taken the monitor over and scored new
intervals of it: the takeover time is from the kill to that change.
"""
import signal
import threading
import time
import uuid

from oslo_config import cfg
import pytest
from tooz import hashring
import yaml

from dpiaas.db import api as db_api
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport
from tests.functional import service_process
from tests.functional.faults import test_faults
from tests.functional.sip_probe import send_options, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]

ENGINES = ('takeover-engine-1', 'takeover-engine-2')
MEMBER_TIMEOUT = 5      # tooz file:// heartbeat expiry (seconds)
TAKEOVER_LIMIT = 30


class Pair:
    """Two engines, one agent, one monitor."""

    def __init__(self, tmp_path, broker, vm):
        self.tmp_path = tmp_path
        self.broker = broker
        self.vm = vm
        self.db_url = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
        self.exchange = 'dpiaas-takeover-' + uuid.uuid4().hex[:8]
        self.port_id = str(uuid.uuid4())
        inv = tmp_path / 'inventory.yaml'
        inv.write_text(yaml.safe_dump(test_faults.inventory(
            vm, self.port_id)))
        coord = tmp_path / 'coordination'
        coord.mkdir()
        common = ('[DEFAULT]\ntransport_url = %s\ncontrol_exchange = %s\n'
                  'debug = false\n' % (broker.url, self.exchange))
        self.engines = {
            name: service_process.Proc(tmp_path, name, common + (
                'host = %s\ninventory_driver = static\n'
                'inventory_file = %s\ninventory_cache_ttl = 0\n'
                '[database]\nconnection = %s\n'
                '[engine]\nreconcile_interval = 1\nagent_down_time = 120\n'
                'liveness_interval = 1\n'
                '[detector]\nsave_interval = 1\n'
                '[coordination]\nbackend_url = file://%s?timeout=%d\n'
                'heartbeat_interval = 0.5\n'
                % (name, inv, self.db_url, coord, MEMBER_TIMEOUT)))
            for name in ENGINES}
        self.agent = service_process.Proc(tmp_path, 'agent', common + (
            'host = %s\n[agent]\nreport_interval = 1\n'
            'report_batch_interval = 0.3\ntap_retry_interval = 0.5\n'
            'engine_retry_interval = 0.5\n' % test_faults.HOST))
        self.procs = list(self.engines.values()) + [self.agent]
        # the ring's member ids
        self.members = ENGINES
        self.transport = None
        self.storage = None
        self.monitor = None

    def logs(self):
        return '\n'.join('--- %s\n%s' % (p.name, p.text()[-3000:])
                         for p in self.procs if p.log_path.exists())

    def up(self):
        service_process.db_sync(self.db_url)
        self.storage = db_api.Storage(self.db_url)
        client = self.tmp_path / 'client.conf'
        client.write_text('[DEFAULT]\ncontrol_exchange = %s\n'
                          % self.exchange)
        conf = cfg.ConfigOpts()
        conf(['--config-file', str(client)], project='dpiaas')
        self.transport = rpc_transport.get_rpc_transport(
            conf, url=self.broker.url)
        for name, proc in self.engines.items():
            proc.start('dpiaas-engine')
        # both engines see both in the ring before any monitor exists
        ring = 'engines in dpiaas-engines: %s' % ', '.join(self.members)
        wait_for(lambda: all(ring in p.text() for p in
                             self.engines.values()), 90,
                 'both engines in the ring\n' + self.logs())
        self.agent.start('dpiaas-agent')
        wait_for(lambda: self.storage.list_agents(), 90,
                 'the agent to report\n' + self.logs())
        self.monitor = self.storage.create_monitor({
            'project_id': 'fault-project', 'port_id': self.port_id,
            'name': 'takeover-test', 'interval_ms': test_faults.INTERVAL_MS})
        engine_api.EngineControlAPI(self.transport).monitor_changed(
            None, self.monitor['id'])
        wait_for(lambda: [c for c in self.storage.list_collectors(
            monitor_id=self.monitor['id']) if c['status'] == 'running'],
            test_faults.COLLECTOR_START_TIMEOUT,
            'a running collector\n' + self.logs())

    def owner(self):
        ring = hashring.HashRing({n.encode() for n in self.members})
        [node] = ring.get_nodes(self.monitor['id'].encode())
        return node.decode()

    def state(self):
        saved = self.storage.load_detector_state(self.monitor['id'])
        return saved and saved[0]

    def down(self):
        for p in self.procs:
            p.stop()
        if self.transport is not None:
            self.transport.cleanup()


class Traffic(threading.Thread):
    """SIP OPTIONS to the VM, a few a second, until stopped."""

    def __init__(self, ip):
        super().__init__(daemon=True)
        self.ip = ip
        self.done = threading.Event()
        self.sent = 0

    def run(self):
        while not self.done.wait(0.1):
            self.sent += send_options(self.ip, 1)

    def stop(self):
        self.done.set()
        if self.is_alive():
            self.join(10)


def running(cls, tmp_path, broker, vm):
    """A fixture's body: ``cls`` (a Pair) up with traffic, then down."""
    p = cls(tmp_path, broker, vm)
    traffic = Traffic(vm.ip)
    try:
        p.up()
        traffic.start()
        yield p
    finally:
        traffic.stop()
        p.down()


@pytest.fixture
def pair(tmp_path, broker, vm):
    yield from running(Pair, tmp_path, broker, vm)


def test_killed_engines_monitors_are_evaluated_again(pair):
    p = pair
    owner = p.owner()
    survivor, = set(ENGINES) - {owner}
    # the owner scores (forwarded samples included) and saves its state
    first = wait_for(p.state, 60, 'the owner to save detector state\n'
                     + p.logs())
    wait_for(lambda: p.state() != first, 30,
             'the owner to keep scoring\n' + p.logs())
    assert 'handing its detector over' not in p.engines[owner].text()

    p.engines[owner].stop(sig=signal.SIGKILL)
    killed_at = time.monotonic()
    last = p.state()   # the dead can no longer change it
    wait_for(lambda: p.state() != last, TAKEOVER_LIMIT,
             'the survivor to evaluate the monitor\n' + p.logs())
    takeover = time.monotonic() - killed_at
    ring = 'engines in dpiaas-engines: %s\n' % survivor
    print('\nengine %s killed; %s scored its monitor %.1f s later '
          '(member timeout %d s)' % (owner, survivor, takeover,
                                     MEMBER_TIMEOUT))
    assert ring in p.engines[survivor].text(), p.logs()
    assert takeover <= TAKEOVER_LIMIT
    # and it goes on scoring it
    again = p.state()
    wait_for(lambda: p.state() != again, 10,
             'the survivor to keep scoring\n' + p.logs())
    assert p.engines[survivor].alive() and p.agent.alive(), p.logs()
    assert p.engines[survivor].text().count('Traceback') == 0, p.logs()
