"""Scoring: points, daily caps, spillover penalties, decay and bounds; the mean score of
RM1 against its expected path (with the standard error of a mean of independent acts)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scslab.params import compile_params
from scslab.scenario import load_scenario
from scslab.stages.scoring import update_score
from scslab.state import X_EMP, X_HH, X_TIE


def _prm(**over):
    sc = load_scenario("national", over or None)
    return compile_params(sc, 100).prm


@pytest.fixture(scope="module")
def prm():
    return _prm(**{"policy.scoring.decay": 0.01, "policy.spillover.household.penalty": 2,
                   "policy.spillover.ties.penalty": 0.5,
                   "policy.spillover.employer.employee_penalty": 0.2})


def test_points_then_decay(prm):
    s, pen = update_score(np.float32(900), np.float32(-10), np.uint8(0), X_HH, X_TIE, X_EMP, prm)
    assert pen == 0
    assert math.isclose(s, (900 - 10) + 0.01 * (1000 - 890), rel_tol=1e-6)


def test_penalties_add_per_channel(prm):
    for x, want in ((X_HH, 2.0), (X_TIE, 0.5), (X_EMP, 0.2), (X_HH | X_TIE | X_EMP, 2.7)):
        s, pen = update_score(np.float32(1000), np.float32(0), np.uint8(x), X_HH, X_TIE, X_EMP,
                              prm)
        assert math.isclose(pen, want, rel_tol=1e-9)
        assert math.isclose(s, 1000 - want + 0.01 * want, rel_tol=1e-6)


def test_bounds(prm):
    s, _ = update_score(np.float32(5), np.float32(-1000), np.uint8(0), X_HH, X_TIE, X_EMP, prm)
    assert s == 0.0
    s, _ = update_score(np.float32(1290), np.float32(500), np.uint8(0), X_HH, X_TIE, X_EMP, prm)
    assert s == 1300.0


def test_daily_caps():
    prm = _prm(**{"policy.scoring.max_daily_loss": 20, "policy.scoring.max_daily_gain": 5,
                  "policy.scoring.decay": 0.0})
    assert update_score(np.float32(1000), np.float32(-100), np.uint8(0), 1, 2, 4, prm)[0] == 980
    assert update_score(np.float32(1000), np.float32(30), np.uint8(0), 1, 2, 4, prm)[0] == 1005
    assert update_score(np.float32(1000), np.float32(-7), np.uint8(0), 1, 2, 4, prm)[0] == 993


def test_decay_pulls_toward_base():
    prm = _prm(**{"policy.scoring.decay": 0.5})
    assert update_score(np.float32(800), np.float32(0), np.uint8(0), 1, 2, 4, prm)[0] == 900
    assert update_score(np.float32(1200), np.float32(0), np.uint8(0), 1, 2, 4, prm)[0] == 1100


def test_zero_caps_freeze_scores(tk):
    sim = tk.simulate("national", {"population.agents": 3000, "days": 10,
                                   "policy.scoring.max_daily_loss": 0,
                                   "policy.scoring.max_daily_gain": 0,
                                   "policy.spillover.enabled": False})
    assert tk.total(sim, "observed_events") > 0
    assert np.all(sim.state.score == 1000) and np.all(sim.state.twin == 1000)
    assert all(r["listed_blacklist"] == 0 for r in sim.rows)


# --------------------------------------------------------------------------- RM1 mean score


def test_rm1_mean_score_path(tk):
    """mean_D = 1000 + x̄·Σ_k (1−δ)^k, x̄ the mean points per agent-day; misattribution moves
    points between agents, so it leaves the mean alone."""
    n, days, delta = 30_000, 12, 0.01
    sim = tk.simulate("rm1", {"population.agents": n, "days": days, "seed": 99,
                              "policy.lists.blacklist.enabled": False})
    m = sim.world.disposition.astype(np.float64)
    q = 0.6 * np.stack([np.full(n, 0.01), 0.005 * m, 0.0005 * m])  # observed-act probabilities
    pts = np.array([5.0, -10.0, -50.0])[:, None]
    mean_x = float((q * pts).sum() / n)
    var_x = float((q * (1 - q) * pts**2).sum() / n**2)  # variance of the daily mean of points
    for row in sim.rows:
        d = row["day"]
        w = [(1 - delta) ** k for k in range(1, d + 1)]
        expected = 1000 + mean_x * sum(w)
        sd = math.sqrt(var_x * sum(x * x for x in w))
        tk.close(row["mean_score"], expected, sd, f"mean score day {d}")
        # the twin ledger credits the same acts to their actors: same total
        assert abs(row["mean_true_score"] - row["mean_score"]) < 1e-3


def test_rm1_spillover_penalty_is_one_point_per_exposed_agent(tk):
    """Every penalised agent has a listed housemate; only the household channel is on."""
    sim = tk.simulate("rm1", {"population.agents": 6000, "days": 15, "seed": 3,
                              "policy.lists.blacklist.enter_below": 995,
                              "policy.lists.blacklist.exit_at_or_above": 999})
    assert sum(r["exposed_household"] for r in sim.rows) > 0
    for r in sim.rows:
        assert r["spillover_penalised"] == r["exposed_household"]
        assert r["exposed_ties"] == 0
