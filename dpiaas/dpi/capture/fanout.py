"""One interface, several worker processes: PACKET_FANOUT.

When one core cannot keep up with a tap, N processes each open their own
:class:`~dpiaas.dpi.capture.afpacket.AfPacketCapture` on it in one fanout
group. The kernel hashes every packet's flow (both directions alike, IPv4
fragments reassembled first) to exactly one member, so each worker sees
whole flows and can run the complete DPI pipeline on its share; the parent
merges what the workers report. Processes rather than threads: the
pipeline's numba kernels release the GIL but the glue around them does not.

The module is generic: a worker runs ``worker_fn(batches, index,
results)`` where ``batches`` is the capture's batch iterator (it ends when
the parent stops the workers; an empty batch means "nothing for a while"),
``index`` is 0..N-1 and ``results`` a multiprocessing queue. Whatever the
workers put there is what the parent's :meth:`FanoutCapture.get` returns.
``worker_fn`` must be picklable (a module-level function or an instance of
a module-level class) because workers are spawned, not forked: forking a
threaded agent can deadlock the child on a lock held at fork time.
"""
import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import sys
import time

from dpiaas.dpi.capture import afpacket
from dpiaas.dpi.capture import CaptureError

LOG = logging.getLogger(__name__)

_READY = 'ready'
_ERROR = 'error'
_DONE = 'done'


class CountWorker:
    """The cheapest useful ``worker_fn``: packets and bytes per interval.

    Puts ``(index, packets, bytes)`` on the queue every ``interval_s``
    (when anything arrived) and once at the end. Used by the benchmark and
    the tests, and as an example of the worker contract.
    """

    def __init__(self, interval_s=0.5):
        self.interval_s = interval_s

    def __call__(self, batches, index, results):
        packets = nbytes = 0
        last = time.monotonic()
        for batch in batches:
            n = len(batch)
            if n:
                packets += n
                nbytes += int(batch.caplen.sum())
            now = time.monotonic()
            if packets and now - last >= self.interval_s:
                results.put((index, packets, nbytes))
                packets = nbytes = 0
                last = now
        results.put((index, packets, nbytes))


def _publish(cap, counters, index):
    st = cap.stats()
    counters[2 * index] = st['packets']
    counters[2 * index + 1] = st['drops']


def _stats_every(cap, batches, counters, index, interval_s):
    """Pass ``batches`` through, refreshing the shared kernel counters."""
    last = 0.0
    for batch in batches:
        now = time.monotonic()
        if now - last >= interval_s:
            _publish(cap, counters, index)
            last = now
        yield batch


def _die_with_parent():
    """Ask the kernel to SIGTERM this worker when its parent dies, so a
    killed agent never leaves captures running (nor pipes held open)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)    # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        LOG.debug('prctl(PR_SET_PDEATHSIG) unavailable')
    if os.getppid() == 1:
        sys.exit(1)        # the parent died before prctl took effect


def _worker_main(index, interface, group, capture_opts, timeout_ms,
                 worker_fn, stop, results, status, counters, stats_interval):
    """Body of one worker process; reports through ``status``, no traces."""
    # The parent owns shutdown (stop event); Ctrl-C in a terminal reaches
    # the whole process group and must not print one trace per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    try:
        cap = afpacket.AfPacketCapture(interface, fanout_group=group,
                                       **capture_opts)
    except CaptureError as exc:
        status.put((_ERROR, index, str(exc)))
        sys.exit(1)
    except Exception as exc:
        LOG.exception('fanout worker %d cannot capture on %s', index,
                      interface)
        status.put((_ERROR, index, 'worker %d cannot capture on %s: %s: %s'
                    % (index, interface, type(exc).__name__, exc)))
        sys.exit(1)
    code = 0
    with cap:
        status.put((_READY, index, cap.fanout_id))
        batches = _stats_every(cap, cap.batches(timeout_ms, stop), counters,
                               index, stats_interval)
        try:
            worker_fn(batches, index, results)
        except CaptureError as exc:
            status.put((_ERROR, index, str(exc)))
            code = 1
        except Exception as exc:
            LOG.exception('fanout worker %d on %s failed', index, interface)
            status.put((_ERROR, index, 'worker %d failed: %s: %s'
                        % (index, type(exc).__name__, exc)))
            code = 1
        finally:
            batches.close()
            _publish(cap, counters, index)
    status.put((_DONE, index, None))
    sys.exit(code)


class FanoutCapture:
    """``workers`` processes sharing ``interface`` through PACKET_FANOUT.

    :param worker_fn: picklable ``worker_fn(batches, index, results)``.
    :param bpf_filter: libpcap expression or compiled program, applied by
        every worker's socket.
    :param group_id: fanout group id; None lets the kernel pick a free one
        (the first worker asks for it, the others join it).
    :param capture_opts: more keyword arguments for ``AfPacketCapture``
        (``block_size``, ``block_count``, ``fanout_defrag`` ...).
    :param timeout_ms: poll timeout of the workers, which is also how long
        a stop request can take to be noticed.
    """

    def __init__(self, interface, worker_fn, workers=2, bpf_filter=None,
                 group_id=None, capture_opts=None, timeout_ms=100,
                 start_method='spawn', stats_interval_s=0.2):
        if workers < 1:
            raise ValueError('at least one worker')
        self.interface = interface
        self.worker_fn = worker_fn
        self.workers = int(workers)
        self.group_id = group_id
        self.timeout_ms = int(timeout_ms)
        self.stats_interval_s = stats_interval_s
        opts = dict(capture_opts or {})
        if isinstance(bpf_filter, str):
            # Compile once here: a bad expression fails in the caller.
            from dpiaas.dpi.capture import bpf
            bpf_filter = bpf.compile_filter(bpf_filter)
        opts['bpf_filter'] = bpf_filter
        self._opts = opts
        self._ctx = multiprocessing.get_context(start_method)
        self._stop = self._ctx.Event()
        self._results = self._ctx.Queue()
        self._status = self._ctx.Queue()
        self._counters = self._ctx.Array('q', 2 * self.workers)
        self._procs = []
        self._backlog = []
        self._errors = {}
        self._ready = set()

    # -- lifecycle -----------------------------------------------------

    def start(self, timeout=60.0):
        """Start the workers; return once all of them capture.

        Raises :class:`CaptureError` (after stopping the others) when a
        worker cannot open its capture, e.g. the interface is missing.
        """
        deadline = time.monotonic() + timeout
        group = self.group_id
        first = 0
        try:
            if group is None:
                self._spawn(0, afpacket.FANOUT_AUTO)
                group = self._await_ready([0], deadline)
                first = 1
            self.group_id = group
            for index in range(first, self.workers):
                self._spawn(index, group)
            self._await_ready(range(first, self.workers), deadline)
        except BaseException:
            # No worker may outlive a failed start (pickling error, ^C).
            self.stop(timeout=2.0)
            raise
        LOG.info('%d capture workers on %s, fanout group %d', self.workers,
                 self.interface, group)
        return self

    def _spawn(self, index, group):
        proc = self._ctx.Process(
            target=_worker_main, name='dpiaas-capture-%d' % index,
            args=(index, self.interface, group, self._opts, self.timeout_ms,
                  self.worker_fn, self._stop, self._results, self._status,
                  self._counters, self.stats_interval_s),
            daemon=True)
        proc.start()
        self._procs.append(proc)

    def _await_ready(self, indexes, deadline):
        waiting = set(indexes)
        group = None
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise CaptureError('capture workers %s on %s did not start '
                                   'in time' % (sorted(waiting),
                                                self.interface))
            try:
                kind, index, data = self._status.get(timeout=min(left, 0.5))
            except queue.Empty:
                dead = [p.name for p in self._procs
                        if p.exitcode is not None]
                if dead and not self._errors:
                    self.stop()
                    raise CaptureError('capture workers %s on %s died at '
                                       'start' % (dead, self.interface))
                continue
            self._on_status(kind, index, data)
            if kind == _ERROR:
                self.stop()
                raise CaptureError(data)
            if kind == _READY:
                waiting.discard(index)
                group = data
        return group

    def _on_status(self, kind, index, data):
        if kind == _READY:
            self._ready.add(index)
        elif kind == _ERROR:
            LOG.error('capture worker %d on %s: %s', index, self.interface,
                      data)
            self._errors[index] = data

    def _poll_status(self):
        while True:
            try:
                self._on_status(*self._status.get_nowait())
            except queue.Empty:
                return

    def stop(self, timeout=5.0):
        """Stop the workers and return the results not yet read.

        Workers notice the stop within ``timeout_ms``; those still alive
        after ``timeout`` seconds are terminated, then killed.
        """
        self._stop.set()
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            while proc.is_alive() and time.monotonic() < deadline:
                # A worker cannot exit while its queue feeder still holds
                # data the parent has not read.
                self._collect()
                proc.join(0.05)
        for proc in self._procs:
            if proc.is_alive():
                LOG.warning('capture worker %s on %s did not stop; '
                            'terminating it', proc.name, self.interface)
                proc.terminate()
                proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        self._collect()
        self._poll_status()
        rest, self._backlog = self._backlog, []
        return rest

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- results and state ---------------------------------------------

    def _collect(self):
        while True:
            try:
                self._backlog.append(self._results.get_nowait())
            except queue.Empty:
                return

    def get(self, timeout=None):
        """The next item a worker put; raises ``queue.Empty`` on timeout."""
        if self._backlog:
            return self._backlog.pop(0)
        return self._results.get(timeout=timeout)

    def drain(self):
        """Every item available now, in arrival order."""
        self._collect()
        rest, self._backlog = self._backlog, []
        return rest

    def alive(self):
        """How many workers are still running."""
        return sum(1 for p in self._procs if p.is_alive())

    def errors(self):
        """``{worker index: one-line reason}`` of the workers that failed."""
        self._poll_status()
        return dict(self._errors)

    def stats(self):
        """Kernel counters summed over workers, plus each worker's.

        Workers refresh theirs every ``stats_interval_s`` while batches
        flow and once when they stop.
        """
        per = []
        for i in range(self.workers):
            per.append({'packets': int(self._counters[2 * i]),
                        'drops': int(self._counters[2 * i + 1])})
        return {'packets': sum(w['packets'] for w in per),
                'drops': sum(w['drops'] for w in per),
                'workers': per}

    def __repr__(self):
        return '<FanoutCapture %s x%d group=%s pid=%d>' % (
            self.interface, self.workers, self.group_id, os.getpid())
