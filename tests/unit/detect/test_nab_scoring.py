"""bench/nab.py's implementation of NAB's scoring rules."""
import numpy as np
import pytest

from bench import nab

N = 2000
WINDOWS = [(600, 700), (1500, 1600)]


def _score(scores, profile='standard'):
    return nab.score_corpus({'f.csv': np.asarray(scores, float)},
                            {'f.csv': WINDOWS}, profile)[0]


def test_detection_at_every_window_start_scores_100():
    s = np.zeros(N)
    for a, _ in WINDOWS:
        s[a] = 1.0
    assert _score(s) == pytest.approx(100.0)


def test_never_firing_scores_0():
    assert _score(np.zeros(N)) == pytest.approx(0.0)


def test_late_detection_earns_less_than_early():
    early, late = np.zeros(N), np.zeros(N)
    early[610] = early[1510] = 1.0
    late[690] = late[1590] = 1.0
    assert 0 < _score(late) < _score(early) < 100


def test_false_positives_cost_and_probation_is_free():
    s = np.zeros(N)
    for a, _ in WINDOWS:
        s[a] = 1.0
    fp = s.copy()
    fp[1000] = 1.0
    assert _score(fp) < 100.0
    probation = s.copy()
    probation[10] = 1.0             # first 15 % of the file is ignored
    assert _score(probation) == pytest.approx(100.0)


def test_scaled_sigmoid_matches_nab_whitepaper():
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert nab.scaled_sigmoid(3.0) == -1.0
