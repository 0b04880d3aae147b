"""Sensing: coverage × detection, identity errors (false matches), classification,
scope and evidence review — against expected values with binomial tolerances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scslab import rng
from scslab.events import EV_ACT, EV_ACT_ELSEWHERE, EV_REVERSED
from scslab.population import pack_attr
from scslab.stages.sensing import classify, pick_target

N, DAYS = 20_000, 8
ONE_REGION = [{"name": "all", "share": 1.0, "cameras_per_1000": 100}]


@pytest.fixture(scope="module")
def national(tk):
    """One region (so acts and observations can be paired per behaviour), frequent errors."""
    over = {"population.agents": N, "days": DAYS, "seed": 31, "population.regions": ONE_REGION,
            "output.event_log.enabled": True,
            "sensors.cameras.false_match_rate": 0.05,
            "sensors.cameras.group_multipliers": {"minority": 10, "foreign": 30},
            "sensors.phone_scanners.false_match_rate": 0.02,
            "sensors.payment_records.false_match_rate": 0.01,
            "sensors.online_monitoring.false_match_rate": 0.02}
    sim = tk.simulate("national", over)
    return sim, tk.events(sim)


# --------------------------------------------------------------------------- classify


def test_classify_perfect_and_always_wrong():
    for h in (0, 1, 12345, 2**63, 2**64 - 1):
        for sex in (0, 1):
            for age in (0, 1, 2):
                assert classify(np.uint64(h), sex, age, 1.0, 1.0) == (sex, age)
                s, a = classify(np.uint64(h), sex, age, 0.0, 0.0)
                assert s == 1 - sex and a != age and 0 <= a <= 2


def test_classify_accuracy(tk):
    key = rng.stream_key(1, "classify-test")
    n = 20_000
    ok_sex = ok_age = 0
    for i in range(n):
        s, a = classify(np.uint64(rng.agent_hash(key, i, 0)), 1, 1, 0.9, 0.7)
        ok_sex += s == 1
        ok_age += a == 1
    tk.close(ok_sex, 0.9 * n, tk.binom_sd(n, 0.9), "sex accuracy")
    tk.close(ok_age, 0.7 * n, tk.binom_sd(n, 0.7), "age accuracy")


# --------------------------------------------------------------------------- pick_target


def _attrs(n: int, seed: int = 3) -> np.ndarray:
    r = np.random.default_rng(seed)
    return pack_attr(r.integers(0, 2, n), r.integers(0, 3, n), r.integers(0, 3, n)).astype(
        np.uint8)


def test_pick_target_never_the_actor_and_in_range():
    attr = _attrs(1000)
    key = rng.day_key(1, "sensing", 1)
    for actor in range(200, 400):
        for use_attrs in (False, True):
            t = pick_target(key, actor, 2, attr, 100, 600, 1, 1, 0, use_attrs, True)
            assert 100 <= t < 600 and t != actor


def test_pick_target_prefers_look_alikes():
    """Half the agents look like the actor (same sex, age and group): one is chosen; when
    nobody shares the group, the group is relaxed but sex and age are kept."""
    r = np.random.default_rng(5)
    n = 2000
    attr = pack_attr(r.integers(0, 2, n), np.ones(n, np.int64), np.zeros(n, np.int64)).astype(
        np.uint8)
    key = rng.day_key(2, "sensing", 5)
    for actor in range(0, 300):
        want_sex = actor % 2
        t = pick_target(key, actor, 1, attr, 0, n, want_sex, 1, 0, True, True)
        assert (int(attr[t]) & 1, (int(attr[t]) >> 1) & 3, int(attr[t]) >> 3) == (want_sex, 1, 0)
        t = pick_target(key, actor, 1, attr, 0, n, want_sex, 1, 7, True, True)
        assert (int(attr[t]) & 1, (int(attr[t]) >> 1) & 3) == (want_sex, 1)
        assert t != actor


def test_pick_target_single_agent_range_returns_actor():
    attr = _attrs(10)
    assert pick_target(rng.day_key(1, "sensing", 1), 4, 0, attr, 4, 5, 0, 0, 0, True, True) == 4


def test_pick_target_uniform_without_attributes(tk):
    attr = _attrs(50)
    key = rng.day_key(9, "sensing", 2)
    hits = np.zeros(50, np.int64)
    for actor in range(50):
        for b in range(200):
            hits[pick_target(key, actor, b, attr, 0, 50, 0, 0, 0, False, False)] += 1
    # each agent is a target of the 49 others, each uniform over 49 agents
    total = 50 * 200
    for c in hits:
        tk.close(int(c), total / 50, tk.binom_sd(total, 1 / 50), "uniform target")


# --------------------------------------------------------------------------- observation rates


def _p_observed(sc, behaviour: str) -> float:
    unseen = 1.0
    reg = sc.population.regions[0]
    for _, s in sc.sensors.items():
        if not (s.enabled and behaviour in s.observes):
            continue
        cov = s.coverage
        if getattr(s, "density_coverage", False):
            cov = 1 - math.exp(-reg.cameras_per_1000 / s.saturation_per_1000)
        unseen *= 1 - cov * s.detection
    return 1 - unseen


def test_observed_per_behaviour(national, tk):
    sim, ev = national
    sc = sim.scenario
    acts = ev[ev.kind == EV_ACT]
    assert len(acts) == tk.total(sim, "observed_events")
    for b, name in enumerate(sim.params.behaviour_names):
        n = tk.total(sim, f"acts_{name}")
        p = _p_observed(sc, name)
        obs = int((acts.code == b).sum())
        if p == 0:
            assert obs == 0, name
        else:
            tk.close(obs, n * p, tk.binom_sd(n, p), f"observed {name}")


def test_false_matches_per_sensor_and_group(national, tk):
    sim, ev = national
    sc = sim.scenario
    acts = ev[ev.kind == EV_ACT]
    group = sim.world.attr >> 3
    actor_group = group[acts.other.to_numpy()]
    wrong = (acts.agent != acts.other).to_numpy()
    assert int(wrong.sum()) == tk.total(sim, "misattributed_events")
    checked = 0
    for s, sname in enumerate(sim.params.sensor_names):
        sensor = getattr(sc.sensors, sname)
        if sname == "vehicles":  # registered owners and misread plates: tests/stages/test_vehicles
            continue
        for g, gname in enumerate(sim.params.group_names):
            sel = (acts.sensor.to_numpy() == s) & (actor_group == g)
            n = int(sel.sum())
            p = min(1.0, sensor.false_match_rate * sensor.group_multipliers.get(gname, 1.0))
            k = int(wrong[sel].sum())
            if p in (0.0, 1.0) or n == 0:
                assert k == round(p * n), (sname, gname)
                continue
            tk.close(k, n * p, tk.binom_sd(n, p), f"false matches {sname}/{gname}")
            checked += 1
    assert checked >= 4
    # cameras × foreign = 0.05 × 30, capped at 1: every such act lands on someone else
    cams = sim.params.sensor_names.index("cameras")
    foreign = sim.params.group_names.index("foreign")
    sel = (acts.sensor.to_numpy() == cams) & (actor_group == foreign)
    assert sel.sum() > 0 and wrong[sel].all()


def test_misattributed_by_target_group_column(national, tk):
    sim, ev = national
    acts = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other)]
    group = sim.world.attr >> 3
    counts = np.bincount(group[acts.agent.to_numpy()], minlength=len(sim.params.group_names))
    for g, gname in enumerate(sim.params.group_names):
        assert counts[g] == tk.total(sim, f"misattributed__{gname}")


def test_false_match_logged_on_both_sides(national):
    sim, ev = national
    wrong = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other)]
    elsewhere = ev[ev.kind == EV_ACT_ELSEWHERE]
    a = wrong[["day", "agent", "other", "code", "sensor"]].rename(
        columns={"agent": "target", "other": "actor"})
    b = elsewhere[["day", "agent", "other", "code", "sensor"]].rename(
        columns={"agent": "actor", "other": "target"})
    cols = ["day", "actor", "target", "code", "sensor"]
    pd_a = a[cols].sort_values(cols).reset_index(drop=True)
    pd_b = b[cols].sort_values(cols).reset_index(drop=True)
    assert pd_a.equals(pd_b)


def test_region_scope_keeps_false_matches_in_the_region(tk):
    sim = tk.simulate("national", {"population.agents": 6000, "days": 6, "seed": 8,
                                   "sensors.cameras.false_match_rate": 1.0,
                                   "behaviours.traffic_violation.rate": 0.02,
                                   "sensors.cameras.scope": "region",
                                   "output.event_log.enabled": True})
    ev = tk.events(sim)
    cams = sim.params.sensor_names.index("cameras")
    wrong = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other) & (ev.sensor == cams)]
    reg = sim.world.region
    assert len(wrong) > 50
    assert np.all(reg[wrong.agent.to_numpy()] == reg[wrong.other.to_numpy()])


def test_population_scope_spreads_false_matches(tk):
    sim = tk.simulate("national", {"population.agents": 6000, "days": 6, "seed": 8,
                                   "sensors.cameras.false_match_rate": 0.5,
                                   "sensors.cameras.scope": "population",
                                   "sensors.cameras.classification.enabled": False,
                                   "sensors.cameras.same_group_preference": 0.0,
                                   "output.event_log.enabled": True})
    ev = tk.events(sim)
    cams = sim.params.sensor_names.index("cameras")
    wrong = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other) & (ev.sensor == cams)]
    reg = sim.world.region
    tgt = reg[wrong.agent.to_numpy()]
    n = len(wrong)
    share = np.bincount(reg, minlength=sim.world.n_regions) / sim.world.n
    for r in range(sim.world.n_regions):
        tk.close(int((tgt == r).sum()), n * share[r], tk.binom_sd(n, share[r]), f"region {r}")


def test_perfect_classification_matches_sex_and_age(tk):
    sim = tk.simulate("national", {"population.agents": 6000, "days": 6, "seed": 8,
                                   "sensors.cameras.false_match_rate": 1.0,
                                   "behaviours.traffic_violation.rate": 0.02,
                                   "sensors.cameras.classification.enabled": True,
                                   "sensors.cameras.classification.sex_accuracy": 1.0,
                                   "sensors.cameras.classification.age_accuracy": 1.0,
                                   "output.event_log.enabled": True})
    ev = tk.events(sim)
    cams = sim.params.sensor_names.index("cameras")
    wrong = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other) & (ev.sensor == cams)]
    attr = sim.world.attr
    t, a = attr[wrong.agent.to_numpy()], attr[wrong.other.to_numpy()]
    assert len(wrong) > 50
    np.testing.assert_array_equal(t & 7, a & 7)  # sex bit and age class


def test_evidence_review_reverses_its_share(tk):
    sim = tk.simulate("national", {"population.agents": 10_000, "days": 8, "seed": 12,
                                   "sensors.cameras.false_match_rate": 1.0,
                                   "governance.evidence_review.enabled": True,
                                   "governance.evidence_review.reversal_probability": 0.4,
                                   "output.event_log.enabled": True})
    rev, mis = tk.total(sim, "reversed_events"), tk.total(sim, "misattributed_events")
    n = rev + mis
    assert n > 200
    tk.close(rev, 0.4 * n, tk.binom_sd(n, 0.4), "reversed")
    ev = tk.events(sim)
    assert int((ev.kind == EV_REVERSED).sum()) == rev
    # reviewing every match: no act is ever recorded on someone else
    all_reviewed = tk.simulate("national", {"population.agents": 10_000, "days": 8, "seed": 12,
                                            "sensors.cameras.false_match_rate": 1.0,
                                            "governance.evidence_review.enabled": True,
                                            "governance.evidence_review.reversal_probability": 1.0,
                                            "output.event_log.enabled": True})
    assert tk.total(all_reviewed, "misattributed_events") == 0
    assert tk.total(all_reviewed, "reversed_events") > 200
    ev = tk.events(all_reviewed)
    assert not ((ev.kind == EV_ACT) & (ev.agent != ev.other)).any()


def test_disabled_or_blind_sensors_observe_nothing(tk):
    over = {"population.agents": 3000, "days": 4}
    for name in tk.SENSOR_NAMES:
        over[f"sensors.{name}.enabled"] = False
    sim = tk.simulate("national", over)
    assert tk.total(sim, "observed_events") == 0
    np.testing.assert_array_equal(sim.state.score, sim.state.twin)
