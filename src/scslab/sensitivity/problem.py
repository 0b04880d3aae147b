"""Sensitivity analysis, the problem: parameters, outcomes, SALib samples, the runs.

``plan_sensitivity`` checks every parameter and outcome against the scenario, draws the
samples (SALib) and resolves one sweep run per distinct sample; nothing runs here.
An outcome is a key of the outcomes registry (``disparate_impact``), a summary key
(``chilling_effect``, ``totals.X``, ``metrics.X``) or a daily column with an
aggregation (``wrongful_listed:mean``).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab import outcomes as registry
from scslab.errors import ScenarioError, ScslabError
from scslab.scenario.refs import did_you_mean
from scslab.scenario.schema import Scenario
from scslab.sweep.plan import SweepPlan, _slug, _value_at, definition_id, plan_runs, validate_point
from scslab.sweep.table import OutcomeFn, key_outcomes

__all__ = ["Outcome", "Param", "SensitivityPlan", "metric_columns", "parse_outcome",
           "parse_param", "plan_sensitivity", "resolve_params"]

METHODS = ("sobol", "morris")
AGGREGATIONS = ("last", "mean", "sum", "max", "min")
#: Summary keys that are outcomes: the registry's (the chilling effect), and run costs.
SUMMARY_SCALARS = (*(o.columns[0] for o in registry.OUTCOMES if o.how == "summary"),
                   "elapsed_seconds", "build_seconds", "agent_days_per_second",
                   "peak_memory_bytes")
#: Keys of the outcomes registry that name an outcome on their own.
REGISTRY_KEYS = tuple(o.key for o in registry.OUTCOMES
                      if o.key not in SUMMARY_SCALARS and not o.per_group)
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
    """One analysed outcome: a registry outcome, a summary value or an aggregated column."""

    name: str
    kind: str  # "registry", "daily", "metrics", "totals" or "summary"
    column: str
    agg: str | None = None

    def value(self, summary: dict, daily: pd.DataFrame) -> float:
        """This outcome's value for one run."""
        if self.kind == "registry":
            return registry.get(self.column).value(daily, summary)
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
    if name in REGISTRY_KEYS:
        return Outcome(name, "registry", name)
    prefix, _, group = name.partition("__")
    if group and f"{prefix}__*" in registry.BY_KEY:  # a fairness ratio of one group
        return Outcome(name, "registry", name)
    if cols is not None and name in cols:
        raise ScenarioError(f"--outcome {name} is a daily column; say how to aggregate it: "
                            f"{name}:last, {name}:mean, {name}:sum or {name}:max")
    if cols is None:
        raise ScenarioError(f"--outcome {name}: expected an outcome ({', '.join(REGISTRY_KEYS)}"
                            f"), a summary key ({', '.join(SUMMARY_SCALARS)}, metrics.X, "
                            "totals.X) or COLUMN:AGG")
    options = [*REGISTRY_KEYS, *SUMMARY_SCALARS, *(f"{c}:last" for c in cols),
               *(f"totals.{c}" for c in (flows or []))]
    raise ScenarioError(f"--outcome {name}: unknown outcome{did_you_mean(name, options)}; "
                        "use an outcome (listed_end, disparate_impact, …), a summary key "
                        "(chilling_effect, totals.X, metrics.X) or a daily column with "
                        f":{'|'.join(AGGREGATIONS)}")


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
