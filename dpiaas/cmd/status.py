"""``dpiaas-status upgrade check``: is this deployment ready for this code?

Run before (re)starting the services on new code, as ``nova-status`` and
``aodh-status`` are: the database schema is at this code's head, the
policy file parses and overrides no deprecated rule, the message transport
is set, the coordination backend (when set) answers, the inventory has its
credentials and no config file is readable by every user. Exit code 0 all
passed, 1 a warning, 2 a failure, 255 the check itself could not run.

Each check answers in one short paragraph that says what to do; none
prints a traceback, a password or a token.
"""
import functools
import logging
import os
import stat
import sys
import threading
import urllib.parse
import warnings

from oslo_config import cfg
from oslo_upgradecheck import upgradecheck

from dpiaas import conf as dpiaas_conf

PROG = 'dpiaas-status'
EXIT_ERROR = 255
NETWORK_TIMEOUT_S = 10.0

Code = upgradecheck.Code
Result = upgradecheck.Result


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return '%s: %s' % (type(exc).__name__, text[0]) if text else \
        type(exc).__name__


def redact_url(url):
    """``scheme://user:secret@host/x`` -> ``scheme://user:***@host/x``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return '<unparsable URL>'
    hosts = []
    for netloc in parts.netloc.split(','):
        userinfo, at, host = netloc.rpartition('@')
        if at and ':' in userinfo:
            userinfo = userinfo.split(':', 1)[0] + ':***'
        hosts.append(userinfo + at + host)
    query = urllib.parse.urlencode(
        [(k, '***' if 'pass' in k.lower() or 'token' in k.lower() else v)
         for k, v in urllib.parse.parse_qsl(parts.query)])
    return urllib.parse.urlunsplit(parts._replace(netloc=','.join(hosts),
                                                  query=query))


def _never_raises(check):
    """A check that crashes is a failure with one line, not a traceback
    (oslo.upgradecheck would print one and exit 255)."""
    @functools.wraps(check)
    def wrapper(self):
        try:
            return check(self)
        except Exception as exc:
            return Result(Code.FAILURE, 'the check could not run: %s'
                          % _first_line(exc))
    return wrapper


def _call_with_timeout(func, timeout):
    """``func()`` in a thread; TimeoutError when it takes too long (tooz
    and kombu can block for minutes on an address that drops packets)."""
    box = {}

    def run():
        try:
            box['value'] = func()
        except BaseException as exc:
            box['error'] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError('no answer within %.0f s' % timeout)
    if 'error' in box:
        raise box['error']
    return box.get('value')


class Checks(upgradecheck.UpgradeCommands):
    """The checks of ``dpiaas-status upgrade check`` on one ConfigOpts."""

    display_title = 'dpiaas upgrade check results'

    def __init__(self, conf, network_timeout=NETWORK_TIMEOUT_S):
        self.conf = conf
        self.network_timeout = network_timeout

    @_never_raises
    def check_database(self):
        from sqlalchemy.engine import make_url

        from dpiaas.db import api
        from dpiaas.db import migration
        url = api.connection_url(self.conf)
        shown = make_url(url).render_as_string(hide_password=True)
        if url.startswith('sqlite'):
            path = make_url(url).database
            if path and path != ':memory:' and not os.path.exists(path):
                return Result(Code.FAILURE, 'No database at %s: run '
                              '"dpiaas-manage db sync".' % path)
        try:
            current = _call_with_timeout(lambda: migration.version(url),
                                         self.network_timeout)
        except Exception as exc:
            return Result(Code.FAILURE, 'Cannot read the database %s (%s). '
                          'Is [database] connection right and the server '
                          'running?' % (shown, _first_line(exc)))
        head = migration.head()
        if current == head:
            return Result(Code.SUCCESS, 'Schema at revision %s.' % head)
        if current is None:
            return Result(Code.FAILURE, 'The database %s has no dpiaas '
                          'schema: run "dpiaas-manage db sync".' % shown)
        if _known_revision(current):
            return Result(Code.FAILURE, 'Schema at revision %s, this code '
                          'needs %s: run "dpiaas-manage db sync" before '
                          'starting the services.' % (current, head))
        return Result(Code.FAILURE, 'Schema at revision %s, which this code '
                      'does not know (newest it knows: %s): the database '
                      'was upgraded by newer code.' % (current, head))

    @_never_raises
    def check_policy(self):
        from oslo_policy import policy

        from dpiaas import policies
        name = self.conf.oslo_policy.policy_file
        path = self.conf.find_file(name) if name else None
        if not path:
            return Result(Code.SUCCESS, 'No policy file (%s): the defaults '
                          'in code apply.' % name)
        with open(path, 'rb') as f:
            text = f.read()
        if text.lstrip().startswith(b'{'):
            return Result(Code.FAILURE, '%s is JSON, which oslo.policy no '
                          'longer reads by default: convert it with '
                          '"oslopolicy-convert-json-to-yaml --namespace '
                          'dpiaas".' % path)
        try:
            overrides = policy.parse_file_contents(text)
        except ValueError as exc:
            return Result(Code.FAILURE, 'Cannot parse %s: %s'
                          % (path, str(exc).splitlines()[0]))
        if not isinstance(overrides, dict) or not all(
                isinstance(k, str) and isinstance(v, str)
                for k, v in overrides.items()):
            return Result(Code.FAILURE, '%s must map rule names to check '
                          'strings.' % path)
        return self._policy_rules(path, overrides,
                                  policies.make_enforcer(self.conf))

    def _policy_rules(self, path, overrides, enforcer):
        from oslo_policy import policy
        failures, warns = [], []
        parsed = policy.Rules.from_dict(overrides)
        bad = sorted(k for k, check in parsed.items()
                     if str(check) == '!' and overrides[k].strip() != '!')
        if bad:
            failures.append('check strings that do not parse (they deny '
                            'everyone): %s' % ', '.join(bad))
        registered = enforcer.registered_rules
        deprecated = {r.deprecated_rule.name: r.name
                      for r in registered.values()
                      if getattr(r, 'deprecated_rule', None)}
        renamed = sorted('%s (now %s)' % (k, deprecated[k])
                         for k in overrides if k in deprecated)
        if renamed:
            warns.append('overrides of deprecated rules: %s; rename '
                         'them' % ', '.join(renamed))
        removed = sorted(k for k in overrides if k in registered and
                         registered[k].deprecated_for_removal)
        if removed:
            warns.append('overrides of rules to be removed: %s'
                         % ', '.join(removed))
        used = '\n'.join(list(overrides.values()) + [
            r.check_str for r in registered.values()])
        unknown = sorted(k for k in overrides if k not in registered and
                         k not in deprecated and 'rule:%s' % k not in used)
        if unknown:
            warns.append('rules this code does not know (typos?): %s'
                         % ', '.join(unknown))
        enforcer.load_rules(force_reload=True)
        try:
            enforcer.check_rules(raise_on_violation=True)
        except policy.InvalidDefinitionError as exc:
            failures.append(str(exc).split('.')[0])
        if failures:
            return Result(Code.FAILURE, '%s: %s.' % (
                path, '; '.join(failures + warns)))
        if warns:
            return Result(Code.WARNING, '%s: %s.' % (path, '; '.join(warns)))
        return Result(Code.SUCCESS, '%s: %d rules overridden, all known and '
                      'valid.' % (path, len(overrides)))

    @_never_raises
    def check_transport(self):
        import oslo_messaging as messaging

        from dpiaas.rpc import transport as rpc_transport
        try:
            parsed = messaging.TransportURL.parse(self.conf)
        except messaging.InvalidTransportURL as exc:
            return Result(Code.FAILURE, 'Invalid [DEFAULT] transport_url: '
                          '%s.' % str(exc).split(':')[0])
        url = self.conf.transport_url
        where = self.conf.get_location('transport_url').location
        if not url or where == cfg.Locations.opt_default:
            return Result(Code.FAILURE, '[DEFAULT] transport_url is not '
                          'set (the default is a guest RabbitMQ on '
                          'localhost). Set it to the broker of the cloud, '
                          'e.g. rabbit://USER:PASSWORD@HOST:5672/.')
        if parsed.transport == 'fake':
            return Result(Code.WARNING, 'transport_url is fake://, which '
                          'works inside one process only '
                          '(dpiaas-all-in-one); separate services need '
                          'RabbitMQ.')
        transport = rpc_transport.get_rpc_transport(self.conf)
        try:
            rpc_transport.check_broker(self.conf, transport,
                                       self.network_timeout)
        except ConnectionError as exc:
            return Result(Code.WARNING, 'The broker of %s does not answer '
                          '(%s).' % (redact_url(url), str(exc)[:200]))
        finally:
            transport.cleanup()
        return Result(Code.SUCCESS, '%s transport set%s.' % (
            parsed.transport, ' and reachable'
            if parsed.transport in ('rabbit', 'amqp', 'kombu') else ''))

    @_never_raises
    def check_coordination(self):
        url = self.conf.coordination.backend_url
        if not url and self.conf.engine.workers > 1:
            from dpiaas.db import api as db_api
            from dpiaas.engine import workers
            return Result(Code.SUCCESS, 'No [coordination] backend_url: '
                          'the %d workers of dpiaas-engine share %s; run '
                          'dpiaas-engine on one host only.' % (
                              self.conf.engine.workers,
                              workers.default_ring_url(
                                  db_api.state_path(self.conf))))
        if not url:
            return Result(Code.SUCCESS, 'No [coordination] backend_url: '
                          'run only one dpiaas-engine (it owns every '
                          'monitor).')
        from tooz import coordination
        member = ('dpiaas-status-%d' % os.getpid()).encode()

        def probe():
            coord = coordination.get_coordinator(url, member)
            coord.start(start_heart=False)
            try:
                coord.get_groups().get(timeout=self.network_timeout)
            except BaseException:
                coord.stop()
                raise
            return coord
        try:
            coord = _call_with_timeout(probe, self.network_timeout)
        except Exception as exc:
            return Result(Code.FAILURE, 'The coordination backend %s does '
                          'not answer (%s): engines would not share the '
                          'monitors.' % (redact_url(url), _first_line(exc)))
        coord.stop()  # not timed: tooz waits for its executor
        return Result(Code.SUCCESS, 'Coordination backend %s answers.'
                      % redact_url(url))

    @_never_raises
    def check_inventory(self):
        driver = self.conf.inventory_driver
        if driver == 'static':
            path = self.conf.inventory_file
            if not path or not os.path.isfile(path):
                return Result(Code.FAILURE, 'inventory_driver is static but '
                              'inventory_file (%s) is not a file: set it, '
                              'or inventory_driver = openstack in a cloud.'
                              % (path or 'unset'))
            return Result(Code.SUCCESS, 'Static inventory %s.' % path)
        if driver == 'openstack':
            creds = self.conf.service_credentials
            if not creds.auth_type:
                return Result(Code.FAILURE, 'inventory_driver is openstack '
                              'but [service_credentials] has no auth_type: '
                              'the engine cannot read Neutron ports.')
            return Result(Code.SUCCESS, 'Neutron inventory with the '
                          'service credentials (%s).' % creds.auth_type)
        return Result(Code.SUCCESS, 'Inventory driver %s.' % driver)

    @_never_raises
    def check_config_permissions(self):
        files = list(self.conf.config_file or [])
        for directory in self.conf.config_dir or []:
            if os.path.isdir(directory):
                files += sorted(os.path.join(directory, n)
                                for n in os.listdir(directory)
                                if n.endswith('.conf'))
        exposed = [f for f in files if os.path.exists(f) and
                   os.stat(f).st_mode & stat.S_IROTH]
        if exposed:
            return Result(Code.WARNING, 'Readable by every user, yet they '
                          'hold passwords (database, transport_url, '
                          '[keystone_authtoken], [service_credentials]): '
                          '%s. Run "chmod 640" on them.'
                          % ', '.join(exposed))
        return Result(Code.SUCCESS, '%d config files, none world-readable.'
                      % len(files))

    _upgrade_checks = (
        ('Database schema', check_database),
        ('Policy file', check_policy),
        ('Message transport', check_transport),
        ('Coordination backend', check_coordination),
        ('Inventory', check_inventory),
        ('Config file permissions', check_config_permissions),
    )


def _known_revision(revision):
    from alembic import script as alembic_script

    from dpiaas.db import migration
    directory = os.path.join(os.path.dirname(migration.__file__),
                             'migrations')
    try:
        return alembic_script.ScriptDirectory(directory).get_revision(
            revision) is not None
    except Exception:  # alembic raises several kinds for unknown ids
        return False


def build_conf():
    from oslo_policy import opts as policy_opts
    conf = cfg.ConfigOpts()
    dpiaas_conf.register_opts(conf)
    policy_opts.set_defaults(conf)
    return conf


def main(argv=None, conf=None):
    argv = sys.argv[1:] if argv is None else argv
    # libraries (tooz, kombu, oslo.policy) log to stderr through Python's
    # last-resort handler otherwise; the table says everything
    logging.getLogger().addHandler(logging.NullHandler())
    # oslo.messaging imports oslo.service, which warns about eventlet;
    # dpiaas uses no eventlet
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    conf = conf or build_conf()
    try:
        return upgradecheck.main(conf, 'dpiaas', Checks(conf), argv=argv)
    except cfg.Error as exc:
        sys.stderr.write('%s: error: %s\n'
                         % (PROG, str(exc).strip().splitlines()[0]))
        return EXIT_ERROR


if __name__ == '__main__':
    sys.exit(main())
