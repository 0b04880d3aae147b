"""Metrics: the registry documents every daily column, and the row matches the state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scslab.stages.metrics import DAILY_MIN_WRONGFUL, SCORE_FIXED_POINT, registry
from scslab.state import F_LISTED, F_TLISTED


@pytest.fixture(scope="module")
def sim(tk):
    return tk.simulate("national", {"population.agents": 6000, "days": 10, "seed": 8,
                                    **tk.HIGH_FMR})


def test_registry_documents_every_column_in_order(sim):
    reg = sim.metric_registry()
    names = [m.name for m in reg]
    assert len(set(names)) == len(names)
    assert names == list(sim.rows[0].keys())
    for m in reg:
        assert m.description.strip() and m.unit.strip(), m.name
        assert m.kind in {"index", "stock", "flow"}, m.name
        assert isinstance(m.scales, bool)


def test_design_columns_present(sim):
    row = sim.rows[0]
    for col in ("day", "mean_score", "listed", "misattributed_events", "wrongful_listed",
                "collateral_sanctioned"):
        assert col in row
    for kind in sim.params.sanction_names:
        assert f"denied_{kind}" in row
    for g in sim.params.group_names:
        assert f"listed__{g}" in row and f"wrongful_listed__{g}" in row


def test_registry_is_generated_from_names():
    reg = registry(["a", "b_c"], ["flight"], ["X", "Y"], ["g1", "g2"])
    names = [m.name for m in reg]
    for n in ("acts_a", "acts_b_c", "denied_flight", "grade_X", "grade_Y", "listed__g1",
              "wrongful_rate__g2", "misattributed__g1"):
        assert n in names
    assert "acts_fraud" not in names


def test_group_rates_and_disparate_impact(sim, tk):
    w, s, p = sim.world, sim.state, sim.params
    row = sim.rows[-1]
    # the fixture lists people wrongly, in every group, so the ratio is defined and checked
    assert tk.total(sim, "misattributed_events") > 0 and row["wrongful_listed"] > 0
    g = w.attr >> 3
    wrong = ((s.flags & F_LISTED) != 0) & ((s.flags & F_TLISTED) == 0)
    rates = []
    for k, name in enumerate(p.group_names):
        n = int((g == k).sum())
        assert row[f"wrongful_listed__{name}"] == int(wrong[g == k].sum())
        assert math.isclose(row[f"wrongful_rate__{name}"], wrong[g == k].sum() / n)
        rates.append(wrong[g == k].sum() / n)
    assert min(rates) > 0, rates
    # each group against the reference (the largest): the ratio of rates, given only when
    # both have at least DAILY_MIN_WRONGFUL agents wrongly listed that day
    sizes = [int((g == k).sum()) for k in range(len(p.group_names))]
    ref = int(np.argmax(sizes))
    resolved = []
    for k, name in enumerate(p.group_names):
        v = row[f"disparate_impact__{name}"]
        if min(wrong[g == k].sum(), wrong[g == ref].sum()) >= DAILY_MIN_WRONGFUL:
            assert math.isclose(v, rates[k] / rates[ref])
            resolved.append(v)
        else:
            assert math.isnan(v)
    assert row[f"disparate_impact__{p.group_names[ref]}"] == 1.0
    assert len(resolved) > 1  # the fixture lists enough people wrongly in two groups
    assert math.isclose(row["disparate_impact"], max(resolved))


def test_disparate_impact_undefined_without_wrongful_listings(tk):
    """No identity errors: people are listed, nobody wrongly, and the ratio is NaN."""
    sim = tk.simulate("national", {"population.agents": 3000, "days": 6, "seed": 8,
                                   **tk.HIGH_FMR, **tk.zero_identity_errors()})
    row = sim.rows[-1]
    assert row["listed"] > 0 and row["wrongful_listed"] == 0
    assert all(row[f"wrongful_rate__{g}"] == 0 for g in sim.params.group_names)
    assert math.isnan(row["disparate_impact"])


def test_percentiles_within_a_histogram_bin(sim):
    """The day's percentiles are read off the N_HIST-bin histogram (``metrics.daily_row``): the
    q-th percentile is the bin where the cumulative count first reaches q·n/100, plus a
    linear interpolation inside that bin. The exact percentile of the same definition,
    the order statistic of rank ceil(q·n/100) (NumPy's "inverted_cdf"), lies in that same
    bin, so both lie inside one bin: they differ by at most one bin width."""
    from scslab.params import N_HIST, P_HIST_HI, P_HIST_LO

    s = sim.state.score.astype(np.float64)
    lo, hi = sim.params.prm[P_HIST_LO], sim.params.prm[P_HIST_HI]
    width = (hi - lo) / N_HIST
    # every score inside the window: the end bins, which take everything beyond it, are
    # not stretched (else the bound would not hold there)
    assert lo <= s.min() and s.max() < hi, (lo, hi, s.min(), s.max())
    row = sim.rows[-1]
    exact = {q: float(np.percentile(s, q, method="inverted_cdf")) for q in (5, 25, 50, 75, 95)}
    # the percentiles fall in several bins, so the bin search itself is exercised
    assert len({int((x - lo) // width) for x in exact.values()}) >= 3, exact
    for q, x in exact.items():
        got = row[f"score_p{q:02d}"]
        # 1e-9 of a bin: a score on a bin edge may fall either side in float arithmetic
        assert abs(got - x) <= width * (1 + 1e-9), (q, got, x, width)


def test_mean_scores_are_exact_fixed_point_means(sim):
    """Score sums are exact integers in units of 2^-20 points, so the mean does not depend
    on the order agents were added in (chunks, threads, the fused pass's blocks)."""
    n = sim.world.n
    row = sim.rows[-1]
    for col, arr in (("mean_score", sim.state.score), ("mean_true_score", sim.state.twin)):
        fixed = np.rint(arr.astype(np.float64) * SCORE_FIXED_POINT).astype(np.int64)
        assert row[col] == int(fixed.sum()) / SCORE_FIXED_POINT / n
        assert abs(row[col] - arr.astype(np.float64).mean()) <= 2.0**-21


def test_histogram_counts_every_agent_once(sim):
    """The day's histogram (four interleaved lanes per chunk) adds up to the population,
    bin by bin equal to binning the final scores."""
    from scslab.params import N_HIST, P_HIST_HI, P_HIST_LO
    from scslab.stages import metrics as M

    c = sim.ctx.work.cnt.sum(axis=0)
    off = sim.ctx.work.off
    hist = c[off[M.O_HIST]:off[M.O_HIST] + N_HIST]
    lo, hi = sim.params.prm[P_HIST_LO], sim.params.prm[P_HIST_HI]
    s = sim.state.score.astype(np.float64)
    b = np.clip(((s - lo) * (N_HIST / (hi - lo))).astype(np.int64), 0, N_HIST - 1)
    np.testing.assert_array_equal(hist, np.bincount(b, minlength=N_HIST))


def test_grades(sim):
    s = sim.state.score
    row = sim.rows[-1]
    grades = sim.scenario.policy.grades
    upper = math.inf
    for g in grades:
        expect = int(((s >= g.min_score) & (s < upper)).sum())
        if g is grades[-1]:
            expect = int((s < upper).sum())
        assert row[f"grade_{g.name}"] == expect, g.name
        upper = g.min_score
