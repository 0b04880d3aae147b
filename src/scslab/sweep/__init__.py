"""Parameter sweeps: grid values × replicates, run in-process or on a Dask cluster.

A sweep is the Cartesian product of the values given for some scenario paths,
each point run ``replicates`` times. Replicate ``r`` of every point uses the
same seed (``spawn_seeds(root_seed, replicates)[r]``): common random numbers,
so a difference between points measures the setting, not the noise.

Every run goes through the one run pipeline (``scslab.pipeline.execute``), so its
daily frame is the one ``scslab run`` writes. The runs go to Dask workers as plain
scenario mappings and come back as (summary, daily table); the client alone commits
the run directories (as ``scslab run`` does) and writes the catalog. A sweep's id is a
hash of its definition, so re-running the same command resumes an interrupted sweep:
runs whose directory (or catalog row) is complete for the same resolved scenario are
skipped.

The package: ``plan`` (grid parsing, validation, the runs), ``execute`` (running a
plan, Dask submission), ``table`` (the sweep table and ``SweepResult``), ``resume``
(finished runs) and ``cluster`` (Dask clients).

>>> res = sweep("national", {"sensors.cameras.false_match_rate": [1e-4, 1e-3]},
...             replicates=2, agents=2_000, days=20)        # doctest: +SKIP
>>> res.by_point(["misattributed_total"])                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from scslab.scenario.schema import Scenario
from scslab.sweep.cluster import SCHEDULER_TIMEOUT, check_workers, dashboard_link, dask_client
from scslab.sweep.execute import ProgressFn, run_plan, run_scenario_data
from scslab.sweep.plan import (
    RunSpec,
    SweepPlan,
    check_sweep_id,
    definition_id,
    parse_grid,
    plan_runs,
    plan_sweep,
    validate_point,
)
from scslab.sweep.resume import MANIFEST_FILE
from scslab.sweep.table import (
    TABLE_CSV,
    TABLE_FILE,
    OutcomeFn,
    SweepResult,
    key_outcomes,
    write_table,
)

__all__ = ["MANIFEST_FILE", "SCHEDULER_TIMEOUT", "TABLE_CSV", "TABLE_FILE", "OutcomeFn",
           "ProgressFn", "RunSpec", "SweepPlan", "SweepResult", "check_sweep_id",
           "check_workers", "dashboard_link", "dask_client", "definition_id", "key_outcomes",
           "parse_grid", "plan_runs", "plan_sweep", "run_plan", "run_scenario_data", "sweep",
           "validate_point", "write_table"]


def sweep(scenario: str | Path | Scenario | dict, grid: Mapping[str, Sequence[Any]]
          | Sequence[str] | None = None, *, replicates: int = 1, agents: int | None = None,
          days: int | None = None, seed: int | None = None,
          set: list[str] | dict[str, Any] | None = None,  # noqa: A002
          out: str | Path | None = None, db: str | Path | None = None,
          sweep_id: str | None = None, client: Any = None, workers: int | None = None,
          scheduler: str | None = None, threads: int | None = None, chilling: bool = False,
          progress: ProgressFn | None = None, keep_daily: bool = True,
          log: Callable[[str], None] | None = None) -> SweepResult:
    """Run the Cartesian product of ``grid`` × ``replicates`` and collect the outcomes.

    Args:
        scenario: preset name, YAML path, mapping or Scenario.
        grid: {path: [values]} or ``["path=v1,v2", …]``; every point is validated first.
        replicates: runs per point, on seeds ``spawn_seeds(seed, replicates)`` shared by
            all points (common random numbers).
        agents: as for ``scslab.run``.
        days: as for ``scslab.run``.
        seed: as for ``scslab.run``; the root of the replicate seeds.
        set: as for ``scslab.run``.
        out: sweep directory (one run directory per run, ``sweep.parquet``); reusing it
            resumes the sweep.
        db: DuckDB catalog to record every run in (tables runs, daily, sweep_runs).
        sweep_id: default: a hash of the sweep definition.
        client: a Dask client to run on.
        workers: without ``client``: start a LocalCluster of this many processes.
        scheduler: without ``client``: the address of a running Dask scheduler. With
            none of ``client``, ``workers`` and ``scheduler`` the runs are in-process.
        threads: as for ``run_plan``.
        chilling: also run each run's counterfactual and add ``chilling_effect`` (2× cost).
        progress: as for ``run_plan``.
        keep_daily: as for ``run_plan``.
        log: as for ``run_plan``.
    """
    plan = plan_sweep(scenario, grid, replicates=replicates, agents=agents, days=days,
                      seed=seed, set=set, sweep_id=sweep_id, chilling=chilling)
    if client is not None:
        return run_plan(plan, out=out, db=db, client=client, threads=threads,
                        progress=progress, keep_daily=keep_daily, log=log)
    with dask_client(workers, scheduler) as c:
        return run_plan(plan, out=out, db=db, client=c, threads=threads, progress=progress,
                        keep_daily=keep_daily, log=log)
