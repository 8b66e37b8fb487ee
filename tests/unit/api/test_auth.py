"""noauth and keystone: who is asking, and 401s in the error form."""
from dpiaas.api import app as app_mod
from dpiaas.conf import api as api_conf
from tests.unit.api import conftest


def test_noauth_without_project_is_401(client):
    err = conftest.assert_error(client.get('/v1/monitors'), 401,
                                'dpiaas.unauthorized')
    assert 'X-Project-Id' in err['detail']


def test_noauth_rejects_a_malformed_project(client):
    conftest.assert_error(
        client.get('/v1/monitors', headers={'X-Project-Id': 'a b;c'}), 401)


def test_noauth_default_roles_allow_create(client):
    conftest.create_monitor(client)


def test_reader_cannot_create(client):
    resp = client.post('/v1/monitors', headers=conftest.READER_A,
                       json={'server_id': conftest.SERVER_A})
    conftest.assert_error(resp, 403, 'dpiaas.forbidden')


def test_reader_can_read_own(client, monitor_a):
    resp = client.get('/v1/monitors/%s' % monitor_a['id'],
                      headers=conftest.READER_A)
    assert resp.status_code == 200


def test_unknown_role_gets_403_on_own_project(client, monitor_a):
    resp = client.get('/v1/monitors',
                      headers=conftest.headers(conftest.PROJECT_A, 'guest'))
    conftest.assert_error(resp, 403)


def test_keystone_without_token_is_401_in_error_form(conf, storage,
                                                     inventory):
    conf.set_override('auth_strategy', 'keystone', group='api')
    for group, opts in api_conf.authtoken_opts():
        conf.register_opts(opts, group=group)
    conf.set_override('www_authenticate_uri', 'http://keystone.test/v3',
                      group='keystone_authtoken')
    app = app_mod.create_app(conf, storage=storage, inventory=inventory)
    client = app.test_client()
    # the client's own identity headers are stripped by auth_token
    resp = client.get('/v1/monitors', headers=conftest.ADMIN)
    conftest.assert_error(resp, 401, 'dpiaas.unauthorized')
    assert 'keystone.test' in resp.headers['WWW-Authenticate']
    # version discovery stays public
    assert client.get('/').status_code == 200


def test_keystone_context_from_auth_token_headers(conf):
    from dpiaas.api import auth
    conf.set_override('auth_strategy', 'keystone', group='api')
    ctxt = auth.context_from_environ({
        'HTTP_X_IDENTITY_STATUS': 'Confirmed',
        'HTTP_X_PROJECT_ID': 'p1', 'HTTP_X_USER_ID': 'u1',
        'HTTP_X_ROLES': 'reader,member',
        'openstack.request_id': 'req-1'}, conf)
    assert ctxt.project_id == 'p1' and ctxt.user_id == 'u1'
    assert sorted(ctxt.roles) == ['member', 'reader']
    assert ctxt.request_id == 'req-1'
