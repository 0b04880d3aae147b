"""The report of one run as sections of figures and tables, in report order."""

from __future__ import annotations

from scslab.report.abroad import abroad_section
from scslab.report.common import _agents
from scslab.report.elements import ReportFigure, Section
from scslab.report.figures import (
    fig_acts,
    fig_chilling,
    fig_denials,
    fig_disparate_impact,
    fig_due_process,
    fig_grades,
    fig_group_rates,
    fig_harm_events,
    fig_harms,
    fig_list_flows,
    fig_lists,
    fig_score,
    fig_spillover,
)
from scslab.report.tables import denials_table, fairness_table, group_table
from scslab.report.targets import scale_section, targets_section
from scslab.results import Result

__all__ = ["run_figures", "run_sections"]


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
                    [fig_harms(daily), fig_harm_events(daily),
                     fig_group_rates(daily, result.summary), fig_disparate_impact(daily)],
                    [t for t in (group_table(result), fairness_table(result)) if t is not None])
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

