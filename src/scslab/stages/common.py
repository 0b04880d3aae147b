"""What the stages share: helpers, argument groups and stage specs.

What the stages share: small Numba helpers, the argument groups their kernels take, and the
declarative spec each stage gives of itself (``StageSpec``, see ``scslab.plan``).

Kernels take their arguments in a few groups (named tuples of arrays and scalars)
instead of dozens of positionals: the scenario's tables (``Tables``), the fixed
population (``People``), the changing state (``Agents``), the day's random keys
(``Day``), the per-chunk counters and scratch (``Work``) and an event buffer
(``scslab.events.Events``). Numba passes a named tuple's members as separate
arguments, so a kernel compiles to the same code as with positionals (one
signature per kernel, cacheable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from scslab.events import EventBuffer
from scslab.params import Params
from scslab.population import World
from scslab.rng import agent_hash, u_hi
from scslab.state import State


@njit(inline="always", cache=True)
def is_logged(log_key, log_frac, i) -> bool:
    """Whether agent ``i`` is in the event-log sample (a fixed, hash-based sample)."""
    if log_frac >= 1.0:
        return True
    if log_frac <= 0.0:
        return False
    return u_hi(agent_hash(log_key, i, 0)) < log_frac


@njit(inline="always", cache=True)
def knows_rules(aware_key, aware_share, i) -> bool:
    """Whether agent ``i`` knows the rules (a fixed trait drawn once per agent)."""
    return u_hi(agent_hash(aware_key, i, 0)) < aware_share


@njit(inline="always", cache=True)
def emit(c, agent, other, kind, code, sensor, value, ev) -> None:
    """Append one event to chunk ``c``'s row of buffer ``ev`` (the caller checked the room)."""
    j = ev.count[c]
    ev.agent[c, j] = agent
    ev.other[c, j] = other
    ev.kind[c, j] = kind
    ev.code[c, j] = code
    ev.sensor[c, j] = sensor
    ev.value[c, j] = value
    ev.count[c] = j + 1


# --------------------------------------------------------------------------- argument groups


class Tables(NamedTuple):
    """The scenario's compiled tables (``scslab.params.Params``) that the kernels read."""

    prm: np.ndarray
    beh_rate: np.ndarray
    beh_dexp: np.ndarray
    beh_age: np.ndarray
    beh_pen: np.ndarray
    screen_ub: np.ndarray
    chill_risk: np.ndarray
    points: np.ndarray
    sens_prob: np.ndarray
    sens_fmr: np.ndarray
    sens_scope: np.ndarray
    sens_class: np.ndarray
    sens_same_group: np.ndarray
    sens_vehicle: np.ndarray
    sanc_rate: np.ndarray
    sanc_lists: np.ndarray
    sanc_who: np.ndarray
    hh_mask: int
    rep_mask: int
    grade_min: np.ndarray

    @classmethod
    def of(cls, p: Params, screen_ub: np.ndarray) -> Tables:
        """The group for ``p`` (``screen_ub``: the behaviour screen's rate bounds)."""
        return cls(p.prm, p.beh_rate, p.beh_dexp, p.beh_age, p.beh_penalised, screen_ub,
                   p.chill_risk, p.points, p.sens_prob, p.sens_fmr, p.sens_scope, p.sens_class,
                   p.sens_same_group, p.sens_vehicle, p.sanc_rate, p.sanc_lists, p.sanc_who, p.hh_sanc_mask,
                   p.rep_sanc_mask, p.grade_min)


class People(NamedTuple):
    """The population, which does not change during a run (``World``)."""

    n: int
    attr: np.ndarray
    region: np.ndarray
    region_start: np.ndarray
    disposition: np.ndarray
    hh_size: np.ndarray
    hh_off: np.ndarray
    employer: np.ndarray
    biz_rep: np.ndarray
    tie_ptr: np.ndarray
    tie_idx: np.ndarray
    has_ties: bool
    group_members: np.ndarray
    group_cells: np.ndarray
    vehicle_key: np.uint64

    @classmethod
    def of(cls, w: World) -> People:
        """The group for world ``w``."""
        return cls(w.n, w.attr, w.region, w.region_start, w.disposition, w.hh_size, w.hh_off,
                   w.employer, w.biz_rep, w.tie_ptr, w.tie_idx, w.has_ties, w.group_members,
                   w.group_cells, np.uint64(w.vehicle_key))


class Agents(NamedTuple):
    """The state that changes during a run (``State``): the same arrays, grouped."""

    score: np.ndarray
    twin: np.ndarray
    own: np.ndarray
    delta_rec: np.ndarray
    delta_twin: np.ndarray
    flags: np.ndarray
    exposure: np.ndarray
    own_flags: np.ndarray
    bl_since: np.ndarray
    tbl_since: np.ndarray
    obl_since: np.ndarray
    ct_until: np.ndarray
    tct_until: np.ndarray
    appeal_day: np.ndarray
    listed_ties: np.ndarray
    listed_ties_twin: np.ndarray
    b_score: np.ndarray
    b_twin: np.ndarray
    b_flags: np.ndarray

    @classmethod
    def of(cls, s: State) -> Agents:
        """The group of ``s``'s arrays (views of the same memory, not copies)."""
        return cls(*(getattr(s, f) for f in cls._fields))


DAY_STREAMS = ("behaviour", "sensing", "listing", "sanctions", "due_process")
"""The random streams keyed by the day (``rng.day_key``): one field of ``Day`` each."""


class Day(NamedTuple):
    """The day and its random keys.

    One per stream of ``DAY_STREAMS`` and the run's fixed keys (awareness of the rules, the
    event-log sample).
    """

    day: int
    behaviour: np.uint64
    sensing: np.uint64
    listing: np.uint64
    sanctions: np.uint64
    due_process: np.uint64
    aware: np.uint64
    aware_share: float
    log: np.uint64
    log_frac: float


class Work(NamedTuple):
    """The per-chunk counters and scratch arrays, allocated once per run.

    The per-chunk counters (``cnt``, columns laid out by ``off``) and scratch arrays
    that the stages declare (``StageSpec.scratch``), allocated once per run.
    """

    cnt: np.ndarray
    off: np.ndarray
    screen_hashes: np.ndarray
    screen_marks: np.ndarray
    hist: np.ndarray
    score_tmp: np.ndarray


class Counters(NamedTuple):
    """The per-chunk counters alone (``Work.cnt``, columns laid out by ``Work.off``)."""

    cnt: np.ndarray
    off: np.ndarray


def pick(cls: Any, *groups: Any) -> Any:
    """A narrow group: ``cls`` (a named tuple) filled from the same-named members of ``groups``.

    Each kernel takes only the members it uses, in narrow groups that its stage declares
    (``BehaviourTables`` and so on) and that are picked once per run from the wide ones
    (``Tables``, ``People``, ``Agents``, ``Work``; ``Context.groups``): every member a kernel
    is given costs time on every call (Numba unboxes it), used or not.
    """
    values = []
    for name in cls._fields:
        for g in groups:
            if name in g._fields:
                values.append(getattr(g, name))
                break
        else:
            raise AttributeError(f"{cls.__name__}.{name} is in none of the groups")
    return cls(*values)


# --------------------------------------------------------------------------- stage specs


@dataclass(frozen=True)
class Scratch:
    """A per-chunk scratch array a stage's kernel needs.

    ``Work.<name>`` is allocated once per run with shape ``(chunks, *shape)``.
    """

    name: str
    shape: tuple[int, ...]
    dtype: type
    doc: str


@dataclass(frozen=True)
class Call:
    """One call of the day, charged to stage ``stage``'s timer.

    A driver ``run(ctx, day)`` or, with ``settle`` set, the stage's part (an ``ST_*`` bit) of
    the fused settle pass (``scslab.stages.settle``).
    """

    stage: str
    run: Callable[[Context, Day], None] | None = None
    settle: int = 0
    agent: Callable | None = None
    """For a part of the settle pass: the stage's per-agent function it calls."""

    @property
    def name(self) -> str:
        """What is called.

        ``settle_kernel › <per-agent function>`` for a part of the settle pass, else the
        driver's name.
        """
        if self.run is not None:
            return self.run.__name__
        return "settle_kernel › " + getattr(self.agent, "__name__", "?")


@dataclass(frozen=True)
class StageSpec:
    """What a stage declares about itself.

    The engine orders and times the stages from these (``scslab.plan``) and knows no stage's
    arguments, metrics or flags.

    Attributes:
        name: the stage's name, also its timer in ``Simulation.stage_seconds``.
        doc: one line on what the stage does.
        streams: the random streams it draws from (``rng`` stream names).
        kernels: its Numba kernels, in the order they run.
        scratch: the per-chunk scratch arrays its kernels need.
        counters: the columns of the counter matrix it writes (``metrics.C_*`` / ``O_*``).
        reads: the state bits it reads (``state.F_*``, ``X_*``, ``B_*`` names).
        writes: the state bits it sets or clears.
        setup: called once when the run is built, after the state is made (the stage's
            initial state, or its own structures in ``Context``).
        warm_up: called on the build's tiny warm-up run to compile kernels that one
            tiny day may not reach.
    """

    name: str
    doc: str
    streams: tuple[str, ...] = ()
    kernels: tuple[Callable, ...] = ()
    scratch: tuple[Scratch, ...] = ()
    counters: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    setup: Callable[[Context, Any], None] | None = None
    warm_up: Callable[[Context], None] | None = None


@dataclass
class Context:
    """One run's world, state and working arrays, as the stages' drivers see them."""

    world: World
    state: State
    params: Params
    tables: Tables
    people: People
    agents: Agents
    work: Work
    starts: np.ndarray
    ends: np.ndarray
    acts: EventBuffer
    settle: EventBuffer
    log: Any  # scslab.eventlog.EventLogCollector
    group_sizes: list[int]
    abroad: Any = None  # scslab.stages.abroad.AbroadStage when the scenario has data flows
    columns: dict[str, Any] = field(default_factory=dict)
    """Columns other stages add to today's metrics row (after the metrics' own)."""
    row: dict[str, Any] = field(default_factory=dict)
    quiet_agent_days: int = 0
    entry: dict[Any, Callable] = field(default_factory=dict)
    """The compiled code of each kernel this run has called once (see ``call``)."""
    picked: dict[tuple, tuple] = field(default_factory=dict)
    """The narrow groups built so far (see ``groups``)."""
    chunk_stratum: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """The (region, group) stratum of each chunk, ``region * n_groups + group``: chunks are
    cut at strata starts, so each chunk's counters belong to one region and one group."""

    @property
    def group_weights(self) -> np.ndarray:
        """The float64 design weight of each group (``World.group_weight``).

        All ones without oversampling; a count of group g's agents stands for
        ``count * w[g]`` people.
        """
        return self.world.group_weight

    def groups(self, *classes: Any) -> tuple:
        """The run's narrow groups of ``classes``, picked once per run (``pick``).

        Picked from ``tables``, ``people``, ``agents`` and ``work``: the same arrays,
        not copies.
        """
        got = self.picked.get(classes)
        if got is None:
            wide = (self.tables, self.people, self.agents, self.work)
            got = self.picked[classes] = tuple(pick(c, *wide) for c in classes)
        return got

    def call(self, kernel: Any, *args: Any) -> Any:
        """``kernel(*args)``: through Numba's dispatcher once per run, then straight to its code.

        Numba's dispatcher types every argument on every call (every member of every group:
        about 0.2 µs each, 15–20 µs per kernel call). The run's first call of a kernel goes
        through it (it compiles or loads the kernel and checks the types); when the kernel
        then has exactly one compiled signature, later calls of the run go to that
        signature's entry point, the function the dispatcher itself calls once it has
        matched the types. The run's arguments keep their types (the groups are built once
        per run; event buffers and the day's keys are made with fixed types), so the
        result is the same; a kernel with several signatures is always dispatched.
        """
        f = self.entry.get(kernel)
        if f is not None:
            return f(*args)
        out = kernel(*args)
        if len(getattr(kernel, "overloads", ())) == 1:
            self.entry[kernel] = next(iter(kernel.overloads.values())).entry_point
        return out
