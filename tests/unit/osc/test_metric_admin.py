"""``openstack dpi metric list|show``, ``agent list``, ``collector list``.
"""
import pytest

PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'
NAME = 'sip.5060.responses.2xx'


@pytest.fixture
def measured(api):
    monitor = api.add_monitor(name='sprout', port_id=PORT, status='active')
    api.metrics[monitor['id']] = [
        {'name': 'sip.5060.packets_in', 'timestamp':
         '2025-01-31T12:00:01.500000Z', 'value': 120.0},
        {'name': NAME, 'timestamp': '2025-01-31T12:00:01.500000Z',
         'value': 7.0},
    ]
    api.series[(monitor['id'], NAME)] = [
        {'timestamp': '2025-01-31T12:00:00.500000Z', 'value': 5.0},
        {'timestamp': '2025-01-31T12:00:01.000000Z', 'value': 6.0},
        {'timestamp': '2025-01-31T12:00:01.500000Z', 'value': 7.0},
    ]
    return monitor


def test_metric_list_shows_latest_values(osc, api, measured):
    res = osc('dpi', 'metric', 'list', 'sprout')
    assert res.rc == 0, res.err
    assert '| %s | 2025-01-31T12:00:01.500000Z |   7.0 |' % NAME in res.out
    res = osc('dpi', 'metric', 'list', measured['id'], '-f', 'json')
    assert res.json() == [
        {'Name': 'sip.5060.packets_in',
         'Timestamp': '2025-01-31T12:00:01.500000Z', 'Value': 120.0},
        {'Name': NAME, 'Timestamp': '2025-01-31T12:00:01.500000Z',
         'Value': 7.0}]


def test_metric_show_passes_the_window_and_lists_measures(osc, api,
                                                          measured):
    res = osc('dpi', 'metric', 'show', 'sprout', NAME,
              '--start', '2025-01-31T12:00:00Z',
              '--end', '2025-01-31T13:00:00Z', '--resolution', '1m',
              '-f', 'json')
    assert res.rc == 0, res.err
    assert res.json() == [
        {'Timestamp': '2025-01-31T12:00:00.500000Z', 'Value': 5.0},
        {'Timestamp': '2025-01-31T12:00:01.000000Z', 'Value': 6.0},
        {'Timestamp': '2025-01-31T12:00:01.500000Z', 'Value': 7.0}]
    req = [r for r in api.requests if r['path'].endswith('/' + NAME)][0]
    assert req['query'] == {'start': '2025-01-31T12:00:00Z',
                            'end': '2025-01-31T13:00:00Z',
                            'resolution': '1m'}


def test_metric_show_value_format_is_one_row_per_interval(osc, api,
                                                          measured):
    res = osc('dpi', 'metric', 'show', 'sprout', NAME, '-f', 'value')
    assert res.out.splitlines() == ['2025-01-31T12:00:00.500000Z 5.0',
                                    '2025-01-31T12:00:01.000000Z 6.0',
                                    '2025-01-31T12:00:01.500000Z 7.0']


def test_metric_show_unknown_name_is_the_api_error_line(osc, api, measured):
    res = osc('dpi', 'metric', 'show', 'sprout', 'sip.5060.nonsense')
    assert res.rc == 1
    line = res.err.strip()
    assert '\n' not in line and 'Traceback' not in line
    assert line.startswith('Monitor %s has no metric named '
                           'sip.5060.nonsense' % measured['id'])
    assert line.endswith('(HTTP 404 Not Found, request %s)'
                         % api.last_request_id)


def test_metric_show_reversed_range_is_a_400_line(osc, api, measured):
    res = osc('dpi', 'metric', 'show', 'sprout', NAME,
              '--start', '2025-01-31T13:00:00Z',
              '--end', '2025-01-31T12:00:00Z')
    assert res.rc == 1
    assert 'The time range is reversed or empty' in res.err
    assert '(HTTP 400 Bad Request, request req-' in res.err


AGENTS = [
    {'host': 'compute-2', 'alive': False, 'version': '0.1.0',
     'started_at': '2025-01-31T11:00:00.000000Z',
     'last_heartbeat': '2025-01-31T11:30:00.000000Z',
     'state': {'collectors': []}},
    {'host': 'compute-1', 'alive': True, 'version': '0.1.0',
     'started_at': '2025-01-31T11:00:00.000000Z',
     'last_heartbeat': '2025-01-31T12:00:00.000000Z',
     'state': {'collectors': [{'id': 'c1'}, {'id': 'c2'}],
               'buffer': {'queued': 0, 'dropped': 0}}},
]


def test_agent_list_as_admin(osc, api):
    api.agents = AGENTS
    res = osc('dpi', 'agent', 'list', roles='admin,member')
    assert res.rc == 0, res.err
    lines = res.out.splitlines()
    header = [c.strip() for c in lines[1].split('|')[1:-1]]
    assert header == ['Host', 'Alive', 'Last Heartbeat', 'Version',
                      'Started At', 'Collectors']
    rows = [[c.strip() for c in line.split('|')[1:-1]]
            for line in lines[3:-1]]
    assert rows[0][:3] == ['compute-1', 'True',
                           '2025-01-31T12:00:00.000000Z']
    assert rows[0][5] == '2'
    assert rows[1][:2] == ['compute-2', 'False']
    assert api.requests[-1]['headers']['x-roles'] == 'admin,member'
    res = osc('dpi', 'agent', 'list', '--long', '-f', 'json',
              roles='admin')
    assert res.json()[0]['State']['buffer'] == {'queued': 0, 'dropped': 0}


def test_agent_list_forbidden_without_admin(osc, api):
    res = osc('dpi', 'agent', 'list')
    assert res.rc == 1
    assert res.err.startswith('Policy does not allow this request. '
                              '(HTTP 403 Forbidden, request req-')


def test_collector_list_filters(osc, api):
    api.collectors = [
        {'id': 'c1', 'monitor_id': 'm1', 'project_id': 'p1',
         'port_id': PORT, 'host': 'compute-1', 'tap_device': 'tap6f1c2b9e-5d',
         'generation': 3, 'status': 'running', 'status_reason': None,
         'spec': {}, 'updated_at': '2025-01-31T12:00:00.000000Z'},
        {'id': 'c2', 'monitor_id': 'm2', 'project_id': 'p2',
         'port_id': PORT, 'host': 'compute-2', 'tap_device': None,
         'generation': 1, 'status': 'host_down',
         'status_reason': 'agent on compute-2 unheard for 75 s',
         'spec': {}, 'updated_at': '2025-01-31T12:00:00.000000Z'}]
    res = osc('dpi', 'collector', 'list', '--host', 'compute-2', '-f',
              'json', roles='admin')
    assert res.rc == 0, res.err
    assert [(c['ID'], c['Status'], c['Status Reason']) for c in res.json()] \
        == [('c2', 'host_down', 'agent on compute-2 unheard for 75 s')]
    assert api.requests[-1]['query'] == {'host': 'compute-2'}
