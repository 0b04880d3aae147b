"""The dashboard's knobs, generated from the scenario schema (no Streamlit here).

The knobs are declared once, as scenario paths in :data:`SECTIONS`. Each knob's
label, help text, bounds, type and widget come from the schema field at its path
(``Field(ge=…, le=…, description=…)`` and the unit in ``json_schema_extra``), found
with :func:`scslab.describe.reference.schema_fields`; the settings are applied with the
``--set`` machinery (:func:`scslab.scenario.loader.apply_overrides`, through
:func:`scslab.api.resolve`). Only the step and the number format are derived from
the preset's value, in :func:`step_for`.

Every numeric field of the schema has an upper bound, but some are sanity limits
(10,000 points a day, a ×1,000,000 multiplier) far beyond any sensible setting: a
slider over such a range cannot be set by hand, so a field whose range is wider
than :data:`SLIDER_MAX_SPAN` gets a number box with the schema's bounds instead. A
field without an upper bound would get a number box with no maximum.
"""

from __future__ import annotations

import enum
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from scslab.scenario.schema import Scenario

DEFAULT_AGENTS = 20_000
DEFAULT_DAYS = 120

#: The knobs, by sidebar section: scenario paths. ``<dict path>.*`` is one knob per
#: key, for the preset's groups beyond the first (the reference group).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Cameras", ("sensors.cameras.coverage", "sensors.cameras.detection",
                 "sensors.cameras.false_match_rate", "sensors.cameras.group_multipliers.*")),
    ("Joint punishment", ("policy.spillover.enabled", "policy.spillover.household.penalty",
                          "policy.spillover.ties.penalty",
                          "policy.spillover.employer.employee_penalty")),
    ("Governance", ("governance.transparency", "governance.appeals.enabled",
                    "governance.evidence_review.enabled", "governance.expiry.enabled")),
)

#: A knob hidden when the preset turns this flag on (density drives coverage then, and
#: the camera-density knob is shown instead).
HIDDEN_WHEN: dict[str, str] = {"sensors.cameras.coverage": "sensors.cameras.density_coverage"}

#: The camera-density knob (not a schema value: it scales every region's
#: ``cameras_per_1000``): label, help, min, max, step.
CAMERA_SCALE = ("Camera density (× the preset)",
                "Scales cameras per 1,000 people in every region; coverage follows density.",
                0.0, 5.0, 0.1)
DENSITY_FLAG = HIDDEN_WHEN["sensors.cameras.coverage"]
#: The section that shows the camera-density knob: the one with the cameras' knobs.
CAMERA_SECTION = next(t for t, paths in SECTIONS
                      if any(p.startswith(DENSITY_FLAG.rsplit(".", 1)[0] + ".") for p in paths))

#: The widest schema range a slider covers; wider ranges get a number box.
SLIDER_MAX_SPAN = 100.0

#: Last path segments too generic to name a knob alone: the block's name goes first.
_GENERIC = {"penalty", "rate", "days", "points", "share"}

Widget = Literal["toggle", "choice", "slider", "number"]


@dataclass(frozen=True)
class Knob:
    """One knob: a scenario path and how the dashboard shows it (all from the schema)."""

    path: str
    widget: Widget
    label: str
    help: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    integer: bool = False
    choices: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The Streamlit widget key: the path."""
        return self.path

    @property
    def switches(self) -> list[str]:
        """The ``<block>.enabled`` paths of the blocks above this knob (which switch it off)."""
        parts = self.path.split(".")
        flags = [".".join(parts[:i]) + ".enabled" for i in range(1, len(parts))]
        return [f for f in flags if f != self.path]

    @property
    def format(self) -> str | None:
        """A printf format showing as many decimals as the step has."""
        if self.integer or self.step is None or self.widget not in ("slider", "number"):
            return None
        return f"%.{max(0, -math.floor(math.log10(self.step)))}f"

    def cast(self, value: Any) -> Any:
        """``value`` as the schema's type (bool, int, float or the choice's text)."""
        if self.widget == "toggle":
            return bool(value)
        if self.widget == "choice":
            return str(getattr(value, "value", value))
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class Knobs:
    """The dashboard's settings: a preset, its size and seed, and the knobs' values."""

    preset: str
    agents: int = DEFAULT_AGENTS
    days: int = DEFAULT_DAYS
    seed: int = 0
    camera_scale: float = 1.0
    values: dict[str, Any] = field(default_factory=dict)
    chilling: bool = False


# --------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def _fields() -> dict[str, FieldInfo]:
    from scslab.describe.reference import schema_fields

    return {f.path: f.model.model_fields[f.name] for f in schema_fields()}


def _humanise(name: str) -> str:
    return name.replace("_", " ")


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return lo, hi


def step_for(value: float, lo: float | None, hi: float | None) -> float:
    """The step of a number knob, from the preset's value and the schema's range.

    Two digits finer than the value (0.5 → 0.001), at most a hundredth of the range;
    for a value of 0, a thousandth of the range, at most 0.1.
    """
    span = (hi - lo) if lo is not None and hi is not None else None
    if not value:
        return min(0.1, 10.0 ** math.floor(math.log10(span / 1000))) if span else 0.1
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 2)
    if span:
        step = min(step, 10.0 ** math.floor(math.log10(span / 100)))
    return step


def knob_from_field(path: str, info: FieldInfo, value: Any, annotation: Any = None,
                    label: str | None = None) -> Knob:
    """The knob for the schema field ``info`` at ``path``, given the preset's value.

    ``annotation`` and ``label`` are for a mapping's item (its type and its name).
    """
    from scslab.describe.reference import field_meta

    ann = info.annotation if annotation is None else annotation
    metadata = list(info.metadata)
    while typing.get_origin(ann) is typing.Annotated:
        ann, *meta = typing.get_args(ann)
        metadata += [x for m in meta for x in getattr(m, "metadata", [m])]
    parts = path.split(".")
    if label is None:
        name = parts[-1]
        if name == "enabled":
            name = parts[-2]
        elif name in _GENERIC:
            name = f"{parts[-2]} {name}"
        label = _humanise(name).capitalize()
    unit, _ = field_meta(info)
    text = info.description or ""
    if ann is bool:
        return Knob(path, "toggle", label, text)
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return Knob(path, "choice", label, text, choices=tuple(str(e.value) for e in ann))
    if typing.get_origin(ann) is Literal:
        return Knob(path, "choice", label, text, choices=tuple(map(str, typing.get_args(ann))))
    if ann not in (int, float):
        raise TypeError(f"{path}: a knob needs a yes/no, a choice or a number, not {ann}")
    lo, hi = _bounds(metadata)
    integer = ann is int
    lo, hi = (None if b is None else (int(b) if integer else float(b)) for b in (lo, hi))
    step = 1.0 if integer else step_for(float(value), lo, hi)
    wide = lo is None or hi is None or hi - lo > SLIDER_MAX_SPAN
    if unit:
        label = f"{label} ({unit})"
    return Knob(path, "number" if wide else "slider", label, text, lo, hi, step, integer)


def knobs_for(sc: Scenario) -> list[tuple[str, list[Knob]]]:
    """The knobs a preset shows, by section (``.*`` expanded, hidden ones left out)."""
    data = sc.model_dump(mode="json")
    fields = _fields()
    groups = [g.name for g in sc.population.groups][1:]
    out = []
    for title, paths in SECTIONS:
        knobs = []
        for path in paths:
            if path.endswith(".*"):
                base = path[:-2]
                info = fields[base]
                item = typing.get_args(info.annotation)[-1]
                what = _humanise(base.rsplit(".", 1)[-1]).capitalize()
                knobs += [knob_from_field(f"{base}.{g}", info, value_at(data, f"{base}.{g}", 1.0),
                                          item, f"{what}: {g}") for g in groups]
            elif not (path in HIDDEN_WHEN and value_at(data, HIDDEN_WHEN[path])):
                knobs.append(knob_from_field(path, fields[path], value_at(data, path)))
        out.append((title, knobs))
    return out


def density_on(sc: Scenario) -> bool:
    """Whether the preset derives camera coverage from density (the density knob shows)."""
    return bool(value_at(sc.model_dump(mode="json"), DENSITY_FLAG))


def value_at(data: Mapping[str, Any], path: str, missing: Any = None) -> Any:
    """The value at a dotted path of a scenario's plain data (``missing`` if absent)."""
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return missing
        node = node[key]
    return node


# --------------------------------------------------------------------------- knobs


@lru_cache(maxsize=32)
def preset_scenario(preset: str) -> Scenario:
    """The preset as shipped (validated)."""
    from scslab.api import resolve

    return resolve(preset)


def all_knobs(preset: str) -> list[Knob]:
    """The preset's knobs, in sidebar order."""
    return [k for _, ks in knobs_for(preset_scenario(preset)) for k in ks]


def preset_knobs(preset: str, agents: int = DEFAULT_AGENTS, days: int = DEFAULT_DAYS) -> Knobs:
    """The knobs as the preset sets them."""
    sc = preset_scenario(preset)
    data = sc.model_dump(mode="json")
    values = {k.path: k.cast(value_at(data, k.path, 1.0)) for k in all_knobs(preset)}
    return Knobs(preset=preset, agents=agents, days=days, seed=sc.seed, values=values)


def changed(k: Knobs) -> dict[str, Any]:
    """The knob values that differ from the preset's, by path (cast to the schema's types)."""
    base = preset_knobs(k.preset).values
    by_path = {kn.path: kn for kn in all_knobs(k.preset)}
    out = {}
    for path, v in k.values.items():
        if path in by_path and by_path[path].cast(v) != base.get(path):
            out[path] = by_path[path].cast(v)
    return out


def describe_changes(k: Knobs) -> list[str]:
    """Plain-language list of what the knobs change relative to the preset."""
    from scslab.report import value_text

    base = preset_knobs(k.preset, k.agents, k.days)
    labels = {kn.path: kn.label for kn in all_knobs(k.preset)}
    out = []
    if k.seed != base.seed:
        out.append(f"seed: {value_text(base.seed)} → {value_text(k.seed)}")
    if k.camera_scale != base.camera_scale:
        out.append(f"{CAMERA_SCALE[0].lower()}: {value_text(base.camera_scale)} → "
                   f"{value_text(k.camera_scale)}")
    for path, v in changed(k).items():
        out.append(f"{labels[path]}: {value_text(base.values[path])} → {value_text(v)}")
    return out


def build_scenario(k: Knobs, name: str | None = None) -> Scenario:
    """The preset with the knobs applied: a validated Scenario (nothing is run)."""
    from scslab.api import resolve

    over: dict[str, Any] = dict(changed(k))
    if k.camera_scale != 1.0:
        for i, reg in enumerate(preset_scenario(k.preset).population.regions):
            over[f"population.regions.{i}.cameras_per_1000"] = (
                float(reg.cameras_per_1000) * float(k.camera_scale))
    changes = describe_changes(k)
    if changes:
        text = preset_scenario(k.preset).description
        over["description"] = (text + " Dashboard changes: " + "; ".join(changes) + ".")[:4000]
    if name:
        over["name"] = name[:64]
    return resolve(k.preset, agents=int(k.agents), days=int(k.days), seed=int(k.seed),
                   set=over)
