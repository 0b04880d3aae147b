"""The HTML report of a `compare` output directory, and the `scslab report` command."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from report_helpers import parse

from scslab.cli import main
from scslab.report import load_comparison


def test_compare_report_has_table_with_intervals(compare_dir, compare_page):
    table = pd.read_csv(compare_dir / "comparison.csv")
    assert compare_page.by_id("comparison-table") is not None
    text = compare_page.text
    for lab in ("national", "transparent"):
        assert compare_page.by_id("scenarios") is not None
        assert any(a.get("data-scenario") == lab for _, a in compare_page.elements)
    row = table[table.outcome == "misattributed_total"].iloc[0]
    shown = f"{row['national']:,.1f}" if not float(row["national"]).is_integer() else \
        f"{int(row['national']):,}"
    assert shown in text
    assert "transparent − national" in text
    # two replicates: intervals in brackets
    assert re.search(r"\[[-−]?[\d.,]+, [-−]?[\d.,]+\]", text)


def test_compare_report_overlays_daily_lines(compare_dir, compare_page):
    figs = compare_page.figures()
    assert "fig-compare-outcomes" in figs
    assert {"fig-compare-listed", "fig-compare-wrongful-listed",
            "fig-compare-misattributed-events", "fig-compare-denied-all",
            "fig-compare-mean-score"} <= set(figs)
    for lab in ("national", "transparent"):
        dailies = [pd.read_parquet(compare_dir / f"{lab}-r{k}" / "daily.parquet")
                   for k in range(2)]
        # every scenario lists people and misattributes acts: no line is all zeros
        assert all(d["listed"].max() > 0 for d in dailies), lab
        assert all(d["misattributed_events"].sum() > 0 for d in dailies), lab
        t = compare_page.trace("fig-compare-listed", "listed", scenario=lab, stat="mean")
        expect = np.mean([d["listed"].to_numpy(float) for d in dailies], axis=0)
        assert np.allclose(np.array(t["y"], dtype=float), expect)
        wrong = compare_page.trace("fig-compare-wrongful-listed", "wrongful_listed",
                                   scenario=lab, stat="mean")
        expect = np.mean([d["wrongful_listed"].to_numpy(float) for d in dailies], axis=0)
        assert expect.max() > 0, lab  # somebody was listed wrongly
        assert np.allclose(np.array(wrong["y"], dtype=float), expect)
        lo = compare_page.trace("fig-compare-listed", "listed", scenario=lab, stat="min")
        assert np.allclose(lo["y"], np.min([d["listed"] for d in dailies], axis=0))
        mis = compare_page.trace("fig-compare-misattributed-events", "misattributed_events",
                                 scenario=lab, stat="mean")
        assert np.allclose(mis["y"], np.mean([d["misattributed_events"].cumsum()
                                              for d in dailies], axis=0))


def test_compare_outcome_bars_match_table(compare_dir, compare_page):
    table = pd.read_csv(compare_dir / "comparison.csv")
    row = table[table.outcome == "listed_end"].iloc[0]
    bar = compare_page.trace("fig-compare-outcomes", "listed_end")
    assert bar["x"] == ["national", "transparent"]
    assert np.allclose(bar["y"], [row["national"], row["transparent"]])


def test_compare_report_shows_differences_and_governance(compare_page):
    assert len(re.findall(r"plotly\.js v\d+\.\d+\.\d+", compare_page.raw)) == 1
    text = compare_page.text
    assert "governance.appeals.enabled" in text
    assert "governance.transparency" in text
    assert compare_page.by_id("governance-table") is not None
    assert compare_page.by_id("differences-table") is not None


def test_load_comparison_groups_runs(compare_dir):
    data = load_comparison(compare_dir)
    assert data.labels == ["national", "transparent"]
    assert data.replicates == 2
    assert [r.run_dir.name for r in data.runs["transparent"]] == ["transparent-r0",
                                                                  "transparent-r1"]


def test_cli_report_run_and_compare(run_result, compare_dir, tmp_path, capsys):
    out = tmp_path / "r.html"
    with pytest.raises(SystemExit) as e:
        main(["report", str(run_result.run_dir), "--out", str(out)])
    assert e.value.code == 0
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert parse(out).figure_json("fig-lists")["data"]
    with pytest.raises(SystemExit) as e:
        main(["report", str(compare_dir), "--out", str(tmp_path / "c.html")])
    assert e.value.code == 0
    assert "fig-compare-listed" in parse(tmp_path / "c.html").figures()


@pytest.mark.parametrize("make", ["missing", "empty", "broken-compare"])
def test_cli_report_bad_dir_exits_2_with_one_line(tmp_path, capsys, make):
    d = tmp_path / "x"
    if make != "missing":
        d.mkdir()
    if make == "broken-compare":
        (d / "comparison.csv").write_text("outcome,description\n")
        (d / "runs.csv").write_text("scenario,replicate,seed\nnational,0,1\n")
    with pytest.raises(SystemExit) as e:
        main(["report", str(d)])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1
    assert "Traceback" not in err
