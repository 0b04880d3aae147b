"""The ``scslab`` command line: a thin layer over the Python API.

Bad input exits 2 with one line saying what is wrong; an internal error exits 1
with a hint to report it; Ctrl-C during a run exits 130 after writing the days
done (``completed: false``).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import click
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

try:  # typer ≥ 0.24 vendors its own copy of click
    from typer._click.exceptions import UsageError as _TyperUsageError
except ImportError:  # pragma: no cover - older typer raises click's own
    _TyperUsageError = click.UsageError
_EXITS = (click.exceptions.Exit, typer.Exit)
_ABORTS = (click.Abort, typer.Abort)

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="scslab — an open laboratory for social credit systems (synthetic "
                       "populations only).")
console = Console()
err_console = Console(stderr=True)



class _Stop:
    """First Ctrl-C: finish the current day, write what is done, exit 130."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self) -> _Stop:
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

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
        out: Annotated[Path | None, typer.Option("--out", help="Run directory.")] = None,
        threads: ThreadsOpt = None, set_: SetOpt = None,
        db: DbOpt = Path("scslab.duckdb"),
        save_agents: Annotated[bool, typer.Option("--save-agents",
                                                  help="Write agents.parquet.")] = False,
        chilling: Annotated[bool, typer.Option("--chilling", help="Also run the counterfactual "
                                               "without monitoring of speech (2× cost).")] = False,
        no_catalog: NoCatalogOpt = False,
        checkpoint_every: Annotated[int | None, typer.Option(
            "--checkpoint-every", min=0, help="Save a checkpoint every K days.")] = None,
        resume: Annotated[Path | None, typer.Option("--resume", help="Continue a killed run "
                                                    "from its directory.")] = None,
        force: Annotated[bool, typer.Option("--force", help="Run even if the memory or disk "
                                            "estimate says it will not fit.")] = False) -> None:
    """Run a scenario and write its run directory (and record it in the catalog)."""
    from scslab import api

    if resume is not None:
        if scenario is not None:
            raise ScslabError("--resume takes the run directory only, not a SCENARIO")
        _resume(resume, threads)
        return
    if scenario is None:
        raise ScslabError("missing SCENARIO: give a preset name (`scslab presets`) or a YAML "
                          "file")
    sc = api.resolve(scenario, agents=agents, days=days, seed=seed, set=set_)
    from scslab.resources import check_fits

    out = out or Path("runs") / api.new_run_id(sc)
    check_fits(sc, out, force=force)
    with _Stop() as stop, _progress() as prog:
        progress = _day_progress(prog, sc.name, sc.days, sc.population.agents)
        result = api.run(sc, out=out, threads=threads, db=None if no_catalog else db,
                         save_agents=save_agents, chilling=chilling, progress=progress,
                         stop=stop, checkpoint_every=checkpoint_every)
    _print_result(result)


def _day_progress(prog: Progress, label: str, days: int, n: int):
    import time

    task = prog.add_task(label, total=days, rate="")
    t0 = [0.0, -1]

    def progress(day: int, total: int, row: dict) -> None:
        if t0[1] < 0:
            t0[0], t0[1] = time.perf_counter(), day
            rate = ""
        else:
            dt = time.perf_counter() - t0[0]
            rate = f"{n * (day - t0[1]) / dt:,.0f} agent-days/s" if dt > 0 else ""
        prog.update(task, completed=day, rate=rate)

    return progress


def _print_result(result) -> None:
    console.print(_summary_table(result.summary))
    console.print(f"run directory: {result.run_dir}")
    report = Path(result.run_dir) / "report.html"
    if report.exists():
        console.print(f"report: {report}")
    if not result.completed:
        err_console.print(f"stopped early after day {result.summary['days']}: the days done "
                          f"are written (completed: false); continue with `scslab run "
                          f"--resume {result.run_dir}`")
        raise typer.Exit(130)


def _resume(run_dir: Path, threads: int | None) -> None:
    from scslab import api
    from scslab.results import SCENARIO_FILE

    if (run_dir / SCENARIO_FILE).exists():
        from scslab.results import read_summary

        try:
            if read_summary(run_dir).get("completed"):
                from scslab import checkpoint

                checkpoint.clear(run_dir)
                console.print(f"{run_dir}: this run had already finished; nothing to do")
                return
        except ScslabError:
            pass
    from scslab.scenario.loader import load_scenario

    sc = load_scenario(run_dir / SCENARIO_FILE) if (run_dir / SCENARIO_FILE).exists() else None
    with _Stop() as stop, _progress() as prog:
        progress = _day_progress(prog, f"{sc.name if sc else run_dir} (resumed)",
                                 sc.days if sc else 0, sc.population.agents if sc else 0)
        result = api.resume(run_dir, threads=threads, progress=progress, stop=stop)
    _print_result(result)


@app.command()
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
    from pydantic import ValidationError

    try:
        rv = app(args=argv, standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except _EXITS as e:
        code = e.exit_code
    except (click.UsageError, _TyperUsageError) as e:
        cmd = e.ctx.command_path if e.ctx else "scslab"
        _err(f"error: {e.format_message()} (see `{cmd} --help`)")
        code = 2
    except _ABORTS:
        _err("interrupted")
        code = 130
    except ScslabError as e:
        _err(f"error: {e}")
        code = 2
    except ValidationError as e:
        from scslab.scenario.loader import format_validation_error

        _err(f"error: {format_validation_error(e, 'input')}")
        code = 2
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except Exception as e:  # noqa: BLE001 - last resort: no traceback for users
        import os
        import traceback

        if os.environ.get("SCSLAB_DEBUG"):
            traceback.print_exc()
        _err(f"internal error: {type(e).__name__}: {e}. This is a bug in scslab; please report "
             "it with the command you ran (set SCSLAB_DEBUG=1 for the traceback).")
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
