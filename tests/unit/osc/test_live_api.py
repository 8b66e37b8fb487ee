"""Every ``openstack dpi`` command against the real API app (dpiaas.api).

The real Flask app on a real socket (werkzeug), real Storage on SQLite,
noauth; only the inventory is a stand-in (who owns which server and
port). What the shapes of DESIGN 4.4 promise, checked end to end.
"""
import shutil
import time

import pytest

from dpiaas.db import api as db_api
from dpiaas.db import migration
from dpiaas.inventory import base as inv_base
from tests.unit.osc.conftest import run_osc
from tests.unit.osc.conftest import serve_api

SERVER = '0a0a0a0a-0000-4000-8000-00000000000a'
PORT = '0a0a0a0a-0000-4000-8000-0000000000a1'
PORT2 = '0a0a0a0a-0000-4000-8000-0000000000a2'
OTHERS = '0b0b0b0b-0000-4000-8000-00000000000b'
METRIC = 'sip.5062.responses.2xx'


class Inventory:
    owners = {SERVER: 'tenant-a', PORT: 'tenant-a', PORT2: 'tenant-a',
              OTHERS: 'tenant-b'}

    def check_owner(self, project_id, server_id=None, port_id=None):
        key = server_id or port_id
        if key not in self.owners:
            raise inv_base.NotFound('%s not found' % key)
        if self.owners[key] != project_id:
            raise inv_base.NotOwned('%s not owned' % key)
        return []


@pytest.fixture(scope='module')
def template_db(tmp_path_factory):
    path = tmp_path_factory.mktemp('osc-db') / 'template.sqlite'
    migration.upgrade('sqlite:///%s' % path)
    return path


@pytest.fixture
def live(template_db, tmp_path):
    """(url, storage) of a running API, page size 2."""
    path = tmp_path / 'dpiaas.sqlite'
    shutil.copy(template_db, path)
    storage = db_api.Storage('sqlite:///%s' % path)
    with serve_api(storage, Inventory()) as url:
        yield url, storage


def dpi(live, *args, project='tenant-a', roles=None):
    argv = ['--os-dpi-url', live[0], '--os-project-id', project]
    if roles:
        argv += ['--os-dpi-roles', roles]
    return run_osc(*argv, 'dpi', *args)


def ok(res):
    assert res.rc == 0, res.err
    return res


def create(live, *args):
    return ok(dpi(live, 'monitor', 'create', *args, '-f', 'json')).json()


def test_monitor_lifecycle(live):
    shown = create(live, '--server', SERVER, '--name', 'sprout',
                   '--protocol', 'udp/5062=sip', '--baseline', '1h',
                   '--sensitivity', '0.7',
                   '--alarm-action', 'https://hooks.example.com/x')
    assert shown['server_id'] == SERVER
    assert shown['status'] == 'pending' and shown['status_reason']
    assert shown['protocols'] == {'udp/5062': 'sip'}
    assert shown['detector'] == {'baseline_s': 3600, 'sensitivity': 0.7}
    assert shown['alarm_actions'] == ['https://hooks.example.com/x']
    for i, port in enumerate((PORT, PORT2)):
        create(live, '--port', port, '--name', 'p%d' % i)

    res = ok(dpi(live, 'monitor', 'list', '-f', 'value', '-c', 'Name'))
    assert sorted(res.out.split()) == ['p0', 'p1', 'sprout']  # 2 pages

    ok(dpi(live, 'monitor', 'set', 'sprout', '--interval-ms', '250',
           '--sensitivity', '0.2', '--protocol', 'tcp/8080=http'))
    res = ok(dpi(live, 'monitor', 'show', shown['id'], '-f', 'json'))
    after = res.json()
    assert after['interval_ms'] == 250
    assert after['detector'] == {'baseline_s': 3600, 'sensitivity': 0.2}
    assert after['protocols'] == {'udp/5062': 'sip', 'tcp/8080': 'http'}
    assert after['services'] == []

    ok(dpi(live, 'monitor', 'rebaseline', 'sprout'))
    res = ok(dpi(live, 'monitor', 'show', 'sprout', '-f', 'value',
                 '-c', 'rebaseline_requested_at'))
    assert res.out.strip() not in ('', 'None')

    res = dpi(live, 'monitor', 'set', 'sprout', '--interval-ms', '5')
    assert res.rc == 1
    assert res.err.startswith('monitor.interval_ms: 5 is less than the '
                              'minimum of 100 (HTTP 400 Bad Request, '
                              'request req-')

    ok(dpi(live, 'monitor', 'delete', 'sprout', 'p0'))
    res = ok(dpi(live, 'monitor', 'list', '-f', 'value', '-c', 'Name'))
    assert res.out.split() == ['p1']


def test_tenants_do_not_see_each_other(live):
    create(live, '--port', PORT, '--name', 'mine')
    res = dpi(live, 'monitor', 'create', '--server', SERVER,
              project='tenant-b')
    assert res.rc == 1 and '(HTTP 4' in res.err
    res = ok(dpi(live, 'monitor', 'list', project='tenant-b'))
    assert res.out.strip() == ''
    res = dpi(live, 'monitor', 'show', 'mine', project='tenant-b')
    assert res.err == "No monitor with a name or ID of 'mine' exists.\n"


def test_metrics_and_alarm(live):
    monitor = create(live, '--server', SERVER, '--name', 'sprout')
    storage = live[1]
    now = time.time()
    storage.add_samples([
        {'collector_id': 'c1', 'monitor_id': monitor['id'],
         'ts': now - 10 + i * 0.5, 'interval_ms': 500,
         'metrics': {METRIC: i, 'sip.5062.packets_in': 3 * i}}
        for i in range(6)])
    res = ok(dpi(live, 'metric', 'list', 'sprout', '-f', 'json'))
    latest = {m['Name']: m['Value'] for m in res.json()}
    assert latest == {METRIC: 5.0, 'sip.5062.packets_in': 15.0}
    res = ok(dpi(live, 'metric', 'show', 'sprout', METRIC, '-f', 'json'))
    assert [m['Value'] for m in res.json()] == [0, 1, 2, 3, 4, 5]
    res = dpi(live, 'metric', 'show', 'sprout', 'sip.5062.nothing')
    assert res.rc == 1 and '(HTTP 404 Not Found, request req-' in res.err

    alarm_id = monitor['alarm_id']
    storage.set_alarm_state(alarm_id, 'ok', 'baseline learned', score=0.1)
    storage.set_alarm_state(
        alarm_id, 'alarm', 'score 0.95 above 0.8', score=0.95,
        severity='critical',
        explanation=[{'metric': METRIC, 'value': 9, 'expected': 1}])
    res = ok(dpi(live, 'alarm', 'list', '--state', 'alarm', '-f', 'json'))
    assert [(a['ID'], a['State'], a['Severity']) for a in res.json()] == \
        [(alarm_id, 'alarm', 'critical')]
    res = ok(dpi(live, 'alarm', 'show', 'sprout'))
    assert '%s: value=9, expected=1' % METRIC in res.out
    res = ok(dpi(live, 'alarm', 'history', alarm_id, '-f', 'json'))
    assert [(h['Previous'], h['State']) for h in res.json()] == [
        ('ok', 'alarm'), ('insufficient_data', 'ok')]


def test_admin_lists(live):
    live[1].agent_heartbeat('compute-1', {
        'started_at': time.time() - 60, 'version': '0.1',
        'collectors': [{'id': 'c1'}], 'buffer': {'queued': 0,
                                                 'dropped': 0}})
    res = dpi(live, 'agent', 'list')
    assert res.rc == 1 and '(HTTP 403 Forbidden, request req-' in res.err
    res = ok(dpi(live, 'agent', 'list', '-f', 'json', roles='admin'))
    [agent] = res.json()
    assert (agent['Host'], agent['Alive'], agent['Collectors']) == \
        ('compute-1', True, 1)
    monitor = create(live, '--port', PORT, '--name', 'web')
    live[1].upsert_collector({
        'id': '0d0d0d0d-0000-4000-8000-00000000000d',
        'monitor_id': monitor['id'], 'project_id': 'tenant-a',
        'port_id': PORT, 'host': 'compute-1',
        'tap_device': 'tap0a0a0a0a-00', 'spec': {}, 'generation': 1,
        'status': 'running', 'status_reason': None})
    res = ok(dpi(live, 'collector', 'list', '--host', 'compute-1',
                 '-f', 'json', roles='admin'))
    [collector] = res.json()
    assert (collector['Monitor ID'], collector['Host'],
            collector['Tap Device'], collector['Status']) == \
        (monitor['id'], 'compute-1', 'tap0a0a0a0a-00', 'running')
    res = ok(dpi(live, 'collector', 'list', '--host', 'compute-9',
                 roles='admin'))
    assert res.out.strip() == ''
