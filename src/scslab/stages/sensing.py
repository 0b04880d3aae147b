"""Sensing: sensors observe acts with coverage and detection, and identify the actor with errors.

A false match puts the act on someone else — preferably a look-alike of the same group, in the same
region, with the sex and age class the sensor classified (a misclassification moves the error
across those lines).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from scslab.params import P_REVIEW_ON, P_REVIEW_P
from scslab.population import attr_age, attr_group, attr_sex
from scslab.rng import agent_hash, below, u_hi, u_lo
from scslab.stages.common import Context, Counters, Day, StageSpec
from scslab.stages.metrics import C_MIS, C_OBS, C_REV, O_MIS_G

# Result of sensing one act (the ``kind`` field of the act buffer).
UNSEEN, CORRECT, MISATTRIBUTED, REVERSED = 0, 1, 2, 3
MAX_TRIES = 64


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


class SensingTables(NamedTuple):
    """The tables the sensing kernel reads (picked from ``Tables``)."""

    prm: np.ndarray
    sens_prob: np.ndarray
    sens_fmr: np.ndarray
    sens_scope: np.ndarray
    sens_class: np.ndarray
    sens_same_group: np.ndarray


class SensingPeople(NamedTuple):
    """The population the sensing kernel reads (picked from ``People``)."""

    n: int
    attr: np.ndarray
    region: np.ndarray
    region_start: np.ndarray


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
    sens_class, sens_same_group = tb.sens_class, tb.sens_same_group
    region_start, n_agents = pp.region_start, pp.n
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
            h = agent_hash(key, i, 2000 + b)
            if u_hi(h) < sens_fmr[s, g]:
                if sens_scope[s] == 0:
                    lo = region_start[r]
                    hi = region_start[r + 1]
                else:
                    lo = 0
                    hi = n_agents
                hc = agent_hash(key, i, 2500 + b)
                use_attrs = sens_class[s, 0] > 0
                want_sex, want_age = classify(hc, attr_sex(a), attr_age(a), sens_class[s, 1],
                                              sens_class[s, 2])
                same = u_lo(h) < sens_same_group[s]
                t = pick_target(key, i, b, attr, lo, hi, want_sex, want_age, g, use_attrs,
                                same)
                if t == i:
                    ev_kind[c, j] = CORRECT
                    ev_other[c, j] = i
                    continue
                ev_other[c, j] = t
                if review_on and u_hi(agent_hash(key, i, 2600 + b)) < review_p:
                    ev_kind[c, j] = REVERSED
                    cnt[c, C_REV] += 1
                else:
                    ev_kind[c, j] = MISATTRIBUTED
                    cnt[c, C_MIS] += 1
                    cnt[c, off[O_MIS_G] + attr_group(attr[t])] += 1
            else:
                ev_kind[c, j] = CORRECT
                ev_other[c, j] = i


def sense(ctx: Context, d: Day) -> None:
    """Attribute the day's acts in ``ctx.acts`` (the ``sensing`` call of the day)."""
    ctx.call(sensing_kernel, d, *ctx.groups(*GROUPS), ctx.acts.rows())


SPEC = StageSpec(
    name="sensing",
    doc="Sensors observe acts and identify the actor, with false matches onto look-alikes.",
    streams=("sensing",),
    kernels=(sensing_kernel, pick_target),
    counters=("C_OBS", "C_MIS", "C_REV", "O_MIS_G"),
)
