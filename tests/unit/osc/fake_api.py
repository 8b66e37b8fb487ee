"""A small real HTTP server answering the shapes of DESIGN 4.4 (API v1).

Just enough of the dpiaas API for the CLI tests: monitors (with the
``{"monitor": ...}`` bodies, ``next`` links, name-less 404s in the error
form), metrics, alarms, alarm history, agents and collectors (admin via
``X-Roles``), and noauth's ``X-Project-Id``. Every request is recorded so
tests can check what the CLI sent.
"""
import http.server
import json
import re
import threading
import uuid
from urllib import parse

UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                     r'[0-9a-f]{12}$')
MONITOR_KEYS = {'name', 'server_id', 'port_id', 'protocols', 'interval_ms',
                'detector', 'alarm_actions', 'ok_actions'}


class Fail(Exception):
    def __init__(self, status, code, detail):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class FakeDpiApi:
    """In-memory objects behind a ThreadingHTTPServer on 127.0.0.1."""

    page_size = 2

    def __init__(self):
        self.monitors = {}
        self.alarms = {}
        self.history = {}
        self.metrics = {}
        self.series = {}
        self.agents = []
        self.collectors = []
        self.requests = []
        self.last_request_id = None
        # (status, content type, bytes) answered to every /v1 request
        self.force = None
        # Keystone stand-in: the catalog handed out with tokens
        self.catalog = []
        self.tokens = {}
        self.ports = []
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        daemon=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self._server.server_address[1]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- fixtures the tests fill in -------------------------------------

    def add_monitor(self, project_id='p1', **values):
        monitor_id = values.pop('id', None) or str(uuid.uuid4())
        alarm_id = str(uuid.uuid4())
        monitor = {
            'id': monitor_id, 'project_id': project_id, 'name': None,
            'server_id': None, 'port_id': None, 'protocols': {},
            'interval_ms': 500,
            'detector': {'baseline_s': 600, 'sensitivity': 0.5},
            'alarm_actions': [], 'ok_actions': [], 'status': 'pending',
            'status_reason': 'waiting for the scheduler',
            'alarm_id': alarm_id, 'rebaseline_requested_at': None,
            'created_at': '2025-01-31T12:00:00.000000Z',
            'updated_at': '2025-01-31T12:00:00.000000Z',
        }
        monitor.update(values)
        monitor['detector'] = dict(
            {'baseline_s': 600, 'sensitivity': 0.5},
            **(values.get('detector') or {}))
        self.monitors[monitor_id] = monitor
        self.alarms[alarm_id] = {
            'id': alarm_id, 'project_id': project_id,
            'monitor_id': monitor_id, 'name': None,
            'state': 'insufficient_data',
            'state_reason': 'learning the baseline (600 s)',
            'severity': None, 'score': None, 'explanation': [],
            'state_timestamp': monitor['created_at'],
            'created_at': monitor['created_at'],
            'updated_at': monitor['created_at'],
        }
        self.history[alarm_id] = []
        return monitor

    # -- HTTP -----------------------------------------------------------

    def handle(self, method, path, query, headers, body):
        self.requests.append({'method': method, 'path': path,
                              'query': query, 'headers': headers,
                              'body': body})
        if path == '/':
            return 200, {'versions': [{'id': 'v1.0', 'status': 'CURRENT',
                                       'links': []}]}
        if path.startswith('/identity'):
            return self.keystone(method, path, body)
        if path.startswith('/network'):
            return self.neutron(method, path, query)
        if self.force:
            return self.force
        project = headers.get('x-project-id')
        token = headers.get('x-auth-token')
        if token:
            # what keystonemiddleware's auth_token does for the real API
            if token not in self.tokens:
                raise Fail(401, 'dpiaas.unauthorized', 'Invalid token.')
            project = self.tokens[token]
        if not project:
            raise Fail(401, 'dpiaas.unauthorized',
                       'The X-Project-Id header is required ([api] '
                       'auth_strategy = noauth).')
        roles = [r.strip() for r in headers.get('x-roles', '').split(',')]
        admin = 'admin' in roles
        with self._lock:
            for pattern, verb, func in ROUTES:
                m = re.match(pattern + '$', path)
                if m and verb == method:
                    return func(self, project, admin, query, body,
                                *m.groups())
            if any(re.match(p + '$', path) for p, _, _ in ROUTES):
                raise Fail(405, 'dpiaas.method_not_allowed',
                           'The method is not allowed for the requested '
                           'URL.')
        raise Fail(404, 'dpiaas.not_found', 'No such resource: %s' % path)

    def keystone(self, method, path, body):
        """Just enough of Keystone v3 for a password login."""
        root = self.url + '/identity/v3'
        if method == 'GET' and path.rstrip('/') in ('/identity',
                                                    '/identity/v3'):
            return 200, {'version': {
                'id': 'v3.14', 'status': 'stable',
                'updated': '2020-04-07T00:00:00Z',
                'links': [{'rel': 'self', 'href': root + '/'}],
                'media-types': [{
                    'base': 'application/json',
                    'type': 'application/vnd.openstack.identity-v3+json'}]}}
        if method == 'POST' and path == '/identity/v3/auth/tokens':
            token = 'tok-' + str(uuid.uuid4())
            project = body['auth']['scope']['project']
            project_id = project.get('id') or 'p1'
            self.tokens[token] = project_id
            return 201, {'token': {
                'methods': ['password'],
                'expires_at': '2099-01-01T00:00:00.000000Z',
                'issued_at': '2025-01-01T00:00:00.000000Z',
                'user': {'id': 'u1', 'name': 'demo',
                         'domain': {'id': 'default', 'name': 'Default'}},
                'project': {'id': project_id, 'name': 'demo',
                            'domain': {'id': 'default', 'name': 'Default'}},
                'roles': [{'id': 'r1', 'name': 'member'}],
                'catalog': self.catalog}}, {'X-Subject-Token': token}
        raise Fail(404, 'keystone.not_found', 'No such Keystone resource.')

    def neutron(self, method, path, query):
        """Neutron's port lookups by name (what openstacksdk asks)."""
        if path.rstrip('/') == '/network':
            return 200, {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT',
                'links': [{'rel': 'self',
                           'href': self.url + '/network/v2.0/'}]}]}
        if path == '/network/v2.0/ports':
            return 200, {'ports': [p for p in self.ports
                                   if p['name'] == query.get('name')]}
        raise Fail(404, 'neutron.not_found', 'Port not found.')

    def _page(self, key, items, query, path):
        limit = int(query.get('limit', self.page_size))
        limit = min(limit, self.page_size)
        marker = query.get('marker')
        if marker:
            ids = [str(i['id']) for i in items]
            if marker not in ids:
                raise Fail(400, 'dpiaas.invalid_input',
                           'marker: %s is not in this listing.' % marker)
            items = items[ids.index(marker) + 1:]
        out = {key: items[:limit]}
        if len(items) > limit:
            params = dict(query, marker=items[limit - 1]['id'], limit=limit)
            out['next'] = '%s%s?%s' % (self.url, path,
                                       parse.urlencode(sorted(
                                           params.items())))
        return 200, out

    def _monitor(self, project, monitor_id):
        if not UUID_RE.match(monitor_id):
            raise Fail(400, 'dpiaas.invalid_input',
                       "monitor_id: '%s' does not match the UUID pattern"
                       % monitor_id)
        monitor = self.monitors.get(monitor_id)
        if monitor is None or monitor['project_id'] != project:
            raise Fail(404, 'dpiaas.monitor_not_found',
                       'Monitor %s not found.' % monitor_id)
        return monitor

    def _alarm(self, project, alarm_id):
        alarm = self.alarms.get(alarm_id)
        if alarm is None or alarm['project_id'] != project:
            raise Fail(404, 'dpiaas.alarm_not_found',
                       'Alarm %s not found.' % alarm_id)
        return alarm

    def list_monitors(self, project, admin, query, body):
        items = [m for m in self.monitors.values()
                 if (query.get('all_projects') == 'true' and admin)
                 or m['project_id'] == project]
        if query.get('status'):
            items = [m for m in items if m['status'] == query['status']]
        items = [{k: v for k, v in m.items() if k != 'services'}
                 for m in items]
        return self._page('monitors', items, query, '/v1/monitors')

    def create_monitor(self, project, admin, query, body):
        values = (body or {}).get('monitor')
        if not isinstance(values, dict):
            raise Fail(400, 'dpiaas.invalid_input',
                       "body: 'monitor' is a required property")
        unknown = set(values) - MONITOR_KEYS
        if unknown:
            raise Fail(400, 'dpiaas.invalid_input',
                       'body.monitor: unknown field %s' % sorted(unknown))
        if bool(values.get('server_id')) == bool(values.get('port_id')):
            raise Fail(400, 'dpiaas.invalid_input',
                       'Give exactly one of server_id and port_id.')
        monitor = self.add_monitor(project, **values)
        monitor['services'] = []
        return 201, {'monitor': monitor}

    def show_monitor(self, project, admin, query, body, monitor_id):
        monitor = dict(self._monitor(project, monitor_id))
        monitor.setdefault('services', [])
        return 200, {'monitor': monitor}

    def update_monitor(self, project, admin, query, body, monitor_id):
        monitor = self._monitor(project, monitor_id)
        values = (body or {}).get('monitor') or {}
        unknown = set(values) - (MONITOR_KEYS - {'server_id', 'port_id'})
        if unknown or not values:
            raise Fail(400, 'dpiaas.invalid_input',
                       'body.monitor: unknown field %s' % sorted(unknown))
        monitor.update(values)
        return 200, {'monitor': monitor}

    def delete_monitor(self, project, admin, query, body, monitor_id):
        monitor = self._monitor(project, monitor_id)
        del self.monitors[monitor_id]
        self.alarms.pop(monitor['alarm_id'], None)
        return 204, None

    def monitor_action(self, project, admin, query, body, monitor_id):
        monitor = self._monitor(project, monitor_id)
        if set(body or {}) != {'rebaseline'}:
            raise Fail(400, 'dpiaas.invalid_input', 'unknown action')
        monitor['rebaseline_requested_at'] = '2025-01-31T13:00:00.000000Z'
        return 202, {'monitor': monitor}

    def list_metrics(self, project, admin, query, body, monitor_id):
        self._monitor(project, monitor_id)
        return 200, {'metrics': self.metrics.get(monitor_id, [])}

    def show_metric(self, project, admin, query, body, monitor_id, name):
        monitor = self._monitor(project, monitor_id)
        series = self.series.get((monitor_id, name))
        if series is None:
            raise Fail(404, 'dpiaas.metric_not_found',
                       'Monitor %s has no metric named %s; GET '
                       '/v1/monitors/%s/metrics lists its metrics.'
                       % (monitor_id, name, monitor_id))
        if query.get('start') and query.get('end') and \
                query['start'] >= query['end']:
            raise Fail(400, 'dpiaas.invalid_range',
                       'The time range is reversed or empty: end must be '
                       'after start.')
        return 200, {'name': name, 'interval_ms': monitor['interval_ms'],
                     'resolution': None, 'measures': series}

    def list_alarms(self, project, admin, query, body):
        items = [a for a in self.alarms.values()
                 if (query.get('all_projects') == 'true' and admin)
                 or a['project_id'] == project]
        for key in ('state', 'severity', 'monitor_id'):
            if query.get(key):
                items = [a for a in items if a[key] == query[key]]
        return self._page('alarms', items, query, '/v1/alarms')

    def show_alarm(self, project, admin, query, body, alarm_id):
        return 200, {'alarm': self._alarm(project, alarm_id)}

    def alarm_history(self, project, admin, query, body, alarm_id):
        self._alarm(project, alarm_id)
        return self._page('history', self.history[alarm_id], query,
                          '/v1/alarms/%s/history' % alarm_id)

    def list_agents(self, project, admin, query, body):
        if not admin:
            raise Fail(403, 'dpiaas.forbidden',
                       'Policy does not allow this request.')
        return 200, {'agents': self.agents}

    def list_collectors(self, project, admin, query, body):
        if not admin:
            raise Fail(403, 'dpiaas.forbidden',
                       'Policy does not allow this request.')
        items = [c for c in self.collectors
                 if all(c.get(k) == query[k] for k in ('host', 'monitor_id')
                        if k in query)]
        return 200, {'collectors': items}


_ID = '([^/]+)'
ROUTES = [
    ('/v1/monitors', 'GET', FakeDpiApi.list_monitors),
    ('/v1/monitors', 'POST', FakeDpiApi.create_monitor),
    ('/v1/monitors/' + _ID, 'GET', FakeDpiApi.show_monitor),
    ('/v1/monitors/' + _ID, 'PATCH', FakeDpiApi.update_monitor),
    ('/v1/monitors/' + _ID, 'DELETE', FakeDpiApi.delete_monitor),
    ('/v1/monitors/' + _ID + '/action', 'POST', FakeDpiApi.monitor_action),
    ('/v1/monitors/' + _ID + '/metrics', 'GET', FakeDpiApi.list_metrics),
    ('/v1/monitors/' + _ID + '/metrics/' + _ID, 'GET',
     FakeDpiApi.show_metric),
    ('/v1/alarms', 'GET', FakeDpiApi.list_alarms),
    ('/v1/alarms/' + _ID, 'GET', FakeDpiApi.show_alarm),
    ('/v1/alarms/' + _ID + '/history', 'GET', FakeDpiApi.alarm_history),
    ('/v1/agents', 'GET', FakeDpiApi.list_agents),
    ('/v1/collectors', 'GET', FakeDpiApi.list_collectors),
]


def _handler_for(api):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def _serve(self):
            request_id = 'req-' + str(uuid.uuid4())
            url = parse.urlsplit(self.path)
            query = dict(parse.parse_qsl(url.query))
            length = int(self.headers.get('Content-Length') or 0)
            raw = self.rfile.read(length) if length else b''
            extra = {}
            content_type = 'application/json'
            try:
                body = json.loads(raw) if raw else None
                answer = api.handle(
                    self.command, parse.unquote(url.path), query,
                    {k.lower(): v for k, v in self.headers.items()}, body)
                if len(answer) == 3 and isinstance(answer[2], dict):
                    status, out, extra = answer
                elif len(answer) == 3:
                    status, content_type, out = answer
                else:
                    status, out = answer
            except Fail as e:
                status, out = e.status, {'errors': [{
                    'status': e.status, 'code': e.code,
                    'title': http.HTTPStatus(e.status).phrase,
                    'detail': e.detail, 'request_id': request_id}]}
            api.last_request_id = request_id
            if isinstance(out, bytes):
                data = out
            else:
                data = b'' if out is None else json.dumps(out).encode()
            self.send_response(status)
            self.send_header('X-OpenStack-Request-Id', request_id)
            for key, value in extra.items():
                self.send_header(key, value)
            if data:
                self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    return Handler
