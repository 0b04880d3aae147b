"""The comparison report: outcome table, charts per scenario, differences, audit by scenario."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from scslab.errors import RunDirError
from scslab.formatting import fmt, is_missing, slug, value_text
from scslab.inputs import not_regular
from scslab.outcomes import refusal_columns
from scslab.report.abroad import _audit_result, has_abroad
from scslab.report.common import _finish, _new_figure, _template
from scslab.report.elements import PALETTE, ReportFigure, Section, Table
from scslab.report.tables import governance_rows
from scslab.results import Result, load_run

if TYPE_CHECKING:
    from scslab.comparison import Comparison


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
        if (col not in text_ok and not col.startswith("text__")  # fairness: ratio or shortfall
                and not pd.api.types.is_numeric_dtype(per_run[col])):
            raise bad("runs.csv", f"column {col!r} holds text, expected numbers")
    for col in table.columns:
        if col not in ("outcome", "description") and not col.endswith("__text") \
                and not pd.api.types.is_numeric_dtype(table[col]):
            raise bad("comparison.csv", f"column {col!r} holds text, expected numbers")


def _interval_text(m: Any, lo: Any, hi: Any) -> str:
    if is_missing(m):
        return "–"
    s = fmt(float(m))
    if not is_missing(lo) and not is_missing(hi):
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
            text = r.get(f"{lab}__text")  # a fairness ratio's exact interval, or its shortfall
            cells.append(text if isinstance(text, str) else
                         _interval_text(r.get(lab), r.get(f"{lab}__lo"), r.get(f"{lab}__hi")))
        for lab in data.labels[1:]:
            k = f"{lab}-{base}"
            lo, hi = r.get(f"{k}__lo"), r.get(f"{k}__hi")
            txt = _interval_text(r.get(k), lo, hi)
            if not is_missing(lo) and not is_missing(hi) and (lo > 0 or hi < 0):
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
    ("listed_through_others", "people listed through others", False,
     "People on a list only because relatives, ties or an employer were listed: their own "
     "conduct alone would not list them."),
    ("collateral_sanctioned", "people punished through others", False,
     "People under a sanction only because of others: a listed relative or employer, or a "
     "listing through others."),
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
        cols = refusal_columns(daily.columns)
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
            y.append(None if is_missing(m) else float(m))
            up.append(None if is_missing(hi) or is_missing(m) else float(hi) - float(m))
            down.append(None if is_missing(lo) or is_missing(m) else float(m) - float(lo))
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
                      **{f"data-status-{slug(lab)}": per[lab].get(key, "n/a")
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
