"""Sensitivity analysis, the output: Rich tables and the self-contained HTML page."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scslab.sensitivity.analysis import SensitivityResult

__all__ = ["print_sensitivity", "render_html"]


# --------------------------------------------------------------------------- output


def print_sensitivity(res: SensitivityResult, console: Any) -> None:
    """Rich tables, one per outcome."""
    from rich.table import Table

    sobol = res.method == "sobol"
    pct = f"{res.conf_level:.0%}"
    for out in res.outcomes:
        sub = res.indices[res.indices["outcome"] == out]
        t = Table(title=f"{out} — {'Sobol' if sobol else 'Morris'} ({len(res.X)} evaluations, "
                        f"± {pct} interval)", box=None, min_width=72)
        t.add_column("parameter")
        cols = (["S1", "ST"] if sobol else ["mu_star", "sigma"])
        for c in cols:
            t.add_column(c, justify="right")
        for _, r in sub.iterrows():
            if sobol:
                cells = [_pm(r["S1"], r["S1_conf"]), _pm(r["ST"], r["ST_conf"])]
            else:
                cells = [_pm(r["mu_star"], r["mu_star_conf"]), _num(r["sigma"])]
            t.add_row(r["parameter"], *cells)
        console.print(t)
    for w in res.warnings:
        console.print(f"note: {w}", markup=False, highlight=False, soft_wrap=True)


def _num(v: float) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.4g}"


def _pm(v: float, c: float) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:.3f} ± {c:.3f}" if c is not None and math.isfinite(c) else f"{v:.3f}"


def _figure(res: SensitivityResult):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sobol = res.method == "sobol"
    n = max(len(res.outcomes), 1)
    fig = make_subplots(rows=n, cols=1, subplot_titles=res.outcomes, vertical_spacing=min(
        0.12, 0.6 / n))
    series = ([("S1", "S1_conf", "first order S1", "#4C78A8"),
               ("ST", "ST_conf", "total ST", "#F58518")] if sobol else
              [("mu_star", "mu_star_conf", "μ* (mean |elementary effect|)", "#4C78A8"),
               ("sigma", None, "σ (interactions / non-linearity)", "#F58518")])
    for i, out in enumerate(res.outcomes, start=1):
        sub = res.indices[res.indices["outcome"] == out]
        for col, conf, label, colour in series:
            err = (dict(type="data", array=[0 if not math.isfinite(x) else x
                                            for x in sub[conf]], visible=True)
                   if conf else None)
            fig.add_trace(go.Bar(x=list(sub["parameter"]),
                                 y=[None if not math.isfinite(v) else v for v in sub[col]],
                                 name=label, marker_color=colour, error_y=err,
                                 legendgroup=col, showlegend=i == 1), row=i, col=1)
    fig.update_layout(barmode="group", height=320 * n + 80, template="plotly_white",
                      margin=dict(l=60, r=20, t=60, b=40),
                      legend=dict(orientation="h", y=1.0 + 0.06 / n, x=0))
    return fig


def render_html(res: SensitivityResult) -> str:
    """A self-contained HTML report: bar charts with error bars, tables, notes."""
    sobol = res.method == "sobol"
    fig_html = _figure(res).to_html(full_html=False, include_plotlyjs=True,
                                    config={"displaylogo": False})
    e = html.escape
    sc = res.scenario
    what = (f"{e(sc.name)}, {sc.population.agents:,} agents × {sc.days} days"
            if sc else "injected evaluation function")
    rows = "".join(
        f"<tr><td><code>{e(p.path)}</code></td><td>{p.lo:g}</td><td>{p.hi:g}</td>"
        f"<td>{'integer' if p.integer else 'real'}</td></tr>" for p in res.params)
    fmt = {c: (lambda v: "–" if not math.isfinite(v) else f"{v:.4f}")
           for c in res.indices.columns if c not in ("outcome", "parameter")}
    table = res.indices.to_html(index=False, formatters=fmt, border=0, classes="idx")
    notes = "".join(f"<li>{e(w)}</li>" for w in res.warnings)
    meaning = ("<b>S1</b>: share of the outcome's variance due to the parameter alone; "
               "<b>ST</b>: share including all its interactions (ST − S1 large → "
               "interactions). Error bars: "
               f"{res.conf_level:.0%} bootstrap intervals." if sobol else
               "<b>μ*</b>: mean absolute elementary effect (overall influence, in outcome "
               "units per unit of the parameter's range); <b>σ</b>: their standard deviation "
               f"(non-linearity or interactions). Error bars: {res.conf_level:.0%} bootstrap "
               "intervals of μ*.")
    sweep = (f"<p>Runs: sweep <code>{e(res.sweep.sweep_id)}</code> "
             f"({len(res.sweep.plan.specs)} runs; seed {res.seed}, "
             f"{res.replicates} replicate(s) per sample, common random numbers).</p>"
             if res.sweep else "")
    title = f"Sensitivity ({'Sobol' if sobol else 'Morris'}) — {what}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }}
td:first-child, th:first-child, table.idx td:nth-child(2) {{ text-align: left; }}
code {{ font-size: 0.95em; }}
</style></head><body>
<h1>{title}</h1>
<p>{len(res.params)} parameter(s), {len(res.outcomes)} outcome(s), N = {res.n_samples}
({len(res.X)} evaluations). Synthetic population only.</p>
{sweep}
<h2>Parameters</h2>
<table><tr><th>path</th><th>low</th><th>high</th><th>type</th></tr>{rows}</table>
<h2>Indices</h2>
<p>{meaning}</p>
{fig_html}
{table}
{"<h2>Notes</h2><ul>" + notes + "</ul>" if notes else ""}
</body></html>
"""
