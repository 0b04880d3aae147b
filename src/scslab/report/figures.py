"""The charts of a run's report (shared with the dashboard): scores, lists, harms, acts."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from scslab import outcomes
from scslab.formatting import fmt, human, is_missing, pct, plural
from scslab.params import N_HIST
from scslab.report.common import (
    _cols,
    _days,
    _denial_kinds,
    _empty_note,
    _finish,
    _groups,
    _has,
    _last,
    _line,
    _new_figure,
    _series,
    _total,
)
from scslab.report.elements import C_HARM, C_LISTED, C_SCORE, C_TRUE, PALETTE, ReportFigure


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
        label = f"grade {g}" + (f" (≥ {fmt(m)})" if not is_missing(m) and m > -1e5 else "")
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
        _line(fig, daily, f"denied_{kind}", human(kind), color=PALETTE[k % len(PALETTE)],
              cumulative=True)
    totals = {kind: _total(daily, f"denied_{kind}") or 0.0 for kind in kinds}
    caption = ("Each time a listed person tries to book a flight or a train, buy property, take "
               "a mortgage, use a social service or enrol a child in a private school, the "
               "attempt can be refused. Lines count the refusals since day 1, by type.")
    if totals:
        top = sorted(totals.items(), key=lambda kv: -kv[1])
        caption += (f" In all {fmt(sum(totals.values()))} refusals; the most common: "
                    + ", ".join(f"{human(k)} {fmt(v)}" for k, v in top[:3] if v > 0) + "."
                    if sum(totals.values()) > 0 else " No attempt was refused in this run.")
    return ReportFigure("fig-denials", "denied", "Refusals by type", caption, _finish(fig),
                        [f"denied_{k}" for k in kinds])


def fig_harms(daily: pd.DataFrame) -> ReportFigure:
    """People harmed at the end of each day: wrongly listed, punished for others."""
    fig = _new_figure("people")
    _line(fig, daily, "wrongful_listed", "wrongly listed (identity errors)", color=C_HARM,
          width=3)
    _line(fig, daily, "listed_through_others", "listed because of whom they are tied to",
          color="#CC79A7")
    _line(fig, daily, "collateral_sanctioned", "punished only because of others",
          color="#E69F00")
    wl, cs = _last(daily, "wrongful_listed"), _last(daily, "collateral_sanctioned")
    lt = _last(daily, "listed_through_others")
    caption = ("People who are punished for something they did not do. "
               "“Wrongly listed”: on a list only because a camera or a record matched someone "
               "else's act to them (measured against a twin ledger that credits every act to its "
               "real author). “Listed because of others”: on a list that their own acts alone "
               "would not put them on (an own-conduct ledger without the points lost through "
               "listed relatives, friends or employers). “Punished only because of others”: "
               "under a sanction because a family member or employer is listed, or listed "
               "because of others.")
    if wl is not None and cs is not None:
        caption += f" On the last day: {fmt(wl)} wrongly listed"
        if lt is not None:
            caption += f", {fmt(lt)} listed because of others"
        caption += f", {fmt(cs)} punished only because of others."
    cols = ("wrongful_listed", "listed_through_others", "collateral_sanctioned")
    return ReportFigure("fig-harms", "wrongful_listed", "People punished for what they did not do",
                        caption, _finish(fig), [c for c in cols if _has(daily, c)])


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


def fig_group_rates(daily: pd.DataFrame, summary: dict | None = None) -> ReportFigure:
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
        fig.add_trace(go.Bar(x=groups, y=[None if is_missing(v) else v * 1e4 for v in mean],
                             name="average over the run", marker_color="#CC79A7",
                             meta={"column": "wrongful_rate__*", "transform": "mean×10000"}))
        fig.update_layout(barmode="group", yaxis_rangemode="tozero")
        if not any(v for v in last + mean if not is_missing(v)):
            _empty_note(fig, "No one was wrongly listed in this run.")
    caption = ("How often members of each group are wrongly listed, per 10,000 members. Face "
               "recognition makes more false matches for some groups (NIST measured 10 to 100 "
               "times more for some demographics), so the same rules fall harder on them.")
    detail = outcomes.get("disparate_impact").detail(summary)
    if detail is not None and len(groups) > 1:
        caption += f" Disparate impact (per person-day, 95% interval): {detail}."
    return ReportFigure("fig-group-rates", "wrongful_rate", "Wrongful listing by group", caption,
                        _finish(fig, "This scenario has no per-group measures."),
                        [f"wrongful_rate__{g}" for g in groups])


def fig_disparate_impact(daily: pd.DataFrame) -> ReportFigure:
    """Daily wrongful-listing rate of each group ÷ the reference group's."""
    fig = _new_figure("ratio to the reference group (1 = equal treatment)")
    cols = [c for c in daily.columns if c.startswith("disparate_impact__")]
    ok = any(daily[c].notna().any() for c in cols)
    if ok:
        for c in cols:
            if daily[c].notna().any():
                _line(fig, daily, c, c.split("__", 1)[1])
        fig.add_hline(y=1, line_dash="dot", line_color="#6b7280")
    elif len(daily):
        days = _days(daily)
        fig.update_xaxes(range=[days[0], max(days[-1], days[0] + 1)])
        fig.update_yaxes(range=[0, 2])
    caption = ("Each day, each group's wrongful-listing rate divided by the reference group's "
               "(the largest, unless the scenario names one). 1 means the group is wrongly "
               "listed as often as the reference; 10 means ten times as often. A day is shown "
               "only when the group and the reference each have at least 10 people wrongly "
               "listed; the fairness table gives the run's ratios with intervals.")
    note = ("Not enough events on any day: no group other than the reference had 10 people "
            "wrongly listed at once (common in small or short runs; see the fairness table "
            "for how many agents would resolve it).")
    return ReportFigure("fig-disparate-impact", "disparate_impact", "Disparate impact over time",
                        caption, _finish(fig, note), cols)


def fig_chilling(summary: dict) -> ReportFigure | None:
    """Speech acts with and without the penalty on speech (only when the run measured it)."""
    import plotly.graph_objects as go

    ch = summary.get("chilling") or {}
    eff = summary.get("chilling_effect")
    if eff is None or "acts_with_monitoring" not in ch:
        return None
    beh = human(str(ch.get("behaviour", "speech")))
    fig = _new_figure(f"acts of {beh}", xtitle="")
    fig.update_layout(hovermode="closest")
    fig.add_trace(go.Bar(x=["without the penalty on speech", "with the penalty (this run)"],
                         y=[ch["acts_without_monitoring"], ch["acts_with_monitoring"]],
                         marker_color=[C_TRUE, C_HARM], name=beh, showlegend=False,
                         meta={"column": "chilling", "transform": "totals"}))
    caption = (f"The same population was simulated twice: once as in this scenario, once with "
               f"{beh} still watched but no longer penalised. People who fear being punished "
               f"for what is seen speak less: {pct(eff)} fewer acts of {beh} (the chilling "
               "effect).")
    return ReportFigure("fig-chilling", "chilling_effect", "The chilling effect", caption, fig,
                        ["chilling_effect"])


def fig_spillover(daily: pd.DataFrame) -> ReportFigure:
    """How punishment spreads to households, friends and employers."""
    fig = _new_figure("people (businesses)")
    _line(fig, daily, "listed_through_others", "listed because of others", color="#D55E00",
          width=3)
    _line(fig, daily, "collateral_sanctioned", "sanctioned only because of others",
          color="#E69F00", width=3)
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
    caption += (" Points lost this way can put people on a list themselves: “listed because of "
                "others” counts those whose own conduct alone would not list them.")
    exp = _last(daily, "exposed_household")
    lt, ls = _last(daily, "listed_through_others"), _last(daily, "listed")
    if lt is not None and ls:
        caption += (f" On the last day {fmt(lt)} of the {fmt(ls)} listed people "
                    f"({pct(lt / ls)}) were listed because of others.")
    if exp is not None:
        caption += f" On the last day {fmt(exp)} people lived with a listed person."
    cols = ["listed_through_others", "collateral_sanctioned", "exposed_household", "exposed_ties",
            "spillover_penalised",
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
        label = human(b) + (f" ({'+' if pts > 0 else ''}{fmt(pts)} points)" if pts else "")
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


#: Per-flow measures of the abroad stage: (metric, label, flow over the day (summed) or stock).
