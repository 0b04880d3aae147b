"""Correctness (not speed) of the Mesa RM1 baseline and of the bandwidth probe."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("mesa")

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import bandwidth  # noqa: E402
import mesa_rm1  # noqa: E402

N, DAYS, SEED = 3000, 30, 7


@pytest.fixture(scope="module")
def run() -> dict:
    """One small run shared by the tests below."""
    return mesa_rm1.run_mesa_rm1(N, DAYS, SEED)


def expected_mean_score(days: int) -> float:
    """Mean score if nobody is listed: E[points]/day, then decay (rm1.md)."""
    mean_m = math.exp(0.5**2 / 2)  # E[lognormal(0, 0.5)]
    points = mesa_rm1.P_OBSERVED * (
        mesa_rm1.P_SERVICE * mesa_rm1.POINTS_SERVICE
        + mesa_rm1.BASE_P_SMOKING * mean_m * mesa_rm1.POINTS_SMOKING
        + mesa_rm1.BASE_P_FRAUD * mean_m * mesa_rm1.POINTS_FRAUD
    )
    score = 1000.0
    for _ in range(days):
        score += points
        score += 0.01 * (1000.0 - score)
    return score


def test_daily_rows_and_plausible_scores(run: dict) -> None:
    daily = run["daily"]
    assert len(daily) == DAYS
    assert [row["day"] for row in daily] == list(range(1, DAYS + 1))
    assert set(daily[0]) >= {"day", "mean_score", "listed", "misattributed_events"}
    # ~0.1 points of sampling noise at N=3000 after 30 days; allow a wide band.
    assert abs(run["final_mean_score"] - expected_mean_score(DAYS)) < 0.6
    assert all(995.0 < row["mean_score"] <= 1000.0 for row in daily)
    assert all(0 <= row["listed"] <= N for row in daily)
    assert 0.0 <= run["final_listed_fraction"] < 0.01
    assert run["build_seconds"] > 0 and run["elapsed_seconds"] > 0
    assert run["agent_days_per_second"] > 0
    # RSS growth can be zero (the allocator may reuse pages freed before the build), so
    # only its upper bound is checked here; see the tracemalloc test for the lower one.
    assert run["memory_method"].startswith("psutil RSS")
    assert run["peak_memory_bytes"] <= memory_ceiling(N, DAYS), run["peak_memory_bytes"]


def memory_ceiling(agents: int, days: int) -> int:
    """A generous ceiling on the memory a run may take: 4 KiB per agent (a Mesa agent with
    its eight attributes takes a few hundred bytes), 1 KiB per day (one row of four
    reporters) and 64 MiB for Mesa's own structures and the allocator's granularity."""
    return agents * 4096 + days * 1024 + 64 * 2**20


def agents_floor(model) -> int:
    """Bytes the agents alone must occupy: every agent object and its own risk multiplier
    (a float drawn per agent; the scores start as one shared float)."""
    return sum(sys.getsizeof(a) + sys.getsizeof(a.m) for a in model.agent_by_idx)


def test_peak_memory_between_the_agents_and_a_ceiling() -> None:
    """With tracemalloc the peak is exact for Python objects: at least the agents' own
    objects (which are alive at the end of the run), at most the ceiling."""
    n, days = 1000, 5
    result = mesa_rm1.run_mesa_rm1(n, days, SEED, memory="tracemalloc")
    assert result["memory_method"].startswith("tracemalloc")
    floor = agents_floor(mesa_rm1.RM1Model(n, seed=SEED))
    assert floor > n * 64  # the floor itself is not trivially small
    assert floor <= result["peak_memory_bytes"] <= memory_ceiling(n, days), (
        floor, result["peak_memory_bytes"])


def test_false_matches_happen(run: dict) -> None:
    # Expected ~9 false matches at the default rate over 90 000 agent-days.
    assert sum(row["misattributed_events"] for row in run["daily"]) > 0


def test_every_observed_act_misattributed_at_rate_one() -> None:
    result = mesa_rm1.run_mesa_rm1(600, 10, SEED, false_match_rate=1.0)
    total = sum(row["misattributed_events"] for row in result["daily"])
    # ~0.0096 observed acts per agent-day -> ~58 expected.
    assert 20 < total < 120


def test_false_match_goes_to_another_agent() -> None:
    model = mesa_rm1.RM1Model(2, seed=3, false_match_rate=1.0)
    actor, other = model.agent_by_idx
    for _ in range(200):
        model.sense(actor, -10.0)
    observed = model.misattributed_events
    assert 80 < observed < 160  # p = 0.6 of 200
    assert actor.score == 1000.0
    assert other.score == 1000.0 - 10.0 * observed


def test_same_seed_same_rows(run: dict) -> None:
    again = mesa_rm1.run_mesa_rm1(N, DAYS, SEED)
    assert again["daily"] == run["daily"]
    other = mesa_rm1.run_mesa_rm1(N, DAYS, SEED + 1)
    assert other["daily"] != run["daily"]


def test_spillover_uses_start_of_day_status_and_spares_self() -> None:
    model = mesa_rm1.RM1Model(6, seed=1)
    a = model.agent_by_idx
    a[0].listed = True  # household 0 = agents 0, 1, 2; agent 0 is delisted today
    a[4].score = 898.0  # household 1: 898 + 1.02 < 900, listed at end of day
    model.start_day()
    for agent in reversed(a):  # settle order must not matter
        agent.settle()
    assert a[0].score == 1000.0 and not a[0].listed  # no spillover from itself
    assert a[1].score == pytest.approx(999.0 + 0.01 * 1.0)
    assert a[2].score == pytest.approx(999.01)
    assert a[3].score == 1000.0 and a[5].score == 1000.0
    assert a[4].listed and a[4].score == pytest.approx(898.0 + 0.01 * 102.0)
    assert a[3].listed is False and a[5].listed is False  # spillover starts tomorrow


def test_listing_thresholds() -> None:
    model = mesa_rm1.RM1Model(3, seed=1)
    x, y, z = model.agent_by_idx
    x.score, x.listed = 951.0, True  # 951 + 0.49 -> delisted
    y.score, y.listed = 940.0, True  # 940.6 < 950 -> stays listed
    z.score = 905.0  # not listed, 905.95 >= 900 -> stays off
    model.start_day()
    x.settle()
    y.settle()
    z.settle()
    # y was listed at the start, so x and z (its housemates) lose 1 point each.
    assert not x.listed and x.score == pytest.approx(950.0 + 0.5)
    assert y.listed
    assert not z.listed and z.score == pytest.approx(904.0 + 0.01 * 96.0)


def test_measure_bandwidth_tiny_array() -> None:
    result = bandwidth.measure_bandwidth(n_elements=10_000, repeats=2, threads=1)
    assert result["threads"] == 1
    assert result["n_elements"] == 10_000
    for impl in ("numba", "numpy"):
        assert result[impl]["best_seconds"] > 0
        assert result[impl]["gb_per_s"] > 0
        assert result[impl]["gb_per_s_write_allocate"] == pytest.approx(
            result[impl]["gb_per_s"] * 32 / 24
        )
