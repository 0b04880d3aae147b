"""The report's building blocks: a chart, a table, a section, and the report's constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["C_HARM", "C_LISTED", "C_SCORE", "C_TRUE", "PALETTE", "PLOTLY_CONFIG", "REPORT_FILE",
           "ReportFigure", "Section", "Table"]

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
