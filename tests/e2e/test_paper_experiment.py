"""The 2017 paper's evaluation, end to end, in short phases for CI.

dpiaas-all-in-one watches the IMS testbed (SIPp -> Kamailio edge proxy ->
Kamailio registrar on PostgreSQL, nginx) through its REST API as tenant
``paper``. After a one-minute baseline, every anomaly kind is injected
once after a normal period: its alarm must rise on a VM it affects within
the target delay, name a plausible metric among the top three, and clear
after the restore; no alarm may rise in the normal periods.
``bench/paper.py`` runs the full protocol (10 injections of each kind,
30 minutes of normal periods) and prints the figures.
"""
import os

import pytest

from tests.e2e.testbed import anomalies
from tests.e2e.testbed import experiment as experiment_mod

pytestmark = [pytest.mark.root, pytest.mark.slow]

NORMAL_S = 12
# after an alarm clears, the restored service settles (Kamailio
# reconnecting to PostgreSQL, SIPp catching up): alarms then are
# after-effects, reported apart and not counted as false alarms
SETTLE_S = 10
# long enough to see the testbed's own jitter (60 s gave false alarms)
BASELINE_S = 150
# the target: median <= 3 intervals; a single injection gets a
# little slack for a slow CI machine
MAX_DELAY_INTERVALS = 6


@pytest.fixture(scope='module')
def experiment(testbed, tmp_path_factory):
    workdir = tmp_path_factory.mktemp('paper')
    with experiment_mod.Experiment(testbed, workdir,
                                   baseline_s=BASELINE_S) as ex:
        ex.wait_baseline()
        yield ex


def _kinds():
    kinds = list(anomalies.ANOMALIES)
    if not os.path.exists(anomalies.SHAPER):
        kinds = [k for k in kinds if k not in ('sip_delay', 'sip_loss')]
    return kinds


def test_every_anomaly_raises_a_plausible_alarm_and_normal_stays_quiet(
        experiment):
    periods, outcomes, after = [], [], []
    for name in _kinds():
        periods.append(experiment.normal(NORMAL_S))
        outcomes.append(experiment.inject(name))
        after.extend(experiment.normal(SETTLE_S).false_alarms)
    periods.append(experiment.normal(NORMAL_S))
    summary = experiment_mod.summarize(outcomes, periods)
    report = '\n'.join(repr(o) for o in outcomes) + '\n%s\n' % summary
    report += 'after-effects: %s\n' % [
        (role, h['timestamp'], h['reason']) for role, h in after]
    false = [(role, h['timestamp'], h['reason'])
             for p in periods for role, h in p.false_alarms]
    report += 'false alarms: %s\n' % false
    # bench/paper.py saw none in 30.5 minutes of normal periods on a
    # quiet machine; this short run may share its 2 cores with the rest
    # of CI, whose load alone can push a per-interval p95 up for a
    # second: one moment is tolerated, more is a regression.
    assert len({ts for _, ts, _ in false}) <= 1, \
        'false alarms in normal periods:\n%s\n%s' % (false, report)
    for o in outcomes:
        assert o.detected, 'no alarm for %s\n%s\n%s' % (
            o.anomaly, report, experiment.log(3000))
        assert o.delay_intervals <= MAX_DELAY_INTERVALS, report
        assert o.cause_in_top3, 'implausible explanation for %s\n%s' % (
            o.anomaly, report)
        assert o.cleared, 'alarm did not clear after %s\n%s' % (
            o.anomaly, report)
    assert summary['median_delay_intervals'] <= 3, report
    print(report)          # shown with -rP; the figures of a CI run
