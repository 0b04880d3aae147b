"""The reference generated from the schema, the metric registry and the summary."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from scslab.describe.reference import (
    SUMMARY_KEYS,
    columns_md,
    container_of,
    scenario_reference_md,
    schema_fields,
    schema_models,
    summary_keys_md,
)
from scslab.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[2]


def load_gen():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "scripts" /
                                                  "gen_reference.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_reference"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_reference_covers_every_field_of_every_model() -> None:
    md = scenario_reference_md()
    paths = re.findall(r"^\| `([^`]+)` \|", md, re.M)
    for model in schema_models(Scenario):
        for name in model.model_fields:
            assert any(p == name or p.endswith(f".{name}") for p in paths), \
                f"{model.__name__}.{name} is not in the scenario reference"
    # every row documents its field
    for f in schema_fields():
        if f.leaf:
            assert f.description, f"{f.path} has no description"


def test_reference_defaults_are_the_effective_defaults() -> None:
    fields = {f.path: f for f in schema_fields()}
    # a nested block's default can differ from its class default
    assert fields["sensors.phone_scanners.coverage"].default == Scenario().sensors \
        .phone_scanners.coverage
    assert fields["sensors.cameras.false_match_rate"].default_text() == \
        str(Scenario().sensors.cameras.false_match_rate)
    f = fields["sensors.cameras.classification.sex_accuracy"]
    assert f.unit == "probability" and "calibration.md" in f.source
    assert "≥ 0" in f.bounds and "≤ 1" in f.bounds
    assert "one of region, population" in fields["sensors.cameras.scope"].bounds
    assert "one of secret, published" in fields["governance.transparency"].bounds
    assert fields["population.groups[i].name"].required
    assert "values ≥ -10000" in fields["policy.rules"].bounds
    assert fields["behaviours.<behaviour>.rate"].leaf


def test_columns_dictionary_explains_patterns_once() -> None:
    from scslab.engine import Simulation
    from scslab.scenario.loader import load_scenario

    md = columns_md("national")
    for pat in ("acts_<behaviour>", "denied_<kind>", "grade_<grade>", "listed__<group>",
                "<metric>__<group>"):
        assert f"`{pat}`" in md
    table = md.split("### Repeated columns")[0]
    assert "`acts_fraud`" not in table
    documented = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    patterns = [re.compile(re.sub(r"&lt;\w+&gt;|<\w+>", ".+", re.escape(d).replace(
        "\\<", "<").replace("\\>", ">")) + "$") for d in documented]
    sc = load_scenario("national", {"population.agents": 1000})
    for m in Simulation(sc).build().metric_registry():
        assert any(p.match(m.name) for p in patterns) or f"`{m.name}`" in md, m.name
    for name in ("fraud", "flight", "AAA", "minority"):
        assert f"`{name}`" in md  # the names the patterns take in this scenario


def test_summary_keys_cover_a_real_summary(tmp_path: Path) -> None:
    import scslab

    r = scslab.run("rm1", agents=1000, days=3, out=tmp_path / "run", chilling=True)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    documented = {k for k, _ in SUMMARY_KEYS}
    assert set(summary) <= documented, set(summary) - documented
    assert r.completed
    md = summary_keys_md()
    assert all(f"`{k}`" in md for k in documented)


def test_container_of() -> None:
    from scslab.scenario.schema import Group, Policy, Population

    assert container_of(Population.model_fields["groups"].annotation) == ("list", Group)
    assert container_of(Policy.model_fields["rules"].annotation) == ("dict", float)


def test_readme_markers_are_current() -> None:
    """README.md's generated sections exist and are current: a README or a marker pair
    that vanished fails (the staleness check would otherwise pass on nothing)."""
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md is missing"
    gen = load_gen()
    text = readme.read_text(encoding="utf-8")
    missing = [n for n in gen.README_SECTIONS if not gen.has_markers(text, n)]
    assert not missing, f"README.md lost its generated-section markers: {missing}"
    assert gen.readme_text(text) == text, (
        "README.md's generated sections are stale: run `python scripts/gen_reference.py`")
    assert gen.main(["--check", "--readme-only"]) == 0


def test_readme_presets_table_lists_every_shipped_preset() -> None:
    """The README's Presets table is the list of the scenarios shipped with scslab: a
    preset missing from the package, or from the table, fails."""
    from scslab import preset_names

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Presets\n" in text, "README.md lost its Presets section"
    section = text.split("\n## Presets\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.M)
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(preset_names()), (sorted(listed), sorted(preset_names()))


def test_generator_only_touches_text_between_markers() -> None:
    gen = load_gen()
    before = "# Title\n\nhand-written\n\n"
    text = (before + "<!-- BEGIN SCENARIO REFERENCE -->\nold\n<!-- END SCENARIO REFERENCE -->\n"
            "middle\n<!-- BEGIN DAILY COLUMNS -->\n<!-- END DAILY COLUMNS -->\ntail\n")
    out = gen.readme_text(text, {"SCENARIO REFERENCE": "NEW A", "DAILY COLUMNS": "NEW B"})
    assert out == (before + "<!-- BEGIN SCENARIO REFERENCE -->\nNEW A\n"
                   "<!-- END SCENARIO REFERENCE -->\nmiddle\n<!-- BEGIN DAILY COLUMNS -->\n"
                   "NEW B\n<!-- END DAILY COLUMNS -->\ntail\n")
    assert gen.readme_text("no markers\n", {"SCENARIO REFERENCE": "x",
                                             "DAILY COLUMNS": "y"}) == "no markers\n"
    with pytest.raises(gen.MarkerError):
        gen.replace_between("<!-- END DAILY COLUMNS --><!-- BEGIN DAILY COLUMNS -->",
                            "DAILY COLUMNS", "x")


def test_check_mode_exits_1_when_stale(tmp_path: Path) -> None:
    gen = load_gen()
    (tmp_path / "README.md").write_text(
        "# x\n<!-- BEGIN DAILY COLUMNS -->\nstale\n<!-- END DAILY COLUMNS -->\n",
        encoding="utf-8")
    assert gen.main(["--check", "--readme-only", "--root", str(tmp_path)]) == 1
    assert gen.main(["--readme-only", "--root", str(tmp_path)]) == 0
    assert gen.main(["--check", "--readme-only", "--root", str(tmp_path)]) == 0
    assert "`acts_<behaviour>`" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_site_links_are_rewritten() -> None:
    gen = load_gen()
    docs = ROOT / "docs"
    md = ("See [sweeps](docs/sweeps.md), [bench](BENCHMARKS.md), [code](src/scslab/engine.py)"
          ", [web](https://example.org) and [top](#top).\n```\n[kept](src/x.py)\n```\n")
    out = gen.site_markdown(md, "", docs)
    assert "[sweeps](sweeps.md)" in out and "[bench](benchmarks.md)" in out
    assert "code," in out and "src/scslab/engine.py" not in out.split("```")[0]
    assert "[web](https://example.org)" in out and "[top](#top)" in out
    assert "[kept](src/x.py)" in out


def test_generated_docs_pages_are_current() -> None:
    """docs/reference/*.md and docs/odd/*.md are what the code generates now: a change to
    the plan, the schema or a preset must come with `python scripts/gen_reference.py`."""
    gen = load_gen()
    assert gen.main(["--check"]) == 0, (
        "generated docs pages are stale: run `python scripts/gen_reference.py`")
