"""The paper's evaluation: dpiaas-all-in-one watching the testbed.

Used by ``tests/e2e/test_paper_experiment.py`` (short phases, CI) and
``bench/paper.py`` (the full protocol). ``dpiaas-all-in-one`` runs as a
process with the testbed's static inventory; a tenant (project ``paper``)
monitors every VM through the REST API; after the baseline, each round is
a normal period (any alarm there is a false alarm), an injected anomaly
(the alarm must rise on a VM the anomaly affects, naming a plausible
metric) and a recovery (every alarm must clear).

Delays are counted in intervals from the one in which the anomaly was
injected to the one whose sample raised the alarm (the alarm history's
``timestamp`` is that interval's start).
"""
import dataclasses
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.e2e.testbed.procs import TestbedError

PROJECT = 'paper'
INTERVAL_S = 0.5
# the VMs whose monitors the experiment creates (the client is the load)
MONITORED = ('bono', 'sprout', 'homestead', 'web')

# What an operator would accept as the explanation of each anomaly: the
# monitors on its path and the metric families that show it (raw metrics
# and the detector's derived ratios alike, by substring).
_SIP_ERRORS = ('responses.5xx', 'responses.4xx', 'responses.2xx',
               'error_share', 'success_ratio', 'register_2xx_ratio',
               'unanswered')
PLAUSIBLE = {
    'sip_delay': (('bono', 'sprout'), ('sip.5060.latency_ms',
                                       'unanswered')),
    'sip_loss': (('bono', 'sprout'), ('sip.5060.latency_ms', 'unanswered',
                                      'success_ratio', 'register_2xx_ratio',
                                      'sip.5060.packets', 'sip.5060.bytes',
                                      'sip.5060.requests.register')),
    'db_down': (('bono', 'sprout', 'homestead'),
                _SIP_ERRORS + ('generic.5432',)),
    'sip_forbidden': (('bono', 'sprout'), _SIP_ERRORS),
    'register_flood': (('bono', 'sprout', 'homestead'),
                       ('requests.register', 'sip.5060.packets',
                        'sip.5060.bytes', 'responses.2xx',
                        'responses.4xx', 'generic.5432')),
    'web_down': (('web',), ('http.80.',)),
}


def plausible(anomaly, role, metrics):
    """Whether an alarm on ``role`` explained by ``metrics`` fits."""
    roles, families = PLAUSIBLE[anomaly]
    return role in roles and any(f in m for m in metrics for f in families)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Api:
    """The REST API as tenant ``paper`` uses it."""

    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None, timeout=10):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={'X-Project-Id': PROJECT,
                     'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b'{}')

    def get(self, path):
        return self.call('GET', path)


@dataclasses.dataclass
class Outcome:
    """What one injection gave."""
    anomaly: str
    injected_at: float
    detected: bool = False
    role: str = None                 # the monitor whose alarm rose first
    delay_intervals: int = None
    explanation: list = dataclasses.field(default_factory=list)
    cause_in_top3: bool = False
    cleared: bool = False
    clear_s: float = None
    # the raising transition's score (1.0 = the monitor's threshold):
    # how far above the threshold the anomaly is
    score: float = None


@dataclasses.dataclass
class NormalPeriod:
    start: float
    end: float
    false_alarms: list = dataclasses.field(default_factory=list)


class Experiment:
    """``with Experiment(tb, workdir) as ex:`` runs dpiaas on ``tb``."""

    def __init__(self, tb, workdir, baseline_s=60, sensitivity=0.5,
                 aio=None):
        self.tb = tb
        self.workdir = str(workdir)
        self.baseline_s = baseline_s
        self.sensitivity = sensitivity
        self.aio = aio or os.path.join(os.path.dirname(sys.executable),
                                       'dpiaas-all-in-one')
        self.proc = None
        self.api = None
        self.monitors = {}           # role -> monitor
        self.alarms = {}             # alarm id -> role
        self.seen_history = set()

    # --- lifecycle -----------------------------------------------------

    def __enter__(self):
        inventory = self.tb.write_inventory(
            os.path.join(self.workdir, 'inventory.yaml'))
        port = _free_port()
        self.log_path = os.path.join(self.workdir, 'all-in-one.log')
        log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(
            [self.aio, '--inventory', inventory, '--state-dir',
             os.path.join(self.workdir, 'state'), '--bind',
             '127.0.0.1:%d' % port], stdout=log, stderr=subprocess.STDOUT)
        self.api = Api('http://127.0.0.1:%d' % port)
        self._wait(lambda: self._answers(), 120, 'the all-in-one API')
        for role in MONITORED:
            vm = self.tb.vm(role)
            mon = self.api.call('POST', '/v1/monitors', {
                'port_id': vm.port_id, 'name': role,
                'detector': {'baseline_s': self.baseline_s,
                             'sensitivity': self.sensitivity}})['monitor']
            self.monitors[role] = mon
            self.alarms[mon['alarm_id']] = role
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self, tail=6000):
        with open(self.log_path, errors='replace') as f:
            return f.read()[-tail:]

    def _answers(self):
        if self.proc.poll() is not None:
            raise TestbedError('dpiaas-all-in-one exited:\n' + self.log())
        try:
            self.api.get('/v1/')
            return True
        except (OSError, urllib.error.URLError):
            return False

    def _wait(self, predicate, timeout, what, every=0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(every)
        raise TestbedError('timed out after %ss waiting for %s\n%s'
                           % (timeout, what, self.log(3000)))

    # --- state -----------------------------------------------------------

    def alarm_states(self):
        """role -> alarm dict."""
        out = {}
        for alarm in self.api.get('/v1/alarms?limit=100')['alarms']:
            role = self.alarms.get(alarm['id'])
            if role:
                out[role] = alarm
        return out

    def new_transitions(self):
        """History entries not seen before: (role, entry), oldest first."""
        found = []
        for alarm_id, role in self.alarms.items():
            entries = self.api.get('/v1/alarms/%s/history?limit=1000'
                                   % alarm_id)['history']
            for h in entries:
                key = (alarm_id, h['timestamp'], h['state'])
                if key not in self.seen_history:
                    self.seen_history.add(key)
                    found.append((role, h))
        found.sort(key=lambda rh: _epoch(rh[1]['timestamp']))
        return found

    def wait_baseline(self, timeout=None):
        """Until every monitor is active and its alarm ok."""
        timeout = timeout or self.baseline_s * 3 + 60

        def ready():
            states = self.alarm_states()
            return len(states) == len(MONITORED) and all(
                a['state'] == 'ok' for a in states.values())
        self._wait(ready, timeout, 'every monitor to learn its baseline',
                   every=1.0)
        self.new_transitions()        # learning -> ok is not an event

    # --- phases ------------------------------------------------------------

    def normal(self, seconds):
        """A normal period: every alarm rising in it is a false alarm."""
        period = NormalPeriod(time.time(), None)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            for role, h in self.new_transitions():
                if h['state'] == 'alarm':
                    period.false_alarms.append((role, h))
        period.end = time.time()
        return period

    def inject(self, name, timeout_s=15.0, clear_timeout_s=60.0, **params):
        """Inject ``name``, wait for its alarm, restore, wait for clear."""
        anomaly = self.tb.anomaly(name, **params)
        anomaly.inject()
        out = Outcome(name, time.time())
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and not out.detected:
                time.sleep(0.25)
                for role, h in self.new_transitions():
                    if h['state'] != 'alarm' or out.detected:
                        continue
                    ts = _epoch(h['timestamp'])
                    if ts + INTERVAL_S < out.injected_at:
                        continue        # raised before: not this one
                    out.detected = True
                    out.role = role
                    out.delay_intervals = max(0, int(
                        math.floor(ts / INTERVAL_S) -
                        math.floor(out.injected_at / INTERVAL_S)))
                    out.score = h.get('score')
                    out.explanation = [e.get('metric') for e in
                                       (h.get('explanation') or [])][:3]
                    out.cause_in_top3 = plausible(name, role,
                                                  out.explanation)
        finally:
            anomaly.restore()
        restored = time.monotonic()

        def clear():
            self.new_transitions()
            return all(a['state'] != 'alarm'
                       for a in self.alarm_states().values())
        try:
            self._wait(clear, clear_timeout_s, 'alarms to clear after %s'
                       % name, every=1.0)
            out.cleared = True
            out.clear_s = time.monotonic() - restored
        except TestbedError:
            out.cleared = False
        return out


def _epoch(text):
    """ISO 8601 UTC (the API's timestamps) -> epoch seconds."""
    import datetime
    if isinstance(text, (int, float)):
        return float(text)
    return datetime.datetime.fromisoformat(
        text.replace('Z', '+00:00')).timestamp()


def summarize(outcomes, periods):
    """Recall, precision, delays, false alarms per hour, cause in top-3."""
    detected = [o for o in outcomes if o.detected]
    false = sum(len(p.false_alarms) for p in periods)
    normal_h = sum(p.end - p.start for p in periods) / 3600.0
    delays = sorted(o.delay_intervals for o in detected)

    def pct(q):
        if not delays:
            return None
        return delays[min(len(delays) - 1, int(math.ceil(q * len(delays)))
                          - 1)]
    return {
        'injections': len(outcomes),
        'recall': len(detected) / len(outcomes) if outcomes else None,
        'precision': (len(detected) / (len(detected) + false)
                      if detected or false else None),
        'median_delay_intervals': pct(0.5),
        'p95_delay_intervals': pct(0.95),
        'false_alarms': false,
        'normal_hours': round(normal_h, 3),
        'false_alarms_per_hour': (false / normal_h if normal_h else None),
        'cause_in_top3': (sum(o.cause_in_top3 for o in detected) /
                          len(detected) if detected else None),
        'cleared': sum(o.cleared for o in outcomes),
    }
