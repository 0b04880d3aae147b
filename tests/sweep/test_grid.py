"""Grid parsing, validation before any run, sweep ids and seeds."""

from __future__ import annotations

import pytest

from scslab.errors import ScenarioError, ScslabError
from scslab.rng import spawn_seeds

from .conftest import AGENTS, DAYS, sw


def test_parse_grid_yaml_scalars():
    assert sw.parse_grid("governance.appeals.enabled=true,false") == (
        "governance.appeals.enabled", [True, False])
    path, vals = sw.parse_grid("sensors.cameras.false_match_rate=0.0001, 1e-3,0.01")
    assert path == "sensors.cameras.false_match_rate"
    assert vals == [0.0001, 0.001, 0.01]
    assert all(isinstance(v, float) for v in vals)
    assert sw.parse_grid("population.agents=1000,2000")[1] == [1000, 2000]
    assert sw.parse_grid("a.b=[1,2],[3]")[1] == [[1, 2], [3]]


@pytest.mark.parametrize("expr", ["governance.appeals.enabled", "=1,2", "a..b=1",
                                  "sensors.cameras.false_match_rate=0.1,,0.2",
                                  "sensors.cameras.false_match_rate="])
def test_parse_grid_bad_syntax(expr):
    with pytest.raises(ScenarioError, match="--grid"):
        sw.parse_grid(expr)


def test_plan_counts_seeds_and_keys():
    plan = sw.plan_sweep("national", ["governance.appeals.enabled=true,false",
                                      "sensors.cameras.false_match_rate=0.0001,0.001,0.01"],
                         replicates=3, agents=AGENTS, days=DAYS, seed=7)
    assert len(plan.specs) == 18 and plan.n_points == 6
    assert plan.seeds == spawn_seeds(7, 3)
    # common random numbers: replicate r of every point uses the same seed
    for spec in plan.specs:
        assert spec.seed == plan.seeds[spec.replicate]
        assert spec.scenario.seed == spec.seed
        assert spec.scenario.sensors.cameras.false_match_rate == \
            spec.grid["sensors.cameras.false_match_rate"]
        assert spec.scenario.governance.appeals.enabled == \
            spec.grid["governance.appeals.enabled"]
    assert len({s.key for s in plan.specs}) == 18
    assert len({s.scenario_hash for s in plan.specs}) == 18
    assert plan.specs[0].key == "p000-r00"


def test_sweep_id_is_deterministic():
    kw = dict(replicates=2, agents=AGENTS, days=DAYS)
    g = {"sensors.cameras.false_match_rate": [0.001, 0.01]}
    a = sw.plan_sweep("national", g, **kw).sweep_id
    assert a == sw.plan_sweep("national", ["sensors.cameras.false_match_rate=1e-3,0.01"],
                              **kw).sweep_id
    assert a.startswith("national-")
    assert a != sw.plan_sweep("national", g, **{**kw, "replicates": 3}).sweep_id
    assert a != sw.plan_sweep("national", g, **{**kw, "seed": 99}).sweep_id
    assert a != sw.plan_sweep("national", {"sensors.cameras.false_match_rate": [0.001]},
                              **kw).sweep_id
    assert a != sw.plan_sweep("national", g, **{**kw, "agents": AGENTS + 1}).sweep_id
    assert sw.plan_sweep("national", g, sweep_id="mine", **kw).sweep_id == "mine"
    with pytest.raises(ScslabError, match="sweep-id"):
        sw.plan_sweep("national", g, sweep_id="../x", **kw)


@pytest.mark.parametrize("grid,match", [
    ({"governance.apeals.enabled": [True]}, "did you mean 'appeals'"),
    ({"sensors.cameras.false_match_rate": [0.01, 2.0]}, "false_match_rate"),
    ({"governance.appeals.enabled": ["maybe"]}, "enabled"),
    ({"seed": [1, 2]}, "--replicates"),
    ({"sensors.cameras.false_match_rate": [0.01, 0.01]}, "listed twice"),
])
def test_bad_points_fail_before_any_run(monkeypatch, tmp_path, grid, match):
    def boom(*a, **k):
        raise AssertionError("a run started before validation finished")

    monkeypatch.setattr(sw.execute, "run_scenario_data", boom)  # where run_plan calls it
    with pytest.raises(ScenarioError, match=match) as exc:
        sw.sweep("national", grid, agents=AGENTS, days=DAYS, out=tmp_path / "s",
                 db=tmp_path / "c.duckdb")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "s").exists() and not (tmp_path / "c.duckdb").exists()


def test_grid_and_set_conflict():
    with pytest.raises(ScenarioError, match="also fixed with --set"):
        sw.plan_sweep("national", ["days=10,20"], set=["days=5"], agents=AGENTS)


def test_ensemble_without_grid():
    plan = sw.plan_sweep("national", None, replicates=3, agents=AGENTS, days=DAYS)
    assert [s.key for s in plan.specs] == ["p000-r00", "p000-r01", "p000-r02"]
    assert len({s.seed for s in plan.specs}) == 3 and plan.grid == {}


def test_canonical_duplicates_are_rejected():
    with pytest.raises(ScenarioError, match="same setting"):
        sw.plan_sweep("national", {"sensors.cameras.false_match_rate": [1, 1.0]},
                      agents=AGENTS)
