"""The sweep table: one row per run, its outcomes read from the outcomes registry.

``sweep.parquet`` (and ``sweep.csv``) hold each run's key, ids, grid values, status,
every outcome of :data:`scslab.outcomes.OUTCOMES` (those that only some runs measure
left out when none did) and ``elapsed_seconds``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import ScslabError
from scslab.outcomes import OUTCOMES, measure, measured_outcomes
from scslab.sweep.plan import RunSpec, SweepPlan

__all__ = ["OutcomeFn", "SweepResult", "key_outcomes", "sweep_table", "write_table"]

OutcomeFn = Callable[[dict, pd.DataFrame], dict[str, float]]

TABLE_FILE = "sweep.parquet"
TABLE_CSV = "sweep.csv"
#: Columns of the sweep table that are not outcomes of the registry.
EXTRA_COLUMNS = ("elapsed_seconds",)


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


def key_outcomes(summary: dict, daily: pd.DataFrame) -> dict[str, float]:
    """The outcomes of one run (one row of ``sweep.parquet``): the registry's, and its time."""
    out = measure(daily, summary)
    elapsed = summary.get("elapsed_seconds")
    out["elapsed_seconds"] = float(elapsed) if elapsed is not None else math.nan
    return out


def _row(plan: SweepPlan, spec: RunSpec, status: str, summary: dict | None,
         daily: pd.DataFrame | None, outcome_fn: OutcomeFn) -> dict:
    row: dict[str, Any] = {"key": spec.key, "run_id": spec.run_id, "point": spec.point,
                           "replicate": spec.replicate, "seed": spec.seed}
    row.update(spec.grid)
    row["status"] = status
    if summary is not None and daily is not None:
        row.update(outcome_fn(summary, daily))
    return row


def sweep_table(rows: Sequence[dict]) -> pd.DataFrame:
    """The table of a sweep's rows, one per run.

    The outcomes that only some runs measure are left out when none of them did (sites
    abroad; the chilling effect of a sweep without ``chilling``).
    """
    table = pd.DataFrame(list(rows))
    shown = {o.key for o in measured_outcomes(table)}
    return table.drop(columns=[o.key for o in OUTCOMES
                               if o.key not in shown and o.key in table.columns])


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
