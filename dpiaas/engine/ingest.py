"""Samples from the agents into the database, in batches, surviving outages.

RPC threads hand samples over with :meth:`Ingest.add` and return at once;
one writer thread writes them with ``Storage.add_samples`` every
``batch_size`` samples or every ``flush_interval`` seconds, whichever comes
first (one transaction per batch instead of one per agent message).

While the database fails, samples wait in memory and the writer retries
every ``retry_interval``: nothing is lost as long as at most
``max_backlog`` samples wait; beyond that the oldest are dropped and
counted (an unbounded backlog would only move the outage into the
engine's memory).

Consumers (the detector) see every sample once, as it arrives, whether or
not the database is up: ``add_consumer(callable(samples))``.

Samples travel through the engine as :class:`Sample` rows (metric names
and values side by side, the names a tuple shared by every interval of a
collector), not as dicts: RPC 1.2 and 1.3 agents send them that way
(:func:`samples_of_compact`, :func:`samples_of_packed`), storage packs
them as they are (``Storage.add_sample_rows``) and only the detector
builds a dict, one
per monitor interval it scores. Dict samples (RPC 1.0/1.1, tests) become
rows in :meth:`Ingest.add`.
"""
import base64
import binascii
import collections
import struct
import threading
import time

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

_SampleBase = collections.namedtuple(
    '_SampleBase', 'collector_id monitor_id ts interval_ms names values')


class Sample(_SampleBase):
    """One interval of one collector: ``names`` (tuple) and ``values``
    (list, same order)."""

    __slots__ = ()

    @property
    def metrics(self):
        return dict(zip(self.names, self.values))

    def get(self, key, default=None):
        """Dict-like access for code written against dict samples."""
        if key == 'metrics':
            return self.metrics
        return getattr(self, key, default)

    def to_dict(self):
        return {'collector_id': self.collector_id,
                'monitor_id': self.monitor_id, 'ts': self.ts,
                'interval_ms': self.interval_ms, 'metrics': self.metrics}

    @classmethod
    def from_dict(cls, s):
        """A dict sample (control-plane.rst) as a row; ValueError if it
        is not one."""
        try:
            metrics = s['metrics']
            return cls(s['collector_id'], s['monitor_id'], float(s['ts']),
                       int(s.get('interval_ms') or 500), tuple(metrics),
                       list(metrics.values()))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError('bad sample (needs collector_id, monitor_id, '
                             'ts and a metrics dict): %s: %s'
                             % (type(e).__name__, e))


def as_samples(samples):
    """Rows of ``samples`` (dicts or rows)."""
    return [s if isinstance(s, Sample) else Sample.from_dict(s)
            for s in samples]


def samples_of_compact(compact):
    """Rows of RPC 1.2's compact samples (see
    :func:`dpiaas.rpc.engine_api.compact_samples`); ValueError if they
    are malformed."""
    if not compact:
        return []
    out = []
    new = tuple.__new__
    try:
        names = [tuple(n) for n in compact['names']]
        for cid, mid, ts, ims, i, vals in compact['rows']:
            layout = names[i]
            if len(vals) != len(layout):
                raise ValueError('%d values for %d names'
                                 % (len(vals), len(layout)))
            out.append(new(Sample, (cid, mid, float(ts), int(ims or 500),
                                    layout, vals)))
    except (KeyError, TypeError, ValueError, AttributeError,
            IndexError) as e:
        raise ValueError('bad sample (compact: needs names, and rows of '
                         'collector_id, monitor_id, ts, interval_ms, names '
                         'index, values): %s: %s' % (type(e).__name__, e))
    return out


def samples_of_packed(packed):
    """Rows of RPC 1.3's packed samples (see
    :func:`dpiaas.rpc.engine_api.packed_samples`); ValueError if they
    are malformed."""
    if not packed:
        return []
    out = []
    new = tuple.__new__
    try:
        names = [tuple(n) for n in packed['names']]
        structs = [struct.Struct('<%dd' % len(n)) for n in names]
        blob = base64.b64decode(packed['values'], validate=True)
        off = 0
        for cid, mid, ts, ims, i in packed['rows']:
            st = structs[i]
            vals = list(st.unpack_from(blob, off))
            off += st.size
            out.append(new(Sample, (cid, mid, float(ts), int(ims or 500),
                                    names[i], vals)))
        if off != len(blob):
            raise ValueError('%d bytes of values for %d'
                             % (len(blob), off))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            struct.error, binascii.Error) as e:
        raise ValueError('bad sample (packed: needs names, rows of '
                         'collector_id, monitor_id, ts, interval_ms, names '
                         'index, and their values): %s: %s'
                         % (type(e).__name__, e))
    return out


class Ingest:
    def __init__(self, storage, batch_size=500, flush_interval=0.5,
                 max_backlog=200000, retry_interval=1.0):
        self.storage = storage
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_backlog = max_backlog
        self.retry_interval = retry_interval
        self._consumers = []
        self._queue = collections.deque()     # new: consumers not run yet
        self._backlog = collections.deque()   # consumed, not yet written
        self._oldest = None                   # monotonic arrival of queue[0]
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = None
        self._failing = False
        self.received = 0
        self.written = 0
        self.dropped = 0
        self.write_errors = 0

    # -- producers ----------------------------------------------------------

    def add(self, samples):
        """Queue samples (dicts or :class:`Sample` rows) for writing
        (never blocks on the database); ValueError if one is not a
        sample (none of the batch is queued then)."""
        samples = as_samples(samples)
        if not samples:
            return
        with self._cond:
            first = not self._queue
            if first:
                self._oldest = time.monotonic()
            self._queue.extend(samples)
            self.received += len(samples)
            self._trim()
            if first or len(self._queue) >= self.batch_size:
                # first: the writer starts its flush_interval timer
                self._cond.notify()

    def add_consumer(self, consumer):
        """``consumer(samples)`` is called once per batch of new samples."""
        self._consumers.append(consumer)

    @property
    def backlog(self):
        with self._cond:
            return len(self._queue) + len(self._backlog)

    def stats(self):
        with self._cond:
            return {'received': self.received, 'written': self.written,
                    'dropped': self.dropped, 'backlog': len(self._queue)
                    + len(self._backlog), 'write_errors': self.write_errors}

    def _trim(self):
        """Drop the oldest samples beyond ``max_backlog`` (lock held)."""
        excess = len(self._queue) + len(self._backlog) - self.max_backlog
        if excess <= 0:
            return
        dropped = min(excess, len(self._backlog))
        for _ in range(dropped):
            self._backlog.popleft()
        for _ in range(excess - dropped):
            self._queue.popleft()
        self.dropped += excess
        LOG.warning('ingest backlog full (%d samples): dropped the %d '
                    'oldest, %d dropped in all', self.max_backlog, excess,
                    self.dropped)

    # -- the writer ----------------------------------------------------------

    def start(self):
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run,
                                        name='dpiaas-engine-ingest',
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout=10):
        """Stop the writer after one last attempt to write everything."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        self.flush()
        left = self.backlog
        if left:
            LOG.warning('ingest stopped with %d samples not written', left)

    def flush(self):
        """Write everything queued now (in this thread); True if all is."""
        self._consume(self._take(wait=False, everything=True))
        return self._write_backlog()

    def _run(self):
        while True:
            batch = self._take(wait=True)
            if batch is None:
                return
            self._consume(batch)
            if not self._write_backlog():
                with self._cond:
                    if not self._stopping:
                        self._cond.wait(self.retry_interval)

    def _take(self, wait, everything=False):
        """Next samples for the consumers; None when stopping."""
        with self._cond:
            while wait and not self._stopping:
                n = len(self._queue)
                if n >= self.batch_size:
                    break
                if self._backlog and not self._failing:
                    break
                if n:
                    left = self._oldest + self.flush_interval \
                        - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                elif self._backlog:
                    # failing: retry on schedule
                    break
                else:
                    self._cond.wait()
            if wait and self._stopping:
                return None
            n = len(self._queue) if everything else min(len(self._queue),
                                                        self.batch_size)
            batch = [self._queue.popleft() for _ in range(n)]
            self._oldest = time.monotonic() if self._queue else None
            return batch

    def _take_full(self):
        """The full batches waiting (a partial one waits for its
        ``flush_interval``)."""
        with self._cond:
            n = len(self._queue)
            n -= n % self.batch_size
            batch = [self._queue.popleft() for _ in range(n)]
            if n:
                self._oldest = time.monotonic() if self._queue else None
            return batch

    def _consume(self, batch):
        if not batch:
            return
        for consumer in list(self._consumers):
            try:
                consumer(batch)
            except Exception:
                LOG.exception('sample consumer %r failed', consumer)
        with self._cond:
            self._backlog.extend(batch)
            self._trim()

    def _store(self, batch):
        add_rows = getattr(self.storage, 'add_sample_rows', None)
        if add_rows is not None:
            add_rows(batch)
        else:   # a storage without rows (older fakes)
            self.storage.add_samples([s.to_dict() for s in batch])

    def _write_backlog(self):
        """Write the backlog in batches; False when the database fails.

        Before each batch, what arrived meanwhile goes to the consumers:
        a writer working through a backlog must not hold the detector's
        samples back with it (at 5,000 monitors the writer was 20 s
        behind and so were the alarms)."""
        while True:
            self._consume(self._take_full())
            with self._cond:
                batch = [self._backlog[i] for i in
                         range(min(len(self._backlog), self.batch_size))]
            if not batch:
                return True
            try:
                self._store(batch)
            except Exception as exc:
                with self._cond:
                    self.write_errors += 1
                    if not self._failing:
                        LOG.error('cannot write samples (%s); keeping up '
                                  'to %d in memory and retrying every '
                                  '%s s', exc, self.max_backlog,
                                  self.retry_interval)
                    self._failing = True
                return False
            with self._cond:
                # the batch is the head of the backlog unless _trim dropped
                # some of it meanwhile: remove what is still there
                for sample in batch:
                    if self._backlog and self._backlog[0] is sample:
                        self._backlog.popleft()
                self.written += len(batch)
                if self._failing:
                    LOG.info('samples written again; %d waiting',
                             len(self._backlog))
                self._failing = False
