"""The synthetic population: structure, shares within sampling error, reproducibility.

Every statistical check compares a count with its expectation and allows five
standard errors of the binomial (or, where stated, derived) sampling distribution.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scslab.population import AGE_ADULT, AGE_CHILD, AGE_ELDERLY, World, build_world
from scslab.scenario import load_scenario

N = 20_000


@pytest.fixture(scope="module")
def sc():
    return load_scenario("national", {"population.agents": N, "seed": 123})


@pytest.fixture(scope="module")
def world(sc) -> World:
    return build_world(sc)


def ages(w: World) -> np.ndarray:
    return (w.attr >> 1) & 3


def groups(w: World) -> np.ndarray:
    return w.attr >> 3


# --------------------------------------------------------------------------- structure


def test_sizes_and_dtypes(world):
    n = world.n
    assert n == N
    for name in ("attr", "region", "hh_off", "hh_size", "employer", "disposition"):
        assert getattr(world, name).shape == (n,), name
    assert world.attr.dtype == np.uint8
    assert world.region.dtype == np.uint8
    assert world.hh_off.dtype == np.uint8 and world.hh_size.dtype == np.uint8
    assert world.employer.dtype == np.int32
    assert world.disposition.dtype == np.float32
    assert world.tie_ptr.dtype == np.int64 and world.tie_idx.dtype == np.uint32
    assert world.tie_ptr.shape == (n + 1,)
    assert world.n_regions == len(world.region_start) - 1 == 7 and world.n_groups == 3


def test_regions_contiguous_with_configured_shares(world, sc):
    r = world.region.astype(np.int64)
    assert np.all(np.diff(r) >= 0), "regions must be contiguous id ranges"
    counts = np.bincount(r, minlength=world.n_regions)
    assert counts.sum() == N
    np.testing.assert_array_equal(world.region_start, np.concatenate([[0], np.cumsum(counts)]))
    for reg, c in zip(sc.population.regions, counts, strict=True):
        # region sizes are rounded shares of N, so they are exact to one agent
        assert abs(c - reg.share * N) <= 1, (reg.name, c)


def test_households_contiguous(world):
    off = world.hh_off.astype(np.int64)
    size = world.hh_size.astype(np.int64)
    assert off[0] == 0
    starts = np.flatnonzero(off == 0)
    np.testing.assert_array_equal(starts, world.household_starts())
    ends = np.concatenate([starts[1:], [N]])
    np.testing.assert_array_equal(ends - starts, size[starts])
    # inside a household: offsets 0..size-1, one size, one region
    hh = np.repeat(np.arange(starts.size), ends - starts)
    np.testing.assert_array_equal(off, np.arange(N) - starts[hh])
    np.testing.assert_array_equal(size, size[starts][hh])
    np.testing.assert_array_equal(world.region, world.region[starts][hh])
    assert np.all(size >= 1) and np.all(size <= 12)


def test_first_member_is_adult_or_elderly(world):
    a = ages(world)
    assert np.all(a[world.hh_off == 0] != AGE_CHILD)
    assert set(np.unique(a)) <= {AGE_CHILD, AGE_ADULT, AGE_ELDERLY}


def test_household_size_distribution(world, sc, tk):
    starts = world.household_starts()
    sizes = world.hh_size[starts].astype(np.int64)
    # the last household of each region may be cut short at the region's end: leave it out
    last = np.searchsorted(starts, world.region_start[1:], side="left") - 1
    keep = np.ones(starts.size, bool)
    keep[last] = False
    sizes = sizes[keep]
    h = sizes.size
    shares = sc.population.households.size_shares
    total = sum(shares.values())
    for s, w in shares.items():
        p = w / total
        tk.close(int((sizes == s).sum()), h * p, tk.binom_sd(h, p), f"households of {s}")
    assert set(np.unique(sizes)) <= set(shares)


def test_group_shares_per_household(world, sc, tk):
    starts = world.household_starts()
    g = groups(world)
    h = starts.size
    for k, grp in enumerate(sc.population.groups):
        tk.close(int((g[starts] == k).sum()), h * grp.share,
                           tk.binom_sd(h, grp.share), grp.name)
    # a household shares one group
    hh_start = np.arange(N) - world.hh_off
    np.testing.assert_array_equal(g, g[hh_start])


def test_sex_share(world, sc, tk):
    f = int((world.attr & 1).sum())
    p = sc.population.female_share
    tk.close(f, N * p, tk.binom_sd(N, p), "female")


def test_age_shares(world, sc, tk):
    """Children and elderly ≈ configured shares (binomial error plus household-count error)."""
    pop = sc.population
    items = sorted(pop.households.size_shares.items())
    s = np.array([k for k, _ in items], float)
    w = np.array([v for _, v in items], float)
    w /= w.sum()
    mu = float((s * w).sum())
    var_size = float(((s - mu) ** 2 * w).sum())
    var_h = N * var_size / mu**3  # renewal theory: variance of the number of households
    child, eld = pop.age.child_share, pop.age.elderly_share
    p_child_rest = child / ((mu - 1) / mu)
    p_eld_first = eld / (1 - child)
    a = ages(world)
    sd_c = math.sqrt(N * child * (1 - child) + p_child_rest**2 * var_h)
    tk.close(int((a == AGE_CHILD).sum()), child * N, sd_c, "children")
    sd_e = math.sqrt(N * eld * (1 - eld) + (p_eld_first * p_child_rest) ** 2 * var_h)
    tk.close(int((a == AGE_ELDERLY).sum()), eld * N, sd_e, "elderly")


# --------------------------------------------------------------------------- ties


def _edges(world):
    deg = np.diff(world.tie_ptr)
    src = np.repeat(np.arange(world.n, dtype=np.int64), deg)
    dst = world.tie_idx.astype(np.int64)
    return src, dst


def test_ties_symmetric_csr(world):
    src, dst = _edges(world)
    assert np.all(np.diff(world.tie_ptr) >= 0)
    assert world.tie_ptr[0] == 0 and world.tie_ptr[-1] == world.tie_idx.size
    assert dst.min() >= 0 and dst.max() < world.n
    assert not np.any(src == dst), "self-ties"
    fwd = np.sort(src * world.n + dst)
    bwd = np.sort(dst * world.n + src)
    np.testing.assert_array_equal(fwd, bwd)  # j ∈ N(i) as often as i ∈ N(j)


def test_mean_degree(world, sc, tk):
    t = sc.population.ties
    h = t.mean_degree / 2
    # stubs per agent: floor(x) + Bernoulli(frac), x = h·(1 − d + d·Exp(1)):
    # variance ≤ (h·d)² + 1/4; degree = 2 · stubs (less rare self-ties)
    sd = 2 * math.sqrt((h * t.dispersion) ** 2 + 0.25) / math.sqrt(N)
    tk.close(world.tie_idx.size / N, t.mean_degree, sd, "mean degree")


def test_within_region_share(world, sc, tk):
    src, dst = _edges(world)
    same = world.region[src] == world.region[dst]
    w = sc.population.ties.within_region
    frac = np.bincount(world.region, minlength=world.n_regions) / N
    # a stub stays home with probability w, or lands uniformly (at home with prob share_r)
    expected = w + (1 - w) * float((frac**2).sum())
    stubs = src.size / 2
    tk.close(float(same.mean()), expected,
                       math.sqrt(expected * (1 - expected) / stubs), "within-region ties")


def test_no_ties_when_mean_degree_zero():
    w = build_world(load_scenario("rm1", {"population.agents": 300}))
    assert not w.has_ties and w.tie_idx.size == 0


# --------------------------------------------------------------------------- employers


def test_employers_inside_region_with_representative(world, sc, tk):
    emp = world.employer.astype(np.int64)
    nb = world.n_business
    assert nb > 0
    employed = emp >= 0
    assert emp.max() < nb
    # only adults are employed
    assert np.all(ages(world)[employed] == AGE_ADULT)
    # every business sits in one region
    reg = world.region.astype(np.int64)
    lo = np.full(nb, 10**9)
    hi = np.full(nb, -1)
    np.minimum.at(lo, emp[employed], reg[employed])
    np.maximum.at(hi, emp[employed], reg[employed])
    has = np.bincount(emp[employed], minlength=nb) > 0
    assert np.all(lo[has] == hi[has])
    # sizes and representatives: the representative is an employee (the first one)
    np.testing.assert_array_equal(world.biz_size, np.bincount(emp[employed], minlength=nb))
    for b in np.flatnonzero(has):
        rep = world.biz_rep[b]
        assert world.employer[rep] == b
        assert rep == np.flatnonzero(emp == b)[0]
    assert np.all(world.biz_rep[~has] == -1)
    # employed share of adults ≈ configured
    adults = int((ages(world) == AGE_ADULT).sum())
    p = sc.population.employers.employed_share
    tk.close(int(employed.sum()), adults * p, tk.binom_sd(adults, p), "employed")


# --------------------------------------------------------------------------- disposition


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_disposition_lognormal(sigma, tk):
    w = build_world(load_scenario("rm1", {"population.agents": N,
                                          "population.disposition.sigma": sigma}))
    x = np.log(w.disposition.astype(np.float64))
    assert np.all(w.disposition > 0)
    tk.close(float(x.mean()), 0.0, sigma / math.sqrt(N), "mean of log")
    # the standard error of a normal sample's sd is sigma / sqrt(2(n − 1))
    tk.close(float(x.std(ddof=1)), sigma, sigma / math.sqrt(2 * (N - 1)), "sd of log")


def test_disposition_zero_sigma_is_one():
    w = build_world(load_scenario("rm1", {"population.agents": 100,
                                          "population.disposition.sigma": 0}))
    np.testing.assert_array_equal(w.disposition, np.ones(100, np.float32))


# --------------------------------------------------------------------------- rm1


@pytest.mark.parametrize("n", [3000, 3001, 3002])
def test_rm1_households_are_i_div_3(n):
    w = build_world(load_scenario("rm1", {"population.agents": n}))
    i = np.arange(n)
    np.testing.assert_array_equal(i - w.hh_off, 3 * (i // 3))
    assert np.all(ages(w) == AGE_ADULT)
    assert np.all(w.employer == -1) and w.n_business == 0


# --------------------------------------------------------------------------- reproducibility


def _same(a: World, b: World) -> bool:
    names = ("attr", "region", "hh_off", "hh_size", "employer", "disposition", "tie_ptr",
             "tie_idx", "region_start", "biz_rep", "biz_size")
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in names)


def test_reproducible_for_same_seed(world, sc):
    assert _same(world, build_world(sc))


def test_different_for_different_seed(world, sc):
    other = build_world(load_scenario(sc, {"seed": 124}))
    assert not np.array_equal(world.disposition, other.disposition)
    assert not np.array_equal(world.tie_idx[:100], other.tie_idx[:100])
    assert not np.array_equal(world.hh_size, other.hh_size)


def test_tiny_populations():
    for n in (1, 2, 3, 5):
        w = build_world(load_scenario("national", {"population.agents": n}))
        assert w.n == n and w.hh_off[0] == 0
        assert w.tie_ptr[-1] == w.tie_idx.size


# --------------------------------------------------------------------------- any population


@st.composite
def populations(draw):
    n_regions = draw(st.integers(1, 5))
    w = [draw(st.integers(1, 20)) for _ in range(n_regions)]
    shares = [x / sum(w) for x in w]
    shares[-1] = 1.0 - sum(shares[:-1])
    sizes = draw(st.dictionaries(st.integers(1, 12), st.floats(0.01, 1.0), min_size=1,
                                 max_size=5))
    return load_scenario("national", {
        "population.agents": draw(st.integers(1, 3000)),
        "seed": draw(st.integers(0, 2**32)),
        "population.regions": [{"name": f"r{i}", "share": s} for i, s in enumerate(shares)],
        "population.households.size_shares": sizes,
        "population.ties.mean_degree": draw(st.sampled_from([0.0, 1.0, 8.0, 30.0])),
        "population.ties.dispersion": draw(st.floats(0, 1)),
        "population.ties.within_region": draw(st.floats(0, 1)),
        "population.employers.employed_share": draw(st.floats(0, 1)),
        "population.employers.mean_size": draw(st.floats(1, 200)),
        "population.age.child_share": draw(st.floats(0, 0.5)),
        "population.age.elderly_share": draw(st.floats(0, 0.4)),
    })


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(populations())
def test_structure_of_any_population(sc):
    w = build_world(sc)
    n = sc.population.agents
    assert w.n == n
    assert np.all(np.diff(w.region.astype(np.int64)) >= 0)
    assert w.region_start[0] == 0 and w.region_start[-1] == n
    off, size = w.hh_off.astype(np.int64), w.hh_size.astype(np.int64)
    starts = np.flatnonzero(off == 0)
    assert starts[0] == 0
    ends = np.concatenate([starts[1:], [n]])
    np.testing.assert_array_equal(ends - starts, size[starts])
    hh = np.repeat(np.arange(starts.size), ends - starts)
    np.testing.assert_array_equal(w.region, w.region[starts][hh])
    assert np.all(ages(w)[starts] != AGE_CHILD)
    cut = np.isin(ends, w.strata_start)  # may be cut short at a stratum's end
    assert set(np.unique(size[starts][~cut])) <= set(sc.population.households.size_shares)
    assert np.all(size[starts][cut] <= max(sc.population.households.size_shares))
    assert w.tie_ptr[-1] == w.tie_idx.size
    if w.has_ties:
        src, dst = _edges(w)
        assert not np.any(src == dst)
        np.testing.assert_array_equal(np.sort(src * n + dst), np.sort(dst * n + src))
    emp = w.employer.astype(np.int64)
    e = emp >= 0
    assert np.all(ages(w)[e] == AGE_ADULT)
    if e.any():
        assert emp.max() < w.n_business
        reps = w.biz_rep[w.biz_rep >= 0]
        np.testing.assert_array_equal(emp[reps], np.flatnonzero(w.biz_rep >= 0))
        first = np.full(w.n_business, -1)
        for b in range(w.n_business):
            members = np.flatnonzero(emp == b)
            if members.size:
                first[b] = members[0]
                assert np.all(w.region[members] == w.region[members[0]])
        np.testing.assert_array_equal(first, w.biz_rep)
