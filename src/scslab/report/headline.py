"""The headline numbers of a run: what each counts, its value as text, a one-line note.

Kept apart from the charts so that it can read the outcomes registry later; the
report and the dashboard both show ``headlines(result)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scslab.formatting import approx, fmt, pct, people
from scslab.report.common import _agents, _denial_kinds, _last, _total
from scslab.report.figures import _disparate
from scslab.report.targets import _scales
from scslab.results import Result

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



def headlines(result: Result) -> list[Headline]:
    """The headline numbers of a run, each with a plain-language note."""
    daily, summary = result.daily, result.summary
    n = _agents(result)
    listed = _last(daily, "listed")
    wrong = _last(daily, "wrongful_listed")
    kinds = _denial_kinds(daily)
    denials = sum(_total(daily, f"denied_{k}") or 0 for k in kinds) if kinds else None
    out = [
        Headline("listed", "on a list at the end", listed, fmt(listed),
                 f"{pct(listed / n, 2)} of {fmt(n)} people" if listed is not None and n else
                 "blacklist or court list"),
        Headline("wrongful_listed", "wrongly listed at the end", wrong, fmt(wrong),
                 (f"{pct(wrong / listed)} of the listed, only because of identity errors"
                  if wrong is not None and listed else "only because of identity errors")),
        Headline("misattributed_events", "acts pinned on the wrong person",
                 _total(daily, "misattributed_events"), fmt(_total(daily, "misattributed_events")),
                 "false matches over the whole run"),
        Headline("denials", "refusals", denials, fmt(denials),
                 "flights, trains, property, loans, services, schools"),
        Headline("denied_wrongful", "refusals to the wrongly listed",
                 _total(daily, "denied_wrongful"), fmt(_total(daily, "denied_wrongful")),
                 "services refused to people listed by mistake"),
        Headline("collateral_sanctioned", "punished through others",
                 _last(daily, "collateral_sanctioned"), fmt(_last(daily, "collateral_sanctioned")),
                 "sanctioned because a relative or employer is listed"),
    ]
    di = _disparate(daily)
    out.append(Headline("disparate_impact", "disparate impact", di,
                        "–" if di is None else f"{fmt(di)}×",
                        "worst-hit group's wrongful-listing rate ÷ least-hit group's"
                        if di is not None else "undefined: some group had no wrongful listing"))
    eff = summary.get("chilling_effect")
    out.append(Headline("chilling_effect", "chilling effect", eff,
                        pct(eff) if eff is not None else "not measured",
                        "less criticism because people feel watched" if eff is not None else
                        "run with --chilling (dashboard: “Measure the chilling effect”)"))
    return _scale_headlines(out, summary, kinds, n)


#: The daily columns behind each count headline (scaled when they all scale).
_HEADLINE_COLUMNS = {"listed": ["listed"], "wrongful_listed": ["wrongful_listed"],
                     "misattributed_events": ["misattributed_events"],
                     "denied_wrongful": ["denied_wrongful"],
                     "collateral_sanctioned": ["collateral_sanctioned"]}


def _scale_headlines(heads: list[Headline], summary: dict, kinds: list[str], n: int | None
                     ) -> list[Headline]:
    """Count headlines scaled to the population the sample represents (sample in small print)."""
    scale = summary.get("scale")
    if not scale:
        return heads
    factor = float(scale["factor"])
    cols = {**_HEADLINE_COLUMNS, "denials": [f"denied_{k}" for k in kinds]}
    out = []
    for h in heads:
        c = cols.get(h.key)
        if c and h.value is not None and all(_scales(summary, x) for x in c):
            note = h.note
            if h.key == "listed" and n:
                note = f"{pct(h.value / n, 2)} of {people(scale.get('represents'))} people"
            text = approx(h.value * factor)
            h = replace(h, scaled=h.value * factor, text=text,
                        sample_text=h.text if text != h.text else "", note=note)
        out.append(h)
    return out

