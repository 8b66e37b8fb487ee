"""API v1 served for real behind Keystone, with Neutron as the inventory.

Two tenants (tenant-a with alice, tenant-b with bob, created here if
absent) each build a network, a Security Group (udp/5060, tcp/80) and a
port in real Neutron; admin binds each port to ``compute-1`` as Nova
would. The API (``create_app`` on a config file with ``auth_strategy =
keystone`` and the ``openstack`` inventory) runs in a werkzeug server;
callers send real Keystone tokens. The engine's reconciler runs in the
test process as the API's ``engine_control`` (agents' casts recorded), so
that a new monitor gets its services and collector as in a cloud.

What must hold (issue 5): every endpoint answers its owner; tenant B gets
404 (never 403) for each of tenant A's objects and never sees them in
lists; non-admins get 403 on the operator resources; a tenant cannot
monitor another tenant's port; every error is in the API-WG form.
"""
import json
import os
import subprocess
import sys
import threading
import time
import uuid

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from oslo_config import cfg
import pytest
import requests
from werkzeug import serving

from dpiaas.api import app as api_app
from dpiaas import conf as dpiaas_conf
from dpiaas.db import migration
from dpiaas.engine import reconciler as reconciler_mod
from dpiaas.engine import scheduler as scheduler_mod

pytestmark = pytest.mark.slow

BIN = os.path.dirname(sys.executable)
TENANT_B, BOB, BOB_PASSWORD = 'tenant-b', 'bob', 'bobpass'
HOST = 'compute-1'
METRIC = 'sip.requests'
ERROR_KEYS = {'status', 'code', 'title', 'detail', 'request_id'}


# -- the second tenant and both tenants' Neutron objects ------------------

def _ensure_tenant_b(admin):
    """tenant-b and bob (member); returns what was created here."""
    made = []
    project = admin.identity.find_project(TENANT_B, domain_id='default')
    if project is None:
        project = admin.identity.create_project(
            name=TENANT_B, domain_id='default',
            description='dpiaas API tests: second tenant')
        made.append(('project', project))
    user = admin.identity.find_user(BOB, domain_id='default')
    if user is None:
        user = admin.identity.create_user(
            name=BOB, password=BOB_PASSWORD, domain_id='default',
            default_project_id=project.id)
        made.append(('user', user))
    else:
        admin.identity.update_user(user, password=BOB_PASSWORD)
    # Keystone's bootstrap makes member imply reader: no reader grant
    member = admin.identity.find_role('member')
    admin.identity.assign_project_role_to_user(project, user, member)
    return project, made


def _connect_as(stack, username, password, project):
    import openstack
    return openstack.connection.Connection(
        auth_url=stack.keystone_url, username=username, password=password,
        project_name=project, user_domain_id='default',
        project_domain_id='default', region_name=stack.region_name,
        identity_api_version='3')


def _build_port(tenant, admin, tag, octet, made):
    net = tenant.network.create_network(name=tag)
    made['nets'].append(net)
    tenant.network.create_subnet(network_id=net.id, ip_version=4, name=tag,
                                 cidr='198.51.%d.0/24' % octet)
    sg = tenant.network.create_security_group(name=tag)
    made['sgs'].append(sg)
    for proto, number in (('udp', 5060), ('tcp', 80)):
        tenant.network.create_security_group_rule(
            security_group_id=sg.id, direction='ingress', ethertype='IPv4',
            protocol=proto, port_range_min=number, port_range_max=number)
    port = tenant.network.create_port(network_id=net.id, name=tag,
                                      security_group_ids=[sg.id])
    made['ports'].append(port)
    server_id = str(uuid.uuid4())
    port = admin.network.update_port(
        port, binding_host_id=HOST, device_id=server_id,
        device_owner='compute:nova')
    return {'port': port, 'server_id': server_id, 'sg': sg, 'net': net,
            'project_id': port.project_id}


@pytest.fixture(scope='module')
def cloud(openstack_stack):
    admin = openstack_stack.connect('admin')
    project_b, made_identity = _ensure_tenant_b(admin)
    tenant_a = openstack_stack.connect('tenant-a')
    tenant_b = _connect_as(openstack_stack, BOB, BOB_PASSWORD, TENANT_B)
    tag = 'dpiaas-api-' + uuid.uuid4().hex[:8]
    made = {'ports': [], 'sgs': [], 'nets': []}
    try:
        a = _build_port(tenant_a, admin, tag + '-a', 10, made)
        b = _build_port(tenant_b, admin, tag + '-b', 11, made)
        assert a['project_id'] == tenant_a.current_project_id
        assert b['project_id'] == project_b.id
        yield {'a': a, 'b': b, 'admin_project': admin.current_project_id}
    finally:
        for p in made['ports']:
            admin.network.delete_port(p, ignore_missing=True)
        for s in made['sgs']:
            admin.network.delete_security_group(s, ignore_missing=True)
        for n in made['nets']:
            for sub in admin.network.subnets(network_id=n.id):
                admin.network.delete_subnet(sub, ignore_missing=True)
            admin.network.delete_network(n, ignore_missing=True)
        for kind, obj in reversed(made_identity):
            getattr(admin.identity, 'delete_' + kind)(obj,
                                                      ignore_missing=True)


# -- the API, served -------------------------------------------------------

class _RecordingAgents:
    """The agents' RPC API: casts are recorded (no agent runs here)."""

    def __init__(self):
        self.casts = []

    def start_collector(self, ctxt, host, collector):
        self.casts.append(('start', host, collector['id']))

    def update_collector(self, ctxt, host, collector):
        self.casts.append(('update', host, collector['id']))

    def stop_collector(self, ctxt, host, collector_id, reason=None):
        self.casts.append(('stop', host, collector_id))


class _InProcessEngine:
    """``engine_control`` of the API: the real reconciler, at once."""

    def __init__(self, storage, inventory):
        self.agents = _RecordingAgents()
        self.reconciler = reconciler_mod.Reconciler(
            storage, scheduler_mod.Scheduler(inventory), self.agents)

    def monitor_changed(self, ctxt, monitor_id):
        self.reconciler.reconcile(monitor_id)


def _config(tmp_path, stack):
    db_url = 'sqlite:///%s' % (tmp_path / 'dpiaas.sqlite')
    migration.upgrade(db_url)
    text = (
        '[DEFAULT]\ninventory_driver = openstack\n'
        'inventory_cache_ttl = 0\n'
        '[api]\nauth_strategy = keystone\n'
        '[database]\nconnection = %s\n'
        '[keystone_authtoken]\n'
        'www_authenticate_uri = http://127.0.0.1:5000\n'
        'auth_url = http://127.0.0.1:5000\n'
        'auth_type = password\n'
        'username = dpiaas\npassword = dpiaaspass\n'
        'project_name = service\n'
        'user_domain_name = Default\nproject_domain_name = Default\n'
        % db_url) + stack.service_credentials_ini()
    path = tmp_path / 'dpiaas.conf'
    path.write_text(text)
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    conf(['--config-file', str(path)], project='dpiaas')
    return conf


@pytest.fixture(scope='module')
def api(openstack_stack, cloud, tmp_path_factory):
    conf = _config(tmp_path_factory.mktemp('api'), openstack_stack)
    app = api_app.create_app(conf)
    parts = app.extensions['dpiaas']
    engine = _InProcessEngine(parts.storage, parts.inventory)
    parts.engine_control = engine
    server = serving.make_server('127.0.0.1', 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {'url': 'http://127.0.0.1:%d' % server.server_port,
               'port': server.server_port, 'storage': parts.storage,
               'engine': engine}
    finally:
        server.shutdown()
        thread.join(10)


def _token(stack, username, password, project):
    auth = v3.Password(auth_url=stack.keystone_url, username=username,
                       password=password, project_name=project,
                       user_domain_id='default', project_domain_id='default')
    return ks_session.Session(auth=auth).get_token()


class Caller:
    """requests with one Keystone token (or none)."""

    def __init__(self, base, token=None):
        self.base = base
        self.http = requests.Session()
        if token:
            self.http.headers['X-Auth-Token'] = token

    def __call__(self, method, path, **kwargs):
        kwargs.setdefault('timeout', 30)
        return self.http.request(method, self.base + path, **kwargs)

    def get(self, path, **kwargs):
        return self('GET', path, **kwargs)


@pytest.fixture(scope='module')
def callers(openstack_stack, api):
    base = api['url']
    return {
        'alice': Caller(base, _token(openstack_stack, 'alice', 'alicepass',
                                     'tenant-a')),
        'bob': Caller(base, _token(openstack_stack, BOB, BOB_PASSWORD,
                                   TENANT_B)),
        'admin': Caller(base, _token(openstack_stack, 'admin', 'adminpass',
                                     'admin')),
        'anonymous': Caller(base),
    }


def assert_error(resp, status, code=None):
    """``resp`` is ``status`` with a body in the API-WG error form."""
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert list(body) == ['errors'], body
    assert len(body['errors']) == 1, body
    err = body['errors'][0]
    assert set(err) == ERROR_KEYS, err
    assert err['status'] == status, err
    assert err['title'] and err['detail'], err
    assert err['request_id'].startswith('req-'), err
    assert err['request_id'] == resp.headers.get('X-OpenStack-Request-ID')
    if code:
        assert err['code'] == code, err
    else:
        assert err['code'].startswith('dpiaas.'), err
    return err


def _ok(resp, status=200):
    assert resp.status_code == status, (resp.status_code, resp.text[:500])
    return resp.json() if resp.content else None


def _services(monitor):
    return sorted((s['l4'], s['port_min'], s['app'])
                  for s in monitor['services'])


@pytest.fixture(scope='module')
def monitors(api, callers, cloud):
    """alice's monitor on tenant-a's port, bob's on tenant-b's, with a
    sample, flows and an alarm state change stored as the engine would;
    deleted through the API afterwards."""
    alice, bob = callers['alice'], callers['bob']
    a = _ok(alice('POST', '/v1/monitors', json={'monitor': {
        'port_id': cloud['a']['port'].id, 'name': 'a-sip'}}), 201)['monitor']
    b = _ok(bob('POST', '/v1/monitors', json={'monitor': {
        'port_id': cloud['b']['port'].id, 'name': 'b-sip'}}), 201)['monitor']
    storage = api['storage']
    collectors = storage.list_collectors(monitor_id=a['id'])
    assert [c['host'] for c in collectors] == [HOST]
    now = time.time()
    storage.add_samples([{
        'collector_id': collectors[0]['id'], 'monitor_id': a['id'],
        'ts': now - 1, 'interval_ms': a['interval_ms'],
        'metrics': {METRIC: 7.0, 'http.requests': 2.0}}])
    flow = {'src': '198.51.10.20', 'dst': '198.51.10.5', 'proto': 'udp',
            'sport': 5060, 'dport': 5060, 'packets': 7, 'bytes': 3500}
    storage.add_flow_reports([{
        'collector_id': collectors[0]['id'], 'monitor_id': a['id'],
        'ts': now - 1,
        'flows': [flow],
        'heavy_hitters': {'packets': [flow], 'bytes': [flow]}}])
    storage.set_alarm_state(a['alarm_id'], 'alarm', 'test: SIP anomaly',
                            score=0.93, severity='critical')
    storage.agent_heartbeat(HOST, {'version': 'test', 'started_at': now})
    try:
        yield {'a': a, 'b': b}
    finally:
        for caller, mon in ((alice, a), (bob, b)):
            resp = caller('DELETE', '/v1/monitors/%s' % mon['id'])
            assert resp.status_code in (204, 404), resp.text


def _a_urls(monitors):
    mid, aid = monitors['a']['id'], monitors['a']['alarm_id']
    return [('GET', '/v1/monitors/%s' % mid, None),
            ('PATCH', '/v1/monitors/%s' % mid,
             {'monitor': {'name': 'stolen'}}),
            ('POST', '/v1/monitors/%s/action' % mid, {'rebaseline': {}}),
            ('GET', '/v1/monitors/%s/metrics' % mid, None),
            ('GET', '/v1/monitors/%s/metrics/%s' % (mid, METRIC), None),
            ('GET', '/v1/monitors/%s/flows' % mid, None),
            ('GET', '/v1/monitors/%s/heavy_hitters' % mid, None),
            ('GET', '/v1/alarms/%s' % aid, None),
            ('GET', '/v1/alarms/%s/history' % aid, None),
            ('DELETE', '/v1/monitors/%s' % mid, None)]


# -- the tests -------------------------------------------------------------

def test_version_discovery_needs_no_token(callers):
    anon = callers['anonymous']
    root = _ok(anon.get('/'))
    assert 'versions' in root, root
    assert any(v.get('id', '').startswith('v1')
               for v in root['versions']), root
    _ok(anon.get('/v1'))
    spec = _ok(anon.get('/v1/openapi.json'))
    assert '/v1/monitors' in spec['paths']


def test_401_without_or_with_a_bad_token(callers, api):
    anon = callers['anonymous']
    for path in ('/v1/monitors', '/v1/alarms', '/v1/agents'):
        resp = anon.get(path)
        err = assert_error(resp, 401, 'dpiaas.unauthorized')
        assert 'X-Auth-Token' in err['detail']
        assert 'Keystone uri=' in resp.headers.get('WWW-Authenticate', '')
    bad = Caller(api['url'], 'gAAAAAB-not-a-token-' + uuid.uuid4().hex)
    assert_error(bad.get('/v1/monitors'), 401, 'dpiaas.unauthorized')
    assert_error(bad('POST', '/v1/monitors', json={'monitor': {
        'port_id': str(uuid.uuid4())}}), 401, 'dpiaas.unauthorized')


def test_create_derives_services_from_the_real_rules(monitors, callers,
                                                     cloud, api):
    a = monitors['a']
    assert a['project_id'] == cloud['a']['project_id']
    assert a['port_id'] == cloud['a']['port'].id
    assert a['alarm_id']
    shown = _ok(callers['alice'].get('/v1/monitors/%s' % a['id']))
    mon = shown['monitor']
    assert ('udp', 5060, 'sip') in _services(mon), mon['services']
    assert ('tcp', 80, 'http') in _services(mon), mon['services']
    assert {s['port_id'] for s in mon['services']} == {a['port_id']}
    assert mon['status'] != 'error', mon
    starts = [c for c in api['engine'].agents.casts if c[0] == 'start']
    assert (('start', HOST) in [c[:2] for c in starts]), starts


def test_dry_run_creates_nothing(monitors, callers, cloud):
    alice = callers['alice']
    before = _ok(alice.get('/v1/monitors'))['monitors']
    resp = alice('POST', '/v1/monitors?dry_run=true', json={'monitor': {
        'server_id': cloud['a']['server_id']}})
    preview = _ok(resp)['monitor']
    assert preview['ports'] == [cloud['a']['port'].id]
    got = sorted((s['l4'], s['port_min'], s['app'])
                 for s in preview['services'])
    assert ('udp', 5060, 'sip') in got and ('tcp', 80, 'http') in got, got
    assert preview['unmonitorable_ports'] == []
    assert _ok(alice.get('/v1/monitors'))['monitors'] == before


def test_list_show_patch_and_rebaseline(monitors, callers):
    alice, a = callers['alice'], monitors['a']
    listed = _ok(alice.get('/v1/monitors'))['monitors']
    assert [m['id'] for m in listed] == [a['id']]
    assert _ok(alice.get('/v1/monitors?limit=1'))['monitors'][0]['id'] \
        == a['id']
    patched = _ok(alice('PATCH', '/v1/monitors/%s' % a['id'], json={
        'monitor': {'interval_ms': 1000,
                    'detector': {'sensitivity': 0.7}}}))['monitor']
    assert patched['interval_ms'] == 1000
    assert patched['detector']['sensitivity'] == 0.7
    assert patched['detector']['baseline_s'] == a['detector']['baseline_s']
    assert _ok(alice.get('/v1/monitors/%s' % a['id']))['monitor'][
        'interval_ms'] == 1000
    resp = alice('POST', '/v1/monitors/%s/action' % a['id'],
                 json={'rebaseline': {}})
    assert _ok(resp, 202)['monitor']['rebaseline_requested_at']
    assert_error(alice('POST', '/v1/monitors/%s/action' % a['id'],
                       json={'explode': {}}), 400)
    assert_error(alice('PATCH', '/v1/monitors/%s' % a['id'],
                       json={'monitor': {'interval_ms': 'fast'}}), 400)


def test_metrics_series_and_flows(monitors, callers):
    alice, mid = callers['alice'], monitors['a']['id']
    metrics = _ok(alice.get('/v1/monitors/%s/metrics' % mid))['metrics']
    by_name = {m['name']: m for m in metrics}
    assert by_name[METRIC]['value'] == 7.0, metrics
    series = _ok(alice.get('/v1/monitors/%s/metrics/%s' % (mid, METRIC),
                           params={'start': str(time.time() - 3600)}))
    assert series['name'] == METRIC
    assert [m['value'] for m in series['measures']] == [7.0]
    assert_error(alice.get('/v1/monitors/%s/metrics/no.such.metric' % mid),
                 404, 'dpiaas.metric_not_found')
    assert_error(alice.get('/v1/monitors/%s/metrics/%s' % (mid, METRIC),
                           params={'start': '2030-01-02T00:00:00Z',
                                   'end': '2030-01-01T00:00:00Z'}),
                 400, 'dpiaas.invalid_range')
    flows = _ok(alice.get('/v1/monitors/%s/flows' % mid))['flows']
    assert [(f['dport'], f['packets']) for f in flows] == [(5060, 7)], flows
    assert flows[0]['ts'].endswith('Z'), flows
    hitters = _ok(alice.get('/v1/monitors/%s/heavy_hitters' % mid))[
        'heavy_hitters']
    assert [(f['src'], f['bytes']) for f in hitters] == [
        ('198.51.10.20', 3500)], hitters


def test_alarms_list_show_history(monitors, callers):
    alice, a = callers['alice'], monitors['a']
    alarms = _ok(alice.get('/v1/alarms'))['alarms']
    assert [x['id'] for x in alarms] == [a['alarm_id']]
    assert alarms[0]['monitor_id'] == a['id']
    filtered = _ok(alice.get('/v1/alarms', params={
        'state': 'alarm', 'monitor_id': a['id']}))['alarms']
    assert [x['id'] for x in filtered] == [a['alarm_id']]
    assert _ok(alice.get('/v1/alarms', params={'state': 'ok'}))[
        'alarms'] == []
    alarm = _ok(alice.get('/v1/alarms/%s' % a['alarm_id']))['alarm']
    assert (alarm['state'], alarm['severity']) == ('alarm', 'critical')
    history = _ok(alice.get('/v1/alarms/%s/history' % a['alarm_id']))[
        'history']
    assert history and history[0]['state'] == 'alarm', history


def test_a_tenant_cannot_monitor_another_tenants_port(monitors, callers,
                                                      cloud):
    alice = callers['alice']
    for body in ({'port_id': cloud['b']['port'].id},
                 {'server_id': cloud['b']['server_id']}):
        err = assert_error(alice('POST', '/v1/monitors',
                                 json={'monitor': body}), 404)
        assert err['code'] in ('dpiaas.port_not_found',
                               'dpiaas.server_not_found'), err
    assert_error(alice('POST', '/v1/monitors', json={'monitor': {
        'port_id': str(uuid.uuid4())}}), 404, 'dpiaas.port_not_found')
    # the same through a dry run: nothing of tenant-b is described
    assert_error(alice('POST', '/v1/monitors?dry_run=true', json={
        'monitor': {'port_id': cloud['b']['port'].id}}), 404,
        'dpiaas.port_not_found')
    ids = [m['id'] for m in _ok(alice.get('/v1/monitors'))['monitors']]
    assert ids == [monitors['a']['id']]


def test_other_tenant_gets_404_for_each_of_a_objects(monitors, callers):
    bob = callers['bob']
    for method, path, body in _a_urls(monitors):
        resp = bob(method, path, json=body)
        assert_error(resp, 404)
    # untouched by bob's attempts
    a = _ok(callers['alice'].get('/v1/monitors/%s' % monitors['a']['id']))
    assert a['monitor']['name'] == 'a-sip'


def test_other_tenant_never_sees_a_in_lists(monitors, callers):
    bob, a, b = callers['bob'], monitors['a'], monitors['b']
    assert [m['id'] for m in _ok(bob.get('/v1/monitors'))['monitors']] \
        == [b['id']]
    assert [x['id'] for x in _ok(bob.get('/v1/alarms'))['alarms']] \
        == [b['alarm_id']]
    assert _ok(bob.get('/v1/alarms', params={
        'monitor_id': a['id']}))['alarms'] == []
    for path in ('/v1/monitors', '/v1/alarms'):
        resp = bob.get(path, params={'all_projects': 'true'})
        assert_error(resp, 403, 'dpiaas.forbidden')
        assert a['id'] not in resp.text


def test_admin_resources_need_admin(monitors, callers):
    for who in ('alice', 'bob'):
        for path in ('/v1/agents', '/v1/collectors'):
            assert_error(callers[who].get(path), 403, 'dpiaas.forbidden')
    admin = callers['admin']
    agents = _ok(admin.get('/v1/agents'))['agents']
    assert HOST in [x['host'] for x in agents], agents
    collectors = _ok(admin.get('/v1/collectors'))['collectors']
    mine = [c for c in collectors
            if c['monitor_id'] == monitors['a']['id']]
    assert [c['host'] for c in mine] == [HOST], collectors
    only = _ok(admin.get('/v1/collectors', params={
        'monitor_id': monitors['b']['id']}))['collectors']
    assert {c['monitor_id'] for c in only} == {monitors['b']['id']}


def test_admin_sees_every_project(monitors, callers):
    admin, a, b = callers['admin'], monitors['a'], monitors['b']
    shown = _ok(admin.get('/v1/monitors/%s' % a['id']))['monitor']
    assert shown['project_id'] == a['project_id']
    _ok(admin.get('/v1/alarms/%s' % a['alarm_id']))
    every = {m['id'] for m in _ok(admin.get(
        '/v1/monitors', params={'all_projects': 'true'}))['monitors']}
    assert {a['id'], b['id']} <= every
    alarms = {x['id'] for x in _ok(admin.get(
        '/v1/alarms', params={'all_projects': 'true'}))['alarms']}
    assert {a['alarm_id'], b['alarm_id']} <= alarms
    # without all_projects an admin lists its own project only
    own = {m['id'] for m in _ok(admin.get('/v1/monitors'))['monitors']}
    assert a['id'] not in own and b['id'] not in own


def test_delete_by_server_removes_monitor_and_alarm(monitors, callers,
                                                    cloud, api):
    alice = callers['alice']
    mon = _ok(alice('POST', '/v1/monitors', json={'monitor': {
        'server_id': cloud['a']['server_id']}}), 201)['monitor']
    assert _ok(alice.get('/v1/monitors/%s' % mon['id']))['monitor'][
        'server_id'] == cloud['a']['server_id']
    assert_error(alice('POST', '/v1/monitors', json={'monitor': {
        'server_id': cloud['a']['server_id']}}), 409, 'dpiaas.monitor_exists')
    resp = alice('DELETE', '/v1/monitors/%s' % mon['id'])
    assert resp.status_code == 204, resp.text
    assert_error(alice.get('/v1/monitors/%s' % mon['id']), 404,
                 'dpiaas.monitor_not_found')
    assert_error(alice.get('/v1/alarms/%s' % mon['alarm_id']), 404,
                 'dpiaas.alarm_not_found')
    assert api['storage'].list_collectors(monitor_id=mon['id']) == []


def test_cli_lists_the_monitor_with_a_real_token(monitors, api,
                                                 openstack_stack):
    env = dict(os.environ, **openstack_stack.env)
    for key in [k for k in env if k.startswith('OS_')
                and k != 'OS_CLIENT_CONFIG_FILE']:
        env.pop(key)
    res = subprocess.run(
        [os.path.join(BIN, 'openstack'), '--os-cloud', 'tenant-a',
         '--os-dpi-url', api['url'], 'dpi', 'monitor', 'list', '-f',
         'json'], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(res.stdout)
    ids = [r.get('ID') or r.get('id') for r in rows]
    assert ids == [monitors['a']['id']], rows
