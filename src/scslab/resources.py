"""Resource guard: estimate memory and disk before allocating, refuse what won't fit."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil

from scslab.errors import ResourceError
from scslab.scenario.schema import Scenario

STATE_BYTES = 4 * 4 + 1 + 1 + 2 * 5 + 2 * 2  # State.AGENT_FIELDS
WORLD_BYTES = 1 + 1 + 1 + 1 + 4 + 4  # World per-agent attributes
RUNTIME_BYTES = 350_000_000  # interpreter, NumPy, Numba, pyarrow, compiled kernels
EVENT_ROW_BYTES = 27


def estimate(sc: Scenario) -> dict:
    """Memory and disk a run of ``sc`` needs (bytes), and bytes per agent."""
    n = sc.population.agents
    ties = 8 + 4 * sc.population.ties.mean_degree if sc.population.ties.mean_degree > 0 else 0
    biz = 21 / sc.population.employers.mean_size
    # build temporaries: the tie builder's degree array and the uniform vectors
    per_agent = STATE_BYTES + WORLD_BYTES + ties + biz
    log = sc.output.event_log
    logged = 0 if not log.enabled else (n if n <= log.full_below else min(n, log.sample_agents))
    rate = sum(b.rate for b in sc.behaviours.values())
    event_rows = int(logged * sc.days * rate * 1.5)
    memory = int(RUNTIME_BYTES + n * per_agent + event_rows * EVENT_ROW_BYTES)
    n_cols = 60 + len(sc.behaviours) + 4 * len(sc.population.groups)
    disk = int(sc.days * n_cols * 8 + event_rows * EVENT_ROW_BYTES * 0.5 + 100_000)
    return {"memory_bytes": memory, "disk_bytes": disk, "bytes_per_agent": per_agent,
            "event_rows": event_rows}


def check_fits(sc: Scenario, out_dir: Path | None = None, force: bool = False) -> dict:
    """Raise ResourceError when the run would not fit in memory or on disk."""
    est = estimate(sc)
    if force:
        return est
    avail = psutil.virtual_memory().available
    if est["memory_bytes"] > avail:
        raise ResourceError(
            f"{sc.population.agents:,} agents need about {est['memory_bytes'] / 2**30:.1f} GiB "
            f"but {avail / 2**30:.1f} GiB is available; use fewer --agents or pass --force")
    where = Path(out_dir or ".").resolve()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    if est["disk_bytes"] > free:
        raise ResourceError(f"outputs need about {est['disk_bytes'] / 2**20:.0f} MiB but "
                            f"{free / 2**20:.0f} MiB is free at {where}; free space or pass "
                            "--force")
    return est
