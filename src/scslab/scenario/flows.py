"""Cross-border data flows: the sites that collect personal data and where it goes.

A :class:`DataFlow` describes one stream of personal data from a :class:`Site`
(a restaurant, an office building…) to a destination jurisdiction, with the
facts a privacy-law audit needs: purpose, notice, consent, safeguards, whether
people have enforceable rights there, whether the destination's authorities can
compel access, retention. Every model is frozen, rejects unknown keys and is
YAML-friendly (plain snake_case fields), so a scenario file can hold a list of
flows under ``data_flows:``.

Nothing here touches real data: a flow is a description, and the helpers
(:func:`daily_captured_persons`, :func:`expected_distinct_persons`) are simple
expectations over the synthetic visitor numbers it declares.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from scslab.inputs import StrictScalars

__all__ = [
    "JURISDICTION_PATTERN",
    "LINKED_CAPTURES",
    "AtHome",
    "Capture",
    "Consent",
    "DataFlow",
    "Frequency",
    "Purpose",
    "Safeguard",
    "SensorKind",
    "Site",
    "SiteKind",
    "SiteSensor",
    "Visitors",
    "country_of",
    "daily_captured_persons",
    "expected_distinct_persons",
]

SiteKind = Literal["restaurant", "office_building", "other"]
SensorKind = Literal["camera", "network_server", "phone_scanner"]
Capture = Literal["video", "faces", "device_ids", "documents", "audio"]
Purpose = Literal["security", "staff_monitoring", "people_tracking", "marketing", "unspecified"]
Consent = Literal["none", "implied", "express"]
Safeguard = Literal[
    "contract_clauses", "binding_corporate_rules", "adequacy_decision", "encryption", "none"
]
Frequency = Literal["continuous", "daily", "occasional"]
#: What a capture is matched on: faces (video counts as faces), documents, device_ids.
LinkedCapture = Literal["faces", "documents", "device_ids"]
LINKED_CAPTURES: tuple[str, ...] = ("faces", "documents", "device_ids")

#: A jurisdiction code: an ISO-3166-like country code ("CN", "ET"), optionally
#: with a subdivision ("CA-BC"). EU member states are written "EU-DE", "EU-FR"…
JURISDICTION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"

_JURISDICTION_HELP = (
    'jurisdiction code such as "CA-BC", "CN", "ET" or "EU-DE" '
    "(two capital letters, optionally '-' and 1-3 capitals/digits)"
)


def _meta(unit: str | None = None, source: str = "assumption") -> dict[str, Any]:
    """The ``json_schema_extra`` every field carries: its unit and the source of its default."""
    return {"unit": unit, "source": source}


def country_of(code: str) -> str:
    """Country part of a jurisdiction code ("CA-BC" -> "CA", "EU-DE" -> "EU").

    Args:
        code: A jurisdiction code.

    Returns:
        The part before the first ``-``; EU member states all map to ``"EU"``.
    """
    return code.split("-", 1)[0]


class _Model(StrictScalars):
    """Base for data-flow models: frozen, unknown keys rejected, no NaN/inf.

    Nor ``true`` for a number or ``1`` for a yes/no (``StrictScalars``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              validate_default=True)


class SiteSensor(_Model):
    """A group of identical sensors at a site (e.g. two cameras per table)."""

    kind: SensorKind = Field(
        "camera", description="What the sensor is: camera, network_server or phone_scanner.",
        json_schema_extra=_meta())
    count: int = Field(
        1, ge=0, le=100_000,
        description="Number of sensors; per unit of `per` when `per` is set, else in total.",
        json_schema_extra=_meta("sensors"))
    per: str | None = Field(
        None, min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$",
        description='Unit the count is given per (e.g. "table"); null means `count` is the total.',
        json_schema_extra=_meta())
    units: int = Field(
        1, ge=1, le=100_000,
        description="How many units of `per` the site has (e.g. 30 tables); ignored without `per`.",
        json_schema_extra=_meta("units"))
    captures: tuple[Capture, ...] = Field(
        ("video",), max_length=5,
        description="What these sensors capture: one of, or a list of, video, faces, "
                    "device_ids, documents, audio. Faces (and video, read for faces) are "
                    "matched with the face error model, documents and device_ids with their "
                    "own record-linkage error (data_flows[].at_home.false_match_rates); "
                    "audio identifies no one.",
        json_schema_extra=_meta())

    @field_validator("captures", mode="before")
    @classmethod
    def _one_capture(cls, v: Any) -> Any:
        return (v,) if isinstance(v, str) else v

    @field_validator("captures")
    @classmethod
    def _unique_captures(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("captures must not repeat a value")
        return v

    @property
    def total(self) -> int:
        """Total number of sensors in this group (``count × units`` when ``per`` is set)."""
        return self.count * self.units if self.per is not None else self.count


class Visitors(_Model):
    """Who passes through a site, as expected numbers (synthetic, not a register)."""

    daily_visitors: float = Field(
        0.0, ge=0, le=10_000_000,
        description="Expected number of persons who visit the site per day.",
        json_schema_extra=_meta("persons/day"))
    foreign_resident_population: int = Field(
        0, ge=0, le=2_000_000_000,
        description="Size of the local population the visitors come from (people whose data "
                    "would leave the country); 0 = unknown, every visit counted as a new person.",
        json_schema_extra=_meta("persons"))
    persons_of_interest_share: float = Field(
        0.0, ge=0, le=1,
        description="Share of visitors who are persons of interest to the destination "
                    "(e.g. political or business figures).",
        json_schema_extra=_meta("fraction"))


class Site(_Model):
    """A place that collects personal data: its jurisdiction, sensors and visitors."""

    name: str = Field(..., min_length=1, max_length=120,
                      description="Name of the site (free text).", json_schema_extra=_meta())
    kind: SiteKind = Field("other", description="restaurant, office_building or other.",
                           json_schema_extra=_meta())
    jurisdiction: str = Field(
        ..., pattern=JURISDICTION_PATTERN,
        description=f"Where the site is: a {_JURISDICTION_HELP}.", json_schema_extra=_meta())
    sensors: tuple[SiteSensor, ...] = Field(
        (), max_length=100, description="Sensor groups installed at the site.",
        json_schema_extra=_meta())
    visitors: Visitors = Field(
        default_factory=Visitors, description="Expected visitor numbers.",
        json_schema_extra=_meta())

    @property
    def captures(self) -> tuple[str, ...]:
        """Union of what the site's sensors capture, in a stable order."""
        seen: dict[str, None] = {}
        for sensor in self.sensors:
            for c in sensor.captures:
                seen.setdefault(c, None)
        return tuple(sorted(seen))

    def sensors_total(self, kind: SensorKind) -> int:
        """Total number of sensors of one kind at the site."""
        return sum(s.total for s in self.sensors if s.kind == kind)


class AtHome(_Model):
    """What the flow's records do in the home system (the ``abroad`` simulation stage).

    Every capture abroad is searched against the home gallery; a false match files the
    record on someone at home who was never there. Of those false matches, a share
    ``represents`` concerns people the simulated home population stands for (it is
    usually a sample: 50,000 agents for 1.4 bn people); each such one is recorded on a
    home agent as an act ``records_as`` — on the recorded ledger only, as a
    misattributed act.
    """

    represents: float | None = Field(
        None, ge=0, le=1,
        description="Probability that a false match abroad lands on a simulated home agent "
                    "(the agents' share of the home gallery it is drawn from). Null: "
                    "population.agents / gallery_people, at most 1.",
        json_schema_extra=_meta("probability"))
    gallery_people: int | None = Field(
        None, ge=1, le=2_000_000_000,
        description="Real people in the home gallery a false match abroad is drawn from "
                    "(e.g. 1,400,000,000 for a national identity-photo database). Null: "
                    "population.represents, else population.agents (the agents are the "
                    "whole population). Ignored when `represents` is set.",
        json_schema_extra=_meta("people", "calibration.md (1.4 bn)"))
    records_as: str | None = Field(
        None, min_length=1, max_length=64,
        description="The home behaviour a false match abroad is recorded as (a behaviour of "
                    "the scenario): its points, in the target's region, land on the recorded "
                    "ledger. Null: criticism when the scenario has it (a tracking record "
                    "abroad read as political), else a record with no points.",
        json_schema_extra=_meta())
    points: float | None = Field(
        None, ge=-10_000, le=10_000,
        description="Points per false match on the recorded ledger instead of the rule's "
                    "for `records_as` (0: a record with no points).",
        json_schema_extra=_meta("points"))
    false_match_rates: dict[LinkedCapture, float] = Field(
        {},
        description="Per capture type (faces, documents, device_ids), the probability that "
                    "a capture is matched to the wrong person. Missing: faces use the home "
                    "cameras' false_match_rate (× the foreign group's multiplier), "
                    "device_ids the home phone scanners' (× the same), documents "
                    "scslab.stages.abroad.DOCUMENT_FALSE_MATCH_RATE.",
        json_schema_extra=_meta("probability"))

    @field_validator("false_match_rates")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        for k, r in v.items():
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"false_match_rates.{k} must be in 0..1, got {r}")
        return v


class DataFlow(_Model):
    """One stream of personal data from a site to a destination jurisdiction.

    Facts default to "not claimed": no notice, no consent, no safeguards, no
    enforceable rights at the destination, no foreign-authority access. Set
    each one the scenario asserts.
    """

    name: str = Field(
        ..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Identifier of the flow (letters, digits, '_', '.', '-'); unique in a "
                    "scenario.", json_schema_extra=_meta())
    site: Site = Field(..., description="Where the data is collected.", json_schema_extra=_meta())
    destination: str = Field(
        ..., pattern=JURISDICTION_PATTERN,
        description=f"Where the data is sent and processed: a {_JURISDICTION_HELP}.",
        json_schema_extra=_meta())
    purpose: Purpose = Field(
        "unspecified",
        description="Main purpose: security, staff_monitoring, people_tracking, marketing or "
                    "unspecified.", json_schema_extra=_meta())
    notice: bool = Field(
        False,
        description="Clear notice (e.g. signage) given before collection, stating the purposes "
                    "and, for a flow abroad, that the data goes to the destination.",
        json_schema_extra=_meta())
    consent: Consent = Field(
        "none", description="Consent obtained: none, implied (opt-out / deemed) or express.",
        json_schema_extra=_meta())
    safeguards: tuple[Safeguard, ...] = Field(
        ("none",), max_length=5,
        description="Transfer safeguards: contract_clauses, binding_corporate_rules, "
                    "adequacy_decision, encryption, or none.", json_schema_extra=_meta())
    data_subject_rights: bool = Field(
        False, description="People have enforceable rights and effective remedies at the "
                           "destination.", json_schema_extra=_meta())
    foreign_authority_access: bool = Field(
        False, description="Destination authorities can compel access to the data outside any "
                           "international agreement (e.g. under security or intelligence laws).",
        json_schema_extra=_meta())
    retention_days: int = Field(
        30, ge=0, le=36_500, description="How long the destination keeps the data.",
        json_schema_extra=_meta("days"))
    transfer_frequency: Frequency = Field(
        "continuous",
        description="How often data is sent: continuous (streamed), daily (e.g. nightly "
                    "copies) or occasional (one-off, non-repetitive).",
        json_schema_extra=_meta())
    controller_established_in: tuple[str, ...] = Field(
        (), max_length=50,
        description="Jurisdictions where the organisation deciding on the processing (the "
                    "controller) is established; decides e.g. whether GDPR applies by "
                    "establishment (Art. 3(1)).", json_schema_extra=_meta())
    started: dt.date | None = Field(None, description="First day of the flow, if known.",
                                    json_schema_extra=_meta("date"))
    ended: dt.date | None = Field(None, description="Last day of the flow, if it has ended.",
                                  json_schema_extra=_meta("date"))
    at_home: AtHome = Field(
        default_factory=AtHome,
        description="What the flow's false matches do at home: how many land on simulated "
                    "agents, what act they are recorded as, and the error rates per "
                    "capture type.", json_schema_extra=_meta())

    @field_validator("safeguards")
    @classmethod
    def _safeguards(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("safeguards must not repeat a value")
        if "none" in v and len(v) > 1:
            raise ValueError("'none' cannot be combined with other safeguards")
        return v

    @field_validator("controller_established_in")
    @classmethod
    def _controller(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for code in v:
            if not re.fullmatch(JURISDICTION_PATTERN, code):
                raise ValueError(f"{code!r} is not a {_JURISDICTION_HELP}")
        return v

    @model_validator(mode="after")
    def _dates(self) -> DataFlow:
        if self.started and self.ended and self.ended < self.started:
            raise ValueError("ended must not be before started")
        return self

    @property
    def cameras_total(self) -> int:
        """Number of cameras at the site (e.g. 2 per table × 30 tables = 60)."""
        return self.site.sensors_total("camera")

    @property
    def captures(self) -> tuple[str, ...]:
        """What the flow carries: the union of the site's sensor captures."""
        return self.site.captures

    @property
    def cross_border(self) -> bool:
        """True when the destination is in another country than the site (EU counts as one)."""
        return country_of(self.destination) != country_of(self.site.jurisdiction)

    @property
    def duration_days(self) -> int | None:
        """Days from ``started`` to ``ended`` inclusive, or ``None`` if either is unknown."""
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).days + 1


def daily_captured_persons(flow: DataFlow, coverage: float = 1.0) -> float:
    """Expected number of persons whose data the flow carries per day.

    Visitors to a site with no sensor that sees people (only network servers,
    say) are still counted when the site captures ``device_ids``, ``documents``
    or ``audio``; a site that captures nothing carries no one.

    Args:
        flow: The data flow.
        coverage: Share of visitors within the sensors' reach, 0–1 (1 for a
            restaurant with cameras over every table).

    Returns:
        ``daily_visitors × coverage``, or 0 if the site captures nothing.
    """
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must be in 0..1, got {coverage}")
    if not flow.captures:
        return 0.0
    return flow.site.visitors.daily_visitors * coverage


def expected_distinct_persons(flow: DataFlow, days: int, coverage: float = 1.0) -> float:
    """Expected number of distinct persons captured over ``days`` days.

    Visitors are drawn each day uniformly from ``foreign_resident_population``
    (N), so after ``d`` days the expected distinct count is
    ``N × (1 − (1 − v/N)^d)`` with ``v`` the daily captured persons (capped at
    N). With N unknown (0), every visit counts as a new person: ``v × d``.

    Args:
        flow: The data flow.
        days: Number of days (≥ 0).
        coverage: Share of visitors within the sensors' reach, 0–1.

    Returns:
        The expected number of distinct persons.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    v = daily_captured_persons(flow, coverage)
    n = flow.site.visitors.foreign_resident_population
    if n == 0:
        return v * days
    p = min(v / n, 1.0)
    return n * (1.0 - (1.0 - p) ** days)
