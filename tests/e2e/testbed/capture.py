"""dpiaas's own collector on a VM's tap: ``dpiaas capture`` as a process.

The testbed checks its anomalies with the same metrics dpiaas computes:
``dpiaas capture -i <tap> --service ... --format jsonl`` runs in the root
namespace, exactly where the agent captures, and prints one JSON object
per interval (DESIGN.md 4.5: ``ts``, ``interval_ms``, ``metrics``). A
reader thread keeps every interval, so a test can slice them by wall-clock
time (before, during, after an anomaly) or wait for a condition.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from tests.e2e.testbed import procs


def dpiaas_command():
    """``dpiaas`` next to this interpreter, else on PATH, else the module."""
    script = os.path.join(os.path.dirname(sys.executable), 'dpiaas')
    if os.access(script, os.X_OK):
        return [script]
    found = shutil.which('dpiaas')
    if found:
        return [found]
    return [sys.executable, '-m', 'dpiaas.cmd.cli']


class Capture:
    """``dpiaas capture`` on ``vm``'s tap counting ``services``.

    ``services`` are ``dpiaas capture --service`` strings
    (``udp/5060=sip``, ``consumed:tcp/5432``); by default those of the
    VM's Security Group rules in the testbed inventory.
    """

    def __init__(self, vm, services, workdir, interval_ms=500, name=None):
        self.vm = vm
        self.services = list(services)
        self.interval_ms = interval_ms
        self.name = name or 'capture-%s' % vm.role
        self.log = os.path.join(str(workdir), self.name + '.log')
        self.out = os.path.join(str(workdir), self.name + '.jsonl')
        self.proc = None
        self._intervals = []
        self._lock = threading.Lock()
        self._reader = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=30):
        """Start and wait for the first interval."""
        self.spawn()
        self.wait_started(timeout)

    def spawn(self):
        """Start without waiting (start several, then wait for each)."""
        argv = dpiaas_command() + [
            'capture', '-i', self.vm.tap, '--vm-ip', self.vm.ip,
            '--vm-mac', self.vm.mac, '--interval-ms', str(self.interval_ms),
            '--format', 'jsonl']
        for svc in self.services:
            argv += ['--service', svc]
        self._err = open(self.log, 'ab')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=self._err, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def wait_started(self, timeout=30):
        procs.wait_for(lambda: self._check() and self._intervals, timeout,
                       'the first interval of dpiaas capture on %s'
                       % self.vm.tap)

    def _check(self):
        if self.proc.poll() is not None:
            raise procs.TestbedError(
                'dpiaas capture on %s exited with %s:\n%s' % (
                    self.vm.tap, self.proc.returncode, procs.tail(self.log)))
        return True

    def _read(self):
        with open(self.out, 'a') as copy:
            for line in self.proc.stdout:
                copy.write(line)
                try:
                    interval = json.loads(line)
                except ValueError:
                    continue
                with self._lock:
                    self._intervals.append(interval)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        self._err.close()
        self.proc = None

    # ----------------------------------------------------------- reading

    def intervals(self, since=None, until=None):
        """Intervals wholly inside ``[since, until]`` (epoch seconds)."""
        length = self.interval_ms / 1000.0
        with self._lock:
            found = list(self._intervals)
        return [i for i in found
                if (since is None or i['ts'] >= since) and
                (until is None or i['ts'] + length <= until)]

    def values(self, metric, since=None, until=None, default=0):
        """The series of ``metric`` over those intervals.

        A count absent from an interval is 0 there (``default``); pass
        ``default=None`` to leave such intervals out (latencies, which do
        not exist without responses).
        """
        out = []
        for i in self.intervals(since, until):
            value = i['metrics'].get(metric, default)
            if value is not None:
                out.append(value)
        return out

    def total(self, metric, since=None, until=None):
        return sum(self.values(metric, since, until))

    def wait(self, predicate, since, timeout, what):
        """Wait until an interval after ``since`` satisfies ``predicate``.

        ``predicate`` takes the interval's metrics dict; returns that
        interval.
        """
        def found():
            self._check()
            for i in self.intervals(since):
                if predicate(i['metrics']):
                    return i
            return None

        return procs.wait_for(found, timeout, what, interval=0.25)

    def wait_intervals(self, since, count, timeout=None):
        """Wait until ``count`` whole intervals after ``since`` exist."""
        timeout = timeout or count * self.interval_ms / 1000.0 + 10
        return procs.wait_for(
            lambda: self._check() and
            len(self.intervals(since)) >= count and
            self.intervals(since)[:count],
            timeout, '%d intervals of %s' % (count, self.name))


def now():
    return time.time()
