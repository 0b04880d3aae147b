"""Listing: thresholds with hysteresis and a minimum stay put agents on and off
the blacklist; a recorded court default puts them on the court list for a fixed
term (or until they fulfil the obligation); a high score puts them on the
redlist. The recorded and the twin ledger are listed by the same rules."""

from __future__ import annotations

from numba import njit

from scslab.events import EV_COURT_FULFILLED, EV_LIST_ENTER, EV_LIST_EXIT, EV_TIE_LISTED
from scslab.params import (
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
from scslab.stages.metrics import C_ENTRIES, C_EXITS
from scslab.state import (
    F_BL,
    F_CT,
    F_CT_ORDER,
    F_LISTED,
    F_RED,
    F_TBL,
    F_TCT,
    F_TCT_ORDER,
    F_TLISTED,
)

EV_UNION = 100  # internal: the agent's "on any list" status changed (value ±1)
LIST_BLACK, LIST_COURT, LIST_RED = 0, 1, 2
TWIN = 8  # added to a list code for the twin ledger
MAX_EVENTS = 9  # most events one agent can emit in this stage


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


@njit(inline="always", cache=True)
def list_agent(c, i, key, day, prm, log_key, log_frac, score, twin, flags, bl_since, tbl_since,
               ct_until, tct_until, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
               ev_count) -> None:
    """Update agent ``i``'s list membership in both ledgers (list events when logged)."""
    f0 = flags[i]
    f = f0
    s = score[i]
    t = twin[i]
    if prm[P_BL_ON] > 0:
        enter = prm[P_BL_ENTER]
        exit_ = prm[P_BL_EXIT]
        min_days = prm[P_BL_MIN_DAYS]
        r = blacklist_rule((f & F_BL) != 0, s, bl_since[i], day, enter, exit_, min_days)
        if r == 1:
            f |= F_BL
            bl_since[i] = day
        elif r == -1:
            f &= ~F_BL
        r = blacklist_rule((f & F_TBL) != 0, t, tbl_since[i], day, enter, exit_, min_days)
        if r == 1:
            f |= F_TBL
            tbl_since[i] = day
        elif r == -1:
            f &= ~F_TBL
    if prm[P_CT_ON] > 0:
        term = int(prm[P_CT_TERM])
        fulfil = prm[P_CT_FULFIL]
        u = 1.0
        if f & (F_CT | F_TCT):
            u = u_hi(agent_hash(key, i, 0))
        if f & F_CT_ORDER:
            f |= F_CT
            ct_until[i] = min(day + term, 32767)
        elif f & F_CT:
            if day >= ct_until[i] or u < fulfil:
                f &= ~F_CT
        if f & F_TCT_ORDER:
            f |= F_TCT
            tct_until[i] = min(day + term, 32767)
        elif f & F_TCT:
            if day >= tct_until[i] or u < fulfil:
                f &= ~F_TCT
    f &= ~(F_CT_ORDER | F_TCT_ORDER)
    if prm[P_RED_ON] > 0:
        if s >= prm[P_RED_MIN]:
            f |= F_RED
        else:
            f &= ~F_RED
    flags[i] = f
    changed = (f0 ^ f) & (F_BL | F_TBL | F_CT | F_TCT | F_RED)
    if changed == 0 or not is_logged(log_key, log_frac, i):
        return
    for bit, code, value in ((F_BL, LIST_BLACK, s), (F_TBL, LIST_BLACK + TWIN, t),
                             (F_CT, LIST_COURT, s), (F_TCT, LIST_COURT + TWIN, t),
                             (F_RED, LIST_RED, s)):
        if changed & bit:
            kind = EV_LIST_ENTER if f & bit else EV_LIST_EXIT
            if kind == EV_LIST_EXIT and bit == F_CT and day < ct_until[i]:
                kind = EV_COURT_FULFILLED
            emit(c, i, -1, kind, code, -1, value, ev_agent, ev_other, ev_kind, ev_code,
                 ev_sensor, ev_value, ev_count)


@njit(inline="always", cache=True)
def emit_union(c, i, f0, f, cnt, ev_agent, ev_other, ev_kind, ev_code, ev_sensor, ev_value,
               ev_count) -> None:
    """Record a change of "on any list" status over the day (recorded and twin)."""
    was = (f0 & F_LISTED) != 0
    now = (f & F_LISTED) != 0
    if was != now:
        emit(c, i, -1, EV_UNION, 0, -1, 1.0 if now else -1.0, ev_agent, ev_other, ev_kind,
             ev_code, ev_sensor, ev_value, ev_count)
        cnt[c, C_ENTRIES if now else C_EXITS] += 1
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
