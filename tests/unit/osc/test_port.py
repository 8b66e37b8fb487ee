"""``openstack dpi port list`` against the real API app (GET /v1/ports).

The real Flask app on a real socket, real Storage on SQLite, noauth, the
static inventory driver holding two projects' ports; page size 2, so
that listing every port follows ``next`` links.
"""
import shutil

import pytest

from dpiaas.db import api as db_api
from dpiaas.db import migration
from dpiaas.inventory import static
from tests.unit.osc.conftest import run_osc
from tests.unit.osc.conftest import serve_api

SERVER = '0a0a0a0a-0000-4000-8000-00000000000a'
SERVER2 = '0a0a0a0a-0000-4000-8000-0000000000aa'
PORT = '0a0a0a0a-0000-4000-8000-0000000000a1'
PORT_SRIOV = '0a0a0a0a-0000-4000-8000-0000000000a2'
PORT2 = '0a0a0a0a-0000-4000-8000-0000000000a3'
OTHERS = '0b0b0b0b-0000-4000-8000-0000000000b1'


def _port(pid, server, project, ip, **extra):
    return dict({'id': pid, 'device_id': server, 'project_id': project,
                 'binding:host_id': 'compute-1', 'security_groups': ['sg'],
                 'mac_address': 'fa:16:3e:00:00:01',
                 'fixed_ips': [{'ip_address': ip}]}, **extra)


INVENTORY = {'ports': [
    _port(PORT, SERVER, 'tenant-a', '10.0.0.5'),
    _port(PORT_SRIOV, SERVER, 'tenant-a', '10.0.1.5',
          **{'binding:vnic_type': 'direct'}),
    _port(PORT2, SERVER2, 'tenant-a', '10.0.0.6'),
    _port(OTHERS, '0b0b0b0b-0000-4000-8000-00000000000b', 'tenant-b',
          '10.9.9.9'),
], 'security_groups': [{'id': 'sg', 'security_group_rules': []}]}


@pytest.fixture
def live(tmp_path):
    path = tmp_path / 'dpiaas.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    storage = db_api.Storage('sqlite:///%s' % path)
    with serve_api(storage, static.StaticInventory(INVENTORY)) as url:
        yield url
    shutil.rmtree(tmp_path, ignore_errors=True)


def dpi(url, *args, project='tenant-a'):
    return run_osc('--os-dpi-url', url, '--os-project-id', project, 'dpi',
                   *args)


def test_port_list_shows_every_page_with_monitorability(live):
    res = dpi(live, 'port', 'list', '-f', 'json')
    assert res.rc == 0, res.err
    rows = res.json()
    assert [r['ID'] for r in rows] == [PORT, PORT_SRIOV, PORT2]
    assert rows[0]['Server ID'] == SERVER
    assert rows[0]['Fixed IPs'] == ['10.0.0.5']
    assert [r['Monitorable'] for r in rows] == [True, False, True]
    assert rows[0]['Monitor ID'] is None


def test_port_list_marks_the_monitored_ports(live):
    res = dpi(live, 'monitor', 'create', '--server', SERVER, '-f', 'value',
              '-c', 'id')
    assert res.rc == 0, res.err
    monitor_id = res.out.strip()
    res = dpi(live, 'port', 'list', '-f', 'value', '-c', 'ID',
              '-c', 'Monitor ID')
    assert res.out.split('\n')[:3] == [
        '%s %s' % (PORT, monitor_id), '%s %s' % (PORT_SRIOV, monitor_id),
        '%s None' % PORT2]


def test_port_list_server_filter_and_long(live):
    res = dpi(live, 'port', 'list', '--server', SERVER, '--long',
              '-f', 'json')
    assert res.rc == 0, res.err
    rows = res.json()
    assert [r['ID'] for r in rows] == [PORT, PORT_SRIOV]
    assert rows[1]['VNIC Type'] == 'direct'
    assert 'no tap device' in rows[1]['Unmonitorable Reason']
    assert rows[0]['Host'] is None      # hidden from tenants
    assert rows[0]['Security Groups'] == ['sg']


def test_port_list_never_shows_other_projects_ports(live):
    res = dpi(live, 'port', 'list', '-f', 'value', '-c', 'ID',
              project='tenant-b')
    assert res.out.split() == [OTHERS]
    res = dpi(live, 'port', 'list', '--server', SERVER, '-f', 'value',
              project='tenant-b')
    assert res.rc == 0 and res.out.strip() == ''


def test_port_list_bad_server_is_one_clear_line(live):
    res = dpi(live, 'port', 'list', '--server', 'web-1')
    assert res.rc == 1
    assert res.err.startswith("query.server_id: 'web-1' is not a UUID")
    assert res.err.count('\n') == 1 and 'Traceback' not in res.err
