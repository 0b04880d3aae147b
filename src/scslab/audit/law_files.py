"""Law files: a law as a validated rule set, read from YAML (``scslab/audit/laws/``).

Each law is a YAML file that a lawyer can read and edit: when the law applies, and a
list of requirements, each with a *test* in the condition language of
:mod:`scslab.audit.conditions`. Files are read with ``yaml.safe_load``; nothing in them
is evaluated as code, and an unknown operator, field or value is an error naming the file.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from scslab.audit.conditions import Condition, FlowValues, check_text, compile_condition
from scslab.inputs import NotRegularFile, read_regular
from scslab.scenario.flows import DataFlow

__all__ = ["LAW_NAMES", "InForce", "Law", "LawFileError", "LawName", "Requirement", "StrictModel",
           "builtin_laws", "in_force_over", "load_law", "load_laws"]

LawName = Literal["BC PIPA", "PIPEDA", "GDPR", "PIPL"]
LAW_NAMES: tuple[str, ...] = get_args(LawName)


class LawFileError(ValueError):
    """A law file (or law mapping) that cannot be read or does not validate."""


# --------------------------------------------------------------------------- law models


class StrictModel(BaseModel):
    """A frozen pydantic model that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Requirement(StrictModel):
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

    _applies: Condition | None = PrivateAttr(None)
    _test: Condition = PrivateAttr()

    @model_validator(mode="after")
    def _compile(self) -> Requirement:
        where = f"requirement {self.id!r}"
        self._applies = (compile_condition(self.applies_when, f"{where} applies_when")
                         if self.applies_when is not None else None)
        self._test = compile_condition(self.test, f"{where} test")
        check_text(self.breach_reason, f"{where} breach_reason")
        check_text(self.met_reason, f"{where} met_reason")
        return self


class Law(StrictModel):
    """A law as a rule set: when it applies and what it requires."""

    law: LawName = Field(..., description="Short name: BC PIPA, PIPEDA, GDPR or PIPL.")
    title: str = Field(..., min_length=1, max_length=300, description="Full title.")
    citation: str = Field(..., min_length=1, max_length=300,
                          description="Formal citation (e.g. SBC 2003, c. 63).")
    in_force: dt.date = Field(
        ..., description="First day the law applies (YYYY-MM-DD): the audit judges a flow "
                         "only over the days the law is in force.")
    repealed: dt.date | None = Field(
        None, description="First day the law no longer applies (YYYY-MM-DD), if repealed.")
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

    _applies: Condition = PrivateAttr()
    _governs: Condition | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _compile(self) -> Law:
        self._applies = compile_condition(self.applies_when, "applies_when")
        self._governs = (compile_condition(self.governs_collection_when,
                                           "governs_collection_when")
                         if self.governs_collection_when is not None else None)
        check_text(self.applies_reason, "applies_reason")
        check_text(self.not_applies_reason, "not_applies_reason")
        ids = [r.id for r in self.requirements]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"requirement ids must be unique, repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _dates(self) -> Law:
        if self.repealed is not None and self.repealed <= self.in_force:
            raise ValueError(f"repealed ({self.repealed}) must be after in_force "
                             f"({self.in_force})")
        return self

    def applies(self, flow: DataFlow) -> bool:
        """Whether the law's conditions hold for ``flow`` (dates aside, see :meth:`in_force_over`)."""
        return self._applies.evaluate(FlowValues(flow))[0]

    def in_force_over(self, flow: DataFlow) -> InForce:
        """Which part of the flow's dates the law is in force over (:class:`InForce`)."""
        return in_force_over(self.in_force, self.repealed, flow.started, flow.ended)


class InForce(StrictModel):
    """The part of a flow's period over which a law is in force.

    ``coverage`` is ``"whole"`` (in force on every day of the flow), ``"part"``
    (from ``start`` to ``end`` only), ``"none"`` (never in force while the flow ran)
    or ``"unknown"`` (the flow gives no dates: read as if in force throughout).
    ``end`` is ``None`` for a part that runs on with the flow (no end date).
    """

    coverage: Literal["whole", "part", "none", "unknown"]
    start: dt.date | None = None
    end: dt.date | None = None
    text: str = Field(..., description="The verdict in plain words.")


def _period(start: dt.date | None, end: dt.date | None) -> str:
    a = start.isoformat() if start else "an unknown date"
    b = end.isoformat() if end else "ongoing"
    return f"{a} to {b}" if end else f"{a} onwards (no end date)"


def in_force_over(in_force: dt.date, repealed: dt.date | None, started: dt.date | None,
                  ended: dt.date | None) -> InForce:
    """The part of ``[started, ended]`` (inclusive) inside ``[in_force, repealed)``.

    An unknown start is treated as "no later than ``ended``": the law is then in
    force over at least the days from ``in_force`` to ``ended``, and the verdict says
    whether that is all of the flow is unknown. No dates at all: ``"unknown"``.
    """
    law = (f"in force from {in_force.isoformat()}"
           + (f", repealed {repealed.isoformat()}" if repealed else ""))
    if started is None and ended is None:
        return InForce(coverage="unknown", text=(
            f"the flow gives no dates (started/ended), so the law ({law}) is read as if in "
            "force throughout; give the flow's dates to judge it by the laws in force then"))
    last_law_day = repealed - dt.timedelta(days=1) if repealed else None
    if (ended is not None and ended < in_force) or (
            started is not None and last_law_day is not None and started > last_law_day):
        return InForce(coverage="none", text=(
            f"the flow ran {_period(started, ended)}, but the law is {law}: not in force on "
            "any day of the flow, so it is not applied"))
    lo = max(started, in_force) if started is not None else in_force
    if last_law_day is None:
        hi = ended
    elif ended is None:
        hi = last_law_day
    else:
        hi = min(ended, last_law_day)
    whole = (started is not None and started >= in_force
             and (last_law_day is None or (ended is not None and ended <= last_law_day)))
    if whole:
        return InForce(coverage="whole", start=lo, end=hi,
                       text=f"in force over the whole flow ({_period(started, ended)}; {law})")
    head = ("its start is unknown, so " if started is None else "")
    return InForce(coverage="part", start=lo, end=hi, text=(
        f"the flow ran {_period(started, ended)} and the law is {law}: {head}it is applied "
        f"only to the part of the flow from {_period(lo, hi)}; the findings say nothing "
        "about the days before" + (" or after" if last_law_day is not None else "")))


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
def builtin_laws() -> tuple[Law, ...]:
    """The package's laws (``scslab/audit/laws/*.yaml``), read once."""
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
    laws: dict[str, Law] = {law.law: law for law in builtin_laws()} if builtin else {}
    for path in paths or ():
        law = load_law(path)
        laws[law.law] = law
    return list(laws.values())


