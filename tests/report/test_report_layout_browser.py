"""The report's layout in headless Chromium at 1,400 px: nothing drawn on top of anything.

A real report of a small run (and of a small comparison) is opened offline, every chart
is drawn by plotly.js, and then, from the boxes the browser laid out:

- in each headline card, the value, the sample figure, the title and the caption do
  not overlap (a page-wide negative margin once pulled captions up into two-line titles);
- no chart's legend intersects its mode bar (Plotly's toolbar, top right: a wide legend
  above the plot ran under it).

Skipped, with the reason, only when Chromium or Playwright is missing (the ``browser``
fixture in tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

WIDTH = 1400

#: Boxes (left, top, right, bottom) of what matters, in page coordinates.
BOXES_JS = """() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return [r.left, r.top + scrollY, r.right, r.bottom + scrollY]; };
  const cards = [...document.querySelectorAll('#headlines .card')].map(c => ({
    key: c.dataset.metric,
    parts: [...c.children].filter(k => k.textContent.trim())
                          .map(k => ({name: k.className, box: box(k)}))}));
  const figures = [...document.querySelectorAll('figure.chart')].map(f => {
    const legend = f.querySelector('g.legend'), modebar = f.querySelector('.modebar');
    return {id: f.id, legend: legend ? box(legend) : null, modebar: modebar ? box(modebar) : null};
  });
  return {cards, figures};
}"""


def _overlap(a: list[float], b: list[float], tol: float = 0.5) -> bool:
    """Whether two boxes share more than a hairline (``tol`` px) in both directions."""
    return min(a[2], b[2]) - max(a[0], b[0]) > tol and min(a[3], b[3]) - max(a[1], b[1]) > tol


def _layout(browser, report: Path) -> dict:
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_function(
            "() => document.querySelectorAll('figure.chart').length > 0 && "
            "document.querySelectorAll('figure.chart .js-plotly-plot .main-svg').length >= "
            "document.querySelectorAll('figure.chart').length", timeout=60_000)
        page.wait_for_timeout(300)  # let Plotly finish its layout pass
        boxes = page.evaluate(BOXES_JS)
    finally:
        page.close()
    assert not errors, errors
    return boxes


@pytest.fixture(scope="module")
def run_layout(browser, run_result) -> dict:
    return _layout(browser, Path(run_result.run_dir) / "report.html")


@pytest.fixture(scope="module")
def compare_layout(browser, compare_dir) -> dict:
    return _layout(browser, Path(compare_dir) / "report.html")


def test_headline_cards_do_not_overlap(run_layout: dict) -> None:
    cards = run_layout["cards"]
    assert len(cards) >= 6, cards
    bad = []
    for card in cards:
        parts = card["parts"]
        assert {"value", "label", "note"} <= {p["name"] for p in parts}, card
        for i, a in enumerate(parts):
            for b in parts[i + 1:]:
                if _overlap(a["box"], b["box"]):
                    bad.append(f"{card['key']}: {a['name']} {a['box']} overlaps "
                               f"{b['name']} {b['box']}")
    assert not bad, "headline card text overlaps at 1,400 px:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("layout", ["run_layout", "compare_layout"])
def test_legends_clear_the_mode_bar(layout: str, request) -> None:
    figures = request.getfixturevalue(layout)["figures"]
    assert figures and all(f["modebar"] for f in figures), figures
    with_legend = [f for f in figures if f["legend"]]
    assert len(with_legend) >= 3, figures
    bad = [f"{f['id']}: legend {f['legend']} × mode bar {f['modebar']}" for f in with_legend
           if _overlap(f["legend"], f["modebar"])]
    assert not bad, "legends under the Plotly mode bar at 1,400 px:\n  " + "\n  ".join(bad)
