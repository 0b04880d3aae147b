"""Each requirement tests one thing: a compliant flow passes, and removing notice, consent
or the transfer basis breaches exactly the requirements that name it.

Start from a flow that meets every requirement of the laws that apply to it (BC PIPA and
PIPEDA for a site in British Columbia sending data abroad; the GDPR for a site in the EU
run by an EU controller), flip one fact, and compare the *set* of breached requirement
ids with the expected one, law by law. Every breached requirement must also read the
flipped field, in its test or in its ``applies_when``: that is what "names it" means.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from scslab.audit import AuditResult, DataFlow, audit_flows, load_laws

_SITE_BC = {
    "name": "Restaurant, Vancouver", "kind": "restaurant", "jurisdiction": "CA-BC",
    "sensors": [{"kind": "camera", "count": 2, "per": "table", "units": 30,
                 "captures": ["video", "faces"]}],
    "visitors": {"daily_visitors": 360, "foreign_resident_population": 2_600_000},
}
_SITE_EU = {**_SITE_BC, "name": "Restaurant, Berlin", "jurisdiction": "EU-DE"}

#: A BC site sending footage abroad (to a destination outside PIPL's reach) with notice,
#: express consent, contract clauses and encryption, for security, only after incidents.
BC_EXPRESS: dict[str, Any] = {
    "name": "bc", "site": _SITE_BC, "destination": "US", "purpose": "security",
    "notice": True, "consent": "express", "safeguards": ["contract_clauses", "encryption"],
    "data_subject_rights": True, "foreign_authority_access": False, "retention_days": 30,
    "transfer_frequency": "occasional", "controller_established_in": ["CA-BC"],
}
#: The same with implied (deemed, opt-out) consent: PIPA s. 8(3) then needs notice and a
#: capture that is not too sensitive (video, not faces).
BC_IMPLIED: dict[str, Any] = {
    **BC_EXPRESS, "consent": "implied",
    "site": {**_SITE_BC, "sensors": [{"kind": "camera", "count": 60, "captures": ["video"]}]},
}
#: An EU site and controller sending data to a country without an adequacy decision under
#: standard contract clauses, with enforceable rights and no compelled access; consent is
#: the lawful basis (marketing is not a legitimate interest in this rule set).
EU_CLAUSES: dict[str, Any] = {
    **BC_EXPRESS, "name": "eu", "site": _SITE_EU, "purpose": "marketing",
    "safeguards": ["contract_clauses"], "retention_days": 3,
    "transfer_frequency": "continuous", "controller_established_in": ["EU-DE"],
}
#: The same resting on adequacy instead: Japan, no safeguards of its own.
EU_ADEQUACY: dict[str, Any] = {**EU_CLAUSES, "destination": "JP", "safeguards": ["none"]}

BASES: dict[str, dict[str, Any]] = {"bc-express": BC_EXPRESS, "bc-implied": BC_IMPLIED,
                                    "eu-clauses": EU_CLAUSES, "eu-adequacy": EU_ADEQUACY}
#: The laws each base flow falls under (the others must not apply).
LAWS: dict[str, set[str]] = {"bc-express": {"BC PIPA", "PIPEDA"},
                             "bc-implied": {"BC PIPA", "PIPEDA"},
                             "eu-clauses": {"GDPR"}, "eu-adequacy": {"GDPR"}}

# The one fact each flip removes, as {field: new value}, and the field(s) it is read as.
NO_NOTICE = ({"notice": False}, {"notice"})
NO_CONSENT = ({"consent": "none"}, {"consent"})
NO_CLAUSES = ({"safeguards": ["encryption"]}, {"safeguards"})  # encryption is security
NO_SAFEGUARDS = ({"safeguards": ["none"]}, {"safeguards"})
NO_ADEQUACY = ({"destination": "US"}, {"destination", "destination_country"})

#: (base, flip name, flip, expected breaches by law). Every other requirement stays met.
CASES: list[tuple[str, str, tuple, dict[str, set[str]]]] = [
    ("bc-express", "notice", NO_NOTICE,
     {"BC PIPA": {"pipa-s10-1-notice"}, "PIPEDA": {"pipeda-4.8-openness-abroad"}}),
    ("bc-express", "consent", NO_CONSENT,
     {"BC PIPA": {"pipa-s6-s8-consent"}, "PIPEDA": {"pipeda-4.3-consent"}}),
    ("bc-express", "transfer basis", NO_CLAUSES,
     {"BC PIPA": {"pipa-accountability-abroad"}, "PIPEDA": {"pipeda-4.1.3-accountability"}}),
    # deemed consent rests on notice (s. 8(3)): without notice it fails too, but the
    # requirement that consent exists (s. 6, Sch. 1 4.3) is not counted a second time
    ("bc-implied", "notice", NO_NOTICE,
     {"BC PIPA": {"pipa-s10-1-notice", "pipa-s8-3-deemed-consent"},
      "PIPEDA": {"pipeda-4.8-openness-abroad", "pipeda-4.3-form-of-consent"}}),
    ("bc-implied", "consent", NO_CONSENT,
     {"BC PIPA": {"pipa-s6-s8-consent"}, "PIPEDA": {"pipeda-4.3-consent"}}),
    ("bc-implied", "transfer basis", NO_CLAUSES,
     {"BC PIPA": {"pipa-accountability-abroad"}, "PIPEDA": {"pipeda-4.1.3-accountability"}}),
    ("eu-clauses", "notice", NO_NOTICE, {"GDPR": {"gdpr-art13-transparency"}}),
    ("eu-clauses", "consent", NO_CONSENT, {"GDPR": {"gdpr-art6-1-lawful-basis"}}),
    # Chapter V: no route left (Art. 44), no Art. 46 safeguards, and no Art. 49
    # derogation for a continuous transfer
    ("eu-clauses", "transfer basis", NO_SAFEGUARDS,
     {"GDPR": {"gdpr-art44-transfer", "gdpr-art46-safeguards", "gdpr-art49-derogation"}}),
    ("eu-adequacy", "notice", NO_NOTICE, {"GDPR": {"gdpr-art13-transparency"}}),
    ("eu-adequacy", "consent", NO_CONSENT, {"GDPR": {"gdpr-art6-1-lawful-basis"}}),
    ("eu-adequacy", "transfer basis", NO_ADEQUACY,
     {"GDPR": {"gdpr-art44-transfer", "gdpr-art46-safeguards", "gdpr-art49-derogation"}}),
]


def _flow(base: str, change: Mapping[str, Any] | None = None) -> DataFlow:
    return DataFlow.model_validate({**BASES[base], **(change or {})})


def _breached(result: AuditResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in result.breaches:
        out.setdefault(f.law, set()).add(f.requirement_id)
    return out


def _fields(node: Any) -> Iterator[str]:
    """Every field a raw condition (as written in the law file) reads."""
    if isinstance(node, Mapping):
        if "field" in node:
            yield node["field"]
        for v in node.values():
            yield from _fields(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _fields(v)


_REQUIREMENTS = {(law.law, r.id): r for law in load_laws() for r in law.requirements}


@pytest.mark.parametrize("base", list(BASES))
def test_compliant_flow_passes_every_requirement(base: str) -> None:
    result = audit_flows([_flow(base)])
    applying = {a.law for a in result.applicability if a.applies}
    assert applying == LAWS[base]
    assert result.findings and not result.breaches, [
        (f.law, f.requirement_id, f.why) for f in result.breaches]
    assert not result.notes
    assert {f.law for f in result.findings} == LAWS[base]


@pytest.mark.parametrize(("base", "what", "flip", "expected"), CASES,
                         ids=[f"{b}-no-{w.replace(' ', '-')}" for b, w, _, _ in CASES])
def test_removing_one_fact_breaches_exactly_the_requirements_naming_it(
        base: str, what: str, flip: tuple, expected: dict[str, set[str]]) -> None:
    change, fields = flip
    result = audit_flows([_flow(base, change)])
    assert {a.law for a in result.applicability if a.applies} == LAWS[base]
    assert _breached(result) == expected, what
    for f in result.breaches:
        req = _REQUIREMENTS[(f.law, f.requirement_id)]
        read = set(_fields(req.test)) | set(_fields(req.applies_when or {}))
        assert read & fields, f"{f.requirement_id} breaches without reading {sorted(fields)}"
    # the sections of the breaches are those of the named requirements, no others
    sections = {(f.law, f.section) for f in result.breaches}
    assert sections == {(law, _REQUIREMENTS[(law, rid)].section)
                        for law, ids in expected.items() for rid in ids}


@pytest.mark.parametrize("base", ["bc-express", "bc-implied"])
def test_no_notice_does_not_count_against_consent(base: str) -> None:
    """The consent requirements test that consent exists, nothing else."""
    result = audit_flows([_flow(base, {"notice": False})])
    status = {(f.law, f.requirement_id): f.status for f in result.findings}
    assert status[("BC PIPA", "pipa-s6-s8-consent")] == "met"
    assert status[("PIPEDA", "pipeda-4.3-consent")] == "met"


def test_removing_all_three_breaches_the_union() -> None:
    change = {**NO_NOTICE[0], **NO_CONSENT[0], **NO_CLAUSES[0]}
    result = audit_flows([_flow("bc-express", change)])
    union: dict[str, set[str]] = {}
    for base, _, _, expected in CASES:
        if base == "bc-express":
            for law, ids in expected.items():
                union.setdefault(law, set()).update(ids)
    assert _breached(result) == union
