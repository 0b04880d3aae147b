"""``scslab sweep`` and ``scslab sensitivity``: many runs, in-process or on Dask.

Heavy libraries (Dask, SALib, Plotly) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from scslab.commands.common import console, err_console
from scslab.commands.options import (
    AgentsOpt,
    DaysOpt,
    DbOpt,
    NoCatalogOpt,
    SchedulerOpt,
    SeedOpt,
    SetOpt,
    ThreadsOpt,
    WorkersOpt,
)
from scslab.commands.progress import progress_bar

if TYPE_CHECKING:
    from scslab.sweep import OutcomeFn, SweepPlan, SweepResult

def _log(msg: str) -> None:
    err_console.print(msg, markup=False, highlight=False, soft_wrap=True)


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if v != v:  # NaN
            return "–"
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def _mode(workers: int | None, scheduler: str | None) -> str:
    if workers is not None:
        return f"local Dask cluster, {workers} worker process(es)"
    if scheduler is not None:
        return f"Dask scheduler {scheduler}"
    return "in-process"


def _run_with_progress(plan: SweepPlan, *, out: Path, db: Path | None, workers: int | None,
                       scheduler: str | None, threads: int | None,
                       outcome_fn: OutcomeFn | None = None,
                       keep_daily: bool = False) -> SweepResult:
    """Run a plan under a Rich progress bar; Ctrl-C exits 130 (finished runs are kept)."""
    from scslab.sweep import dashboard_link, dask_client, run_plan

    total = len(plan.specs)
    try:
        with dask_client(workers, scheduler) as client, progress_bar("runs", "last") as prog:
            link = dashboard_link(client) if client is not None else None
            if link:
                _log(f"Dask dashboard: {link}")
            task = prog.add_task(plan.sweep_id, total=total, last="")

            def progress(done: int, total: int, label: str) -> None:
                prog.update(task, completed=done, last=label)

            return run_plan(plan, out=out, db=db, client=client, threads=threads,
                            progress=progress, outcome_fn=outcome_fn, keep_daily=keep_daily,
                            log=_log)
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {plan.finished_in(out)} of {total} runs are finished "
                          f"and written under {out}; run the same command again to resume",
                          markup=False, soft_wrap=True)
        raise typer.Exit(130) from None


#: How the sweep table's caption describes each reduction of the outcomes registry.
_HOW_CAPTION = {"last": "at the end", "total": "totals over the run", "mean": "means over days"}


def _points_table(res: SweepResult, limit: int = 40) -> Table:
    from scslab.outcomes import table_outcomes

    outcomes = [o for o in table_outcomes() if o.key in res.table]
    agg = res.by_point([o.key for o in outcomes])
    grid = list(res.plan.grid) or ["point"]
    reps = res.plan.replicates
    t = Table(title=f"sweep {res.sweep_id}: mean over {reps} replicate(s)"
              + (" ± sd" if reps > 1 else ""), box=None)
    for g in grid:
        t.add_column(g.rsplit(".", 1)[-1], no_wrap=True)
    for o in outcomes:
        t.add_column(o.short, justify="right", no_wrap=True)
    for _, row in agg.head(limit).iterrows():
        cells = [_fmt(row[g]) for g in grid]
        for o in outcomes:
            m, sd = row[f"{o.key}_mean"], row[f"{o.key}_std"]
            cells.append(_fmt(m) + (f" ± {sd:.2g}" if reps > 1 and sd == sd else ""))
        t.add_row(*cells)
    parts: dict[str, list[str]] = {}
    for o in outcomes:
        if o.how in _HOW_CAPTION:
            what = "agents" if o.unit == "agents" and o.how == "last" else ""
            parts.setdefault(" ".join(filter(None, [what, _HOW_CAPTION[o.how]])), []).append(
                o.short)
    cap = "; ".join(f"{', '.join(shorts)}: {how}" for how, shorts in parts.items())
    if len(agg) > limit:
        cap += f"; first {limit} of {len(agg)} points (all runs: sweep.parquet)"
    t.caption = cap
    return t


def sweep_cmd(
        scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")],
        grid: Annotated[list[str] | None, typer.Option(
            "--grid", help="PATH=V1,V2,… (YAML scalars); repeat for a Cartesian product.")]
        = None,
        replicates: Annotated[int, typer.Option("--replicates", min=1, max=100_000,
                                                help="Runs per grid point (seeds shared "
                                                "across points).")] = 1,
        agents: AgentsOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
        set_: SetOpt = None, workers: WorkersOpt = None, scheduler: SchedulerOpt = None,
        threads: ThreadsOpt = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Sweep directory (default runs/sweep-<id>); reuse it to resume.")]
        = None,
        db: DbOpt = Path("scslab.duckdb"), no_catalog: NoCatalogOpt = False,
        sweep_id: Annotated[str | None, typer.Option(
            "--sweep-id", help="Sweep id (default: a hash of the sweep definition).")] = None,
        chilling: Annotated[bool, typer.Option(
            "--chilling", help="Also run each counterfactual without the penalty on speech and "
            "add chilling_effect (2× cost).")] = False) -> None:
    """Run a scenario over a grid of values × replicates (resumable; Dask optional)."""
    from scslab.errors import ScslabError
    from scslab.sweep import plan_sweep

    if workers is not None and scheduler is not None:
        raise ScslabError("give either --workers or --scheduler, not both")
    if workers is not None or scheduler is not None:
        from scslab.extras import require

        require("distributed")
    plan = plan_sweep(scenario, grid or [], replicates=replicates, agents=agents, days=days,
                      seed=seed, set=set_, sweep_id=sweep_id, chilling=chilling)
    if workers is None and scheduler is None:
        from scslab.resources import check_fits

        check_fits(max((s.scenario for s in plan.specs), key=lambda s: s.population.agents),
                   out)
    out = out or Path("runs") / f"sweep-{plan.sweep_id}"
    sc = plan.scenario
    _log(f"sweep {plan.sweep_id}: {plan.n_points} point(s) × {plan.replicates} replicate(s) "
         f"= {len(plan.specs)} runs of {sc.name} ({plan.specs[0].scenario.population.agents:,}"
         f" agents × {sc.days} days), {_mode(workers, scheduler)}")
    res = _run_with_progress(plan, out=out, db=None if no_catalog else db, workers=workers,
                             scheduler=scheduler, threads=threads)
    console.print(_points_table(res))
    console.print(f"ran {len(res.ran)}, skipped {len(res.skipped)} (finished before), "
                  f"failed {len(res.failed)} in {res.elapsed_seconds:.1f} s")
    console.print(f"sweep directory: {out}  (table: {out / 'sweep.parquet'})")
    if not no_catalog:
        console.print(f"catalog: {db}  (sweep_runs where sweep_id = '{res.sweep_id}')")
    if res.failed:
        for key, err in list(res.failed.items())[:5]:
            err_console.print(f"failed {key}: {err}", markup=False, soft_wrap=True)
        raise typer.Exit(1)


def sensitivity_cmd(
        scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")],
        param: Annotated[list[str] | None, typer.Option(
            "--param", help="PATH=LO:HI, repeatable; integer settings are rounded.")] = None,
        method: Annotated[str, typer.Option("--method", help="sobol or morris.")] = "sobol",
        samples: Annotated[int, typer.Option(
            "--samples", min=1, help="Sobol: base samples N (runs = N·(D+2)); Morris: "
            "trajectories (runs = N·(D+1)).")] = 64,
        outcome: Annotated[list[str] | None, typer.Option(
            "--outcome", help="A summary key (chilling_effect, totals.X, metrics.X) or a "
            "daily column with :last|mean|sum|max|min, repeatable.")] = None,
        replicates: Annotated[int, typer.Option(
            "--replicates", min=1, max=10_000, help="Runs per sample, averaged.")] = 1,
        second_order: Annotated[bool, typer.Option(
            "--second-order", help="Sobol: also second-order indices (runs = N·(2D+2)).")]
        = False,
        levels: Annotated[int, typer.Option("--levels", min=2, help="Morris grid levels.")]
        = 4,
        agents: AgentsOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
        set_: SetOpt = None, workers: WorkersOpt = None, scheduler: SchedulerOpt = None,
        threads: ThreadsOpt = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Output directory (default runs/sensitivity-<id>); reuse it to "
            "resume.")] = None,
        db: DbOpt = Path("scslab.duckdb"), no_catalog: NoCatalogOpt = False) -> None:
    """Global sensitivity analysis (Sobol or Morris, with SALib) of outcomes to settings."""
    from scslab.errors import ScslabError
    from scslab.sensitivity import plan_sensitivity, print_sensitivity, run_sensitivity_plan

    if workers is not None and scheduler is not None:
        raise ScslabError("give either --workers or --scheduler, not both")
    if not param:
        raise ScslabError("give at least one --param PATH=LO:HI, e.g. --param "
                          "sensors.cameras.false_match_rate=0.0001:0.01")
    if not outcome:
        raise ScslabError("give at least one --outcome, e.g. --outcome wrongful_listed:last "
                          "or --outcome totals.misattributed_events")
    sp = plan_sensitivity(scenario, param, method=method, samples=samples, outcomes=outcome,
                          replicates=replicates, agents=agents, days=days, seed=seed,
                          set=set_, second_order=second_order, levels=levels)
    plan = sp.plan
    assert plan is not None  # planned from a scenario, so every run is resolved
    out = out or Path("runs") / f"sensitivity-{plan.sweep_id}"
    _log(f"sensitivity {plan.sweep_id}: {sp.method}, {len(sp.params)} parameter(s), "
         f"{sp.n_samples} samples × {plan.replicates} replicate(s) = {len(plan.specs)} runs of "
         f"{plan.scenario.name} ({plan.scenario.population.agents:,} agents × "
         f"{plan.scenario.days} days), {_mode(workers, scheduler)}")
    for w in sp.warnings:
        _log(f"note: {w}")
    res = _run_with_progress(plan, out=out, db=None if no_catalog else db, workers=workers,
                             scheduler=scheduler, threads=threads,
                             outcome_fn=sp.outcome_fn())
    if res.failed:
        for key, err in list(res.failed.items())[:5]:
            err_console.print(f"failed {key}: {err}", markup=False, soft_wrap=True)
        err_console.print(f"{len(res.failed)} run(s) failed; the analysis needs every run — "
                          "re-run the same command to retry them", markup=False)
        raise typer.Exit(1)
    result = run_sensitivity_plan(sp, sweep_result=res, out=out)
    print_sensitivity(result, console)
    console.print(f"ran {len(res.ran)}, skipped {len(res.skipped)} (finished before) in "
                  f"{res.elapsed_seconds:.1f} s")
    console.print(f"written: {out / 'sensitivity.csv'}, {out / 'sensitivity.json'}, "
                  f"{out / 'sensitivity.html'}")


def register(app: typer.Typer) -> None:
    """Add ``sweep`` and ``sensitivity`` to the ``scslab`` command line."""
    app.command("sweep")(sweep_cmd)
    app.command("sensitivity")(sensitivity_cmd)
