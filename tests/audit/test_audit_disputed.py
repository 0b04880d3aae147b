"""The Vancouver restaurant as reported and as the counter-claims describe it (§8)."""

from __future__ import annotations

import json

import pytest

from scslab.audit import AuditResult, audit_flows
from scslab.audit.examples import vancouver_restaurant, vancouver_restaurant_disputed
from scslab.scenario import load_scenario

REPORTED, DISPUTED = "vancouver-restaurant", "vancouver-restaurant-disputed"
#: Requirements about data leaving the site's province or country.
TRANSFER = {"pipa-s17-disclosure", "pipa-accountability-abroad", "pipeda-4.1.3-accountability",
            "pipeda-4.7-safeguards", "pipeda-4.8-openness-abroad"}


def _audit(preset: str) -> AuditResult:
    return audit_flows(list(load_scenario(preset).data_flows))


def _breached(result: AuditResult) -> set[tuple[str, str]]:
    return {(f.law, f.requirement_id) for f in result.breaches}


@pytest.fixture(scope="module")
def audits() -> tuple[AuditResult, AuditResult]:
    return _audit(REPORTED), _audit(DISPUTED)


def test_disputed_flow_changes_only_what_the_counter_claims_say() -> None:
    (rep,) = load_scenario(REPORTED).data_flows
    (dis,) = load_scenario(DISPUTED).data_flows
    a, b = rep.model_dump(), dis.model_dump()
    changed = {k for k in a if a[k] != b[k]}
    assert changed == {"name", "destination", "purpose", "foreign_authority_access",
                       "transfer_frequency"}
    assert dis.name != rep.name
    assert rep == vancouver_restaurant() and dis == vancouver_restaurant_disputed()
    assert dis.site == rep.site and dis.cameras_total == 60
    assert dis.destination == "CA-BC" and not dis.cross_border
    assert dis.purpose == "security"
    assert dis.notice is False and dis.consent == "none"  # the sources say nothing else
    sc = load_scenario(DISPUTED)
    assert sc.population == load_scenario(REPORTED).population and sc.days == 180


def test_disputed_version_has_no_transfer_abroad_breach(audits) -> None:
    reported, disputed = audits
    rep, dis = _breached(reported), _breached(disputed)
    assert {r for _, r in rep} & TRANSFER  # the reported flow breaches the transfer rules
    assert not {r for _, r in dis} & TRANSFER
    # the data stays in BC: only BC PIPA applies (PIPEDA needs the data to leave the
    # province, PIPL a site or destination in China)
    applies = {a.law for a in disputed.applicability if a.applies}
    assert applies == {"BC PIPA"}
    assert {f.law for f in disputed.findings} == {"BC PIPA"}
    assert {"PIPEDA", "PIPL"} <= {law for law, _ in rep}


def test_notice_and_consent_breaches_remain(audits) -> None:
    reported, disputed = audits
    both = {("BC PIPA", "pipa-s10-1-notice"), ("BC PIPA", "pipa-s6-s8-consent")}
    assert both <= _breached(reported)
    assert _breached(disputed) == both
    # a security purpose with footage kept on site meets what P09-02 and ss. 11, 14 ask
    met = {f.requirement_id for f in disputed.findings if f.status == "met"}
    assert {"pipa-s11-collection", "pipa-s14-use", "pipa-video-p09-02"} <= met
    assert _breached(disputed) < _breached(reported)  # a strict subset


def test_cli_audit_of_disputed_preset(capsys) -> None:
    from scslab.cli import main

    for argv, code in ((["audit", DISPUTED], 0), (["audit", DISPUTED, "--strict"], 1)):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == code, argv
    out = capsys.readouterr().out
    assert "vancouver_restaurant_disputed" in out and "not legal advice" in out
    with pytest.raises(SystemExit):
        main(["audit", DISPUTED, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert {(f["law"], f["requirement_id"]) for f in doc["findings"]
            if f["status"] == "breach"} == {("BC PIPA", "pipa-s10-1-notice"),
                                            ("BC PIPA", "pipa-s6-s8-consent")}
