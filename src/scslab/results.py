"""Run directories: what a run writes, and how to read it back (DESIGN.md §6).

A run directory holds ``scenario.yaml`` (resolved; re-running it reproduces the
run), ``daily.parquet`` (one row per day), ``summary.json`` and, when enabled,
``events.parquet`` (the audit trail) and ``agents.parquet`` (final state).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scslab.errors import RunDirError
from scslab.fileio import atomic_write, atomic_write_json, atomic_write_text
from scslab.scenario.loader import load_scenario, scenario_to_yaml
from scslab.scenario.schema import Scenario

SCENARIO_FILE = "scenario.yaml"
DAILY_FILE = "daily.parquet"
SUMMARY_FILE = "summary.json"
EVENTS_FILE = "events.parquet"
AGENTS_FILE = "agents.parquet"


def clean_json(value):
    """NaN and infinities become null; NumPy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return value


def daily_frame(rows: list[dict], columns: list[str], start_date: str | None = None
                ) -> pd.DataFrame:
    """The daily table; with a ``start_date`` a ``date`` column follows ``day``."""
    df = pd.DataFrame(rows, columns=columns)
    if df.empty:
        return df
    df["day"] = df["day"].astype("int32")
    if start_date is not None:
        start = pd.Timestamp(start_date)
        df.insert(1, "date", (start + pd.to_timedelta(df["day"] - 1, unit="D")).dt.date)
    return df


@dataclass
class Result:
    """The outcome of one run: its daily table, summary and (optionally) directory."""

    scenario: Scenario
    daily: pd.DataFrame
    summary: dict
    run_dir: Path | None = None
    run_id: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return bool(self.summary.get("completed"))

    def events(self) -> pd.DataFrame:
        """The event log as a DataFrame (needs a run directory with events.parquet)."""
        if self.run_dir is None or not (self.run_dir / EVENTS_FILE).exists():
            raise RunDirError("this run has no event log (run with an output directory and "
                              "output.event_log.enabled: true)")
        return pq.read_table(self.run_dir / EVENTS_FILE).to_pandas()

    def __repr__(self) -> str:
        m = self.summary.get("metrics", {})
        return (f"Result({self.scenario.name!r}, agents={self.summary.get('agents')}, "
                f"days={len(self.daily)}, mean_score={m.get('mean_score')}, "
                f"listed={m.get('listed')}, run_dir={str(self.run_dir) if self.run_dir else None})")


def write_daily(path: Path, df: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    atomic_write(path, lambda p: pq.write_table(table, p))


def write_run_dir(run_dir: Path, scenario: Scenario, daily: pd.DataFrame, summary: dict,
                  events: pa.Table | None = None, agents: pa.Table | None = None) -> None:
    """Write every file of a run directory atomically (scenario first, summary last)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / SCENARIO_FILE, scenario_to_yaml(scenario))
    write_daily(run_dir / DAILY_FILE, daily)
    if events is not None:
        atomic_write(run_dir / EVENTS_FILE, lambda p: pq.write_table(events, p))
    if agents is not None:
        atomic_write(run_dir / AGENTS_FILE, lambda p: pq.write_table(agents, p))
    atomic_write_json(run_dir / SUMMARY_FILE, clean_json(summary))


def read_summary(run_dir: Path) -> dict:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.exists():
        raise RunDirError(f"{run_dir}: no {SUMMARY_FILE}; is this a scslab run directory?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{path}: corrupt JSON ({e}); re-run the scenario") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: not a summary object")
    return data


def read_daily(run_dir: Path) -> pd.DataFrame:
    path = Path(run_dir) / DAILY_FILE
    if not path.exists():
        raise RunDirError(f"{run_dir}: no {DAILY_FILE}; is this a scslab run directory?")
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as e:
        raise RunDirError(f"{path}: unreadable Parquet ({str(e).splitlines()[0]}); re-run "
                          "the scenario") from None


def load_run(run_dir: str | Path) -> Result:
    """Read a run directory back into a Result."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory")
    summary = read_summary(run_dir)
    daily = read_daily(run_dir)
    sc_path = run_dir / SCENARIO_FILE
    if not sc_path.exists():
        raise RunDirError(f"{run_dir}: no {SCENARIO_FILE}")
    scenario = load_scenario(sc_path)
    return Result(scenario=scenario, daily=daily, summary=summary, run_dir=run_dir,
                  run_id=summary.get("run_id"))
