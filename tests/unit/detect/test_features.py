import math

import numpy as np

from dpiaas.detect import features

SIP = {
    'sip.5060.requests.register': 20, 'sip.5060.responses.2xx': 9,
    'sip.5060.responses.4xx': 10, 'sip.5060.responses.5xx': 1,
    'sip.5060.packets_in': 20, 'sip.5060.packets_out': 20,
    'sip.5060.latency_ms.p95': 12.0, 'capture.drops': 0,
}


def _vec(schema, metrics, dt=0.5):
    ext = features.FeatureExtractor(schema)
    x = ext.push(metrics, dt)
    return dict(zip(schema.names, x))


def test_counts_become_rates_per_second():
    s = features.FeatureSchema(SIP)
    v = _vec(s, SIP)
    assert v['sip.5060.requests.register'] == 40.0
    assert v['sip.5060.responses.2xx'] == 18.0


def test_meaningful_ratios():
    v = _vec(features.FeatureSchema(SIP), SIP)
    assert math.isclose(v['sip.5060.error_share'], 11 / 20)
    assert math.isclose(v['sip.5060.success_ratio'], 9 / 20)
    assert math.isclose(v['sip.5060.register_2xx_ratio'], 9 / 20)
    assert v['sip.5060.unanswered'] == 0.0


def test_requests_without_responses():
    m = dict(SIP, **{'sip.5060.responses.2xx': 0, 'sip.5060.responses.4xx': 0,
                     'sip.5060.responses.5xx': 0})
    del m['sip.5060.latency_ms.p95']
    v = _vec(features.FeatureSchema(SIP), m)
    assert v['sip.5060.unanswered'] == 1.0
    assert v['sip.5060.success_ratio'] == 0.0
    # absent latency is unknown, not zero
    assert math.isnan(v['sip.5060.latency_ms.p95'])


def test_ratio_of_too_few_events_is_unknown():
    m = dict(SIP, **{'sip.5060.requests.register': 2,
                     'sip.5060.responses.2xx': 1,
                     'sip.5060.responses.4xx': 1,
                     'sip.5060.responses.5xx': 0})
    v = _vec(features.FeatureSchema(SIP), m)
    assert math.isnan(v['sip.5060.success_ratio'])


def test_zero_traffic_is_explicit():
    s = features.FeatureSchema(SIP)
    v = _vec(s, {})
    assert v['zero_traffic'] == 1.0
    assert v['sip.5060.no_messages'] == 1.0
    assert _vec(s, SIP)['zero_traffic'] == 0.0


def test_a_service_without_messages_is_silent_despite_packets():
    """A stopped server still sees SYNs and sends RSTs on its port: that
    is silence of the protocol, not traffic."""
    s = features.FeatureSchema(SIP)
    only_packets = {m: (3 if '.packets_' in m or '.bytes_' in m else 0)
                    for m in SIP}
    v = _vec(s, only_packets)
    assert v['sip.5060.no_messages'] == 1.0
    assert v['zero_traffic'] == 0.0
    assert _vec(s, SIP)['sip.5060.no_messages'] == 0.0


def test_generic_services_are_silent_without_packets():
    s = features.FeatureSchema(['generic.5432.packets_in',
                                'generic.5432.bytes_in'])
    assert _vec(s, {})['generic.5432.zero_traffic'] == 1.0
    assert _vec(s, {'generic.5432.packets_in': 1,
                    'generic.5432.bytes_in': 60})[
        'generic.5432.zero_traffic'] == 0.0


def test_flags_have_no_window_echo():
    """One empty interval must not stay in the vector for ``window``
    intervals (that alone would satisfy 2-of-3 hysteresis)."""
    s = features.FeatureSchema(SIP, window=3)
    assert not [n for n in s.names if 'no_messages@' in n or
                'zero_traffic@' in n]


def test_flag_floor_is_the_bernoulli_spread():
    s = features.FeatureSchema(SIP)
    i = s.names.index('sip.5060.no_messages')
    means = np.zeros(s.size)
    center = np.zeros(s.size)
    assert features.scale_floor(s, center, means, 0.5)[i] == \
        features.RATIO_FLOOR
    means[i] = 0.2          # a quiet service: idle one interval in five
    assert math.isclose(features.scale_floor(s, center, means, 0.5)[i],
                        0.4)


def test_window_pools_ratios_and_averages_rates():
    s = features.FeatureSchema(SIP, window=3)
    ext = features.FeatureExtractor(s)
    ext.push(SIP, 0.5)
    bad = dict(SIP, **{'sip.5060.responses.2xx': 0})
    x = dict(zip(s.names, ext.push(bad, 0.5)))
    assert x['sip.5060.responses.2xx@mean3'] == 9.0     # (18 + 0) / 2
    assert math.isclose(x['sip.5060.success_ratio@mean3'], 9 / 40)


def test_reset_forgets_the_window():
    s = features.FeatureSchema(SIP, window=3)
    ext = features.FeatureExtractor(s)
    ext.push(SIP, 0.5)
    ext.reset()
    x = dict(zip(s.names, ext.push(dict(SIP, **{
        'sip.5060.responses.2xx': 0}), 0.5)))
    assert x['sip.5060.responses.2xx@mean3'] == 0.0


def test_feature_names_map_back_to_metrics():
    s = features.FeatureSchema(SIP, window=3, stats=('mean', 'max',
                                                     'spread'))
    assert len(s.names) == len(s.metrics) == len(s.kinds) == s.size
    for name, metric in zip(s.names, s.metrics):
        assert name.split('@')[0] == metric
    assert 'sip.5060.latency_ms.p95@spread3' in s.names


def test_bad_values_are_refused():
    s = features.FeatureSchema(SIP)
    ext = features.FeatureExtractor(s)
    for bad in (-3, 'x'):
        try:
            ext.push(dict(SIP, **{'sip.5060.responses.2xx': bad}), 0.5)
        except features.BadInterval:
            continue
        raise AssertionError('accepted %r' % bad)


def test_robust_scaler_uses_floor_and_ignores_nan():
    X = np.array([[1.0, np.nan], [1.0, 2.0], [1.0, 4.0]])
    sc = features.RobustScaler().fit(X, floor=np.array([0.5, 0.1]))
    assert sc.scale[0] == 0.5
    z = sc.transform(np.array([[2.0, np.nan]]))
    assert z[0, 0] == 2.0 and z[0, 1] == 0.0


def test_gauge_only_series():
    s = features.FeatureSchema(['gauge.value'])
    v = _vec(s, {'gauge.value': -3.5})
    assert v['gauge.value'] == -3.5
    assert math.isnan(_vec(s, {})['gauge.value'])
