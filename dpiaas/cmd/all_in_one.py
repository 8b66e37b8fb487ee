"""``dpiaas-all-in-one``: API + engine + agent in one process.

The embedded default (DESIGN 3 and 4.5): SQLite, oslo.messaging's
in-process ``fake://`` transport, a static inventory and no Keystone, so
that dpiaas runs on one machine with nothing else installed. ``--demo``
also builds a namespace "VM" with real servers and steady clients and
monitors it through the REST API, like a tenant would.
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request

from oslo_config import cfg

LOG = logging.getLogger('dpiaas.all_in_one')

DEFAULT_BIND = '127.0.0.1:8778'
DEFAULT_STATE_DIR = '/var/lib/dpiaas'


class UsageError(Exception):
    """A bad flag or file: one line, exit code 2."""


def _parser():
    p = argparse.ArgumentParser(
        prog='dpiaas-all-in-one',
        description='dpiaas API, engine and agent in one process (SQLite, '
                    'in-process messaging, static inventory).')
    p.add_argument('--config-file', action='append', default=[],
                   help='oslo.config file (may be repeated)')
    p.add_argument('--inventory', metavar='FILE',
                   help='static inventory (DESIGN 4.3), YAML or JSON')
    p.add_argument('--bind', default=DEFAULT_BIND, metavar='HOST:PORT',
                   help='where the REST API listens (default %(default)s)')
    p.add_argument('--database', metavar='URL',
                   help='SQLAlchemy URL (default: a SQLite file in the '
                        'state directory)')
    p.add_argument('--state-dir', default=None, metavar='DIR',
                   help='where the database and demo files live (default '
                        '%s)' % DEFAULT_STATE_DIR)
    p.add_argument('--noauth', action='store_true', default=True,
                   help='no Keystone: the project comes from X-Project-Id '
                        '(always on in the all-in-one)')
    p.add_argument('--demo', action='store_true',
                   help='create a namespace "VM" running nginx (and dnsmasq '
                        'and Kamailio when installed) with steady client '
                        'traffic, and monitor it')
    p.add_argument('--duration', type=float, default=None,
                   help=argparse.SUPPRESS)   # tests: stop after N seconds
    return p


def _bind(text):
    host, sep, port = text.rpartition(':')
    if not sep or not host or not port.isdigit() or \
            not 0 < int(port) < 65536:
        raise UsageError('--bind wants HOST:PORT, not %r' % text)
    return host, int(port)


def build_conf(args):
    """A ConfigOpts with every dpiaas option and the all-in-one defaults."""
    from dpiaas import conf as conf_mod

    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    for path in args.config_file:
        if not os.path.isfile(path):
            raise UsageError('config file %s does not exist' % path)
    state_dir = os.path.abspath(args.state_dir or DEFAULT_STATE_DIR)
    conf([], project='dpiaas', prog='dpiaas-all-in-one',
         default_config_files=args.config_file)
    conf.set_override('auth_strategy', 'noauth', group='api')
    conf.set_override('inventory_driver', 'static')
    if args.inventory:
        if not os.path.isfile(args.inventory):
            raise UsageError('inventory file %s does not exist'
                             % args.inventory)
        conf.set_override('inventory_file', os.path.abspath(args.inventory))
    url = args.database or 'sqlite:///%s' % os.path.join(state_dir,
                                                         'dpiaas.sqlite')
    conf.set_override('connection', url, group='database')
    host, port = _bind(args.bind)
    conf.set_override('host', host, group='api')
    conf.set_override('port', port, group='api')
    return conf, state_dir


class AllInOne:
    """The three services of dpiaas sharing one process and one transport."""

    def __init__(self, conf):
        from dpiaas.agent import service as agent_service
        from dpiaas.api import app as api_app
        from dpiaas.db import api as db_api
        from dpiaas.db import migration
        from dpiaas.engine import service as engine_service
        from dpiaas import inventory
        from dpiaas.rpc import engine_api
        from dpiaas.rpc import transport as transport_mod

        self.conf = conf
        migration.upgrade(conf.database.connection)
        self.storage = db_api.get_storage(conf)
        # oslo.messaging's in-process driver: no broker in the all-in-one
        self.transport = transport_mod.get_rpc_transport(conf,
                                                         url='fake://')
        self.inventory = inventory.get_inventory(conf)
        self.engine = engine_service.EngineService(
            conf, self.storage, self.inventory, self.transport)
        self.agent = agent_service.build_agent(conf, self.transport)
        self.app = api_app.create_app(
            conf, storage=self.storage, inventory=self.inventory,
            engine_control=engine_api.EngineControlAPI(self.transport))
        self.http = None

    def start(self):
        from werkzeug import serving

        self.engine.start()
        self.agent.start()
        self.http = serving.make_server(self.conf.api.host,
                                        self.conf.api.port, self.app,
                                        threaded=True)
        from dpiaas.wsgi import api as wsgi_api
        wsgi_api.freeze_heap()
        threading.Thread(target=self.http.serve_forever, daemon=True,
                         name='api').start()
        LOG.info('dpiaas API on http://%s:%d/ (noauth: send X-Project-Id)',
                 self.conf.api.host, self.conf.api.port)

    def stop(self):
        if self.http is not None:
            self.http.shutdown()
        self.agent.stop()
        self.engine.stop()

    @property
    def url(self):
        return 'http://%s:%d' % (self.conf.api.host, self.conf.api.port)


def api_call(base, method, path, project, body=None):
    """One request to the REST API, as a tenant's client would make it."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={'X-Project-Id': project,
                                          'Content-Type':
                                          'application/json'})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b'{}')
    except urllib.error.HTTPError as exc:
        raise UsageError('API %s %s: %s %s' % (method, path, exc.code,
                                               exc.read()[:300]))


def ensure_demo_monitor(base, scene):
    from dpiaas.demo import inventory as demo_inv

    found = api_call(base, 'GET', '/v1/monitors', demo_inv.DEMO_PROJECT)
    for mon in found.get('monitors', []):
        if mon.get('server_id') == demo_inv.DEMO_SERVER_ID:
            return mon
    return api_call(base, 'POST', '/v1/monitors', demo_inv.DEMO_PROJECT,
                    scene.monitor_request)['monitor']


def summarise(metrics, interval_ms):
    """A one-line view of a monitor's latest interval, per second."""
    per_s = 1000.0 / interval_ms
    parts = []
    for name in ('http.80.requests.get', 'http.80.responses.2xx',
                 'http.80.responses.5xx', 'dns.53.queries',
                 'dns.53.responses.nxdomain', 'sip.5060.requests.register',
                 'sip.5060.responses.2xx', 'generic.22.packets_in'):
        if name in metrics:
            parts.append('%s %.0f/s' % (name, metrics[name] * per_s))
    for name in ('http.80.latency_ms.p95', 'sip.5060.latency_ms.p95'):
        if name in metrics:
            parts.append('%s %.2f' % (name, metrics[name]))
    return ', '.join(parts) or 'no samples yet'


def show_live(base, monitor_id, project, stop, every=5.0):
    """Log the demo monitor's status and latest metrics until stopped."""
    while not stop.wait(every):
        try:
            mon = api_call(base, 'GET', '/v1/monitors/%s' % monitor_id,
                           project)['monitor']
            latest = api_call(base, 'GET', '/v1/monitors/%s/metrics'
                              % monitor_id, project)
        except (UsageError, OSError) as exc:
            LOG.warning('demo: cannot read the API: %s', exc)
            continue
        values = {m['name']: m.get('value')
                  for m in latest.get('metrics', [])}
        LOG.info('demo monitor %s [%s%s]: %s', monitor_id[:8],
                 mon.get('status'),
                 (': ' + mon['status_reason']) if mon.get('status_reason')
                 else '', summarise(values, mon.get('interval_ms', 500)))


def run(args):
    conf, state_dir = build_conf(args)
    os.makedirs(state_dir, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scene = None
    if args.demo:
        from dpiaas.demo import scene as scene_mod
        scene = scene_mod.DemoScene(state_dir, conf.host)
        scene.__enter__()
        if not args.inventory:
            conf.set_override('inventory_file', scene.inventory_file)
    try:
        service = AllInOne(conf)
        service.start()
        try:
            if scene is not None:
                from dpiaas.demo import inventory as demo_inv
                mon = ensure_demo_monitor(service.url, scene)
                LOG.info('demo: monitoring server %s as monitor %s; try\n'
                         '  curl -s -H "X-Project-Id: %s" %s/v1/monitors/%s'
                         '/metrics', demo_inv.DEMO_SERVER_ID, mon['id'],
                         demo_inv.DEMO_PROJECT, service.url, mon['id'])
                threading.Thread(target=show_live, daemon=True,
                                 args=(service.url, mon['id'],
                                       demo_inv.DEMO_PROJECT, stop)).start()
            stop.wait(args.duration)
            stop.set()
        finally:
            service.stop()
    finally:
        if scene is not None:
            scene.__exit__(None, None, None)
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    # one line per HTTP request drowns what the demo shows
    logging.getLogger('werkzeug').setLevel(logging.WARNING)
    if args.state_dir is None and os.geteuid() != 0:
        args.state_dir = os.path.join(os.path.expanduser('~'), '.dpiaas')
    try:
        return run(args)
    except UsageError as exc:
        print('dpiaas-all-in-one: error: %s' % exc, file=sys.stderr)
        return 2
    except Exception as exc:      # one clear line, never a traceback
        from dpiaas.demo import vm as vm_mod
        if isinstance(exc, (vm_mod.DemoError, OSError)):
            print('dpiaas-all-in-one: error: %s' % exc, file=sys.stderr)
            return 2
        LOG.debug('fatal', exc_info=True)
        print('dpiaas-all-in-one: error: %s: %s'
              % (type(exc).__name__, exc), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
