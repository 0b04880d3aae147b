"""Listing: thresholds with hysteresis and a minimum stay put agents on and off
the blacklist; a recorded court default puts them on the court list for a fixed
term (or until they fulfil the obligation); a high score puts them on the
redlist. The recorded and the twin ledger are listed by the same rules."""

from __future__ import annotations

from numba import njit, prange

from scslab.buffers import EV_COURT_FULFILLED, EV_LIST_ENTER, EV_LIST_EXIT, EV_TIE_LISTED
from scslab.params import (
    F_BL,
    F_CT,
    F_CT_ORDER,
    F_LISTED,
    F_RED,
    F_TBL,
    F_TCT,
    F_TCT_ORDER,
    F_TLISTED,
    P_BL_ENTER,
    P_BL_EXIT,
    P_BL_MIN_DAYS,
    P_BL_ON,
    P_CT_FULFIL,
    P_CT_ON,
    P_CT_TERM,
    P_RED_MIN,
    P_RED_ON,
)
from scslab.rng import agent_hash, u_hi
from scslab.stages.common import emit, is_logged

EV_UNION = 100  # internal: the agent's "on any list" status changed (value ±1)
LIST_BLACK, LIST_COURT, LIST_RED = 0, 1, 2
TWIN = 8  # added to a list code for the twin ledger


@njit(inline="always", cache=True)
def blacklist_rule(listed, score, since, day, enter, exit_, min_days) -> int:
    """+1 enter, -1 leave, 0 stay as is."""
    if listed:
        if score >= exit_ and day - since >= min_days:
            return -1
        return 0
    if score < enter:
        return 1
    return 0


@njit(parallel=True, cache=True)
def listing_kernel(key, day, prm, score, twin, flags, bl_since, tbl_since, ct_until, tct_until,
                   counts,
                   pos, ends, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
                   ev_count):
    """Update list membership for both ledgers; every change goes into the buffer."""
    bl_on = prm[P_BL_ON] > 0
    ct_on = prm[P_CT_ON] > 0
    red_on = prm[P_RED_ON] > 0
    enter = prm[P_BL_ENTER]
    exit_ = prm[P_BL_EXIT]
    min_days = prm[P_BL_MIN_DAYS]
    term = int(prm[P_CT_TERM])
    fulfil = prm[P_CT_FULFIL]
    red_min = prm[P_RED_MIN]
    cap = ev_agent.shape[1]
    for c in prange(pos.size):
        i = pos[c]
        end = ends[c]
        while i < end:
            if ev_count[c] + 10 > cap:
                break
            f0 = flags[i]
            f = f0
            s = score[i]
            t = twin[i]
            if bl_on:
                r = blacklist_rule((f & F_BL) != 0, s, bl_since[i], day, enter, exit_, min_days)
                if r == 1:
                    f |= F_BL
                    bl_since[i] = day
                    emit(c, i, -1, EV_LIST_ENTER, LIST_BLACK, -1, s, ev_agent, ev_other,
                         ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                elif r == -1:
                    f &= ~F_BL
                    emit(c, i, -1, EV_LIST_EXIT, LIST_BLACK, -1, s, ev_agent, ev_other,
                         ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                r = blacklist_rule((f & F_TBL) != 0, t, tbl_since[i], day, enter, exit_,
                                   min_days)
                if r == 1:
                    f |= F_TBL
                    tbl_since[i] = day
                    emit(c, i, -1, EV_LIST_ENTER, LIST_BLACK + 8, -1, t, ev_agent, ev_other,
                         ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                elif r == -1:
                    f &= ~F_TBL
                    emit(c, i, -1, EV_LIST_EXIT, LIST_BLACK + 8, -1, t, ev_agent, ev_other,
                         ev_kind, ev_code, ev_sensor, ev_value, ev_count)
            if ct_on:
                u = 1.0
                if f & (F_CT | F_TCT):
                    u = u_hi(agent_hash(key, i, 0))
                if f & F_CT_ORDER:
                    if not f & F_CT:
                        f |= F_CT
                        emit(c, i, -1, EV_LIST_ENTER, LIST_COURT, -1, s, ev_agent, ev_other,
                             ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                    ct_until[i] = min(day + term, 32767)
                elif f & F_CT:
                    if day >= ct_until[i] or u < fulfil:
                        f &= ~F_CT
                        kind = EV_COURT_FULFILLED if day < ct_until[i] else EV_LIST_EXIT
                        emit(c, i, -1, kind, LIST_COURT, -1, s, ev_agent, ev_other, ev_kind,
                             ev_code, ev_sensor, ev_value, ev_count)
                if f & F_TCT_ORDER:
                    if not f & F_TCT:
                        f |= F_TCT
                        emit(c, i, -1, EV_LIST_ENTER, LIST_COURT + 8, -1, t, ev_agent,
                             ev_other, ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                    tct_until[i] = min(day + term, 32767)
                elif f & F_TCT:
                    if day >= tct_until[i] or u < fulfil:
                        f &= ~F_TCT
                        emit(c, i, -1, EV_LIST_EXIT, LIST_COURT + 8, -1, t, ev_agent,
                             ev_other, ev_kind, ev_code, ev_sensor, ev_value, ev_count)
            f &= ~(F_CT_ORDER | F_TCT_ORDER)
            if red_on:
                if s >= red_min:
                    if not f & F_RED:
                        emit(c, i, -1, EV_LIST_ENTER, LIST_RED, -1, s, ev_agent, ev_other,
                             ev_kind, ev_code, ev_sensor, ev_value, ev_count)
                    f |= F_RED
                elif f & F_RED:
                    f &= ~F_RED
                    emit(c, i, -1, EV_LIST_EXIT, LIST_RED, -1, s, ev_agent, ev_other,
                         ev_kind, ev_code, ev_sensor, ev_value, ev_count)
            flags[i] = f
            emit_union(c, i, f0, f, counts, ev_agent, ev_other, ev_kind, ev_code, ev_sensor,
                       ev_value, ev_count)
            i += 1
        pos[c] = i


@njit(inline="always", cache=True)
def emit_union(c, i, f0, f, counts, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
               ev_count) -> None:
    """Record a change of "on any list" status (recorded and twin), counted per chunk."""
    was = (f0 & F_LISTED) != 0
    now = (f & F_LISTED) != 0
    if was != now:
        emit(c, i, -1, EV_UNION, 0, -1, 1.0 if now else -1.0, ev_agent, ev_other, ev_kind,
             ev_code, ev_sensor, ev_value, ev_count)
        counts[c, 0 if now else 1] += 1
    was = (f0 & F_TLISTED) != 0
    now = (f & F_TLISTED) != 0
    if was != now:
        emit(c, i, -1, EV_UNION, TWIN, -1, 1.0 if now else -1.0, ev_agent, ev_other, ev_kind,
             ev_code, ev_sensor, ev_value, ev_count)


@njit(cache=True)
def apply_union_changes(tie_ptr, tie_idx, listed_ties, listed_ties_twin, ev_agent, ev_kind,
                        ev_code, ev_value, ev_count, log_key, log_frac,
                        lg_agent, lg_other, lg_kind, lg_code, lg_sensor, lg_value, lg_count):
    """Push list-status changes to every tie's counter (sequential: no races)."""
    if tie_idx.size == 0:
        return
    for c in range(ev_count.size):
        for j in range(ev_count[c]):
            if ev_kind[c, j] != EV_UNION:
                continue
            i = ev_agent[c, j]
            up = ev_value[c, j] > 0
            twin = ev_code[c, j] == TWIN
            for p in range(tie_ptr[i], tie_ptr[i + 1]):
                k = tie_idx[p]
                if twin:
                    listed_ties_twin[k] += 1 if up else -1
                else:
                    listed_ties[k] += 1 if up else -1
                    if is_logged(log_key, log_frac, k):
                        n = lg_count[0]
                        if n < lg_agent.size:
                            lg_agent[n], lg_other[n], lg_kind[n] = k, i, EV_TIE_LISTED
                            lg_code[n], lg_sensor[n] = 0, -1
                            lg_value[n] = 1.0 if up else -1.0
                            lg_count[0] = n + 1
