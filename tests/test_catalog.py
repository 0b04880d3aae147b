"""The catalog (DESIGN.md §6): runs, daily and sweep_runs tables in a DuckDB file."""

from __future__ import annotations

import json

import duckdb
import pytest

import scslab
from scslab.catalog import connect, query, record_run
from scslab.cli import main
from scslab.errors import ScslabError


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    db = root / "c.duckdb"
    a = scslab.run("rm1", agents=300, days=4, seed=1, db=db, out=root / "a")
    b = scslab.run("national", agents=500, days=6, seed=2, db=db, out=root / "b")
    return db, a, b


def test_tables_exist(catalog):
    db, _, _ = catalog
    names = set(query(db, "SELECT table_name FROM information_schema.tables")["table_name"])
    assert {"runs", "daily", "sweep_runs"} <= names


def test_one_row_per_run(catalog):
    db, a, b = catalog
    runs = query(db, "SELECT * FROM runs ORDER BY agents")
    assert runs["run_id"].tolist() == [a.run_id, b.run_id]
    assert runs["scenario_name"].tolist() == ["rm1", "national"]
    assert runs["days"].tolist() == [4, 6] and runs["completed"].tolist() == [True, True]
    assert runs["scenario_hash"].tolist() == [a.summary["provenance"]["scenario_hash"],
                                              b.summary["provenance"]["scenario_hash"]]
    summary = json.loads(runs["summary"].iloc[1])
    assert summary["totals"] == json.loads(json.dumps(b.summary["totals"]))
    prov = json.loads(runs["provenance"].iloc[0])
    assert prov["scslab"] == scslab.__version__


def test_daily_rows_and_new_columns(catalog):
    """rm1 came first with three acts; national's extra columns were added, rm1's are null."""
    db, a, b = catalog
    d = query(db, f"SELECT * FROM daily WHERE run_id = '{b.run_id}' ORDER BY day")
    assert d["day"].tolist() == list(range(1, 7))
    assert d["listed"].tolist() == b.daily["listed"].tolist()
    assert d["acts_criticism"].tolist() == b.daily["acts_criticism"].tolist()
    r = query(db, f"SELECT acts_criticism, acts_smoking FROM daily WHERE run_id = '{a.run_id}'")
    assert r["acts_criticism"].isna().all()
    assert r["acts_smoking"].tolist() == a.daily["acts_smoking"].tolist()


def test_recording_again_replaces(catalog, tmp_path):
    db, a, _ = catalog
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(db.read_bytes())
    record_run(copy, a.run_id, a.run_dir, "rm1", a.summary, a.daily)
    assert query(copy, f"SELECT count(*) AS n FROM runs WHERE run_id = '{a.run_id}'")["n"][0] == 1
    assert query(copy, f"SELECT count(*) AS n FROM daily WHERE run_id = '{a.run_id}'")["n"][0] == 4


def test_sweep_rows(tmp_path):
    db = tmp_path / "s.duckdb"
    r = scslab.run("rm1", agents=100, days=2)
    record_run(db, "r1", None, "rm1", r.summary, r.daily,
               sweep={"sweep_id": "s1", "replicate": 0, "seed": 5,
                      "grid": {"sensors.cameras.false_match_rate": 0.1}})
    s = query(db, "SELECT * FROM sweep_runs")
    assert s["sweep_id"].tolist() == ["s1"] and s["run_id"].tolist() == ["r1"]
    assert json.loads(s["grid"][0]) == {"sensors.cameras.false_match_rate": 0.1}


def test_corrupt_catalog_is_bad_input(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ScslabError):
        connect(bad)


def test_catalog_cli(catalog, capsys, tmp_path):
    db, a, _ = catalog
    with pytest.raises(SystemExit) as e:
        main(["catalog", "query", "SELECT scenario_name FROM runs ORDER BY agents", "--db",
              str(db)])
    assert e.value.code == 0
    assert "rm1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["catalog", "query", "SELEC nonsense", "--db", str(db)])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    fresh = tmp_path / "fresh.duckdb"
    with pytest.raises(SystemExit) as e:
        main(["catalog", "add", str(a.run_dir), "--db", str(fresh)])
    assert e.value.code == 0
    con = duckdb.connect(str(fresh), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM daily").fetchone()[0] == 4
    finally:
        con.close()
