"""Bad input from a fresh machine (issue "Trust from a fresh machine").

Every case here runs ``python -m scslab.cli`` in its own process, as a user would, and
must exit 2 with one line on stderr naming what is wrong, no traceback, within 30 s:

1. a boolean given for a number (``--set sensors.cameras.false_match_rate=true``) or a
   number for a yes/no, in ``--set`` and in scenario files, for int and float fields,
   inside mappings (``policy.rules.fraud``) and lists;
2. named pipes, devices and directories where a file is read: the scenario, ``--laws``
   files, the files of a run directory, ``report --out``. A regression hangs on the
   pipe: the 30 s timeout turns that into a failure;
3. a run directory whose summary.json, daily.parquet or events.parquet holds the wrong
   kind of values (copies of a real run, damaged one way each), and comparison
   directories with damaged CSV files;
4. other paths: a scenario "under" a regular file, an unreadable file.

Commands run in parallel from one module fixture (two cores: about a minute in all).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from robust_helpers import Done, assert_bad_input, cli_cmd, cli_env

import scslab
from scslab.errors import RunDirError, ScenarioError
from scslab.scenario.loader import load_scenario

#: the scslab under test, whatever the working directory of the command
SRC = str(Path(scslab.__file__).resolve().parents[1])
TIMEOUT = 30
HAS_FIFO = hasattr(os, "mkfifo")


def _run(*args, cwd: Path) -> Done:
    """``scslab ARGS…`` in a subprocess; a command still running after 30 s is killed and
    reported as rc None (a hang is a failure, not a stuck test session)."""
    env = cli_env({"PYTHONPATH": os.pathsep.join(
        [SRC, *filter(None, [os.environ.get("PYTHONPATH")])])})
    import time

    t0 = time.monotonic()
    try:
        p = subprocess.run(cli_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Done(tuple(map(str, args)), None, "", f"TIMED OUT after {TIMEOUT} s",
                    time.monotonic() - t0)
    return Done(tuple(map(str, args)), p.returncode, p.stdout, p.stderr,
                time.monotonic() - t0)


def _snapshot(root: Path) -> dict[str, str]:
    """{path: content or kind} of everything under ``root``, never opening a pipe."""
    out = {}
    for p in sorted(root.rglob("*")):
        mode = p.lstat().st_mode
        rel = str(p.relative_to(root))
        if stat.S_ISREG(mode):
            out[rel] = p.read_bytes().hex()[:64] + f"/{p.stat().st_size}"
        else:
            out[rel] = f"<mode {stat.S_IFMT(mode):o}>"
    return out


# --------------------------------------------------------------------------- damage


def _summary(run: Path, **changes) -> None:
    s = json.loads((run / "summary.json").read_text("utf-8"))
    for k, v in changes.items():
        if v is _DROP:
            s.pop(k)
        else:
            s[k] = v
    (run / "summary.json").write_text(json.dumps(s), "utf-8")


_DROP = object()


def _event_log(run: Path, **changes) -> None:
    s = json.loads((run / "summary.json").read_text("utf-8"))
    s["event_log"].update(changes)
    (run / "summary.json").write_text(json.dumps(s), "utf-8")


def _replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _replace_with_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _drop_columns(path: Path, *cols: str) -> None:
    t = pq.read_table(path)
    pq.write_table(t.drop_columns(list(cols)), path)


def _set_column(path: Path, col: str, values) -> None:
    t = pq.read_table(path)
    i = t.column_names.index(col)
    pq.write_table(t.set_column(i, col, pa.array(values(t.num_rows))), path)


#: name → (damage to a copy of the finished run, command, expected text in the one line)
RUN_CASES = {
    "agents_text": (lambda r: _summary(r, agents="many"), "report",
                    "summary.json: agents is 'many', expected an integer; re-run the scenario"),
    "agents_text_explain": (lambda r: _summary(r, agents="many"), "explain",
                            "summary.json: agents is 'many', expected an integer"),
    "agents_bool": (lambda r: _summary(r, agents=True), "report",
                    "agents is true, expected an integer"),
    "agents_float": (lambda r: _summary(r, agents=3000.5), "report",
                     "agents is 3000.5, expected an integer"),
    "agents_nan": (lambda r: _summary(r, agents=math.nan),
        "report", "agents is NaN, expected an integer"),
    "agents_negative": (lambda r: _summary(r, agents=-5), "explain",
                        "agents is -5, expected from 1 to 2,000,000,000"),
    "agents_missing": (lambda r: _summary(r, agents=_DROP), "explain",
                       "summary.json: no agents"),
    "days_text": (lambda r: _summary(r, days="five"), "report",
                  "days is 'five', expected an integer"),
    "seed_text": (lambda r: _summary(r, seed="x"), "report", "seed is 'x', expected an integer"),
    "completed_text": (lambda r: _summary(r, completed="maybe"), "report",
                       "completed is 'maybe', expected true or false"),
    "metrics_list": (lambda r: _summary(r, metrics=[1, 2]), "report",
                     "metrics is [1, 2], expected an object"),
    "metrics_value_text": (lambda r: _summary(r, metrics={"listed": "lots"}), "report",
                           "metrics.listed is 'lots', expected a number or null"),
    "totals_text": (lambda r: _summary(r, totals="x"), "report",
                    "totals is 'x', expected an object"),
    "event_log_text": (lambda r: _summary(r, event_log="on"), "explain",
                       "event_log is 'on', expected an object"),
    "event_log_fraction_text": (lambda r: _event_log(r, fraction="all"), "explain",
                                "event_log.fraction is 'all', expected a number"),
    "scale_text": (lambda r: _summary(r, scale="x"), "report",
                   "scale is 'x', expected an object"),
    "scale_factor_text": (lambda r: _summary(r, scale={"represents": 10, "factor": "x"}),
                          "report", "scale.factor is 'x', expected a number"),
    "targets_items": (lambda r: _summary(r, targets=[1]), "report",
                      "targets[0] is 1, expected an object"),
    "chilling_effect_text": (lambda r: _summary(r, chilling_effect="x"), "report",
                             "chilling_effect is 'x', expected a number or null"),
    "summary_list": (lambda r: (r / "summary.json").write_text("[1, 2]"), "report",
                     "summary.json: the top level is a list, expected a JSON object"),
    "summary_null": (lambda r: (r / "summary.json").write_text("null"), "explain",
                     "summary.json: the top level is null, expected a JSON object"),
    "summary_deep": (lambda r: (r / "summary.json").write_text("[" * 100_000 + "]" * 100_000),
                     "report", "summary.json: corrupt JSON (nested too deeply)"),
    "summary_empty": (lambda r: (r / "summary.json").write_bytes(b""), "report",
                      "summary.json: corrupt JSON"),
    "daily_no_mean_score": (lambda r: _drop_columns(r / "daily.parquet", "mean_score"),
                            "report", "daily.parquet: no 'mean_score' column"),
    "daily_no_day": (lambda r: _drop_columns(r / "daily.parquet", "day"), "explain",
                     "daily.parquet: no 'day' column"),
    "daily_text_column": (lambda r: _set_column(r / "daily.parquet", "listed",
                                                lambda n: ["x"] * n),
                          "report", "daily.parquet: column 'listed' holds string, expected "
                                    "numbers"),
    "daily_float_day": (lambda r: _set_column(r / "daily.parquet", "day",
                                              lambda n: [float(i) for i in range(n)]),
                        "report", "column 'day' holds double, expected integers"),
    "events_no_kind": (lambda r: _drop_columns(r / "events.parquet", "kind"), "explain",
                       "events.parquet: no 'kind' column"),
    "events_text_agent": (lambda r: _set_column(r / "events.parquet", "agent",
                                                lambda n: ["0"] * n),
                          "explain", "events.parquet: column 'agent' holds string"),
    "events_dir": (lambda r: _replace_with_dir(r / "events.parquet"), "explain",
                   "events.parquet is not a regular file (a directory)"),
    "daily_dir": (lambda r: _replace_with_dir(r / "daily.parquet"), "report",
                  "daily.parquet is not a regular file (a directory)"),
    "summary_dir": (lambda r: _replace_with_dir(r / "summary.json"), "report",
                    "summary.json is not a regular file (a directory)"),
}
FIFO_RUN_CASES = {
    "summary_fifo": (lambda r: _replace_with_fifo(r / "summary.json"), "report",
                     "summary.json is not a regular file (a named pipe); re-run the scenario"),
    "summary_fifo_explain": (lambda r: _replace_with_fifo(r / "summary.json"), "explain",
                             "summary.json is not a regular file (a named pipe)"),
    "daily_fifo": (lambda r: _replace_with_fifo(r / "daily.parquet"), "report",
                   "daily.parquet is not a regular file (a named pipe)"),
    "scenario_fifo": (lambda r: _replace_with_fifo(r / "scenario.yaml"), "report",
                      "scenario.yaml is not a regular file (a named pipe)"),
    "events_fifo": (lambda r: _replace_with_fifo(r / "events.parquet"), "explain",
                    "events.parquet is not a regular file (a named pipe)"),
}
if HAS_FIFO:
    RUN_CASES.update(FIFO_RUN_CASES)


def _fake_comparison(finished_run: Path, root: Path) -> Path:
    """A ``compare --out`` directory made of two copies of the finished run."""
    root.mkdir(parents=True)
    runs = []
    for lab in ("national", "other"):
        shutil.copytree(finished_run, root / f"{lab}-r0")
        runs.append({"scenario": lab, "replicate": 0, "seed": 3, "run_id": f"{lab}-x",
                     "listed_end": 1.0})
    pd.DataFrame(runs).to_csv(root / "runs.csv", index=False)
    pd.DataFrame([{"outcome": "listed_end", "description": "listed at the end",
                   "national": 1.0, "national__lo": float("nan"), "national__hi": float("nan"),
                   "other": 1.0, "other__lo": float("nan"), "other__hi": float("nan"),
                   "other-national": 0.0, "other-national__lo": float("nan"),
                   "other-national__hi": float("nan")}]).to_csv(root / "comparison.csv",
                                                               index=False)
    return root


def _csv(path: Path, col: str, value) -> None:
    t = pd.read_csv(path)
    t[col] = value
    t.to_csv(path, index=False)


COMPARISON_CASES = {
    "replicate_text": (lambda d: _csv(d / "runs.csv", "replicate", "first"),
                       "runs.csv: column 'replicate' holds"),
    "seed_text": (lambda d: _csv(d / "runs.csv", "seed", "x"), "runs.csv: column 'seed' holds"),
    "outcome_text": (lambda d: _csv(d / "runs.csv", "listed_end", "x"),
                     "runs.csv: column 'listed_end' holds text, expected numbers"),
    "label_path": (lambda d: _csv(d / "runs.csv", "scenario", "../national"),
                   "runs.csv: scenario label '../national' is not a run name"),
    "table_text": (lambda d: _csv(d / "comparison.csv", "national", "x"),
                   "comparison.csv: column 'national' holds text, expected numbers"),
    "table_no_outcome": (lambda d: pd.DataFrame([{"a": 1}]).to_csv(d / "comparison.csv",
                                                                     index=False),
                         "lacks the expected columns"),
}


# --------------------------------------------------------------------------- scenario files


FILES = {
    "bool_int.yaml": "days: true\n",
    "bool_float.yaml": "sensors:\n  cameras:\n    false_match_rate: true\n",
    "bool_mapping.yaml": "policy:\n  rules:\n    fraud: true\n",
    "bool_in_list.yaml": ("population:\n  groups:\n    - {name: majority, share: true}\n"
                          "    - {name: minority, share: 0.1}\n"),
    "number_for_bool.yaml": "sensors:\n  cameras:\n    enabled: 1\n",
    "ok.yaml": "base: national\ndays: 3\nsensors:\n  cameras:\n    enabled: false\n"
               "    false_match_rate: 0\npolicy:\n  rules:\n    fraud: -50\n",
}

#: name → (argv, expected text); "{d}" is the working directory of the case
ARG_CASES = {
    "set_bool_float": (["validate", "national", "--set",
                        "sensors.cameras.false_match_rate=true"],
                       "national: sensors.cameras.false_match_rate: true is a boolean, "
                       "expected a number"),
    "set_bool_int": (["validate", "national", "--set", "days=false"],
                     "national: days: false is a boolean, expected an integer"),
    "set_bool_mapping": (["validate", "national", "--set", "policy.rules.fraud=true"],
                         "policy.rules.fraud: true is a boolean, expected a number"),
    "set_bool_yes": (["run", "national", "--days", "1", "--agents", "10", "--no-catalog",
                      "--out", "out", "--set", "sensors.cameras.detection=yes"],
                     "sensors.cameras.detection: true is a boolean, expected a number"),
    "set_number_for_bool": (["validate", "national", "--set", "sensors.cameras.enabled=1"],
                            "sensors.cameras.enabled: 1 is a number, expected true or false"),
    "set_bool_in_list": (["validate", "national", "--set",
                          "population.regions.0.cameras_per_1000=true"],
                         "population.regions[0].cameras_per_1000: true is a boolean"),
    "set_bool_data_flow": (["audit", "vancouver-restaurant", "--set", "data_flows.0.notice=0"],
                           "data_flows[0].notice: 0 is a number, expected true or false"),
    "file_bool_int": (["validate", "bool_int.yaml"],
                      "bool_int.yaml: days: true is a boolean, expected an integer"),
    "file_bool_float": (["validate", "bool_float.yaml"],
                        "bool_float.yaml: sensors.cameras.false_match_rate: true is a boolean, "
                        "expected a number"),
    "file_bool_mapping": (["run", "bool_mapping.yaml", "--days", "1", "--agents", "10",
                           "--no-catalog", "--out", "out"],
                          "bool_mapping.yaml: policy.rules.fraud: true is a boolean, expected "
                          "a number"),
    "file_bool_in_list": (["validate", "bool_in_list.yaml"],
                          "population.groups[0].share: true is a boolean, expected a number"),
    "file_number_for_bool": (["validate", "number_for_bool.yaml"],
                             "sensors.cameras.enabled: 1 is a number, expected true or false"),
    "under_a_file": (["validate", "ok.yaml/x.yaml"],
                     "scenario file 'ok.yaml/x.yaml' not found: ok.yaml is a file, not a "
                     "folder"),
    "dev_null": (["validate", "/dev/null"],
                 "'/dev/null' is not a regular file (a character device); give a scenario "
                 "YAML file"),
    "laws_dev_zero": (["audit", "vancouver-restaurant", "--laws", "/dev/zero"],
                      "law file /dev/zero: not a regular file (a character device)"),
    "laws_directory": (["audit", "vancouver-restaurant", "--laws", "out"],
                       "law file out: not a regular file (a directory)"),
}
FIFO_ARG_CASES = {
    "fifo_validate": (["validate", "pipe.yaml"],
                      "'pipe.yaml' is not a regular file (a named pipe); give a scenario YAML "
                      "file"),
    "fifo_run": (["run", "pipe.yaml", "--no-catalog", "--out", "out"],
                 "'pipe.yaml' is not a regular file (a named pipe)"),
    "fifo_base": (["validate", "base_pipe.yaml"],
                  "'pipe.yaml' is not a regular file (a named pipe)"),
    "fifo_laws": (["audit", "vancouver-restaurant", "--laws", "pipe.yaml"],
                  "law file pipe.yaml: not a regular file (a named pipe); give a law YAML file"),
}
if HAS_FIFO:
    ARG_CASES.update(FIFO_ARG_CASES)

#: must succeed: the checks refuse only what they should
GOOD_CASES = {
    "set_false_for_bool": ["validate", "national", "--set", "sensors.cameras.enabled=false"],
    "set_int_for_float": ["validate", "national", "--set",
                          "sensors.cameras.false_match_rate=0"],
    "set_int_rule": ["validate", "national", "--set", "policy.rules.fraud=-60"],
    "file_ok": ["validate", "ok.yaml"],
}


def _arg_case(tmp: Path, name: str, argv: list[str]):
    cwd = tmp / name
    (cwd / "out").mkdir(parents=True)
    for fname, text in FILES.items():
        (cwd / fname).write_text(text, encoding="utf-8")
    if HAS_FIFO:
        os.mkfifo(cwd / "pipe.yaml")
        (cwd / "base_pipe.yaml").write_text("base: pipe.yaml\ndays: 3\n", encoding="utf-8")
    before = _snapshot(cwd)
    done = _run(*argv, cwd=cwd)
    return done, before, _snapshot(cwd)


def _run_case(finished_run: Path, tmp: Path, name: str):
    damage, command, _ = RUN_CASES[name]
    run = tmp / name / "run"
    shutil.copytree(finished_run, run)
    damage(run)
    argv = ["report", run] if command == "report" else ["explain", run, "0"]
    before = _snapshot(tmp / name)
    done = _run(*argv, cwd=tmp / name)
    return done, before, _snapshot(tmp / name)


def _comparison_case(finished_run: Path, tmp: Path, name: str):
    d = _fake_comparison(finished_run, tmp / name / "cmp")
    if name != "undamaged":
        COMPARISON_CASES[name][0](d)
    before = _snapshot(d)
    done = _run("report", d, cwd=tmp / name)
    return done, before, _snapshot(d)


@pytest.fixture(scope="module")
def results(finished_run, tmp_path_factory) -> dict:
    """Every command of this module, run two at a time."""
    tmp = tmp_path_factory.mktemp("bad-input")
    jobs = {("arg", n): (_arg_case, tmp / "args", n, argv) for n, (argv, _) in ARG_CASES.items()}
    jobs.update({("good", n): (_arg_case, tmp / "good", n, argv)
                 for n, argv in GOOD_CASES.items()})
    jobs.update({("run", n): (_run_case, finished_run, tmp / "runs", n) for n in RUN_CASES})
    jobs.update({("cmp", n): (_comparison_case, finished_run, tmp / "cmp", n)
                 for n in [*COMPARISON_CASES, "undamaged"]})
    jobs[("run", "undamaged")] = (_undamaged_report, finished_run, tmp / "runs")
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        futures = {k: pool.submit(fn, *args) for k, (fn, *args) in jobs.items()}
        return {k: f.result() for k, f in futures.items()}


def _undamaged_report(finished_run: Path, tmp: Path):
    run = tmp / "undamaged" / "run"
    shutil.copytree(finished_run, run)
    done = _run("report", run, "--out", tmp / "undamaged" / "r.html", cwd=tmp / "undamaged")
    return done, None, None


def _check(result, expected: str) -> None:
    done, before, after = result
    assert done.returncode is not None, f"scslab {' '.join(done.args)} hung ({done.stderr})"
    assert_bad_input(done, expected, max_seconds=TIMEOUT)
    assert "This is a bug" not in done.stderr
    assert after == before, "a refused command changed files"


@pytest.mark.parametrize("name", sorted(ARG_CASES))
def test_bad_arguments_and_files(results, name):
    _check(results[("arg", name)], ARG_CASES[name][1])


@pytest.mark.parametrize("name", sorted(GOOD_CASES))
def test_good_values_still_pass(results, name):
    done, _, _ = results[("good", name)]
    assert done.returncode == 0, (done.args, done.stderr)


@pytest.mark.parametrize("name", sorted(RUN_CASES))
def test_damaged_run_directory(results, name):
    _check(results[("run", name)], RUN_CASES[name][2])


def test_the_undamaged_copy_reports(results):
    done, _, _ = results[("run", "undamaged")]
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(COMPARISON_CASES))
def test_damaged_comparison_directory(results, name):
    _check(results[("cmp", name)], COMPARISON_CASES[name][1])


def test_the_undamaged_comparison_reports(results):
    done, _, _ = results[("cmp", "undamaged")]
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not HAS_FIFO, reason="no named pipes on this system")
def test_report_out_to_a_named_pipe_is_refused_not_replaced(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    os.mkfifo(tmp_path / "out.html")
    done = _run("report", run, "--out", tmp_path / "out.html", cwd=tmp_path)
    assert done.returncode is not None, "report --out PIPE hung"
    assert_bad_input(done, "out.html: it is not a regular file (a named pipe)",
                     max_seconds=TIMEOUT)
    assert stat.S_ISFIFO((tmp_path / "out.html").lstat().st_mode), "the pipe was replaced"


def test_report_out_under_a_regular_file(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (tmp_path / "notes.txt").write_text("x\n", encoding="utf-8")
    done = _run("report", run, "--out", tmp_path / "notes.txt" / "r.html", cwd=tmp_path)
    assert_bad_input(done, "r.html: ", "notes.txt is a file, not a folder",
                     max_seconds=TIMEOUT)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads a chmod 000 file anyway")
def test_unreadable_scenario_file(tmp_path):
    p = tmp_path / "secret.yaml"
    p.write_text("days: 3\n", encoding="utf-8")
    p.chmod(0)
    try:
        assert_bad_input(_run("validate", p, cwd=tmp_path), "cannot read",
                         "Permission denied", max_seconds=TIMEOUT)
    finally:
        p.chmod(0o644)


# --------------------------------------------------------------------------- in process


@pytest.mark.parametrize("overrides,needle", [
    ({"sensors.cameras.false_match_rate": True},
     "sensors.cameras.false_match_rate: true is a boolean, expected a number"),
    ({"days": True}, "days: true is a boolean, expected an integer"),
    ({"population.represents": False}, "population.represents: false is a boolean"),
    ({"policy.rules.fraud": True}, "policy.rules.fraud: true is a boolean, expected a number"),
    ({"population.regions.0.rules": {"fraud": True}},
     "population.regions[0].rules.fraud: true is a boolean"),
    ({"population.households.size_shares": {True: 1.0}},
     "population.households.size_shares: key true is a boolean, expected an integer"),
    ({"sensors.cameras.enabled": 0}, "sensors.cameras.enabled: 0 is a number, expected true "
                                     "or false"),
    ({"governance.appeals.enabled": 1.0}, "governance.appeals.enabled: 1.0 is a number"),
])
def test_overrides_refuse_disguised_types(overrides, needle):
    with pytest.raises(ScenarioError) as e:
        load_scenario("national", overrides)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_numpy_bool_is_refused_for_a_number():
    np = pytest.importorskip("numpy")
    with pytest.raises(ScenarioError, match="true is a boolean"):
        load_scenario("national", {"sensors.cameras.detection": np.bool_(True)})


def test_numbers_and_nulls_that_belong_still_load():
    sc = load_scenario("national", {"sensors.cameras.false_match_rate": 0,
                                    "policy.rules.fraud": -60, "population.represents": None,
                                    "sensors.cameras.enabled": False, "days": 30})
    assert sc.sensors.cameras.false_match_rate == 0.0 and sc.policy.rules["fraud"] == -60
    assert sc.population.represents is None and sc.sensors.cameras.enabled is False


def test_python_api_models_refuse_disguised_types_too():
    from scslab.scenario.flows import DataFlow
    from scslab.scenario.schema import Scenario, Sensor

    with pytest.raises(ValidationError, match="true is a boolean, expected an integer"):
        Scenario(days=True)
    with pytest.raises(ValidationError, match="1 is a number, expected true or false"):
        Sensor(enabled=1)
    flow = load_scenario("vancouver-restaurant").data_flows[0].model_dump()
    flow["notice"] = 1
    with pytest.raises(ValidationError, match="1 is a number, expected true or false"):
        DataFlow.model_validate(flow)


def test_summary_size_is_bounded(finished_run, tmp_path, monkeypatch):
    from scslab import results

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    monkeypatch.setattr(results, "MAX_SUMMARY_BYTES", 100)
    with pytest.raises(RunDirError, match="summary.json: larger than 100 bytes"):
        results.read_summary(run)


def test_real_summaries_pass_the_checks(finished_run, stopped_run):
    from scslab.results import read_daily, read_summary

    for run in (finished_run, stopped_run):
        assert read_summary(run)["agents"] == 3000
        assert len(read_daily(run))


def test_a_just_started_summary_passes(tmp_path):
    """The summary written before day 1 (no metrics yet) is a valid one."""
    from scslab.results import read_summary

    (tmp_path / "summary.json").write_text(json.dumps({
        "run_id": "x", "scenario": "national", "agents": 10, "days": 0, "days_planned": 3,
        "seed": 1, "completed": False, "started": True, "run_options": {}}))
    assert read_summary(tmp_path)["days"] == 0


def test_a_scaled_run_with_targets_passes(tmp_path):
    """``scale`` and ``targets`` as runs write them pass the checks (and the report)."""
    from scslab.report import build_report
    from scslab.results import load_run

    r = scslab.run("national", agents=400, days=3, out=tmp_path / "r", report=False,
                   set={"population.represents": 1_000_000, "start_date": "2018-01-01",
                        "targets": [{"target": "listed@2=10"},
                                    {"target": "listed_court:max@2018-01-03=1"}]})
    assert r.summary.get("scale") and r.summary.get("targets")
    assert load_run(tmp_path / "r").summary == r.summary
    assert build_report(tmp_path / "r").stat().st_size > 0


def test_cli_module_is_the_one_under_test():
    out = subprocess.run([sys.executable, "-c", "import scslab; print(scslab.__file__)"],
                         env=cli_env({"PYTHONPATH": SRC}), capture_output=True, text=True,
                         cwd="/", timeout=TIMEOUT)
    assert out.stdout.strip().startswith(SRC), out
