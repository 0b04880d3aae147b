"""Concurrent writers (issue "Nothing lost", part 4), with real processes.

Two ``scslab run`` commands finish into the same ``--db`` at the same time: both
exit 0 and both runs are in ``runs`` and ``daily`` when their commands return. The
catalog's lock is retried for a bounded time (``SCSLAB_CATALOG_LOCK_TIMEOUT``).

To make "at the same time" certain rather than likely, a third process holds the
catalog's write lock while both runs finish their days; both then wait on the
lock, and when it is released they race for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from robust_helpers import cli_cmd, cli_env

DAYS = 2
AGENTS = 2000

HOLD_LOCK = """
import sys, time, duckdb
c = duckdb.connect(sys.argv[1])
c.execute("create table if not exists t(a int)")
print("locked", flush=True)
sys.stdin.readline()   # hold the lock until told to let go
c.close()
"""


def _start_run(cwd: Path, out: str, db: Path, seed: int) -> subprocess.Popen:
    return subprocess.Popen(cli_cmd("run", "national", "--agents", AGENTS, "--days", DAYS,
                                    "--seed", seed, "--out", out, "--db", db),
                            cwd=cwd, env=cli_env({"SCSLAB_CATALOG_LOCK_TIMEOUT": "120"}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _catalog_rows(db: Path) -> tuple[dict[str, str], dict[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = dict(con.execute("SELECT run_dir, run_id FROM runs").fetchall())
        daily = dict(con.execute("SELECT run_id, count(*) FROM daily GROUP BY run_id"
                                 ).fetchall())
    finally:
        con.close()
    return runs, daily


def _assert_both_landed(cwd: Path, db: Path, procs: dict[str, subprocess.Popen]) -> None:
    for out, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, (out, stderr)
        assert "Traceback" not in stderr
    runs, daily = _catalog_rows(db)
    for out in procs:
        summary = json.loads((cwd / out / "summary.json").read_text())
        assert summary["completed"] is True
        assert out in runs, (out, runs)
        assert runs[out] == summary["run_id"]
        assert daily.get(summary["run_id"]) == DAYS, daily
    assert len(runs) == len(procs)


def test_two_runs_finishing_together_both_land(tmp_path):
    db = tmp_path / "shared.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        procs = {out: _start_run(tmp_path, out, db, seed)
                 for out, seed in (("A", 1), ("B", 2))}
        # wait until both have written their report: both now wait on the lock (the
        # catalog row is the last thing a run writes before it commits)
        deadline = time.monotonic() + 300
        while not all((tmp_path / f"{out}.partial" / "report.html").exists() for out in procs):
            assert all(p.poll() is None for p in procs.values()), [
                p.stderr.read() for p in procs.values() if p.poll() is not None]
            assert time.monotonic() < deadline, "runs did not finish"
            time.sleep(0.05)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()
    _assert_both_landed(tmp_path, db, procs)


def test_two_runs_started_together_into_a_new_catalog(tmp_path):
    """No lock holder: the first to finish creates the catalog while the other waits."""
    db = tmp_path / "new.duckdb"
    procs = {out: _start_run(tmp_path, out, db, seed) for out, seed in (("A", 3), ("B", 3))}
    _assert_both_landed(tmp_path, db, procs)
