"""``scslab compare``: scenarios on common random numbers, paired differences, intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import scslab
from scslab.cli import main
from scslab.comparison import compare, interval
from scslab.outcomes import OUTCOMES, expand, measure

KW = {"agents": 1500, "days": 6}


@pytest.fixture(scope="module")
def cmp(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    # a hair-trigger blacklist: people are listed (some wrongly) within the six days, so the
    # harm outcomes compared below are not all zeros
    return compare(["national", "transparent"], replicates=2, out=root / "out",
                   db=root / "c.duckdb", set={"sensors.cameras.false_match_rate": 0.2,
                                              "policy.lists.blacklist.enter_below": 995,
                                              "policy.lists.blacklist.exit_at_or_above": 999},
                   **KW)


def test_table_shape(cmp):
    assert cmp.labels == ["national", "transparent"]
    # every outcome of the registry, in its order, but the optional ones no run measured
    groups = ["minority", "foreign"]  # each compared with the reference (majority)
    shown = [o for o in expand(OUTCOMES, groups) if not o.optional]
    assert cmp.table["outcome"].tolist() == [o.key for o in shown]
    assert cmp.table["description"].tolist() == [o.label for o in shown]
    assert {"sanctioned_end", "disparate_impact_end"} <= set(cmp.per_run.columns)
    assert not any(o.key in cmp.per_run for o in OUTCOMES if o.optional)
    for col in ("national", "national__lo", "national__hi", "transparent",
                "transparent-national", "transparent-national__lo",
                "transparent-national__hi"):
        assert col in cmp.table.columns, col
    assert len(cmp.per_run) == 4


def test_common_random_numbers(cmp):
    """Replicate r of every scenario runs on the same seed; replicates differ."""
    seeds = cmp.per_run.pivot(index="replicate", columns="scenario", values="seed")
    assert (seeds["national"] == seeds["transparent"]).all()
    assert seeds["national"].nunique() == 2
    assert cmp.seeds == seeds["national"].tolist()


def test_differences_are_paired_means(cmp):
    pr = cmp.per_run
    # the scenarios differ (not two empty runs): a paired mean of zeros proves nothing
    assert (pr.listed_end > 0).all() and (pr.misattributed_total > 0).all()
    assert (cmp.table.set_index("outcome")["transparent-national"].abs() > 0).sum() >= 3
    for key in cmp.table["outcome"]:
        a = pr[pr.scenario == "national"].sort_values("replicate")[key].to_numpy(float)
        b = pr[pr.scenario == "transparent"].sort_values("replicate")[key].to_numpy(float)
        row = cmp.table[cmp.table.outcome == key].iloc[0]
        m = np.nanmean(b - a) if not np.all(np.isnan(b - a)) else math.nan
        got = row["transparent-national"]
        assert (math.isnan(m) and math.isnan(got)) or math.isclose(got, m, abs_tol=1e-9), key
        lo, hi = row["national__lo"], row["national__hi"]
        if not math.isnan(lo):
            assert lo <= row["national"] <= hi


def test_outcomes_come_from_the_daily_table(cmp):
    res = cmp.results[0]
    o = measure(res.daily, res.summary)
    rec = cmp.per_run.iloc[0]
    assert o["listed_end"] > 0 and o["wrongful_listed_end"] > 0 and o["misattributed_total"] > 0
    for key in cmp.table["outcome"]:
        x, y = o[key], rec[key]
        assert (math.isnan(x) and math.isnan(y)) or x == y, key
    assert o["listed_end"] == res.daily["listed"].iloc[-1]
    assert o["misattributed_total"] == res.daily["misattributed_events"].sum()


def test_outputs_written(cmp):
    d = cmp.out_dir
    for f in ("comparison.csv", "runs.csv", "comparison.parquet"):
        assert (d / f).is_file(), f
    back = pd.read_csv(d / "comparison.csv")
    assert back["outcome"].tolist() == cmp.table["outcome"].tolist()
    for lab in cmp.labels:
        for r in range(2):
            assert (d / f"{lab}-r{r}" / "daily.parquet").is_file()


def test_recorded_in_the_catalog(cmp):
    from scslab.catalog import query

    db = cmp.out_dir.parent / "c.duckdb"
    runs = query(db, "SELECT scenario_name FROM runs")
    assert sorted(runs["scenario_name"]) == ["national", "national", "transparent",
                                            "transparent"]
    c = query(db, "SELECT DISTINCT outcome FROM comparisons")
    assert set(c["outcome"]) == set(cmp.table["outcome"])


def test_interval():
    m, lo, hi = interval(np.array([1.0, 2.0, 3.0]))
    assert m == 2.0 and lo < 2.0 < hi
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert math.isclose(hi - m, half)
    m, lo, hi = interval(np.array([4.0]))
    assert m == 4.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in interval(np.array([])))
    m, lo, hi = interval(np.array([5.0, 5.0, 5.0]))
    assert (m, lo, hi) == (5.0, 5.0, 5.0)


def test_self_comparison_with_replicates_is_exactly_zero():
    c = compare(["rm1", "rm1"], replicates=2, **KW)
    a, b = c.labels
    assert a != b
    for col in (f"{b}-{a}", f"{b}-{a}__lo", f"{b}-{a}__hi"):
        v = c.table[col].to_numpy(float)
        base = c.table[a].to_numpy(float)
        assert np.all((v == 0) | np.isnan(base)), col


def test_compare_cli_needs_two(capsys):
    with pytest.raises(SystemExit) as e:
        main(["compare", "national"])
    assert e.value.code == 2
    assert "two" in capsys.readouterr().err


def test_compare_cli(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["compare", "rm1", "rm1", "--agents", "300", "--days", "3", "--no-catalog",
              "--out", str(tmp_path / "c")])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "common random numbers" in out and (tmp_path / "c" / "comparison.csv").is_file()


def test_top_level_compare_callable_twice():
    for _ in range(2):
        c = scslab.compare(["rm1", "rm1"], agents=100, days=2)
        assert len(c.per_run) == 2
