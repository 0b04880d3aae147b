"""Behaviour: agents act. Each act's probability per day depends on the agent's
disposition and age, on deterrence (listed agents and agents who know the rules
commit fewer penalised acts) and, for speech, on chilling (perceived monitoring,
listed ties, being listed oneself)."""

from __future__ import annotations

import math

import numpy as np
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
from scslab.stages.metrics import O_ACTS


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
def rate_bound(d, age, coef, other_b, beh_rate, beh_dexp, beh_age, boost) -> float:
    """An upper bound on the sum of an agent's act probabilities (cheap: no ``pow``).

    ``coef[age]`` sums the bounded base rates of the behaviours whose disposition
    exponent is 0, 1, −1 or ½; the few others are added one by one.
    """
    c = coef[age]
    s = c[0] + c[1] * d + c[2] / d + c[3] * math.sqrt(d)
    for j in range(other_b.size):
        b = other_b[j]
        s += beh_rate[b] * beh_age[b, age] * d ** beh_dexp[b] * boost[b]
    return s


@njit(parallel=True, cache=True)
def behaviour_kernel(key, aware_key, aware_share, prm, beh_rate, beh_dexp, beh_age, beh_pen,
                     chill_risk, coef, other_b, boost, attr, region, disposition, flags,
                     listed_ties, tie_ptr, has_ties, cnt, off,
                     pos, ends, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
                     ev_count):
    """Draw the day's acts; each act goes into its chunk's buffer as (agent, behaviour).

    Acts of different behaviours are independent Bernoulli draws. Most agents do
    nothing on most days, so one uniform ``u0`` is first compared with a cheap upper
    bound ``S`` of the sum of the agent's bounded probabilities ``p̄_b``: when
    ``u0 ≥ S`` the agent has no candidate act (probability 1 − S). Otherwise the
    exact probability of no candidate, ``Q = Π(1 − p̄_b)``, is completed with the same
    ``u0`` (no candidate when ``u0 < Q + S − 1``), candidates are drawn conditionally
    on at least one, and each is kept with probability ``p_b / p̄_b`` (deterrence and
    chilling only lower a rate below its bound). The result is exactly independent
    Bernoulli(``p_b``) acts.
    """
    n_b = beh_rate.size
    det_listed = prm[P_DET_LISTED]
    det_known = prm[P_DET_KNOWN]
    chill_b = int(prm[P_CHILL_B])
    strength = prm[P_CHILL_STRENGTH]
    tie_w = prm[P_CHILL_TIE_W]
    self_w = prm[P_CHILL_SELF_W]
    cap = ev_agent.shape[1]
    for c in prange(pos.size):
        pbar = np.empty(n_b, np.float64)
        suffix = np.empty(n_b + 1, np.float64)
        i = pos[c]
        end = ends[c]
        while i < end:
            if ev_count[c] + n_b > cap:
                break
            a = attr[i]
            age = (a >> 1) & 3
            d = disposition[i]
            u0 = u_hi(agent_hash(key, i, 0))
            bound = rate_bound(d, age, coef, other_b, beh_rate, beh_dexp, beh_age, boost)
            if u0 >= bound:
                i += 1
                continue
            q = 1.0
            for b in range(n_b):
                pb = beh_rate[b] * beh_age[b, age] * disposition_factor(d, beh_dexp[b]) * boost[b]
                if pb > 1.0:
                    pb = 1.0
                pbar[b] = pb
            suffix[n_b] = 1.0
            for b in range(n_b - 1, -1, -1):
                suffix[b] = suffix[b + 1] * (1.0 - pbar[b])
            q = suffix[0]
            if bound < 1.0 and u0 < q + bound - 1.0:
                i += 1
                continue
            listed = (flags[i] & F_LISTED) != 0
            deterrence = det_listed if listed else 1.0
            if det_known != 1.0 and knows_rules(aware_key, aware_share, i):
                deterrence *= det_known
            found = bound >= 1.0
            h = agent_hash(key, i, 1)
            for b in range(n_b):
                if b & 1:
                    u = u_lo(h)
                else:
                    if b > 0:
                        h = agent_hash(key, i, 1 + (b >> 1))
                    u = u_hi(h)
                pb = pbar[b]
                if pb <= 0.0:
                    continue
                if not found:
                    p_cond = pb / (1.0 - suffix[b])
                    hit = u < p_cond
                else:
                    hit = u < pb
                if not hit:
                    continue
                found = True
                p = pb
                if beh_pen[b]:
                    p *= deterrence
                if b == chill_b and strength > 0.0:
                    deg = 0
                    if has_ties:
                        deg = tie_ptr[i + 1] - tie_ptr[i]
                    p *= chilling_factor(chill_risk[region[i]], strength, tie_w, self_w,
                                         listed_ties[i], deg, listed)
                if p < pb and u_hi(agent_hash(key, i, 64 + b)) * pb >= p:
                    continue
                j = ev_count[c]
                ev_agent[c, j] = i
                ev_code[c, j] = b
                ev_other[c, j] = -1
                ev_kind[c, j] = 0
                ev_sensor[c, j] = -1
                ev_value[c, j] = 0.0
                ev_count[c] = j + 1
                cnt[c, off[O_ACTS] + b] += 1
            i += 1
        pos[c] = i


def bound_tables(beh_rate: np.ndarray, beh_dexp: np.ndarray, beh_age: np.ndarray,
                 beh_pen: np.ndarray, det_listed: float, det_known: float):
    """Host-side tables for ``rate_bound``: grouped coefficients, other behaviours, boosts.

    ``boost[b]`` ≥ 1 covers deterrence multipliers above 1, so ``p̄_b`` bounds ``p_b``.
    """
    boost = np.ones(beh_rate.size)
    up = max(1.0, det_listed) * max(1.0, det_known)
    boost[beh_pen.astype(bool)] = up
    coef = np.zeros((4, 4))
    other = []
    groups = {0.0: 0, 1.0: 1, -1.0: 2, 0.5: 3}
    for b in range(beh_rate.size):
        g = groups.get(float(beh_dexp[b]))
        if g is None:
            other.append(b)
            continue
        for age in range(3):
            coef[age, g] += beh_rate[b] * beh_age[b, age] * boost[b]
    return coef, np.array(other, dtype=np.int64), boost
