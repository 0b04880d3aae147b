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


# ------------------------------------------------- issue "Trust from a fresh machine"
# (in-process, on catalogs filled by record_run with a tiny made-up run: no simulation;
# the same cases with real processes, full disks and denied access are in
# tests/robustness/test_catalog_trust.py)


import pandas as pd  # noqa: E402

from scslab import catalog as catalog_mod  # noqa: E402


def _fake(db, run_id="r1", scenario="fake", agents=10):
    summary = {"agents": agents, "days": 2, "seed": 1, "completed": True,
               "agent_days_per_second": 123.5, "provenance": {"scenario_hash": "h"}}
    daily = pd.DataFrame({"day": [1, 2], "listed": [0, 3]})
    record_run(db, run_id, None, scenario, summary, daily)


@pytest.fixture(scope="module")
def small_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    _fake(root / "c.duckdb", "r1", "alpha", 10)
    _fake(root / "c.duckdb", "r2", "beta", 20)
    con = duckdb.connect(str(root / "other.duckdb"))
    con.execute("CREATE TABLE runs AS SELECT 42 AS a")
    con.close()
    return root


@pytest.fixture
def small(small_template, tmp_path):
    """A catalog with two made-up runs, another database, and a file not to touch."""
    db, other = tmp_path / "c.duckdb", tmp_path / "other.duckdb"
    for p in (db, other):
        p.write_bytes((small_template / p.name).read_bytes())
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    return db, other, victim


def _untouched(tmp_path, other, victim, before):
    assert victim.read_text() == "keep me\n"
    con = duckdb.connect(str(other), read_only=True)
    try:
        assert con.execute("SELECT a FROM runs").fetchall() == [(42,)]
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_query_readme_example_and_daily(small):
    db, _, _ = small
    df = query(db, "select scenario_name, agents, agent_days_per_second from runs "
                   "order by agents")
    assert df.to_dict("list") == {"scenario_name": ["alpha", "beta"], "agents": [10, 20],
                                  "agent_days_per_second": [123.5, 123.5]}
    d = query(db, "select run_id, sum(listed) as listed from daily group by run_id "
                  "order by run_id")
    assert d.to_dict("list") == {"run_id": ["r1", "r2"], "listed": [3, 3]}


@pytest.mark.parametrize("sql, columns", [
    ("describe runs", "column_name"),
    ("show tables", "name"),
    ("summarize daily", "column_name"),
    ("explain select * from runs", "explain_key"),
    ("from runs select run_id", "run_id"),
    ("values (1, 2)", "col0"),
    ("with t as (select run_id from runs) select count(*) as n from t", "n"),
    ("select * from pragma_table_info('runs')", "name"),
    ("select summary->>'$.agents' as a from runs", "a"),
])
def test_query_allows_read_only_statements(small, sql, columns):
    db, _, _ = small
    assert columns in query(db, sql).columns


REFUSED = [
    # (sql, what the message names)
    ("copy (select 1 as a) to 'victim.txt'", "a statement of type COPY"),
    ("copy runs from 'victim.txt'", "a statement of type COPY"),
    ("attach 'other.duckdb' as x (read_only false)", "a statement of type ATTACH"),
    ("attach 'other.duckdb' as x (read_only false); drop table x.runs",
     "2 statements, give exactly one"),
    ("select 1; select 2", "2 statements, give exactly one"),
    ("detach c", "a statement of type DETACH"),
    ("install httpfs", "a statement of type LOAD"),
    ("load parquet", "a statement of type LOAD"),
    ("set threads = 1", "a statement of type SET"),
    ("set enable_external_access = true", "a statement of type SET"),
    ("reset threads", "a statement of type SET"),
    ("pragma threads = 1", "a statement of type SET"),
    ("pragma enable_profiling", "a statement of type PRAGMA"),
    ("use memory", "a statement of type SET"),
    ("call checkpoint()", "a statement of type CALL"),
    ("checkpoint", "a statement of type CALL"),
    ("create temp table t as select 1", "a statement of type CREATE"),
    ("insert into runs (run_id) values ('x')", "a statement of type INSERT"),
    ("delete from runs", "a statement of type DELETE"),
    ("drop table runs", "a statement of type DROP"),
    ("export database 'dump'", "a statement of type EXPORT"),
    ("pivot runs on scenario_name", "(a PIVOT needs an explicit IN list here)"),
    ("select * from read_csv('victim.txt')", "file system operations are disabled"),
    ("select * from read_text('victim.txt')", "file system operations are disabled"),
    ("select * from read_blob('victim.txt')", "file system operations are disabled"),
    ("select * from read_parquet('victim.txt')", "file system operations are disabled"),
    ("select * from glob('*')", "file system operations are disabled"),
    ("select * from 'victim.txt'", "Table with name victim.txt does not exist"),
    ("explain analyze copy (select 1) to 'victim.txt'", "file system operations are disabled"),
    ("explain analyze set threads = 1", "the configuration has been locked"),
]


@pytest.mark.parametrize("sql, needle", REFUSED)
def test_query_refuses_everything_but_one_query(small, tmp_path, monkeypatch, sql, needle):
    db, other, victim = small
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ScslabError) as e:
        query(db, sql)
    msg = str(e.value)
    assert needle in msg
    if "does not exist" in needle:
        assert msg.startswith("SQL error: Catalog Error")
    else:
        assert msg.startswith("refused: ")
        assert msg.endswith(catalog_mod.READ_ONLY_RULE)
    assert "\n" not in msg
    _untouched(tmp_path, other, victim, before)
    assert query(db, "select count(*) as n from runs")["n"][0] == 2


@pytest.mark.parametrize("sql", ["", " ", "\n\t  \n"])
def test_query_empty(small, sql):
    db, _, _ = small
    with pytest.raises(ScslabError, match=r"^empty query; give one SELECT statement$"):
        query(db, sql)


def test_query_only_comments(small):
    db, _, _ = small
    with pytest.raises(ScslabError, match=r"^empty query \(only comments\); give one SELECT"):
        query(db, "/* nothing */ -- here")


def test_query_syntax_error_is_one_line(small):
    db, _, _ = small
    with pytest.raises(ScslabError) as e:
        query(db, "SELEC nonsense")
    assert str(e.value) == 'SQL error: Parser Error: syntax error at or near "SELEC"'


def test_query_connection_is_sandboxed_by_duckdb(small, tmp_path):
    """The statement-type check is one guard; DuckDB's own switches are the other."""
    db, other, victim = small
    con = catalog_mod.query_connection(db)
    try:
        for sql in ("SET enable_external_access = true", "SET lock_configuration = false",
                    "SET autoload_known_extensions = true", "RESET enable_external_access"):
            with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
                con.execute(sql)
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"COPY (SELECT 1) TO '{victim}'")
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"ATTACH '{other}' AS x (READ_ONLY false)")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("INSERT INTO runs (run_id) VALUES ('x')")
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'lock_configuration', 'autoload_known_extensions', 'autoinstall_known_extensions', "
            "'access_mode')").fetchall())
    finally:
        con.close()
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "autoload_known_extensions": "false",
                        "autoinstall_known_extensions": "false", "access_mode": "read_only"}
    assert victim.read_text() == "keep me\n"


def test_query_missing_catalog(tmp_path):
    with pytest.raises(ScslabError, match="does not exist yet; run a scenario first"):
        query(tmp_path / "nope.duckdb", "select 1")
    assert not (tmp_path / "nope.duckdb").exists()
