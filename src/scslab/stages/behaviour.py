"""Behaviour: agents act.

Each act's probability per day depends on the agent's disposition and age, on deterrence (listed
agents and agents who know the rules commit fewer penalised acts) and, for speech, on chilling
(perceived monitoring, listed ties, being listed oneself).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import int64, njit, prange, uint16, uint64

from scslab._chunk_jit import chunk_njit
from scslab.events import run_chunked
from scslab.params import (
    P_CHILL_B,
    P_CHILL_SELF_W,
    P_CHILL_STRENGTH,
    P_CHILL_TIE_W,
    P_DET_KNOWN,
    P_DET_LISTED,
)
from scslab.population import attr_age
from scslab.rng import agent_hash, u_hi
from scslab.stages.common import Context, Day, Scratch, StageSpec, knows_rules
from scslab.stages.metrics import O_ACTS
from scslab.state import F_LISTED

INV_2_16 = 1.0 / 65536.0


@njit(inline="always", cache=True)
def disposition_factor(d, exponent) -> float:
    """``d ** exponent`` with the common exponents done without ``pow``."""
    if exponent == 0.0:
        return 1.0
    if exponent == 1.0:
        return d
    if exponent == -1.0:
        return 1.0 / d
    if exponent == 0.5:
        return math.sqrt(d)
    return d ** exponent


@njit(inline="always", cache=True)
def chilling_factor(risk_region, strength, tie_w, self_w, listed_ties, degree, listed) -> float:
    """Multiplier on speech: 1 / (1 + strength × perceived risk)."""
    risk = risk_region
    if degree > 0:
        risk += tie_w * listed_ties / degree
    if listed:
        risk += self_w
    return 1.0 / (1.0 + strength * risk)


@njit(inline="always", cache=True)
def act_probability(b, age, d, beh_rate, beh_dexp, beh_age, deterrence, penalised, chill) -> float:
    """Probability that an agent does act ``b`` today (clipped to 1)."""
    p = beh_rate[b] * beh_age[b, age]
    if p == 0.0:
        return 0.0
    p *= disposition_factor(d, beh_dexp[b])
    if penalised:
        p *= deterrence
    p *= chill
    return p if p < 1.0 else 1.0


SCREEN_BLOCK = 256  # agents screened together
SCREEN_MARGIN = 1.0 + 1e-6  # keeps the screening bound above the exact probability


@njit(inline="always", cache=True)
def screen_block(key, i0, i1, ub, beh_dexp, disposition, hashes, cand) -> None:
    """Mark in ``cand`` the agents of ``[i0, i1)`` who may act today.

    Bit ``b`` is set unless the leading 16 bits of behaviour ``b``'s uniform already
    exceed an upper bound of its probability: ``ub[b]`` (the rate at the most active
    age, in units of 2^-16) times the disposition factor; deterrence and chilling
    only lower it. The loops run behaviour by behaviour over the block without
    branches, so the compiler vectorizes them; the exact draw (``draw_acts``) runs
    for marked agents only.
    """
    m = i1 - i0
    disp = disposition[i0:i1]  # indices from 0: no negative-index checks, vector loops
    for j in range(m):
        cand[j] = 0
    for b in range(ub.size):
        if (b & 3) == 0:
            g = b >> 2
            for j in range(m):
                hashes[j] = agent_hash(key, i0 + j, g)
        u = ub[b]
        if u <= 0.0:
            continue
        sh = uint64(16 * (b & 3))
        bit = uint16(1 << min(b, 15))
        e = beh_dexp[b]
        if e == 0.0:
            for j in range(m):
                top = float(int64((hashes[j] >> sh) & uint64(0xFFFF)))
                cand[j] |= bit if top < u else uint16(0)
        elif e == 1.0:
            for j in range(m):
                top = float(int64((hashes[j] >> sh) & uint64(0xFFFF)))
                cand[j] |= bit if top < u * float(disp[j]) else uint16(0)
        elif e == -1.0:
            for j in range(m):
                top = float(int64((hashes[j] >> sh) & uint64(0xFFFF)))
                cand[j] |= bit if top * float(disp[j]) < u else uint16(0)
        elif e == 0.5:
            for j in range(m):
                top = float(int64((hashes[j] >> sh) & uint64(0xFFFF)))
                cand[j] |= bit if top < u * math.sqrt(float(disp[j])) else uint16(0)
        else:
            for j in range(m):
                cand[j] |= bit  # another exponent: every agent is drawn exactly


@njit(inline="always", cache=True)
def draw_acts(c, i, mask, key, aware_key, aware_share, prm, beh_rate, beh_dexp, beh_age,
              beh_pen, chill_risk, attr, region, disposition, flags, listed_ties, tie_ptr,
              has_ties, cnt, off, ev) -> None:
    """Agent ``i``'s acts today: exact Bernoulli draws, each act into the chunk's buffer.

    ``mask`` is the screen's mark: behaviours below 15 whose bit is clear cannot
    happen today and are skipped.
    """
    n_b = beh_rate.size
    det_listed = prm[P_DET_LISTED]
    det_known = prm[P_DET_KNOWN]
    chill_b = int(prm[P_CHILL_B])
    strength = prm[P_CHILL_STRENGTH]
    tie_w = prm[P_CHILL_TIE_W]
    self_w = prm[P_CHILL_SELF_W]
    age = attr_age(attr[i])
    d = disposition[i]
    listed = (flags[i] & F_LISTED) != 0
    deterrence = det_listed if listed else 1.0
    if det_known != 1.0 and knows_rules(aware_key, aware_share, i):
        deterrence *= det_known
    h = uint64(0)
    for b in range(n_b):
        if (b & 3) == 0:
            h = agent_hash(key, i, b >> 2)
        if b < 15 and (mask >> b) & 1 == 0:
            continue
        top = (h >> uint64(16 * (b & 3))) & uint64(0xFFFF)
        chill = 1.0
        if b == chill_b and strength > 0.0:
            deg = 0
            if has_ties:
                deg = tie_ptr[i + 1] - tie_ptr[i]
            chill = chilling_factor(chill_risk[region[i]], strength, tie_w, self_w,
                                    listed_ties[i], deg, listed)
        p = act_probability(b, age, d, beh_rate, beh_dexp, beh_age, deterrence,
                            beh_pen[b] != 0, chill)
        if float(top) * INV_2_16 >= p:
            continue
        u = (float(top) + u_hi(agent_hash(key, i, 64 + b))) * INV_2_16
        if u >= p:
            continue
        j = ev.count[c]
        ev.agent[c, j] = i
        ev.code[c, j] = b
        ev.other[c, j] = -1
        ev.kind[c, j] = 0
        ev.sensor[c, j] = -1
        ev.value[c, j] = 0.0
        ev.count[c] = j + 1
        cnt[c, off[O_ACTS] + b] += 1


def screening_bounds(prm, beh_rate, beh_age, beh_pen) -> np.ndarray:
    """Per-behaviour upper bounds of the daily rate, in units of 2^-16 (see ``screen_block``)."""
    lift = max(1.0, float(prm[P_DET_LISTED])) * max(1.0, float(prm[P_DET_KNOWN]))
    mult = np.where(beh_pen != 0, lift, 1.0)
    return beh_rate * beh_age.max(axis=1) * mult * 65536.0 * SCREEN_MARGIN


class BehaviourTables(NamedTuple):
    """The tables the behaviour kernel reads (picked from ``Tables``)."""

    prm: np.ndarray
    beh_rate: np.ndarray
    beh_dexp: np.ndarray
    beh_age: np.ndarray
    beh_pen: np.ndarray
    screen_ub: np.ndarray
    chill_risk: np.ndarray


class BehaviourPeople(NamedTuple):
    """The population the behaviour kernel reads (picked from ``People``)."""

    attr: np.ndarray
    region: np.ndarray
    disposition: np.ndarray
    tie_ptr: np.ndarray
    has_ties: bool


class BehaviourAgents(NamedTuple):
    """The state the behaviour kernel reads (picked from ``Agents``)."""

    flags: np.ndarray
    listed_ties: np.ndarray


class BehaviourWork(NamedTuple):
    """The counters and the screen's scratch (picked from ``Work``)."""

    cnt: np.ndarray
    off: np.ndarray
    screen_hashes: np.ndarray
    screen_marks: np.ndarray


GROUPS = (BehaviourTables, BehaviourPeople, BehaviourAgents, BehaviourWork)
"""The narrow groups the behaviour kernel takes after the day (``Context.groups``)."""


@chunk_njit
def behaviour_chunk(c, d, tb, pp, ag, wk, pos, ends, ev) -> None:
    """Draw chunk ``c``'s acts from ``pos[c]`` (see :func:`behaviour_kernel`).

    A plain function the parallel loop calls, so that the parallel compiler sees a one-line body
    ``chunk_njit`` compiles it as that body was compiled (see ``scslab._chunk_jit``).
    """
    key = d.behaviour
    n_b = tb.beh_rate.size
    cap = ev.agent.shape[1]
    i = pos[c]
    end = ends[c]
    hashes, cand = wk.screen_hashes[c], wk.screen_marks[c]
    full = False
    while i < end and not full:
        i1 = min(end, i + SCREEN_BLOCK)
        screen_block(key, i, i1, tb.screen_ub, tb.beh_dexp, pp.disposition, hashes, cand)
        for j in range(i1 - i):
            if cand[j] == 0:
                continue
            if ev.count[c] + n_b > cap:
                i += j
                full = True
                break
            draw_acts(c, i + j, cand[j], key, d.aware, d.aware_share, tb.prm, tb.beh_rate,
                      tb.beh_dexp, tb.beh_age, tb.beh_pen, tb.chill_risk, pp.attr, pp.region,
                      pp.disposition, ag.flags, ag.listed_ties, pp.tie_ptr, pp.has_ties,
                      wk.cnt, wk.off, ev)
        if not full:
            i = i1
    pos[c] = i


@njit(parallel=True, cache=True)
def behaviour_kernel(d, tb, pp, ag, wk, pos, ends, ev):
    """Draw the day's acts; each act goes into its chunk's buffer as (agent, behaviour).

    Each behaviour ``b`` has its own uniform ``u_b``, a function of (seed, day, agent,
    b) only, so acts are independent Bernoulli(``p_b``) draws and two scenarios that
    differ in one behaviour share every other behaviour's random numbers. One hash
    gives the leading 16 bits of four behaviours' uniforms; since most ``p_b`` are
    small, ``u_b`` is completed with a second hash only when those 16 bits do not
    already put it above ``p_b``. A vectorized screen (``screen_block``) skips the
    agents whose leading bits exceed a bound of every ``p_b``. Arguments: the ``Day``,
    the narrow groups ``GROUPS`` (``BehaviourTables``, ``BehaviourPeople``,
    ``BehaviourAgents``, ``BehaviourWork``), the chunks' positions and ends, and the acts
    buffer (``Events``).
    """
    for c in prange(pos.size):
        # int64(c): the parallel lowering retypes the loop index as uint64; one signature
        behaviour_chunk(int64(c), d, tb, pp, ag, wk, pos, ends, ev)


def act(ctx: Context, d: Day) -> None:
    """Draw the day's acts into ``ctx.acts`` (the ``behaviour`` call of the day)."""
    run_chunked(behaviour_kernel, (d, *ctx.groups(*GROUPS)),
                ctx.starts, ctx.ends, ctx.acts, call=ctx.call)


SPEC = StageSpec(
    name="behaviour",
    doc="Agents act: Bernoulli draws per behaviour, damped by deterrence and chilling.",
    streams=("behaviour", "awareness"),
    kernels=(behaviour_kernel, behaviour_chunk),
    scratch=(Scratch("screen_hashes", (SCREEN_BLOCK,), np.uint64,
                     "the screen's hashes, one per agent of a block"),
             Scratch("screen_marks", (SCREEN_BLOCK,), np.uint16,
                     "the screen's marks: behaviours an agent of the block may do today")),
    counters=("O_ACTS",),
    reads=("F_LISTED",),
)
