"""The scenario schema: every parameter of a run, declared once.

Validation, ``--set`` overrides, the dashboard's knobs, sensitivity bounds and
the scenario reference in the README are all generated from these models. The
policy block lives in :mod:`scslab.scenario.policy`, the field helpers in
:mod:`scslab.scenario.fields`; both are re-exported here.
Units are given in each field's ``json_schema_extra``; ``source`` names where a
default came from (a section of ``reference/calibration.md`` or "assumption").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import field_validator, model_validator

from scslab.scenario.fields import F, Model, Multiplier, Points, Probability, Rate
from scslab.scenario.flows import DataFlow
from scslab.scenario.policy import (
    SANCTION_KINDS,
    Blacklist,
    CourtList,
    EmployerSpillover,
    Grade,
    HouseholdSpillover,
    ListName,
    Lists,
    Policy,
    Redlist,
    Rewards,
    Sanction,
    Sanctions,
    Scoring,
    Spillover,
    TieSpillover,
)
from scslab.scenario.refs import check_references

#: Re-exported here so that every block of the schema imports from one place.
__all__ = ["SANCTION_KINDS", "SCHEMA_VERSION", "Blacklist", "CourtList", "EmployerSpillover",
           "F", "Grade", "HouseholdSpillover", "ListName", "Lists", "Model", "Multiplier",
           "Points", "Policy", "Probability", "Rate", "Redlist", "Rewards", "Sanction",
           "Sanctions", "Scenario", "Scoring", "Spillover", "TieSpillover"]

SCHEMA_VERSION = 1

# --------------------------------------------------------------------------- population


class AgePyramid(Model):
    """Age structure of the population: the shares of children and of the elderly."""

    child_share: float = F(0.18, "Share of agents under 18 (children).", "fraction",
                           "assumption (China census order of magnitude)", ge=0, le=0.9)
    elderly_share: float = F(0.14, "Share of agents aged 65 and over.", "fraction",
                             "assumption (China census order of magnitude)", ge=0, le=0.9)

    @model_validator(mode="after")
    def _adults_left(self) -> AgePyramid:
        if self.child_share + self.elderly_share > 0.95:
            raise ValueError("child_share + elderly_share must leave at least 5% adults")
        return self


class Group(Model):
    """A demographic group: its name and its share of agents (households are one group each)."""

    name: str = F(..., "Name of a demographic group (used in per-group metric columns).",
                  min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    share: float = F(..., "Share of agents (and of households) in this group.", "fraction",
                      gt=0, le=1)


class Region(Model):
    """A region: its share of the population, its camera density and local rules."""

    name: str = F(..., "Region name (a local pilot may have its own rules).",
                  min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    share: float = F(..., "Share of the population living here.", "fraction", gt=0, le=1)
    cameras_per_1000: float = F(100.0, "Surveillance cameras per 1,000 residents.",
                                "cameras per 1000 people", "calibration.md §5", ge=0, le=10_000)
    rules: dict[str, Points] = F({}, "Local rule overrides: behaviour → points (a local pilot).",
                                 "points per act")


class Households(Model):
    """How agents live together: the distribution of household sizes."""

    size_shares: dict[int, float] = F(
        {1: 0.15, 2: 0.28, 3: 0.27, 4: 0.18, 5: 0.08, 6: 0.04},
        "Share of households by number of members (1–12); children live with adults.",
        "fraction", "assumption (China census order of magnitude)")

    @field_validator("size_shares")
    @classmethod
    def _sizes(cls, v: dict[int, float]) -> dict[int, float]:
        if not v:
            raise ValueError("needs at least one household size")
        for size, share in v.items():
            if not 1 <= size <= 12:
                raise ValueError(f"household size {size} outside 1..12")
            if not 0 <= share <= 1:
                raise ValueError(f"share {share} for size {size} outside 0..1")
        if sum(v.values()) <= 0:
            raise ValueError("shares must not all be zero")
        return v


class Ties(Model):
    """The network of friends and associates, through which listings spill over."""

    mean_degree: float = F(8.0, "Mean number of friends/associates per agent (0 disables ties).",
                           "ties per agent", ge=0, le=64)
    dispersion: float = F(1.0, "Spread of the degree distribution: 0 gives every agent the same "
                          "number of ties, 1 a geometric (heavy) spread.", None, ge=0, le=1)
    within_region: float = F(0.9, "Share of ties inside the agent's own region.", "fraction",
                             ge=0, le=1)


class Employers(Model):
    """Businesses and who works for them (the employer spillover runs through them)."""

    employed_share: float = F(0.6, "Share of adults employed by a business.", "fraction",
                              ge=0, le=1)
    mean_size: float = F(20.0, "Mean number of employees per business.", "employees",
                         ge=1, le=100_000)
    size_sigma: float = F(1.2, "Log-normal sigma of business sizes (0 = all alike).", None,
                          ge=0, le=4)


class Disposition(Model):
    """Each agent's latent disposition to break rules, fixed for the whole run."""

    sigma: float = F(0.5, "Log-normal sigma of the latent disposition to break rules "
                     "(mean of log is 0).", None, "rm1.md", ge=0, le=3)


class Population(Model):
    """The synthetic population: its size, demography, regions, households, ties and employers."""

    agents: int = F(100_000, "Number of synthetic agents.", "agents", ge=1, le=2_000_000_000)
    represents: int | None = F(None, "Size of the real population the agents stand for "
                               "(e.g. 1,400,000,000): results are also reported scaled by "
                               "represents / agents.", "people", "calibration.md (1.4 bn)",
                               ge=1, le=20_000_000_000)
    age: AgePyramid = AgePyramid()
    female_share: float = F(0.49, "Share of agents who are female.", "fraction", ge=0, le=1)
    groups: list[Group] = F([Group(name="majority", share=0.9), Group(name="minority", share=0.1)],
                            "Demographic groups and their shares.", min_length=1, max_length=32)
    regions: list[Region] = F([Region(name="all", share=1.0)],
                              "Regions (contiguous blocks of agents) and their shares.",
                              min_length=1, max_length=255)
    reference_group: str | None = F(None, "Group every other group is compared with in the "
                                    "fairness measures (default: the largest group).")
    households: Households = Households()
    ties: Ties = Ties()
    employers: Employers = Employers()
    disposition: Disposition = Disposition()
    oversample: dict[str, float] = F({}, "Survey oversampling: group name -> factor. The group "
                                     "is generated factor times more often than its share and "
                                     "its agents carry the design weight 1/factor, normalised "
                                     "so that the weights add up to agents (docs/weights.md).",
                                     "factor")

    @field_validator("groups", "regions")
    @classmethod
    def _unique(cls, v):
        names = [x.name for x in v]
        if len(set(names)) != len(names):
            raise ValueError(f"names must be unique, got {names}")
        return v

    @model_validator(mode="after")
    def _oversample_groups(self) -> Population:
        names = [g.name for g in self.groups]
        for name, factor in self.oversample.items():
            if name not in names:
                raise ValueError(f"oversample: unknown group {name!r}; the groups are {names}")
            if not 0.01 <= factor <= 1000:
                raise ValueError(f"oversample.{name}: factor {factor} out of range; use a "
                                 "factor between 0.01 and 1000 (1 = the true share)")
        return self

    @model_validator(mode="after")
    def _reference_is_a_group(self) -> Population:
        names = [g.name for g in self.groups]
        if self.reference_group is not None and self.reference_group not in names:
            raise ValueError(f"reference_group: unknown group {self.reference_group!r}; "
                             f"choose one of {', '.join(names)}")
        return self


# --------------------------------------------------------------------------- behaviours


class AgeFactors(Model):
    """Multipliers on a behaviour's rate by age class."""

    child: float = F(0.0, "Rate multiplier for children.", None, ge=0, le=100)
    adult: float = F(1.0, "Rate multiplier for adults.", None, ge=0, le=100)
    elderly: float = F(1.0, "Rate multiplier for the elderly.", None, ge=0, le=100)


class Behaviour(Model):
    """One kind of act agents do: its daily rate and who does it more often."""

    rate: Rate = F(0.001, "Base probability per agent-day of doing this act.", "per agent-day")
    disposition_exponent: float = F(1.0, "Rate scales with disposition**exponent "
                                    "(1: rule-breakers do more, 0: independent, -1: fewer).",
                                    None, ge=-4, le=4)
    age: AgeFactors = AgeFactors(child=0.0, adult=1.0, elderly=1.0)


# --------------------------------------------------------------------------- sensors


class Classification(Model):
    """What a sensor reads off a person besides identity: sex and age class."""

    enabled: bool = F(True, "Whether the sensor classifies sex and adult/child; the classified "
                      "attributes narrow whom a false match can land on.")
    sex_accuracy: Probability = F(0.95, "Probability that sex is classified correctly.",
                                  "probability", "calibration.md §7 (Levi & Hassner 86.8%)")
    age_accuracy: Probability = F(0.9, "Probability that adult/child/elderly is classified "
                                  "correctly.", "probability", "calibration.md §7")


class Sensor(Model):
    """A source of records: what it observes, how much, and how often it names the wrong person."""

    enabled: bool = F(True, "Whether this sensor is in use.")
    observes: list[str] = F([], "Behaviours this sensor can observe.")
    coverage: Probability = F(1.0, "Share of acts within this sensor's reach.", "fraction")
    detection: Probability = F(0.5, "Probability an act within reach is detected.", "probability")
    false_match_rate: Probability = F(0.0, "Probability that a detected act is attributed to the "
                                      "wrong person (identity error).", "probability")
    group_multipliers: dict[str, Multiplier] = F({}, "False-match rate multiplier per group "
                                                 "(missing groups: 1).", None,
                                                 "calibration.md §6 (NISTIR 8280: 10–100×)")
    same_group_preference: Probability = F(0.8, "Probability a false match lands on someone of "
                                           "the actor's own group (look-alikes).", "probability")
    scope: Literal["region", "population"] = F("region", "Where a false match can land: the "
                                               "actor's region or anyone.")
    classification: Classification = Classification(enabled=False)


class Cameras(Sensor):
    """Surveillance cameras: a sensor whose coverage can follow each region's camera density."""

    density_coverage: bool = F(True, "Derive coverage per region from cameras per 1,000 people: "
                               "coverage = 1 − exp(−density / saturation_per_1000).")
    saturation_per_1000: float = F(150.0, "Camera density at which 63% of acts are in view.",
                                   "cameras per 1000 people", ge=1e-6, le=1e6)


class Vehicles(Model):
    """Vehicle recognition (plate cameras): a traffic act is recorded on the vehicle's owner.

    Identity comes from the plate, not the face, so the record names the vehicle's registered
    owner — who may be another adult of the driver's household — or, when the plate is
    misread, the owner of some other vehicle. Both count as misattribution (the twin and the
    own-conduct ledgers credit the driver). The acts it sees are the behaviours it
    ``observes`` (``traffic_violation`` in the presets). It claims an act before the cameras.
    """

    enabled: bool = F(False, "Whether vehicle recognition is in use.")
    observes: list[str] = F(["traffic_violation"], "Behaviours seen through a vehicle "
                            "(traffic acts).")
    coverage: Probability = F(0.5, "Share of traffic acts in view of a plate-reading camera.",
                              "fraction")
    detection: Probability = F(0.9, "Probability a traffic act in view is detected and its "
                               "plate read.", "probability")
    plate_misread_rate: Probability = F(
        0.037, "Probability that the vehicle is misidentified (plate misread), so that the act "
        "lands on the owner of another vehicle (a random adult in scope).", "probability",
        "calibration.md §7 (no plate-reading figure found; 96.3% rank-1 vehicle make-and-model "
        "recognition, Lee et al. 2019, taken as the identification accuracy)")
    owner_is_other_household_member: Probability = F(
        0.5, "Share of drivers whose vehicle is registered to another adult of their household "
        "(when there is one): their traffic acts are recorded on that owner. 0.5: one car "
        "shared by two adult drivers, registered to one of them.", "fraction")
    scope: Literal["region", "population"] = F("region", "Where a misread plate can land: the "
                                               "driver's region or anyone.")

    # What every sensor exposes (``Sensor``), fixed here: plates carry no face.
    @property
    def false_match_rate(self) -> float:
        """The vehicle sensor's identity-error rate per act: the plate-misread rate."""
        return self.plate_misread_rate

    @property
    def group_multipliers(self) -> dict[str, float]:
        """No group differential: a plate reader does not see the driver's group."""
        return {}

    @property
    def same_group_preference(self) -> float:
        """A misread plate lands on any vehicle owner, whatever their group."""
        return 0.0

    @property
    def classification(self) -> Classification:
        """Vehicle recognition classifies no sex or age."""
        return Classification(enabled=False)


class Sensors(Model):
    """The sensors that record acts, in the order in which they claim an act."""

    vehicles: Vehicles = Vehicles()
    cameras: Cameras = Cameras(observes=["smoking", "traffic_violation"], detection=0.5,
                               false_match_rate=0.001, classification=Classification())
    phone_scanners: Sensor = Sensor(observes=["buying_domestic", "community_service"],
                                    coverage=0.3, detection=0.5, false_match_rate=0.0005)
    online_monitoring: Sensor = Sensor(observes=["criticism"], coverage=1.0, detection=0.3,
                                       false_match_rate=0.0005, scope="population")
    financial_records: Sensor = Sensor(observes=["fraud", "paying_debts"], detection=0.6,
                                       false_match_rate=0.0001)
    tax_records: Sensor = Sensor(observes=["tax_evasion"], detection=0.4,
                                 false_match_rate=0.0001)
    court_records: Sensor = Sensor(observes=["court_default"], detection=0.95,
                                   false_match_rate=0.0001)
    payment_records: Sensor = Sensor(observes=["buying_domestic", "paying_debts"], detection=0.8,
                                     false_match_rate=0.0001)

    def items(self) -> list[tuple[str, Sensor | Vehicles]]:
        """(name, sensor) in a fixed order: the order in which they claim an act."""
        return [(name, getattr(self, name)) for name in type(self).model_fields]


# --------------------------------------------------------------------------- governance


class Transparency(StrEnum):
    """Whether the rules are secret or published."""

    secret = "secret"
    published = "published"


class Appeals(Model):
    """Appeals by listed agents: how often they file, how long review takes, how often they win."""

    enabled: bool = F(False, "Whether listed agents can appeal.")
    filing_probability_known: Probability = F(0.05, "Daily probability that a listed agent who "
                                              "knows why files an appeal.", "per day")
    filing_probability_unknown: Probability = F(0.002, "Daily probability that a listed agent "
                                                "who does not know why files an appeal.",
                                                "per day")
    review_delay_days: int = F(15, "Days from filing to decision.", "days",
                                "calibration.md §2 (court decides within 15 days)", ge=0, le=3650)
    success_if_wrong: Probability = F(0.7, "Probability an appeal succeeds when the record is "
                                      "wrong (misattributed acts).", "probability")
    success_if_right: Probability = F(0.05, "Probability an appeal succeeds when the record is "
                                      "right.", "probability")


class EvidenceReview(Model):
    """Review of identity matches before they count, which can reverse misattributed acts."""

    enabled: bool = F(False, "Whether identity matches are reviewed before they count.")
    reversal_probability: Probability = F(0.5, "Probability that a misattributed act is caught "
                                          "and reversed.", "probability")


class Expiry(Model):
    """Expiry of blacklist entries after a fixed time."""

    enabled: bool = F(False, "Whether blacklist entries expire.")
    days: int = F(365, "Days after which a blacklist entry expires and the score is restored to "
                  "the exit threshold.", "days", "calibration.md §2 (NDRC 2023: ≤ 3 years)",
                  ge=1, le=100_000)


class CreditRepair(Model):
    """Credit-repair acts by which listed agents win back points."""

    enabled: bool = F(False, "Whether listed agents can do credit-repair acts.")
    rate: Rate = F(0.02, "Daily probability a listed agent does a credit-repair act.", "per day")
    points: float = F(10.0, "Points restored per credit-repair act.", "points", ge=0, le=1e4)


class Governance(Model):
    """Due process: published or secret rules, appeals, evidence review, expiry, credit repair."""

    transparency: Transparency = F(Transparency.secret, "Secret rules (agents learn deterrence "
                                   "only by rumour and rarely know why they are listed) or "
                                   "published rules.", source="seeds: rules are secret")
    appeals: Appeals = Appeals()
    evidence_review: EvidenceReview = EvidenceReview()
    expiry: Expiry = Expiry()
    credit_repair: CreditRepair = CreditRepair()


# --------------------------------------------------------------------------- responses


class Deterrence(Model):
    """How penalised acts are deterred: while an agent is listed, and when it knows the rules."""

    listed_multiplier: Multiplier = F(0.5, "Rate multiplier on penalised acts while the agent is "
                                      "listed.", None, "rm1.md (d = 0.5)")
    known_rules_multiplier: Multiplier = F(0.8, "Rate multiplier on penalised acts for agents "
                                           "who know the rules.")
    awareness_secret: Probability = F(0.11, "Share of agents who know the rules when they are "
                                      "secret.", "fraction",
                                      "calibration.md §1 (11% knew of their local pilot)")
    awareness_published: Probability = F(0.9, "Share of agents who know the rules when they are "
                                         "published.", "fraction")


class Chilling(Model):
    """The chilling effect: how perceived risk suppresses one speech act."""

    behaviour: str = F("criticism", "The speech act that surveillance chills.")
    strength: float = F(1.0, "How strongly perceived risk suppresses speech: rate / (1 + "
                        "strength × risk).", None, "calibration.md §11 (20–30% falls)",
                        ge=0, le=1e3)
    surveillance_weight: float = F(2.0, "Weight of perceived monitoring (detection × penalty "
                                   "/ 100) in the risk.", None, ge=0, le=1e3)
    tie_weight: float = F(1.0, "Weight of the share of one's ties that are listed.", None,
                          ge=0, le=1e3)
    self_weight: float = F(1.0, "Weight of being listed oneself.", None, ge=0, le=1e3)


class Responses(Model):
    """How agents respond to the system: deterrence and chilled speech."""

    deterrence: Deterrence = Deterrence()
    chilling: Chilling = Chilling()


# --------------------------------------------------------------------------- output


class EventLog(Model):
    """The event log (events.parquet) read by `scslab explain`: whose events are kept."""

    enabled: bool = F(True, "Write an event log (events.parquet) for `scslab explain`.")
    full_below: int = F(250_000, "Log every agent's events when the population is at most this.",
                        "agents", ge=0, le=2_000_000_000)
    sample_agents: int = F(100_000, "Otherwise log the events of about this many agents "
                           "(a hash-based sample).", "agents", ge=0, le=2_000_000_000)


class Output(Model):
    """What a run writes besides its daily table: the event log and checkpoints."""

    event_log: EventLog = EventLog()
    checkpoint_every: int = F(0, "Save a checkpoint every K days (0: never).", "days",
                              ge=0, le=100_000)


# --------------------------------------------------------------------------- scenario


class PublishedTarget(Model):
    """A published figure the scenario should reproduce (checked after every run)."""

    target: str = F(..., "COLUMN[:AGG][+OFFSET][@DATE or DAY]=VALUE, e.g. "
                    "listed_court@2018-12-31=13.0e6 (see `scslab calibrate`).",
                    pattern=r"^[a-z0-9_]+(:[a-z]+)?(\+[0-9.eE+-]+)?(@[0-9-]+)?=.+$",
                    max_length=200)
    source: str = F("", "Where the figure was published.", max_length=500)


DEFAULT_BEHAVIOURS: dict[str, Behaviour] = {
    "community_service": Behaviour(rate=0.004, disposition_exponent=-1.0,
                                   age=AgeFactors(child=0.3, adult=1, elderly=1.2)),
    "buying_domestic": Behaviour(rate=0.02, disposition_exponent=0.0,
                                 age=AgeFactors(child=0, adult=1, elderly=0.8)),
    "paying_debts": Behaviour(rate=0.01, disposition_exponent=-1.0,
                              age=AgeFactors(child=0, adult=1, elderly=0.8)),
    "fraud": Behaviour(rate=0.0002, age=AgeFactors(child=0, adult=1, elderly=0.5)),
    "tax_evasion": Behaviour(rate=0.0002, age=AgeFactors(child=0, adult=1, elderly=0.3)),
    "smoking": Behaviour(rate=0.004, age=AgeFactors(child=0.05, adult=1, elderly=0.8)),
    "traffic_violation": Behaviour(rate=0.003, age=AgeFactors(child=0, adult=1, elderly=0.5)),
    "criticism": Behaviour(rate=0.002, disposition_exponent=0.5,
                           age=AgeFactors(child=0.1, adult=1, elderly=0.7)),
    "court_default": Behaviour(rate=0.00002, age=AgeFactors(child=0, adult=1, elderly=0.5)),
}


class Scenario(Model):
    """A complete, validated description of one run."""

    schema_version: int = F(SCHEMA_VERSION, "Version of the scenario format.", ge=1, le=1)
    name: str = F("custom", "Short name of the scenario.", max_length=64)
    description: str = F("", "What this scenario represents.", max_length=4000)
    days: int = F(365, "Number of simulated days.", "days", ge=1, le=30_000)
    seed: int = F(20180101, "Seed of all random streams.", None, ge=0, le=2**63 - 1)
    start_date: str | None = F(None, "Calendar date of day 1 (YYYY-MM-DD), optional.",
                               pattern=r"^\d{4}-\d{2}-\d{2}$")
    population: Population = Population()
    behaviours: dict[str, Behaviour] = F(DEFAULT_BEHAVIOURS, "Acts agents do, by name.",
                                         min_length=1, max_length=64)
    sensors: Sensors = Sensors()
    policy: Policy = Policy()
    governance: Governance = Governance()
    responses: Responses = Responses()
    output: Output = Output()
    data_flows: list[DataFlow] = F([], "Cross-border data flows from sites abroad (see "
                                   "`scslab audit`).", max_length=1000)
    targets: list[PublishedTarget] = F([], "Published figures this scenario should reproduce; "
                                       "every run reports them beside its results.",
                                       max_length=100)

    @field_validator("behaviours")
    @classmethod
    def _behaviour_names(cls, v: dict[str, Behaviour]) -> dict[str, Behaviour]:
        import re

        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"behaviour name {name!r} must be lowercase snake_case")
        return v

    @model_validator(mode="after")
    def _cross_refs(self) -> Scenario:
        check_references(self)
        return self
