"""Where the CLI sends requests (catalog, --os-dpi-url) and how it fails."""
import argparse
import socket

import pytest

from dpiaas.osc import plugin
from tests.unit.osc.conftest import run_osc


def _catalog(api, public, internal):
    return [{'id': 'svc1', 'type': 'anomaly-detection', 'name': 'dpiaas',
             'endpoints': [
                 {'id': 'e1', 'interface': 'public', 'region': 'RegionOne',
                  'region_id': 'RegionOne', 'url': public},
                 {'id': 'e2', 'interface': 'internal',
                  'region': 'RegionOne', 'region_id': 'RegionOne',
                  'url': internal}]}]


def _keystone_args(api):
    return ['--os-auth-url', api.url + '/identity/v3',
            '--os-username', 'demo', '--os-password', 'secret',
            '--os-user-domain-id', 'default', '--os-project-id', 'p7']


def _closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_catalog_endpoint_of_the_chosen_interface_with_a_token(api):
    dead = 'http://127.0.0.1:%d' % _closed_port()
    api.catalog = _catalog(api, public=dead, internal=api.url)
    api.add_monitor(name='theirs', project_id='p1', port_id='x')
    api.add_monitor(name='mine', project_id='p7', port_id='y')
    res = run_osc(*_keystone_args(api), '--os-interface', 'internal',
                  'dpi', 'monitor', 'list', '-f', 'value', '-c', 'Name')
    assert res.rc == 0, res.err
    assert res.out.split() == ['mine']
    req = [r for r in api.requests if r['path'] == '/v1/monitors'][0]
    assert req['headers']['x-auth-token'] in api.tokens
    assert 'x-project-id' not in req['headers']


def test_port_names_are_looked_up_in_neutron_with_keystone(api):
    port_id = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'
    api.ports = [{'id': port_id, 'name': 'sip-port'}]
    api.catalog = _catalog(api, public=api.url, internal='') + [{
        'id': 'svc2', 'type': 'network', 'name': 'neutron',
        'endpoints': [{'id': 'e3', 'interface': 'public',
                       'region': 'RegionOne', 'region_id': 'RegionOne',
                       'url': api.url + '/network'}]}]
    res = run_osc(*_keystone_args(api), 'dpi', 'monitor', 'create',
                  '--port', 'sip-port', '-f', 'json')
    assert res.rc == 0, res.err
    assert res.json()['port_id'] == port_id
    post = [r for r in api.requests if r['method'] == 'POST'
            and r['path'] == '/v1/monitors'][0]
    assert post['body'] == {'monitor': {'port_id': port_id}}


def test_catalog_url_may_end_in_v1(api):
    api.catalog = _catalog(api, public=api.url + '/v1/', internal='')
    res = run_osc(*_keystone_args(api), 'dpi', 'alarm', 'list')
    assert res.rc == 0, res.err
    assert api.requests[-1]['path'] == '/v1/alarms'


def test_public_interface_is_the_default(api):
    dead = 'http://127.0.0.1:%d' % _closed_port()
    api.catalog = _catalog(api, public=dead, internal=api.url)
    res = run_osc(*_keystone_args(api), 'dpi', 'monitor', 'list')
    assert res.rc == 1
    assert res.err == 'Cannot reach the dpi API at %s: Connection ' \
        'refused\n' % dead


def test_no_catalog_entry_says_what_to_do(api):
    api.catalog = []
    res = run_osc(*_keystone_args(api), 'dpi', 'monitor', 'list')
    assert res.rc == 1
    assert res.err.strip() == (
        "No 'anomaly-detection' endpoint in the service catalog: is dpiaas "
        "registered in Keystone? (or give --os-dpi-url)")


def test_dpi_url_with_keystone_credentials_still_sends_the_token(api):
    api.catalog = []
    res = run_osc(*_keystone_args(api), '--os-dpi-url', api.url + '/v1/',
                  'dpi', 'monitor', 'list')
    assert res.rc == 0, res.err
    req = [r for r in api.requests if r['path'] == '/v1/monitors'][0]
    assert req['headers']['x-auth-token'] in api.tokens


def test_environment_gives_the_standalone_url_and_project(api,
                                                          monkeypatch):
    monkeypatch.setenv('OS_DPI_URL', api.url)
    monkeypatch.setenv('OS_PROJECT_ID', 'p9')
    api.add_monitor(name='m', project_id='p9', port_id='x')
    res = run_osc('dpi', 'monitor', 'list', '-f', 'value', '-c', 'Name')
    assert res.rc == 0, res.err
    assert res.out.split() == ['m']
    assert 'x-auth-token' not in api.requests[-1]['headers']


def test_missing_project_is_the_apis_401_line(osc, api):
    res = osc('dpi', 'monitor', 'list', project=None)
    assert res.rc == 1
    assert res.err.strip() == (
        'The X-Project-Id header is required ([api] auth_strategy = '
        'noauth). (HTTP 401 Unauthorized, request %s)' % api.last_request_id)


def test_unreachable_api_is_one_line():
    url = 'http://127.0.0.1:%d' % _closed_port()
    res = run_osc('--os-dpi-url', url, '--os-project-id', 'p1',
                  'dpi', 'alarm', 'list')
    assert res.rc == 1
    assert res.err == 'Cannot reach the dpi API at %s: Connection refused\n' \
        % url


def test_non_json_error_page_is_one_readable_line(osc, api):
    api.force = (502, 'text/html',
                 b'<html><body><h1>502 Bad Gateway</h1>\n'
                 b'<p>The proxy could not reach the server</p></body></html>')
    res = osc('dpi', 'monitor', 'list')
    assert res.rc == 1
    assert res.err == (
        '502 Bad Gateway The proxy could not reach the server '
        '(HTTP 502 Bad Gateway, request %s)\n' % api.last_request_id)


def test_success_without_the_documented_key_is_reported(osc, api):
    api.force = (200, 'application/json', b'{"items": []}')
    res = osc('dpi', 'alarm', 'list')
    assert res.rc == 1
    assert res.err.startswith("Unexpected answer from the dpi API: no "
                              "'alarms' list in ")


@pytest.mark.parametrize('options, standalone', [
    ({'os_dpi_url': None}, False),
    ({'os_dpi_url': 'http://h:8778'}, True),
    ({'os_dpi_url': 'http://h:8778', 'auth_type': 'none'}, True),
    ({'os_dpi_url': 'http://h:8778', 'auth_type': 'password'}, False),
    ({'os_dpi_url': 'http://h:8778', 'auth_url': 'http://k/v3'}, False),
    ({'os_dpi_url': 'http://h:8778', 'cloud': 'devstack'}, False),
])
def test_standalone_only_without_keystone_settings(options, standalone):
    assert plugin.is_standalone(argparse.Namespace(**options)) is standalone
