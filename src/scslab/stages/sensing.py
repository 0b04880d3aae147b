"""Sensing: sensors observe acts with coverage and detection, and identify the actor with errors.

A false match puts the act on someone else — preferably a look-alike of the same group, in the same
region, with the sex and age class the sensor classified (a misclassification moves the error
across those lines). A false match meant for the actor's group lands in it exactly, through the
world's group index (``World.group_members``): where no one else has the classified sex and age,
the classification is relaxed, then the region; an actor alone in their group is recorded
correctly. Vehicle recognition (``sensors.vehicles``) names the vehicle's registered owner — the
driver or another adult of the household (a fixed trait) — or, when the plate is misread, the
owner of another vehicle.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from scslab.params import P_REVIEW_ON, P_REVIEW_P
from scslab.population import AGE_CHILD, attr_age, attr_group, attr_sex, cell_of
from scslab.rng import agent_hash, below, u_hi, u_lo
from scslab.stages.common import Context, Counters, Day, StageSpec
from scslab.stages.metrics import C_MIS, C_OBS, C_REV, O_MIS_G, O_MIS_S

# Result of sensing one act (the ``kind`` field of the act buffer).
UNSEEN, CORRECT, MISATTRIBUTED, REVERSED = 0, 1, 2, 3
MAX_TRIES = 64
# Draw counters of the group pick and the vehicle sensor, far above the others (< 2^15).
SAME_GROUP_DRAW, PLATE_DRAW = 1 << 20, 1 << 21


@njit(inline="always", cache=True)
def classify(h, true_sex, true_age, sex_acc, age_acc):
    """The sex and age class a sensor reads off an act (possibly wrong)."""
    sex = true_sex if u_hi(h) < sex_acc else 1 - true_sex
    age = true_age
    if u_lo(h) >= age_acc:
        age = (true_age + 1 + (h >> 20) % 2) % 3
    return sex, age


@njit(cache=True)
def pick_target(key, actor, b, attr, lo, hi, want_sex, want_age, want_group, use_attrs,
                same_group) -> int:
    """A wrongly matched agent in ``[lo, hi)``, never the actor.

    Rejection sampling: first a look-alike (classified sex and age, and the actor's
    group when ``same_group``), then relax the group, then the attributes.
    """
    m = hi - lo
    if m <= 1:
        return actor
    for level in range(3):
        for t in range(MAX_TRIES):
            h = agent_hash(key, actor, 3000 + b * 256 + level * 64 + t)
            v = lo + below(h, m)
            if v == actor:
                continue
            a = attr[v]
            if level < 2 and use_attrs:
                if attr_sex(a) != want_sex or attr_age(a) != want_age:
                    continue
            if level == 0 and same_group and attr_group(a) != want_group:
                continue
            return v
    v = lo + below(agent_hash(key, actor, 2999), m - 1)
    return v + 1 if v >= actor else v


@njit(inline="always", cache=True)
def position(members, lo, hi, v) -> int:
    """Position of agent ``v`` in the sorted ids ``members[lo:hi]`` (where it would go)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if members[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def pick_in_group(key, actor, b, members, cells, n_regions, group, region, sex, age, want_sex,
                  want_age, use_attrs, region_scope) -> int:
    """A wrongly matched agent of the actor's own group, drawn exactly, never the actor.

    Uniform over, in turn: the group's members with the classified sex and age in scope (the
    actor's region, or every region); the group's members in scope; (region scope) the group's
    members anywhere. Returns ``actor`` when it is the group's only member. ``members`` and
    ``cells`` are the world's group index (``World.group_members`` / ``group_cells``).
    """
    own = cell_of(group, region, sex, age, n_regions)
    r0, r1 = (region, region + 1) if region_scope else (0, n_regions)
    for level in range(3):
        if (level == 0 and not use_attrs) or (level == 2 and not region_scope):
            continue
        h = agent_hash(key, actor, SAME_GROUP_DRAW + b * 4 + level)
        if level == 0:  # one cell per region in scope
            m = 0
            for r in range(r0, r1):
                k = cell_of(group, r, want_sex, want_age, n_regions)
                m += cells[k + 1] - cells[k] - (1 if k == own else 0)
            if m <= 0:
                continue
            j = below(h, m)
            for r in range(r0, r1):
                k = cell_of(group, r, want_sex, want_age, n_regions)
                lo, hi = cells[k], cells[k + 1]
                size = hi - lo - (1 if k == own else 0)
                if j < size:
                    pos = lo + j
                    if k == own and pos >= position(members, lo, hi, actor):
                        pos += 1
                    return int(members[pos])
                j -= size
            continue
        if level == 1:  # the group in scope: one range that holds the actor
            lo = cells[cell_of(group, r0, 0, 0, n_regions)]
            hi = cells[cell_of(group, r1, 0, 0, n_regions)]
        else:  # the group anywhere
            lo = cells[cell_of(group, 0, 0, 0, n_regions)]
            hi = cells[cell_of(group + 1, 0, 0, 0, n_regions)]
        m = hi - lo - 1
        if m <= 0:
            continue
        pos = lo + below(h, m)
        if pos >= position(members, cells[own], cells[own + 1], actor):
            pos += 1
        return int(members[pos])
    return actor


@njit(inline="always", cache=True)
def vehicle_owner(vkey, i, share, attr, hh_off, hh_size) -> int:
    """The registered owner of the vehicle agent ``i`` drives (a fixed trait of the world).

    With probability ``share`` another adult or elderly member of ``i``'s household, chosen
    uniformly (``i`` itself when there is none), else ``i``.
    """
    h = agent_hash(vkey, i, 0)
    if u_lo(h) >= share:
        return i
    start = i - hh_off[i]
    end = start + hh_size[i]
    m = 0
    for v in range(start, end):
        if v != i and attr_age(attr[v]) != AGE_CHILD:
            m += 1
    if m == 0:
        return i
    j = below(h, m)
    for v in range(start, end):
        if v != i and attr_age(attr[v]) != AGE_CHILD:
            if j == 0:
                return v
            j -= 1
    return i


@njit(cache=True)
def pick_other_owner(key, actor, b, attr, lo, hi) -> int:
    """The owner of a misread plate: an adult or elderly agent in ``[lo, hi)``, not the actor.

    Rejection sampling (adults are most agents: 64 tries fail with probability below 1e-30 at
    a child share of 1/3); then anyone but the actor.
    """
    m = hi - lo
    if m <= 1:
        return actor
    for t in range(MAX_TRIES):
        v = lo + below(agent_hash(key, actor, PLATE_DRAW + 4096 + b * 64 + t), m)
        if v != actor and attr_age(attr[v]) != AGE_CHILD:
            return v
    v = lo + below(agent_hash(key, actor, PLATE_DRAW + 4095), m - 1)
    return v + 1 if v >= actor else v


class SensingTables(NamedTuple):
    """The tables the sensing kernel reads (picked from ``Tables``)."""

    prm: np.ndarray
    sens_prob: np.ndarray
    sens_fmr: np.ndarray
    sens_scope: np.ndarray
    sens_class: np.ndarray
    sens_same_group: np.ndarray
    sens_vehicle: np.ndarray


class SensingPeople(NamedTuple):
    """The population the sensing kernel reads (picked from ``People``)."""

    n: int
    attr: np.ndarray
    region: np.ndarray
    region_start: np.ndarray
    hh_off: np.ndarray
    hh_size: np.ndarray
    group_members: np.ndarray
    group_cells: np.ndarray
    vehicle_key: np.uint64


GROUPS = (SensingTables, SensingPeople, Counters)
"""The narrow groups the sensing kernel takes after the day (``Context.groups``)."""


@njit(parallel=True, cache=True)
def sensing_kernel(d, tb, pp, wk, ev):
    """Turn each act in the acts buffer ``ev`` into an attributed event (in place).

    Arguments: the ``Day``, the narrow groups ``GROUPS`` (``SensingTables``,
    ``SensingPeople``, ``Counters``) and the acts buffer (``Events``).
    """
    key, prm, attr, region, cnt, off = d.sensing, tb.prm, pp.attr, pp.region, wk.cnt, wk.off
    sens_prob, sens_fmr, sens_scope = tb.sens_prob, tb.sens_fmr, tb.sens_scope
    sens_class, sens_same_group, sens_vehicle = tb.sens_class, tb.sens_same_group, tb.sens_vehicle
    region_start, n_agents = pp.region_start, pp.n
    members, cells, vkey = pp.group_members, pp.group_cells, pp.vehicle_key
    n_regions = region_start.size - 1
    has_index = members.size > 0
    ev_agent, ev_other, ev_kind, ev_code = ev.agent, ev.other, ev.kind, ev.code
    ev_sensor, ev_count = ev.sensor, ev.count
    n_s = sens_prob.shape[0]
    review_on = prm[P_REVIEW_ON] > 0
    review_p = prm[P_REVIEW_P]
    for c in prange(ev_count.size):
        for j in range(ev_count[c]):
            i = ev_agent[c, j]
            b = ev_code[c, j]
            r = region[i]
            a = attr[i]
            g = attr_group(a)
            claimed = -1
            for s in range(n_s):
                p = sens_prob[s, r, b]
                if p <= 0.0:
                    continue
                h = agent_hash(key, i, 1000 + b * 64 + s)
                if u_hi(h) < p:
                    claimed = s
                    break
            if claimed < 0:
                ev_kind[c, j] = UNSEEN
                continue
            s = claimed
            cnt[c, C_OBS] += 1
            ev_sensor[c, j] = s
            if sens_scope[s] == 0:
                lo = region_start[r]
                hi = region_start[r + 1]
            else:
                lo = 0
                hi = n_agents
            t = i
            if sens_vehicle[s] >= 0.0:  # the plate names a vehicle, the record its owner
                if u_hi(agent_hash(key, i, PLATE_DRAW + b)) < sens_fmr[s, g]:
                    t = pick_other_owner(key, i, b, attr, lo, hi)
                else:
                    t = vehicle_owner(vkey, i, sens_vehicle[s], attr, pp.hh_off, pp.hh_size)
            else:
                h = agent_hash(key, i, 2000 + b)
                if u_hi(h) < sens_fmr[s, g]:
                    hc = agent_hash(key, i, 2500 + b)
                    use_attrs = sens_class[s, 0] > 0
                    want_sex, want_age = classify(hc, attr_sex(a), attr_age(a), sens_class[s, 1],
                                                  sens_class[s, 2])
                    same = u_lo(h) < sens_same_group[s]
                    if same and has_index:
                        t = pick_in_group(key, i, b, members, cells, n_regions, int(g), int(r),
                                          int(attr_sex(a)), int(attr_age(a)), want_sex,
                                          want_age, use_attrs, sens_scope[s] == 0)
                    else:
                        t = pick_target(key, i, b, attr, lo, hi, want_sex, want_age, g,
                                        use_attrs, same)
            ev_other[c, j] = t
            if t == i:
                ev_kind[c, j] = CORRECT
            elif review_on and u_hi(agent_hash(key, i, 2600 + b)) < review_p:
                ev_kind[c, j] = REVERSED
                cnt[c, C_REV] += 1
            else:
                ev_kind[c, j] = MISATTRIBUTED
                cnt[c, C_MIS] += 1
                cnt[c, off[O_MIS_G] + attr_group(attr[t])] += 1
                cnt[c, off[O_MIS_S] + s] += 1


def sense(ctx: Context, d: Day) -> None:
    """Attribute the day's acts in ``ctx.acts`` (the ``sensing`` call of the day)."""
    ctx.call(sensing_kernel, d, *ctx.groups(*GROUPS), ctx.acts.rows())


SPEC = StageSpec(
    name="sensing",
    doc="Sensors observe acts and identify the actor, with false matches onto look-alikes.",
    streams=("sensing",),
    kernels=(sensing_kernel, pick_target, pick_in_group, pick_other_owner),
    counters=("C_OBS", "C_MIS", "C_REV", "O_MIS_G", "O_MIS_S"),
)
