"""A run directory commits like a database (DESIGN.md §6), tried with real processes.

Each case of the issue "Trust from a fresh machine" that is about processes:

1. a run killed after some checkpoints is refused by a plain re-run (exit 2, naming
   --resume and --overwrite), and ``--resume`` then gives exactly the clean run;
2. ``--out`` at a finished run is refused; ``--overwrite`` keeps the old run intact
   until the new one is complete (also when the new one is killed);
3. two concurrent runs with the same ``--out``: one runs, the other is refused, and
   the catalog holds one run for the directory;
4. a full disk (``ulimit -f``) or a kill while the outputs are written commits
   nothing; ``--resume`` finishes the run with its report and catalog row;
5. Ctrl-C in the day loop commits the days done (exit 130); during the build it
   leaves nothing; while writing the outputs it commits nothing and says how to
   finish.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from robust_helpers import TIMING_KEYS, assert_bad_input, cli_cmd, cli_env, run_cli, snapshot

SMALL = ("national", "--agents", 3000, "--days", 12, "--seed", 5)
"""A small run: a few seconds with warm kernels."""
LONG = ("national", "--agents", 100_000, "--days", 120, "--threads", 1, "--seed", 3)
"""Long enough to be killed part-way (several seconds of day loop)."""


def _summary(run: Path) -> dict:
    data = json.loads((run / "summary.json").read_text())
    return {k: v for k, v in data.items() if k not in TIMING_KEYS}


def _partial(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def _start(args, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(cli_cmd(*args), cwd=cwd, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before the moment: "
                        f"{proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the moment")
        time.sleep(0.005)


def _pointer_day(part: Path) -> int:
    try:
        return int(json.loads((part / "checkpoint.json").read_text())["day"])
    except (OSError, ValueError, KeyError):
        return -1


@pytest.fixture(scope="module")
def clean_long(tmp_path_factory) -> Path:
    """``LONG`` run cleanly, for comparison."""
    out = tmp_path_factory.mktemp("clean") / "run"
    done = run_cli("run", *LONG, "--out", out, "--no-catalog", timeout=900)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def clean_small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean_small") / "run"
    done = run_cli("run", *SMALL, "--out", out, "--no-catalog", timeout=600)
    assert done.returncode == 0, done.stderr
    return out


def _same_run(ref: Path, got: Path) -> None:
    for name in ("daily.parquet", "events.parquet"):
        assert (got / name).read_bytes() == (ref / name).read_bytes(), f"{name} differs"
    a, b = _summary(ref), _summary(got)
    a.pop("run_options", None)
    b.pop("run_options", None)
    assert a == b
    assert b["completed"] is True
    assert (got / "report.html").is_file()
    left = [p.name for p in got.iterdir() if p.name.startswith(("checkpoint", ".", "events."
                                                                "parts"))]
    assert not left, left


# ------------------------------------------------------------------ 1. kill, re-run, resume


@pytest.mark.slow
def test_killed_run_is_refused_by_a_plain_rerun_and_resumes_exactly(clean_long, tmp_path):
    out = tmp_path / "X"
    proc = _start(("run", *LONG, "--checkpoint-every", 10, "--out", out, "--no-catalog"),
                  tmp_path)
    _wait_for(lambda: _pointer_day(_partial(out)) >= 20, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run must commit nothing"
    assert (_partial(out) / "checkpoint.json").exists()
    # the same command without --checkpoint-every, as the issue tried it
    again = run_cli("run", *LONG, "--out", out, "--no-catalog", cwd=tmp_path)
    assert_bad_input(again, "--resume", "--overwrite", str(out))
    assert not out.exists()
    done = run_cli("run", "--resume", out, cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    assert not _partial(out).exists()
    _same_run(clean_long, out)
    rows = json.loads((out / "summary.json").read_text())["event_log"]["rows"]
    import pyarrow.parquet as pq

    assert pq.read_metadata(out / "events.parquet").num_rows == rows


def test_overwrite_discards_an_unfinished_partial(clean_small, tmp_path):
    out = tmp_path / "run"
    part = _partial(out)
    part.mkdir()
    (part / "scenario.yaml").write_text("days: 3\n")
    done = run_cli("run", *SMALL, "--out", out, "--no-catalog", "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not part.exists()
    _same_run(clean_small, out)


# ------------------------------------------------------------------ 2. --out and --overwrite


def test_out_at_a_finished_run_is_refused_and_left_alone(clean_small, tmp_path):
    before = snapshot(clean_small)
    done = run_cli("run", *SMALL, "--out", clean_small, "--no-catalog", cwd=tmp_path)
    assert_bad_input(done, "already holds a run", "--overwrite", "--resume")
    assert snapshot(clean_small) == before


def test_overwrite_keeps_the_old_run_until_the_new_one_is_complete(tmp_path):
    db = tmp_path / "cat.duckdb"
    out = tmp_path / "run"
    first = run_cli("run", *SMALL, "--out", out, "--db", db, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    old_id = json.loads((out / "summary.json").read_text())["run_id"]
    before = snapshot(out)
    # a second run over it, killed in its day loop: the old run is untouched
    proc = _start(("run", *LONG, "--checkpoint-every", 5, "--out", out, "--db", db,
                   "--overwrite"), tmp_path)
    _wait_for(lambda: _pointer_day(_partial(out)) >= 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert snapshot(out) == before
    # a completed overwrite replaces the run and its catalog row, and nothing else
    done = run_cli("run", *SMALL, "--seed", 6, "--out", out, "--db", db, "--overwrite",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    new = json.loads((out / "summary.json").read_text())
    assert new["seed"] == 6 and new["completed"] is True and new["run_id"] != old_id
    assert not _partial(out).exists()
    assert not list(tmp_path.glob(".run.old-*"))
    con = duckdb.connect(str(db), read_only=True)
    ids = [r[0] for r in con.execute("select run_id from runs").fetchall()]
    daily_ids = {r[0] for r in con.execute("select distinct run_id from daily").fetchall()}
    con.close()
    assert ids == [new["run_id"]] and daily_ids == {new["run_id"]}


@pytest.mark.parametrize("kind", ["file", "under_a_file", "not_a_run"])
def test_out_that_is_not_a_run_directory_is_refused(tmp_path, kind):
    f = tmp_path / "notes.txt"
    f.write_text("mine\n")
    if kind == "file":
        out, needle = f, "is a file"
    elif kind == "under_a_file":
        out, needle = f / "run", "is a file"
    else:
        out = tmp_path / "mine"
        out.mkdir()
        (out / "thesis.tex").write_text("x")
        needle = "not a scslab run"
    before = snapshot(tmp_path)
    for extra in ((), ("--overwrite",)):
        done = run_cli("run", *SMALL, "--out", out, "--no-catalog", *extra, cwd=tmp_path)
        assert_bad_input(done, needle)
        assert snapshot(tmp_path) == before


def test_an_empty_directory_is_a_fine_out(clean_small, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    done = run_cli("run", *SMALL, "--out", out, "--no-catalog", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _same_run(clean_small, out)


# ------------------------------------------------------------------ 3. one writer


def test_two_concurrent_runs_with_one_out(tmp_path):
    db = tmp_path / "cat.duckdb"
    out = tmp_path / "run"
    first = _start(("run", "national", "--agents", 2_000_000, "--days", 200, "--threads", 1,
                    "--out", out, "--db", db), tmp_path)
    _wait_for(lambda: (_partial(out) / "scenario.yaml").exists(), first)
    second = run_cli("run", *SMALL, "--out", out, "--db", db, cwd=tmp_path)
    assert_bad_input(second, "in use by another scslab process", str(out))
    resumed = run_cli("run", "--resume", out, cwd=tmp_path)
    assert_bad_input(resumed, "in use by another scslab process")
    assert first.wait(timeout=900) == 0, first.stderr.read()
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] and s["days"] == 200
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select run_id, run_dir from runs").fetchall()
    con.close()
    assert rows == [(s["run_id"], str(out))]


# ------------------------------------------------------------------ 4. full disk, kill while writing


def _fsize_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_file_size_limit_while_writing_commits_nothing_then_resume_finishes(
        clean_small, tmp_path):
    out = tmp_path / "run"
    db = tmp_path / "cat.duckdb"
    # the report (~5 MB: the plotting library is inlined) is the largest file
    proc = subprocess.run(cli_cmd("run", *SMALL, "--out", out, "--db", db), cwd=tmp_path,
                          env=cli_env(), capture_output=True, text=True, timeout=600,
                          preexec_fn=_fsize_limit(3_000_000))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "file size limit" in line and f"scslab run --resume {out}" in line, line
    assert not out.exists()
    assert json.loads((_partial(out) / "summary.json").read_text())["completed"] is False
    done = run_cli("run", "--resume", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _same_run(clean_small, out)
    con = duckdb.connect(str(db), read_only=True)
    (n,) = con.execute("select count(*) from runs where completed").fetchone()
    con.close()
    assert n == 1


def test_a_kill_while_the_outputs_are_written_commits_nothing(clean_small, tmp_path):
    out = tmp_path / "run"
    proc = _start(("run", *SMALL, "--out", out, "--no-catalog"), tmp_path)
    _wait_for(lambda: (_partial(out) / "daily.parquet").exists(), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    t0 = time.monotonic()
    done = run_cli("run", "--resume", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _same_run(clean_small, out)
    assert time.monotonic() - t0 < 600


# ------------------------------------------------------------------ 5. Ctrl-C


def test_ctrl_c_in_the_day_loop_commits_the_days_done(tmp_path):
    out = tmp_path / "run"
    proc = _start(("run", *LONG, "--checkpoint-every", 2, "--out", out, "--no-catalog"),
                  tmp_path)
    _wait_for(lambda: _pointer_day(_partial(out)) >= 4, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] is False and 4 <= s["days"] < 120
    assert not _partial(out).exists()
    import pyarrow.parquet as pq

    assert pq.read_metadata(out / "daily.parquet").num_rows == s["days"]


def test_ctrl_c_during_the_build_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    proc = _start(("run", "national", "--agents", 3_000_000, "--days", 5, "--out", out,
                   "--no-catalog"), tmp_path)
    _wait_for(lambda: (_partial(out) / "scenario.yaml").exists(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not _partial(out).exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_ctrl_c_while_writing_the_outputs_commits_nothing(clean_small, tmp_path):
    out = tmp_path / "run"
    proc = _start(("run", *SMALL, "--out", out, "--no-catalog"), tmp_path)
    _wait_for(lambda: (_partial(out) / "daily.parquet").exists(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    if proc.returncode == 0:  # the run committed before the signal arrived
        pytest.skip("the run finished before Ctrl-C reached it")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and f"scslab run --resume {out}" in err, err
    assert not out.exists()
    done = run_cli("run", "--resume", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _same_run(clean_small, out)


def test_ctrl_c_while_the_libraries_load_is_quiet(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time, signal, os\n"
                             "from scslab.__main__ import main\n"
                             "signal.setitimer(signal.ITIMER_REAL, 0.05)\n"
                             "signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), "
                             "signal.SIGINT))\n"
                             "import sys; sys.argv = ['scslab', 'presets']\n"
                             "main()\n"],
                            cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the command finished before the signal")
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted", err


# ------------------------------------------------------------------ the environment


@pytest.fixture
def tiny_fs(tmp_path):
    """A 3 MiB tmpfs (root only); ``remount(options)`` changes it."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
                        capture_output=True)
    if ok.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): "
                    f"{ok.stderr.decode(errors='replace').strip()}")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)

    try:
        yield mnt, remount
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_commits_nothing_and_resume_finishes(clean_small, tiny_fs, tmp_path):
    mnt, remount = tiny_fs
    out = mnt / "run"
    # --force: past the disk estimate, so that the writes themselves meet the full disk
    done = run_cli("run", *SMALL, "--out", out, "--no-catalog", "--force", cwd=tmp_path)
    line = assert_bad_input(done, "no space left on device", f"scslab run --resume {out}")
    assert "bug" not in line
    assert not out.exists()
    remount("size=64m")
    done = run_cli("run", "--resume", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _same_run(clean_small, out)


def test_a_read_only_output_folder_is_one_line(tiny_fs, tmp_path):
    mnt, remount = tiny_fs
    remount("ro")
    done = run_cli("run", *SMALL, "--out", mnt / "run", "--no-catalog", "--force",
                   cwd=tmp_path)
    assert_bad_input(done, "read-only file system", str(mnt))


def test_out_of_memory_under_force_is_one_line(tmp_path):
    """With --force the memory guard is skipped; a failed allocation is still exit 2."""
    limit = 1_500_000_000

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run(cli_cmd("run", "rm1", "--agents", 400_000_000, "--days", 1,
                                  "--force", "--no-catalog", "--out", tmp_path / "run"),
                          cwd=tmp_path, env=cli_env({"NUMBA_NUM_THREADS": "1"}),
                          capture_output=True, text=True, timeout=600, preexec_fn=cap)
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, err[-3000:])
    assert "out of memory" in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_explain_takes_a_negative_id_as_an_id(clean_small, tmp_path):
    done = run_cli("explain", clean_small, "-1", cwd=tmp_path)
    assert_bad_input(done, "agent -1: agent ids run from 0 to 2999")


def test_a_checkpoint_pointer_that_is_a_pipe_does_not_hang(tmp_path):
    import os

    out = tmp_path / "run"
    part = _partial(out)
    part.mkdir()
    (part / "scenario.yaml").write_text("days: 3\npopulation:\n  agents: 100\n")
    os.mkfifo(part / "checkpoint.json")
    done = run_cli("run", "--resume", out, cwd=tmp_path, timeout=60)
    assert_bad_input(done, "checkpoint is corrupt", "not a regular file")
