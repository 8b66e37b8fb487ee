"""Several engine processes on one host: ``[engine] workers``.

Why: one engine process stores and scores about 5,000 monitors. Its
threads (broker reader, ingest writer, detector) share one interpreter
lock, so past that it uses one core and falls behind however many the
host has (issue 7, "Load"; ``doc/source/admin/capacity.rst``). aodh's
evaluator answers the same limit the same way: N worker processes, each
a member of the coordination group with its share of the alarms.

Each worker is a whole engine (:class:`~dpiaas.engine.service.
EngineService`) whose member id and RPC server name is ``<host>.<n>``:
it owns the monitors the hash ring gives it, consumes its turn of the
agents' samples from the shared ``dpiaas-engine`` queue, stores them and
forwards the ones of other workers' monitors (packed, RPC 1.4). Without
``[coordination] backend_url`` the workers of the host share a ring in
files under the state path (tooz's file driver), so two hosts must
still configure a real backend to share monitors.

The parent process only supervises. It starts the workers as new
interpreters running ``dpiaas-engine`` with the worker's index in the
environment (``DPIAAS_ENGINE_WORKER``), not forks: a process that already
holds threads, broker connections and database pools does not fork
safely. A worker that dies is started again, after a pause that doubles
(1 s to 60 s) while it keeps dying young, and its monitors meanwhile go
to the other workers when the ring forgets it. On SIGTERM or SIGINT the
parent stops every worker (SIGTERM, each writes what it holds) and kills
those still running after ``stop_timeout``. A worker whose parent dies
gets SIGTERM from the kernel (``PR_SET_PDEATHSIG``): no orphaned engine
keeps its share of the ring.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

ENV_INDEX = 'DPIAAS_ENGINE_WORKER'
ENV_RING = 'DPIAAS_ENGINE_RING'
ENV_PARENT = 'DPIAAS_ENGINE_PARENT'
RESTART_MIN_S = 1.0
RESTART_MAX_S = 60.0
# a worker that lived this long was not dying at start: restart at once
HEALTHY_S = 60.0
PR_SET_PDEATHSIG = 1


def member_id(host, index):
    """The ring member id and RPC server name of worker ``index``."""
    return '%s.%d' % (host, index)


def default_ring_url(state_path):
    """The tooz file backend the workers of one host share when no
    ``[coordination] backend_url`` is set."""
    return 'file://' + os.path.join(os.path.abspath(state_path),
                                    'coordination')


def worker_index():
    """This process's worker index, or None when it is not a worker."""
    value = os.environ.get(ENV_INDEX)
    return int(value) if value not in (None, '') else None


def die_with_parent():
    """Ask the kernel to send SIGTERM when the parent exits (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent still stops us
        pass
    # the parent may have died before prctl: then this process has been
    # re-parented. Compared with the pid the supervisor gave, not with 1:
    # in a container the supervisor itself may be pid 1.
    parent = os.environ.get(ENV_PARENT)
    if parent and os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


class _Worker:
    def __init__(self, index):
        self.index = index
        self.proc = None
        self.started_at = 0.0
        self.delay = RESTART_MIN_S
        self.restart_at = 0.0


class Supervisor:
    """Starts ``count`` workers with ``command`` and keeps them running
    until :meth:`stop`. ``command`` is the argv of one worker; the index
    and ring URL go in its environment."""

    def __init__(self, command, count, ring_url, stop_timeout=60.0,
                 popen=subprocess.Popen, clock=time.monotonic):
        self.command = list(command)
        self.ring_url = ring_url
        self.stop_timeout = stop_timeout
        self.popen = popen
        self.clock = clock
        self.workers = [_Worker(i) for i in range(count)]

    def _start(self, worker):
        env = dict(os.environ)
        env[ENV_INDEX] = str(worker.index)
        env[ENV_RING] = self.ring_url
        env[ENV_PARENT] = str(os.getpid())
        worker.proc = self.popen(self.command, env=env)
        worker.started_at = self.clock()
        LOG.info('engine worker %d started (pid %d)', worker.index,
                 worker.proc.pid)

    def start(self):
        for worker in self.workers:
            self._start(worker)

    def check(self):
        """Restart the workers that exited, when their pause is over;
        returns the seconds until the next restart is due (or None)."""
        now = self.clock()
        due = []
        for worker in self.workers:
            if worker.proc is not None:
                code = worker.proc.poll()
                if code is None:
                    continue
                lived = now - worker.started_at
                worker.delay = (RESTART_MIN_S if lived >= HEALTHY_S
                                else min(worker.delay * 2, RESTART_MAX_S))
                worker.restart_at = now + (0 if lived >= HEALTHY_S
                                           else worker.delay)
                LOG.error('engine worker %d (pid %d) exited with code %s '
                          'after %.0f s; starting it again in %.0f s',
                          worker.index, worker.proc.pid, code, lived,
                          worker.restart_at - now)
                worker.proc = None
            if worker.restart_at <= now:
                self._start(worker)
            else:
                due.append(worker.restart_at - now)
        return min(due) if due else None

    def alive(self):
        return [w.proc.pid for w in self.workers
                if w.proc is not None and w.proc.poll() is None]

    def stop(self):
        """SIGTERM to every worker, SIGKILL to those still running after
        ``stop_timeout``; returns the indexes that had to be killed."""
        running = [w for w in self.workers
                   if w.proc is not None and w.proc.poll() is None]
        for worker in running:
            try:
                worker.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = self.clock() + self.stop_timeout
        killed = []
        for worker in running:
            try:
                worker.proc.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                LOG.warning('engine worker %d did not stop within %.0f s: '
                            'killed', worker.index, self.stop_timeout)
                worker.proc.kill()
                worker.proc.wait()
                killed.append(worker.index)
        return killed


def worker_command(argv):
    """The argv that runs this same ``dpiaas-engine`` as a worker."""
    return [sys.executable, '-m', 'dpiaas.cmd.engine'] + list(argv)
