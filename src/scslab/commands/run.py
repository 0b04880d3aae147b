"""``scslab run``: run a scenario (or resume one) and print its summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scslab.commands.common import console, summary_table
from scslab.commands.options import (
    AgentsOpt,
    DaysOpt,
    NoCatalogOpt,
    SeedOpt,
    SetOpt,
    ThreadsOpt,
)
from scslab.commands.progress import Stop, day_progress, progress_bar
from scslab.errors import ScslabError

if TYPE_CHECKING:
    from scslab.results import Result


def run(scenario: Annotated[str | None, typer.Argument(help="Preset name or YAML file.")] = None,
        agents: AgentsOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
        out: Annotated[Path | None, typer.Option("--out", help="Run directory: a new path or "
                                                 "an empty directory.")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the run at --out "
                                                "(kept intact until the new one is complete), "
                                                "or discard its unfinished <out>.partial."
                                                )] = False,
        threads: ThreadsOpt = None, set_: SetOpt = None,
        db: Annotated[Path | None, typer.Option(
            "--db", help="DuckDB catalog file [default: scslab.duckdb; with --resume, the "
                         "run's own].")] = None,
        save_agents: Annotated[bool, typer.Option("--save-agents",
                                                  help="Write agents.parquet.")] = False,
        chilling: Annotated[bool, typer.Option("--chilling", help="Also run the counterfactual "
                                               "without the penalty on speech (2× cost).")] = False,
        no_catalog: NoCatalogOpt = False,
        checkpoint_every: Annotated[int | None, typer.Option(
            "--checkpoint-every", min=0, help="Save a checkpoint every K days.")] = None,
        resume: Annotated[Path | None, typer.Option("--resume", help="Continue a run that was "
                                                    "killed or stopped: give its --out.")] = None,
        force: Annotated[bool, typer.Option("--force", help="Run even if the memory or disk "
                                            "estimate says it will not fit.")] = False) -> None:
    """Run a scenario and write its run directory (and record it in the catalog).

    The run works in <out>.partial and appears at --out only when every file and the
    catalog row are written.
    """
    from scslab import api

    if resume is not None:
        if scenario is not None:
            raise ScslabError("--resume takes the run directory only, not a SCENARIO")
        resume_run(resume, threads, None if no_catalog else (db if db is not None else True))
        return
    if scenario is None:
        raise ScslabError("missing SCENARIO: give a preset name (`scslab presets`) or a YAML "
                          "file")
    sc = api.resolve(scenario, agents=agents, days=days, seed=seed, set=set_)
    from scslab.resources import check_fits

    out = out or Path("runs") / api.new_run_id(sc)
    check_fits(sc, out, force=force)
    with Stop() as stop, progress_bar() as prog:
        progress, on_phase = day_progress(prog, stop, sc.name, sc.days, sc.population.agents)
        result = api.run(sc, out=out, overwrite=overwrite, threads=threads,
                         db=None if no_catalog else (db or Path("scslab.duckdb")),
                         save_agents=save_agents, chilling=chilling, progress=progress,
                         stop=stop, checkpoint_every=checkpoint_every, on_phase=on_phase)
    print_result(result)


def print_result(result: Result) -> None:
    """Print a run's summary and where it is; a run stopped early raises ``Interrupted``."""
    console.print(summary_table(result.summary))
    console.print(f"run directory: {result.run_dir}")
    report = Path(result.run_dir) / "report.html" if result.run_dir else None
    if report is not None and report.exists():
        console.print(f"report: {report}")
    if not result.completed:
        where = (f"are committed in {result.run_dir} (completed: false); continue with "
                 f"`scslab run --resume {result.run_dir}`") if result.run_dir else \
            "are in the result (completed: false)"
        from scslab.errors import Interrupted

        raise Interrupted(f"stopped early after day {result.summary['days']}: the days done "
                          f"{where}")


def resume_run(out: Path, threads: int | None, db: Path | None | bool) -> None:
    """``scslab run --resume OUT``: continue a killed or stopped run, with a progress bar."""
    from scslab import api
    from scslab.results import SCENARIO_FILE
    from scslab.rundir import normalise, partial_path
    from scslab.scenario.loader import load_scenario

    out = normalise(out)
    sc = None
    for d in (partial_path(out), out):  # for the progress bar only; resume re-reads it
        if (d / SCENARIO_FILE).is_file():
            try:
                sc = load_scenario(d / SCENARIO_FILE)
            except ScslabError:
                pass
            break
    with Stop() as stop, progress_bar() as prog:
        progress, on_phase = day_progress(prog, stop, f"{sc.name if sc else out} (resumed)",
                                          sc.days if sc else 0,
                                          sc.population.agents if sc else 0)
        result = api.resume(out, threads=threads, progress=progress, stop=stop,
                            on_phase=on_phase, db=db)
    if result.extra.get("already"):
        console.print(f"{out}: this run had already finished; nothing to do")
        return
    print_result(result)


def register(app: typer.Typer) -> None:
    """Add ``scslab run`` to ``app``."""
    app.command()(run)
