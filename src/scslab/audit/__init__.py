"""Cross-border data flows and an automated privacy-law audit of them.

A :class:`DataFlow` describes a site that collects personal data and where the
data goes; :func:`audit_flows` tests flows against law files (BC PIPA, PIPEDA,
GDPR, PIPL) written as data in ``scslab/audit/laws/*.yaml``: the condition language
is :mod:`scslab.audit.conditions`, the law models and their loading
:mod:`scslab.audit.law_files`, the evaluation :mod:`scslab.audit.evaluate`. Every output
carries :data:`DISCLAIMER`: the audit is an automated reading of paraphrased
rules, not legal advice.
"""

from scslab.audit.evaluate import (
    DISCLAIMER,
    NO_LAW_NOTE,
    Applicability,
    AuditResult,
    Finding,
    Note,
    audit_flows,
)
from scslab.audit.law_files import LAW_NAMES, Law, LawFileError, Requirement, load_law, load_laws
from scslab.audit.report import audit_exit_code, render_audit_table, render_audit_text
from scslab.scenario.flows import (
    DataFlow,
    Site,
    SiteSensor,
    Visitors,
    daily_captured_persons,
    expected_distinct_persons,
)

__all__ = [
    "DISCLAIMER",
    "LAW_NAMES",
    "NO_LAW_NOTE",
    "Applicability",
    "AuditResult",
    "DataFlow",
    "Finding",
    "Law",
    "LawFileError",
    "Note",
    "Requirement",
    "Site",
    "SiteSensor",
    "Visitors",
    "audit_exit_code",
    "audit_flows",
    "daily_captured_persons",
    "expected_distinct_persons",
    "load_law",
    "load_laws",
    "render_audit_table",
    "render_audit_text",
]
