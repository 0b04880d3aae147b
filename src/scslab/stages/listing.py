"""Listing: agents go on and off the blacklist, the court list and the redlist.

Listing: thresholds with hysteresis and a minimum stay put agents on and off the blacklist; a
recorded court default puts them on the court list for a fixed term (or until they fulfil the
obligation); a high score puts them on the redlist. The recorded, the twin and the own-conduct
ledger are listed by the same rules (the own-conduct court list is the twin's: a court order is
the agent's own act).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from scslab import rng
from scslab.events import (
    EV_COURT_FULFILLED,
    EV_LIST_ENTER,
    EV_LIST_EXIT,
    EV_TIE_LISTED,
    EXIT_FULFILLED,
    EXIT_SCORE,
    EXIT_TERM,
    EventBuffer,
)
from scslab.params import (
    P_BL_ENTER,
    P_BL_EXIT,
    P_BL_MIN_DAYS,
    P_BL_ON,
    P_CT_FULFIL,
    P_CT_ON,
    P_CT_TERM,
    P_RED_MIN,
    P_RED_ON,
)
from scslab.population import World
from scslab.rng import agent_hash, u_hi
from scslab.scenario.schema import Scenario
from scslab.stages.common import DAY_STREAMS, Context, Day, StageSpec, emit, is_logged
from scslab.stages.metrics import C_ENTRIES, C_EXITS
from scslab.state import (
    F_BL,
    F_CT,
    F_CT_ORDER,
    F_LISTED,
    F_RED,
    F_TBL,
    F_TCT,
    F_TCT_ORDER,
    F_TLISTED,
    O_BL,
    State,
)

EV_UNION = 100  # internal: the agent's "on any list" status changed (value ±1)
LIST_BLACK, LIST_COURT, LIST_RED = 0, 1, 2
TWIN = 8  # added to a list code for the twin ledger
OWN = 16  # added to a list code for the own-conduct ledger
MAX_EVENTS = 10  # most events one agent can emit in this stage


@njit(inline="always", cache=True)
def blacklist_rule(listed, score, since, day, enter, exit_, min_days) -> int:
    """+1 enter, -1 leave, 0 stay as is."""
    if listed:
        if score >= exit_ and day - since >= min_days:
            return -1
        return 0
    if score < enter:
        return 1
    return 0


@njit(inline="always", cache=True)
def list_agent(c, i, key, day, prm, log_key, log_frac, score, twin, own, flags, own_flags,
               bl_since, tbl_since, obl_since, ct_until, tct_until, ev) -> None:
    """Update agent ``i``'s list membership in the three ledgers (list events when logged).

    The own-conduct ledger has a blacklist of its own (``O_BL``); its court list is the twin's.
    """
    f0 = flags[i]
    f = f0
    s = score[i]
    t = twin[i]
    if prm[P_BL_ON] > 0:
        enter = prm[P_BL_ENTER]
        exit_ = prm[P_BL_EXIT]
        min_days = prm[P_BL_MIN_DAYS]
        r = blacklist_rule((f & F_BL) != 0, s, bl_since[i], day, enter, exit_, min_days)
        if r == 1:
            f |= F_BL
            bl_since[i] = day
        elif r == -1:
            f &= ~F_BL
        r = blacklist_rule((f & F_TBL) != 0, t, tbl_since[i], day, enter, exit_, min_days)
        if r == 1:
            f |= F_TBL
            tbl_since[i] = day
        elif r == -1:
            f &= ~F_TBL
        o = own_flags[i]
        r = blacklist_rule((o & O_BL) != 0, own[i], obl_since[i], day, enter, exit_, min_days)
        if r == 1:
            own_flags[i] = o | O_BL
            obl_since[i] = day
        elif r == -1:
            own_flags[i] = o & ~O_BL
        if r != 0 and is_logged(log_key, log_frac, i):
            emit(c, i, -1, EV_LIST_ENTER if r == 1 else EV_LIST_EXIT, LIST_BLACK + OWN,
                 -1 if r == 1 else EXIT_SCORE, own[i], ev)
    if prm[P_CT_ON] > 0:
        term = int(prm[P_CT_TERM])
        fulfil = prm[P_CT_FULFIL]
        u = 1.0
        if f & (F_CT | F_TCT):
            u = u_hi(agent_hash(key, i, 0))
        if f & F_CT_ORDER:
            f |= F_CT
            ct_until[i] = min(day + term, 32767)
        elif f & F_CT:
            if day >= ct_until[i] or u < fulfil:
                f &= ~F_CT
        if f & F_TCT_ORDER:
            f |= F_TCT
            tct_until[i] = min(day + term, 32767)
        elif f & F_TCT:
            if day >= tct_until[i] or u < fulfil:
                f &= ~F_TCT
    f &= ~(F_CT_ORDER | F_TCT_ORDER)
    if prm[P_RED_ON] > 0:
        if s >= prm[P_RED_MIN]:
            f |= F_RED
        else:
            f &= ~F_RED
    flags[i] = f
    changed = (f0 ^ f) & (F_BL | F_TBL | F_CT | F_TCT | F_RED)
    if changed == 0 or not is_logged(log_key, log_frac, i):
        return
    for bit, code, value in ((F_BL, LIST_BLACK, s), (F_TBL, LIST_BLACK + TWIN, t),
                             (F_CT, LIST_COURT, s), (F_TCT, LIST_COURT + TWIN, t),
                             (F_RED, LIST_RED, s)):
        if changed & bit:
            kind = EV_LIST_ENTER if f & bit else EV_LIST_EXIT
            why = -1 if kind == EV_LIST_ENTER else EXIT_SCORE
            if kind == EV_LIST_EXIT and (bit == F_CT or bit == F_TCT):
                until = ct_until[i] if bit == F_CT else tct_until[i]
                why = EXIT_TERM if day >= until else EXIT_FULFILLED
                if bit == F_CT and why == EXIT_FULFILLED:
                    kind = EV_COURT_FULFILLED
            emit(c, i, -1, kind, code, why, value, ev)


@njit(inline="always", cache=True)
def emit_union(c, i, f0, f, cnt, ev) -> None:
    """Record a change of "on any list" status over the day (recorded and twin)."""
    was = (f0 & F_LISTED) != 0
    now = (f & F_LISTED) != 0
    if was != now:
        emit(c, i, -1, EV_UNION, 0, -1, 1.0 if now else -1.0, ev)
        cnt[c, C_ENTRIES if now else C_EXITS] += 1
    was = (f0 & F_TLISTED) != 0
    now = (f & F_TLISTED) != 0
    if was != now:
        emit(c, i, -1, EV_UNION, TWIN, -1, 1.0 if now else -1.0, ev)


class TiePeople(NamedTuple):
    """The ties, as the tie-counter kernel reads them (picked from ``People``)."""

    tie_ptr: np.ndarray
    tie_idx: np.ndarray


class TieAgents(NamedTuple):
    """The ties' counters of listed ties (picked from ``Agents``)."""

    listed_ties: np.ndarray
    listed_ties_twin: np.ndarray


TIE_GROUPS = (TiePeople, TieAgents)
"""The narrow groups ``apply_union_changes`` takes after the day (``Context.groups``)."""


@njit(cache=True)
def apply_union_changes(d, pp, ag, ev, lg):
    """Push the list-status changes in ``ev`` to every tie's counter.

    Sequential, so there are no races; tie events of logged agents go to the flat log buffer
    ``lg``. Arguments: the ``Day``, the narrow groups ``TIE_GROUPS`` (``TiePeople``,
    ``TieAgents``), the settle buffer and the log buffer (``Events``).
    """
    tie_ptr, tie_idx = pp.tie_ptr, pp.tie_idx
    listed_ties, listed_ties_twin = ag.listed_ties, ag.listed_ties_twin
    log_key, log_frac = d.log, d.log_frac
    lg_agent, lg_other, lg_kind, lg_code = lg.agent, lg.other, lg.kind, lg.code
    lg_sensor, lg_value, lg_count = lg.sensor, lg.value, lg.count
    if tie_idx.size == 0:
        return
    for c in range(ev.count.size):
        for j in range(ev.count[c]):
            if ev.kind[c, j] != EV_UNION:
                continue
            i = ev.agent[c, j]
            up = ev.value[c, j] > 0
            twin = ev.code[c, j] == TWIN
            for p in range(tie_ptr[i], tie_ptr[i + 1]):
                k = tie_idx[p]
                if twin:
                    listed_ties_twin[k] += 1 if up else -1
                else:
                    listed_ties[k] += 1 if up else -1
                    if is_logged(log_key, log_frac, k):
                        n = lg_count[0]
                        if n < lg_agent.size:
                            lg_agent[n], lg_other[n], lg_kind[n] = k, i, EV_TIE_LISTED
                            lg_code[n], lg_sensor[n] = 0, -1
                            lg_value[n] = 1.0 if up else -1.0
                            lg_count[0] = n + 1


def push_union_changes(ctx: Context, d: Day, buf: EventBuffer) -> None:
    """Push the day's list-status changes in ``buf`` to every tie's counters."""
    lg = ctx.log.flat_buffer(_tie_log_room(ctx, buf))
    ctx.call(apply_union_changes, d, *ctx.groups(*TIE_GROUPS), buf.rows(), lg)
    ctx.log.take_flat(d.day, lg)


def _tie_log_room(ctx: Context, buf: EventBuffer) -> int:
    """Room for the tie events of one day's list changes in the event log."""
    if ctx.log.log_frac <= 0:
        return 1
    f = buf.flat()
    ag = f["agent"][f["kind"] == EV_UNION]
    ptr = ctx.world.tie_ptr
    return int((ptr[ag + 1] - ptr[ag]).sum()) + 1


@njit(cache=True)
def count_listed_ties(tie_ptr, tie_idx, listed, out):
    """``out[k]``: how many of agent ``k``'s ties are ``listed`` (1) rather than not (0)."""
    for k in range(out.size):
        c = 0
        for p in range(tie_ptr[k], tie_ptr[k + 1]):
            c += listed[tie_idx[p]]
        out[k] = c


def initial_court_list(world: World, state: State, sc: Scenario) -> None:
    """Put ``initial_share`` of adults on the court list on day 1 (both ledgers)."""
    ct = sc.policy.lists.court
    key = rng.stream_key(sc.seed, "initial_state")
    u = rng.uniforms(key, world.n, 0)
    remaining = rng.uniforms(key, world.n, 1)
    adult = ((world.attr >> 1) & 3) != 0
    on = adult & (u < ct.initial_share)
    until = np.minimum(1 + (remaining * ct.term_days).astype(np.int64), 32767).astype(np.int16)
    state.flags[on] |= F_CT | F_TCT
    state.ct_until[on] = until[on]
    state.tct_until[on] = until[on]
    if world.has_ties:
        count_listed_ties(world.tie_ptr, world.tie_idx, on.astype(np.uint16), state.listed_ties)
        state.listed_ties_twin[:] = state.listed_ties


def initial_state(ctx: Context, sc: Scenario) -> None:
    """The lists on day 1: the court list's initial share, when the scenario has one."""
    ct = sc.policy.lists.court
    if ct.enabled and ct.initial_share > 0:
        initial_court_list(ctx.world, ctx.state, sc)


def _warm_up(ctx: Context) -> None:
    """Compile the tie-counter kernel on no events: a tiny day rarely changes a list."""
    if ctx.world.has_ties:
        ctx.settle.reset()
        zero = np.uint64(0)
        d = Day._make((0, *(zero for _ in DAY_STREAMS), zero, 0.0, zero, 0.0))
        push_union_changes(ctx, d, ctx.settle)


SPEC = StageSpec(
    name="listing",
    doc="Thresholds with hysteresis, court orders and the redlist put agents on and off lists.",
    streams=("listing", "initial_state"),
    kernels=(apply_union_changes, count_listed_ties),
    counters=("C_ENTRIES", "C_EXITS"),
    reads=("F_BL", "F_TBL", "F_CT", "F_TCT", "F_RED", "F_CT_ORDER", "F_TCT_ORDER", "O_BL"),
    writes=("F_BL", "F_TBL", "F_CT", "F_TCT", "F_RED", "F_CT_ORDER", "F_TCT_ORDER", "O_BL"),
    setup=initial_state,
    warm_up=_warm_up,
)
