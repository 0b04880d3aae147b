"""Data-flow models: validation, YAML round trip, derived numbers; property test."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scslab.audit import (
    LAW_NAMES,
    DataFlow,
    Site,
    SiteSensor,
    Visitors,
    audit_flows,
    daily_captured_persons,
    expected_distinct_persons,
)
from scslab.audit.examples import au_headquarters, vancouver_restaurant


def test_yaml_round_trip() -> None:
    flow = au_headquarters()
    text = yaml.safe_dump([flow.model_dump(mode="json")], sort_keys=False)
    (again,) = [DataFlow.model_validate(d) for d in yaml.safe_load(text)]
    assert again == flow
    text2 = yaml.safe_dump(flow.model_dump())  # python mode (tuples, dates) dumps safely too
    assert DataFlow.model_validate(yaml.safe_load(text2)) == flow


def test_models_are_frozen_and_strict() -> None:
    flow = vancouver_restaurant()
    with pytest.raises(ValidationError):
        flow.notice = True  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        DataFlow.model_validate({**flow.model_dump(), "colour": "red"})
    with pytest.raises(ValidationError, match="consent"):
        vancouver_restaurant(consent="maybe")
    with pytest.raises(ValidationError, match="none"):
        vancouver_restaurant(safeguards=["none", "encryption"])
    with pytest.raises(ValidationError):
        vancouver_restaurant(destination="china")
    with pytest.raises(ValidationError):
        vancouver_restaurant(controller_established_in=["eu"])
    with pytest.raises(ValidationError, match="before"):
        vancouver_restaurant(started=dt.date(2020, 1, 2), ended=dt.date(2020, 1, 1))
    with pytest.raises(ValidationError):
        Visitors(persons_of_interest_share=1.5)


def test_sensor_totals_and_defaults() -> None:
    assert SiteSensor(count=2, per="table", units=30).total == 60
    assert SiteSensor(count=7, units=30).total == 7  # units ignored without `per`
    flow = DataFlow(name="f", site=Site(name="s", jurisdiction="CA-BC"), destination="CN")
    assert flow.cameras_total == 0 and flow.consent == "none" and flow.safeguards == ("none",)
    assert daily_captured_persons(flow) == 0.0


def test_captured_persons() -> None:
    flow = vancouver_restaurant()
    assert daily_captured_persons(flow) == 360
    assert daily_captured_persons(flow, coverage=0.5) == 180
    one_year = expected_distinct_persons(flow, 365)
    assert 0.9 * 360 * 365 < one_year < 360 * 365  # some repeat visitors
    assert expected_distinct_persons(flow, 10**6) == pytest.approx(2_600_000)
    small = vancouver_restaurant(site={**flow.site.model_dump(), "visitors": {
        "daily_visitors": 100, "foreign_resident_population": 0}})
    assert expected_distinct_persons(small, 3) == 300
    with pytest.raises(ValueError):
        daily_captured_persons(flow, coverage=2)


_CODES = ["CA-BC", "CA-ON", "CA-QC", "CA", "CN", "ET", "EU-DE", "EU-FR", "NO", "US-CA", "JP",
          "GB"]
_sensor = st.builds(
    SiteSensor,
    kind=st.sampled_from(["camera", "network_server", "phone_scanner"]),
    count=st.integers(0, 50), per=st.sampled_from([None, "table", "floor"]),
    units=st.integers(1, 40),
    captures=st.lists(st.sampled_from(["video", "faces", "device_ids", "documents", "audio"]),
                      unique=True, max_size=5).map(tuple))
_site = st.builds(
    Site, name=st.just("site"), kind=st.sampled_from(["restaurant", "office_building", "other"]),
    jurisdiction=st.sampled_from(_CODES), sensors=st.lists(_sensor, max_size=3).map(tuple),
    visitors=st.builds(Visitors, daily_visitors=st.floats(0, 1e5),
                       foreign_resident_population=st.integers(0, 10**7),
                       persons_of_interest_share=st.floats(0, 1)))
_safeguards = st.one_of(
    st.just(("none",)),
    st.lists(st.sampled_from(["contract_clauses", "binding_corporate_rules", "adequacy_decision",
                              "encryption"]), unique=True, min_size=1).map(tuple))
_flow = st.builds(
    DataFlow, name=st.just("flow"), site=_site, destination=st.sampled_from(_CODES),
    purpose=st.sampled_from(["security", "staff_monitoring", "people_tracking", "marketing",
                             "unspecified"]),
    notice=st.booleans(), consent=st.sampled_from(["none", "implied", "express"]),
    safeguards=_safeguards, data_subject_rights=st.booleans(),
    foreign_authority_access=st.booleans(), retention_days=st.integers(0, 36_500),
    transfer_frequency=st.sampled_from(["continuous", "daily", "occasional"]),
    controller_established_in=st.lists(st.sampled_from(_CODES), max_size=2).map(tuple))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flows=st.lists(_flow, min_size=1, max_size=3))
def test_property_findings_are_well_formed(flows: list[DataFlow]) -> None:
    flows = [f.model_copy(update={"name": f"flow{i}"}) for i, f in enumerate(flows)]
    result = audit_flows(flows)
    for f in result.findings:
        assert f.status in ("met", "breach")
        assert f.law in LAW_NAMES
        assert f.why and f.section
    for flow in flows:
        has_findings = any(f.flow == flow.name for f in result.findings)
        has_note = any(n.flow == flow.name for n in result.notes)
        assert has_findings or has_note  # never silence
    assert result.any_breach == any(f.status == "breach" for f in result.findings)
