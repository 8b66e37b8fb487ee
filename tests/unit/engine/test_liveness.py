from dpiaas.engine import liveness


def make_checker(world):
    return liveness.Liveness(world.storage, down_time=30,
                             lock=world.reconciler.lock, clock=world.clock)


def test_agent_unheard_for_down_time_flags_its_collectors(world):
    world.reconciler.reconcile_all()
    world.report('compute-1')
    assert world.mon['status'] == 'learning'
    world.clock.now += 31
    world.heartbeat('compute-2')
    down = make_checker(world).check()
    assert set(down) == {'compute-1'}
    [c] = world.collectors
    assert c['status'] == 'host_down'
    assert c['status_reason'] == \
        'agent on compute-1 has not reported for 31 s'
    assert world.mon['status'] == 'error'
    assert world.mon['status_reason'] == c['status_reason']


def test_agent_reporting_again_brings_its_collectors_back(world):
    world.reconciler.reconcile_all()
    world.report('compute-1')
    world.clock.now += 60
    make_checker(world).check()
    assert world.mon['status'] == 'error'
    world.report('compute-1')
    assert world.collectors[0]['status'] == 'running'
    assert world.mon['status'] == 'learning'


def test_live_agents_are_left_alone(world):
    world.reconciler.reconcile_all()
    world.report('compute-1')
    world.clock.now += 29
    assert make_checker(world).check() == {}
    assert world.collectors[0]['status'] == 'running'


def test_only_owned_monitors_are_touched(world):
    world.reconciler.reconcile_all()
    world.clock.now += 60
    checker = make_checker(world)
    checker.owns = lambda monitor_id: False
    checker.check()
    assert world.collectors[0]['status'] == 'scheduled'
