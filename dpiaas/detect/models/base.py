"""What every detector model offers."""
import numpy as np


class Model(object):
    """A per-monitor model of normal, scoring robust-scaled feature rows.

    ``score`` returns a raw anomaly score per row (larger is more
    anomalous); the detector calibrates a threshold on held-out baseline
    rows, so raw scores need no common unit. ``contributions`` says how
    much each feature drove one row's score (for explanations).
    ``batch_kind`` names the vectorised form :class:`BatchScorer` uses
    (``None``: scored one monitor at a time).
    """

    name = None
    batch_kind = None

    def fit(self, Z):
        raise NotImplementedError

    def score(self, Z):
        raise NotImplementedError

    def contributions(self, z):
        """Non-negative per-feature weights summing to 1."""
        a = np.abs(z)
        total = a.sum()
        return a / total if total > 0 else a

    def get_state(self):
        """(JSON-able dict, {name: numpy array}) - no pickle."""
        return {}, {}

    def set_state(self, meta, arrays):
        pass
