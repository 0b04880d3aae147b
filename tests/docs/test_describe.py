"""``scslab describe``: an ODD document generated from the scenario and the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from scslab.describe import (
    DESIGN_CONCEPTS,
    ODD_SECTIONS,
    describe,
    input_parameters,
    markdown_to_html,
    odd_markdown,
    random_streams,
    schedule,
)
from scslab.describe.reference import leaf_paths
from scslab.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
ODD_DOCS = ROOT / "docs" / "odd"


def documented_presets() -> list[str]:
    """The presets with an ODD page in docs/odd (the docs promise one for every preset)."""
    return sorted(p.stem for p in ODD_DOCS.glob("*.md") if p.stem != "index")


def _shipped_and_documented() -> list[str]:
    from scslab import preset_names

    return sorted(set(preset_names()) | set(documented_presets()))


STREAMS = ("behaviour", "sensing", "listing", "sanctions", "due_process", "population", "ties",
           "businesses", "awareness", "eventlog")


@pytest.fixture(scope="module")
def national_md() -> str:
    return odd_markdown("national")


def sections(md: str, level: int = 2) -> dict[str, str]:
    """Heading text → body (up to the next heading of the same or a higher level)."""
    pat = re.compile(rf"^#{{1,{level}}} (.+)$", re.M)
    marks = [(m.start(), m.end(), m.group(0), m.group(1)) for m in pat.finditer(md)]
    out = {}
    for k, (_, end, raw, title) in enumerate(marks):
        if not raw.startswith("#" * level + " "):
            continue
        stop = marks[k + 1][0] if k + 1 < len(marks) else len(md)
        out[title.strip()] = md[end:stop].strip()
    return out


def table_paths(body: str) -> list[str]:
    """First-column code spans of the table rows of a Markdown body."""
    return re.findall(r"^\| `([^`]+)` \|", body, re.M)


def _run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scslab.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_every_odd_section_present_and_non_empty(national_md: str) -> None:
    secs = sections(national_md, 2)
    for k, title in enumerate(ODD_SECTIONS, 1):
        heading = f"{k}. {title}"
        assert heading in secs, f"missing ODD section {heading!r}"
        assert len(secs[heading]) > 200, f"section {heading!r} is (nearly) empty"
    subs = sections(national_md, 3)
    for k, concept in enumerate(DESIGN_CONCEPTS, 1):
        heading = f"4.{k} {concept}"
        assert heading in subs and len(subs[heading]) > 50, heading


def test_state_variables_come_from_the_arrays(national_md: str) -> None:
    from scslab.engine import Simulation

    sim = Simulation(load_scenario("national", {"population.agents": 500})).build()
    body = sections(national_md)["2. Entities, state variables and scales"]
    for owner, obj in (("World", sim.world), ("State", sim.state)):
        for name, arr in vars(obj).items():
            if hasattr(arr, "dtype") and getattr(arr, "ndim", 0) == 1:
                row = re.search(rf"^\| `{owner}\.{name}` \|[^|]*\| `([a-z0-9]+)` \| (\d+) \|",
                                body, re.M)
                assert row, f"{owner}.{name} missing from the state variables"
                assert row.group(1) == str(arr.dtype) and int(row.group(2)) == arr.itemsize
    m = re.search(r"Memory per agent: ([\d.]+) B of changing state \+ ([\d.]+) B of fixed "
                  r"attributes \+ ([\d.]+) B of ties", body)
    assert m, "memory per agent missing"
    engine_bpa = sim.bytes_per_agent()
    assert float(m.group(1)) == pytest.approx(engine_bpa["state"], abs=0.05)
    assert float(m.group(2)) == pytest.approx(engine_bpa["attributes"], abs=0.05)
    assert float(m.group(3)) == pytest.approx(engine_bpa["ties"], rel=0.05)


def test_process_overview_follows_the_engine(national_md: str) -> None:
    from scslab import engine

    steps = schedule()
    assert steps[0].stage == "behaviour"
    stages = [s.stage for s in steps]
    for a, b in [("behaviour", "sensing"), ("sensing", "scoring"), ("scoring", "listing"),
                 ("listing", "sanctions")]:
        assert stages.index(a) < stages.index(b), (a, b, stages)
    body = sections(national_md)["3. Process overview and scheduling"]
    for stage in engine.STAGES:
        assert f"`{stage}`" in body
    for s in steps:
        assert s.function.split(" › ")[-1] in body


def test_stochasticity_names_every_stream(national_md: str) -> None:
    found = {s for s, *_ in random_streams()}
    assert set(STREAMS) <= found, set(STREAMS) - found
    body = sections(national_md, 3)["4.9 Stochasticity"]
    for s in STREAMS:
        assert f"`{s}`" in body, s


def _leaf_regex(schema_path: str) -> str:
    out = ""
    for part in re.split(r"(\[i\]|<[^>]+>)", schema_path):
        if part == "[i]":
            out += r"\.\d+"
        elif part.startswith("<"):
            out += r"[^.]+"
        else:
            out += re.escape(part)
    return out


def _container(schema_path: str) -> str:
    """The path of the list or mapping of blocks a schema path goes through first."""
    m = re.search(r"(\[i\]|\.<[^>]+>)", schema_path)
    return schema_path[: m.start()] if m else schema_path


@pytest.mark.parametrize("preset", ["national", "vancouver-restaurant"])
def test_input_data_lists_every_leaf_parameter(preset: str) -> None:
    from scslab import preset_names

    assert preset in preset_names(), f"preset {preset} is no longer shipped"
    body = sections(odd_markdown(preset))["6. Input data"]
    rows = table_paths(body)
    assert len(rows) == len(set(rows)), "a parameter is listed twice"
    for leaf in leaf_paths():
        rx = re.compile(_leaf_regex(leaf) + r"(\..+)?$")
        if any(rx.match(r) for r in rows):
            continue
        # a list or mapping of blocks that is empty in this scenario is listed once, as [] / {}
        container = _container(leaf)
        assert container in rows, f"input data lacks {leaf} (and {container})"
    sources = {p.path: p.source for p in input_parameters(load_scenario("national"))}
    assert sources["population.regions.0.cameras_per_1000"] == "calibration.md §5"
    assert sources["days"] == "assumption"


def test_editing_a_rule_changes_the_submodel_text(national_md: str) -> None:
    edited = odd_markdown("national", set=["policy.rules.fraud=-123"])
    scoring = sections(edited, 3)["7.3 Scoring"]
    row = re.search(r"^\| `fraud` \| (.+)$", scoring, re.M)
    assert row and "-123" in row.group(1), row
    assert "-123" not in sections(national_md)["7. Submodels"]
    assert "`policy.rules.fraud` | `-123`" in sections(edited)["6. Input data"]


def test_submodels_substitute_the_scenario_numbers() -> None:
    md = odd_markdown("national", set=["responses.deterrence.listed_multiplier=0.37",
                                        "policy.lists.blacklist.enter_below=777",
                                        "governance.appeals.enabled=true",
                                        "governance.appeals.review_delay_days=9"])
    sub = sections(md)["7. Submodels"]
    assert "0.37 if i is listed" in sub
    assert "falls below 777" in sub
    assert "decision comes 9 days later" in sub


def test_odd_docs_cover_exactly_the_shipped_presets() -> None:
    """docs/odd/index.md promises "an ODD description of every preset": a page per preset,
    each listed in the index, and no page for a preset the package no longer ships."""
    from scslab import preset_names

    shipped = sorted(preset_names())
    assert len(shipped) >= 5, shipped
    assert documented_presets() == shipped, (
        "docs/odd and the presets differ: run `python scripts/gen_reference.py`")
    index = (ODD_DOCS / "index.md").read_text(encoding="utf-8")
    assert sorted(re.findall(r"^\| \[([a-z0-9-]+)\]\(\1\.md\) \|", index, re.M)) == shipped


@pytest.mark.parametrize("preset", _shipped_and_documented())
def test_describe_every_preset(preset: str) -> None:
    """Every shipped preset, and every preset the docs describe, is described; a preset
    the docs describe but the package lacks (or the reverse) fails."""
    from scslab import preset_names

    assert preset in preset_names(), f"docs/odd/{preset}.md describes a preset not shipped"
    assert (ODD_DOCS / f"{preset}.md").is_file(), f"preset {preset} has no ODD page in docs/odd"
    md = odd_markdown(preset)
    assert md.startswith(f"# ODD description: {preset}")
    assert all(f"## {k}. {t}" in md for k, t in enumerate(ODD_SECTIONS, 1))


def test_html_page(national_md: str) -> None:
    page = markdown_to_html(national_md, title="ODD")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<table>" in page and "<h2" in page and "Input data" in page
    assert "<script" not in page and "http://" not in page.split("<body>")[1]
    assert page.count("<table>") == national_md.count("\n|---")
    assert '<h2 id="4-design-concepts">4. Design concepts</h2>' in page
    assert '<h3 id="49-stochasticity">4.9 Stochasticity</h3>' in page


def test_markdown_rendering() -> None:
    """markdown-it-py renders what the ODD pages use: the escapes of md_cell and md_code."""
    from scslab.formatting import md_cell, md_code, render_markdown

    html = render_markdown("# T\n\nA *b* **c** `d|<e>` [l](x.md) 1 < 2 &lt; <b>raw</b>\n\n"
                           "- one\n- two\n\n1. x\n2. y\n\n"
                           f"| a | b |\n|---|---|\n| {md_code('p|q')} | {md_cell('r | s_t*')} |\n"
                           "\n```text\nx < y\n```\n\n# T\n")
    assert '<h1 id="t">T</h1>' in html and '<h1 id="t_1">T</h1>' in html
    assert "<em>b</em>" in html and "<strong>c</strong>" in html
    assert "<code>d|&lt;e&gt;</code>" in html and '<a href="x.md">l</a>' in html
    assert "1 &lt; 2 &lt; &lt;b&gt;raw&lt;/b&gt;" in html
    assert "<li>one</li>" in html and "<ol>" in html
    assert "<td><code>p|q</code></td>" in html and "<td>r | s_t*</td>" in html
    assert '<pre><code class="language-text">x &lt; y\n</code></pre>' in html


def test_cli_describe_writes_md_and_html(tmp_path: Path) -> None:
    r = _run_cli("describe", "national", "--out", str(tmp_path / "odd.md"))
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "odd.md").read_text(encoding="utf-8")
    assert md.startswith("# ODD description: national")
    r = _run_cli("describe", "national", "--format", "html", "--set", "policy.rules.fraud=-123",
                 "--out", str(tmp_path / "odd.html"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "odd.html").read_text(encoding="utf-8")
    assert "<!DOCTYPE html>" in page and "-123" in page
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"


def test_cli_describe_bad_input_exits_2(tmp_path: Path) -> None:
    r = _run_cli("describe", "national", "--set", "policy.rules.frod=-1")
    assert r.returncode == 2 and "frod" in r.stderr and "Traceback" not in r.stderr
    r = _run_cli("describe", "no-such-preset")
    assert r.returncode == 2
    r = _run_cli("describe", "national", "--format", "pdf")
    assert r.returncode == 2 and "md or html" in r.stderr


def test_describe_api_formats() -> None:
    from scslab.errors import ScslabError

    sc = load_scenario("rm1")
    assert describe(sc).startswith("# ODD description: rm1")
    with pytest.raises(ScslabError):
        describe(sc, fmt="pdf")


def test_cli_docs_commands(tmp_path: Path) -> None:
    r = _run_cli("docs", "reference")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# scslab reference")
    for text in ("`policy.rules`", "`acts_<behaviour>`", "`agent_days_per_second`"):
        assert text in r.stdout, text
    r = _run_cli("docs", "columns", "rm1", "--out", str(tmp_path / "cols.md"))
    assert r.returncode == 0, r.stderr
    assert "`rm1` has" in (tmp_path / "cols.md").read_text(encoding="utf-8")
