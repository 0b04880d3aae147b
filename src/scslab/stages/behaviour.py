"""Behaviour: agents act. Each act's probability per day depends on the agent's
disposition and age, on deterrence (listed agents and agents who know the rules
commit fewer penalised acts) and, for speech, on chilling (perceived monitoring,
listed ties, being listed oneself)."""

from __future__ import annotations

import math

from numba import njit, prange

from scslab.params import (
    F_LISTED,
    P_CHILL_B,
    P_CHILL_SELF_W,
    P_CHILL_STRENGTH,
    P_CHILL_TIE_W,
    P_DET_KNOWN,
    P_DET_LISTED,
)
from scslab.rng import agent_hash, u_hi, u_lo
from scslab.stages.common import knows_rules


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


@njit(parallel=True, cache=True)
def behaviour_kernel(key, aware_key, aware_share, prm, beh_rate, beh_dexp, beh_age, beh_pen,
                     chill_risk, attr, region, disposition, flags, listed_ties, tie_ptr,
                     has_ties, acts_count,
                     pos, ends, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
                     ev_count):
    """Draw the day's acts; each act goes into its chunk's buffer as (agent, behaviour)."""
    n_b = beh_rate.size
    det_listed = prm[P_DET_LISTED]
    det_known = prm[P_DET_KNOWN]
    chill_b = int(prm[P_CHILL_B])
    strength = prm[P_CHILL_STRENGTH]
    tie_w = prm[P_CHILL_TIE_W]
    self_w = prm[P_CHILL_SELF_W]
    cap = ev_agent.shape[1]
    for c in prange(pos.size):
        i = pos[c]
        end = ends[c]
        while i < end:
            if ev_count[c] + n_b > cap:
                break
            a = attr[i]
            age = (a >> 1) & 3
            d = disposition[i]
            listed = (flags[i] & F_LISTED) != 0
            deterrence = det_listed if listed else 1.0
            if det_known != 1.0 and knows_rules(aware_key, aware_share, i):
                deterrence *= det_known
            h = agent_hash(key, i, 0)
            for b in range(n_b):
                if b & 1:
                    u = u_lo(h)
                else:
                    if b > 0:
                        h = agent_hash(key, i, b >> 1)
                    u = u_hi(h)
                p = beh_rate[b] * beh_age[b, age]
                if p == 0.0:
                    continue
                p *= disposition_factor(d, beh_dexp[b])
                if beh_pen[b]:
                    p *= deterrence
                if b == chill_b and strength > 0.0:
                    deg = 0
                    if has_ties:
                        deg = tie_ptr[i + 1] - tie_ptr[i]
                    p *= chilling_factor(chill_risk[region[i]], strength, tie_w, self_w,
                                         listed_ties[i], deg, listed)
                if u < p:
                    j = ev_count[c]
                    ev_agent[c, j] = i
                    ev_code[c, j] = b
                    ev_other[c, j] = -1
                    ev_kind[c, j] = 0
                    ev_sensor[c, j] = -1
                    ev_value[c, j] = 0.0
                    ev_count[c] = j + 1
                    acts_count[c, b] += 1
            i += 1
        pos[c] = i
