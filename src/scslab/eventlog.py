"""The event log: a sparse audit trail per agent (never one row per agent-day).

All agents are logged in small runs; in large runs a fixed hash-based sample of
agents is (``output.event_log``). ``scslab explain`` reads it.

The kernels write small integer codes (``scslab.events``); ``events.parquet`` holds
them decoded into self-describing, dictionary-encoded strings (``decode_events``).
``KIND_DOCS``, ``COLUMN_DOCS`` and the value tables below are the one place that names
and explains every string: the README's "Event log columns" section is generated from
them (``scslab.describe.events``). Logs written before the strings (numeric ``kind``,
``code`` and ``sensor``) are decoded the same way when read (``scslab.results.read_events``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from numba import njit, prange

from scslab import events as E
from scslab.events import EventBuffer, Events
from scslab.rng import agent_hash, u_hi

if TYPE_CHECKING:
    from scslab.scenario.schema import Scenario

#: The table the kernels' events are collected in (numeric codes; checkpoint parts).
EVENT_SCHEMA = pa.schema([
    ("day", pa.int32()), ("agent", pa.int64()), ("kind", pa.uint8()), ("code", pa.uint8()),
    ("other", pa.int64()), ("sensor", pa.int8()), ("value", pa.float32()),
])
INTERNAL_KINDS = (100,)

#: The random stream that picks the logged sample (keyed by the seed only).
STREAM = "eventlog"


@dataclass(frozen=True)
class KindDoc:
    """What one ``kind`` of event means, and what its other columns hold."""

    meaning: str
    agent: str
    other: str
    code: str
    value: str
    sensor: bool = False  # whether ``sensor`` is filled
    ledger: bool = False  # whether ``ledger`` is filled
    reason: bool = False  # whether ``reason`` is filled


_LIST_CODE = "list: " + ", ".join(("`blacklist`", "`court_list`", "`redlist`"))
_LIST_VALUE = "the ledger's score after the change"

#: Every ``kind`` of events.parquet, keyed by its string, in the order of the numeric codes.
KIND_DOCS: dict[str, KindDoc] = {
    "act": KindDoc(
        "An observed act recorded on `agent`'s score. When `other` differs from `agent`, "
        "a false match put someone else's act on this agent (misattributed).",
        "the agent whose record the act landed on", "the act's real actor (= `agent` when "
        "correctly attributed)", "behaviour", "points the act is worth", sensor=True),
    "act_elsewhere": KindDoc(
        "An act by `agent`, recorded on someone else by a false match (the other side of a "
        "misattributed `act`).", "the actor", "the agent the act was recorded on",
        "behaviour", "points the act is worth", sensor=True),
    "reversed": KindDoc(
        "A false match caught by evidence review: the act was not recorded on `agent`.",
        "the agent wrongly matched", "the act's real actor", "behaviour",
        "points the act would have cost", sensor=True),
    "list_enter": KindDoc(
        "`agent` goes onto a list on one ledger.", "the listed agent", "−1", _LIST_CODE,
        _LIST_VALUE, ledger=True, reason=True),
    "list_exit": KindDoc(
        "`agent` leaves a list on one ledger.", "the agent", "−1", _LIST_CODE, _LIST_VALUE,
        ledger=True, reason=True),
    "denial": KindDoc(
        "An attempt (to fly, buy, enrol…) refused to `agent` by a sanction.",
        "the agent refused", "−1", "sanction kind (as in `policy.sanctions`)", "1",
        reason=True),
    "exposure_start": KindDoc(
        "`agent` starts losing points through spillover from a listed relative, tie, "
        "employer or represented business.", "the exposed agent", "the listed household "
        "member, or the business (employer or represented), −1 for ties",
        "channel: `household`, `ties`, `employer`, `legal_representative`", "0"),
    "exposure_end": KindDoc(
        "That spillover exposure ends.", "the agent", "as `exposure_start`",
        "channel, as `exposure_start`", "0"),
    "tie_listed": KindDoc(
        "A tie of `agent` went onto (or left) a recorded list.", "the agent",
        "the tie whose listing changed", "null", "+1 went onto a list, −1 left"),
    "appeal_filed": KindDoc(
        "`agent` appeals its listing.", "the appellant", "−1", "null",
        "the day the decision is due"),
    "appeal_decided": KindDoc(
        "The appeal is decided.", "the appellant", "−1",
        "`record_wrong` (the true ledger does not list the agent) or `record_right`",
        "1 upheld, 0 rejected"),
    "expired": KindDoc(
        "`agent`'s blacklist entry on one ledger expires (`governance.expiry`), and it "
        "leaves the blacklist.", "the agent", "−1", "`blacklist`",
        "the ledger's score after the change (raised to the exit score)", ledger=True,
        reason=True),
    "credit_repair": KindDoc(
        "`agent` gains points by a credit-repair act (`governance.credit_repair`).",
        "the agent", "−1", "null", "points gained"),
    "reward": KindDoc(
        "A redlist reward is granted to `agent`.", "the agent", "−1", "null", "1"),
    "court_fulfilled": KindDoc(
        "`agent` fulfils its court obligation and leaves the recorded court list before "
        "the order's term (on the twin ledger this is a `list_exit`, reason "
        "`obligation_fulfilled`).", "the agent", "−1", "`court_list`", _LIST_VALUE,
        ledger=True, reason=True),
}

#: numeric kind (``scslab.events.EV_*``) → its string: the constant's name in lower case
KIND_CODES: dict[int, str] = {getattr(E, "EV_" + k.upper()): k for k in KIND_DOCS}
assert len(KIND_CODES) == len(KIND_DOCS)

#: ``ledger``: which ledger a list event concerns (DESIGN.md §4)
LEDGER_DOCS: dict[str, str] = {
    "recorded": "the recorded score, as the system keeps it (with identity errors)",
    "twin": "the true ledger: every observed act credited to its real actor",
    "own": "the own-conduct ledger: the agent's own acts alone, no spillover penalties "
           "(its court list is the twin's, so only blacklist events carry it)",
}
#: numeric list code // 8 → ledger (``TWIN`` = 8 and ``OWN`` = 16 are added to the list)
LEDGER_CODES = {0: "recorded", 1: "twin", 2: "own"}
#: numeric list code % 8 → list
LIST_CODES = {0: "blacklist", 1: "court_list", 2: "redlist"}
#: numeric spillover channel → channel
CHANNEL_CODES = {0: "household", 1: "ties", 2: "employer", 3: "legal_representative"}
#: numeric appeal_decided code → whether the record was wrong
APPEAL_CODES = {0: "record_right", 1: "record_wrong"}

#: ``reason`` of a denial: why the agent was refused
DENIAL_REASON_DOCS: dict[str, str] = {
    "own_listing": "the agent's own listing (by its own conduct, or wrongly)",
    "household_member_listed": "joint punishment: a household member is listed",
    "business_listed": "joint punishment: a business the agent legally represents is listed",
    "own_listing_through_others": "the agent's own listing, itself through others (the true "
                                  "ledger lists it, its own conduct alone would not)",
}
#: numeric denial reason (written in the ``sensor`` field) → reason
DENIAL_REASON_CODES = dict(enumerate(DENIAL_REASON_DOCS))

#: ``reason`` of a list entry or exit: why the agent went onto or left the list
LIST_REASON_DOCS: dict[str, str] = {
    "score_threshold": "the ledger's score crossed the list's threshold (blacklist: fell below "
                       "the entry score, or rose back to the exit score after the minimum "
                       "days — through decay, rewards or credit repair; redlist: its minimum)",
    "court_order": "a court order (the court list's trigger act) put the agent on the list",
    "term_ended": "the court order's term ran out",
    "obligation_fulfilled": "the court obligation was fulfilled before the term",
    "expiry": "the entry reached its expiry date (`governance.expiry`)",
    "appeal_corrected": "an appeal found the record wrong and corrected it to the true ledger",
    "appeal_leniency": "an appeal was upheld although the record was right (leniency: every "
                       "ledger lets the agent go)",
}
#: numeric list-exit reason (``scslab.events.EXIT_*``, in the ``sensor`` field) → reason
EXIT_REASON_CODES = {E.EXIT_SCORE: "score_threshold", E.EXIT_TERM: "term_ended",
                     E.EXIT_FULFILLED: "obligation_fulfilled", E.EXIT_APPEAL: "appeal_corrected",
                     E.EXIT_LENIENCY: "appeal_leniency"}
REASON_DOCS: dict[str, str] = {**DENIAL_REASON_DOCS, **LIST_REASON_DOCS}

#: Every column of events.parquet: (type, meaning)
COLUMN_DOCS: dict[str, tuple[str, str]] = {
    "day": ("int32", "simulated day, 1 … days"),
    "agent": ("int64", "the agent the event is about (its id, 0 … N−1): every row of one agent "
                       "is its audit trail (`scslab explain`)"),
    "kind": ("string (dictionary)", "what happened: one of the kinds below"),
    "code": ("string (dictionary)", "what it concerns, per kind: the behaviour of an act, the "
                                    "sanction kind of a denial, the list of a list event, the "
                                    "channel of a spillover exposure…; null where none"),
    "other": ("int64", "the other agent (or business) involved, per kind; −1 where none"),
    "sensor": ("string (dictionary)", "the sensor (a key of `sensors`) that observed an act; "
                                      "null for other kinds"),
    "value": ("float32", "a number, per kind: points, a score, a day, 1/0"),
    "ledger": ("string (dictionary)", "for list events, the ledger they concern: "
                                      + ", ".join(f"`{k}`" for k in LEDGER_DOCS)
                                      + " (see Ledgers below); null for others"),
    "reason": ("string (dictionary)", "for denials, list entries and exits: why (values "
                                      "below); null for others, or where a log written by an "
                                      "older scslab did not record it"),
}

_DICT_INDEX = {"kind": pa.int8(), "code": pa.int16(), "sensor": pa.int16(),
               "ledger": pa.int8(), "reason": pa.int8()}

#: The schema of events.parquet (self-describing strings; see ``COLUMN_DOCS``).
FILE_SCHEMA = pa.schema([
    (name, pa.dictionary(_DICT_INDEX[name], pa.string()) if name in _DICT_INDEX
     else EVENT_SCHEMA.field(name).type if name in EVENT_SCHEMA.names else None)
    for name in COLUMN_DOCS
])

_ACT_KINDS = (E.EV_ACT, E.EV_ACT_ELSEWHERE, E.EV_REVERSED)
_LIST_KINDS = (E.EV_LIST_ENTER, E.EV_LIST_EXIT, E.EV_EXPIRED, E.EV_COURT_FULFILLED)
_CHANNEL_KINDS = (E.EV_EXPOSURE_START, E.EV_EXPOSURE_END)


@dataclass(frozen=True)
class EventNames:
    """The scenario's names behind the kernels' indices: behaviours, sensors, sanctions."""

    behaviours: tuple[str, ...]
    sensors: tuple[str, ...]
    sanctions: tuple[str, ...]

    @classmethod
    def of(cls, scenario: Scenario) -> EventNames:
        """The names as the kernels of ``scenario`` index them (``params.compile_params``)."""
        from scslab.params import compile_params

        p = compile_params(scenario, 1)
        return cls(tuple(p.behaviour_names), tuple(p.sensor_names), tuple(p.sanction_names))


def is_encoded(schema: pa.Schema) -> bool:
    """Whether an event table holds the kernels' numeric codes (an older events.parquet)."""
    return "kind" in schema.names and pa.types.is_integer(schema.field("kind").type)


def _strings(kind: int, code: int, sensor: int, names: EventNames) -> tuple:
    """(kind, code, sensor, ledger, reason) strings of one numeric event (None: null).

    The one decoding rule; ``decode_events`` applies it once per distinct
    (kind, code, sensor), never per row. An unknown number reads ``"<what>_<number>"``.
    """
    def pick(table, c: int, what: str) -> str:
        got = table.get(c) if isinstance(table, dict) else (
            table[c] if 0 <= c < len(table) else None)
        return got if got is not None else f"{what}_{c}"

    k = pick(KIND_CODES, kind, "kind")
    c = sen = ledger = reason = None
    if kind in _ACT_KINDS:
        c = pick(names.behaviours, code, "behaviour")
        sen = pick(names.sensors, sensor, "sensor") if sensor >= 0 else None
    elif kind == E.EV_DENIAL:
        c = pick(names.sanctions, code, "sanction")
        reason = pick(DENIAL_REASON_CODES, sensor, "reason")
    elif kind in _LIST_KINDS:
        c = pick(LIST_CODES, code % 8, "list")
        ledger = pick(LEDGER_CODES, min(code // 8, 2), "ledger")
        if kind == E.EV_LIST_ENTER:
            reason = "court_order" if code % 8 == 1 else "score_threshold"
        elif kind == E.EV_EXPIRED:
            reason = "expiry"
        elif kind == E.EV_COURT_FULFILLED:
            reason = "obligation_fulfilled"
        elif sensor >= 0:  # older logs did not record why an agent left a list (-1)
            reason = pick(EXIT_REASON_CODES, sensor, "reason")
    elif kind in _CHANNEL_KINDS:
        c = pick(CHANNEL_CODES, code, "channel")
    elif kind == E.EV_APPEAL_DECIDED:
        c = pick(APPEAL_CODES, code, "code")
    return k, c, sen, ledger, reason


def decode_events(raw: pa.Table, names: EventNames) -> pa.Table:
    """The kernels' numeric events as events.parquet holds them (``FILE_SCHEMA``).

    ``kind``, ``code``, ``sensor``, ``ledger`` and ``reason`` become dictionary-encoded
    strings (see ``KIND_DOCS``); ``day``, ``agent``, ``other`` and ``value`` are kept.
    Each dictionary is the documented set in a fixed order (names outside it appended in
    the order met), so the same events always give the same bytes. A table already
    decoded is returned as it is.
    """
    if not is_encoded(raw.schema):
        return raw

    def ints(col: str) -> np.ndarray:
        return np.asarray(raw[col].to_numpy(), dtype=np.int64).reshape(-1)

    kind, code, sensor = ints("kind"), ints("code"), ints("sensor")
    # one key per (kind, code, sensor): the kernels' fields are uint8, uint8 and int8
    key = (kind & 0xFF) << 16 | (code & 0xFF) << 8 | (sensor & 0xFF)
    present = np.flatnonzero(np.bincount(key)) if key.size else np.zeros(0, np.int64)
    dictionaries = {
        "kind": list(KIND_DOCS),
        "code": [*names.behaviours, *names.sanctions, *LIST_CODES.values(),
                 *CHANNEL_CODES.values(), *APPEAL_CODES.values()],
        "sensor": list(names.sensors), "ledger": list(LEDGER_DOCS),
        "reason": list(REASON_DOCS)}
    dictionaries = {col: list(dict.fromkeys(v)) for col, v in dictionaries.items()}
    pos = {col: {v: i for i, v in enumerate(d)} for col, d in dictionaries.items()}
    luts: dict[str, dict[int, int]] = {col: {} for col in dictionaries}
    for x_ in present.tolist():
        x = int(x_)
        strings = _strings(x >> 16, (x >> 8) & 0xFF, ((x & 0xFF) ^ 0x80) - 0x80, names)
        for col, v in zip(dictionaries, strings, strict=True):
            if v is not None and v not in pos[col]:
                pos[col][v] = len(dictionaries[col])
                dictionaries[col].append(v)
            luts[col][x] = -1 if v is None else pos[col][v]

    def text(col: str) -> pa.DictionaryArray:
        lut = np.full(int(present[-1]) + 1 if present.size else 1, -1, np.int64)
        for x in present:
            lut[x] = luts[col][int(x)]
        idx = lut[key]  # one gather per column
        mask = idx < 0
        index = _DICT_INDEX[col]
        indices = pa.array(np.where(mask, 0, idx).astype(index.to_pandas_dtype()), type=index,
                           mask=mask if mask.any() else None)
        return pa.DictionaryArray.from_arrays(indices, pa.array(dictionaries[col], pa.string()))

    def plain(col: str) -> pa.Array:
        a = raw[col].combine_chunks() if isinstance(raw[col], pa.ChunkedArray) else raw[col]
        return a.cast(FILE_SCHEMA.field(col).type)

    cols = {name: text(name) if name in _DICT_INDEX else plain(name)
            for name in FILE_SCHEMA.names}
    return pa.Table.from_arrays([cols[k] for k in FILE_SCHEMA.names], schema=FILE_SCHEMA)


def file_table(events: pa.Table, scenario: Scenario) -> pa.Table:
    """``events`` as events.parquet holds them: decoded with ``scenario``'s names."""
    if not is_encoded(events.schema):
        return events
    return decode_events(events, EventNames.of(scenario))


@njit(parallel=True, cache=True)
def logged_mask(log_key, log_frac, agents):
    """Which of ``agents`` are in the logged sample: a fixed hash of each agent's id.

    The same agents are logged every day and whatever the number of threads.
    """
    out = np.empty(agents.size, np.bool_)
    for j in prange(agents.size):
        if log_frac >= 1.0:
            out[j] = True
        elif log_frac <= 0.0:
            out[j] = False
        else:
            out[j] = u_hi(agent_hash(log_key, agents[j], 0)) < log_frac
    return out


class EventLogCollector:
    """Collects the day's logged events from the stages, in a fixed order."""

    def __init__(self, log_key, log_frac: float):
        """Log the fraction ``log_frac`` of agents chosen by hashing with ``log_key``."""
        self.log_key = log_key
        self.log_frac = log_frac
        self.parts: list[dict[str, np.ndarray]] = []
        self.rows = 0

    @property
    def enabled(self) -> bool:
        """Whether anything is logged at all."""
        return self.log_frac > 0

    def flat_buffer(self, cap: int) -> Events:
        """Arrays for a kernel to write up to ``cap`` events into, and a one-element count.

        A disabled log gets buffers of one element: the kernels still take them.
        """
        cap = max(int(cap), 1) if self.enabled else 1
        return Events(np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.uint8),
                      np.empty(cap, np.uint8), np.empty(cap, np.int8), np.empty(cap, np.float32),
                      np.zeros(1, np.int64))

    def _add(self, day: int, cols: dict[str, np.ndarray]) -> None:
        n = cols["agent"].size
        if n == 0:
            return
        cols = {k: np.ascontiguousarray(v) for k, v in cols.items()}
        cols["day"] = np.full(n, day, np.int32)
        self.parts.append(cols)
        self.rows += n

    def take_flat(self, day: int, lg: Events) -> None:
        """Keep the events a kernel wrote into a ``flat_buffer`` on ``day``."""
        if not self.enabled:
            return
        n = int(lg[6][0])
        names = ("agent", "other", "kind", "code", "sensor", "value")
        self._add(day, {k: a[:n].copy() for k, a in zip(names, lg[:6], strict=True)})

    def take_buffer(self, day: int, buf: EventBuffer, logged_only: bool) -> None:
        """Keep the events of ``buf`` on ``day``, internal kinds left out.

        ``logged_only``: keep only the events of agents in the logged sample (for a
        buffer that holds every agent's events).
        """
        if not self.enabled or buf.total() == 0:
            return
        f = buf.flat()
        keep = ~np.isin(f["kind"], INTERNAL_KINDS)
        if logged_only:
            keep &= logged_mask(self.log_key, self.log_frac, f["agent"])
        self._add(day, {k: v[keep] for k, v in f.items()})

    def table(self) -> pa.Table:
        """The events kept so far as one table of ``EVENT_SCHEMA``, in the order kept."""
        if not self.parts:
            return EVENT_SCHEMA.empty_table()
        cols = {name: np.concatenate([p[name] for p in self.parts]) for name in EVENT_SCHEMA.names}
        return pa.table({n: pa.array(cols[n], type=EVENT_SCHEMA.field(n).type)
                         for n in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)

    def drain(self) -> pa.Table:
        """The events kept so far, which are then dropped (for writing in parts)."""
        t = self.table()
        self.parts = []
        return t
