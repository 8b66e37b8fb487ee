import pytest

from dpiaas.db import api as db_api
from dpiaas.db import migration

from dpiaas.engine import reconciler as reconciler_mod
from dpiaas.engine import rpc_endpoint
from dpiaas.engine import scheduler
from tests.unit.engine import fakes

PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


class World:
    """Storage, inventory and agents faked; the engine's parts real."""

    def __init__(self, storage):
        self.clock = Clock()
        self.storage = storage
        self.inv = fakes.FakeInventory()
        self.agents = fakes.FakeAgentAPI()
        self.inv.add_port(PORT, rules=[fakes.rule('udp', 5060, id='r-sip')])
        self.monitor = self.storage.create_monitor(
            {'server_id': 'server-1', 'project_id': 'p1',
             'detector': {'baseline_s': 60}})
        self.reconciler = reconciler_mod.Reconciler(
            self.storage, scheduler.Scheduler(self.inv), self.agents,
            interval=0.05, agent_down_time=30, clock=self.clock)
        self.endpoint = rpc_endpoint.EngineEndpoint(
            self.storage, ingest=None, agent_api=self.agents,
            agent_down_time=30, lock=self.reconciler.lock, clock=self.clock)
        for host in ('compute-1', 'compute-2'):
            self.heartbeat(host)

    def heartbeat(self, host, started_at=1.0, collectors=None):
        self.storage.agent_heartbeat(
            host, {'started_at': started_at, 'collectors': collectors or []},
            now=self.clock.now)

    @property
    def mon(self):
        return self.storage.get_monitor(self.monitor['id'])

    @property
    def collectors(self):
        return self.storage.list_collectors(monitor_id=self.monitor['id'])

    def report(self, host, started_at=1.0, status='running'):
        """The agent's report_state, running what it was told."""
        state = {'started_at': started_at, 'version': 'x', 'collectors': [
            {'id': c['id'], 'generation': c['generation'], 'status': status,
             'reason': None}
            for c in self.storage.list_collectors(host=host)]}
        self.endpoint.report_state(None, host, state)


@pytest.fixture(params=['sqlite', 'fake'])
def storage(request, tmp_path):
    """The real Storage on a SQLite file, and the in-memory fake."""
    if request.param == 'fake':
        yield fakes.FakeStorage()
        return
    url = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
    migration.upgrade(url)
    storage = db_api.Storage(url)
    yield storage
    storage.close()


@pytest.fixture
def world(storage):
    return World(storage)
