"""Derived scenario files: key-by-key merge onto the resolved base, ``!replace``, migration."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from scslab.errors import ScenarioError
from scslab.scenario import load_scenario, scenario_to_yaml
from scslab.scenario.loader import ScenarioDeprecationWarning, parse_yaml_text
from scslab.scenario.yamlio import Replace, _StrictLoader


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_derived_rule_keeps_the_base_rules(tmp_path):
    """The issue: base: national + one rule used to keep only that rule."""
    national = load_scenario("national").policy.rules
    p = write(tmp_path, "base: national\npolicy:\n  rules: {smoking: -12}\n")
    sc = load_scenario(p)
    assert sc.policy.rules == {**national, "smoking": -12.0}
    assert sc.policy.rules["fraud"] == -50 and sc.policy.rules["criticism"] == -30
    # the resolved scenario.yaml shows the rules in effect
    assert yaml.safe_load(scenario_to_yaml(sc))["policy"]["rules"]["fraud"] == -50


def test_merge_is_recursive_and_keeps_base_values(tmp_path):
    p = write(tmp_path, "base: national\nbehaviours:\n  smoking: {age: {child: 0.2}}\n"
                        "sensors:\n  cameras: {group_multipliers: {minority: 2}}\n")
    sc = load_scenario(p)
    n = load_scenario("national")
    assert sc.behaviours["smoking"].rate == n.behaviours["smoking"].rate
    assert sc.behaviours["smoking"].age.child == 0.2
    assert sc.behaviours["smoking"].age.elderly == n.behaviours["smoking"].age.elderly
    assert sc.sensors.cameras.group_multipliers == {"minority": 2.0, "foreign": 10.0}
    assert sc.sensors.cameras.false_match_rate == n.sensors.cameras.false_match_rate


def test_replace_tag_replaces_the_whole_mapping(tmp_path):
    p = write(tmp_path, "base: national\npolicy:\n  rules: !replace {smoking: -12}\n")
    assert load_scenario(p).policy.rules == {"smoking": -12.0}
    # on a block: what it leaves out gets the default, not the base's value
    p = write(tmp_path, "base: national\nsensors:\n  cameras: !replace {observes: [smoking]}\n")
    cams = load_scenario(p).sensors.cameras
    assert cams.observes == ["smoking"]
    assert cams.false_match_rate == 0.001  # the default scenario's; national has 0.01
    assert cams.group_multipliers == {}


def test_lists_replace_whole(tmp_path):
    p = write(tmp_path, "base: national\nsensors:\n  cameras: {observes: [smoking]}\n")
    assert load_scenario(p).sensors.cameras.observes == ["smoking"]


def test_chain_of_files_merges_at_each_step(tmp_path):
    write(tmp_path, "base: national\npolicy:\n  rules: {smoking: -12}\n", "a.yaml")
    b = write(tmp_path, "base: a.yaml\npolicy:\n  rules: {fraud: -70}\n", "b.yaml")
    rules = load_scenario(b).policy.rules
    assert rules["smoking"] == -12 and rules["fraud"] == -70 and rules["tax_evasion"] == -40


def test_set_overrides_still_apply_after_the_merge(tmp_path):
    p = write(tmp_path, "base: national\npolicy:\n  rules: {smoking: -12}\n")
    sc = load_scenario(p, ["policy.rules.fraud=-80"])
    assert sc.policy.rules["fraud"] == -80 and sc.policy.rules["smoking"] == -12
    assert sc.policy.rules["criticism"] == -30


def test_dict_input_with_base_merges_too():
    sc = load_scenario({"base": "national", "policy": {"rules": {"smoking": -12}}})
    assert sc.policy.rules["fraud"] == -50


def test_file_without_base_keeps_replacing_defaults(tmp_path):
    p = write(tmp_path, "policy:\n  rules: {smoking: -12}\n")
    assert load_scenario(p).policy.rules == {"smoking": -12.0}


def test_court_blacklist_keeps_only_its_rule():
    assert load_scenario("court-blacklist").policy.rules == {"court_default": 0.0}


def test_replace_is_only_for_mappings():
    with pytest.raises(ScenarioError, match="!replace at line 2 is on a list"):
        parse_yaml_text("sensors:\n  x: !replace [1, 2]\n", "s.yaml")
    with pytest.raises(ScenarioError, match="single value"):
        parse_yaml_text("days: !replace 3\n", "s.yaml")
    data = parse_yaml_text("policy:\n  rules: !replace {a: 1}\n", "s.yaml")
    assert isinstance(data["policy"]["rules"], Replace)


def test_loader_with_replace_is_still_safe():
    assert issubclass(_StrictLoader, yaml.SafeLoader)
    with pytest.raises(ScenarioError, match="not allowed"):
        parse_yaml_text("days: !!python/object/apply:os.system ['true']\n", "s.yaml")
    with pytest.raises(ScenarioError, match="duplicate key"):
        parse_yaml_text("x: !replace {a: 1, a: 2}\n", "s.yaml")


# --------------------------------------------------------------------------- attempted_by


@pytest.mark.parametrize(("kind", "old", "new"), [("train", False, "all"),
                                                  ("flight", True, "adults"),
                                                  ("private_school", False, "children")])
def test_adults_only_is_translated_with_a_warning(tmp_path, kind, old, new):
    p = write(tmp_path, f"base: national\npolicy:\n  sanctions:\n    {kind}: "
                        f"{{adults_only: {str(old).lower()}}}\n")
    with pytest.warns(ScenarioDeprecationWarning, match="attempted_by"):
        sc = load_scenario(p)
    assert getattr(sc.policy.sanctions, kind).attempted_by == new
    with pytest.warns(ScenarioDeprecationWarning):
        sc = load_scenario("national", [f"policy.sanctions.{kind}.adults_only={old}"])
    assert getattr(sc.policy.sanctions, kind).attempted_by == new


def test_adults_only_and_attempted_by_together_is_an_error(tmp_path):
    p = write(tmp_path, "policy:\n  sanctions:\n    train: {adults_only: true, "
                        "attempted_by: all}\n")
    with pytest.raises(ScenarioError, match="give `attempted_by` only"):
        load_scenario(p)


def test_bad_attempted_by_names_the_choices():
    with pytest.raises(ScenarioError, match="attempted_by.*'adults', 'children' or 'all'"):
        load_scenario("national", ["policy.sanctions.train.attempted_by=teens"])


def test_no_warning_without_the_old_key():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_scenario("court-blacklist")


def test_attempted_by_changes_outputs(tk):
    """private_school attempted by adults instead of children: other denials happen.

    Everyone is on the blacklist, so every attempt is a denial; children are ~18 % of
    agents, so switching to adults multiplies the expected denials by ~4.5 (far outside
    binomial noise: with ~6000 children-days × 0.02 = 120 expected, sd ≈ 11).
    """
    over = {"population.agents": 3000, "days": 10, "seed": 5,
            "policy.lists.blacklist.enter_below": 1e6,
            "policy.lists.blacklist.exit_at_or_above": 1e6,
            "policy.sanctions.private_school.attempt_rate": 0.02}
    kids = tk.total(tk.simulate("national", over), "denied_private_school")
    adults = tk.total(tk.simulate(
        "national", {**over, "policy.sanctions.private_school.attempted_by": "adults"}),
        "denied_private_school")
    everyone = tk.total(tk.simulate(
        "national", {**over, "policy.sanctions.private_school.attempted_by": "all"}),
        "denied_private_school")
    assert kids > 0
    assert adults > 2.5 * kids
    assert everyone > adults
    # binomial: 'all' = children + adults in expectation; allow 5 sd of the sum
    sd = (kids + adults) ** 0.5
    assert abs(everyone - (kids + adults)) < 5 * sd
