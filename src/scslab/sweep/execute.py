"""Running a sweep plan: each run through the one pipeline, in-process or on Dask.

The runs go to Dask workers as plain scenario mappings and come back as (summary,
daily frame); the client alone commits the run directories (``scslab.pipeline
.write_run``: in ``<key>.partial``, catalog row, ``completed`` last, then renamed into
place) and writes the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import RunDirError, ScslabError
from scslab.scenario.loader import validate_raw
from scslab.sweep.cluster import _cluster_threads, check_workers
from scslab.sweep.plan import RunSpec, SweepPlan
from scslab.sweep.resume import (
    _catalog_state,
    _check_other_sweep,
    _finished_dir,
    _from_catalog,
    _write_manifest,
)
from scslab.sweep.table import OutcomeFn, SweepResult, _row, key_outcomes, sweep_table, write_table

__all__ = ["ProgressFn", "run_plan", "run_scenario_data"]

ProgressFn = Callable[[int, int, str], None]


def run_scenario_data(data: dict, run_id: str, threads: int | None = None,
                      chilling: bool = False) -> tuple[dict, pd.DataFrame]:
    """Run one resolved scenario given as a JSON-ready mapping; return (summary, daily).

    This is what a Dask worker executes: small in, small out (no event log). The run
    goes through ``scslab.pipeline.execute``, so ``daily`` is the frame ``scslab run``
    writes for the same scenario and seed (``date`` included).
    """
    from scslab.pipeline import execute
    from scslab.results import clean_json

    sc = validate_raw(data, str(data.get("name", "scenario")))
    ran = execute(sc, run_id=run_id, threads=threads, chilling=chilling)
    return clean_json(ran.summary), ran.daily


def _sweep_meta(plan: SweepPlan, spec: RunSpec) -> dict:
    return {"sweep_id": plan.sweep_id, "replicate": spec.replicate, "seed": spec.seed,
            "grid": spec.grid}


def run_plan(plan: SweepPlan, *, out: str | Path | None = None, db: str | Path | None = None,
             client: Any = None, threads: int | None = None, progress: ProgressFn | None = None,
             outcome_fn: OutcomeFn | None = None, keep_daily: bool = True,
             log: Callable[[str], None] | None = None) -> SweepResult:
    """Run the unfinished runs of a plan, in-process or on a Dask ``client``.

    Args:
        plan: the resolved runs (``plan_runs`` or ``plan_sweep``).
        out: sweep directory; run ``key`` is written to ``out/key`` and finished runs found
            there are skipped (resume).
        db: DuckDB catalog; every run is recorded under the sweep id.
        client: a ``distributed.Client``; runs are submitted and collected as they finish.
        threads: Numba threads per run (default: all in-process, 1 on Dask workers).
        progress: called as (done, total, label) after each run, skipped ones included.
        outcome_fn: (summary, daily) → outcomes for the table (default ``key_outcomes``).
        keep_daily: keep every daily table in ``SweepResult.daily``.
        log: called with one line per notable event (runs skipped, catalog back-filled).
    """
    from scslab.catalog import record_run
    from scslab.pipeline import write_run

    t0 = time.perf_counter()
    outcome_fn = outcome_fn or key_outcomes
    out_dir = Path(out) if out is not None else None
    dbp = Path(db) if db is not None else None
    say = log or (lambda _msg: None)
    total = len(plan.specs)
    rows: dict[str, dict] = {}
    daily_kept: dict[str, pd.DataFrame] = {}
    ran: list[str] = []
    skipped: list[str] = []
    failed: dict[str, str] = {}
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, label)

    def finish(spec: RunSpec, summary: dict, daily: pd.DataFrame, status: str,
               write_dir: bool, write_db: bool) -> None:
        run_dir = out_dir / spec.key if out_dir is not None else None
        db_now = dbp if write_db else None
        if write_dir and run_dir is not None:  # committed as `scslab run` commits a run
            write_run(run_dir, spec.scenario, daily, summary, overwrite=True, db=db_now,
                      sweep=_sweep_meta(plan, spec))
        elif db_now is not None:
            record_run(db_now, spec.run_id, run_dir, spec.scenario.name, summary, daily,
                       sweep=_sweep_meta(plan, spec))
        rows[spec.key] = _row(plan, spec, status, summary, daily, outcome_fn)
        if keep_daily:
            daily_kept[spec.key] = daily

    if out_dir is not None:
        _check_other_sweep(out_dir, plan, say)
        _write_manifest(out_dir, plan)
    cat = _catalog_state(dbp, plan.sweep_id)
    todo: list[RunSpec] = []
    backfilled = restored = 0
    for spec in plan.specs:
        found = _finished_dir(out_dir / spec.key, spec, plan.chilling) if out_dir else None
        in_cat = cat.get(spec.run_id)
        cat_ok = in_cat is not None and in_cat[1] and in_cat[0] == spec.scenario_hash
        if found is None and cat_ok and dbp is not None:
            found = _from_catalog(dbp, spec, plan.chilling)
            if found is not None and out_dir is not None:
                restored += 1
                finish(spec, found[0], found[1], "skipped", write_dir=True, write_db=False)
                skipped.append(spec.key)
                tick(f"{spec.key} (finished before)")
                continue
        if found is None:
            todo.append(spec)
            continue
        if not cat_ok and dbp is not None:
            backfilled += 1
        finish(spec, found[0], found[1], "skipped", write_dir=False,
               write_db=not cat_ok and dbp is not None)
        skipped.append(spec.key)
        tick(f"{spec.key} (finished before)")
    if skipped:
        say(f"skipped {len(skipped)} finished run(s) of sweep {plan.sweep_id}; "
            f"{len(todo)} to run")
    if backfilled:
        say(f"recorded {backfilled} finished run(s) that were missing from the catalog")
    if restored:
        say(f"rewrote {restored} run directory(ies) from the catalog")

    def handle(spec: RunSpec, summary: dict, daily: pd.DataFrame) -> None:
        summary = dict(summary)
        summary["run_id"] = spec.run_id
        summary["sweep"] = {"sweep_id": plan.sweep_id, "key": spec.key, "point": spec.point,
                            "replicate": spec.replicate, "grid": spec.grid}
        try:
            finish(spec, summary, daily, "ran", write_dir=True, write_db=True)
        except RunDirError as e:  # its directory is in use, or holds something else
            failed[spec.key] = str(e)
            tick(f"{spec.key} (failed)")
            return
        ran.append(spec.key)
        tick(spec.key)

    if client is None:
        for spec in todo:
            try:
                summary, daily = run_scenario_data(spec.scenario.model_dump(mode="json"),
                                                   spec.run_id, threads, plan.chilling)
            except ScslabError as e:
                failed[spec.key] = str(e)
                tick(f"{spec.key} (failed)")
                continue
            handle(spec, summary, daily)
    elif todo:
        _run_on_dask(client, plan, todo, threads, handle, failed, tick)

    table = sweep_table([rows[s.key] if s.key in rows else
                         _row(plan, s, "failed" if s.key in failed else "not run", None, None,
                              outcome_fn) for s in plan.specs])
    if out_dir is not None:
        write_table(out_dir, table)
    if failed:
        say(f"{len(failed)} run(s) failed; re-run the same command to retry them")
    return SweepResult(plan=plan, table=table, ran=ran, skipped=skipped, failed=failed,
                       out_dir=out_dir, db=dbp, elapsed_seconds=time.perf_counter() - t0,
                       daily=daily_kept)


def _run_on_dask(client: Any, plan: SweepPlan, todo: list[RunSpec], threads: int | None,
                 handle: Callable[[RunSpec, dict, pd.DataFrame], None],
                 failed: dict[str, str], tick: Callable[[str], None]) -> None:
    """Submit runs in a bounded window and handle them in the order they finish."""
    from distributed import as_completed

    check_workers(client)
    wthreads = 1 if threads is None else threads
    pending = iter(todo)
    inflight: dict[str, RunSpec] = {}
    ac = as_completed()

    def submit_next() -> bool:
        spec = next(pending, None)
        if spec is None:
            return False
        fut = client.submit(run_scenario_data, spec.scenario.model_dump(mode="json"),
                            spec.run_id, wthreads, plan.chilling,
                            key=f"scslab-{spec.run_id}-{spec.scenario_hash}", pure=False,
                            retries=1)
        inflight[fut.key] = spec
        ac.add(fut)
        return True

    def window() -> int:
        return max(16, 2 * _cluster_threads(client))

    for _ in range(window()):
        if not submit_next():
            break
    try:
        for fut in ac:
            spec = inflight.pop(fut.key)
            try:
                summary, daily = fut.result()
            except ScslabError as e:
                failed[spec.key] = str(e)
                tick(f"{spec.key} (failed)")
            except Exception as e:  # noqa: BLE001 - a crashed worker or a bug in one run
                failed[spec.key] = f"{type(e).__name__}: {e}"
                tick(f"{spec.key} (failed)")
            else:
                handle(spec, summary, daily)
            finally:
                fut.release()
            while len(inflight) < window() and submit_next():
                pass
    finally:
        if inflight:
            client.cancel(list(ac.futures))
