"""Sanctions: who attempts what, denials for the listed at the attempt rate, joint
punishment through households and businesses, and the collateral counts."""

from __future__ import annotations

import numpy as np
import pytest

from scslab.engine import Simulation
from scslab.population import AGE_CHILD
from scslab.scenario import load_scenario
from scslab.stages.sanctions import attempts
from scslab.state import F_LISTED, F_TLISTED, X_HH, X_REP, own_listed


@pytest.mark.parametrize("who,age,want", [
    (0, 0, True), (0, 1, True), (0, 2, True),
    (1, 0, False), (1, 1, True), (1, 2, True),
    (2, 0, True), (2, 1, False), (2, 2, False),
])
def test_attempts(who, age, want):
    assert attempts(who, age) == want


def test_denials_at_the_attempt_rate_when_everyone_is_listed(tk):
    n, days = 20_000, 10
    sim = tk.simulate("national", {"population.agents": n, "days": days, "seed": 17,
                                   "policy.lists.blacklist.enter_below": 1e6,
                                   "policy.lists.blacklist.exit_at_or_above": 1e6,
                                   "policy.sanctions.property.attempt_rate": 0.002,
                                   "policy.sanctions.mortgage.attempt_rate": 0.002})
    assert all(r["listed_blacklist"] == n for r in sim.rows)
    age = (sim.world.attr >> 1) & 3
    children = int((age == AGE_CHILD).sum())
    sc = sim.scenario
    for kind, sanction in sc.policy.sanctions.items():
        eligible = children if kind == "private_school" else (
            n - children if sanction.attempted_by == "adults" else n)
        trials = eligible * days
        p = sanction.attempt_rate
        tk.close(tk.total(sim, f"denied_{kind}"), trials * p, tk.binom_sd(trials, p), kind)
    # everyone is sanctioned directly: nobody collaterally
    assert all(r["sanctioned"] == n and r["collateral_sanctioned"] == 0 for r in sim.rows)
    assert tk.total(sim, "collateral_denials") == 0


def test_social_service_only_for_the_blacklist(tk):
    """social_service lists only the blacklist: court-listed agents still get it."""
    sim = tk.simulate("national", {"population.agents": 6000, "days": 10, "seed": 3,
                                   "policy.lists.blacklist.enabled": False,
                                   "behaviours.court_default.rate": 0.05,
                                   "policy.sanctions.social_service.attempt_rate": 0.5,
                                   "policy.sanctions.flight.attempt_rate": 0.5})
    assert sim.rows[-1]["listed_court"] > 100
    assert tk.total(sim, "denied_social_service") == 0
    assert tk.total(sim, "denied_flight") > 0


def _collateral_expectation(sim) -> tuple[int, int, int]:
    """(unlisted children exposed through their household, unlisted exposed representatives,
    collateral sanctioned by the rules) from the state after a day."""
    w, s, p = sim.world, sim.state, sim.params
    age = (w.attr >> 1) & 3
    listed = (s.flags & F_LISTED) != 0
    hh = ((s.exposure & X_HH) != 0) & ~listed
    rep = ((s.exposure & X_REP) != 0) & ~listed
    sanctioned = np.zeros(w.n, bool)
    for k in range(len(p.sanction_names)):
        who = int(p.sanc_who[k])
        ok = np.ones(w.n, bool) if who == 0 else (age != 0 if who == 1 else age == 0)
        via = (hh & bool((p.hh_sanc_mask >> k) & 1)) | (rep & bool((p.rep_sanc_mask >> k) & 1))
        sanctioned |= ok & via
        # listed through others (recorded and twin list, not the own-conduct list): collateral
        own = own_listed.py_func(s.flags, s.own_flags)
        through = listed & ((s.flags & F_TLISTED) != 0) & ~own
        sanctioned |= ok & through & ((s.flags & int(p.sanc_lists[k])) != 0)
    return int((hh & (age == AGE_CHILD)).sum()), int(rep.sum()), int(sanctioned.sum())


def test_household_spillover_denies_children_school_places(tk):
    rate = 0.3
    sc = load_scenario("national", {"population.agents": 10_000, "days": 12, "seed": 21,
                                    "sensors.cameras.false_match_rate": 0.2,
                                    "policy.lists.blacklist.enter_below": 995,
                                    "policy.lists.blacklist.exit_at_or_above": 999,
                                    "policy.spillover.employer.representative_sanctions": [],
                                    "policy.sanctions.private_school.attempt_rate": rate})
    sim = Simulation(sc).build()
    exposed_child_days = 0
    for _ in range(sc.days):
        row = sim.step()
        children, _, collateral = _collateral_expectation(sim)
        exposed_child_days += children
        assert row["collateral_sanctioned"] == collateral
    assert exposed_child_days > 200
    # collateral denials through the household (those to agents listed through others aside)
    tk.close(tk.total(sim, "collateral_denials") - tk.total(sim, "denied_through_others"),
             rate * exposed_child_days,
             tk.binom_sd(exposed_child_days, rate), "school places denied to children")


def test_representatives_of_listed_businesses(tk):
    sc = load_scenario("national", {"population.agents": 10_000, "days": 12, "seed": 22,
                                    "sensors.cameras.false_match_rate": 0.2,
                                    # cameras, not plates, see the traffic acts (as written)
                                    "sensors.vehicles.enabled": False,
                                    "policy.lists.blacklist.enter_below": 995,
                                    "policy.lists.blacklist.exit_at_or_above": 999,
                                    "policy.lists.blacklist.min_days": 0,
                                    "policy.scoring.decay": 0.3,
                                    "policy.spillover.employer.business_enter_below": 999,
                                    "policy.spillover.employer.business_exit_at_or_above": 999.5,
                                    "policy.spillover.employer.representative_listed_points": 50,
                                    "policy.spillover.household.sanctions": []})
    sim = Simulation(sc).build()
    rep_days = 0
    for _ in range(sc.days):
        row = sim.step()
        _, reps, collateral = _collateral_expectation(sim)
        rep_days += reps
        assert row["collateral_sanctioned"] == collateral
    assert sum(r["businesses_listed"] for r in sim.rows) > 0 and rep_days > 0


def test_spillover_off_no_collateral(tk):
    sim = tk.simulate("national", {"population.agents": 6000, "days": 12, "seed": 21,
                                   "sensors.cameras.false_match_rate": 0.2,
                                   "policy.lists.blacklist.enter_below": 995,
                                   "policy.lists.blacklist.exit_at_or_above": 999,
                                   "policy.sanctions.private_school.attempt_rate": 0.5,
                                   "policy.spillover.enabled": False})
    assert sim.rows[-1]["listed"] > 100
    assert tk.total(sim, "denied_private_school") > 0  # listed children are still refused
    for r in sim.rows:
        assert r["collateral_sanctioned"] == 0 and r["collateral_denials"] == 0
        assert r["sanctioned"] <= r["listed"]


def test_denied_wrongful_only_for_wrongfully_listed(tk):
    z = tk.zero_identity_errors()
    sim = tk.simulate("national", {"population.agents": 6000, "days": 10, **z,
                                   "policy.lists.blacklist.enter_below": 995,
                                   "policy.lists.blacklist.exit_at_or_above": 999,
                                   "policy.sanctions.flight.attempt_rate": 0.5})
    assert sim.rows[-1]["listed"] > 100 and tk.total(sim, "denied_flight") > 0
    assert tk.total(sim, "denied_wrongful") == 0
    hi = tk.simulate("national", {"population.agents": 6000, "days": 10, **tk.HIGH_FMR,
                                  "policy.sanctions.flight.attempt_rate": 0.5})
    assert tk.total(hi, "misattributed_events") > 0 and hi.rows[-1]["wrongful_listed"] > 0
    assert tk.total(hi, "denied_wrongful") > 0
