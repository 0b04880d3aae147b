"""Helpers for the "nothing lost" tests: the CLI as a user runs it, file snapshots.

(Imported by the test modules of this folder as ``robust_helpers``; the name is
unique across tests/.)

Every test here drives ``scslab`` in a subprocess (as a user would) and checks the
contract of DESIGN.md §6: bad input exits 2 with one clear line and no traceback,
and nothing written before is damaged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BAD_DIR = Path(__file__).resolve().parents[1] / "data" / "bad"

#: the ``stopped_run`` fixture: ``scslab.run(**STOPPED)`` stopped (as by Ctrl-C) after day 4
STOPPED = {"scenario": "national", "agents": 3000, "days": 8, "seed": 4,
           "checkpoint_every": 2, "report": False}

#: summary.json keys that measure time or memory (or name the run): the only ones a
#: resumed run may change.
TIMING_KEYS = frozenset({"build_seconds", "elapsed_seconds", "agent_days_per_second",
                         "peak_memory_bytes", "stage_seconds", "run_id"})


@dataclass
class Done:
    """A finished CLI command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float


def cli_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    for k in ("SCSLAB_PROGRESS", "SCSLAB_DEBUG", "SCSLAB_CATALOG_LOCK_TIMEOUT"):
        env.pop(k, None)
    env["COLUMNS"] = "200"
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def cli_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "scslab.cli", *map(str, args)]


def run_cli(*args, cwd: Path | str | None = None, env: dict | None = None,
            timeout: float = 300) -> Done:
    """Run ``scslab ARGS…`` in a subprocess and capture its output and wall time."""
    t0 = time.monotonic()
    p = subprocess.run(cli_cmd(*args), cwd=cwd, env=cli_env(env), capture_output=True,
                       text=True, timeout=timeout)
    return Done(tuple(map(str, args)), p.returncode, p.stdout, p.stderr,
                time.monotonic() - t0)


def assert_bad_input(done: Done, *needles: str, max_seconds: float = 10.0) -> str:
    """Exit 2, stderr exactly one non-empty line naming ``needles``, no traceback, fast."""
    where = f"scslab {' '.join(done.args)}"
    assert done.returncode == 2, (where, done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, (where,
                                                                               done.stderr)
    lines = done.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), (where, done.stderr)
    for n in needles:
        assert n in lines[0], (where, n, lines[0])
    assert done.elapsed < max_seconds, (where, f"{done.elapsed:.1f} s")
    return lines[0]


def snapshot(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``root`` (directories as '<dir>')."""
    out: dict[str, str] = {}
    for p in sorted(Path(root).rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out
