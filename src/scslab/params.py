"""The scenario compiled into flat numeric tables that the kernels read.

Scalars live in one float64 vector ``prm`` indexed by the ``P_*`` constants,
so kernels take few arguments and the same source can later compile for a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scslab.scenario.schema import SANCTION_KINDS, Cameras, Scenario, Transparency, Vehicles
from scslab.state import F_BL, F_CT

(P_BASE, P_MIN, P_MAX, P_DECAY, P_MAX_LOSS, P_MAX_GAIN,
 P_BL_ON, P_BL_ENTER, P_BL_EXIT, P_BL_MIN_DAYS,
 P_CT_ON, P_CT_TRIGGER, P_CT_TERM, P_CT_FULFIL,
 P_RED_ON, P_RED_MIN,
 P_REWARDS_ON, P_REWARD_RATE,
 P_SPILL_ON, P_HH_PEN, P_TIE_PEN, P_EMP_PEN,
 P_BIZ_REP_PTS, P_BIZ_ENTER, P_BIZ_EXIT, P_BIZ_DECAY,
 P_AWARE,
 P_APPEALS_ON, P_APPEAL_FILE_KNOWN, P_APPEAL_FILE_UNKNOWN, P_APPEAL_DELAY,
 P_APPEAL_OK_WRONG, P_APPEAL_OK_RIGHT,
 P_REVIEW_ON, P_REVIEW_P,
 P_EXPIRY_ON, P_EXPIRY_DAYS,
 P_REPAIR_ON, P_REPAIR_RATE, P_REPAIR_PTS,
 P_DET_LISTED, P_DET_KNOWN,
 P_CHILL_B, P_CHILL_STRENGTH, P_CHILL_TIE_W, P_CHILL_SELF_W,
 P_LOG_FRAC, P_HIST_LO, P_HIST_HI, P_N) = range(50)

N_HIST = 256  # score histogram bins (for the percentile fan)
HIST_BELOW, HIST_ABOVE = 640.0, 320.0  # histogram window around the base score


@dataclass
class Params:
    """Numeric form of a scenario."""

    prm: np.ndarray  # float64 scalars, see P_*
    behaviour_names: list[str]
    beh_rate: np.ndarray  # (B,) float64
    beh_dexp: np.ndarray  # (B,) float64
    beh_age: np.ndarray  # (B, 3) float64
    beh_penalised: np.ndarray  # (B,) uint8: 1 when the national rule takes points away
    points: np.ndarray  # (R, B) float32
    sensor_names: list[str]
    sens_prob: np.ndarray  # (S, R, B) float64: coverage × detection, 0 when not observed
    sens_fmr: np.ndarray  # (S, G) float64: false-match rate per actor group
    sens_scope: np.ndarray  # (S,) uint8: 0 region, 1 population
    sens_class: np.ndarray  # (S, 3) float64: [enabled, sex accuracy, age accuracy]
    sens_same_group: np.ndarray  # (S,) float64
    sens_vehicle: np.ndarray  # (S,) float64: owner-is-other share of a vehicle sensor, else -1
    sensor_keys: list[str]  # every sensor of the scenario, enabled or not (per-sensor columns)
    chill_risk: np.ndarray  # (R,) float64 perceived surveillance of the chilled act
    sanction_names: list[str]
    sanc_rate: np.ndarray  # (K,) float64
    sanc_lists: np.ndarray  # (K,) uint8 mask: state.F_BL / state.F_CT bits
    sanc_who: np.ndarray  # (K,) uint8: 0 all, 1 adults only, 2 children only
    hh_sanc_mask: int  # bit k: sanction k extends to household members
    rep_sanc_mask: int  # bit k: sanction k binds a listed business's representative
    grade_names: list[str]
    grade_min: np.ndarray  # (G,) float64, highest first
    group_names: list[str]
    region_names: list[str]
    reference_group: str | None = None  # fairness measures' reference (None: the largest)


#: ``Sanction.attempted_by`` → the code the sanctions kernel reads (``sanctions.attempts``).
ATTEMPTED_BY = {"all": 0, "adults": 1, "children": 2}


def sanction_who(attempted_by: str) -> int:
    """Who attempts a sanctioned act: 0 everyone, 1 adults (the elderly too), 2 children."""
    return ATTEMPTED_BY[attempted_by]


def compile_params(sc: Scenario, n_agents: int) -> Params:
    """Turn a validated scenario into the tables the kernels use."""
    pol = sc.policy
    gov = sc.governance
    resp = sc.responses
    bnames = list(sc.behaviours)
    bidx = {b: i for i, b in enumerate(bnames)}
    regions = sc.population.regions
    groups = [g.name for g in sc.population.groups]
    n_r, n_b = len(regions), len(bnames)

    prm = np.zeros(P_N, dtype=np.float64)
    s = pol.scoring
    prm[P_BASE], prm[P_MIN], prm[P_MAX], prm[P_DECAY] = s.base, s.minimum, s.maximum, s.decay
    prm[P_MAX_LOSS] = math.inf if s.max_daily_loss is None else s.max_daily_loss
    prm[P_HIST_LO] = max(s.minimum, s.base - HIST_BELOW)
    prm[P_HIST_HI] = max(min(s.maximum, s.base + HIST_ABOVE), prm[P_HIST_LO] + 1.0)
    prm[P_MAX_GAIN] = math.inf if s.max_daily_gain is None else s.max_daily_gain
    bl, ct, red = pol.lists.blacklist, pol.lists.court, pol.lists.redlist
    prm[P_BL_ON], prm[P_BL_ENTER], prm[P_BL_EXIT], prm[P_BL_MIN_DAYS] = (
        bl.enabled, bl.enter_below, bl.exit_at_or_above, bl.min_days)
    prm[P_CT_ON] = ct.enabled
    prm[P_CT_TRIGGER] = bidx.get(ct.trigger, -1) if ct.enabled else -1
    prm[P_CT_TERM], prm[P_CT_FULFIL] = ct.term_days, ct.fulfil_rate
    prm[P_RED_ON], prm[P_RED_MIN] = red.enabled, red.min_score
    prm[P_REWARDS_ON], prm[P_REWARD_RATE] = pol.rewards.enabled, pol.rewards.rate
    sp = pol.spillover
    prm[P_SPILL_ON] = sp.enabled
    prm[P_HH_PEN], prm[P_TIE_PEN], prm[P_EMP_PEN] = (sp.household.penalty, sp.ties.penalty,
                                                     sp.employer.employee_penalty)
    e = sp.employer
    prm[P_BIZ_REP_PTS], prm[P_BIZ_ENTER], prm[P_BIZ_EXIT], prm[P_BIZ_DECAY] = (
        e.representative_listed_points, e.business_enter_below, e.business_exit_at_or_above,
        e.business_decay)
    published = gov.transparency == Transparency.published
    det = resp.deterrence
    prm[P_AWARE] = det.awareness_published if published else det.awareness_secret
    a = gov.appeals
    prm[P_APPEALS_ON], prm[P_APPEAL_FILE_KNOWN], prm[P_APPEAL_FILE_UNKNOWN] = (
        a.enabled, a.filing_probability_known, a.filing_probability_unknown)
    prm[P_APPEAL_DELAY], prm[P_APPEAL_OK_WRONG], prm[P_APPEAL_OK_RIGHT] = (
        a.review_delay_days, a.success_if_wrong, a.success_if_right)
    prm[P_REVIEW_ON] = gov.evidence_review.enabled
    prm[P_REVIEW_P] = gov.evidence_review.reversal_probability
    prm[P_EXPIRY_ON], prm[P_EXPIRY_DAYS] = gov.expiry.enabled, gov.expiry.days
    cr = gov.credit_repair
    prm[P_REPAIR_ON], prm[P_REPAIR_RATE], prm[P_REPAIR_PTS] = cr.enabled, cr.rate, cr.points
    prm[P_DET_LISTED], prm[P_DET_KNOWN] = det.listed_multiplier, det.known_rules_multiplier
    ch = resp.chilling
    prm[P_CHILL_B] = bidx.get(ch.behaviour, -1)
    prm[P_CHILL_STRENGTH], prm[P_CHILL_TIE_W], prm[P_CHILL_SELF_W] = (
        ch.strength, ch.tie_weight, ch.self_weight)
    log = sc.output.event_log
    if not log.enabled:
        prm[P_LOG_FRAC] = 0.0
    elif n_agents <= log.full_below:
        prm[P_LOG_FRAC] = 1.0
    else:
        prm[P_LOG_FRAC] = min(1.0, log.sample_agents / max(n_agents, 1))

    beh = [sc.behaviours[b] for b in bnames]
    beh_rate = np.array([x.rate for x in beh], dtype=np.float64)
    beh_dexp = np.array([x.disposition_exponent for x in beh], dtype=np.float64)
    beh_age = np.array([[x.age.child, x.age.adult, x.age.elderly] for x in beh], dtype=np.float64)
    points = np.zeros((n_r, n_b), dtype=np.float32)
    for b, name in enumerate(bnames):
        points[:, b] = pol.rules.get(name, 0.0)
    for r, reg in enumerate(regions):
        for name, pts in reg.rules.items():
            points[r, bidx[name]] = pts
    beh_pen = np.array([pol.rules.get(b, 0.0) < 0 or any(reg.rules.get(b, 0.0) < 0
                                                          for reg in regions)
                        for b in bnames], dtype=np.uint8)

    sensors = [(name, x) for name, x in sc.sensors.items() if x.enabled and x.observes]
    n_s = len(sensors)
    sens_prob = np.zeros((max(n_s, 1), n_r, n_b), dtype=np.float64)
    sens_fmr = np.zeros((max(n_s, 1), len(groups)), dtype=np.float64)
    sens_scope = np.zeros(max(n_s, 1), dtype=np.uint8)
    sens_class = np.zeros((max(n_s, 1), 3), dtype=np.float64)
    sens_same = np.zeros(max(n_s, 1), dtype=np.float64)
    sens_vehicle = np.full(max(n_s, 1), -1.0, dtype=np.float64)
    for k, (_name, x) in enumerate(sensors):
        for r, reg in enumerate(regions):
            cov = x.coverage
            if isinstance(x, Cameras) and x.density_coverage:
                cov = 1.0 - math.exp(-reg.cameras_per_1000 / x.saturation_per_1000)
            for act in x.observes:
                sens_prob[k, r, bidx[act]] = cov * x.detection
        for g, gname in enumerate(groups):
            sens_fmr[k, g] = min(1.0, x.false_match_rate * x.group_multipliers.get(gname, 1.0))
        sens_scope[k] = 0 if x.scope == "region" else 1
        c = x.classification
        sens_class[k] = (1.0 if c.enabled else 0.0, c.sex_accuracy, c.age_accuracy)
        sens_same[k] = x.same_group_preference
        if isinstance(x, Vehicles):
            sens_vehicle[k] = x.owner_is_other_household_member

    chill_risk = np.zeros(n_r, dtype=np.float64)
    cb = int(prm[P_CHILL_B])
    if cb >= 0:
        for r in range(n_r):
            p_seen = 1.0 - np.prod(1.0 - sens_prob[:n_s, r, cb]) if n_s else 0.0
            chill_risk[r] = ch.surveillance_weight * p_seen * max(0.0, -float(points[r, cb])) / 100

    kinds = list(SANCTION_KINDS)
    sanc = [getattr(pol.sanctions, k) for k in kinds]
    sanc_rate = np.array([x.attempt_rate for x in sanc], dtype=np.float64)
    sanc_lists = np.array([(F_BL if "blacklist" in x.lists else 0) | (F_CT if "court" in x.lists
                                                                       else 0) for x in sanc],
                          dtype=np.uint8)
    sanc_who = np.array([sanction_who(x.attempted_by) for x in sanc],
                        dtype=np.uint8)
    hh_mask = sum(1 << kinds.index(k) for k in set(sp.household.sanctions))
    rep_mask = sum(1 << kinds.index(k) for k in set(e.representative_sanctions))

    return Params(
        prm=prm, behaviour_names=bnames, beh_rate=beh_rate, beh_dexp=beh_dexp, beh_age=beh_age,
        beh_penalised=beh_pen, points=points, sensor_names=[n for n, _ in sensors],
        sens_prob=sens_prob[:n_s] if n_s else sens_prob[:0], sens_fmr=sens_fmr[:n_s],
        sens_scope=sens_scope[:n_s], sens_class=sens_class[:n_s], sens_same_group=sens_same[:n_s],
        sens_vehicle=sens_vehicle[:n_s], sensor_keys=[n for n, _ in sc.sensors.items()],
        chill_risk=chill_risk, sanction_names=kinds, sanc_rate=sanc_rate, sanc_lists=sanc_lists,
        sanc_who=sanc_who, hh_sanc_mask=hh_mask, rep_sanc_mask=rep_mask,
        grade_names=[g.name for g in pol.grades],
        grade_min=np.array([g.min_score for g in pol.grades], dtype=np.float64),
        group_names=groups, region_names=[r.name for r in regions],
        reference_group=sc.population.reference_group)
