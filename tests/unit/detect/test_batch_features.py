"""Batched feature building (FeatureBank via process_tick) gives each
monitor exactly what the one-by-one path (Monitor.process) gives."""
import numpy as np

from dpiaas.detect import batch
from dpiaas.detect import features
from dpiaas.detect import monitor as monitor_mod
from tests.unit.detect.conftest import Feeder
from tests.unit.detect.conftest import make_monitor

DROP = ('http.80.latency_ms.p95', 'sip.5060.bytes_out')


def _metrics(trace, i, k, fault=None):
    m = trace.interval(fault)
    if k % 3 == 2:                # another schema: fewer metrics
        for name in DROP:
            m.pop(name)
    return m


def _twins(n):
    """Two identical fleets (one through the bytes of the other) with
    three schemas and both window-stat settings, trained."""
    one, two, traces = {}, {}, {}
    for k in range(n):
        kw = {'window_stats': ('mean', 'max', 'spread')} if k % 2 else {}
        if k == 3:
            kw = {'window': 1}
        mon, trace = make_monitor('m%d' % k, 'p%d' % (k % 2), seed=k,
                                  baseline_s=30.0, **kw)
        ts = 1.0e9
        while mon.status == 'learning':
            ts += 0.5
            mon.process(ts, _metrics(trace, 0, k), 500)
        key = 'm%d' % k
        one[key] = mon
        two[key] = monitor_mod.Monitor.from_bytes(mon.to_bytes())
        traces[key] = (trace, ts)
    return one, two, traces


def _same(a, b):
    ra, ea = a
    rb, eb = b
    assert (ra.status, ra.reason, ra.anomalous, ra.after_gap) == \
        (rb.status, rb.reason, rb.anomalous, rb.after_gap)
    if ra.vector is None or rb.vector is None:
        assert ra.vector is None and rb.vector is None
    else:
        np.testing.assert_array_equal(ra.vector, rb.vector)
        assert np.isclose(ra.score, rb.score, rtol=1e-9, atol=1e-12)
    assert (ea or {}).get('state') == (eb or {}).get('state')


def _oddity(i, k, m):
    """Gaps, bad values, None counts and NaN latencies, spread over
    monitors and ticks."""
    if (i + k) % 11 == 5:
        m['sip.5060.requests.register'] = 'lots'          # not a number
    elif (i + k) % 13 == 7:
        m['http.80.packets_in'] = -3                       # negative
    elif (i + k) % 17 == 3:
        m['http.80.bytes_in'] = float('inf')
    elif (i + k) % 7 == 1:
        m['sip.5060.responses.2xx'] = None                 # count None
    elif (i + k) % 5 == 2:
        m['sip.5060.latency_ms.p50'] = float('nan')        # no answers
    elif (i + k) % 9 == 4:
        m.pop('http.80.latency_ms.p50', None)
    return m


def test_batched_features_equal_one_by_one_with_oddities():
    one, two, traces = _twins(6)
    sc = batch.BatchScorer()
    ts = {k: t for k, (_, t) in traces.items()}
    seen = set()
    for i in range(60):
        samples = []
        for j, key in enumerate(sorted(one)):
            trace = traces[key][0]
            step = 1.0 if (i + j) % 19 == 10 else 0.5       # a gap
            ts[key] += step
            fault = 'db_5xx' if key == 'm1' and 30 <= i < 40 else None
            m = _oddity(i, j, _metrics(trace, i, j, fault))
            samples.append((key, ts[key], m, 500))
        got = batch.process_tick(two, [(k, t, dict(m), ms)
                                       for k, t, m, ms in samples], sc)
        for key, t, m, ms in samples:
            want = one[key].process(t, m, ms)
            _same(want, got[key])
            seen.add(want[0].reason.split(':')[0])
            seen.add('anomalous' if want[0].anomalous else 'normal')
    # gaps, both kinds of bad interval and anomalies were exercised
    assert all(one[k].detector._gaps for k in one)
    assert {'a metric value is not a number', 'negative or infinite count',
            'anomalous', 'normal'} <= seen
    assert one['m1'].alarm.state == two['m1'].alarm.state
    # monitors of equal schemas share one bank and one schema object
    assert len(sc.banks) == 5
    assert two['m0'].detector.schema is two['m4'].detector.schema
    for key in one:
        a, b = one[key].detector.extractor, two[key].detector.extractor
        np.testing.assert_array_equal(a._ring, b._ring)
        assert a._n == b._n


def test_bank_rows_freed_and_state_saved_from_bank():
    one, two, traces = _twins(3)
    sc = batch.BatchScorer()
    samples = [(k, traces[k][1] + 0.5, traces[k][0].interval(), 500)
               for k in two if k != 'm2']
    batch.process_tick(two, samples, sc)
    bank = sc.bank_for('m0', two['m0'].detector.extractor)
    assert len(bank) == 1
    # state taken from a bank row loads and goes on the same way
    again = monitor_mod.Monitor.from_bytes(two['m0'].to_bytes())
    ex = two['m0'].detector.extractor
    np.testing.assert_array_equal(again.detector.extractor._ring, ex._ring)
    sc.remove('m0')
    assert not sc.banks or not len(bank)
    np.testing.assert_array_equal(again.detector.extractor._ring, ex._ring)
    m = traces['m0'][0].interval()
    np.testing.assert_array_equal(again.detector.extractor.push(m, 0.5),
                                  ex.push(m, 0.5))


def test_rebaselined_monitor_leaves_its_bank_row():
    mon, trace = make_monitor(seed=1)
    f = Feeder(mon, trace)
    f.learn()
    sc = batch.BatchScorer()
    f.ts += 0.5
    batch.process_tick({'m': mon}, [('m', f.ts, trace.interval(), 500)], sc)
    old = mon.detector.extractor
    mon.rebaseline()
    f.learn()
    f.ts += 0.5
    out = batch.process_tick({'m': mon},
                             [('m', f.ts, trace.interval(), 500)], sc)
    assert out['m'][0].status == 'active'
    (bank,) = sc.banks.values()
    assert len(bank) == 1 and old._rings is not bank.rings


def test_schema_shared_by_equal_metric_sets():
    a = features.FeatureSchema.shared(['x.1.packets_in', 'y'], 3)
    b = features.FeatureSchema.shared(['y', 'x.1.packets_in', 'y',
                                       'capture.drops'], 3)
    c = features.FeatureSchema.shared(['y'], 3)
    assert a is b and a is not c
    assert features.FeatureSchema.from_dict(a.to_dict()) is a


def test_bank_median_equals_window_median():
    rng = np.random.default_rng(3)
    cont = rng.normal(size=(200, 4, 5)) * 100
    cont[rng.random(cont.shape) < 0.3] = np.nan      # missing levels
    cont[0] = np.nan                                 # nothing at all
    want = features.window_median(cont, 1)
    got = features.FeatureBank._median(cont)
    np.testing.assert_array_equal(got, want)
