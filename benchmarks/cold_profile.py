"""Where a cold first run spends its time: per-kernel compile seconds, user and system CPU.

Runs ``scslab run SCENARIO --agents N --days D --no-catalog`` in this process with an
empty Numba cache (a fresh ``NUMBA_CACHE_DIR``) and prints the wall time, the run's
``build_seconds``, the process's user and system CPU seconds, and the compile time of
each kernel (Numba's ``numba:compile`` events; nested compiles count in both).

    PYTHONPATH=src python benchmarks/cold_profile.py [SCENARIO] [AGENTS] [DAYS]

Compare two trees by running it with each tree's ``src`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time


def main(argv: list[str]) -> None:
    name, agents, days = (argv + ["national", "20000", "5"][len(argv):])[:3]
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="scslab-cold-")
    from numba.core import event

    started: dict[tuple[int, str], float] = {}
    seconds: dict[str, float] = {}

    class Timer(event.Listener):
        def on_start(self, e: event.Event) -> None:
            started[id(e.data["dispatcher"]), str(e.data.get("args"))] = time.perf_counter()

        def on_end(self, e: event.Event) -> None:
            key = (id(e.data["dispatcher"]), str(e.data.get("args")))
            t0 = started.pop(key, time.perf_counter())
            fn = e.data["dispatcher"].py_func.__qualname__
            seconds[fn] = seconds.get(fn, 0.0) + time.perf_counter() - t0

    event.register("numba:compile", Timer())
    out = os.path.join(tempfile.mkdtemp(prefix="scslab-cold-run-"), "run")
    t0 = time.perf_counter()
    from scslab.cli import main as cli

    try:
        cli(["run", name, "--agents", agents, "--days", days, "--no-catalog", "--out", out])
    except SystemExit:
        pass
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
        build = json.load(f)["build_seconds"]
    print(f"wall {wall:.1f} s, build {build:.1f} s, user {usage.ru_utime:.1f} s, "
          f"system {usage.ru_stime:.1f} s")
    for fn, s in sorted(seconds.items(), key=lambda x: -x[1]):
        print(f"{s:7.2f} s  {fn}")


if __name__ == "__main__":
    main(sys.argv[1:])
