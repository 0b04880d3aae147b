"""The privacy-law audit: test data flows against the laws that apply to them.

:func:`audit_flows` reads each flow's fields (:mod:`scslab.audit.conditions`), decides
which laws of the rule set (:mod:`scslab.audit.law_files`) apply and govern the
collection, and tests every applicable requirement, giving one :class:`Finding` each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from scslab.audit.conditions import FlowValues, render
from scslab.audit.law_files import Law, LawName, StrictModel, builtin_laws
from scslab.scenario.flows import DataFlow

__all__ = ["DISCLAIMER", "NO_LAW_NOTE", "Applicability", "AuditResult", "Finding", "Note",
           "audit_flows"]

#: Carried by every output of the audit.
DISCLAIMER = "This audit is an automated reading of paraphrased rules, not legal advice."
#: The words of the note for a flow to which no law applies.
NO_LAW_NOTE = "no law in the rule set applies"

Status = Literal["met", "breach"]


# --------------------------------------------------------------------------- results


class Finding(StrictModel):
    """The outcome of one requirement of one law for one flow."""

    flow: str = Field(..., description="Flow name.")
    law: LawName = Field(..., description="Short name of the law.")
    section: str = Field(..., description="Section or article.")
    requirement_id: str = Field(..., description="Requirement identifier.")
    requirement: str = Field(..., description="Requirement title.")
    status: Status = Field(..., description="met or breach.")
    why: str = Field(..., description="Why, in plain words.")
    evidence: str = Field(..., description="The flow facts the test turned on.")
    period: str = Field("", description="The part of the flow's dates the finding judges, "
                                        "when the law was in force over part of it only "
                                        "(empty: the whole flow).")


class Applicability(StrictModel):
    """Whether one law applies to one flow, and why."""

    flow: str = Field(..., description="Flow name.")
    law: LawName = Field(..., description="Short name of the law.")
    applies: bool = Field(..., description="The law applies to the flow (its conditions "
                                           "hold and it is in force on some day of the flow).")
    in_force: Literal["whole", "part", "none", "unknown"] = Field(
        "unknown", description="Whether the law is in force over the flow's dates: whole, "
                               "part, none, or unknown (the flow gives no dates).")
    governs_collection: bool = Field(
        ..., description="The law governs the collection at the site (false: read only at "
                         "the destination, for contrast, or not at all).")
    why: str = Field(..., description="Why, in plain words.")


class Note(StrictModel):
    """A remark on one flow that is not a finding (e.g. no law applies)."""

    flow: str = Field(..., description="Flow name.")
    text: str = Field(..., description="The note.")


_ROW_KEYS = ("flow", "law", "section", "requirement_id", "requirement", "status", "why",
             "evidence", "period", "disclaimer")


class AuditResult(StrictModel):
    """Findings of an audit, with applicability, notes and the disclaimer."""

    disclaimer: str = Field(DISCLAIMER, description="Carried by every output.")
    laws: tuple[str, ...] = Field((), description="Short names of the laws checked.")
    flows: tuple[str, ...] = Field((), description="Names of the flows audited.")
    applicability: tuple[Applicability, ...] = Field((), description="Law × flow applicability.")
    findings: tuple[Finding, ...] = Field((), description="One per applicable requirement.")
    notes: tuple[Note, ...] = Field((), description="Notes per flow.")

    @property
    def any_breach(self) -> bool:
        """True when at least one finding is a breach."""
        return any(f.status == "breach" for f in self.findings)

    @property
    def breaches(self) -> tuple[Finding, ...]:
        """The findings with status ``breach``."""
        return tuple(f for f in self.findings if f.status == "breach")

    def summary(self) -> dict[str, int]:
        """Counts: flows, laws, findings, breaches, met, notes."""
        n_breach = len(self.breaches)
        return {"flows": len(self.flows), "laws": len(self.laws),
                "findings": len(self.findings), "breaches": n_breach,
                "met": len(self.findings) - n_breach, "notes": len(self.notes)}

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per finding, then one per note (status ``note``).

        Each row carries the disclaimer, so that no exported row can lose it.
        """
        rows = [{**f.model_dump(), "disclaimer": self.disclaimer} for f in self.findings]
        rows += [dict(zip(_ROW_KEYS, (n.flow, None, None, None, None, "note", n.text, "", "",
                                      self.disclaimer), strict=True)) for n in self.notes]
        return rows

    def to_json(self, indent: int | None = 2) -> str:
        """The whole result as JSON (disclaimer first)."""
        doc = {"disclaimer": self.disclaimer, "summary": self.summary(),
               **self.model_dump(mode="json", exclude={"disclaimer"})}
        return json.dumps(doc, indent=indent, ensure_ascii=False)

    def to_markdown(self) -> str:
        """The result as a Markdown document: disclaimer, notes, then a table per flow."""
        s = self.summary()
        out = ["# Data-flow privacy audit", "", f"*{self.disclaimer}*", "",
               f"{s['flows']} flow(s) checked against {', '.join(self.laws) or 'no laws'}: "
               f"{s['breaches']} breach(es), {s['met']} requirement(s) met.", ""]
        for flow in self.flows:
            out += [f"## {flow}", ""]
            for a in self.applicability:
                if a.flow == flow:
                    verdict = "applies" if a.applies else "does not apply"
                    if a.applies and not a.governs_collection:
                        verdict = "applies at the destination only"
                    out.append(f"- **{a.law}** {verdict}: {_md(a.why)}")
            for n in self.notes:
                if n.flow == flow:
                    out.append(f"- **Note:** {_md(n.text)}")
            rows = [f for f in self.findings if f.flow == flow]
            if rows:
                out += ["", "| Law | Section | Requirement | Status | Why |",
                        "|---|---|---|---|---|"]
                out += [f"| {f.law} | {_md(f.section)} | {_md(f.requirement)} | "
                        f"{'**BREACH**' if f.status == 'breach' else 'met'} | "
                        f"{_md(f.why + (f' (judged for {f.period} only)' if f.period else ''))} |"
                        for f in rows]
            out.append("")
        out += ["---", f"*{self.disclaimer}*", ""]
        return "\n".join(out)


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# --------------------------------------------------------------------------- audit


def audit_flows(flows: Sequence[DataFlow], laws: Sequence[Law] | None = None) -> AuditResult:
    """Test every flow against every law that applies to it.

    Args:
        flows: The data flows (names must be unique).
        laws: The rule set; the package's laws when ``None``.

    Returns:
        One finding per (flow, law, requirement) where the law and the
        requirement apply, plus applicability and notes; a flow to which no law
        applies gets a note saying so.

    Raises:
        ValueError: if two flows share a name.
    """
    rule_set = list(builtin_laws() if laws is None else laws)
    names = [f.name for f in flows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"flow names must be unique, repeated: {', '.join(dupes)}")
    law_names = ", ".join(law.law for law in rule_set) or "none"
    findings: list[Finding] = []
    applicability: list[Applicability] = []
    notes: list[Note] = []
    for flow in flows:
        values = FlowValues(flow)
        applying: list[Law] = []
        governing: list[Law] = []
        for law in rule_set:
            holds = law._applies.evaluate(values)[0]
            when = law.in_force_over(flow)
            applies = holds and when.coverage != "none"
            governs = applies and (law._governs is None or law._governs.evaluate(values)[0])
            reason = render(law.applies_reason if holds else law.not_applies_reason, values)
            if holds and when.coverage != "whole":
                reason = f"{reason} In force: {when.text}."
            applicability.append(Applicability(flow=flow.name, law=law.law, applies=applies,
                                               governs_collection=governs,
                                               in_force=when.coverage, why=reason))
            if holds and when.coverage in ("none", "part"):
                notes.append(Note(flow=flow.name, text=f"Flow {flow.name!r}, {law.law}: "
                                                       f"{when.text}."))
            if not applies:
                continue
            applying.append(law)
            if governs:
                governing.append(law)
            period = ""
            if when.coverage == "part":
                period = (f"{when.start.isoformat() if when.start else '?'} to "
                          f"{when.end.isoformat() if when.end else 'the end of the flow'}")
            for req in law.requirements:
                if req._applies is not None and not req._applies.evaluate(values)[0]:
                    continue
                ok, facts = req._test.evaluate(values)
                findings.append(Finding(
                    flow=flow.name, law=law.law, section=req.section, requirement_id=req.id,
                    requirement=req.title, status="met" if ok else "breach",
                    why=render(req.met_reason if ok else req.breach_reason, values),
                    evidence="; ".join(dict.fromkeys(facts)), period=period))
        where = (f"site in {flow.site.jurisdiction}, destination {flow.destination}, "
                 f"controller established in "
                 f"{', '.join(flow.controller_established_in) or 'no jurisdiction given'}")
        if not applying:
            notes.append(Note(flow=flow.name, text=(
                f"Flow {flow.name!r}: {NO_LAW_NOTE} ({where}; laws checked: {law_names}). "
                "The audit says nothing about this flow; that is not a finding that it is "
                "lawful.")))
        elif not governing:
            notes.append(Note(flow=flow.name, text=(
                f"Flow {flow.name!r}: {NO_LAW_NOTE} to the collection at the site "
                f"({where}). The findings for {', '.join(law.law for law in applying)} read "
                f"that law at the destination ({flow.destination}), for contrast; they do not "
                "say what the law of the site requires.")))
    return AuditResult(laws=tuple(law.law for law in rule_set), flows=tuple(names),
                       applicability=tuple(applicability), findings=tuple(findings),
                       notes=tuple(notes))
