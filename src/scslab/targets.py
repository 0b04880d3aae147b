"""Published targets: ``COLUMN[:AGG][+OFFSET][@WHEN]=VALUE`` and how a run is read against them.

A scenario's ``targets:`` are checked after every run (``scslab.pipeline.check_targets``)
and fitted by ``scslab calibrate``; both read them with :func:`parse_target`. Values
are in real-population units, so :func:`column_factors` gives the factor by which
each daily column is multiplied when ``population.represents`` is set.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from scslab.errors import ScenarioError
from scslab.scenario.refs import did_you_mean
from scslab.scenario.schema import Scenario

AGGS = ("last", "sum", "mean", "max")
_TARGET = re.compile(r"^(?P<col>[a-z0-9_]+)(?::(?P<agg>[a-z]+))?"
                     r"(?:\+(?P<offset>[0-9.]+(?:[eE][+-]?[0-9]+)?))?(?:@(?P<when>[0-9-]+))?"
                     r"=(?P<value>.+)$")


@dataclass(frozen=True)
class Target:
    """One published figure to reproduce."""

    column: str
    agg: str
    day: int | None
    value: float
    text: str
    offset: float = 0.0

    def read(self, daily: pd.DataFrame, factor: float) -> float:
        """What the run achieved: the column aggregated up to the day, scaled by ``factor``.

        NaN when the daily table has no day up to the target's.
        """
        d = daily if self.day is None else daily[daily["day"] <= self.day]
        if d.empty:
            return math.nan
        col = d[self.column].astype(float)
        v = {"last": col.iloc[-1], "sum": col.sum(), "mean": col.mean(), "max": col.max()}[
            self.agg]
        return float(v) * factor + self.offset


def day_of(when: str, sc: Scenario) -> int:
    """The run day of ``@WHEN``: a day number, or a date counted from ``start_date``."""
    if when.isdigit():
        return int(when)
    if sc.start_date is None:
        raise ScenarioError(f"target date {when}: the scenario has no start_date; use a day "
                            "number (e.g. @365) or set start_date")
    try:
        d = date.fromisoformat(when)
    except ValueError:
        raise ScenarioError(f"target date {when!r} is not YYYY-MM-DD") from None
    day = (d - date.fromisoformat(sc.start_date)).days + 1
    if not 1 <= day <= sc.days:
        raise ScenarioError(f"target date {when} is day {day}, outside the run (1..{sc.days})")
    return day


def date_of(day: int, sc: Scenario) -> str | None:
    """The date of run day ``day`` (None when the scenario has no ``start_date``)."""
    if sc.start_date is None:
        return None
    return (date.fromisoformat(sc.start_date) + timedelta(days=day - 1)).isoformat()


def parse_target(text: str, sc: Scenario, columns: list[str]) -> Target:
    """Parse ``COLUMN[:AGG][+OFFSET][@WHEN]=VALUE`` against the run's daily columns."""
    m = _TARGET.match(text.strip())
    if not m:
        raise ScenarioError(f"--target {text!r}: expected COLUMN[:AGG][+OFFSET][@DATE]=VALUE, "
                            "e.g. listed_court@2018-12-31=13e6")
    col = m["col"]
    if col not in columns:
        raise ScenarioError(f"--target {text!r}: unknown column {col!r}"
                            f"{did_you_mean(col, columns)}")
    agg = m["agg"] or "last"
    if agg not in AGGS:
        raise ScenarioError(f"--target {text!r}: aggregation must be one of {', '.join(AGGS)}")
    try:
        value = float(m["value"])
    except ValueError:
        raise ScenarioError(f"--target {text!r}: {m['value']!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ScenarioError(f"--target {text!r}: the value must be a positive number")
    day = day_of(m["when"], sc) if m["when"] else None
    offset = float(m["offset"]) if m["offset"] else 0.0
    return Target(col, agg, day, value, text.strip(), offset)


def scale_factor(sc: Scenario) -> float:
    """People per agent: ``represents / agents``, or 1 without ``represents``."""
    rep = sc.population.represents
    return rep / sc.population.agents if rep else 1.0


def column_factors(sc: Scenario, columns_scale: dict[str, bool]) -> dict[str, float]:
    """The factor for each column: ``scale_factor`` if it scales with the population."""
    f = scale_factor(sc)
    return {c: (f if s else 1.0) for c, s in columns_scale.items()}
