"""What the commands share: the consoles and the end-of-run summary table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def summary_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) rows of a run's summary: the outcomes it measured, then the run.

    The outcomes are :func:`scslab.outcomes.summary_outcomes`, read from the summary's
    last-day ``metrics`` and ``totals``; one the run did not measure (NaN) is left out.
    Fairness ratios (per group against the reference) come with their interval, or say
    "not enough events" and how many agents would resolve it.
    Then come the scaled counts, the published targets, the timings and completion.
    """
    from scslab.outcomes import summary_outcomes

    rows: list[tuple[str, str]] = []
    for o in summary_outcomes(summary):
        detail = o.detail(summary)  # fairness: ratio [interval], or "not enough events…"
        if detail is not None:
            rows.append((o.label, detail))
            continue
        v = o.value(None, summary)
        if not math.isnan(v):
            rows.append((o.label, o.text(v)))
    scale = summary.get("scale")
    if scale:
        sm = scale["metrics"]
        rows.append((f"scaled ×{scale['factor']:,.0f} to {scale['represents']:,} people",
                     f"listed {sm.get('listed', 0):,.0f}, court list "
                     f"{sm.get('listed_court', 0):,.0f}"))
    for tg in summary.get("targets", []):
        ach = tg["achieved"]
        rows.append((f"target {tg['target']}",
                     "not reached in this run" if ach is None else
                     f"{ach:,.4g} ({tg['relative_error']:+.1%})"))
    rate = summary.get("agent_days_per_second") or 0
    rows += [("build", f"{summary['build_seconds']:.2f} s"),
             ("day loop", f"{summary['elapsed_seconds']:.2f} s ({rate:,.0f} agent-days/s)"),
             ("completed", str(summary["completed"]).lower())]
    return rows


def summary_table(summary: Mapping[str, Any]) -> Table:
    """The end-of-run summary as a Rich table (see :func:`summary_rows`)."""
    t = Table(title=f"{summary.get('scenario')} — {summary['agents']:,} agents × "
                    f"{summary['days']} days", box=None)
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in summary_rows(summary):
        t.add_row(k, v)
    return t
