"""Bad input of every kind gets a 4xx in the error form, never a 5xx."""
import json

import pytest

from tests.unit.api import conftest
from tests.unit.api.conftest import TENANT_A

S = conftest.SERVER_A


@pytest.mark.parametrize('body,fragment', [
    ({}, 'exactly one of server_id and port_id'),
    ({'server_id': S, 'port_id': conftest.PORT_A}, 'exactly one'),
    ({'server_id': 'not-a-uuid'}, 'server_id'),
    ({'server_id': 42}, 'server_id'),
    ({'server_id': S, 'color': 'red'}, "'color' was unexpected"),
    ({'monitor': {'server_id': S}, 'extra': 1}, 'unexpected'),
    ({'server_id': S, 'interval_ms': 99}, 'interval_ms'),
    ({'server_id': S, 'interval_ms': 60001}, 'interval_ms'),
    ({'server_id': S, 'interval_ms': '500'}, 'interval_ms'),
    ({'server_id': S, 'interval_ms': 500.5}, 'interval_ms'),
    ({'server_id': S, 'interval_ms': True}, 'interval_ms'),
    ({'server_id': S, 'name': 'x' * 256}, 'name'),
    ({'server_id': S, 'name': None}, 'name'),
    ({'server_id': S, 'protocols': {'tcp/8080': 'ftp'}}, 'protocols'),
    ({'server_id': S, 'protocols': {'sctp/1': 'http'}}, 'protocols'),
    ({'server_id': S, 'protocols': {'tcp/70000': 'http'}}, 'protocols'),
    ({'server_id': S, 'protocols': ['tcp/80']}, 'protocols'),
    ({'server_id': S, 'detector': {'sensitivity': 2}}, 'sensitivity'),
    ({'server_id': S, 'detector': {'baseline_s': 1}}, 'baseline_s'),
    ({'server_id': S, 'detector': {'algo': 'x'}}, 'detector'),
    ({'server_id': S, 'alarm_actions': ['ftp://x']}, 'alarm_actions'),
    ({'server_id': S, 'alarm_actions': 'http://x'}, 'alarm_actions'),
    ({'server_id': S, 'ok_actions': ['http://x'] * 11}, 'ok_actions'),
    ([S], 'body'),
    ('server', 'body'),
])
def test_bad_monitor_bodies_are_400(client, storage, body, fragment):
    resp = client.post('/v1/monitors', headers=TENANT_A, json=body)
    err = conftest.assert_error(resp, 400)
    assert fragment in err['detail']
    assert storage.list_monitors() == []


@pytest.mark.parametrize('raw', [
    b'', b'{', b'{"server_id": NaN}', b'[' * 5000 + b']' * 5000,
    b'\xff\xfe', b'{"server_id": "%s"} trailing' % S.encode(),
])
def test_malformed_json_is_400(client, raw):
    resp = client.post('/v1/monitors', headers=TENANT_A, data=raw,
                       content_type='application/json')
    conftest.assert_error(resp, 400)


def test_huge_body_is_413(client, conf):
    body = json.dumps({'server_id': S,
                       'name': 'x' * (conf.api.max_request_body_size + 1)})
    resp = client.post('/v1/monitors', headers=TENANT_A, data=body,
                       content_type='application/json')
    err = conftest.assert_error(resp, 413, 'dpiaas.request_too_large')
    assert 'max_request_body_size' in err['detail']


def test_bad_uuid_in_path_is_400(client):
    for path in ('/v1/monitors/123', '/v1/monitors/123/metrics',
                 '/v1/alarms/zzz/history'):
        err = conftest.assert_error(client.get(path, headers=TENANT_A), 400)
        assert 'UUID' in err['detail'] or 'does not match' in err['detail']


def test_unknown_monitor_is_404(client):
    conftest.assert_error(
        client.get('/v1/monitors/' + conftest.MISSING, headers=TENANT_A),
        404, 'dpiaas.monitor_not_found')


def test_empty_patch_is_400(client, monitor_a):
    resp = client.patch('/v1/monitors/' + monitor_a['id'],
                        headers=TENANT_A, json={})
    conftest.assert_error(resp, 400)


def test_patch_bad_interval_is_400(client, monitor_a):
    resp = client.patch('/v1/monitors/' + monitor_a['id'],
                        headers=TENANT_A, json={'interval_ms': 10})
    err = conftest.assert_error(resp, 400)
    assert 'interval_ms' in err['detail']


def test_unknown_query_parameter_is_400(client):
    err = conftest.assert_error(
        client.get('/v1/monitors?colour=red', headers=TENANT_A), 400)
    assert 'colour' in err['detail']


def test_long_detail_is_truncated(client):
    resp = client.post('/v1/monitors', headers=TENANT_A,
                       json={'server_id': 'y' * 20000})
    err = conftest.assert_error(resp, 400)
    assert len(err['detail']) <= 400
