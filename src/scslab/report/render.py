"""The reports as self-contained HTML pages (Jinja2 templates, plotly.js embedded) and files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scslab.errors import RunDirError, ScslabError
from scslab.fileio import atomic_write_text
from scslab.formatting import fmt, pct, people
from scslab.inputs import not_regular, why_missing
from scslab.report.common import _agents
from scslab.report.comparison import (
    ComparisonData,
    comparison_data,
    comparison_rows,
    comparison_sections,
    governance_side_by_side,
    load_comparison,
    scenario_differences,
)
from scslab.report.elements import PLOTLY_CONFIG, REPORT_FILE
from scslab.report.headline import headlines
from scslab.report.sections import run_sections
from scslab.report.tables import _glossary, governance_rows, provenance_rows, scenario_tables
from scslab.results import Result, load_run

if TYPE_CHECKING:
    from scslab.comparison import Comparison

__all__ = ["build_report", "is_comparison_dir", "render_comparison_html", "render_run_html",
           "write_comparison_report", "write_report"]



@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("scslab.report", "templates"),
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
