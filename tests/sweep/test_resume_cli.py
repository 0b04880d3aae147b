"""Kill the sweep client mid-sweep, run the same command again: it resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb


def _scslab() -> list[str]:
    # this interpreter's scslab (the tree under test): an installed `scslab` script runs
    # whatever its install recorded, which may be another checkout or a stale entry point
    return [sys.executable, "-m", "scslab.cli"]


def _committed(out):
    """summary.json of each committed run directory (``<key>.partial`` is work in progress)."""
    return [p for p in out.glob("*/summary.json") if not p.parent.name.endswith(".partial")]


def test_resume_after_kill(tmp_path):
    out, db = tmp_path / "sweep", tmp_path / "c.duckdb"
    # runs big enough (about 0.3 s each) that the client can be killed between two runs
    cmd = [*_scslab(), "sweep", "national", "--grid",
           "sensors.cameras.false_match_rate=0.0001,0.001,0.01,0.02,0.03,0.04", "--replicates",
           "2", "--agents", "100000", "--days", "40", "--out", str(out), "--db", str(db)]
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if _committed(out):
                break
            time.sleep(0.005)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    finished = {p.parent.name: p.stat().st_mtime_ns for p in _committed(out)}
    assert 1 <= len(finished) < 12
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {len(finished)} finished run(s)" in rerun.stderr
    assert f"ran {12 - len(finished)}, skipped {len(finished)}" in rerun.stdout
    # the run cut short by the kill left only its <key>.partial, now replaced by the run
    assert not list(out.glob("*.partial")) and len(_committed(out)) == 12
    # finished runs were not run again
    for key, mtime in finished.items():
        assert (out / key / "summary.json").stat().st_mtime_ns == mtime
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from sweep_runs").fetchone()[0] == 12
        assert con.execute("select count(distinct run_id) from daily").fetchone()[0] == 12
        assert con.execute("select count(*) from runs where completed").fetchone()[0] == 12
    finally:
        con.close()
