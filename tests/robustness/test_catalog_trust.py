"""The catalog from a fresh machine (issue "Trust from a fresh machine"), real processes.

1. ``scslab catalog query`` runs exactly one read-only statement: COPY, ATTACH,
   INSTALL/LOAD, file-reading table functions, SET/RESET/PRAGMA and several statements
   exit 2 with one line; the file a COPY names and the table in another database an
   ATTACH names are untouched. The README's query and queries on ``daily`` work.

Every command runs as ``python -m scslab.cli`` with ``PYTHONPATH`` set to this tree's
``src`` (a relative ``PYTHONPATH=src`` would import another tree's scslab once the
working directory changes).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from robust_helpers import Done, assert_bad_input, cli_cmd, cli_env, snapshot

SRC = Path(__file__).resolve().parents[2] / "src"
README_QUERY = "select scenario_name, agents, agent_days_per_second from runs"
READ_ONLY = ("`catalog query` is read-only: one SELECT statement (or DESCRIBE, SHOW, "
             "SUMMARIZE, EXPLAIN), no files, no attached databases, no settings")


def _env(extra: dict | None = None) -> dict:
    env = {"PYTHONPATH": str(SRC)}
    env.update(extra or {})
    return env


def cli(*args, cwd: Path, preexec_fn=None, env: dict | None = None,
        timeout: float = 120) -> Done:
    """``scslab ARGS…`` in a subprocess of its own, importing this tree's scslab."""
    t0 = time.monotonic()
    p = subprocess.run(cli_cmd(*args), cwd=cwd, env=cli_env(_env(env)), capture_output=True,
                       text=True, timeout=timeout, preexec_fn=preexec_fn)
    return Done(tuple(map(str, args)), p.returncode, p.stdout, p.stderr,
                time.monotonic() - t0)


def test_subprocesses_import_this_tree(tmp_path):
    p = subprocess.run([sys.executable, "-c", "import scslab; print(scslab.__file__)"],
                       cwd=tmp_path, env=cli_env(_env()), capture_output=True, text=True)
    assert p.stdout.strip() == str(SRC / "scslab" / "__init__.py")


@pytest.fixture(scope="module")
def populated(finished_run, tmp_path_factory) -> Path:
    """A catalog holding ``finished_run`` (6 days), made by ``scslab catalog add``."""
    root = tmp_path_factory.mktemp("populated")
    done = cli("catalog", "add", finished_run, "--db", root / "c.duckdb", cwd=root)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in root.iterdir()) == ["c.duckdb"]
    return root / "c.duckdb"


# --------------------------------------------------------------- 1. read-only queries


@pytest.fixture
def victims(populated, tmp_path):
    """A working directory with the catalog, another database and a file not to touch."""
    shutil.copy(populated, tmp_path / "c.duckdb")
    con = duckdb.connect(str(tmp_path / "other.duckdb"))
    con.execute("CREATE TABLE runs AS SELECT 42 AS a")
    con.close()
    (tmp_path / "victim.txt").write_text("keep me\n")
    return tmp_path


def _assert_victims_untouched(cwd: Path, before: dict) -> None:
    assert (cwd / "victim.txt").read_text() == "keep me\n"
    con = duckdb.connect(str(cwd / "other.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT a FROM runs").fetchall() == [(42,)]
    finally:
        con.close()
    assert snapshot(cwd) == before


REFUSED = [
    ("copy (select 1 as a) to 'victim.txt'", "refused: a statement of type COPY; "),
    ("attach 'other.duckdb' as x (read_only false); drop table x.runs",
     "refused: 2 statements, give exactly one; "),
    ("attach 'other.duckdb' as x (read_only false)", "refused: a statement of type ATTACH; "),
    ("install httpfs", "refused: a statement of type LOAD; "),
    ("set enable_external_access = true", "refused: a statement of type SET; "),
    ("reset threads", "refused: a statement of type SET; "),
    ("pragma threads = 4", "refused: a statement of type SET; "),
    ("select * from read_text('victim.txt')",
     'refused: Permission Error: Cannot access file "victim.txt" - file system operations '
     "are disabled by configuration; "),
    ("select * from read_csv('other.duckdb')", "file system operations are disabled"),
    ("select * from glob('*')", "file system operations are disabled"),
    ("explain analyze copy (select 1) to 'victim.txt'", "file system operations are disabled"),
]


@pytest.mark.parametrize("sql, needle", REFUSED[:2])
def test_query_refused(victims, sql, needle):
    """The issue's two cases, as ``python -m scslab.cli``."""
    before = snapshot(victims)
    done = cli("catalog", "query", sql, "--db", "c.duckdb", cwd=victims)
    line = assert_bad_input(done, needle, max_seconds=60)
    assert line.startswith("error: refused: ") and line.endswith(READ_ONLY)
    _assert_victims_untouched(victims, before)


@pytest.mark.parametrize("sql, needle", REFUSED)
def test_query_refused_forked(fork_server, victims, sql, needle):
    """All of them, in processes forked from one that imported the CLI."""
    before = snapshot(victims)
    done = fork_server.run("catalog", "query", sql, "--db", "c.duckdb", cwd=victims,
                           env=_env())
    line = assert_bad_input(done, needle)
    assert line.startswith("error: refused: ") and line.endswith(READ_ONLY)
    _assert_victims_untouched(victims, before)


def test_query_empty(victims):
    before = snapshot(victims)
    done = cli("catalog", "query", "", "--db", "c.duckdb", cwd=victims)
    assert assert_bad_input(done, max_seconds=60) == (
        "error: empty query; give one SELECT statement")
    assert snapshot(victims) == before


@pytest.mark.parametrize("sql", ["   ", "\n\t"])
def test_query_blank_forked(fork_server, victims, sql):
    before = snapshot(victims)
    done = fork_server.run("catalog", "query", sql, "--db", "c.duckdb", cwd=victims,
                           env=_env())
    assert assert_bad_input(done) == "error: empty query; give one SELECT statement"
    assert snapshot(victims) == before


def test_query_readme_example_and_daily(victims, finished_run):
    import json

    summary = json.loads((finished_run / "summary.json").read_text())
    done = cli("catalog", "query", README_QUERY, "--db", "c.duckdb", cwd=victims)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    header, row = done.stdout.strip().splitlines()
    assert header.split() == ["scenario_name", "agents", "agent_days_per_second"]
    assert row.split()[:2] == ["national", str(summary["agents"])]
    done = cli("catalog", "query", "select count(*) as n, max(day) as last from daily",
               "--db", "c.duckdb", cwd=victims)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["n", "last", "6", "6"]
