"""Calibration recovers known parameters; target and parameter syntax errors exit 2."""

from __future__ import annotations

import pytest

from scslab import run
from scslab.calibrate import calibrate, parse_target
from scslab.errors import ScenarioError
from scslab.scenario import load_scenario

TRUE = {"behaviours.court_default.rate": 3e-5, "policy.sanctions.flight.attempt_rate": 0.004}
SIZE = {"agents": 4000, "days": 120}


@pytest.fixture(scope="module")
def truth():
    """Targets produced by a run with known parameters."""
    r = run("court-blacklist", **SIZE, set=TRUE)
    d = r.daily
    return {"listed": float(d["listed_court"].iloc[-1]),
            "flights": float(d["denied_flight"].sum())}


def test_recovers_known_parameters(truth, tmp_path):
    cal = calibrate(
        "court-blacklist",
        [f"listed_court@120={truth['listed']}", f"denied_flight:sum@120={truth['flights']}"],
        ["behaviours.court_default.rate=3e-6:3e-4",
         "policy.sanctions.flight.attempt_rate=0.0004:0.04"],
        **SIZE, budget=28, replicates=4, out=tmp_path)
    for path, true in TRUE.items():
        f = cal.fitted[path]
        # the stated uncertainty: candidates fitting within the replicate noise
        assert f["lo"] * 0.8 <= true <= f["hi"] * 1.25, (path, f, true)
        assert abs(f["value"] - true) / true < 0.35, (path, f, true)
    for a in cal.achieved:
        # The published value is one run (one draw), the interval is the replicates' 95 %
        # interval of their mean: a single draw lies in the 95 % prediction interval,
        # mean ± t·sd·sqrt(1 + 1/n) = mean ± half·sqrt(n + 1) with half = t·sd/sqrt(n).
        # (With ~3 flight denials, one draw falls outside the mean's interval by chance.)
        half = (a["hi"] - a["lo"]) / 2 * (4 + 1) ** 0.5  # n = 4 replicates
        assert a["achieved"] - half <= a["published"] <= a["achieved"] + half, a
    for name in ("calibration.md", "calibration.json", "runs.csv", "calibrated.yaml"):
        assert (tmp_path / name).exists()
    fitted = load_scenario(tmp_path / "calibrated.yaml")
    assert fitted.behaviours["court_default"].rate == pytest.approx(
        cal.fitted["behaviours.court_default.rate"]["value"])


def test_target_syntax_errors():
    sc = load_scenario("court-blacklist")
    cols = ["listed_court", "denied_flight"]
    with pytest.raises(ScenarioError, match="did you mean 'listed_court'"):
        parse_target("listed_cort=5", sc, cols)
    with pytest.raises(ScenarioError, match="aggregation"):
        parse_target("listed_court:median=5", sc, cols)
    with pytest.raises(ScenarioError, match="no start_date"):
        parse_target("listed_court@2018-01-01=5", sc, cols)
    with pytest.raises(ScenarioError, match="positive"):
        parse_target("listed_court=-1", sc, cols)
    assert parse_target("denied_flight:sum@30=7", sc, cols).day == 30


def test_dates_map_to_days():
    sc = load_scenario("china-2018")
    t = parse_target("listed_court@2018-12-31=13e6", sc, ["listed_court"])
    assert t.day == 365


def test_cli_bad_param_exits_2(tmp_path, tk):
    # through `python -m scslab.cli` of this interpreter, as the other CLI tests do: a bare
    # `scslab` is whichever one PATH finds (none on a fresh machine, or another checkout's)
    p = tk.cli("calibrate", "court-blacklist", "--target", "listed_court=10", "--param",
               "behaviours.court_default.rat=1:2", "--agents", "100", "--days", "5",
               "--out", tmp_path, cwd=tmp_path, timeout=120)
    tk.bad_input(p, "rate")
