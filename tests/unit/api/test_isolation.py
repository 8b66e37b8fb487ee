"""Two tenants and an admin: 404 (not 403) across projects, admin-only."""
import pytest

from tests.unit.api import conftest
from tests.unit.api.conftest import ADMIN, TENANT_A, TENANT_B


def _paths(monitor):
    mid, aid = monitor['id'], monitor['alarm_id']
    return [('get', '/v1/monitors/' + mid, None),
            ('patch', '/v1/monitors/' + mid, {'name': 'x'}),
            ('delete', '/v1/monitors/' + mid, None),
            ('post', '/v1/monitors/%s/action' % mid, {'rebaseline': {}}),
            ('get', '/v1/monitors/%s/metrics' % mid, None),
            ('get', '/v1/monitors/%s/metrics/generic.22.bytes_in' % mid,
             None),
            ('get', '/v1/monitors/%s/flows' % mid, None),
            ('get', '/v1/monitors/%s/heavy_hitters' % mid, None),
            ('get', '/v1/alarms/' + aid, None),
            ('get', '/v1/alarms/%s/history' % aid, None)]


def test_tenant_b_gets_404_for_each_of_a_objects(client, monitor_a,
                                                 storage):
    for method, path, body in _paths(monitor_a):
        resp = getattr(client, method)(path, headers=TENANT_B, json=body)
        conftest.assert_error(resp, 404)
    # and nothing changed
    assert storage.get_monitor(monitor_a['id'])['name'] == ''


def test_tenant_b_lists_never_show_a(client, monitor_a, monitor_b):
    mons = client.get('/v1/monitors', headers=TENANT_B).get_json()
    assert [m['id'] for m in mons['monitors']] == [monitor_b['id']]
    alarms = client.get('/v1/alarms', headers=TENANT_B).get_json()
    assert [a['id'] for a in alarms['alarms']] == [monitor_b['alarm_id']]
    # filtering by A's monitor finds nothing rather than A's alarm
    alarms = client.get('/v1/alarms?monitor_id=' + monitor_a['id'],
                        headers=TENANT_B).get_json()
    assert alarms['alarms'] == []


def test_a_marker_of_another_tenant_is_400(client, monitor_a, monitor_b):
    resp = client.get('/v1/monitors?marker=' + monitor_a['id'],
                      headers=TENANT_B)
    conftest.assert_error(resp, 400)


def test_all_projects_is_admin_only(client, monitor_a, monitor_b):
    conftest.assert_error(client.get('/v1/monitors?all_projects=true',
                                     headers=TENANT_A), 403)
    conftest.assert_error(client.get('/v1/alarms?all_projects=true',
                                     headers=TENANT_A), 403)
    mons = client.get('/v1/monitors?all_projects=true',
                      headers=ADMIN).get_json()['monitors']
    assert {m['id'] for m in mons} == {monitor_a['id'], monitor_b['id']}
    alarms = client.get('/v1/alarms?all_projects=1',
                        headers=ADMIN).get_json()['alarms']
    assert len(alarms) == 2


def test_admin_reads_any_monitor_by_id(client, monitor_a):
    resp = client.get('/v1/monitors/' + monitor_a['id'], headers=ADMIN)
    assert resp.status_code == 200


@pytest.mark.parametrize('path', ['/v1/agents', '/v1/collectors'])
def test_admin_resources_are_403_for_tenants(client, path):
    for hdrs in (TENANT_A, conftest.READER_A):
        conftest.assert_error(client.get(path, headers=hdrs), 403,
                              'dpiaas.forbidden')


def test_admin_lists_agents_and_collectors(client, storage, monitor_a):
    storage.agent_heartbeat('compute-1', {'version': '1.0',
                                          'started_at': 1.0})
    storage.upsert_collector({'id': conftest.new_id(),
                              'monitor_id': monitor_a['id'],
                              'project_id': conftest.PROJECT_A,
                              'port_id': conftest.PORT_A,
                              'host': 'compute-1', 'status': 'running'})
    agents = client.get('/v1/agents', headers=ADMIN).get_json()['agents']
    assert [a['host'] for a in agents] == ['compute-1']
    assert agents[0]['alive'] is True
    cols = client.get('/v1/collectors?host=compute-1',
                      headers=ADMIN).get_json()['collectors']
    assert [c['monitor_id'] for c in cols] == [monitor_a['id']]
    cols = client.get('/v1/collectors?host=compute-2',
                      headers=ADMIN).get_json()['collectors']
    assert cols == []
