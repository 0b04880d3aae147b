"""End to end in headless Chromium: the served dashboard, and a report opened offline."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import scslab

pytestmark = pytest.mark.browser

PLOT_SVG = '[data-testid="stPlotlyChart"] .js-plotly-plot .main-svg'


def test_serve_binds_loopback_only(server):
    psutil = pytest.importorskip("psutil")
    url, _, proc = server
    port = int(url.rsplit(":", 1)[1])
    procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    listening = [c.laddr for p in procs for c in p.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(a.ip == "127.0.0.1" for a in listening), listening
    assert any(a.port == port for a in listening)


def test_dashboard_runs_a_scenario_and_draws_charts(server, browser, artifacts):
    url, runs, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(url, wait_until="domcontentloaded")
        agents = page.get_by_role("spinbutton", name="Synthetic people")
        agents.wait_for(timeout=60_000)
        agents.fill("2000")
        agents.press("Enter")
        days = page.get_by_role("spinbutton", name="Days", exact=True)
        days.fill("20")
        days.press("Enter")
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Run simulation").first.click()
        page.wait_for_selector(PLOT_SVG, timeout=90_000)
        page.get_by_text("Done: 20 days").wait_for(timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        charts = page.locator('[data-testid="stPlotlyChart"]')
        assert charts.count() >= 10
        # the metrics row shows the run's own numbers
        assert page.get_by_text("2,000 synthetic people × 20 days").count() >= 1
        first = charts.first
        first.scroll_into_view_if_needed()
        page.wait_for_timeout(800)  # let Plotly finish its transition
        shot = artifacts / "dashboard.png"
        page.screenshot(path=str(shot))
        print(f"dashboard screenshot: {shot}")
        assert shot.stat().st_size > 20_000
    finally:
        page.close()
    made = [p for p in runs.iterdir() if p.is_dir()]
    assert len(made) == 1 and (made[0] / "daily.parquet").is_file()
    assert (made[0] / "report.html").is_file()
    assert not errors, errors


def test_report_renders_offline(browser, artifacts, tmp_path):
    harsh = {"sensors.cameras.false_match_rate": 0.2, "policy.lists.blacklist.enter_below": 990,
             "policy.lists.blacklist.exit_at_or_above": 995, "policy.lists.blacklist.min_days": 0}
    r = scslab.run("national", agents=3000, days=30, out=tmp_path / "r", set=harsh)
    report = Path(r.run_dir) / "report.html"
    n_figures = len(re.findall(r'<figure class="chart"', report.read_text(encoding="utf-8")))
    context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
    requested: list[str] = []

    def block(route):
        if not route.request.url.startswith(("file:", "data:", "blob:")):
            requested.append(route.request.url)
            return route.abort()
        return route.continue_()

    context.route("**/*", block)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        t0 = time.monotonic()
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_function(
            f"document.querySelectorAll('figure.chart .js-plotly-plot .main-svg').length "
            f">= {n_figures}", timeout=30_000)
        rendered = page.locator("figure.chart .js-plotly-plot svg.main-svg").count()
        assert rendered >= n_figures
        # the lists chart has drawn its lines
        assert page.locator("#fig-lists .js-plotly-plot .scatterlayer .trace").count() >= 4
        # the "Download the numbers (CSV)" button works offline and carries the series
        with page.expect_download() as dl:
            page.locator('#fig-lists button.csv').click()
        lines = Path(dl.value.path()).read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("x,listed (blacklist or court list)")
        assert len(lines) == 1 + len(r.daily)
        assert [float(x.split(",")[1]) for x in lines[1:]] == r.daily["listed"].tolist()
        shot = artifacts / "report.png"
        page.locator("#fig-lists").scroll_into_view_if_needed()
        page.screenshot(path=str(shot))
        print(f"report screenshot: {shot} ({time.monotonic() - t0:.1f} s)")
    finally:
        context.close()
    assert not errors, errors
    assert requested == []
