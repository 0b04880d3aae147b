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

import errno  # noqa: E402
import os  # noqa: E402

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


# --- creating a catalog: atomically, never clobbering one another process made


def test_new_catalog_leaves_only_the_catalog(tmp_path):
    db = tmp_path / "new.duckdb"
    connect(db).close()
    assert [p.name for p in tmp_path.iterdir()] == ["new.duckdb"]
    names = set(query(db, "SELECT table_name FROM information_schema.tables")["table_name"])
    assert names == {"runs", "sweep_runs"}


def test_creation_keeps_a_catalog_another_process_made_meanwhile(tmp_path, monkeypatch):
    """Between "is it there?" and linking ours into place, another process created it
    and recorded a run: its catalog is kept (and used), ours is discarded."""
    db = tmp_path / "race.duckdb"
    real_link = os.link

    def link(src, dst):
        monkeypatch.setattr(catalog_mod.os, "link", real_link)
        _fake(db, "theirs")  # the other process (the name is absent for it too)
        return real_link(src, dst)

    monkeypatch.setattr(catalog_mod.os, "link", link)
    _fake(db, "ours")
    assert sorted(query(db, "SELECT run_id FROM runs")["run_id"]) == ["ours", "theirs"]
    assert [p.name for p in tmp_path.iterdir()] == ["race.duckdb"]


def test_creation_without_hard_links_renames(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(catalog_mod.os, "link", no_links)
    db = tmp_path / "nolinks.duckdb"
    _fake(db)
    assert query(db, "SELECT run_id FROM runs")["run_id"].tolist() == ["r1"]
    assert [p.name for p in tmp_path.iterdir()] == ["nolinks.duckdb"]


def test_failed_creation_leaves_nothing(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(catalog_mod.os, "link", full)
    db = tmp_path / "full.duckdb"
    with pytest.raises(ScslabError) as e:
        record_run(db, "r1", tmp_path / "R", "fake", {"agents": 1}, pd.DataFrame({"day": [1]}))
    assert str(e.value) == (
        f"no space left on device writing catalog {db}; free space, or pass another --db; "
        f"the run directory {tmp_path / 'R'} is complete: add it later with "
        f"`scslab catalog add {tmp_path / 'R'} --db {db}`")
    assert list(tmp_path.iterdir()) == []


def test_catalog_in_a_missing_directory(tmp_path):
    db = tmp_path / "nowhere" / "c.duckdb"
    with pytest.raises(ScslabError) as e:
        connect(db)
    assert str(e.value) == (f"catalog {db}: the directory {db.parent} does not exist; "
                            "create it or pass another --db")
    assert list(tmp_path.iterdir()) == []


def test_empty_catalog_file(tmp_path):
    db = tmp_path / "empty.duckdb"
    db.touch()
    for read_only in (False, True):
        with pytest.raises(ScslabError) as e:
            connect(db, read_only=read_only)
        assert str(e.value) == (f"catalog {db} is an empty file (left by an interrupted "
                                "creation); delete it, or pass another --db")
    assert db.stat().st_size == 0 and [p.name for p in tmp_path.iterdir()] == ["empty.duckdb"]


def test_wal_without_its_catalog(tmp_path):
    db = tmp_path / "gone.duckdb"
    wal = tmp_path / "gone.duckdb.wal"
    wal.write_bytes(b"x" * 100)
    with pytest.raises(ScslabError, match=r"does not exist but its write-ahead log .*gone\.duck"
                                          r"db\.wal does .*move gone\.duckdb\.wal aside"):
        connect(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gone.duckdb.wal"]


# --- a full disk or denied access is not a corrupt catalog


@pytest.mark.parametrize("err, start", [
    (duckdb.TransactionException('TransactionContext Error: Failed to commit: Could not write '
                                 'file "x.wal": No space left on device'),
     "no space left on device writing catalog"),
    (duckdb.IOException('IO Error: Could not write file "x": File too large'),
     "no space left writing catalog"),
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on device writing"),
    (OSError(errno.EFBIG, "File too large"), "no space left writing catalog"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "no space left on device writing"),
    (duckdb.IOException('IO Error: Cannot open file "x": Permission denied'),
     "permission denied writing catalog"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied writing catalog"),
    (duckdb.IOException('IO Error: Cannot open file "x": Read-only file system'),
     "catalog c.duckdb is on a read-only file system"),
    (duckdb.BinderException('Binder Error: table runs has 3 columns but 16 values'),
     "catalog c.duckdb is corrupt or not a scslab catalog"),
])
def test_unusable_says_what_it_is(err, start):
    msg = str(catalog_mod._unusable("c.duckdb", err))
    assert msg.startswith(start) or msg.startswith(start.replace("catalog", "catalog c.duckdb"))
    assert "corrupt" not in msg or "Binder" in msg
    assert "--db" in msg
