"""Fairness: each group against the reference group, with intervals that answer.

The old disparate impact (highest ÷ lowest group rate) was undefined whenever one group
had no wrongful listing, which at realistic sizes is every run. Here every group is
compared with one *reference* group (the largest, or ``population.reference_group``):

* **wrongful-listing ratio** (``disparate_impact__<group>``): the group's rate of
  agent-days on the wrongful list per person-day, divided by the reference's;
* **misattribution ratio** (``misattribution_ratio__<group>``): misattributed acts
  recorded on members of the group per person-day, divided by the reference's.

Person-days. The rate's numerator counts agent-days (one agent wrongly listed for 30 days
counts 30) and its denominator person-days at risk (group size × days). That is the
quantity a reader means by "how much of their time are members of this group wrongly
listed", and it uses every day of the run. Its limitation: days of one listing are not
independent (a listing lasts weeks), so an interval that treats agent-days as Poisson
events is too narrow. Two guards follow from that:

* the *enough-events rule* counts **episodes** (an agent going onto the wrongful list),
  not agent-days: a ratio is given only when the group and the reference each have at
  least :data:`MIN_EVENTS` episodes (for misattribution: misattributed acts, which are
  close to independent events);
* an **episode-based interval** is given beside the person-day one: the ratio of the
  rates of becoming wrongly listed (episodes per person-day), whose events are close to
  independent; it is the honest width when the two disagree.

Episodes are counted from the daily stocks as the first day's stock plus every daily net
increase: a lower bound on entries (exact when no one in the group leaves and another
enters on the same day).

Interval method (the ratio of two Poisson rates, conditional binomial method): given
``x1 + x0`` events, ``x1`` is binomial with ``π = T1·RR / (T1·RR + T0)`` (``T`` the
person-days). An exact Clopper–Pearson interval ``(πL, πU)`` for ``π`` maps to
``RR = π / (1 − π) · T0 / T1`` (Clopper & Pearson 1934; for rate ratios, Breslow & Day
1987, *Statistical Methods in Cancer Research* II, §2.2; Rothman & Greenland, *Modern
Epidemiology*, ch. 14). It is conservative (coverage ≥ 95 %).

Survey weights. With oversampling each group has a weight ``w`` (people per agent) and the
daily per-group counts are weighted sums. Rates from weighted counts over weighted
person-days equal the unweighted ones within a group, so ratios are unchanged; intervals
and the rule use the **unweighted** counts (weighted count ÷ ``w``): the sampling error
comes from the agents simulated, not the people they stand for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Events needed in the group *and* in the reference before a ratio is given.
MIN_EVENTS = 10
#: Coverage of every interval.
LEVEL = 0.95
#: The two measures, by key prefix: (daily count column prefix, how events are counted).
MEASURES = {"disparate_impact": "wrongful_listed__", "misattribution_ratio": "misattributed__"}


def clopper_pearson(x: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion ``x / n``."""
    from scipy.stats import beta

    if n <= 0:
        return 0.0, 1.0
    a = (1.0 - level) / 2.0
    lo = 0.0 if x <= 0 else float(beta.ppf(a, x, n - x + 1))
    hi = 1.0 if x >= n else float(beta.ppf(1.0 - a, x + 1, n - x))
    return lo, hi


def rate_ratio(x1: float, t1: float, x0: float, t0: float, level: float = LEVEL
               ) -> tuple[float, float, float]:
    """Ratio of two Poisson rates ``(x1/t1) / (x0/t0)`` and its exact interval.

    Conditional binomial method: ``x1 | x1 + x0`` is binomial with
    ``π = t1·RR / (t1·RR + t0)``; the Clopper–Pearson interval for ``π`` is mapped to
    ``RR = π / (1 − π) · t0 / t1``. NaN ratio when ``x0 = 0``; upper bound ``inf`` then,
    lower bound 0 when ``x1 = 0``. Counts are rounded to integers.
    """
    x1, x0 = int(round(x1)), int(round(x0))
    if t1 <= 0 or t0 <= 0 or x1 + x0 == 0:
        return math.nan, math.nan, math.nan
    lo_p, hi_p = clopper_pearson(x1, x1 + x0, level)
    scale = t0 / t1

    def to_rr(p: float) -> float:
        return math.inf if p >= 1.0 else p / (1.0 - p) * scale

    est = (x1 / t1) / (x0 / t0) if x0 > 0 else math.nan
    return est, to_rr(lo_p), to_rr(hi_p)


def episodes(stock: Sequence[float] | np.ndarray) -> float:
    """Episodes from a daily stock: the first day's level plus every net daily increase."""
    s = np.nan_to_num(np.asarray(stock, dtype=float))
    if s.size == 0:
        return 0.0
    return float(s[0] + np.clip(np.diff(s), 0, None).sum())


def reference_group(group_agents: Mapping[str, int], declared: str | None = None) -> str:
    """The reference group: ``declared`` when given, else the largest (first on ties)."""
    if declared:
        return declared
    return max(group_agents, key=lambda g: (group_agents[g], -list(group_agents).index(g)))


def agents_needed(events: Mapping[str, float], group_agents: Mapping[str, int],
                  groups: Sequence[str], min_events: int = MIN_EVENTS) -> dict[str, Any]:
    """How many agents would give every group in ``groups`` at least ``min_events`` events.

    A group's events per agent are its own observed ones, or the pooled rate of all groups
    when it has none. The population needed keeps the run's composition (every group's
    share); ``per_group`` is what oversampling that group alone would need. ``None`` when
    no group had an event (no rate to extrapolate from).
    """
    n = sum(group_agents.values())
    pooled_events = sum(events.values())
    pooled = pooled_events / n if n else 0.0
    total = 0
    per_group: dict[str, int | None] = {}
    for g in groups:
        e, ng = events.get(g, 0.0), group_agents.get(g, 0)
        if e >= min_events:
            continue
        rate = e / ng if e > 0 and ng else pooled
        if rate <= 0 or ng <= 0:
            per_group[g] = None
            continue
        need_g = math.ceil(min_events / rate)
        per_group[g] = need_g
        total = max(total, math.ceil(need_g * n / ng))
    if any(v is None for v in per_group.values()):
        return {"agents": None, "per_group": per_group, "basis": "no events in any group"}
    return {"agents": total or None, "per_group": per_group,
            "basis": "observed or pooled rate per agent"}


def _count(daily, col: str, weight: float, how: str) -> float:
    if col not in daily.columns:
        return 0.0
    import pandas as pd

    x = pd.to_numeric(daily[col], errors="coerce").fillna(0).to_numpy(dtype=float) / weight
    return episodes(x) if how == "episodes" else float(x.sum())


def assess(daily, group_agents: Mapping[str, int], weights: Mapping[str, float] | None = None,
           reference: str | None = None, min_events: int = MIN_EVENTS) -> dict[str, Any]:
    """The ``fairness`` block of a run's summary.

    Args:
        daily: The run's daily frame (``wrongful_listed__<g>``, ``misattributed__<g>``).
        group_agents: Agents simulated per group (unweighted), in group order.
        weights: People per agent by group (survey weights; default ones). Daily counts
            are weighted sums; they are divided by the weight for intervals and the rule.
        reference: The reference group (default: the largest).
        min_events: The enough-events rule.

    Returns:
        ``{"reference", "min_events", "level", "method", "days", "groups": {g: {...}}}``
        where each group has, per measure, ``ratio`` (None below the rule), ``lo``/``hi``,
        ``events``, ``person_days``, ``enough``, ``verdict`` and, when not enough,
        ``agents_needed``.
    """
    groups = list(group_agents)
    w = {g: float((weights or {}).get(g, 1.0) or 1.0) for g in groups}
    days = int(len(daily))
    ref = reference_group(group_agents, reference)
    pd_ = {g: float(group_agents[g]) * days for g in groups}
    wrong_days = {g: _count(daily, f"wrongful_listed__{g}", w[g], "sum") for g in groups}
    wrong_eps = {g: _count(daily, f"wrongful_listed__{g}", w[g], "episodes") for g in groups}
    mis = {g: _count(daily, f"misattributed__{g}", w[g], "sum") for g in groups}
    out_groups: dict[str, Any] = {}
    for g in groups:
        entry: dict[str, Any] = {"agents": int(group_agents[g]), "weight": w[g],
                                 "person_days": pd_[g], "reference": g == ref}
        entry["disparate_impact"] = _measure(
            g, ref, wrong_days, pd_, wrong_eps, group_agents, min_events, episodes_of=wrong_eps)
        entry["misattribution_ratio"] = _measure(g, ref, mis, pd_, mis, group_agents,
                                                 min_events)
        out_groups[g] = entry
    return {"reference": ref, "min_events": min_events, "level": LEVEL, "days": days,
            "method": "ratio of Poisson rates per person-day; exact conditional binomial "
                      "(Clopper-Pearson) interval",
            "groups": out_groups}


def _measure(g: str, ref: str, x: Mapping[str, float], t: Mapping[str, float],
             rule_events: Mapping[str, float], group_agents: Mapping[str, int],
             min_events: int, episodes_of: Mapping[str, float] | None = None) -> dict[str, Any]:
    ratio, lo, hi = rate_ratio(x[g], t[g], x[ref], t[ref])
    enough = rule_events[g] >= min_events and rule_events[ref] >= min_events
    m: dict[str, Any] = {"events": round(x[g], 6), "reference_events": round(x[ref], 6),
                         "rate": x[g] / t[g] if t[g] else None,
                         "rule_events": round(rule_events[g], 6),
                         "reference_rule_events": round(rule_events[ref], 6),
                         "enough": bool(enough)}
    if episodes_of is not None:
        er, elo, ehi = rate_ratio(episodes_of[g], t[g], episodes_of[ref], t[ref])
        shown = enough and g != ref
        m["episodes"] = round(episodes_of[g], 6)
        m["episode_ratio"] = _num(er) if shown else None
        m["episode_lo"], m["episode_hi"] = (_num(elo), _num(ehi)) if shown else (None, None)
    if g == ref:
        m.update(ratio=1.0, lo=None, hi=None, verdict="reference")
        return m
    if not enough:
        m.update(ratio=None, lo=None, hi=None, verdict="not enough events",
                 agents_needed=agents_needed(rule_events, group_agents, [g, ref], min_events))
        return m
    m.update(ratio=_num(ratio), lo=_num(lo), hi=_num(hi))
    verdict = "higher" if lo > 1 else "lower" if hi < 1 else "no clear difference"
    e_lo: float | None = m.get("episode_lo")
    e_hi: float | None = m.get("episode_hi")
    e_top = math.inf if e_hi is None else e_hi
    if e_lo is not None and (e_lo > 1 and hi < 1 or e_top < 1 and lo > 1):
        # the two measures disagree in direction: one group is wrongly listed more often
        # but for less long (or the reverse) — neither verdict alone is the story
        often = "more" if e_lo > 1 else "less"
        verdict = (f"{verdict} by person-days, but {'higher' if e_lo > 1 else 'lower'} by "
                   f"episodes: wrongly listed {often} often, for "
                   f"{'shorter' if e_lo > 1 else 'longer'} spells")
    elif verdict != "no clear difference" and e_lo is not None and e_lo <= 1 <= e_top:
        # the person-day interval is too narrow (autocorrelated days); the episode one
        # does not confirm the difference
        verdict += " by person-days; episodes do not confirm"
    elif verdict == "no clear difference" and e_lo is not None and (e_lo > 1 or e_top < 1):
        # as many wrongful person-days, but in more (or fewer) separate listings
        verdict = (f"no clear difference by person-days; {'higher' if e_lo > 1 else 'lower'}"
                   " by episodes (wrongly listed "
                   f"{'more' if e_lo > 1 else 'less'} often, for "
                   f"{'shorter' if e_lo > 1 else 'longer'} spells)")
    m["verdict"] = verdict
    return m


def _num(v: float) -> float | None:
    """JSON-safe: NaN and infinities become None."""
    return None if v is None or not math.isfinite(v) else float(v)


# ----------------------------------------------------------------------------- text


def measure_label(key: str) -> str:
    """``disparate_impact`` → "wrongful listing", ``misattribution_ratio`` → "misattribution"."""
    return {"disparate_impact": "wrongful listing",
            "misattribution_ratio": "misattribution"}[key]


def shortfall_text(g: str, ref: str, m: Mapping[str, Any], min_events: int = MIN_EVENTS,
                   unit: str = "events") -> str:
    """"not enough events (…); about N agents would resolve it" for one group and measure."""
    have = f"{_int(m.get('rule_events'))} in {g}"
    if g != ref:
        have += f", {_int(m.get('reference_rule_events'))} in {ref}"
    s = f"not enough events ({have}; {min_events} {unit} needed in each)"
    need = m.get("agents_needed") or {}
    if need.get("agents"):
        s += f"; about {need['agents']:,} agents would resolve it"
        per = {k: v for k, v in (need.get("per_group") or {}).items() if v}
        if per:
            s += " (or oversample " + ", ".join(f"{k} to {v:,}" for k, v in per.items()) + ")"
    elif need:
        s += "; no group had any, so no population size can be estimated (run longer)"
    return s


def _int(v: Any) -> str:
    return "0" if v is None else f"{round(float(v)):,}"


def entry_text(g: str, ref: str, key: str, m: Mapping[str, Any],
               min_events: int = MIN_EVENTS) -> str:
    """One group's ratio as text: "2.1× [1.4, 3.2] (higher)", or the shortfall message."""
    if m.get("verdict") == "reference":
        return "reference"
    if m.get("ratio") is None:
        unit = "episodes" if key == "disparate_impact" else "events"
        return shortfall_text(g, ref, m, min_events, unit)
    s = f"{m['ratio']:.3g}× {_bracket(m.get('lo'), m.get('hi'))}"
    if m.get("episode_ratio") is not None:
        s += (f"; episode rate {m['episode_ratio']:.3g}× "
              f"{_bracket(m.get('episode_lo'), m.get('episode_hi'))}")
    return f"{s} ({m['verdict']})"


def _bracket(lo: float | None, hi: float | None) -> str:
    return f"[{0 if lo is None else lo:.3g}, {'∞' if hi is None else f'{hi:.3g}'}]"


def rows(fair: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per non-reference group and measure, for tables (CLI, report)."""
    out = []
    ref = fair["reference"]
    for g, entry in fair["groups"].items():
        if g == ref:
            continue
        for key in MEASURES:
            m = entry[key]
            out.append({"group": g, "reference": ref, "measure": key,
                        "label": measure_label(key), "text": entry_text(g, ref, key, m,
                                                                        fair["min_events"]),
                        **m})
    return out
