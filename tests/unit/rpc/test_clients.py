"""The RPC clients reach real oslo.messaging servers (``fake://``)."""
import threading

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from dpiaas.rpc import agent_api
from dpiaas.rpc import engine_api
from dpiaas.rpc import transport as rpc_transport


class Recorder:
    """An endpoint that records every call and answers ``answers``."""

    target = messaging.Target(version='1.2')

    def __init__(self, methods, answers=None):
        self.calls = []
        self.cond = threading.Condition()
        self.answers = answers or {}
        for name in methods:
            setattr(self, name, self._method(name))

    def _method(self, name):
        def method(ctxt, **kwargs):
            with self.cond:
                self.calls.append((name, kwargs))
                self.cond.notify_all()
            return self.answers.get(name)
        return method

    def wait(self, n, timeout=5):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.calls) >= n, timeout), \
                'got %r' % (self.calls,)
        return self.calls


SAMPLE = {'collector_id': 'c1', 'monitor_id': 'm1', 'ts': 1.0,
          'interval_ms': 500, 'metrics': {'a.b': 1, 'a.c': 2.5}}
COMPACT = {'names': [['a.b', 'a.c']],
           'rows': [['c1', 'm1', 1.0, 500, 0, [1, 2.5]]]}

AGENT_METHODS = ('start_collector', 'update_collector', 'stop_collector',
                 'sync', 'get_state')
ENGINE_METHODS = ('report_samples', 'report_flows', 'report_state',
                  'collector_status', 'get_desired')


@pytest.fixture
def transport():
    conf = cfg.ConfigOpts()
    conf([], project='dpiaas')
    t = rpc_transport.get_rpc_transport(conf, url='fake://')
    yield t
    t.cleanup()


@pytest.fixture
def serve(transport):
    servers = []

    def serve(target, endpoint):
        server = rpc_transport.get_rpc_server(transport, target, [endpoint])
        server.start()
        servers.append(server)
        return endpoint
    yield serve
    for server in servers:
        server.stop()
        server.wait()


def test_agent_casts_reach_only_the_addressed_host(transport, serve):
    h1 = serve(messaging.Target(topic='dpiaas-agent', server='h1'),
               Recorder(AGENT_METHODS))
    h2 = serve(messaging.Target(topic='dpiaas-agent', server='h2'),
               Recorder(AGENT_METHODS))
    api = agent_api.AgentAPI(transport)
    col = {'id': 'c1', 'generation': 1}
    api.start_collector(None, 'h1', col)
    api.update_collector(None, 'h1', col)
    api.stop_collector(None, 'h1', 'c1', reason='deleted')
    api.sync(None, 'h1', [col])
    assert sorted(h1.wait(4), key=repr) == sorted([
        ('start_collector', {'collector': col}),
        ('update_collector', {'collector': col}),
        ('stop_collector', {'collector_id': 'c1', 'reason': 'deleted'}),
        ('sync', {'collectors': [col]})], key=repr)
    api.sync(None, 'h2', [])
    assert h2.wait(1) == [('sync', {'collectors': []})]
    assert len(h1.calls) == 4


def test_get_state_is_a_call_with_an_answer(transport, serve):
    state = {'started_at': 1.0, 'version': 'x', 'collectors': [],
             'buffer': {'queued': 0, 'dropped': 0}}
    serve(messaging.Target(topic='dpiaas-agent', server='h1'),
          Recorder(AGENT_METHODS, {'get_state': state}))
    assert agent_api.AgentAPI(transport).get_state(None, 'h1') == state


def test_get_state_of_a_missing_agent_times_out(transport):
    with pytest.raises(messaging.MessagingTimeout):
        agent_api.AgentAPI(transport).get_state(None, 'nobody',
                                                timeout=0.2)


def test_engine_casts_and_get_desired(transport, serve):
    desired = [{'id': 'c1', 'generation': 2}]
    eng = serve(messaging.Target(topic='dpiaas-engine', server='e1'),
                Recorder(ENGINE_METHODS, {'get_desired': desired}))
    api = engine_api.EngineAPI(transport)
    api.compact = True        # as if get_desired had been answered
    api.report_samples(None, 'h1', [SAMPLE])
    api.report_flows(None, 'h1', [{'flows': []}])
    api.report_state(None, 'h1', {'collectors': []})
    api.collector_status(None, 'h1', 'c1', 'error', 'tap gone')
    assert api.get_desired(None, 'h1') == desired
    # the threading executor dispatches in parallel: order is not kept
    assert sorted(eng.wait(5), key=repr) == sorted([
        ('report_samples', {'host': 'h1', 'compact': COMPACT}),
        ('report_flows', {'host': 'h1', 'reports': [{'flows': []}]}),
        ('report_state', {'host': 'h1', 'state': {'collectors': []}}),
        ('collector_status', {'host': 'h1', 'collector_id': 'c1',
                              'status': 'error', 'reason': 'tap gone'}),
        ('get_desired', {'host': 'h1'})], key=repr)


def test_monitor_changed_goes_to_the_control_topic(transport, serve):
    ctl = serve(messaging.Target(topic='dpiaas-engine-control', server='e1'),
                Recorder(('monitor_changed',)))
    engine_api.EngineControlAPI(transport).monitor_changed(None, 'm1')
    assert ctl.wait(1) == [('monitor_changed', {'monitor_id': 'm1'})]


def test_a_version_cap_below_1_0_refuses_to_send(transport):
    api = engine_api.EngineAPI(transport, version_cap='0.9')
    assert not api.can_send_version('1.0')
    with pytest.raises(messaging.RPCVersionCapError):
        api.report_state(None, 'h1', {})


def test_the_agent_manager_exposes_only_its_rpc_methods(transport, serve):
    from tests.unit.agent import fakes
    from dpiaas.agent import manager as manager_mod
    from dpiaas import conf as dpiaas_conf
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf([], project='dpiaas')
    conf.set_override('host', 'h1')
    m = manager_mod.AgentManager(conf, fakes.FakeEngine(),
                                 tapfinder=fakes.FakeTapFinder())
    serve(messaging.Target(topic='dpiaas-agent', server='h1'), m)
    client = agent_api.AgentAPI(transport).client.prepare(server='h1',
                                                          timeout=2)
    assert client.call(None, 'get_state')['collectors'] == []
    # in-process the dispatcher's own exception comes back, over a broker
    # a RemoteError naming it
    with pytest.raises((messaging.RemoteError,
                        messaging.rpc.dispatcher.NoSuchMethod)) as err:
        client.call(None, 'stop')
    assert 'stop' in str(err.value)


def test_contexts_travel_as_dicts(transport, serve):
    from oslo_context import context
    eng = serve(messaging.Target(topic='dpiaas-engine', server='e1'),
                Recorder(ENGINE_METHODS))
    seen = []
    orig = eng.report_state

    def report_state(ctxt, **kw):
        seen.append(ctxt)
        return orig(ctxt, **kw)
    eng.report_state = report_state
    ctxt = context.RequestContext(project_id='p1', request_id='req-1')
    engine_api.EngineAPI(transport).report_state(ctxt, 'h1', {})
    eng.wait(1)
    assert seen[0].project_id == 'p1'
    assert seen[0].request_id == 'req-1'


def test_monitor_changed_reaches_every_engine(transport, serve):
    """A fanout: the owner of the monitor hears it whichever it is."""
    engines = [serve(messaging.Target(topic='dpiaas-engine-control',
                                      server=name),
                     Recorder(('monitor_changed',)))
               for name in ('e1', 'e2')]
    engine_api.EngineControlAPI(transport).monitor_changed(None, 'm1')
    for eng in engines:
        assert eng.wait(1) == [('monitor_changed', {'monitor_id': 'm1'})]


def test_monitor_changed_to_a_1_0_engine_is_not_a_fanout(transport, serve):
    old = Recorder(('monitor_changed',))
    old.target = messaging.Target(version='1.0')
    serve(messaging.Target(topic='dpiaas-engine-control', server='e1'), old)
    engine_api.EngineControlAPI(transport,
                                version_cap='1.0').monitor_changed(None, 'm1')
    assert old.wait(1) == [('monitor_changed', {'monitor_id': 'm1'})]


def test_score_samples_reaches_only_the_owner(transport, serve):
    e1, e2 = [serve(messaging.Target(topic='dpiaas-engine', server=name),
                    Recorder(('score_samples',))) for name in ('e1', 'e2')]
    engine_api.EnginePeerAPI(transport).score_samples(None, 'e2',
                                                      [SAMPLE])
    # dicts (1.1): an engine not upgraded yet takes them
    assert e2.wait(1) == [('score_samples', {'samples': [SAMPLE]})]
    assert e1.calls == []


def test_score_samples_packed_to_a_1_4_owner(transport, serve):
    """A peer known to serve 1.4 gets the samples packed, and the rows
    it decodes are the ones sent."""
    from dpiaas.engine import ingest
    rec = Recorder(('score_samples',))
    rec.target = messaging.Target(version='1.4')
    e2 = serve(messaging.Target(topic='dpiaas-engine', server='e2'), rec)
    engine_api.EnginePeerAPI(transport).score_samples(None, 'e2', [SAMPLE],
                                                      packed=True)
    [(method, kwargs)] = e2.wait(1)
    assert list(kwargs) == ['packed']
    [row] = ingest.samples_of_packed(kwargs['packed'])
    assert row.to_dict() == ingest.as_samples([SAMPLE])[0].to_dict()


def test_score_samples_with_a_non_number_go_as_dicts(transport, serve):
    odd = dict(SAMPLE, metrics=dict(SAMPLE['metrics'], extra=None))
    e2 = serve(messaging.Target(topic='dpiaas-engine', server='e2'),
               Recorder(('score_samples',)))
    engine_api.EnginePeerAPI(transport).score_samples(None, 'e2', [odd],
                                                      packed=True)
    assert e2.wait(1) == [('score_samples', {'samples': [odd]})]


def test_samples_go_compact_once_an_engine_answered_at_1_2(transport,
                                                           serve):
    eng = serve(messaging.Target(topic='dpiaas-engine', server='e1'),
                Recorder(ENGINE_METHODS, {'get_desired': []}))
    api = engine_api.EngineAPI(transport)
    api.report_samples(None, 'h1', [SAMPLE])     # not known yet: dicts
    assert api.compact is None
    assert api.get_desired(None, 'h1') == []
    assert api.compact is True
    api.report_samples(None, 'h1', [SAMPLE])
    calls = [c for c in eng.wait(3) if c[0] == 'report_samples']
    assert sorted(calls, key=repr) == sorted([
        ('report_samples', {'host': 'h1', 'samples': [SAMPLE]}),
        ('report_samples', {'host': 'h1', 'compact': COMPACT})], key=repr)


def test_samples_to_an_older_engine_are_dicts(transport, serve):
    """An engine older than 1.2 refuses get_desired at 1.2: it is asked
    again at 1.0 and the samples go as dicts, which it takes."""
    old = Recorder(ENGINE_METHODS, {'get_desired': [{'id': 'c1'}]})
    old.target = messaging.Target(version='1.1')
    serve(messaging.Target(topic='dpiaas-engine', server='e1'), old)
    api = engine_api.EngineAPI(transport)
    assert api.get_desired(None, 'h1', timeout=5) == [{'id': 'c1'}]
    assert api.compact is False
    api.report_samples(None, 'h1', [SAMPLE])
    assert old.wait(2)[-1] == ('report_samples', {'host': 'h1',
                                                  'samples': [SAMPLE]})


def test_a_version_cap_below_1_2_keeps_samples_dicts(transport, serve):
    eng = serve(messaging.Target(topic='dpiaas-engine', server='e1'),
                Recorder(ENGINE_METHODS, {'get_desired': []}))
    api = engine_api.EngineAPI(transport, version_cap='1.1')
    api.get_desired(None, 'h1')
    api.report_samples(None, 'h1', [SAMPLE])
    assert eng.wait(2) == [
        ('get_desired', {'host': 'h1'}),
        ('report_samples', {'host': 'h1', 'samples': [SAMPLE]})]


def test_compact_samples_names_once_per_batch():
    a = dict(SAMPLE, metrics={'x': 1, 'y': 2.5})
    b = dict(SAMPLE, ts=1.5, metrics={'x': 3, 'y': 4.0})
    other = dict(SAMPLE, collector_id='c2', monitor_id='m2',
                 metrics={'x': 5, 'y': 6})
    renamed = dict(SAMPLE, ts=2.0, metrics={'x': 7, 'z': 8})
    assert engine_api.compact_samples([a, other, b, renamed]) == {
        'names': [['x', 'y'], ['x', 'z']],
        'rows': [['c1', 'm1', 1.0, 500, 0, [1, 2.5]],
                 ['c2', 'm2', 1.0, 500, 0, [5, 6]],
                 ['c1', 'm1', 1.5, 500, 0, [3, 4.0]],
                 ['c1', 'm1', 2.0, 500, 1, [7, 8]]]}
    assert engine_api.compact_samples([]) == {'names': [], 'rows': []}


def test_buffered_reports_are_mandatory_heartbeats_are_not(transport):
    """What the agent buffers must come back as an error when the broker
    cannot route it (issue 7); a heartbeat need not."""
    api = engine_api.EngineAPI(transport)
    assert api.reports.transport_options.at_least_once
    assert not (api.client.transport_options
                and api.client.transport_options.at_least_once)
    sent = []
    for client, name in ((api.reports, 'reports'), (api.client, 'client')):
        client.prepare = (lambda name: lambda **kw: type(
            'C', (), {'cast': lambda self, ctxt, method, **kw:
                      sent.append((name, method)),
                      'can_send_version': lambda self, *v: True})())(name)
    api.report_samples(None, 'h1', [])
    api.report_flows(None, 'h1', [])
    api.collector_status(None, 'h1', 'c1', 'running')
    api.report_state(None, 'h1', {})
    assert sent == [('reports', 'report_samples'),
                    ('reports', 'report_flows'),
                    ('reports', 'collector_status'),
                    ('client', 'report_state')]


def test_dpiaas_defaults_to_durable_queues():
    conf = cfg.ConfigOpts()
    conf([], project='dpiaas')
    t = rpc_transport.get_rpc_transport(conf, url='fake://')
    t.cleanup()
    assert conf.oslo_messaging_rabbit.amqp_durable_queues is True


def test_a_config_file_still_chooses_transient_queues(tmp_path):
    path = tmp_path / 'dpiaas.conf'
    path.write_text('[oslo_messaging_rabbit]\namqp_durable_queues = false\n')
    conf = cfg.ConfigOpts()
    conf(['--config-file', str(path)], project='dpiaas')
    rpc_transport.get_rpc_transport(conf, url='fake://').cleanup()
    assert conf.oslo_messaging_rabbit.amqp_durable_queues is False
