"""Report panels shown only when they apply: data abroad, published figures, scaling."""

from __future__ import annotations

import re

import numpy as np
import pytest
from report_helpers import ReportPage, parse, table_note, table_rows

import scslab
from scslab.audit import DISCLAIMER, audit_flows
from scslab.report import approx, fmt

FLOW = "vancouver_restaurant"
TARGETS = [{"target": "listed_court@10=1000", "source": "test"},
           {"target": "acts_court_default:sum@12=5000000", "source": "sum test"},
           {"target": "listed_court@99=5", "source": "too late"}]
REPRESENTS = 1_400_000_000


def _same(series: list, expected) -> bool:
    a = np.array([np.nan if v is None else v for v in series], dtype=float)
    b = np.asarray(expected, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, equal_nan=True)


def _section_text(page: ReportPage, sid: str) -> str:
    m = re.search(rf'<section id="{sid}".*?</section>', page.raw, re.S)
    assert m, sid
    body = re.sub(r"<script.*?</script>", " ", m.group(0), flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    import html

    return " ".join(html.unescape(body).split())


@pytest.fixture(scope="module")
def abroad_run(tmp_path_factory):
    return scslab.run("vancouver-restaurant", agents=3000, days=15,
                      out=tmp_path_factory.mktemp("abroad") / "r")


@pytest.fixture(scope="module")
def abroad_page(abroad_run) -> ReportPage:
    return parse(abroad_run.run_dir / "report.html")


@pytest.fixture(scope="module")
def target_run(tmp_path_factory):
    return scslab.run("court-blacklist", agents=3000, days=15,
                      out=tmp_path_factory.mktemp("targets") / "r",
                      set={"targets": TARGETS, "population.represents": REPRESENTS,
                           "policy.lists.court.initial_share": 0.01})


@pytest.fixture(scope="module")
def target_page(target_run) -> ReportPage:
    return parse(target_run.run_dir / "report.html")


# --------------------------------------------------------------------------- data abroad


def test_abroad_charts_carry_the_flow_columns(abroad_run, abroad_page):
    d = abroad_run.daily
    figs = abroad_page.figures()
    assert figs["fig-abroad-vancouver-restaurant"]["data-metric"] == f"abroad_captured__{FLOW}"
    assert figs["fig-abroad-vancouver-restaurant-records"]["data-metric"] == \
        f"abroad_recorded_total__{FLOW}"
    for m in ("visitors", "captured", "identified"):
        col = f"abroad_{m}__{FLOW}"
        t = abroad_page.trace("fig-abroad-vancouver-restaurant", col, transform="cumulative")
        assert t["x"] == d["day"].tolist() and _same(t["y"], d[col].cumsum()), col
    for m in ("recorded_total", "persons_of_interest_recorded", "home_ties_linked"):
        col = f"abroad_{m}__{FLOW}"
        t = abroad_page.trace("fig-abroad-vancouver-restaurant-records", col, transform="none")
        assert _same(t["y"], d[col]), col
    col = f"abroad_false_matches__{FLOW}"
    t = abroad_page.trace("fig-abroad-vancouver-restaurant-records", col, transform="cumulative")
    assert _same(t["y"], d[col].cumsum())
    assert d[col].sum() > 0 and d[f"abroad_recorded_total__{FLOW}"].iloc[-1] > 0


def test_abroad_caption_says_it_in_plain_words(abroad_run, abroad_page):
    d = abroad_run.daily
    visits = int(d[f"abroad_visitors__{FLOW}"].sum())
    recorded = int(d[f"abroad_recorded_total__{FLOW}"].iloc[-1])
    false = int(d[f"abroad_false_matches__{FLOW}"].sum())
    text = _section_text(abroad_page, "abroad")
    assert (f"Of {visits:,} visits to “Hot-pot restaurant, Vancouver”, {recorded:,} people were "
            "given a record in the home system") in text
    assert f"{false:,} captures (faces) were wrongly matched to people at home" in text
    home = int(d[f"abroad_false_matches_home__{FLOW}"].sum())
    assert f"{home:,} of them landed on a simulated home agent (each does with probability" \
        in text
    assert "The data goes to CN." in text


def test_abroad_totals_table(abroad_run, abroad_page):
    d = abroad_run.daily
    rows = table_rows(abroad_page, "abroad-totals")
    assert rows[0][1] == ["measure", FLOW]
    cells = {a["data-measure"]: c for a, c in rows[1:]}
    summed = ("visitors", "captured", "identified", "false_matches", "false_matches_home",
              "misattributed_home")
    stock = ("recorded_total", "persons_of_interest_recorded", "home_ties_linked")
    assert set(cells) == {*summed, *stock, "home_agents_misrecorded", "home_agents_linked"}
    for m in summed:
        assert cells[m][1] == fmt(int(d[f"abroad_{m}__{FLOW}"].sum())), m
    for m in stock:
        assert cells[m][1] == fmt(int(d[f"abroad_{m}__{FLOW}"].iloc[-1])), m
    for m in ("home_agents_misrecorded", "home_agents_linked"):
        assert cells[m][1] == fmt(int(d[f"abroad_{m}"].iloc[-1])), m


def test_abroad_audit_table_matches_the_audit(abroad_run, abroad_page):
    audit = audit_flows(list(abroad_run.scenario.data_flows))
    rows = table_rows(abroad_page, "abroad-audit-vancouver-restaurant")
    assert rows[0][1] == ["law", "section", "requirement", "status", "why"]
    shown = {(a["data-law"], a["data-requirement"]): (a["data-status"], c) for a, c in rows[1:]}
    expected = {(f.law, f.requirement_id): f for f in audit.findings if f.flow == FLOW}
    assert set(shown) == set(expected)
    for key, f in expected.items():
        status, cells = shown[key]
        assert status == f.status
        assert cells == [f.law, f.section, f.requirement,
                         "BREACH" if f.status == "breach" else "met", " ".join(f.why.split())]
    assert shown[("BC PIPA", "pipa-s10-1-notice")][0] == "breach"
    assert DISCLAIMER in table_note(abroad_page, "abroad-audit-vancouver-restaurant")
    assert "not legal advice" in DISCLAIMER


def test_glossary_lists_the_abroad_columns(abroad_run, abroad_page):
    glossary = re.search(r'<details id="glossary">.*?</details>', abroad_page.raw, re.S)
    assert glossary
    cols = [c for c in abroad_run.daily.columns if c.startswith("abroad_")]
    assert len(cols) == 22  # 10 per-flow metrics, their 10 totals, 2 home stocks
    for c in cols:
        assert f"<code>{c}</code>" in glossary.group(0), c


# --------------------------------------------------------------------------- published figures


def test_targets_table_shows_published_and_achieved(target_run, target_page):
    got = target_run.summary["targets"]
    rows = table_rows(target_page, "targets-table")
    assert rows[0][1] == ["target", "source", "published", "achieved", "error", "within 10 %"]
    body = rows[1:]
    assert [a["data-target"] for a, _ in body] == [t["target"] for t in TARGETS]
    for (attrs, cells), t in zip(body, got, strict=True):
        assert cells[0] == t["target"] and cells[1] == t["source"]
        assert cells[2] == fmt(t["published"])
        if t["achieved"] is None:
            assert cells[3].startswith("–")
        else:
            assert cells[3] == fmt(t["achieved"])
        assert cells[5] == ("yes" if t["within_10_percent"] else "no")
        assert attrs["data-within"] == cells[5]
    first = got[0]
    assert body[0][1][4] == f"+{first['relative_error'] * 100:,.0f}%"  # far off: 466,667 vs 1,000
    assert got[2]["achieved"] is None  # day 99 of a 15-day run


def test_target_charts_are_scaled_with_the_published_value_marked(target_run, target_page):
    d, s = target_run.daily, target_run.summary
    factor = s["scale"]["factor"]
    figs = target_page.figures()
    assert {k: figs[k]["data-metric"] for k in ("fig-target-1", "fig-target-2", "fig-target-3")} \
        == {"fig-target-1": "listed_court", "fig-target-2": "acts_court_default",
            "fig-target-3": "listed_court"}
    line = target_page.trace("fig-target-1", "listed_court", transform="last")
    assert _same(line["y"], d["listed_court"] * factor)
    mark = target_page.trace("fig-target-1", "listed_court", transform="published")
    assert mark["x"] == [10] and mark["y"] == [1000.0]
    # the chart passes through the achieved figure on the target's day
    assert line["y"][9] == pytest.approx(s["targets"][0]["achieved"])
    cum = target_page.trace("fig-target-2", "acts_court_default", transform="sum")
    assert _same(cum["y"], d["acts_court_default"].cumsum() * factor)
    assert cum["y"][11] == pytest.approx(s["targets"][1]["achieved"])
    text = _section_text(target_page, "targets")
    assert "The run ended before that day" in text
    assert f"multiplied by {fmt(factor)}" in text and "1.4 billion" in text


# --------------------------------------------------------------------------- scaling


def test_scaling_note(target_run, target_page):
    s = target_run.summary["scale"]
    rows = {a["data-row"]: c for a, c in table_rows(target_page, "scale-table")[1:]}
    assert rows["agents"][1] == "3,000"
    assert rows["represents"][1] == "1.4 billion people"
    assert rows["factor"][1].startswith(fmt(s["factor"]))
    scaled = rows["scaled"][1].split(", ")
    fixed = rows["not_scaled"][1].split(", ")
    assert "listed" in scaled and "listed_court" in scaled and "mean_score" not in scaled
    assert set(fixed) == (set(s["not_scaled"]) & set(target_run.daily.columns)) - {"day"}
    text = _section_text(target_page, "scale")
    assert s["note"] in text
    assert "standing for 1.4 billion people" in target_page.text


def test_headlines_are_scaled_with_the_sample_in_small_print(target_run, target_page):
    d, s = target_run.daily, target_run.summary
    cards = {a["data-metric"]: a for tag, a in target_page.elements
             if "card" in a.get("class", "").split()}
    listed = cards["listed_end"]
    assert float(listed["data-value"]) == d["listed"].iloc[-1]  # the sample's own number
    assert float(listed["data-scaled"]) == pytest.approx(s["scale"]["metrics"]["listed"])
    assert d["listed"].iloc[-1] > 0
    assert approx(s["scale"]["metrics"]["listed"]) in target_page.text
    assert f"{fmt(int(d['listed'].iloc[-1]))} in the sample" in target_page.text
    assert "data-scaled" not in cards["disparate_impact"]  # a ratio does not scale
    assert "data-scaled" not in cards["chilling_effect"]


# --------------------------------------------------------------------------- absent


def test_panels_absent_when_not_applicable(run_page, abroad_page, target_page):
    def sections(page):
        return {a.get("data-section") for _, a in page.elements if a.get("data-section")}

    assert not {"abroad", "targets", "scale"} & sections(run_page)
    assert not any(f.startswith(("fig-abroad", "fig-target")) for f in run_page.figures())
    assert "data-scaled" not in run_page.raw and 'id="scale-header"' not in run_page.raw
    assert "abroad" in sections(abroad_page)
    assert not {"targets", "scale"} & sections(abroad_page)
    assert {"targets", "scale"} <= sections(target_page)
    assert "abroad" not in sections(target_page)
    for page in (run_page, target_page):
        assert not re.search(r'id="abroad-(totals|audit)', page.raw)
        assert "<code>abroad_" not in page.raw


# --------------------------------------------------------------------------- compare


@pytest.fixture(scope="module")
def abroad_compare(tmp_path_factory):
    from scslab.comparison import compare
    from scslab.report import build_report, load_comparison

    out = tmp_path_factory.mktemp("cmp-abroad") / "c"
    compare(["vancouver-restaurant", "vancouver-restaurant-disputed"], agents=1500, days=6,
            replicates=1, out=out)
    build_report(out)
    return load_comparison(out), parse(out / "report.html")


def test_compare_report_has_a_data_abroad_panel(abroad_compare, compare_page):
    data, page = abroad_compare
    figs = page.figures()
    assert figs["fig-compare-abroad-recorded-total"]["data-metric"] == "abroad_recorded_total"
    for lab in data.labels:
        d = data.runs[lab][0].daily
        t = page.trace("fig-compare-abroad-recorded-total", "abroad_recorded_total",
                       scenario=lab, stat="mean")
        assert _same(t["y"], d["abroad_recorded_total"])
        t = page.trace("fig-compare-abroad-false-matches", "abroad_false_matches",
                       scenario=lab, stat="mean")
        assert _same(t["y"], d["abroad_false_matches"].cumsum())
    rows = table_rows(page, "compare-audit")
    assert rows[0][1] == ["law", "section", "requirement", *data.labels]
    status = {a["data-requirement"]: (a["data-status-vancouver-restaurant"],
                                      a["data-status-vancouver-restaurant-disputed"])
              for a, _ in rows[1:]}
    assert status["pipa-s10-1-notice"] == ("breach", "breach")
    assert status["pipa-accountability-abroad"] == ("breach", "n/a")
    assert status["pipa-s11-collection"] == ("breach", "met")
    assert DISCLAIMER in table_note(page, "compare-audit")
    assert any(a.get("href") == "#compare-abroad" for _, a in page.elements)
    # no data flows, no panel
    assert "compare-abroad" not in compare_page.raw
    assert not any(f.startswith("fig-compare-abroad") for f in compare_page.figures())


def _renamed(daily, old: str, new: str, zero: bool = False):
    d = daily.rename(columns={c: c.replace(f"__{old}", f"__{new}") for c in daily.columns
                              if c.endswith(f"__{old}")})
    if zero:
        for c in d.columns:
            if c.startswith("abroad_"):
                d[c] = 0
    return d


def test_a_flow_kept_at_home_says_so(abroad_run):
    """A flow that stays in the site's country and counts nothing gets a plain caption."""
    from scslab.report import render_run_html
    from scslab.results import Result
    from scslab.scenario import load_scenario

    sc = load_scenario("vancouver-restaurant-disputed", {"days": 15,
                                                          "population.agents": 3000})
    d = _renamed(abroad_run.daily, FLOW, "vancouver_restaurant_disputed", zero=True)
    page = ReportPage(render_run_html(Result(sc, d, abroad_run.summary)))
    text = _section_text(page, "abroad")
    assert "This flow's data stays in CA-BC, the site's own country" in text
    rows = table_rows(page, "abroad-audit-vancouver-restaurant-disputed")
    assert {a["data-requirement"] for a, _ in rows[1:] if a["data-status"] == "breach"} == {
        "pipa-s6-s8-consent", "pipa-s10-1-notice"}


def test_two_flows_get_an_all_flows_column(abroad_run):
    from scslab.report import render_run_html
    from scslab.results import Result
    from scslab.scenario import load_scenario

    sc0 = abroad_run.scenario
    second = sc0.data_flows[0].model_copy(update={"name": "second"})
    sc = load_scenario(sc0.model_dump(mode="json") | {
        "data_flows": [f.model_dump(mode="json") for f in (sc0.data_flows[0], second)]})
    d = abroad_run.daily.copy()
    for c in [c for c in d.columns if c.endswith(f"__{FLOW}")]:
        d[c.replace(f"__{FLOW}", "__second")] = d[c] * 2
    page = ReportPage(render_run_html(Result(sc, d, abroad_run.summary)))
    rows = table_rows(page, "abroad-totals")
    assert rows[0][1] == ["measure", FLOW, "second", "all flows"]
    cells = {a["data-measure"]: c for a, c in rows[1:]}
    one = int(d[f"abroad_visitors__{FLOW}"].sum())
    assert cells["visitors"][1:] == [fmt(one), fmt(2 * one),
                                     fmt(int(d["abroad_visitors"].sum()))]
    assert cells["home_agents_linked"][1:3] == ["–", "–"]
    figs = page.figures()
    assert {"fig-abroad-vancouver-restaurant", "fig-abroad-second",
            "fig-abroad-second-records"} <= set(figs)
    assert page.by_id("abroad-audit-second") is not None
