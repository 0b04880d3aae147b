"""Parameter sweeps: grid values × replicates, run in-process or on a Dask cluster.

A sweep is the Cartesian product of the values given for some scenario paths,
each point run ``replicates`` times. Replicate ``r`` of every point uses the
same seed (``spawn_seeds(root_seed, replicates)[r]``): common random numbers,
so a difference between points measures the setting, not the noise.

The runs go to Dask workers as plain scenario mappings and come back as
(summary, daily table); the client alone writes the run directories and the
catalog. A sweep's id is a hash of its definition, so re-running the same
command resumes an interrupted sweep: runs whose directory (or catalog row) is
complete for the same resolved scenario are skipped.

>>> res = sweep("national", {"sensors.cameras.false_match_rate": [1e-4, 1e-3]},
...             replicates=2, agents=2_000, days=20)        # doctest: +SKIP
>>> res.by_point(["misattributed_total"])                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import ScenarioError, ScslabError
from scslab.rng import spawn_seeds
from scslab.scenario.loader import load_scenario, parse_set, scenario_hash, validate_raw
from scslab.scenario.schema import Scenario

__all__ = ["RunSpec", "SweepPlan", "SweepResult", "dashboard_link", "dask_client", "key_outcomes",
           "parse_grid", "plan_runs", "plan_sweep", "run_plan", "run_scenario_data", "sweep"]

ProgressFn = Callable[[int, int, str], None]
OutcomeFn = Callable[[dict, pd.DataFrame], dict[str, float]]

MANIFEST_FILE = "sweep.json"
TABLE_FILE = "sweep.parquet"
TABLE_CSV = "sweep.csv"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SCHEDULER_TIMEOUT = "20s"  # how long to try to reach a --scheduler
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
        out = Path(out_dir)
        return sum(_finished_dir(out / s.key, s, self.chilling) is not None
                   for s in self.specs)


@dataclass
class SweepResult:
    """What a sweep did: one row per run in ``table``, and where it wrote things."""

    plan: SweepPlan
    table: pd.DataFrame
    ran: list[str]
    skipped: list[str]
    failed: dict[str, str]
    out_dir: Path | None
    db: Path | None
    elapsed_seconds: float
    daily: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def sweep_id(self) -> str:
        """The id of the sweep, as in the catalog and the manifest."""
        return self.plan.sweep_id

    @property
    def completed(self) -> bool:
        """True when every run of the sweep has finished."""
        return not self.failed and len(self.ran) + len(self.skipped) == len(self.plan.specs)

    def run_dir(self, key: str) -> Path:
        """The run directory of run ``key``."""
        if self.out_dir is None:
            raise ScslabError("this sweep wrote no run directories (pass out=…)")
        return self.out_dir / key

    def load_daily(self, key: str) -> pd.DataFrame:
        """The daily table of run ``key`` (kept in memory, else read from its directory)."""
        if key in self.daily:
            return self.daily[key]
        from scslab.results import read_daily

        return read_daily(self.run_dir(key))

    def by_point(self, outcomes: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean and standard deviation of each outcome over replicates, per grid point."""
        keys = list(self.plan.grid) or ["point"]
        skip = {"key", "run_id", "point", "replicate", "seed", "status", *self.plan.grid}
        cols = list(outcomes) if outcomes else [
            c for c in self.table.columns if c not in skip
            and pd.api.types.is_numeric_dtype(self.table[c])]
        t = self.table.copy()
        for k in keys:  # group on a hashable, order-preserving form
            t[k] = t[k].map(lambda v: json.dumps(v) if isinstance(v, list | dict) else v)
        g = t.groupby(keys, sort=False, dropna=False)[cols]
        mean = g.mean().add_suffix("_mean")
        std = g.std(ddof=1).add_suffix("_std")
        out = pd.concat([mean, std], axis=1)
        order = [c for col in cols for c in (f"{col}_mean", f"{col}_std")]
        return out[order].reset_index()


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


# --------------------------------------------------------------------------- one run


def run_scenario_data(data: dict, run_id: str, threads: int | None = None,
                      chilling: bool = False) -> tuple[dict, pd.DataFrame]:
    """Run one resolved scenario given as a JSON-ready mapping; return (summary, daily).

    This is what a Dask worker executes: small in, small out (no event log).
    """
    from scslab.pipeline import chilling_counterfactual, chilling_summary, simulate, summarise
    from scslab.results import clean_json, daily_frame

    sc = validate_raw(data, str(data.get("name", "scenario")))
    sim, elapsed, completed = simulate(sc, threads=threads)
    daily = daily_frame(sim.rows, [m.name for m in sim.metric_registry()])
    extra: dict = {}
    if chilling:
        cf, _, _ = simulate(chilling_counterfactual(sc), threads=threads)
        extra.update(chilling_summary(sc, sim, cf))
    summary = summarise(sim, elapsed, completed, run_id, daily, extra)
    return clean_json(summary), daily


def _worker_version() -> str:
    import scslab

    return scslab.__version__


def key_outcomes(summary: dict, daily: pd.DataFrame) -> dict[str, float]:
    """The headline outcomes of one run (one row of ``sweep.parquet``)."""
    nan = math.nan

    def last(c: str) -> float:
        return float(daily[c].iloc[-1]) if c in daily and len(daily) else nan

    def total(c: str) -> float:
        return float(daily[c].sum()) if c in daily else nan

    den = [c for c in daily.columns if c.startswith("denied_") and c != "denied_wrongful"]
    out = {
        "listed_end": last("listed"),
        "wrongful_listed_end": last("wrongful_listed"),
        "wrongful_listed_mean": float(daily["wrongful_listed"].mean())
        if "wrongful_listed" in daily and len(daily) else nan,
        "collateral_sanctioned_end": last("collateral_sanctioned"),
        "sanctioned_end": last("sanctioned"),
        "mean_score_end": last("mean_score"),
        "misattributed_total": total("misattributed_events"),
        "denials_total": float(daily[den].to_numpy().sum()) if den else nan,
        "denied_wrongful_total": total("denied_wrongful"),
        "collateral_denials_total": total("collateral_denials"),
        "appeals_succeeded_total": total("appeals_succeeded"),
        "disparate_impact_end": last("disparate_impact"),
    }
    if summary.get("chilling_effect") is not None:
        out["chilling_effect"] = float(summary["chilling_effect"])
    out["elapsed_seconds"] = float(summary.get("elapsed_seconds") or nan)
    return out


# --------------------------------------------------------------------------- Dask


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                threads_per_worker: int = 1) -> Iterator[Any]:
    """A ``distributed.Client``: a new LocalCluster of ``workers`` processes, or ``scheduler``.

    Yields None when neither is given (run in-process).
    """
    if workers is not None and scheduler is not None:
        raise ScslabError("give either --workers (a local cluster) or --scheduler (a running "
                          "one), not both")
    if workers is None and scheduler is None:
        yield None
        return
    from scslab.extras import require

    require("distributed")
    from distributed import Client, LocalCluster
    if workers is not None:
        if workers < 1:
            raise ScslabError(f"--workers must be at least 1 (got {workers})")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        try:
            client = Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            # a busy machine makes workers slow to exit; the nanny's "killing" line is noise
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)
        return
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ScslabError(f"cannot reach the Dask scheduler at {scheduler} ({msg}); start one "
                          "with `dask scheduler` and pass the address it prints") from None
    try:
        yield client
    finally:
        client.close()


def check_workers(client: Any) -> int:
    """Number of worker threads now; raise if a worker runs another scslab version."""
    import scslab

    try:
        versions = client.run(_worker_version)
    except Exception as e:  # noqa: BLE001 - a worker without scslab
        raise ScslabError(f"a Dask worker cannot import scslab ({type(e).__name__}: {e}); "
                          "install the same scslab on every worker") from None
    bad = {w: v for w, v in versions.items() if v != scslab.__version__}
    if bad:
        w, v = next(iter(bad.items()))
        raise ScslabError(f"Dask worker {w} runs scslab {v}, this client {scslab.__version__}; "
                          "install the same version everywhere")
    return _cluster_threads(client)


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard's address, when the scheduler serves one."""
    try:
        if "dashboard" in client.scheduler_info().get("services", {}):
            return str(client.dashboard_link)
    except Exception:  # noqa: BLE001 - informational only
        pass
    return None


def _cluster_threads(client: Any) -> int:
    try:
        info = client.scheduler_info()
        return int(sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
    except Exception:  # noqa: BLE001 - only used to size the submission window
        return 0


# --------------------------------------------------------------------------- resume


def _finished_dir(run_dir: Path, spec: RunSpec, chilling: bool
                  ) -> tuple[dict, pd.DataFrame] | None:
    """(summary, daily) of a complete run directory for this very run, else None."""
    from scslab.results import DAILY_FILE, SUMMARY_FILE, read_daily, read_summary

    if not (run_dir / SUMMARY_FILE).is_file() or not (run_dir / DAILY_FILE).is_file():
        return None
    try:
        summary = read_summary(run_dir)
        if not summary.get("completed"):
            return None
        if summary.get("provenance", {}).get("scenario_hash") != spec.scenario_hash:
            return None
        if chilling and summary.get("chilling_effect") is None:
            return None
        daily = read_daily(run_dir)
    except ScslabError:
        return None
    if len(daily) != spec.scenario.days:
        return None
    return summary, daily


def _catalog_state(db: Path | None, sweep_id: str) -> dict[str, tuple[str | None, bool]]:
    """run_id → (scenario hash, completed) for the runs of this sweep in the catalog."""
    if db is None or not Path(db).is_file():
        return {}
    import duckdb

    from scslab.catalog import connect

    try:
        con = connect(db, read_only=True, timeout=10.0)
    except ScslabError:
        return {}
    try:
        rows = con.execute(
            "SELECT r.run_id, r.scenario_hash, r.completed FROM sweep_runs s "
            "JOIN runs r ON r.run_id = s.run_id WHERE s.sweep_id = ?", [sweep_id]).fetchall()
    except duckdb.Error:
        rows = []
    finally:
        con.close()
    return {r[0]: (r[1], bool(r[2])) for r in rows}


def _from_catalog(db: Path, spec: RunSpec, chilling: bool) -> tuple[dict, pd.DataFrame] | None:
    import duckdb

    from scslab.catalog import connect

    try:
        con = connect(db, read_only=True, timeout=10.0)
    except ScslabError:
        return None
    try:
        row = con.execute("SELECT summary FROM runs WHERE run_id = ?", [spec.run_id]).fetchone()
        if row is None:
            return None
        summary = json.loads(row[0])
        if chilling and summary.get("chilling_effect") is None:
            return None
        daily = con.execute('SELECT * FROM daily WHERE run_id = ? ORDER BY "day"',
                            [spec.run_id]).fetchdf()
    except (duckdb.Error, json.JSONDecodeError):
        return None
    finally:
        con.close()
    cols = [c for c in summary.get("metrics", {}) if c in daily.columns]
    daily = daily[cols].reset_index(drop=True) if cols else daily.drop(columns=["run_id"])
    if "day" in daily:
        daily["day"] = daily["day"].astype("int32")
    if len(daily) != spec.scenario.days:
        return None
    return summary, daily


# --------------------------------------------------------------------------- running


def _write_manifest(out_dir: Path, plan: SweepPlan) -> None:
    from scslab.fileio import atomic_write_json, atomic_write_text
    from scslab.results import clean_json
    from scslab.scenario.loader import scenario_to_yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "scenario.yaml", scenario_to_yaml(plan.scenario))
    manifest = {
        "sweep_id": plan.sweep_id,
        "kind": plan.kind,
        "scenario": plan.scenario.name,
        "scenario_hash": scenario_hash(plan.scenario),
        "grid": plan.grid,
        "replicates": plan.replicates,
        "seeds": plan.seeds,
        "chilling": plan.chilling,
        "definition": {k: v for k, v in plan.definition.items() if k != "points"},
        "runs": [{"key": s.key, "run_id": s.run_id, "point": s.point, "replicate": s.replicate,
                  "seed": s.seed, "grid": s.grid, "scenario_hash": s.scenario_hash}
                 for s in plan.specs],
    }
    atomic_write_json(out_dir / MANIFEST_FILE, clean_json(manifest))


def _check_other_sweep(out_dir: Path, plan: SweepPlan, say: Callable[[str], None]) -> None:
    try:
        prev = json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(prev, dict) and prev.get("sweep_id") not in (None, plan.sweep_id):
        say(f"note: {out_dir} held sweep {prev['sweep_id']}; runs that differ from sweep "
            f"{plan.sweep_id} are run again and their directories replaced")


def _sweep_meta(plan: SweepPlan, spec: RunSpec) -> dict:
    return {"sweep_id": plan.sweep_id, "replicate": spec.replicate, "seed": spec.seed,
            "grid": spec.grid}


def _row(plan: SweepPlan, spec: RunSpec, status: str, summary: dict | None,
         daily: pd.DataFrame | None, outcome_fn: OutcomeFn) -> dict:
    row: dict[str, Any] = {"key": spec.key, "run_id": spec.run_id, "point": spec.point,
                           "replicate": spec.replicate, "seed": spec.seed}
    row.update(spec.grid)
    row["status"] = status
    if summary is not None and daily is not None:
        row.update(outcome_fn(summary, daily))
    return row


def _table_for_disk(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for c in out.columns:
        if out[c].dtype == object:
            kinds = {type(v) for v in out[c] if v is not None}
            if len(kinds) > 1 or kinds & {list, dict}:
                out[c] = out[c].map(lambda v: v if isinstance(v, str) else json.dumps(v))
    return out


def write_table(out_dir: Path, table: pd.DataFrame) -> None:
    """``sweep.parquet`` and ``sweep.csv``: one row per run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scslab.fileio import atomic_write, atomic_write_text

    df = _table_for_disk(table)
    tab = pa.Table.from_pandas(df, preserve_index=False)
    atomic_write(out_dir / TABLE_FILE, lambda p: pq.write_table(tab, p))
    atomic_write_text(out_dir / TABLE_CSV, df.to_csv(index=False))


def run_plan(plan: SweepPlan, *, out: str | Path | None = None, db: str | Path | None = None,
             client: Any = None, threads: int | None = None, progress: ProgressFn | None = None,
             outcome_fn: OutcomeFn | None = None, keep_daily: bool = True,
             log: Callable[[str], None] | None = None) -> SweepResult:
    """Run the unfinished runs of a plan, in-process or on a Dask ``client``.

    Args:
        plan: the resolved runs (``plan_runs`` or ``plan_sweep``).
        out: sweep directory; run ``key`` is written to ``out/key`` and finished runs found
            there are skipped (resume).
        db: DuckDB catalog; every run is recorded under the sweep id.
        client: a ``distributed.Client``; runs are submitted and collected as they finish.
        threads: Numba threads per run (default: all in-process, 1 on Dask workers).
        progress: called as (done, total, label) after each run, skipped ones included.
        outcome_fn: (summary, daily) → outcomes for the table (default ``key_outcomes``).
        keep_daily: keep every daily table in ``SweepResult.daily``.
        log: called with one line per notable event (runs skipped, catalog back-filled).
    """
    from scslab.catalog import record_run
    from scslab.results import write_run_dir

    t0 = time.perf_counter()
    outcome_fn = outcome_fn or key_outcomes
    out_dir = Path(out) if out is not None else None
    dbp = Path(db) if db is not None else None
    say = log or (lambda _msg: None)
    total = len(plan.specs)
    rows: dict[str, dict] = {}
    daily_kept: dict[str, pd.DataFrame] = {}
    ran: list[str] = []
    skipped: list[str] = []
    failed: dict[str, str] = {}
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, label)

    def finish(spec: RunSpec, summary: dict, daily: pd.DataFrame, status: str,
               write_dir: bool, write_db: bool) -> None:
        run_dir = out_dir / spec.key if out_dir is not None else None
        if write_dir and run_dir is not None:
            write_run_dir(run_dir, spec.scenario, daily, summary)
        if write_db and dbp is not None:
            record_run(dbp, spec.run_id, run_dir, spec.scenario.name, summary, daily,
                       sweep=_sweep_meta(plan, spec))
        rows[spec.key] = _row(plan, spec, status, summary, daily, outcome_fn)
        if keep_daily:
            daily_kept[spec.key] = daily

    if out_dir is not None:
        _check_other_sweep(out_dir, plan, say)
        _write_manifest(out_dir, plan)
    cat = _catalog_state(dbp, plan.sweep_id)
    todo: list[RunSpec] = []
    backfilled = restored = 0
    for spec in plan.specs:
        found = _finished_dir(out_dir / spec.key, spec, plan.chilling) if out_dir else None
        in_cat = cat.get(spec.run_id)
        cat_ok = in_cat is not None and in_cat[1] and in_cat[0] == spec.scenario_hash
        if found is None and cat_ok and dbp is not None:
            found = _from_catalog(dbp, spec, plan.chilling)
            if found is not None and out_dir is not None:
                restored += 1
                finish(spec, found[0], found[1], "skipped", write_dir=True, write_db=False)
                skipped.append(spec.key)
                tick(f"{spec.key} (finished before)")
                continue
        if found is None:
            todo.append(spec)
            continue
        if not cat_ok and dbp is not None:
            backfilled += 1
        finish(spec, found[0], found[1], "skipped", write_dir=False,
               write_db=not cat_ok and dbp is not None)
        skipped.append(spec.key)
        tick(f"{spec.key} (finished before)")
    if skipped:
        say(f"skipped {len(skipped)} finished run(s) of sweep {plan.sweep_id}; "
            f"{len(todo)} to run")
    if backfilled:
        say(f"recorded {backfilled} finished run(s) that were missing from the catalog")
    if restored:
        say(f"rewrote {restored} run directory(ies) from the catalog")

    def handle(spec: RunSpec, summary: dict, daily: pd.DataFrame) -> None:
        summary = dict(summary)
        summary["run_id"] = spec.run_id
        summary["sweep"] = {"sweep_id": plan.sweep_id, "key": spec.key, "point": spec.point,
                            "replicate": spec.replicate, "grid": spec.grid}
        finish(spec, summary, daily, "ran", write_dir=True, write_db=True)
        ran.append(spec.key)
        tick(spec.key)

    if client is None:
        for spec in todo:
            try:
                summary, daily = run_scenario_data(spec.scenario.model_dump(mode="json"),
                                                   spec.run_id, threads, plan.chilling)
            except ScslabError as e:
                failed[spec.key] = str(e)
                tick(f"{spec.key} (failed)")
                continue
            handle(spec, summary, daily)
    elif todo:
        _run_on_dask(client, plan, todo, threads, handle, failed, tick)

    table = pd.DataFrame([rows[s.key] if s.key in rows else
                          _row(plan, s, "failed" if s.key in failed else "not run", None, None,
                               outcome_fn) for s in plan.specs])
    if out_dir is not None:
        write_table(out_dir, table)
    if failed:
        say(f"{len(failed)} run(s) failed; re-run the same command to retry them")
    return SweepResult(plan=plan, table=table, ran=ran, skipped=skipped, failed=failed,
                       out_dir=out_dir, db=dbp, elapsed_seconds=time.perf_counter() - t0,
                       daily=daily_kept)


def _run_on_dask(client: Any, plan: SweepPlan, todo: list[RunSpec], threads: int | None,
                 handle: Callable[[RunSpec, dict, pd.DataFrame], None],
                 failed: dict[str, str], tick: Callable[[str], None]) -> None:
    """Submit runs in a bounded window and handle them in the order they finish."""
    from distributed import as_completed

    check_workers(client)
    wthreads = 1 if threads is None else threads
    pending = iter(todo)
    inflight: dict[str, RunSpec] = {}
    ac = as_completed()

    def submit_next() -> bool:
        spec = next(pending, None)
        if spec is None:
            return False
        fut = client.submit(run_scenario_data, spec.scenario.model_dump(mode="json"),
                            spec.run_id, wthreads, plan.chilling,
                            key=f"scslab-{spec.run_id}-{spec.scenario_hash}", pure=False,
                            retries=1)
        inflight[fut.key] = spec
        ac.add(fut)
        return True

    def window() -> int:
        return max(16, 2 * _cluster_threads(client))

    for _ in range(window()):
        if not submit_next():
            break
    try:
        for fut in ac:
            spec = inflight.pop(fut.key)
            try:
                summary, daily = fut.result()
            except ScslabError as e:
                failed[spec.key] = str(e)
                tick(f"{spec.key} (failed)")
            except Exception as e:  # noqa: BLE001 - a crashed worker or a bug in one run
                failed[spec.key] = f"{type(e).__name__}: {e}"
                tick(f"{spec.key} (failed)")
            else:
                handle(spec, summary, daily)
            finally:
                fut.release()
            while len(inflight) < window() and submit_next():
                pass
    finally:
        if inflight:
            client.cancel(list(ac.futures))


def sweep(scenario: str | Path | Scenario | dict, grid: Mapping[str, Sequence[Any]]
          | Sequence[str] | None = None, *, replicates: int = 1, agents: int | None = None,
          days: int | None = None, seed: int | None = None,
          set: list[str] | dict[str, Any] | None = None,  # noqa: A002
          out: str | Path | None = None, db: str | Path | None = None,
          sweep_id: str | None = None, client: Any = None, workers: int | None = None,
          scheduler: str | None = None, threads: int | None = None, chilling: bool = False,
          progress: ProgressFn | None = None, keep_daily: bool = True,
          log: Callable[[str], None] | None = None) -> SweepResult:
    """Run the Cartesian product of ``grid`` × ``replicates`` and collect the outcomes.

    Args:
        scenario: preset name, YAML path, mapping or Scenario.
        grid: {path: [values]} or ``["path=v1,v2", …]``; every point is validated first.
        replicates: runs per point, on seeds ``spawn_seeds(seed, replicates)`` shared by
            all points (common random numbers).
        agents: as for ``scslab.run``.
        days: as for ``scslab.run``.
        seed: as for ``scslab.run``; the root of the replicate seeds.
        set: as for ``scslab.run``.
        out: sweep directory (one run directory per run, ``sweep.parquet``); reusing it
            resumes the sweep.
        db: DuckDB catalog to record every run in (tables runs, daily, sweep_runs).
        sweep_id: default: a hash of the sweep definition.
        client: a Dask client to run on.
        workers: without ``client``: start a LocalCluster of this many processes.
        scheduler: without ``client``: the address of a running Dask scheduler. With
            none of ``client``, ``workers`` and ``scheduler`` the runs are in-process.
        threads: as for ``run_plan``.
        chilling: also run each run's counterfactual and add ``chilling_effect`` (2× cost).
        progress: as for ``run_plan``.
        keep_daily: as for ``run_plan``.
        log: as for ``run_plan``.
    """
    plan = plan_sweep(scenario, grid, replicates=replicates, agents=agents, days=days,
                      seed=seed, set=set, sweep_id=sweep_id, chilling=chilling)
    if client is not None:
        return run_plan(plan, out=out, db=db, client=client, threads=threads,
                        progress=progress, keep_daily=keep_daily, log=log)
    with dask_client(workers, scheduler) as c:
        return run_plan(plan, out=out, db=db, client=c, threads=threads, progress=progress,
                        keep_daily=keep_daily, log=log)
