import threading

from dpiaas.inventory import base
from tests.unit.engine import conftest
from tests.unit.engine import fakes


def test_first_pass_starts_the_collector_on_the_ports_host(world):
    world.reconciler.reconcile_all()
    [(method, host, c)] = world.agents.casts
    assert (method, host) == ('start_collector', 'compute-1')
    assert c['port_id'] == conftest.PORT and c['generation'] == 1
    [stored] = world.collectors
    assert stored['id'] == c['id'] and stored['status'] == 'scheduled'
    assert [s['port_min'] for s in
            world.storage.list_services(world.monitor['id'])] == [5060]
    assert world.mon['status'] == 'pending'
    assert 'waiting for the agent on compute-1' in world.mon['status_reason']


def test_nothing_changed_nothing_cast(world):
    world.reconciler.reconcile_all()
    world.agents.clear()
    world.reconciler.reconcile_all()
    assert world.agents.casts == []


def test_rule_added_casts_an_update_with_the_next_generation(world):
    world.reconciler.reconcile_all()
    world.agents.clear()
    world.inv.rules[conftest.PORT].append(fakes.rule('tcp', 80, id='r-web'))
    world.reconciler.reconcile_all()
    [(method, host, c)] = world.agents.casts
    assert (method, host) == ('update_collector', 'compute-1')
    assert c['generation'] == 2
    assert {s['port_min'] for s in c['spec']['services']} == {5060, 80}
    assert {s['source'] for s in world.storage.list_services(
        world.monitor['id'])} == {'rule r-sip', 'rule r-web'}


def test_port_moved_stops_on_old_host_and_starts_on_new(world):
    world.reconciler.reconcile_all()
    [old] = world.collectors
    world.agents.clear()
    world.inv.ports[conftest.PORT].host = 'compute-2'
    world.reconciler.reconcile_all()
    assert world.agents.casts[0] == ('stop_collector', 'compute-1',
                                     old['id'])
    method, host, c = world.agents.casts[1]
    assert (method, host, c['id']) == ('start_collector', 'compute-2',
                                       old['id'])
    [new] = world.collectors
    assert new['host'] == 'compute-2' and new['generation'] == 2


def test_port_deleted_stops_collector_and_sets_error(world):
    world.reconciler.reconcile_all()
    [old] = world.collectors
    world.agents.clear()
    del world.inv.ports[conftest.PORT]
    world.reconciler.reconcile_all()
    assert world.agents.casts == [('stop_collector', 'compute-1', old['id'])]
    assert world.collectors == []
    assert world.mon['status'] == 'error'
    assert 'no longer exists' in world.mon['status_reason']


def test_unbound_port_sets_error_with_reason(world):
    world.inv.ports[conftest.PORT].host = ''
    world.reconciler.reconcile_all()
    assert world.agents.casts == []
    assert world.mon['status'] == 'error'
    assert 'not bound to a host' in world.mon['status_reason']


def test_agent_down_is_the_monitors_error(world):
    world.reconciler.reconcile_all()
    world.clock.now += 47
    world.heartbeat('compute-2')
    world.reconciler.reconcile_all()
    assert world.mon['status'] == 'error'
    assert world.mon['status_reason'] == \
        'agent on compute-1 has not reported for 47 s'
    assert world.collectors[0]['status'] == 'host_down'


def test_inventory_outage_keeps_the_last_state(world):
    world.reconciler.reconcile_all()
    before = (world.mon, world.collectors)
    world.agents.clear()
    world.inv.fail = base.InventoryError('neutron unreachable')
    world.reconciler.reconcile_all()
    assert world.agents.casts == []
    assert (world.mon, world.collectors) == before


def test_deleted_monitor_gets_its_collectors_stopped(world):
    world.reconciler.reconcile_all()
    [old] = world.collectors
    world.agents.clear()
    world.storage.delete_monitor(world.monitor['id'])
    world.reconciler.reconcile(world.monitor['id'])
    assert world.agents.casts == [('stop_collector', 'compute-1', old['id'])]


def test_monitors_of_other_engines_are_left_alone(world):
    world.reconciler.owns = lambda monitor_id: False
    world.reconciler.reconcile_all()
    assert world.agents.casts == []


def test_monitor_changed_reconciles_at_once(world):
    world.reconciler.interval = 3600
    world.reconciler.start()
    try:
        wait_for(lambda: world.reconciler.passes == 1)
        world.inv.rules[conftest.PORT].append(fakes.rule('tcp', 80))
        world.reconciler.monitor_changed(world.monitor['id'])
        wait_for(lambda: world.agents.of('update_collector'))
    finally:
        world.reconciler.stop()


def test_loop_survives_a_failing_pass(world):
    calls = []

    def boom():
        calls.append(1)
        raise RuntimeError('database is down')

    world.storage.list_monitors = boom
    world.reconciler.start()
    try:
        wait_for(lambda: len(calls) >= 2)
    finally:
        world.reconciler.stop()


def wait_for(predicate, timeout=10):
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        done.wait(0.01)
    raise AssertionError('condition not met in %s s' % timeout)


def test_collector_its_agent_stopped_is_started_again(world):
    world.reconciler.reconcile_all()
    cid = world.collectors[0]['id']
    world.endpoint.collector_status(None, 'compute-1', cid, 'stopped',
                                    'agent shutting down')
    world.agents.clear()
    world.reconciler.reconcile_all()
    assert [(m, h) for m, h, _c in world.agents.casts] == [
        ('start_collector', 'compute-1')]
    assert world.collectors[0]['status'] == 'scheduled'
    assert world.mon['status'] == 'pending'


def test_a_settled_pass_reads_collectors_once_and_writes_nothing(world):
    """Thousands of monitors: a pass where nothing changed must not cost
    a query per monitor (one read of every collector, services compared
    with what was stored last)."""
    world.reconciler.reconcile_all()
    world.reconciler.reconcile_all()      # services seen stored once
    calls = []
    for name in ('list_collectors', 'list_services', 'upsert_collector',
                 'set_services', 'update_monitor'):
        real = getattr(world.storage, name)

        def spy(*args, _name=name, _real=real, **kwargs):
            calls.append((_name, kwargs))
            return _real(*args, **kwargs)
        setattr(world.storage, name, spy)
    world.agents.clear()
    world.reconciler.reconcile_all()
    assert calls == [('list_collectors', {})]
    assert world.agents.casts == []


def test_a_change_is_still_decided_on_a_fresh_read(world):
    """The pass's early read may be stale (an agent reported meanwhile):
    what is written comes from a read under the lock."""
    world.reconciler.reconcile_all()
    [c] = world.collectors
    world.inv.ports[conftest.PORT].host = 'compute-2'
    real = world.storage.list_collectors

    def list_collectors(host=None, monitor_id=None):
        out = real(host=host, monitor_id=monitor_id)
        if monitor_id is None and host is None:
            # the agent's 'running' arrives after the pass's read
            world.storage.upsert_collector({'id': c['id'],
                                            'status': 'running'})
        return out
    world.storage.list_collectors = list_collectors
    world.agents.clear()
    world.reconciler.reconcile_all()
    [new] = world.collectors
    assert new['host'] == 'compute-2' and new['generation'] == 2
    assert [m for m, _h, _c in world.agents.casts] == ['stop_collector',
                                                       'start_collector']
