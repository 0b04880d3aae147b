"""The catalog from a fresh machine (issue "Trust from a fresh machine"), real processes.

1. ``scslab catalog query`` runs exactly one read-only statement: COPY, ATTACH,
   INSTALL/LOAD, file-reading table functions, SET/RESET/PRAGMA and several statements
   exit 2 with one line; the file a COPY names and the table in another database an
   ATTACH names are untouched. The README's query and queries on ``daily`` work.
2. A catalog is created atomically: a full disk or a file-size limit while it is
   created leaves no file (before: a 0-byte ``scslab.duckdb`` every later command
   tripped on); an existing 0-byte file is named as such. Processes creating the same
   new catalog at once all land their run in it (none clobbers another's).
3. An intact catalog on a full disk, under a file-size limit, on a read-only file
   system or in a directory without write permission says so (exit 2, never
   "corrupt"); it stays intact, stays queryable, and the run can be added later.

Every command runs as ``python -m scslab.cli`` with ``PYTHONPATH`` set to this tree's
``src`` (a relative ``PYTHONPATH=src`` would import another tree's scslab once the
working directory changes). File-size limits: ``RLIMIT_FSIZE`` set in the child
(Python ignores SIGXFSZ, so writes fail with EFBIG). Full and read-only disks: a tiny
tmpfs, when this machine lets the tests mount one (root), else skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
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


def _fsize_limit(n: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))


def _landed(run_dir: Path) -> tuple[list, int]:
    """What ``_counts`` reads once ``run_dir`` (6 days) alone is in the catalog."""
    import json

    run_id = json.loads((run_dir / "summary.json").read_text())["run_id"]
    return [(run_id, str(run_dir))], 6


def _counts(db: Path) -> tuple[list, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = con.execute("SELECT run_id, run_dir FROM runs ORDER BY run_id").fetchall()
        daily = con.execute("SELECT count(*) FROM daily").fetchone()[0]
    finally:
        con.close()
    return runs, daily


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


# ------------------------------------------------------- 2. creating a catalog atomically


@pytest.mark.parametrize("limit", [0, 100_000])
def test_new_catalog_under_a_file_size_limit(finished_run, tmp_path, limit):
    """Before: ``ulimit -f 0`` left a 0-byte catalog that every later command failed on."""
    db = tmp_path / "dbdir" / "scslab.duckdb"
    db.parent.mkdir()
    done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path,
               preexec_fn=_fsize_limit(limit))
    line = assert_bad_input(done, max_seconds=60)
    assert line == (f"error: no space left writing catalog {db}: the file-size limit "
                    "(`ulimit -f`) was reached (File too large); raise the limit or free "
                    f"space, or pass another --db; the run directory {finished_run} is "
                    f"complete: add it later with `scslab catalog add {finished_run} "
                    f"--db {db}`")
    assert list(db.parent.iterdir()) == []  # no catalog, no WAL, no temporary file
    done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _counts(db) == _landed(finished_run)


def test_empty_catalog_file(finished_run, tmp_path):
    db = tmp_path / "scslab.duckdb"
    db.touch()
    msg = (f"error: catalog {db} is an empty file (left by an interrupted creation); "
           "delete it, or pass another --db")
    done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path)
    assert assert_bad_input(done, max_seconds=60) == (
        f"{msg}; the run directory {finished_run} is complete: add it later with "
        f"`scslab catalog add {finished_run} --db {db}`")
    done = cli("catalog", "query", "select 1", "--db", db, cwd=tmp_path)
    assert assert_bad_input(done, max_seconds=60) == msg
    assert db.stat().st_size == 0 and [p.name for p in tmp_path.iterdir()] == [db.name]


RECORD = """
import sys
import pandas as pd
from scslab.catalog import record_run
print("ready", flush=True)
sys.stdin.readline()   # go
record_run(sys.argv[1], sys.argv[2], None, "fake", {"agents": 1, "completed": True},
           pd.DataFrame({"day": [1, 2], "listed": [0, 1]}))
print("recorded", flush=True)
"""


def test_processes_creating_one_catalog_at_once_all_land(tmp_path):
    db = tmp_path / "new.duckdb"
    procs = [subprocess.Popen([sys.executable, "-c", RECORD, str(db), f"r{i}"],
                              env=cli_env(_env({"SCSLAB_CATALOG_LOCK_TIMEOUT": "120"})),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    for p in procs:  # all imported: release them together
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0 and out.strip() == "recorded", err
    assert _counts(db) == ([(f"r{i}", None) for i in range(4)], 8)
    assert [p.name for p in tmp_path.iterdir()] == ["new.duckdb"]


# ------------------------------------------- 3. an intact catalog that cannot be written


def _assert_intact(db: Path, before: bytes, finished_run: Path) -> None:
    """The failed write left the catalog as it was: same bytes, same rows, queryable."""
    assert db.read_bytes() == before
    assert _counts(db) == _landed(finished_run)
    done = cli("catalog", "query", "select count(*) as n from daily", "--db", db,
               cwd=db.parent)
    assert done.returncode == 0 and done.stdout.split() == ["n", "6"], done.stderr


def test_intact_catalog_under_a_file_size_limit(populated, finished_run, tmp_path):
    db = tmp_path / "c.duckdb"
    shutil.copy(populated, db)
    before = db.read_bytes()
    # re-adding the same run replaces its rows in one transaction: it must not lose them
    done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path,
               preexec_fn=_fsize_limit(64))
    line = assert_bad_input(done, f"no space left writing catalog {db}: the file-size limit",
                            f"add it later with `scslab catalog add {finished_run} --db {db}`",
                            max_seconds=60)
    assert "corrupt" not in line
    _assert_intact(db, before, finished_run)
    done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _counts(db) == _landed(finished_run)


def _can_mount() -> str | None:
    """None if this machine lets the tests mount a tmpfs, else why not."""
    if sys.platform != "linux":
        return "tmpfs mounts are a Linux test"
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    return None


@contextlib.contextmanager
def tmpfs(where: Path, size: str):
    why = _can_mount()
    if why:
        pytest.skip(why)
    where.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                        str(where)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {p.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(fs: Path) -> Path:
    """Fill the file system ``fs`` up with one file; return it."""
    filler = fs / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def test_new_catalog_on_a_full_disk(finished_run, tmp_path):
    with tmpfs(tmp_path / "fs", "64k") as fs:
        db = fs / "scslab.duckdb"
        done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path)
        assert assert_bad_input(done, max_seconds=60) == (
            f"error: no space left on device writing catalog {db}; free space, or pass "
            f"another --db; the run directory {finished_run} is complete: add it later "
            f"with `scslab catalog add {finished_run} --db {db}`")
        assert list(fs.iterdir()) == []


def test_intact_catalog_on_a_full_disk(populated, finished_run, tmp_path):
    with tmpfs(tmp_path / "fs", f"{populated.stat().st_size + 4 * 2**20}") as fs:
        db = fs / "c.duckdb"
        shutil.copy(populated, db)
        before = db.read_bytes()
        filler = _fill(fs)
        done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path)
        line = assert_bad_input(done, max_seconds=60)
        assert line == (f"error: no space left on device writing catalog {db}; free space, "
                        f"or pass another --db; the run directory {finished_run} is "
                        f"complete: add it later with `scslab catalog add {finished_run} "
                        f"--db {db}`")
        _assert_intact(db, before, finished_run)  # queryable on the full disk too
        filler.unlink()
        done = cli("catalog", "add", finished_run, "--db", db, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert _counts(db) == _landed(finished_run)


def test_catalog_on_a_read_only_file_system(populated, finished_run, tmp_path):
    with tmpfs(tmp_path / "fs", "8m") as fs:
        db = fs / "c.duckdb"
        shutil.copy(populated, db)
        before = db.read_bytes()
        p = subprocess.run(["mount", "-o", "remount,ro", str(fs)], capture_output=True,
                           text=True)
        if p.returncode != 0:
            pytest.skip(f"cannot remount the tmpfs read-only: {p.stderr.strip()}")
        for target in (db, fs / "new.duckdb"):
            done = cli("catalog", "add", finished_run, "--db", target, cwd=tmp_path)
            line = assert_bad_input(done, max_seconds=60)
            assert line.startswith(f"error: catalog {target} is on a read-only file system; "
                                   "pass another --db; the run directory"), line
        assert sorted(p.name for p in fs.iterdir()) == ["c.duckdb"]
        _assert_intact(db, before, finished_run)


def _without_root_override() -> None:
    """In the child: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set,
    so that root, too, is denied what the permission bits deny (after exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _denied(directory: Path):
    """A preexec_fn under which ``directory`` (mode 0555) is not writable; else skip."""
    preexec = _without_root_override if os.geteuid() == 0 else None
    probe = directory / f"probe-{uuid.uuid4().hex}"
    try:
        p = subprocess.run([sys.executable, "-c", f"open({str(probe)!r}, 'w')"],
                           preexec_fn=preexec, capture_output=True, text=True)
    except subprocess.SubprocessError as e:
        pytest.skip(f"cannot drop root's permission override here: {e}")
    if p.returncode == 0:
        probe.unlink()
        pytest.skip("a read-only directory is writable for this user (root's override)")
    return preexec


def test_catalog_in_a_directory_without_write_permission(populated, finished_run, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    db = ro / "c.duckdb"
    shutil.copy(populated, db)
    before = db.read_bytes()
    ro.chmod(0o555)
    try:
        preexec = _denied(ro)
        for target in (db, ro / "new.duckdb"):
            done = cli("catalog", "add", finished_run, "--db", target, cwd=tmp_path,
                       preexec_fn=preexec)
            line = assert_bad_input(done, max_seconds=60)
            assert line == (f"error: permission denied writing catalog {target}; make it and "
                            "its directory writable, or pass another --db; the run directory "
                            f"{finished_run} is complete: add it later with `scslab catalog "
                            f"add {finished_run} --db {target}`")
        assert sorted(p.name for p in ro.iterdir()) == ["c.duckdb"]
        done = cli("catalog", "query", "select count(*) as n from daily", "--db", db,
                   cwd=tmp_path, preexec_fn=preexec)
        assert done.returncode == 0 and done.stdout.split() == ["n", "6"], done.stderr
    finally:
        ro.chmod(0o755)
    _assert_intact(db, before, finished_run)
