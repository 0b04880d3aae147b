"""The "Published figures" and "Scaling" panels: the run beside published numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from scslab.formatting import fmt, human, people, signed_pct
from scslab.report.common import _agents, _days, _finish, _has, _new_figure
from scslab.report.elements import C_LISTED, C_SCORE, ReportFigure, Section, Table
from scslab.report.tables import _glossary
from scslab.results import Result

# --------------------------------------------------------------------------- published figures

_AGG_WORDS = {"last": "on the day", "sum": "summed since day 1", "mean": "averaged since day 1",
              "max": "highest since day 1"}


def _scales(summary: dict, column: str) -> bool:
    sc = summary.get("scale")
    if not sc:
        return False
    return column not in set(sc.get("not_scaled") or ())


def _agg_series(daily: pd.DataFrame, column: str, agg: str, factor: float) -> list:
    s = pd.to_numeric(daily[column], errors="coerce").astype(float)
    s = {"sum": s.fillna(0).cumsum(), "mean": s.expanding().mean(), "max": s.cummax()}.get(agg, s)
    return [None if math.isnan(v) else float(v) * factor for v in s.to_numpy()]


def _day_text(daily: pd.DataFrame, day: int | None) -> str:
    if day is None:
        return "on the last day"
    if _has(daily, "date"):
        hit = daily.loc[daily["day"] == day, "date"]
        if len(hit):
            return f"on day {day} ({hit.iloc[0]})"
    return f"on day {day}"


def fig_target(daily: pd.DataFrame, target: dict, k: int, summary: dict, meaning: str = ""
               ) -> ReportFigure:
    """One published figure: the column over time, with the published value at its day.

    The column is aggregated and scaled as the target reads it.
    """
    import plotly.graph_objects as go

    col, agg = str(target.get("column")), str(target.get("agg") or "last")
    factor = float(summary["scale"]["factor"]) if _scales(summary, col) else 1.0
    fig = _new_figure(human(col) + (" (scaled)" if factor != 1.0 else ""))
    days = _days(daily)
    day = target.get("day")
    published = target.get("published")
    if _has(daily, col) and len(daily):
        fig.add_trace(go.Scatter(x=days, y=_agg_series(daily, col, agg, factor), mode="lines",
                                 name=f"this run, {_AGG_WORDS.get(agg, agg)}",
                                 line={"color": C_SCORE, "width": 2.5},
                                 meta={"column": col, "transform": agg, "factor": factor}))
    if published is not None:
        x = day if day is not None else (days[-1] if days else 1)
        fig.add_trace(go.Scatter(x=[x], y=[float(published)], mode="markers",
                                 name="published (±10%)",
                                 marker={"color": C_LISTED, "size": 12, "symbol": "diamond"},
                                 error_y={"type": "data", "array": [0.1 * float(published)],
                                          "visible": True, "color": C_LISTED},
                                 meta={"column": col, "transform": "published", "day": x}))
    achieved = target.get("achieved")
    src = str(target.get("source") or "").strip()
    what = f"“{col}”" + (f" ({meaning.rstrip('.')})" if meaning else "")
    caption = (f"Published figure{f' ({src})' if src else ''}: {fmt(published)} "
               f"{_day_text(daily, day)}, for {what}. The line is what this run gives, "
               + _AGG_WORDS.get(agg, agg))
    if factor != 1.0:
        caption += (f", multiplied by {fmt(factor)} to stand for "
                    f"{people(summary['scale'].get('represents'))} people")
    caption += "; the diamond marks the published figure and its ±10% band."
    if achieved is None:
        caption += " The run ended before that day, so there is nothing to compare."
    else:
        err = target.get("relative_error")
        caption += (f" The run gives {fmt(float(achieved))}: {signed_pct(err)} off, "
                    + ("within" if target.get("within_10_percent") else "not within")
                    + " 10% of the published figure.")
    return ReportFigure(f"fig-target-{k}", col, f"Published figure: {target.get('target')}",
                        caption, _finish(fig), [col] if _has(daily, col) else [])


def targets_table(targets: Sequence[dict]) -> Table:
    """Each published figure beside what the run achieved."""
    rows, attrs = [], []
    for t in targets:
        ach = t.get("achieved")
        rows.append([str(t.get("target")), str(t.get("source") or "–"), fmt(t.get("published")),
                     fmt(ach) if ach is not None else "– (run too short)",
                     signed_pct(t.get("relative_error")),
                     "yes" if t.get("within_10_percent") else "no"])
        attrs.append({"data-target": str(t.get("target")),
                      "data-within": "yes" if t.get("within_10_percent") else "no"})
    n_ok = sum(1 for t in targets if t.get("within_10_percent"))
    return Table("Published figures and this run", ["target", "source", "published",
                                                    "achieved", "error", "within 10 %"],
                 rows, f"{n_ok} of {len(targets)} published figures reproduced within 10%. "
                       "Error = (achieved − published) ÷ published; counts are scaled to the "
                       "population the sample stands for where the scenario says so.",
                 id="targets-table", numeric_from=2, row_attrs=attrs)


def targets_section(result: Result) -> Section | None:
    """The "Published figures" panel: the targets table and one chart per target."""
    targets = result.summary.get("targets") or []
    if not targets:
        return None
    meaning = {g[0]: g[1] for g in _glossary(result.daily, result.scenario)}
    figs = [fig_target(result.daily, t, k, result.summary, meaning.get(str(t.get("column")), ""))
            for k, t in enumerate(targets, 1)]
    return Section("targets", "Published figures",
                   "The scenario lists figures published about the real system; every run "
                   "reports them beside what it gives. A model that reproduces them is not "
                   "thereby right, but one that misses them by far needs explaining.",
                   figs, [targets_table(targets)])


# --------------------------------------------------------------------------- scaling


def scale_section(result: Result) -> Section | None:
    """The "Scaling" note: the factor, what it represents, what scales and what does not."""
    scale = result.summary.get("scale")
    if not scale:
        return None
    daily = result.daily
    not_scaled = set(scale.get("not_scaled") or ())
    cols = [c for c in daily.columns if c not in ("day", "date")]
    linear = [c for c in cols if c not in not_scaled]
    fixed = [c for c in cols if c in not_scaled]
    n = _agents(result)
    rows = [["synthetic people (the sample)", fmt(n)],
            ["they stand for", f"{people(scale.get('represents'))} people"],
            ["scale factor", f"{fmt(scale.get('factor'))} real people per synthetic person"],
            ["scale linearly (× factor)", ", ".join(linear) or "none"],
            ["do not scale", ", ".join(fixed) or "none"]]
    intro = (f"This run simulates {fmt(n)} synthetic people standing for "
             f"{people(scale.get('represents'))}: each counts for {fmt(scale.get('factor'))}. "
             f"{scale.get('note', '')} The headline counts above are shown scaled, with the "
             "sample's own figures in small print; charts show the sample unless they say "
             "\u201cscaled\u201d.")
    return Section("scale", "Scaling", intro, [],
                   [Table("How the sample is scaled", ["setting", "value"], rows,
                          "Columns scale when they count people or events; rates, means, "
                          "percentiles and ratios stay as they are.", id="scale-table",
                          numeric_from=99, row_attrs=[{"data-row": k} for k in (
                              "agents", "represents", "factor", "scaled", "not_scaled")])])
