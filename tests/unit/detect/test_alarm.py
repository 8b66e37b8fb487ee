"""The alarm evaluator: every transition, hysteresis, gaps."""
import pytest

from dpiaas.detect import alarm
from dpiaas.detect.detector import Result

EXPL = [{'metric': 'sip.5060.responses.2xx', 'observed': 0.0,
         'expected': 20.0, 'unit': '/s'}]


def r(ts, anomalous=False, score=None, status='active', after_gap=False):
    if score is None:
        score = 3.0 if anomalous else 0.3
    return Result(ts, status, score=score, anomalous=anomalous,
                  explanation=EXPL if anomalous else [],
                  after_gap=after_gap, reason='learning: 3 of 60 s')


def ev(k=2, n=3, clear=6, **kw):
    return alarm.AlarmEvaluator(k, n, clear, **kw)


def run(e, seq, start=0):
    events = []
    for i, a in enumerate(seq):
        out = e.update(r(start + i, a))
        if out:
            events.append(out)
    return events


def test_starts_insufficient_with_a_reason():
    e = ev()
    assert e.state == alarm.INSUFFICIENT and e.reason


def test_learning_keeps_insufficient_data_and_says_why():
    e = ev()
    assert e.update(r(0, status='learning')) is None
    assert e.state == alarm.INSUFFICIENT
    assert 'learning' in e.reason


def test_insufficient_to_ok_when_active():
    e = ev()
    e.update(r(0, status='learning'))
    out = e.update(r(1))
    assert out['previous'] == 'insufficient_data' and out['state'] == 'ok'
    assert 'baseline learned' in out['reason']


def test_event_shape():
    e = ev()
    out = e.update(r(1))
    assert set(out) == {'previous', 'state', 'reason', 'score',
                        'severity', 'explanation', 'timestamp'}


def test_single_anomalous_interval_does_not_raise():
    e = ev()
    run(e, [False, True, False, False, True, False])
    assert e.state == alarm.OK


def test_k_of_n_raises_with_explanation_and_severity():
    e = ev()
    events = run(e, [False, True, False, True])
    assert events[-1]['state'] == 'alarm'
    assert events[-1]['previous'] == 'ok'
    assert events[-1]['severity'] == 'moderate'
    assert 'sip.5060.responses.2xx' in events[-1]['reason']
    assert events[-1]['explanation'] == EXPL


def test_insufficient_to_alarm_directly():
    e = ev()
    events = run(e, [True, True])
    assert [x['state'] for x in events] == ['alarm']
    assert events[0]['previous'] == 'insufficient_data'


def test_clearing_needs_a_full_recovery_window():
    e = ev(clear=6)
    run(e, [True, True])
    events = run(e, [False] * 5, start=2)
    assert e.state == alarm.ALARM and not events
    events = run(e, [False], start=7)
    assert events[0]['state'] == 'ok' and events[0]['previous'] == 'alarm'
    assert 'recovered' in events[0]['reason']


def test_anomaly_during_recovery_restarts_it():
    e = ev(clear=6)
    run(e, [True, True] + [False] * 4 + [True] + [False] * 5)
    assert e.state == alarm.ALARM
    run(e, [False], start=20)
    assert e.state == alarm.OK


def test_recovery_window_shorter_than_raise_window_is_refused():
    with pytest.raises(ValueError):
        alarm.AlarmEvaluator(2, 3, 2)


def test_gap_breaks_the_k_of_n_run():
    e = ev()
    e.update(r(0, True))
    e.update(r(5, True, after_gap=True))
    assert e.state != alarm.ALARM
    e.update(r(6, True))
    assert e.state == alarm.ALARM


def test_skipped_intervals_never_raise():
    e = ev()
    e.update(r(0))
    for i in range(10):
        e.update(Result(i + 1, 'skipped', reason='collector restarted'))
    assert e.state == alarm.OK


def test_no_data_goes_insufficient_never_alarm():
    e = ev(no_data_s=30)
    run(e, [False] * 3)
    assert e.no_data(10) is None
    out = e.no_data(40)
    assert out['state'] == 'insufficient_data' and out['previous'] == 'ok'
    assert 'no metrics' in out['reason']
    assert e.no_data(100) is None       # once


def test_alarm_to_insufficient_on_no_data():
    e = ev(no_data_s=30)
    run(e, [True, True])
    out = e.no_data(100)
    assert out['previous'] == 'alarm' and out['state'] == INSUF


INSUF = 'insufficient_data'


def test_data_again_after_no_data():
    e = ev(no_data_s=30)
    run(e, [False])
    e.no_data(100)
    out = e.update(r(101))
    assert out['state'] == 'ok' and 'data again' in out['reason']


def test_new_normal_flag_after_long_alarm():
    e = ev(new_normal_s=10)
    run(e, [True] * 5)
    assert not e.new_normal
    run(e, [True] * 10, start=5)
    assert e.new_normal and 'new normal' in e.reason


def test_reason_is_never_empty():
    e = ev()
    for i, a in enumerate([False, True, True, False, False, False, False,
                           False, False, False]):
        e.update(r(i, a))
        assert e.reason


def test_severity_from_score():
    assert alarm.severity(0.5) is None
    assert alarm.severity(1.5) == 'low'
    assert alarm.severity(3) == 'moderate'
    assert alarm.severity(10) == 'critical'


def test_state_round_trip():
    e = ev()
    run(e, [True, True, False])
    e2 = ev()
    e2.set_state(e.get_state())
    assert e2.get_state() == e.get_state()
