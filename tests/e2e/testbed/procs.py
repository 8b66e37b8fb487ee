"""Commands and long-running processes of the testbed, with their logs.

Every server and load generator of the testbed is a foreground process
started here, its output written to a log file in the testbed's work
directory (so that a failing run can be read afterwards), and stopped by
its own pid. Nothing is ever killed by name.
"""
import os
import signal
import subprocess
import time

START_TIMEOUT = 30


class TestbedError(RuntimeError):
    """The testbed could not be built or did not do what it was asked."""

    __test__ = False  # not a pytest test class despite its name


def run(*cmd, ns=None, check=True, timeout=60, **kw):
    """Run a command (inside namespace ``ns`` if given); return it.

    A failure raises :class:`TestbedError` with the command and its
    stderr, which says more than ``CalledProcessError``.
    """
    argv = [str(c) for c in cmd]
    if ns:
        argv = ['ip', 'netns', 'exec', ns] + argv
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise TestbedError('%s failed (%d): %s' % (
            ' '.join(argv), proc.returncode,
            (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc


def wait_for(predicate, timeout, what, interval=0.1):
    """Return ``predicate()`` once true; raise after ``timeout`` seconds.

    The interval only paces the polling: nothing relies on it being long
    enough.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TestbedError('timed out after %.0f s waiting for %s'
                               % (timeout, what))
        time.sleep(interval)


def tail(path, limit=3000):
    """The end of a log file, for error messages."""
    try:
        with open(path, errors='replace') as f:
            return f.read()[-limit:]
    except OSError:
        return ''


class Process:
    """One foreground process, optionally in a namespace, logging to a file.

    ``ip netns exec`` execs the command in place, so the pid is the
    program's own and signals reach it directly.
    """

    def __init__(self, name, argv, log, ns=None, cwd=None, env=None):
        self.name = name
        self.log = str(log)
        argv = [str(a) for a in argv]
        if ns:
            argv = ['ip', 'netns', 'exec', ns] + argv
        self.argv = argv
        with open(self.log, 'ab') as out:
            self.proc = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def check_alive(self):
        """True while running; raise with the log's tail once it exited."""
        if self.proc.poll() is not None:
            raise TestbedError('%s exited with %s; its log %s ends with:\n%s'
                               % (self.name, self.proc.returncode, self.log,
                                  tail(self.log)))
        return True

    def output(self):
        return tail(self.log, 1 << 20)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal the process, wait, kill it if it does not leave."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
            except ProcessLookupError:
                pass
        return self.proc.returncode


def listening(ns, l4, port, ip=None):
    """Whether a socket in namespace ``ns`` listens on ``l4``/``port``."""
    flag = '-Hlnt' if l4 == 'tcp' else '-Hlnu'
    out = run('ss', flag, 'sport = :%d' % port, ns=ns, check=False).stdout
    return bool(out.strip()) and (ip is None or ip in out)


def kill_namespace_processes(ns, timeout=5):
    """Stop whatever still runs in namespace ``ns``, by pid.

    The last sweep of a teardown: a process left in a namespace keeps it
    alive after ``ip netns del``.
    """
    def pids():
        out = run('ip', 'netns', 'pids', ns, check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        if not pids():
            return


def pid_alive(pid):
    """Whether process ``pid`` exists (owner of leftovers, see cleanup)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
