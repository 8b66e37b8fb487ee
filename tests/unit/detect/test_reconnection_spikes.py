"""The median window and the packet-based floor of byte rates: what keeps
one database reconnection from looking like a lasting change."""
import math

import numpy as np

from dpiaas.detect import features
from dpiaas.detect import params as params_mod

DB = {'generic.5432.packets_in': 10, 'generic.5432.bytes_in': 1460,
      'generic.5432.packets_out': 20, 'generic.5432.bytes_out': 2170}
SPIKE = {'generic.5432.packets_in': 17, 'generic.5432.bytes_in': 2502,
         'generic.5432.packets_out': 28, 'generic.5432.bytes_out': 3004}


def _pushes(schema, rows):
    ext = features.FeatureExtractor(schema)
    return [dict(zip(schema.names, ext.push(r, 0.5))) for r in rows]


def test_median_window_does_not_echo_one_spike():
    s = features.FeatureSchema(DB, window=3, stats=('median',))
    out = _pushes(s, [DB, DB, SPIKE, DB, DB])
    med = [x['generic.5432.bytes_in@median3'] for x in out]
    assert med == [2920.0] * 5
    # the mean carries the spike into the next two intervals
    s = features.FeatureSchema(DB, window=3, stats=('mean',))
    mean = [x['generic.5432.bytes_in@mean3']
            for x in _pushes(s, [DB, DB, SPIKE, DB, DB])]
    assert mean[2] > 2920.0 and mean[3] > 2920.0 and mean[4] > 2920.0


def test_median_window_follows_a_lasting_shift_at_once():
    s = features.FeatureSchema(DB, window=3, stats=('median',))
    out = _pushes(s, [DB, DB, DB, SPIKE, SPIKE])
    assert out[3]['generic.5432.packets_in@median3'] == 20.0
    assert out[4]['generic.5432.packets_in@median3'] == 34.0


def test_median_ignores_missing_latency():
    m = {'sip.5060.requests.register': 10, 'sip.5060.responses.2xx': 10,
         'sip.5060.latency_ms.p95': 10.0}
    s = features.FeatureSchema(m, window=3, stats=('median',))
    out = _pushes(s, [m, dict(m, **{'sip.5060.latency_ms.p95': None}),
                      dict(m, **{'sip.5060.latency_ms.p95': 30.0})])
    assert out[2]['sip.5060.latency_ms.p95@median3'] == 20.0


def _floor(metrics, names):
    s = features.FeatureSchema(metrics, window=3)
    means = np.zeros(s.size)
    for name, v in metrics.items():
        for n in (name, name + '@mean3'):
            means[s.names.index(n)] = v * 2.0
    floor = features.scale_floor(s, means.copy(), means, 0.5)
    return [floor[s.names.index(n)] for n in names]


def test_opaque_links_change_a_connection_at_a_time():
    """One reconnection of a database client (7 packets, 1 kB) stays
    within about one floor of an opaque link's packets and bytes."""
    pk, by, by_mean = _floor(DB, ('generic.5432.packets_in',
                                  'generic.5432.bytes_in',
                                  'generic.5432.bytes_in@mean3'))
    assert pk == features.CONNECTION_PACKETS / 0.5
    assert math.isclose(by, 146.0 * features.CONNECTION_PACKETS / 0.5)
    assert by == by_mean
    assert (2502 - 1460) / 0.5 / by < 1.0
    assert (17 - 10) / 0.5 / pk < 1.0


def test_decoded_services_keep_the_poisson_floor():
    sip = {'sip.5060.packets_in': 10, 'sip.5060.bytes_in': 5400,
           'sip.5060.requests.register': 10}
    pk, by = _floor(sip, ('sip.5060.packets_in', 'sip.5060.bytes_in'))
    assert math.isclose(pk, math.sqrt(10) / 0.5)
    assert math.isclose(by, features.BYTES_FLOOR * 5400 * 2)


def test_median_is_validated():
    assert params_mod.DetectorParams().window_stats == ('mean',)
    p = params_mod.DetectorParams.build({}, {'window_stats': 'median,max'})
    assert p.window_stats == ('median', 'max')


def test_one_database_reconnection_is_not_anomalous():
    """The paper testbed's database link after a restart: a perfectly
    regular baseline, then one worker reconnecting (measured counts)."""
    from dpiaas.detect import detector as detector_mod
    p = params_mod.DetectorParams(baseline_s=60.0)
    d = detector_mod.Detector('m', 'p', p)
    ts = 1000.0
    for _ in range(130):
        ts += 0.5
        d.step(ts, DB)
    assert d.status == 'active'
    scores = []
    for row in (SPIKE, DB, DB, dict((k, 2 * v - DB[k])
                                    for k, v in SPIKE.items())):
        ts += 0.5
        scores.append(d.step(ts, row).score)
    assert max(scores[:3]) < 1.0
    # two reconnections in one interval are news
    assert scores[3] >= 1.0
