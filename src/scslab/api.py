"""The Python API; the CLI and the dashboard are thin layers over it.

>>> r = scslab.run("national", agents=10_000, days=30)          # doctest: +SKIP
>>> r.daily.plot(x="day", y="listed")                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scslab.pipeline import (
    ProgressFn,
    RunOutput,
    agents_table,
    chilling_counterfactual,
    commit_outputs,
    execute,
    new_run_id,
    resolve,
    write_outputs,
)

# Re-exported: these moved to scslab.pipeline and are still imported from here.
from scslab.pipeline import _peak_rss as _peak_rss  # benchmarks/run.py
from scslab.pipeline import check_targets as check_targets
from scslab.pipeline import chilling_summary as chilling_summary
from scslab.pipeline import simulate as simulate
from scslab.pipeline import summarise as summarise
from scslab.results import Result, load_run
from scslab.scenario.loader import load_scenario, scenario_hash
from scslab.scenario.schema import Scenario

__all__ = ["Result", "chilling_counterfactual", "compare", "explain", "load_run", "resolve",
           "resume", "run"]


def _start_run_dir(out: Path, sc: Scenario, run_id: str, options: dict) -> None:
    """Write a 'not finished' summary, then the scenario, before the first day runs.

    The summary comes first: a directory with a scenario.yaml then always has the run's
    id and options (--checkpoint-every, --db …), so a run killed at any moment resumes
    with them (a directory with only the summary is not resumable: nothing ran).
    """
    from scslab.fileio import atomic_write_json, atomic_write_text
    from scslab.results import SCENARIO_FILE, SUMMARY_FILE, clean_json
    from scslab.scenario.loader import scenario_to_yaml

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / SUMMARY_FILE, clean_json({
        "run_id": run_id, "scenario": sc.name, "agents": sc.population.agents, "days": 0,
        "days_planned": sc.days, "seed": sc.seed, "completed": False, "started": True,
        "run_options": options}))
    atomic_write_text(out / SCENARIO_FILE, scenario_to_yaml(sc))


PhaseFn = Callable[[str], None]


def run(scenario: str | Path | Scenario | dict = "national", *, agents: int | None = None,
        days: int | None = None, seed: int | None = None,
        set: list[str] | dict[str, Any] | None = None, out: str | Path | None = None,  # noqa: A002
        overwrite: bool = False, threads: int | None = None, db: str | Path | None = None,
        save_agents: bool = False, chilling: bool = False, progress: ProgressFn | None = None,
        stop: Callable[[], bool] | None = None, report: bool = True,
        checkpoint_every: int | None = None, on_phase: PhaseFn | None = None) -> Result:
    """Run a scenario (preset name, YAML path, mapping or Scenario) and return its Result.

    Args:
        scenario: a preset name, a YAML path, a mapping or a Scenario.
        agents: shortcut for ``population.agents``.
        days: shortcut for ``days``.
        seed: shortcut for ``seed``.
        set: overrides, as ``["path=value", …]`` or ``{"path": value}``.
        out: write a run directory there (scenario.yaml, daily.parquet, summary.json, …).
            The run works in ``<out>.partial`` and moves into place only when complete
            (DESIGN.md §6); ``out`` must be new, an empty directory, or (with
            ``overwrite``) a run, which stays intact until the new one is complete.
        overwrite: replace the run at ``out`` (and its catalog row), or discard an
            unfinished ``<out>.partial``.
        threads: Numba threads for the simulation (default: all cores).
        db: record the run in this DuckDB catalog.
        save_agents: also write the final per-agent state (``agents.parquet``).
        chilling: also run the counterfactual without the penalty on speech and add
            ``chilling_effect`` to the summary (doubles the cost).
        progress: called after each day with (day, days, row).
        stop: polled after each day; returning True stops the run early, which is then
            committed with ``completed: false``.
        report: write ``report.html`` into the run directory when the run completes.
        checkpoint_every: save a checkpoint every K days (default: the scenario's
            ``output.checkpoint_every``); needs ``out``. ``resume(out)`` continues from it.
        on_phase: called with what the run is doing: ``"building"``, ``"running"``,
            ``"writing"`` (the CLI shows it, and lets Ctrl-C interrupt at once outside
            the day loop).
    """
    from scslab import rundir

    sc = resolve(scenario, agents=agents, days=days, seed=seed, set=set)
    run_id = new_run_id(sc)
    k = sc.output.checkpoint_every if checkpoint_every is None else checkpoint_every
    options = {"save_agents": save_agents, "chilling": chilling, "checkpoint_every": k,
               "db": str(db) if db is not None else None, "report": report,
               "threads": threads}
    if out is None:
        ran = execute(sc, run_id=run_id, threads=threads, progress=progress, stop=stop,
                      chilling=chilling, extra={"run_options": options}, on_phase=on_phase,
                      on_simulated=lambda: _phase(on_phase, "writing"))
        return _finish(ran, None, options)
    w = _guard_os(lambda: rundir.open_new(out, overwrite=overwrite), Path(out))
    try:
        _guard_os(lambda: _start_run_dir(w.partial, sc, run_id, options), w.out, w)
        return _run_in(w, sc, run_id, options, threads, progress, stop, on_phase, None)
    except KeyboardInterrupt:  # around _run_in's own handling
        raise _interrupted(w, fresh=True) from None
    finally:
        w.release()


def _phase(on_phase: PhaseFn | None, phase: str) -> None:
    if on_phase is not None:
        on_phase(phase)


def _guard_os(fn: Callable[[], Any], out: Path, w=None, resumable: bool = False):
    """Call ``fn``, turning an environment error into one line with its fix (exit 2).

    Environment errors are a full disk, a read-only folder and the like (see
    ``fileio.describe_os_error``). ``resumable``: the partial run is kept for --resume.
    """
    from scslab.errors import ScslabError
    from scslab.fileio import describe_os_error

    try:
        return fn()
    except OSError as e:
        msg = describe_os_error(e)
        if msg is None:
            raise
        if w is not None and not resumable:
            w.discard()
        hint = (f"; nothing was committed: once fixed, `scslab run --resume {out}` "
                "continues the run") if resumable else ""
        raise ScslabError(f"{msg}{hint}") from None


def _run_in(w, sc: Scenario, run_id: str, options: dict, threads: int | None,
            progress: ProgressFn | None, stop: Callable[[], bool] | None,
            on_phase: PhaseFn | None, restore: dict | None) -> Result:
    """Simulate in ``w.partial``, write every output there, then commit it.

    Ctrl-C (KeyboardInterrupt) at any moment commits nothing: a partial run with
    nothing to continue from is removed, any other is kept for ``--resume``.
    """
    k = int(options.get("checkpoint_every") or 0)
    writing = False

    def simulated() -> None:
        nonlocal writing
        writing = True
        _phase(on_phase, "writing")

    try:
        ran = _guard_os(
            lambda: execute(sc, run_id=run_id, threads=threads, progress=progress, stop=stop,
                            chilling=bool(options.get("chilling")),
                            extra={"run_options": options}, on_phase=on_phase,
                            on_simulated=simulated, run_dir=w.partial, checkpoint_every=k,
                            restore=restore), w.out, w, resumable=True)
        return _guard_os(lambda: _finish(ran, w, options), w.out, w, resumable=True)
    except KeyboardInterrupt:
        raise _interrupted(w, fresh=restore is None, writing=writing) from None
    except MemoryError:
        if w.created and restore is None and not writing and _nothing_saved(w):
            w.discard()
        raise


def _nothing_saved(w) -> bool:
    from scslab import checkpoint

    return checkpoint.load_pointer(w.partial) is None


def _interrupted(w, *, fresh: bool, writing: bool = False):
    """The error for Ctrl-C outside the day loop: what was kept and how to go on."""
    from scslab.errors import Interrupted

    if w.committed:
        return Interrupted(f"interrupted after the run was committed in {w.out}")
    if fresh and w.created and not writing and _nothing_saved(w):
        w.discard()  # nothing to continue from
        return Interrupted(f"interrupted before any day was saved: nothing was written to "
                           f"{w.out}")
    if writing:
        return Interrupted(f"interrupted while writing the outputs: nothing was committed; "
                           f"`scslab run --resume {w.out}` finishes the run")
    return Interrupted(f"interrupted: nothing was committed; `scslab run --resume {w.out}` "
                       "continues the run from its last checkpoint")


def _finish(ran: RunOutput, w, options: dict) -> Result:
    """The run's Result and, with a writer ``w``, every file of the run, then the commit."""
    from scslab import checkpoint

    result = Result(scenario=ran.scenario, daily=ran.daily, summary=ran.summary,
                    run_id=ran.run_id)
    if w is None:
        _record(options, result, None)
        return result
    part = w.partial
    events = checkpoint.event_table(part, ran.sim)
    write_outputs(w, ran.scenario, ran.daily, ran.summary, events=events,
                  agents=agents_table(ran.sim) if options.get("save_agents") else None)
    if ran.completed:
        checkpoint.clear(part)
    result.run_dir = w.out
    return _commit(w, result, options)


def _commit(w, result: Result, options: dict) -> Result:
    """The last steps in ``w.partial``: report, catalog row, ``completed``, move into place.

    Each is redone by ``resume`` if a kill interrupts them.
    """
    from scslab.fileio import atomic_write_text

    part = w.partial
    if options.get("report", True) and result.completed:
        from scslab.report import REPORT_FILE, render_run_html

        atomic_write_text(part / REPORT_FILE, render_run_html(result))
    _record(options, result, w)
    commit_outputs(w, result.summary)
    return result


def _record(options: dict, result: Result, w) -> None:
    db = options.get("db")
    if db is None:
        return
    from scslab.catalog import record_run
    from scslab.errors import ScslabError

    assert result.run_id is not None  # run() and resume() always give the run an id
    try:
        record_run(db, result.run_id, w.out if w is not None else None, result.scenario.name,
                   result.summary, result.daily, replaces=w.old_run_id() if w else None,
                   add_later_hint=w is None)
    except ScslabError as e:
        if w is None:
            raise
        raise ScslabError(f"{e}; the run is finished but not committed (its catalog row is "
                          f"part of it): once the catalog is usable, `scslab run --resume "
                          f"{w.out}` commits it (add --db FILE to record it elsewhere, or "
                          "--no-catalog)") from None


def resume(run_dir: str | Path, *, threads: int | None = None,
           progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
           on_phase: PhaseFn | None = None, db: str | Path | None | bool = True) -> Result:
    """Continue a run that was killed or stopped, from its last checkpoint (or day 0).

    ``run_dir`` is the run's ``--out``: an unfinished ``<out>.partial`` is continued
    (or, if only its last steps were cut short, finished); a run committed after
    Ctrl-C (``completed: false``) continues in a copy and replaces it when complete. A
    run that had already finished is returned as it is (``Result.extra['already']``).

    ``db``: True records the run in the catalog it was started with; a path records it
    there instead; None records it nowhere.
    """
    from scslab import checkpoint, rundir
    from scslab.errors import RunDirError, ScslabError
    from scslab.results import SCENARIO_FILE, read_daily, read_summary

    w, found = _guard_os(lambda: rundir.open_resume(run_dir), Path(run_dir))
    try:
        if found == "finished":
            res = load_run(w.out)
            res.extra["already"] = True
            return res
        part = w.partial
        try:
            sc = load_scenario(part / SCENARIO_FILE)
            old = read_summary(part) if (part / "summary.json").exists() else {}
            finishing = bool(old.get("completed") or (old.get("outputs_written")
                                                      and old.get("will_complete")))
            ck = None if finishing else _guard_os(lambda: checkpoint.load(part), w.out, w,
                                                  resumable=True)
        except ScslabError as e:
            if found != "stopped":
                raise
            w.discard()  # the copy; the stopped run itself is untouched
            raise type(e)(str(e).replace(str(part), str(w.out))) from None
        options = dict(old.get("run_options") or {
            "checkpoint_every": sc.output.checkpoint_every, "report": True})
        if db is not True:
            options["db"] = str(db) if db is not None else None
        run_id = old.get("run_id") or new_run_id(sc)
        if threads is None:
            threads = options.get("threads")
        if old.get("completed"):  # killed between its last write and the move into place
            _guard_os(w.commit, w.out, w, resumable=True)
            return load_run(w.out)
        if finishing:  # killed while writing the outputs: only the last steps are left
            summary = {k: v for k, v in old.items() if k not in ("outputs_written",
                                                                 "will_complete")}
            summary["completed"] = True
            summary["run_options"] = options
            res = Result(scenario=sc, daily=read_daily(part), summary=summary, run_id=run_id,
                         run_dir=w.out)
            _phase(on_phase, "writing")
            return _guard_os(lambda: _commit(w, res, options), w.out, w, resumable=True)
        if ck is None:
            checkpoint.clear(part)
        elif ck["meta"].get("scenario_hash") != scenario_hash(sc):
            raise RunDirError(f"{part}: the checkpoint belongs to another scenario; delete "
                              "the checkpoint-* folders to restart from day 0")
        return _run_in(w, sc, run_id, options, threads, progress, stop, on_phase, ck)
    except KeyboardInterrupt:
        raise _interrupted(w, fresh=False) from None
    finally:
        w.release()


def compare(*args, **kwargs):
    """Run scenarios on common random numbers; see ``scslab.comparison``."""
    from scslab.comparison import compare as _compare

    return _compare(*args, **kwargs)


def explain(run_dir: str | Path, agent: int):
    """The audit trail of one synthetic agent; see ``scslab.explanation``."""
    from scslab.explanation import explain_agent

    return explain_agent(run_dir, agent)
