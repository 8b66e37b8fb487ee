"""Issue 7's first fault: the agent killed with SIGKILL and restarted.

Real parts as in :mod:`test_faults` (engine and agent processes, a
private RabbitMQ, SQLite, a veth "VM" answering SIP OPTIONS sent all
along). The monitor learns a short baseline first, so that its detector
scores every interval when the agent dies. Then:

* the collector is restored: samples flow again within 10 s of the
  agent's restart (it asks the engine for its collectors at start);
* the gap is recorded as a gap: no sample is stored for the intervals
  the agent was dead (no fabricated zeros), and the series shows the
  hole;
* no alarm fires on the gap (the detector skips the partial interval
  after a restart and restarts its window).
"""
import signal
import threading
import time

import pytest

from tests.functional.faults import test_faults
from tests.functional.sip_probe import send_options, wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]

DEAD_S = 5.0            # how long the agent stays dead
RESTORE_LIMIT = 10.0    # issue 7: collectors restored within 10 s


@pytest.fixture
def deployment(tmp_path, broker, vm):
    d = test_faults.Deployment(tmp_path, broker, vm)
    d.monitor_fields = {'detector': {'baseline_s': 20}}
    done = threading.Event()

    def traffic():
        while not done.wait(0.1):
            send_options(vm.ip, 1)
    sender = threading.Thread(target=traffic, daemon=True)
    try:
        d.up()
        sender.start()
        yield d
    finally:
        done.set()
        if sender.is_alive():
            sender.join(10)
        d.down()


def test_agent_sigkill_restores_collectors_and_leaves_a_true_gap(
        deployment):
    d = deployment
    mid = d.monitor['id']
    wait_for(lambda: d.storage.get_monitor(mid)['status'] == 'active', 180,
             'the monitor to learn its baseline\n' + d.logs())
    # a few scored intervals before the fault
    active_at = time.time()
    wait_for(lambda: any(t > active_at + 2 for t, _ in
                         d.series(active_at)), 30,
             'samples after activation\n' + d.logs())

    d.agent.stop(signal.SIGKILL)
    killed_at = time.time()
    time.sleep(DEAD_S)              # the outage itself
    d.agent.start('dpiaas-agent')
    restarted_at = time.time()
    t0 = time.monotonic()
    wait_for(lambda: any(t >= restarted_at for t, _ in
                         d.series(killed_at - 5)), 60,
             'samples from the restarted agent\n' + d.logs())
    restored = time.monotonic() - t0
    # and scoring goes on for a while after it
    wait_for(lambda: any(t >= restarted_at + 5 for t, _ in
                         d.series(killed_at - 5)), 30,
             'samples after the restart\n' + d.logs())

    aid = d.storage.get_monitor(mid)['alarm_id']
    series = d.series(killed_at - 5)
    dead = [(t, v) for t, v in series
            if killed_at + 1.0 < t < restarted_at - 0.5]
    gap = test_faults.max_gap(series, killed_at - 5, restarted_at + 5)
    history = d.storage.list_alarm_history(aid)
    fired = [h for h in history if h['state'] == 'alarm']
    alarm = d.storage.get_alarm(aid)
    print('\nagent SIGKILLed, dead %.1f s; samples again %.1f s after its '
          'restart; largest gap %.1f s; stored while dead: %d; alarm %s'
          % (restarted_at - killed_at, restored, gap or 0, len(dead),
             alarm['state']))
    assert restored <= RESTORE_LIMIT, d.logs()
    assert dead == [], 'samples fabricated for the dead agent: %r' % dead
    assert gap is not None and gap >= DEAD_S - 1.0, series
    assert fired == [], (fired, d.logs())
    assert alarm['state'] != 'alarm', alarm
    assert d.alive() and d.tracebacks() == {'engine': 0, 'agent': 0}, \
        d.logs()
