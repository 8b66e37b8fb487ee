"""Metrics: names with latest values, bounded series, flows."""
import time
import urllib.parse

import pytest

from tests.unit.api import conftest
from tests.unit.api.conftest import TENANT_A

NAME = 'sip.5060.responses.2xx'


@pytest.fixture
def with_samples(storage, monitor_a):
    now = time.time()
    start = now - 600
    collector = conftest.new_id()
    storage.add_samples([{
        'collector_id': collector, 'monitor_id': monitor_a['id'],
        'ts': start + i * 0.5, 'interval_ms': 500,
        'metrics': {NAME: float(i % 7), 'generic.22.bytes_in': 100.0}}
        for i in range(1200)])
    storage.add_flow_reports([{
        'collector_id': collector, 'monitor_id': monitor_a['id'],
        'ts': now - 1,
        'flows': [{'src': '10.0.0.5', 'dst': '10.0.0.6', 'sport': 5060,
                   'dport': 5060, 'proto': 17, 'packets': 3,
                   'bytes': 900}],
        'heavy_hitters': {'bytes': [{'src': '10.0.0.5', 'dst': '10.0.0.6',
                                     'sport': 5060, 'dport': 5060,
                                     'proto': 17, 'packets': 3,
                                     'bytes': 900}], 'packets': []}}])
    return monitor_a, start, now


def _url(monitor, name=NAME, **query):
    url = '/v1/monitors/%s/metrics/%s' % (monitor['id'], name)
    if query:
        url += '?' + urllib.parse.urlencode(query)
    return url


def test_metric_names_with_latest_values(client, with_samples):
    monitor, _, _ = with_samples
    got = client.get('/v1/monitors/%s/metrics' % monitor['id'],
                     headers=TENANT_A).get_json()['metrics']
    assert [m['name'] for m in got] == ['generic.22.bytes_in', NAME]
    assert got[1]['value'] == float(1199 % 7)
    assert got[1]['timestamp'].endswith('Z')


def test_series_of_the_last_hour_by_default(client, with_samples):
    monitor, start, _ = with_samples
    body = client.get(_url(monitor), headers=TENANT_A).get_json()
    assert body['name'] == NAME and body['interval_ms'] == 500
    assert len(body['measures']) == 1200
    assert body['measures'][0]['value'] == 0.0
    assert body['measures'][0]['timestamp'].endswith('Z')


def test_series_with_resolution_sums_buckets(client, storage,
                                             with_samples):
    monitor, start, now = with_samples
    storage.expire()    # rolls complete minutes up (the engine does)
    body = client.get(_url(monitor, 'generic.22.bytes_in',
                           start=int(start // 60 * 60) + 60, end=now,
                           resolution='1m'),
                      headers=TENANT_A).get_json()
    assert body['resolution'] == 60
    values = [m['value'] for m in body['measures']]
    assert len(values) >= 5
    assert values[1:-1] == [120 * 100.0] * (len(values) - 2)


def test_iso_times_accepted(client, with_samples):
    monitor, _, _ = with_samples
    resp = client.get(_url(monitor, start='2020-01-01T00:00:00Z',
                           end='2020-01-01T01:00:00+00:00'),
                      headers=TENANT_A)
    assert resp.status_code == 200
    assert resp.get_json()['measures'] == []


@pytest.mark.parametrize('query,code', [
    ({'start': '2030-01-01T00:00:00Z', 'end': '2029-01-01T00:00:00Z'},
     'dpiaas.invalid_range'),
    ({'start': 100, 'end': 100}, 'dpiaas.invalid_range'),
    ({'start': '1970-01-01T00:00:00Z'}, 'dpiaas.range_too_long'),
    ({'start': 0, 'end': 30 * 86400, 'resolution': '1s'},
     'dpiaas.too_many_points'),
    ({'start': 'yesterday'}, 'dpiaas.invalid_input'),
    ({'end': 'nan'}, 'dpiaas.invalid_input'),
    ({'end': '1e300'}, 'dpiaas.invalid_input'),
    ({'resolution': '0'}, 'dpiaas.invalid_input'),
    ({'resolution': '-5'}, 'dpiaas.invalid_input'),
    ({'resolution': '5 weeks'}, 'dpiaas.invalid_input'),
    ({'step': '5'}, 'dpiaas.invalid_input'),
])
def test_bad_series_queries_are_400(client, with_samples, query, code):
    monitor, _, _ = with_samples
    resp = client.get(_url(monitor, **query), headers=TENANT_A)
    conftest.assert_error(resp, 400, code)


def test_long_range_without_resolution_is_coarsened(client, conf,
                                                    with_samples):
    monitor, _, now = with_samples
    body = client.get(_url(monitor, start=now - 20 * 86400, end=now),
                      headers=TENANT_A).get_json()
    assert body['resolution'] >= 20 * 86400 / 10000
    assert len(body['measures']) <= conf.api.max_series_points


def test_unknown_metric_is_404(client, with_samples):
    monitor, _, _ = with_samples
    err = conftest.assert_error(
        client.get(_url(monitor, 'sip.5060.responses.9xx'),
                   headers=TENANT_A), 404, 'dpiaas.metric_not_found')
    assert '/metrics' in err['detail']


def test_malformed_metric_name_is_400(client, monitor_a):
    conftest.assert_error(client.get(_url(monitor_a, 'Bad!Name'),
                                     headers=TENANT_A), 400)


def test_flows_and_heavy_hitters(client, with_samples):
    monitor, _, _ = with_samples
    flows = client.get('/v1/monitors/%s/flows' % monitor['id'],
                       headers=TENANT_A).get_json()['flows']
    assert flows[0]['bytes'] == 900 and flows[0]['ts'].endswith('Z')
    hh = client.get('/v1/monitors/%s/heavy_hitters?limit=5'
                    % monitor['id'], headers=TENANT_A).get_json()
    assert hh['heavy_hitters'][0]['dst'] == '10.0.0.6'
    conftest.assert_error(
        client.get('/v1/monitors/%s/flows?limit=100000' % monitor['id'],
                   headers=TENANT_A), 400)
