"""The Python API; the CLI and the dashboard are thin layers over it.

>>> r = scslab.run("national", agents=10_000, days=30)          # doctest: +SKIP
>>> r.daily.plot(x="day", y="listed")                           # doctest: +SKIP
"""

from __future__ import annotations

import resource
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from scslab.engine import Simulation
from scslab.results import Result, daily_frame, load_run, write_run_dir
from scslab.scenario.loader import load_scenario, scenario_hash
from scslab.scenario.schema import Scenario

ProgressFn = Callable[[int, int, dict], None]

__all__ = ["Result", "chilling_counterfactual", "compare", "explain", "load_run", "resolve",
           "run"]


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
    """The same scenario with the chilled act neither monitored nor penalised."""
    b = sc.responses.chilling.behaviour
    data = sc.model_dump(mode="json")
    for sensor in data["sensors"].values():
        sensor["observes"] = [x for x in sensor["observes"] if x != b]
    data["sensors"]["online_monitoring"]["enabled"] = False
    if data["policy"]["rules"].get(b, 0) < 0:
        data["policy"]["rules"][b] = 0
    for reg in data["population"]["regions"]:
        if reg["rules"].get(b, 0) < 0:
            reg["rules"][b] = 0
    return Scenario.model_validate(data)


def _peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def new_run_id(sc: Scenario) -> str:
    return f"{sc.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def agents_table(sim: Simulation) -> pa.Table:
    """Final per-agent state (``--save-agents``)."""
    w, s, p = sim.world, sim.state, sim.params
    from scslab.params import F_BL, F_CT, F_RED, F_TBL, F_TCT

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
    })


def simulate(sc: Scenario, *, threads: int | None = None, progress: ProgressFn | None = None,
             stop: Callable[[], bool] | None = None) -> tuple[Simulation, float, bool]:
    """Build and run; returns (simulation, day-loop seconds, completed)."""
    sim = Simulation(sc, threads=threads).build()
    t0 = time.perf_counter()

    def on_day(s: Simulation, row: dict):
        if progress is not None:
            progress(s.day, sc.days, row)
        if stop is not None and stop():
            return False
        return None

    completed = sim.run(on_day=on_day)
    return sim, time.perf_counter() - t0, completed


def summarise(sim: Simulation, elapsed: float, completed: bool, run_id: str | None,
              daily, extra: dict | None = None) -> dict:
    from scslab.provenance import provenance

    sc = sim.scenario
    days_done = sim.day
    n = sim.world.n
    reg = {m.name: m for m in sim.metric_registry()}
    last = daily.iloc[-1].to_dict() if len(daily) else {}
    totals = {c: int(daily[c].sum()) if daily[c].dtype.kind in "iu" else float(daily[c].sum())
              for c in daily.columns if c in reg and reg[c].kind == "flow"}
    summary = {
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
    if extra:
        summary.update(extra)
    return summary


def run(scenario: str | Path | Scenario | dict = "national", *, agents: int | None = None,
        days: int | None = None, seed: int | None = None,
        set: list[str] | dict[str, Any] | None = None, out: str | Path | None = None,  # noqa: A002
        threads: int | None = None, db: str | Path | None = None, save_agents: bool = False,
        chilling: bool = False, progress: ProgressFn | None = None,
        stop: Callable[[], bool] | None = None, report: bool = True) -> Result:
    """Run a scenario (preset name, YAML path, mapping or Scenario) and return its Result.

    Args:
        agents, days, seed: shortcuts for ``population.agents``, ``days``, ``seed``.
        set: overrides, as ``["path=value", …]`` or ``{"path": value}``.
        out: write a run directory there (scenario.yaml, daily.parquet, summary.json, …).
        db: record the run in this DuckDB catalog.
        chilling: also run the counterfactual without monitoring or penalty for speech and
            add ``chilling_effect`` to the summary (doubles the cost).
        progress: called after each day with (day, days, row).
        stop: polled after each day; returning True stops the run early (completed: false).
    """
    sc = resolve(scenario, agents=agents, days=days, seed=seed, set=set)
    run_id = new_run_id(sc)
    sim, elapsed, completed = simulate(sc, threads=threads, progress=progress, stop=stop)
    columns = [m.name for m in sim.metric_registry()]
    daily = daily_frame(sim.rows, columns)
    extra: dict = {}
    if chilling and completed:
        cf, _, _ = simulate(chilling_counterfactual(sc), threads=threads)
        extra.update(chilling_summary(sc, sim, cf))
    summary = summarise(sim, elapsed, completed, run_id, daily, extra)
    result = Result(scenario=sc, daily=daily, summary=summary, run_id=run_id)
    if out is not None:
        out = Path(out)
        events = sim.log.drain() if sim.log.enabled else None
        write_run_dir(out, sc, daily, summary, events=events,
                      agents=agents_table(sim) if save_agents else None)
        result.run_dir = out
        if report:
            from scslab.report import write_report

            write_report(result)
    if db is not None:
        from scslab.catalog import record_run

        record_run(db, run_id, result.run_dir, sc.name, summary, daily)
    return result


def chilling_summary(sc: Scenario, sim: Simulation, cf: Simulation) -> dict:
    col = f"acts_{sc.responses.chilling.behaviour}"
    with_ = sum(r.get(col, 0) for r in sim.rows)
    without = sum(r.get(col, 0) for r in cf.rows)
    effect = 1.0 - with_ / without if without else 0.0
    return {"chilling_effect": effect, "chilling": {"behaviour": sc.responses.chilling.behaviour,
                                                    "acts_with_monitoring": int(with_),
                                                    "acts_without_monitoring": int(without)}}


def compare(*args, **kwargs):
    """Run scenarios on common random numbers; see ``scslab.compare_runs``."""
    from scslab.compare import compare as _compare

    return _compare(*args, **kwargs)


def explain(run_dir: str | Path, agent: int):
    """The audit trail of one synthetic agent; see ``scslab.explain``."""
    from scslab.explain import explain_agent

    return explain_agent(run_dir, agent)
