"""The engine wired on oslo.messaging's in-process fake:// transport."""
import gc
import sys
import threading
import time

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from dpiaas import conf as dpiaas_conf
from dpiaas.cmd import engine as engine_cmd
from dpiaas.db import api as db_api
from dpiaas.db import migration
from dpiaas.engine import service
from dpiaas.rpc import agent_api
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport
from tests.unit.engine import conftest
from tests.unit.engine import fakes


class AgentEndpoint:
    """Stands for dpiaas.agent.manager.AgentManager: records casts."""

    target = messaging.Target(version='1.0')

    def __init__(self):
        self.calls = []

    def start_collector(self, ctxt, collector):
        self.calls.append(('start_collector', collector['id']))

    def update_collector(self, ctxt, collector):
        self.calls.append(('update_collector', collector['id']))

    def stop_collector(self, ctxt, collector_id, reason=None):
        self.calls.append(('stop_collector', collector_id))

    def sync(self, ctxt, collectors):
        self.calls.append(('sync', [c['id'] for c in collectors]))


def wait_for(predicate, timeout=10):
    ev = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        ev.wait(0.01)
    raise AssertionError('condition not met in %s s' % timeout)


@pytest.fixture
def engine_storage(request, tmp_path):
    if getattr(request, 'param', 'fake') == 'fake':
        yield fakes.FakeStorage()
        return
    url = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
    migration.upgrade(url)
    storage = db_api.Storage(url)
    yield storage
    storage.close()


@pytest.fixture
def engine(engine_storage):
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    engine_cmd.register_transport_opts(conf)
    conf([], project='dpiaas', default_config_files=[])
    conf.set_override('host', 'engine-1')
    conf.set_override('reconcile_interval', 3600, group='engine')
    conf.set_override('expire_interval', 1, group='engine')
    transport = rpc_transport.get_rpc_transport(conf, url='fake://')
    storage = engine_storage
    inv = fakes.FakeInventory()
    inv.add_port(conftest.PORT, rules=[fakes.rule('udp', 5060)])
    agent = AgentEndpoint()
    agent_server = rpc_transport.get_rpc_server(
        transport, messaging.Target(topic=agent_api.TOPIC,
                                    server='compute-1'), [agent])
    agent_server.start()
    svc = service.EngineService(conf, storage, inv, transport)
    # the engine tunes the interpreter for its threads: put it back for
    # the tests that follow
    saved = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(700, 10, 10)
    sys.setswitchinterval(0.005)
    svc.start()
    svc.agent = agent
    yield svc
    svc.stop()
    gc.set_threshold(*saved[0])
    sys.setswitchinterval(saved[1])
    agent_server.stop()
    agent_server.wait()
    transport.cleanup()


@pytest.mark.parametrize('engine_storage', ['sqlite'], indirect=True)
def test_monitor_changed_reaches_the_agent_and_agent_reports_back(engine):
    storage = engine.storage
    mon = storage.create_monitor({'server_id': 'server-1',
                                  'project_id': 'p1'})
    wait_for(lambda: engine.reconciler.passes >= 1)
    engine_api.EngineControlAPI(engine.transport).monitor_changed(
        None, mon['id'])
    wait_for(lambda: engine.agent.calls)
    [c] = storage.list_collectors()
    assert engine.agent.calls == [('start_collector', c['id'])]

    api = engine_api.EngineAPI(engine.transport, timeout=10)
    [desired] = api.get_desired(None, 'compute-1')
    assert desired['id'] == c['id']
    api.report_state(None, 'compute-1', {
        'started_at': 5.0, 'collectors': [
            {'id': c['id'], 'generation': 1, 'status': 'running'}]})
    wait_for(lambda: storage.get_monitor(mon['id'])['status']
             == 'learning')
    # first heartbeat of this agent process: it is told its full set
    wait_for(lambda: ('sync', [c['id']]) in engine.agent.calls)

    api.report_samples(None, 'compute-1', [
        {'collector_id': c['id'], 'monitor_id': mon['id'],
         'ts': time.time() - 1,
         'interval_ms': 500, 'metrics': {'sip.5060.packets_in': 3}}])
    wait_for(lambda: storage.latest_metrics(mon['id']))
    assert storage.latest_metrics(mon['id'])['sip.5060.packets_in'][1] == 3


def test_engine_tunes_gc_and_gil_switching_for_its_threads(engine):
    assert gc.get_threshold() == service.GC_THRESHOLDS
    assert sys.getswitchinterval() == service.GIL_SWITCH_INTERVAL_S


def test_expire_runs_periodically(engine):
    wait_for(lambda: engine.storage.expired >= 1)


def test_stop_writes_what_ingest_holds(engine):
    engine.ingest.flush_interval = 3600
    engine.ingest.add([{'collector_id': 'c', 'monitor_id': 'm', 'ts': 1.0,
                        'metrics': {'x': 1}}])
    engine.stop()
    assert len(engine.storage.samples) == 1


def test_stats_show_ingest_and_the_detectors_lag(engine):
    stats = engine.stats()
    assert stats['ingest']['dropped'] == 0
    assert stats['detector']['lag_s'] >= 0
    assert stats['detector']['dropped'] == 0
