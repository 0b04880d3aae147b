"""The run-directory commit protocol, piece by piece (``scslab.rundir``).

The whole protocol is tried with real processes in
``tests/robustness/test_run_commit.py``; these are its parts, in-process.
"""

from __future__ import annotations

import multiprocessing
import os

import pytest

from scslab import rundir
from scslab.errors import RunDirError


def _run(path, run_id="r1"):
    path.mkdir(parents=True)
    (path / "summary.json").write_text(
        f'{{"run_id": "{run_id}", "completed": true, "agents": 10, "days": 1}}')
    (path / "scenario.yaml").write_text("days: 1\n")
    return path


def test_classify(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a").write_text("x")
    _run(tmp_path / "run")
    assert rundir.classify(tmp_path / "new") == "absent"
    assert rundir.classify(tmp_path / "new" / "deeper") == "absent"
    assert rundir.classify(tmp_path / "empty") == "empty"
    assert rundir.classify(tmp_path / "other") == "other"
    assert rundir.classify(tmp_path / "run") == "run"
    assert rundir.classify(f) == "file"
    assert rundir.classify(f / "under") == "file"


def test_normalise_takes_partial_off():
    assert rundir.normalise("runs/demo.partial").name == "demo"
    assert rundir.normalise("runs/demo").name == "demo"
    with pytest.raises(RunDirError):
        rundir.normalise(".")


def _try_lock(out, q):
    try:
        rundir.RunLock(out).acquire()
        q.put("acquired")
    except RunDirError as e:
        q.put(str(e))


def test_the_lock_is_exclusive_across_processes_and_dies_with_its_holder(tmp_path):
    out = tmp_path / "run"
    lock = rundir.RunLock(out).acquire()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_try_lock, args=(out, q))
    p.start()
    p.join(60)
    msg = q.get(timeout=5)
    assert "in use by another scslab process" in msg and f"pid {os.getpid()}" in msg
    lock.release()
    assert not rundir.lock_path(out).exists()
    p = ctx.Process(target=_try_lock, args=(out, q))  # acquires, then exits holding it
    p.start()
    p.join(60)
    assert q.get(timeout=5) == "acquired"
    rundir.RunLock(out).acquire().release()  # the dead holder's lock is gone with it


def test_open_new_and_commit(tmp_path):
    out = tmp_path / "run"
    w = rundir.open_new(out)
    assert w.partial.is_dir() and not out.exists() and w.created and not w.replace
    (w.partial / "summary.json").write_text("{}")
    w.commit()
    w.release()
    assert (out / "summary.json").exists() and not w.partial.exists()


def test_open_new_refuses_a_run_an_other_folder_and_an_unfinished_partial(tmp_path):
    _run(tmp_path / "run")
    with pytest.raises(RunDirError, match="already holds a run.*--overwrite"):
        rundir.open_new(tmp_path / "run")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes").write_text("x")
    with pytest.raises(RunDirError, match="not a scslab run"):
        rundir.open_new(tmp_path / "mine", overwrite=True)
    _run(tmp_path / "k.partial")
    with pytest.raises(RunDirError, match="--resume.*--overwrite"):
        rundir.open_new(tmp_path / "k")
    # a refusal leaves no lock behind
    assert not list(tmp_path.glob(".*.lock"))


def test_a_partial_that_never_started_is_taken_over(tmp_path):
    """Killed before its scenario.yaml: there is nothing to resume, so a new run may go."""
    (tmp_path / "k.partial").mkdir()
    (tmp_path / "k.partial" / "summary.json").write_text("{}")
    w = rundir.open_new(tmp_path / "k")
    assert list(w.partial.iterdir()) == []
    w.release()


def test_overwrite_moves_the_old_run_aside_then_deletes_it(tmp_path):
    out = _run(tmp_path / "run", "old")
    w = rundir.open_new(out, overwrite=True)
    assert w.replace and w.old_run_id() == "old"
    assert (out / "summary.json").exists(), "the old run stays until the commit"
    _run(w.partial / "x")  # something in the new run
    (w.partial / "summary.json").write_text('{"run_id": "new"}')
    w.commit()
    w.release()
    assert (out / "x").is_dir() and '"new"' in (out / "summary.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_recover_puts_back_an_old_run_whose_replacement_never_arrived(tmp_path):
    out = tmp_path / "run"
    _run(tmp_path / ".run.old-abcdef")
    rundir.recover(out)
    assert rundir.classify(out) == "run" and not list(tmp_path.glob(".run.old-*"))


def test_recover_keeps_the_old_run_while_a_partial_waits(tmp_path):
    out = tmp_path / "run"
    _run(tmp_path / ".run.old-abcdef")
    _run(tmp_path / "run.partial", "new")
    rundir.recover(out)
    assert (tmp_path / ".run.old-abcdef").is_dir() and not out.exists()
    w, found = rundir.open_resume(out)
    assert found == "partial"
    w.commit()
    w.release()
    assert '"new"' in (out / "summary.json").read_text()
    assert not list(tmp_path.glob(".run.old-*"))


def test_open_resume_copies_a_stopped_run_by_links(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text('{"completed": false, "agents": 10, "days": 0}')
    (out / "scenario.yaml").write_text("days: 1\n")
    w, found = rundir.open_resume(out)
    assert found == "stopped" and w.replace
    assert os.stat(w.partial / "scenario.yaml").st_ino == os.stat(out / "scenario.yaml").st_ino
    w.discard()
    w.release()
    assert not w.partial.exists() and (out / "scenario.yaml").exists()


def test_open_resume_of_nothing(tmp_path):
    with pytest.raises(RunDirError, match="does not exist, and there is no run.partial"):
        rundir.open_resume(tmp_path / "run")
    _run(tmp_path / "done")
    w, found = rundir.open_resume(tmp_path / "done")
    w.release()
    assert found == "finished"
