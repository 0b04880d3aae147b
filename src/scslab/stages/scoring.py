"""Scoring: rules turn attributed acts into points on three ledgers.

Scoring: rules turn attributed acts into points (the recorded ledger) while the twin ledger
credits every observed act to its actor; then the daily cap, spillover penalties from start-of-day
lists, decay toward the base score, and bounds. The own-conduct ledger is the twin without the
spillover penalties.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from scslab.events import EV_ACT, EV_ACT_ELSEWHERE, EV_REVERSED
from scslab.params import (
    P_BASE,
    P_CT_TRIGGER,
    P_DECAY,
    P_EMP_PEN,
    P_HH_PEN,
    P_MAX,
    P_MAX_GAIN,
    P_MAX_LOSS,
    P_MIN,
    P_TIE_PEN,
)
from scslab.stages.common import Context, Day, StageSpec, is_logged
from scslab.stages.metrics import C_PEN
from scslab.stages.sensing import CORRECT, MISATTRIBUTED, REVERSED
from scslab.state import F_CT_ORDER, F_TCT_ORDER, X_EMP, X_HH, X_TEMP, X_THH, X_TIE, X_TTIE


class ScoringTables(NamedTuple):
    """The tables the crediting kernel reads (picked from ``Tables``)."""

    prm: np.ndarray
    points: np.ndarray


class ScoringPeople(NamedTuple):
    """The population the crediting kernel reads (picked from ``People``)."""

    region: np.ndarray


class ScoringAgents(NamedTuple):
    """The state the crediting kernel writes (picked from ``Agents``)."""

    flags: np.ndarray
    delta_rec: np.ndarray
    delta_twin: np.ndarray


GROUPS = (ScoringTables, ScoringPeople, ScoringAgents)
"""The narrow groups ``apply_events`` takes after the day (``Context.groups``)."""


@njit(parallel=True, cache=True)
def apply_events(d, tb, pp, ag, ev, lg):
    """Credit attributed acts.

    Everything that lands on the actor — the twin ledger's points and a correctly
    attributed act — stays inside the actor's chunk, so chunks run in parallel.
    Misattributed acts land anywhere, scored by the rules of the region of the agent they
    land on (its pilot's table); they, and the event log, follow in one
    sequential pass in chunk order. Either way each agent's points add up in an
    order fixed by the agents, never by the threads. Arguments: the ``Day``,
    the narrow groups ``GROUPS`` (``ScoringTables``, ``ScoringPeople``,
    ``ScoringAgents``), the attributed acts (``Events``) and the event log's flat buffer (``Events``).
    """
    prm, points, region, log_key, log_frac = tb.prm, tb.points, pp.region, d.log, d.log_frac
    flags, delta_rec, delta_twin = ag.flags, ag.delta_rec, ag.delta_twin
    ev_agent, ev_other, ev_kind, ev_code = ev.agent, ev.other, ev.kind, ev.code
    ev_sensor, ev_count = ev.sensor, ev.count
    lg_agent, lg_other, lg_kind, lg_code = lg.agent, lg.other, lg.kind, lg.code
    lg_sensor, lg_value, lg_count = lg.sensor, lg.value, lg.count
    court_b = int(prm[P_CT_TRIGGER])
    for c in prange(ev_count.size):
        for j in range(ev_count[c]):
            k = ev_kind[c, j]
            if k == 0:
                continue
            i = ev_agent[c, j]
            b = ev_code[c, j]
            pts = points[region[i], b]
            delta_twin[i] += pts
            if b == court_b:
                flags[i] |= F_TCT_ORDER
            if k == CORRECT:
                delta_rec[i] += pts
                if b == court_b:
                    flags[i] |= F_CT_ORDER
    logging = log_frac > 0.0
    for c in range(ev_count.size):
        for j in range(ev_count[c]):
            k = ev_kind[c, j]
            if k == 0 or (k == CORRECT and not logging):
                continue
            i = ev_agent[c, j]
            t = ev_other[c, j]
            b = ev_code[c, j]
            s = ev_sensor[c, j]
            # the record is scored by the rules of the region of the person it names
            pts = points[region[t], b]
            if k == MISATTRIBUTED:
                delta_rec[t] += pts
                if b == court_b:
                    flags[t] |= F_CT_ORDER
            if not logging:
                continue
            if (k == CORRECT or k == MISATTRIBUTED) and is_logged(log_key, log_frac, t):
                n = lg_count[0]
                lg_agent[n], lg_other[n], lg_kind[n] = t, i, EV_ACT
                lg_code[n], lg_sensor[n], lg_value[n] = b, s, pts
                lg_count[0] = n + 1
            if k == MISATTRIBUTED and is_logged(log_key, log_frac, i):
                n = lg_count[0]
                lg_agent[n], lg_other[n], lg_kind[n] = i, t, EV_ACT_ELSEWHERE
                lg_code[n], lg_sensor[n], lg_value[n] = b, s, pts
                lg_count[0] = n + 1
            if k == REVERSED and is_logged(log_key, log_frac, t):
                n = lg_count[0]
                lg_agent[n], lg_other[n], lg_kind[n] = t, i, EV_REVERSED
                lg_code[n], lg_sensor[n], lg_value[n] = b, s, pts
                lg_count[0] = n + 1


@njit(inline="always", cache=True)
def new_score(score, delta, pen, max_loss, max_gain, decay, base, smin, smax) -> float:
    """A score after today's points (capped), a spillover penalty, decay and bounds."""
    d = delta
    if d < -max_loss:
        d = -max_loss
    elif d > max_gain:
        d = max_gain
    s = score + d - pen
    s += decay * (base - s)
    if s < smin:
        s = smin
    elif s > smax:
        s = smax
    return s


@njit(inline="always", cache=True)
def penalty(exposure, hh_bit, tie_bit, emp_bit, prm) -> float:
    """Today's spillover penalty for the given exposure bits."""
    pen = 0.0
    if exposure & hh_bit:
        pen += prm[P_HH_PEN]
    if exposure & tie_bit:
        pen += prm[P_TIE_PEN]
    if exposure & emp_bit:
        pen += prm[P_EMP_PEN]
    return pen


@njit(inline="always", cache=True)
def update_score(score, delta, exposure, hh_bit, tie_bit, emp_bit, prm) -> tuple:
    """One agent's score after today's points, spillover penalty and decay."""
    pen = penalty(exposure, hh_bit, tie_bit, emp_bit, prm)
    s = new_score(score, delta, pen, prm[P_MAX_LOSS], prm[P_MAX_GAIN], prm[P_DECAY],
                  prm[P_BASE], prm[P_MIN], prm[P_MAX])
    return s, pen


@njit(inline="always", cache=True)
def score_agent(c, i, prm, score, twin, own, delta_rec, delta_twin, exposure, cnt) -> None:
    """Apply agent ``i``'s points, spillover penalties and decay to the three ledgers.

    The own-conduct ledger gets the twin's points (its own acts, correctly attributed) and no
    spillover penalty.
    """
    x = exposure[i]
    pen = penalty(x, X_HH, X_TIE, X_EMP, prm)
    pen_twin = penalty(x >> 4, X_THH >> 4, X_TTIE >> 4, X_TEMP >> 4, prm)
    max_loss, max_gain, decay = prm[P_MAX_LOSS], prm[P_MAX_GAIN], prm[P_DECAY]
    base, smin, smax = prm[P_BASE], prm[P_MIN], prm[P_MAX]
    s = new_score(score[i], delta_rec[i], pen, max_loss, max_gain, decay, base, smin, smax)
    t = new_score(twin[i], delta_twin[i], pen_twin, max_loss, max_gain, decay, base, smin, smax)
    o = new_score(own[i], delta_twin[i], 0.0, max_loss, max_gain, decay, base, smin, smax)
    score[i] = s
    twin[i] = t
    own[i] = o
    delta_rec[i] = 0.0
    delta_twin[i] = 0.0
    if pen > 0.0:
        cnt[c, C_PEN] += 1


def credit(ctx: Context, d: Day) -> None:
    """Credit the day's attributed acts to both ledgers.

    This is the ``scoring`` call of the day before the settle pass; the rest of scoring runs
    inside that pass (``score_agent``).
    """
    a = ctx.acts
    lg = ctx.log.flat_buffer(2 * a.total() + 16)
    ctx.call(apply_events, d, *ctx.groups(*GROUPS), a.rows(), lg)
    ctx.log.take_flat(d.day, lg)


SPEC = StageSpec(
    name="scoring",
    doc="Rules turn attributed acts into points; daily caps, spillover penalties, decay.",
    kernels=(apply_events,),
    counters=("C_PEN",),
    reads=("X_HH", "X_TIE", "X_EMP", "X_THH", "X_TTIE", "X_TEMP"),
    writes=("F_CT_ORDER", "F_TCT_ORDER"),
)
