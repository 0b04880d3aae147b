"""Law files: safe loading, the closed condition language, clear errors."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from scslab.audit import LAW_NAMES, Law, LawFileError, audit_flows, load_law, load_laws
from scslab.audit.conditions import FIELDS, OPERATORS, compile_condition
from scslab.audit.examples import vancouver_restaurant

MINIMAL = """\
law: GDPR
title: Test law
citation: none
in_force: 2000-01-01
applies_when: {field: site.country, equals: "CA"}
applies_reason: applies
not_applies_reason: does not apply
requirements:
  - id: r1
    section: "Art. 1"
    title: Notice
    description: Notice must be given.
    test: TEST
    breach_reason: no notice for {purpose}
    met_reason: notice given
"""


def _write(tmp_path: Path, test: str, name: str = "law.yaml") -> Path:
    p = tmp_path / name
    p.write_text(MINIMAL.replace("TEST", test), encoding="utf-8")
    return p


def _package_law_files() -> list:
    folder = resources.files("scslab.audit").joinpath("laws")
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


def test_package_law_files_are_plain_safe_yaml() -> None:
    files = _package_law_files()
    assert {f.name for f in files} == {"bc_pipa.yaml", "pipeda.yaml", "gdpr.yaml", "pipl.yaml"}
    for f in files:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        assert data["law"] in LAW_NAMES
        for req in data["requirements"]:
            assert req["section"] and req["breach_reason"] and req["met_reason"]


def test_unknown_operator_in_user_file_is_a_clear_error(tmp_path: Path) -> None:
    p = _write(tmp_path, "{field: notice, roughly_equals: true}", "my_law.yaml")
    with pytest.raises(ValueError) as err:
        load_laws([p])
    msg = str(err.value)
    assert "my_law.yaml" in msg and "roughly_equals" in msg and "unknown operator" in msg
    assert isinstance(err.value, LawFileError)


def test_unknown_combinator_is_an_unknown_operator(tmp_path: Path) -> None:
    p = _write(tmp_path, "{either: [{field: notice, equals: true}]}")
    with pytest.raises(ValueError, match=r"law\.yaml.*unknown operator 'either'"):
        load_law(p)


@pytest.mark.parametrize("test, needle", [
    ("{field: noticed, equals: true}", "unknown field 'noticed'"),
    ("{field: purpose, in: [securty]}", "'securty' is not allowed"),
    ("{field: notice, equals: 'yes'}", "does not fit field 'notice'"),
    ("{field: retention_days, contains_any: [1]}", "does not apply to field"),
    ("{field: notice, equals: true, in: [true]}", "exactly one operator"),
    ("{all: []}", "non-empty list"),
    ("{field: retention_days, le: ten}", "takes a number"),
])
def test_bad_conditions_name_file_and_problem(tmp_path: Path, test: str, needle: str) -> None:
    p = _write(tmp_path, test)
    with pytest.raises(ValueError) as err:
        load_law(p)
    assert str(p) in str(err.value) and needle in str(err.value)


def test_unknown_placeholder_in_reason(tmp_path: Path) -> None:
    p = tmp_path / "law.yaml"
    p.write_text(MINIMAL.replace("TEST", "{field: notice, equals: true}")
                 .replace("{purpose}", "{porpoise}"), encoding="utf-8")
    with pytest.raises(ValueError, match="porpoise"):
        load_law(p)


def test_python_tags_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("law: !!python/object/apply:os.system ['echo hacked']\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"evil\.yaml.*safe"):
        load_law(p)


def test_law_name_must_be_one_of_four(tmp_path: Path) -> None:
    p = tmp_path / "law.yaml"
    p.write_text(MINIMAL.replace("law: GDPR", "law: CCPA")
                 .replace("TEST", "{field: notice, equals: true}"), encoding="utf-8")
    with pytest.raises(ValueError, match="law"):
        load_law(p)


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_law(tmp_path / "nope.yaml")


def test_user_file_replaces_builtin_law_of_same_name(tmp_path: Path) -> None:
    p = _write(tmp_path, "{field: notice, equals: true}")
    laws = load_laws([p])
    assert sorted(law.law for law in laws) == ["BC PIPA", "GDPR", "PIPEDA", "PIPL"]
    (gdpr,) = [law for law in laws if law.law == "GDPR"]
    assert gdpr.title == "Test law"
    only = load_laws([p], builtin=False)
    result = audit_flows([vancouver_restaurant()], only)
    (finding,) = result.findings
    assert finding.status == "breach" and finding.why == "no notice for people_tracking"
    assert finding.evidence == "notice = false"


def test_yaml_anchors_are_allowed(tmp_path: Path) -> None:
    text = MINIMAL.replace("TEST", "*cond").replace(
        "requirements:", "definitions:\n  c: &cond {field: notice, equals: true}\nrequirements:")
    p = tmp_path / "law.yaml"
    p.write_text(text, encoding="utf-8")
    assert isinstance(load_law(p), Law)


def test_every_operator_compiles_and_evaluates() -> None:
    flow = vancouver_restaurant()
    cases = {
        "equals": ({"field": "notice", "equals": False}, True),
        "not_equals": ({"field": "purpose", "not_equals": "security"}, True),
        "in": ({"field": "consent", "in": ["implied", "express"]}, False),
        "not_in": ({"field": "consent", "not_in": ["implied", "express"]}, True),
        "matches": ({"field": "site.jurisdiction", "matches": ["CA-*"]}, True),
        "contains_any": ({"field": "captures", "contains_any": ["faces", "audio"]}, True),
        "contains_all": ({"field": "captures", "contains_all": ["faces", "audio"]}, False),
        "contains_none": ({"field": "safeguards", "contains_none": ["encryption"]}, True),
        "any_matches": ({"field": "controller_established_in", "any_matches": ["EU-*"]}, False),
        "is_empty": ({"field": "safeguards", "is_empty": True}, True),
        "gt": ({"field": "cameras_total", "gt": 59}, True),
        "ge": ({"field": "cameras_total", "ge": 61}, False),
        "lt": ({"field": "retention_days", "lt": 31}, True),
        "le": ({"field": "duration_days", "le": 10}, False),  # unknown value -> false
    }
    assert set(cases) == set(OPERATORS)
    from scslab.audit.conditions import FlowValues as _Values

    values = _Values(flow)
    for op, (cond, expected) in cases.items():
        assert compile_condition(cond).evaluate(values)[0] is expected, op
    for path in FIELDS:
        values[path]  # every field resolves on a real flow
    combo = {"all": [{"not": cases["in"][0]}, {"any": [{"always": False}, cases["gt"][0]]}]}
    assert compile_condition(combo).evaluate(values)[0] is True


def test_law_without_in_force_date_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "undated.yaml"
    p.write_text(MINIMAL.replace("in_force: 2000-01-01\n", "").replace("TEST", "{always: true}"),
                 encoding="utf-8")
    with pytest.raises(LawFileError, match=r"undated\.yaml: in_force: Field required"):
        load_law(p)


def test_repeal_before_entry_into_force_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "repeal.yaml"
    p.write_text(MINIMAL.replace("TEST", "{always: true}").replace(
        "in_force: 2000-01-01", "in_force: 2000-01-01\nrepealed: 1999-12-31"), encoding="utf-8")
    with pytest.raises(LawFileError, match="repealed .* must be after in_force"):
        load_law(p)


@pytest.mark.parametrize(("law", "date"), [("PIPL", "2021-11-01"), ("GDPR", "2018-05-25"),
                                           ("BC PIPA", "2004-01-01"), ("PIPEDA", "2001-01-01")])
def test_package_laws_carry_their_in_force_dates(law: str, date: str) -> None:
    (found,) = [x for x in load_laws() if x.law == law]
    assert found.in_force.isoformat() == date and found.repealed is None
