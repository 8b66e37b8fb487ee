"""Batches the agent's samples, flow reports and collector statuses to the
engine, and keeps them while it cannot.

Collectors hand over every interval (:meth:`Reporter.add`); a thread sends
what accumulated every ``[agent] report_batch_interval`` seconds. A cast
that fails (dead broker, MessageDeliveryFailure, timeouts, or
MessageUndeliverable: the reports are published mandatory, so a cast the
broker could route to no queue -- the engines' queue not declared again
yet after a broker restart -- fails too) puts its batch back in front,
so nothing is lost until the buffer is full: beyond
``[agent] buffer_samples`` the oldest entries are dropped and counted
(``buffer.dropped`` in the agent's state), because fresh intervals matter
more to a detector than stale ones. Statuses are few and only the latest
of each collector matters, so they are kept per collector.

Samples are kept and handed to ``EngineAPI.report_samples`` as dicts;
the client sends a batch compact (RPC 1.2: metric names once per batch,
values as lists) once an engine has answered ``get_desired`` at 1.2, as
dicts otherwise (``dpiaas.rpc.engine_api``).
"""
import collections
import logging
import threading

LOG = logging.getLogger(__name__)


# types that JSON takes as they are: a metric dict of plain numbers is
# copied without a call per value (22 us a sample before, 8 after: the
# agent of 5,000 simulated collectors in bench.load spent a third of a
# core here)
_AS_IS = frozenset((int, float, str, bool, type(None)))


def _plain(value):
    """JSON-safe numbers (numpy scalars become Python ones)."""
    if type(value) is dict:
        return {k if type(k) is str else str(k):
                v if type(v) in _AS_IS else _plain(v)
                for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, 'item') and callable(value.item):
        return value.item()
    return value


class _Queue:
    """A bounded FIFO that drops (and counts) the oldest entries."""

    def __init__(self, limit):
        self.limit = limit
        self.items = collections.deque()
        self.dropped = 0

    def _trim(self):
        over = len(self.items) - self.limit
        for _ in range(max(0, over)):
            self.items.popleft()
        self.dropped += max(0, over)
        return max(0, over)

    def extend(self, items):
        self.items.extend(items)
        return self._trim()

    def take(self, n):
        return [self.items.popleft() for _ in range(min(n, len(self.items)))]

    def put_back(self, items):
        self.items.extendleft(reversed(items))
        return self._trim()


class Reporter:
    """Sends to ``engine_api`` as ``host``; thread-safe."""

    def __init__(self, engine_api, host, batch_interval=1.0,
                 buffer_samples=100000, batch_max=1000, send_flows=True,
                 ctxt=None):
        self.engine_api = engine_api
        self.host = host
        self.batch_interval = batch_interval
        self.batch_max = batch_max
        self.send_flows = send_flows
        self.ctxt = ctxt
        self.lock = threading.Lock()
        self.samples = _Queue(buffer_samples)
        self.flows = _Queue(max(1, buffer_samples // 10))
        self.statuses = collections.OrderedDict()
        self.sent = 0
        self.failing = False   # or the name of the last error's type
        self._stop = threading.Event()
        self._thread = None

    # --- producers -------------------------------------------------------

    def add(self, collector_id, monitor_id, report):
        """Queue one :class:`~dpiaas.dpi.pipeline.IntervalReport`."""
        sample = {'collector_id': collector_id, 'monitor_id': monitor_id,
                  'ts': float(report.ts),
                  'interval_ms': int(report.interval_ms),
                  'metrics': _plain(report.metrics)}
        flows = None
        if self.send_flows and (report.flows or any(
                (report.heavy_hitters or {}).values())):
            flows = {'collector_id': collector_id, 'monitor_id': monitor_id,
                     'ts': float(report.ts),
                     'flows': _plain(list(report.flows)),
                     'heavy_hitters': _plain(report.heavy_hitters or {})}
        with self.lock:
            dropped = self.samples.extend([sample])
            if flows is not None:
                dropped += self.flows.extend([flows])
        if dropped:
            self._log_drops(dropped)

    def add_status(self, collector_id, status, reason=None):
        """Queue a collector's status; a newer one replaces an unsent one."""
        with self.lock:
            self.statuses.pop(collector_id, None)
            self.statuses[collector_id] = (status, reason)

    def _log_drops(self, n):
        LOG.warning('Report buffer full: dropped the %d oldest entries '
                    '(%d dropped so far); the engine has been unreachable '
                    'for a while', n, self.dropped)

    # --- state -----------------------------------------------------------

    @property
    def dropped(self):
        return self.samples.dropped + self.flows.dropped

    def state(self):
        with self.lock:
            return {'queued': len(self.samples.items) +
                    len(self.flows.items), 'dropped': self.dropped}

    # --- sending ---------------------------------------------------------

    def flush(self):
        """Send everything queued now; True when nothing is left."""
        if not self._send_statuses():
            return False
        for queue, method in ((self.samples,
                               self.engine_api.report_samples),
                              (self.flows, self.engine_api.report_flows)):
            while True:
                with self.lock:
                    batch = queue.take(self.batch_max)
                if not batch:
                    break
                if not self._send(method, batch):
                    with self.lock:
                        dropped = queue.put_back(batch)
                    if dropped:
                        self._log_drops(dropped)
                    return False
                self.sent += len(batch)
        return True

    def _send_statuses(self):
        while True:
            with self.lock:
                if not self.statuses:
                    return True
                cid, (status, reason) = next(iter(self.statuses.items()))
            if not self._send(self.engine_api.collector_status, cid, status,
                              reason):
                return False
            with self.lock:
                # unless a newer status arrived meanwhile
                if self.statuses.get(cid) == (status, reason):
                    del self.statuses[cid]

    def _send(self, method, *args):
        try:
            method(self.ctxt, self.host, *args)
        except Exception as exc:  # broker down: MessageDeliveryFailure, ...
            # once per outage, and again when the cause changes (a broker
            # back but no engine queue yet: MessageUndeliverable)
            if self.failing != type(exc).__name__:
                LOG.warning('Cannot report to the engine (%s: %s); keeping '
                            'up to %d samples and retrying',
                            type(exc).__name__, exc, self.samples.limit)
            self.failing = type(exc).__name__
            return False
        if self.failing:
            LOG.info('Reporting to the engine again')
            self.failing = False
        return True

    # --- thread ----------------------------------------------------------

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop,
                                        name='dpiaas-reporter', daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(self.batch_interval):
            try:
                self.flush()
            except Exception:  # never let the reporter die
                LOG.exception('Unexpected error while reporting')

    def stop(self, flush=True):
        """Stop the thread; with ``flush`` send what is left (once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5, self.batch_interval * 2))
        if flush:
            self.flush()
