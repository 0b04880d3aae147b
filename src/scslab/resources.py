"""Resource guard: estimate memory and disk before allocating, refuse what won't fit."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil

from scslab.errors import ResourceError
from scslab.population import needs_group_index
from scslab.scenario.schema import Scenario

# The estimate is  RUNTIME + agents × (state + attributes + ties + employers)
#                  + event-log rows × EVENT_ROW_BYTES.
# Terms, measured with ``ru_maxrss`` (tests/robustness/test_resource_guard.py):
# - RUNTIME: a 1,000-agent run peaks at ~257 MiB in its day loop (Python, NumPy,
#   Numba and its compiled kernels, pyarrow, pandas, DuckDB, Jinja); writing the
#   outputs after the loop (Parquet, the HTML report with its plots) adds ~70-100 MiB
#   more for a short while. 300 MiB sits between the two, so the estimate is within
#   25 % of both the day-loop peak (``summary.json`` ``peak_memory_bytes``) and the
#   whole process's peak, from 3·10^5 to 3·10^6 agents.
# - per agent: the state arrays (39 B), the world's attributes (12 B), the tie CSR
#   (8 B of indptr + 4 B per tie), the employers' arrays (21 B per employer) and,
#   when a sensor sends false matches to the actor's own group, the group index (4 B);
#   the measured slope is ~80 B per agent for the national preset (~85 B estimated).
# - event log: 27 B per row (day i4, agent i8, kind u1, code u1, other i8, sensor i1,
#   value f4), with the expected number of rows × 1.5 for the acts that spill over.
STATE_BYTES = 5 * 4 + 3 * 1 + 6 * 2 + 2 * 2  # State.AGENT_FIELDS (tests/stages/test_own_ledger)
GROUP_INDEX_BYTES = 4  # World.group_members (int32), only when population.needs_group_index
WORLD_BYTES = 1 + 1 + 1 + 1 + 4 + 4  # World per-agent attributes
RUNTIME_BYTES = 300 * 2**20  # see above
EVENT_ROW_BYTES = 27
REPORT_BYTES = 8_000_000  # report.html: the plotting library inlined (~4.6 MB) + the plots


def estimate(sc: Scenario) -> dict:
    """Memory and disk a run of ``sc`` needs (bytes), and bytes per agent."""
    n = sc.population.agents
    ties = 8 + 4 * sc.population.ties.mean_degree if sc.population.ties.mean_degree > 0 else 0
    biz = 21 / sc.population.employers.mean_size
    # build temporaries: the tie builder's degree array and the uniform vectors
    index = GROUP_INDEX_BYTES if needs_group_index(sc) else 0
    per_agent = STATE_BYTES + WORLD_BYTES + ties + biz + index
    log = sc.output.event_log
    logged = 0 if not log.enabled else (n if n <= log.full_below else min(n, log.sample_agents))
    rate = sum(b.rate for b in sc.behaviours.values())
    event_rows = int(logged * sc.days * rate * 1.5)
    memory = int(RUNTIME_BYTES + n * per_agent + event_rows * EVENT_ROW_BYTES)
    n_regions = len(sc.population.regions)
    n_cols = (60 + len(sc.behaviours) + 7 * len(sc.population.groups)
              + (2 * n_regions if n_regions > 1 else 0) + len(dict(sc.sensors.items())))
    disk = int(sc.days * n_cols * 8 + event_rows * EVENT_ROW_BYTES * 0.5 + REPORT_BYTES
               + 100_000)
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
