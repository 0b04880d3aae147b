"""In-process sweeps: run directories, catalog rows, sweep table, resume, CLI errors."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from scslab.cli import main
from scslab.results import read_summary

from .conftest import AGENTS, DAYS, GRID, REPLICATES, sw


def _count(db, sweep_id) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select count(*) from sweep_runs where sweep_id = ?",
                           [sweep_id]).fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    base = tmp_path_factory.mktemp("inproc")
    res = sw.sweep("national", GRID, replicates=REPLICATES, agents=AGENTS, days=DAYS,
                   out=base / "sweep", db=base / "c.duckdb")
    return base, res


def test_runs_dirs_table_and_catalog(done):
    base, res = done
    n = 4 * REPLICATES
    assert res.completed and len(res.ran) == n and not res.skipped
    assert _count(base / "c.duckdb", res.sweep_id) == n
    con = duckdb.connect(str(base / "c.duckdb"), read_only=True)
    rows = con.execute("select * from sweep_runs order by run_id").fetchdf()
    daily_rows = con.execute("select count(*) from daily").fetchone()[0]
    con.close()
    assert daily_rows == n * DAYS
    assert set(rows["governance__appeals__enabled"]) == {"true", "false"}
    assert set(rows["sensors__cameras__false_match_rate"]) == {"0.001", "0.05"}
    for spec in res.plan.specs:
        d = base / "sweep" / spec.key
        s = read_summary(d)
        assert s["completed"] and s["seed"] == spec.seed
        assert s["provenance"]["scenario_hash"] == spec.scenario_hash
        assert s["sweep"]["grid"] == spec.grid
        assert len(pd.read_parquet(d / "daily.parquet")) == DAYS
    table = pd.read_parquet(base / "sweep" / "sweep.parquet")
    assert len(table) == n and len(pd.read_csv(base / "sweep" / "sweep.csv")) == n
    assert {"key", "run_id", "replicate", "seed", *GRID, "misattributed_total",
            "wrongful_listed_end"} <= set(table.columns)
    manifest = json.loads((base / "sweep" / "sweep.json").read_text())
    assert manifest["sweep_id"] == res.sweep_id and len(manifest["runs"]) == n
    # a higher false-match rate misattributes more acts, on the same random numbers
    agg = res.by_point(["misattributed_total"])
    lo = agg[agg["sensors.cameras.false_match_rate"] == 0.001]["misattributed_total_mean"]
    hi = agg[agg["sensors.cameras.false_match_rate"] == 0.05]["misattributed_total_mean"]
    assert hi.min() > lo.max()


def test_rerun_skips_everything(done):
    base, res = done
    mtimes = {p: p.stat().st_mtime_ns for p in (base / "sweep").glob("*/summary.json")}
    lines = []
    again = sw.sweep("national", GRID, replicates=REPLICATES, agents=AGENTS, days=DAYS,
                     out=base / "sweep", db=base / "c.duckdb", log=lines.append)
    assert again.sweep_id == res.sweep_id
    assert not again.ran and len(again.skipped) == len(res.plan.specs)
    assert any("skipped 8 finished run(s)" in x for x in lines)
    assert mtimes == {p: p.stat().st_mtime_ns for p in (base / "sweep").glob("*/summary.json")}
    pd.testing.assert_frame_equal(again.table.drop(columns="status"),
                                  res.table.drop(columns="status"))


def test_resume_backfills_catalog_and_reruns_changed(tmp_path):
    g = {"sensors.cameras.false_match_rate": [0.001, 0.05]}
    out = tmp_path / "s"
    first = sw.sweep("national", g, agents=AGENTS, days=DAYS, out=out)  # no catalog
    # a run directory left half-written (no summary) and one for another scenario
    (out / first.plan.specs[0].key / "summary.json").unlink()
    s = json.loads((out / first.plan.specs[1].key / "summary.json").read_text())
    s["provenance"]["scenario_hash"] = "something-else"
    (out / first.plan.specs[1].key / "summary.json").write_text(json.dumps(s))
    lines = []
    res = sw.sweep("national", g, agents=AGENTS, days=DAYS, out=out, db=tmp_path / "c.duckdb",
                   log=lines.append)
    assert sorted(res.ran) == sorted(sp.key for sp in first.plan.specs[:2])
    assert _count(tmp_path / "c.duckdb", res.sweep_id) == 2
    # catalog-only resume (no run directories)
    res2 = sw.sweep("national", g, agents=AGENTS, days=DAYS, db=tmp_path / "c.duckdb")
    assert not res2.ran and len(res2.skipped) == 2
    for k in res2.skipped:
        pd.testing.assert_frame_equal(res2.daily[k].reset_index(drop=True),
                                      pd.read_parquet(out / k / "daily.parquet"),
                                      check_dtype=False)


def test_cli_bad_grid_exits_2_with_one_line(capsys, tmp_path):
    for argv, text in [
        (["sweep", "national", "--grid", "governance.appeals.enabled"], "PATH=V1,V2"),
        (["sweep", "national", "--grid", "governance.apeals.enabled=true"], "did you mean"),
        (["sweep", "national", "--grid", "sensors.cameras.false_match_rate=0.1,7"],
         "false_match_rate"),
        (["sweep", "national", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
         "either --workers or --scheduler"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--out", str(tmp_path / "o"), "--db", str(tmp_path / "c.duckdb")])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("error:") and text in err, err
    assert not (tmp_path / "o").exists()


def test_cli_unreachable_scheduler(capsys, tmp_path, monkeypatch):
    from .conftest import free_port

    monkeypatch.setattr(sw.cluster, "SCHEDULER_TIMEOUT", "2s")  # where dask_client reads it
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "national", "--agents", "1000", "--days", "5", "--scheduler",
              f"tcp://127.0.0.1:{free_port()}", "--out", str(tmp_path / "o"), "--no-catalog"])
    assert exc.value.code == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_chilling_outcome_and_no_grid(tmp_path):
    res = sw.sweep("national", None, replicates=2, agents=AGENTS, days=DAYS, chilling=True,
                   out=tmp_path / "s")
    assert res.table["chilling_effect"].notna().all()
    assert (res.table["chilling_effect"] >= 0).all()
    assert res.plan.sweep_id != sw.plan_sweep("national", None, replicates=2, agents=AGENTS,
                                              days=DAYS).sweep_id
