"""The uwsgi entry point and the dpiaas-api development server."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from werkzeug import test as wtest

from dpiaas.db import migration
from dpiaas.wsgi import api as wsgi_api

INVENTORY = {
    'ports': [{'id': '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69',
               'device_id': '11111111-2222-4333-8444-555555555555',
               'project_id': 'demo', 'binding:host_id': 'compute-1',
               'security_groups': ['sg1'],
               'mac_address': 'fa:16:3e:12:34:56',
               'fixed_ips': [{'ip_address': '10.0.0.5'}]}],
    'security_groups': [{'id': 'sg1', 'project_id': 'demo',
                         'security_group_rules': []}],
}


@pytest.fixture
def config_file(tmp_path):
    db = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
    migration.upgrade(db)
    inv = tmp_path / 'inventory.json'
    inv.write_text(json.dumps(INVENTORY))
    port = _free_port()
    path = tmp_path / 'dpiaas.conf'
    path.write_text('[DEFAULT]\ninventory_file = %s\ntransport_url = '
                    'fake://\n[api]\nauth_strategy = noauth\nport = %d\n'
                    '[database]\nconnection = %s\n' % (inv, port, db))
    return path, port


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_importing_the_wsgi_module_builds_nothing():
    assert isinstance(wsgi_api.application, wsgi_api._Deferred)


def test_wsgi_application_serves_from_config_file(config_file,
                                                  monkeypatch):
    monkeypatch.setenv('DPIAAS_CONFIG_FILE', str(config_file[0]))
    client = wtest.Client(wsgi_api._Deferred())
    resp = client.post('/v1/monitors', headers={'X-Project-Id': 'demo'},
                       json={'port_id':
                             '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    resp = client.post('/v1/monitors', headers={'X-Project-Id': 'other'},
                       json={'port_id':
                             '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'})
    assert resp.status_code == 404


def test_dpiaas_api_serves_and_stops(config_file):
    path, port = config_file
    exe = os.path.join(os.path.dirname(sys.executable), 'dpiaas-api')
    proc = subprocess.Popen([exe, '--config-file', str(path)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                        'http://127.0.0.1:%d/' % port, timeout=5) as resp:
                    body = json.load(resp)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, 'dpiaas-api not up'
                time.sleep(0.2)
        assert body['versions'][0]['id'] == 'v1.0'
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_dpiaas_api_bad_option_is_one_line(tmp_path):
    conf = tmp_path / 'bad.conf'
    conf.write_text('[api]\nauth_strategy = bogus\n')
    exe = os.path.join(os.path.dirname(sys.executable), 'dpiaas-api')
    out = subprocess.run([exe, '--config-file', str(conf)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().count('\n') == 0
    assert 'auth_strategy' in out.stderr
