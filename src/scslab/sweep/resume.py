"""Resuming a sweep: which runs are finished, in their directory or in the catalog."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from scslab.errors import ScslabError
from scslab.scenario.loader import scenario_hash

if TYPE_CHECKING:
    from scslab.sweep.plan import RunSpec, SweepPlan

MANIFEST_FILE = "sweep.json"


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
    if "date" in daily and pd.api.types.is_datetime64_any_dtype(daily["date"]):
        daily["date"] = daily["date"].dt.date  # DuckDB's DATE back to what a run writes
    if len(daily) != spec.scenario.days:
        return None
    return summary, daily


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
