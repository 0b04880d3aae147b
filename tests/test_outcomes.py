"""The outcomes registry computes each outcome as declared, from the daily frame or the summary."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scslab import outcomes as O


def _daily() -> pd.DataFrame:
    return pd.DataFrame({
        "day": [1, 2, 3],
        "listed": [2, 5, 4],
        "wrongful_listed": [0, 1, 3],
        "collateral_sanctioned": [0, 2, 1],
        "sanctioned": [2, 7, 5],
        "misattributed_events": [1, 0, 2],
        "denied_flight": [1, 2, 0],
        "denied_train": [0, 1, 1],
        "denied_wrongful": [0, 1, 0],
        "collateral_denials": [0, 0, 1],
        "appeals_succeeded": [0, 0, 1],
        "mean_score": [1000.0, 998.5, 997.0],
        "disparate_impact": [float("nan"), 2.0, 3.0],
        "wrongful_rate__a": [0.1, 0.2, 0.3],
        "wrongful_rate__b": [0.05, 0.05, 0.05],
    })


def _fairness() -> dict:
    from scslab.fairness import assess

    d = pd.DataFrame({"wrongful_listed__a": [10, 30, 40], "wrongful_listed__b": [40, 40, 50],
                      "misattributed__a": [5, 5, 5], "misattributed__b": [10, 10, 10]})
    return assess(d, {"a": 100, "b": 400})


def test_each_reduction_is_as_declared() -> None:
    m = O.measure(_daily(), {"chilling_effect": 0.25, "fairness": _fairness()})
    assert m["listed_end"] == 4
    assert m["wrongful_listed_mean"] == pytest.approx(4 / 3)
    assert m["misattributed_total"] == 3
    assert m["denials_total"] == 5  # flights and trains, not the wrongful subset
    assert m["denied_wrongful_total"] == 1
    # the worst-hit group's rate per person-day over the reference's (b, the largest)
    assert m["disparate_impact"] == pytest.approx((80 / 300) / (130 / 1200))
    assert m["disparate_impact__a"] == m["disparate_impact"]
    assert m["misattribution_ratio__a"] == pytest.approx((15 / 300) / (30 / 1200))
    assert m["disparate_impact_end"] == 3.0
    assert m["chilling_effect"] == 0.25
    assert m["mean_score_end"] == 997.0


def test_unmeasured_outcomes_are_nan() -> None:
    m = O.measure(_daily(), {})
    assert math.isnan(m["chilling_effect"])
    assert math.isnan(m["abroad_visitors_total"])
    # fairness ratios come from the summary's fairness block: none, no ratio
    assert math.isnan(O.get("disparate_impact").value(_daily()))
    assert O.get("disparate_impact").detail({}) is None


def test_the_summary_alone_gives_last_values_and_totals() -> None:
    d = _daily()
    summary = {"metrics": d.iloc[-1].to_dict(),
               "totals": {c: d[c].sum() for c in ("misattributed_events", "denied_flight",
                                                   "denied_train", "denied_wrongful")}}
    for o in O.OUTCOMES:
        if o.how in ("last", "total") and o.daily_columns(summary["metrics"]):
            got, want = o.value(None, summary), o.value(d, summary)
            if o.how == "total" and not all(c in summary["totals"]
                                            for c in o.daily_columns(d.columns)):
                continue
            assert got == pytest.approx(want, nan_ok=True), o.key


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_totals_and_last_values_of_any_series(xs: list[int]) -> None:
    d = pd.DataFrame({"listed": xs, "misattributed_events": xs})
    assert O.get("listed_end").value(d) == xs[-1]
    assert O.get("misattributed_total").value(d) == sum(xs)


def test_keys_are_unique_and_consumers_read_subsets() -> None:
    assert len(O.BY_KEY) == len(O.OUTCOMES)
    assert {o.key for o in O.cards()} <= set(O.BY_KEY)
    assert all(o.card for o in O.cards())
    assert O.table_outcomes() and O.summary_outcomes()
    with pytest.raises(KeyError, match="known"):
        O.get("nonsense")


def test_text_formats_by_unit() -> None:
    assert O.get("listed_end").text(12345.0) == "12,345"
    assert O.get("chilling_effect").text(0.125) == "12.5%"
    assert O.get("disparate_impact").text(2.0) == "2.00×"
    assert O.get("mean_score_end").text(997.04) == "997.0"
    assert O.get("listed_end").text(math.nan) == "–"


def test_tables_drop_conditional_outcomes_no_run_measured() -> None:
    runs = pd.DataFrame([O.measure(_daily(), {}), O.measure(_daily(), {})])
    shown = {o.key for o in O.measured_outcomes(runs)}
    assert "chilling_effect" not in shown and "abroad_visitors_total" not in shown
    assert {o.key for o in O.OUTCOMES if not o.conditional and not o.per_group} <= shown
    runs.loc[1, "chilling_effect"] = 0.1  # one run measured it: it is shown
    assert "chilling_effect" in {o.key for o in O.measured_outcomes(runs)}
    assert O.get("abroad_visitors_total").conditional and O.get("chilling_effect").conditional
    assert not O.get("disparate_impact").conditional
    # a column never measured (absent) is left out too; a required one stays listed
    assert "abroad_recorded_end" not in {o.key for o in O.measured_outcomes(pd.DataFrame())}
    assert "listed_end" in {o.key for o in O.measured_outcomes(pd.DataFrame())}
