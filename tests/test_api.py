"""The Python API (DESIGN.md §6): ``scslab.run`` → Result with ``.daily``, the summary's
fields, run directories, callbacks, and the exact regression baseline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import scslab
from scslab.errors import RunDirError, ScenarioError
from scslab.results import load_run

BASELINE = Path(__file__).with_name("baseline.json")
SUMMARY_KEYS = {"agents", "days", "seed", "build_seconds", "elapsed_seconds",
                "agent_days_per_second", "peak_memory_bytes", "completed", "provenance",
                "metrics", "totals"}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "run"
    # a hair-trigger blacklist, so that the run lists people (some wrongly) within 12 days
    return scslab.run("national", agents=3000, days=12, seed=3, out=out, save_agents=True,
                      set={"sensors.cameras.false_match_rate": 0.2,
                           "policy.lists.blacklist.enter_below": 995,
                           "policy.lists.blacklist.exit_at_or_above": 999})


def test_top_level_api():
    for name in ("run", "compare", "explain", "load_run", "Result", "Scenario", "load_scenario",
                 "preset_names", "__version__"):
        assert hasattr(scslab, name), name


def test_daily_is_a_dataframe_one_row_per_day(result):
    d = result.daily
    assert isinstance(d, pd.DataFrame)
    assert d["day"].tolist() == list(range(1, 13))
    assert not any("second" in c or "time" in c for c in d.columns)  # no timings
    for col in ("day", "mean_score", "listed", "misattributed_events", "wrongful_listed",
                "collateral_sanctioned"):
        assert col in d.columns
    assert len(result.daily) == result.summary["days"] == 12


def test_summary_fields(result):
    s = result.summary
    assert SUMMARY_KEYS <= set(s)
    assert (s["agents"], s["days"], s["seed"], s["completed"]) == (3000, 12, 3, True)
    assert s["elapsed_seconds"] > 0 and s["build_seconds"] > 0
    assert math.isclose(s["agent_days_per_second"], 3000 * 12 / s["elapsed_seconds"])
    assert s["peak_memory_bytes"] > 10_000_000
    p = s["provenance"]
    for key in ("scslab", "python", "scenario_hash", "threads", "device"):
        assert p.get(key) is not None, key
    assert "git_commit" in p and "packages" in p
    assert p["scslab"] == scslab.__version__
    assert p["packages"]["numpy"] and p["packages"]["numba"]


def test_summary_metrics_are_the_last_day(result):
    last = result.daily.iloc[-1]
    for col, value in result.summary["metrics"].items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert math.isnan(last[col]), col  # NaN is written as null
        else:
            assert value == last[col], col


def test_summary_totals_sum_the_flows(result):
    sim_reg = {m.name: m for m in scslab.engine.Simulation(result.scenario).build()
               .metric_registry()}
    totals = result.summary["totals"]
    flows = [c for c in result.daily.columns if sim_reg[c].kind == "flow"]
    assert set(totals) == set(flows)
    for c in flows:
        assert totals[c] == result.daily[c].sum(), c
    assert "listed" not in totals and "mean_score" not in totals


def test_summary_metrics_keep_integer_counts(result):
    m = result.summary["metrics"]
    assert isinstance(m["day"], int) and isinstance(m["listed"], int)


def test_run_directory(result):
    d = result.run_dir
    for f in ("scenario.yaml", "daily.parquet", "summary.json", "events.parquet",
              "agents.parquet"):
        assert (d / f).is_file(), f
    back = load_run(d)
    assert back.scenario == result.scenario
    pd.testing.assert_frame_equal(back.daily, result.daily)
    on_disk = json.loads((d / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(on_disk)
    assert on_disk["run_id"] == result.run_id
    ev = result.events()
    assert len(ev) == result.summary["event_log"]["rows"] > 0


def test_agents_table(result):
    a = pq.read_table(result.run_dir / "agents.parquet").to_pandas()
    assert len(a) == 3000 and a.agent.tolist() == list(range(3000))
    for col in ("score", "true_score", "blacklisted", "court_listed", "true_blacklisted",
                "region", "group", "household_start"):
        assert col in a.columns
    last = result.daily.iloc[-1]
    assert last["true_listed"] > 0 and last["wrongful_listed"] > 0  # not 0 == 0
    assert int((a.blacklisted | a.court_listed).sum()) == last["listed"]
    assert int((a.true_blacklisted | a.true_court_listed).sum()) == last["true_listed"]
    assert math.isclose(float(a.score.astype("float64").mean()), last["mean_score"],
                        rel_tol=1e-9)


def test_overrides_forms():
    a = scslab.run("rm1", agents=300, days=3, seed=2, set=["policy.rules.fraud=-80"])
    b = scslab.run("rm1", agents=300, days=3, seed=2, set={"policy.rules.fraud": -80})
    assert a.scenario == b.scenario and a.daily.equals(b.daily)
    assert a.scenario.policy.rules["fraud"] == -80
    c = scslab.run(a.scenario)
    assert c.daily.equals(a.daily)
    d = scslab.run(a.scenario.model_dump(mode="json"))
    assert d.daily.equals(a.daily)


def test_bad_scenario_raises_scenario_error():
    with pytest.raises(ScenarioError):
        scslab.run("rm1", agents=10, days=1, set=["policy.rulez.fraud=1"])
    with pytest.raises(ScenarioError):
        scslab.run("no-such-preset")


def test_progress_and_stop(tmp_path):
    seen = []

    def progress(day, total, row):
        seen.append((day, total, row["day"]))

    r = scslab.run("rm1", agents=300, days=10, progress=progress, stop=lambda: len(seen) >= 4,
                   out=tmp_path / "r")
    assert seen == [(d, 10, d) for d in range(1, 5)]
    assert not r.completed and r.summary["days"] == 4 and len(r.daily) == 4
    on_disk = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert on_disk["completed"] is False and on_disk["days"] == 4
    assert pq.read_table(tmp_path / "r" / "daily.parquet").num_rows == 4


def test_result_without_run_dir_has_no_events():
    r = scslab.run("rm1", agents=30, days=1)
    assert r.run_dir is None
    with pytest.raises(RunDirError):
        r.events()
    assert "rm1" in repr(r)


def test_load_run_errors(tmp_path):
    with pytest.raises(RunDirError):
        load_run(tmp_path / "nope")
    with pytest.raises(RunDirError):
        load_run(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(RunDirError):
        load_run(tmp_path)


# --------------------------------------------------------------------------- regression


def _baseline_runs():
    return json.loads(BASELINE.read_text(encoding="utf-8"))["runs"]


@pytest.mark.parametrize("entry", _baseline_runs(), ids=lambda e: e["spec"]["label"])
def test_regression_baseline(entry):
    """A change here is a change of results: if intended, run scripts/refresh_baseline.py."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "refresh_baseline.py"
    spec = importlib.util.spec_from_file_location("refresh_baseline", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fresh = json.loads(json.dumps(mod.summary_of(entry["spec"])))
    want = entry["summary"]
    assert fresh["scenario_hash"] == want["scenario_hash"], "the preset changed"
    for part in ("metrics", "totals"):
        diff = {k: (want[part].get(k), fresh[part].get(k))
                for k in set(want[part]) | set(fresh[part])
                if want[part].get(k) != fresh[part].get(k)}
        assert not diff, f"{part} differ from tests/baseline.json: {diff}"
    assert fresh == want
