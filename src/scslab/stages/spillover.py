"""Spillover ("joint punishment"): who is exposed, through whom.

At the start of the day — household members of a listed agent, agents with listed ties,
employees and legal representatives of a listed business — and the businesses' own scores and
list (a listed representative lowers the business).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from scslab.events import EV_EXPOSURE_END, EV_EXPOSURE_START
from scslab.params import P_BASE, P_BIZ_DECAY, P_BIZ_ENTER, P_BIZ_EXIT, P_BIZ_REP_PTS, P_SPILL_ON
from scslab.stages.common import Context, Counters, Day, StageSpec, emit, is_logged
from scslab.stages.listing import apply_union_changes, push_union_changes
from scslab.stages.metrics import C_BIZ_LISTED, C_BIZ_TLISTED, C_EXP_HH
from scslab.state import (
    B_LISTED,
    B_TLISTED,
    F_LISTED,
    F_TLISTED,
    X_EMP,
    X_HH,
    X_REP,
    X_TEMP,
    X_THH,
    X_TIE,
    X_TREP,
    X_TTIE,
)

MAX_EVENTS = 4


@njit(inline="always", cache=True)
def household_listed(s, size, flags):
    """Start-of-day counts of listed members (recorded, twin) and the first listed one."""
    n_rec = 0
    n_twin = 0
    first = -1
    for k in range(s, s + size):
        if flags[k] & F_LISTED:
            n_rec += 1
            if first < 0:
                first = k
        if flags[k] & F_TLISTED:
            n_twin += 1
    return n_rec, n_twin, first


@njit(inline="always", cache=True)
def exposure_of(i, n_rec, n_twin, flags, listed_ties, listed_ties_twin, employer, biz_rep,
                b_flags) -> int:
    """Agent ``i``'s exposure bits: through whom start-of-day lists reach it."""
    x = 0
    f = flags[i]
    if n_rec - (1 if f & F_LISTED else 0) > 0:
        x |= X_HH
    if n_twin - (1 if f & F_TLISTED else 0) > 0:
        x |= X_THH
    if listed_ties[i] > 0:
        x |= X_TIE
    if listed_ties_twin[i] > 0:
        x |= X_TTIE
    b = employer[i]
    if b >= 0:
        bf = b_flags[b]
        rep = biz_rep[b] == i
        if bf & B_LISTED:
            x |= X_REP if rep else X_EMP
        if bf & B_TLISTED:
            x |= X_TREP if rep else X_TEMP
    return x


@njit(inline="always", cache=True)
def update_exposure(c, i, s, size, n_rec, n_twin, first_rec, spill_on, log_key, log_frac, flags,
                    listed_ties, listed_ties_twin, employer, biz_rep, b_flags, exposure, cnt,
                    ev) -> None:
    """Set agent ``i``'s exposure; count it; log changes for sampled agents."""
    x = 0
    if spill_on:
        x = exposure_of(i, n_rec, n_twin, flags, listed_ties, listed_ties_twin, employer,
                        biz_rep, b_flags)
    old = exposure[i]
    exposure[i] = x
    for ch in range(4):
        if x & (1 << ch):
            cnt[c, C_EXP_HH + ch] += 1
    if old != x and is_logged(log_key, log_frac, i):
        for ch in range(4):
            bit = 1 << ch
            if (x & bit) != (old & bit):
                other = -1
                if ch == 0:
                    other = first_rec
                    if other == i:
                        for k in range(s, s + size):
                            if k != i and flags[k] & F_LISTED:
                                other = k
                                break
                elif ch >= 2:
                    other = employer[i]
                kind = EV_EXPOSURE_START if x & bit else EV_EXPOSURE_END
                emit(c, i, other, kind, ch, -1, 0.0, ev)


@njit(inline="always", cache=True)
def _business_step(score, rep_listed, base, rep_pts, decay, listed, enter, exit_):
    if rep_listed:
        score -= rep_pts
    score += decay * (base - score)
    if listed:
        if score >= exit_:
            listed = False
    elif score < enter:
        listed = True
    return score, listed


class BusinessTables(NamedTuple):
    """The tables the business kernel reads (picked from ``Tables``)."""

    prm: np.ndarray


class BusinessPeople(NamedTuple):
    """The population the business kernel reads (picked from ``People``)."""

    biz_rep: np.ndarray


class BusinessAgents(NamedTuple):
    """The state the business kernel reads and writes (picked from ``Agents``)."""

    flags: np.ndarray
    b_score: np.ndarray
    b_twin: np.ndarray
    b_flags: np.ndarray


GROUPS = (BusinessTables, BusinessPeople, BusinessAgents, Counters)
"""The narrow groups the business kernel takes (``Context.groups``)."""


@njit(parallel=True, cache=True)
def business_kernel(tb, pp, ag, wk):
    """Update business scores and the business list from their representatives' status.

    Arguments: the narrow groups ``GROUPS`` (``BusinessTables``, ``BusinessPeople``,
    ``BusinessAgents``, ``Counters``).
    """
    prm, biz_rep, flags, cnt = tb.prm, pp.biz_rep, ag.flags, wk.cnt
    b_score, b_twin, b_flags = ag.b_score, ag.b_twin, ag.b_flags
    if prm[P_SPILL_ON] <= 0:
        return
    base = prm[P_BASE]
    pts = prm[P_BIZ_REP_PTS]
    decay = prm[P_BIZ_DECAY]
    enter = prm[P_BIZ_ENTER]
    exit_ = prm[P_BIZ_EXIT]
    nb = biz_rep.size
    n_blocks = min(cnt.shape[0], 64)
    step = (nb + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        for b in range(blk * step, min(nb, (blk + 1) * step)):
            rep = biz_rep[b]
            if rep < 0:
                continue
            f = flags[rep]
            bf = b_flags[b]
            s, lst = _business_step(b_score[b], (f & F_LISTED) != 0, base, pts, decay,
                                    (bf & B_LISTED) != 0, enter, exit_)
            t, tl = _business_step(b_twin[b], (f & F_TLISTED) != 0, base, pts, decay,
                                   (bf & B_TLISTED) != 0, enter, exit_)
            b_score[b] = s
            b_twin[b] = t
            b_flags[b] = (B_LISTED if lst else 0) | (B_TLISTED if tl else 0)
            if lst:
                cnt[blk, C_BIZ_LISTED] += 1
            if tl:
                cnt[blk, C_BIZ_TLISTED] += 1


def spread(ctx: Context, d: Day) -> None:
    """After the settle pass: list changes reach ties and businesses.

    After the settle pass: today's list changes reach the ties' counters, and the businesses'
    scores and list follow their representatives (the ``spillover`` call of the day after the
    settle pass; exposure is set in it, ``update_exposure``).
    """
    if ctx.world.has_ties and ctx.settle.total():
        push_union_changes(ctx, d, ctx.settle)
    if ctx.world.n_business:
        ctx.call(business_kernel, *ctx.groups(*GROUPS))


SPEC = StageSpec(
    name="spillover",
    doc="Joint punishment: exposure through listed relatives, ties and employers; businesses.",
    kernels=(business_kernel, apply_union_changes),
    counters=("C_EXP_HH", "C_EXP_TIE", "C_EXP_EMP", "C_EXP_REP", "C_BIZ_LISTED",
              "C_BIZ_TLISTED"),
    reads=("F_LISTED", "F_TLISTED", "B_LISTED", "B_TLISTED"),
    writes=("X_HH", "X_TIE", "X_EMP", "X_REP", "X_THH", "X_TTIE", "X_TEMP", "X_TREP",
            "B_LISTED", "B_TLISTED"),
)
