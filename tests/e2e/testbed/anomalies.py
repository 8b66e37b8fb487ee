"""Anomalies an operator meets, injected into a running testbed.

Each anomaly is a context manager with :meth:`Anomaly.inject` and
:meth:`Anomaly.restore` (both idempotent), and names where it acts and the
metrics that should show it (:attr:`Anomaly.expected`: ``(role, metric,
'up'|'down')``), which is what an explanation of an alarm should point at.

The paper's two (Wallschläger et al. 2017, DESIGN.md 1.1):

``sip_delay``
    +150 ms on every packet Sprout sends (its responses and its queries
    to the subscriber database): registration latency rises.
``db_down``
    Homestead's PostgreSQL stopped: Sprout cannot check credentials and
    answers 500, SIP 2xx drop to zero. Restored by starting it again.

Others an operator meets:

``web_down``
    nginx stopped: HTTP requests and responses on the web VM vanish.
``sip_loss``
    30 % of the packets Bono sends are lost: retransmissions, failed and
    slow registrations.
``sip_forbidden``
    A provisioning error: every subscriber's stored password changed, so
    Sprout answers 403 to every authenticated REGISTER.
``register_flood``
    A second SIPp registering at 10x the normal rate.

The kernel here has no ``sch_netem``: delay and loss use
``nfq_shaper.py`` (``../shared/tools``), which holds or drops a
namespace's packets queued to it by an iptables NFQUEUE rule.
"""
import os
import signal
import shutil
import sys

from tests.e2e.testbed import procs

SHAPER = os.environ.get('DPIAAS_NFQ_SHAPER') or os.path.normpath(
    os.path.join(os.path.dirname(__file__), '..', '..', '..', '..',
                 'shared', 'tools', 'nfq_shaper.py'))


def iptables():
    """The iptables binary whose NFQUEUE the shaper's header uses."""
    for name in ('iptables-legacy', 'iptables'):
        if shutil.which(name):
            return name
    raise procs.TestbedError('iptables not found (Debian package iptables)')


class Shaper:
    """``nfq_shaper.py`` delaying or dropping what ``vm`` sends on eth0."""

    def __init__(self, vm, workdir, queue, delay_ms=0.0, loss_pct=0.0):
        if not os.path.exists(SHAPER):
            raise procs.TestbedError(
                'nfq_shaper.py not found at %s (set DPIAAS_NFQ_SHAPER)'
                % SHAPER)
        self.vm = vm
        self.log = os.path.join(str(workdir), 'shaper-%s-q%d.log'
                                % (vm.role, queue))
        self.queue = queue
        self.delay_ms = delay_ms
        self.loss_pct = loss_pct
        self.rule = ['-t', 'mangle', 'OUTPUT', '-o', 'eth0', '-j',
                     'NFQUEUE', '--queue-num', str(queue), '--queue-bypass']
        self.proc = None
        self.ruled = False

    def _rule(self, action):
        table, chain, rest = self.rule[:2], self.rule[2], self.rule[3:]
        return [iptables()] + table + [action, chain] + rest

    def start(self):
        self.proc = procs.Process(
            'nfq_shaper', [sys.executable, SHAPER, '--queue', self.queue,
                           '--delay-ms', self.delay_ms,
                           '--loss-pct', self.loss_pct],
            self.log, ns=self.vm.ns)
        # it prints its banner once the queue is bound
        procs.wait_for(lambda: self.proc.check_alive() and
                       'nfq_shaper: queue' in procs.tail(self.log),
                       procs.START_TIMEOUT, 'nfq_shaper to bind its queue')
        self.vm.run(*self._rule('-A'))
        self.ruled = True

    def stop(self):
        # rule first: the shaper then releases what it holds and leaves
        if self.ruled:
            self.vm.run(*self._rule('-D'), check=False)
            self.ruled = False
        if self.proc is not None:
            self.proc.stop(signal.SIGTERM, timeout=10)
            self.proc = None


class Anomaly:
    """One injectable fault of the testbed ``tb``."""

    name = None
    target = None          # role of the VM it acts on
    expected = ()          # (role, metric, 'up' | 'down')

    def __init__(self, tb):
        self.tb = tb
        self.active = False

    def __repr__(self):
        return '<anomaly %s on %s>' % (self.name, self.target)

    def __enter__(self):
        self.inject()
        return self

    def __exit__(self, *exc):
        self.restore()

    def inject(self):
        if not self.active:
            self.tb._active.append(self)
            self.active = True
            try:
                self._inject()
            except Exception:
                self.restore()
                raise

    def restore(self):
        if self.active:
            try:
                self._restore()
            finally:
                self.active = False
                if self in self.tb._active:
                    self.tb._active.remove(self)

    def _inject(self):
        raise NotImplementedError

    def _restore(self):
        raise NotImplementedError


class _Shaped(Anomaly):
    queue = 7
    delay_ms = 0.0
    loss_pct = 0.0

    def __init__(self, tb, delay_ms=None, loss_pct=None):
        super().__init__(tb)
        if delay_ms is not None:
            self.delay_ms = delay_ms
        if loss_pct is not None:
            self.loss_pct = loss_pct
        self.shaper = None

    def _inject(self):
        self.shaper = Shaper(self.tb.vm(self.target), self.tb.workdir,
                             self.queue, self.delay_ms, self.loss_pct)
        self.shaper.start()

    def _restore(self):
        if self.shaper is not None:
            self.shaper.stop()
            self.shaper = None


class SipDelay(_Shaped):
    """+150 ms on Sprout's NIC (the paper's first anomaly)."""

    name = 'sip_delay'
    target = 'sprout'
    delay_ms = 150.0
    expected = (('bono', 'sip.5060.latency_ms.p95', 'up'),
                ('bono', 'sip.5060.latency_ms.p50', 'up'),
                ('sprout', 'sip.5060.latency_ms.p95', 'up'))


class SipLoss(_Shaped):
    """30 % of Bono's outgoing packets lost."""

    name = 'sip_loss'
    target = 'bono'
    loss_pct = 30.0
    queue = 8
    expected = (('bono', 'sip.5060.latency_ms.p95', 'up'),
                ('bono', 'sip.5060.responses.2xx', 'down'))


class DbDown(Anomaly):
    """Homestead's database stopped (the paper's second anomaly)."""

    name = 'db_down'
    target = 'homestead'
    expected = (('sprout', 'sip.5060.responses.2xx', 'down'),
                ('sprout', 'sip.5060.responses.5xx', 'up'),
                ('bono', 'sip.5060.responses.2xx', 'down'))

    def _inject(self):
        self.tb.homestead.stop()

    def _restore(self):
        if not self.tb.homestead.running():
            self.tb.homestead.start()


class WebDown(Anomaly):
    """nginx stopped on the web VM."""

    name = 'web_down'
    target = 'web'
    expected = (('web', 'http.80.responses.2xx', 'down'),
                ('web', 'http.80.requests.get', 'down'))

    def _inject(self):
        self.tb.stop_web()

    def _restore(self):
        self.tb.start_web()


class SipForbidden(Anomaly):
    """Stored passwords no longer match: Sprout answers 403."""

    name = 'sip_forbidden'
    target = 'homestead'
    expected = (('sprout', 'sip.5060.responses.2xx', 'down'),
                ('sprout', 'sip.5060.responses.4xx', 'up'),
                ('bono', 'sip.5060.responses.2xx', 'down'))
    PREFIX = 'stale-'

    def _inject(self):
        self.tb.homestead.psql(
            "UPDATE subscriber SET password = '%s' || password"
            % self.PREFIX)

    def _restore(self):
        self.tb.homestead.psql(
            "UPDATE subscriber SET password = substr(password, %d) "
            "WHERE password LIKE '%s%%'"
            % (len(self.PREFIX) + 1, self.PREFIX))


class RegisterFlood(Anomaly):
    """A second SIPp registering at ``factor`` x the normal rate."""

    name = 'register_flood'
    target = 'bono'
    expected = (('bono', 'sip.5060.requests.register', 'up'),
                ('bono', 'sip.5060.responses.2xx', 'up'),
                ('sprout', 'sip.5060.requests.register', 'up'))

    def __init__(self, tb, factor=10):
        super().__init__(tb)
        self.factor = factor
        self.load = None

    def _inject(self):
        self.load = self.tb.sipp('sipp-flood', rate=self.tb.sip_rate *
                                 self.factor, local_port=5070)

    def _restore(self):
        if self.load is not None:
            self.load.stop()
            self.load = None


ANOMALIES = {cls.name: cls for cls in (
    SipDelay, DbDown, WebDown, SipLoss, SipForbidden, RegisterFlood)}
