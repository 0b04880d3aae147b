"""Metrics: one row per day, and the registry that documents every column.

Harms are measured against the twin ledger (DESIGN.md §4): a *wrongful*
listing is an agent on a list by the recorded score but not by the twin score.
"""

from __future__ import annotations

from dataclasses import dataclass

from numba import njit, prange

from scslab.params import F_BL, F_CT, F_LISTED, F_RED, F_TLISTED, N_HIST

A_SUM_SCORE, A_SUM_TWIN, A_LISTED, A_LISTED_BL, A_LISTED_CT, A_RED, A_TWIN_LISTED, \
    A_WRONGFUL, A_N = range(9)
G_COUNT, G_LISTED, G_WRONGFUL, G_N = range(4)


@njit(parallel=True, cache=True)
def metrics_kernel(starts, ends, smin, smax, grade_min, attr, score, twin, flags, acc, gacc,
                   hist, grades):
    """Per-chunk sums of the day's stocks (reduced in chunk order by the engine)."""
    width = (smax - smin) / N_HIST if smax > smin else 1.0
    n_g = grade_min.size
    for c in prange(starts.size):
        s_sum = 0.0
        t_sum = 0.0
        for i in range(starts[c], ends[c]):
            s = score[i]
            s_sum += s
            t_sum += twin[i]
            f = flags[i]
            g = attr[i] >> 3
            gacc[c, g, G_COUNT] += 1
            if f & F_LISTED:
                acc[c, A_LISTED] += 1
                gacc[c, g, G_LISTED] += 1
                if f & F_BL:
                    acc[c, A_LISTED_BL] += 1
                if f & F_CT:
                    acc[c, A_LISTED_CT] += 1
                if (f & F_TLISTED) == 0:
                    acc[c, A_WRONGFUL] += 1
                    gacc[c, g, G_WRONGFUL] += 1
            if f & F_TLISTED:
                acc[c, A_TWIN_LISTED] += 1
            if f & F_RED:
                acc[c, A_RED] += 1
            b = int((s - smin) / width)
            if b < 0:
                b = 0
            elif b >= N_HIST:
                b = N_HIST - 1
            hist[c, b] += 1
            k = 0
            while k < n_g - 1 and s < grade_min[k]:
                k += 1
            grades[c, k] += 1
        acc[c, A_SUM_SCORE] += s_sum
        acc[c, A_SUM_TWIN] += t_sum


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


GENERIC = [("<behaviour>", "acts_"), ("<kind>", "denied_"), ("<grade>", "grade_")]
