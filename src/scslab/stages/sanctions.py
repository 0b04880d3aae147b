"""Sanctions and rewards: attempts become denials for the sanctioned.

Sanctions and rewards: agents try to fly, take a train, buy property, get a mortgage, claim a
social service or enrol a child in a private school; for the listed — and, by joint punishment, for
their household members and the legal representatives of listed businesses — an attempt becomes a
denial. Redlisted agents claim rewards. Denials to agents listed only through others (listed by
the recorded and the twin ledger, not by their own conduct) count as collateral.
"""

from __future__ import annotations

from numba import njit

from scslab.events import EV_DENIAL, EV_REWARD
from scslab.params import P_REWARD_RATE, P_REWARDS_ON
from scslab.population import attr_age
from scslab.rng import agent_hash, u_hi, u_lo
from scslab.stages.common import StageSpec, emit, is_logged
from scslab.stages.metrics import (
    C_COLLATERAL,
    C_DENIED_COLLATERAL,
    C_DENIED_THROUGH,
    C_DENIED_WRONGFUL,
    C_REWARDS,
    C_SANCTIONED,
    O_DENIED,
)
from scslab.state import F_LISTED, F_RED, F_TLISTED, X_HH, X_REP, own_listed

MAX_EVENTS = 7  # one denial per kind (6) and a reward


@njit(inline="always", cache=True)
def attempts(who, age) -> bool:
    """Whether an agent of this age class makes this kind of attempt at all."""
    if who == 1:
        return age != 0
    if who == 2:
        return age == 0
    return True


@njit(inline="always", cache=True)
def sanction_agent(c, i, key, prm, log_key, log_frac, sanc_rate, sanc_lists, sanc_who,
                   hh_mask, rep_mask, attr, flags, exposure, own_flags, cnt, off,
                   ev) -> None:
    """Turn agent ``i``'s attempts into denials if sanctioned; rewards if redlisted.

    A sanction is collateral when it comes only from others: through a listed relative or
    business, or through a listing that is itself through others (on the recorded and the twin
    list but not on the own-conduct list).
    """
    f = flags[i]
    x = exposure[i]
    own = f & F_LISTED
    if own == 0 and (x & (X_HH | X_REP)) == 0 and (f & F_RED) == 0:
        return
    age = attr_age(attr[i])
    wrongful = own != 0 and (f & F_TLISTED) == 0
    through = own != 0 and (f & F_TLISTED) != 0 and not own_listed(f, own_flags[i])
    spill_only = False
    sanctioned = False
    for k in range(sanc_rate.size):
        if not attempts(sanc_who[k], age):
            continue
        direct = (own & sanc_lists[k]) != 0
        via_hh = (x & X_HH) != 0 and ((hh_mask >> k) & 1) == 1
        via_rep = (x & X_REP) != 0 and ((rep_mask >> k) & 1) == 1
        if not (direct or via_hh or via_rep):
            continue
        sanctioned = True
        if not direct:
            spill_only = True
        if u_hi(agent_hash(key, i, k)) < sanc_rate[k]:
            cnt[c, off[O_DENIED] + k] += 1
            if direct:
                if wrongful:
                    cnt[c, C_DENIED_WRONGFUL] += 1
                elif through:
                    cnt[c, C_DENIED_THROUGH] += 1
                    cnt[c, C_DENIED_COLLATERAL] += 1
            else:
                cnt[c, C_DENIED_COLLATERAL] += 1
            if is_logged(log_key, log_frac, i):
                reason = (3 if through else 0) if direct else (1 if via_hh else 2)
                emit(c, i, -1, EV_DENIAL, k, reason, 1.0, ev)
    if sanctioned:
        cnt[c, C_SANCTIONED] += 1
        if (own == 0 and spill_only) or through:
            cnt[c, C_COLLATERAL] += 1
    if prm[P_REWARDS_ON] > 0 and (f & F_RED) != 0:
        if u_lo(agent_hash(key, i, 63)) < prm[P_REWARD_RATE]:
            cnt[c, C_REWARDS] += 1
            if is_logged(log_key, log_frac, i):
                emit(c, i, -1, EV_REWARD, 0, -1, 1.0, ev)


SPEC = StageSpec(
    name="sanctions",
    doc="Attempts become denials for the listed, their households and representatives.",
    streams=("sanctions",),
    counters=("O_DENIED", "C_DENIED_WRONGFUL", "C_DENIED_COLLATERAL", "C_DENIED_THROUGH",
              "C_SANCTIONED", "C_COLLATERAL", "C_REWARDS"),
    reads=("F_LISTED", "F_TLISTED", "F_TCT", "F_RED", "X_HH", "X_REP", "O_BL"),
)
