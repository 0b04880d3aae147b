"""The CLI's end-of-run summary shows the outcomes registry's summary outcomes."""

from __future__ import annotations

from scslab import outcomes as O
from scslab.commands.common import summary_rows, summary_table


def _summary(**extra) -> dict:
    s = {"scenario": "t", "agents": 1000, "days": 3, "build_seconds": 0.5,
         "elapsed_seconds": 1.25, "agent_days_per_second": 2400.0, "completed": True,
         "metrics": {"listed": 4, "wrongful_listed": 3, "collateral_sanctioned": 1,
                     "mean_score": 997.04},
         "totals": {"misattributed_events": 3, "denied_flight": 3, "denied_train": 2,
                    "denied_wrongful": 1},
         "chilling_effect": None}
    s.update(extra)
    return s


def test_rows_are_the_measured_summary_outcomes_then_the_run() -> None:
    rows = dict(summary_rows(_summary()))
    assert rows[O.get("listed_end").label] == "4"
    assert rows[O.get("wrongful_listed_end").label] == "3"
    assert rows[O.get("denials_total").label] == "5"  # flights and trains, not the wrongful
    assert rows[O.get("denied_wrongful_total").label] == "1"
    assert rows[O.get("mean_score_end").label] == "997.0"
    # not measured (NaN): left out, not shown as 0
    assert O.get("chilling_effect").label not in rows
    assert not any(o.label in rows for o in O.OUTCOMES if o.optional)
    assert rows["build"] == "0.50 s" and rows["completed"] == "true"
    assert rows["day loop"] == "1.25 s (2,400 agent-days/s)"
    labels = [k for k, _ in summary_rows(_summary())]
    shown = [o.label for o in O.summary_outcomes() if o.label in rows]
    assert labels[:len(shown)] == shown  # the registry's order, before the run's rows


def test_measured_optional_outcomes_and_chilling_show() -> None:
    s = _summary(chilling_effect=0.125)
    s["totals"].update(abroad_visitors=7, abroad_false_matches=2)
    s["metrics"]["abroad_recorded_total"] = 5
    rows = dict(summary_rows(s))
    assert rows[O.get("chilling_effect").label] == "12.5%"
    assert rows[O.get("abroad_visitors_total").label] == "7"
    assert rows[O.get("abroad_recorded_end").label] == "5"
    assert rows[O.get("abroad_false_matches_total").label] == "2"


def test_targets_and_scale_rows() -> None:
    s = _summary(targets=[{"target": "listed=5", "achieved": 4.0, "relative_error": -0.2},
                          {"target": "listed@9=1", "achieved": None, "relative_error": None}],
                 scale={"factor": 1000.0, "represents": 1_000_000,
                        "metrics": {"listed": 4000.0, "listed_court": 10.0}})
    rows = dict(summary_rows(s))
    assert rows["target listed=5"] == "4 (-20.0%)"
    assert rows["target listed@9=1"] == "not reached in this run"
    assert rows["scaled ×1,000 to 1,000,000 people"] == "listed 4,000, court list 10"
    t = summary_table(s)
    assert t.row_count == len(rows) and t.title == "t — 1,000 agents × 3 days"
