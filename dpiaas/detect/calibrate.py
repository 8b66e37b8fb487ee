"""Threshold calibration on held-out baseline scores.

A baseline of a few minutes holds a few hundred intervals, too few to read
a 1-in-10,000 quantile off directly. Above its median, the distribution of
held-out scores is modelled by an exponential tail (a peaks-over-threshold
estimate): P(score > median + x) = 0.5 exp(-x / beta), beta the mean
excess. The threshold is where that tail reaches the target false-alarm
rate, and never below the largest held-out score (a held-out row is normal
by definition).
"""
import math

import numpy as np


def threshold(scores, target_rate, min_threshold=0.0):
    h = np.asarray(scores, dtype=float)
    h = h[np.isfinite(h)]
    if not len(h):
        return max(min_threshold, 1e-9)
    med = float(np.median(h))
    excess = h[h > med] - med
    beta = float(excess.mean()) if len(excess) else 0.0
    beta = max(beta, 0.05 * abs(med), 1e-9)
    tail = med + beta * math.log(0.5 / target_rate)
    return max(tail, float(h.max()), min_threshold, 1e-9)
