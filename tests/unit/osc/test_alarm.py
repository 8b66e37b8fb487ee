"""``openstack dpi alarm list|show|history`` against a fake API."""
import pytest

PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'
EXPLANATION = [
    {'metric': 'sip.5060.responses.5xx', 'value': 42.0, 'expected': 1.5,
     'contribution': 0.61},
    {'metric': 'sip.5060.latency_ms.p95', 'value': 950.0, 'expected': 40.0,
     'contribution': 0.22},
]


@pytest.fixture
def firing(api):
    """A monitor ``sprout`` whose alarm fired, with two transitions."""
    monitor = api.add_monitor(name='sprout', port_id=PORT, status='active')
    alarm = api.alarms[monitor['alarm_id']]
    alarm.update(state='alarm', severity='critical', score=0.93,
                 state_reason='score 0.93 above 0.8 for 3 intervals',
                 explanation=EXPLANATION)
    api.history[alarm['id']] += [
        {'id': 1, 'timestamp': '2025-01-31T12:10:00.000000Z',
         'previous': 'insufficient_data', 'state': 'ok',
         'reason': 'baseline learned', 'score': 0.1, 'severity': None,
         'explanation': []},
        {'id': 2, 'timestamp': '2025-01-31T12:20:00.000000Z',
         'previous': 'ok', 'state': 'alarm',
         'reason': 'score 0.93 above 0.8 for 3 intervals', 'score': 0.93,
         'severity': 'critical', 'explanation': EXPLANATION},
    ]
    return alarm


def _gets(api, path):
    return [r for r in api.requests
            if r['method'] == 'GET' and r['path'] == path]


def test_list_table_has_state_severity_and_reason(osc, api, firing):
    api.add_monitor(name='quiet', port_id=PORT)
    res = osc('dpi', 'alarm', 'list')
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    header = [c.strip() for c in lines[1].split('|')[1:-1]]
    assert header == ['ID', 'Monitor ID', 'State', 'Severity', 'Score',
                      'State Reason']
    row = next(line for line in lines if firing['id'] in line)
    cells = [c.strip() for c in row.split('|')[1:-1]]
    assert cells == [firing['id'], firing['monitor_id'], 'alarm',
                     'critical', '0.93',
                     'score 0.93 above 0.8 for 3 intervals']
    assert len([line for line in lines if line.startswith('| ')]) == 3


def test_list_filters_reach_the_api(osc, api, firing):
    res = osc('dpi', 'alarm', 'list', '--state', 'alarm', '--severity',
              'critical', '--monitor', 'sprout', '-f', 'json')
    assert res.rc == 0, res.err
    assert [a['ID'] for a in res.json()] == [firing['id']]
    query = _gets(api, '/v1/alarms')[0]['query']
    assert query == {'state': 'alarm', 'severity': 'critical',
                     'monitor_id': firing['monitor_id']}


def test_list_pages_with_limit_and_marker(osc, api):
    alarms = [api.add_monitor(name='m%d' % i, port_id=PORT)['alarm_id']
              for i in range(5)]
    res = osc('dpi', 'alarm', 'list', '-f', 'value', '-c', 'ID')
    assert res.out.split() == alarms
    api.requests.clear()
    res = osc('dpi', 'alarm', 'list', '--limit', '3', '--marker', alarms[0],
              '-f', 'value', '-c', 'ID')
    assert res.rc == 0, res.err
    assert res.out.split() == alarms[1:4]
    # the server pages by 2: the client asked 3, then the 1 missing
    assert [r['query']['limit'] for r in _gets(api, '/v1/alarms')] == \
        ['3', '1']


def test_list_rejects_an_unknown_state(osc, api):
    res = osc('dpi', 'alarm', 'list', '--state', 'firing')
    assert res.rc == 2
    assert "invalid choice: 'firing'" in res.err
    assert not api.requests


def test_show_explains_with_top_metrics(osc, api, firing):
    res = osc('dpi', 'alarm', 'show', firing['id'])
    assert res.rc == 0, res.err
    assert ('sip.5060.responses.5xx: value=42, expected=1.5, '
            'contribution=0.61') in res.out
    assert 'sip.5060.latency_ms.p95: value=950' in res.out
    res = osc('dpi', 'alarm', 'show', firing['id'], '-f', 'json')
    shown = res.json()
    assert shown['state'] == 'alarm'
    assert shown['score'] == 0.93
    assert shown['explanation'] == EXPLANATION
    assert shown['state_reason'] == 'score 0.93 above 0.8 for 3 intervals'


def test_show_by_monitor_name(osc, api, firing):
    res = osc('dpi', 'alarm', 'show', 'sprout', '-f', 'value', '-c', 'id',
              '-c', 'state')
    assert res.rc == 0, res.err
    assert res.out.split() == [firing['id'], 'alarm']


def test_show_unknown_alarm_is_one_line(osc, api):
    res = osc('dpi', 'alarm', 'show', '0b0b0b0b-0000-4000-8000-000000000000')
    assert res.rc == 1
    assert res.err.strip() == (
        "No alarm with an ID of '0b0b0b0b-0000-4000-8000-000000000000', "
        "and no monitor with that name or ID.")


def test_history_lists_every_transition(osc, api, firing):
    res = osc('dpi', 'alarm', 'history', 'sprout')
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    header = [c.strip() for c in lines[1].split('|')[1:-1]]
    assert header == ['Timestamp', 'Previous', 'State', 'Reason']
    rows = [[c.strip() for c in line.split('|')[1:-1]]
            for line in lines[3:-1]]
    assert rows == [
        ['2025-01-31T12:10:00.000000Z', 'insufficient_data', 'ok',
         'baseline learned'],
        ['2025-01-31T12:20:00.000000Z', 'ok', 'alarm',
         'score 0.93 above 0.8 for 3 intervals']]


def test_history_json_long_keeps_the_explanation(osc, api, firing):
    res = osc('dpi', 'alarm', 'history', firing['id'], '--long',
              '-f', 'json')
    assert res.rc == 0, res.err
    entries = res.json()
    assert [e['State'] for e in entries] == ['ok', 'alarm']
    assert entries[1]['Explanation'] == EXPLANATION
    assert _gets(api, '/v1/alarms/%s/history' % firing['id'])
