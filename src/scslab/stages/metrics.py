"""Metrics: one row per day, and the registry that documents every column.

Harms are measured against the twin and the own-conduct ledger (DESIGN.md §4): a
*wrongful* listing is an agent on a list by the recorded score but not by the twin score; a
listing *through others* is on the recorded and the twin list but not the own-conduct list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import float64, int64, njit

from scslab.fairness import reference_group
from scslab.params import N_HIST, P_HIST_HI, P_HIST_LO, Params
from scslab.population import attr_group
from scslab.stages.common import Context, Day, StageSpec
from scslab.state import F_BL, F_CT, F_LISTED, F_RED, F_TLISTED, own_listed

# Fixed columns of the per-chunk counter matrix ``cnt[chunk, column]`` (int64).
(C_OBS, C_MIS, C_REV, C_PEN, C_ENTRIES, C_EXITS, C_FILED, C_SUCCEEDED, C_EXPIRED, C_REPAIRS,
 C_DENIED_WRONGFUL, C_DENIED_COLLATERAL, C_COLLATERAL, C_REWARDS, C_SANCTIONED,
 C_LISTED, C_LISTED_BL, C_LISTED_CT, C_RED, C_TWIN_LISTED, C_WRONGFUL, C_BIZ_LISTED,
 C_BIZ_TLISTED, C_EXP_HH, C_EXP_TIE, C_EXP_EMP, C_EXP_REP, C_SCORE_SUM, C_TWIN_SUM,
 C_QUIET, C_OWN_LISTED, C_THROUGH, C_DENIED_THROUGH, C_FIXED) = range(34)
# C_QUIET counts agents settled on the fused pass's quiet-block path (a diagnostic of the
# engine's speed, not a daily column).
# Variable-length blocks: their start columns are in the ``off`` vector.
(O_ACTS, O_MIS_G, O_DENIED, O_G_COUNT, O_G_LISTED, O_G_WRONG, O_G_THROUGH, O_HIST, O_GRADES,
 O_MIS_S, O_END) = range(11)
# O_MIS_S: misattributed acts per sensor in use (``Params.sensor_names`` order).
# Score sums are kept in fixed point (units of 2^-20 points) so that they are exact
# integers: the total does not depend on the order in which agents are added, which
# lets the fused pass add a whole block at once. |score| <= 10^6 < 2^20, so one
# chunk's sum stays far below 2^63; the engine adds chunks as Python integers.
SCORE_FIXED_POINT = 1048576.0
PERCENTILES = np.array([5, 25, 50, 75, 95])  # the daily score percentiles (``score_pNN``)


def counter_layout(n_behaviours: int, n_groups: int, n_kinds: int, n_grades: int,
                   n_sensors: int = 0) -> np.ndarray:
    """Start column of each variable block of the counter matrix."""
    sizes = [n_behaviours, n_groups, n_kinds, n_groups, n_groups, n_groups, n_groups, N_HIST,
             n_grades, n_sensors]
    off = np.zeros(O_END + 1, dtype=np.int64)
    off[0] = C_FIXED
    for k, size in enumerate(sizes):
        off[k + 1] = off[k] + size
    return off


def counter_matrix(p: Params, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """A zeroed counter matrix for ``n_chunks`` chunks and its layout (``off``)."""
    off = counter_layout(p.beh_rate.size, len(p.group_names), p.sanc_rate.size,
                         len(p.grade_names), len(p.sensor_names))
    return np.zeros((n_chunks, int(off[O_END])), np.int64), off


@njit(inline="always", cache=True)
def fixed_point(s) -> int:
    """A score in units of 2^-20 points, rounded to nearest."""
    return int64(np.rint(float64(s) * SCORE_FIXED_POINT))


@njit(inline="always", cache=True)
def hist_bin(s, smin, inv_width) -> int:
    """Histogram bin of a score (the end bins take everything beyond the range)."""
    b = int64((s - smin) * inv_width)
    if b < 0:
        b = 0
    elif b >= N_HIST:
        b = N_HIST - 1
    return b


HIST_LANES = 4  # interleaved histogram copies: neighbours in one bin do not wait on each other


@njit(inline="always", cache=True)
def new_tally(hist):
    """Start a chunk's running sums.

    The score sum, twin sum, current grade and its run length are kept in registers; the
    chunk's histogram scratch ``hist`` (HIST_LANES × N_HIST) is cleared.
    """
    hist[:, :] = 0
    return int64(0), int64(0), int64(-1), int64(0)


@njit(inline="always", cache=True)
def flush_tally(c, tally, hist, cnt, off) -> None:
    """Add a chunk's running sums and histogram to its counters."""
    ssum, tsum, gk, grun = tally
    cnt[c, C_SCORE_SUM] += ssum
    cnt[c, C_TWIN_SUM] += tsum
    if grun:
        cnt[c, off[O_GRADES] + gk] += grun
    o = off[O_HIST]
    for b in range(N_HIST):
        total = 0
        for lane in range(HIST_LANES):
            total += hist[lane, b]
        cnt[c, o + b] += total


@njit(inline="always", cache=True)
def tally_score(c, s, t, smin, inv_width, grade_min, hist, cnt, off, tally):
    """Add one agent's recorded and twin score to the running tallies.

    Add one agent's recorded and twin score to the running sums, the histogram and
    the grade counts (a run of agents in one grade is counted in a register).
    """
    ssum, tsum, gk, grun = tally
    ssum += fixed_point(s)
    tsum += fixed_point(t)
    hist[0, hist_bin(s, smin, inv_width)] += 1
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
    return ssum, tsum, gk, grun


@njit(inline="always", cache=True)
def tally_block(c, m, new_s, new_t, smin, inv_width, grade_min, hist, cnt, off, tally):
    """``tally_score`` for ``m`` agents at once.

    The scores are in ``new_*``; the loops are ones the compiler vectorizes or that carry no
    dependence from one agent to the next, and the counts are the same integers.
    """
    ssum, tsum, gk, grun = tally
    for j in range(m):
        ssum += fixed_point(new_s[j])
    for j in range(m):
        tsum += fixed_point(new_t[j])
    for j in range(m):
        hist[j & (HIST_LANES - 1), hist_bin(new_s[j], smin, inv_width)] += 1
    # grades are highest first, so an agent's grade is the number of minimums above it
    above = m
    for k in range(grade_min.size - 1):
        g = grade_min[k]
        below = 0
        for j in range(m):
            below += new_s[j] < g
        cnt[c, off[O_GRADES] + k] += above - below
        above = below
    cnt[c, off[O_GRADES] + grade_min.size - 1] += above
    return ssum, tsum, gk, grun


@njit(inline="always", cache=True)
def accumulate(c, i, smin, inv_width, grade_min, attr, score, twin, flags, own_flags, hist, cnt,
               off, tally):
    """Add agent ``i``'s end-of-day stocks to chunk ``c``'s counters.

    List counts go straight to ``cnt``, scores to ``tally``. An agent listed by the recorded
    and the twin ledger but not by the own-conduct ledger is listed through others.

    (Group sizes do not change during a run: the engine counts them once.)
    """
    f = flags[i]
    of = own_flags[i]
    if f != 0 or of != 0:
        own = own_listed(f, of)
        if own:
            cnt[c, C_OWN_LISTED] += 1
        if f & F_LISTED:
            g = attr_group(attr[i])
            cnt[c, C_LISTED] += 1
            cnt[c, off[O_G_LISTED] + g] += 1
            if f & F_BL:
                cnt[c, C_LISTED_BL] += 1
            if f & F_CT:
                cnt[c, C_LISTED_CT] += 1
            if (f & F_TLISTED) == 0:
                cnt[c, C_WRONGFUL] += 1
                cnt[c, off[O_G_WRONG] + g] += 1
            elif not own:
                cnt[c, C_THROUGH] += 1
                cnt[c, off[O_G_THROUGH] + g] += 1
        if f & F_TLISTED:
            cnt[c, C_TWIN_LISTED] += 1
        if f & F_RED:
            cnt[c, C_RED] += 1
    return tally_score(c, score[i], twin[i], smin, inv_width, grade_min, hist, cnt, off, tally)


@dataclass(frozen=True)
class Metric:
    """One daily column: what it means and how it behaves when the population is scaled."""

    name: str
    description: str
    unit: str
    kind: str  # "stock" (a level at the end of the day) or "flow" (a count during the day)
    scales: bool  # proportional to the population when a sample is scaled up


def registry(behaviours: list[str], sanctions: list[str], grades: list[str],
             groups: list[str], regions: list[str] | None = None,
             sensors: Sequence[str] = ()) -> list[Metric]:
    """Every daily column of a scenario, in table order.

    ``regions``: the regions that get per-region columns (the engine passes them with two
    regions or more); ``sensors``: every sensor key (per-sensor misattribution).
    """
    M = Metric
    out = [
        M("day", "Simulated day, 1 … days.", "day", "index", False),
        M("mean_score", "Mean recorded score.", "points", "stock", False),
        M("mean_true_score", "Mean twin-ledger score (no identity errors).", "points", "stock",
          False),
    ]
    for q in (5, 25, 50, 75, 95):
        out.append(M(f"score_p{q:02d}", f"{q}th percentile of the recorded score (from a "
                     f"{N_HIST}-bin histogram).", "points", "stock", False))
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
        M("own_listed", "Agents the own-conduct ledger lists: their own correctly attributed "
          "acts alone, with no identity errors and no spillover penalties.", "agents", "stock",
          True),
        M("listed_through_others", "Agents on the recorded and the twin ledger's list but not "
          "on the own-conduct list: listed because of whom they are tied to (spillover "
          "penalties from listed relatives, ties or employers).", "agents", "stock", True),
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
    for name in sensors:
        out.append(M(f"misattributed__sensor_{name}", f"Misattributed acts recorded today "
                     f"through sensor {name} (they sum to misattributed_events; 0 while the "
                     "sensor is off).", "acts", "flow", True))
    for k in sanctions:
        out.append(M(f"denied_{k}", f"Attempts ({k.replace('_', ' ')}) turned into denials "
                     "today.", "denials", "flow", True))
    out += [
        M("denied_wrongful", "Denials suffered today by wrongfully listed agents.", "denials",
          "flow", True),
        M("denied_through_others", "Denials suffered today by agents listed through others.",
          "denials", "flow", True),
        M("collateral_denials", "Denials today to agents sanctioned only because of others: "
          "through a listed relative or business, or through a listing that is itself through "
          "others (``denied_through_others``).", "denials", "flow", True),
        M("collateral_sanctioned", "Agents under a sanction only because of others: not listed "
          "themselves but sanctioned through a listed relative or business, or listed through "
          "others (``listed_through_others``).", "agents", "stock", True),
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
            M(f"listed_through_others__{g}", f"Agents of group {g} listed through others.",
              "agents", "stock", True),
            M(f"misattributed__{g}", f"Misattributed acts landing on agents of group {g} "
              "today.", "acts", "flow", True),
        ]
    for r in regions or []:
        out += [
            M(f"listed__region_{r}", f"Agents of region {r} on the blacklist or the court list "
              "(the regions' counts add up to ``listed``).", "agents", "stock", True),
            M(f"mean_score__region_{r}", f"Mean recorded score in region {r} (the regions' "
              "means weighted by their populations give ``mean_score``).", "points", "stock",
              False),
        ]
    for g in groups:
        out.append(M(f"disparate_impact__{g}", f"Wrongful-listing rate of group {g} divided by "
                     "the reference group's (the largest, or population.reference_group) that "
                     f"day; empty unless both have at least {DAILY_MIN_WRONGFUL} agents "
                     "wrongly listed (see docs/fairness.md).", "ratio", "stock", False))
    out.append(M("disparate_impact", "Highest disparate_impact__<group> of the day (the worst-hit "
                 "group against the reference); empty when no group has enough wrongful "
                 "listings.", "ratio", "stock", False))
    return out


#: Agents wrongly listed that day, in a group and in the reference, before the day's
#: ``disparate_impact__<group>`` is given (the fairness module's rule, on one day's stock).
DAILY_MIN_WRONGFUL = 10


def _daily_disparate(p: Params, sizes: list[int], wrong: list[int],
                     weights: list[float]) -> list[float]:
    """Each group's wrongful-listing rate over the reference's; NaN below the rule.

    ``wrong`` are the (possibly survey-weighted) counts; the rule reads unweighted ones.
    """
    names = p.group_names
    ref = names.index(reference_group(dict(zip(names, sizes, strict=True)),
                                      p.reference_group))
    agents = [wrong[k] / weights[k] if weights[k] else 0.0 for k in range(len(names))]
    out = []
    for k in range(len(names)):
        if (sizes[k] and sizes[ref] and agents[k] >= DAILY_MIN_WRONGFUL
                and agents[ref] >= DAILY_MIN_WRONGFUL):
            out.append((agents[k] / sizes[k]) / (agents[ref] / sizes[ref]))
        else:
            out.append(math.nan)
    return out



def daily_row(ctx: Context, day: int) -> dict:
    """The day's metrics row from the per-chunk counters.

    (reduced in chunk order), in the order of ``registry``; adds the quiet-path agents to
    ``ctx.quiet_agent_days``.
    """
    p = ctx.params
    w = ctx.world
    cnt = ctx.work.cnt
    n_g, n_r = len(p.group_names), len(p.region_names)
    # exact integer counts per (region, group) stratum: every chunk lies in one stratum
    strat = np.zeros((n_r * n_g, cnt.shape[1]), np.int64)
    np.add.at(strat, ctx.chunk_stratum, cnt)
    ctx.quiet_agent_days += int(strat[:, C_QUIET].sum())
    # fixed-point score sums as Python ints (exact, cannot overflow), per stratum
    ssum = [0] * (n_r * n_g)
    tsum = [0] * (n_r * n_g)
    chunk_stratum = ctx.chunk_stratum.tolist()
    for k, v in zip(chunk_stratum, cnt[:, C_SCORE_SUM].tolist(), strict=True):
        ssum[k] += v
    for k, v in zip(chunk_stratum, cnt[:, C_TWIN_SUM].tolist(), strict=True):
        tsum[k] += v
    sizes = np.diff(w.strata_start).tolist()
    gw = w.group_weight.tolist()
    weighted = any(x != 1.0 for x in gw)
    sw = [gw[k % n_g] for k in range(n_r * n_g)]  # each stratum's weight
    off = ctx.work.off.tolist()
    if weighted:
        # each count is the weighted sum over strata of exact integer counts; the per-group
        # blocks count agents of their own group, so they carry that group's weight
        total = (strat * np.asarray(sw)[:, None]).sum(axis=0)
        raw = strat.sum(axis=0)
        for o in (O_MIS_G, O_G_COUNT, O_G_LISTED, O_G_WRONG, O_G_THROUGH):
            total[off[o]:off[o] + n_g] = raw[off[o]:off[o] + n_g] * np.asarray(gw)
        n = sum(x * y for x, y in zip(sw, sizes, strict=True))
        score_sum = sum(x * y for x, y in zip(sw, ssum, strict=True)) / SCORE_FIXED_POINT
        twin_sum = sum(x * y for x, y in zip(sw, tsum, strict=True)) / SCORE_FIXED_POINT
    else:
        total = strat.sum(axis=0)
        n = w.n
        score_sum = sum(ssum) / SCORE_FIXED_POINT
        twin_sum = sum(tsum) / SCORE_FIXED_POINT
    c = total.tolist()
    row: dict = {"day": day}
    row["mean_score"] = score_sum / n
    row["mean_true_score"] = twin_sum / n
    hist = total[off[O_HIST]:off[O_HIST] + N_HIST].astype(np.float64)
    cum = np.cumsum(hist)
    smin, smax = p.prm[P_HIST_LO], p.prm[P_HIST_HI]
    width = (smax - smin) / N_HIST
    # linear interpolation inside the bin where each quantile falls
    targets = PERCENTILES / 100.0 * n
    b = np.minimum(np.searchsorted(cum, targets, side="left"), N_HIST - 1)
    below = np.where(b > 0, cum[b - 1], 0.0)
    safe = np.where(hist[b] > 0, hist[b], 1.0)
    frac = np.where(hist[b] > 0, (targets - below) / safe, 0.0)
    for q, v in zip(PERCENTILES.tolist(), (smin + width * (b + frac)).tolist(), strict=True):
        row[f"score_p{q:02d}"] = v
    row["listed"] = c[C_LISTED]
    row["listed_blacklist"] = c[C_LISTED_BL]
    row["listed_court"] = c[C_LISTED_CT]
    row["redlisted"] = c[C_RED]
    row["list_entries"] = c[C_ENTRIES]
    row["list_exits"] = c[C_EXITS]
    row["true_listed"] = c[C_TWIN_LISTED]
    row["wrongful_listed"] = c[C_WRONGFUL]
    row["own_listed"] = c[C_OWN_LISTED]
    row["listed_through_others"] = c[C_THROUGH]
    for k, name in enumerate(p.behaviour_names):
        row[f"acts_{name}"] = c[off[O_ACTS] + k]
    row["observed_events"] = c[C_OBS]
    row["misattributed_events"] = c[C_MIS]
    row["reversed_events"] = c[C_REV]
    in_use = {name: k for k, name in enumerate(p.sensor_names)}
    for name in p.sensor_keys:
        k = in_use.get(name)
        row[f"misattributed__sensor_{name}"] = 0 if k is None else c[off[O_MIS_S] + k]
    for k, name in enumerate(p.sanction_names):
        row[f"denied_{name}"] = c[off[O_DENIED] + k]
    row["denied_wrongful"] = c[C_DENIED_WRONGFUL]
    row["denied_through_others"] = c[C_DENIED_THROUGH]
    row["collateral_denials"] = c[C_DENIED_COLLATERAL]
    row["collateral_sanctioned"] = c[C_COLLATERAL]
    row["sanctioned"] = c[C_SANCTIONED]
    row["spillover_penalised"] = c[C_PEN]
    row["exposed_household"] = c[C_EXP_HH]
    row["exposed_ties"] = c[C_EXP_TIE]
    row["rewards_granted"] = c[C_REWARDS]
    row["businesses_listed"] = c[C_BIZ_LISTED]
    row["appeals_filed"] = c[C_FILED]
    row["appeals_succeeded"] = c[C_SUCCEEDED]
    row["expired"] = c[C_EXPIRED]
    row["credit_repairs"] = c[C_REPAIRS]
    for k, name in enumerate(p.grade_names):
        row[f"grade_{name}"] = c[off[O_GRADES] + k]
    wrongs = []
    for k, name in enumerate(p.group_names):
        count = ctx.group_sizes[k]
        wrong = c[off[O_G_WRONG] + k]
        row[f"listed__{name}"] = c[off[O_G_LISTED] + k]
        row[f"wrongful_listed__{name}"] = wrong
        # weighted counts over the weighted group size: the rate itself is the raw one
        rate = wrong / (count * gw[k]) if count else math.nan
        row[f"wrongful_rate__{name}"] = rate
        row[f"listed_through_others__{name}"] = c[off[O_G_THROUGH] + k]
        row[f"misattributed__{name}"] = c[off[O_MIS_G] + k]
        wrongs.append(wrong)
    if n_r > 1:
        for r, name in enumerate(p.region_names):
            ks = range(r * n_g, (r + 1) * n_g)
            listed = [int(strat[k, C_LISTED]) for k in ks]
            people = sum(sw[k] * sizes[k] for k in ks)
            if weighted:
                row[f"listed__region_{name}"] = sum(sw[k] * x for k, x in zip(ks, listed,
                                                                               strict=True))
                pts = sum(sw[k] * ssum[k] for k in ks)
            else:
                row[f"listed__region_{name}"] = sum(listed)
                pts = sum(ssum[k] for k in ks)
            row[f"mean_score__region_{name}"] = (pts / SCORE_FIXED_POINT / people if people
                                                 else math.nan)
    di = _daily_disparate(p, ctx.group_sizes, wrongs, gw)
    for name, v in zip(p.group_names, di, strict=True):
        row[f"disparate_impact__{name}"] = v
    resolved = [v for v in di if not math.isnan(v)]
    row["disparate_impact"] = max(resolved) if len(resolved) > 1 else math.nan
    return row


def report(ctx: Context, d: Day) -> None:
    """Make the day's row (``ctx.row``).

    The metrics' columns, then the columns other stages added today (``ctx.columns``). The
    ``metrics`` call of the day after the settle pass, in which each agent's end-of-day stocks
    were tallied (``accumulate``).
    """
    row = daily_row(ctx, d.day)
    if ctx.columns:
        row.update(ctx.columns)
    ctx.row = row


SPEC = StageSpec(
    name="metrics",
    doc="One row per day from the per-chunk counters; harms against the twin ledger.",
    counters=("C_LISTED", "C_LISTED_BL", "C_LISTED_CT", "C_RED", "C_TWIN_LISTED",
              "C_WRONGFUL", "C_OWN_LISTED", "C_THROUGH", "O_G_LISTED", "O_G_WRONG",
              "O_G_THROUGH", "O_HIST", "O_GRADES", "C_SCORE_SUM", "C_TWIN_SUM", "C_QUIET"),
    reads=("F_LISTED", "F_BL", "F_CT", "F_TCT", "F_TLISTED", "F_RED", "O_BL"),
)
