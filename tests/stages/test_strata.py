"""Strata, per-region columns and survey weights (population.oversample).

Each region is cut into one contiguous block of agents per group (``World.strata_start``),
the engine's chunks are cut at the strata starts, and the daily counts are exact integer
counts per stratum combined with the groups' design weights (docs/weights.md).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scslab.population import group_design
from scslab.scenario import load_scenario
from scslab.stages.metrics import SCORE_FIXED_POINT
from scslab.state import F_LISTED

SMALL = {"population.agents": 5000, "days": 8, "seed": 3}


@pytest.fixture(scope="module")
def sim(tk):
    return tk.simulate("national", {**SMALL, **tk.HIGH_FMR})


@pytest.fixture(scope="module")
def weighted(tk):
    return tk.simulate("national", {**SMALL, **tk.HIGH_FMR,
                                    "population.oversample": {"minority": 10}})


def _regions(sim):
    return sim.params.region_names


def test_national_ships_local_pilots(sim):
    names = _regions(sim)
    for pilot in ("rongcheng", "suqian", "xiamen", "shanghai"):
        assert pilot in names
    regs = {r.name: r for r in sim.scenario.population.regions}
    # Rongcheng's table is the rongcheng preset's (shared acts)
    rc = load_scenario("rongcheng").policy.rules
    for act, pts in regs["rongcheng"].rules.items():
        if act in rc:
            assert pts == rc[act], act
    assert regs["xiamen"].rules["court_default"] == -150
    assert all(regs[p].share <= 0.02 for p in ("rongcheng", "suqian", "xiamen", "shanghai"))


def test_every_chunk_lies_in_one_region_and_group(sim):
    w = sim.world
    group = w.attr >> 3
    for a, b in zip(sim.starts.tolist(), sim.ends.tolist(), strict=True):
        assert np.unique(w.region[a:b]).size == 1
        assert np.unique(group[a:b]).size == 1
    # strata are region-major blocks, one per group, and hold exactly those agents
    n_g = w.n_groups
    for k in range(w.n_regions * n_g):
        a, b = int(w.strata_start[k]), int(w.strata_start[k + 1])
        assert (w.region[a:b] == k // n_g).all() and (group[a:b] == k % n_g).all()
    # households never cross a stratum
    starts = set(w.household_starts().tolist())
    assert all(s in starts for s in w.strata_start[:-1].tolist() if s < w.n)


def test_strata_follow_the_group_shares(sim):
    """Stratified allocation: each region's group counts are its size times the share,
    rounded (cumulative rounding: off by at most one agent)."""
    w = sim.world
    shares = np.array([g.share for g in sim.scenario.population.groups])
    shares /= shares.sum()
    sizes = np.diff(w.strata_start).reshape(w.n_regions, w.n_groups)
    for r in range(w.n_regions):
        m = sizes[r].sum()
        assert np.all(np.abs(sizes[r] - shares * m) <= 1.0), (r, sizes[r], shares * m)


def test_region_columns_add_up(sim):
    """Per-region listed sums to listed; the population-weighted mean of the region means
    is mean_score, and each matches the state."""
    w, s = sim.world, sim.state
    for row in sim.rows:
        assert sum(row[f"listed__region_{r}"] for r in _regions(sim)) == row["listed"]
    row = sim.rows[-1]
    assert row["listed"] > 0
    listed = (s.flags & F_LISTED) != 0
    pop = np.bincount(w.region, minlength=w.n_regions)
    total = 0.0
    for k, r in enumerate(_regions(sim)):
        assert row[f"listed__region_{r}"] == int(listed[w.region == k].sum())
        # the row's mean is from fixed-point sums: exact to 2^-21 points per agent
        exact = np.rint(s.score[w.region == k].astype(np.float64) * SCORE_FIXED_POINT).sum()
        assert row[f"mean_score__region_{r}"] == pytest.approx(
            exact / SCORE_FIXED_POINT / pop[k], rel=1e-12)
        total += row[f"mean_score__region_{r}"] * pop[k]
    assert total / w.n == pytest.approx(row["mean_score"], rel=1e-13)


def test_registry_lists_region_columns_once(sim):
    names = [m.name for m in sim.metric_registry()]
    for r in _regions(sim):
        assert names.count(f"listed__region_{r}") == 1
        assert names.count(f"mean_score__region_{r}") == 1
    one = load_scenario("rongcheng")  # one region: no per-region columns
    assert len(one.population.regions) == 1


def test_no_oversampling_means_unit_weights(sim):
    assert sim.world.group_weight.dtype == np.float64
    assert (sim.world.group_weight == 1.0).all()
    assert (sim.ctx.group_weights == 1.0).all()
    assert isinstance(sim.rows[-1]["listed"], int)


def test_design_weights(weighted):
    pop = weighted.scenario.population
    s = np.array([g.share for g in pop.groups])
    s /= s.sum()
    w, sampling = group_design(pop)
    k = [g.name for g in pop.groups].index("minority")
    # the minority is sampled 10x more often (relative to the others) and weighs 1/10 as much
    assert sampling[k] / s[k] == pytest.approx(10 * sampling[0] / s[0])
    assert w[k] == pytest.approx(w[0] / 10)
    assert np.dot(w, sampling) == pytest.approx(1.0)  # expected weighted size = agents
    assert weighted.ctx.group_weights is weighted.world.group_weight
    n_g = np.bincount(weighted.world.attr >> 3, minlength=len(w))
    assert n_g[k] / weighted.world.n == pytest.approx(sampling[k], abs=0.01)
    # realised weighted size: strata rounding costs under one agent per stratum
    assert abs(np.dot(w, n_g) - weighted.world.n) <= w.max() * n_g.size * len(pop.regions)


def test_weighted_counts_from_group_counts(weighted):
    """Every weighted count is the weighted sum of exact per-group integer counts."""
    w, s = weighted.world, weighted.state
    gw = w.group_weight
    g = w.attr >> 3
    listed = (s.flags & F_LISTED) != 0
    row = weighted.rows[-1]
    assert row["listed"] > 0
    per_group = np.bincount(g[listed], minlength=w.n_groups)
    assert row["listed"] == pytest.approx(float(np.dot(gw, per_group)), rel=1e-12)
    for k, name in enumerate(weighted.params.group_names):
        assert row[f"listed__{name}"] == pytest.approx(gw[k] * per_group[k], rel=1e-12)
    mean = np.dot(gw[g], s.score.astype(np.float64)) / gw[g].sum()
    assert row["mean_score"] == pytest.approx(mean, rel=1e-9)
    for r in weighted.rows:
        assert sum(r[f"listed__region_{x}"] for x in _regions(weighted)) == pytest.approx(
            r["listed"], rel=1e-12)
    # counts that are not per group are weighted too: today's acts, chunk by chunk
    from scslab.stages.metrics import O_ACTS
    cnt, off = weighted.ctx.work.cnt, weighted.ctx.work.off
    chunk_w = gw[weighted.ctx.chunk_stratum % w.n_groups]
    for j, name in enumerate(weighted.params.behaviour_names):
        col = cnt[:, off[O_ACTS] + j]
        assert row[f"acts_{name}"] == pytest.approx(float(np.dot(chunk_w, col)), rel=1e-12)
    assert row["acts_smoking"] != int(cnt[:, off[O_ACTS] + weighted.params.behaviour_names.index(
        "smoking")].sum())


def test_summary_records_weights(tk, tmp_path):
    out = tmp_path / "run"
    proc = tk.cli("run", "national", "--agents", "2000", "--days", "2", "--out", str(out),
                  "--no-catalog", "--set", "population.oversample={foreign: 5}")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    gw = summary["group_weights"]
    assert set(gw) == {"majority", "minority", "foreign"}
    assert gw["foreign"] == pytest.approx(gw["majority"] / 5)


def test_bad_oversample_is_one_clear_message(tk):
    proc = tk.cli("validate", "national", "--set", "population.oversample={martians: 3}")
    msg = tk.bad_input(proc, "oversample", "martians", "majority")
    assert "Traceback" not in msg
    proc = tk.cli("validate", "national", "--set", "population.oversample={minority: 0}")
    tk.bad_input(proc, "oversample", "between")


@pytest.mark.slow
def test_weighted_sample_matches_a_large_unweighted_run(tk):
    """A 50,000-agent run oversampling the minority ×10, weighted, estimates what a
    1,000,000-agent unweighted run measures: mean score, listed share, the minority's
    listed share.

    Tolerances from the sampling error. The weighted run is a stratified sample with
    fixed stratum sizes n_g and design weights, so the variance of a weighted share is
    sum_g (N_g/N)^2 p_g (1 - p_g) / n_g and of the weighted mean sum_g (N_g/N)^2 sd_g^2 / n_g
    (N_g/N the true share); the large run adds p (1 - p) / 10^6 (sd^2 / 10^6). Agents are
    not independent (households share spillover, ties), so the variances are doubled
    (a design effect of 2) and 5 standard errors are allowed (``tk.close``).
    """
    days = 180  # long enough for ~0.5 % listed (about 90 listed minority agents in the
    # weighted run); measured here: 1M x 180 days in ~6 s of the day loop, the test ~9 s
    big = tk.simulate("national", {"population.agents": 1_000_000, "days": days, "seed": 5})
    small = tk.simulate("national", {"population.agents": 50_000, "days": days, "seed": 6,
                                     "population.oversample": {"minority": 10}})
    pop = small.scenario.population
    share = np.array([g.share for g in pop.groups])
    share /= share.sum()
    k = [g.name for g in pop.groups].index("minority")

    def stats(sim):
        g = sim.world.attr >> 3
        listed = (sim.state.flags & F_LISTED) != 0
        score = sim.state.score.astype(np.float64)
        n = np.bincount(g, minlength=share.size)
        p = np.bincount(g[listed], minlength=share.size) / n
        m = np.array([score[g == j].mean() for j in range(share.size)])
        v = np.array([score[g == j].var() for j in range(share.size)])
        return n, p, m, v

    n_s, p_s, m_s, v_s = stats(small)
    n_b, p_b, m_b, v_b = stats(big)
    rb, rs = big.rows[-1], small.rows[-1]
    deff = 2.0
    # mean score
    var = deff * (np.sum(share ** 2 * v_s / n_s) + v_b.mean() / big.world.n)
    tk.close(rs["mean_score"], rb["mean_score"], math.sqrt(var), "weighted mean score")
    # listed share
    p_big = rb["listed"] / big.world.n
    var = deff * (np.sum(share ** 2 * p_s * (1 - p_s) / n_s) + p_big * (1 - p_big) / big.world.n)
    people = float(np.dot(small.world.group_weight, n_s))  # the weighted population
    tk.close(rs["listed"] / people, p_big, math.sqrt(var), "weighted listed share")
    # the small group's listed share: its counts are weighted, its size too
    name = pop.groups[k].name
    p_small_g = rs[f"listed__{name}"] / (small.world.group_weight[k] * n_s[k])
    p_big_g = rb[f"listed__{name}"] / n_b[k]
    var = deff * (p_s[k] * (1 - p_s[k]) / n_s[k] + p_b[k] * (1 - p_b[k]) / n_b[k])
    assert rs[f"listed__{name}"] > 0 and rb[f"listed__{name}"] > 0
    tk.close(p_small_g, p_big_g, math.sqrt(var), "minority listed share")
    # The minority's share of the listed: without the weights the oversampled run would put
    # it near 0.4 instead of ~0.08, so this is where the weights matter. Delta method for
    # r = L_g / L with Poisson counts: sd_r <= r * sqrt(var(L_g)/L_g^2 + var(L)/L^2) (the
    # positive covariance of L_g and L, ignored, only lowers it), var of a weighted count
    # sum_h w_h^2 L_h; the large run's share is binomial among its listed.
    gw = small.world.group_weight
    raw = np.bincount((small.world.attr >> 3)[(small.state.flags & F_LISTED) != 0],
                      minlength=share.size)
    r_s = rs[f"listed__{name}"] / rs["listed"]
    sd_s = r_s * math.sqrt(gw[k] ** 2 * raw[k] / rs[f"listed__{name}"] ** 2
                           + float(np.sum(gw ** 2 * raw)) / rs["listed"] ** 2)
    r_b = rb[f"listed__{name}"] / rb["listed"]
    sd_b = math.sqrt(r_b * (1 - r_b) / rb["listed"])
    tk.close(r_s, r_b, math.sqrt(deff * (sd_s ** 2 + sd_b ** 2)), "minority share of the listed")
    assert raw[k] / raw.sum() > r_b + 10 * math.sqrt(deff * (sd_s ** 2 + sd_b ** 2))
    # the oversampled run measures the minority with ~5.8x its unweighted sample size
    assert n_s[k] > 0.4 * small.world.n
