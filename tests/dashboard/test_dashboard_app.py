"""The dashboard, headless: Streamlit's AppTest drives the script; pure helpers directly."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")

from streamlit.testing.v1 import AppTest  # noqa: E402

from scslab import dashboard as dash  # noqa: E402
from scslab.scenario import preset_names  # noqa: E402

APP = Path(dash.__file__)
# the knobs' widget keys are their scenario paths
FMR = "sensors.cameras.false_match_rate"
APPEALS = "governance.appeals.enabled"
RULES = "governance.transparency"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "runs"
    monkeypatch.setenv(dash.RUNS_ENV, str(d))
    return d


@pytest.fixture
def app(runs) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def _small(at: AppTest, agents: int = 1000, days: int = 10) -> None:
    at.number_input(key="agents").set_value(agents)
    at.number_input(key="days").set_value(days)


def test_first_screen(app, runs):
    assert list(app.selectbox(key="preset").options) == preset_names()
    assert app.selectbox(key="preset").value == "national"
    assert runs.is_dir()
    assert any("Run simulation" in i.value for i in app.info)
    assert _charts(app) == []
    # knobs start at the preset's values
    sc = dash.preset_scenario("national")
    assert app.slider(key=FMR).value == pytest.approx(sc.sensors.cameras.false_match_rate)
    assert (app.number_input(key="sensors.cameras.group_multipliers.minority").value
            == sc.sensors.cameras.group_multipliers["minority"])
    assert app.radio(key=RULES).value == "secret"
    assert app.toggle(key=APPEALS).value is False


def test_run_small_scenario_shows_charts(app, runs):
    _small(app)
    app.slider(key=FMR).set_value(0.05)
    app.toggle(key=APPEALS).set_value(True)
    app.checkbox(key="chilling").check()
    app.button(key="run").click()
    app.run()
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == []
    charts = _charts(app)
    assert len(charts) >= 12
    assert app.get("progress") and "Done: 10 days" in str(app.get("progress")[0].proto)
    result = app.session_state["result"]
    assert result.summary["agents"] == 1000 and len(result.daily) == 10
    assert result.scenario.sensors.cameras.false_match_rate == 0.05
    assert result.scenario.governance.appeals.enabled is True
    assert 0 <= result.summary["chilling_effect"] <= 1
    chill = next(m for m in app.metric if m.label == "chilling effect")
    assert chill.value.endswith("%")
    labels = [m.label for m in app.metric]
    assert "on a list at the end" in labels and "acts pinned on the wrong person" in labels
    listed = next(m for m in app.metric if m.label == "on a list at the end")
    assert listed.value == f"{int(result.daily['listed'].iloc[-1]):,}"
    made = list(runs.iterdir())
    assert len(made) == 1 and result.run_dir == made[0]
    assert (made[0] / "report.html").is_file()
    downloads = {b.proto.label for b in app.get("download_button")}
    assert {"Daily table (CSV)", "Daily table (Parquet)", "Report (HTML)"} <= downloads


def test_changing_preset_resets_its_knobs(app):
    app.slider(key=FMR).set_value(0.04)
    app.run()
    assert app.slider(key=FMR).value == pytest.approx(0.04)
    app.selectbox(key="preset").select("transparent")
    app.run()
    assert not app.exception
    sc = dash.preset_scenario("transparent")
    assert app.slider(key=FMR).value == pytest.approx(sc.sensors.cameras.false_match_rate)
    assert app.toggle(key=APPEALS).value is True
    assert app.radio(key=RULES).value == "published"


def test_compare_two_settings(app, runs):
    _small(app, 800, 8)
    app.slider(key="replicates").set_value(1)
    app.toggle(key="governance.evidence_review.enabled").set_value(True)
    app.button(key="compare").click()
    app.run()
    assert not app.exception, app.exception
    assert [e.value for e in app.error] == []
    data = app.session_state["comparison"]
    assert data.labels == ["A-national", "B-national"]
    a, b = (data.runs[lab][0].scenario for lab in data.labels)
    assert a.governance.evidence_review.enabled is False
    assert b.governance.evidence_review.enabled is True
    assert a.seed == b.seed and a.population.agents == b.population.agents == 800
    assert len(_charts(app)) >= 2
    out = data.out_dir
    assert out.parent == runs.resolve() and (out / "report.html").is_file()
    assert (out / "comparison.csv").is_file()


def test_past_runs_tab(app, runs):
    _small(app, 600, 5)
    app.button(key="run").click()
    app.run()
    n = len(_charts(app))
    past = app.selectbox(key="past_run")
    assert past.value is None and len(past.options) == 1
    past.select(past.options[0])
    app.run()
    assert not app.exception
    assert len(_charts(app)) == 2 * n


# --------------------------------------------------------------------------- pure helpers


def test_build_scenario_applies_every_knob():
    k = dash.preset_knobs("national", agents=1234, days=7)
    sc0 = dash.build_scenario(k)
    assert sc0.population.agents == 1234 and sc0.days == 7
    assert dash.describe_changes(k) == []
    values = {**k.values, "sensors.cameras.detection": 0.9, FMR: 0.03,
              "sensors.cameras.group_multipliers.minority": 50.0,
              "sensors.cameras.group_multipliers.foreign": 1.0,
              "policy.spillover.enabled": False, "policy.spillover.household.penalty": 5.0,
              "policy.spillover.ties.penalty": 0.0,
              "policy.spillover.employer.employee_penalty": 1.0, RULES: "published",
              APPEALS: True, "governance.evidence_review.enabled": True,
              "governance.expiry.enabled": True}
    assert set(values) == set(k.values)  # every knob of the preset is set here
    k2 = dash.Knobs(**{**k.__dict__, "camera_scale": 2.0, "values": values, "seed": 7})
    sc = dash.build_scenario(k2, name="B-test")
    cam = sc.sensors.cameras
    assert sc.name == "B-test" and sc.seed == 7
    assert [r.cameras_per_1000 for r in sc.population.regions] == [
        2 * r.cameras_per_1000 for r in sc0.population.regions]
    assert cam.detection == 0.9 and cam.false_match_rate == 0.03
    assert cam.group_multipliers == {"minority": 50.0, "foreign": 1.0}
    sp = sc.policy.spillover
    assert sp.enabled is False and sp.household.penalty == 5.0 and sp.ties.penalty == 0.0
    assert sp.employer.employee_penalty == 1.0
    g = sc.governance
    assert g.transparency.value == "published" and g.appeals.enabled and g.expiry.enabled
    assert g.evidence_review.enabled
    changes = dash.describe_changes(k2)
    assert any("False match rate" in c for c in changes) and len(changes) == 14
    assert "Dashboard changes" in sc.description


def test_rm1_uses_coverage_not_density():
    k = dash.preset_knobs("rm1")
    assert not any("group_multipliers" in p for p in k.values)  # one group: no multiplier
    assert "sensors.cameras.coverage" in k.values
    sc = dash.build_scenario(dash.Knobs(**{**k.__dict__, "values": {
        **k.values, "sensors.cameras.coverage": 0.4}}))
    assert sc.sensors.cameras.coverage == 0.4


def test_runs_dir_resolution(tmp_path):
    assert dash.runs_dir_from(["--runs-dir", str(tmp_path / "a")], {}) == tmp_path / "a"
    assert dash.runs_dir_from([], {dash.RUNS_ENV: str(tmp_path / "b")}) == tmp_path / "b"
    assert dash.runs_dir_from([], {}) == (Path.cwd() / "runs").resolve()


def test_only_files_under_the_runs_dir(tmp_path):
    root = tmp_path / "runs"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "summary.json").write_text("{}")
    (root / "not-a-run").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "summary.json").write_text("{}")
    (root / "link").symlink_to(outside, target_is_directory=True)
    for unfinished in ("ok.partial", ".ok.old-abc123"):  # a run in progress, a leftover
        (root / unfinished).mkdir()
        (root / unfinished / "summary.json").write_text("{}")
    assert [p.name for p in dash.list_runs(root)] == ["ok"]
    assert dash.inside(root / "ok", root) and not dash.inside(root / "link", root)
    assert not dash.inside(root / ".." / "elsewhere", root)


def test_headline_metrics_are_the_registrys_cards():
    import types

    import pandas as pd

    from scslab.outcomes import cards

    daily = pd.DataFrame({"listed": [1, 40], "wrongful_listed": [0, 3],
                          "misattributed_events": [2, 5], "denied_flight": [1, 2],
                          "denied_wrongful": [0, 1], "collateral_sanctioned": [0, 4]})
    summary = {"agents": 1000, "chilling_effect": 0.25,
               "scale": {"factor": 10.0, "represents": 10_000}}
    heads = {label: (text, note) for label, text, note in
             dash.headline_metrics(types.SimpleNamespace(daily=daily, summary=summary))}
    assert list(heads) == [o.card for o in cards()]
    # a scaled run shows the count for the population represented, the sample's in the note
    assert heads["on a list at the end"][0] == "≈ 400"
    assert "4.00% of 10,000 people" in heads["on a list at the end"][1]
    assert "40 in the sample" in heads["on a list at the end"][1]
    assert heads["refusals"][0] == "≈ 30" and heads["chilling effect"][0] == "25.0%"
    assert heads["disparate impact"][0] == "–"  # no per-group columns: not measured
    assert "not measured" in heads["disparate impact"][1]
