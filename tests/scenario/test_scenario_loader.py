"""Scenario loading: presets, ``base:`` inheritance, ``--set`` overrides, clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from scslab.errors import ScenarioError, ScslabError
from scslab.scenario import Scenario, load_scenario, preset_names, scenario_hash, scenario_to_yaml
from scslab.scenario.loader import (
    apply_overrides,
    deep_merge,
    parse_set,
    parse_yaml_text,
    preset_text,
    resolve_raw,
)
from scslab.scenario.yamlio import _load_yaml

PRESETS = preset_names()


def write(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def error_of(ref, overrides=None) -> str:
    with pytest.raises(ScenarioError) as e:
        load_scenario(ref, overrides)
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


# --------------------------------------------------------------------------- presets


def test_expected_presets_ship():
    assert {"national", "rm1", "transparent"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_validates(name):
    sc = load_scenario(name)
    assert isinstance(sc, Scenario)
    assert sc.name == name
    assert sc.days >= 1 and sc.population.agents >= 1


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_file_is_plain_safe_yaml(name):
    """Plain data for the strict safe loader: mappings, lists, scalars and !replace only."""
    data = _load_yaml(preset_text(name))
    assert isinstance(data, dict)
    assert data.get("schema_version") == 1


def test_rm1_preset_is_the_reference_model():
    """rm1.md, parameter by parameter."""
    sc = load_scenario("rm1")
    p = sc.population
    assert p.households.size_shares == {3: 1.0}
    assert p.disposition.sigma == 0.5
    assert p.ties.mean_degree == 0 and p.employers.employed_share == 0
    assert p.age.child_share == 0 and p.age.elderly_share == 0
    b = sc.behaviours
    assert set(b) == {"community_service", "smoking", "fraud"}
    assert (b["community_service"].rate, b["community_service"].disposition_exponent) == (0.01, 0)
    assert (b["smoking"].rate, b["smoking"].disposition_exponent) == (0.005, 1)
    assert (b["fraud"].rate, b["fraud"].disposition_exponent) == (0.0005, 1)
    cams = sc.sensors.cameras
    assert cams.detection * cams.coverage == 0.6 and not cams.density_coverage
    assert cams.false_match_rate == 0.01 and cams.scope == "population"
    assert [n for n, s in sc.sensors.items() if s.enabled] == ["cameras"]
    assert dict(sc.policy.rules) == {"community_service": 5, "smoking": -10, "fraud": -50}
    assert sc.policy.scoring.decay == 0.01 and sc.policy.scoring.base == 1000
    bl = sc.policy.lists.blacklist
    assert (bl.enter_below, bl.exit_at_or_above, bl.min_days) == (900, 950, 0)
    assert not sc.policy.lists.court.enabled
    assert sc.policy.spillover.household.penalty == 1
    assert sc.responses.deterrence.listed_multiplier == 0.5
    assert sc.responses.deterrence.known_rules_multiplier == 1.0


# --------------------------------------------------------------------------- base:


def test_transparent_is_national_plus_overrides():
    national = load_scenario("national").model_dump(mode="python")
    own = yaml.safe_load(preset_text("transparent"))
    assert own.pop("base") == "national"
    national.pop("name")
    national.pop("description")
    assert resolve_raw("transparent") == deep_merge(national, own)
    t = load_scenario("transparent").model_dump(mode="json")
    n = load_scenario("national").model_dump(mode="json")
    for key in ("name", "description", "governance"):
        t.pop(key)
        n.pop(key)
    assert t == n
    assert load_scenario("transparent").governance.appeals.enabled


def test_base_file_relative_to_the_including_file(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    write(sub, "base: rm1\nname: parent\ndays: 12\n", "parent.yaml")
    child = write(sub, "base: parent.yaml\nname: child\nseed: 9\n", "child.yaml")
    sc = load_scenario(child)
    assert (sc.name, sc.days, sc.seed) == ("child", 12, 9)
    assert sc.behaviours.keys() == load_scenario("rm1").behaviours.keys()


def test_base_merges_mappings_and_replaces_lists(tmp_path):
    f = write(tmp_path, "base: national\npopulation:\n  agents: 10\n"
                        "  regions: [{name: one, share: 1.0}]\n")
    sc = load_scenario(f)
    assert sc.population.agents == 10
    assert [r.name for r in sc.population.regions] == ["one"]
    assert [g.name for g in sc.population.groups] == ["majority", "minority", "foreign"]


def test_base_in_a_mapping():
    sc = load_scenario({"base": "rm1", "days": 4})
    assert sc.days == 4 and sc.seed == load_scenario("rm1").seed


def test_base_cycle(tmp_path):
    write(tmp_path, "base: b.yaml\n", "a.yaml")
    write(tmp_path, "base: a.yaml\n", "b.yaml")
    assert "cycle" in error_of(tmp_path / "a.yaml")


def test_base_must_be_a_name(tmp_path):
    assert "base" in error_of(write(tmp_path, "base: [national]\n"))


# --------------------------------------------------------------------------- --set


def test_set_rule_points():
    sc = load_scenario("national", ["policy.rules.fraud=-80"])
    assert sc.policy.rules["fraud"] == -80
    assert load_scenario("national").policy.rules["fraud"] == -50


def test_set_list_index():
    sc = load_scenario("national", ["population.regions.0.share=0.25",
                                    "population.regions.1.share=0.35"])
    base = [r.share for r in load_scenario("national").population.regions]
    assert [r.share for r in sc.population.regions] == [0.25, 0.35, *base[2:]]


def test_set_list_index_breaking_a_total_names_it():
    msg = error_of("national", ["population.regions.0.share=0.5"])
    assert "population.regions" in msg and "sum to 1" in msg


def test_set_dict_keys():
    sc = load_scenario("national", ["sensors.cameras.group_multipliers.minority=5",
                                    "population.households.size_shares.3=0.5"])
    assert sc.sensors.cameras.group_multipliers["minority"] == 5
    assert sc.population.households.size_shares[3] == 0.5


def test_set_new_dict_key_is_validated_against_behaviours():
    msg = error_of("national", ["policy.rules.jaywalking=-5"])
    assert "policy.rules" in msg and "jaywalking" in msg


def test_set_into_a_block_the_file_left_out():
    sc = load_scenario("rm1", ["governance.appeals.enabled=true"])
    assert sc.governance.appeals.enabled
    assert sc.governance.appeals.review_delay_days == 15  # the default


def test_set_list_index_into_a_default_list():
    """national leaves policy.grades at its default: an index still reaches it."""
    sc = load_scenario("national", ["policy.grades.0.min_score=1100"])
    assert sc.policy.grades[0].min_score == 1100


def test_set_mapping_form_and_types():
    sc = load_scenario("rm1", {"days": 7, "population.agents": 30, "seed": 3})
    assert (sc.days, sc.population.agents, sc.seed) == (7, 30, 3)
    p, v = parse_set("sensors.cameras.false_match_rate=0.01")
    assert p == ["sensors", "cameras", "false_match_rate"] and v == 0.01
    assert parse_set("governance.appeals.enabled=true")[1] is True
    assert parse_set("name=hello world")[1] == "hello world"
    assert parse_set("name=")[1] is None


def test_set_unknown_key_hint_and_path():
    msg = error_of("national", ["policy.rulez.fraud=-80"])
    assert "policy.rulez" in msg and "did you mean 'rules'" in msg
    msg = error_of("national", ["polcy.rules.fraud=-80"])
    assert "did you mean 'policy'" in msg


def test_set_unknown_key_lists_valid_ones_when_nothing_is_close():
    msg = error_of("national", ["governance.zzzzzz=1"])
    assert "valid:" in msg and "appeals" in msg


@pytest.mark.parametrize("expr,needle", [
    ("population.regions.9.share=1", "out of range"),
    ("population.regions.x.share=1", "list index must be a number"),
    ("days.x=1", "not a block"),
    ("days", "PATH=VALUE"),
    ("=1", "empty path"),
    ("a..b=1", "empty path"),
    ("days=.nan", "finite"),
    ("days=.inf", "finite"),
    ("days=-.inf", "finite"),
])
def test_set_errors(expr, needle):
    assert needle in error_of("national", [expr])


def test_set_text_where_a_number_belongs():
    msg = error_of("national", ["sensors.cameras.false_match_rate=lots"])
    assert "sensors.cameras.false_match_rate" in msg and "lots" in msg


def test_apply_overrides_does_not_mutate_its_input():
    raw = resolve_raw("rm1")
    before = yaml.safe_dump(raw)
    apply_overrides(raw, ["days=3", "governance.appeals.enabled=true"])
    assert yaml.safe_dump(raw) == before


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("text,needles", [
    ("base: national\npolicy:\n  rulez: {fraud: -80}\n",
     ["policy.rulez", "unknown key", "did you mean 'rules'"]),
    ("base: national\nsensors:\n  cameras:\n    false_match_rate: -0.1\n",
     ["sensors.cameras.false_match_rate", "greater than or equal to 0", "-0.1"]),
    ("base: national\nsensors:\n  cameras:\n    false_match_rate: 1.5\n",
     ["sensors.cameras.false_match_rate", "1.5"]),
    ("base: national\ndays: lots\n", ["days", "integer", "lots"]),
    ("base: national\npopulation:\n  agents: many\n", ["population.agents", "many"]),
    ("base: national\nsensors:\n  cameras:\n    detection: .nan\n",
     ["sensors.cameras.detection"]),
    ("base: national\nsensors:\n  cameras:\n    detection: .inf\n",
     ["sensors.cameras.detection"]),
    ("base: national\npolicy:\n  scoring:\n    base: .inf\n", ["policy.scoring.base"]),
    ("days: 3\ndays: 4\n", ["duplicate key 'days'", "line 2"]),
    ("a: &x 1\nb: *x\n", ["aliases"]),
    ("", ["empty"]),
    ("# only a comment\n", ["empty"]),
    ("- 1\n- 2\n", ["top level must be a mapping", "list"]),
    ("just text\n", ["top level must be a mapping", "str"]),
    ("days: [1, 2\n", ["not valid YAML", "line"]),
    ("base: national\nbehaviours:\n  Smoking: {rate: 0.1}\n", ["snake_case"]),
    ("base: national\npolicy:\n  lists:\n    blacklist: {enter_below: 900, exit_at_or_above: 800}\n",
     ["exit_at_or_above"]),
    ("base: national\nunknown_top: 1\n", ["unknown_top", "unknown key"]),
])
def test_bad_files(tmp_path, text, needles):
    msg = error_of(write(tmp_path, text))
    for n in needles:
        assert n in msg, (n, msg)


def test_unknown_key_in_a_nested_list_names_the_index(tmp_path):
    msg = error_of(write(tmp_path, "base: national\npopulation:\n  regions:\n"
                                   "    - {name: a, share: 1.0, cameras: 5}\n"))
    assert "population.regions[0].cameras" in msg


def test_non_utf8_bytes(tmp_path):
    msg = error_of(write(tmp_path, b"name: caf\xe9\ndays: 3\n"))
    assert "UTF-8" in msg


def test_nul_bytes(tmp_path):
    assert "NUL" in error_of(write(tmp_path, b"days: 3\x00\n"))


def test_missing_file():
    assert "not found" in error_of("no/such/scenario.yaml")
    assert "not found" in error_of("missing.yaml")


def test_unknown_preset_hint():
    msg = error_of("natinal")
    assert "did you mean 'national'" in msg and "scslab presets" in msg


def test_directory_is_not_a_scenario(tmp_path):
    assert "directory" in error_of(tmp_path)


def test_very_long_name_is_bad_input():
    """A name longer than the file-name limit is bad input, not an OSError."""
    error_of("x" * 300)
    error_of({"base": "y" * 300})


def test_errors_are_scslab_errors():
    assert issubclass(ScenarioError, ScslabError)


def test_parse_yaml_text_limits():
    with pytest.raises(ScenarioError, match="nesting too deep"):
        parse_yaml_text("a: " + "[" * 200 + "]" * 200, "t")


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", PRESETS)
def test_resolved_yaml_round_trips(tmp_path, name):
    sc = load_scenario(name, ["days=17", "seed=99"])
    text = scenario_to_yaml(sc)
    again = load_scenario(write(tmp_path, text))
    assert again == sc
    assert scenario_to_yaml(again) == text
    assert scenario_hash(again) == scenario_hash(sc)


@pytest.mark.parametrize("name", PRESETS)
def test_resolved_yaml_has_top_level_days_and_seed_in_block_style(name):
    text = scenario_to_yaml(load_scenario(name, ["days=17", "seed=99"]))
    assert re.search(r"^days: 17$", text, re.M)
    assert re.search(r"^seed: 99$", text, re.M)
    # block style: every top-level block opens on its own line, nested keys are indented
    assert re.search(r"^population:$", text, re.M)
    assert re.search(r"^  agents: \d+$", text, re.M)
    assert not re.search(r"^\w+: \{.+\}$", text, re.M), "a top-level block in flow style"
    data = yaml.safe_load(text)
    assert list(data)[:5] == ["schema_version", "name", "description", "days", "seed"]


def test_scenario_hash_ignores_name_and_description_only():
    a = load_scenario("rm1")
    b = load_scenario("rm1", {"name": "other", "description": "x"})
    c = load_scenario("rm1", {"seed": 2})
    assert scenario_hash(a) == scenario_hash(b)
    assert scenario_hash(a) != scenario_hash(c)
    assert re.fullmatch(r"[0-9a-f]{16}", scenario_hash(a))


def test_scenario_objects_and_mappings_load():
    sc = load_scenario("rm1")
    assert load_scenario(sc) == sc
    assert load_scenario(sc.model_dump(mode="json")) == sc
    assert load_scenario(sc, {"days": 2}).days == 2


def test_scenario_is_frozen():
    sc = load_scenario("rm1")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        sc.days = 3  # type: ignore[misc]
