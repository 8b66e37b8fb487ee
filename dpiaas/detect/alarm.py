"""Alarm evaluation: detector verdicts -> alarm state with hysteresis.

States are ``insufficient_data``, ``ok`` and ``alarm`` (DESIGN.md 3),
always with a human-readable reason. The alarm is raised when ``raise_k``
of the last ``raise_n`` scored intervals were anomalous, and cleared only
after ``clear_intervals`` (>= ``raise_n``) consecutive normal ones, so one
noisy interval neither raises nor clears it. Missing intervals count for
nothing: a gap is not zero traffic, it never raises an alarm and it breaks
the k-of-n run; no data at all for ``no_data_s`` makes the state
``insufficient_data``. Every transition is returned as an event.
"""
import collections

INSUFFICIENT = 'insufficient_data'
OK = 'ok'
ALARM = 'alarm'


def severity(score):
    """Severity of an anomalous score (1.0 = threshold)."""
    if score is None or score < 1.0:
        return None
    if score < 2.0:
        return 'low'
    if score < 4.0:
        return 'moderate'
    return 'critical'


def describe(explanation):
    parts = []
    for e in explanation[:3]:
        unit = e.get('unit') or ''
        parts.append('%s %s%s (expected %s%s)' % (
            e['metric'], _fmt(e['observed']), unit, _fmt(e['expected']),
            unit))
    return '; '.join(parts)


def _fmt(v):
    if v is None:
        return 'none'
    return ('%.3g' % v) if abs(v) < 1000 else '%.0f' % v


class AlarmEvaluator(object):
    def __init__(self, raise_k=2, raise_n=3, clear_intervals=6,
                 new_normal_s=600.0, no_data_s=30.0):
        if not 1 <= raise_k <= raise_n or clear_intervals < raise_n:
            raise ValueError('need 1 <= raise_k <= raise_n <= '
                             'clear_intervals')
        self.raise_k, self.raise_n = raise_k, raise_n
        self.clear_intervals = clear_intervals
        self.new_normal_s = new_normal_s
        self.no_data_s = no_data_s
        self.state = INSUFFICIENT
        self.reason = 'no data received yet'
        self.score = None
        self.severity = None
        self.explanation = []
        self.since = None
        self.last_ts = None
        self.new_normal = False
        self._recent = collections.deque(maxlen=raise_n)
        self._normal_run = 0

    @classmethod
    def from_params(cls, p):
        return cls(p.raise_k, p.raise_n, p.clear_intervals, p.new_normal_s,
                   p.no_data_s)

    def _move(self, state, reason, ts, score=None, explanation=()):
        previous = self.state
        self.reason = reason
        self.score = score
        self.severity = severity(score) if state == ALARM else None
        self.explanation = list(explanation)
        if state == previous:
            return None
        self.state = state
        self.since = ts
        self.new_normal = False
        return {'previous': previous, 'state': state, 'reason': reason,
                'score': score, 'severity': self.severity,
                'explanation': self.explanation, 'timestamp': ts}

    def update(self, result):
        """Evaluate one detector Result; return an event on transition."""
        if result.status == 'skipped':
            self._recent.clear()
            return None
        self.last_ts = result.ts
        if result.status == 'learning':
            self._recent.clear()
            self._normal_run = 0
            return self._move(INSUFFICIENT, result.reason, result.ts)
        if result.after_gap:
            self._recent.clear()
            self._normal_run = 0
        self._recent.append(bool(result.anomalous))
        self._normal_run = 0 if result.anomalous else self._normal_run + 1
        hits = sum(self._recent)
        if self.state != ALARM:
            if hits >= self.raise_k:
                return self._move(ALARM, 'anomalous in %d of the last %d '
                                  'intervals: %s' % (
                                      hits, len(self._recent),
                                      describe(result.explanation)),
                                  result.ts, result.score,
                                  result.explanation)
            if self.state == INSUFFICIENT and result.anomalous:
                # not ok either: wait for k-of-n to decide
                self.reason = ('scoring started; %d of the last %d '
                               'intervals anomalous' % (hits,
                                                        len(self._recent)))
                return None
            if self.state == INSUFFICIENT:
                why = ('data again' if 'no metrics' in self.reason
                       else 'baseline learned')
                return self._move(OK, 'normal (%s): score %.2f of '
                                  'threshold 1.00' % (why, result.score),
                                  result.ts, result.score)
            self.reason = 'normal: score %.2f of threshold 1.00' % (
                result.score)
            self.score = result.score
            return None
        if self._normal_run >= self.clear_intervals:
            return self._move(OK, 'recovered: %d consecutive normal '
                              'intervals (score %.2f of threshold 1.00)'
                              % (self._normal_run, result.score),
                              result.ts, result.score)
        if result.anomalous:
            self.score = max(self.score or 0.0, result.score)
            self.severity = severity(self.score)
            self.explanation = result.explanation
            self.reason = 'anomalous: %s' % describe(result.explanation)
        if (self.since is not None and
                result.ts - self.since >= self.new_normal_s):
            self.new_normal = True
            self.reason = ('anomalous for %.0f s: a new normal? rebaseline '
                           'the monitor if this behaviour is expected. %s'
                           % (result.ts - self.since, self.reason))
        return None

    def no_data(self, now):
        """Call periodically: no interval for ``no_data_s`` ->
        insufficient_data (never alarm)."""
        if self.state == INSUFFICIENT or self.last_ts is None:
            return None
        if now - self.last_ts < self.no_data_s:
            return None
        self._recent.clear()
        self._normal_run = 0
        return self._move(INSUFFICIENT, 'no metrics for %.0f s (collector '
                          'stopped, host down or agent unreachable?)'
                          % (now - self.last_ts), now)

    def reset(self, reason, ts):
        """Back to insufficient_data (rebaseline); the event or None."""
        self._recent.clear()
        self._normal_run = 0
        return self._move(INSUFFICIENT, reason, ts)

    def get_state(self):
        return {'state': self.state, 'reason': self.reason,
                'score': self.score, 'severity': self.severity,
                'explanation': self.explanation, 'since': self.since,
                'last_ts': self.last_ts, 'new_normal': self.new_normal,
                'recent': list(self._recent),
                'normal_run': self._normal_run}

    def set_state(self, d):
        for k in ('state', 'reason', 'score', 'severity', 'explanation',
                  'since', 'last_ts', 'new_normal'):
            setattr(self, k, d[k])
        self._recent = collections.deque(d['recent'], maxlen=self.raise_n)
        self._normal_run = d['normal_run']
