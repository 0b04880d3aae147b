"""Audit of data flows against the law files: the Vancouver and AU cases, applicability."""

from __future__ import annotations

import json

import pytest

from scslab.audit import DISCLAIMER, NO_LAW_NOTE, AuditResult, audit_flows, load_laws
from scslab.audit.examples import au_headquarters, vancouver_restaurant
from scslab.audit.report import audit_exit_code, render_audit_table, render_audit_text

FIXED = {"notice": True, "consent": "express", "safeguards": ["contract_clauses"],
         "purpose": "security"}


def _status(result: AuditResult, law: str, req_id: str) -> str:
    hits = [f for f in result.findings if f.law == law and f.requirement_id == req_id]
    assert len(hits) == 1, f"expected one finding for {law} {req_id}, got {hits}"
    return hits[0].status


def _by_section(result: AuditResult, law: str, needle: str) -> list[str]:
    return [f.status for f in result.findings if f.law == law and needle in f.section]


@pytest.fixture(scope="module")
def vancouver() -> AuditResult:
    return audit_flows([vancouver_restaurant()])


def test_vancouver_flow_facts() -> None:
    flow = vancouver_restaurant()
    assert flow.cameras_total == 60
    assert flow.site.jurisdiction == "CA-BC" and flow.destination == "CN"
    assert set(flow.captures) == {"video", "faces"}


def test_vancouver_breaches_pipa_notice_consent_and_pipeda_accountability(
        vancouver: AuditResult) -> None:
    assert _by_section(vancouver, "BC PIPA", "s. 10(1)") == ["breach"]
    consent = [f for f in vancouver.findings if f.law == "BC PIPA" and "s. 6" in f.section]
    assert [f.status for f in consent] == ["breach"] and "s. 8" in consent[0].section
    assert _by_section(vancouver, "PIPEDA", "4.1.3") == ["breach"]
    assert vancouver.any_breach


def test_fixed_vancouver_flow_meets_the_same_requirements() -> None:
    result = audit_flows([vancouver_restaurant(**FIXED)])
    assert _by_section(result, "BC PIPA", "s. 10(1)") == ["met"]
    assert _status(result, "BC PIPA", "pipa-s6-s8-consent") == "met"
    assert _by_section(result, "PIPEDA", "4.1.3") == ["met"]
    for req in ("pipa-s11-collection", "pipa-s14-use", "pipa-s17-disclosure",
                "pipa-accountability-abroad", "pipa-s7-2"):
        assert _status(result, "BC PIPA", req) == "met"


def test_gdpr_does_not_apply_to_bc_restaurant(vancouver: AuditResult) -> None:
    assert not [f for f in vancouver.findings if f.law == "GDPR"]
    (gdpr,) = [a for a in vancouver.applicability if a.law == "GDPR"]
    assert not gdpr.applies and "Art. 3" in gdpr.why


def test_gdpr_applies_by_establishment() -> None:
    flow = vancouver_restaurant(controller_established_in=["EU-DE"])
    result = audit_flows([flow])
    gdpr = {f.requirement_id: f.status for f in result.findings if f.law == "GDPR"}
    assert gdpr["gdpr-art44-transfer"] == "breach"
    assert gdpr["gdpr-art48-foreign-orders"] == "breach"
    assert gdpr["gdpr-art9-biometric"] == "breach"


def test_gdpr_adequacy_route() -> None:
    flow = vancouver_restaurant(destination="JP", controller_established_in=["EU-FR"],
                                foreign_authority_access=False, **FIXED)
    result = audit_flows([flow])
    assert _status(result, "GDPR", "gdpr-art44-transfer") == "met"
    assert not [f for f in result.findings if f.requirement_id == "gdpr-art46-safeguards"]


def test_pipl_findings_for_destination_cn(vancouver: AuditResult) -> None:
    pipl = [f for f in vancouver.findings if f.law == "PIPL"]
    assert pipl
    assert _status(vancouver, "PIPL", "pipl-art26-public-images") == "breach"
    # export rules (Arts. 38-41) concern data leaving China, not data arriving there
    assert not [f for f in pipl if f.requirement_id == "pipl-art38-39-export"]


def test_pipl_export_rules_for_site_in_china() -> None:
    flow = vancouver_restaurant(name="cn_out", site={
        "name": "Beijing outlet", "kind": "restaurant", "jurisdiction": "CN",
        "sensors": [{"kind": "camera", "count": 60, "captures": ["video"]}],
        "visitors": {"daily_visitors": 5000}}, destination="US", foreign_authority_access=True)
    result = audit_flows([flow])
    assert _status(result, "PIPL", "pipl-art38-39-export") == "breach"
    assert _status(result, "PIPL", "pipl-art40-localisation") == "breach"  # ~1.8 M persons/yr
    assert _status(result, "PIPL", "pipl-art41-foreign-authorities") == "breach"
    assert not [n for n in result.notes if n.flow == "cn_out"]


def test_au_headquarters_2012_2017_is_not_judged_under_pipl() -> None:
    # PIPL is in force from 2021-11-01; the flow ran 2012-01-01 to 2017-01-31
    flow = au_headquarters()
    assert flow.duration_days is not None and flow.duration_days > 4 * 365
    result = audit_flows([flow])
    assert not result.findings
    (pipl,) = [a for a in result.applicability if a.law == "PIPL"]
    assert not pipl.applies and pipl.in_force == "none"
    assert "2021-11-01" in pipl.why and "not applied" in pipl.why
    texts = [n.text for n in result.notes]
    assert any("PIPL" in t and "not in force on any day of the flow" in t for t in texts)
    assert any(NO_LAW_NOTE in t and "ET" in t for t in texts)


def test_au_headquarters_with_a_later_flow_reads_pipl_at_the_destination() -> None:
    import datetime as dt

    flow = au_headquarters(started=dt.date(2022, 1, 1), ended=dt.date(2022, 12, 31))
    result = audit_flows([flow])
    assert {f.law for f in result.findings} == {"PIPL"}
    assert all(f.period == "" for f in result.findings)  # in force over the whole flow
    (note,) = result.notes
    assert NO_LAW_NOTE in note.text and "ET" in note.text


def test_au_headquarters_with_eu_controller_predates_the_gdpr() -> None:
    # GDPR applies from 2018-05-25 (Art. 99(2)): not to a flow that ended in January 2017
    result = audit_flows([au_headquarters(("EU-BE",))])
    assert not result.findings
    (gdpr,) = [a for a in result.applicability if a.law == "GDPR"]
    assert not gdpr.applies and gdpr.in_force == "none" and "2018-05-25" in gdpr.why


def test_au_headquarters_with_eu_controller_brings_gdpr() -> None:
    result = audit_flows([au_headquarters(("EU-BE",), ended=None)])
    assert "GDPR" in {f.law for f in result.findings}
    gdpr = [f for f in result.findings if f.law == "GDPR"]
    assert {f.period for f in gdpr} == {"2018-05-25 to the end of the flow"}


def test_flow_spanning_the_in_force_date_is_judged_partially() -> None:
    import datetime as dt

    flow = vancouver_restaurant(started=dt.date(2021, 4, 1), ended=dt.date(2022, 3, 31))
    result = audit_flows([flow])
    pipl = [f for f in result.findings if f.law == "PIPL"]
    assert pipl and {f.period for f in pipl} == {"2021-11-01 to 2022-03-31"}
    (a,) = [a for a in result.applicability if a.law == "PIPL"]
    assert a.applies and a.in_force == "part"
    (note,) = [n.text for n in result.notes if "PIPL" in n.text]
    assert ("2021-04-01 to 2022-03-31" in note and "only to the part of the flow from "
            "2021-11-01 to 2022-03-31" in note and "say nothing about the days before" in note)
    # the laws in force throughout are judged over the whole flow
    assert all(f.period == "" for f in result.findings if f.law != "PIPL")
    assert "judged for 2021-11-01 to 2022-03-31 only" in result.to_markdown()
    # an end before the in-force date: not judged; an undated flow: read throughout, said so
    early = audit_flows([vancouver_restaurant(ended=dt.date(2021, 10, 31))])
    assert "PIPL" not in {f.law for f in early.findings}
    undated = audit_flows([vancouver_restaurant()])
    (u,) = [a for a in undated.applicability if a.law == "PIPL"]
    assert u.applies and u.in_force == "unknown" and "gives no dates" in u.why


def test_repealed_law_is_not_applied_after_repeal() -> None:
    import datetime as dt

    from scslab.audit.law_files import in_force_over

    d = dt.date
    after = in_force_over(d(2001, 1, 1), d(2010, 1, 1), d(2010, 1, 1), d(2011, 1, 1))
    assert after.coverage == "none"
    last = in_force_over(d(2001, 1, 1), d(2010, 1, 1), d(2009, 12, 31), d(2011, 1, 1))
    assert (last.coverage, last.start, last.end) == ("part", d(2009, 12, 31), d(2009, 12, 31))
    inside = in_force_over(d(2001, 1, 1), d(2010, 1, 1), d(2005, 1, 1), d(2006, 1, 1))
    assert inside.coverage == "whole"
    open_end = in_force_over(d(2001, 1, 1), None, d(2000, 6, 1), None)
    assert (open_end.coverage, open_end.start, open_end.end) == ("part", d(2001, 1, 1), None)
    no_start = in_force_over(d(2001, 1, 1), None, None, d(2005, 1, 1))
    assert no_start.coverage == "part" and "start is unknown" in no_start.text


def test_flow_with_no_law_gets_a_note_not_silence() -> None:
    flow = au_headquarters(destination="US", name="et_to_us")
    result = audit_flows([flow])
    assert not result.findings
    (note,) = result.notes
    assert NO_LAW_NOTE in note.text
    assert any(r["status"] == "note" for r in result.to_rows())
    assert NO_LAW_NOTE in result.to_markdown()
    assert NO_LAW_NOTE in render_audit_text(result)


def test_duplicate_flow_names_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        audit_flows([vancouver_restaurant(), vancouver_restaurant()])


def test_exit_code_semantics(vancouver: AuditResult) -> None:
    clean = audit_flows([au_headquarters(destination="US", name="x")])
    assert not clean.any_breach
    assert audit_exit_code(vancouver, strict=False) == 0
    assert audit_exit_code(vancouver, strict=True) == 1
    assert audit_exit_code(clean, strict=True) == 0
    assert audit_exit_code(clean, strict=False) == 0


def test_every_output_carries_the_disclaimer(vancouver: AuditResult) -> None:
    from rich.console import Console

    rows = vancouver.to_rows()
    assert rows and all(r["disclaimer"] == DISCLAIMER for r in rows)
    assert json.loads(vancouver.to_json())["disclaimer"] == DISCLAIMER
    assert DISCLAIMER in vancouver.to_markdown()
    assert DISCLAIMER in render_audit_text(vancouver)
    console = Console(record=True, width=300, color_system=None)
    console.print(render_audit_table(vancouver))
    assert DISCLAIMER in console.export_text()
    empty = audit_flows([])
    assert DISCLAIMER in empty.to_json() and DISCLAIMER in empty.to_markdown()


def test_json_round_trip(vancouver: AuditResult) -> None:
    doc = json.loads(vancouver.to_json())
    assert doc["summary"]["breaches"] == len(vancouver.breaches)
    assert len(doc["findings"]) == len(vancouver.findings)
    assert {"flow", "law", "section", "requirement", "status", "why"} <= set(doc["findings"][0])


def test_builtin_rule_set_has_the_four_laws() -> None:
    assert sorted(law.law for law in load_laws()) == ["BC PIPA", "GDPR", "PIPEDA", "PIPL"]


def test_rich_table_shows_brackets_literally() -> None:
    from rich.console import Console

    result = audit_flows([vancouver_restaurant(**FIXED)])
    console = Console(record=True, width=400, color_system=None)
    console.print(render_audit_table(result))
    assert "[contract_clauses]" in console.export_text()


def test_print_audit_json_and_table(vancouver: AuditResult) -> None:
    from rich.console import Console

    from scslab.audit.report import print_audit

    console = Console(record=True, width=200, color_system=None)
    print_audit(vancouver, as_json=True, console=console)
    assert json.loads(console.export_text())["disclaimer"] == DISCLAIMER
    print_audit(vancouver, console=console)
    out = console.export_text()
    assert DISCLAIMER in out and "breach(es)" in out
