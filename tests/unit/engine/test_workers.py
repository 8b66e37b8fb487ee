"""The supervisor of ``[engine] workers``: which processes it starts,
when it starts a dead one again, how it stops them (real child
processes: a short Python that sleeps or exits)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from dpiaas.engine import workers


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _sleeper(code='import time; time.sleep(60)'):
    return [sys.executable, '-c', code]


@pytest.fixture
def supervisors():
    made = []

    def make(*args, **kwargs):
        sup = workers.Supervisor(*args, **kwargs)
        made.append(sup)
        return sup
    yield make
    for sup in made:
        for w in sup.workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()


def test_member_ids_are_host_dot_index():
    assert workers.member_id('cmp1', 0) == 'cmp1.0'
    assert workers.member_id('cmp1', 3) == 'cmp1.3'


def test_default_ring_is_a_file_backend_in_the_state_path(tmp_path):
    assert workers.default_ring_url(str(tmp_path)) == \
        'file://%s/coordination' % tmp_path


def test_each_worker_gets_its_index_and_the_ring(tmp_path, supervisors):
    out = tmp_path / 'env'
    code = ('import os; open(%r + os.environ[%r], "w").write('
            'os.environ[%r])' % (str(out), workers.ENV_INDEX,
                                 workers.ENV_RING))
    sup = supervisors(_sleeper(code), 3, 'file:///ring')
    sup.start()
    for w in sup.workers:
        assert w.proc.wait(30) == 0
    for i in range(3):
        assert (tmp_path / ('env%d' % i)).read_text() == 'file:///ring'


def test_worker_index_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv(workers.ENV_INDEX, raising=False)
    assert workers.worker_index() is None
    monkeypatch.setenv(workers.ENV_INDEX, '2')
    assert workers.worker_index() == 2


def test_a_dead_worker_is_started_again_with_a_growing_pause(supervisors):
    clock = Clock()
    sup = supervisors(_sleeper('raise SystemExit(3)'), 1, 'file:///r',
                      clock=clock)
    sup.start()
    w = sup.workers[0]
    first = w.proc
    first.wait(30)
    # died young: started again only after the pause, which doubles
    assert sup.check() == pytest.approx(2 * workers.RESTART_MIN_S)
    assert w.proc is None
    clock.now += 2 * workers.RESTART_MIN_S
    assert sup.check() is None
    assert w.proc is not None and w.proc is not first
    w.proc.wait(30)
    assert sup.check() == pytest.approx(4 * workers.RESTART_MIN_S)


def test_a_worker_that_lived_long_is_restarted_at_once(supervisors):
    clock = Clock()
    sup = supervisors(_sleeper(), 1, 'file:///r', clock=clock)
    sup.start()
    w = sup.workers[0]
    first = w.proc
    clock.now += workers.HEALTHY_S + 1
    first.kill()
    first.wait(30)
    assert sup.check() is None
    assert w.proc is not first and w.proc.poll() is None


def _started(supervisors, count, on_sigterm, stop_timeout):
    """Workers that handle SIGTERM with ``on_sigterm`` (Python source),
    started and ready: SIGTERM must arrive after the handler is set."""
    code = ('import signal, sys, time\n'
            'signal.signal(signal.SIGTERM, %s)\n'
            'print("ready", flush=True)\n'
            'time.sleep(60)\n' % on_sigterm)

    def piped(cmd, env):
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE)
    sup = supervisors(_sleeper(code), count, 'file:///r',
                      stop_timeout=stop_timeout, popen=piped)
    sup.start()
    for w in sup.workers:
        assert w.proc.stdout.readline() == b'ready\n'
    return sup


def test_stop_terminates_every_worker(supervisors):
    sup = _started(supervisors, 2, 'lambda *a: sys.exit(0)', 30)
    assert len(sup.alive()) == 2
    assert sup.stop() == []
    assert [w.proc.returncode for w in sup.workers] == [0, 0]


def test_stop_kills_a_worker_that_ignores_sigterm(supervisors):
    sup = _started(supervisors, 1, 'signal.SIG_IGN', 0.5)
    assert sup.stop() == [0]
    assert sup.workers[0].proc.returncode == -signal.SIGKILL


def test_a_worker_dies_with_its_parent(tmp_path):
    """PR_SET_PDEATHSIG: an orphaned worker would keep its share of the
    ring and its queue."""
    pidfile = tmp_path / 'pid'
    code = (
        'import subprocess, sys\n'
        'p = subprocess.Popen([sys.executable, "-c", '
        '"from dpiaas.engine import workers; import os, time; '
        'workers.die_with_parent(); '
        'open(%r, \'w\').write(str(os.getpid())); time.sleep(60)"])\n'
        'import time\n'
        'while True: time.sleep(1)\n' % str(pidfile))
    parent = subprocess.Popen([sys.executable, '-c', code],
                              cwd=os.getcwd())
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() or not pidfile.read_text():
            assert time.monotonic() < deadline, 'worker did not start'
            time.sleep(0.05)
        child = int(pidfile.read_text())
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while os.path.exists('/proc/%d' % child):
        with open('/proc/%d/stat' % child) as f:
            if f.read().split(') ')[-1].startswith('Z'):
                break       # a zombie reaped by init soon: it is dead
        assert time.monotonic() < deadline, 'worker outlived its parent'
        time.sleep(0.05)


def test_a_worker_of_a_supervisor_that_is_pid_1_lives(monkeypatch):
    """In a container dpiaas-engine may be pid 1: its workers' parent
    is then 1 and they must not take that for their parent's death."""
    killed = []

    def no_libc(*args, **kwargs):
        raise OSError('no prctl for the test process')
    monkeypatch.setattr(workers.ctypes, 'CDLL', no_libc)
    monkeypatch.setattr(os, 'getppid', lambda: 1)
    monkeypatch.setattr(os, 'kill', lambda pid, sig: killed.append(sig))
    monkeypatch.setenv(workers.ENV_PARENT, '1')
    workers.die_with_parent()
    assert killed == []
    monkeypatch.setenv(workers.ENV_PARENT, '4242')   # re-parented
    workers.die_with_parent()
    assert killed == [signal.SIGTERM]
