"""The condition language of law files: the fields of a flow and the tests on them.

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
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

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

__all__ = ["FIELDS", "OPERATORS", "Condition", "FieldSpec", "FlowValues", "check_text",
           "compile_condition", "render"]

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


class FlowValues:
    """Field values of one flow, computed on first use."""

    def __init__(self, flow: DataFlow) -> None:
        """Read fields of ``flow`` lazily."""
        self.flow = flow
        self._cache: dict[str, Any] = {}

    def __getitem__(self, path: str) -> Any:
        """The value of the field at ``path`` (one of :data:`FIELDS`)."""
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


class Condition:
    """A compiled condition."""

    def evaluate(self, values: FlowValues) -> tuple[bool, list[str]]:
        """Return whether the condition holds and the facts that decided it."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Always(Condition):
    value: bool

    def evaluate(self, values: FlowValues) -> tuple[bool, list[str]]:
        return self.value, []


@dataclass(frozen=True)
class _All(Condition):
    children: tuple[Condition, ...]

    def evaluate(self, values: FlowValues) -> tuple[bool, list[str]]:
        facts_true: list[str] = []
        facts_false: list[str] = []
        failed = False
        for child in self.children:
            ok, facts = child.evaluate(values)
            failed = failed or not ok
            (facts_true if ok else facts_false).extend(facts)
        return not failed, (facts_false if failed else facts_true)


@dataclass(frozen=True)
class _Any(Condition):
    children: tuple[Condition, ...]

    def evaluate(self, values: FlowValues) -> tuple[bool, list[str]]:
        facts_false: list[str] = []
        for child in self.children:
            ok, facts = child.evaluate(values)
            if ok:
                return True, facts
            facts_false.extend(facts)
        return False, facts_false


@dataclass(frozen=True)
class _Not(Condition):
    child: Condition

    def evaluate(self, values: FlowValues) -> tuple[bool, list[str]]:
        ok, facts = self.child.evaluate(values)
        return not ok, facts


def _glob_any(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True)
class _Leaf(Condition):
    field: str
    op: str
    arg: Any

    def evaluate(self, values: FlowValues) -> tuple[bool, list[str]]:
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


def compile_condition(node: Any, where: str = "condition") -> Condition:
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


def check_text(text: str, where: str) -> None:
    """Refuse a reason text whose ``{placeholder}`` names no field (ValueError naming ``where``)."""
    for m in _PLACEHOLDER.finditer(text):
        if m.group(1) not in FIELDS:
            raise ValueError(f"{where}: unknown field {m.group(1)!r} in placeholder "
                             f"{m.group(0)!r} (allowed: {', '.join(FIELDS)})")


def render(text: str, values: FlowValues) -> str:
    """A reason text with its ``{field}`` placeholders replaced by the flow's values."""
    return _PLACEHOLDER.sub(lambda m: _fmt(values[m.group(1)]), text).strip()


