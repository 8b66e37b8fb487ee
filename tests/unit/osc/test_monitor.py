"""``openstack dpi monitor ...`` against a fake API over real HTTP."""
SERVER = '2b6f0c1e-1d9a-4f5e-8c3b-0a9b8c7d6e5f'
PORT = '6f1c2b9e-5d4a-4c3b-9a8f-1e2d3c4b5a69'


def _sent(api, method, path_prefix='/v1/monitors'):
    return [r for r in api.requests
            if r['method'] == method and r['path'].startswith(path_prefix)]


def test_create_by_server_sends_the_documented_body(osc, api):
    res = osc('dpi', 'monitor', 'create', '--server', SERVER,
              '--name', 'sprout', '--protocol', 'tcp/8080=http',
              '--protocol', 'consumed:udp/5353=dns', '--interval-ms', '250',
              '--baseline', '1h', '--sensitivity', '0.8',
              '--alarm-action', 'https://hooks.example.com/a',
              '--ok-action', 'https://hooks.example.com/ok',
              '-f', 'json')
    assert res.rc == 0, res.err
    body = _sent(api, 'POST')[0]['body']
    assert body == {'monitor': {
        'server_id': SERVER, 'name': 'sprout',
        'protocols': {'tcp/8080': 'http', 'consumed:udp/5353': 'dns'},
        'interval_ms': 250,
        'detector': {'baseline_s': 3600, 'sensitivity': 0.8},
        'alarm_actions': ['https://hooks.example.com/a'],
        'ok_actions': ['https://hooks.example.com/ok']}}
    shown = res.json()
    assert shown['id'] in api.monitors
    assert shown['server_id'] == SERVER
    assert shown['protocols'] == {'tcp/8080': 'http',
                                  'consumed:udp/5353': 'dns'}
    assert shown['detector'] == {'baseline_s': 3600, 'sensitivity': 0.8}
    assert shown['alarm_actions'] == ['https://hooks.example.com/a']


def test_create_by_port_shows_a_field_table(osc, api):
    res = osc('dpi', 'monitor', 'create', '--port', PORT)
    assert res.rc == 0, res.err
    assert _sent(api, 'POST')[0]['body'] == {'monitor': {'port_id': PORT}}
    lines = res.out.splitlines()
    assert [c.strip() for c in lines[1].split('|')[1:3]] == ['Field',
                                                             'Value']
    assert any(line.startswith('| port_id') and PORT in line
               for line in lines)
    assert any(line.startswith('| status ') and 'pending' in line
               for line in lines)


def test_create_needs_a_server_or_a_port(osc, api):
    res = osc('dpi', 'monitor', 'create', '--name', 'x')
    assert res.rc == 2
    assert 'one of the arguments --server --port is required' in res.err
    assert not api.requests


def test_create_rejects_a_malformed_protocol_override(osc, api):
    res = osc('dpi', 'monitor', 'create', '--port', PORT,
              '--protocol', 'http')
    assert res.rc == 2
    assert "'http' is not [offered:|consumed:]tcp|udp/PORT=APP" in res.err
    assert 'Traceback' not in res.err
    assert not api.requests


def test_create_standalone_needs_ids_not_names(osc, api):
    res = osc('dpi', 'monitor', 'create', '--server', 'sprout-1')
    assert res.rc == 1
    assert res.err == ("--server needs an ID without Keystone (names are "
                       "looked up in Nova and Neutron): 'sprout-1' is not "
                       "one.\n")
    assert not api.requests


def test_list_follows_next_links_to_the_last_page(osc, api):
    names = ['m%d' % i for i in range(5)]
    for name in names:
        api.add_monitor(name=name, port_id=PORT)
    res = osc('dpi', 'monitor', 'list', '-f', 'json')
    assert res.rc == 0, res.err
    rows = res.json()
    assert [r['Name'] for r in rows] == names
    assert set(rows[0]) == {'ID', 'Name', 'Server ID', 'Port ID', 'Status'}
    gets = _sent(api, 'GET')
    assert len(gets) == 3          # pages of 2, 2 and 1
    assert gets[1]['query']['marker'] == rows[1]['ID']


def test_list_limit_and_marker_give_one_page(osc, api):
    monitors = [api.add_monitor(name='m%d' % i, port_id=PORT)
                for i in range(4)]
    res = osc('dpi', 'monitor', 'list', '--limit', '1', '--marker',
              monitors[1]['id'], '-f', 'value', '-c', 'Name')
    assert res.rc == 0, res.err
    assert res.out.split() == ['m2']
    assert _sent(api, 'GET')[0]['query'] == {'limit': '1',
                                             'marker': monitors[1]['id']}


def test_list_table_and_status_filter(osc, api):
    api.add_monitor(name='up', port_id=PORT, status='active')
    api.add_monitor(name='down', port_id=PORT, status='error')
    res = osc('dpi', 'monitor', 'list', '--status', 'active', '--long')
    assert res.rc == 0, res.err
    header = [c.strip() for c in res.out.splitlines()[1].split('|')[1:-1]]
    assert header == ['ID', 'Name', 'Server ID', 'Port ID', 'Status',
                      'Interval ms', 'Status Reason', 'Alarm ID',
                      'Protocols', 'Detector', 'Created At']
    assert ' up ' in res.out and ' down ' not in res.out
    assert _sent(api, 'GET')[0]['query']['status'] == 'active'


def test_list_only_shows_the_callers_project(osc, api):
    api.add_monitor(name='mine', port_id=PORT, project_id='p1')
    api.add_monitor(name='theirs', port_id=PORT, project_id='p2')
    res = osc('dpi', 'monitor', 'list', '-f', 'value', '-c', 'Name')
    assert res.out.split() == ['mine']
    assert _sent(api, 'GET')[0]['headers']['x-project-id'] == 'p1'


def test_show_by_name_lists_services_one_per_line(osc, api):
    monitor = api.add_monitor(name='sprout', server_id=SERVER,
                              status='active', status_reason=None)
    monitor['services'] = [
        {'port_id': PORT, 'role': 'offered', 'l4': 'udp', 'port_min': 5060,
         'port_max': 5060, 'app': 'sip', 'source': 'rule r1'},
        {'port_id': PORT, 'role': 'consumed', 'l4': 'tcp', 'port_min': 3868,
         'port_max': 3870, 'app': 'generic', 'source': 'rule r2'}]
    res = osc('dpi', 'monitor', 'show', 'sprout')
    assert res.rc == 0, res.err
    assert 'offered udp/5060 sip (rule r1) on port %s' % PORT in res.out
    assert 'consumed tcp/3868-3870 generic (rule r2)' in res.out
    res = osc('dpi', 'monitor', 'show', monitor['id'], '-f', 'json')
    assert res.json()['services'] == monitor['services']
    assert res.json()['status'] == 'active'


def test_show_an_unknown_monitor_is_one_line(osc, api):
    res = osc('dpi', 'monitor', 'show', 'nope')
    assert res.rc == 1
    assert res.err.strip() == "No monitor with a name or ID of 'nope' exists."


def test_show_an_ambiguous_name_asks_for_the_id(osc, api):
    api.add_monitor(name='twin', port_id=PORT)
    api.add_monitor(name='twin', server_id=SERVER)
    res = osc('dpi', 'monitor', 'show', 'twin')
    assert res.rc == 1
    assert "More than one monitor is named 'twin'" in res.err


def test_set_patches_only_what_changed_and_keeps_the_rest(osc, api):
    monitor = api.add_monitor(name='old', port_id=PORT,
                              protocols={'tcp/8080': 'http'},
                              detector={'baseline_s': 600,
                                        'sensitivity': 0.3},
                              alarm_actions=['https://a.example.com/'])
    res = osc('dpi', 'monitor', 'set', 'old', '--name', 'new',
              '--protocol', 'udp/5062=sip', '--baseline', '30m',
              '--alarm-action', 'https://b.example.com/')
    assert res.rc == 0, res.err
    assert res.out == ''
    patch = _sent(api, 'PATCH')[0]
    assert patch['path'] == '/v1/monitors/%s' % monitor['id']
    assert patch['body'] == {'monitor': {
        'name': 'new',
        'protocols': {'tcp/8080': 'http', 'udp/5062': 'sip'},
        'detector': {'baseline_s': 1800, 'sensitivity': 0.3},
        'alarm_actions': ['https://a.example.com/',
                          'https://b.example.com/']}}


def test_set_no_flags_clear_lists(osc, api):
    monitor = api.add_monitor(name='m', port_id=PORT,
                              protocols={'tcp/8080': 'http'},
                              ok_actions=['https://a.example.com/'])
    res = osc('dpi', 'monitor', 'set', monitor['id'], '--no-protocol',
              '--no-ok-action')
    assert res.rc == 0, res.err
    assert _sent(api, 'PATCH')[0]['body'] == {
        'monitor': {'protocols': {}, 'ok_actions': []}}


def test_set_without_changes_says_so(osc, api):
    api.add_monitor(name='m', port_id=PORT)
    res = osc('dpi', 'monitor', 'set', 'm')
    assert res.rc == 1
    assert 'Nothing to change' in res.err
    assert not _sent(api, 'PATCH')


def test_rebaseline_posts_the_action(osc, api):
    monitor = api.add_monitor(name='m', port_id=PORT)
    res = osc('dpi', 'monitor', 'rebaseline', 'm')
    assert res.rc == 0, res.err
    post = _sent(api, 'POST')[0]
    assert post['path'] == '/v1/monitors/%s/action' % monitor['id']
    assert post['body'] == {'rebaseline': {}}


def test_delete_by_name_and_id(osc, api):
    a = api.add_monitor(name='a', port_id=PORT)
    b = api.add_monitor(name='b', port_id=PORT)
    res = osc('dpi', 'monitor', 'delete', 'a', b['id'])
    assert res.rc == 0, res.err
    assert not api.monitors
    assert [r['path'] for r in _sent(api, 'DELETE')] == [
        '/v1/monitors/%s' % a['id'], '/v1/monitors/%s' % b['id']]


def test_delete_reports_what_failed_and_deletes_the_rest(osc, api):
    api.add_monitor(name='a', port_id=PORT)
    res = osc('dpi', 'monitor', 'delete', 'ghost', 'a')
    assert res.rc == 1
    assert not api.monitors
    assert 'Failed to delete monitor ghost' in res.err
    assert res.err.strip().splitlines()[-1] == \
        'Failed to delete 1 of 2 monitors.'
