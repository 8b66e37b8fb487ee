"""The paper's testbed works, and each anomaly shows in dpiaas's metrics.

These tests hold the testbed to what the e2e experiment relies on: the
SIP chain registers with digest auth against the subscriber database,
HTTP answers, the inventory describes the VMs as they are, and every
anomaly changes the metrics dpiaas's own collector (``dpiaas capture`` on
the VM's tap) computes, in the direction the anomaly declares, and they
recover after it is restored. Each anomaly test measures its own baseline
first, so the tests do not depend on their order.
"""
import os
import statistics
import time

import pytest

from dpiaas.inventory import static
from tests.e2e.testbed import ANOMALIES
from tests.e2e.testbed import anomalies
from tests.e2e.testbed import procs
from tests.e2e.testbed import Testbed

pytestmark = [pytest.mark.root, pytest.mark.slow]

BASELINE = 6        # intervals of 500 ms before injecting
SETTLE = 1.0        # seconds after inject/restore before judging
HOLD = 6            # intervals judged during the anomaly
RECOVERY = 3        # consecutive normal intervals after restore
RECOVERY_TIMEOUT = 20


def test_sip_registers_through_bono_and_sprout_with_digest_auth(testbed):
    before = testbed.load_stats()['sipp']

    stats = testbed.check_sip(calls=10)

    assert stats == {'successful': 10, 'failed': 0}
    # the steady load registers too, without failures while nothing is
    # injected
    procs.wait_for(lambda: testbed.load_stats()['sipp']['successful'] >=
                   before['successful'] + 2 * testbed.sip_rate, 15,
                   'steady SIPp registrations')
    assert testbed.load_stats()['sipp']['failed'] == before['failed']
    subscribers = int(testbed.homestead.psql(
        'SELECT count(*) FROM subscriber'))
    assert subscribers == testbed.subscribers


def test_http_answers_and_the_steady_load_succeeds(testbed):
    before = testbed.load_stats()['http']

    assert testbed.check_http() == ['200'] * 5

    procs.wait_for(lambda: testbed.load_stats()['http']['ok'] >=
                   before['ok'] + 2 * testbed.http_rate, 15,
                   'steady HTTP responses')
    assert testbed.load_stats()['http']['errors'] == before['errors']


def test_inventory_describes_each_vm_as_it_is(testbed):
    inv = static.StaticInventory(testbed.inventory(), source='testbed')
    assert len(inv.ports) == 5
    for port in inv.ports:
        vm = next(v for v in testbed.vms.values() if v.port_id == port.id)
        assert port.nova_tap_name == vm.tap == 'tap' + port.id[:11]
        link = procs.run('ip', '-o', 'link', 'show', 'dev', vm.tap).stdout
        assert vm.tap in link
        eth0 = vm.run('ip', '-o', 'link', 'show', 'dev', 'eth0').stdout
        assert port.mac in eth0
        assert vm.ip in vm.run('ip', '-o', '-4', 'addr', 'show').stdout
        assert port.ips == [vm.ip]
    sprout = inv.ports_of(port_id=testbed.vm('sprout').port_id)[0]
    services = {(s.role, s.l4, s.port_min, s.app)
                for s in inv.derivation_of(sprout).plain_services}
    assert services == {('offered', 'udp', 5060, 'sip'),
                        ('consumed', 'tcp', 5432, 'generic')}


# --------------------------------------------------------- anomalies ----

def _median(values):
    return statistics.median(values) if values else None


def _latency(cap, metric, since, until=None):
    return cap.values(metric, since, until, default=None)


# name -> (role, metric, is a latency, effect(base, during values),
#          normal(base, one interval's value))
CASES = {
    'sip_delay': (
        'bono', 'sip.5060.latency_ms.p95', True,
        lambda b, v: _median(v) >= b + 150,
        lambda b, x: x is not None and x < b + 50),
    'sip_loss': (
        'bono', 'sip.5060.latency_ms.p95', True,
        lambda b, v: _median(v) >= b + 300,   # SIP retransmits at 500 ms
        lambda b, x: x is not None and x < b + 50),
    'db_down': (
        'sprout', 'sip.5060.responses.2xx', False,
        lambda b, v: max(v) == 0,
        lambda b, x: x >= b / 2),
    'sip_forbidden': (
        'sprout', 'sip.5060.responses.2xx', False,
        lambda b, v: max(v) == 0,
        lambda b, x: x >= b / 2),
    'web_down': (
        'web', 'http.80.responses.2xx', False,
        lambda b, v: max(v) == 0,
        lambda b, x: x >= b / 2),
    'register_flood': (
        'bono', 'sip.5060.requests.register', False,
        lambda b, v: _median(v) >= 5 * b,
        lambda b, x: x <= 2 * b),
}


def _series(cap, metric, latency, since, until=None):
    if latency:
        return _latency(cap, metric, since, until)
    return cap.values(metric, since, until)


def _recovered(cap, metric, latency, base, normal, since):
    """Wait for RECOVERY consecutive normal intervals after ``since``."""
    def found():
        run = 0
        for interval in cap.intervals(since):
            value = interval['metrics'].get(metric, None if latency else 0)
            run = run + 1 if normal(base, value) else 0
            if run >= RECOVERY:
                return True
        return False

    procs.wait_for(found, RECOVERY_TIMEOUT, 'recovery of %s' % metric, 0.25)


@pytest.mark.parametrize('name', sorted(CASES))
def test_anomaly_changes_metrics_and_recovers(testbed, name, request):
    if name in ('sip_delay', 'sip_loss'):
        request.getfixturevalue('require_shaper')
    role, metric, latency, effect, normal = CASES[name]
    anomaly = testbed.anomaly(name)
    roles = sorted({role} | {r for r, _, _ in anomaly.expected})
    caps = {r: testbed.capture(r) for r in roles}
    try:
        for cap in caps.values():
            cap.spawn()
        for cap in caps.values():
            cap.wait_started()
        cap = caps[role]
        t0 = time.time()
        for c in caps.values():
            c.wait_intervals(t0, BASELINE)
        t1 = time.time()
        base = _median(_series(cap, metric, latency, t0, t1))
        assert base is not None and (latency or base > 0), (
            'no baseline traffic for %s on %s' % (metric, role))

        anomaly.inject()
        try:
            assert testbed._active == [anomaly]
            cap.wait_intervals(t1 + SETTLE, HOLD)
            t2 = time.time()
            during = _series(cap, metric, latency, t1 + SETTLE, t2)
            assert during and effect(base, during), (
                '%s: %s on %s did not change as expected: baseline %s, '
                'during %s' % (name, metric, role, base, during))
            for r, m, direction in anomaly.expected:
                lat = 'latency' in m
                b = _median(_series(caps[r], m, lat, t0, t1)) or 0
                d = _median(_series(caps[r], m, lat, t1 + SETTLE, t2)) or 0
                assert (d > b) if direction == 'up' else (d < b), (
                    '%s: %s on %s should go %s: baseline median %s, '
                    'during %s' % (name, m, r, direction, b, d))
        finally:
            anomaly.restore()
        assert testbed._active == []
        rules = testbed.vm(anomaly.target).run(
            anomalies.iptables(), '-t', 'mangle', '-S', 'OUTPUT').stdout
        assert 'NFQUEUE' not in rules
        t3 = time.time()
        _recovered(cap, metric, latency, base, normal, t3 + SETTLE)
    finally:
        anomaly.restore()
        for c in caps.values():
            c.stop()


def test_every_anomaly_is_tested():
    assert set(CASES) == set(ANOMALIES)


def test_teardown_on_failure_removes_namespaces_veths_and_processes(
        tmp_path, require_testbed):
    pids = []
    with pytest.raises(RuntimeError, match='a failing test'):
        with Testbed(tmp_path, subscribers=5) as tb:
            vms = list(tb.vms.values())
            tb.start_load()
            tb.anomaly('web_down').inject()
            if os.path.exists(anomalies.SHAPER):
                delay = tb.anomaly('sip_delay')
                delay.inject()
                pids.append(delay.shaper.proc.pid)
            pids += [tb.bono.proc.pid, tb.sprout.proc.pid,
                     tb.homestead.proc.pid]
            pids += [load.proc.pid for load in tb.loads.values()]
            raise RuntimeError('a failing test')

    netns = procs.run('ip', 'netns', 'list').stdout
    links = procs.run('ip', '-o', 'link').stdout
    for vm in vms:
        assert vm.ns not in netns
        assert vm.tap not in links
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
