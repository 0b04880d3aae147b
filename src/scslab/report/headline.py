"""The headline numbers of a run: what each counts, its value as text, a one-line note.

The cards are the outcomes of :mod:`scslab.outcomes` that declare a card title, in
registry order; the report and the dashboard both show ``headlines(result)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from scslab import outcomes
from scslab.formatting import approx, fmt, pct, people
from scslab.report.common import _agents
from scslab.report.targets import _scales
from scslab.results import Result

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Headline", "headlines"]


@dataclass(frozen=True)
class Headline:
    """A headline number: what it counts, its value as text, and a one-line explanation."""

    key: str
    label: str
    value: float | None
    text: str
    note: str
    #: The value scaled to the population the sample represents (None: not scaled).
    scaled: float | None = None
    #: The sample figure as text, shown small under a scaled value ('' when not scaled).
    sample_text: str = ""
    #: A harm done to people (the card is marked as one).
    harm: bool = False


def headlines(result: Result) -> list[Headline]:
    """The headline cards of a run, one per card outcome of the registry, each with a note."""
    daily, summary = result.daily, result.summary
    n = _agents(result)
    values = {o.key: _value(o, daily, summary) for o in outcomes.cards()}
    cols = list(daily.columns)
    out = [Headline(o.key, o.card or o.label, v, _text(o, v, summary),
                    _note(o, v, values, n, cols, summary), harm=o.harm)
           for o, v in ((o, values[o.key]) for o in outcomes.cards())]
    return _scale_headlines(out, summary, list(daily.columns), n)


def _value(o: outcomes.Outcome, daily: pd.DataFrame, summary: dict) -> float | None:
    v = o.value(daily, summary)
    return None if math.isnan(v) else v


def _text(o: outcomes.Outcome, v: float | None, summary: dict | None = None) -> str:
    if v is None:
        if o.how == "fairness" and o.detail(summary) is not None:
            return "not enough events"
        return "not measured" if o.how == "summary" else "–"
    if o.unit == "share":
        return pct(v)
    if o.unit == "ratio":
        return f"{fmt(v)}×"
    return fmt(v)


def _note(o: outcomes.Outcome, v: float | None, values: dict[str, float | None],
          n: int | None, columns: list[str], summary: dict | None = None) -> str:
    """The registry's note, with the run's own context where it helps."""
    listed = values.get("listed_end")
    if o.key == "listed_end" and v is not None and n:
        return f"{pct(v / n, 2)} of {fmt(n)} people"
    if o.key == "wrongful_listed_end" and v is not None and listed:
        return f"{pct(v / listed)} of the listed, {o.note}"
    if o.key == "disparate_impact":
        return o.detail(summary) or "not measured: this run's summary has no fairness block"
    if o.key == "chilling_effect" and v is None:
        return "run with --chilling (dashboard: “Measure the chilling effect”)"
    return o.note


def _scale_headlines(heads: list[Headline], summary: dict, columns: list[str], n: int | None
                     ) -> list[Headline]:
    """Count headlines scaled to the population the sample represents (sample in small print)."""
    scale = summary.get("scale")
    if not scale:
        return heads
    factor = float(scale["factor"])
    out = []
    for h in heads:
        o = outcomes.get(h.key)
        cols = o.daily_columns(columns)
        if o.is_count and cols and h.value is not None and all(_scales(summary, c) for c in cols):
            note = h.note
            if h.key == "listed_end" and n:
                note = f"{pct(h.value / n, 2)} of {people(scale.get('represents'))} people"
            text = approx(h.value * factor)
            h = replace(h, scaled=h.value * factor, text=text,
                        sample_text=h.text if text != h.text else "", note=note)
        out.append(h)
    return out
