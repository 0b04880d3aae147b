"""``scslab explain``: one synthetic agent's audit trail from the event log."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

import scslab
from scslab.cli import main
from scslab.errors import RunDirError, ScslabError
from scslab.explanation import explain_agent


def cli(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture(scope="module")
def agents(wrongful_run):
    return pq.read_table(wrongful_run.run_dir / "agents.parquet").to_pandas()


@pytest.fixture(scope="module")
def wrongful_agent(agents) -> int:
    listed = agents.blacklisted | agents.court_listed
    truly = agents.true_blacklisted | agents.true_court_listed
    ids = agents.agent[listed & ~truly].tolist()
    assert ids, "the scenario must list someone wrongly"
    return int(ids[0])


@pytest.fixture(scope="module")
def quiet_agent(wrongful_run) -> int:
    ev = wrongful_run.events()
    quiet = np.setdiff1d(np.arange(wrongful_run.summary["agents"]), ev.agent.unique())
    assert quiet.size
    return int(quiet[0])


def test_wrongfully_listed_agent_is_explained(wrongful_run, wrongful_agent):
    ex = explain_agent(wrongful_run.run_dir, wrongful_agent)
    assert ex.agent == wrongful_agent and ex.scenario == "national"
    flags = [e["flag"] for e in ex.events]
    assert "MISATTRIBUTED" in flags
    mis = [e for e in ex.events if e["kind"] == "act" and e["other"] != wrongful_agent]
    assert mis and all(e["flag"] == "MISATTRIBUTED" for e in mis)
    assert any(e["kind"] == "list_enter" for e in ex.events)
    assert any("misattributed act" in f for f in ex.findings)
    assert any(f.startswith("Wrongfully listed") for f in ex.findings)
    days = [e["day"] for e in ex.events]
    assert days == sorted(days)


def test_explain_cli_mentions_misattributed(capsys, wrongful_run, wrongful_agent):
    code, out, err = cli(capsys, "explain", wrongful_run.run_dir, wrongful_agent)
    assert code == 0, err
    assert "MISATTRIBUTED" in out
    assert f"agent {wrongful_agent}" in out


def test_explain_subprocess_at_default_width(tk, wrongful_run, wrongful_agent):
    proc = tk.cli("explain", wrongful_run.run_dir, wrongful_agent, env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "MISATTRIBUTED" in proc.stdout


def test_agent_with_no_events_exits_0(capsys, wrongful_run, quiet_agent):
    ex = explain_agent(wrongful_run.run_dir, quiet_agent)
    assert ex.events == []
    assert any("No events" in f for f in ex.findings)
    code, out, err = cli(capsys, "explain", wrongful_run.run_dir, quiet_agent)
    assert code == 0 and err == ""
    assert "no events" in out.lower()


@pytest.mark.parametrize("agent", [3000, 10**9, -1])
def test_agent_outside_the_population_exits_2(capsys, wrongful_run, agent):
    with pytest.raises(ScslabError, match=rf"^agent {agent}: agent ids run from 0 to 2999 "
                                          r"in this run"):
        explain_agent(wrongful_run.run_dir, agent)
    code, out, err = cli(capsys, "explain", wrongful_run.run_dir, "--", agent)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"agent {agent}: agent ids run from 0 to 2999" in err


@pytest.mark.parametrize("agent", [True, 1.0, "1", None])
def test_agent_id_must_be_a_whole_number(wrongful_run, agent):
    with pytest.raises(ScslabError, match="an agent id is a whole number"):
        explain_agent(wrongful_run.run_dir, agent)


def test_agent_id_may_be_a_numpy_integer(wrongful_run, quiet_agent):
    assert explain_agent(wrongful_run.run_dir, np.int64(quiet_agent)).agent == quiet_agent


def test_explain_api_matches(wrongful_run, wrongful_agent):
    a = scslab.api.explain(wrongful_run.run_dir, wrongful_agent)
    b = explain_agent(wrongful_run.run_dir, wrongful_agent)
    assert a.events == b.events and a.findings == b.findings


def test_top_level_explain_callable_twice(wrongful_run, wrongful_agent):
    for _ in range(2):
        ex = scslab.explain(wrongful_run.run_dir, wrongful_agent)
        assert ex.agent == wrongful_agent


def test_run_without_event_log(capsys, tmp_path):
    scslab.run("rm1", agents=60, days=2, out=tmp_path / "r")  # rm1 logs no events
    with pytest.raises(RunDirError, match="event log"):
        explain_agent(tmp_path / "r", 1)
    code, _, err = cli(capsys, "explain", tmp_path / "r", 1)
    assert code == 2 and "event log" in err


def test_not_a_run_directory(capsys, tmp_path):
    code, _, err = cli(capsys, "explain", tmp_path / "nope", 1)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_sampled_log_refuses_unlogged_agents(tmp_path):
    r = scslab.run("national", agents=2000, days=3, out=tmp_path / "r",
                   set={"output.event_log.full_below": 100,
                        "output.event_log.sample_agents": 200})
    frac = r.summary["event_log"]["fraction"]
    assert 0 < frac < 1
    ev = r.events()
    logged = set(ev.agent.unique())
    missing = next(a for a in range(2000) if a not in logged)
    try:
        ex = explain_agent(tmp_path / "r", missing)
    except RunDirError as e:
        assert "sample" in str(e)
    else:  # a logged agent that simply had no events
        assert "sample" in ex.sample_note
