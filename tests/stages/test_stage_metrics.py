"""Metrics: the registry documents every daily column, and the row matches the state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scslab.params import F_LISTED, F_TLISTED
from scslab.stages.metrics import registry


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


def test_group_rates_and_disparate_impact(sim):
    w, s, p = sim.world, sim.state, sim.params
    row = sim.rows[-1]
    g = w.attr >> 3
    wrong = ((s.flags & F_LISTED) != 0) & ((s.flags & F_TLISTED) == 0)
    rates = []
    for k, name in enumerate(p.group_names):
        n = int((g == k).sum())
        assert row[f"wrongful_listed__{name}"] == int(wrong[g == k].sum())
        assert math.isclose(row[f"wrongful_rate__{name}"], wrong[g == k].sum() / n)
        rates.append(wrong[g == k].sum() / n)
    if min(rates) > 0:
        assert math.isclose(row["disparate_impact"], max(rates) / min(rates))
    else:
        assert math.isnan(row["disparate_impact"])


def test_percentiles_within_a_histogram_bin(sim):
    s = sim.state.score.astype(np.float64)
    sc = sim.scenario.policy.scoring
    width = (sc.maximum - sc.minimum) / 64
    row = sim.rows[-1]
    for q in (5, 25, 50, 75, 95):
        assert abs(row[f"score_p{q:02d}"] - np.percentile(s, q)) <= width + 1e-9, q


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
