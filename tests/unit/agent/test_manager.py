"""The agent converges to what the engine wants, idempotently."""
import oslo_messaging as messaging
import pytest

from dpiaas.agent import manager as manager_mod
from dpiaas.agent import reporter as reporter_mod
from tests.unit.agent import fakes
from tests.unit.agent.waiting import wait_for


def test_diff_starts_missing_updates_changed_stops_the_rest():
    running = {'a': 1, 'b': 2, 'c': 3}
    desired = [fakes.collector('a', 1), fakes.collector('b', 3),
               fakes.collector('d', 1)]
    start, update, stop = manager_mod.diff(running, desired)
    assert [c['id'] for c in start] == ['d']
    assert [c['id'] for c in update] == ['b']
    assert stop == ['c']


def test_diff_updates_a_lower_generation_too():
    _, update, _ = manager_mod.diff({'a': 5}, [fakes.collector('a', 2)])
    assert [c['id'] for c in update] == ['a']


def test_diff_of_the_same_set_is_empty():
    assert manager_mod.diff({'a': 1}, [fakes.collector('a', 1)]) == \
        ([], [], [])


@pytest.fixture
def manager(conf, engine):
    taps = fakes.FakeTapFinder({'tapport-1', 'tapport-2', 'tapport-3'})
    m = manager_mod.AgentManager(conf, engine, tapfinder=taps,
                                 live_factory=fakes.FakeLive)
    yield m
    m.stop()


def ids(m):
    return sorted(m.runners)


def test_start_is_idempotent_by_generation(manager):
    manager.start_collector(None, fakes.collector('a', 1))
    first = manager.runners['a']
    manager.start_collector(None, fakes.collector('a', 1))
    assert manager.runners['a'] is first
    manager.update_collector(None, fakes.collector('a', 0))
    assert manager.runners['a'] is first
    manager.update_collector(None, fakes.collector('a', 2))
    assert manager.runners['a'] is not first
    assert manager.runners['a'].generation == 2
    wait_for(lambda: not first.alive(), what='old runner stopped')


def test_stop_collector_stops_and_reports_stopped(manager):
    manager.start_collector(None, fakes.collector('a', 1))
    runner = manager.runners['a']
    manager.stop_collector(None, 'a', 'monitor deleted')
    assert ids(manager) == []
    assert not runner.alive()
    assert manager.reporter.statuses['a'] == ('stopped', 'monitor deleted')
    manager.stop_collector(None, 'a', 'again')  # unknown: nothing happens


def test_sync_converges_and_is_idempotent(manager, monkeypatch):
    monkeypatch.setattr(manager_mod, 'SYNC_GRACE_S', 0.0)
    manager.start_collector(None, fakes.collector('a', 1, 'port-1'))
    manager.start_collector(None, fakes.collector('b', 1, 'port-2'))
    a = manager.runners['a']
    desired = [fakes.collector('a', 1, 'port-1'),
               fakes.collector('c', 1, 'port-3')]
    manager.sync(None, desired)
    assert ids(manager) == ['a', 'c']
    assert manager.runners['a'] is a
    c = manager.runners['c']
    manager.sync(None, desired)
    assert manager.runners['a'] is a and manager.runners['c'] is c


def test_a_sync_computed_before_a_start_cast_does_not_undo_it(manager):
    # the engine's heartbeat handler computed "nothing" just before the
    # reconciler cast a start; the sync arrives second
    manager.start_collector(None, fakes.collector('a', 1, 'port-1'))
    a = manager.runners['a']
    manager.sync(None, [])
    assert manager.runners['a'] is a
    manager.start_collector(None, fakes.collector('a', 2, 'port-1'))
    manager.sync(None, [fakes.collector('a', 1, 'port-1')])
    assert manager.runners['a'].generation == 2


def test_sync_ignores_collectors_of_another_host(manager):
    manager.sync(None, [fakes.collector('a', host='h2'),
                        fakes.collector('b', port_id='port-2')])
    assert ids(manager) == ['b']


def test_state_has_the_documented_shape(manager):
    manager.start_collector(None, fakes.collector('a', 3))
    wait_for(lambda: manager.runners['a'].status == 'running')
    state = manager.get_state(None)
    assert set(state) == {'started_at', 'version', 'collectors', 'buffer'}
    [col] = state['collectors']
    assert set(col) == {'id', 'generation', 'status', 'reason',
                        'interface', 'capture_packets', 'capture_drops'}
    assert (col['id'], col['generation'], col['status'],
            col['interface']) == ('a', 3, 'running', 'tapport-1')
    assert set(state['buffer']) == {'queued', 'dropped'}


def test_start_asks_the_engine_until_one_answers(conf, engine):
    engine.fail = messaging.MessagingTimeout('no engine')
    answers = []

    def get_desired(ctxt, host, timeout=None):
        if engine.fail is not None:
            raise engine.fail
        answers.append(host)
        return [fakes.collector('a')]

    engine.get_desired = get_desired
    m = manager_mod.AgentManager(conf, engine,
                                 tapfinder=fakes.FakeTapFinder({'tapport-1'}),
                                 live_factory=fakes.FakeLive)
    m.start()
    try:
        # the heartbeat goes on while no engine answers
        wait_for(lambda: not m.synced.is_set() and engine.fail is not None)
        engine.fail = None
        wait_for(m.synced.is_set, what='initial sync')
        assert answers == ['h1']
        assert ids(m) == ['a']
        wait_for(lambda: any(s['collectors'] for _, s in
                             engine.of('report_state')),
                 what='a heartbeat with the collector')
    finally:
        m.stop()
    assert ids(m) == []


def test_heartbeats_go_on_when_the_broker_is_down(conf, engine):
    m = manager_mod.AgentManager(conf, engine,
                                 tapfinder=fakes.FakeTapFinder(),
                                 live_factory=fakes.FakeLive)
    engine.fail = messaging.MessageDeliveryFailure('down')
    assert not m.report_state()
    engine.fail = None
    assert m.report_state()
    [(host, state)] = engine.of('report_state')
    assert host == 'h1' and state['collectors'] == []


def test_reports_reach_the_engine_with_collector_status(conf, engine):
    rep = reporter_mod.Reporter(engine, 'h1', batch_interval=0.02)
    m = manager_mod.AgentManager(conf, engine, reporter=rep,
                                 tapfinder=fakes.FakeTapFinder({'tapport-1'}),
                                 live_factory=fakes.FakeLive)
    m.start()
    try:
        m.sync(None, [fakes.collector('a')])
        wait_for(lambda: engine.of('report_samples'), what='samples')
        wait_for(lambda: ('h1', 'a', 'running', None) in
                 engine.of('collector_status'), what='running status')
    finally:
        m.stop()


def test_capture_ring_size_comes_from_the_config(manager, conf):
    conf.set_override('capture_ring_mb', 4, group='agent')
    fakes.FakeLive.instances.clear()
    manager.start_collector(None, fakes.collector('a', 1))
    wait_for(lambda: fakes.FakeLive.instances, what='capture started')
    assert fakes.FakeLive.instances[0].capture_opts == {
        'block_size': 1 << 20, 'block_count': 4}
