"""The dashboard's login exchange: POST /dashboard/auth/tokens.

Keystone itself is replaced by a fake ``get_access`` of keystoneauth's
password plugin; the functional test
``tests/functional/dashboard/test_keystone_login.py`` runs it against
real Keystone.
"""
import datetime
import logging

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import generic
import pytest

from dpiaas.api import app as app_mod
from dpiaas.conf import api as api_conf
from tests.unit.api import conftest

URL = '/dashboard/auth/tokens'
GOOD = {'username': 'alice', 'password': 's3cret-pass',
        'project': 'tenant-a'}


class FakeAccess:
    auth_token = 'gAAAA-fake-token'
    expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    project_id = 'p-123'
    project_name = 'tenant-a'
    username = 'alice'
    role_names = ['member', 'reader']


@pytest.fixture
def keystone_client(conf, storage, inventory):
    conf.set_override('auth_strategy', 'keystone', group='api')
    for group, opts in api_conf.authtoken_opts():
        conf.register_opts(opts, group=group)
    conf.set_override('www_authenticate_uri', 'http://keystone.test:5000',
                      group='keystone_authtoken')
    return app_mod.create_app(conf, storage=storage,
                              inventory=inventory).test_client()


@pytest.fixture
def keystone(monkeypatch):
    """What the fake Keystone was asked, and what it answers."""
    calls = []
    answer = {'access': FakeAccess(), 'raise': None}

    def get_access(plugin, session):
        calls.append({'auth_url': plugin.auth_url,
                      'username': plugin._username,
                      'password': plugin._password,
                      'project_name': plugin._project_name,
                      'user_domain_name': plugin._user_domain_name})
        if answer['raise']:
            raise answer['raise']
        return answer['access']
    monkeypatch.setattr(generic.Password, 'get_access', get_access)
    return calls, answer


def test_login_answers_a_project_scoped_session(keystone_client, keystone):
    calls, _ = keystone
    resp = keystone_client.post(URL, json=GOOD)
    assert resp.status_code == 201, resp.get_json()
    session = resp.get_json()['session']
    assert session == {'token': 'gAAAA-fake-token',
                       'expires_at': '2030-01-01T00:00:00+00:00',
                       'project_id': 'p-123', 'project_name': 'tenant-a',
                       'user': 'alice', 'roles': ['member', 'reader']}
    assert calls == [{'auth_url': 'http://keystone.test:5000',
                      'username': 'alice', 'password': 's3cret-pass',
                      'project_name': 'tenant-a',
                      'user_domain_name': 'Default'}]
    assert resp.headers['Cache-Control'] == 'no-store'


def test_login_uses_dashboard_auth_url_and_domain(conf, keystone_client,
                                                  keystone):
    calls, _ = keystone
    conf.set_override('auth_url', 'https://id.example.com/v3',
                      group='dashboard')
    resp = keystone_client.post(URL, json=dict(GOOD, domain='corp'))
    assert resp.status_code == 201
    assert calls[0]['auth_url'] == 'https://id.example.com/v3'
    assert calls[0]['user_domain_name'] == 'corp'


def test_wrong_password_is_401_and_never_logged(keystone_client, keystone,
                                                caplog):
    _, answer = keystone
    answer['raise'] = ks_exc.Unauthorized('The request you have made '
                                          'requires authentication.')
    caplog.set_level(logging.DEBUG)
    err = conftest.assert_error(keystone_client.post(URL, json=GOOD), 401,
                                'dpiaas.login_failed')
    assert 'Keystone refused the user name, password or project' in \
        err['detail']
    assert GOOD['password'] not in caplog.text


def test_keystone_down_is_502_in_one_line(keystone_client, keystone):
    _, answer = keystone
    answer['raise'] = ks_exc.ConnectFailure('connection refused')
    err = conftest.assert_error(keystone_client.post(URL, json=GOOD), 502,
                                'dpiaas.keystone_unavailable')
    assert '\n' not in err['detail']


def test_unscoped_token_is_refused(keystone_client, keystone):
    _, answer = keystone
    answer['access'] = type('Unscoped', (FakeAccess,),
                            {'project_id': None})()
    conftest.assert_error(keystone_client.post(URL, json=GOOD), 401,
                          'dpiaas.login_failed')


@pytest.mark.parametrize('body', [
    None, [], {'username': 'alice'}, dict(GOOD, password=''),
    dict(GOOD, project=7), dict(GOOD, username='x' * 256),
    dict(GOOD, domain=''),
])
def test_bad_input_is_400(keystone_client, keystone, body):
    calls, _ = keystone
    resp = keystone_client.post(URL, json=body) if body is not None else \
        keystone_client.post(URL, data='not json',
                             content_type='application/json')
    conftest.assert_error(resp, 400, 'dpiaas.invalid_input')
    assert calls == []


def test_login_only_takes_post(keystone_client, keystone):
    conftest.assert_error(keystone_client.get(URL), 405)


def test_no_login_in_noauth_mode(client, keystone):
    calls, _ = keystone
    conftest.assert_error(client.post(URL, json=GOOD), 400,
                          'dpiaas.no_keystone')
    assert calls == []


def test_no_keystone_url_is_a_clear_502(conf, storage, inventory,
                                        keystone):
    conf.set_override('auth_strategy', 'keystone', group='api')
    for group, opts in api_conf.authtoken_opts():
        conf.register_opts(opts, group=group)
    client = app_mod.create_app(conf, storage=storage,
                                inventory=inventory).test_client()
    err = conftest.assert_error(client.post(URL, json=GOOD), 502,
                                'dpiaas.no_keystone_url')
    assert '[dashboard] auth_url' in err['detail']
