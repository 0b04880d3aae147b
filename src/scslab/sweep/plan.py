"""Sweep plans: grid values parsed and validated, every (point, replicate) run resolved.

Nothing runs here: a plan is checked in full (each value, each point, the reserved
paths) before the first run starts, so a bad value fails at once with one line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scslab.errors import ScenarioError, ScslabError
from scslab.rng import spawn_seeds
from scslab.scenario.loader import load_scenario, parse_set, scenario_hash
from scslab.scenario.schema import Scenario

__all__ = ["RunSpec", "SweepPlan", "check_sweep_id", "definition_id", "parse_grid",
           "plan_runs", "plan_sweep", "validate_point"]

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RESERVED = {"seed": "use --seed and --replicates; replicate seeds are derived from the root seed"}


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: its key, catalog id, grid values, seed and resolved scenario."""

    key: str
    run_id: str
    point: int
    replicate: int
    seed: int
    grid: dict[str, Any]
    scenario: Scenario
    scenario_hash: str


@dataclass
class SweepPlan:
    """A validated sweep: every run resolved, nothing run yet."""

    sweep_id: str
    kind: str  # "grid" or "sensitivity"
    scenario: Scenario
    grid: dict[str, list[Any]]
    replicates: int
    seeds: list[int]
    specs: list[RunSpec]
    chilling: bool = False
    definition: dict = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        """The number of distinct settings (runs per replicate)."""
        return len(self.specs) // max(self.replicates, 1)

    def finished_in(self, out_dir: str | Path) -> int:
        """How many runs of this plan have a complete run directory under ``out_dir``."""
        from scslab.sweep.resume import _finished_dir

        out = Path(out_dir)
        return sum(_finished_dir(out / s.key, s, self.chilling) is not None
                   for s in self.specs)



def _coerce(value: Any) -> Any:
    """YAML reads ``1e-4`` as text; read number-looking text as a number."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        s = value.strip()
        return float(s) if any(c in s for c in ".eE") else int(s)
    return value


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_grid(expr: str) -> tuple[str, list[Any]]:
    """``PATH=V1,V2,…`` → (path, values); each value is read as a YAML scalar."""
    example = "e.g. --grid sensors.cameras.false_match_rate=0.0001,0.001,0.01"
    if "=" not in expr:
        raise ScenarioError(f"--grid {expr!r}: expected PATH=V1,V2,…, {example}")
    path, _, rhs = expr.partition("=")
    path = path.strip()
    if not path or any(not p.strip() for p in path.split(".")):
        raise ScenarioError(f"--grid {expr!r}: empty path segment, {example}")
    raw = _split_values(rhs)
    if any(not r.strip() for r in raw):
        raise ScenarioError(f"--grid {expr!r}: empty value; give comma-separated values, "
                            f"{example}")
    values = []
    for r in raw:
        try:
            _, v = parse_set(f"{path}={r.strip()}")
        except ScenarioError as e:
            raise ScenarioError(str(e).replace("--set", "--grid", 1)) from None
        values.append(_coerce(v))
    return path, values


def _value_at(data: Any, parts: Sequence[str]) -> Any:
    for p in parts:
        data = data[int(p)] if isinstance(data, list) else data[p]
    return data


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "scenario"


def definition_id(prefix: str, definition: Mapping[str, Any]) -> str:
    """A short, stable id from a sweep definition (same definition → same id)."""
    blob = json.dumps(definition, sort_keys=True, separators=(",", ":"), default=str)
    return f"{prefix}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def _key_format(n_points: int, replicates: int) -> Callable[[int, int], str]:
    wp = max(3, len(str(max(n_points - 1, 0))))
    wr = max(2, len(str(max(replicates - 1, 0))))
    return lambda p, r: f"p{p:0{wp}d}-r{r:0{wr}d}"


def check_sweep_id(sweep_id: str) -> str:
    """``sweep_id`` if it is safe as a folder name and a catalog id, else ScslabError."""
    if not _SAFE_ID.match(sweep_id):
        raise ScslabError(f"--sweep-id {sweep_id!r}: use letters, digits, '.', '_' and '-' "
                          "(at most 128 characters, starting with a letter or digit)")
    return sweep_id


def _point_error(assign: Mapping[str, Any], e: ScenarioError, flag: str) -> ScenarioError:
    msg = str(e)
    if msg.startswith("--set "):
        return ScenarioError(f"{flag} {msg[len('--set '):]}")
    where = ", ".join(f"{k}={json.dumps(v)}" for k, v in assign.items())
    return ScenarioError(f"{flag} {where}: {msg}")


def validate_point(base: Scenario, assign: Mapping[str, Any], flag: str = "--grid"
                   ) -> tuple[Scenario, dict[str, Any]]:
    """The scenario with ``assign`` applied, and the values as the schema stores them."""
    try:
        sc = load_scenario(base, dict(assign))
    except ScenarioError as e:
        raise _point_error(assign, e, flag) from None
    data = sc.model_dump(mode="json")
    canon = {k: _value_at(data, k.split(".")) for k in assign}
    return sc, canon


def plan_runs(base: Scenario, points: Sequence[Mapping[str, Any]], *, replicates: int = 1,
              seed: int | None = None, kind: str = "grid", sweep_id: str | None = None,
              chilling: bool = False, definition: Mapping[str, Any] | None = None,
              grid: Mapping[str, list[Any]] | None = None, flag: str = "--grid"
              ) -> SweepPlan:
    """Resolve every (point, replicate) run; raise ScenarioError before anything runs.

    Args:
        base: the resolved scenario the points modify.
        points: one {path: value} mapping per point.
        replicates: runs per point; replicate ``r`` uses seed ``spawn_seeds(seed, K)[r]``.
        seed: the root seed (default: the scenario's).
        kind: what made the points (``grid`` or ``sensitivity``), kept in the manifest.
        sweep_id: the sweep's id (default: a hash of the definition).
        chilling: also run each run's counterfactual; part of the definition, so it
            changes the sweep id.
        definition: what identifies the sweep (hashed into its id unless ``sweep_id``).
        grid: the {path: [values]} grid of the points (default: the values they hold).
        flag: the command-line option the points came from, named in error messages.
    """
    if replicates < 1:
        raise ScslabError(f"--replicates must be at least 1 (got {replicates})")
    for pt in points:
        for path in pt:
            if path in _RESERVED:
                raise ScenarioError(f"{flag} {path}: {_RESERVED[path]}")
    root = int(base.seed if seed is None else seed)
    seeds = spawn_seeds(root, replicates)
    fmt = _key_format(len(points), replicates)
    resolved = [validate_point(base, pt, flag) for pt in points]
    if definition is None:
        defn: dict[str, Any] = {"kind": kind, "scenario_hash": scenario_hash(base),
                                "points": [c for _, c in resolved], "replicates": replicates,
                                "seed": root}
    else:
        defn = dict(definition)
    if chilling:
        defn["chilling"] = True
    sid = check_sweep_id(sweep_id) if sweep_id else definition_id(_slug(base.name), defn)
    specs = []
    for p, (sc_p, canon) in enumerate(resolved):
        for r, sd in enumerate(seeds):
            sc_r = sc_p.model_copy(update={"seed": sd})
            key = fmt(p, r)
            specs.append(RunSpec(key=key, run_id=f"{sid}-{key}", point=p, replicate=r, seed=sd,
                                 grid=canon, scenario=sc_r, scenario_hash=scenario_hash(sc_r)))
    if grid is None:
        grid = {}
        for _, canon in resolved:
            for k, v in canon.items():
                grid.setdefault(k, [])
                if v not in grid[k]:
                    grid[k].append(v)
    return SweepPlan(sweep_id=sid, kind=kind, scenario=base, grid=dict(grid),
                     replicates=replicates, seeds=seeds, specs=specs, chilling=chilling,
                     definition=defn)


def plan_sweep(scenario: str | Path | Scenario | dict, grid: Mapping[str, Sequence[Any]]
               | Sequence[str] | None = None, *, replicates: int = 1, agents: int | None = None,
               days: int | None = None, seed: int | None = None,
               set: list[str] | dict[str, Any] | None = None,  # noqa: A002
               sweep_id: str | None = None, chilling: bool = False) -> SweepPlan:
    """Validate a grid sweep (Cartesian product × replicates) without running it.

    ``grid`` maps scenario paths to value lists, or is a list of ``PATH=V1,V2`` strings.
    """
    from scslab.pipeline import resolve

    base = resolve(scenario, agents=agents, days=days, seed=seed, set=set)
    items: list[tuple[str, list[Any]]] = []
    if grid is None:
        grid = {}
    if isinstance(grid, Mapping):
        for k, vals in grid.items():
            vals = [vals] if isinstance(vals, str) or not isinstance(vals, Sequence) else vals
            items.append((str(k), [_coerce(v) for v in vals]))
    else:
        items = [parse_grid(g) for g in grid]
    seen: list[str] = []
    set_paths: list[str] = []
    if isinstance(set, dict):
        set_paths = [str(k) for k in set]
    elif isinstance(set, list):
        set_paths = [s.partition("=")[0].strip() for s in set]
    for path, vals in items:
        if path in seen:
            raise ScenarioError(f"--grid {path} is given twice; list all its values in one "
                                f"--grid {path}=V1,V2,…")
        seen.append(path)
        if path in set_paths:
            raise ScenarioError(f"--grid {path} is also fixed with --set; drop one of them")
        if not vals:
            raise ScenarioError(f"--grid {path}: no values")
        dumped = [json.dumps(v, sort_keys=True) for v in vals]
        dup = next((v for i, v in enumerate(dumped) if v in dumped[:i]), None)
        if dup is not None:
            raise ScenarioError(f"--grid {path}: value {dup} is listed twice")
        if path in _RESERVED:
            raise ScenarioError(f"--grid {path}: {_RESERVED[path]}")
    # each value alone first, so an error names the one value that is wrong
    canon_grid: dict[str, list[Any]] = {}
    for path, vals in items:
        canon_grid[path] = [validate_point(base, {path: v})[1][path] for v in vals]
        dumped = [json.dumps(v, sort_keys=True) for v in canon_grid[path]]
        dup_at = next((i for i, v in enumerate(dumped) if v in dumped[:i]), None)
        if dup_at is not None:
            first = dumped.index(dumped[dup_at])
            raise ScenarioError(f"--grid {path}: {json.dumps(vals[first])} and "
                                f"{json.dumps(vals[dup_at])} are the same setting "
                                f"({dumped[dup_at]}); list each value once")
    points = [dict(zip(canon_grid, combo, strict=True))
              for combo in itertools.product(*canon_grid.values())] or [{}]
    defn = {"kind": "grid", "scenario_hash": scenario_hash(base),
            "grid": [[k, v] for k, v in canon_grid.items()], "replicates": replicates,
            "seed": int(base.seed)}
    return plan_runs(base, points, replicates=replicates, seed=base.seed, kind="grid",
                     sweep_id=sweep_id, chilling=chilling, definition=defn, grid=canon_grid)
