"""The same sweep in-process, on a LocalCluster and through a separate `dask scheduler`."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from scslab.cli import main

from .conftest import AGENTS, DAYS, GRID, REPLICATES, sw

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    base = tmp_path_factory.mktemp("ref")
    return sw.sweep("national", GRID, replicates=REPLICATES, agents=AGENTS, days=DAYS,
                    out=base / "s", db=base / "c.duckdb")


def _assert_same_runs(a: sw.SweepResult, b: sw.SweepResult) -> None:
    assert a.sweep_id == b.sweep_id
    keys = [s.key for s in a.plan.specs]
    assert keys == [s.key for s in b.plan.specs]
    for k in keys:
        pd.testing.assert_frame_equal(pd.read_parquet(a.run_dir(k) / "daily.parquet"),
                                      pd.read_parquet(b.run_dir(k) / "daily.parquet"),
                                      check_exact=True)


def _sweep_rows(db, sweep_id) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select count(*) from sweep_runs where sweep_id = ?",
                           [sweep_id]).fetchone()[0]
    finally:
        con.close()


def test_local_cluster_matches_in_process(local_client, in_process, tmp_path):
    res = sw.sweep("national", GRID, replicates=REPLICATES, agents=AGENTS, days=DAYS,
                   out=tmp_path / "s", db=tmp_path / "c.duckdb", client=local_client)
    assert res.completed and len(res.ran) == len(in_process.plan.specs)
    _assert_same_runs(in_process, res)
    assert _sweep_rows(tmp_path / "c.duckdb", res.sweep_id) == 4 * REPLICATES
    # the runs really ran on the workers (one Numba thread each)
    summary = pd.read_json(res.run_dir(res.ran[0]) / "summary.json", typ="series")
    assert summary["provenance"]["threads"] == 1


def test_scheduler_subprocess_matches_in_process(scheduler_address, in_process, tmp_path):
    res = sw.sweep("national", GRID, replicates=REPLICATES, agents=AGENTS, days=DAYS,
                   out=tmp_path / "s", db=tmp_path / "c.duckdb", scheduler=scheduler_address)
    assert res.completed
    _assert_same_runs(in_process, res)
    assert _sweep_rows(tmp_path / "c.duckdb", res.sweep_id) == 4 * REPLICATES


def test_cli_workers_and_scheduler(scheduler_address, tmp_path, capsys):
    grid = ["--grid", "sensors.cameras.false_match_rate=0.001,0.05"]
    common = ["--agents", str(AGENTS), "--days", str(DAYS), "--replicates", "2"]
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "national", *grid, *common, "--workers", "2", "--out",
              str(tmp_path / "a"), "--db", str(tmp_path / "a.duckdb")])
    assert exc.value.code == 0, capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "national", *grid, *common, "--scheduler", scheduler_address, "--out",
              str(tmp_path / "b"), "--db", str(tmp_path / "b.duckdb")])
    assert exc.value.code == 0, capsys.readouterr().err
    ta = pd.read_parquet(tmp_path / "a" / "sweep.parquet")
    tb = pd.read_parquet(tmp_path / "b" / "sweep.parquet")
    assert len(ta) == 4
    cols = ["key", "seed", "misattributed_total", "wrongful_listed_end", "listed_end"]
    pd.testing.assert_frame_equal(ta[cols], tb[cols])
    for k in ta["key"]:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / k / "daily.parquet"),
                                      pd.read_parquet(tmp_path / "b" / k / "daily.parquet"))
    assert _sweep_rows(tmp_path / "a.duckdb", ta["run_id"][0].rsplit("-", 2)[0]) == 4
