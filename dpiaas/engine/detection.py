"""The engine's detector loop: every ingested interval scored, alarms kept.

Ingest hands each batch of samples to :meth:`Detection.consume` (never
blocking it). A thread
merges the samples of a monitor's collectors by interval, runs one tick of
:func:`dpiaas.detect.batch.process_tick` over every monitor that has a new
interval (one batch score for all of them), and turns what comes out into
stored state:

- alarm transitions -> ``Storage.set_alarm_state`` (history) and the
  notifiers (oslo.messaging, webhooks, log), on change only;
- the monitor's status ``learning`` -> ``active`` once the baseline is
  learned (the reconciler owns ``pending`` and ``error``);
- the score and reason of a steady alarm, refreshed every few seconds
  rather than per interval (10,000 monitors at 2 Hz must not mean 20,000
  alarm writes a second); those of an alarm that is ``ok`` (or has
  insufficient data) only every minute: at thousands of monitors a write
  every 5 s each was hundreds of transactions a second on the detector
  thread, contending with ingest for the database, and the detector fell
  tens of seconds behind (alarms that late);
- detector state saved every ``[detector] save_interval`` and at stop, so
  that a restarted engine does not learn again from scratch; at most
  ``SAVE_BUDGET_S`` of saving per pass, oldest first (thousands of
  monitors loaded together fall due together: saving them all in one
  pass stalled the detector for tens of seconds), so under load a state
  is saved a little later than asked, never the detector stalled;
- monitor records (settings, rebaseline requests) re-read every
  ``REFRESH_S``, a few hundred per query (one query per monitor was a
  fifth of the engine at 2,000 monitors);
- a monitor with no intervals for a while goes to ``insufficient_data``
  (a gap is never an alarm and never zeros);
- a ``rebaseline`` requested through the API is applied and cleared.

With several engines, only the owner of a monitor (hash ring) scores it.
Agents' samples reach whichever engine the broker picks: that engine
stores them (ingest) and, from the detector thread, hands the ones of
monitors it does not own to their owner (``forward(owner, samples)``, an
``EnginePeerAPI.score_samples`` cast), which scores them as its own
(:meth:`Detection.score`; never forwarded again, so a ring in flux cannot
bounce samples between engines). A monitor that is no longer ours (an
engine joined) has its detector state saved and is forgotten, so that
its new owner starts from that state and we stop judging it.

A detector slower than the samples arriving (too many monitors for one
engine) shows as lag, not as silence: the age of the oldest batch still
queued is measured every tick (:meth:`Detection.stats`, ``lag_s``), a
warning is logged when it passes ``lag_warning`` seconds (at most once a
minute while it lasts, and a line when it is caught up), and the queue
is bounded in samples (``max_queued``, memory): beyond it the oldest
samples are dropped, counted and logged -- an alarm minutes late is
worth less than scoring the present.
"""
import collections
import copy
import functools
import json
import threading
import time

from oslo_log import log as logging

from dpiaas.conf import detect as detect_conf
from dpiaas.db import exceptions as db_exc
from dpiaas.detect import batch as batch_mod
from dpiaas.detect import monitor as monitor_mod
from dpiaas.engine import status as status_mod

LOG = logging.getLogger(__name__)

REFRESH_S = 10.0        # re-read monitor records (settings, rebaseline)
REFRESH_CHUNK = 500     # ... that many in one query
LOAD_CHUNK = 500        # new monitors' records and states per query
SAVE_BUDGET_S = 0.05    # detector state saves per pass, at most this long
SCORE_WRITE_S = 5.0     # refresh a steady alarm's score/reason this often
QUIET_WRITE_S = 60.0    # ... and that of an ok alarm
MAX_QUEUED_SAMPLES = 100000   # 50 s of 1,000 monitors at 2 Hz
LAG_WARNING_S = 5.0
LAG_LOG_EVERY_S = 60.0


def _monitor_id(sample):
    if isinstance(sample, dict):
        return sample.get('monitor_id')
    return sample.monitor_id


def merge_intervals(samples):
    """``{(monitor_id, ts): (metrics, interval_ms)}`` summing a monitor's
    collectors (several ports) interval by interval; latency takes the
    max, as storage does when it reads a series. ``samples``: dicts or
    :class:`dpiaas.engine.ingest.Sample` rows (names and values)."""
    merged = {}
    for s in samples:
        if isinstance(s, dict):
            key = (s['monitor_id'], float(s['ts']))
            metrics = s.get('metrics') or {}
            interval_ms = s.get('interval_ms')
            items = metrics.items
        else:
            key = (s.monitor_id, s.ts)
            metrics = None
            interval_ms = s.interval_ms
            items = functools.partial(zip, s.names, s.values)
        if key not in merged:
            merged[key] = (dict(metrics) if metrics is not None
                           else dict(items()), interval_ms)
            continue
        into = merged[key][0]
        for name, value in items():
            if value is None:
                continue
            if name not in into or into[name] is None:
                into[name] = value
            elif '.latency_ms.' in name:
                into[name] = max(into[name], value)
            else:
                into[name] += value
    return merged


class _Entry:
    """One monitor's detector and what the loop remembers about it."""

    def __init__(self, record, detector):
        self.record = record
        self.detector = detector
        self.read_at = time.monotonic()
        self.saved_at = time.monotonic()
        self.score_written_at = 0.0
        self.dirty = False


class Detection:
    def __init__(self, conf, storage, notifiers=None, owns=None,
                 tick=0.25, save_interval=60.0, owner=None, forward=None,
                 max_queued=MAX_QUEUED_SAMPLES, lag_warning=LAG_WARNING_S):
        self.conf = conf
        self.storage = storage
        self.notifiers = notifiers
        self.owns = owns or (lambda monitor_id: True)
        self.owner = owner or (lambda monitor_id: None)
        self.forward = forward
        self.forwarded = 0
        self._forward_failing = False
        self.tick = tick
        self.save_interval = save_interval
        self.entries = {}
        self.scorer = batch_mod.BatchScorer()
        self.max_queued = max_queued
        self.lag_warning = lag_warning
        # (samples, forwardable, monotonic arrival), oldest first
        self._queue = collections.deque()
        self._queued = 0          # samples in _queue
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = None
        self.dropped = 0          # samples dropped, the queue full
        self.processed = 0
        self.lag = 0.0            # oldest batch's age at the last take
        self.max_lag = 0.0
        self._lag_logged_at = None   # monotonic; None: not behind
        self._drop_logged_at = None
        self._last_no_data = 0.0
        self._refreshes = {}      # monitor id -> entry, refreshed this pass
        self._params_cache = {}   # detector settings (JSON) -> params
        self._params_at = 0.0

    # --- input -------------------------------------------------------------

    def consume(self, samples):
        """Ingest's consumer: queue a batch, never block. The samples of
        monitors owned by another engine are forwarded to it."""
        self._put(samples, True)

    def score(self, samples):
        """Samples a peer engine forwarded: scored if ours, never
        forwarded again."""
        self._put(samples, False)

    def _put(self, samples, forwardable, now=None):
        samples = list(samples)
        if not samples:
            return
        now = time.monotonic() if now is None else now
        with self._cond:
            self._queue.append((samples, forwardable, now))
            self._queued += len(samples)
            dropped = 0
            while self._queued > self.max_queued and len(self._queue) > 1:
                old = self._queue.popleft()[0]
                self._queued -= len(old)
                dropped += len(old)
            self.dropped += dropped
            self._cond.notify()
        if dropped and (self._drop_logged_at is None or
                        now - self._drop_logged_at >= LAG_LOG_EVERY_S):
            # at most once a minute: an overloaded engine drops every tick
            self._drop_logged_at = now
            LOG.warning('detector queue full (%d samples): dropped the %d '
                        'oldest, %d dropped in all; this engine has more '
                        'monitors than it can score (raise [engine] '
                        'workers or add engines)', self.max_queued,
                        dropped, self.dropped)

    def stats(self, now=None):
        """``queued`` samples, ``lag_s`` (age of the oldest queued or last
        taken batch), ``max_lag_s``, ``dropped`` samples, ``processed``
        monitor intervals, ``forwarded`` samples."""
        now = time.monotonic() if now is None else now
        with self._cond:
            oldest = now - self._queue[0][2] if self._queue else 0.0
            return {'queued': self._queued,
                    'lag_s': round(max(oldest, self.lag), 3),
                    'max_lag_s': round(max(oldest, self.max_lag), 3),
                    'dropped': self.dropped, 'processed': self.processed,
                    'forwarded': self.forwarded}

    def take(self, wait=0.0, now=None):
        """Every queued batch as ``(forwardable samples, all samples)``;
        measures the lag (the oldest batch's age) and logs it when it is
        above ``lag_warning``."""
        with self._cond:
            if not self._queue and wait:
                self._cond.wait(wait)
            batches = list(self._queue)
            self._queue.clear()
            self._queued = 0
        now = time.monotonic() if now is None else now
        self._note_lag(now - batches[0][2] if batches else 0.0, now,
                       sum(len(b[0]) for b in batches))
        return ([s for b, fwd, _ in batches if fwd for s in b],
                [s for b, _, _ in batches for s in b])

    def _note_lag(self, lag, now, n):
        self.lag = lag
        self.max_lag = max(self.max_lag, lag)
        if lag > self.lag_warning:
            if self._lag_logged_at is None or \
                    now - self._lag_logged_at >= LAG_LOG_EVERY_S:
                self._lag_logged_at = now
                LOG.warning('detector behind: scoring samples %.1f s after '
                            'they arrived (%d in this pass, %d dropped so '
                            'far); alarms are that late', lag, n,
                            self.dropped)
        elif self._lag_logged_at is not None and lag < self.lag_warning / 2:
            self._lag_logged_at = None
            LOG.info('detector caught up (lag %.1f s)', lag)

    # --- thread ------------------------------------------------------------

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='dpiaas-detection')
        self._thread.start()

    def stop(self, timeout=30):
        self._stop.set()
        with self._cond:
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.dropped:
            LOG.warning('detector queue full (%d samples) at times: %d '
                        'dropped in all, worst lag %.1f s',
                        self.max_queued, self.dropped, self.max_lag)
        self.save_all()

    def _run(self):
        while not self._stop.is_set():
            foreign, samples = self.take(wait=self.tick)
            try:
                self.forward_foreign(foreign)
                self.run_once(samples)
            except Exception:
                LOG.exception('detector tick failed; going on')

    def forward_foreign(self, samples):
        """Send the samples of monitors another engine owns to it."""
        if self.forward is None:
            return
        by_owner = collections.defaultdict(list)
        for s in samples:
            mid = _monitor_id(s)
            if self.owns(mid):
                continue
            owner = self.owner(mid)
            if owner is not None:
                by_owner[owner].append(s)
        for owner, batch in sorted(by_owner.items()):
            try:
                self.forward(owner, batch)
            except Exception as exc:  # broker down: they are stored anyway
                if not self._forward_failing:
                    LOG.warning('cannot hand samples to engine %s for '
                                'scoring (%s: %s); they are stored but '
                                'not scored', owner, type(exc).__name__,
                                exc)
                self._forward_failing = True
                continue
            if self._forward_failing:
                LOG.info('handing samples to their engines again')
            self._forward_failing = False
            self.forwarded += len(batch)

    # --- one tick ----------------------------------------------------------

    def run_once(self, samples, now=None):
        """Score ``samples`` (may be empty) and do the periodic chores."""
        now = time.time() if now is None else now
        merged = merge_intervals(s for s in samples
                                 if self.owns(_monitor_id(s)))
        self._refresh_stale({mid for mid, _ in merged})
        # a monitor's intervals go through in time order, one per tick pass
        by_monitor = collections.defaultdict(list)
        for (mid, ts), (metrics, interval_ms) in merged.items():
            by_monitor[mid].append((ts, metrics, interval_ms))
        for rows in by_monitor.values():
            rows.sort(key=lambda r: r[0])
        self._load_entries([mid for mid in by_monitor
                            if mid not in self.entries])
        while by_monitor:
            todo = []
            for mid in list(by_monitor):
                entry = self._entry(mid)
                rows = by_monitor[mid]
                if entry is None:
                    del by_monitor[mid]
                    continue
                ts, metrics, interval_ms = rows.pop(0)
                if not rows:
                    del by_monitor[mid]
                todo.append((mid, ts, metrics, interval_ms))
            if not todo:
                break
            monitors = {mid: self.entries[mid].detector
                        for mid, _, _, _ in todo}
            results = batch_mod.process_tick(monitors, todo, self.scorer)
            for mid, (result, event) in results.items():
                self._after(self.entries[mid], result, event)
                self.processed += 1
        self._write_refreshes()
        self._chores(now)

    def _entry(self, monitor_id):
        entry = self.entries.get(monitor_id)
        if entry is not None:
            return entry
        try:
            record = self.storage.get_monitor(monitor_id)
        except db_exc.NotFound:
            return None
        entry = _Entry(record, self._load(record))
        self.entries[monitor_id] = entry
        self._ensure_alarm(entry)
        return entry

    def _load_entries(self, monitor_ids):
        """Entries of the monitors first seen, ``LOAD_CHUNK`` records and
        detector states per query: an engine (re)started under load meets
        thousands of monitors in its first pass, and two queries each
        were a third of the time it took to load them (the rest is
        reading the states themselves)."""
        load_many = getattr(self.storage, 'load_detector_states', None)
        if load_many is None or not monitor_ids:
            return
        for i in range(0, len(monitor_ids), LOAD_CHUNK):
            chunk = monitor_ids[i:i + LOAD_CHUNK]
            records = {r['id']: r
                       for r in self.storage.list_monitors(ids=chunk)}
            states = load_many([m for m in chunk if m in records])
            for mid in chunk:
                record = records.get(mid)
                if record is None or mid in self.entries:
                    continue    # deleted: _entry finds it so
                entry = _Entry(record, self._load(record,
                                                  states.get(mid, False)))
                self.entries[mid] = entry
                self._ensure_alarm(entry)

    def _params(self, record):
        """The monitor's DetectorParams. Built once per distinct settings
        and ``REFRESH_S``: reading the [detector] options for each of
        thousands of records re-read every 10 s was 90 us a monitor."""
        mono = time.monotonic()
        if mono - self._params_at > REFRESH_S:
            self._params_cache.clear()
            self._params_at = mono
        try:
            key = json.dumps(record.get('detector'), sort_keys=True)
        except (TypeError, ValueError):
            key = None
        params = self._params_cache.get(key) if key is not None else None
        if params is not None:
            return copy.copy(params)    # each detector its own, as before
        try:
            params = detect_conf.params_for(self.conf,
                                            record.get('detector'))
        except (ValueError, TypeError) as exc:
            LOG.warning('monitor %s: detector settings not usable (%s); '
                        'using the defaults', record['id'], exc)
            return detect_conf.params_for(self.conf, None)
        if key is not None and len(self._params_cache) < 1000:
            self._params_cache[key] = params
        return params

    def _load(self, record, saved=None):
        """``record``'s detector from its saved state (``saved``: that
        state as read, False: none saved, None: read it now)."""
        params = self._params(record)
        if saved is None:
            saved = self.storage.load_detector_state(record['id'])
        elif saved is False:
            saved = None
        if saved is not None:
            try:
                mon = monitor_mod.Monitor.from_bytes(
                    saved[0], record['id'], record['project_id'])
                if mon.params == params:
                    return mon
                LOG.info('monitor %s: detector settings changed: learning '
                         'again', record['id'])
            except Exception as exc:
                LOG.warning('monitor %s: saved detector state not usable '
                            '(%s): learning again', record['id'], exc)
        return monitor_mod.Monitor(record['id'], record['project_id'],
                                   params)

    def _ensure_alarm(self, entry):
        record = entry.record
        if record.get('alarm_id'):
            return
        alarm = self.storage.create_alarm({
            'project_id': record['project_id'], 'monitor_id': record['id'],
            'name': 'anomaly of %s' % (record.get('name') or record['id']),
            'state_reason': entry.detector.alarm.reason})
        entry.record = self.storage.update_monitor(
            record['id'], {'alarm_id': alarm['id']})

    def _refresh_stale(self, monitor_ids):
        """Re-read the records of those of ``monitor_ids`` read more
        than ``REFRESH_S`` ago, ``REFRESH_CHUNK`` per query."""
        mono = time.monotonic()
        stale = [mid for mid in monitor_ids
                 if mid in self.entries and
                 mono - self.entries[mid].read_at > REFRESH_S]
        for i in range(0, len(stale), REFRESH_CHUNK):
            chunk = stale[i:i + REFRESH_CHUNK]
            records = {r['id']: r
                       for r in self.storage.list_monitors(ids=chunk)}
            for mid in chunk:
                entry = self.entries.get(mid)
                if entry is not None:
                    self._refresh(entry, records.get(mid))

    def _refresh(self, entry, record=False):
        """Apply the monitor's record as stored (read now unless given;
        None: deleted)."""
        mid = entry.record['id']
        if record is False:
            try:
                record = self.storage.get_monitor(mid)
            except db_exc.NotFound:
                record = None
        if record is None:
            self.forget(mid)
            return
        entry.read_at = time.monotonic()
        params = self._params(record)
        if params != entry.detector.params:
            LOG.info('monitor %s: detector settings changed: learning again',
                     mid)
            self.scorer.remove(mid)
            entry.detector = monitor_mod.Monitor(mid, record['project_id'],
                                                 params)
            entry.dirty = True
        entry.record = record
        requested = record.get('rebaseline_requested_at') or \
            (record.get('detector') or {}).get('rebaseline_requested_at')
        if requested:
            self._rebaseline(entry)

    def _rebaseline(self, entry):
        mid = entry.record['id']
        LOG.info('monitor %s: rebaseline', mid)
        self.scorer.remove(mid)
        event = entry.detector.rebaseline(time.time())
        detector = dict(entry.record.get('detector') or {})
        detector.pop('rebaseline_requested_at', None)
        entry.record = self.storage.update_monitor(
            mid, {'rebaseline_requested_at': None, 'detector': detector})
        entry.dirty = True
        self._set_status(entry)
        if event is not None:
            self._transition(entry, event)

    def forget(self, monitor_id):
        self.entries.pop(monitor_id, None)
        self.scorer.remove(monitor_id)

    # --- results -----------------------------------------------------------

    def _after(self, entry, result, event):
        entry.dirty = True
        self._set_status(entry)
        if event is not None:
            self._transition(entry, event)
        elif result.status == 'active':
            alarm = entry.detector.alarm
            every = (SCORE_WRITE_S if alarm.state == 'alarm'
                     else QUIET_WRITE_S)
            if time.monotonic() - entry.score_written_at > every:
                # written with the pass's others (_write_refreshes)
                entry.score_written_at = time.monotonic()
                self._refreshes[entry.record['id']] = entry

    def _write_refreshes(self):
        """The scores refreshed in this pass, in one transaction when the
        storage can (``set_alarm_states``): one transaction each waited
        for the database's write lock behind ingest each time, and the
        detector fell minutes behind at 5,000 monitors.

        Each alarm is written as it stands at the end of the pass, not as
        it stood when its refresh fell due: a later interval of the same
        pass may have moved it (a transition, written at once), and the
        refresh must not put the earlier state back."""
        entries, self._refreshes = list(self._refreshes.values()), {}
        todo = []
        for entry in entries:
            alarm = entry.detector.alarm
            todo.append((entry, {
                'id': entry.record['alarm_id'], 'state': alarm.state,
                'reason': alarm.reason, 'score': alarm.score,
                'severity': alarm.severity,
                'explanation': list(alarm.explanation or [])}))
        if not todo:
            return
        set_many = getattr(self.storage, 'set_alarm_states', None)
        if set_many is None:
            for entry, u in todo:
                self._write_alarm(entry, u['state'], u['reason'],
                                  u['score'], u['severity'],
                                  u['explanation'])
            return
        try:
            done = set_many([u for _, u in todo])
        except Exception as exc:
            LOG.warning('%d alarm scores not refreshed: %s', len(todo),
                        str(exc).splitlines()[0][:200])
            return
        for entry, u in todo:
            if u['id'] not in done:
                self.forget(entry.record['id'])

    def _set_status(self, entry):
        record = entry.record
        wanted = entry.detector.status
        if record.get('status') not in (status_mod.LEARNING,
                                        status_mod.ACTIVE) or \
                record.get('status') == wanted:
            return
        reason = (entry.detector.detector.learning_reason
                  if wanted == status_mod.LEARNING
                  else 'baseline learned; scoring every interval')
        entry.record = self.storage.update_monitor(
            record['id'], {'status': wanted, 'status_reason': reason})
        LOG.info('monitor %s: %s (%s)', record['id'], wanted, reason)

    def _write_alarm(self, entry, state, reason, score, severity,
                     explanation, ts=None):
        entry.score_written_at = time.monotonic()
        try:
            return self.storage.set_alarm_state(
                entry.record['alarm_id'], state, reason, score=score,
                severity=severity, explanation=list(explanation or []),
                now=ts)
        except db_exc.NotFound:
            self.forget(entry.record['id'])
            return None

    def _transition(self, entry, event):
        entry.dirty = True
        entry_history = self._write_alarm(
            entry, event['state'], event['reason'], event.get('score'),
            event.get('severity'), event.get('explanation'),
            ts=event.get('timestamp'))
        LOG.info('alarm of monitor %s: %s -> %s: %s', entry.record['id'],
                 event['previous'], event['state'], event['reason'])
        if entry_history is None or self.notifiers is None:
            return
        try:
            alarm = self.storage.get_alarm(entry.record['alarm_id'])
        except db_exc.NotFound:
            return
        self.notifiers.notify(alarm, entry.record, event)

    # --- periodic chores ---------------------------------------------------

    def _chores(self, now):
        mono = time.monotonic()
        if mono - self._last_no_data >= 1.0:
            self._last_no_data = mono
            self._drop_foreign()
            self._refresh_stale(list(self.entries))
            for entry in list(self.entries.values()):
                event = entry.detector.no_data(now)
                if event is not None:
                    self._transition(entry, event)
        due = [e for e in self.entries.values()
               if e.dirty and mono - e.saved_at > self.save_interval]
        if due:
            due.sort(key=lambda e: e.saved_at)
            self._save_some(due)

    def _save_some(self, due):
        """Save ``due`` entries, oldest first, for at most
        ``SAVE_BUDGET_S``: in one transaction when the storage can
        (``save_detector_states``; the budget is then the states'
        serialisation), else one each."""
        deadline = time.monotonic() + SAVE_BUDGET_S
        save_many = getattr(self.storage, 'save_detector_states', None)
        if save_many is None:
            for entry in due:
                self._save(entry)
                if time.monotonic() > deadline:
                    break
            return
        batch = []
        for entry in due:
            entry.saved_at = time.monotonic()
            entry.dirty = False
            batch.append((entry.record['id'], entry.detector.to_bytes(),
                          entry.detector.meta()))
            if time.monotonic() > deadline:
                break
        self._save_batch(save_many, due[:len(batch)], batch)

    def _save_batch(self, save_many, entries, batch):
        """One ``save_detector_states`` call; on failure the entries
        stay dirty, so a later pass saves them again."""
        try:
            save_many(batch)
        except Exception as exc:
            for entry in entries:
                entry.dirty = True
            LOG.warning('%d detector states not saved: %s', len(batch),
                        str(exc).splitlines()[0][:200])

    def _drop_foreign(self):
        """Save and forget the monitors another engine owns now."""
        for mid, entry in list(self.entries.items()):
            if self.owns(mid):
                continue
            LOG.info('monitor %s: now owned by engine %s; handing its '
                     'detector over', mid, self.owner(mid) or '?')
            if entry.dirty:
                self._save(entry)
            self.forget(mid)

    def _save(self, entry):
        entry.saved_at = time.monotonic()
        entry.dirty = False
        try:
            self.storage.save_detector_state(
                entry.record['id'], entry.detector.to_bytes(),
                entry.detector.meta())
        except Exception as exc:
            LOG.warning('monitor %s: detector state not saved: %s',
                        entry.record['id'], exc)

    def save_all(self):
        dirty = [e for e in list(self.entries.values()) if e.dirty]
        save_many = getattr(self.storage, 'save_detector_states', None)
        if save_many is None:
            for entry in dirty:
                self._save(entry)
            return
        for i in range(0, len(dirty), LOAD_CHUNK):
            entries = dirty[i:i + LOAD_CHUNK]
            batch = []
            for entry in entries:
                entry.saved_at = time.monotonic()
                entry.dirty = False
                batch.append((entry.record['id'],
                              entry.detector.to_bytes(),
                              entry.detector.meta()))
            self._save_batch(save_many, entries, batch)
