"""Alarms: list with filters and pages, show, history."""
from tests.unit.api import conftest
from tests.unit.api.conftest import TENANT_A


def test_show_alarm(client, monitor_a):
    alarm = client.get('/v1/alarms/' + monitor_a['alarm_id'],
                       headers=TENANT_A).get_json()['alarm']
    assert alarm['monitor_id'] == monitor_a['id']
    assert alarm['state'] == 'insufficient_data'
    assert alarm['state_reason'].startswith('learning')


def test_history_lists_changes_newest_first(client, storage, monitor_a):
    aid = monitor_a['alarm_id']
    storage.set_alarm_state(aid, 'ok', 'learned', now=100.0)
    storage.set_alarm_state(aid, 'alarm', 'sip 2xx dropped', score=9.5,
                            severity='critical',
                            explanation=[{'metric': 'sip.5060.responses'
                                                    '.2xx', 'z': -8}],
                            now=200.0)
    body = client.get('/v1/alarms/%s/history' % aid,
                      headers=TENANT_A).get_json()
    hist = body['history']
    assert [(h['previous'], h['state']) for h in hist] == [
        ('ok', 'alarm'), ('insufficient_data', 'ok')]
    assert hist[0]['reason'] == 'sip 2xx dropped'
    assert hist[0]['explanation'][0]['z'] == -8
    assert hist[0]['timestamp'] == '1970-01-01T00:03:20.000000Z'
    page = client.get('/v1/alarms/%s/history?limit=1' % aid,
                      headers=TENANT_A).get_json()
    assert len(page['history']) == 1
    rest = client.get(page['next'], headers=TENANT_A).get_json()
    assert rest['history'][0]['state'] == 'ok'


def test_list_filters(client, storage, monitor_a):
    other = conftest.create_monitor(client, port_id=conftest.PORT_A)
    storage.set_alarm_state(other['alarm_id'], 'alarm', 'x',
                            severity='critical')

    def ids(query):
        resp = client.get('/v1/alarms?' + query, headers=TENANT_A)
        assert resp.status_code == 200, resp.get_json()
        return [a['id'] for a in resp.get_json()['alarms']]
    assert ids('state=alarm') == [other['alarm_id']]
    assert ids('severity=critical') == [other['alarm_id']]
    assert ids('state=insufficient_data') == [monitor_a['alarm_id']]
    assert ids('monitor_id=' + monitor_a['id']) == [monitor_a['alarm_id']]
    assert ids('limit=1') == [monitor_a['alarm_id']]


def test_pagination_walks_every_alarm_once(client, storage):
    for i in range(7):
        storage.create_alarm({'project_id': conftest.PROJECT_A,
                              'monitor_id': conftest.new_id()})
    seen, url = [], '/v1/alarms?limit=3'
    while url:
        body = client.get(url, headers=TENANT_A).get_json()
        seen += [a['id'] for a in body['alarms']]
        url = body.get('next')
    assert len(seen) == len(set(seen)) == 7


def test_bad_alarm_queries(client, monitor_a):
    for query in ('state=broken', 'limit=0', 'limit=abc', 'limit=5000',
                  'marker=not-a-uuid', 'marker=' + conftest.MISSING,
                  'monitor_id=123', 'severity=huge', 'all_projects=maybe',
                  'sort=state', 'limit=1&limit=2'):
        conftest.assert_error(client.get('/v1/alarms?' + query,
                                         headers=TENANT_A), 400)


def test_unknown_alarm_and_bad_id(client):
    conftest.assert_error(client.get('/v1/alarms/' + conftest.MISSING,
                                     headers=TENANT_A), 404,
                          'dpiaas.alarm_not_found')
    conftest.assert_error(client.get('/v1/alarms/xyz', headers=TENANT_A),
                          400)
    conftest.assert_error(
        client.get('/v1/alarms/%s/history?marker=abc' % conftest.MISSING,
                   headers=TENANT_A), 400)
