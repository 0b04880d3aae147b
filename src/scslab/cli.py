"""The ``scslab`` command line: a thin layer over the Python API.

Bad input exits 2 with one line saying what is wrong; an internal error exits 1
with a hint to report it; Ctrl-C during a run exits 130 after writing the days
done (``completed: false``).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# typer >= 0.26 ships its own copy of click (and no longer depends on click)
from typer._click import exceptions as _click_exc

from scslab.commands.options import (
    AgentsOpt,
    DaysOpt,
    DbOpt,
    NoCatalogOpt,
    SeedOpt,
    SetOpt,
    ThreadsOpt,
)
from scslab.errors import ScslabError

_USAGE = (_click_exc.UsageError,)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="scslab — an open laboratory for social credit systems (synthetic "
                       "populations only).")
console = Console()
err_console = Console(stderr=True)



class _Stop:
    """Ctrl-C in the day loop: finish the current day, commit the days done, exit 130.

    Outside the day loop (building, writing the outputs), or at a second Ctrl-C, it
    interrupts at once (KeyboardInterrupt): nothing is committed, and the message says
    how to continue.
    """

    def __init__(self) -> None:
        self.requested = False
        self.abort = False
        self.in_loop = False
        self._old: Callable[[int, FrameType | None], Any] | int | None = None
        self.on_request: Callable[[], None] | None = None

    def __enter__(self) -> _Stop:
        def handler(signum, frame):
            if self.requested or not self.in_loop:
                # a library may swallow the exception (Numba's cache callbacks do): the
                # flag makes the next phase change raise it again
                self.abort = True
                raise KeyboardInterrupt
            self.requested = True
            if self.on_request is not None:
                self.on_request()

        self._old = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._old)

    def __call__(self) -> bool:
        return self.requested


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("days"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err_console, transient=False,
                    disable=not err_console.is_terminal and not _force_progress())


def _force_progress() -> bool:
    import os

    return os.environ.get("SCSLAB_PROGRESS") == "1"


@app.command()
def presets() -> None:
    """List the scenarios shipped with scslab."""
    from scslab.scenario.loader import preset_description, preset_names

    t = Table("preset", "description", box=None)
    for name in preset_names():
        t.add_row(name, preset_description(name))
    console.print(t)


@app.command()
def validate(scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")],
             set_: SetOpt = None, agents: AgentsOpt = None, days: DaysOpt = None) -> None:
    """Check a scenario; print its size and the memory and disk a run needs."""
    from scslab.api import resolve
    from scslab.resources import estimate

    sc = resolve(scenario, agents=agents, days=days, set=set_)
    est = estimate(sc)
    console.print(f"[green]valid[/green]: {scenario} → {sc.name}: {sc.population.agents:,} "
                  f"agents × {sc.days} days, seed {sc.seed}")
    console.print(f"estimated memory {est['memory_bytes'] / 2**20:,.1f} MiB "
                  f"({est['bytes_per_agent']:.1f} B/agent incl. ties), "
                  f"disk {est['disk_bytes'] / 2**20:,.1f} MiB")


def _summary_table(summary: dict) -> Table:
    m = summary.get("metrics", {})
    tot = summary.get("totals", {})
    t = Table(title=f"{summary.get('scenario')} — {summary['agents']:,} agents × "
                    f"{summary['days']} days", box=None)
    t.add_column("measure")
    t.add_column("value", justify="right")
    rows = [
        ("mean score (last day)", f"{m.get('mean_score', float('nan')):.1f}"),
        ("listed (last day)", f"{int(m.get('listed', 0)):,}"),
        ("wrongfully listed (last day)", f"{int(m.get('wrongful_listed', 0)):,}"),
        ("collateral sanctioned (last day)", f"{int(m.get('collateral_sanctioned', 0)):,}"),
        ("misattributed events (total)", f"{tot.get('misattributed_events', 0):,}"),
        ("denials (total)", f"{sum(v for k, v in tot.items() if k.startswith('denied_') and k != 'denied_wrongful'):,}"),
        ("denials to wrongfully listed (total)", f"{tot.get('denied_wrongful', 0):,}"),
    ]
    if summary.get("chilling_effect") is not None:
        rows.append(("chilling effect", f"{summary['chilling_effect']:.1%}"))
    if "abroad_visitors" in tot:
        rows += [("visitors to sites abroad (total)", f"{tot['abroad_visitors']:,}"),
                 ("foreign residents given a record (last day)",
                  f"{int(m.get('abroad_recorded_total', 0)):,}"),
                 ("foreign faces misidentified as home agents (total)",
                  f"{tot.get('abroad_false_matches', 0):,}")]
    scale = summary.get("scale")
    if scale:
        sm = scale["metrics"]
        rows.append((f"scaled ×{scale['factor']:,.0f} to {scale['represents']:,} people",
                     f"listed {sm.get('listed', 0):,.0f}, court list "
                     f"{sm.get('listed_court', 0):,.0f}"))
    for tg in summary.get("targets", []):
        ach = tg["achieved"]
        rows.append((f"target {tg['target']}",
                     "not reached in this run" if ach is None else
                     f"{ach:,.4g} ({tg['relative_error']:+.1%})"))
    rate = summary.get("agent_days_per_second") or 0
    rows += [("build", f"{summary['build_seconds']:.2f} s"),
             ("day loop", f"{summary['elapsed_seconds']:.2f} s ({rate:,.0f} agent-days/s)"),
             ("completed", str(summary["completed"]).lower())]
    for k, v in rows:
        t.add_row(k, v)
    return t


@app.command()
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
                                               "without monitoring of speech (2× cost).")] = False,
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
        _resume(resume, threads, None if no_catalog else (db if db is not None else True))
        return
    if scenario is None:
        raise ScslabError("missing SCENARIO: give a preset name (`scslab presets`) or a YAML "
                          "file")
    sc = api.resolve(scenario, agents=agents, days=days, seed=seed, set=set_)
    from scslab.resources import check_fits

    out = out or Path("runs") / api.new_run_id(sc)
    check_fits(sc, out, force=force)
    with _Stop() as stop, _progress() as prog:
        progress, on_phase = _day_progress(prog, stop, sc.name, sc.days, sc.population.agents)
        result = api.run(sc, out=out, overwrite=overwrite, threads=threads,
                         db=None if no_catalog else (db or Path("scslab.duckdb")), save_agents=save_agents,
                         chilling=chilling, progress=progress, stop=stop,
                         checkpoint_every=checkpoint_every, on_phase=on_phase)
    _print_result(result)


_PHASES = {
    "building": "loading the kernels",
    "compiling kernels — first run only": "compiling kernels — first run only (about half a "
                                          "minute; cached afterwards)",
    "building population": "building the population",
    "writing": "writing the outputs",
}
"""What the progress bar says in each phase (``api.run``'s and the engine's names)."""


def _day_progress(prog: Progress, stop: _Stop, label: str, days: int, n: int):
    """The day-loop progress callback and the phase callback for one run."""
    import time

    task = prog.add_task(label, total=days or None, rate="")
    t0 = [0.0, -1]

    def progress(day: int, total: int, row: dict) -> None:
        if t0[1] < 0:
            t0[0], t0[1] = time.perf_counter(), day
            rate = ""
        else:
            dt = time.perf_counter() - t0[0]
            rate = f"{n * (day - t0[1]) / dt:,.0f} agent-days/s" if dt > 0 and n else ""
        prog.update(task, completed=day, total=total, rate=rate)

    def on_phase(phase: str) -> None:
        if stop.abort:
            raise KeyboardInterrupt
        stop.in_loop = phase == "running"
        text = _PHASES.get(phase)
        prog.update(task, description=f"{label}: {text}" if text else label)

    def on_request() -> None:
        prog.update(task, description=f"{label}: stopping after this day (Ctrl-C again to "
                                      "stop at once)")

    stop.on_request = on_request
    return progress, on_phase


def _print_result(result) -> None:
    console.print(_summary_table(result.summary))
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


def _resume(out: Path, threads: int | None, db: Path | None | bool) -> None:
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
    with _Stop() as stop, _progress() as prog:
        progress, on_phase = _day_progress(prog, stop, f"{sc.name if sc else out} (resumed)",
                                           sc.days if sc else 0,
                                           sc.population.agents if sc else 0)
        result = api.resume(out, threads=threads, progress=progress, stop=stop,
                            on_phase=on_phase, db=db)
    if result.extra.get("already"):
        console.print(f"{out}: this run had already finished; nothing to do")
        return
    _print_result(result)


@app.command(context_settings={"ignore_unknown_options": True})
def explain(run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
            agent: Annotated[int, typer.Argument(help="Agent id.")]) -> None:
    """Show the audit trail of one synthetic agent."""
    from scslab.explanation import explain_agent, render_explanation

    ex = explain_agent(run_dir, agent)
    render_explanation(ex, console)


@app.command()
def compare(scenarios: Annotated[list[str], typer.Argument(help="Two or more scenarios.")],
            agents: AgentsOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
            replicates: Annotated[int, typer.Option("--replicates", min=1, max=1000)] = 1,
            out: Annotated[Path | None, typer.Option("--out", help="Output directory.")] = None,
            threads: ThreadsOpt = None, set_: SetOpt = None, db: DbOpt = Path("scslab.duckdb"),
            no_catalog: NoCatalogOpt = False) -> None:
    """Run scenarios on common random numbers and compare their outcomes."""
    from scslab.comparison import compare as do_compare
    from scslab.comparison import render_comparison

    if len(scenarios) < 2:
        raise ScslabError("compare needs at least two scenarios, e.g. `scslab compare national "
                          "transparent`")
    with _progress() as prog:
        task = prog.add_task("runs", total=None, rate="")

        def progress(done: int, total: int, label: str) -> None:
            prog.update(task, completed=done, total=total, description=label)

        cmp = do_compare(scenarios, agents=agents, days=days, seed=seed, replicates=replicates,
                         out=out, threads=threads, set=set_,
                         db=None if no_catalog else db, progress=progress)
    render_comparison(cmp, console)
    if cmp.out_dir is not None:
        console.print(f"comparison written to {cmp.out_dir}")
        if (cmp.out_dir / "report.html").exists():
            console.print(f"report: {cmp.out_dir / 'report.html'}")


@app.command()
def audit(scenario: Annotated[str, typer.Argument(help="Preset name or YAML file with "
                                                  "data_flows.")],
          strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any requirement "
                                               "is breached.")] = False,
          json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
          laws: Annotated[list[Path] | None, typer.Option("--laws", help="Extra law YAML "
                                                          "files.")] = None,
          set_: SetOpt = None) -> None:
    """Audit a scenario's cross-border data flows against privacy laws (not legal advice)."""
    from scslab.api import resolve
    from scslab.audit import LawFileError, audit_exit_code, audit_flows, load_laws
    from scslab.audit.report import print_audit

    sc = resolve(scenario, set=set_)
    if not sc.data_flows:
        raise ScslabError(f"{scenario} declares no data_flows to audit; try the preset "
                          "vancouver-restaurant")
    try:
        law_set = load_laws(laws) if laws else None
    except (LawFileError, OSError) as e:
        raise ScslabError(str(e)) from None
    result = audit_flows(list(sc.data_flows), law_set)
    print_audit(result, as_json=json_, console=console)
    code = audit_exit_code(result, strict)
    if code:
        raise typer.Exit(code)


catalog_app = typer.Typer(help="The DuckDB catalog of runs.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


@catalog_app.command("add")
def catalog_add(run_dir: Path, db: DbOpt = Path("scslab.duckdb")) -> None:
    """Add (or refresh) a finished run directory in the catalog."""
    from scslab.catalog import record_run
    from scslab.results import load_run

    r = load_run(run_dir)
    run_id = r.summary.get("run_id") or run_dir.name
    record_run(db, run_id, run_dir, r.scenario.name, r.summary, r.daily)
    console.print(f"added {run_id} to {db}")


@catalog_app.command("query")
def catalog_query(sql: str, db: DbOpt = Path("scslab.duckdb")) -> None:
    """Run a SQL query on the catalog and print the result."""
    import duckdb

    from scslab.catalog import query

    if not db.exists():
        raise ScslabError(f"catalog {db} does not exist yet; run a scenario first")
    try:
        df = query(db, sql)
    except duckdb.Error as e:
        raise ScslabError(f"SQL error: {str(e).splitlines()[0]}") from None
    console.print(df.to_string(index=False))


from scslab.commands import register_all  # noqa: E402

register_all(app)


def _err(message: str) -> None:
    """One line on stderr, however long (no wrapping, no markup)."""
    sys.stderr.write(" ".join(str(message).split()) + "\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> None:
    """Entry point: map errors to exit statuses (0 ok, 1 internal, 2 bad input, 130 Ctrl-C)."""
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # also while an error below is being reported
        _err("interrupted")
        code = 130
    sys.exit(code)


def _main(argv: list[str] | None) -> int:
    try:
        rv = app(args=argv, standalone_mode=False)
        if rv == 130:  # typer turns a KeyboardInterrupt in a command into a silent 130
            _err("interrupted")
        return rv if isinstance(rv, int) else 0
    except typer.Exit as e:
        return e.exit_code
    except _USAGE as e:
        cmd = e.ctx.command_path if e.ctx else "scslab"
        _err(f"error: {e.format_message()} (see `{cmd} --help`)")
        return 2
    except typer.Abort:
        _err("interrupted")
        return 130
    except ScslabError as e:
        _err(f"{'' if getattr(e, 'exit_code', 2) == 130 else 'error: '}{e}")
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except MemoryError:
        _err("error: out of memory: this run needs more memory than is free; use fewer "
             "--agents (`scslab validate` estimates the memory a run needs)")
        return 2
    except Exception as e:  # noqa: BLE001 - last resort: no traceback for users
        from pydantic import ValidationError

        from scslab.fileio import describe_os_error

        if isinstance(e, ValidationError):
            from scslab.scenario.loader import format_validation_error

            _err(f"error: {format_validation_error(e, 'input')}")
            return 2
        if isinstance(e, OSError) and describe_os_error(e) is not None:
            _err(f"error: {describe_os_error(e)}")
            return 2
        import os
        import traceback

        if os.environ.get("SCSLAB_DEBUG"):
            traceback.print_exc()
        _err(f"internal error: {type(e).__name__}: {e}. This is a bug in scslab; please report "
             "it with the command you ran (set SCSLAB_DEBUG=1 for the traceback).")
        return 1


if __name__ == "__main__":
    main()
