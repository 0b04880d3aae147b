"""The engine: invariants after every day (Hypothesis over small random scenarios),
common random numbers, chunking, threads and the profiled (per-stage) plan."""

from __future__ import annotations

import math
import os
import time

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab.engine import STAGES, Simulation, household_chunks, set_threads
from scslab.events import EV_DENIAL
from scslab.scenario import load_scenario, preset_names
from scslab.state import (
    B_LISTED,
    B_TLISTED,
    F_BL,
    F_CT,
    F_LISTED,
    F_RED,
    F_TBL,
    F_TCT,
    F_TLISTED,
    X_EMP,
    X_HH,
    X_REP,
    X_TEMP,
    X_THH,
    X_TIE,
    X_TREP,
    X_TTIE,
)

# --------------------------------------------------------------------------- the checker


def _tie_counts(world, listed: np.ndarray) -> np.ndarray:
    """For each agent, how many of its ties are in ``listed``."""
    deg = np.diff(world.tie_ptr)
    src = np.repeat(np.arange(world.n), deg)
    out = np.zeros(world.n, np.int64)
    np.add.at(out, src, listed[world.tie_idx.astype(np.int64)].astype(np.int64))
    return out


class Checker:
    """Checks the state and the day's row after each ``step`` against the rules."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        sc = sim.scenario
        self.sc = sc
        g = sc.governance
        self.due_process = g.appeals.enabled or g.expiry.enabled or g.credit_repair.enabled
        self.n_events = 0

    def before(self) -> None:
        s = self.sim.state
        self.flags0 = s.flags.copy()
        self.lt0 = s.listed_ties.copy()
        self.ltt0 = s.listed_ties_twin.copy()
        self.bflags0 = s.b_flags.copy()

    def after(self) -> None:
        sim, sc = self.sim, self.sc
        w, s, p = sim.world, sim.state, sim.params
        day = sim.day
        row = sim.rows[-1]
        n = w.n
        # one row per day
        assert len(sim.rows) == day and row["day"] == day
        # scores within bounds, both ledgers
        lo, hi = sc.policy.scoring.minimum, sc.policy.scoring.maximum
        for arr in (s.score, s.twin):
            assert np.all(np.isfinite(arr))
            assert arr.min() >= np.float32(lo) and arr.max() <= np.float32(hi), (
                arr.min(), arr.max(), lo, hi)
        f = s.flags
        bl, ct = (f & F_BL) != 0, (f & F_CT) != 0
        tbl, tct = (f & F_TBL) != 0, (f & F_TCT) != 0
        listed, tlisted = (f & F_LISTED) != 0, (f & F_TLISTED) != 0
        # list counts
        assert row["listed"] == int(listed.sum())
        assert row["listed_blacklist"] == int(bl.sum())
        assert row["listed_court"] == int(ct.sum())
        assert row["listed"] == row["listed_blacklist"] + row["listed_court"] - int((bl & ct).sum())
        assert row["listed"] <= row["listed_blacklist"] + row["listed_court"]
        assert row["true_listed"] == int(tlisted.sum())
        assert row["wrongful_listed"] == int((listed & ~tlisted).sum())
        assert 0 <= row["wrongful_listed"] <= row["listed"]
        assert row["redlisted"] == int(((f & F_RED) != 0).sum())
        lists = sc.policy.lists
        if not lists.blacklist.enabled:
            assert not bl.any() and not tbl.any()
        if not lists.court.enabled:
            assert not ct.any() and not tct.any()
        if not lists.redlist.enabled:
            assert row["redlisted"] == 0
        # blacklist thresholds and hysteresis, on both ledgers
        b = lists.blacklist
        if b.enabled:
            for score, on, since in ((s.score, bl, s.bl_since), (s.twin, tbl, s.tbl_since)):
                assert np.all(on[score < np.float32(b.enter_below)]), "below enter, not listed"
                if not sc.governance.credit_repair.enabled:
                    served = (day - since.astype(np.int64)) >= b.min_days
                    stay = on & (score >= np.float32(b.exit_at_or_above)) & served
                    assert not stay.any(), "at or above exit and served, still listed"
        # court list: a fixed term
        if lists.court.enabled:
            assert np.all(s.ct_until[ct].astype(np.int64) > day)
            assert np.all(s.tct_until[tct].astype(np.int64) > day)
        # redlist by score (the due-process stage may move a score after listing)
        if lists.redlist.enabled and not self.due_process:
            np.testing.assert_array_equal((f & F_RED) != 0,
                                          s.score >= np.float32(lists.redlist.min_score))
        # listed-tie counters match the lists
        if w.has_ties:
            np.testing.assert_array_equal(s.listed_ties, _tie_counts(w, listed))
            np.testing.assert_array_equal(s.listed_ties_twin, _tie_counts(w, tlisted))
        # exposure from start-of-day lists
        spill = sc.policy.spillover.enabled
        x = s.exposure
        if not spill:
            assert not x.any()
            assert row["collateral_sanctioned"] == 0 and row["collateral_denials"] == 0
            assert row["exposed_household"] == 0 and row["exposed_ties"] == 0
            assert row["spillover_penalised"] == 0
        else:
            hh = np.arange(n) - w.hh_off
            for fl, bit in ((F_LISTED, X_HH), (F_TLISTED, X_THH)):
                on = (self.flags0 & fl) != 0
                per_hh = np.bincount(hh, weights=on, minlength=n)
                other = per_hh[hh] - on > 0
                np.testing.assert_array_equal((x & bit) != 0, other)
            np.testing.assert_array_equal((x & X_TIE) != 0, self.lt0 > 0)
            np.testing.assert_array_equal((x & X_TTIE) != 0, self.ltt0 > 0)
            emp = w.employer.astype(np.int64)
            has = emp >= 0
            rep = np.zeros(n, bool)
            reps = w.biz_rep[w.biz_rep >= 0]
            rep[reps] = True
            for bbit, ebit, rbit in ((B_LISTED, X_EMP, X_REP), (B_TLISTED, X_TEMP, X_TREP)):
                blisted = np.zeros(n, bool)
                blisted[has] = (self.bflags0[emp[has]] & bbit) != 0
                np.testing.assert_array_equal((x & ebit) != 0, blisted & ~rep)
                np.testing.assert_array_equal((x & rbit) != 0, blisted & rep)
            assert row["exposed_household"] == int(((x & X_HH) != 0).sum())
            assert row["exposed_ties"] == int(((x & X_TIE) != 0).sum())
        # acts, observations, misattributions
        acts = sum(row[f"acts_{b}"] for b in p.behaviour_names)
        assert 0 <= row["misattributed_events"] + row["reversed_events"] <= row["observed_events"]
        assert row["observed_events"] <= acts
        # stocks against the state
        assert math.isclose(row["mean_score"], float(s.score.astype(np.float64).mean()),
                            rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(row["mean_true_score"], float(s.twin.astype(np.float64).mean()),
                            rel_tol=1e-9, abs_tol=1e-9)
        assert sum(row[f"grade_{g}"] for g in p.grade_names) == n
        assert sum(row[f"listed__{g}"] for g in p.group_names) == row["listed"]
        assert sum(row[f"wrongful_listed__{g}"] for g in p.group_names) == row["wrongful_listed"]
        assert (sum(row[f"misattributed__{g}"] for g in p.group_names)
                == row["misattributed_events"])
        qs = [row[f"score_p{q:02d}"] for q in (5, 25, 50, 75, 95)]
        assert qs == sorted(qs)
        assert row["sanctioned"] >= row["collateral_sanctioned"]
        if not self.due_process:  # the lists are still those the sanctions stage saw
            # collateral sanctions fall only on the unlisted, the others only on the listed
            assert row["collateral_sanctioned"] <= n - row["listed"]
            assert row["sanctioned"] - row["collateral_sanctioned"] <= row["listed"]
        # denials: for the listed, or through spillover
        self._check_denials(row)

    def _check_denials(self, row) -> None:
        sim = self.sim
        p = sim.params
        if sim.log_frac < 1:
            return
        table = sim.log.table()
        day_col = table.column("day").to_numpy()
        kind = table.column("kind").to_numpy()
        sel = (day_col == sim.day) & (kind == EV_DENIAL)
        agent = table.column("agent").to_numpy()[sel]
        code = table.column("code").to_numpy()[sel]
        reason = table.column("sensor").to_numpy()[sel]
        total = sum(row[f"denied_{k}"] for k in p.sanction_names)
        assert agent.size == total, (agent.size, total)
        for k, name in enumerate(p.sanction_names):
            assert int((code == k).sum()) == row[f"denied_{name}"]
        assert int((reason != 0).sum()) == row["collateral_denials"]
        f = sim.state.flags[agent]
        x = sim.state.exposure[agent]
        if not self.sc.policy.spillover.enabled:
            assert np.all(reason == 0), "a sanction without listing while spillover is off"
        own = reason == 0
        if not self.due_process:  # flags are still those the sanctions stage saw
            assert np.all((f[own] & p.sanc_lists[code[own]]) != 0)
        hh = reason == 1
        assert np.all((x[hh] & X_HH) != 0)
        assert np.all((p.hh_sanc_mask >> code[hh].astype(np.int64)) & 1)
        via_rep = reason == 2
        assert np.all((x[via_rep] & X_REP) != 0)
        assert np.all((p.rep_sanc_mask >> code[via_rep].astype(np.int64)) & 1)


def run_checked(sc) -> Simulation:
    sim = Simulation(sc).build()
    chk = Checker(sim)
    for _ in range(sc.days):
        chk.before()
        sim.step()
        chk.after()
    return sim


# --------------------------------------------------------------------------- Hypothesis


@st.composite
def small_scenarios(draw):
    base = draw(st.sampled_from(["national", "transparent", "rm1"]))
    enter = draw(st.floats(850, 1000))
    over = {
        "population.agents": draw(st.integers(30, 3000)),
        "days": draw(st.integers(1, 15)),
        "seed": draw(st.integers(0, 2**40)),
        "output.event_log.enabled": True,
        "sensors.cameras.false_match_rate": draw(st.sampled_from([0.0, 0.01, 0.3, 1.0])),
        "sensors.cameras.detection": draw(st.floats(0.0, 1.0)),
        "policy.lists.blacklist.enabled": draw(st.booleans()),
        "policy.lists.blacklist.enter_below": enter,
        "policy.lists.blacklist.exit_at_or_above": enter + draw(st.floats(0, 60)),
        "policy.lists.blacklist.min_days": draw(st.integers(0, 5)),
        "policy.scoring.decay": draw(st.floats(0.0, 0.05)),
        "policy.spillover.enabled": draw(st.booleans()),
        "policy.rules.smoking": draw(st.floats(-200, 0)),
        "behaviours.smoking.rate": draw(st.floats(0.0, 0.1)),
    }
    if base != "rm1":
        over.update({
            "behaviours.court_default.rate": draw(st.sampled_from([0.0, 0.001, 0.01])),
            "policy.lists.court.enabled": draw(st.booleans()),
            "policy.lists.court.term_days": draw(st.integers(1, 10)),
            "policy.lists.redlist.min_score": draw(st.floats(1000, 1300)),
            "policy.spillover.household.penalty": draw(st.floats(0, 20)),
            "policy.spillover.ties.penalty": draw(st.floats(0, 5)),
            "governance.appeals.enabled": draw(st.booleans()),
            "governance.appeals.review_delay_days": draw(st.integers(0, 4)),
            "governance.expiry.enabled": draw(st.booleans()),
            "governance.expiry.days": draw(st.integers(1, 10)),
            "governance.credit_repair.enabled": draw(st.booleans()),
            "governance.evidence_review.enabled": draw(st.booleans()),
        })
    return load_scenario(base, over)


@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_invariants_hold_every_day(sc):
    run_checked(sc)


@pytest.mark.parametrize("preset", preset_names())
def test_invariants_on_presets(preset):
    """Every shipped preset runs (STYLE.md: presets are executed by the test suite)."""
    sim = run_checked(load_scenario(preset, {"population.agents": 3000, "days": 15,
                                             "output.event_log.enabled": True}))
    assert len(sim.rows) == 15


def test_invariants_with_many_listings():
    """Thresholds that list many people: every list and spillover channel is busy."""
    sc = load_scenario("national", {
        "population.agents": 3000, "days": 12, "seed": 4,
        "sensors.cameras.false_match_rate": 0.3,
        "policy.lists.blacklist.enter_below": 995, "policy.lists.blacklist.exit_at_or_above": 999,
        "policy.lists.blacklist.min_days": 2,
        "behaviours.court_default.rate": 0.005, "policy.lists.court.term_days": 4,
        "policy.spillover.employer.business_enter_below": 990,
        "policy.spillover.employer.business_exit_at_or_above": 995,
        "policy.sanctions.private_school.attempt_rate": 0.2,
        "policy.sanctions.flight.attempt_rate": 0.1,
    })
    sim = run_checked(sc)
    last = sim.rows[-1]
    assert last["listed"] > 100 and last["wrongful_listed"] > 0
    assert last["exposed_household"] > 0 and last["exposed_ties"] > 0
    assert sum(r["collateral_denials"] for r in sim.rows) > 0
    assert sum(r["businesses_listed"] for r in sim.rows) > 0
    assert sum(r["listed_court"] for r in sim.rows) > 0


def test_scores_stay_below_maximum_when_exit_threshold_is_above_it():
    sc = load_scenario("transparent", {
        "population.agents": 2000, "days": 6,
        "policy.scoring.maximum": 1010, "policy.lists.blacklist.enter_below": 1005,
        "policy.lists.blacklist.exit_at_or_above": 1050, "governance.expiry.days": 2})
    sim = Simulation(sc).build()
    for _ in range(sc.days):
        sim.step()
        assert sim.state.score.max() <= 1010 and sim.state.twin.max() <= 1010


# --------------------------------------------------------------------------- the day plan


def test_stages_are_the_order_a_profiled_day_runs_them_in():
    """``STAGES`` is what a profiled day actually does: the stages in the order each is
    first timed (some are timed twice a day, e.g. sensing and the data flows abroad), and
    no other stage."""
    sim = Simulation(load_scenario("national", {"population.agents": 500, "days": 2}),
                     profile=True).build()
    laps: list[str] = []
    lap = sim._lap

    def recording_lap(stage: str, t0: float) -> float:
        laps.append(stage)
        return lap(stage, t0)

    sim._lap = recording_lap
    sim.step()
    assert tuple(dict.fromkeys(laps)) == STAGES, laps
    one_day = list(laps)
    sim.step()
    assert laps == one_day * 2  # the same plan every day


PLAN_CASES = {
    "transparent": ("transparent", {"population.agents": 3000, "days": 10,
                                    "sensors.cameras.false_match_rate": 0.2}),
    # thresholds close to the base score: quiet blocks cross them every day
    "rm1-tight-lists": ("rm1", {"population.agents": 20000, "days": 40,
                                "policy.lists.blacklist.enter_below": 992,
                                "policy.lists.blacklist.exit_at_or_above": 996}),
    "rm1-redlist": ("rm1", {"population.agents": 20000, "days": 30,
                            "policy.lists.redlist.enabled": True,
                            "policy.lists.redlist.min_score": 1002}),
    "national": ("national", {"population.agents": 8000, "days": 15}),
    "rongcheng": ("rongcheng", {"population.agents": 6000, "days": 15}),
    "court-blacklist": ("court-blacklist", {"population.agents": 6000, "days": 15}),
}


@pytest.mark.parametrize("case", list(PLAN_CASES))
def test_profiled_plan_gives_identical_results(case):
    """One pass per stage through the per-agent functions (timed) and the fused pass —
    which settles quiet household blocks in vectorized loops — give the same days and
    the same state, bit for bit."""
    name, over = PLAN_CASES[case]
    sc = load_scenario(name, over)
    fused = Simulation(sc).build()
    fused_seconds = _timed_run(fused)
    prof = Simulation(sc, profile=True).build()
    prof_seconds = _timed_run(prof)
    assert _rows_equal(fused.rows, prof.rows)
    for field_name, arr in fused.state.arrays().items():
        np.testing.assert_array_equal(arr, getattr(prof.state, field_name), err_msg=field_name)
    # The profiled plan times every stage on its own and never the fused "settle" pass;
    # the fused plan times settle instead of the stages it fuses (listing, sanctions,
    # due process), which stay at exactly zero.
    fused_stages = {"listing", "sanctions", "due_process"}
    assert all(prof.stage_seconds[s] > 0 for s in STAGES), prof.stage_seconds
    assert prof.stage_seconds["settle"] == 0.0
    for stage, seconds in fused.stage_seconds.items():
        assert (seconds > 0) == (stage not in fused_stages), (stage, fused.stage_seconds)
    # The laps are disjoint intervals inside the day loop, so they cannot add up to more
    # than the loop took (the slack covers rounding of the float sums only).
    for sim, loop in ((prof, prof_seconds), (fused, fused_seconds)):
        assert sum(sim.stage_seconds.values()) <= loop + 1e-6, (sim.stage_seconds, loop)
    # the fused run did take the quiet path (else this test would prove nothing about it)
    assert fused.quiet_agent_days > 0 and prof.quiet_agent_days == 0


def _timed_run(sim: Simulation) -> float:
    """Run to the end; the wall-clock seconds of the day loop."""
    t0 = time.perf_counter()
    sim.run()
    return time.perf_counter() - t0


def test_rm1_is_settled_mostly_on_the_quiet_path():
    sc = load_scenario("rm1", {"population.agents": 20000, "days": 30})
    sim = Simulation(sc).build()
    sim.run()
    assert sim.quiet_agent_days / (20000 * 30) > 0.95


def _rows_equal(a: list[dict], b: list[dict]) -> bool:
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if ra.keys() != rb.keys():
            return False
        for k in ra:
            x, y = ra[k], rb[k]
            if isinstance(x, float) and math.isnan(x):
                if not (isinstance(y, float) and math.isnan(y)):
                    return False
            elif x != y:
                return False
    return True


def test_run_days_and_stop():
    sc = load_scenario("rm1", {"population.agents": 300, "days": 10})
    sim = Simulation(sc).build()
    assert sim.run(days=4) is True and sim.day == 4
    seen = []

    def on_day(s, row):
        seen.append(row["day"])
        return False if s.day == 6 else None

    assert sim.run(on_day=on_day) is False
    assert sim.day == 6 and seen == [5, 6]
    assert sim.run() is True and sim.day == 10
    assert [r["day"] for r in sim.rows] == list(range(1, 11))


def test_step_by_step_equals_run():
    sc = load_scenario("national", {"population.agents": 2000, "days": 8})
    a = Simulation(sc).build()
    a.run()
    b = Simulation(sc).build()
    for _ in range(8):
        b.step()
    assert _rows_equal(a.rows, b.rows)


def test_household_chunks_cover_population_at_household_starts():
    sc = load_scenario("national", {"population.agents": 5000})
    sim = Simulation(sc).build()
    w = sim.world
    for target in (1, 7, 100, 1000, 16384):
        starts, ends = household_chunks(w, target)
        assert starts[0] == 0 and ends[-1] == w.n
        np.testing.assert_array_equal(starts[1:], ends[:-1])
        assert np.all(ends > starts)
        assert np.all(w.hh_off[starts] == 0)


def test_set_threads():
    try:
        assert set_threads(1) == 1
        assert set_threads(None) == 1
        assert set_threads(10_000) == numba.config.NUMBA_NUM_THREADS
    finally:
        set_threads(numba.config.NUMBA_NUM_THREADS)


def test_bytes_per_agent_is_narrow():
    sim = Simulation(load_scenario("rm1", {"population.agents": 3000})).build()
    bpa = sim.bytes_per_agent()
    assert bpa["state"] <= 64 and bpa["attributes"] <= 16
    assert sim.state.score.dtype == np.float32 and sim.state.flags.dtype == np.uint8


# --------------------------------------------------------------------------- threads

NUMBA_THREADS = numba.config.NUMBA_NUM_THREADS


@pytest.mark.skipif(NUMBA_THREADS < 2, reason=(
    f"Numba has {NUMBA_THREADS} thread(s) here (NUMBA_NUM_THREADS; os.cpu_count() = "
    f"{os.cpu_count()}): a 1-thread and a 2-thread run would be the same run"))
def test_threads_do_not_change_results():
    sc = load_scenario("national", {"population.agents": 40_000, "days": 6,
                                    "sensors.cameras.false_match_rate": 0.3,
                                    "policy.lists.blacklist.enter_below": 995,
                                    "policy.lists.blacklist.exit_at_or_above": 999})
    rows = []
    try:
        for t in (1, 2):
            sim = Simulation(sc, threads=t).build()
            assert sim.threads == t and numba.get_num_threads() == t
            assert sim.n_chunks >= 2 * t  # enough chunks for every thread to get work
            sim.run()
            assert numba.get_num_threads() == t  # nothing reset it during the run
            rows.append((sim.rows, sim.state.score.copy(), sim.log.table()))
    finally:
        set_threads(NUMBA_THREADS)
    assert _rows_equal(rows[0][0], rows[1][0])
    np.testing.assert_array_equal(rows[0][1], rows[1][1])
    assert rows[0][2].equals(rows[1][2])


# --------------------------------------------------------------------------- common random numbers


def _run_rows(sc) -> list[dict]:
    sim = Simulation(sc).build()
    sim.run()
    return sim.rows


def test_changing_sanctions_does_not_move_behaviour():
    """One stream's draws don't move another's: sanctions never feed back into acts."""
    base = load_scenario("national", {"population.agents": 3000, "days": 10,
                                      "policy.lists.blacklist.enter_below": 990,
                                      "policy.lists.blacklist.exit_at_or_above": 995})
    other = load_scenario(base, {"policy.sanctions.flight.attempt_rate": 0.5,
                                 "policy.sanctions.train.attempt_rate": 0.0})
    a, b = _run_rows(base), _run_rows(other)
    same = ["listed", "mean_score", "observed_events", "misattributed_events",
            *[k for k in a[0] if k.startswith("acts_")]]
    for ra, rb in zip(a, b, strict=True):
        for k in same:
            assert ra[k] == rb[k], k
    assert sum(r["denied_flight"] for r in b) > sum(r["denied_flight"] for r in a)
    assert sum(r["denied_train"] for r in b) == 0


def test_worlds_one_more_act_one_more_consequence():
    """Raising one act's rate adds acts of that kind only; the others are the same draws."""
    over = {"population.agents": 20_000, "days": 5, "policy.lists.blacklist.enabled": False,
            "output.event_log.enabled": True}
    lo = Simulation(load_scenario("rm1", over)).build()
    lo.run()
    hi = Simulation(load_scenario("rm1", {**over, "behaviours.smoking.rate": 0.006})).build()
    hi.run()
    for ra, rb in zip(lo.rows, hi.rows, strict=True):
        assert ra["acts_community_service"] == rb["acts_community_service"]
        assert ra["acts_fraud"] == rb["acts_fraud"]
        assert rb["acts_smoking"] >= ra["acts_smoking"]
    assert sum(r["acts_smoking"] for r in hi.rows) > sum(r["acts_smoking"] for r in lo.rows)
    # every recorded act of the low-rate world is in the high-rate world (superset)
    ta = lo.log.table().to_pandas()
    tb = hi.log.table().to_pandas()
    key = ["day", "agent", "kind", "code", "other", "sensor"]
    merged = ta[key].merge(tb[key], how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert len(tb) > len(ta)


def test_same_seed_same_rows_different_seed_different():
    sc = load_scenario("national", {"population.agents": 3000, "days": 6})
    a, b = _run_rows(sc), _run_rows(sc)
    assert _rows_equal(a, b)
    c = _run_rows(load_scenario(sc, {"seed": sc.seed + 1}))
    assert not _rows_equal(a, c)


# --------------------------------------------------------------------------- build phases


def test_build_reports_its_phases_in_order():
    from scslab.engine import PHASE_COMPILING, PHASE_POPULATION, PHASE_RUNNING

    sc = load_scenario("rm1", {"population.agents": 3000, "days": 2})
    Simulation(sc).build().run()  # kernels compiled (or loaded) in this process
    seen: list[str] = []
    sim = Simulation(sc).build(on_phase=seen.append)
    # nothing left to compile: no "compiling" phase, and the build ends ready to run
    assert seen == [PHASE_POPULATION, PHASE_RUNNING]
    assert PHASE_COMPILING not in seen
    # the callback changes nothing else
    sim.run()
    ref = Simulation(sc).build()
    ref.run()
    assert _rows_equal(sim.rows, ref.rows)


def test_phase_reporter_reports_compiling_once_and_only_for_real_compiles():
    from scslab.engine import PHASE_COMPILING, PHASE_POPULATION, _PhaseReporter

    def fresh():  # a new function: Numba must compile it (no cache)
        return numba.njit(lambda x: x + 1)

    seen: list[str] = []
    with _PhaseReporter(seen.append) as phase:
        f = fresh()
        f(1)
        f(1.5)  # a second compile (another signature): reported once only
        phase(PHASE_POPULATION)
        phase(PHASE_POPULATION)
    assert seen == [PHASE_COMPILING, PHASE_POPULATION]
    fresh()(1)  # after the build: not reported
    assert seen == [PHASE_COMPILING, PHASE_POPULATION]

    # compiling on another thread is not the build's
    import threading

    other: list[str] = []
    with _PhaseReporter(other.append):
        t = threading.Thread(target=lambda: fresh()(2))
        t.start()
        t.join()
    assert other == []

    # without a callback nothing is installed and nothing is called
    with _PhaseReporter(None) as phase:
        phase(PHASE_POPULATION)
        fresh()(3)


# --------------------------------------------------------------------------- kernel calls


def test_call_skips_the_dispatcher_only_for_a_one_signature_kernel():
    from types import SimpleNamespace

    from scslab.stages.common import Context

    @numba.njit
    def one(x):
        return x + 1

    @numba.njit
    def two(x):
        return x * 2

    ctx = SimpleNamespace(entry={})
    assert Context.call(ctx, one, 1) == 2  # the first call goes through the dispatcher
    assert one in ctx.entry and Context.call(ctx, one, 41) == 42
    two(1.5)  # a second signature: always dispatched
    assert Context.call(ctx, two, 3) == 6 and two not in ctx.entry
    assert Context.call(ctx, two, 1.5) == 3.0


def test_kernels_take_narrow_groups_of_the_runs_own_arrays():
    from scslab.stages import behaviour, listing, scoring, sensing, settle, spillover
    from scslab.stages.common import pick

    sim = Simulation(load_scenario("national", {"population.agents": 3000, "days": 2})).build()
    sim.run()
    ctx = sim.ctx
    wide = (ctx.tables, ctx.people, ctx.agents, ctx.work)
    members = 0
    for groups in (behaviour.GROUPS, sensing.GROUPS, scoring.GROUPS, settle.GROUPS,
                   spillover.GROUPS, listing.TIE_GROUPS):
        for g, got in zip(groups, ctx.groups(*groups), strict=True):
            assert type(got) is g
            for name in g._fields:  # the same arrays, not copies
                assert any(name in w._fields and getattr(w, name) is getattr(got, name)
                           for w in wide)
            members += len(g._fields)
        assert ctx.groups(*groups) is ctx.groups(*groups)  # picked once per run
    assert members < sum(len(w) for w in wide) * 2
    # after the first day each kernel of the day went straight to its one signature
    assert {behaviour.behaviour_kernel, sensing.sensing_kernel, scoring.apply_events,
            settle.settle_kernel} <= set(ctx.entry)
    with pytest.raises(AttributeError):
        pick(settle.SettleTables, ctx.people)
