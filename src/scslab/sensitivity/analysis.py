"""Sensitivity analysis, the analysis: SALib indices from the runs' outcomes."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.errors import ScslabError
from scslab.scenario.schema import Scenario
from scslab.sensitivity.problem import Evaluator, Param, SensitivityPlan, _hash, plan_sensitivity
from scslab.sweep.cluster import dask_client
from scslab.sweep.execute import ProgressFn, run_plan
from scslab.sweep.table import SweepResult

__all__ = ["SensitivityResult", "analyze", "outcomes_from_sweep", "run_sensitivity_plan",
           "sensitivity"]


# --------------------------------------------------------------------------- analysis


@dataclass
class SensitivityResult:
    """Sensitivity indices per outcome and parameter, with the samples behind them."""

    method: str
    params: list[Param]
    outcomes: list[str]
    n_samples: int
    X: np.ndarray
    Y: pd.DataFrame  # one row per sample: parameter values then outcomes
    indices: pd.DataFrame  # one row per (outcome, parameter)
    second_order: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    conf_level: float = 0.95
    seed: int = 0
    replicates: int = 1
    levels: int | None = None
    sweep: SweepResult | None = None
    out_dir: Path | None = None
    scenario: Scenario | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The indices, one row per (outcome, parameter)."""
        return self.indices

    def to_dict(self) -> dict:
        """JSON-ready form (what ``sensitivity.json`` holds)."""
        from scslab.results import clean_json

        d = {
            "method": self.method,
            "scenario": self.scenario.name if self.scenario else None,
            "scenario_hash": _hash(self.scenario) if self.scenario else None,
            "agents": self.scenario.population.agents if self.scenario else None,
            "days": self.scenario.days if self.scenario else None,
            "sweep_id": self.sweep.sweep_id if self.sweep else None,
            "seed": self.seed,
            "samples": self.n_samples,
            "evaluations": int(len(self.X)),
            "runs": int(len(self.sweep.plan.specs)) if self.sweep else None,
            "replicates": self.replicates,
            "levels": self.levels,
            "conf_level": self.conf_level,
            "params": [{"path": p.path, "lo": p.lo, "hi": p.hi, "integer": p.integer}
                       for p in self.params],
            "outcomes": self.outcomes,
            "indices": self.indices.to_dict(orient="records"),
            "second_order": self.second_order,
            "warnings": self.warnings,
        }
        return clean_json(d)

    def write(self, out_dir: str | Path) -> None:
        """Write the indices (csv, json), the HTML page and the samples to ``out_dir``.

        The files are ``sensitivity.csv``, ``sensitivity.json``, ``sensitivity.html``
        and ``samples.csv`` (settings and outcomes per sample).
        """
        from scslab.fileio import atomic_write_json, atomic_write_text
        from scslab.sensitivity.render import render_html

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "sensitivity.csv", self.indices.to_csv(index=False))
        atomic_write_json(out / "sensitivity.json", self.to_dict())
        atomic_write_text(out / "samples.csv", self.Y.to_csv(index=False))
        atomic_write_text(out / "sensitivity.html", render_html(self))
        self.out_dir = out


def _analyze(sp: SensitivityPlan, Y: Mapping[str, np.ndarray]
             ) -> tuple[pd.DataFrame, dict[str, dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    s2: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    names = [p.path for p in sp.params]
    D = len(names)
    nan = np.full(D, np.nan)
    for out, y in Y.items():
        y = np.asarray(y, dtype=float)
        bad = ~np.isfinite(y)
        if bad.any():
            notes.append(f"{out}: {int(bad.sum())} of {y.size} evaluations are not finite; its "
                         "indices are undefined")
        constant = not bad.any() and np.ptp(y) == 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if sp.method == "sobol":
                from SALib.analyze import sobol as sobol_analyze

                if bad.any() or constant:
                    if constant:
                        notes.append(f"{out} is the same ({y[0]:g}) in every run: Sobol' "
                                     "indices are undefined (no variance to apportion)")
                    si = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan,
                          "S2": np.full((D, D), np.nan), "S2_conf": np.full((D, D), np.nan)}
                else:
                    si = sobol_analyze.analyze(sp.problem, y, calc_second_order=sp.second_order,
                                               num_resamples=sp.num_resamples,
                                               conf_level=sp.conf_level, seed=sp.seed)
                for j, name in enumerate(names):
                    rows.append({"outcome": out, "parameter": name,
                                 "S1": float(si["S1"][j]), "S1_conf": float(si["S1_conf"][j]),
                                 "ST": float(si["ST"][j]), "ST_conf": float(si["ST_conf"][j])})
                if sp.second_order:
                    s2[out] = {"parameters": names,
                               "S2": np.asarray(si["S2"], dtype=float).tolist(),
                               "S2_conf": np.asarray(si["S2_conf"], dtype=float).tolist()}
            else:
                from SALib.analyze import morris as morris_analyze

                if bad.any():
                    si = {"mu_star": nan, "mu_star_conf": nan, "sigma": nan, "mu": nan}
                else:
                    si = morris_analyze.analyze(sp.problem, sp.X, y,
                                                num_resamples=sp.num_resamples,
                                                conf_level=sp.conf_level,
                                                num_levels=sp.levels, seed=sp.seed)
                for j, name in enumerate(names):
                    rows.append({"outcome": out, "parameter": name,
                                 "mu_star": float(si["mu_star"][j]),
                                 "mu_star_conf": float(si["mu_star_conf"][j]),
                                 "sigma": float(si["sigma"][j]), "mu": float(si["mu"][j])})
    return pd.DataFrame(rows), s2, notes


def _as_outputs(y: Any, names: Sequence[str], n: int) -> dict[str, np.ndarray]:
    if isinstance(y, Mapping):
        out = {str(k): np.asarray(v, dtype=float).reshape(-1) for k, v in y.items()}
    else:
        arr = np.asarray(y, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != max(len(names), 1):
            raise ScslabError(f"the evaluation returned shape {arr.shape}; expected "
                              f"({n},) or ({n}, {len(names)})")
        labels = list(names) or ["y"]
        out = {labels[j]: arr[:, j] for j in range(arr.shape[1])}
    for k, v in out.items():
        if v.size != n:
            raise ScslabError(f"the evaluation returned {v.size} values for {k!r}; expected {n}")
    return out


def analyze(sp: SensitivityPlan, Y: Mapping[str, np.ndarray], *,
            sweep_result: SweepResult | None = None) -> SensitivityResult:
    """Indices from outcomes ``Y`` (one value per row of ``sp.X``) for each outcome."""
    indices, s2, notes = _analyze(sp, Y)
    table = pd.DataFrame(sp.values, columns=[p.path for p in sp.params])
    for p in sp.params:
        if p.integer:
            table[p.path] = table[p.path].astype("int64")
    for k, v in Y.items():
        table[k] = np.asarray(v, dtype=float)
    return SensitivityResult(
        method=sp.method, params=sp.params, outcomes=list(Y), n_samples=sp.n_samples,
        X=sp.X, Y=table, indices=indices, second_order=s2, warnings=[*sp.warnings, *notes],
        conf_level=sp.conf_level, seed=sp.seed, replicates=sp.replicates,
        levels=sp.levels if sp.method == "morris" else None, sweep=sweep_result,
        scenario=sp.plan.scenario if sp.plan is not None else None)


def outcomes_from_sweep(sp: SensitivityPlan, res: SweepResult) -> dict[str, np.ndarray]:
    """Per-sample outcomes: each point's mean over replicates, mapped back to the samples."""
    if res.failed:
        raise ScslabError(f"{len(res.failed)} run(s) failed; the analysis needs every run — "
                          "re-run to retry them")
    t = res.table
    names = [o.name for o in sp.outcomes]
    missing = [n for n in names if n not in t]
    if missing:
        raise ScslabError(f"the sweep table has no column {missing[0]!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_point = t.groupby("point")[names].mean()
    per_point = per_point.reindex(range(len(per_point)))
    return {n: per_point[n].to_numpy(dtype=float)[sp.sample_point] for n in names}


def run_sensitivity_plan(sp: SensitivityPlan, *, sweep_result: SweepResult,
                         out: str | Path | None = None) -> SensitivityResult:
    """Analyse a finished sweep of a sensitivity plan (and write the outputs to ``out``)."""
    res = analyze(sp, outcomes_from_sweep(sp, sweep_result), sweep_result=sweep_result)
    if out is not None:
        res.write(out)
    return res


def sensitivity(scenario: str | Path | Scenario | dict | None,
                params: Mapping[str, Sequence[float]] | Sequence[str], *,
                method: str = "sobol", samples: int = 64,
                outcomes: Sequence[str] | None = None, replicates: int = 1,
                agents: int | None = None, days: int | None = None, seed: int | None = None,
                set: list[str] | dict[str, Any] | None = None,  # noqa: A002
                evaluate: Evaluator | None = None, integer: Sequence[str] = (),
                second_order: bool = False, levels: int = 4, conf_level: float = 0.95,
                num_resamples: int = 100, out: str | Path | None = None,
                db: str | Path | None = None, client: Any = None, workers: int | None = None,
                scheduler: str | None = None, threads: int | None = None,
                progress: ProgressFn | None = None,
                log: Callable[[str], None] | None = None) -> SensitivityResult:
    """Sobol or Morris sensitivity of ``outcomes`` to ``params`` (SALib).

    Args:
        scenario: preset, YAML path, mapping or Scenario (None with ``evaluate``).
        params: {path: (lo, hi)} or ``["path=lo:hi", …]``.
        method: "sobol" (S1, ST with confidence intervals) or "morris" (mu*, sigma).
        samples: Sobol base samples N (N·(D+2) evaluations, N·(2D+2) with
            ``second_order``) or Morris trajectories (N·(D+1) evaluations).
        outcomes: summary keys (``chilling_effect``, ``totals.X``, ``metrics.X``) or daily
            columns with an aggregation (``wrongful_listed:mean``).
        evaluate: instead of simulation runs, ``evaluate(X) -> Y`` with ``X`` the settings
            (n × D, integers rounded) and ``Y`` of shape (n,), (n, len(outcomes)) or a
            mapping outcome → values.
        replicates: runs per sample, on common seeds; outcomes are averaged over them.
        agents: as for ``scslab.run``.
        days: as for ``scslab.run``.
        seed: as for ``scslab.run``; also seeds the sampling.
        set: as for ``scslab.run``.
        integer: with ``scenario=None``, the parameters to treat as integers (otherwise
            they are detected from the schema).
        second_order: Sobol only: also estimate the second-order indices S2.
        levels: Morris only: the number of grid levels (at least 2).
        conf_level: the confidence level of the intervals (between 0 and 1).
        num_resamples: bootstrap resamples for the confidence intervals.
        out: as for ``scslab.sweep.sweep``; the indices are also written there.
        db: as for ``scslab.sweep.sweep``.
        client: as for ``scslab.sweep.sweep``.
        workers: as for ``scslab.sweep.sweep``.
        scheduler: as for ``scslab.sweep.sweep``.
        threads: as for ``scslab.sweep.sweep``.
        progress: as for ``scslab.sweep.sweep``.
        log: as for ``scslab.sweep.sweep``.
    """
    if evaluate is not None and not outcomes:
        outcomes = ["y"]
    if not outcomes:
        raise ScslabError("give at least one outcome, e.g. outcomes=['wrongful_listed:last']")
    sp = plan_sensitivity(scenario, params, method=method, samples=samples, outcomes=outcomes,
                          replicates=replicates, agents=agents, days=days, seed=seed, set=set,
                          second_order=second_order, levels=levels, conf_level=conf_level,
                          num_resamples=num_resamples, integer=integer,
                          check_outcomes=evaluate is None)
    if evaluate is not None:
        Y = _as_outputs(evaluate(sp.values.copy()), [o.name for o in sp.outcomes],
                        len(sp.values))
        res = analyze(sp, Y)
        if out is not None:
            res.write(out)
        return res
    assert sp.plan is not None
    out_dir = Path(out) if out is not None else None
    if client is not None:
        sres = run_plan(sp.plan, out=out_dir, db=db, client=client, threads=threads,
                        progress=progress, outcome_fn=sp.outcome_fn(), keep_daily=False,
                        log=log)
    else:
        with dask_client(workers, scheduler) as c:
            sres = run_plan(sp.plan, out=out_dir, db=db, client=c, threads=threads,
                            progress=progress, outcome_fn=sp.outcome_fn(), keep_daily=False,
                            log=log)
    return run_sensitivity_plan(sp, sweep_result=sres, out=out_dir)
