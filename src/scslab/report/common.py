"""Helpers shared by the report's charts and tables (package-internal).

Reading daily columns (missing columns and NaN handled), the Plotly template and
layout every chart starts from, and the run's population size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from scslab.formatting import is_missing
from scslab.outcomes import refusal_columns
from scslab.report.elements import PALETTE
from scslab.results import Result

if TYPE_CHECKING:
    import plotly.graph_objects as go

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
    return None if is_missing(v) else float(v)


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
    return [c[len("denied_"):] for c in refusal_columns(daily.columns)]


# --------------------------------------------------------------------------- figure helpers


#: The legend goes under the chart, anchored to the bottom of the figure: above the plot it
#: runs into Plotly's mode bar (the toolbar at the top right) as soon as it is wide.
LEGEND_BELOW: dict[str, Any] = {"orientation": "h", "yref": "container", "y": 0,
                                "yanchor": "bottom", "x": 0, "xanchor": "left"}


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
                      legend=LEGEND_BELOW,
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


def _agents(result: Result) -> int | None:
    n = result.summary.get("agents")
    if n is None and result.scenario is not None:
        n = result.scenario.population.agents
    return int(n) if n else None
