"""``scslab calibrate``: fit free parameters so that runs reproduce published figures.

Targets name a daily column, how to read it and when:
``COLUMN[:AGG][+OFFSET][@WHEN]=VALUE`` with AGG one of ``last`` (default), ``sum``,
``mean``, ``max`` over days up to WHEN (a day number, or a date when the scenario
has ``start_date``); OFFSET is added to what the run gives (e.g. a cumulative
total already published on day 1: ``denied_flight:sum+9.36e6@2019-03-31=20.47e6``). Values are in
real-population units: when ``population.represents`` is set, columns that scale
with the population are multiplied by represents / agents before comparison.

The fit minimises the sum of squared relative errors on common random numbers
(one seed for every candidate, so the objective is a deterministic function of
the parameters): a scrambled Sobol design over the bounds (evaluated in parallel
on a Dask cluster when one is given), then SciPy's bounded Nelder–Mead from the
best design point. Afterwards the best
parameters are re-run on replicate seeds to give intervals, and every candidate
that fits within the replicate noise is kept as the uncertainty set of the
parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.errors import ScenarioError
from scslab.scenario.loader import apply_overrides, validate_raw
from scslab.scenario.schema import Scenario
from scslab.sensitivity.problem import Param, resolve_params
from scslab.sensitivity.problem import parse_param as parse_range
from scslab.targets import (  # noqa: F401  (AGGS, day_of: re-exported from their old home)
    AGGS,
    Target,
    column_factors,
    date_of,
    day_of,
    parse_target,
    scale_factor,
)


def parse_param(text: str, raw: dict) -> Param:
    """``PATH=LO:HI`` checked against the scenario (path, both bounds, integer or not)."""
    path, lo, hi = parse_range(text)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ScenarioError(f"--param {text!r}: needs finite LO < HI")
    return resolve_params(validate_raw(raw), [(path, lo, hi)])[0]


def _get(sc: Scenario, path: str):
    cur: Any = sc
    for p in path.split("."):
        cur = cur[int(p)] if isinstance(cur, list) else (
            cur[p] if isinstance(cur, dict) else getattr(cur, p))
    return cur


def evaluate(raw: dict, params: list[Param], targets: list[Target], x: list[float],
             seed: int | None = None, threads: int | None = 1) -> dict:
    """Run the scenario at unit-cube point ``x``; return objective and achieved values.

    A top-level function so that Dask workers can run it.
    """
    from scslab.pipeline import execute

    over = {p.path: p.from_unit(xi) for p, xi in zip(params, x, strict=True)}
    if seed is not None:
        over["seed"] = seed
    sc = validate_raw(apply_overrides(raw, over), "calibration")
    ran = execute(sc, threads=threads)
    factors = column_factors(sc, {m.name: m.scales for m in ran.sim.metric_registry()})
    achieved = [t.read(ran.daily, factors[t.column]) for t in targets]
    obj = float(sum(((a - t.value) / t.value) ** 2 if math.isfinite(a) else 1e6
                    for a, t in zip(achieved, targets, strict=True)))
    return {"x": list(map(float, x)), "values": over, "objective": obj, "achieved": achieved,
            "seed": sc.seed}


@dataclass
class Calibration:
    """What a calibration found: fitted parameters, achieved targets and the history."""

    scenario: Scenario
    params: list[Param]
    targets: list[Target]
    best: dict
    replicates: list[dict]
    history: pd.DataFrame
    fitted: dict[str, dict]
    achieved: list[dict]
    factor: float
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def calibrate(scenario, targets: list[str], params: list[str], *, agents: int | None = None,
              days: int | None = None, seed: int | None = None,
              set: list[str] | dict | None = None,  # noqa: A002
              budget: int = 120, replicates: int = 5, client=None,
              out: str | Path | None = None, progress=None) -> Calibration:
    """Fit ``params`` (PATH=LO:HI) so the scenario reproduces ``targets``."""
    from scipy.optimize import minimize
    from scipy.stats import qmc

    from scslab.engine import Simulation
    from scslab.pipeline import resolve
    from scslab.rng import spawn_seeds

    sc = resolve(scenario, agents=agents, days=days, seed=seed, set=set)
    raw = sc.model_dump(mode="json")
    probe = Simulation(validate_raw(apply_overrides(raw, {"population.agents": 10}), "probe"))
    probe.build()
    cols = [m.name for m in probe.metric_registry()]
    tg = [parse_target(t, sc, cols) for t in targets]
    ps = [parse_param(p, raw) for p in params]
    if not tg or not ps:
        raise ScenarioError("calibrate needs at least one --target and one --param")
    history: list[dict] = []
    n_eval = [0]

    def batch(xs: list[list[float]]) -> list[dict]:
        if client is not None:
            futs = client.map(evaluate, [raw] * len(xs), [ps] * len(xs), [tg] * len(xs),
                              xs, pure=False)
            res = client.gather(futs)
        else:
            res = [evaluate(raw, ps, tg, x, threads=None) for x in xs]
        for r in res:
            n_eval[0] += 1
            history.append(r)
            if progress:
                progress(n_eval[0], budget, r["objective"])
        return res

    dim = len(ps)
    x0 = []
    for p in ps:
        cur = _get(sc, p.path)
        ok = isinstance(cur, int | float) and p.lo <= float(cur) <= p.hi
        x0.append(min(1.0, max(0.0, p.to_unit(float(cur)))) if ok else 0.5)
    log2_n = max(1, int(math.log2(max(2, min(budget // 2, 4 * dim + 4)))))
    design = qmc.Sobol(dim, scramble=True, seed=sc.seed % (2**32)).random_base2(log2_n)
    n_init = 1 + len(design)
    batch([x0] + [list(map(float, x)) for x in design])
    start = min(history, key=lambda r: r["objective"])["x"]
    remaining = budget - n_init
    if remaining > 0:
        step = 0.15
        simplex = [start] + [[min(1.0, max(0.0, v + (step if k == j and v + step <= 1 else
                                                      -step if k == j else 0.0)))
                              for k, v in enumerate(start)] for j in range(dim)]
        minimize(lambda x: batch([[min(1.0, max(0.0, float(v))) for v in x]])[0]["objective"],
                 start, method="Nelder-Mead", bounds=[(0.0, 1.0)] * dim,
                 options={"maxfev": remaining, "xatol": 1e-4, "fatol": 1e-6,
                          "initial_simplex": simplex})
    best = min(history, key=lambda r: r["objective"])
    seeds = spawn_seeds(sc.seed, replicates)
    reps = []
    for s in seeds:
        r = client.submit(evaluate, raw, ps, tg, best["x"], s, pure=False).result() \
            if client is not None else evaluate(raw, ps, tg, best["x"], s, threads=None)
        reps.append(r)
    from scslab.comparison import interval

    achieved = []
    for k, t in enumerate(tg):
        vals = np.array([r["achieved"][k] for r in reps])
        m, lo, hi = interval(vals)
        achieved.append({"target": t.text, "column": t.column, "agg": t.agg, "day": t.day,
                         "date": date_of(t.day, sc) if t.day else None, "published": t.value,
                         "achieved": m, "lo": lo, "hi": hi,
                         "relative_error": (m - t.value) / t.value,
                         "within_10_percent": abs(m - t.value) <= 0.1 * t.value})
    objs = np.array([r["objective"] for r in reps])
    noise = float(2 * objs.std(ddof=1)) if objs.size > 1 else 0.0
    good = [r for r in history if r["objective"] <= best["objective"] + max(noise, 1e-12)]
    fitted = {}
    for p in ps:
        kept = [r["values"][p.path] for r in good]
        fitted[p.path] = {"value": best["values"][p.path], "lo": min(kept), "hi": max(kept),
                          "bounds": [p.lo, p.hi], "log_scale": p.log}
    hist = pd.DataFrame([{**{p.path: r["values"][p.path] for p in ps},
                          "objective": r["objective"],
                          **{t.text: a for t, a in zip(tg, r["achieved"], strict=True)}}
                         for r in history])
    cal = Calibration(sc, ps, tg, best, reps, hist, fitted, achieved, scale_factor(sc))
    cal.notes.append(f"{len(history)} candidate runs on one seed ({sc.seed}, common random "
                     f"numbers): a Sobol design of {n_init}, then Nelder–Mead; then "
                     f"{replicates} replicate seeds at the best point.")
    cal.notes.append(f"Parameter ranges: every candidate whose objective is within twice the "
                     f"replicate standard deviation ({noise:.3g}) of the best.")
    if cal.factor != 1.0:
        cal.notes.append(f"Results scaled by {cal.factor:,.1f} (population.represents / agents): "
                         "counts of agents and events scale linearly with the population; "
                         "rates, means, percentiles and disparate impact do not, and rare "
                         "false matches and spillover through ties are approximations.")
    if out is not None:
        write_calibration(cal, Path(out))
    return cal


def to_markdown(cal: Calibration) -> str:
    """The calibration as a Markdown page: targets, fitted parameters and notes."""
    sc = cal.scenario
    lines = [f"# Calibration of `{sc.name}`", "",
             f"{sc.population.agents:,} agents × {sc.days} days"
             + (f" from {sc.start_date}" if sc.start_date else "")
             + (f"; scale factor {cal.factor:,.1f} to {sc.population.represents:,} people"
                if cal.factor != 1.0 else ""), "", "## Targets", "",
             "| target | published | achieved (95% interval) | error | within 10% |",
             "|---|---:|---:|---:|:---:|"]
    for a in cal.achieved:
        lines.append(f"| `{a['target']}` | {a['published']:,.4g} | {a['achieved']:,.4g} "
                     f"[{a['lo']:,.4g}, {a['hi']:,.4g}] | {a['relative_error']:+.1%} | "
                     f"{'yes' if a['within_10_percent'] else 'no'} |")
    lines += ["", "## Fitted parameters", "", "| parameter | value | range | bounds |",
              "|---|---:|---:|---:|"]
    for path, f in cal.fitted.items():
        lines.append(f"| `{path}` | {f['value']:.4g} | {f['lo']:.4g} – {f['hi']:.4g} | "
                     f"{f['bounds'][0]:.3g} – {f['bounds'][1]:.3g} |")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in cal.notes] + [
        "", "All candidate runs are in `runs.csv`; the fitted scenario is `calibrated.yaml`.", ""]
    return "\n".join(lines)


def write_calibration(cal: Calibration, out: Path) -> None:
    """Write the calibration's files to the folder ``out``.

    The page (``calibration.md``), the results as JSON (``calibration.json``), every
    candidate run (``runs.csv``) and the fitted scenario (``calibrated.yaml``).
    """
    import json

    from scslab.fileio import atomic_write, atomic_write_text
    from scslab.results import clean_json
    from scslab.scenario.loader import scenario_to_yaml

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "runs.csv", lambda p: cal.history.to_csv(p, index=False))
    atomic_write_text(out / "calibration.md", to_markdown(cal))
    atomic_write_text(out / "calibration.json", json.dumps(clean_json({
        "scenario": cal.scenario.name, "factor": cal.factor, "targets": cal.achieved,
        "fitted": cal.fitted, "best": cal.best, "replicates": cal.replicates,
        "notes": cal.notes}), indent=2) + "\n")
    fitted = validate_raw(apply_overrides(cal.scenario.model_dump(mode="json"),
                                          {p: f["value"] for p, f in cal.fitted.items()}),
                          "calibrated")
    atomic_write_text(out / "calibrated.yaml", scenario_to_yaml(fitted))
