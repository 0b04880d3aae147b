"""The policy block of a scenario: scoring, lists, sanctions, rewards and spillover.

What the system does with what it records: the points each behaviour costs or earns,
the grades, the blacklist, court list and redlist with their thresholds, the sanctions
each list triggers, and the punishment that spreads to households, ties and employers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from scslab.scenario.fields import F, Model, Points, Probability, Rate

# --------------------------------------------------------------------------- policy


class Grade(Model):
    """A grade band: its name and its lowest score."""

    name: str = F(..., "Grade letter(s).", min_length=1, max_length=8)
    min_score: float = F(..., "Lowest score in this grade.", "points", ge=-1e6, le=1e6)


class Scoring(Model):
    """How a score moves: its base, its bounds, its daily decay and daily caps."""

    base: float = F(1000.0, "Score every agent starts with; decay pulls toward it.", "points",
                    "calibration.md §1 (Rongcheng, Suqian: 1,000)", ge=-1e6, le=1e6)
    minimum: float = F(0.0, "Lowest possible score.", "points", ge=-1e6, le=1e6)
    maximum: float = F(1300.0, "Highest possible score.", "points", ge=-1e6, le=1e6)
    decay: Probability = F(0.005, "Share of the distance to the base score recovered per day.",
                           "per day")
    max_daily_loss: float | None = F(None, "Cap on points lost from acts in one day "
                                     "(null: no cap).", "points", ge=0, le=1e6)
    max_daily_gain: float | None = F(None, "Cap on points gained from acts in one day "
                                     "(null: no cap).", "points", ge=0, le=1e6)

    @model_validator(mode="after")
    def _order(self) -> Scoring:
        if not self.minimum <= self.base <= self.maximum:
            raise ValueError("needs minimum <= base <= maximum")
        return self


class Blacklist(Model):
    """The score-based blacklist: entry and exit thresholds and a minimum stay."""

    enabled: bool = F(True, "Whether a low score puts agents on the blacklist.")
    enter_below: float = F(850.0, "A score below this puts the agent on the list.", "points",
                           ge=-1e6, le=1e6)
    exit_at_or_above: float = F(900.0, "A listed agent at or above this leaves the list "
                                "(hysteresis).", "points", ge=-1e6, le=1e6)
    min_days: int = F(0, "Minimum stay on the list.", "days", ge=0, le=10_000)

    @model_validator(mode="after")
    def _hyst(self) -> Blacklist:
        if self.exit_at_or_above < self.enter_below:
            raise ValueError("exit_at_or_above must be >= enter_below")
        return self


class CourtList(Model):
    """The court list of judgment debtors: a fixed term after a recorded court default."""

    enabled: bool = F(True, "Whether a recorded court default puts the agent on the list of "
                      "dishonest judgment debtors.")
    trigger: str = F("court_default", "Behaviour whose recorded act is a court listing order.")
    term_days: int = F(730, "Fixed term on the court list.", "days",
                       "calibration.md §2 (SPC 2017: default 2 years)", ge=1, le=10_000)
    fulfil_rate: Rate = F(0.0005, "Daily probability a court-listed agent fulfils the "
                          "obligation and is removed early.", "per day", "calibration.md §2")
    initial_share: Probability = F(0.0, "Share of adults already on the court list on day 1 "
                                   "(a stated initial state), with remaining terms spread "
                                   "uniformly over the term.", "fraction")


class Redlist(Model):
    """The redlist of agents with high scores, who may claim rewards."""

    enabled: bool = F(True, "Whether a high score puts the agent on the redlist (rewards).")
    min_score: float = F(1050.0, "Score at or above which an agent is redlisted.", "points",
                         "calibration.md §1 (Huantai AAA at 1,050)", ge=-1e6, le=1e6)


class Lists(Model):
    """The three lists: blacklist, court list and redlist."""

    blacklist: Blacklist = Blacklist()
    court: CourtList = CourtList()
    redlist: Redlist = Redlist()


ListName = Literal["blacklist", "court"]


class Sanction(Model):
    """One kind of denial (a flight, a mortgage …): how often it is sought, which lists bar it."""

    attempt_rate: Rate = F(0.001, "Probability per agent-day of attempting this.",
                           "per agent-day")
    lists: list[ListName] = F(["blacklist", "court"], "Lists whose members are denied.")
    attempted_by: Literal["adults", "children", "all"] = F(
        "adults", "Who attempts it: adults (18 and over, the elderly included), children, "
        "or all. A child's attempt is denied when the child is listed or, by household "
        "spillover, when a member of its household is. Replaces the deprecated "
        "`adults_only` (true: adults, false: all; on private_school it never acted).")


SANCTION_KINDS = ("flight", "train", "property", "mortgage", "social_service", "private_school")


class Sanctions(Model):
    """The sanctions listed agents meet when they attempt these things."""

    flight: Sanction = Sanction(attempt_rate=0.003)
    train: Sanction = Sanction(attempt_rate=0.01)
    property: Sanction = Sanction(attempt_rate=0.0002)
    mortgage: Sanction = Sanction(attempt_rate=0.0002)
    social_service: Sanction = Sanction(attempt_rate=0.002, lists=["blacklist"])
    private_school: Sanction = Sanction(attempt_rate=0.0005, attempted_by="children")

    def items(self) -> list[tuple[str, Sanction]]:
        """(name, sanction) in ``SANCTION_KINDS`` order, the index the kernels use."""
        return [(k, getattr(self, k)) for k in SANCTION_KINDS]


class Rewards(Model):
    """Rewards claimed by redlisted agents."""

    enabled: bool = F(True, "Whether redlisted agents receive rewards (discounts, waived "
                      "deposits).", source="calibration.md §1")
    rate: Rate = F(0.01, "Probability per redlisted agent-day of claiming a reward.",
                   "per agent-day")


class HouseholdSpillover(Model):
    """Spillover onto the household of a listed agent: a daily penalty and shared sanctions."""

    penalty: float = F(2.0, "Points lost per day by each member of a household where another "
                       "member is listed.", "points per day", ge=0, le=1e4)
    sanctions: list[str] = F(["private_school"], "Sanctions extended to household members of a "
                             "listed agent (children refused by private schools).",
                             source="calibration.md §3")


class TieSpillover(Model):
    """Spillover onto agents with a listed tie: a daily penalty."""

    penalty: float = F(0.5, "Points lost per day by an agent with at least one listed tie.",
                       "points per day", source="calibration.md §3 (Sesame: connections)",
                       ge=0, le=1e4)


class EmployerSpillover(Model):
    """Spillover through businesses: their scores, their representatives and their employees."""

    representative_listed_points: float = F(20.0, "Points a business loses per day while its "
                                            "legal representative is listed.", "points per day",
                                            ge=0, le=1e4)
    business_enter_below: float = F(800.0, "A business below this score is listed.", "points",
                                    ge=-1e6, le=1e6)
    business_exit_at_or_above: float = F(950.0, "A listed business at or above this is "
                                         "delisted.", "points", ge=-1e6, le=1e6)
    business_decay: Probability = F(0.01, "Daily recovery of a business score toward the base.",
                                    "per day")
    representative_sanctions: list[str] = F(
        ["flight", "train", "property", "mortgage", "private_school"],
        "Sanctions on the legal representative of a listed business.",
        source="calibration.md §2 (entity debtors' representatives)")
    employee_penalty: float = F(0.2, "Points lost per day by employees of a listed business.",
                                "points per day", ge=0, le=1e4)


class Spillover(Model):
    """Joint punishment: how a listing spreads to households, ties and employers."""

    enabled: bool = F(True, "Joint punishment: penalties spread to households, ties and "
                      "employers.")
    household: HouseholdSpillover = HouseholdSpillover()
    ties: TieSpillover = TieSpillover()
    employer: EmployerSpillover = EmployerSpillover()


class Policy(Model):
    """The rules: scoring, points per act, grades, lists, sanctions, rewards and spillover."""

    scoring: Scoring = Scoring()
    rules: dict[str, Points] = F(
        {"community_service": 5, "buying_domestic": 1, "paying_debts": 2, "fraud": -50,
         "tax_evasion": -40, "smoking": -10, "traffic_violation": -5, "criticism": -30,
         "court_default": -100},
        "Points per recorded act (behaviour → points).", "points per act",
        "calibration.md §1 (Rongcheng deduction table)")
    grades: list[Grade] = F(
        [Grade(name="AAA", min_score=1050), Grade(name="AA", min_score=1030),
         Grade(name="A", min_score=960), Grade(name="B", min_score=850),
         Grade(name="C", min_score=600), Grade(name="D", min_score=-1e6)],
        "Grade bands, highest first.", source="calibration.md §1 (Rongcheng A–D, AAA)",
        min_length=1, max_length=16)
    lists: Lists = Lists()
    sanctions: Sanctions = Sanctions()
    rewards: Rewards = Rewards()
    spillover: Spillover = Spillover()

    @field_validator("grades")
    @classmethod
    def _grades_sorted(cls, v: list[Grade]) -> list[Grade]:
        mins = [g.min_score for g in v]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("grades must be listed highest first with distinct min_score")
        return v
