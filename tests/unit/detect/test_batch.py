import numpy as np

from dpiaas.detect import batch
from dpiaas.detect import synthetic
from tests.unit.detect.conftest import Feeder
from tests.unit.detect.conftest import make_monitor


def _fleet(n, **kw):
    mons, traces = {}, {}
    for i in range(n):
        mon, trace = make_monitor('m%d' % i, 'p%d' % (i % 2), seed=i,
                                  baseline_s=60.0, **kw)
        f = Feeder(mon, trace)
        f.learn()
        mons['m%d' % i], traces['m%d' % i] = mon, trace
    return mons, traces


def test_batch_scores_equal_one_by_one_scores():
    mons, traces = _fleet(4)
    sc = batch.BatchScorer()
    items = []
    for k, mon in mons.items():
        sc.set(k, mon.detector)
        items.append((k, mon.detector.extractor.push(
            traces[k].interval('db_5xx' if k == 'm1' else None), 0.5)))
    got = sc.score(items)
    want = [mons[k].detector.score_vector(x)[0] for k, x in items]
    assert np.allclose(got, want)
    assert got[1] > 1.0


def test_each_monitor_scored_with_its_own_model():
    mons, traces = _fleet(2)
    traces['m1'].reg_rate = 200.0
    sc = batch.BatchScorer()
    for k, mon in mons.items():
        sc.set(k, mon.detector)
    x = mons['m1'].detector.extractor.push(traces['m1'].interval(), 0.5)
    a, b = sc.score([('m0', x), ('m1', x)])
    assert a != b


def test_remove_keeps_other_rows_right():
    mons, traces = _fleet(3)
    sc = batch.BatchScorer()
    for k, mon in mons.items():
        sc.set(k, mon.detector)
    sc.remove('m0')
    x = mons['m2'].detector.extractor.push(traces['m2'].interval(), 0.5)
    assert len(sc) == 2
    assert np.isclose(sc.score([('m2', x)])[0],
                      mons['m2'].detector.score_vector(x)[0])


def test_process_tick_raises_alarms_and_restacks_after_retraining():
    mons, traces = _fleet(3, retrain_interval_s=5.0)
    sc = batch.BatchScorer()
    ts = max(m.detector._last_ts for m in mons.values())
    for i in range(30):
        ts += 0.5
        fault = 'db_5xx' if i >= 25 else None
        samples = [(k, ts, traces[k].interval(fault if k == 'm2' else None),
                    500) for k in mons]
        out = batch.process_tick(mons, samples, sc)
    assert mons['m2'].alarm.state == 'alarm'
    assert mons['m0'].alarm.state == 'ok'
    assert out['m2'][0].explanation
    # retraining happened and the scorer followed the new version
    det = mons['m0'].detector
    assert sc._versions[sc._rows['m0']] == det.version


def test_slow_models_fall_back_to_one_by_one():
    mons, traces = _fleet(1, models='lof')
    sc = batch.BatchScorer()
    sc.set('m0', mons['m0'].detector)
    x = mons['m0'].detector.extractor.push(synthetic.Trace(9).interval(),
                                           0.5)
    assert np.isclose(sc.score([('m0', x)])[0],
                      mons['m0'].detector.score_vector(x)[0])


def test_scoring_bench_runs(capsys):
    from bench import detector_scoring
    detector_scoring.main(['--monitors', '40', '--distinct', '2',
                           '--ticks', '2'])
    out = capsys.readouterr().out
    assert 'batch score' in out and 'per-monitor loop' in out
