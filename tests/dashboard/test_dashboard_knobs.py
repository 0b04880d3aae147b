"""The dashboard's knobs come from the schema: bounds, types, and valid at either end."""

from __future__ import annotations

import enum
import typing

import pytest
from pydantic import BaseModel, Field

from scslab import dashboard_knobs as K
from scslab.api import resolve
from scslab.scenario import preset_names
from scslab.scenario.schema import Scenario


def _schema_field(path: str):
    """(FieldInfo, annotation) at ``path``, walking the pydantic models by hand."""
    model: typing.Any = Scenario
    parts = path.split(".")
    for i, key in enumerate(parts):
        info = model.model_fields[key]
        ann = info.annotation
        if typing.get_origin(ann) is dict:  # a mapping: the next part is its key
            assert i == len(parts) - 2, path
            return info, typing.get_args(ann)[1]
        model = ann
    return info, info.annotation


def _schema_bounds(info, ann) -> tuple[float | None, float | None]:
    meta = list(info.metadata)
    if typing.get_origin(ann) is typing.Annotated:
        meta += [m for a in typing.get_args(ann)[1:] for m in a.metadata]
    ge = [m.ge for m in meta if hasattr(m, "ge")]
    le = [m.le for m in meta if hasattr(m, "le")]
    return (ge[-1] if ge else None), (le[-1] if le else None)


def _knobs(preset: str) -> list[K.Knob]:
    return K.all_knobs(preset)


@pytest.mark.parametrize("preset", preset_names())
def test_every_knob_has_the_schemas_bounds_type_and_text(preset):
    knobs = _knobs(preset)
    assert knobs
    for kn in knobs:
        info, ann = _schema_field(kn.path)
        bare = typing.get_args(ann)[0] if typing.get_origin(ann) is typing.Annotated else ann
        if bare is bool:
            assert kn.widget == "toggle", kn.path
        elif isinstance(bare, type) and issubclass(bare, enum.Enum):
            assert kn.widget == "choice" and kn.choices == tuple(e.value for e in bare)
        else:
            lo, hi = _schema_bounds(info, ann)
            assert (kn.lo, kn.hi) == (lo, hi), kn.path
            assert kn.widget == ("slider" if hi - lo <= K.SLIDER_MAX_SPAN else "number")
            assert kn.integer == (bare is int) and 0 < kn.step <= (hi - lo) / 100
        assert kn.help == info.description and kn.label, kn.path


@pytest.mark.parametrize("preset", preset_names())
def test_each_knob_at_its_min_and_max_gives_a_valid_scenario(preset):
    base = K.preset_knobs(preset, agents=100, days=1)
    for kn in _knobs(preset):
        ends = ([False, True] if kn.widget == "toggle" else list(kn.choices)
                if kn.widget == "choice" else [kn.lo, kn.hi])
        for v in ends:
            k = K.Knobs(**{**base.__dict__, "values": {**base.values, kn.path: v}})
            sc = K.build_scenario(k)  # validated, or raises
            got = K.value_at(sc.model_dump(mode="json"), kn.path)
            assert got == kn.cast(v), (kn.path, v, got)
    if K.density_on(K.preset_scenario(preset)):
        _, _, lo, hi, _ = K.CAMERA_SCALE
        for v in (lo, hi):
            sc = K.build_scenario(K.Knobs(**{**base.__dict__, "camera_scale": v}))
            want = [r.cameras_per_1000 * v for r in K.preset_scenario(preset).population.regions]
            assert [r.cameras_per_1000 for r in sc.population.regions] == want


def test_preset_knobs_change_nothing_and_hidden_knobs_follow_the_preset():
    for preset in preset_names():
        k = K.preset_knobs(preset)
        assert K.changed(k) == {} and K.describe_changes(k) == []
        assert K.build_scenario(k) == resolve(preset, agents=k.agents, days=k.days)
        density = K.density_on(K.preset_scenario(preset))
        assert ("sensors.cameras.coverage" in k.values) is not density
        groups = [g.name for g in K.preset_scenario(preset).population.groups]
        assert sorted(p.rsplit(".", 1)[1] for p in k.values
                      if ".group_multipliers." in p) == sorted(groups[1:])


def test_spillover_penalties_are_switched_by_the_spillover_toggle():
    by_path = {kn.path: kn for kn in _knobs("national")}
    assert "policy.spillover.enabled" in by_path["policy.spillover.household.penalty"].switches
    assert by_path["governance.appeals.enabled"].switches == ["governance.enabled"]


def test_step_follows_the_preset_value_within_the_range():
    assert K.step_for(0.5, 0.0, 1.0) == pytest.approx(0.001)
    assert K.step_for(0.001, 0.0, 1.0) == pytest.approx(1e-5)
    assert K.step_for(2.0, 0.0, 1.0) == pytest.approx(0.01)  # at most 1/100 of the range
    assert K.step_for(0.0, 0.0, 1.0) == pytest.approx(0.001)
    assert K.step_for(0.0, 0.0, 1e4) == pytest.approx(0.1)


def test_a_field_without_an_upper_bound_gets_an_open_number_box():
    class M(BaseModel):
        weight: float = Field(2.0, ge=0, description="A weight.")

    kn = K.knob_from_field("x.weight", M.model_fields["weight"], 2.0)
    assert (kn.widget, kn.lo, kn.hi, kn.label, kn.help) == ("number", 0.0, None, "Weight",
                                                            "A weight.")
    assert kn.format == "%.2f"


def test_a_knob_must_be_a_yes_no_a_choice_or_a_number():
    with pytest.raises(TypeError, match="observes"):
        K.knob_from_field("sensors.cameras.observes", K._fields()["sensors.cameras.observes"],
                          [])
