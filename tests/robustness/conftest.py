"""Fixtures for the "nothing lost" tests (helpers live in robust_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A small finished run directory with an event log (read-only for the tests)."""
    import scslab

    out = tmp_path_factory.mktemp("finished") / "run"
    r = scslab.run("national", agents=3000, days=6, seed=3, out=out, report=False)
    assert r.completed and (out / "events.parquet").exists()
    return out
