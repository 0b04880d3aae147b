"""The "Data abroad" panel: per data flow, reach and records charts, totals and the audit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from scslab.formatting import fmt, pct, plural, slug
from scslab.report.common import _finish, _has, _last, _line, _new_figure, _total
from scslab.report.elements import C_HARM, C_LISTED, C_SCORE, ReportFigure, Section, Table
from scslab.results import Result

if TYPE_CHECKING:
    from scslab.scenario.schema import Scenario

ABROAD_MEASURES: list[tuple[str, str, bool]] = [
    ("visitors", "visits", True),
    ("captured", "visits captured by the site's sensors", True),
    ("identified", "captures identified against the home gallery", True),
    ("false_matches", "captures matched to the wrong person at home", True),
    ("false_matches_home", "of which on a simulated home agent", True),
    ("misattributed_home", "recorded on a home agent's score (misattributed)", True),
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
    """What the flow's sensors capture, in words ("faces", "documents or device identifiers")."""
    if flow is None:
        return "captures"
    from scslab.stages.abroad import captures_phrase

    return captures_phrase(flow)


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
    return ReportFigure(f"fig-abroad-{slug(name)}", f"abroad_captured{sfx}",
                        f"Captured at {site}", caption, _finish(fig),
                        [c for c in cols if _has(daily, c)])


def fig_abroad_records(daily: pd.DataFrame, name: str, flow: Any = None,
                       sc: Scenario | None = None) -> ReportFigure:
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
            caption += (f"; {plural(false, 'capture', 'captures')} ({word}) "
                        f"{'was' if false == 1 else 'were'} wrongly matched to people at home.")
            home = _total(daily, f"abroad_false_matches_home{sfx}")
            mis = _total(daily, f"abroad_misattributed_home{sfx}")
            if home is not None and flow is not None:
                from scslab.stages.abroad import represents_probability

                rep = represents_probability(sc, flow) if sc is not None else None
                caption += (f" {fmt(home)} of them landed on a "
                            "simulated home agent"
                            + (f" (each does with probability {rep:.3g}: the agents' share "
                               "of the home gallery)" if rep is not None else "")
                            + (f", and {fmt(mis)} counted on that agent's score as a "
                               "misattributed act." if mis is not None else "."))
        else:
            caption += "."
    cols = [f"abroad_{m}{sfx}" for m in ("recorded_total", "persons_of_interest_recorded",
                                         "home_ties_linked", "false_matches")]
    return ReportFigure(f"fig-abroad-{slug(name)}-records", f"abroad_recorded_total{sfx}",
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
        why = f.why + (f" (judged for {f.period} only: the law was not in force over the "
                       "rest of the flow)" if f.period else "")
        rows.append([f.law, f.section, f.requirement,
                     "BREACH" if f.status == "breach" else "met", why])
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
                 rows, " ".join(parts), id=f"abroad-audit-{slug(flow.name)}", numeric_from=99,
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
                    fig_abroad_records(daily, n, flows.get(n), sc)]
    tables = [abroad_table(daily, names, sc)]
    audit = _audit_result(list(flows.values()))
    if audit is not None:
        tables += [audit_table(audit, flows[n]) for n in names if n in flows]
    intro = ("Sites abroad whose cameras or servers send what they capture to the home system. "
             "The people there are synthetic residents; their numbers come from the flow's "
             "declared visitors. Each capture is matched against the home gallery with the "
             "error rate of what was captured (faces: the home cameras'; device identifiers: "
             "the home phone scanners'; documents: a record-linkage rate), so some land on "
             "the wrong person at home; those that land on a simulated home agent count on "
             "that agent's recorded score as a misattributed act. The audit tables read each "
             "flow against the privacy laws in force over its dates.")
    return Section("abroad", "Data abroad", intro, figures, tables)


