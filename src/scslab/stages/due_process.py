"""Due process: appeals, expiry of blacklist entries and credit repair.

Due process: appeals (filed more often by agents who know why they are listed; decided after a
delay, with different success rates for wrong and right records), expiry of blacklist entries, and
credit repair. Evidence review of identity matches happens at sensing time (``sensing``).
"""

from __future__ import annotations

from numba import njit

from scslab.events import (
    EV_APPEAL_DECIDED,
    EV_APPEAL_FILED,
    EV_CREDIT_REPAIR,
    EV_EXPIRED,
    EV_LIST_EXIT,
    EXIT_APPEAL,
    EXIT_LENIENCY,
)
from scslab.params import (
    P_APPEAL_DELAY,
    P_APPEAL_FILE_KNOWN,
    P_APPEAL_FILE_UNKNOWN,
    P_APPEAL_OK_RIGHT,
    P_APPEAL_OK_WRONG,
    P_APPEALS_ON,
    P_BL_EXIT,
    P_EXPIRY_DAYS,
    P_EXPIRY_ON,
    P_MAX,
    P_REPAIR_ON,
    P_REPAIR_PTS,
    P_REPAIR_RATE,
)
from scslab.rng import agent_hash, u_hi, u_lo
from scslab.stages.common import StageSpec, emit, is_logged, knows_rules
from scslab.stages.listing import LIST_BLACK, LIST_COURT, OWN, TWIN
from scslab.stages.metrics import C_EXPIRED, C_FILED, C_REPAIRS, C_SUCCEEDED
from scslab.state import (
    F_APPEAL,
    F_BL,
    F_CT,
    F_LISTED,
    F_TBL,
    F_TCT,
    F_TLISTED,
    O_BL,
    own_listed,
)


@njit(inline="always", cache=True)
def record_is_wrong(f, score, twin) -> bool:
    """A record is wrong when identity errors listed the agent or cost it points."""
    if (f & F_LISTED) != 0 and (f & F_TLISTED) == 0:
        return True
    return score < twin - 1e-3


MAX_EVENTS = 13


@njit(inline="always", cache=True)
def due_process_agent(c, i, key, aware_key, aware_share, day, prm, log_key, log_frac, score,
                      twin, own, flags, own_flags, bl_since, tbl_since, obl_since, ct_until,
                      tct_until, appeal_day, cnt, ev) -> None:
    """Expiry, credit repair and appeals for agent ``i`` (events logged when sampled).

    The own-conduct ledger follows the twin: its blacklist entry expires by its own date, a
    repair act lifts it when it lists the agent, and leniency on a right record clears it.
    """
    f = flags[i]
    of = own_flags[i]
    if (f & (F_LISTED | F_TLISTED | F_APPEAL)) == 0 and of == 0:
        return
    appeals_on = prm[P_APPEALS_ON] > 0
    expiry_on = prm[P_EXPIRY_ON] > 0
    repair_on = prm[P_REPAIR_ON] > 0
    if not (appeals_on or expiry_on or repair_on):
        return
    bl_exit = prm[P_BL_EXIT]
    logged = is_logged(log_key, log_frac, i)
    s = score[i]
    t = twin[i]
    o = own[i]
    h = agent_hash(key, i, 0)
    if expiry_on:
        exp_days = prm[P_EXPIRY_DAYS]
        if (f & F_BL) and day - bl_since[i] >= exp_days:
            f &= ~F_BL
            s = max(s, bl_exit)
            cnt[c, C_EXPIRED] += 1
            if logged:
                emit(c, i, -1, EV_EXPIRED, LIST_BLACK, -1, s, ev)
        if (f & F_TBL) and day - tbl_since[i] >= exp_days:
            f &= ~F_TBL
            t = max(t, bl_exit)
            if logged:
                emit(c, i, -1, EV_EXPIRED, LIST_BLACK + TWIN, -1, t, ev)
        if (of & O_BL) and day - obl_since[i] >= exp_days:
            of &= ~O_BL
            o = max(o, bl_exit)
            if logged:
                emit(c, i, -1, EV_EXPIRED, LIST_BLACK + OWN, -1, o, ev)
    if repair_on and u_hi(h) < prm[P_REPAIR_RATE]:
        pts = prm[P_REPAIR_PTS]
        if f & F_LISTED:
            s = min(s + pts, prm[P_MAX])
            cnt[c, C_REPAIRS] += 1
            if logged:
                emit(c, i, -1, EV_CREDIT_REPAIR, 0, -1, pts, ev)
        if f & F_TLISTED:
            t = min(t + pts, prm[P_MAX])
        if own_listed(f, of):
            o = min(o + pts, prm[P_MAX])
    if appeals_on:
        delay = int(prm[P_APPEAL_DELAY])
        decide = False
        if f & F_APPEAL:
            decide = day >= appeal_day[i]
        elif f & F_LISTED:
            known = knows_rules(aware_key, aware_share, i)
            p = prm[P_APPEAL_FILE_KNOWN] if known else prm[P_APPEAL_FILE_UNKNOWN]
            if u_lo(h) < p:
                f |= F_APPEAL
                appeal_day[i] = min(day + delay, 32767)
                cnt[c, C_FILED] += 1
                if logged:
                    emit(c, i, -1, EV_APPEAL_FILED, 0, -1, float(day + delay), ev)
                decide = delay == 0
        if decide:
            f &= ~F_APPEAL
            if f & F_LISTED:
                wrong = record_is_wrong(f, s, t)
                p_ok = prm[P_APPEAL_OK_WRONG] if wrong else prm[P_APPEAL_OK_RIGHT]
                ok = u_hi(agent_hash(key, i, 1)) < p_ok
                if logged:
                    emit(c, i, -1, EV_APPEAL_DECIDED, 1 if wrong else 0, -1,
                         1.0 if ok else 0.0, ev)
                if ok:
                    cnt[c, C_SUCCEEDED] += 1
                    dropped_bl = False
                    dropped_ct = False
                    if wrong:
                        # the record is corrected to what the twin ledger says
                        s = max(s, t)
                        dropped_bl = (f & F_BL) != 0 and (f & F_TBL) == 0
                        dropped_ct = (f & F_CT) != 0 and (f & F_TCT) == 0
                        if (f & F_BL) and (f & F_TBL):
                            bl_since[i] = tbl_since[i]
                        if (f & F_CT) and (f & F_TCT):
                            ct_until[i] = tct_until[i]
                    else:
                        # leniency on a right record: without identity errors the same
                        # appeal would have had the same outcome, so both ledgers change
                        s = max(s, bl_exit)
                        t = max(t, bl_exit)
                        o = max(o, bl_exit)
                        dropped_bl = (f & F_BL) != 0
                        dropped_ct = (f & F_CT) != 0
                        if logged:
                            for bit, code, v in ((F_TBL, LIST_BLACK + TWIN, t),
                                                 (F_TCT, LIST_COURT + TWIN, t)):
                                if f & bit:
                                    emit(c, i, -1, EV_LIST_EXIT, code, EXIT_LENIENCY, v, ev)
                            if of & O_BL:
                                emit(c, i, -1, EV_LIST_EXIT, LIST_BLACK + OWN, EXIT_LENIENCY,
                                     o, ev)
                        f &= ~(F_TBL | F_TCT)
                        of &= ~O_BL
                    why = EXIT_APPEAL if wrong else EXIT_LENIENCY
                    if dropped_bl:
                        f &= ~F_BL
                        if logged:
                            emit(c, i, -1, EV_LIST_EXIT, LIST_BLACK, why, s, ev)
                    if dropped_ct:
                        f &= ~F_CT
                        if logged:
                            emit(c, i, -1, EV_LIST_EXIT, LIST_COURT, why, s, ev)
    smax = prm[P_MAX]
    s = min(s, smax)
    t = min(t, smax)
    o = min(o, smax)
    score[i] = s
    twin[i] = t
    own[i] = o
    flags[i] = f
    own_flags[i] = of


SPEC = StageSpec(
    name="due_process",
    doc="Appeals, expiry of blacklist entries and credit repair.",
    streams=("due_process", "awareness"),
    counters=("C_EXPIRED", "C_REPAIRS", "C_FILED", "C_SUCCEEDED"),
    reads=("F_BL", "F_TBL", "F_CT", "F_TCT", "F_APPEAL", "O_BL"),
    writes=("F_BL", "F_TBL", "F_CT", "F_TCT", "F_APPEAL", "O_BL"),
)
