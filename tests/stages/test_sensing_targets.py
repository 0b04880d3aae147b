"""Exact same-group false matches, vehicle recognition, the recorded region's rules and the
per-sensor misattribution columns (issue #16). Tolerances: 5 binomial standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from scslab import rng
from scslab.events import EV_ACT
from scslab.population import _group_index, pack_attr
from scslab.stages.sensing import pick_in_group

N = 20_000
SMALL = [{"name": "big", "share": 0.99}, {"name": "small", "share": 0.01}]


def _only_cameras(tk) -> dict:
    over = {f"sensors.{n}.enabled": False for n in tk.SENSOR_NAMES if n != "cameras"}
    over.update({"population.agents": N, "days": 10, "seed": 5, "population.groups": SMALL,
                 "output.event_log.enabled": True, "behaviours.smoking.rate": 1.0,
                 "sensors.cameras.false_match_rate": 1.0,
                 "sensors.cameras.group_multipliers": {},
                 "sensors.cameras.classification.enabled": False,
                 "sensors.cameras.scope": "population"})
    return over


@pytest.mark.parametrize("pref", [0.0, 0.5, 1.0])
def test_same_group_share_of_false_matches(tk, pref):
    sim = tk.simulate("national", {**_only_cameras(tk),
                                   "sensors.cameras.same_group_preference": pref})
    ev = tk.events(sim)
    g = sim.world.attr >> 3
    small = sim.params.group_names.index("small")
    wrong = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other)]
    mine = wrong[g[wrong.other.to_numpy()] == small]
    n = len(mine)
    assert n > 150, n
    hits = int((g[mine.agent.to_numpy()] == small).sum())
    size = int((g == small).sum())
    base = (size - 1) / (sim.world.n - 1)  # anyone but the actor, uniformly
    p = pref + (1 - pref) * base
    if pref == 1.0:
        assert hits == n
    else:
        tk.close(hits, n * p, tk.binom_sd(n, p), f"same group at {pref}")


def _index(attr, region, n_groups, n_regions):
    return _group_index(attr, region, n_groups, n_regions)


def test_pick_in_group_exact_and_relaxed():
    """A tiny group spread over two regions: every pick is in the group; where no one else
    has the classified sex and age, the classification, then the region, is relaxed."""
    n = 400
    r = np.random.default_rng(2)
    sex, age = r.integers(0, 2, n), r.integers(0, 3, n)
    group = np.zeros(n, np.int64)
    members = [3, 250, 251]  # one in region 0, two in region 1
    group[members] = 1
    sex[members], age[members] = [0, 1, 0], [1, 2, 1]
    attr = pack_attr(sex, age, group).astype(np.uint8)
    region = (np.arange(n) >= 200).astype(np.uint8)
    idx, cells = _index(attr, region, 2, 2)
    key = rng.day_key(1, "sensing", 1)
    for b in range(50):
        # actor 3 alone in region 0: the region is relaxed, the pick is 250 or 251
        assert pick_in_group(key, 3, b, idx, cells, 2, 1, 0, 0, 1, 0, 1, True, True) in (250,
                                                                                         251)
        # actor 250 wants (sex 0, adult) in its region: 251 matches exactly
        assert pick_in_group(key, 250, b, idx, cells, 2, 1, 1, 1, 2, 0, 1, True, True) == 251
        # population scope, classified (1, elderly): nobody else; relaxed to the group
        t = pick_in_group(key, 251, b, idx, cells, 2, 1, 1, 0, 1, 1, 2, True, False)
        assert t in (3, 250)
        assert int(attr[t]) >> 3 == 1


def test_singleton_group_is_never_misattributed():
    n = 300
    group = np.zeros(n, np.int64)
    group[17] = 1
    attr = pack_attr(np.zeros(n, np.int64), np.ones(n, np.int64), group).astype(np.uint8)
    region = np.zeros(n, np.uint8)
    idx, cells = _index(attr, region, 2, 1)
    key = rng.day_key(4, "sensing", 2)
    for b in range(64):
        for scope in (True, False):
            assert pick_in_group(key, 17, b, idx, cells, 1, 1, 0, 0, 1, 0, 1, True,
                                 scope) == 17


def test_misattributed_acts_use_the_recorded_region_rules(tk):
    regions = [{"name": "a", "share": 0.5, "cameras_per_1000": 100, "rules": {"smoking": -10}},
               {"name": "b", "share": 0.5, "cameras_per_1000": 100, "rules": {"smoking": -90}}]
    over = {**_only_cameras(tk), "population.agents": 6000, "days": 5,
            "population.regions": regions, "sensors.cameras.same_group_preference": 0.0,
            "sensors.cameras.false_match_rate": 1.0}
    sim = tk.simulate("national", over)
    ev = tk.events(sim)
    reg = sim.world.region
    b = sim.params.behaviour_names.index("smoking")
    wrong = ev[(ev.kind == EV_ACT) & (ev.agent != ev.other) & (ev.code == b)]
    cross = reg[wrong.agent.to_numpy()] != reg[wrong.other.to_numpy()]
    assert cross.sum() > 100
    want = sim.params.points[reg[wrong.agent.to_numpy()], b]
    np.testing.assert_array_equal(wrong.value.to_numpy(), want)
    assert set(np.unique(wrong.value[cross])) == {-10.0, -90.0}


def _vehicles_only(tk, **sets) -> dict:
    over = {f"sensors.{n}.enabled": False for n in tk.SENSOR_NAMES if n != "vehicles"}
    over.update({"population.agents": 8000, "days": 10, "seed": 9,
                 "output.event_log.enabled": True, "behaviours.traffic_violation.rate": 0.05,
                 "sensors.vehicles.coverage": 1.0})
    over.update({f"sensors.vehicles.{k}": v for k, v in sets.items()})
    return over


def test_vehicle_records_land_on_the_registered_owner(tk):
    sim = tk.simulate("national", _vehicles_only(tk, plate_misread_rate=0.0,
                                                 owner_is_other_household_member=1.0))
    ev = tk.events(sim)
    acts = ev[ev.kind == EV_ACT]
    w = sim.world
    drv, rec = acts.other.to_numpy(), acts.agent.to_numpy()
    assert len(acts) > 500
    start = np.arange(w.n) - w.hh_off
    np.testing.assert_array_equal(start[drv], start[rec])  # the owner lives with the driver
    # another adult in the household <=> the record names someone else
    adult = ((w.attr >> 1) & 3) != 0
    others = np.add.reduceat(adult.astype(np.int64), w.household_starts())
    n_adults = np.repeat(others, np.diff(np.append(w.household_starts(), w.n)))
    np.testing.assert_array_equal(rec != drv, n_adults[drv] - adult[drv] > 0)
    assert adult[rec].all()
    # the twin ledger credits the driver: misattributed, as the columns say
    assert tk.total(sim, "misattributed_events") == int((rec != drv).sum())
    # the same owner every time (a fixed trait)
    pairs = acts.groupby("other").agent.nunique()
    assert (pairs == 1).all()


def test_misread_plates(tk):
    p = 0.2
    sim = tk.simulate("national", _vehicles_only(tk, plate_misread_rate=p,
                                                 owner_is_other_household_member=0.0))
    ev = tk.events(sim)
    acts = ev[ev.kind == EV_ACT]
    n, k = len(acts), int((acts.agent != acts.other).sum())
    tk.close(k, n * p, tk.binom_sd(n, p), "misread plates")
    rec = acts.agent.to_numpy()[(acts.agent != acts.other).to_numpy()]
    assert (((sim.world.attr[rec] >> 1) & 3) != 0).all()  # vehicle owners are adults
    assert tk.total(sim, "misattributed__sensor_vehicles") == k


def test_per_sensor_columns_sum_and_zero_cameras(tk):
    base = {"population.agents": 8000, "days": 8, "seed": 3,
            "sensors.cameras.false_match_rate": 0.05}
    sim = tk.simulate("national", base)
    keys = sim.params.sensor_keys
    assert set(keys) == set(tk.SENSOR_NAMES)
    total = tk.total(sim, "misattributed_events")
    per = {k: tk.total(sim, f"misattributed__sensor_{k}") for k in keys}
    assert sum(per.values()) == total and per["cameras"] > 0
    for row in sim.rows:
        assert sum(row[f"misattributed__sensor_{k}"] for k in keys) == \
            row["misattributed_events"]
    off = tk.simulate("national", {**base, "sensors.cameras.false_match_rate": 0.0})
    per0 = {k: tk.total(off, f"misattributed__sensor_{k}") for k in keys}
    assert per0["cameras"] == 0
    assert per0["vehicles"] > 0 and sum(per0.values()) == tk.total(off, "misattributed_events")
    names = {m.name for m in sim.metric_registry()}
    assert {f"misattributed__sensor_{k}" for k in keys} <= names
