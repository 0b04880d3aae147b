"""Global sensitivity analysis (Sobol, Morris) of run outcomes to scenario settings.

Samples come from SALib; each sample is a run of the scenario with those
settings, executed by the sweep machinery (in-process or on Dask, resumable),
all on the same seed (common random numbers) unless ``replicates`` > 1, in
which case each sample's outcome is the mean over the replicate seeds.
Integer settings (``population.agents``, ``*_days``) are sampled on
``[lo - 0.5, hi + 0.5]`` and rounded, so every integer in ``[lo, hi]`` is
equally likely.

The evaluation is injectable: ``sensitivity(None, {...}, evaluate=f)`` analyses
``f(X)`` instead of simulation runs (used to test the estimators on models whose
indices are known).

>>> res = sensitivity("national", {"sensors.cameras.false_match_rate": (1e-4, 1e-2)},
...                   method="morris", samples=8, outcomes=["wrongful_listed:last"],
...                   agents=5_000, days=60)                       # doctest: +SKIP
>>> res.indices                                                   # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.errors import ScenarioError, ScslabError
from scslab.scenario.refs import did_you_mean
from scslab.scenario.schema import Scenario
from scslab.sweep import (
    OutcomeFn,
    ProgressFn,
    SweepPlan,
    SweepResult,
    _slug,
    _value_at,
    dask_client,
    definition_id,
    key_outcomes,
    plan_runs,
    run_plan,
    validate_point,
)

__all__ = ["Outcome", "Param", "SensitivityPlan", "SensitivityResult", "metric_columns",
           "parse_outcome", "parse_param", "plan_sensitivity", "print_sensitivity",
           "sensitivity"]

METHODS = ("sobol", "morris")
AGGREGATIONS = ("last", "mean", "sum", "max", "min")
SUMMARY_SCALARS = ("chilling_effect", "elapsed_seconds", "build_seconds",
                   "agent_days_per_second", "peak_memory_bytes")
Evaluator = Callable[[np.ndarray], "np.ndarray | Mapping[str, np.ndarray]"]
_NUM = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Param:
    """One varied setting: its scenario path, range and whether it is an integer.

    Sensitivity analysis samples it through ``bounds``/``value``; calibration searches
    it through ``from_unit``/``to_unit`` (a log scale when the range spans 100×).
    """

    path: str
    lo: float
    hi: float
    integer: bool = False

    @property
    def log(self) -> bool:
        """Whether the range is searched on a log scale (positive and spanning 100×)."""
        return self.lo > 0 and self.hi / self.lo >= 100

    def from_unit(self, x: float) -> float:
        """The setting at position ``x`` in [0, 1] of the (log or linear) range."""
        lo, hi = (math.log(self.lo), math.log(self.hi)) if self.log else (self.lo, self.hi)
        v = lo + x * (hi - lo)
        v = math.exp(v) if self.log else v
        return float(round(v)) if self.integer else v

    def to_unit(self, v: float) -> float:
        """The position in [0, 1] of the range of a setting ``v`` (inverse of ``from_unit``)."""
        if self.log:
            return (math.log(v) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    @property
    def bounds(self) -> list[float]:
        """The range SALib samples (integers: widened by ½ so rounding is uniform)."""
        if self.integer:
            return [self.lo - 0.5, self.hi + 0.5]
        return [self.lo, self.hi]

    def value(self, x: float) -> float | int:
        """The setting for a sampled ``x`` (integers rounded into ``[lo, hi]``)."""
        if self.integer:
            return int(min(max(math.floor(x + 0.5), self.lo), self.hi))
        return float(min(max(x, self.lo), self.hi))


def parse_param(expr: str) -> tuple[str, float, float]:
    """``PATH=LO:HI`` → (path, lo, hi)."""
    example = "e.g. --param sensors.cameras.false_match_rate=0.0001:0.01"
    path, eq, rng = expr.partition("=")
    path = path.strip()
    if not eq or rng.count(":") != 1:
        raise ScenarioError(f"--param {expr!r}: expected PATH=LO:HI, {example}")
    if not path or any(not p.strip() for p in path.split(".")):
        raise ScenarioError(f"--param {expr!r}: empty path segment, {example}")
    lo_s, hi_s = rng.split(":")
    for s in (lo_s, hi_s):
        if not _NUM.match(s):
            raise ScenarioError(f"--param {path}: {s.strip()!r} is not a number; {example}")
    lo, hi = float(lo_s), float(hi_s)
    if not lo < hi:
        raise ScenarioError(f"--param {path}: LO must be below HI (got {lo_s.strip()}:"
                            f"{hi_s.strip()})")
    return path, lo, hi


def _params_input(params: Mapping[str, Sequence[float]] | Sequence[str]
                  ) -> list[tuple[str, float, float]]:
    if isinstance(params, Mapping):
        out = []
        for k, v in params.items():
            if len(v) != 2:
                raise ScenarioError(f"--param {k}: give (lo, hi)")
            lo, hi = float(v[0]), float(v[1])
            if not lo < hi:
                raise ScenarioError(f"--param {k}: LO must be below HI (got {lo}:{hi})")
            out.append((str(k), lo, hi))
    else:
        out = [parse_param(p) for p in params]
    if not out:
        raise ScenarioError("give at least one --param PATH=LO:HI")
    seen: list[str] = []
    for path, _, _ in out:
        if path in seen:
            raise ScenarioError(f"--param {path} is given twice")
        if path == "seed":
            raise ScenarioError("--param seed: the seed is not a setting to analyse; use "
                                "--replicates to average over seeds")
        seen.append(path)
    return out


def resolve_params(base: Scenario, raw: list[tuple[str, float, float]]) -> list[Param]:
    """Check each path and both ends of its range through the schema; detect integers."""
    out = []
    current = base.model_dump(mode="json")
    for path, lo, hi in raw:
        try:  # a yes/no setting refuses 0 and 1 as values: say so before trying them
            is_flag = isinstance(_value_at(current, path.split(".")), bool)
        except (KeyError, IndexError, TypeError, ValueError):
            is_flag = False  # not a setting: validate_point names it below
        if is_flag:
            raise ScenarioError(f"--param {path} is a yes/no setting; compare its values with "
                                f"`scslab sweep --grid {path}=true,false`")
        ends = []
        for x in (lo, hi):
            val: float | int = int(x) if float(x).is_integer() else x
            _, canon = validate_point(base, {path: val}, "--param")
            ends.append(canon[path])
        kind = ends[0]
        if isinstance(kind, bool):
            raise ScenarioError(f"--param {path} is a yes/no setting; compare its values with "
                                f"`scslab sweep --grid {path}=true,false`")
        if not isinstance(kind, int | float):
            raise ScenarioError(f"--param {path} is not a number (it holds "
                                f"{type(kind).__name__} values)")
        integer = isinstance(kind, int) and isinstance(ends[1], int)
        if integer and (not float(lo).is_integer() or not float(hi).is_integer()):
            raise ScenarioError(f"--param {path} is an integer setting; give integer bounds")
        out.append(Param(path, lo, hi, integer))
    return out


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """One analysed outcome: a summary value or an aggregated daily column."""

    name: str
    kind: str  # "daily", "metrics", "totals" or "summary"
    column: str
    agg: str | None = None

    def value(self, summary: dict, daily: pd.DataFrame) -> float:
        """This outcome's value for one run."""
        if self.kind == "daily":
            if self.column not in daily or not len(daily):
                return math.nan
            s = daily[self.column].astype(float)
            assert self.agg is not None  # parse_outcome gives every daily outcome one
            return float(s.iloc[-1] if self.agg == "last" else getattr(s, self.agg)())
        if self.kind in ("metrics", "totals"):
            v = summary.get(self.kind, {}).get(self.column)
        else:
            v = summary.get(self.column)
        return math.nan if v is None else float(v)


def metric_columns(sc: Scenario) -> tuple[list[str], list[str]]:
    """(every daily column, the flow columns summed into ``totals``) of a scenario."""
    from scslab.params import compile_params
    from scslab.stages.metrics import registry

    p = compile_params(sc, sc.population.agents)
    reg = registry(p.behaviour_names, p.sanction_names, p.grade_names, p.group_names)
    return [m.name for m in reg], [m.name for m in reg if m.kind == "flow"]


def parse_outcome(name: str, columns: Sequence[str] | None = None,
                  flows: Sequence[str] | None = None) -> Outcome:
    """Read an outcome name; with ``columns``, check it names something a run reports."""
    name = name.strip()
    cols = list(columns) if columns is not None else None
    if ":" in name:
        col, _, agg = name.partition(":")
        if agg not in AGGREGATIONS:
            raise ScenarioError(f"--outcome {name}: unknown aggregation {agg!r}"
                                f"{did_you_mean(agg, AGGREGATIONS)}")
        if cols is not None and col not in cols:
            raise ScenarioError(f"--outcome {name}: no daily column {col!r}"
                                f"{did_you_mean(col, cols)}")
        return Outcome(name, "daily", col, agg)
    head, dot, rest = name.partition(".")
    if dot and head in ("metrics", "totals"):
        valid = cols if head == "metrics" else (list(flows) if flows is not None else None)
        if valid is not None and rest not in valid:
            what = "daily column" if head == "metrics" else "per-day count (flow) column"
            raise ScenarioError(f"--outcome {name}: no {what} {rest!r}"
                                f"{did_you_mean(rest, valid)}")
        return Outcome(name, head, rest)
    if name in SUMMARY_SCALARS:
        return Outcome(name, "summary", name)
    if cols is not None and name in cols:
        raise ScenarioError(f"--outcome {name} is a daily column; say how to aggregate it: "
                            f"{name}:last, {name}:mean, {name}:sum or {name}:max")
    if cols is None:
        raise ScenarioError(f"--outcome {name}: expected a summary key ("
                            f"{', '.join(SUMMARY_SCALARS)}, metrics.X, totals.X) or COLUMN:AGG")
    options = [*SUMMARY_SCALARS, *(f"{c}:last" for c in cols),
               *(f"totals.{c}" for c in (flows or []))]
    raise ScenarioError(f"--outcome {name}: unknown outcome{did_you_mean(name, options)}; "
                        "use a summary key (chilling_effect, totals.X, metrics.X) or a daily "
                        f"column with :{'|'.join(AGGREGATIONS)}")


# --------------------------------------------------------------------------- plan


@dataclass
class SensitivityPlan:
    """Samples drawn, runs resolved; nothing run yet."""

    method: str
    params: list[Param]
    outcomes: list[Outcome]
    n_samples: int  # N given by the user
    problem: dict
    X: np.ndarray  # raw samples, one row per model evaluation
    values: np.ndarray  # the settings used (integers rounded), same shape
    sample_point: np.ndarray  # row of X → point index in ``plan`` (duplicates share runs)
    seed: int
    replicates: int = 1
    second_order: bool = False
    levels: int = 4
    conf_level: float = 0.95
    num_resamples: int = 100
    plan: SweepPlan | None = None
    warnings: list[str] = field(default_factory=list)

    def outcome_fn(self) -> OutcomeFn:
        """(summary, daily) → the headline outcomes and the analysed ones."""
        outs = list(self.outcomes)

        def fn(summary: dict, daily: pd.DataFrame) -> dict[str, float]:
            row = key_outcomes(summary, daily)
            for o in outs:
                row[o.name] = o.value(summary, daily)
            return row

        return fn


def _draw(method: str, problem: dict, samples: int, *, seed: int, second_order: bool,
          levels: int) -> tuple[np.ndarray, list[str]]:
    from scslab.extras import require

    require("SALib")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "sobol":
            from SALib.sample import sobol as sobol_sample

            X = sobol_sample.sample(problem, samples, calc_second_order=second_order,
                                    seed=seed)
        else:
            from SALib.sample import morris as morris_sample

            X = morris_sample.sample(problem, samples, num_levels=levels, seed=seed)
    for w in caught:
        msg = " ".join(str(w.message).split())
        if msg not in notes:
            notes.append(msg)
    if method == "sobol" and samples & (samples - 1):
        notes.insert(0, f"Sobol' samples work best with N a power of 2 (got {samples}; "
                     f"try {1 << (samples - 1).bit_length()})")
        notes = [n for n in notes if "power of 2" not in n or n.startswith("Sobol' samples")]
    return np.asarray(X, dtype=float), notes


def plan_sensitivity(scenario: str | Path | Scenario | dict | None,
                     params: Mapping[str, Sequence[float]] | Sequence[str], *,
                     method: str = "sobol", samples: int = 64,
                     outcomes: Sequence[str] = (), replicates: int = 1,
                     agents: int | None = None, days: int | None = None,
                     seed: int | None = None,
                     set: list[str] | dict[str, Any] | None = None,  # noqa: A002
                     second_order: bool = False, levels: int = 4, conf_level: float = 0.95,
                     num_resamples: int = 100, integer: Sequence[str] = (),
                     sweep_id: str | None = None, check_outcomes: bool = True
                     ) -> SensitivityPlan:
    """Validate parameters and outcomes, draw the samples and resolve one run per sample.

    With ``scenario=None`` nothing is resolved (for an injected evaluation); ``integer``
    then names the integer parameters. ``check_outcomes=False`` accepts any outcome name.
    """
    method = method.strip().lower()
    if method not in METHODS:
        raise ScslabError(f"--method {method!r}: use sobol or morris"
                          f"{did_you_mean(method, METHODS)}")
    if samples < 1:
        raise ScslabError(f"--samples must be at least 1 (got {samples})")
    if method == "morris" and levels < 2:
        raise ScslabError(f"--levels must be at least 2 (got {levels})")
    if not 0 < conf_level < 1:
        raise ScslabError(f"confidence level must be between 0 and 1 (got {conf_level})")
    raw = _params_input(params)
    base: Scenario | None = None
    if scenario is not None:
        from scslab.pipeline import resolve

        base = resolve(scenario, agents=agents, days=days, seed=seed, set=set)
        fixed = ([str(k) for k in set] if isinstance(set, dict) else
                 [s.partition("=")[0].strip() for s in set] if isinstance(set, list) else [])
        for path, _, _ in raw:
            if path in fixed:
                raise ScenarioError(f"--param {path} is also fixed with --set; drop one of "
                                    "them")
        plist = resolve_params(base, raw)
    else:
        plist = [Param(p, lo, hi, p in integer) for p, lo, hi in raw]
    if base is not None and check_outcomes:
        columns, flows = metric_columns(base)
        outs = [parse_outcome(o, columns, flows) for o in outcomes]
    else:
        outs = [parse_outcome(o) if (":" in o or "." in o or o in SUMMARY_SCALARS)
                else Outcome(o, "summary", o) for o in outcomes]
    names = [o.name for o in outs]
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise ScenarioError(f"--outcome {dup} is given twice")
    root = int(seed if seed is not None else (base.seed if base is not None else 0))
    problem = {"num_vars": len(plist), "names": [p.path for p in plist],
               "bounds": [p.bounds for p in plist]}
    X, notes = _draw(method, problem, samples, seed=root, second_order=second_order,
                     levels=levels)
    values = np.array([[p.value(x) for p, x in zip(plist, row, strict=True)] for row in X],
                      dtype=float).reshape(X.shape)
    # identical settings give identical runs (same seed): run each distinct point once
    uniq: dict[tuple, int] = {}
    sample_point = np.empty(len(values), dtype=np.int64)
    points: list[dict[str, Any]] = []
    for i, row in enumerate(values):
        t = tuple(row.tolist())
        if t not in uniq:
            uniq[t] = len(points)
            points.append({p.path: p.value(v) for p, v in zip(plist, row, strict=True)})
        sample_point[i] = uniq[t]
    sp = SensitivityPlan(method=method, params=plist, outcomes=outs, n_samples=samples,
                         problem=problem, X=X, values=values, sample_point=sample_point,
                         seed=root, replicates=replicates, second_order=second_order,
                         levels=levels, conf_level=conf_level, num_resamples=num_resamples,
                         warnings=notes)
    if base is not None and len(points) < len(values):
        sp.warnings.append(f"{len(values)} samples, {len(points)} distinct settings: each "
                           "distinct setting is run once")
    if base is not None:
        chilling = any(o.name == "chilling_effect" for o in outs)
        if chilling:
            sp.warnings.append("chilling_effect runs each sample's counterfactual too (2× "
                               "cost)")
        defn = {"kind": "sensitivity", "scenario_hash": _hash(base), "method": method,
                "params": [[p.path, p.lo, p.hi] for p in plist], "samples": samples,
                "second_order": second_order if method == "sobol" else None,
                "levels": levels if method == "morris" else None,
                "replicates": replicates, "seed": root}
        sid = sweep_id or definition_id(f"{_slug(base.name)}-{method}", defn)
        sp.plan = plan_runs(base, points, replicates=replicates, seed=root,
                            kind="sensitivity", sweep_id=sid, chilling=chilling,
                            definition=defn, flag="--param")
    return sp


def _hash(sc: Scenario) -> str:
    from scslab.scenario.loader import scenario_hash

    return scenario_hash(sc)


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


# --------------------------------------------------------------------------- output


def print_sensitivity(res: SensitivityResult, console: Any) -> None:
    """Rich tables, one per outcome."""
    from rich.table import Table

    sobol = res.method == "sobol"
    pct = f"{res.conf_level:.0%}"
    for out in res.outcomes:
        sub = res.indices[res.indices["outcome"] == out]
        t = Table(title=f"{out} — {'Sobol' if sobol else 'Morris'} ({len(res.X)} evaluations, "
                        f"± {pct} interval)", box=None, min_width=72)
        t.add_column("parameter")
        cols = (["S1", "ST"] if sobol else ["mu_star", "sigma"])
        for c in cols:
            t.add_column(c, justify="right")
        for _, r in sub.iterrows():
            if sobol:
                cells = [_pm(r["S1"], r["S1_conf"]), _pm(r["ST"], r["ST_conf"])]
            else:
                cells = [_pm(r["mu_star"], r["mu_star_conf"]), _num(r["sigma"])]
            t.add_row(r["parameter"], *cells)
        console.print(t)
    for w in res.warnings:
        console.print(f"note: {w}", markup=False, highlight=False, soft_wrap=True)


def _num(v: float) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.4g}"


def _pm(v: float, c: float) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:.3f} ± {c:.3f}" if c is not None and math.isfinite(c) else f"{v:.3f}"


def _figure(res: SensitivityResult):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sobol = res.method == "sobol"
    n = max(len(res.outcomes), 1)
    fig = make_subplots(rows=n, cols=1, subplot_titles=res.outcomes, vertical_spacing=min(
        0.12, 0.6 / n))
    series = ([("S1", "S1_conf", "first order S1", "#4C78A8"),
               ("ST", "ST_conf", "total ST", "#F58518")] if sobol else
              [("mu_star", "mu_star_conf", "μ* (mean |elementary effect|)", "#4C78A8"),
               ("sigma", None, "σ (interactions / non-linearity)", "#F58518")])
    for i, out in enumerate(res.outcomes, start=1):
        sub = res.indices[res.indices["outcome"] == out]
        for col, conf, label, colour in series:
            err = (dict(type="data", array=[0 if not math.isfinite(x) else x
                                            for x in sub[conf]], visible=True)
                   if conf else None)
            fig.add_trace(go.Bar(x=list(sub["parameter"]),
                                 y=[None if not math.isfinite(v) else v for v in sub[col]],
                                 name=label, marker_color=colour, error_y=err,
                                 legendgroup=col, showlegend=i == 1), row=i, col=1)
    fig.update_layout(barmode="group", height=320 * n + 80, template="plotly_white",
                      margin=dict(l=60, r=20, t=60, b=40),
                      legend=dict(orientation="h", y=1.0 + 0.06 / n, x=0))
    return fig


def render_html(res: SensitivityResult) -> str:
    """A self-contained HTML report: bar charts with error bars, tables, notes."""
    sobol = res.method == "sobol"
    fig_html = _figure(res).to_html(full_html=False, include_plotlyjs=True,
                                    config={"displaylogo": False})
    e = html.escape
    sc = res.scenario
    what = (f"{e(sc.name)}, {sc.population.agents:,} agents × {sc.days} days"
            if sc else "injected evaluation function")
    rows = "".join(
        f"<tr><td><code>{e(p.path)}</code></td><td>{p.lo:g}</td><td>{p.hi:g}</td>"
        f"<td>{'integer' if p.integer else 'real'}</td></tr>" for p in res.params)
    fmt = {c: (lambda v: "–" if not math.isfinite(v) else f"{v:.4f}")
           for c in res.indices.columns if c not in ("outcome", "parameter")}
    table = res.indices.to_html(index=False, formatters=fmt, border=0, classes="idx")
    notes = "".join(f"<li>{e(w)}</li>" for w in res.warnings)
    meaning = ("<b>S1</b>: share of the outcome's variance due to the parameter alone; "
               "<b>ST</b>: share including all its interactions (ST − S1 large → "
               "interactions). Error bars: "
               f"{res.conf_level:.0%} bootstrap intervals." if sobol else
               "<b>μ*</b>: mean absolute elementary effect (overall influence, in outcome "
               "units per unit of the parameter's range); <b>σ</b>: their standard deviation "
               f"(non-linearity or interactions). Error bars: {res.conf_level:.0%} bootstrap "
               "intervals of μ*.")
    sweep = (f"<p>Runs: sweep <code>{e(res.sweep.sweep_id)}</code> "
             f"({len(res.sweep.plan.specs)} runs; seed {res.seed}, "
             f"{res.replicates} replicate(s) per sample, common random numbers).</p>"
             if res.sweep else "")
    title = f"Sensitivity ({'Sobol' if sobol else 'Morris'}) — {what}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
td:first-child, th:first-child, table.idx td:nth-child(2) {{ text-align: left; }}
code {{ font-size: 0.95em; }}
</style></head><body>
<h1>{title}</h1>
<p>{len(res.params)} parameter(s), {len(res.outcomes)} outcome(s), N = {res.n_samples}
({len(res.X)} evaluations). Synthetic population only.</p>
{sweep}
<h2>Parameters</h2>
<table><tr><th>path</th><th>low</th><th>high</th><th>type</th></tr>{rows}</table>
<h2>Indices</h2>
<p>{meaning}</p>
{fig_html}
{table}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
</body></html>
"""
