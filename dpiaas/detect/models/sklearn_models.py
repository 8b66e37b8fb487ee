"""IsolationForest and LOF novelty, kept for comparison (``bench/nab.py
--model``) and for operators who want them.

scikit-learn estimators are not stored as pickles (loading a pickle runs
code): their state is the training rows, and loading refits with a fixed
random seed, which gives the same model back.
"""
import numpy as np

from dpiaas.detect.models import base


class _RefitOnLoad(base.Model):
    def __init__(self):
        self.est = None
        self.train = None

    def _make(self):
        raise NotImplementedError

    def fit(self, Z):
        self.train = np.asarray(Z, dtype=float)
        self.est = self._make().fit(self.train)
        return self

    def score(self, Z):
        return -self.est.score_samples(Z)

    def get_state(self):
        return {}, {'train': self.train}

    def set_state(self, meta, arrays):
        self.fit(arrays['train'])


class IsolationForestModel(_RefitOnLoad):
    name = 'iforest'

    def _make(self):
        from sklearn.ensemble import IsolationForest
        return IsolationForest(n_estimators=100, random_state=0)


class LofModel(_RefitOnLoad):
    name = 'lof'

    def _make(self):
        from sklearn.neighbors import LocalOutlierFactor
        return LocalOutlierFactor(
            n_neighbors=min(20, max(2, len(self.train) - 1)), novelty=True)
