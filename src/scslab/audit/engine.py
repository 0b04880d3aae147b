"""The privacy-law audit: read law files, test data flows against them.

Each law is a YAML file (see ``laws/``) that a lawyer can read and edit: when
the law applies, and a list of requirements, each with a *test* written in a
small declarative condition language over a flow's fields. The language has a
closed set of operators; files are read with ``yaml.safe_load`` and nothing in
them is ever evaluated as code. An unknown operator, field or value is an error
that names the file.

Condition language (one mapping per node)::

    {all: [COND, ...]}            every condition holds
    {any: [COND, ...]}            at least one holds
    {not: COND}                   the condition does not hold
    {always: true|false}          a constant
    {field: PATH, OP: VALUE}      a test on one field of the flow, OP one of
        equals, not_equals        scalar equality
        in, not_in                scalar in / not in a list
        matches                   string matches one of a list of globs ("CA-*")
        contains_any, contains_all, contains_none   list field vs a list
        any_matches               some item of a list field matches a glob
        is_empty                  list field is (true) / is not (false) empty
        gt, ge, lt, le            numeric comparison (an unknown value is false)

``PATH`` is one of :data:`FIELDS` (e.g. ``notice``, ``site.jurisdiction``,
``cameras_total``). Reasons may quote fields as ``{purpose}`` or
``{site.jurisdiction}``.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from scslab.inputs import NotRegularFile, read_regular
from scslab.scenario.flows import (
    Capture,
    Consent,
    DataFlow,
    Frequency,
    Purpose,
    Safeguard,
    SensorKind,
    SiteKind,
    country_of,
    daily_captured_persons,
    expected_distinct_persons,
)

__all__ = [
    "DISCLAIMER",
    "FIELDS",
    "LAW_NAMES",
    "NO_LAW_NOTE",
    "OPERATORS",
    "Applicability",
    "AuditResult",
    "Finding",
    "Law",
    "LawFileError",
    "LawName",
    "Note",
    "Requirement",
    "audit_flows",
    "load_law",
    "load_laws",
]

#: Carried by every output of the audit.
DISCLAIMER = "This audit is an automated reading of paraphrased rules, not legal advice."
#: The words of the note for a flow to which no law applies.
NO_LAW_NOTE = "no law in the rule set applies"

LawName = Literal["BC PIPA", "PIPEDA", "GDPR", "PIPL"]
LAW_NAMES: tuple[str, ...] = get_args(LawName)
Status = Literal["met", "breach"]


class LawFileError(ValueError):
    """A law file (or law mapping) that cannot be read or does not validate."""


# --------------------------------------------------------------------------- fields


FieldKind = Literal["str", "enum", "bool", "number", "jurisdiction", "list", "jurisdiction_list"]


@dataclass(frozen=True)
class FieldSpec:
    """A field the condition language can read from a flow."""

    kind: FieldKind
    get: Callable[[DataFlow], Any]
    doc: str
    allowed: frozenset[str] | None = None


def _enum(lit: Any) -> frozenset[str]:
    return frozenset(get_args(lit))


def _safeguards(f: DataFlow) -> tuple[str, ...]:
    return tuple(s for s in f.safeguards if s != "none")


#: Every field a law file may test, by path.
FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec("str", lambda f: f.name, "flow name"),
    "destination": FieldSpec("jurisdiction", lambda f: f.destination,
                             "jurisdiction the data goes to"),
    "destination_country": FieldSpec("jurisdiction", lambda f: country_of(f.destination),
                                     "country part of destination (EU-DE -> EU)"),
    "purpose": FieldSpec("enum", lambda f: f.purpose, "purpose of the flow", _enum(Purpose)),
    "notice": FieldSpec("bool", lambda f: f.notice, "notice given before collection"),
    "consent": FieldSpec("enum", lambda f: f.consent, "consent obtained", _enum(Consent)),
    "safeguards": FieldSpec("list", _safeguards, "transfer safeguards ('none' = empty list)",
                            _enum(Safeguard)),
    "data_subject_rights": FieldSpec("bool", lambda f: f.data_subject_rights,
                                     "enforceable rights at the destination"),
    "foreign_authority_access": FieldSpec("bool", lambda f: f.foreign_authority_access,
                                          "destination authorities can compel access"),
    "retention_days": FieldSpec("number", lambda f: f.retention_days, "retention in days"),
    "transfer_frequency": FieldSpec("enum", lambda f: f.transfer_frequency,
                                    "continuous, daily or occasional", _enum(Frequency)),
    "controller_established_in": FieldSpec("jurisdiction_list",
                                           lambda f: f.controller_established_in,
                                           "where the controller is established"),
    "duration_days": FieldSpec("number", lambda f: f.duration_days,
                               "days from started to ended (unknown if either is missing)"),
    "site.name": FieldSpec("str", lambda f: f.site.name, "site name"),
    "site.kind": FieldSpec("enum", lambda f: f.site.kind, "site kind", _enum(SiteKind)),
    "site.jurisdiction": FieldSpec("jurisdiction", lambda f: f.site.jurisdiction,
                                   "where the site is"),
    "site.country": FieldSpec("jurisdiction", lambda f: country_of(f.site.jurisdiction),
                              "country part of the site's jurisdiction"),
    "site.visitors.daily_visitors": FieldSpec("number",
                                              lambda f: f.site.visitors.daily_visitors,
                                              "visitors per day"),
    "site.visitors.foreign_resident_population": FieldSpec(
        "number", lambda f: f.site.visitors.foreign_resident_population,
        "local population visitors come from"),
    "site.visitors.persons_of_interest_share": FieldSpec(
        "number", lambda f: f.site.visitors.persons_of_interest_share,
        "share of visitors who are persons of interest"),
    "captures": FieldSpec("list", lambda f: f.captures, "what the site's sensors capture",
                          _enum(Capture)),
    "sensor_kinds": FieldSpec("list", lambda f: tuple(sorted({s.kind for s in f.site.sensors})),
                              "kinds of sensors at the site", _enum(SensorKind)),
    "cameras_total": FieldSpec("number", lambda f: f.cameras_total, "cameras at the site"),
    "daily_captured_persons": FieldSpec("number", daily_captured_persons,
                                        "expected persons captured per day"),
    "distinct_persons_per_year": FieldSpec("number",
                                           lambda f: expected_distinct_persons(f, 365),
                                           "expected distinct persons captured in a year"),
    "cross_border": FieldSpec("bool", lambda f: f.cross_border,
                              "destination in another country than the site"),
    "leaves_site_jurisdiction": FieldSpec("bool",
                                          lambda f: f.destination != f.site.jurisdiction,
                                          "destination differs from the site's jurisdiction"),
}

_SCALAR = ("str", "enum", "bool", "number", "jurisdiction")
_LISTS = ("list", "jurisdiction_list")
#: Leaf operators and the field kinds each accepts.
OPERATORS: dict[str, tuple[str, ...]] = {
    "equals": _SCALAR,
    "not_equals": _SCALAR,
    "in": _SCALAR,
    "not_in": _SCALAR,
    "matches": ("str", "jurisdiction"),
    "contains_any": _LISTS,
    "contains_all": _LISTS,
    "contains_none": _LISTS,
    "any_matches": _LISTS,
    "is_empty": _LISTS,
    "gt": ("number",),
    "ge": ("number",),
    "lt": ("number",),
    "le": ("number",),
}
_COMBINATORS = ("all", "any", "not", "always")


class _Values:
    """Field values of one flow, computed on first use."""

    def __init__(self, flow: DataFlow) -> None:
        self.flow = flow
        self._cache: dict[str, Any] = {}

    def __getitem__(self, path: str) -> Any:
        if path not in self._cache:
            self._cache[path] = FIELDS[path].get(self.flow)
        return self._cache[path]


def _fmt(value: Any) -> str:
    """A field value in plain words."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(str(v) for v in value) + "]" if value else "[none]"
    return str(value)


# --------------------------------------------------------------------------- conditions


class _Node:
    """A compiled condition."""

    def evaluate(self, values: _Values) -> tuple[bool, list[str]]:
        """Return whether the condition holds and the facts that decided it."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Always(_Node):
    value: bool

    def evaluate(self, values: _Values) -> tuple[bool, list[str]]:
        return self.value, []


@dataclass(frozen=True)
class _All(_Node):
    children: tuple[_Node, ...]

    def evaluate(self, values: _Values) -> tuple[bool, list[str]]:
        facts_true: list[str] = []
        facts_false: list[str] = []
        failed = False
        for child in self.children:
            ok, facts = child.evaluate(values)
            failed = failed or not ok
            (facts_true if ok else facts_false).extend(facts)
        return not failed, (facts_false if failed else facts_true)


@dataclass(frozen=True)
class _Any(_Node):
    children: tuple[_Node, ...]

    def evaluate(self, values: _Values) -> tuple[bool, list[str]]:
        facts_false: list[str] = []
        for child in self.children:
            ok, facts = child.evaluate(values)
            if ok:
                return True, facts
            facts_false.extend(facts)
        return False, facts_false


@dataclass(frozen=True)
class _Not(_Node):
    child: _Node

    def evaluate(self, values: _Values) -> tuple[bool, list[str]]:
        ok, facts = self.child.evaluate(values)
        return not ok, facts


def _glob_any(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True)
class _Leaf(_Node):
    field: str
    op: str
    arg: Any

    def evaluate(self, values: _Values) -> tuple[bool, list[str]]:
        v = values[self.field]
        return self._test(v), [f"{self.field} = {_fmt(v)}"]

    def _test(self, v: Any) -> bool:
        op, arg = self.op, self.arg
        if op == "equals":
            return v == arg
        if op == "not_equals":
            return v != arg
        if op == "in":
            return v in arg
        if op == "not_in":
            return v not in arg
        if op == "matches":
            return _glob_any(str(v), arg)
        if op == "contains_any":
            return any(a in v for a in arg)
        if op == "contains_all":
            return all(a in v for a in arg)
        if op == "contains_none":
            return not any(a in v for a in arg)
        if op == "any_matches":
            return any(_glob_any(str(item), arg) for item in v)
        if op == "is_empty":
            return (len(v) == 0) == arg
        if v is None:
            return False
        if op == "gt":
            return v > arg
        if op == "ge":
            return v >= arg
        if op == "lt":
            return v < arg
        if op == "le":
            return v <= arg
        raise AssertionError(f"operator {op!r} passed validation but has no test")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _check_value(where: str, spec: FieldSpec, field: str, x: Any) -> None:
    """Check one comparison value against the field's kind and allowed values."""
    kind = spec.kind
    if kind == "bool":
        ok = isinstance(x, bool)
    elif kind == "number":
        ok = _is_number(x)
    else:
        ok = isinstance(x, str)
    if not ok:
        raise ValueError(f"{where}: value {x!r} does not fit field {field!r} ({kind})")
    if spec.allowed is not None and x not in spec.allowed:
        raise ValueError(f"{where}: value {x!r} is not allowed for field {field!r} "
                         f"(allowed: {', '.join(sorted(spec.allowed))})")


def compile_condition(node: Any, where: str = "condition") -> _Node:
    """Check a condition written in the law-file language and compile it.

    Args:
        node: The condition, as loaded from YAML (a mapping).
        where: Where the condition sits, for error messages.

    Returns:
        A compiled condition.

    Raises:
        ValueError: on an unknown operator or field, or a value of the wrong shape.
    """
    if not isinstance(node, Mapping):
        raise ValueError(f"{where}: a condition must be a mapping, got {node!r}")
    keys = set(node)
    combinators = keys & set(_COMBINATORS)
    if combinators:
        if len(keys) != 1:
            raise ValueError(f"{where}: {sorted(combinators)[0]!r} must stand alone in its "
                             f"mapping, found keys {sorted(map(str, keys))}")
        (key,) = keys
        arg = node[key]
        if key == "always":
            if not isinstance(arg, bool):
                raise ValueError(f"{where}: 'always' takes true or false, got {arg!r}")
            return _Always(arg)
        if key == "not":
            return _Not(compile_condition(arg, f"{where} > not"))
        if not isinstance(arg, list) or not arg:
            raise ValueError(f"{where}: {key!r} takes a non-empty list of conditions")
        children = tuple(compile_condition(c, f"{where} > {key}[{i}]") for i, c in enumerate(arg))
        return _All(children) if key == "all" else _Any(children)
    if "field" not in keys:
        unknown = sorted(str(k) for k in keys)
        raise ValueError(f"{where}: unknown operator {unknown[0]!r} (allowed: "
                         f"{', '.join(_COMBINATORS)}, or 'field' with one of "
                         f"{', '.join(OPERATORS)})" if unknown else f"{where}: empty condition")
    field = node["field"]
    if not isinstance(field, str) or field not in FIELDS:
        raise ValueError(f"{where}: unknown field {field!r} (allowed: {', '.join(FIELDS)})")
    ops = keys - {"field"}
    if len(ops) != 1:
        raise ValueError(f"{where}: field {field!r} needs exactly one operator, found "
                         f"{sorted(map(str, ops)) or 'none'}")
    (op,) = ops
    if op not in OPERATORS:
        raise ValueError(f"{where}: unknown operator {op!r} (allowed: {', '.join(OPERATORS)}, "
                         f"or {', '.join(_COMBINATORS)})")
    spec = FIELDS[field]
    if spec.kind not in OPERATORS[op]:
        raise ValueError(f"{where}: operator {op!r} does not apply to field {field!r} "
                         f"({spec.kind}); it takes fields of kind {', '.join(OPERATORS[op])}")
    arg = node[op]
    if op in ("equals", "not_equals"):
        _check_value(where, spec, field, arg)
    elif op == "is_empty":
        if not isinstance(arg, bool):
            raise ValueError(f"{where}: 'is_empty' takes true or false, got {arg!r}")
    elif op in ("gt", "ge", "lt", "le"):
        if not _is_number(arg):
            raise ValueError(f"{where}: {op!r} takes a number, got {arg!r}")
    else:
        if isinstance(arg, str):
            arg = [arg]
        if not isinstance(arg, list) or not arg:
            raise ValueError(f"{where}: {op!r} takes a non-empty list, got {arg!r}")
        if op in ("matches", "any_matches"):
            if not all(isinstance(p, str) for p in arg):
                raise ValueError(f"{where}: {op!r} takes a list of patterns (strings)")
        else:
            item_spec = FieldSpec("str", spec.get, spec.doc, spec.allowed) if spec.kind in _LISTS \
                else spec
            for x in arg:
                _check_value(where, item_spec, field, x)
        arg = tuple(arg)
    return _Leaf(field, op, arg)


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _check_text(text: str, where: str) -> None:
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1) not in FIELDS:
            raise ValueError(f"{where}: unknown field {m.group(1)!r} in placeholder "
                             f"{m.group(0)!r} (allowed: {', '.join(FIELDS)})")


def _render(text: str, values: _Values) -> str:
    return _PLACEHOLDER.sub(lambda m: _fmt(values[m.group(1)]), text).strip()


# --------------------------------------------------------------------------- law models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requirement(_Model):
    """One requirement of a law, with its test and the reasons to give."""

    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64,
                    description="Identifier, unique within the law (e.g. pipa-s10-1).")
    section: str = Field(..., min_length=1, max_length=120,
                         description='Where in the law (e.g. "s. 10(1)", "Art. 46").')
    title: str = Field(..., min_length=1, max_length=200, description="Short title.")
    description: str = Field(..., min_length=1, max_length=4000,
                             description="What the requirement says, in plain words "
                                         "(a paraphrase).")
    applies_when: dict[str, Any] | None = Field(
        None, description="Optional condition: the requirement is only tested when it holds.")
    test: dict[str, Any] = Field(..., description="Condition that holds when the requirement "
                                                  "is met.")
    breach_reason: str = Field(..., min_length=1, max_length=4000,
                               description="Why, in plain words, when the test fails.")
    met_reason: str = Field(..., min_length=1, max_length=4000,
                            description="Why, in plain words, when the test holds.")
    sources: tuple[str, ...] = Field((), description="Where the paraphrase comes from.")

    _applies: _Node | None = PrivateAttr(None)
    _test: _Node = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> Requirement:
        where = f"requirement {self.id!r}"
        self._applies = (compile_condition(self.applies_when, f"{where} applies_when")
                         if self.applies_when is not None else None)
        self._test = compile_condition(self.test, f"{where} test")
        _check_text(self.breach_reason, f"{where} breach_reason")
        _check_text(self.met_reason, f"{where} met_reason")
        return self


class Law(_Model):
    """A law as a rule set: when it applies and what it requires."""

    law: LawName = Field(..., description="Short name: BC PIPA, PIPEDA, GDPR or PIPL.")
    title: str = Field(..., min_length=1, max_length=300, description="Full title.")
    citation: str = Field(..., min_length=1, max_length=300,
                          description="Formal citation (e.g. SBC 2003, c. 63).")
    summary: str = Field("", max_length=4000, description="What the law covers, in plain words.")
    sources: tuple[str, ...] = Field((), description="Where the paraphrases come from.")
    applies_when: dict[str, Any] = Field(..., description="Condition on a flow under which the "
                                                          "law applies.")
    applies_reason: str = Field(..., min_length=1, max_length=2000,
                                description="Why the law applies, in plain words.")
    not_applies_reason: str = Field(..., min_length=1, max_length=2000,
                                    description="Why it does not apply, in plain words.")
    governs_collection_when: dict[str, Any] | None = Field(
        None, description="Condition under which the law governs the collection at the site "
                          "itself (default: whenever it applies); when it does not, the law is "
                          "read only at the destination, for contrast.")
    definitions: dict[str, Any] = Field(
        {}, description="Free space for YAML anchors (lists reused in tests); not read.")
    requirements: tuple[Requirement, ...] = Field(..., min_length=1,
                                                  description="The requirements.")

    _applies: _Node = PrivateAttr()
    _governs: _Node | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _compile(self) -> Law:
        self._applies = compile_condition(self.applies_when, "applies_when")
        self._governs = (compile_condition(self.governs_collection_when,
                                           "governs_collection_when")
                         if self.governs_collection_when is not None else None)
        _check_text(self.applies_reason, "applies_reason")
        _check_text(self.not_applies_reason, "not_applies_reason")
        ids = [r.id for r in self.requirements]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"requirement ids must be unique, repeated: {', '.join(dupes)}")
        return self

    def applies(self, flow: DataFlow) -> bool:
        """Whether the law applies to ``flow``."""
        return self._applies.evaluate(_Values(flow))[0]


# --------------------------------------------------------------------------- loading


def _format_validation(err: ValidationError) -> str:
    errors = err.errors()
    # a failed item also makes its container fail (e.g. "too short"): report the item only
    errors = [e for e in errors
              if not any(o is not e and o["loc"][:len(e["loc"])] == e["loc"]
                         and len(o["loc"]) > len(e["loc"]) for o in errors)]
    lines = []
    for e in errors:
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)


def _law_from_text(text: str, name: str) -> Law:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise LawFileError(f"law file {name}: not valid (safe) YAML: "
                           f"{' '.join(str(e).split())}") from None
    except RecursionError:
        raise LawFileError(f"law file {name}: nested too deeply") from None
    if not isinstance(data, dict):
        raise LawFileError(f"law file {name}: expected a mapping at the top level")
    try:
        return Law.model_validate(data)
    except ValidationError as e:
        raise LawFileError(f"law file {name}: {_format_validation(e)}") from None
    except RecursionError:
        raise LawFileError(f"law file {name}: nested too deeply") from None


def load_law(path: str | Path) -> Law:
    """Load one law file.

    Args:
        path: A YAML law file.

    Returns:
        The validated law.

    Raises:
        LawFileError: (a ``ValueError``) naming the file, when it cannot be read,
            is not safe YAML, or uses an unknown operator, field or value.
    """
    p = Path(path)
    limit = 1_000_000  # law files are a few kB; /dev/zero must not be read forever
    try:  # non-blocking open: a named pipe or a device is refused, not waited on
        raw = read_regular(p, limit)
    except NotRegularFile as e:
        raise LawFileError(f"law file {p}: not a regular file ({e.kind}); give a law YAML "
                           "file") from None
    except OSError as e:
        raise LawFileError(f"law file {p}: cannot read it ({e.strerror or e})") from None
    if len(raw) > limit:
        raise LawFileError(f"law file {p}: larger than {limit:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LawFileError(f"law file {p}: not valid UTF-8 (byte {e.start}); save it as "
                           "UTF-8") from None
    return _law_from_text(text, str(p))


@functools.lru_cache(maxsize=1)
def _builtin_laws() -> tuple[Law, ...]:
    folder = resources.files("scslab.audit").joinpath("laws")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")),
                   key=lambda f: f.name)
    return tuple(_law_from_text(f.read_text(encoding="utf-8"), f"scslab/audit/laws/{f.name}")
                 for f in files)


def load_laws(paths: Iterable[str | Path] | None = None, *, builtin: bool = True) -> list[Law]:
    """Load the rule set: the package's laws and, optionally, user law files.

    A user file whose ``law`` names a law already loaded replaces it (so a
    lawyer can edit a copy of a package file and pass it here).

    Args:
        paths: Extra law files, loaded after the package's.
        builtin: Include the package's laws (BC PIPA, GDPR, PIPEDA, PIPL).

    Returns:
        The laws, one per short name.

    Raises:
        LawFileError: (a ``ValueError``) naming the file at fault.
    """
    laws: dict[str, Law] = {law.law: law for law in _builtin_laws()} if builtin else {}
    for path in paths or ():
        law = load_law(path)
        laws[law.law] = law
    return list(laws.values())


# --------------------------------------------------------------------------- results


class Finding(_Model):
    """The outcome of one requirement of one law for one flow."""

    flow: str = Field(..., description="Flow name.")
    law: LawName = Field(..., description="Short name of the law.")
    section: str = Field(..., description="Section or article.")
    requirement_id: str = Field(..., description="Requirement identifier.")
    requirement: str = Field(..., description="Requirement title.")
    status: Status = Field(..., description="met or breach.")
    why: str = Field(..., description="Why, in plain words.")
    evidence: str = Field(..., description="The flow facts the test turned on.")


class Applicability(_Model):
    """Whether one law applies to one flow, and why."""

    flow: str = Field(..., description="Flow name.")
    law: LawName = Field(..., description="Short name of the law.")
    applies: bool = Field(..., description="The law applies to the flow.")
    governs_collection: bool = Field(
        ..., description="The law governs the collection at the site (false: read only at "
                         "the destination, for contrast, or not at all).")
    why: str = Field(..., description="Why, in plain words.")


class Note(_Model):
    """A remark on one flow that is not a finding (e.g. no law applies)."""

    flow: str = Field(..., description="Flow name.")
    text: str = Field(..., description="The note.")


_ROW_KEYS = ("flow", "law", "section", "requirement_id", "requirement", "status", "why",
             "evidence", "disclaimer")


class AuditResult(_Model):
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
        rows += [dict(zip(_ROW_KEYS, (n.flow, None, None, None, None, "note", n.text, "",
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
                        f"{'**BREACH**' if f.status == 'breach' else 'met'} | {_md(f.why)} |"
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
    rule_set = list(_builtin_laws() if laws is None else laws)
    names = [f.name for f in flows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"flow names must be unique, repeated: {', '.join(dupes)}")
    law_names = ", ".join(law.law for law in rule_set) or "none"
    findings: list[Finding] = []
    applicability: list[Applicability] = []
    notes: list[Note] = []
    for flow in flows:
        values = _Values(flow)
        applying: list[Law] = []
        governing: list[Law] = []
        for law in rule_set:
            applies = law._applies.evaluate(values)[0]
            governs = applies and (law._governs is None or law._governs.evaluate(values)[0])
            reason = law.applies_reason if applies else law.not_applies_reason
            applicability.append(Applicability(flow=flow.name, law=law.law, applies=applies,
                                               governs_collection=governs,
                                               why=_render(reason, values)))
            if not applies:
                continue
            applying.append(law)
            if governs:
                governing.append(law)
            for req in law.requirements:
                if req._applies is not None and not req._applies.evaluate(values)[0]:
                    continue
                ok, facts = req._test.evaluate(values)
                findings.append(Finding(
                    flow=flow.name, law=law.law, section=req.section, requirement_id=req.id,
                    requirement=req.title, status="met" if ok else "breach",
                    why=_render(req.met_reason if ok else req.breach_reason, values),
                    evidence="; ".join(dict.fromkeys(facts))))
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
