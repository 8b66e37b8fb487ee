"""Robust per-feature model: the largest median/MAD z-score.

Every feature is scaled by its baseline median and MAD (the scaler does
it), so a row's score is its most extreme feature in "robust standard
deviations", and the explanation is exact: each feature's |z|. It needs no
fitting beyond the scaler and is the most sensitive model to a change in
one metric (+150 ms of latency, 2xx falling to zero), which is what the
operators' anomalies mostly are.
"""
import numpy as np

from dpiaas.detect.models import base


class RobustModel(base.Model):
    """``norm`` evens out features whose baseline tails are heavier than
    their MAD says (ratios of a few events per interval, window spreads):
    each |z| is divided by its own 99th baseline percentile (at least 1)
    before taking the maximum, so no single noisy feature sets the
    threshold for all."""

    name = 'robust'
    batch_kind = 'robust'
    quantile = 99.0

    def __init__(self):
        self.norm = None

    def fit(self, Z):
        self.norm = np.fmax(np.percentile(np.abs(Z), self.quantile, axis=0),
                            1.0)
        return self

    def score(self, Z):
        return (np.abs(Z) / self.norm).max(axis=1)

    def contributions(self, z):
        a = np.abs(z) / self.norm
        total = a.sum()
        return a / total if total > 0 else a

    def get_state(self):
        return {}, {'norm': self.norm}

    def set_state(self, meta, arrays):
        self.norm = arrays['norm']
