"""One monitor's detector: learn a baseline, then score every interval.

Lifecycle: ``learning`` (raw intervals are kept until ``baseline_s`` of
data, gaps not counted, have been seen) then ``active``. On activation the
feature schema is fixed from the metric names the baseline saw, the robust
scaler and the models are fitted on about three quarters of the baseline
and each model's threshold is calibrated on the rest (interleaved blocks,
so that a slow drift does not fall entirely into the held-out part).

Scores are normalised: 1.0 is the calibrated threshold, the maximum over
the configured models. While active, intervals judged normal are kept
(after a hold-back, see :meth:`Detector.learn`) and the models are refitted
on them every ``retrain_interval_s``: rows near an anomalous interval or
during an alarm never enter training.
"""
import collections
import dataclasses
import warnings

import numpy as np

from dpiaas.detect import calibrate
from dpiaas.detect import features
from dpiaas.detect import models as models_mod
from dpiaas.detect import params as params_mod

HOLDOUT_BLOCK = 8
MAX_FIT_ROWS = 2000
# Retraining keeps at most this many normal rows per monitor, spread over
# ``history_s`` (every n-th row, as float32): an hour at 2 Hz is 7,200
# rows of ~60 features, 3.3 MB a monitor and 33 GB for an engine of
# 10,000 had every row been kept; 1,000 rows are 0.2 MB, and still more
# than a 300 s baseline gives the first fit.
MAX_HISTORY_ROWS = 1000
UNITS = {'rate': '/s', 'latency': 'ms', 'ratio': '', 'flag': '',
         'gauge': ''}


@dataclasses.dataclass
class Result:
    """The detector's verdict on one interval."""
    ts: float
    status: str                 # learning | active | skipped
    score: float = None         # normalised, 1.0 = threshold
    anomalous: bool = False
    explanation: list = dataclasses.field(default_factory=list)
    reason: str = ''
    after_gap: bool = False
    vector: object = None


class Detector(object):
    def __init__(self, monitor_id, project_id=None, params=None):
        self.monitor_id = monitor_id
        self.project_id = project_id
        self.params = params or params_mod.DetectorParams()
        self.models = [models_mod.model_class(n)()
                       for n in self.params.models]
        self._reset_learning()
        self._last_ts = None
        self.hold = (self.params.raise_n + self.params.window +
                     self.params.clear_intervals)

    # -- lifecycle ---------------------------------------------------------

    def _reset_learning(self):
        self.status = 'learning'
        self._learn = []            # (ts, dt, metrics, after_gap)
        self._learned_s = 0.0
        self._gaps = 0
        self.schema = None
        self.extractor = None
        self.scaler = None
        self.thresholds = []
        self.trained_at = None
        self.trained_rows = 0
        self._history = collections.deque(maxlen=self._history_len())
        self._pending = collections.deque()
        self._history_seen = 0
        self.version = getattr(self, 'version', 0) + 1

    def _history_len(self):
        return min(self._history_intervals(), MAX_HISTORY_ROWS)

    def _history_intervals(self):
        return max(int(self.params.history_s * 1000 /
                       self.params.interval_ms), 1)

    @property
    def history_stride(self):
        """Keep every n-th normal row, so that the bounded history still
        spans ``history_s``. Computed once per params object: it was
        asked for every interval scored (3 us of 34 per monitor interval
        in the engine's loop)."""
        cached = self.__dict__.get('_stride')
        if cached is not None and cached[0] is self.params:
            return cached[1]
        stride = -(-self._history_intervals() // MAX_HISTORY_ROWS)
        self._stride = (self.params, stride)
        return stride

    def rebaseline(self):
        """Forget everything learned and learn a new baseline."""
        self._reset_learning()

    @property
    def learning_reason(self):
        return ('learning normal behaviour: %.0f s of %.0f s baseline '
                'collected (%d intervals, %d gaps)'
                % (self._learned_s, self.params.baseline_s,
                   len(self._learn), self._gaps))

    # -- per interval ------------------------------------------------------

    def _check(self, ts, metrics, interval_ms):
        dt = (interval_ms or self.params.interval_ms) / 1000.0
        if self._last_ts is not None and ts <= self._last_ts:
            return dt, None, 'interval at %s is not newer than the last ' \
                'one (%s): ignored' % (ts, self._last_ts)
        # Active monitors validate while building the vector (cheaper).
        for k, v in (metrics.items() if self.status == 'learning' else ()):
            if v is None:
                continue
            if not isinstance(v, (int, float)) or v != v or (
                    v < 0 and not features.is_gauge(k)):
                return dt, None, 'invalid value %r for %s: interval ' \
                    'skipped' % (v, k)
        gap = (self._last_ts is not None and
               ts - self._last_ts > 1.5 * dt)
        return dt, gap, None

    def step(self, ts, metrics, interval_ms=None, reset=False):
        """Consume one interval and return its Result. ``reset`` marks
        the first interval of a fresh collector (agent restart): its
        counts cover part of an interval only, so it restarts the windows
        and is not scored."""
        result, todo = self.prepare(ts, metrics, interval_ms, reset)
        if result is not None:
            return result
        x, after_gap = todo
        score, z, best = self.score_vector(x)
        return self.finish(ts, x, score, z, best, after_gap)

    def prepare(self, ts, metrics, interval_ms=None, reset=False):
        """First half of :meth:`step`: (Result, None) when there is
        nothing to score, else (None, (feature vector, after_gap)) for
        :meth:`finish` once it is scored (maybe in a batch)."""
        dt, gap, problem = self._check(ts, metrics, interval_ms)
        if problem:
            return Result(ts, 'skipped', reason=problem), None
        after_gap = bool(gap) or reset
        if gap:
            self._gaps += 1
        self._last_ts = ts
        if self.status == 'learning':
            if reset:
                return Result(ts, 'learning', reason=self.learning_reason,
                              after_gap=True), None
            self._learn.append((ts, dt, dict(metrics), after_gap))
            self._learned_s += dt
            if (self._learned_s >= self.params.baseline_s - 1e-9 and
                    len(self._learn) >= self.params.min_baseline_intervals):
                self._fit_baseline()
                return Result(ts, 'active', score=0.0,
                              reason='baseline learned from %d intervals'
                              % self.trained_rows,
                              after_gap=after_gap), None
            return Result(ts, 'learning', reason=self.learning_reason,
                          after_gap=after_gap), None
        if after_gap:
            self.extractor.reset()
        try:
            x = self.extractor.push(metrics, dt)
        except features.BadInterval as e:
            self.extractor.reset()
            return Result(ts, 'skipped', reason='%s: interval skipped'
                          % e), None
        if reset:
            return Result(ts, 'skipped', after_gap=True,
                          reason='collector restarted: partial interval '
                                 'not scored'), None
        return None, (x, after_gap)

    def begin(self, ts, metrics, interval_ms=None):
        """Batch path of an active detector, up to its features: a
        skipped Result, or ``(dt, after_gap)`` when the interval is to be
        pushed through ``self.extractor`` (maybe in a
        :class:`~dpiaas.detect.features.FeatureBank`, which resets the
        window first when ``after_gap``) and then :meth:`pushed`. The
        same checks and bookkeeping as :meth:`prepare`."""
        dt, gap, problem = self._check(ts, metrics, interval_ms)
        if problem:
            return Result(ts, 'skipped', reason=problem)
        if gap:
            self._gaps += 1
        self._last_ts = ts
        return dt, bool(gap)

    def pushed(self, ts, problem):
        """After a batch push: the skipped Result of a bad interval
        (the bank has reset the window), else None."""
        if problem is None:
            return None
        return Result(ts, 'skipped', reason='%s: interval skipped'
                      % problem)

    def finish(self, ts, x, score, z=None, best=None, after_gap=False):
        """Second half of :meth:`step`: the Result of a scored vector."""
        anomalous = bool(score >= 1.0)
        expl = []
        if anomalous:
            if z is None or best is None:
                _, z, best = self.score_vector(x)
            expl = self.explain(x, z, best)
        return Result(ts, 'active', score=float(score), anomalous=anomalous,
                      explanation=expl, after_gap=after_gap, vector=x,
                      reason='score %.2f of threshold 1.00' % score)

    def score_vector(self, x):
        """(normalised score, scaled row, index of the model that gave
        it) for one feature vector."""
        z = self.scaler.transform(x[None, :])
        best, top = 0, -1.0
        for i, (m, t) in enumerate(zip(self.models, self.thresholds)):
            s = float(m.score(z)[0]) / t
            if s > top:
                best, top = i, s
        return top, z[0], best

    def explain(self, x, z, model_index=0, top=3):
        """The metrics that drove a row's score, observed vs expected."""
        w = self.models[model_index].contributions(z)
        by_metric = {}
        for i in np.argsort(-w)[:top * 6]:
            if w[i] <= 0:
                break
            metric = self.schema.metrics[i]
            if metric not in by_metric:
                kind = self.schema.kinds[i]
                by_metric[metric] = {
                    'metric': metric,
                    'feature': self.schema.names[i],
                    'observed': _num(x[i]),
                    'expected': _num(self.scaler.center[i]),
                    'unit': UNITS[kind],
                    'weight': round(float(w[i]), 3),
                    'z': round(float(z[i]), 2),
                }
            if len(by_metric) == top:
                break
        return list(by_metric.values())

    # -- training ----------------------------------------------------------

    def _fit_baseline(self):
        names = set()
        for _, _, m, _ in self._learn:
            names.update(m)
        self.schema = features.FeatureSchema.shared(
            names, self.params.window, self.params.window_stats)
        self.extractor = features.FeatureExtractor(self.schema)
        rows = []
        for _, dt, m, after_gap in self._learn:
            if after_gap:
                self.extractor.reset()
            rows.append(self.extractor.push(m, dt))
        self.fit(np.array(rows))
        self._learn = []
        self.status = 'active'
        self.trained_at = self._last_ts

    def fit(self, X):
        """Fit scaler and models on rows X; calibrate on held-out rows."""
        X = np.asarray(X, dtype=float)
        if len(X) > MAX_FIT_ROWS:
            X = X[np.linspace(0, len(X) - 1, MAX_FIT_ROWS).astype(int)]
        block = np.arange(len(X)) // HOLDOUT_BLOCK
        every = max(int(round(1.0 / self.params.holdout_fraction)), 2)
        held = (block % every) == every - 1
        if held.sum() < 10 or (~held).sum() < 10:
            held = np.ones(len(X), bool)
            fit_rows = X
        else:
            fit_rows = X[~held]
        dt = self.params.interval_ms / 1000.0
        scaler = features.RobustScaler()
        scaler.fit(fit_rows)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)
            means = np.nan_to_num(np.nanmean(fit_rows, axis=0))
        floor = features.scale_floor(self.schema, scaler.center, means, dt,
                                     self.params.latency_floor_ms)
        scaler.fit(fit_rows, floor)
        Zf = scaler.transform(fit_rows)
        Zh = scaler.transform(X[held])
        thresholds = []
        for m in self.models:
            m.fit(Zf)
            thresholds.append(calibrate.threshold(
                m.score(Zh), self.params.target_rate,
                getattr(m, 'min_threshold', 0.0)))
        self.scaler = scaler
        self.thresholds = thresholds
        self.trained_rows = len(X)
        self.version += 1

    def learn(self, result, alarm_state):
        """Feed back the alarm state after an interval was evaluated.

        A row joins the retraining history only ``hold`` intervals later
        and only if no interval in between was anomalous and no alarm was
        raised: the lead-up to an alarm is not normal data either.
        """
        if result.status != 'active' or result.vector is None:
            return
        if result.anomalous or alarm_state == 'alarm':
            self._pending.clear()
            return
        if result.after_gap:
            self._pending.clear()
        self._pending.append((result.ts, result.vector))
        stride = self.history_stride
        while len(self._pending) > self.hold:
            row = self._pending.popleft()[1]
            self._history_seen += 1
            if self._history_seen % stride == 0:
                self._history.append(np.asarray(row, dtype=np.float32))
        if self.retrain_due(result.ts):
            self.retrain()

    def retrain_due(self, ts):
        return (self.status == 'active' and self.trained_at is not None and
                ts - self.trained_at >= self.params.retrain_interval_s and
                len(self._history) >= self.params.min_baseline_intervals
                # never refit on fewer rows than the current fit had
                and len(self._history) >= min(self._history.maxlen,
                                              self.trained_rows))

    def retrain(self):
        """Refit on recent normal rows (the schema stays the same)."""
        self.fit(np.array(self._history))
        self.trained_at = self._last_ts


def _num(v):
    v = float(v)
    return None if v != v else round(v, 3)
