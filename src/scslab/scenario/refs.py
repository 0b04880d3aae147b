"""Cross-references inside a scenario: names used in one block must exist in another."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scslab.scenario.schema import Scenario


def did_you_mean(name: str, options) -> str:
    """A ' (did you mean …?)' hint, or the list of valid names when nothing is close."""
    options = sorted(options)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    shown = ", ".join(options[:20]) + (", …" if len(options) > 20 else "")
    return f" (valid: {shown})"


def _check_names(where: str, names, valid) -> None:
    for n in names:
        if n not in valid:
            raise ValueError(f"{where}: unknown name {n!r}{did_you_mean(n, valid)}")


def _check_shares(where: str, shares: list[float]) -> None:
    total = sum(shares)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{where}: shares must sum to 1 (they sum to {total:.6g})")


def check_references(sc: Scenario) -> None:
    """Raise ValueError naming the first dangling reference or inconsistent total."""
    # The sanction names come from the scenario itself (``Sanctions.items`` lists
    # ``SANCTION_KINDS``) so that this module never imports the schema at run time.
    sanction_kinds = [k for k, _ in sc.policy.sanctions.items()]
    behaviours = set(sc.behaviours)
    groups = {g.name for g in sc.population.groups}
    _check_shares("population.groups", [g.share for g in sc.population.groups])
    _check_shares("population.regions", [r.share for r in sc.population.regions])
    _check_names("policy.rules", sc.policy.rules, behaviours)
    for r in sc.population.regions:
        _check_names(f"population.regions[{r.name}].rules", r.rules, behaviours)
    for name, sensor in sc.sensors.items():
        if not sensor.enabled:
            continue
        _check_names(f"sensors.{name}.observes", sensor.observes, behaviours)
        _check_names(f"sensors.{name}.group_multipliers", sensor.group_multipliers, groups)
    lists = sc.policy.lists
    if lists.court.enabled:
        _check_names("policy.lists.court.trigger", [lists.court.trigger], behaviours)
    if sc.responses.chilling.behaviour not in behaviours and sc.responses.chilling.strength > 0:
        n = sc.responses.chilling.behaviour
        raise ValueError(f"responses.chilling.behaviour: unknown name {n!r}"
                         f"{did_you_mean(n, behaviours)}")
    sp = sc.policy.spillover
    _check_names("policy.spillover.household.sanctions", sp.household.sanctions, sanction_kinds)
    _check_names("policy.spillover.employer.representative_sanctions",
                 sp.employer.representative_sanctions, sanction_kinds)
    if sp.employer.business_exit_at_or_above < sp.employer.business_enter_below:
        raise ValueError("policy.spillover.employer: business_exit_at_or_above must be >= "
                         "business_enter_below")
    for f in sc.data_flows:
        if f.at_home.records_as is not None:
            _check_names(f"data_flows[{f.name}].at_home.records_as", [f.at_home.records_as],
                         behaviours)
    flow_names = [f.name for f in sc.data_flows]
    dup = sorted({n for n in flow_names if flow_names.count(n) > 1})
    if dup:
        raise ValueError(f"data_flows: flow names must be unique, {dup[0]!r} repeats")
