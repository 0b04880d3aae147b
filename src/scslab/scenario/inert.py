"""Where a scenario field does nothing, and why: the table behind "every field acts".

Every leaf of a scenario either changes some output of a run (the daily table, the event
log) when it changes, or is listed here with the reason it does not. The test
``tests/scenario/test_schema_walk.py`` perturbs each leaf of the shipped presets and
checks exactly that; ``docs/scenarios.md`` lists this table for users.

An entry names a field by a dotted pattern (``*`` matches one segment: a block name, a
list index or a mapping key) and either always applies (the field acts elsewhere than the
simulated outputs, e.g. the run's label) or only ``when`` another setting has a value
(``when=("governance.appeals.enabled", False)``: the appeal settings do nothing while
appeals are off), or only to the last entry of a list (``last=True``: the lowest grade). A ``*`` in ``when`` stands for the segment the pattern's ``*`` matched.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

__all__ = ["INERT", "Inert", "inert_reason"]


@dataclass(frozen=True)
class Inert:
    """A field (pattern) that does not act on simulated outputs, and why."""

    pattern: str
    reason: str
    when: tuple[str, Any] | None = None
    #: applies only to the last entry of the list that the pattern's ``*`` indexes
    last: bool = False


INERT: tuple[Inert, ...] = (
    # labels and bookkeeping: they act on what a run is called and reports, not on what it simulates
    Inert("schema_version", "the version of the file format; only one exists"),
    Inert("name", "the run's label (summary, report title), not its simulation"),
    Inert("description", "text shown in the report and `scslab presets`"),
    Inert("targets.*.source", "citation shown beside the target in the report"),
    Inert("targets.*.target", "compared with the results after the run (summary.json "
          "\"targets\"), does not change them"),
    Inert("population.represents", "scales reported counts (summary, report) by represents "
          "/ agents; the daily table holds sample counts"),
    Inert("output.checkpoint_every", "writes checkpoint files for `scslab resume`; results "
          "are identical with or without them (tests/test_checkpoint*)"),
    Inert("output.event_log.full_below", "decides whose events are logged only when the "
          "population is larger than it", when=("output.event_log.enabled", False)),
    Inert("output.event_log.sample_agents", "used only when the population exceeds "
          "output.event_log.full_below"),
    Inert("start_date", "puts calendar dates on the days (daily.parquet `date`, targets "
          "@DATE, the report's axis); the simulation itself runs on day numbers"),
    Inert("policy.grades.*.min_score", "the lowest grade takes every score below the grade "
          "above it, so its own lower bound is never used", last=True),
    # settings that need another one to be non-zero
    Inert("behaviours.*.age.child", "there are no children (population.age.child_share: 0)",
          when=("population.age.child_share", 0.0)),
    Inert("behaviours.*.age.elderly", "there are no elderly (population.age.elderly_share: "
          "0)", when=("population.age.elderly_share", 0.0)),
    Inert("population.ties.dispersion", "there are no ties (population.ties.mean_degree: 0)",
          when=("population.ties.mean_degree", 0.0)),
    Inert("population.ties.within_region", "there are no ties",
          when=("population.ties.mean_degree", 0.0)),
    Inert("population.employers.mean_size", "nobody is employed "
          "(population.employers.employed_share: 0)",
          when=("population.employers.employed_share", 0.0)),
    Inert("population.employers.size_sigma", "nobody is employed",
          when=("population.employers.employed_share", 0.0)),
    Inert("sensors.cameras.coverage", "coverage follows each region's camera density "
          "(sensors.cameras.density_coverage: true)",
          when=("sensors.cameras.density_coverage", True)),
    Inert("sensors.cameras.saturation_per_1000", "coverage is fixed, not derived from camera "
          "density", when=("sensors.cameras.density_coverage", False)),
    Inert("population.regions.*.cameras_per_1000", "camera coverage is fixed, not derived "
          "from camera density", when=("sensors.cameras.density_coverage", False)),
    Inert("responses.deterrence.awareness_published", "the rules are secret: agents' "
          "awareness is responses.deterrence.awareness_secret",
          when=("governance.transparency", "secret")),
    Inert("responses.deterrence.awareness_secret", "the rules are published: agents' "
          "awareness is responses.deterrence.awareness_published",
          when=("governance.transparency", "published")),
    # gated blocks: off in the scenario, so their settings wait
    Inert("governance.appeals.*", "appeals are off (governance.appeals.enabled: false)",
          when=("governance.appeals.enabled", False)),
    Inert("governance.evidence_review.reversal_probability", "evidence review is off",
          when=("governance.evidence_review.enabled", False)),
    Inert("governance.expiry.days", "expiry is off", when=("governance.expiry.enabled", False)),
    Inert("governance.credit_repair.*", "credit repair is off",
          when=("governance.credit_repair.enabled", False)),
    Inert("policy.lists.blacklist.*", "the blacklist is off",
          when=("policy.lists.blacklist.enabled", False)),
    Inert("policy.lists.court.*", "the court list is off",
          when=("policy.lists.court.enabled", False)),
    Inert("policy.lists.redlist.min_score", "the redlist is off",
          when=("policy.lists.redlist.enabled", False)),
    Inert("policy.rewards.rate", "rewards are off", when=("policy.rewards.enabled", False)),
    Inert("policy.spillover.*.*", "joint punishment is off",
          when=("policy.spillover.enabled", False)),
    Inert("sensors.*.*", "the sensor is off", when=("sensors.*.enabled", False)),
    Inert("sensors.*.classification.*", "the sensor does not classify",
          when=("sensors.*.classification.enabled", False)),
)


def _get(data: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(data, dict):
            data = data.get(p, data.get(int(p)) if p.isdigit() else None)
        elif isinstance(data, list) and p.isdigit() and int(p) < len(data):
            data = data[int(p)]
        else:
            return None
    return data


def _stars(pattern: str, path: str) -> list[str]:
    return [seg for pat, seg in zip(pattern.split("."), path.split("."), strict=True)
            if pat == "*"]


def _is_last(pattern: str, path: str, resolved: dict) -> bool:
    """Whether the list index that the first ``*`` of ``pattern`` matched is the last."""
    parts = path.split(".")
    k = pattern.split(".").index("*")
    items = _get(resolved, parts[:k])
    return isinstance(items, list) and parts[k] == str(len(items) - 1)


def inert_reason(path: str, resolved: dict) -> str | None:
    """Why field ``path`` does nothing in the resolved scenario ``resolved``, or None.

    ``resolved`` is the scenario as plain data (``Scenario.model_dump()``).
    """
    for entry in INERT:
        if len(entry.pattern.split(".")) != len(path.split(".")):
            continue
        if not fnmatch.fnmatchcase(path, entry.pattern):
            continue
        if entry.last and not _is_last(entry.pattern, path, resolved):
            continue
        if entry.when is None:
            return entry.reason
        when_path, value = entry.when
        stars = iter(_stars(entry.pattern, path))
        parts = [next(stars, p) if p == "*" else p for p in when_path.split(".")]
        if parts != path.split(".") and _get(resolved, parts) == value:
            return entry.reason
    return None
