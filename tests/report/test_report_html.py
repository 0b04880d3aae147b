"""The HTML report of a run: one offline file whose panels carry the run's own numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from report_helpers import parse

import scslab
from scslab.errors import RunDirError, ScslabError
from scslab.outcomes import refusal_columns
from scslab.report import build_report, write_report

RUN_FIGURES = {
    "fig-score": "score",
    "fig-grades": "grades",
    "fig-lists": "listed",
    "fig-list-flows": "list_entries",
    "fig-denials": "denied",
    "fig-harms": "wrongful_listed",
    "fig-harm-events": "misattributed_events",
    "fig-group-rates": "wrongful_rate",
    "fig-disparate-impact": "disparate_impact",
    "fig-chilling": "chilling_effect",
    "fig-spillover": "collateral_sanctioned",
    "fig-due-process": "appeals_succeeded",
    "fig-acts": "acts",
}


def _same(series: list, expected) -> bool:
    a = np.array([np.nan if v is None else v for v in series], dtype=float)
    b = np.asarray(expected, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, equal_nan=True)


def test_run_writes_report_html_by_default(run_result):
    assert (run_result.run_dir / "report.html").is_file()
    leftovers = [p.name for p in run_result.run_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_plotly_embedded_once_and_nothing_external(run_page):
    raw = run_page.raw
    assert len(re.findall(r"plotly\.js v\d+\.\d+\.\d+", raw)) == 1
    assert raw.count('id="plotlyjs"') == 1
    for tag, a in run_page.elements:
        assert "src" not in a or not re.match(r"(https?:)?//", a["src"]), (tag, a)
        assert not (tag == "link" and re.match(r"(https?:)?//", a.get("href", ""))), a
    assert not re.search(r"""<script[^>]+src=["']https?:""", raw)
    # a single page: figures are drawn from embedded JSON, not by inlined plotly.js copies
    assert len(run_page.figures()) == len(RUN_FIGURES)


def test_every_figure_has_a_stable_id_metric_and_caption(run_page):
    figs = run_page.figures()
    assert {k: v["data-metric"] for k, v in figs.items()} == RUN_FIGURES
    for fig_id in figs:
        spec = run_page.figure_json(fig_id)
        assert spec["data"], fig_id
        assert run_page.by_id(f"{fig_id}-plot") is not None
    # every chart is followed by a caption
    assert run_page.raw.count("<figcaption>") == len(RUN_FIGURES)


def test_lists_panel_carries_the_daily_series(run_result, run_page):
    d = run_result.daily
    t = run_page.trace("fig-lists", "listed")
    assert t["x"] == d["day"].tolist()
    assert _same(t["y"], d["listed"])
    for col in ("listed_blacklist", "listed_court", "redlisted", "true_listed"):
        assert _same(run_page.trace("fig-lists", col)["y"], d[col]), col
    assert _same(run_page.trace("fig-list-flows", "list_entries")["y"], d["list_entries"])
    assert _same(run_page.trace("fig-list-flows", "list_exits")["y"], -d["list_exits"])
    assert run_page.figures()["fig-lists"]["data-columns"].split() == [
        "listed", "listed_blacklist", "listed_court", "true_listed", "redlisted"]


def test_score_fan_and_grades(run_result, run_page):
    d = run_result.daily
    for col in ("score_p05", "score_p25", "score_p50", "score_p75", "score_p95", "mean_score",
                "mean_true_score"):
        assert _same(run_page.trace("fig-score", col)["y"], d[col]), col
    grades = [c for c in d.columns if c.startswith("grade_")]
    assert grades
    for col in grades:
        assert _same(run_page.trace("fig-grades", col)["y"], d[col]), col
    # stacked: every day's grade counts add up to the population
    total = sum(np.array(run_page.trace("fig-grades", c)["y"], dtype=float) for c in grades)
    assert np.all(total == run_result.summary["agents"])


def test_denials_by_type_are_running_totals(run_result, run_page):
    d = run_result.daily
    kinds = refusal_columns(d.columns)
    assert len(kinds) == 6
    for col in kinds:
        t = run_page.trace("fig-denials", col, transform="cumulative")
        assert _same(t["y"], d[col].cumsum()), col
    table = run_page.by_id("sanctions-table-1")
    assert table is not None


def test_harms_panel(run_result, run_page):
    d, s = run_result.daily, run_result.summary
    # the fixture makes identity errors frequent: people are listed, some wrongly, refused
    # and punished through their households, so no series below is all zeros
    assert d["misattributed_events"].sum() > 0
    assert d["listed"].max() > 0 and d["wrongful_listed"].max() > 0
    assert d["denied_wrongful"].sum() > 0
    assert d["collateral_sanctioned"].max() > 0 and d["collateral_denials"].sum() > 0
    assert _same(run_page.trace("fig-harms", "wrongful_listed")["y"], d["wrongful_listed"])
    assert _same(run_page.trace("fig-harms", "collateral_sanctioned")["y"],
                 d["collateral_sanctioned"])
    for col in ("misattributed_events", "denied_wrongful", "collateral_denials"):
        assert _same(run_page.trace("fig-harm-events", col)["y"], d[col].cumsum()), col
    # disparate impact: one bar per group, the last day's rate per 10,000
    groups = [c.split("__")[1] for c in d.columns if c.startswith("wrongful_rate__")]
    assert groups == ["majority", "minority"]
    assert all(d[f"wrongful_listed__{g}"].iloc[-1] > 0 for g in groups)  # both groups hit
    bars = run_page.trace("fig-group-rates", "wrongful_rate__*", transform="last×10000")
    assert bars["x"] == groups
    assert _same(bars["y"], [d[f"wrongful_rate__{g}"].iloc[-1] * 1e4 for g in groups])
    mean = run_page.trace("fig-group-rates", "wrongful_rate__*", transform="mean×10000")
    assert _same(mean["y"], [d[f"wrongful_rate__{g}"].mean() * 1e4 for g in groups])
    # disparate impact over time: one line per group with a resolved day, ratio to the
    # reference (days below the events rule are gaps)
    di = [c for c in d.columns if c.startswith("disparate_impact__")]
    assert di and any(d[c].notna().any() for c in di)
    for c in di:
        if d[c].notna().any():
            assert _same(run_page.trace("fig-disparate-impact", c)["y"], d[c]), c
    # chilling effect from the summary
    ch = run_page.trace("fig-chilling", "chilling")
    assert ch["y"] == [s["chilling"]["acts_without_monitoring"],
                       s["chilling"]["acts_with_monitoring"]]
    assert f"{s['chilling_effect']:.1%}" in run_page.text
    assert run_page.by_id("harms-table-1") is not None  # harms by group


def test_headline_cards_carry_the_run_numbers(run_result, run_page):
    d = run_result.daily
    cards = {a["data-metric"]: a for tag, a in run_page.elements
             if "card" in a.get("class", "").split()}
    # non-zero numbers, so a card showing 0 for each would not pass
    last = d.iloc[-1]
    assert last["listed"] > 0 and last["wrongful_listed"] > 0
    assert last["collateral_sanctioned"] > 0 and d["denied_wrongful"].sum() > 0
    # one card per card outcome of the registry, in its order, harms marked as harms
    from scslab import outcomes
    assert list(cards) == [o.key for o in outcomes.cards()]
    for o in outcomes.cards():
        assert ("harm" in cards[o.key]["class"].split()) == o.harm, o.key
    assert float(cards["listed_end"]["data-value"]) == d["listed"].iloc[-1]
    assert float(cards["wrongful_listed_end"]["data-value"]) == d["wrongful_listed"].iloc[-1]
    assert float(cards["misattributed_total"]["data-value"]) == d["misattributed_events"].sum()
    assert float(cards["denied_wrongful_total"]["data-value"]) == d["denied_wrongful"].sum()
    assert float(cards["collateral_sanctioned_end"]["data-value"]) == \
        d["collateral_sanctioned"].iloc[-1]
    assert float(cards["chilling_effect"]["data-value"]) == pytest.approx(
        run_result.summary["chilling_effect"])


def test_glance_governance_parameters_provenance(run_result, run_page):
    sc, s = run_result.scenario, run_result.summary
    text = run_page.text
    assert "national" in text and sc.description.split(":")[0] in text
    assert "3,000" in text and str(sc.seed) in text
    for section in ("glance", "scores", "lists", "sanctions", "harms", "spillover",
                    "due-process", "governance", "parameters", "provenance"):
        assert run_page.by_id(section) is not None, section
    rows = {a.get("data-setting") for tag, a in run_page.elements if tag == "tr"}
    assert {"Rules", "Appeals", "Evidence review", "Expiry of list entries",
            "Credit repair"} <= rows
    assert re.search(r"Rules\s+secret", text) and re.search(r"Appeals\s+off", text)
    assert s["provenance"]["scenario_hash"] in text
    assert s["run_id"] in text
    assert "false_match_rate: 0.2" in run_page.raw  # the full resolved scenario is embedded
    assert run_page.by_id("glossary") is not None


def test_build_report_reads_a_run_dir_to_any_path(run_result, tmp_path):
    out = build_report(run_result.run_dir, tmp_path / "sub" / "x.html")
    assert out == tmp_path / "sub" / "x.html" and out.is_file()
    page = parse(out)
    assert _same(page.trace("fig-lists", "listed")["y"], run_result.daily["listed"])
    (tmp_path / "d").mkdir()
    assert build_report(run_result.run_dir, tmp_path / "d") == tmp_path / "d" / "report.html"


def test_bad_run_dirs_raise_run_dir_error(tmp_path):
    with pytest.raises(RunDirError):
        build_report(tmp_path / "missing")
    with pytest.raises(RunDirError):
        build_report(tmp_path)  # exists, but not a run directory
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(RunDirError):
        build_report(tmp_path)


def test_write_report_needs_a_run_dir(run_result):
    r = scslab.results.Result(scenario=run_result.scenario, daily=run_result.daily,
                              summary=run_result.summary)
    with pytest.raises(ScslabError):
        write_report(r)


def test_text_is_escaped(tmp_path):
    evil = "</script><script>alert('x')</script> & <b>bold</b>"
    r = scslab.run({"base": "national", "description": evil}, agents=500, days=3,
                   out=tmp_path / "r")
    raw = (r.run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(" not in raw and "<b>bold</b>" not in raw
    assert "&lt;/script&gt;" in raw
    assert parse(r.run_dir / "report.html").figure_json("fig-lists")["data"]


def test_stopped_run_is_flagged(tmp_path):
    r = scslab.run("national", agents=500, days=10, out=tmp_path / "r", stop=lambda: True)
    assert not r.completed
    page = parse(build_report(r.run_dir))
    assert page.by_id("incomplete") is not None
    assert page.trace("fig-lists", "listed")["x"] == r.daily["day"].tolist()


def test_report_of_missing_columns_still_renders(run_result, tmp_path):
    """Older or partial daily tables lose charts' series, not the report."""
    from scslab.report import render_run_html
    from scslab.results import Result

    d = run_result.daily.drop(columns=[c for c in run_result.daily.columns
                                       if c.startswith(("grade_", "wrongful_rate__"))])
    html = render_run_html(Result(run_result.scenario, d, run_result.summary))
    assert 'id="fig-grades"' in html and "No data for this chart" in html
    empty = render_run_html(Result(run_result.scenario, d.iloc[0:0], run_result.summary))
    assert 'id="empty"' in empty


def test_daily_table_types_are_plain_json(run_page):
    # figures carry plain lists (readable, decodable without plotly's binary encoding)
    for fig_id in run_page.figures():
        for t in run_page.figure_json(fig_id)["data"]:
            for axis in ("x", "y"):
                if axis in t:
                    assert isinstance(t[axis], list), (fig_id, axis)
    ys = run_page.trace("fig-lists", "listed")["y"]
    assert all(isinstance(v, int | float) for v in ys)
