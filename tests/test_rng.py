"""Counter-based random numbers (DESIGN.md §4, STYLE.md "State and randomness").

Statistical tolerances: a Pearson correlation of n independent pairs has standard
error 1/sqrt(n); a chi-square statistic with df degrees of freedom has mean df and
standard deviation sqrt(2 df). Every check allows 5 standard errors, with fixed keys.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scslab import rng

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
K_STEP = 0xD1B54A32D192ED03


# --------------------------------------------------------------------------- a NumPy reference

def _mix64_np(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashes(key, agents: np.ndarray, k: int) -> np.ndarray:
    """A vectorised re-implementation of ``rng.agent_hash`` (checked against it below)."""
    with np.errstate(over="ignore"):
        a = agents.astype(np.uint64)
        base = _mix64_np(np.uint64(key) ^ (a * np.uint64(GOLDEN)))
        return _mix64_np(base + np.uint64(k) * np.uint64(K_STEP))


def hi(h: np.ndarray) -> np.ndarray:
    return (h >> np.uint64(32)).astype(np.float64) * 2.0**-32


def lo(h: np.ndarray) -> np.ndarray:
    return (h & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32


N = 200_000
IDS = np.arange(N, dtype=np.int64)


def corr_ok(x: np.ndarray, y: np.ndarray) -> None:
    r = float(np.corrcoef(x, y)[0, 1])
    assert abs(r) < 5.0 / math.sqrt(x.size), r


def chi2_ok(counts: np.ndarray) -> None:
    counts = counts.ravel().astype(float)
    expected = counts.sum() / counts.size
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = counts.size - 1
    assert abs(chi2 - df) < 5 * math.sqrt(2 * df), (chi2, df)


# --------------------------------------------------------------------------- the mixer


def test_mix64_known_values():
    # SplitMix64's first output for seed 0 is mix64(golden ratio): a published value.
    assert int(rng.mix64(np.uint64(GOLDEN))) == 0xE220A8397B1DCDAF
    assert int(rng.mix64(np.uint64(0))) == 0


def test_mix64_numba_python_numpy_agree():
    xs = [1, 2, 3, GOLDEN, MASK, 1 << 63, 0x0123456789ABCDEF, 12345678901234567]
    for x in xs:
        a = int(rng.mix64(np.uint64(x)))
        assert a == rng._mix64_py(x)
        assert a == int(_mix64_np(np.array([x], dtype=np.uint64))[0])


def test_mix64_injective_on_a_large_sample():
    """A bijection: no two of 200,000 structured inputs collide."""
    x = np.concatenate([np.arange(100_000, dtype=np.uint64),
                        np.arange(1, 100_001, dtype=np.uint64) << np.uint64(40)])
    assert np.unique(x).size == x.size
    assert np.unique(_mix64_np(x)).size == x.size


def test_mix64_avalanche():
    """Flipping one input bit flips each output bit with probability 1/2."""
    x = hashes(rng.stream_key(3, "avalanche"), np.arange(1000), 0)
    y = _mix64_np(x)
    flips = []
    for bit in range(64):
        z = _mix64_np(x ^ np.uint64(1 << bit))
        d = y ^ z
        flips.append(np.array([bin(int(v)).count("1") for v in d]))
    f = np.concatenate(flips)
    # Each count is Binomial(64, 1/2): mean 32, sd 4.
    assert abs(f.mean() - 32) < 5 * 4 / math.sqrt(f.size)


def test_numpy_reference_matches_agent_hash():
    key = rng.day_key(42, "behaviour", 7)
    ids = np.array([0, 1, 2, 999, 123456, 2**31 - 1, 1_400_000_000], dtype=np.int64)
    for k in (0, 1, 5, 3000):
        ref = hashes(key, ids, k)
        for i, a in enumerate(ids):
            assert int(rng.agent_hash(key, int(a), k)) == int(ref[i])


def test_uniforms_vector_matches_scalar_hashes():
    key = rng.day_key(1, "behaviour", 1)
    u = rng.uniforms(key, 1000, 3)
    np.testing.assert_array_equal(u, hi(hashes(key, np.arange(1000), 3)))


# --------------------------------------------------------------------------- ranges


@pytest.mark.parametrize("h", [0, 1, 0xFFFFFFFF, 1 << 32, MASK, MASK - 1, 1 << 63])
def test_uniform_halves_in_unit_interval(h):
    for u in (rng.u_hi(np.uint64(h)), rng.u_lo(np.uint64(h))):
        assert 0.0 <= u < 1.0


def test_uniform_extremes():
    assert rng.u_hi(np.uint64(0)) == 0.0
    assert rng.u_hi(np.uint64(MASK)) == (2**32 - 1) / 2**32
    assert rng.u_lo(np.uint64(MASK)) == (2**32 - 1) / 2**32


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1000, 2**31 - 1, 1_400_000_000])
def test_below_in_range(n):
    for h in (0, 1, MASK, MASK >> 1, 0xFFFFFFFF00000000, 0x8000000000000000):
        v = rng.below(np.uint64(h), n)
        assert 0 <= v < n


def test_below_uniform():
    h = hashes(rng.stream_key(9, "below"), IDS, 0)
    n = 37
    v = ((h >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32)
    assert int(rng.below(h[5], n)) == int(v[5])
    chi2_ok(np.bincount(v.astype(np.int64), minlength=n))


def test_all_uniforms_of_a_day_in_unit_interval():
    u = rng.uniforms(rng.day_key(7, "sensing", 3), N, 0)
    assert u.min() >= 0.0 and u.max() < 1.0


# --------------------------------------------------------------------------- uniformity


@pytest.mark.parametrize("stream,day,k", [("behaviour", 1, 0), ("sensing", 365, 1000),
                                          ("population", 0, 3), ("listing", 30000, 63)])
def test_chi_square_uniformity_hi_and_lo(stream, day, k):
    h = hashes(rng.day_key(20180101, stream, day), IDS, k)
    for u in (hi(h), lo(h)):
        chi2_ok(np.bincount((u * 100).astype(np.int64), minlength=100))
        # mean 1/2, variance 1/12
        assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)


def test_chi_square_pairs_of_draws():
    """(draw k, draw k+1) of one agent are jointly uniform on a 10×10 grid."""
    key = rng.day_key(5, "behaviour", 2)
    a = hi(hashes(key, IDS, 0))
    b = hi(hashes(key, IDS, 1))
    grid = np.zeros((10, 10), np.int64)
    np.add.at(grid, ((a * 10).astype(int), (b * 10).astype(int)), 1)
    chi2_ok(grid)


# --------------------------------------------------------------------------- independence


def test_independent_across_streams():
    a = hi(hashes(rng.day_key(1, "behaviour", 5), IDS, 0))
    b = hi(hashes(rng.day_key(1, "sensing", 5), IDS, 0))
    corr_ok(a, b)


def test_independent_across_days():
    a = hi(hashes(rng.day_key(1, "behaviour", 5), IDS, 0))
    b = hi(hashes(rng.day_key(1, "behaviour", 6), IDS, 0))
    corr_ok(a, b)


def test_independent_across_k():
    key = rng.day_key(1, "behaviour", 5)
    a = hi(hashes(key, IDS, 0))
    corr_ok(a, hi(hashes(key, IDS, 1)))
    corr_ok(a, hi(hashes(key, IDS, 1000)))


def test_independent_across_seeds():
    a = hi(hashes(rng.day_key(1, "behaviour", 5), IDS, 0))
    b = hi(hashes(rng.day_key(2, "behaviour", 5), IDS, 0))
    corr_ok(a, b)


def test_hi_and_lo_halves_independent():
    h = hashes(rng.day_key(1, "behaviour", 5), IDS, 0)
    corr_ok(hi(h), lo(h))


def test_neighbouring_agents_independent():
    u = hi(hashes(rng.day_key(1, "behaviour", 5), IDS, 0))
    corr_ok(u[:-1], u[1:])
    corr_ok(u[:-3], u[3:])


def test_day_keys_distinct():
    keys = {int(rng.day_key(s, st, d)) for s in (0, 1, 2) for st in ("behaviour", "sensing",
                                                                    "listing") for d in
            range(0, 400)}
    assert len(keys) == 3 * 3 * 400
    assert int(rng.stream_key(1, "population")) not in {int(rng.day_key(1, "population", d))
                                                         for d in range(30001)}


# --------------------------------------------------------------------------- purity


def test_one_streams_draws_do_not_move_another():
    """Drawing from other streams (or other days) in between changes nothing."""
    key = rng.day_key(3, "behaviour", 4)
    first = rng.uniforms(key, 5000, 0)
    for st in ("sensing", "listing", "sanctions"):
        rng.uniforms(rng.day_key(3, st, 4), 100_000, 0)
        rng.uniforms(rng.day_key(3, "behaviour", 5), 100_000, 0)
    np.testing.assert_array_equal(rng.uniforms(key, 5000, 0), first)
    # and a draw depends only on (key, agent, k), not on how many agents are drawn
    np.testing.assert_array_equal(rng.uniforms(key, 100, 0), first[:100])


# --------------------------------------------------------------------------- stability


def test_day_key_known_values():
    """A change in the generator (and so in every result) must be deliberate."""
    assert int(rng.day_key(0, "behaviour", 1)) == 0xC344C9D17DCE9D02
    assert int(rng.day_key(1, "behaviour", 1)) == 0x11549CACBBA1D77B
    assert int(rng.day_key(20180101, "sensing", 365)) == 0xF90D3C115BE1476D
    assert int(rng.day_key(2**63 - 1, "population", 0)) == 0x99597F759FA30111
    assert int(rng.agent_hash(rng.day_key(1, "behaviour", 1), 5, 2)) == 0x6498665CFC42A280
    np.testing.assert_array_equal(
        rng.uniforms(rng.day_key(1, "behaviour", 1), 3, 0),
        [0.4743121836800128, 0.7703001301269978, 0.9908124250359833])


def test_stream_id_independent_of_python_hash_seed():
    assert rng.stream_id("behaviour") == 3893522806
    assert rng.stream_id("behaviour") != rng.stream_id("sensing")


def test_day_key_is_numpy_uint64():
    assert isinstance(rng.day_key(1, "behaviour", 1), np.uint64)
    assert isinstance(rng.stream_key(1, "population"), np.uint64)


def test_spawn_seeds():
    a = rng.spawn_seeds(20180101, 8)
    assert a == rng.spawn_seeds(20180101, 8)
    assert len(set(a)) == 8
    assert all(0 <= s < 2**32 for s in a)
    assert rng.spawn_seeds(20180101, 3) == a[:3]
    assert rng.spawn_seeds(1, 3) != a[:3]
