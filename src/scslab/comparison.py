"""``scslab compare``: scenarios on common random numbers, with intervals.

Replicate ``r`` of every scenario uses the same seed, so the random numbers are
shared (DESIGN.md §4) and a difference measures the policy, not the noise.
Differences are paired by replicate; intervals are Student-t 95 % intervals
over replicates (none with one replicate).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.outcomes import OUTCOMES, Outcome, for_run, measure, measured_outcomes
from scslab.pipeline import execute, new_run_id, resolve, write_run
from scslab.results import Result
from scslab.rng import spawn_seeds


def interval(x: np.ndarray) -> tuple[float, float, float]:
    """Mean and Student-t 95 % interval (NaN bounds with fewer than two values)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan, math.nan
    from scipy import stats

    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, m - half, m + half


@dataclass
class Comparison:
    """Per-replicate outcomes of each scenario and the summary table."""

    scenarios: list[str]
    labels: list[str]
    seeds: list[int]
    per_run: pd.DataFrame  # one row per (scenario, replicate)
    table: pd.DataFrame  # one row per outcome
    out_dir: Path | None = None
    results: list[Result] = field(default_factory=list)


def compare(scenarios: list[Any], *, agents: int | None = None, days: int | None = None,
            seed: int | None = None, replicates: int = 1, out: str | Path | None = None,
            threads: int | None = None, set: list[str] | dict | None = None,  # noqa: A002
            db: str | Path | None = None, progress=None) -> Comparison:
    """Run each scenario ``replicates`` times on shared seeds and tabulate the outcomes."""
    resolved = [resolve(s, agents=agents, days=days, set=set) for s in scenarios]
    labels = []
    for s, sc in zip(scenarios, resolved, strict=True):
        lab = sc.name if isinstance(s, str) else sc.name
        while lab in labels:
            lab += "'"
        labels.append(lab)
    root = seed if seed is not None else resolved[0].seed
    seeds = [root] if replicates == 1 else spawn_seeds(root, replicates)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(out) if out is not None else None
    records = []
    results = []
    total = len(resolved) * len(seeds) * 2
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, what)

    for r, sd in enumerate(seeds):
        for lab, sc in zip(labels, resolved, strict=True):
            sc_r = sc.model_copy(update={"seed": sd})
            run_id = new_run_id(sc_r)
            name = f"{lab} r{r}"
            ran = execute(sc_r, run_id=run_id, threads=threads, chilling=True,
                          on_simulated=functools.partial(tick, name))
            tick(f"{name} (no monitoring)")
            res = Result(scenario=sc_r, daily=ran.daily, summary=ran.summary, run_id=run_id)
            if out_dir is not None:
                events = ran.sim.log.drain() if ran.sim.log.enabled else None
                res.run_dir = write_run(out_dir / f"{lab}-r{r}", sc_r, ran.daily, ran.summary,
                                        events=events, db=db)
            elif db is not None:
                from scslab.catalog import record_run

                record_run(db, run_id, None, sc_r.name, ran.summary, ran.daily)
            results.append(res)
            rec: dict[str, Any] = {"scenario": lab, "replicate": r, "seed": sd,
                                   "run_id": run_id}
            rec.update(measure(ran.daily, ran.summary))
            rec.update(fairness_texts(ran.summary))
            records.append(rec)
    per_run = pd.DataFrame(records)
    shown = measured_outcomes(per_run)  # an outcome no run measured is left out
    per_run = per_run.drop(columns=[o.key for o in OUTCOMES
                                    if o not in shown and o.key in per_run.columns])
    table = _table(per_run, labels, shown)
    cmp = Comparison([str(s) for s in scenarios], labels, seeds, per_run, table, out_dir,
                     results)
    if out_dir is not None:
        _write(cmp, out_dir)
        from scslab.report import write_comparison_report

        write_comparison_report(cmp)
    if db is not None:
        _record(db, cmp, f"compare-{stamp}")
    return cmp


def fairness_texts(summary: dict) -> dict[str, str]:
    """``text__<outcome>`` per fairness outcome of a run, for tables.

    Its ratio with the run's exact interval, or "not enough events …" with the agents
    that would resolve it.
    """
    out = {}
    for o in for_run(summary):
        text = None if o.per_group else o.detail(summary)
        if text is not None:
            out[f"text__{o.key}"] = text
    return out


def _table(per_run: pd.DataFrame, labels: list[str], shown: list[Outcome]) -> pd.DataFrame:
    rows = []
    base = per_run[per_run.scenario == labels[0]].sort_values("replicate")
    for o in shown:
        key = o.key
        row: dict[str, Any] = {"outcome": key, "description": o.label}
        for lab in labels:
            x = per_run[per_run.scenario == lab].sort_values("replicate")[key].to_numpy()
            m, lo, hi = interval(x)
            row[f"{lab}"] = m
            row[f"{lab}__lo"] = lo
            row[f"{lab}__hi"] = hi
            texts = per_run[per_run.scenario == lab].sort_values("replicate").get(
                f"text__{key}")
            if texts is not None and (len(x) == 1 or math.isnan(m)):
                # one replicate: the run's own exact interval; none resolved: why not
                row[f"{lab}__text"] = next((t for t in texts if isinstance(t, str)), None)
            if lab != labels[0]:
                d = x - base[key].to_numpy()
                dm, dlo, dhi = interval(d)
                row[f"{lab}-{labels[0]}"] = dm
                row[f"{lab}-{labels[0]}__lo"] = dlo
                row[f"{lab}-{labels[0]}__hi"] = dhi
        rows.append(row)
    return pd.DataFrame(rows)


def _write(cmp: Comparison, out_dir: Path) -> None:
    from scslab.fileio import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "comparison.csv", lambda p: cmp.table.to_csv(p, index=False))
    atomic_write(out_dir / "runs.csv", lambda p: cmp.per_run.to_csv(p, index=False))
    atomic_write(out_dir / "comparison.parquet", lambda p: cmp.table.to_parquet(p))


def _record(db, cmp: Comparison, comparison_id: str) -> None:
    from scslab.catalog import connect

    long = []
    for _, row in cmp.table.iterrows():
        for lab in cmp.labels:
            long.append({"comparison_id": comparison_id, "outcome": row["outcome"],
                         "scenario": lab, "mean": row[lab], "lo": row[f"{lab}__lo"],
                         "hi": row[f"{lab}__hi"],
                         "diff": row.get(f"{lab}-{cmp.labels[0]}", math.nan),
                         "diff_lo": row.get(f"{lab}-{cmp.labels[0]}__lo", math.nan),
                         "diff_hi": row.get(f"{lab}-{cmp.labels[0]}__hi", math.nan)})
    df = pd.DataFrame(long)  # noqa: F841 - read by DuckDB's replacement scan
    con = connect(db)
    try:
        con.execute("CREATE TABLE IF NOT EXISTS comparisons AS SELECT * FROM df LIMIT 0")
        con.execute("INSERT INTO comparisons BY NAME SELECT * FROM df")
    finally:
        con.close()


def _fmt(m: float, lo: float, hi: float) -> str:
    if math.isnan(m):
        return "–"
    s = f"{m:,.4g}" if abs(m) < 1 else f"{m:,.1f}"
    if not math.isnan(lo):
        s += f" [{lo:,.3g}, {hi:,.3g}]"
    return s


def render_comparison(cmp: Comparison, console) -> None:
    """Print the comparison's outcomes with their intervals as a Rich table."""
    from rich.table import Table

    t = Table(title=f"{' vs '.join(cmp.labels)} — {len(cmp.seeds)} replicate(s), common "
                    "random numbers; 95% intervals", box=None)
    t.add_column("outcome")
    for lab in cmp.labels:
        t.add_column(lab, justify="right")
    for lab in cmp.labels[1:]:
        t.add_column(f"{lab} − {cmp.labels[0]}", justify="right")
    for _, row in cmp.table.iterrows():
        cells = [row["description"]]
        for lab in cmp.labels:
            text = row.get(f"{lab}__text")
            cells.append(text if isinstance(text, str) else
                         _fmt(row[lab], row[f"{lab}__lo"], row[f"{lab}__hi"]))
        for lab in cmp.labels[1:]:
            k = f"{lab}-{cmp.labels[0]}"
            cells.append(_fmt(row[k], row[f"{k}__lo"], row[f"{k}__hi"]))
        t.add_row(*cells)
    console.print(t)
