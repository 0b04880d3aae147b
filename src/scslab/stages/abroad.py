"""Abroad: observations from sites abroad feed the home system's records.

Each cross-border data flow (``scenario.data_flows``, see ``scslab.scenario.flows``)
gets a synthetic population of *foreign residents*: the people near the site
abroad whose faces, devices or documents the site's sensors can capture. Nobody
real is modelled; the numbers come from the flow's declared expectations.

One day, for each flow:

1. **Visits.** Each resident visits the site with probability
   ``daily_visitors / foreign_resident_population`` (at most 1), independently
   from day to day, so regulars and one-off visitors mix as they would.
2. **Capture.** Each identification channel the site captures — faces (video is
   read for faces), documents, device identifiers; audio identifies no one —
   captures a visitor with its own probability
   (:func:`channel_capture_probabilities`, assumptions below), independently.
   A visit is captured when some channel captures it.
3. **Identification** against the home gallery, with the error model of the capture
   type (:func:`foreign_false_match_rate`): faces with the home cameras'
   ``false_match_rate × group_multipliers["foreign"]`` (×1 without a ``foreign``
   group); device identifiers with the home phone scanners' (which identify people by
   their devices); documents with :data:`DOCUMENT_FALSE_MATCH_RATE`; any of them set
   per flow in ``at_home.false_match_rates``. Each captured channel is either a
   **false match** (a record on someone at home who was never there) or a correct
   reading, which identifies the visitor when the visitor is in the gallery: persons
   of interest (``site.visitors.persons_of_interest_share``), residents with ties at
   home (``home_tie_share``, default :data:`HOME_TIE_SHARE`) and anyone captured on
   an earlier visit (the destination keeps the data; ``retention_days`` is not
   simulated: the worst case). Like the home model, no false non-matches.
4. **Records.** A resident's first identification opens a record (a dossier) at the
   destination. A resident with a home tie who gets a record is linked to that tie.
5. **Effect at home.** A false match, or a tie, is one of the real people the home
   population stands for; it is one of the *simulated* home agents with probability
   ``represents`` (:func:`represents_probability`: ``at_home.represents``, else
   ``agents / at_home.gallery_people``, else ``agents / population.represents``,
   else 1). A false match that lands is recorded on a home agent chosen like a home
   camera's false match (``sensing.pick_target``: a look-alike of the foreign group
   with the cameras' ``same_group_preference``, of the sex and age class a face is
   classified as — documents and device identifiers carry no look), as an act
   ``at_home.records_as`` (default criticism) worth the rule's points in the target's
   region (or ``at_home.points``), on the **recorded ledger only**: the twin and
   own-conduct ledgers have no identity errors. It counts as a misattributed act
   (``misattributed_events``, ``misattributed__<group>``) unless evidence review
   reverses it (``reversed_events``), so wrongful listing and its sanctions follow.

Flows with dates (``started``/``ended``) are active only on those calendar days
when the scenario has a ``start_date``; otherwise every day. A flow whose
destination is in the site's own country (``DataFlow.cross_border`` false, e.g.
footage kept in British Columbia) sends nothing home: it is never active and its
columns stay 0.

Population size and memory. A flow keeps one status byte per simulated
resident. A population above :data:`MAX_DENSE_RESIDENTS` (2**26 ≈ 67 M,
64 MiB) is simulated as a sample of that size, each simulated resident
visiting with the real probability ``daily_visitors / population``: the
columns then count the sample (a fraction ``sample / population`` of the
people, stated in the column descriptions and by :meth:`AbroadStage.scale`),
like the home columns count the home sample. A population of 0 ("unknown,
every visit counted as a new person") needs no memory: each day brings
``daily_visitors`` (stochastically rounded) residents never seen before. The
stage also keeps one byte per home agent for the marks. The home population is
itself a sample: a false match or a tie lands on a simulated home agent only with
probability ``represents`` (step 5), so the share of home agents marked
(``abroad_home_agents_*``) is the share of the people they stand for, while
``abroad_false_matches`` counts every false match of the flow.

Randomness is counter-based (``rng``): the visits of a day are drawn by
skipping ahead geometrically inside fixed chunks of residents (cost grows with
the visitors, not the population), and every other draw is a hash of
``(seed, "abroad:<flow>", day, resident)``. Chunks never depend on the number
of threads and events are applied in chunk order, so results are identical
whatever the threads.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scslab.errors import ScslabError
from scslab.params import Params
from scslab.population import World
from scslab.rng import day_key, stream_key, uniforms
from scslab.scenario.flows import LINKED_CAPTURES, DataFlow, Site
from scslab.scenario.schema import Scenario
from scslab.stages.abroad_kernels import (
    C_CAPTURED,
    C_EVENTS,
    C_FALSE,
    C_HOME_FALSE,
    C_IDENTIFIED,
    C_N,
    C_POI_NEW,
    C_REC_NEW,
    C_TIES_NEW,
    C_VISITORS,
    CHUNK,
    H_LINKED,
    H_MISRECORDED,
    abroad_kernel,
    abroad_kernel_serial,
    apply_home_events,
    init_status,
)
from scslab.stages.common import Context, Day, StageSpec
from scslab.stages.metrics import C_MIS, C_REV, O_MIS_G, Metric

__all__ = [
    "CAPTURE_PER_SENSOR",
    "DOCUMENT_FALSE_MATCH_RATE",
    "HOME_TIE_SHARE",
    "MAX_DENSE_RESIDENTS",
    "AbroadStage",
    "abroad_metrics",
    "capture_probability",
    "captures_phrase",
    "channel_capture_probabilities",
    "foreign_false_match_rate",
    "represents_probability",
]

#: Most residents a flow simulates one by one (1 status byte each): 64 MiB.
MAX_DENSE_RESIDENTS = 1 << 26
#: Days with fewer expected visitors than this run on one thread (same results).
SERIAL_BELOW = 20_000
#: Assumption: share of foreign residents with family or business ties in the home
#: country whose identity the home system already holds (so they are in its gallery).
HOME_TIE_SHARE = 0.1

#: Assumption: probability that one sensor yields an identifying capture of a visitor,
#: by sensor kind and what it captures. Cameras: one given "per" a unit (two per table)
#: watch the visitor for the whole stay, so nearly every face is usable (0.9 each, two
#: per table give 0.99); cameras given as a total watch passages (0.3 each); faces are
#: read off video at the destination, so "video" counts as "faces". Network servers see
#: the devices that join the site's network (0.8: staff and guests on Wi-Fi) and the
#: documents with a name on them (0.5); several servers mirror the same traffic, so
#: their count does not add. A phone scanner reads nearly every phone in range (0.9).
#: Audio is not used for identification.
CAPTURE_PER_SENSOR: dict[str, dict[str, float]] = {
    "camera": {"faces": 0.3, "video": 0.3},
    "camera_per_unit": {"faces": 0.9, "video": 0.9},
    "network_server": {"device_ids": 0.8, "documents": 0.5, "faces": 0.3, "video": 0.3},
    "phone_scanner": {"device_ids": 0.9},
}
#: Captures that are one channel for identification: faces are read off the video.
_CHANNEL = {"video": "faces"}
#: Assumption: probability that a document captured abroad (a file, an e-mail, a scanned
#: page with a name on it) is linked to the wrong person at home. Documents carry names
#: and context, not a national identity number: linkage on names alone mismatches common
#: names. Ten times the home records' linkage error (financial and tax records, 1e-4,
#: which carry identity numbers); an order of magnitude, not a measurement.
DOCUMENT_FALSE_MATCH_RATE = 0.001

#: Per-flow metrics: (name, description, unit, kind).
FLOW_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("visitors", "Foreign residents who visited the site today", "persons", "flow"),
    ("captured", "Visitors whose CAPS the site's sensors captured today", "persons", "flow"),
    ("identified", "Captures truly identified against the home gallery today (persons of "
     "interest, people with home ties, people captured before)", "persons", "flow"),
    ("false_matches", "CAPS captured abroad matched to the wrong person at home today (each "
     "a record on someone who was never there; counted for the people the home population "
     "stands for)", "records", "flow"),
    ("false_matches_home", "False matches today that landed on a simulated home agent (a "
     "share at_home.represents of false_matches, the agents' share of the home gallery)",
     "records", "flow"),
    ("misattributed_home", "False matches today recorded on a home agent's recorded ledger "
     "as an act of at_home.records_as (not reversed by evidence review); included in "
     "misattributed_events", "acts", "flow"),
    ("recorded_new", "Foreign residents who got a record (first identification) today",
     "persons", "flow"),
    ("recorded_total", "Foreign residents with a record", "persons", "stock"),
    ("persons_of_interest_recorded", "Persons of interest with a record", "persons", "stock"),
    ("home_ties_linked", "Recorded foreign residents linked to their tie at home (one home "
     "agent each)", "links", "stock"),
)
#: Metrics of the whole stage only (distinct home agents, all flows together).
HOME_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("home_agents_linked", "Home agents linked to an identified foreign resident (their tie "
     "abroad), all flows", "agents", "stock"),
    ("home_agents_misrecorded", "Home agents with at least one record from a false match "
     "abroad, all flows", "agents", "stock"),
)


def channel_capture_probabilities(site: Site) -> dict[str, float]:
    """Per identification channel, the probability that one visit is captured on it.

    Channels: faces, documents, device_ids, by at least one sensor group. Per group: ``1 − (1 − p)^count`` with ``p`` from :data:`CAPTURE_PER_SENSOR`
    (network servers do not compound); groups are independent. Channels a site
    does not capture are absent.
    """
    miss: dict[str, float] = {}
    for s in site.sensors:
        kind = "camera_per_unit" if s.kind == "camera" and s.per is not None else s.kind
        table = CAPTURE_PER_SENSOR.get(kind, {})
        for c in sorted({_CHANNEL.get(c, c) for c in s.captures}):
            p = table.get(c, 0.0)
            if c not in LINKED_CAPTURES or p <= 0.0:
                continue
            one_miss = 1.0 - p
            m = (one_miss if s.count > 0 else 1.0) if s.kind == "network_server" \
                else one_miss ** s.count
            miss[c] = miss.get(c, 1.0) * m
    return {c: min(1.0, max(0.0, 1.0 - m)) for c, m in miss.items() if m < 1.0}


def capture_probability(site: Site) -> float:
    """Probability that one visit to ``site`` is captured by at least one sensor group.

    Each group of identical sensors captures with ``1 − Π_c (1 − p_c)`` over the
    channels it captures (per sensor, :data:`CAPTURE_PER_SENSOR`; video and faces
    are one channel), compounded over its sensors (``count`` per unit for cameras
    given ``per`` a unit, else the total; network servers do not compound).
    Groups are independent.

    Args:
        site: The site.

    Returns:
        The capture probability, 0–1.
    """
    miss = 1.0
    for s in site.sensors:
        kind = "camera_per_unit" if s.kind == "camera" and s.per is not None else s.kind
        table = CAPTURE_PER_SENSOR.get(kind, {})
        channels = {_CHANNEL.get(c, c) for c in s.captures}
        one_miss = math.prod(1.0 - table.get(c, 0.0) for c in sorted(channels))
        if s.kind == "network_server":
            miss *= one_miss if s.count > 0 else 1.0
        else:
            miss *= one_miss ** s.count
    return min(1.0, max(0.0, 1.0 - miss))


def foreign_false_match_rate(scenario: Scenario, capture: str = "faces",
                             flow: DataFlow | None = None) -> float:
    """The false-match rate of one capture abroad, by what is captured.

    Faces: the home cameras' ``false_match_rate`` × their ``group_multipliers
    ["foreign"]`` (×1 without a ``foreign`` group). Device identifiers: the home
    phone scanners' rate × their foreign multiplier (they identify people by their
    devices at home; shared and second-hand devices are their errors). Documents:
    :data:`DOCUMENT_FALSE_MATCH_RATE`. A flow's ``at_home.false_match_rates``
    overrides any of them. Capped at 1.
    """
    if flow is not None and capture in flow.at_home.false_match_rates:
        return float(flow.at_home.false_match_rates[capture])
    if capture == "documents":
        return DOCUMENT_FALSE_MATCH_RATE
    sensor = scenario.sensors.cameras if capture == "faces" else scenario.sensors.phone_scanners
    groups = {g.name for g in scenario.population.groups}
    mult = sensor.group_multipliers.get("foreign", 1.0) if "foreign" in groups else 1.0
    return min(1.0, sensor.false_match_rate * mult)


def represents_probability(scenario: Scenario, flow: DataFlow) -> float:
    """Probability that a false match of ``flow`` lands on a simulated home agent.

    ``at_home.represents`` when set; else ``population.agents / gallery`` with the
    gallery ``at_home.gallery_people``, else ``population.represents``, else the agents
    themselves (probability 1), capped at 1.
    """
    ah = flow.at_home
    if ah.represents is not None:
        return float(ah.represents)
    agents = scenario.population.agents
    gallery = ah.gallery_people or scenario.population.represents or agents
    return min(1.0, agents / gallery)


#: What each capture type is called in labels: (the records, a verb phrase).
CAPTURE_WORDS: dict[str, str] = {"faces": "faces", "documents": "documents",
                                 "device_ids": "device identifiers"}


def captures_phrase(flow: DataFlow) -> str:
    """The flow's identifying captures in words ("faces", "documents or device identifiers")."""
    return _phrase_of(flow.captures)


# --------------------------------------------------------------------------- the stage


@dataclass
class _FlowSim:
    """One flow's simulated residents and running totals."""

    flow: DataFlow
    population: int  # declared foreign_resident_population (0: unknown)
    dense: bool  # residents simulated one by one (else: every visitor new)
    n_sim: int  # simulated residents (dense mode)
    p_visit: float
    p_capture: float
    poi_share: float
    stream: str
    skey: np.uint64
    status: np.ndarray
    first_day: int | None  # first active day (None: from day 1)
    last_day: int | None  # last active day (None: no end)
    ch_p: np.ndarray  # capture probability per channel (faces, documents, device_ids)
    ch_fmr: np.ndarray  # false-match rate per channel
    ch_face: np.ndarray  # 1 for the faces channel (classified like a home camera)
    represents: float  # probability a false match lands on a simulated home agent
    b: int  # the home behaviour a false match is recorded as
    fixed: float  # at_home.points (when use_fixed)
    use_fixed: bool
    next_id: int = 0  # next new resident (every-visit-new mode)
    stocks: dict[str, int] = field(default_factory=lambda: {
        "recorded_total": 0, "persons_of_interest_recorded": 0, "home_ties_linked": 0})

    @property
    def scale(self) -> float:
        """Real residents per simulated one (1 unless the population was sampled)."""
        return self.population / self.n_sim if self.dense and self.n_sim else 1.0


class AbroadStage:
    """The simulation effect of cross-border data flows (see the module docstring)."""

    def __init__(self, scenario: Scenario, world: World, params: Params, *,
                 home_tie_share: float = HOME_TIE_SHARE) -> None:
        """Set up one synthetic foreign population per flow.

        Args:
            scenario: The scenario (its ``data_flows``, seed, start date, sensors).
            world: The home population (false matches and ties land on its agents).
            params: The compiled parameters (behaviour names and points per region).
            home_tie_share: Share of foreign residents with a tie at home (assumption).
        """
        if not 0.0 <= home_tie_share <= 1.0:
            raise ValueError(f"home_tie_share must be in 0..1, got {home_tie_share}")
        names = [f.name for f in scenario.data_flows]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ScslabError(f"data_flows: flow names must be unique, {dup[0]!r} repeats")
        self.seed = scenario.seed
        self.scenario = scenario
        self.n_home = world.n
        self.params = params
        self.fmr = foreign_false_match_rate(scenario)
        self.tie_share = float(home_tie_share)
        self.marks = np.zeros(world.n, np.uint8)
        self.attr = getattr(world, "attr", None)
        if self.attr is None:
            self.attr = np.zeros(world.n, np.uint8)
        region = getattr(world, "region", None)
        self.region: np.ndarray = region if region is not None else np.zeros(world.n, np.uint8)
        gnames = [g.name for g in scenario.population.groups]
        cams = scenario.sensors.cameras
        cls = cams.classification
        self.pick = np.array([gnames.index("foreign") if "foreign" in gnames else -1,
                              cams.same_group_preference, float(cls.enabled),
                              cls.sex_accuracy, cls.age_accuracy,
                              scenario.population.female_share], np.float64)
        self.n_groups = len(gnames)
        self.behaviours = list(scenario.behaviours)
        ev = scenario.governance.evidence_review
        self.review_p = float(ev.reversal_probability) if ev.enabled else 0.0
        lists = scenario.policy.lists
        self.court_b = (self.behaviours.index(lists.court.trigger)
                        if lists.court.enabled and lists.court.trigger in self.behaviours
                        else -1)
        self.home_stocks = {"home_agents_linked": 0, "home_agents_misrecorded": 0}
        self.counters: dict[str, int] = {"misattributed": 0, "reversed": 0}
        self.mis_by_group = np.zeros(self.n_groups, np.int64)
        start = dt.date.fromisoformat(scenario.start_date) if scenario.start_date else None
        self.flows = [self._setup(f, start) for f in scenario.data_flows]
        self._points_cache: dict[int, np.ndarray] = {}

    def _setup(self, flow: DataFlow, start: dt.date | None) -> _FlowSim:
        vis = flow.site.visitors
        stream = f"abroad:{flow.name}"
        skey = stream_key(self.seed, stream)
        pop = vis.foreign_resident_population
        dense = pop > 0
        n_sim = min(pop, MAX_DENSE_RESIDENTS) if dense else 0
        status = np.zeros(max(n_sim, 1), np.uint8)
        if dense:
            init_status(skey, vis.persons_of_interest_share, self.tie_share, status)
        first = last = None
        if start is not None:
            if flow.started is not None:
                first = (flow.started - start).days + 1
            if flow.ended is not None:
                last = (flow.ended - start).days + 1
        chans = channel_capture_probabilities(flow.site)
        order = [c for c in LINKED_CAPTURES if c in chans]
        ch_p = np.array([chans[c] for c in order] or [0.0], np.float64)
        ch_fmr = np.array([foreign_false_match_rate(self.scenario, c, flow) for c in order]
                          or [0.0], np.float64)
        ch_face = np.array([1 if c == "faces" else 0 for c in order] or [0], np.int64)
        ah = flow.at_home
        records_as = ah.records_as
        if records_as is None and "criticism" in self.behaviours:
            records_as = "criticism"
        if records_as is not None and records_as not in self.behaviours:
            raise ScslabError(f"data_flows[{flow.name}].at_home.records_as: unknown behaviour "
                              f"{records_as!r} (valid: {', '.join(self.behaviours)})")
        no_act = records_as is None  # a record with no points
        return _FlowSim(
            flow=flow, population=pop, dense=dense, n_sim=n_sim,
            p_visit=min(1.0, vis.daily_visitors / pop) if dense else 0.0,
            p_capture=capture_probability(flow.site), poi_share=vis.persons_of_interest_share,
            stream=stream, skey=skey, status=status, first_day=first, last_day=last,
            ch_p=ch_p, ch_fmr=ch_fmr, ch_face=ch_face,
            represents=represents_probability(self.scenario, flow),
            b=-1 if records_as is None else self.behaviours.index(records_as),
            fixed=float(ah.points or 0.0), use_fixed=no_act or ah.points is not None)

    # ------------------------------------------------------------------ queries

    def scale(self, flow_name: str) -> float:
        """Real foreign residents per simulated one for a flow (1 unless sampled)."""
        for f in self.flows:
            if f.flow.name == flow_name:
                return f.scale
        raise KeyError(flow_name)

    def linked_home_agents(self) -> np.ndarray:
        """Boolean mask of home agents linked to an identified resident abroad."""
        return (self.marks & H_LINKED) != 0

    def misrecorded_home_agents(self) -> np.ndarray:
        """Boolean mask of home agents with a record from a false match abroad."""
        return (self.marks & H_MISRECORDED) != 0

    def nbytes(self) -> int:
        """Memory held by the stage's arrays."""
        return self.marks.nbytes + sum(f.status.nbytes for f in self.flows)

    # ------------------------------------------------------------------ one day

    def _points(self, b: int) -> np.ndarray:
        """Points of behaviour ``b`` per home region (float64), from the compiled tables."""
        got = self._points_cache.get(b)
        if got is None:
            pts = getattr(self.params, "points", None)
            got = (np.asarray(pts[:, b], np.float64) if pts is not None and b >= 0
                   else np.zeros(int(self.region.max(initial=0)) + 1, np.float64))
            self._points_cache[b] = got
        return got

    def take_home_counters(self) -> tuple[int, int, np.ndarray]:
        """Today's false matches recorded at home (misattributed, reversed, per group); resets."""
        out = (self.counters["misattributed"], self.counters["reversed"],
               self.mis_by_group.copy())
        self.counters = {"misattributed": 0, "reversed": 0}
        self.mis_by_group[:] = 0
        return out

    def _active(self, f: _FlowSim, day: int) -> bool:
        if not f.flow.cross_border:  # the data stays in the site's country: nothing goes home
            return False
        return ((f.first_day is None or day >= f.first_day)
                and (f.last_day is None or day <= f.last_day))

    def _new_visitors(self, f: _FlowSim, day: int) -> int:
        """Visitors today when every visit is a new person: stochastic rounding."""
        v = f.flow.site.visitors.daily_visitors
        u = float(uniforms(day_key(self.seed, f"{f.stream}:count", day), 1, 0)[0])
        base = math.floor(v)
        return int(base + (1 if u < v - base else 0))

    def _flow_day(self, f: _FlowSim, day: int, state) -> dict[str, int]:
        """Simulate one flow's day; returns its flow counts (stocks updated in place)."""
        out = dict.fromkeys(("visitors", "captured", "identified", "false_matches",
                             "false_matches_home", "misattributed_home", "recorded_new"), 0)
        if not self._active(f, day):
            return out
        if f.dense:
            if f.p_visit <= 0.0:
                return out
            n_ids, first = f.n_sim, 0
        else:
            n_ids, first = self._new_visitors(f, day), f.next_id
            f.next_id += n_ids
            if n_ids == 0:
                return out
        n_chunks = (n_ids + CHUNK - 1) // CHUNK
        counts = np.zeros((n_chunks, C_N), np.int64)
        ev_off = np.zeros(n_chunks, np.int64)
        log_q = math.log1p(-f.p_visit) if f.p_visit < 1.0 else -math.inf
        vkey = day_key(self.seed, f"{f.stream}:visits", day)
        dkey = day_key(self.seed, f.stream, day)
        n_ch = len(f.ch_p) if f.ch_p[0] > 0 or len(f.ch_p) > 1 else 0
        args = (f.dense, n_chunks, first, n_ids, f.p_visit, log_q, vkey, dkey, f.skey,
                f.poi_share, self.tie_share, n_ch, f.ch_p, f.ch_fmr, f.ch_face, f.represents,
                self.n_home, self.attr, self.pick, f.status, counts)
        expected = f.p_visit * n_ids if f.dense else n_ids
        kernel = abroad_kernel if expected > SERIAL_BELOW else abroad_kernel_serial
        empty_t, empty_k = np.zeros(1, np.int64), np.zeros(1, np.uint8)
        kernel(0, *args, ev_off, empty_t, empty_k)
        n_ev = int(counts[:, C_EVENTS].sum())
        if n_ev:
            ev_off[1:] = np.cumsum(counts[:-1, C_EVENTS])
            ev_t, ev_k = np.zeros(n_ev, np.int64), np.zeros(n_ev, np.uint8)
            kernel(1, *args, ev_off, ev_t, ev_k)
            res = np.zeros(3 + self.n_groups, np.int64)
            flags = getattr(state, "flags", None)
            if flags is None:
                flags = np.zeros(self.n_home, np.uint8)
            apply_home_events(ev_t, ev_k, n_ev, self.marks, state.delta_rec, flags,
                              self.region, self.attr, self._points(f.b), f.fixed, f.use_fixed,
                              f.b == self.court_b, self.review_p,
                              day_key(self.seed, f"{f.stream}:review", day), res)
            self.home_stocks["home_agents_linked"] += int(res[0])
            self.home_stocks["home_agents_misrecorded"] += int(res[1])
            mis = int(res[3:].sum())
            out["misattributed_home"] = mis
            self.counters["misattributed"] += mis
            self.counters["reversed"] += int(res[2])
            self.mis_by_group += res[3:]
        tot = counts.sum(axis=0)
        out["visitors"] = int(tot[C_VISITORS])
        out["captured"] = int(tot[C_CAPTURED])
        out["identified"] = int(tot[C_IDENTIFIED])
        out["false_matches"] = int(tot[C_FALSE])
        out["false_matches_home"] = int(tot[C_HOME_FALSE])
        out["recorded_new"] = int(tot[C_REC_NEW])
        f.stocks["recorded_total"] += int(tot[C_REC_NEW])
        f.stocks["persons_of_interest_recorded"] += int(tot[C_POI_NEW])
        f.stocks["home_ties_linked"] += int(tot[C_TIES_NEW])
        return out

    def step(self, day: int, state) -> dict[str, int | float]:
        """Simulate day ``day`` for every flow; returns the day's ``abroad_*`` columns.

        Call it after the day's acts are credited and before scoring: false matches
        that land at home add to ``state.delta_rec`` (and court orders to
        ``state.flags``); :meth:`take_home_counters` hands their counts to the metrics.
        """
        per_flow: list[tuple[str, dict[str, int]]] = []
        for f in self.flows:
            row = self._flow_day(f, day, state)
            row.update(f.stocks)
            per_flow.append((f.flow.name, row))
        out: dict[str, int | float] = {}
        for name, *_ in FLOW_METRICS:
            out[f"abroad_{name}"] = sum(r[name] for _, r in per_flow)
        for name, *_ in HOME_METRICS:
            out[f"abroad_{name}"] = self.home_stocks[name]
        for flow_name, r in per_flow:
            for name, *_ in FLOW_METRICS:
                out[f"abroad_{name}__{flow_name}"] = r[name]
        return out

    def columns(self) -> list[Metric]:
        """The registry entries of the columns :meth:`step` returns, in the same order."""
        return abroad_metrics([f.flow for f in self.flows])


def abroad_metrics(flows: Sequence[DataFlow]) -> list[Metric]:
    """The ``abroad_*`` daily columns of a scenario's flows (none without flows).

    Needs no simulation: usable by reports and docs on a scenario alone.

    Args:
        flows: The scenario's ``data_flows``.

    Returns:
        Totals first, then each flow's columns, in :meth:`AbroadStage.step` order.
    """
    if not flows:
        return []
    every = sorted({c for f in flows for c in f.captures})
    all_caps = _phrase_of(every)
    out = [Metric(f"abroad_{name}", f"{_caps(desc, all_caps)}, all data flows.", unit, kind,
                  False) for name, desc, unit, kind in FLOW_METRICS]
    out += [Metric(f"abroad_{name}", f"{desc}.", unit, kind, False)
            for name, desc, unit, kind in HOME_METRICS]
    for flow in flows:
        pop = flow.site.visitors.foreign_resident_population
        n_sim = min(pop, MAX_DENSE_RESIDENTS)
        note = ""
        if pop > n_sim:
            note = (f" (a sample of {n_sim:,} of the {pop:,} residents: multiply by "
                    f"{pop / n_sim:.4g} for all of them)")
        caps = captures_phrase(flow)
        for name, desc, unit, kind in FLOW_METRICS:
            out.append(Metric(f"abroad_{name}__{flow.name}",
                              f"{_caps(desc, caps)}, flow {flow.name}{note}.", unit, kind, False))
    return out


def _phrase_of(captures: Sequence[str]) -> str:
    chans = [c for c in LINKED_CAPTURES if c in {_CHANNEL.get(x, x) for x in captures}]
    words = [CAPTURE_WORDS[c] for c in chans] or ["captures"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _caps(desc: str, caps: str) -> str:
    """A description with CAPS replaced by what is captured (capitalised at the start)."""
    if desc.startswith("CAPS"):
        return caps[:1].upper() + caps[1:] + desc[4:]
    return desc.replace("CAPS", caps)


def setup(ctx: Context, scenario: Scenario) -> None:
    """Build the stage (``ctx.abroad``) when the scenario has data flows."""
    if scenario.data_flows:
        ctx.abroad = AbroadStage(scenario, ctx.world, ctx.params)


def observe(ctx: Context, d: Day) -> None:
    """Simulate the day abroad (the ``abroad`` call of the day).

    Simulate the day abroad (the ``abroad`` call of the day; nothing without data
    flows); its columns go after the metrics' own in the day's row.
    """
    if ctx.abroad is not None:
        row = ctx.abroad.step(d.day, ctx.state)
        if row:
            ctx.columns.update(row)
        # false matches recorded at home count as home misattributions (and reversals)
        mis, rev, by_group = ctx.abroad.take_home_counters()
        if mis or rev:
            cnt, off = ctx.work.cnt, ctx.work.off
            cnt[0, C_MIS] += mis
            cnt[0, C_REV] += rev
            cnt[0, off[O_MIS_G]:off[O_MIS_G] + by_group.size] += by_group


SPEC = StageSpec(
    name="abroad",
    doc="Sites abroad capture foreign residents; false matches land on home agents.",
    streams=("abroad:<flow>", "abroad:<flow>:visits", "abroad:<flow>:count",
             "abroad:<flow>:review"),
    kernels=(abroad_kernel, abroad_kernel_serial, apply_home_events),
    counters=("C_MIS", "C_REV", "O_MIS_G"),
    setup=setup,
)
