"""A monitored server's detector and alarm, as the engine drives them.

:class:`Monitor` ties one :class:`~dpiaas.detect.detector.Detector` to one
:class:`~dpiaas.detect.alarm.AlarmEvaluator`, feeds the alarm state back
to the detector (so that retraining never sees alarm periods) and
serialises both for ``Storage.save_detector_state``.
"""
from dpiaas.detect import alarm as alarm_mod
from dpiaas.detect import detector as detector_mod
from dpiaas.detect import params as params_mod
from dpiaas.detect import state as state_mod


class Monitor(object):
    def __init__(self, monitor_id, project_id, params=None):
        self.params = params or params_mod.DetectorParams()
        self.monitor_id = monitor_id
        self.project_id = project_id
        self.detector = detector_mod.Detector(monitor_id, project_id,
                                              self.params)
        self.alarm = alarm_mod.AlarmEvaluator.from_params(self.params)
        self.alarm.reason = self.detector.learning_reason

    @property
    def status(self):
        """The monitor status of DESIGN.md 4.4: learning or active."""
        return self.detector.status

    def process(self, ts, metrics, interval_ms=None, reset=False):
        """One interval in, (detector Result, transition event or None)
        out."""
        result = self.detector.step(ts, metrics, interval_ms, reset)
        return result, self._after(result)

    def prepare(self, ts, metrics, interval_ms=None, reset=False):
        """Batch path, first half: (Result, event) when there was
        nothing to score, else (None, todo) for :meth:`complete`."""
        result, todo = self.detector.prepare(ts, metrics, interval_ms, reset)
        if result is not None:
            return (result, self._after(result)), None
        return None, (ts, todo)

    def complete(self, todo, score):
        """Batch path, second half: the (Result, event) of a scored
        vector."""
        ts, (x, after_gap) = todo
        result = self.detector.finish(ts, x, score, after_gap=after_gap)
        return result, self._after(result)

    def _after(self, result):
        event = self.alarm.update(result)
        self.detector.learn(result, self.alarm.state)
        return event

    def no_data(self, now):
        return self.alarm.no_data(now)

    def rebaseline(self, now=None):
        """Forget the baseline; returns the transition event, if any."""
        self.detector.rebaseline()
        return self.alarm.reset(
            'rebaseline requested: %s' % self.detector.learning_reason,
            now if now is not None else self.alarm.last_ts)

    def to_bytes(self):
        return state_mod.dumps(self)

    @classmethod
    def from_bytes(cls, data, monitor_id=None, project_id=None):
        """Load a saved monitor; refuses state saved for another monitor
        or project (models are never shared across tenants)."""
        return state_mod.loads(cls, data, monitor_id, project_id)

    def meta(self):
        """The ``meta`` dict stored beside the bytes."""
        return {'format': state_mod.FORMAT, 'version': state_mod.VERSION,
                'status': self.status, 'state': self.alarm.state,
                'trained_at': self.detector.trained_at,
                'models': list(self.params.models)}
