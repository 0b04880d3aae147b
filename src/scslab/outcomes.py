"""The outcomes registry: every headline measure of a run, declared once.

A run's daily frame holds hundreds of columns; an *outcome* is one number per run that
a reader compares across runs: people listed at the end, refusals over the run, the
chilling effect… Each :class:`Outcome` says how it is computed from the daily frame (or
the summary), what it is called in a sentence, in a table header and on a report card,
and whether counts of it scale with the population. The CLI summary, the report's
headline cards, ``scslab compare``, the sweep table (``sweep.parquet``) and the
dashboard all read :data:`OUTCOMES`, so a new harm measure is added here once and shows
up everywhere.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

#: How an outcome reduces its daily columns: the last day, the sum over days, the mean
#: over days, a key of the summary, or a
#: ratio against the reference group from the summary's ``fairness`` block
#: (:mod:`scslab.fairness`; ``columns[0]`` names the measure).
How = Literal["last", "total", "mean", "summary", "fairness"]

#: What an outcome counts, which decides how it is formatted.
Unit = Literal["agents", "events", "score", "share", "ratio"]

#: Daily columns ``denied_<kind>`` except these are the refusals by sanction kind.
DENIED_WRONGFUL = "denied_wrongful"
DENIED_THROUGH_OTHERS = "denied_through_others"
DENIAL_SUBTOTALS = (DENIED_WRONGFUL, DENIED_THROUGH_OTHERS)


@dataclass(frozen=True)
class Outcome:
    """One headline measure of a run.

    Attributes:
        key: Column name in compare and sweep tables (``listed_end``).
        label: What it is, in a sentence fragment (``listed at the end``).
        short: A narrow table header (``listed``).
        how: How the daily ``columns`` reduce to one number (see :data:`How`).
        columns: The daily columns it reads; ``("denied_*",)`` means every refusal
            column by sanction kind; for ``how="summary"`` the summary key.
        unit: What it counts (decides formatting and whether it is a count).
        note: A plain-language caption for the report card.
        card: The report card's title, or None when the outcome is not a card.
        in_summary: Shown in the CLI's end-of-run summary (when measured).
        in_table: Shown in the CLI's sweep table.
        optional: Only measured by some scenarios (e.g. sites abroad); consumers drop
            it when no run measured it.
        harm: A harm done to people (wrongful listing, refusals, punishment through
            others, chilling…), as opposed to the system's plain size or state.
        per_group: A template expanded to one outcome per non-reference group
            (``disparate_impact__<group>``, see :func:`expand`).
        group: The group of an expanded per-group outcome.
    """

    key: str
    label: str
    short: str
    how: How
    columns: tuple[str, ...]
    unit: Unit
    note: str = ""
    card: str | None = None
    in_summary: bool = False
    in_table: bool = False
    optional: bool = False
    harm: bool = False
    per_group: bool = False
    group: str | None = None

    @property
    def conditional(self) -> bool:
        """Measured by some runs only (tables drop it when no run measured it).

        That is an ``optional`` outcome, or one read from a summary key that only some
        runs compute (the chilling effect needs the counterfactual run).
        """
        return self.optional or self.how == "summary"

    def for_group(self, group: str) -> Outcome:
        """This per-group template for one group (key ``<prefix>__<group>``)."""
        from dataclasses import replace

        prefix = self.key.split("__", 1)[0]
        return replace(self, key=f"{prefix}__{group}", label=f"{self.label}: {group}",
                       short=f"{self.short} {group}", per_group=False, group=group,
                       card=None)

    def detail(self, summary: Mapping[str, Any] | None) -> str | None:
        """A fairness outcome as text: ratio and interval, or the "not enough events" message.

        None for other outcomes, or when the summary has no ``fairness`` block.
        """
        if self.how != "fairness":
            return None
        fair = (summary or {}).get("fairness")
        if not isinstance(fair, Mapping) or not fair.get("groups"):
            return None
        from scslab import fairness

        ref, measure_key = fair["reference"], self.columns[0]
        if self.group is not None:
            entry = fair["groups"].get(self.group)
            if entry is None:
                return None
            return fairness.entry_text(self.group, ref, measure_key, entry[measure_key],
                                       fair.get("min_events", fairness.MIN_EVENTS))
        g = _worst_group(fair, measure_key)
        if g is None:
            others = [x for x in fair["groups"] if x != ref]
            if not others:
                return "not measured: this run has one group"
            return (f"not enough events in any group against {ref} (see "
                    f"{measure_key}__<group>)")
        m = fair["groups"][g][measure_key]
        return f"{g} vs {ref}: " + fairness.entry_text(g, ref, measure_key, m,
                                                      fair.get("min_events", 10))

    @property
    def is_count(self) -> bool:
        """Counts of agents or events, which scale with the population represented."""
        return self.unit in ("agents", "events")

    def daily_columns(self, daily_columns: Iterable[str]) -> list[str]:
        """The daily columns this outcome reads, with the ``prefix*`` patterns expanded."""
        have = list(daily_columns)
        if self.how in ("summary", "fairness"):
            return []
        out: list[str] = []
        for c in self.columns:
            if c == "denied_*":
                out += refusal_columns(have)
            elif c.endswith("*"):
                out += [x for x in have if x.startswith(c[:-1])]
            elif c in have:
                out.append(c)
        return out

    def value(self, daily: pd.DataFrame | None = None, summary: Mapping[str, Any] | None = None
              ) -> float:
        """This outcome of one run, NaN when the run did not measure it.

        ``daily`` is the run's daily frame; without it, last-day values and totals are
        read from the summary's ``metrics`` and ``totals`` (what ``summary.json`` keeps),
        and means are NaN. Fairness ratios are read from the summary's ``fairness`` block.
        """
        summary = summary or {}
        if self.how == "fairness":
            return _fairness_value(self, summary)
        if self.how == "summary":
            v = summary.get(self.columns[0])
            return (float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool)
                    else math.nan)
        if daily is not None:
            return _from_daily(self, daily)
        return _from_summary(self, summary)

    def text(self, value: float) -> str:
        """``value`` formatted for a terminal or a table cell."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if self.is_count:
            return f"{round(value):,}"
        if self.unit == "share":
            return f"{value:.1%}"
        if self.unit == "ratio":
            return f"{value:,.2f}×"
        return f"{value:,.1f}"


def refusal_columns(columns: Iterable[str]) -> list[str]:
    """The daily refusal columns by sanction kind (``denied_<kind>``, not the subtotals)."""
    return [c for c in columns if c.startswith("denied_") and c not in DENIAL_SUBTOTALS]


def _worst_group(fair: Mapping[str, Any], measure_key: str) -> str | None:
    """The non-reference group with the highest resolved ratio (None when none is)."""
    best, best_v = None, -math.inf
    for g, entry in fair["groups"].items():
        v = entry.get(measure_key, {}).get("ratio")
        if g != fair["reference"] and isinstance(v, numbers.Real) and float(v) > best_v:
            best, best_v = g, float(v)
    return best


def _fairness_value(o: Outcome, summary: Mapping[str, Any]) -> float:
    fair = summary.get("fairness")
    if not isinstance(fair, Mapping) or not fair.get("groups"):
        return math.nan
    g = o.group if o.group is not None else _worst_group(fair, o.columns[0])
    if g is None or g not in fair["groups"]:
        return math.nan
    v = fair["groups"][g].get(o.columns[0], {}).get("ratio")
    return float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else math.nan


def _from_daily(o: Outcome, daily: pd.DataFrame) -> float:
    import pandas as pd

    cols = o.daily_columns(daily.columns)
    if not cols or daily.empty:
        return math.nan
    frame = daily[cols].apply(pd.to_numeric, errors="coerce")
    if o.how == "last":
        v = frame.iloc[-1].sum(min_count=1)
    elif o.how == "mean":
        v = frame.sum(axis=1, min_count=1).mean()
    else:
        v = frame.fillna(0).to_numpy().sum()
    return float(v) if v is not None else math.nan


def _from_summary(o: Outcome, summary: Mapping[str, Any]) -> float:
    source = {"last": summary.get("metrics"), "total": summary.get("totals")}.get(o.how)
    if not source:
        return math.nan
    cols = o.daily_columns(source)
    vals = [source[c] for c in cols if isinstance(source[c], numbers.Real)]
    return float(sum(vals)) if vals else math.nan


#: Every outcome, in the order tables and cards show them.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome("listed_end", "listed at the end", "listed", "last", ("listed",), "agents",
            note="blacklist or court list", card="on a list at the end",
            in_summary=True, in_table=True),
    Outcome("wrongful_listed_end", "wrongfully listed at the end", "wrongful", "last",
            ("wrongful_listed",), "agents", note="only because of identity errors",
            card="wrongly listed at the end", in_summary=True, in_table=True, harm=True),
    Outcome("wrongful_listed_mean", "wrongfully listed, mean over days", "wrongful (mean)",
            "mean", ("wrongful_listed",), "agents", harm=True),
    Outcome("own_listed_end", "listed by their own conduct at the end", "own-conduct",
            "last", ("own_listed",), "agents",
            note="the list their own correctly attributed acts alone would give",
            in_summary=True, in_table=True),
    Outcome("listed_through_others_end", "listed through others at the end",
            "through others", "last", ("listed_through_others",), "agents",
            note="listed only because relatives, ties or an employer were listed",
            card="listed because of others", in_summary=True, in_table=True, harm=True),
    Outcome("listed_through_others_mean", "listed through others, mean over days",
            "through others (mean)", "mean", ("listed_through_others",), "agents", harm=True),
    Outcome("collateral_sanctioned_end", "collateral sanctioned at the end", "collateral",
            "last", ("collateral_sanctioned",), "agents",
            note="sanctioned because of others: a listed relative or employer, or a listing "
            "through others",
            card="punished through others", in_summary=True, harm=True),
    Outcome("sanctioned_end", "sanctioned at the end", "sanctioned", "last", ("sanctioned",),
            "agents"),
    Outcome("misattributed_total", "misattributed events (total)", "misattrib.", "total",
            ("misattributed_events",), "events", note="false matches over the whole run",
            card="acts pinned on the wrong person", in_summary=True, in_table=True, harm=True),
    Outcome("denials_total", "denials (total)", "denials", "total", ("denied_*",), "events",
            note="flights, trains, property, loans, services, schools", card="refusals",
            in_summary=True, in_table=True),
    Outcome("denied_wrongful_total", "denials to the wrongfully listed (total)",
            "denied wrongful", "total", (DENIED_WRONGFUL,), "events",
            note="services refused to people listed by mistake",
            card="refusals to the wrongly listed", in_summary=True, harm=True),
    Outcome("denied_through_others_total", "denials to those listed through others (total)",
            "denied through others", "total", (DENIED_THROUGH_OTHERS,), "events",
            note="services refused to people listed because of whom they are tied to",
            in_summary=True, harm=True),
    Outcome("collateral_denials_total", "denials to collateral targets (total)",
            "collateral denials", "total", ("collateral_denials",), "events", harm=True),
    Outcome("chilling_effect", "chilling effect (1 − speech with / without the penalty on speech)",
            "chilling", "summary", ("chilling_effect",), "share",
            note="less criticism because people feel watched", card="chilling effect",
            in_summary=True, in_table=True, harm=True),
    Outcome("disparate_impact", "disparate impact (worst-hit group's wrongful-listing rate ÷ "
            "the reference group's)", "disparate", "fairness", ("disparate_impact",), "ratio",
            note="wrongful listing per person-day, worst-hit group ÷ reference (largest) "
            "group; 95% exact interval in the fairness table",
            card="disparate impact", harm=True),
    Outcome("disparate_impact__*", "wrongful-listing rate ratio vs the reference group",
            "disparate", "fairness", ("disparate_impact",), "ratio",
            note="agent-days wrongly listed per person-day, ÷ the reference group's",
            in_summary=True, harm=True, per_group=True),
    Outcome("misattribution_ratio__*", "misattribution rate ratio vs the reference group",
            "misattrib. ratio", "fairness", ("misattribution_ratio",), "ratio",
            note="misattributed acts recorded on members per person-day, ÷ the reference "
            "group's", in_summary=True, harm=True, per_group=True),
    Outcome("disparate_impact_end", "disparate impact on the last day", "disparate (end)",
            "last", ("disparate_impact",), "ratio", harm=True),
    Outcome("appeals_succeeded_total", "appeals upheld (total)", "appeals upheld", "total",
            ("appeals_succeeded",), "events"),
    Outcome("mean_score_end", "mean score at the end", "mean score", "last", ("mean_score",),
            "score", in_summary=True),
    Outcome("abroad_visitors_total", "visitors to sites abroad (total)", "abroad visitors",
            "total", ("abroad_visitors",), "events", in_summary=True, optional=True),
    Outcome("abroad_recorded_end", "foreign residents given a record (last day)",
            "abroad recorded", "last", ("abroad_recorded_total",), "agents",
            in_summary=True, optional=True, harm=True),
    Outcome("abroad_false_matches_total", "captures abroad wrongly matched at home (total)",
            "abroad false matches", "total", ("abroad_false_matches",), "events",
            in_summary=True, optional=True, harm=True),
)

#: The outcomes by key.
BY_KEY: dict[str, Outcome] = {o.key: o for o in OUTCOMES}


def get(key: str) -> Outcome:
    """The outcome called ``key`` (KeyError naming the known keys otherwise).

    A per-group key (``disparate_impact__minority``) gives its template for that group.
    """
    if key in BY_KEY and not BY_KEY[key].per_group:
        return BY_KEY[key]
    prefix, _, group = key.partition("__")
    template = BY_KEY.get(f"{prefix}__*")
    if group and template is not None and group != "*":
        return template.for_group(group)
    raise KeyError(f"no outcome {key!r}; known: {', '.join(BY_KEY)} (a ``__*`` key stands for "
                   "one key per group, e.g. disparate_impact__minority)")


def fairness_groups(summary: Mapping[str, Any] | None) -> list[str]:
    """The groups compared with the reference in a run's ``fairness`` block, in order."""
    fair = (summary or {}).get("fairness")
    if not isinstance(fair, Mapping):
        return []
    return [g for g in fair.get("groups") or {} if g != fair.get("reference")]


def expand(outcomes: Iterable[Outcome], groups: Iterable[str]) -> list[Outcome]:
    """``outcomes`` with each per-group template replaced by one outcome per group."""
    groups = list(groups)
    out: list[Outcome] = []
    for o in outcomes:
        out += [o.for_group(g) for g in groups] if o.per_group else [o]
    return out


def for_run(summary: Mapping[str, Any] | None, outcomes: Iterable[Outcome] = OUTCOMES
            ) -> list[Outcome]:
    """The outcomes of one run: per-group templates expanded to its compared groups."""
    return expand(outcomes, fairness_groups(summary))


def measure(daily: pd.DataFrame | None, summary: Mapping[str, Any] | None = None,
            outcomes: Iterable[Outcome] | None = None) -> dict[str, float]:
    """Every outcome of one run by key (NaN where the run did not measure it).

    By default the registry's, per-group templates expanded (:func:`for_run`).
    """
    outcomes = for_run(summary) if outcomes is None else outcomes
    return {o.key: o.value(daily, summary) for o in outcomes if not o.per_group}


def measured_outcomes(runs: pd.DataFrame, outcomes: Iterable[Outcome] | None = None
                      ) -> list[Outcome]:
    """The outcomes a table of runs (one column per outcome key) shows.

    Every outcome, except a :attr:`~Outcome.conditional` one that no run measured (its
    column absent or all NaN). Per-group templates expand to the groups that have a
    column (``disparate_impact__<group>``), shown even when all NaN: "not enough events"
    is a finding.
    """
    out: list[Outcome] = []
    for o in (OUTCOMES if outcomes is None else outcomes):
        if o.per_group:
            prefix = o.key[:-1]
            out += [o.for_group(c[len(prefix):]) for c in runs.columns
                    if c.startswith(prefix) and c != o.key and "__" not in c[len(prefix):]]
        elif o.group is not None:
            if o.key in runs.columns:
                out.append(o)
        elif not o.conditional or (o.key in runs.columns and bool(runs[o.key].notna().any())):
            out.append(o)
    return out


def cards() -> list[Outcome]:
    """The outcomes shown as report headline cards, in order."""
    return [o for o in OUTCOMES if o.card]


def summary_outcomes(summary: Mapping[str, Any] | None = None) -> list[Outcome]:
    """The outcomes of the CLI's end-of-run summary, in order (per group for ``summary``)."""
    return [o for o in for_run(summary) if o.in_summary and not o.per_group]


def table_outcomes(summary: Mapping[str, Any] | None = None) -> list[Outcome]:
    """The outcomes of the CLI's sweep table, in order (per group for ``summary``)."""
    return [o for o in for_run(summary) if o.in_table and not o.per_group]
