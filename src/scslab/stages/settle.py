"""The settle pass: the per-agent stages in one pass over each household.

The settle pass: after the day's acts are credited, one pass over each household applies the
stages that only touch an agent's own state — spillover exposure, scoring, listing, sanctions, due
process and metrics — by calling the stages' per-agent functions in order.

``stages`` selects which of them run: the engine runs them all in one fused pass
(each agent's state is read once a day), or one stage per pass to time each stage
separately (``Simulation(profile=True)``). Both give identical results: apart
from household spillover, which reads start-of-day counts taken before any
member is updated, no stage reads another agent's state.

A quiet block — whole households in which nobody is on a list, exposed, under a
court order or appealing, and nobody can become exposed today — needs only the
score update and the score tallies unless someone crosses a list threshold. The
fused pass settles such blocks in a few tight loops that the compiler vectorizes,
and falls back to the per-agent functions for any block where a threshold is
crossed; the results are the same bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import int64, njit, prange

from scslab._chunk_jit import chunk_njit
from scslab.events import run_chunked
from scslab.params import (
    N_HIST,
    P_BASE,
    P_BL_ENTER,
    P_BL_ON,
    P_DECAY,
    P_HIST_HI,
    P_HIST_LO,
    P_MAX,
    P_MAX_GAIN,
    P_MAX_LOSS,
    P_MIN,
    P_RED_MIN,
    P_RED_ON,
    P_SPILL_ON,
)
from scslab.stages import due_process as DP
from scslab.stages import listing as LS
from scslab.stages import sanctions as SA
from scslab.stages import spillover as SP
from scslab.stages.common import Agents, Context, Day, Scratch
from scslab.stages.metrics import (
    C_QUIET,
    HIST_LANES,
    accumulate,
    flush_tally,
    new_tally,
    tally_block,
)
from scslab.stages.scoring import new_score, score_agent

ST_EXPOSURE, ST_SCORING, ST_LISTING, ST_SANCTIONS, ST_DUE_PROCESS, ST_METRICS = (
    1, 2, 4, 8, 16, 32)
ST_ALL = 63
"""The settle pass's parts, one bit each: the per-agent step of a stage (in this order)."""
MAX_EVENTS = SP.MAX_EVENTS + LS.MAX_EVENTS + 2 + SA.MAX_EVENTS + DP.MAX_EVENTS + 2


QUIET_BLOCK = 256  # most agents in a quiet block (whole households)


@njit(inline="always", cache=True)
def block_end(s, end, hh_off) -> int:
    """End of the block of whole households from ``s``.

    ``s`` is a household start; the block ends at the last household start at most
    QUIET_BLOCK agents on (``s`` itself when the first household alone is larger).
    """
    e = s + QUIET_BLOCK
    if e >= end:
        return end
    while e > s and hh_off[e] != 0:
        e -= 1
    return e


@njit(inline="always", cache=True)
def block_is_quiet(s, e, spill_on, has_ties, biz_listed, flags, exposure, own_flags,
                   listed_ties, listed_ties_twin, employer, b_flags) -> bool:
    """Whether a block of households is quiet today.

    No list (of any ledger), order, appeal or exposure at the start of the day in ``[s, e)``,
    and none can arise from ties or employers today.
    """
    fl, ex, of = flags[s:e], exposure[s:e], own_flags[s:e]
    acc = 0
    for j in range(e - s):
        acc |= fl[j] | ex[j] | of[j]
    if acc != 0:
        return False
    if spill_on and has_ties:
        lt, ltt = listed_ties[s:e], listed_ties_twin[s:e]
        t = 0
        for j in range(e - s):
            t |= lt[j] | ltt[j]
        if t != 0:
            return False
    if spill_on and biz_listed:
        for i in range(s, e):
            b = employer[i]
            if b >= 0 and b_flags[b] != 0:
                return False
    return True


@njit(inline="always", cache=True)
def settle_quiet_block(s, e, prm, score, twin, own, delta_rec, delta_twin, tmp_s, tmp_t,
                       tmp_o) -> bool:
    """Settle a quiet block if nobody in it crosses a list threshold today.

    Computes every new score into ``tmp_*`` first; writes them (and clears the day's
    points) only when no agent would enter the blacklist or the redlist, and returns
    whether it did. Same arithmetic as ``score_agent`` with no penalty.
    """
    max_loss, max_gain, decay = prm[P_MAX_LOSS], prm[P_MAX_GAIN], prm[P_DECAY]
    base, smin, smax = prm[P_BASE], prm[P_MIN], prm[P_MAX]
    lo = prm[P_BL_ENTER] if prm[P_BL_ON] > 0 else -np.inf
    hi = prm[P_RED_MIN] if prm[P_RED_ON] > 0 else np.inf
    # slices: indices from 0 let the compiler drop negative-index checks and vectorize
    m = e - s
    sc, tw, ow = score[s:e], twin[s:e], own[s:e]
    dr, dt = delta_rec[s:e], delta_twin[s:e]
    crossed = False
    for j in range(m):
        a = np.float32(new_score(sc[j], dr[j], 0.0, max_loss, max_gain, decay, base, smin,
                                 smax))
        b = np.float32(new_score(tw[j], dt[j], 0.0, max_loss, max_gain, decay, base, smin,
                                 smax))
        o = np.float32(new_score(ow[j], dt[j], 0.0, max_loss, max_gain, decay, base, smin,
                                 smax))
        tmp_s[j] = a
        tmp_t[j] = b
        tmp_o[j] = o
        crossed |= (a < lo) | (b < lo) | (o < lo) | (a >= hi)  # type: ignore[assignment]
    if crossed:
        return False
    for j in range(m):
        sc[j] = tmp_s[j]
        tw[j] = tmp_t[j]
        ow[j] = tmp_o[j]
        # most agents got no points today: leave their (zero) cache lines clean
        if dr[j] != 0.0:
            dr[j] = 0.0
        if dt[j] != 0.0:
            dt[j] = 0.0
    return True


class SettleTables(NamedTuple):
    """The tables the settle pass reads (picked from ``Tables``)."""

    prm: np.ndarray
    sanc_rate: np.ndarray
    sanc_lists: np.ndarray
    sanc_who: np.ndarray
    hh_mask: int
    rep_mask: int
    grade_min: np.ndarray


class SettlePeople(NamedTuple):
    """The population the settle pass reads (picked from ``People``)."""

    attr: np.ndarray
    hh_size: np.ndarray
    hh_off: np.ndarray
    employer: np.ndarray
    biz_rep: np.ndarray
    has_ties: bool


class SettleWork(NamedTuple):
    """The counters and the settle pass's scratch (picked from ``Work``)."""

    cnt: np.ndarray
    off: np.ndarray
    hist: np.ndarray
    score_tmp: np.ndarray


GROUPS = (SettleTables, SettlePeople, Agents, SettleWork)
"""The groups the settle pass takes after the day (``Context.groups``): all of ``Agents``."""


@chunk_njit
def settle_chunk(c, stages, fused, spill_on, smin, inv_width, biz_listed, cap, d, tb, pp, ag,
                 wk, pos, ends, ev) -> None:
    """Settle chunk ``c`` from ``pos[c]`` (see :func:`settle_kernel`).

    A plain (serial) function that the parallel kernel calls once per chunk: the
    parallel compiler then sees a one-line loop body instead of every stage inlined,
    which cuts the kernel's first compile about in half. ``chunk_njit`` compiles it as
    Numba compiled the loop body (see ``scslab._chunk_jit``).
    """
    day, key_list, key_sanc, key_due = d.day, d.listing, d.sanctions, d.due_process
    aware_key, aware_share, log_key, log_frac = d.aware, d.aware_share, d.log, d.log_frac
    prm, sanc_rate, sanc_lists, sanc_who = tb.prm, tb.sanc_rate, tb.sanc_lists, tb.sanc_who
    hh_mask, rep_mask, grade_min = tb.hh_mask, tb.rep_mask, tb.grade_min
    attr, hh_size, hh_off, employer = pp.attr, pp.hh_size, pp.hh_off, pp.employer
    biz_rep, has_ties = pp.biz_rep, pp.has_ties
    score, twin, own, delta_rec, delta_twin = ag.score, ag.twin, ag.own, ag.delta_rec, ag.delta_twin
    flags, exposure, bl_since, tbl_since = ag.flags, ag.exposure, ag.bl_since, ag.tbl_since
    own_flags, obl_since = ag.own_flags, ag.obl_since
    ct_until, tct_until, appeal_day = ag.ct_until, ag.tct_until, ag.appeal_day
    listed_ties, listed_ties_twin, b_flags = ag.listed_ties, ag.listed_ties_twin, ag.b_flags
    cnt, off, hist_scratch, score_scratch = wk.cnt, wk.off, wk.hist, wk.score_tmp
    s = pos[c]
    end = ends[c]
    tmp_s, tmp_t, tmp_o = score_scratch[c, 0], score_scratch[c, 1], score_scratch[c, 2]
    hist = hist_scratch[c]
    tally = new_tally(hist)
    full = False
    while s < end and not full:
        e = block_end(s, end, hh_off)
        if e == s:
            e = s + hh_size[s]
        elif fused and block_is_quiet(s, e, spill_on, has_ties, biz_listed, flags,
                                      exposure, own_flags, listed_ties, listed_ties_twin,
                                      employer, b_flags):
            if settle_quiet_block(s, e, prm, score, twin, own, delta_rec, delta_twin, tmp_s,
                                  tmp_t, tmp_o):
                tally = tally_block(c, e - s, tmp_s, tmp_t, smin, inv_width, grade_min,
                                    hist, cnt, off, tally)
                cnt[c, C_QUIET] += e - s
                s = e
                continue
        while s < e:
            size = hh_size[s]
            if ev.count[c] + MAX_EVENTS * size > cap:
                full = True
                break
            n_rec = 0
            n_twin = 0
            first = -1
            if stages & ST_EXPOSURE:
                n_rec, n_twin, first = SP.household_listed(s, size, flags)
            for i in range(s, s + size):
                if stages & ST_EXPOSURE:
                    SP.update_exposure(c, i, s, size, n_rec, n_twin, first, spill_on,
                                       log_key, log_frac, flags, listed_ties,
                                       listed_ties_twin, employer, biz_rep, b_flags,
                                       exposure, cnt, ev)
                if stages & ST_SCORING:
                    score_agent(c, i, prm, score, twin, own, delta_rec, delta_twin, exposure,
                                cnt)
                if stages & ST_LISTING:
                    f0 = flags[i]
                    LS.list_agent(c, i, key_list, day, prm, log_key, log_frac, score, twin,
                                  own, flags, own_flags, bl_since, tbl_since, obl_since,
                                  ct_until, tct_until, ev)
                    LS.emit_union(c, i, f0, flags[i], cnt, ev)
                if stages & ST_SANCTIONS:
                    SA.sanction_agent(c, i, key_sanc, prm, log_key, log_frac, sanc_rate,
                                      sanc_lists, sanc_who, hh_mask, rep_mask, attr, flags,
                                      exposure, own_flags, cnt, off, ev)
                if stages & ST_DUE_PROCESS:
                    f0 = flags[i]
                    DP.due_process_agent(c, i, key_due, aware_key, aware_share, day, prm,
                                         log_key, log_frac, score, twin, own, flags,
                                         own_flags, bl_since, tbl_since, obl_since, ct_until,
                                         tct_until, appeal_day, cnt, ev)
                    LS.emit_union(c, i, f0, flags[i], cnt, ev)
                if stages & ST_METRICS:
                    tally = accumulate(c, i, smin, inv_width, grade_min, attr, score, twin,
                                       flags, own_flags, hist, cnt, off, tally)
            s += size
    flush_tally(c, tally, hist, cnt, off)
    pos[c] = s


@njit(parallel=True, cache=True)
def settle_kernel(stages, d, tb, pp, ag, wk, pos, ends, ev):
    """Run the selected per-agent stages over every household.

    Run the selected per-agent stages (``stages``: ``ST_*`` bits) over every household, chunk by
    chunk (:func:`settle_chunk`), chunks in parallel.

    Arguments: the ``Day``, the groups ``GROUPS`` (``SettleTables``, ``SettlePeople``,
    ``Agents``, ``SettleWork``: its ``hist`` and ``score_tmp`` are the per-chunk scratch this
    pass declares), the chunks' positions and ends, and the settle buffer (``Events``).
    """
    prm, b_flags = tb.prm, ag.b_flags
    spill_on = prm[P_SPILL_ON] > 0
    smin = prm[P_HIST_LO]
    smax = prm[P_HIST_HI]
    inv_width = N_HIST / (smax - smin) if smax > smin else 1.0
    cap = ev.agent.shape[1]
    fused = stages == ST_ALL
    biz_listed = False
    for b in range(b_flags.size):
        if b_flags[b] != 0:
            biz_listed = True
            break
    for c in prange(pos.size):
        # int64(c): the parallel lowering retypes the loop index as uint64, and the chunk
        # function must be compiled for one signature only
        settle_chunk(int64(c), stages, fused, spill_on, smin, inv_width, biz_listed, cap, d,
                     tb, pp, ag, wk, pos, ends, ev)


def begin(ctx: Context) -> None:
    """Empty the settle buffer before the day's settle pass (or passes)."""
    ctx.settle.reset()


def settle(ctx: Context, d: Day, stages: int) -> None:
    """Run the settle pass for the ``stages`` (``ST_*`` bits) over every household."""
    run_chunked(settle_kernel, (stages, d, *ctx.groups(*GROUPS)),
                ctx.starts, ctx.ends, ctx.settle, reset=False, call=ctx.call)


def end(ctx: Context, d: Day) -> None:
    """Hand the settle pass's events to the event log (every agent's: all are sampled)."""
    ctx.log.take_buffer(d.day, ctx.settle, logged_only=False)


SCRATCH = (Scratch("hist", (HIST_LANES, N_HIST), np.int32,
                   "the chunk's score histogram, in interleaved lanes"),
           Scratch("score_tmp", (3, QUIET_BLOCK), np.float32,
                   "a quiet block's new recorded, twin and own-conduct scores"))
"""The per-chunk scratch of the settle pass."""
