"""Fixtures for the "nothing lost" tests (helpers live in robust_helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from robust_helpers import STOPPED, CliForkServer


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A small finished run directory with an event log (read-only for the tests)."""
    import scslab

    out = tmp_path_factory.mktemp("finished") / "run"
    r = scslab.run("national", agents=3000, days=6, seed=3, out=out, report=False)
    assert r.completed and (out / "events.parquet").exists()
    return out


@pytest.fixture(scope="session")
def stopped_run(tmp_path_factory) -> Path:
    """A run stopped after day 4 with checkpoints every 2 days (read-only for the tests).

    Day 4 is saved twice (its periodic checkpoint, then on stopping): the second save
    must not remove the checkpoint the pointer names, so it gets a name of its own.
    """
    import json

    import scslab

    out = tmp_path_factory.mktemp("stopped") / "run"
    calls = [0]

    def stop() -> bool:
        calls[0] += 1
        return calls[0] >= 4

    r = scslab.run(out=out, stop=stop, **STOPPED)
    assert not r.completed
    ptr = json.loads((out / "checkpoint.json").read_text())
    assert ptr["day"] == 4 and ptr["checkpoint"].startswith("checkpoint-000004-")
    assert (out / ptr["checkpoint"] / "state.npz").exists()
    assert [p.name for p in out.glob("checkpoint-*")] == [ptr["checkpoint"]]
    assert sorted(p.name for p in (out / "events.parts").iterdir()) == [
        "part-000002.parquet", "part-000004.parquet"]
    return out


@pytest.fixture(scope="session")
def fork_server():
    """Runs ``scslab`` commands in processes forked from one that imported the CLI."""
    server = CliForkServer(workers=max(2, min(4, os.cpu_count() or 2)))
    yield server
    server.close()
