"""Helpers for the "nothing lost" tests: the CLI as a user runs it, file snapshots.

(Imported by the test modules of this folder as ``robust_helpers``; the name is
unique across tests/.)

Every test here drives ``scslab`` in a subprocess (as a user would) and checks the
contract of DESIGN.md §6: bad input exits 2 with one clear line and no traceback,
and nothing written before is damaged.

Most of a bad-input command's second is spent importing scslab (NumPy, Numba,
pandas, pyarrow…). For the large matrices of bad inputs, ``CliForkServer`` imports
the CLI once and forks a fresh process per command: each command still runs in its
own process, with its own working directory, environment, stdin, stdout and stderr,
and its exit status is the process's. ``test_hostile_input`` checks on a sample that
it answers exactly as ``python -m scslab.cli`` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
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


def assert_bad_input(done: Done, *needles: str, max_seconds: float = 60.0) -> str:
    """Exit 2, stderr exactly one non-empty line naming ``needles``, no traceback, and no
    hang (``max_seconds`` is a generous bound for a loaded machine, not a speed target)."""
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


_FORK_SERVER = r"""
import json, os, sys, time, traceback
from scslab.cli import main  # the expensive imports, once
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the command's own process
        code = 1
        try:
            os.chdir(req["cwd"])
            os.environ.clear()
            os.environ.update(req["env"])
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            sys.argv = ["scslab", *req["argv"]]
            try:
                main(req["argv"])
                code = 0
            except SystemExit as e:
                if e.code is None or isinstance(e.code, int):
                    code = e.code or 0
                else:
                    print(e.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = t0 + req["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            rc = -9
            break
        time.sleep(0.002)
    print(json.dumps({"returncode": rc, "elapsed": time.monotonic() - t0}), flush=True)
"""


class CliForkServer:
    """``scslab`` commands run in processes forked from one that imported the CLI.

    ``run(*args, cwd=…, env=…)`` returns a ``Done`` like ``run_cli``; up to
    ``workers`` commands run at once (one server process each).
    """

    def __init__(self, workers: int = 2) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="scslab-fork-")
        self._free: queue.Queue = queue.Queue()
        self._procs = []
        self._count = 0
        self._lock = threading.Lock()
        for _ in range(workers):
            p = subprocess.Popen([sys.executable, "-c", _FORK_SERVER], env=cli_env(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self._procs.append(p)
        for p in self._procs:
            assert json.loads(p.stdout.readline()) == {"ready": True}
            self._free.put(p)

    def run(self, *args, cwd: Path | str, env: dict | None = None,
            timeout: float = 60) -> Done:
        with self._lock:
            self._count += 1
            n = self._count
        out, err = Path(self._tmp.name) / f"{n}.out", Path(self._tmp.name) / f"{n}.err"
        req = {"argv": [str(a) for a in args], "cwd": str(cwd), "env": cli_env(env),
               "stdout": str(out), "stderr": str(err), "timeout": timeout}
        p = self._free.get()
        try:
            p.stdin.write(json.dumps(req) + "\n")
            p.stdin.flush()
            reply = json.loads(p.stdout.readline())
        finally:
            self._free.put(p)
        return Done(tuple(req["argv"]), reply["returncode"],
                    out.read_text(encoding="utf-8", errors="replace"),
                    err.read_text(encoding="utf-8", errors="replace"), reply["elapsed"])

    def close(self) -> None:
        for p in self._procs:
            p.stdin.close()
            p.wait(timeout=30)
        self._tmp.cleanup()
