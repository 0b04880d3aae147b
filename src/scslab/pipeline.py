"""The run pipeline: resolve a scenario, simulate it, summarise what it did.

These are the steps every way of running a scenario shares: ``scslab.api.run`` and
``resume`` (which add checkpoints, interrupts and the report), the comparisons, sweeps,
sensitivity analyses and calibrations. They live here, below all of those, so that
none of them imports another to reach them; ``scslab.api`` re-exports the public
names.

:func:`execute` is the one run pipeline: simulate, the daily frame, the chilling
counterfactual when asked, the summary. :func:`write_run` commits its outputs as a run
directory the way ``scslab run`` does (DESIGN.md §6, ``scslab.rundir``).
"""

from __future__ import annotations

import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from scslab.engine import PHASE_RUNNING, Simulation
from scslab.scenario.loader import load_scenario, scenario_hash
from scslab.scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from scslab.rundir import Writer

ProgressFn = Callable[[int, int, dict], None]

__all__ = ["ProgressFn", "RunOutput", "agents_table", "check_targets",
           "chilling_counterfactual", "chilling_summary", "commit_outputs", "daily_of",
           "execute", "finish", "new_run_id", "resolve", "simulate", "summarise",
           "write_outputs", "write_run"]


def resolve(scenario: str | Path | Scenario | dict, *, agents: int | None = None,
            days: int | None = None, seed: int | None = None,
            set: list[str] | dict[str, Any] | None = None) -> Scenario:  # noqa: A002
    """The validated scenario with command-line style overrides applied."""
    over: dict[str, Any] = {}
    if isinstance(set, dict):
        over.update(set)
    if agents is not None:
        over["population.agents"] = agents
    if days is not None:
        over["days"] = days
    if seed is not None:
        over["seed"] = seed
    sets = set if isinstance(set, list) else None
    sc = load_scenario(scenario, sets)
    return load_scenario(sc, over) if over else sc


def chilling_counterfactual(sc: Scenario) -> Scenario:
    """The same scenario with no penalty on the chilled act (speech), all else equal.

    Only the penalty goes: the sensors keep watching (and keep making the identity errors
    they make on other acts), so the difference in speech is the chilling by the penalty.
    """
    b = sc.responses.chilling.behaviour
    data = sc.model_dump(mode="json")
    if data["policy"]["rules"].get(b, 0) < 0:
        data["policy"]["rules"][b] = 0
    for reg in data["population"]["regions"]:
        if reg["rules"].get(b, 0) < 0:
            reg["rules"][b] = 0
    return Scenario.model_validate(data)


def _peak_rss() -> int:
    """Peak resident memory of this process.

    Linux's VmHWM belongs to the process image; ``ru_maxrss`` survives ``exec`` and so
    reports the parent's size in a process started from a large one.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def new_run_id(sc: Scenario) -> str:
    """A new run id: the scenario name, the local time and six random hex digits."""
    return f"{sc.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def agents_table(sim: Simulation) -> pa.Table:
    """Final per-agent state (``--save-agents``)."""
    w, s, p = sim.world, sim.state, sim.params
    from scslab.state import F_BL, F_CT, F_LISTED, F_RED, F_TBL, F_TCT, F_TLISTED, O_BL, own_listed

    return pa.table({
        "agent": np.arange(w.n, dtype=np.int64),
        "region": pa.DictionaryArray.from_arrays(w.region.astype(np.int32), p.region_names),
        "group": pa.DictionaryArray.from_arrays((w.attr >> 3).astype(np.int32), p.group_names),
        "age_class": pa.DictionaryArray.from_arrays(((w.attr >> 1) & 3).astype(np.int32),
                                                    ["child", "adult", "elderly"]),
        "female": (w.attr & 1).astype(bool),
        "household_start": np.arange(w.n, dtype=np.int64) - w.hh_off,
        "employer": w.employer,
        "disposition": w.disposition,
        "score": s.score,
        "true_score": s.twin,
        "blacklisted": (s.flags & F_BL) != 0,
        "court_listed": (s.flags & F_CT) != 0,
        "redlisted": (s.flags & F_RED) != 0,
        "true_blacklisted": (s.flags & F_TBL) != 0,
        "true_court_listed": (s.flags & F_TCT) != 0,
        "own_score": s.own,
        "own_blacklisted": (s.own_flags & O_BL) != 0,
        "listed_through_others": ((s.flags & F_LISTED) != 0) & ((s.flags & F_TLISTED) != 0)
        & ~own_listed.py_func(s.flags, s.own_flags),
    })


def simulate(sc: Scenario, *, threads: int | None = None, progress: ProgressFn | None = None,
             stop: Callable[[], bool] | None = None, run_dir: Path | None = None,
             checkpoint_every: int = 0, restore: dict | None = None,
             on_phase: Callable[[str], None] | None = None
             ) -> tuple[Simulation, float, bool]:
    """Build and run; returns (simulation, day-loop seconds, completed).

    With ``run_dir`` and ``checkpoint_every`` > 0 a checkpoint is saved every K days
    (and when stopped early); ``restore`` is a loaded checkpoint to continue from.
    """
    from scslab import checkpoint

    if on_phase is not None:
        on_phase("building")
    building = None if on_phase is None else (
        lambda phase: on_phase(phase) if phase != PHASE_RUNNING else None)
    sim = Simulation(sc, threads=threads).build(on_phase=building)
    if restore is not None:
        checkpoint.restore(sim, restore)
    if on_phase is not None:
        on_phase(PHASE_RUNNING)
    h = scenario_hash(sc)
    t0 = time.perf_counter()

    def on_day(s: Simulation, row: dict):
        if progress is not None:
            progress(s.day, sc.days, row)
        if run_dir is not None and checkpoint_every and s.day % checkpoint_every == 0 \
                and s.day < sc.days:
            checkpoint.save(s, run_dir, h)
        if stop is not None and stop():
            return False
        return None

    completed = sim.run(on_day=on_day)
    elapsed = time.perf_counter() - t0
    if not completed and run_dir is not None:
        checkpoint.save(sim, run_dir, h)
    return sim, elapsed, completed


def summarise(sim: Simulation, elapsed: float, completed: bool, run_id: str | None,
              daily, extra: dict | None = None) -> dict:
    """The run's ``summary.json``: size, speed, provenance, last metrics and totals.

    Adds the scaled figures when the scenario ``represents`` a real population, the
    published targets beside what the run achieved, and ``extra``.
    """
    from scslab.provenance import provenance

    sc = sim.scenario
    days_done = sim.day
    n = sim.world.n
    reg = {m.name: m for m in sim.metric_registry()}
    last = {c: daily[c].iloc[-1] for c in daily.columns} if len(daily) else {}
    totals = {c: int(daily[c].sum()) if daily[c].dtype.kind in "iu" else float(daily[c].sum())
              for c in daily.columns if c in reg and reg[c].kind == "flow"}
    summary: dict[str, Any] = {
        "run_id": run_id,
        "scenario": sc.name,
        "agents": n,
        "days": days_done,
        "days_planned": sc.days,
        "seed": sc.seed,
        "build_seconds": sim.build_seconds,
        "elapsed_seconds": elapsed,
        "agent_days_per_second": (n * days_done / elapsed) if elapsed > 0 else None,
        "peak_memory_bytes": _peak_rss(),
        "completed": bool(completed),
        "bytes_per_agent": sim.bytes_per_agent(),
        "group_weights": dict(zip(sim.params.group_names, sim.world.group_weight.tolist(),
                                  strict=True)),
        "stage_seconds": dict(sim.stage_seconds),
        "event_log": {"enabled": sim.log.enabled,
                      "scope": "all agents" if sim.log_frac >= 1 else (
                          f"sample of about {sim.log_frac:.2%} of agents" if sim.log_frac > 0
                          else "none"),
                      "fraction": sim.log_frac, "rows": sim.log.rows},
        "provenance": provenance(scenario_hash(sc), sim.threads),
        "metrics": {k: (v.item() if hasattr(v, "item") else v) for k, v in last.items()},
        "totals": totals,
    }
    rep = sc.population.represents
    if rep:
        factor = rep / n
        summary["scale"] = {
            "represents": rep, "factor": factor,
            "note": "Counts of agents and events scale linearly with the population; rates, "
                    "means, percentiles and ratios do not. Rare false matches and spillover "
                    "through ties do not scale exactly: scaled figures are approximations.",
            "metrics": {k: v * factor for k, v in summary["metrics"].items()
                        if k in reg and reg[k].scales and isinstance(v, int | float)},
            "totals": {k: v * factor for k, v in totals.items() if reg[k].scales},
            "not_scaled": sorted(k for k in reg if not reg[k].scales),
        }
    summary["fairness"] = _fairness(sim, daily)
    if sc.targets and len(daily):
        summary["targets"] = check_targets(sc, daily, {m.name: m.scales for m in reg.values()})
    if extra:
        summary.update(extra)
    from scslab.results import clean_json

    return clean_json(summary)


def _fairness(sim: Simulation, daily) -> dict:
    """The summary's ``fairness`` block (scslab.fairness), with the run's survey weights."""
    from scslab import fairness

    names = sim.params.group_names
    sizes = dict(zip(names, (int(x) for x in sim.ctx.group_sizes), strict=True))
    gw = getattr(sim.world, "group_weight", None)
    weights = None if gw is None else dict(zip(names, (float(x) for x in gw), strict=True))
    return fairness.assess(daily, sizes, weights, sim.params.reference_group)


def check_targets(sc: Scenario, daily, scales: dict[str, bool]) -> list[dict]:
    """Each published target beside what this run achieved (scaled when it represents more)."""
    from scslab.targets import column_factors, parse_target

    factors = column_factors(sc, scales)
    out = []
    for t in sc.targets:
        tg = parse_target(t.target, sc, list(daily.columns))
        if tg.day is not None and tg.day > int(daily["day"].max()):
            achieved = None
        else:
            achieved = tg.read(daily, factors.get(tg.column, 1.0))
        err = (achieved - tg.value) / tg.value if achieved is not None else None
        out.append({"target": t.target, "source": t.source, "column": tg.column, "agg": tg.agg,
                    "day": tg.day, "published": tg.value, "achieved": achieved,
                    "relative_error": err,
                    "within_10_percent": err is not None and abs(err) <= 0.10})
    return out


def chilling_summary(sc: Scenario, sim: Simulation, cf: Simulation) -> dict:
    """The chilling effect: how much less of the chilled act ``sim`` has than ``cf``.

    ``cf`` is the run of ``chilling_counterfactual(sc)`` on the same seed.
    """
    col = f"acts_{sc.responses.chilling.behaviour}"
    with_ = sum(r.get(col, 0) for r in sim.rows)
    without = sum(r.get(col, 0) for r in cf.rows)
    effect = 1.0 - with_ / without if without else 0.0
    return {"chilling_effect": effect, "chilling": {"behaviour": sc.responses.chilling.behaviour,
                                                    "acts_with_monitoring": int(with_),
                                                    "acts_without_monitoring": int(without)}}


# --------------------------------------------------------------------------- one run


@dataclass
class RunOutput:
    """What one pass of the pipeline gives: the simulation, its daily frame and summary."""

    scenario: Scenario
    sim: Simulation
    daily: pd.DataFrame
    summary: dict
    elapsed: float
    completed: bool
    run_id: str | None = None


def daily_of(sim: Simulation) -> pd.DataFrame:
    """The run's daily frame, as ``daily.parquet`` holds it.

    One row per simulated day; ``date`` follows ``day`` when the scenario has a
    ``start_date``.
    """
    from scslab.results import daily_frame

    return daily_frame(sim.rows, [m.name for m in sim.metric_registry()],
                       sim.scenario.start_date)


def finish(sc: Scenario, sim: Simulation, elapsed: float, completed: bool,
           run_id: str | None, *, threads: int | None = None, chilling: bool = False,
           extra: dict | None = None) -> RunOutput:
    """The second half of :func:`execute`, for a simulation already run.

    The daily frame, the chilling counterfactual (``chilling`` and the run completed: it
    runs ``chilling_counterfactual(sc)`` on the same seed) and the summary.
    """
    daily = daily_of(sim)
    more: dict = dict(extra or {})
    if chilling and completed:
        cf, _, _ = simulate(chilling_counterfactual(sc), threads=threads)
        more.update(chilling_summary(sc, sim, cf))
    summary = summarise(sim, elapsed, completed, run_id, daily, more)
    return RunOutput(sc, sim, daily, summary, elapsed, bool(completed), run_id)


def execute(sc: Scenario, *, run_id: str | None = None, threads: int | None = None,
            progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
            chilling: bool = False, extra: dict | None = None,
            on_phase: Callable[[str], None] | None = None,
            on_simulated: Callable[[], None] | None = None, run_dir: Path | None = None,
            checkpoint_every: int = 0, restore: dict | None = None) -> RunOutput:
    """Run a resolved scenario through the whole pipeline; every way of running uses it.

    Simulate (see :func:`simulate` for ``progress``, ``stop``, ``on_phase`` and the
    checkpoint arguments), then :func:`finish`: the daily frame, the chilling
    counterfactual when ``chilling``, and the summary (with ``extra`` merged in).
    ``on_simulated`` is called between the two halves (the day loop is over).
    """
    sim, elapsed, completed = simulate(sc, threads=threads, progress=progress, stop=stop,
                                       run_dir=run_dir, checkpoint_every=checkpoint_every,
                                       restore=restore, on_phase=on_phase)
    if on_simulated is not None:
        on_simulated()
    return finish(sc, sim, elapsed, completed, run_id, threads=threads, chilling=chilling,
                  extra=extra)


# --------------------------------------------------------------------------- run directory


def write_outputs(w: Writer, sc: Scenario, daily: pd.DataFrame, summary: dict, *,
                  events: pa.Table | None = None, agents: pa.Table | None = None) -> None:
    """Every file of a run into ``w.partial``, its summary not yet marked completed.

    The summary written says ``outputs_written`` and whether the run ``will_complete``,
    so a resume knows only the last steps are left (:func:`commit_outputs`).
    """
    from scslab.results import write_run_dir

    pending = {**summary, "completed": False, "outputs_written": True,
               "will_complete": bool(summary.get("completed"))}
    write_run_dir(w.partial, sc, daily, pending, events=events, agents=agents)


def commit_outputs(w: Writer, summary: dict) -> None:
    """The summary as it is (``completed`` last), then the partial directory into place."""
    from scslab.fileio import atomic_write_json
    from scslab.results import SUMMARY_FILE, clean_json

    atomic_write_json(w.partial / SUMMARY_FILE, clean_json(summary))
    w.commit()


def write_run(out: str | Path, sc: Scenario, daily: pd.DataFrame, summary: dict, *,
              events: pa.Table | None = None, overwrite: bool = True,
              db: str | Path | None = None, sweep: dict | None = None) -> Path:
    """Commit a finished run as the run directory ``out``, as ``scslab run`` commits one.

    It works in ``<out>.partial`` under ``out``'s lock, records the catalog row (in
    ``db``, with the ``sweep`` row) before the move into place, writes ``completed``
    last and renames the directory into place (DESIGN.md §6). ``overwrite`` replaces a
    run already at ``out``. Nothing is left behind when it fails. Returns ``out``.
    """
    from scslab import rundir

    w = rundir.open_new(out, overwrite=overwrite)
    try:
        write_outputs(w, sc, daily, summary, events=events)
        if db is not None:
            from scslab.catalog import record_run

            record_run(db, summary["run_id"], w.out, sc.name, summary, daily, sweep=sweep,
                       add_later_hint=False)  # a failure commits nothing: no dir to add
        commit_outputs(w, summary)
    except BaseException:
        w.discard()
        raise
    finally:
        w.release()
    return w.out
