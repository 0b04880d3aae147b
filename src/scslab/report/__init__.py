"""HTML reports: one self-contained file per run or comparison, readable offline.

A report embeds plotly.js once, the figures as JSON, and every number it shows,
so it can be mailed, archived or opened on a machine with no network. The
figure functions here are the single source of the charts: the dashboard
(``scslab.dashboard``) draws the same ``ReportFigure`` objects.

The package, along its seams:

* ``elements`` — ``ReportFigure``, ``Table``, ``Section`` and the constants;
* ``headline`` — the headline numbers (``headlines``);
* ``figures``, ``abroad``, ``targets`` — the charts and panels of a run;
* ``tables`` — refusals, harms by group, governance, scenario settings, provenance;
* ``sections`` — a run's report in order (``run_sections``);
* ``comparison`` — what a comparison report shows;
* ``render`` — the HTML pages (templates in ``templates/``) and the files.

Numbers are formatted by ``scslab.formatting``, shared with ``scslab.describe``.

>>> r = scslab.run("national", agents=5_000, days=30, out="runs/demo")  # doctest: +SKIP
>>> build_report("runs/demo")                         # runs/demo/report.html   # doctest: +SKIP
"""

from __future__ import annotations

from scslab.formatting import approx, fmt, pct, people, signed_pct, value_text
from scslab.report.abroad import abroad_section, abroad_table, audit_table, has_abroad
from scslab.report.comparison import (
    ComparisonData,
    comparison_audit_table,
    comparison_data,
    comparison_figures,
    comparison_rows,
    comparison_sections,
    governance_side_by_side,
    load_comparison,
    scenario_differences,
)
from scslab.report.elements import PLOTLY_CONFIG, REPORT_FILE, ReportFigure, Section, Table
from scslab.report.headline import Headline, headlines
from scslab.report.render import (
    build_report,
    is_comparison_dir,
    render_comparison_html,
    render_run_html,
    write_comparison_report,
    write_report,
)
from scslab.report.sections import run_figures, run_sections
from scslab.report.tables import (
    denials_table,
    fairness_table,
    governance_rows,
    group_table,
    provenance_rows,
    scenario_tables,
)
from scslab.report.targets import scale_section, targets_section, targets_table

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
    "fairness_table",
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
