"""Spillover (joint punishment): exposure from start-of-day lists, tie counters, the
businesses' own scores and list."""

from __future__ import annotations

import numpy as np
import pytest

from scslab.engine import Simulation
from scslab.scenario import load_scenario
from scslab.stages.spillover import _business_step
from scslab.state import B_LISTED, B_TLISTED, F_LISTED, F_TLISTED, X_HH, X_TIE

BASE, PTS, DECAY, ENTER, EXIT = 1000.0, 20.0, 0.1, 800.0, 950.0


def test_business_step_rules():
    # a listed representative costs points, then decay pulls toward the base
    s, listed = _business_step(900.0, True, BASE, PTS, DECAY, False, ENTER, EXIT)
    assert np.isclose(s, 880 + DECAY * (BASE - 880)) and not listed
    s, listed = _business_step(790.0, True, BASE, PTS, DECAY, False, ENTER, EXIT)
    assert s < ENTER and listed
    # hysteresis: a listed business stays listed until it reaches the exit threshold
    s, listed = _business_step(900.0, False, BASE, PTS, DECAY, True, ENTER, EXIT)
    assert np.isclose(s, 910.0) and listed
    s, listed = _business_step(945.0, False, BASE, PTS, DECAY, True, ENTER, EXIT)
    assert s >= EXIT and not listed


@pytest.fixture(scope="module")
def busy():
    """Many listings, businesses that get listed, ties and households exposed."""
    sc = load_scenario("national", {
        "population.agents": 8000, "days": 14, "seed": 13,
        "sensors.cameras.false_match_rate": 0.2,
        "policy.lists.blacklist.enter_below": 995, "policy.lists.blacklist.exit_at_or_above": 999,
        "policy.lists.blacklist.min_days": 0, "policy.scoring.decay": 0.1,
        "policy.spillover.employer.business_enter_below": 990,
        "policy.spillover.employer.business_exit_at_or_above": 995,
        "policy.spillover.employer.representative_listed_points": 10})
    return sc


def test_businesses_follow_their_representative(busy):
    sim = Simulation(busy).build()
    e = busy.policy.spillover.employer
    w, s = sim.world, sim.state
    has_rep = w.biz_rep >= 0
    listed_days = 0
    for _ in range(busy.days):
        b0, t0, f0 = s.b_score.copy(), s.b_twin.copy(), s.b_flags.copy()
        row = sim.step()
        rep = w.biz_rep[has_rep]
        for score0, flag_bit, agent_bit, score in ((b0, B_LISTED, F_LISTED, s.b_score),
                                                    (t0, B_TLISTED, F_TLISTED, s.b_twin)):
            rep_listed = (s.flags[rep] & agent_bit) != 0  # end-of-day lists
            x = score0[has_rep].astype(np.float64) - e.representative_listed_points * rep_listed
            x += e.business_decay * (busy.policy.scoring.base - x)
            np.testing.assert_allclose(score[has_rep], x, rtol=1e-5)
            was = (f0[has_rep] & flag_bit) != 0
            now = np.where(was, x < e.business_exit_at_or_above, x < e.business_enter_below)
            np.testing.assert_array_equal((s.b_flags[has_rep] & flag_bit) != 0, now)
        assert row["businesses_listed"] == int(((s.b_flags & B_LISTED) != 0).sum())
        listed_days += row["businesses_listed"]
    assert listed_days > 0


def test_tie_and_household_exposure_count_columns(busy):
    sim = Simulation(busy).build()
    seen_tie = seen_hh = 0
    for _ in range(busy.days):
        row = sim.step()
        x = sim.state.exposure
        assert row["exposed_ties"] == int(((x & X_TIE) != 0).sum())
        assert row["exposed_household"] == int(((x & X_HH) != 0).sum())
        seen_tie += row["exposed_ties"]
        seen_hh += row["exposed_household"]
        # agents who lost points through spillover are exactly the exposed ones with a penalty
        assert row["spillover_penalised"] == int(((x & 0x7) != 0).sum())
    assert seen_tie > 0 and seen_hh > 0


def test_spillover_penalties_cost_points(tk):
    """The same run with spillover off has a higher mean score (penalties only take away)."""
    over = {"population.agents": 6000, "days": 12, "seed": 4,
            "policy.lists.blacklist.enter_below": 995,
            "policy.lists.blacklist.exit_at_or_above": 999}
    on = tk.simulate("national", over)
    off = tk.simulate("national", {**over, "policy.spillover.enabled": False})
    assert on.rows[0]["mean_score"] == off.rows[0]["mean_score"]  # nobody listed at dawn
    assert on.rows[-1]["mean_score"] < off.rows[-1]["mean_score"]
    assert tk.total(off, "spillover_penalised") == 0
