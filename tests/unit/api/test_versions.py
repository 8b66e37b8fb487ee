"""Version discovery, health, and the error form of routing errors."""
from tests.unit.api import conftest


def test_root_lists_v1_without_auth(client):
    resp = client.get('/')
    assert resp.status_code == 200
    [v1] = resp.get_json()['versions']
    assert v1['id'] == 'v1.0' and v1['status'] == 'CURRENT'
    assert v1['links'][0]['href'].endswith('/v1/')


def test_v1_shows_itself(client):
    for path in ('/v1', '/v1/'):
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.get_json()['version']['id'] == 'v1.0'


def test_openapi_document_lists_every_resource(client):
    doc = client.get('/v1/openapi.json').get_json()
    assert doc['openapi'].startswith('3.1')
    for path in ('/v1/monitors', '/v1/monitors/{monitor_id}',
                 '/v1/monitors/{monitor_id}/action',
                 '/v1/monitors/{monitor_id}/metrics',
                 '/v1/monitors/{monitor_id}/metrics/{name}',
                 '/v1/monitors/{monitor_id}/flows',
                 '/v1/monitors/{monitor_id}/heavy_hitters',
                 '/v1/alarms', '/v1/alarms/{alarm_id}',
                 '/v1/alarms/{alarm_id}/history',
                 '/v1/agents', '/v1/collectors'):
        assert path in doc['paths'], path
    post = doc['paths']['/v1/monitors']['post']
    assert {'201', '400', '404', '409', '413'} <= set(post['responses'])


def test_healthcheck_answers_without_auth(client):
    resp = client.get('/healthcheck')
    assert resp.status_code == 200


def test_unknown_route_is_404_in_error_form(client):
    err = conftest.assert_error(
        client.get('/v2/things', headers=conftest.TENANT_A), 404,
        'dpiaas.not_found')
    assert '/v2/things' in err['detail']


def test_wrong_method_is_405_with_allow(client):
    resp = client.put('/v1/monitors', headers=conftest.TENANT_A)
    conftest.assert_error(resp, 405, 'dpiaas.method_not_allowed')
    assert 'POST' in resp.headers['Allow']


def test_request_id_on_every_response(client):
    resp = client.get('/')
    assert resp.headers['x-openstack-request-id'].startswith('req-')


def test_unexpected_error_is_500_without_traceback(client, storage):
    def broken(*args, **kwargs):
        raise RuntimeError('secret internals')
    storage.list_monitors = broken
    resp = client.get('/v1/monitors', headers=conftest.TENANT_A)
    err = conftest.assert_error(resp, 500, 'dpiaas.internal_error')
    assert 'secret' not in resp.get_data(as_text=True)
    assert 'request id' in err['detail']
