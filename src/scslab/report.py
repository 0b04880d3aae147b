"""HTML reports: one self-contained file per run or comparison, readable offline.

A report embeds plotly.js once, the figures as JSON, and every number it shows,
so it can be mailed, archived or opened on a machine with no network. The
figure functions here are the single source of the charts: the dashboard
(``scslab.dashboard``) draws the same ``ReportFigure`` objects.

>>> r = scslab.run("national", agents=5_000, days=30, out="runs/demo")  # doctest: +SKIP
>>> build_report("runs/demo")                         # runs/demo/report.html   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scslab.errors import RunDirError, ScslabError
from scslab.fileio import atomic_write_text
from scslab.inputs import not_regular, why_missing
from scslab.params import N_HIST
from scslab.results import Result, load_run

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from scslab.comparison import Comparison
    from scslab.scenario.schema import Scenario

__all__ = [
    "PLOTLY_CONFIG",
    "REPORT_FILE",
    "ComparisonData",
    "Headline",
    "ReportFigure",
    "Section",
    "Table",
    "abroad_section",
    "abroad_table",
    "approx",
    "audit_table",
    "build_report",
    "comparison_audit_table",
    "comparison_data",
    "comparison_figures",
    "comparison_sections",
    "comparison_rows",
    "denials_table",
    "fmt",
    "governance_rows",
    "governance_side_by_side",
    "group_table",
    "has_abroad",
    "headlines",
    "is_comparison_dir",
    "load_comparison",
    "pct",
    "people",
    "provenance_rows",
    "render_comparison_html",
    "render_run_html",
    "run_figures",
    "run_sections",
    "scale_section",
    "scenario_differences",
    "scenario_tables",
    "signed_pct",
    "targets_section",
    "targets_table",
    "value_text",
    "write_comparison_report",
    "write_report",
]

REPORT_FILE = "report.html"
PLOTLY_CONFIG: dict[str, Any] = {"responsive": True, "displaylogo": False,
                                 "toImageButtonOptions": {"format": "png", "scale": 2}}

# Colour-blind-safe palette (Okabe–Ito), then a few extra tones.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000", "#999999", "#882255", "#44AA99", "#117733"]
C_SCORE = "#0072B2"
C_TRUE = "#009E73"
C_LISTED = "#D55E00"
C_HARM = "#882255"


# --------------------------------------------------------------------------- data classes


@dataclass
class ReportFigure:
    """One chart: a Plotly figure with a stable id, the metric it shows and a caption."""

    id: str
    metric: str
    title: str
    caption: str
    figure: go.Figure
    columns: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The figure as JSON, safe to embed inside a ``<script>`` element."""
        import plotly.io as pio

        text = pio.to_json(self.figure, validate=False, pretty=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass
class Table:
    """A small table for the report and the dashboard: a title, a header and rows of text."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    #: HTML id of the table ('' → ``<section id>-table-<k>``).
    id: str = ""
    #: Columns from this index on are numbers (right-aligned); 99 for a table of text.
    numeric_from: int = 1
    #: Per row, extra ``data-*`` attributes for the HTML ``<tr>`` (e.g. a status).
    row_attrs: list[dict[str, str]] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame of text cells."""
        return pd.DataFrame(self.rows, columns=self.columns)


@dataclass
class Section:
    """A titled group of figures and tables with a plain-language introduction."""

    id: str
    title: str
    intro: str
    figures: list[ReportFigure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass(frozen=True)
class Headline:
    """A headline number: what it counts, its value as text, and a one-line explanation."""

    key: str
    label: str
    value: float | None
    text: str
    note: str
    #: The value scaled to the population the sample represents (None: not scaled).
    scaled: float | None = None
    #: The sample figure as text, shown small under a scaled value ('' when not scaled).
    sample_text: str = ""


@dataclass
class ComparisonData:
    """What a comparison report shows: the outcome table and each scenario's runs."""

    labels: list[str]
    table: pd.DataFrame
    per_run: pd.DataFrame
    runs: dict[str, list[Result]]
    out_dir: Path | None = None

    @property
    def replicates(self) -> int:
        """Replicates per scenario."""
        return max((len(v) for v in self.runs.values()), default=0)


# --------------------------------------------------------------------------- formatting


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x))


def fmt(x: Any, digits: int = 3) -> str:
    """A number for people: thousands separators, few digits, '–' for missing."""
    if _isnan(x):
        return "–"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if isinstance(x, float | np.floating):
        x = float(x)
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        if abs(x) >= 100:
            return f"{x:,.1f}"
        if abs(x) >= 1:
            return f"{x:,.2f}"
        return f"{x:.{digits}g}"
    return str(x)


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage ('–' for missing); tiny values keep two significant digits."""
    if _isnan(x):
        return "–"
    x = float(x)
    s = f"{x:.{digits}%}"
    if x != 0 and float(s.rstrip("%")) == 0:
        s = f"{x * 100:.2g}%"
    return s


def approx(x: Any) -> str:
    """A scaled (approximate) count: three significant digits, millions and billions in words.

    >>> approx(933_333.3), approx(1.4e9), approx(12.0)
    ('≈ 933,000', '≈ 1.4 billion', '≈ 12')
    """
    if _isnan(x):
        return "–"
    x = float(x)
    a = abs(x)
    if a >= 1e9:
        return f"≈ {x / 1e9:,.3g} billion"
    if a >= 1e6:
        return f"≈ {x / 1e6:,.3g} million"
    if a == 0:
        return "0"
    r = round(x, 2 - int(math.floor(math.log10(a))))
    return f"≈ {fmt(float(r))}"


def people(x: Any) -> str:
    """A population size in words when round ('1.4 billion'), else with separators."""
    if _isnan(x):
        return "–"
    a = approx(x)
    if a.startswith("≈ ") and (" million" in a or " billion" in a):
        unit = 1e9 if a.endswith("billion") else 1e6
        if float(a[2:].split()[0].replace(",", "")) * unit == float(x):
            return a[2:]
    return fmt(x)


def signed_pct(x: Any) -> str:
    """A relative difference with its sign ('+4.2%', '−12%'); '–' for missing."""
    if _isnan(x):
        return "–"
    a = abs(float(x))
    s = f"{a * 100:,.0f}%" if a >= 10 else pct(a)
    return ("+" if float(x) > 0 else "−" if float(x) < 0 else "") + s


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def plural(n: Any, one: str, many: str) -> str:
    """'1 act was' / '3 acts were': a count with the right noun form."""
    return f"{fmt(n)} {one if not _isnan(n) and float(n) == 1 else many}"


def _human(name: str) -> str:
    return name.replace("_", " ")


def value_text(v: Any) -> str:
    """A scenario value as short text ('on'/'off', numbers formatted, lists joined)."""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float | int):
        return fmt(v, 4)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {value_text(x)}" for k, x in v.items()) if v else "none"
    if isinstance(v, list | tuple):
        return ", ".join(value_text(x) for x in v) if v else "none"
    if hasattr(v, "value"):
        return str(v.value)
    return str(v)


# --------------------------------------------------------------------------- series helpers


def _has(daily: pd.DataFrame, col: str) -> bool:
    return col in daily.columns


def _series(daily: pd.DataFrame, col: str, cumulative: bool = False) -> list:
    """A column as a JSON-friendly list (NaN → None), optionally summed so far."""
    s = pd.to_numeric(daily[col], errors="coerce").astype(float)
    if cumulative:
        s = s.fillna(0).cumsum()
    return [None if math.isnan(v) else (int(v) if float(v).is_integer() else float(v))
            for v in s.to_numpy()]


def _days(daily: pd.DataFrame) -> list[int]:
    if _has(daily, "day"):
        return [int(d) for d in daily["day"].to_numpy()]
    return list(range(1, len(daily) + 1))


def _last(daily: pd.DataFrame, col: str) -> float | None:
    if not _has(daily, col) or daily.empty:
        return None
    v = daily[col].iloc[-1]
    return None if _isnan(v) else float(v)


def _total(daily: pd.DataFrame, col: str) -> float | None:
    if not _has(daily, col):
        return None
    return float(pd.to_numeric(daily[col], errors="coerce").fillna(0).sum())


def _cols(daily: pd.DataFrame, prefix: str, exclude: Iterable[str] = ()) -> list[str]:
    ex = set(exclude)
    return [c for c in daily.columns if c.startswith(prefix) and c not in ex]


def _groups(daily: pd.DataFrame) -> list[str]:
    return [c.split("__", 1)[1] for c in daily.columns if c.startswith("wrongful_rate__")]


def _denial_kinds(daily: pd.DataFrame) -> list[str]:
    return [c[len("denied_"):] for c in _cols(daily, "denied_", exclude=["denied_wrongful"])]


# --------------------------------------------------------------------------- figure helpers


@lru_cache(maxsize=1)
def _template() -> go.layout.Template:
    import plotly.graph_objects as go

    axis = {"gridcolor": "#e5e7eb", "linecolor": "#9ca3af", "zerolinecolor": "#d1d5db",
            "ticks": "outside", "tickcolor": "#9ca3af", "automargin": True}
    return go.layout.Template(layout=go.Layout(
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13,
              "color": "#1f2937"},
        paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE, xaxis=axis, yaxis=axis,
        hoverlabel={"namelength": -1}))


def _new_figure(ytitle: str, xtitle: str = "day", height: int = 380, tozero: bool = True
                ) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    if tozero:
        fig.update_yaxes(rangemode="tozero")
    fig.update_layout(template=_template(), height=height, hovermode="x unified",
                      margin={"l": 60, "r": 20, "t": 10, "b": 50},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      xaxis_title=xtitle, yaxis_title=ytitle)
    return fig


def _line(fig: go.Figure, daily: pd.DataFrame, col: str, name: str, *, color: str | None = None,
          dash: str | None = None, cumulative: bool = False, width: float = 2.0,
          group: str | None = None) -> bool:
    import plotly.graph_objects as go

    if not _has(daily, col):
        return False
    meta = {"column": col, "transform": "cumulative" if cumulative else "none"}
    fig.add_trace(go.Scatter(x=_days(daily), y=_series(daily, col, cumulative), name=name,
                             mode="lines", meta=meta, legendgroup=group,
                             line={"color": color, "dash": dash, "width": width}))
    return True


def _empty_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font={"size": 14, "color": "#6b7280"})


def _finish(fig: go.Figure, note: str = "No data for this chart in this run.") -> go.Figure:
    if not fig.data:
        _empty_note(fig, note)
    return fig


# --------------------------------------------------------------------------- run figures


def fig_score(daily: pd.DataFrame) -> ReportFigure:
    """Score distribution over time: percentile fan, mean and twin-ledger mean."""
    import plotly.graph_objects as go

    fig = _new_figure("score (points)", tozero=False)
    days = _days(daily)
    for lo, hi, name, alpha in (("score_p05", "score_p95", "middle 90% of people", 0.15),
                                ("score_p25", "score_p75", "middle 50% of people", 0.30)):
        if _has(daily, lo) and _has(daily, hi):
            fill = f"rgba(0,114,178,{alpha})"
            fig.add_trace(go.Scatter(x=days, y=_series(daily, hi), mode="lines", name=name,
                                     line={"width": 0}, showlegend=False, legendgroup=name,
                                     hoverinfo="skip", meta={"column": hi, "transform": "none"}))
            fig.add_trace(go.Scatter(x=days, y=_series(daily, lo), mode="lines", name=name,
                                     fill="tonexty", fillcolor=fill, line={"width": 0},
                                     legendgroup=name, hoverinfo="skip",
                                     meta={"column": lo, "transform": "none"}))
    _line(fig, daily, "score_p50", "median score", color=C_SCORE, dash="dot", width=1.5)
    _line(fig, daily, "mean_score", "average recorded score", color=C_SCORE)
    _line(fig, daily, "mean_true_score", "average score without identity errors", color=C_TRUE,
          dash="dash")
    first, last = (daily["mean_score"].iloc[0], daily["mean_score"].iloc[-1]) if (
        _has(daily, "mean_score") and len(daily)) else (None, None)
    gap = None
    if _has(daily, "mean_true_score") and _has(daily, "mean_score") and len(daily):
        gap = float(daily["mean_true_score"].iloc[-1] - daily["mean_score"].iloc[-1])
    caption = ("Everyone starts with the same score. Each day the shaded bands show where the "
               f"middle half and the middle 90% of scores lie (read from a {N_HIST}-bin "
               "histogram); the solid line is the average recorded score, and the dashed line the average score "
               "people would have had if no act had ever been recorded against the wrong person.")
    if first is not None and last is not None:  # both or neither
        caption += (f" The average went from {fmt(float(first))} on day 1 to {fmt(float(last))} "
                    f"on day {days[-1]}")
        caption += (f"; identity errors cost the average person {fmt(gap)} points."
                    if gap is not None and gap >= 0.05 else ".")
    cols = ["score_p05", "score_p25", "score_p50", "score_p75", "score_p95", "mean_score",
            "mean_true_score"]
    return ReportFigure("fig-score", "score", "Scores over time", caption, _finish(fig),
                        [c for c in cols if _has(daily, c)])


def fig_grades(daily: pd.DataFrame, grades: Sequence[tuple[str, float]] | None = None
               ) -> ReportFigure:
    """People in each grade band each day (stacked), highest grade on top."""
    import plotly.graph_objects as go

    fig = _new_figure("people")
    if grades is None:
        grades = [(c[len("grade_"):], math.nan) for c in _cols(daily, "grade_")]
    cols = []
    colors = ["#1a9850", "#66bd63", "#a6d96a", "#fee08b", "#fdae61", "#f46d43", "#d73027",
              "#a50026"]
    present = [(g, m) for g, m in grades if _has(daily, f"grade_{g}")]
    n = len(present)
    for k, (g, m) in enumerate(reversed(present)):
        col = f"grade_{g}"
        cols.append(col)
        color = colors[min(len(colors) - 1, round((n - 1 - k) * (len(colors) - 1) / max(n - 1, 1)))]
        label = f"grade {g}" + (f" (≥ {fmt(m)})" if not _isnan(m) and m > -1e5 else "")
        fig.add_trace(go.Scatter(x=_days(daily), y=_series(daily, col), name=label,
                                 mode="lines", stackgroup="grades", line={"width": 0.5,
                                                                          "color": color},
                                 meta={"column": col, "transform": "none"}))
    fig.update_layout(legend={"traceorder": "reversed"})
    caption = ("Scores are turned into letter grades. The coloured areas show how many people "
               "hold each grade every day; green grades bring rewards, red grades suspicion and "
               "sanctions.")
    if present and len(daily):
        low = present[-1][0]
        caption += (f" On the last day {fmt(_last(daily, f'grade_{low}'))} people were in the "
                    f"lowest grade ({low}).")
    return ReportFigure("fig-grades", "grades", "Grades over time", caption, _finish(fig),
                        cols[::-1])


def fig_lists(daily: pd.DataFrame, agents: int | None = None) -> ReportFigure:
    """Sizes of the blacklist, the court list and the redlist over time."""
    fig = _new_figure("people on the list")
    _line(fig, daily, "listed", "listed (blacklist or court list)", color=C_LISTED, width=3)
    _line(fig, daily, "listed_blacklist", "score blacklist", color="#E69F00")
    _line(fig, daily, "listed_court", "court list (dishonest debtors)", color="#CC79A7")
    _line(fig, daily, "true_listed", "would be listed without identity errors", color=C_TRUE,
          dash="dash")
    _line(fig, daily, "redlisted", "redlist (rewarded)", color="#56B4E9", dash="dot")
    listed = _last(daily, "listed")
    caption = ("How many people are on each list at the end of each day. People on the "
               "blacklist (score too low) or the court list (a court order) are refused flights, "
               "trains, loans and more; the redlist rewards high scores. The dashed line counts "
               "who would be listed if every recorded act had been pinned on the right person.")
    if listed is not None and listed > 0:
        share = f" ({pct(listed / agents, 2)} of everyone)" if agents else ""
        caption += f" On the last day {plural(listed, 'person was', 'people were')} listed{share}."
    elif listed is not None:
        caption += " On the last day nobody was listed."
    cols = ["listed", "listed_blacklist", "listed_court", "true_listed", "redlisted"]
    return ReportFigure("fig-lists", "listed", "Who is on a list", caption, _finish(fig),
                        [c for c in cols if _has(daily, c)])


def fig_list_flows(daily: pd.DataFrame) -> ReportFigure:
    """Entries onto and exits from the lists each day."""
    import plotly.graph_objects as go

    fig = _new_figure("people per day")
    days = _days(daily)
    if _has(daily, "list_entries"):
        fig.add_trace(go.Bar(x=days, y=_series(daily, "list_entries"), name="went onto a list",
                             marker_color=C_LISTED,
                             meta={"column": "list_entries", "transform": "none"}))
    if _has(daily, "list_exits"):
        fig.add_trace(go.Bar(x=days, y=[None if v is None else -v for v in
                                        _series(daily, "list_exits")],
                             name="left every list (shown below zero)", marker_color=C_TRUE,
                             meta={"column": "list_exits", "transform": "negated"}))
    fig.update_layout(barmode="relative")
    ins, outs = _total(daily, "list_entries"), _total(daily, "list_exits")
    caption = ("Bars above zero count the people put on a list that day; bars below zero, the "
               "people who got off every list (their score recovered, their term ended, or an "
               "appeal succeeded).")
    if ins is not None and outs is not None:
        caption += f" Over the run: {fmt(ins)} entries and {fmt(outs)} exits."
    return ReportFigure("fig-list-flows", "list_entries", "Getting on and off the lists", caption,
                        _finish(fig), [c for c in ("list_entries", "list_exits")
                                       if _has(daily, c)])


def fig_denials(daily: pd.DataFrame) -> ReportFigure:
    """Denials by type, summed since day 1."""
    fig = _new_figure("denials so far")
    kinds = _denial_kinds(daily)
    for k, kind in enumerate(kinds):
        _line(fig, daily, f"denied_{kind}", _human(kind), color=PALETTE[k % len(PALETTE)],
              cumulative=True)
    totals = {kind: _total(daily, f"denied_{kind}") or 0.0 for kind in kinds}
    caption = ("Each time a listed person tries to book a flight or a train, buy property, take "
               "a mortgage, use a social service or enrol a child in a private school, the "
               "attempt can be refused. Lines count the refusals since day 1, by type.")
    if totals:
        top = sorted(totals.items(), key=lambda kv: -kv[1])
        caption += (f" In all {fmt(sum(totals.values()))} refusals; the most common: "
                    + ", ".join(f"{_human(k)} {fmt(v)}" for k, v in top[:3] if v > 0) + "."
                    if sum(totals.values()) > 0 else " No attempt was refused in this run.")
    return ReportFigure("fig-denials", "denied", "Refusals by type", caption, _finish(fig),
                        [f"denied_{k}" for k in kinds])


def fig_harms(daily: pd.DataFrame) -> ReportFigure:
    """People harmed at the end of each day: wrongly listed, punished for others."""
    fig = _new_figure("people")
    _line(fig, daily, "wrongful_listed", "wrongly listed (identity errors)", color=C_HARM,
          width=3)
    _line(fig, daily, "collateral_sanctioned", "punished only through a relative or employer",
          color="#E69F00")
    wl, cs = _last(daily, "wrongful_listed"), _last(daily, "collateral_sanctioned")
    caption = ("Two kinds of people who are punished for something they did not do. "
               "“Wrongly listed”: on a list only because a camera or a record matched someone "
               "else's act to them (measured against a twin ledger that credits every act to its "
               "real author). “Punished through others”: not listed themselves, but under a "
               "sanction because a family member or their employer is listed.")
    if wl is not None and cs is not None:
        caption += (f" On the last day: {fmt(wl)} wrongly listed, {fmt(cs)} punished through "
                    "others.")
    return ReportFigure("fig-harms", "wrongful_listed", "People punished for what they did not do",
                        caption, _finish(fig), [c for c in ("wrongful_listed",
                                                            "collateral_sanctioned")
                                                if _has(daily, c)])


def fig_harm_events(daily: pd.DataFrame) -> ReportFigure:
    """Harmful events summed since day 1: misattributed acts and wrongful denials."""
    fig = _new_figure("events so far")
    _line(fig, daily, "misattributed_events", "acts recorded against the wrong person",
          color=C_HARM, cumulative=True, width=3)
    _line(fig, daily, "denied_wrongful", "refusals suffered by wrongly listed people",
          color=C_LISTED, cumulative=True)
    _line(fig, daily, "collateral_denials", "refusals suffered by people punished through others",
          color="#E69F00", cumulative=True)
    _line(fig, daily, "reversed_events", "wrong matches caught by evidence review",
          color=C_TRUE, cumulative=True, dash="dash")
    mis = _total(daily, "misattributed_events")
    caption = ("Running totals since day 1. A recognition system that is right 99.8% of the time "
               "still pins thousands of acts on the wrong people when it watches millions; each "
               "such act costs its victim points and may push them onto a list.")
    if mis is not None:
        caption += (f" In this run {plural(mis, 'act was', 'acts were')} recorded against the "
                    "wrong person.")
    cols = ["misattributed_events", "denied_wrongful", "collateral_denials", "reversed_events"]
    return ReportFigure("fig-harm-events", "misattributed_events", "Errors and their consequences",
                        caption, _finish(fig), [c for c in cols if _has(daily, c)])


def fig_group_rates(daily: pd.DataFrame) -> ReportFigure:
    """Wrongful-listing rate per group: last day and average over the run."""
    import plotly.graph_objects as go

    fig = _new_figure("wrongly listed per 10,000 people", xtitle="group")
    fig.update_layout(hovermode="closest")
    groups = _groups(daily)
    if groups and len(daily):
        last = [_last(daily, f"wrongful_rate__{g}") for g in groups]
        mean = [float(pd.to_numeric(daily[f"wrongful_rate__{g}"]).mean()) for g in groups]
        fig.add_trace(go.Bar(x=groups, y=[None if v is None else v * 1e4 for v in last],
                             name="last day", marker_color=C_HARM,
                             meta={"column": "wrongful_rate__*", "transform": "last×10000"}))
        fig.add_trace(go.Bar(x=groups, y=[None if _isnan(v) else v * 1e4 for v in mean],
                             name="average over the run", marker_color="#CC79A7",
                             meta={"column": "wrongful_rate__*", "transform": "mean×10000"}))
        fig.update_layout(barmode="group", yaxis_rangemode="tozero")
        if not any(v for v in last + mean if not _isnan(v)):
            _empty_note(fig, "No one was wrongly listed in this run.")
    caption = ("How often members of each group are wrongly listed, per 10,000 members. Face "
               "recognition makes more false matches for some groups (NIST measured 10 to 100 "
               "times more for some demographics), so the same rules fall harder on them.")
    di = _disparate(daily)
    if di is not None:
        caption += (f" Over the run the worst-hit group's rate was {fmt(di)} times the least-hit "
                    "group's (disparate impact).")
    elif groups:
        caption += (" The disparate-impact ratio is undefined here: at least one group had no "
                    "wrongful listings.")
    return ReportFigure("fig-group-rates", "wrongful_rate", "Wrongful listing by group", caption,
                        _finish(fig, "This scenario has no per-group measures."),
                        [f"wrongful_rate__{g}" for g in groups])


def _disparate(daily: pd.DataFrame) -> float | None:
    """Worst / best group mean wrongful-listing rate (the `scslab compare` definition)."""
    rates = [float(pd.to_numeric(daily[f"wrongful_rate__{g}"]).mean()) for g in _groups(daily)]
    rates = [r for r in rates if not math.isnan(r)]
    if len(rates) < 2 or min(rates) <= 0:
        return None
    return max(rates) / min(rates)


def fig_disparate_impact(daily: pd.DataFrame) -> ReportFigure:
    """Daily disparate-impact ratio (highest / lowest group wrongful-listing rate)."""
    fig = _new_figure("ratio (1 = equal treatment)")
    ok = _has(daily, "disparate_impact") and daily["disparate_impact"].notna().any()
    if ok:
        _line(fig, daily, "disparate_impact", "highest ÷ lowest group rate", color=C_HARM)
        fig.add_hline(y=1, line_dash="dot", line_color="#6b7280")
    elif len(daily):
        days = _days(daily)
        fig.update_xaxes(range=[days[0], max(days[-1], days[0] + 1)])
        fig.update_yaxes(range=[0, 2])
    caption = ("Each day, the wrongful-listing rate of the worst-hit group divided by that of the "
               "least-hit group. 1 means every group is wrongly listed equally often; 10 means "
               "one group ten times as often. Gaps are days when some group had no wrongful "
               "listing, so the ratio is undefined.")
    note = ("Undefined on every day: at least one group had no wrongful listings (common in "
            "small or short runs).")
    return ReportFigure("fig-disparate-impact", "disparate_impact", "Disparate impact over time",
                        caption, _finish(fig, note),
                        ["disparate_impact"] if _has(daily, "disparate_impact") else [])


def fig_chilling(summary: dict) -> ReportFigure | None:
    """Speech acts with and without monitoring (only when the run measured it)."""
    import plotly.graph_objects as go

    ch = summary.get("chilling") or {}
    eff = summary.get("chilling_effect")
    if eff is None or "acts_with_monitoring" not in ch:
        return None
    beh = _human(str(ch.get("behaviour", "speech")))
    fig = _new_figure(f"acts of {beh}", xtitle="")
    fig.update_layout(hovermode="closest")
    fig.add_trace(go.Bar(x=["without monitoring or penalty", "with monitoring (this run)"],
                         y=[ch["acts_without_monitoring"], ch["acts_with_monitoring"]],
                         marker_color=[C_TRUE, C_HARM], name=beh, showlegend=False,
                         meta={"column": "chilling", "transform": "totals"}))
    caption = (f"The same population was simulated twice: once as in this scenario, once with "
               f"{beh} neither watched nor punished. People who fear being watched speak less: "
               f"{pct(eff)} fewer acts of {beh} (the chilling effect).")
    return ReportFigure("fig-chilling", "chilling_effect", "The chilling effect", caption, fig,
                        ["chilling_effect"])


def fig_spillover(daily: pd.DataFrame) -> ReportFigure:
    """How punishment spreads to households, friends and employers."""
    fig = _new_figure("people (businesses)")
    _line(fig, daily, "collateral_sanctioned", "sanctioned only through others", color="#E69F00",
          width=3)
    _line(fig, daily, "exposed_household", "living with a listed person", color="#CC79A7")
    _line(fig, daily, "exposed_ties", "with a listed friend or associate", color="#56B4E9")
    _line(fig, daily, "spillover_penalised", "lost points because of someone else (that day)",
          color="#999999", dash="dot")
    _line(fig, daily, "businesses_listed", "businesses on the business list", color="#000000",
          dash="dash")
    caption = ("“Joint punishment” spreads a listing to others: household members lose points "
               "and children can be refused by private schools; friends lose points; a business "
               "whose legal representative is listed loses points and can be listed itself, "
               "which then costs its employees. These lines count the people reached.")
    exp = _last(daily, "exposed_household")
    if exp is not None:
        caption += f" On the last day {fmt(exp)} people lived with a listed person."
    cols = ["collateral_sanctioned", "exposed_household", "exposed_ties", "spillover_penalised",
            "businesses_listed"]
    return ReportFigure("fig-spillover", "collateral_sanctioned", "Punishment that spreads",
                        caption, _finish(fig), [c for c in cols if _has(daily, c)])


def fig_due_process(daily: pd.DataFrame) -> ReportFigure:
    """Appeals, reversals, expiries and credit repair, summed since day 1."""
    fig = _new_figure("so far")
    _line(fig, daily, "appeals_filed", "appeals filed", color="#0072B2", cumulative=True)
    _line(fig, daily, "appeals_succeeded", "appeals upheld", color=C_TRUE, cumulative=True,
          width=3)
    _line(fig, daily, "reversed_events", "wrong matches reversed by evidence review",
          color="#56B4E9", cumulative=True, dash="dash")
    _line(fig, daily, "expired", "list entries expired", color="#E69F00", cumulative=True)
    _line(fig, daily, "credit_repairs", "credit-repair acts", color="#CC79A7", cumulative=True,
          dash="dot")
    cols = ["appeals_filed", "appeals_succeeded", "reversed_events", "expired", "credit_repairs"]
    any_use = any((_total(daily, c) or 0) > 0 for c in cols)
    caption = ("The ways out of a wrong listing, where the scenario provides them: appeals, "
               "review of identity matches before they count, entries that expire, and "
               "credit-repair acts. Running totals since day 1.")
    if not any_use:
        caption += (" In this run none was used or available: once listed, people could only "
                    "wait for their score to recover.")
    else:
        caption += (f" {fmt(_total(daily, 'appeals_succeeded'))} of "
                    f"{fmt(_total(daily, 'appeals_filed'))} appeals were upheld.")
    return ReportFigure("fig-due-process", "appeals_succeeded", "Due process", caption,
                        _finish(fig), [c for c in cols if _has(daily, c)])


def fig_acts(daily: pd.DataFrame, rules: dict[str, float] | None = None) -> ReportFigure:
    """Acts done per behaviour, summed since day 1."""
    fig = _new_figure("acts so far")
    acts = [c[len("acts_"):] for c in _cols(daily, "acts_")]
    for k, b in enumerate(acts):
        pts = (rules or {}).get(b)
        label = _human(b) + (f" ({'+' if pts > 0 else ''}{fmt(pts)} points)" if pts else "")
        _line(fig, daily, f"acts_{b}", label, color=PALETTE[k % len(PALETTE)], cumulative=True)
    caption = ("Everything the synthetic people did, whether or not a sensor saw it: acts that "
               "earn points (volunteering, buying domestic products, paying debts) and acts that "
               "cost points (fraud, smoking where banned, criticising officials online…). "
               "Running totals since day 1; the legend gives each act's points.")
    obs, tot = _total(daily, "observed_events"), sum(_total(daily, f"acts_{b}") or 0 for b in acts)
    if obs is not None and tot > 0:
        caption += f" Sensors recorded {fmt(obs)} of {fmt(tot)} acts ({pct(obs / tot)})."
    return ReportFigure("fig-acts", "acts", "What people did", caption, _finish(fig),
                        [f"acts_{b}" for b in acts])


# --------------------------------------------------------------------------- data abroad

#: Per-flow measures of the abroad stage: (metric, label, flow over the day (summed) or stock).
ABROAD_MEASURES: list[tuple[str, str, bool]] = [
    ("visitors", "visits", True),
    ("captured", "visits captured by the site's sensors", True),
    ("identified", "captures identified against the home gallery", True),
    ("false_matches", "false matches onto home agents", True),
    ("recorded_total", "people with a record in the home system (end)", False),
    ("persons_of_interest_recorded", "persons of interest with a record (end)", False),
    ("home_ties_linked", "home ties linked (end)", False),
]
#: Measures of all flows together (distinct home agents).
ABROAD_HOME: list[tuple[str, str]] = [
    ("home_agents_misrecorded", "home agents with a record from a false match (end)"),
    ("home_agents_linked", "home agents linked to a person recorded abroad (end)"),
]


def _flow_names(daily: pd.DataFrame, sc: Scenario | None) -> list[str]:
    """Flows with per-flow ``abroad_*`` columns, in scenario order."""
    have = [c.split("__", 1)[1] for c in daily.columns if c.startswith("abroad_visitors__")]
    order = [f.name for f in sc.data_flows] if sc is not None else []
    return [n for n in order if n in have] + [n for n in have if n not in order]


def has_abroad(daily: pd.DataFrame) -> bool:
    """Whether a daily table has the columns of the abroad stage."""
    return any(c.startswith("abroad_") for c in daily.columns)


def _abroad_value(daily: pd.DataFrame, metric: str, flow: str | None, summed: bool
                  ) -> float | None:
    col = f"abroad_{metric}" + (f"__{flow}" if flow else "")
    return _total(daily, col) if summed else _last(daily, col)


def _captures_word(flow: Any) -> str:
    caps = set(getattr(flow, "captures", ()) or ())
    return "faces" if caps & {"faces", "video"} else "captures"


def _stays(flow: Any, visits: float | None) -> bool:
    """A flow kept in the site's own country for which the run counted nothing."""
    return flow is not None and not flow.cross_border and not visits


def _stays_text(flow: Any) -> str:
    return (f"This flow's data stays in {flow.destination}, the site's own country, so "
            "nothing reaches the home system: the run counts no visits, captures or matches "
            "for it.")


def fig_abroad_reach(daily: pd.DataFrame, name: str, flow: Any = None) -> ReportFigure:
    """One flow's visitors, captures and identifications, summed since day 1."""
    fig = _new_figure("so far")
    sfx = f"__{name}"
    site = flow.site.name if flow is not None else name
    _line(fig, daily, f"abroad_visitors{sfx}", "visits", color="#999999", cumulative=True)
    _line(fig, daily, f"abroad_captured{sfx}", "captured by the site's sensors", color=C_SCORE,
          cumulative=True)
    _line(fig, daily, f"abroad_identified{sfx}", "identified against the home gallery",
          color=C_LISTED, cumulative=True, width=3)
    visits = _total(daily, f"abroad_visitors{sfx}")
    captured = _total(daily, f"abroad_captured{sfx}")
    ident = _total(daily, f"abroad_identified{sfx}")
    caption = (f"People who live near “{site}” visit it every day; its sensors capture most "
               "of them, and each capture is searched against the home system's gallery (persons "
               "of interest, people with family or business at home, anyone captured before). "
               "Running totals since day 1; a regular visitor counts once per visit.")
    if _stays(flow, visits):
        caption += " " + _stays_text(flow)
    elif flow is not None:
        caption += (f" The data goes to {flow.destination}"
                    + ("." if flow.cross_border else
                       f", in the site's own country ({flow.site.jurisdiction}).")
                    )
    if visits is not None and captured is not None and not _stays(flow, visits):
        caption += (f" Over the run: {plural(visits, 'visit', 'visits')}, {fmt(captured)} "
                    f"captured ({pct(captured / visits) if visits else '–'})"
                    + (f", {fmt(ident)} identified." if ident is not None else "."))
    cols = [f"abroad_{m}{sfx}" for m in ("visitors", "captured", "identified")]
    return ReportFigure(f"fig-abroad-{_slug(name)}", f"abroad_captured{sfx}",
                        f"Captured at {site}", caption, _finish(fig),
                        [c for c in cols if _has(daily, c)])


def fig_abroad_records(daily: pd.DataFrame, name: str, flow: Any = None) -> ReportFigure:
    """One flow's records in the home system, summed since day 1.

    People recorded, persons of interest, home ties, and false matches onto home agents.
    """
    fig = _new_figure("people (records)")
    sfx = f"__{name}"
    site = flow.site.name if flow is not None else name
    _line(fig, daily, f"abroad_recorded_total{sfx}", "people with a record", color=C_LISTED,
          width=3)
    _line(fig, daily, f"abroad_persons_of_interest_recorded{sfx}",
          "persons of interest with a record", color="#CC79A7")
    _line(fig, daily, f"abroad_home_ties_linked{sfx}", "linked to a tie at home",
          color="#56B4E9", dash="dash")
    _line(fig, daily, f"abroad_false_matches{sfx}", "wrongly matched to someone at home (so far)",
          color=C_HARM, cumulative=True, dash="dot")
    visits = _total(daily, f"abroad_visitors{sfx}")
    rec = _last(daily, f"abroad_recorded_total{sfx}")
    poi = _last(daily, f"abroad_persons_of_interest_recorded{sfx}")
    ties = _last(daily, f"abroad_home_ties_linked{sfx}")
    false = _total(daily, f"abroad_false_matches{sfx}")
    word = _captures_word(flow)
    caption = ("What the home system learns from the site: a visitor identified for the first "
               "time gets a record (a file); a visitor with a relative or associate at home is "
               "linked to that person; and a capture matched to the wrong person files a record "
               "on someone at home who was never there.")
    if _stays(flow, visits):
        caption += " " + _stays_text(flow)
    elif visits is not None and rec is not None:
        caption += (f" Of {plural(visits, 'visit', 'visits')} to “{site}”, "
                    f"{plural(rec, 'person was', 'people were')} given a record in the home "
                    "system")
        extra = []
        if poi is not None:
            extra.append(f"{fmt(poi)} of them persons of interest")
        if ties is not None:
            extra.append(f"{fmt(ties)} linked to someone at home")
        caption += (f" ({'; '.join(extra)})" if extra else "")
        if false is not None:
            caption += (f"; {fmt(false)} {word if false != 1 else word.rstrip('s')} "
                        f"{'was' if false == 1 else 'were'} wrongly matched to people at home.")
        else:
            caption += "."
    cols = [f"abroad_{m}{sfx}" for m in ("recorded_total", "persons_of_interest_recorded",
                                         "home_ties_linked", "false_matches")]
    return ReportFigure(f"fig-abroad-{_slug(name)}-records", f"abroad_recorded_total{sfx}",
                        f"Records from {site}", caption, _finish(fig),
                        [c for c in cols if _has(daily, c)])


def abroad_table(daily: pd.DataFrame, names: Sequence[str], sc: Scenario | None = None) -> Table:
    """The table of measures per flow.

    Visits, captures, identifications and false matches over the run, and the records,
    persons of interest and home ties at the end.
    """
    many = len(names) > 1
    cols = ["measure", *names] + (["all flows"] if many else [])
    rows, attrs = [], []
    for metric, label, summed in ABROAD_MEASURES:
        if not any(_has(daily, f"abroad_{metric}__{n}") for n in names):
            continue
        row = [label + (" (total)" if summed else "")]
        row += [fmt(_abroad_value(daily, metric, n, summed)) for n in names]
        if many:
            row.append(fmt(_abroad_value(daily, metric, None, summed)))
        rows.append(row)
        attrs.append({"data-measure": metric})
    for metric, label in ABROAD_HOME:
        if not _has(daily, f"abroad_{metric}"):
            continue
        v = fmt(_last(daily, f"abroad_{metric}"))
        rows.append([label, *["–"] * len(names), v] if many else [label, v])
        attrs.append({"data-measure": metric})
    note = ("Visits, captures, identifications and false matches are summed over the run (a "
            "regular visitor counts once per visit); the other rows are counts on the last day. "
            "Home agents are distinct synthetic people, all flows together.")
    samples = []
    if sc is not None:
        from scslab.stages.abroad import MAX_DENSE_RESIDENTS

        for f in sc.data_flows:
            pop = f.site.visitors.foreign_resident_population
            if f.name in names and pop > MAX_DENSE_RESIDENTS:
                samples.append(f"{f.name}: a sample of {fmt(MAX_DENSE_RESIDENTS)} of its "
                               f"{fmt(pop)} residents (multiply by {fmt(pop / MAX_DENSE_RESIDENTS)})")
    if samples:
        note += " Simulated as a sample: " + "; ".join(samples) + "."
    return Table("Data abroad: totals", cols, rows, note, id="abroad-totals",
                 row_attrs=attrs)


def _audit_result(flows: Sequence[Any]) -> Any:
    """The audit of some flows, or None when it cannot run (never fails a report)."""
    if not flows:
        return None
    try:
        from scslab.audit import audit_flows

        return audit_flows(list(flows))
    except Exception:  # noqa: BLE001 - an audit table is a nicety; never fail a report for it
        return None


def audit_table(result: Any, flow: Any) -> Table:
    """One flow's audit findings: law, section, requirement, met/breach, why."""
    from scslab.audit import DISCLAIMER

    rows, attrs = [], []
    for f in result.findings:
        if f.flow != flow.name:
            continue
        rows.append([f.law, f.section, f.requirement,
                     "BREACH" if f.status == "breach" else "met", f.why])
        attrs.append({"data-law": f.law, "data-requirement": f.requirement_id,
                      "data-status": f.status})
    laws = []
    for a in result.applicability:
        if a.flow == flow.name and a.applies:
            laws.append(a.law + ("" if a.governs_collection else " (at the destination only)"))
    n_breach = sum(1 for a in attrs if a["data-status"] == "breach")
    parts = [(f"Laws that apply: {', '.join(laws)}. {n_breach} of {len(rows)} requirements "
              "breached." if laws else "No law in the rule set applies.")]
    parts += [n.text for n in result.notes if n.flow == flow.name]
    parts.append(DISCLAIMER)
    return Table(f"Privacy-law audit of {flow.name} ({flow.site.jurisdiction} → "
                 f"{flow.destination})", ["law", "section", "requirement", "status", "why"],
                 rows, " ".join(parts), id=f"abroad-audit-{_slug(flow.name)}", numeric_from=99,
                 row_attrs=attrs)


def abroad_section(result: Result) -> Section | None:
    """The "Data abroad" panel: per flow, charts, a totals table and the audit findings."""
    daily, sc = result.daily, result.scenario
    if not has_abroad(daily):
        return None
    names = _flow_names(daily, sc)
    flows = {f.name: f for f in sc.data_flows} if sc is not None else {}
    figures = []
    for n in names:
        figures += [fig_abroad_reach(daily, n, flows.get(n)),
                    fig_abroad_records(daily, n, flows.get(n))]
    tables = [abroad_table(daily, names, sc)]
    audit = _audit_result(list(flows.values()))
    if audit is not None:
        tables += [audit_table(audit, flows[n]) for n in names if n in flows]
    intro = ("Sites abroad whose cameras or servers send what they capture to the home system. "
             "The people there are synthetic residents; their numbers come from the flow's "
             "declared visitors. Each capture is matched against the home gallery with the "
             "home cameras' error rates, so some land on the wrong person at home. The audit "
             "tables read each flow against the privacy laws in the rule set.")
    return Section("abroad", "Data abroad", intro, figures, tables)


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
    fig = _new_figure(_human(col) + (" (scaled)" if factor != 1.0 else ""))
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


# --------------------------------------------------------------------------- run content


def _agents(result: Result) -> int | None:
    n = result.summary.get("agents")
    if n is None and result.scenario is not None:
        n = result.scenario.population.agents
    return int(n) if n else None


def run_figures(result: Result) -> list[ReportFigure]:
    """Every chart of a run's report, in report order."""
    return [f for s in run_sections(result) for f in s.figures]


def run_sections(result: Result) -> list[Section]:
    """The report of one run, as sections of figures and tables (shared with the dashboard)."""
    daily, sc = result.daily, result.scenario
    grades = [(g.name, g.min_score) for g in sc.policy.grades] if sc is not None else None
    rules = dict(sc.policy.rules) if sc is not None else None
    harms = Section("harms", "Harms",
                    "What the system does to people who did nothing wrong: identity errors, "
                    "punishment through others, unequal treatment of groups, and self-censorship.",
                    [fig_harms(daily), fig_harm_events(daily), fig_group_rates(daily),
                     fig_disparate_impact(daily)], [group_table(result)])
    chill = fig_chilling(result.summary)
    if chill is not None:
        harms.figures.append(chill)
    sections = [s for s in (scale_section(result), targets_section(result)) if s is not None]
    sections += [
        Section("scores", "Scores",
                "Every synthetic person has a score that rises and falls with what sensors "
                "record about them.", [fig_score(daily), fig_grades(daily, grades)]),
        Section("lists", "Lists", "Low scores and court orders put people on lists.",
                [fig_lists(daily, _agents(result)), fig_list_flows(daily)]),
        Section("sanctions", "Sanctions", "Listed people are refused services.",
                [fig_denials(daily)], [denials_table(daily)]),
        harms,
    ]
    abroad = abroad_section(result)
    if abroad is not None:
        sections.append(abroad)
    sections += [
        Section("spillover", "Punishment that spreads",
                "Punishment reaches relatives, friends and employers.", [fig_spillover(daily)]),
        Section("due-process", "Due process", "How, if at all, people can clear their name.",
                [fig_due_process(daily)]),
        Section("acts", "Behaviour", "What the synthetic people did, seen or unseen.",
                [fig_acts(daily, rules)]),
    ]
    return sections


def headlines(result: Result) -> list[Headline]:
    """The headline numbers of a run, each with a plain-language note."""
    daily, summary = result.daily, result.summary
    n = _agents(result)
    listed = _last(daily, "listed")
    wrong = _last(daily, "wrongful_listed")
    kinds = _denial_kinds(daily)
    denials = sum(_total(daily, f"denied_{k}") or 0 for k in kinds) if kinds else None
    out = [
        Headline("listed", "on a list at the end", listed, fmt(listed),
                 f"{pct(listed / n, 2)} of {fmt(n)} people" if listed is not None and n else
                 "blacklist or court list"),
        Headline("wrongful_listed", "wrongly listed at the end", wrong, fmt(wrong),
                 (f"{pct(wrong / listed)} of the listed, only because of identity errors"
                  if wrong is not None and listed else "only because of identity errors")),
        Headline("misattributed_events", "acts pinned on the wrong person",
                 _total(daily, "misattributed_events"), fmt(_total(daily, "misattributed_events")),
                 "false matches over the whole run"),
        Headline("denials", "refusals", denials, fmt(denials),
                 "flights, trains, property, loans, services, schools"),
        Headline("denied_wrongful", "refusals to the wrongly listed",
                 _total(daily, "denied_wrongful"), fmt(_total(daily, "denied_wrongful")),
                 "services refused to people listed by mistake"),
        Headline("collateral_sanctioned", "punished through others",
                 _last(daily, "collateral_sanctioned"), fmt(_last(daily, "collateral_sanctioned")),
                 "sanctioned because a relative or employer is listed"),
    ]
    di = _disparate(daily)
    out.append(Headline("disparate_impact", "disparate impact", di,
                        "–" if di is None else f"{fmt(di)}×",
                        "worst-hit group's wrongful-listing rate ÷ least-hit group's"
                        if di is not None else "undefined: some group had no wrongful listing"))
    eff = summary.get("chilling_effect")
    out.append(Headline("chilling_effect", "chilling effect", eff,
                        pct(eff) if eff is not None else "not measured",
                        "less criticism because people feel watched" if eff is not None else
                        "run with --chilling (dashboard: “Measure the chilling effect”)"))
    return _scale_headlines(out, summary, kinds, n)


#: The daily columns behind each count headline (scaled when they all scale).
_HEADLINE_COLUMNS = {"listed": ["listed"], "wrongful_listed": ["wrongful_listed"],
                     "misattributed_events": ["misattributed_events"],
                     "denied_wrongful": ["denied_wrongful"],
                     "collateral_sanctioned": ["collateral_sanctioned"]}


def _scale_headlines(heads: list[Headline], summary: dict, kinds: list[str], n: int | None
                     ) -> list[Headline]:
    """Count headlines scaled to the population the sample represents (sample in small print)."""
    scale = summary.get("scale")
    if not scale:
        return heads
    factor = float(scale["factor"])
    cols = {**_HEADLINE_COLUMNS, "denials": [f"denied_{k}" for k in kinds]}
    out = []
    for h in heads:
        c = cols.get(h.key)
        if c and h.value is not None and all(_scales(summary, x) for x in c):
            note = h.note
            if h.key == "listed" and n:
                note = f"{pct(h.value / n, 2)} of {people(scale.get('represents'))} people"
            text = approx(h.value * factor)
            h = replace(h, scaled=h.value * factor, text=text,
                        sample_text=h.text if text != h.text else "", note=note)
        out.append(h)
    return out


def denials_table(daily: pd.DataFrame) -> Table:
    """Refusals per sanction type over the run."""
    rows = [[_human(k), fmt(_total(daily, f"denied_{k}")), fmt(_last(daily, f"denied_{k}"))]
            for k in _denial_kinds(daily)]
    if _has(daily, "denied_wrongful"):
        rows.append(["of which to wrongly listed people", fmt(_total(daily, "denied_wrongful")),
                     fmt(_last(daily, "denied_wrongful"))])
    if _has(daily, "collateral_denials"):
        rows.append(["to people punished through others",
                     fmt(_total(daily, "collateral_denials")),
                     fmt(_last(daily, "collateral_denials"))])
    return Table("Refusals by type", ["sanction", "total over the run", "last day"], rows)


def group_table(result: Result) -> Table:
    """Per-group harms: listed, wrongly listed, rates and misattributed acts."""
    daily, sc = result.daily, result.scenario
    shares = {g.name: g.share for g in sc.population.groups} if sc is not None else {}
    mult = dict(sc.sensors.cameras.group_multipliers) if sc is not None else {}
    rows = []
    for g in _groups(daily):
        rate = daily[f"wrongful_rate__{g}"]
        last_rate = _last(daily, f"wrongful_rate__{g}")
        rows.append([
            g, pct(shares.get(g)) if g in shares else "–",
            fmt(mult.get(g, 1.0)) + "×",
            fmt(_last(daily, f"listed__{g}")), fmt(_last(daily, f"wrongful_listed__{g}")),
            fmt(None if last_rate is None else last_rate * 1e4),
            fmt(float(pd.to_numeric(rate).mean()) * 1e4 if len(rate) else None),
            fmt(_total(daily, f"misattributed__{g}")),
        ])
    return Table("Harms by group",
                 ["group", "share of households", "camera false-match multiplier",
                  "listed (last day)", "wrongly listed (last day)",
                  "wrongly listed per 10,000 (last day)", "per 10,000 (run average)",
                  "misattributed acts landing on the group"], rows,
                 "Disparate impact = highest run-average rate ÷ lowest.")


def governance_rows(sc: Scenario) -> list[list[str]]:
    """Governance settings as [setting, value, what it means] rows."""
    g = sc.governance
    d = sc.responses.deterrence
    secret = value_text(g.transparency) == "secret"
    rows = [["Rules", "secret" if secret else "published",
             (f"Only {pct(d.awareness_secret, 0)} of people know the rules; the listed rarely "
              "know why." if secret else
              f"{pct(d.awareness_published, 0)} of people know the rules and why they were "
              "listed.")]]
    a = g.appeals
    rows.append(["Appeals", "on" if a.enabled else "off",
                 (f"Decided after {a.review_delay_days} days; a wrong record is overturned with "
                  f"probability {pct(a.success_if_wrong, 0)}, a right one with "
                  f"{pct(a.success_if_right, 0)}." if a.enabled else
                  "No way to contest a listing.")])
    e = g.evidence_review
    rows.append(["Evidence review", "on" if e.enabled else "off",
                 (f"{pct(e.reversal_probability, 0)} of wrong identity matches are caught before "
                  "they count." if e.enabled else "Automated matches count as they are.")])
    x = g.expiry
    rows.append(["Expiry of list entries", f"after {x.days} days" if x.enabled else "off",
                 "Entries are removed after a fixed time." if x.enabled else
                 "A blacklist entry lasts until the score recovers."])
    c = g.credit_repair
    rows.append(["Credit repair", "on" if c.enabled else "off",
                 (f"Listed people do repair acts ({pct(c.rate)} a day, +{fmt(c.points)} points "
                  "each)." if c.enabled else "No way to earn one's way back.")])
    return rows


def scenario_tables(sc: Scenario) -> list[Table]:
    """The key parameters of a scenario, as small tables."""
    from scslab.scenario.schema import Cameras

    p, pol = sc.population, sc.policy
    pop = Table("Population", ["setting", "value"], [
        ["synthetic people", fmt(p.agents)],
        ["groups (share of households)", ", ".join(f"{g.name} {pct(g.share)}" for g in p.groups)],
        ["regions (share, cameras per 1,000)",
         "; ".join(f"{r.name} {pct(r.share, 0)}, {fmt(r.cameras_per_1000)}" for r in p.regions)],
        ["friends and associates per person", fmt(p.ties.mean_degree)],
        ["adults employed by a business", pct(p.employers.employed_share, 0)],
    ])
    local = {r.name: r.rules for r in p.regions if r.rules}
    rule_rows = []
    for b, pts in pol.rules.items():
        extra = "; ".join(f"{reg}: {fmt(rr[b])}" for reg, rr in local.items() if b in rr)
        rule_rows.append([_human(b), ("+" if pts > 0 else "") + fmt(pts), extra or "–"])
    rules = Table("Points per recorded act", ["act", "points", "local pilot rules"], rule_rows,
                  f"Everyone starts at {fmt(pol.scoring.base)} points (range "
                  f"{fmt(pol.scoring.minimum)}–{fmt(pol.scoring.maximum)}); scores drift back "
                  f"toward the start by {pct(pol.scoring.decay)} of the gap a day.")
    bl, ct, rl = pol.lists.blacklist, pol.lists.court, pol.lists.redlist
    lists = Table("Lists", ["list", "rule"], [
        ["blacklist", (f"enter below {fmt(bl.enter_below)}, leave at {fmt(bl.exit_at_or_above)}"
                       f" (at least {bl.min_days} days)") if bl.enabled else "off"],
        ["court list", (f"a recorded {_human(ct.trigger)} lists for {ct.term_days} days")
         if ct.enabled else "off"],
        ["redlist", f"score ≥ {fmt(rl.min_score)}" if rl.enabled else "off"],
        ["grades", ", ".join(f"{g.name} ≥ {fmt(g.min_score)}" if g.min_score > -1e5 else
                             f"{g.name} below" for g in pol.grades)],
    ])
    sens_rows = []
    for name, s in sc.sensors.items():
        if not s.enabled:
            sens_rows.append([_human(name), "off", "–", "–", "–", "–"])
            continue
        cov = pct(s.coverage, 0)
        if isinstance(s, Cameras) and s.density_coverage:
            cov = f"from camera density (63% at {fmt(s.saturation_per_1000)} per 1,000)"
        sens_rows.append([_human(name), value_text([_human(o) for o in s.observes]), cov,
                          pct(s.detection, 0), pct(s.false_match_rate, 3),
                          value_text({k: f"{fmt(v)}×" for k, v in s.group_multipliers.items()})])
    sensors = Table("Sensors", ["sensor", "observes", "coverage", "detection",
                                "false-match rate", "group multipliers"], sens_rows,
                    "A false match records the act on someone else, usually a look-alike of the "
                    "same group.")
    sanc = Table("Sanctions", ["sanction", "attempts per person-day", "denied to"], [
        [_human(k), pct(s.attempt_rate, 2), value_text(list(s.lists))]
        for k, s in pol.sanctions.items()])
    sp = pol.spillover
    spill = Table("Joint punishment", ["setting", "value"], [
        ["spillover", "on" if sp.enabled else "off"],
        ["household members of a listed person", f"−{fmt(sp.household.penalty)} points a day; "
         f"sanctions: {value_text([_human(x) for x in sp.household.sanctions])}"],
        ["friends of a listed person", f"−{fmt(sp.ties.penalty)} points a day"],
        ["business with a listed representative",
         f"−{fmt(sp.employer.representative_listed_points)} points a day"],
        ["employees of a listed business", f"−{fmt(sp.employer.employee_penalty)} points a day"],
    ])
    return [pop, rules, lists, sensors, sanc, spill]


def provenance_rows(summary: dict) -> list[list[str]]:
    """Where the numbers come from: versions, hashes, timings."""
    prov = summary.get("provenance") or {}
    rows = [["run id", str(summary.get("run_id") or "–")],
            ["scslab", str(prov.get("scslab", "–"))],
            ["git commit", str(prov.get("git_commit") or "unknown")],
            ["Python", str(prov.get("python", "–"))],
            ["platform", str(prov.get("platform", "–"))]]
    pk = prov.get("packages") or {}
    if pk:
        rows.append(["packages", ", ".join(f"{k} {v}" for k, v in pk.items())])
    rows += [["scenario hash", str(prov.get("scenario_hash", "–"))],
             ["threads / device", f"{prov.get('threads', '–')} / {prov.get('device', '–')}"]]
    if summary.get("elapsed_seconds") is not None:
        rate = summary.get("agent_days_per_second")
        rows.append(["time", f"build {fmt(summary.get('build_seconds'))} s, day loop "
                     f"{fmt(summary.get('elapsed_seconds'))} s"
                     + (f" ({fmt(float(rate))} agent-days/s)" if rate else "")])
    if summary.get("peak_memory_bytes"):
        rows.append(["peak memory", f"{summary['peak_memory_bytes'] / 2**20:,.0f} MiB"])
    ev = summary.get("event_log") or {}
    if ev:
        rows.append(["event log", f"{ev.get('scope', '–')} ({fmt(ev.get('rows'))} rows)"
                     if ev.get("enabled") else "off"])
    return rows


def _glossary(daily: pd.DataFrame, sc: Scenario | None) -> list[list[str]]:
    """Every daily column with its meaning, from the metric registry."""
    try:
        from scslab.scenario.schema import SANCTION_KINDS
        from scslab.stages.abroad import abroad_metrics
        from scslab.stages.metrics import registry

        if sc is None:
            return []
        reg = registry(list(sc.behaviours), list(SANCTION_KINDS), [g.name for g in
                                                                   sc.policy.grades],
                       [g.name for g in sc.population.groups])
        reg += abroad_metrics(sc.data_flows)
    except Exception:  # noqa: BLE001 - a glossary is a nicety; never fail a report for it
        return []
    return [[m.name, m.description, m.unit, m.kind] for m in reg if m.name in daily.columns]


# --------------------------------------------------------------------------- comparison


def comparison_data(cmp: Comparison) -> ComparisonData:
    """A `scslab.comparison.Comparison` (in memory) as report data."""
    runs: dict[str, list[Result]] = {lab: [] for lab in cmp.labels}
    for lab, res in zip(cmp.per_run["scenario"], cmp.results, strict=False):
        runs.setdefault(str(lab), []).append(res)
    return ComparisonData(list(cmp.labels), cmp.table, cmp.per_run, runs, cmp.out_dir)


def load_comparison(out_dir: str | Path) -> ComparisonData:
    """Read a ``scslab compare --out`` directory (comparison.csv, runs.csv, run dirs)."""
    out_dir = Path(out_dir)
    for name in ("comparison.csv", "runs.csv"):
        kind = not_regular(out_dir / name)
        if kind is not None:
            raise RunDirError(f"{out_dir / name} is not a regular file ({kind}); re-run the "
                              "comparison")
    try:
        table = pd.read_csv(out_dir / "comparison.csv")
        per_run = pd.read_csv(out_dir / "runs.csv")
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        # pandas' ParserError and EmptyDataError are ValueErrors
        raise RunDirError(f"{out_dir}: unreadable comparison ({str(e).splitlines()[0]})") from None
    if "outcome" not in table.columns or not {"scenario", "replicate"} <= set(per_run.columns):
        raise RunDirError(f"{out_dir}: comparison.csv or runs.csv lacks the expected columns")
    _check_comparison(out_dir, table, per_run)
    labels = list(dict.fromkeys(str(s) for s in per_run["scenario"]))
    runs: dict[str, list[Result]] = {lab: [] for lab in labels}
    for lab, rep in zip(per_run["scenario"], per_run["replicate"], strict=True):
        d = out_dir / f"{lab}-r{int(rep)}"
        runs[str(lab)].append(load_run(d))
    return ComparisonData(labels, table, per_run, runs, out_dir)


def _check_comparison(out_dir: Path, table: pd.DataFrame, per_run: pd.DataFrame) -> None:
    """Raise RunDirError when a comparison holds values the report cannot use.

    The error names the file and column: text where numbers belong, a replicate that is
    not a number.
    """
    def bad(name: str, what: str) -> RunDirError:
        return RunDirError(f"{out_dir / name}: {what}; re-run the comparison")

    for col in ("replicate", "seed"):
        if col in per_run.columns and not pd.api.types.is_integer_dtype(per_run[col]):
            raise bad("runs.csv", f"column {col!r} holds {per_run[col].dtype} values, "
                                  "expected whole numbers")
    if (per_run["replicate"] < 0).any():
        raise bad("runs.csv", "column 'replicate' holds a negative number")
    for lab in per_run["scenario"]:
        if pd.isna(lab) or not str(lab).strip() or any(c in str(lab) for c in "/\\\0"):
            raise bad("runs.csv", f"scenario label {str(lab)!r} is not a run name")
    text_ok = {"scenario", "run_id"}
    for col in per_run.columns:
        if col not in text_ok and not pd.api.types.is_numeric_dtype(per_run[col]):
            raise bad("runs.csv", f"column {col!r} holds text, expected numbers")
    for col in table.columns:
        if col not in ("outcome", "description") and not pd.api.types.is_numeric_dtype(
                table[col]):
            raise bad("comparison.csv", f"column {col!r} holds text, expected numbers")


def _interval_text(m: Any, lo: Any, hi: Any) -> str:
    if _isnan(m):
        return "–"
    s = fmt(float(m))
    if not _isnan(lo) and not _isnan(hi):
        s += f" [{fmt(float(lo))}, {fmt(float(hi))}]"
    return s


def comparison_rows(data: ComparisonData) -> Table:
    """The outcome table: mean [95% interval] per scenario and paired differences."""
    base = data.labels[0]
    cols = ["outcome"] + data.labels + [f"{lab} − {base}" for lab in data.labels[1:]]
    rows = []
    for _, r in data.table.iterrows():
        cells = [str(r.get("description", r["outcome"]))]
        for lab in data.labels:
            cells.append(_interval_text(r.get(lab), r.get(f"{lab}__lo"), r.get(f"{lab}__hi")))
        for lab in data.labels[1:]:
            k = f"{lab}-{base}"
            lo, hi = r.get(f"{k}__lo"), r.get(f"{k}__hi")
            txt = _interval_text(r.get(k), lo, hi)
            if not _isnan(lo) and not _isnan(hi) and (lo > 0 or hi < 0):
                txt += " *"
            cells.append(txt)
        rows.append(cells)
    n = data.replicates
    note = (f"{n} replicate(s) per scenario on common random numbers (replicate k of every "
            "scenario uses the same seed). Brackets: Student-t 95% intervals over replicates; "
            "differences are paired by replicate; * marks a difference whose interval excludes "
            "zero." if n > 1 else "One replicate per scenario: no intervals. Use --replicates 5 "
            "or more to see how much of a difference is noise.")
    return Table("Outcomes side by side", cols, rows, note)


COMPARE_METRICS: list[tuple[str, str, bool, str]] = [
    ("listed", "people on a list", False,
     "People on the blacklist or the court list at the end of each day."),
    ("wrongful_listed", "people wrongly listed", False,
     "People listed only because acts were pinned on them by identity errors."),
    ("collateral_sanctioned", "people punished through others", False,
     "People under a sanction only because a relative or employer is listed."),
    ("misattributed_events", "acts pinned on the wrong person (so far)", True,
     "Running total of acts recorded against someone who did not do them."),
    ("denied_all", "refusals (so far)", True,
     "Running total of refused flights, trains, purchases, loans, services and school places."),
    ("denied_wrongful", "refusals to the wrongly listed (so far)", True,
     "Running total of refusals suffered by people listed by mistake."),
    ("mean_score", "average score", False, "The average recorded score."),
    ("appeals_succeeded", "appeals upheld (so far)", True,
     "Running total of appeals decided in the person's favour."),
]


def _metric_frame(daily: pd.DataFrame, metric: str) -> pd.Series | None:
    if metric == "denied_all":
        cols = _cols(daily, "denied_", exclude=["denied_wrongful"])
        return daily[cols].sum(axis=1) if cols else None
    return daily[metric] if metric in daily.columns else None


def fig_compare_metric(data: ComparisonData, metric: str, ytitle: str, cumulative: bool,
                       caption: str) -> ReportFigure:
    """One daily measure, one line per scenario (mean over replicates, band = min–max)."""
    import plotly.graph_objects as go

    fig = _new_figure(ytitle)
    for k, lab in enumerate(data.labels):
        series = []
        for res in data.runs.get(lab, []):
            s = _metric_frame(res.daily, metric)
            if s is None:
                continue
            s = pd.to_numeric(s, errors="coerce").astype(float)
            if cumulative:
                s = s.fillna(0).cumsum()
            series.append(s.reset_index(drop=True))
        if not series:
            continue
        m = pd.concat(series, axis=1)
        days = list(range(1, len(m) + 1))
        color = PALETTE[k % len(PALETTE)]
        if len(series) > 1:
            fig.add_trace(go.Scatter(x=days, y=_clean(m.max(axis=1)), mode="lines",
                                     line={"width": 0}, showlegend=False, legendgroup=lab,
                                     hoverinfo="skip", name=f"{lab} max",
                                     meta={"column": metric, "scenario": lab, "stat": "max"}))
            fig.add_trace(go.Scatter(x=days, y=_clean(m.min(axis=1)), mode="lines",
                                     line={"width": 0}, fill="tonexty", showlegend=False,
                                     fillcolor=_rgba(color, 0.18), legendgroup=lab,
                                     hoverinfo="skip", name=f"{lab} min",
                                     meta={"column": metric, "scenario": lab, "stat": "min"}))
        dash = ("solid", "dash", "dot", "dashdot")[k % 4]  # overlapping lines stay visible
        fig.add_trace(go.Scatter(x=days, y=_clean(m.mean(axis=1)), mode="lines", name=lab,
                                 legendgroup=lab,
                                 line={"color": color, "width": 2.5, "dash": dash},
                                 meta={"column": metric, "scenario": lab, "stat": "mean",
                                       "transform": "cumulative" if cumulative else "none"}))
    if data.replicates > 1:
        caption += " Lines: average over replicates; shaded: lowest to highest replicate."
    return ReportFigure(f"fig-compare-{metric.replace('_', '-')}", metric, ytitle.capitalize(),
                        caption, _finish(fig), [metric])


def _clean(s: pd.Series) -> list:
    return [None if math.isnan(v) else float(v) for v in s.astype(float).to_numpy()]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def fig_compare_outcomes(data: ComparisonData) -> ReportFigure:
    """Every outcome as a small bar chart per scenario, with 95% intervals."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows_ = [r for _, r in data.table.iterrows()]
    n = max(len(rows_), 1)
    ncol = 3
    nrow = math.ceil(n / ncol)
    titles = [_wrap(str(r.get("description", r["outcome"])), 34) for r in rows_]
    fig = make_subplots(rows=nrow, cols=ncol, subplot_titles=titles or None,
                        vertical_spacing=min(0.5 / max(nrow - 1, 1), 0.12), horizontal_spacing=0.08)
    for i, r in enumerate(rows_):
        y, up, down = [], [], []
        for lab in data.labels:
            m, lo, hi = r.get(lab), r.get(f"{lab}__lo"), r.get(f"{lab}__hi")
            y.append(None if _isnan(m) else float(m))
            up.append(None if _isnan(hi) or _isnan(m) else float(hi) - float(m))
            down.append(None if _isnan(lo) or _isnan(m) else float(m) - float(lo))
        err = ({"type": "data", "array": up, "arrayminus": down, "visible": True}
               if any(v is not None for v in up) else None)
        fig.add_trace(go.Bar(x=data.labels, y=y, error_y=err, showlegend=False,
                             marker_color=[PALETTE[k % len(PALETTE)]
                                           for k in range(len(data.labels))],
                             name=str(r["outcome"]), meta={"column": str(r["outcome"])}),
                      row=i // ncol + 1, col=i % ncol + 1)
    fig.update_layout(template=_template(), height=max(260 * nrow, 300), hovermode="closest",
                      margin={"l": 50, "r": 20, "t": 60, "b": 40})
    fig.update_annotations(font_size=12)
    caption = ("Each small chart is one outcome; each bar one scenario (the average over "
               "replicates, with its 95% interval when there are several). Scales differ "
               "between charts.")
    return ReportFigure("fig-compare-outcomes", "outcomes", "Outcomes side by side", caption,
                        fig, [str(r["outcome"]) for r in rows_])


def _wrap(text: str, width: int) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return "<br>".join(lines)


COMPARE_ABROAD_METRICS: list[tuple[str, str, bool, str]] = [
    ("abroad_recorded_total", "people recorded abroad", False,
     "Foreign residents with a record in the home system, all data flows, at the end of each "
     "day."),
    ("abroad_false_matches", "false matches onto home agents (so far)", True,
     "Running total of captures abroad matched to the wrong person at home, all data flows."),
    ("abroad_home_agents_misrecorded", "home agents misrecorded from abroad", False,
     "Distinct home agents with at least one record from a false match abroad."),
]


def _has_flows(data: ComparisonData) -> bool:
    return any(has_abroad(r.daily) for rs in data.runs.values() for r in rs)


def comparison_abroad_figures(data: ComparisonData) -> list[ReportFigure]:
    """The data-abroad measures, one line per scenario (none when no run has data flows)."""
    if not _has_flows(data):
        return []
    figs = []
    for metric, ytitle, cumulative, caption in COMPARE_ABROAD_METRICS:
        f = fig_compare_metric(data, metric, ytitle, cumulative, caption)
        if f.figure.data:
            figs.append(f)
    return figs


def comparison_audit_table(data: ComparisonData) -> Table | None:
    """Each scenario's data flows read against the laws, requirement by requirement."""
    from scslab.audit import DISCLAIMER

    per: dict[str, dict[tuple[str, str], str]] = {}
    titles: dict[tuple[str, str], tuple[str, str]] = {}
    flows_text = []
    for lab in data.labels:
        rs = data.runs.get(lab) or []
        sc = rs[0].scenario if rs else None
        flows = list(sc.data_flows) if sc is not None else []
        flows_text.append(f"{lab}: " + (", ".join(f"{f.name} ({f.site.jurisdiction} → "
                                                  f"{f.destination})" for f in flows)
                                        or "no data flows"))
        res = _audit_result(flows)
        status: dict[tuple[str, str], str] = {}
        for f in res.findings if res is not None else ():
            key = (f.law, f.requirement_id)
            titles.setdefault(key, (f.section, f.requirement))
            if status.get(key) != "breach":
                status[key] = f.status
        per[lab] = status
    if not titles:
        return None
    rows, attrs = [], []
    for key, (section, title) in titles.items():
        cells = [{"breach": "BREACH", "met": "met"}.get(per[lab].get(key, ""), "–")
                 for lab in data.labels]
        rows.append([key[0], section, title, *cells])
        attrs.append({"data-law": key[0], "data-requirement": key[1],
                      **{f"data-status-{_slug(lab)}": per[lab].get(key, "n/a")
                         for lab in data.labels}})
    note = ("BREACH: some flow of the scenario breaches the requirement; met: every flow it "
            "applies to meets it; –: it applies to no flow of the scenario. Flows: "
            + "; ".join(flows_text) + ". " + DISCLAIMER)
    return Table("Privacy-law audit, scenario by scenario",
                 ["law", "section", "requirement", *data.labels], rows, note,
                 id="compare-audit", numeric_from=99, row_attrs=attrs)


def comparison_figures(data: ComparisonData) -> list[ReportFigure]:
    """Every chart of a comparison report (shared with the dashboard)."""
    figs = [fig_compare_outcomes(data)]
    for metric, ytitle, cumulative, caption in COMPARE_METRICS:
        f = fig_compare_metric(data, metric, ytitle, cumulative, caption)
        if f.figure.data:
            figs.append(f)
    return figs + comparison_abroad_figures(data)


def comparison_sections(data: ComparisonData) -> list[Section]:
    """The chart sections of a comparison report: outcomes, day by day, data abroad."""
    figs = comparison_figures(data)
    abroad = [f for f in figs if f.metric.startswith("abroad_")]
    daily = [f for f in figs[1:] if f not in abroad]
    out = [Section("compare-outcomes", "Outcome charts", "Each outcome for each scenario, as bars.",
                   figs[:1]),
           Section("compare-daily", "Day by day",
                   "The main measures over time, one line per scenario.", daily)]
    table = comparison_audit_table(data) if _has_flows(data) else None
    if abroad or table is not None:
        out.append(Section("compare-abroad", "Data abroad",
                           "What the scenarios' data flows feed into the home system, and how "
                           "each flow reads against the privacy laws in the rule set.", abroad,
                           [table] if table is not None else []))
    return out


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def scenario_differences(data: ComparisonData) -> Table:
    """Scenario settings that differ between the compared scenarios."""
    flat = {}
    for lab in data.labels:
        rs = data.runs.get(lab) or []
        if rs and rs[0].scenario is not None:
            flat[lab] = _flatten(rs[0].scenario.model_dump(mode="json"))
    keys = sorted(set().union(*[set(f) for f in flat.values()])) if flat else []
    rows = []
    for k in keys:
        if k in ("name", "description", "seed"):
            continue
        vals = [flat[lab].get(k) for lab in flat]
        if any(json.dumps(v, sort_keys=True, default=str) != json.dumps(vals[0], sort_keys=True,
                                                                        default=str)
               for v in vals[1:]):
            rows.append([k] + [_short(v) for v in vals])
    return Table("What differs between the scenarios", ["setting"] + list(flat), rows,
                 "Every scenario setting whose value is not the same in all scenarios "
                 "(seeds aside)." if rows else "The scenarios have identical settings.")


def _short(v: Any, limit: int = 80) -> str:
    s = value_text(v) if not isinstance(v, list | dict) else json.dumps(v, default=str)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def governance_side_by_side(data: ComparisonData) -> Table:
    """Governance settings of each scenario in columns."""
    per = {}
    for lab in data.labels:
        rs = data.runs.get(lab) or []
        if rs and rs[0].scenario is not None:
            per[lab] = governance_rows(rs[0].scenario)
    if not per:
        return Table("Governance", ["setting"], [])
    first = next(iter(per.values()))
    rows = [[r[0]] + [per[lab][i][1] for lab in per] for i, r in enumerate(first)]
    return Table("Settings per scenario", ["setting"] + list(per), rows)


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("scslab", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["pct"] = pct
    return env


@lru_cache(maxsize=1)
def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def _common(title: str) -> dict[str, Any]:
    import plotly

    return {"title": title, "plotlyjs": _plotlyjs(), "plotly_version": plotly.__version__,
            "config_json": json.dumps(PLOTLY_CONFIG),
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def render_run_html(result: Result) -> str:
    """The report of one run as a self-contained HTML page."""
    from scslab.scenario.loader import scenario_to_yaml

    sc, s, daily = result.scenario, result.summary, result.daily
    days_done = int(s.get("days", len(daily)) or len(daily))
    facts = [["scenario", sc.name], ["synthetic people", fmt(_agents(result))],
             ["days simulated", f"{days_done}" + (f" of {s['days_planned']} planned"
                                                  if s.get("days_planned") not in (None,
                                                                                   days_done)
                                                  else "")],
             ["seed", str(sc.seed)], ["start date", sc.start_date or "–"],
             ["completed", "yes" if s.get("completed", True) else
              "no — stopped early; the days done are shown"]]
    people_text, days_text = facts[1][1], facts[2][1]
    scale = s.get("scale") or {}
    scale_text = ""
    if scale:
        scale_text = f"standing for {people(scale.get('represents'))} people"
        facts.insert(2, ["they stand for", f"{people(scale.get('represents'))} people (each "
                                           f"counts for {fmt(scale.get('factor'))})"])
    ctx = _common(f"scslab report — {sc.name}")
    ctx.update(kind="run", scenario=sc, summary=s, facts=facts, people_text=people_text,
               days_text=days_text, scale_text=scale_text, headlines=headlines(result),
               sections=run_sections(result), governance=governance_rows(sc),
               params=scenario_tables(sc), provenance=provenance_rows(s),
               glossary=_glossary(daily, sc), scenario_yaml=scenario_to_yaml(sc),
               run_dir=str(result.run_dir) if result.run_dir else None,
               empty=daily.empty)
    return _env().get_template("report.html.j2").render(**ctx)


def render_comparison_html(data: ComparisonData) -> str:
    """The report of a comparison as a self-contained HTML page."""
    scen = []
    for lab in data.labels:
        rs = data.runs.get(lab) or []
        sc = rs[0].scenario if rs else None
        scen.append({"label": lab, "name": sc.name if sc else lab,
                     "description": sc.description if sc else "",
                     "agents": fmt(sc.population.agents) if sc else "–",
                     "days": fmt(sc.days) if sc else "–",
                     "runs": [str(r.run_dir.name) if r.run_dir else "–" for r in rs]})
    seeds = sorted({int(x) for x in data.per_run["seed"]}) if "seed" in data.per_run else []
    ctx = _common(f"scslab comparison — {' vs '.join(data.labels)}")
    ctx.update(kind="compare", labels=data.labels, scenarios=scen, replicates=data.replicates,
               seeds=seeds, table=comparison_rows(data), sections=comparison_sections(data),
               differences=scenario_differences(data),
               governance_table=governance_side_by_side(data),
               out_dir=str(data.out_dir) if data.out_dir else None)
    return _env().get_template("compare.html.j2").render(**ctx)


# --------------------------------------------------------------------------- files


def write_report(result: Result) -> Path:
    """Write ``report.html`` into the run directory of ``result``; return its path."""
    if result.run_dir is None:
        raise ScslabError("a report needs a run directory: run with out=… (--out)")
    out = Path(result.run_dir) / REPORT_FILE
    atomic_write_text(out, render_run_html(result))
    return out


def write_comparison_report(cmp: Comparison | ComparisonData, out: str | Path | None = None
                            ) -> Path:
    """Write the report of a comparison (default: ``report.html`` in its output directory)."""
    data = cmp if isinstance(cmp, ComparisonData) else comparison_data(cmp)
    if out is None:
        if data.out_dir is None:
            raise ScslabError("a comparison report needs an output path or directory")
        out = Path(data.out_dir) / REPORT_FILE
    out = Path(out)
    if out.is_dir():
        out = out / REPORT_FILE
    atomic_write_text(out, render_comparison_html(data))
    return out


def is_comparison_dir(path: str | Path) -> bool:
    """Whether ``path`` is a ``scslab compare --out`` directory."""
    p = Path(path)
    return (p / "comparison.csv").is_file() and (p / "runs.csv").is_file()


def build_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of a run directory or a comparison directory; return its path.

    Args:
        run_dir: a run directory (``scslab run --out``) or a comparison directory
            (``scslab compare --out``).
        out: the HTML file to write (a directory means ``DIR/report.html``); default
            ``report.html`` inside ``run_dir``.

    Raises:
        RunDirError: ``run_dir`` is missing, incomplete or corrupt.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory (give a run directory or a "
                          "`scslab compare --out` directory)")
    target = Path(out) if out is not None else run_dir / REPORT_FILE
    if target.is_dir():
        target = target / REPORT_FILE
    kind = not_regular(target)
    if kind is not None:  # a pipe or a device would be replaced by the report
        raise ScslabError(f"cannot write the report to {target}: it is not a regular file "
                          f"({kind}); give an .html file path")
    through_file = why_missing(target) if not target.parent.is_dir() else None
    if through_file:  # --out file.html/r.html: mkdir would say "File exists"
        raise ScslabError(f"cannot write the report to {target}: {through_file}")
    if is_comparison_dir(run_dir):
        text = render_comparison_html(load_comparison(run_dir))
    else:
        text = render_run_html(load_run(run_dir))
    try:
        atomic_write_text(target, text)
    except OSError as e:
        raise ScslabError(f"cannot write the report to {target}: {e.strerror or e}") from None
    return target
