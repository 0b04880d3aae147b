"""Fairness: rate ratios against the reference group, their intervals and the events rule."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from scslab import fairness as F
from scslab import outcomes as O

# ----------------------------------------------------------------------------- intervals


def test_rate_ratio_point_and_edges() -> None:
    est, lo, hi = F.rate_ratio(40, 1000.0, 20, 2000.0)
    assert est == pytest.approx(4.0)
    assert lo < 4.0 < hi
    # no events in the group: the ratio is 0 and the interval starts at 0
    est, lo, hi = F.rate_ratio(0, 1000.0, 20, 2000.0)
    assert est == 0.0 and lo == 0.0 and 0 < hi < math.inf
    # no events in the reference: no ratio, and the interval is unbounded above
    est, lo, hi = F.rate_ratio(5, 1000.0, 0, 2000.0)
    assert math.isnan(est) and hi == math.inf and lo > 0
    assert all(math.isnan(v) for v in F.rate_ratio(0, 1.0, 0, 1.0))


def test_rate_ratio_matches_the_textbook_example() -> None:
    """Equal person-days: π = x1/(x1+x0) and RR = π/(1−π); the bounds map from Clopper–Pearson."""
    from scipy.stats import beta

    est, lo, hi = F.rate_ratio(30, 5000.0, 10, 5000.0)
    p_lo, p_hi = beta.ppf(0.025, 30, 11), beta.ppf(0.975, 31, 10)
    assert est == pytest.approx(3.0)
    assert lo == pytest.approx(p_lo / (1 - p_lo)) and hi == pytest.approx(p_hi / (1 - p_hi))


@pytest.mark.parametrize("rr,mu0,t1,t0", [(2.5, 40.0, 1.0, 10.0), (1.0, 12.0, 1.0, 1.0)])
def test_interval_coverage_is_near_95_percent(rr: float, mu0: float, t1: float, t0: float
                                              ) -> None:
    """Poisson counts with a known rate ratio: the interval holds it about 95 % of the time.

    2,000 replicates (seed 7). The coverage estimate's standard error is
    sqrt(0.95 · 0.05 / 2000) ≈ 0.0049; the exact method is conservative (coverage ≥ 95 %
    up to discreteness), so the lower tolerance is 3 standard errors below 0.95 and the
    upper one rules out an interval so wide it always covers (≤ 0.99, i.e. the
    discreteness excess at these counts, about 1–3 points, plus 3 standard errors).
    """
    rng = np.random.default_rng(7)
    reps = 2000
    rate0 = mu0 / t0
    x1 = rng.poisson(rr * rate0 * t1, reps)
    x0 = rng.poisson(rate0 * t0, reps)
    hit = 0
    for a, b in zip(x1.tolist(), x0.tolist(), strict=True):
        _, lo, hi = F.rate_ratio(a, t1, b, t0)
        hit += bool(lo <= rr <= hi)
    se = math.sqrt(0.95 * 0.05 / reps)
    cov = hit / reps
    assert 0.95 - 3 * se <= cov <= 0.99, cov


def test_episodes_count_entries_from_the_daily_stock() -> None:
    assert F.episodes([0, 2, 2, 1, 3]) == 4  # 2 on day 2, 2 more on day 5
    assert F.episodes([3, 3, 3]) == 3
    assert F.episodes([]) == 0


# ----------------------------------------------------------------------------- the rule


def _daily(days: int = 100) -> pd.DataFrame:
    """Three groups; ``big`` and ``mid`` have episodes, ``tiny`` has none."""
    d = {"day": np.arange(1, days + 1)}
    big = np.zeros(days, int)
    for start in range(0, days, 5):
        big[start:start + 3] += 1  # listed 3 days, then off for 2: 20 episodes
    d["wrongful_listed__big"] = big
    mid = np.zeros(days, int)
    for start in range(0, days, 8):
        mid[start:start + 4] += 1  # 13 episodes
    d["wrongful_listed__mid"] = mid
    d["wrongful_listed__tiny"] = np.zeros(days, int)
    d["misattributed__big"] = np.full(days, 2)
    d["misattributed__mid"] = np.full(days, 1)
    d["misattributed__tiny"] = np.r_[np.ones(3, int), np.zeros(days - 3, int)]
    return pd.DataFrame(d)


AGENTS = {"big": 8000, "mid": 1000, "tiny": 200}


def test_assess_gives_ratios_when_both_groups_have_enough_episodes() -> None:
    fair = F.assess(_daily(), AGENTS)
    assert fair["reference"] == "big" and fair["min_events"] == F.MIN_EVENTS
    m = fair["groups"]["mid"]["disparate_impact"]
    assert m["rule_events"] == 13 and m["reference_rule_events"] == 20
    # agent-days: mid 13 episodes × 4 days (the last one cut at day 100: 4 days) = 52
    assert m["events"] == 52 and m["reference_events"] == 60
    assert m["ratio"] == pytest.approx((52 / 100_000) / (60 / 800_000))
    assert m["lo"] < m["ratio"] < m["hi"] and m["verdict"] == "higher"
    assert m["episode_lo"] < m["episode_ratio"] < m["episode_hi"]
    # the episode interval counts fewer, independent events: it is wider
    assert m["episode_hi"] / m["episode_lo"] > m["hi"] / m["lo"]
    mis = fair["groups"]["mid"]["misattribution_ratio"]
    assert mis["ratio"] == pytest.approx((100 / 100_000) / (200 / 800_000))
    assert fair["groups"]["big"]["disparate_impact"]["verdict"] == "reference"


def test_verdict_says_so_when_episodes_and_person_days_disagree() -> None:
    """A group listed often but briefly: fewer wrongful person-days per agent than the
    reference, yet more episodes per agent — the verdict names both directions."""
    days = 400
    ref = np.zeros(days, int)
    for start in range(0, days, 20):
        ref[start:start + 19] += 5  # 20 spells of 19 days, 5 agents each: 100 episodes
    short = np.zeros(days, int)
    for start in range(0, days, 2):
        short[start] += 1  # 200 one-day spells
    daily = pd.DataFrame({"day": np.arange(1, days + 1), "wrongful_listed__ref": ref,
                          "wrongful_listed__short": short,
                          "misattributed__ref": np.ones(days, int),
                          "misattributed__short": np.ones(days, int)})
    m = F.assess(daily, {"ref": 10_000, "short": 10_000})["groups"]["short"][
        "disparate_impact"]
    # person-days: 200 against 1,900 (hi < 1); episodes: 200 against 100 (lo > 1)
    assert m["hi"] < 1 and m["episode_lo"] > 1
    assert m["verdict"].startswith("lower by person-days, but higher by episodes")
    assert "more often, for shorter spells" in m["verdict"]


def test_below_the_rule_the_ratio_is_null_and_says_how_many_agents_would_resolve_it() -> None:
    fair = F.assess(_daily(), AGENTS)
    m = fair["groups"]["tiny"]["misattribution_ratio"]
    assert m["ratio"] is None and m["verdict"] == "not enough events" and not m["enough"]
    # tiny's own rate: 3 acts / 200 agents → 10 acts need ceil(10 / 0.015) = 667 of its
    # agents, i.e. 667 × 9200 / 200 = 30,682 agents at this composition
    need = m["agents_needed"]
    assert need["per_group"] == {"tiny": 667}
    assert need["agents"] == math.ceil(667 * 9200 / 200)
    w = fair["groups"]["tiny"]["disparate_impact"]
    # no episode in tiny: the pooled rate (33 episodes / 9200 agents) stands in
    assert w["ratio"] is None
    assert w["agents_needed"]["per_group"]["tiny"] == math.ceil(10 / (33 / 9200))
    text = F.entry_text("tiny", "big", "disparate_impact", w)
    assert text.startswith("not enough events (0 in tiny, 20 in big; 10 episodes needed")
    assert "agents would resolve it" in text and "oversample tiny to" in text
    json.dumps(fair, allow_nan=False)  # JSON-safe: no NaN anywhere


def test_no_events_anywhere_says_so() -> None:
    d = _daily()
    for c in d.columns:
        if c.startswith("wrongful_listed__"):
            d[c] = 0
    m = F.assess(d, AGENTS)["groups"]["mid"]["disparate_impact"]
    assert m["agents_needed"]["agents"] is None
    assert "no population size can be estimated" in F.entry_text("mid", "big",
                                                                 "disparate_impact", m)


def test_declared_reference_and_survey_weights() -> None:
    d = _daily()
    fair = F.assess(d, AGENTS, reference="mid")
    assert fair["reference"] == "mid"
    assert fair["groups"]["big"]["disparate_impact"]["ratio"] == pytest.approx(
        1 / F.assess(d, AGENTS)["groups"]["mid"]["disparate_impact"]["ratio"])
    # weighted daily counts (w people per agent) and the weights: the same answer
    w = {"big": 1.0, "mid": 0.25, "tiny": 0.1}
    dw = d.copy()
    for g, wg in w.items():
        for c in (f"wrongful_listed__{g}", f"misattributed__{g}"):
            dw[c] = d[c] * wg
    a, b = F.assess(d, AGENTS), F.assess(dw, AGENTS, weights=w)
    for g in AGENTS:
        for key in F.MEASURES:
            ma, mb = a["groups"][g][key], b["groups"][g][key]
            for k in ("ratio", "lo", "hi", "events", "rule_events", "verdict"):
                assert ma.get(k) == pytest.approx(mb.get(k)), (g, key, k)


def test_outcomes_read_the_fairness_block_per_group() -> None:
    summary = {"fairness": F.assess(_daily(), AGENTS)}
    keys = [o.key for o in O.for_run(summary)]
    assert "disparate_impact__mid" in keys and "misattribution_ratio__tiny" in keys
    assert "disparate_impact__big" not in keys  # the reference is not compared with itself
    m = O.measure(None, summary)
    assert m["disparate_impact__mid"] == pytest.approx(
        summary["fairness"]["groups"]["mid"]["disparate_impact"]["ratio"])
    assert math.isnan(m["disparate_impact__tiny"])
    assert m["disparate_impact"] == m["disparate_impact__mid"]  # the worst resolved group
    assert O.get("disparate_impact__tiny").detail(summary).startswith("not enough events")
    assert "[" in O.get("disparate_impact__mid").detail(summary)
    # a table of runs shows the per-group outcomes even when none resolved
    shown = [o.key for o in O.measured_outcomes(pd.DataFrame([m]))]
    assert "disparate_impact__tiny" in shown and "misattribution_ratio__mid" in shown


# ----------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import scslab

    out = tmp_path_factory.mktemp("fair") / "run"
    return scslab.run("national", agents=3000, days=20, seed=3, out=out,
                      set={"sensors.cameras.false_match_rate": 0.05})


def test_a_run_has_the_fairness_summary_and_daily_columns(run) -> None:
    fair = run.summary["fairness"]
    assert fair["reference"] == "majority"
    assert set(fair["groups"]) == {"majority", "minority", "foreign"}
    assert sum(e["agents"] for e in fair["groups"].values()) == 3000
    # the foreign group (2 % of households) cannot reach 10 wrongful episodes in 3,000 agents
    fm = fair["groups"]["foreign"]["disparate_impact"]
    assert fm["ratio"] is None and fm["verdict"] == "not enough events"
    for g in fair["groups"]:
        assert f"disparate_impact__{g}" in run.daily.columns
    # the daily column is empty on days below the rule (fewer than 10 foreign agents listed)
    low = run.daily["wrongful_listed__foreign"] < 10
    assert run.daily.loc[low, "disparate_impact__foreign"].isna().all()
    # summary.json is written and read back with the block
    from scslab.results import read_summary

    assert read_summary(run.run_dir)["fairness"]["reference"] == "majority"


def test_cli_summary_says_not_enough_events(run) -> None:
    from scslab.commands.common import summary_rows

    rows = dict(summary_rows(run.summary))
    label = O.get("disparate_impact__foreign").label
    assert rows[label].startswith("not enough events")
    assert "nan" not in " ".join(rows.values()).lower()


def test_report_has_a_fairness_table_with_the_message(run) -> None:
    from scslab.report import write_report

    path = write_report(run)
    html = path.read_text()
    assert "fairness-table" in html and "not enough events" in html
    assert "Fairness: each group against majority" in html


def test_compare_shows_per_group_ratios_and_the_shortfall(tmp_path) -> None:
    import io

    from rich.console import Console

    from scslab.comparison import compare, render_comparison
    from scslab.report.comparison import comparison_rows, load_comparison

    cmp = compare(["national", "national"], agents=1500, days=6, out=tmp_path / "cmp")
    keys = cmp.table["outcome"].tolist()
    assert "disparate_impact__foreign" in keys and "misattribution_ratio__minority" in keys
    row = cmp.table.set_index("outcome").loc["disparate_impact__foreign"]
    assert str(row["national__text"]).startswith("not enough events")
    buf = io.StringIO()
    render_comparison(cmp, Console(file=buf, width=400))
    assert "not enough events" in buf.getvalue()
    # the comparison written to disk reads back (text cells allowed) and its report says so
    table = comparison_rows(load_comparison(tmp_path / "cmp"))
    assert any("not enough events" in c for r in table.rows for c in r)
    assert "not enough events" in (tmp_path / "cmp" / "report.html").read_text()


def test_an_unknown_reference_group_is_bad_input(tk, tmp_path) -> None:
    proc = tk.cli("run", "national", "--agents", "100", "--days", "1", "--no-catalog",
                  "--set", "population.reference_group=nobody", "--out", tmp_path / "r",
                  cwd=tmp_path)
    tk.bad_input(proc, "reference_group", "nobody", "majority, minority, foreign")


def test_a_declared_reference_group_is_used(tmp_path) -> None:
    import scslab

    res = scslab.run("national", agents=1500, days=3, seed=2, report=False,
                     set={"population.reference_group": "minority"})
    fair = res.summary["fairness"]
    assert fair["reference"] == "minority"
    assert "disparate_impact__majority" in {o.key for o in O.for_run(res.summary)}
    assert res.daily["disparate_impact__minority"].isna().all()  # too few to resolve
