import uuid

import pytest

from dpiaas.engine import scheduler
from tests.unit.engine import fakes

PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'


@pytest.fixture
def inv():
    inv = fakes.FakeInventory()
    inv.add_port(PORT, rules=[fakes.rule('udp', 5060, id='r-sip'),
                              fakes.rule('tcp', 80, id='r-http')])
    return inv


def monitor(**kw):
    m = {'id': 'mon-1', 'project_id': 'p1', 'name': 'ims',
         'server_id': 'server-1', 'port_id': None, 'protocols': {},
         'interval_ms': 500}
    m.update(kw)
    return m


def stored_of(plan):
    return {c['id']: dict(c) for c in plan.collectors}


def test_services_come_from_the_rules_with_their_source(inv):
    plan = scheduler.Scheduler(inv).plan(monitor())
    assert not plan.problems
    got = {(s['l4'], s['port_min'], s['app'], s['source'])
           for s in plan.services}
    assert got == {('udp', 5060, 'sip', 'rule r-sip'),
                   ('tcp', 80, 'http', 'rule r-http')}
    assert all(s['monitor_id'] == 'mon-1' and s['port_id'] == PORT
               for s in plan.services)
    [c] = plan.collectors
    got = {(s['l4'], s['port_min'], s['app'])
           for s in c['spec']['services']}
    assert got == {('udp', 5060, 'sip'), ('tcp', 80, 'http')}
    assert c['spec']['vm_ips'] == ['10.0.0.5']
    assert c['spec']['vm_macs'] == ['fa:16:3e:00:00:01']
    assert c['host'] == 'compute-1'
    assert c['tap_device'] == 'tap6f1c2b9e-5d'
    assert c['generation'] == 1 and c['status'] == 'scheduled'


def test_collector_id_is_stable_uuid5_of_monitor_and_port(inv):
    [c] = scheduler.Scheduler(inv).plan(monitor()).collectors
    assert c['id'] == scheduler.collector_id('mon-1', PORT)
    assert uuid.UUID(c['id']).version == 5
    assert c['id'] != scheduler.collector_id('mon-2', PORT)


def test_monitor_protocols_override_the_well_known_map(inv):
    inv.rules[PORT].append(fakes.rule('tcp', 9000, id='r-9000'))
    plan = scheduler.Scheduler(inv).plan(
        monitor(protocols={'tcp/9000': 'http'}))
    apps = {s['port_min']: (s['app'], s['source']) for s in plan.services}
    assert apps[9000] == ('http', 'override')


def test_unchanged_plan_keeps_generation_and_status(inv):
    sch = scheduler.Scheduler(inv)
    first = sch.plan(monitor())
    stored = stored_of(first)
    stored[first.collectors[0]['id']]['status'] = 'running'
    [again] = sch.plan(monitor(), stored).collectors
    assert again['generation'] == 1
    assert again['status'] == 'running'


@pytest.mark.parametrize('change', ['rule', 'host', 'tap', 'interval'])
def test_generation_bumps_when_host_tap_or_spec_change(inv, change):
    sch = scheduler.Scheduler(inv)
    stored = stored_of(sch.plan(monitor()))
    m = monitor()
    if change == 'rule':
        inv.rules[PORT].append(fakes.rule('udp', 53))
    elif change == 'host':
        inv.ports[PORT].host = 'compute-2'
    elif change == 'tap':
        inv.ports[PORT].tap_device = 'tapother'
    else:
        m['interval_ms'] = 1000
    [c] = sch.plan(m, stored).collectors
    assert c['generation'] == 2
    assert c['status'] == 'scheduled'


def test_unbound_port_is_a_problem_not_a_collector(inv):
    inv.ports[PORT].host = ''
    plan = scheduler.Scheduler(inv).plan(monitor())
    assert plan.collectors == []
    assert 'not bound to a host' in plan.reason


def test_sriov_port_is_unmonitorable(inv):
    inv.ports[PORT].vnic_type = 'direct'
    plan = scheduler.Scheduler(inv).plan(monitor())
    assert plan.collectors == []
    assert 'vnic_type direct' in plan.reason
    assert 'no tap device' in plan.reason


def test_port_without_tcp_or_udp_rule_is_a_problem(inv):
    inv.rules[PORT] = [fakes.rule('icmp'), fakes.rule(None)]
    plan = scheduler.Scheduler(inv).plan(monitor())
    assert plan.collectors == []
    assert 'no TCP/UDP rule to monitor' in plan.reason


def test_one_bad_port_does_not_hide_the_good_one(inv):
    inv.add_port('port-2', vnic_type='direct')
    plan = scheduler.Scheduler(inv).plan(monitor())
    assert [c['port_id'] for c in plan.collectors] == [PORT]
    assert [p for p, _r in plan.problems] == ['port-2']


def test_gone_server_and_port_say_so(inv):
    sch = scheduler.Scheduler(inv)
    plan = sch.plan(monitor(server_id='nope'))
    assert 'server nope no longer exists' in plan.reason
    plan = sch.plan(monitor(server_id=None, port_id='gone'))
    assert 'port gone no longer exists' in plan.reason
