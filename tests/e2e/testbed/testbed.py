"""The whole testbed: five VMs, their servers, the load, the anomalies.

See the package docstring (:mod:`tests.e2e.testbed`) for how to use it.
"""
import json
import logging
import os
import shutil
import socket

from tests.e2e.testbed import anomalies
from tests.e2e.testbed import capture
from tests.e2e.testbed import homestead
from tests.e2e.testbed import inventory
from tests.e2e.testbed import load
from tests.e2e.testbed import network
from tests.e2e.testbed import procs
from tests.e2e.testbed import sip
from tests.functional.dpi import peers

LOG = logging.getLogger(__name__)

ROLES = ('client', 'bono', 'sprout', 'homestead', 'web')
TOOLS = {'ip': 'iproute2', 'kamailio': 'kamailio', 'sipp': 'sip-tester',
         'nginx': 'nginx-light', 'psql': 'postgresql-client',
         'setpriv': 'util-linux', 'ss': 'iproute2'}


def missing_prerequisites():
    """Why the testbed cannot run here, one line each ([] if it can)."""
    why = []
    if os.geteuid() != 0:
        why.append('needs root (network namespaces)')
    for tool, package in sorted(TOOLS.items()):
        if not shutil.which(tool):
            why.append('%s not found (Debian package %s)' % (tool, package))
    try:
        homestead.pg_bindir()
        sip.kamailio_modules()
        anomalies.iptables()
    except procs.TestbedError as exc:
        why.append(str(exc))
    return why


def cleanup_stale():
    """Remove what testbed runs killed without a teardown left behind."""
    network.cleanup_stale()
    homestead.cleanup_stale()


class Testbed:
    """Clearwater's registration path and a web server, in namespaces.

    ``workdir`` receives every config and log. ``sip_rate`` and
    ``http_rate`` are the steady loads (per second) of :meth:`start_load`.
    ``host`` is the ``binding:host_id`` written in the inventory (the
    name the all-in-one agent runs as: this host's name by default).
    """

    __test__ = False  # a fixture of tests, not a test class

    def __init__(self, workdir, subscribers=100, sip_rate=20, http_rate=20,
                 domain='ims.test', host=None, project_id='paper'):
        self.workdir = str(workdir)
        self.subscribers = subscribers
        self.sip_rate = sip_rate
        self.http_rate = http_rate
        self.domain = domain
        self.host = host or socket.gethostname()
        self.project_id = project_id
        self.net = None
        self.homestead = None
        self.bono = None
        self.sprout = None
        self.nginx = None
        self.loads = {}
        self._active = []       # injected anomalies, restored on close

    # ----------------------------------------------------------- life

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.close()
        except Exception:
            if exc[0] is None:
                raise
            # the body's own error says more; do not hide it
            LOG.exception('testbed teardown failed too')

    def start(self):
        why = missing_prerequisites()
        if why:
            raise procs.TestbedError('testbed cannot run: ' + '; '.join(why))
        os.makedirs(self.workdir, exist_ok=True)
        cleanup_stale()
        self.net = network.Network(ROLES)
        self.net.create()
        self.homestead = homestead.Homestead(
            self.vm('homestead'), self.workdir, self.domain,
            self.subscribers)
        self.homestead.create()
        self.sprout = sip.sprout(self.vm('sprout'), self.workdir,
                                 self.homestead.url)
        self.sprout.start()
        self.bono = sip.bono(self.vm('bono'), self.workdir,
                             self.vm('sprout').ip)
        self.bono.start()
        self.start_web()
        self._scenario, self._users = load.write_sipp_files(
            self.workdir, self.domain, self.subscribers)
        self.write_inventory()
        with open(os.path.join(self.workdir, 'vms.json'), 'w') as f:
            json.dump(self.describe(), f, indent=2)

    def close(self):
        """Undo everything, in reverse, also after a partial start.

        Every step runs even if an earlier one fails; the first error is
        raised at the end.
        """
        errors = []

        def step(fn, *args):
            try:
                fn(*args)
            except Exception as exc:    # keep tearing down
                errors.append(exc)

        for anomaly in reversed(list(self._active)):
            step(anomaly.restore)
        step(self.stop_load)
        step(self.stop_web)
        for server in (self.bono, self.sprout):
            if server is not None:
                step(server.stop)
        if self.homestead is not None:
            step(self.homestead.destroy)
        if self.net is not None:
            step(self.net.destroy)
        if errors:
            raise errors[0]

    # ---------------------------------------------------------- the VMs

    def vm(self, role):
        """The :class:`~tests.e2e.testbed.network.VM` playing ``role``."""
        return self.net[role]

    __getitem__ = vm

    @property
    def vms(self):
        return dict(self.net.vms)

    def describe(self):
        """Every VM's role, namespace, tap, port id, MAC and IP."""
        return {role: vm.describe() for role, vm in self.net.vms.items()}

    def inventory(self):
        """The static inventory (DESIGN.md 4.3) of all five VMs."""
        return inventory.build(self.net.vms.values(), self.host,
                               self.project_id)

    def write_inventory(self, path=None):
        """Write :meth:`inventory` as JSON (valid YAML too); the path."""
        path = path or os.path.join(self.workdir, 'inventory.json')
        with open(path, 'w') as f:
            json.dump(self.inventory(), f, indent=2)
        return path

    def services(self, role):
        """``dpiaas capture --service`` strings of a VM's SG rules."""
        return inventory.services(role)

    # -------------------------------------------------------------- web

    def start_web(self):
        if self.nginx is None:
            self.nginx = peers.Nginx(self.vm('web'), self.workdir)
            self.nginx.__enter__()

    def stop_web(self):
        if self.nginx is not None:
            nginx, self.nginx = self.nginx, None
            nginx.__exit__(None, None, None)

    # ------------------------------------------------------------- load

    def sipp(self, name, rate, calls=None, local_port=5060):
        """Start a SIPp registering through Bono; a :class:`SippLoad`."""
        if name in self.loads:
            raise procs.TestbedError('%s already runs' % name)
        sipp = load.SippLoad(name, self.vm('client'), self.vm('bono').ip,
                             self.workdir, self._scenario, self._users,
                             rate=rate, calls=calls, local_port=local_port)
        self.loads[name] = sipp
        return _Tracked(self, name, sipp)

    def start_load(self, sip=True, http=True):
        """Steady SIP and HTTP load in the background until stop_load()."""
        if sip and 'sipp' not in self.loads:
            self.sipp('sipp', self.sip_rate)
        if http and 'http' not in self.loads:
            self.loads['http'] = load.HttpLoad(
                self.vm('client'),
                'http://%s/index.html' % self.vm('web').ip,
                self.workdir, rate=self.http_rate)

    def stop_load(self):
        for name in list(self.loads):
            load_ = self.loads.pop(name)
            load_.stop()

    def load_stats(self):
        """Cumulative client-side counts: ``{'sipp': {...}, 'http': ...}``."""
        return {name: l.stats() for name, l in self.loads.items()}

    def check_sip(self, calls=10, rate=10, timeout=60):
        """A bounded SIPp run through Bono; its stats, raise on failure."""
        tracked = self.sipp('sipp-check', rate, calls=calls,
                            local_port=5090)
        try:
            code = tracked.load.wait(timeout)
            stats = tracked.load.stats()
        finally:
            tracked.stop()
        if code != 0 or stats['successful'] != calls:
            raise procs.TestbedError(
                'SIPp registrations failed (exit %s, %s); see %s'
                % (code, stats, tracked.load.dir))
        return stats

    def check_http(self, requests=5):
        """``requests`` GETs from the client VM; raise unless all 200."""
        codes = []
        for _ in range(requests):
            out = self.vm('client').run(
                'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
                '--noproxy', '*', '-m', '5',
                'http://%s/index.html' % self.vm('web').ip,
                check=False).stdout
            codes.append(out.strip())
        if set(codes) != {'200'}:
            raise procs.TestbedError('HTTP answers %s, expected 200s'
                                     % codes)
        return codes

    # -------------------------------------------------------- observing

    def capture(self, role, services=None, interval_ms=500, name=None):
        """``dpiaas capture`` on a VM's tap (use as a context manager)."""
        return capture.Capture(self.vm(role),
                               services or self.services(role),
                               self.workdir, interval_ms=interval_ms,
                               name=name)

    # -------------------------------------------------------- anomalies

    def anomaly(self, name, **params):
        """An anomaly of :data:`anomalies.ANOMALIES` (context manager)."""
        try:
            cls = anomalies.ANOMALIES[name]
        except KeyError:
            raise procs.TestbedError('unknown anomaly %r (known: %s)' % (
                name, ', '.join(sorted(anomalies.ANOMALIES))))
        return cls(self, **params)


class _Tracked:
    """A load started by name; stopping it forgets the name."""

    def __init__(self, tb, name, load_):
        self.tb = tb
        self.name = name
        self.load = load_

    def stats(self):
        return self.load.stats()

    def stop(self):
        if self.tb.loads.get(self.name) is self.load:
            del self.tb.loads[self.name]
        self.load.stop()
