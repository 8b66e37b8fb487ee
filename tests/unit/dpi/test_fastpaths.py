"""The speed-ups of the packet path give exactly what they replace."""
import numba
import numpy as np

from dpiaas.dpi import bytescan
from dpiaas.dpi import fragments
from dpiaas.dpi import latency
from dpiaas.dpi import regulator


@numba.njit
def _find(a, s, e, ch):
    return bytescan.find_byte(a, s, e, ch)


def test_find_byte_finds_the_first_match_or_the_end():
    rs = np.random.RandomState(7)
    for _ in range(5000):
        n = rs.randint(0, 90)
        if rs.rand() < 0.5:
            a = rs.choice([10, 13, 58, 65, 0, 255], size=n + 40)
        else:
            a = rs.randint(0, 256, n + 40)
        a = a.astype(np.uint8)
        s = rs.randint(0, n + 1)
        e = rs.randint(s, n + 1)
        ch = int(rs.choice([10, 58, 0, 255]))
        hits = np.flatnonzero(a[s:e] == ch)
        want = s + hits[0] if len(hits) else e
        assert _find(a, s, e, ch) == want


def test_percentiles_all_equal_numpy_to_the_bit():
    rs = np.random.RandomState(3)
    for cap in (1, 2, 3, 7, 64, 4096):
        for make in (lambda: rs.exponential(5.0, (6, cap)),
                     lambda: np.round(rs.exponential(5.0, (6, cap)), 2),
                     lambda: rs.randint(0, 3, (6, cap)).astype(float)):
            lat = make()
            latn = rs.randint(0, 2 * cap + 1, 6)
            latn[0] = 0
            before = lat.copy()
            out = np.zeros((6, 2))
            latency.percentiles_all(lat, latn, out)
            assert (lat == before).all()      # samples left as they were
            for slot in range(6):
                n = min(int(latn[slot]), cap)
                if n == 0:
                    assert np.isnan(out[slot]).all()
                    continue
                want = np.percentile(lat[slot, :n], (50, 95))
                assert out[slot, 0] == want[0] and out[slot, 1] == want[1]


def test_join_needs_every_byte_and_later_fragments_win_overlaps():
    assert fragments._join({0: b'abcd', 8: b'ijkl'}, 12) is None
    assert fragments._join({4: b'efgh', 0: b'abcd'}, 8) == b'abcdefgh'
    # arrival order decides overlapping bytes, as before
    assert fragments._join({0: b'abcdef', 4: b'XYZW'}, 8) == b'abcdXYZW'
    assert fragments._join({4: b'XYZW', 0: b'abcdef'}, 8) == b'abcdefZW'
    assert fragments._join({0: b''}, 0) == b''
    assert fragments._join({0: b'ab', 8: b'zz'}, 4) is None


def test_sketch_layout_is_cached_but_each_sketch_owns_its_arrays():
    a = regulator.new_sketch(4096, 64, 10 ** 9, seed=5)
    b = regulator.new_sketch(4096, 64, 10 ** 9, seed=5)
    c = regulator.new_sketch(4096, 64, 10 ** 9, seed=6)
    assert (a.pat == b.pat).all() and (a.rng == b.rng).all()
    assert not (a.pat == c.pat).all()
    a.pat[:] = 0
    a.fire[:] = 0
    assert b.pat.any() and b.fire.any()


@numba.njit
def _popcounts(x):
    out = np.empty((2, len(x)), np.int64)
    for i in range(len(x)):
        out[0, i] = bytescan.popcount(x[i])
        out[1, i] = regulator.popcount32(x[i])
    return out


def test_popcount_counts_every_bit_and_popcount32_the_low_32():
    rs = np.random.RandomState(11)
    x = np.concatenate([
        np.array([0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 64 - 1], np.uint64),
        rs.randint(0, 2 ** 63, 2000, dtype=np.uint64) * np.uint64(2)
        + rs.randint(0, 2, 2000).astype(np.uint64)])
    got = _popcounts(x)
    assert got[0].tolist() == [bin(int(v)).count('1') for v in x]
    assert got[1].tolist() == [bin(int(v) & 0xFFFFFFFF).count('1')
                               for v in x]
