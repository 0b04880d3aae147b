"""Metrics: one row per day, and the registry that documents every column.

Harms are measured against the twin ledger (DESIGN.md §4): a *wrongful*
listing is an agent on a list by the recorded score but not by the twin score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from scslab.params import F_BL, F_CT, F_LISTED, F_RED, F_TLISTED, N_HIST

# Fixed columns of the per-chunk counter matrix ``cnt[chunk, column]`` (int64).
(C_OBS, C_MIS, C_REV, C_PEN, C_ENTRIES, C_EXITS, C_FILED, C_SUCCEEDED, C_EXPIRED, C_REPAIRS,
 C_DENIED_WRONGFUL, C_DENIED_COLLATERAL, C_COLLATERAL, C_REWARDS, C_SANCTIONED,
 C_LISTED, C_LISTED_BL, C_LISTED_CT, C_RED, C_TWIN_LISTED, C_WRONGFUL, C_BIZ_LISTED,
 C_BIZ_TLISTED, C_EXP_HH, C_EXP_TIE, C_EXP_EMP, C_EXP_REP, C_FIXED) = range(28)
# Variable-length blocks: their start columns are in the ``off`` vector.
O_ACTS, O_MIS_G, O_DENIED, O_G_COUNT, O_G_LISTED, O_G_WRONG, O_HIST, O_GRADES, O_END = range(9)
# Float sums ``fsum[chunk, column]``.
S_SCORE, S_TWIN, S_N = range(3)


def counter_layout(n_behaviours: int, n_groups: int, n_kinds: int, n_grades: int) -> np.ndarray:
    """Start column of each variable block of the counter matrix."""
    sizes = [n_behaviours, n_groups, n_kinds, n_groups, n_groups, n_groups, N_HIST, n_grades]
    off = np.zeros(O_END + 1, dtype=np.int64)
    off[0] = C_FIXED
    for k, size in enumerate(sizes):
        off[k + 1] = off[k] + size
    return off


@njit(inline="always", cache=True)
def new_tally():
    """Running per-chunk sums kept in registers: (score sum, twin sum, current
    histogram bin, its run length, current grade, its run length)."""
    return 0.0, 0.0, -1, 0, -1, 0


@njit(inline="always", cache=True)
def flush_tally(c, tally, cnt, off, fsum) -> None:
    """Add a chunk's running sums to its counters."""
    ssum, tsum, hb, hrun, gk, grun = tally
    fsum[c, S_SCORE] += ssum
    fsum[c, S_TWIN] += tsum
    if hrun:
        cnt[c, off[O_HIST] + hb] += hrun
    if grun:
        cnt[c, off[O_GRADES] + gk] += grun


@njit(inline="always", cache=True)
def tally_score(c, s, t, smin, inv_width, grade_min, cnt, off, tally):
    """Add one agent's recorded and twin score to the running sums, the histogram and
    the grade counts.

    Agents come in id order and neighbours usually share a histogram bin and a grade,
    so a run of equal bins is counted in a register and written once it ends.
    """
    ssum, tsum, hb, hrun, gk, grun = tally
    ssum += s
    tsum += t
    b = int((s - smin) * inv_width)
    if b < 0:
        b = 0
    elif b >= N_HIST:
        b = N_HIST - 1
    if b == hb:
        hrun += 1
    else:
        if hrun:
            cnt[c, off[O_HIST] + hb] += hrun
        hb = b
        hrun = 1
    n_g = grade_min.size
    k = 0
    while k < n_g - 1 and s < grade_min[k]:
        k += 1
    if k == gk:
        grun += 1
    else:
        if grun:
            cnt[c, off[O_GRADES] + gk] += grun
        gk = k
        grun = 1
    return ssum, tsum, hb, hrun, gk, grun


@njit(inline="always", cache=True)
def accumulate(c, i, smin, inv_width, grade_min, attr, score, twin, flags, cnt, off, tally):
    """Add agent ``i``'s end-of-day stocks to chunk ``c``'s counters (list counts go
    straight to ``cnt``, scores to ``tally``).

    (Group sizes do not change during a run: the engine counts them once.)
    """
    f = flags[i]
    if f != 0:
        if f & F_LISTED:
            g = attr[i] >> 3
            cnt[c, C_LISTED] += 1
            cnt[c, off[O_G_LISTED] + g] += 1
            if f & F_BL:
                cnt[c, C_LISTED_BL] += 1
            if f & F_CT:
                cnt[c, C_LISTED_CT] += 1
            if (f & F_TLISTED) == 0:
                cnt[c, C_WRONGFUL] += 1
                cnt[c, off[O_G_WRONG] + g] += 1
        if f & F_TLISTED:
            cnt[c, C_TWIN_LISTED] += 1
        if f & F_RED:
            cnt[c, C_RED] += 1
    return tally_score(c, score[i], twin[i], smin, inv_width, grade_min, cnt, off, tally)


@dataclass(frozen=True)
class Metric:
    """One daily column: what it means and how it behaves when the population is scaled."""

    name: str
    description: str
    unit: str
    kind: str  # "stock" (a level at the end of the day) or "flow" (a count during the day)
    scales: bool  # proportional to the population when a sample is scaled up


def registry(behaviours: list[str], sanctions: list[str], grades: list[str],
             groups: list[str]) -> list[Metric]:
    """Every daily column of a scenario, in table order."""
    M = Metric
    out = [
        M("day", "Simulated day, 1 … days.", "day", "index", False),
        M("mean_score", "Mean recorded score.", "points", "stock", False),
        M("mean_true_score", "Mean twin-ledger score (no identity errors).", "points", "stock",
          False),
    ]
    for q in (5, 25, 50, 75, 95):
        out.append(M(f"score_p{q:02d}", f"{q}th percentile of the recorded score (from a "
                     "64-bin histogram).", "points", "stock", False))
    out += [
        M("listed", "Agents on the blacklist or the court list at the end of the day.",
          "agents", "stock", True),
        M("listed_blacklist", "Agents on the score blacklist.", "agents", "stock", True),
        M("listed_court", "Agents on the court list of dishonest judgment debtors.", "agents",
          "stock", True),
        M("redlisted", "Agents on the redlist (high grade).", "agents", "stock", True),
        M("list_entries", "Agents who went onto a list today.", "agents", "flow", True),
        M("list_exits", "Agents who left every list today.", "agents", "flow", True),
        M("true_listed", "Agents who would be listed by the twin ledger.", "agents", "stock",
          True),
        M("wrongful_listed", "Agents listed on the recorded score but not on the twin ledger "
          "(listed because of identity errors).", "agents", "stock", True),
    ]
    for b in behaviours:
        out.append(M(f"acts_{b}", f"Acts of {b.replace('_', ' ')} done today (observed or "
                     "not).", "acts", "flow", True))
    out += [
        M("observed_events", "Acts detected by a sensor today.", "acts", "flow", True),
        M("misattributed_events", "Detected acts recorded on the wrong agent today "
          "(false matches that were not reversed).", "acts", "flow", True),
        M("reversed_events", "False matches caught by evidence review today.", "acts", "flow",
          True),
    ]
    for k in sanctions:
        out.append(M(f"denied_{k}", f"Attempts ({k.replace('_', ' ')}) turned into denials "
                     "today.", "denials", "flow", True))
    out += [
        M("denied_wrongful", "Denials suffered today by wrongfully listed agents.", "denials",
          "flow", True),
        M("collateral_denials", "Denials today to agents sanctioned only through spillover.",
          "denials", "flow", True),
        M("collateral_sanctioned", "Agents under a sanction only through spillover "
          "(a listed relative or business), not listed themselves.", "agents", "stock", True),
        M("sanctioned", "Agents under at least one sanction.", "agents", "stock", True),
        M("spillover_penalised", "Agents who lost points today through a listed relative, tie "
          "or employer.", "agents", "flow", True),
        M("exposed_household", "Agents with another household member listed.", "agents",
          "stock", True),
        M("exposed_ties", "Agents with at least one listed tie.", "agents", "stock", False),
        M("rewards_granted", "Rewards claimed by redlisted agents today.", "rewards", "flow",
          True),
        M("businesses_listed", "Businesses on the business list.", "businesses", "stock", True),
        M("appeals_filed", "Appeals filed today.", "appeals", "flow", True),
        M("appeals_succeeded", "Appeals decided in the agent's favour today.", "appeals", "flow",
          True),
        M("expired", "Blacklist entries that expired today.", "agents", "flow", True),
        M("credit_repairs", "Credit-repair acts today.", "acts", "flow", True),
    ]
    for g in grades:
        out.append(M(f"grade_{g}", f"Agents in grade {g}.", "agents", "stock", True))
    for g in groups:
        out += [
            M(f"listed__{g}", f"Listed agents in group {g}.", "agents", "stock", True),
            M(f"wrongful_listed__{g}", f"Wrongfully listed agents in group {g}.", "agents",
              "stock", True),
            M(f"wrongful_rate__{g}", f"Wrongfully listed agents per agent of group {g}.",
              "fraction", "stock", False),
            M(f"misattributed__{g}", f"Misattributed acts landing on agents of group {g} "
              "today.", "acts", "flow", True),
        ]
    out.append(M("disparate_impact", "Highest group wrongful-listing rate divided by the lowest "
                 "(empty when the lowest is 0).", "ratio", "stock", False))
    return out

