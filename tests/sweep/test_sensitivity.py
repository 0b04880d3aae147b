"""Sensitivity analysis: known indices on analytic models, outcome checks, real runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scslab.cli import main
from scslab.errors import ScenarioError

from .conftest import sa

pytest.importorskip("SALib")

PARAMS = {"a": (0.0, 1.0), "b": (-2.0, 3.0), "c": (10.0, 20.0)}


def only_a(X: np.ndarray) -> np.ndarray:
    """Depends on the first parameter only (non-linearly)."""
    return np.sin(2 * np.pi * X[:, 0]) + 3 * X[:, 0] ** 2


def test_sobol_one_influential_parameter():
    res = sa.sensitivity(None, PARAMS, method="sobol", samples=1024, evaluate=only_a, seed=3)
    t = res.indices.set_index("parameter")
    assert abs(t.loc["a", "S1"] - 1) <= t.loc["a", "S1_conf"] + 0.02
    assert abs(t.loc["a", "ST"] - 1) <= t.loc["a", "ST_conf"] + 0.02
    for p in ("b", "c"):
        assert abs(t.loc[p, "S1"]) <= t.loc[p, "S1_conf"] + 0.01
        assert abs(t.loc[p, "ST"]) <= t.loc[p, "ST_conf"] + 0.01
    assert len(res.X) == 1024 * (3 + 2)


def test_sobol_additive_model_shares_and_second_order():
    # y = a + 2 b on [0, 1]²: S1 = 1/5 and 4/5, no interaction
    res = sa.sensitivity(None, {"a": (0, 1), "b": (0, 1)}, method="sobol", samples=2048,
                         evaluate=lambda X: X[:, 0] + 2 * X[:, 1], second_order=True, seed=1)
    t = res.indices.set_index("parameter")
    assert t.loc["a", "S1"] == pytest.approx(0.2, abs=0.03)
    assert t.loc["b", "S1"] == pytest.approx(0.8, abs=0.03)
    s2 = res.second_order["y"]["S2"][0][1]
    assert abs(s2) < 0.05
    assert len(res.X) == 2048 * (2 * 2 + 2)


def test_morris_linear_function():
    # EE are in outcome units per whole range: mu* = |coef| × (hi - lo), sigma = 0
    res = sa.sensitivity(None, PARAMS, method="morris", samples=20, seed=5,
                         evaluate=lambda X: 4 * X[:, 0] - 0.5 * X[:, 1] + 0 * X[:, 2])
    t = res.indices.set_index("parameter")
    assert t.loc["a", "mu_star"] == pytest.approx(4.0)
    assert t.loc["b", "mu_star"] == pytest.approx(2.5)
    assert t.loc["b", "mu"] == pytest.approx(-2.5)
    assert t.loc["c", "mu_star"] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(t["sigma"], 0, atol=1e-9)
    assert len(res.X) == 20 * 4


def test_several_outcomes_and_integer_rounding(tmp_path):
    def f(X):
        return {"first": X[:, 0], "second": X[:, 1] ** 2}

    res = sa.sensitivity(None, {"n": (1, 6), "x": (0, 1)}, method="sobol", samples=256,
                         outcomes=["first", "second"], integer=["n"], evaluate=f, seed=2,
                         out=tmp_path)
    vals, counts = np.unique(res.Y["n"], return_counts=True)
    assert list(vals) == [1, 2, 3, 4, 5, 6]
    assert counts.min() > 0.7 * counts.max()  # the end points are not half as likely
    t = res.indices.set_index(["outcome", "parameter"])
    assert t.loc[("first", "n"), "S1"] > 0.9 and t.loc[("second", "x"), "S1"] > 0.9
    assert {"sensitivity.csv", "sensitivity.json", "sensitivity.html", "samples.csv"} <= {
        p.name for p in tmp_path.iterdir()}
    assert len(pd.read_csv(tmp_path / "sensitivity.csv")) == 4


@pytest.mark.parametrize("expr", ["a", "a=1", "a=1:2:3", "a=x:2", "a=2:1", "=1:2"])
def test_parse_param_errors(expr):
    with pytest.raises(ScenarioError, match="--param"):
        sa.parse_param(expr)


def test_outcome_names_are_checked():
    from scslab.api import resolve

    cols, flows = sa.metric_columns(resolve("national", agents=1000))
    assert sa.parse_outcome("wrongful_listed:mean", cols, flows).agg == "mean"
    assert sa.parse_outcome("totals.misattributed_events", cols, flows).kind == "totals"
    assert sa.parse_outcome("metrics.listed", cols, flows).kind == "metrics"
    assert sa.parse_outcome("chilling_effect", cols, flows).kind == "summary"
    # an outcome of the registry by its key, computed as the registry computes it
    di = sa.parse_outcome("disparate_impact", cols, flows)
    assert di.kind == "registry"
    from scslab.fairness import assess

    daily = pd.DataFrame({"wrongful_listed__a": [20, 40], "wrongful_listed__b": [40, 40]})
    summary = {"fairness": assess(daily, {"a": 100, "b": 400}, min_events=1)}
    assert di.value(summary, daily) == pytest.approx((60 / 200) / (80 / 800))
    # a per-group fairness outcome is the registry's too
    assert sa.parse_outcome("disparate_impact__minority", cols, flows).kind == "registry"
    with pytest.raises(ScenarioError, match="did you mean 'listed_end'"):
        sa.parse_outcome("listed_ed", cols, flows)
    with pytest.raises(ScenarioError, match="did you mean 'wrongful_listed'"):
        sa.parse_outcome("wrongful_listd:last", cols, flows)
    with pytest.raises(ScenarioError, match="did you mean 'mean'"):
        sa.parse_outcome("wrongful_listed:meen", cols, flows)
    with pytest.raises(ScenarioError, match="say how to aggregate"):
        sa.parse_outcome("wrongful_listed", cols, flows)
    with pytest.raises(ScenarioError, match="flow"):
        sa.parse_outcome("totals.listed", cols, flows)
    with pytest.raises(ScenarioError, match="did you mean 'chilling_effect'"):
        sa.parse_outcome("chiling_effect", cols, flows)


def test_params_are_checked_against_the_schema():
    with pytest.raises(ScenarioError, match="did you mean"):
        sa.plan_sensitivity("national", ["sensors.cameras.false_match_rat=0:0.1"],
                            outcomes=["listed:last"], agents=1000)
    with pytest.raises(ScenarioError, match="yes/no"):
        sa.plan_sensitivity("national", ["governance.appeals.enabled=0:1"],
                            outcomes=["listed:last"], agents=1000)
    with pytest.raises(ScenarioError, match="false_match_rate"):
        sa.plan_sensitivity("national", ["sensors.cameras.false_match_rate=0:3"],
                            outcomes=["listed:last"], agents=1000)
    sp = sa.plan_sensitivity("national", ["population.agents=1000:3000",
                                          "sensors.cameras.false_match_rate=0:0.01"],
                             method="morris", samples=3, outcomes=["listed:last"], days=5)
    assert [p.integer for p in sp.params] == [True, False]
    assert len(sp.plan.specs) <= 3 * 3
    assert all(isinstance(s.grid["population.agents"], int) for s in sp.plan.specs)


def test_cli_real_runs_morris(tmp_path, capsys):
    out = tmp_path / "sens"
    argv = ["sensitivity", "national", "--param", "sensors.cameras.false_match_rate=0.0001:0.05",
            "--param", "population.agents=1500:2500", "--method", "morris", "--samples", "2",
            "--outcome", "misattributed_events:sum", "--outcome", "totals.misattributed_events",
            "--outcome", "metrics.listed", "--outcome", "misattributed_total", "--days", "15", "--out", str(out), "--db",
            str(tmp_path / "c.duckdb")]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "mu_star" in printed
    data = json.loads((out / "sensitivity.json").read_text())
    assert data["method"] == "morris" and data["evaluations"] == 2 * 3
    idx = pd.DataFrame(data["indices"])
    s = idx.set_index(["outcome", "parameter"])
    # the same quantity two ways
    assert s.loc[("misattributed_events:sum", "sensors.cameras.false_match_rate"), "mu_star"] \
        == s.loc[("totals.misattributed_events", "sensors.cameras.false_match_rate"), "mu_star"]
    assert s.loc[("misattributed_events:sum", "sensors.cameras.false_match_rate"),
                 "mu_star"] > 0
    # and a third way, by its key in the outcomes registry
    assert s.loc[("misattributed_total", "sensors.cameras.false_match_rate"), "mu_star"] \
        == s.loc[("misattributed_events:sum", "sensors.cameras.false_match_rate"), "mu_star"]
    page = (out / "sensitivity.html").read_text()
    assert page.count("plotly.js v") == 1  # the library, inline, once
    assert "<script src=" not in page  # self-contained
    assert len(pd.read_csv(out / "sensitivity.csv")) == 4 * 2
    # the runs went through the sweep machinery: rerunning resumes and gives the same indices
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    again = json.loads((out / "sensitivity.json").read_text())
    assert again["indices"] == data["indices"]
    assert "skipped" in capsys.readouterr().err


def test_sensitivity_on_local_cluster(local_client, tmp_path):
    kw = dict(method="sobol", samples=4, outcomes=["misattributed_events:sum"], agents=1500,
              days=10)
    p = {"sensors.cameras.false_match_rate": (0.001, 0.05), "sensors.cameras.coverage": (0.1, 0.9)}
    a = sa.sensitivity("national", p, client=local_client, out=tmp_path / "a", **kw)
    b = sa.sensitivity("national", p, out=tmp_path / "b", **kw)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    assert len(a.sweep.plan.specs) == 4 * (2 + 2)


def test_cli_bad_param_and_method_exit_2(capsys, tmp_path):
    for extra, text in [(["--param", "sensors.cameras.false_match_rate=0.1"], "PATH=LO:HI"),
                        (["--param", "sensors.cameras.false_match_rate=0.1:0.2", "--method",
                          "sobel"], "did you mean 'sobol'"),
                        (["--param", "sensors.cameras.false_match_rate=0.1:0.2", "--outcome",
                          "listd:last"], "did you mean 'listed'")]:
        argv = ["sensitivity", "national", *extra, "--out", str(tmp_path / "o"),
                "--no-catalog"]
        if "--outcome" not in extra:
            argv += ["--outcome", "listed:last"]
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and text in err, err
