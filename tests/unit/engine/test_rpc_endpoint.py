import pytest

from dpiaas.engine import rpc_endpoint
from tests.unit.engine import fakes

SAMPLE = {'collector_id': 'c', 'monitor_id': 'm', 'ts': 1.0,
          'interval_ms': 500, 'metrics': {'x': 1, 'y': 2.5}}


def test_agent_restart_gets_a_sync_with_its_full_desired_set(world):
    world.reconciler.reconcile_all()
    world.report('compute-1', started_at=1.0)
    world.agents.clear()
    world.report('compute-1', started_at=1.0)
    assert world.agents.of('sync') == []
    # restarted: it runs nothing yet and its start time changed
    world.endpoint.report_state(None, 'compute-1',
                                {'started_at': 2.0, 'collectors': []})
    [(method, host, desired)] = world.agents.casts
    assert (method, host) == ('sync', 'compute-1')
    assert [c['id'] for c in desired] == [world.collectors[0]['id']]


def test_agent_running_another_set_gets_a_sync(world):
    world.reconciler.reconcile_all()
    world.report('compute-1')
    world.agents.clear()
    world.endpoint.report_state(None, 'compute-1', {
        'started_at': 1.0, 'collectors': [
            {'id': world.collectors[0]['id'], 'generation': 1,
             'status': 'running'},
            {'id': 'stale', 'generation': 3, 'status': 'running'}]})
    assert [m for m, _h, _c in world.agents.casts] == ['sync']


def test_running_report_moves_monitor_to_learning(world):
    world.reconciler.reconcile_all()
    world.report('compute-1')
    assert world.collectors[0]['status'] == 'running'
    assert world.mon['status'] == 'learning'
    assert 'learning normal behaviour for 60 s' in \
        world.mon['status_reason']


def test_collector_error_is_the_monitors_error(world):
    world.reconciler.reconcile_all()
    cid = world.collectors[0]['id']
    world.endpoint.collector_status(None, 'compute-1', cid, 'error',
                                    'tap device tap6f1c2b9e-5d not found')
    assert world.collectors[0]['status'] == 'error'
    assert world.mon['status'] == 'error'
    assert world.mon['status_reason'] == \
        'collector on compute-1: tap device tap6f1c2b9e-5d not found'
    world.endpoint.collector_status(None, 'compute-1', cid, 'running')
    assert world.mon['status'] == 'learning'


def test_status_from_a_host_the_port_left_is_ignored(world):
    world.reconciler.reconcile_all()
    cid = world.collectors[0]['id']
    world.endpoint.collector_status(None, 'compute-2', cid, 'stopped')
    assert world.collectors[0]['status'] == 'scheduled'
    world.endpoint.collector_status(None, 'compute-1', 'unknown', 'running')


def test_get_desired_lists_the_hosts_collectors(world):
    world.reconciler.reconcile_all()
    [c] = world.endpoint.get_desired(None, 'compute-1')
    assert c['id'] == world.collectors[0]['id'] and c['spec']['services']
    assert world.endpoint.get_desired(None, 'compute-2') == []


def test_samples_go_to_ingest_and_flows_to_storage():
    storage = fakes.FakeStorage()
    got = []

    class Ingest:
        def add(self, samples):
            got.extend(samples)

    ep = rpc_endpoint.EngineEndpoint(storage, Ingest(), fakes.FakeAgentAPI())
    ep.report_samples(None, 'h', [SAMPLE])
    ep.report_flows(None, 'h', [{'collector_id': 'c', 'flows': []}])
    assert [s.to_dict() for s in got] == [SAMPLE]
    assert len(storage.flows) == 1


class Collected(list):
    """An ingest that keeps what it is given."""

    def add(self, samples):
        self.extend(samples)


def _endpoint():
    got = Collected()
    return rpc_endpoint.EngineEndpoint(fakes.FakeStorage(), got,
                                       fakes.FakeAgentAPI()), got


def test_compact_samples_1_2_become_rows_without_dicts():
    ep, got = _endpoint()
    ep.report_samples(None, 'h', compact={
        'names': [['x', 'y']],
        'rows': [['c', 'm', 1.0, 500, 0, [1, 2]],
                 ['c', 'm', 1.5, 500, 0, [3, 4]]]})
    assert [tuple(s) for s in got] == [
        ('c', 'm', 1.0, 500, ('x', 'y'), [1, 2]),
        ('c', 'm', 1.5, 500, ('x', 'y'), [3, 4])]
    # the names tuple is shared, not copied per interval
    assert got[0].names is got[1].names
    assert got[1].metrics == {'x': 3, 'y': 4}


@pytest.mark.parametrize('kwargs', [
    {'samples': [{'collector_id': 'c', 'metrics': {}}]},
    {'compact': {'names': [['x']], 'rows': [['c', 'm', 1.0, 500, 0,
                                             [1, 2]]]}},
    {'compact': {'names': [['x']], 'rows': [['c', 'm', 1.0, 500, 1,
                                             [1]]]}},
    {'compact': {'names': [['x']], 'rows': [['c', 'm', 1.0]]}},
    {'compact': {'rows': []}},
    {'compact': 'garbage'},
])
def test_malformed_samples_are_dropped_in_one_line(kwargs, caplog):
    ep, got = _endpoint()
    ep.report_samples(None, 'h', **kwargs)
    assert got == []
    assert 'samples from h dropped: bad sample' in caplog.text


def test_control_endpoint_queues_the_monitor(world):
    seen = []
    world.reconciler.monitor_changed = seen.append
    rpc_endpoint.EngineControlEndpoint(world.reconciler).monitor_changed(
        None, 'mon-x')
    assert seen == ['mon-x']


def test_forwarded_samples_are_scored_not_stored_again():
    stored, scored = [], []

    class Ingest:
        def add(self, samples):
            stored.extend(samples)

    ep = rpc_endpoint.EngineEndpoint(fakes.FakeStorage(), Ingest(),
                                     fakes.FakeAgentAPI(),
                                     score=scored.extend)
    ep.score_samples(None, [SAMPLE])
    ep.score_samples(None, [])
    ep.score_samples(None, compact={
        'names': [['x']], 'rows': [['c', 'm', 2.0, 500, 0, [7]]]})
    assert [s.to_dict() for s in scored] == [
        SAMPLE, {'collector_id': 'c', 'monitor_id': 'm', 'ts': 2.0,
                 'interval_ms': 500, 'metrics': {'x': 7}}]
    assert stored == []
