"""The engine's detector loop: every ingested interval scored, alarms kept.

Ingest hands each batch of samples to :meth:`Detection.consume` (never
blocking it: a full queue drops the oldest batch and counts it). A thread
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
  alarm writes a second);
- detector state saved every ``[detector] save_interval`` and at stop, so
  that a restarted engine does not learn again from scratch;
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
"""
import collections
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
SCORE_WRITE_S = 5.0     # refresh a steady alarm's score/reason this often
MAX_QUEUED_BATCHES = 1000


def merge_intervals(samples):
    """``{(monitor_id, ts): (metrics, interval_ms)}`` summing a monitor's
    collectors (several ports) interval by interval; latency takes the
    max, as storage does when it reads a series."""
    merged = {}
    for s in samples:
        key = (s['monitor_id'], float(s['ts']))
        metrics = s.get('metrics') or {}
        if key not in merged:
            merged[key] = (dict(metrics), s.get('interval_ms'))
            continue
        into = merged[key][0]
        for name, value in metrics.items():
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
                 tick=0.25, save_interval=60.0, owner=None, forward=None):
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
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = None
        self.dropped_batches = 0
        self.processed = 0
        self._last_no_data = 0.0

    # --- input -------------------------------------------------------------

    def consume(self, samples):
        """Ingest's consumer: queue a batch, never block. The samples of
        monitors owned by another engine are forwarded to it."""
        self._put(samples, True)

    def score(self, samples):
        """Samples a peer engine forwarded: scored if ours, never
        forwarded again."""
        self._put(samples, False)

    def _put(self, samples, forwardable):
        with self._cond:
            if len(self._queue) >= MAX_QUEUED_BATCHES:
                self._queue.popleft()
                self.dropped_batches += 1
                if self.dropped_batches in (1, 10, 100) or \
                        self.dropped_batches % 1000 == 0:
                    LOG.warning('detector behind: %d sample batches dropped '
                                'so far', self.dropped_batches)
            self._queue.append((list(samples), forwardable))
            self._cond.notify()

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
        self.save_all()

    def _run(self):
        while not self._stop.is_set():
            with self._cond:
                if not self._queue:
                    self._cond.wait(self.tick)
                batches = list(self._queue)
                self._queue.clear()
            try:
                self.forward_foreign([s for b, fwd in batches if fwd
                                      for s in b])
                self.run_once([s for b, _ in batches for s in b])
            except Exception:
                LOG.exception('detector tick failed; going on')

    def forward_foreign(self, samples):
        """Send the samples of monitors another engine owns to it."""
        if self.forward is None:
            return
        by_owner = collections.defaultdict(list)
        for s in samples:
            mid = s.get('monitor_id')
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
                                 if self.owns(s.get('monitor_id')))
        # a monitor's intervals go through in time order, one per tick pass
        by_monitor = collections.defaultdict(list)
        for (mid, ts), (metrics, interval_ms) in merged.items():
            by_monitor[mid].append((ts, metrics, interval_ms))
        for rows in by_monitor.values():
            rows.sort(key=lambda r: r[0])
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
        self._chores(now)

    def _entry(self, monitor_id):
        entry = self.entries.get(monitor_id)
        if entry is not None:
            if time.monotonic() - entry.read_at > REFRESH_S:
                self._refresh(entry)
                entry = self.entries.get(monitor_id)
            return entry
        try:
            record = self.storage.get_monitor(monitor_id)
        except db_exc.NotFound:
            return None
        entry = _Entry(record, self._load(record))
        self.entries[monitor_id] = entry
        self._ensure_alarm(entry)
        return entry

    def _params(self, record):
        try:
            return detect_conf.params_for(self.conf, record.get('detector'))
        except (ValueError, TypeError) as exc:
            LOG.warning('monitor %s: detector settings not usable (%s); '
                        'using the defaults', record['id'], exc)
            return detect_conf.params_for(self.conf, None)

    def _load(self, record):
        params = self._params(record)
        saved = self.storage.load_detector_state(record['id'])
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

    def _refresh(self, entry):
        mid = entry.record['id']
        try:
            record = self.storage.get_monitor(mid)
        except db_exc.NotFound:
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
        elif result.status == 'active' and \
                time.monotonic() - entry.score_written_at > SCORE_WRITE_S:
            alarm = entry.detector.alarm
            self._write_alarm(entry, alarm.state, alarm.reason, alarm.score,
                              alarm.severity, alarm.explanation)

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
            for entry in list(self.entries.values()):
                if time.monotonic() - entry.read_at > REFRESH_S:
                    self._refresh(entry)
                if entry.record['id'] not in self.entries:
                    continue
                event = entry.detector.no_data(now)
                if event is not None:
                    self._transition(entry, event)
        for entry in list(self.entries.values()):
            if entry.dirty and mono - entry.saved_at > self.save_interval:
                self._save(entry)

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
        for entry in list(self.entries.values()):
            if entry.dirty:
                self._save(entry)
