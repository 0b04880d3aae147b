"""The own-conduct ledger: the twin without spillover penalties (DESIGN.md §4).

Listed through others = on the recorded and the twin's list, not on the own-conduct list.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

import scslab
from scslab.engine import Simulation
from scslab.explanation import explain_agent
from scslab.scenario import load_scenario
from scslab.state import F_LISTED, F_TLISTED, O_BL, own_listed

AGENTS, DAYS, SEED = 4000, 120, 3
# harsher spillover than national's, so that a small run lists people through others
HARSH = {"policy.spillover.household.penalty": 6.0, "policy.spillover.ties.penalty": 2.0,
         # the realisation these tests were written on (few listings at this size): vehicle
         # recognition, on in national, moves the draws (tests/stages/test_sensing_targets.py)
         "sensors.vehicles.enabled": False}


def _sim(sets: dict) -> Simulation:
    sc = load_scenario("national", {"population.agents": AGENTS, "days": DAYS, "seed": SEED,
                                    **sets})
    sim = Simulation(sc).build()
    sim.run()
    return sim


@pytest.fixture(scope="module")
def spill() -> Simulation:
    return _sim(HARSH)


@pytest.fixture(scope="module")
def no_spill() -> Simulation:
    return _sim({**HARSH, "policy.spillover.enabled": False})


def _last(sim: Simulation) -> dict:
    return sim.rows[-1]


def test_without_spillover_the_own_ledger_is_the_twin(no_spill):
    s = no_spill.state
    assert np.array_equal(s.own, s.twin)
    assert np.array_equal((s.own_flags & O_BL) != 0, (s.flags & 8) != 0)  # F_TBL
    for row in no_spill.rows:
        assert row["own_listed"] == row["true_listed"]
        assert row["listed_through_others"] == 0
        assert row["denied_through_others"] == 0


def test_spillover_lists_people_through_others(spill):
    row = _last(spill)
    assert row["listed_through_others"] > 0
    assert row["own_listed"] < row["true_listed"]
    assert sum(row[f"listed_through_others__{g}"] for g in spill.params.group_names) \
        == row["listed_through_others"]


def test_daily_counts_match_the_state(spill):
    s, row = spill.state, _last(spill)
    rec = (s.flags & F_LISTED) != 0
    twin = (s.flags & F_TLISTED) != 0
    own = own_listed.py_func(s.flags, s.own_flags)
    assert row["own_listed"] == int(own.sum())
    assert row["listed_through_others"] == int((rec & twin & ~own).sum())
    assert row["wrongful_listed"] == int((rec & ~twin).sum())
    # the recorded list splits into wrongful, through others and own conduct
    assert row["listed"] == row["wrongful_listed"] + row["listed_through_others"] \
        + int((rec & twin & own).sum())


def test_own_score_never_pays_spillover(spill):
    # the own-conduct ledger gets the twin's points and no penalty, and scoring is monotone in
    # the score: without expiry or repair (national has neither) it is never below the twin
    gov = spill.scenario.governance
    assert not gov.expiry.enabled and not gov.credit_repair.enabled
    s = spill.state
    assert (s.own >= s.twin).all()
    assert (s.own > s.twin).sum() > 0
    assert spill.rows[-1]["spillover_penalised"] > 0


def test_collateral_counts_denials_through_others(spill):
    total_through = sum(r["denied_through_others"] for r in spill.rows)
    total_coll = sum(r["collateral_denials"] for r in spill.rows)
    assert total_through > 0
    assert total_coll >= total_through
    row = _last(spill)
    assert row["collateral_sanctioned"] >= min(row["listed_through_others"], 1)


def test_state_stays_within_52_bytes_per_agent(spill):
    bpa = spill.bytes_per_agent()
    assert bpa["state"] + bpa["attributes"] <= 52


def test_explain_names_the_ledger_and_the_cause(tmp_path):
    sets = {**HARSH, "output.event_log.full_below": 10_000_000}
    res = scslab.run("national", agents=AGENTS, days=DAYS, seed=SEED, set=sets,
                     out=tmp_path / "run", save_agents=True)
    agents = pq.read_table(res.run_dir / "agents.parquet").to_pandas()
    through = agents.agent[agents.listed_through_others].tolist()
    assert through, "the run must list someone through others"
    ex = explain_agent(res.run_dir, int(through[0]))
    found = [f for f in ex.findings if f.startswith("Listed through others")]
    assert found, ex.findings
    assert "points a day" in found[0] and "listed since day" in found[0]
    own = agents.agent[(agents.blacklisted | agents.court_listed)
                       & (agents.own_blacklisted | agents.true_court_listed)].tolist()
    if own:
        ex = explain_agent(res.run_dir, int(own[0]))
        assert any(f.startswith("Listed by its own conduct") for f in ex.findings), ex.findings
