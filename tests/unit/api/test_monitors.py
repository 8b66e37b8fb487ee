"""Monitors: create (with its alarm), show, list, update, delete, action."""
from tests.unit.api import conftest
from tests.unit.api.conftest import TENANT_A


def test_create_by_server_makes_alarm_and_nudges_engine(client, storage,
                                                        control):
    resp = client.post('/v1/monitors', headers=TENANT_A, json={'monitor': {
        'server_id': conftest.SERVER_A, 'name': 'ims',
        'protocols': {'tcp/8080': 'http'}, 'interval_ms': 1000,
        'detector': {'sensitivity': 0.8},
        'alarm_actions': ['https://hooks.example/alarm'],
        'ok_actions': []}})
    assert resp.status_code == 201
    mon = resp.get_json()['monitor']
    assert resp.headers['Location'].endswith('/v1/monitors/' + mon['id'])
    assert mon['project_id'] == conftest.PROJECT_A
    assert mon['status'] == 'pending' and mon['status_reason']
    assert mon['detector'] == {'baseline_s': 600, 'sensitivity': 0.8}
    assert mon['protocols'] == {'tcp/8080': 'http'}
    assert mon['services'] == []
    alarm = storage.get_alarm(mon['alarm_id'])
    assert alarm['state'] == 'insufficient_data'
    assert alarm['state_reason'].startswith('learning')
    assert alarm['monitor_id'] == mon['id']
    assert control.changed == [(conftest.PROJECT_A, mon['id'])]


def test_create_by_port_bare_body(client):
    resp = client.post('/v1/monitors', headers=TENANT_A,
                       json={'port_id': conftest.PORT_A})
    assert resp.status_code == 201
    assert resp.get_json()['monitor']['port_id'] == conftest.PORT_A


def test_cannot_monitor_another_tenants_port(client, storage):
    for body in ({'port_id': conftest.PORT_B},
                 {'server_id': conftest.SERVER_B}):
        resp = client.post('/v1/monitors', headers=TENANT_A, json=body)
        err = conftest.assert_error(resp, 404)
        assert conftest.PROJECT_A in err['detail']
    assert storage.list_monitors() == []


def test_unknown_server_is_404_like_another_tenants(client):
    resp = client.post('/v1/monitors', headers=TENANT_A,
                       json={'server_id': conftest.MISSING})
    conftest.assert_error(resp, 404, 'dpiaas.server_not_found')


def test_inventory_down_is_503(client, inventory):
    inventory.fail = RuntimeError('neutron down')
    resp = client.post('/v1/monitors', headers=TENANT_A,
                       json={'server_id': conftest.SERVER_A})
    conftest.assert_error(resp, 503, 'dpiaas.inventory_unavailable')


def test_second_monitor_of_same_server_is_409(client, monitor_a):
    resp = client.post('/v1/monitors', headers=TENANT_A,
                       json={'server_id': conftest.SERVER_A})
    err = conftest.assert_error(resp, 409, 'dpiaas.monitor_exists')
    assert monitor_a['id'] in err['detail']


def test_show_has_services(client, storage, monitor_a):
    storage.set_services(monitor_a['id'], [{
        'port_id': conftest.PORT_A, 'role': 'offered', 'l4': 'udp',
        'port_min': 5060, 'port_max': 5060, 'app': 'sip',
        'source': 'rule r1'}])
    mon = client.get('/v1/monitors/' + monitor_a['id'],
                     headers=TENANT_A).get_json()['monitor']
    assert mon['services'] == [{
        'port_id': conftest.PORT_A, 'role': 'offered', 'l4': 'udp',
        'port_min': 5060, 'port_max': 5060, 'app': 'sip',
        'source': 'rule r1'}]
    assert mon['alarm_id'] == monitor_a['alarm_id']


def test_list_pages_with_next_link(client):
    ids = [conftest.create_monitor(client)['id'],
           conftest.create_monitor(client, port_id=conftest.PORT_A)['id']]
    resp = client.get('/v1/monitors?limit=1', headers=TENANT_A)
    body = resp.get_json()
    assert [m['id'] for m in body['monitors']] == ids[:1]
    nxt = body['next']
    assert 'marker=' + ids[0] in nxt
    body = client.get(nxt, headers=TENANT_A).get_json()
    assert [m['id'] for m in body['monitors']] == ids[1:]
    assert 'next' not in body


def test_list_filters_status(client, storage, monitor_a):
    storage.update_monitor(monitor_a['id'], {'status': 'active'})
    got = client.get('/v1/monitors?status=learning',
                     headers=TENANT_A).get_json()['monitors']
    assert got == []
    got = client.get('/v1/monitors?status=active',
                     headers=TENANT_A).get_json()['monitors']
    assert [m['id'] for m in got] == [monitor_a['id']]


def test_patch_merges_detector_and_nudges(client, control, monitor_a):
    resp = client.patch('/v1/monitors/' + monitor_a['id'], headers=TENANT_A,
                        json={'monitor': {'detector': {'baseline_s': 60},
                                          'name': 'renamed'}})
    assert resp.status_code == 200
    mon = resp.get_json()['monitor']
    assert mon['name'] == 'renamed'
    assert mon['detector'] == {'baseline_s': 60, 'sensitivity': 0.5}
    assert control.changed[-1] == (conftest.PROJECT_A, monitor_a['id'])


def test_patch_cannot_change_target(client, monitor_a):
    resp = client.patch('/v1/monitors/' + monitor_a['id'], headers=TENANT_A,
                        json={'server_id': conftest.SERVER_B})
    err = conftest.assert_error(resp, 400)
    assert 'server_id' in err['detail']


def test_delete_removes_monitor_and_alarm(client, storage, control,
                                          monitor_a):
    resp = client.delete('/v1/monitors/' + monitor_a['id'],
                         headers=TENANT_A)
    assert resp.status_code == 204
    assert storage.list_monitors() == []
    assert storage.list_alarms() == []
    assert control.changed[-1][1] == monitor_a['id']
    conftest.assert_error(client.get('/v1/monitors/' + monitor_a['id'],
                                     headers=TENANT_A), 404)


def test_rebaseline_action_records_request(client, control, monitor_a):
    resp = client.post('/v1/monitors/%s/action' % monitor_a['id'],
                       headers=TENANT_A, json={'rebaseline': {}})
    assert resp.status_code == 202
    mon = resp.get_json()['monitor']
    assert mon['rebaseline_requested_at'] is not None
    assert 'rebaseline_requested_at' not in mon['detector']
    assert control.changed[-1][1] == monitor_a['id']


def test_unknown_action_is_400(client, monitor_a):
    resp = client.post('/v1/monitors/%s/action' % monitor_a['id'],
                       headers=TENANT_A, json={'explode': {}})
    conftest.assert_error(resp, 400)


def test_engine_failure_does_not_fail_the_request(client, control):
    def down(ctxt, monitor_id):
        raise ConnectionError('broker down')
    control.monitor_changed = down
    conftest.create_monitor(client)
