"""Hostile input (issue "Nothing lost", part 3): every case exits 2 with one clear line.

Each case runs ``scslab`` in its own process, as a user would, and checks: exit
status 2, stderr exactly one non-empty line containing the expected text, no
traceback, an answer within seconds, and nothing written before damaged (files
snapshotted byte for byte before and after). The big matrices run in processes forked
from one that has imported the CLI (``robust_helpers.CliForkServer``: a second per
command saved); a sample also runs as ``python -m scslab.cli`` and must answer the
same, within 10 s, imports included.

- the corpus ``tests/data/bad/*.yaml`` (messages in ``tests/data/bad/expected.yaml``)
  plus generated cases too big to commit, each through ``scslab validate FILE`` and
  ``scslab run FILE --days 1 --agents 10 --no-catalog --out DIR``;
- bad command-line values and ``--set`` expressions;
- ``--resume`` of things that are not run directories, of corrupt or truncated
  checkpoints (and that following the hint recovers);
- corrupt Parquet and JSON files for ``report``, ``explain`` and ``catalog add``;
- a corrupt catalog file and a catalog locked by another process past the bounded
  retry: the run directory is complete and can be added to the catalog later.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from robust_helpers import BAD_DIR, assert_bad_input, run_cli, snapshot

MANIFEST: dict[str, str] = yaml.safe_load((BAD_DIR / "expected.yaml").read_text("utf-8"))


def _enormous(path: Path) -> None:
    """6 MB of otherwise valid YAML: refused on its size, before it is parsed."""
    line = "# " + "padding " * 12 + "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("days: 30\n")
        fh.write(line * (6_000_000 // len(line) + 1))


def _many_values(path: Path) -> None:
    """~400 kB, under the size limit but with 30,000 values (a scenario has ~700)."""
    path.write_text("".join(f"k{i}: {i}\n" for i in range(30_000)), encoding="utf-8")


def _very_deep(path: Path) -> None:
    """100,000 levels of nested flow lists (200 kB)."""
    path.write_text("name: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")


def _deep_mappings(path: Path) -> None:
    """50,000 levels of nested flow mappings."""
    path.write_text("name: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n", encoding="utf-8")


#: generated at test time: name → (writer, expected text)
GENERATED = {
    "enormous.yaml": (_enormous, "file is larger than 1,000,000 bytes"),
    "many_values.yaml": (_many_values, "more than 20,000 values"),
    "very_deep.yaml": (_very_deep, "nesting too deep (limit 64 levels"),
    "deep_mappings.yaml": (_deep_mappings, "nesting too deep (limit 64 levels"),
}

FILE_CASES = sorted(MANIFEST) + sorted(GENERATED)
COMMANDS = ("validate", "run")


def _workdir(root: Path) -> tuple[Path, Path]:
    """A working directory holding things already written: a catalog and a run folder."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(7)
    (root / "scslab.duckdb").write_bytes(rng.bytes(4096))
    out = root / "out"
    out.mkdir()
    (out / "keep.txt").write_text("written before; must survive\n", encoding="utf-8")
    return root, out


def _corpus_argv(tmp: Path, name: str, command: str) -> list:
    path = tmp / "generated" / name if name in GENERATED else BAD_DIR / name
    if command == "validate":
        return ["validate", path]
    return ["run", path, "--days", "1", "--agents", "10", "--no-catalog", "--out", "out"]


def _one_case(runner, tmp: Path, name: str, command: str):
    cwd, _ = _workdir(tmp / f"{command}-{name}")
    before = snapshot(cwd)
    done = runner(*_corpus_argv(tmp, name, command), cwd=cwd, timeout=60)
    return done, before, snapshot(cwd)


def _run_all(jobs: dict) -> dict:
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        futures = {key: pool.submit(fn, *args) for key, (fn, *args) in jobs.items()}
        return {key: f.result() for key, f in futures.items()}


@pytest.fixture(scope="module")
def corpus_tmp(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("corpus")
    (tmp / "generated").mkdir()
    for name, (writer, _) in GENERATED.items():
        writer(tmp / "generated" / name)
    return tmp


@pytest.fixture(scope="module")
def corpus_results(fork_server, corpus_tmp) -> dict:
    """Every (file, command) pair, each in its own process and directory."""
    return _run_all({(n, c): (_one_case, fork_server.run, corpus_tmp, n, c)
                     for n in FILE_CASES for c in COMMANDS})


def test_manifest_lists_every_corpus_file():
    files = {p.name for p in BAD_DIR.iterdir() if p.name != "expected.yaml"}
    assert files == set(MANIFEST), (files ^ set(MANIFEST))
    assert all(isinstance(v, str) and v for v in MANIFEST.values())
    # committed files stay small; the big ones are generated
    assert all((BAD_DIR / n).stat().st_size < 20_000 for n in MANIFEST)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", FILE_CASES)
def test_bad_scenario_file(corpus_results, name, command):
    done, before, after = corpus_results[(name, command)]
    expected = MANIFEST.get(name) or GENERATED[name][1]
    assert_bad_input(done, expected)
    assert after == before, "a bad scenario changed files written before"


def test_python_tag_never_executes(corpus_results):
    for command in COMMANDS:
        done, before, after = corpus_results[("python_tag.yaml", command)]
        assert "scslab_pwned.txt" not in after
    assert not Path("scslab_pwned.txt").exists()


#: a sample answered both by ``python -m scslab.cli`` and by the fork server
PARITY = [("alias_bomb.yaml", "validate"), ("alias_bomb.yaml", "run"),
          ("enormous.yaml", "validate"), ("very_deep.yaml", "run"),
          ("python_tag.yaml", "run"), ("nan.yaml", "validate"), ("nul_bytes.yaml", "run"),
          ("unknown_nested_key.yaml", "validate")]


@pytest.mark.parametrize("name,command", PARITY)
def test_a_real_process_answers_the_same_within_seconds(fork_server, corpus_tmp, tmp_path,
                                                        name, command):
    """``python -m scslab.cli`` (imports and all) answers within seconds, exactly as the
    fork server's process does."""
    answers = []
    for runner in (run_cli, fork_server.run):
        cwd, _ = _workdir(tmp_path / runner.__name__)
        before = snapshot(cwd)
        done = runner(*_corpus_argv(corpus_tmp, name, command), cwd=cwd, timeout=60)
        line = assert_bad_input(done, MANIFEST.get(name) or GENERATED[name][1])
        assert snapshot(cwd) == before
        answers.append((done.returncode, line.replace(str(cwd), "<cwd>"), done.stdout))
    assert answers[0] == answers[1]


# --------------------------------------------------------------------------- arguments

#: (id, argv, expected text); every one runs in a directory with files written before
ARG_CASES = [
    ("set_unknown_path", ["validate", "national", "--set", "policy.rulez.fraud=-80"],
     "--set policy.rulez: no such setting (did you mean 'rules'?)"),
    ("set_unknown_top", ["validate", "national", "--set", "nosuch=1"],
     "--set nosuch: no such setting"),
    ("set_run_unknown_path", ["run", "national", "--days", "1", "--agents", "10",
                              "--no-catalog", "--out", "out", "--set", "sensors.camera.x=1"],
     "--set sensors.camera: no such setting (did you mean 'cameras'?)"),
    ("set_wrong_type", ["validate", "national", "--set", "days=many"],
     "days: Input should be a valid integer"),
    ("set_block_type", ["validate", "national", "--set", "sensors=12"],
     "sensors: Input should be a valid dictionary"),
    ("set_nan", ["validate", "national", "--set", "sensors.cameras.false_match_rate=.nan"],
     "'.nan' is not a finite number"),
    ("set_nan_word", ["validate", "national", "--set", "sensors.cameras.false_match_rate=nan"],
     "sensors.cameras.false_match_rate: Input should be a finite number"),
    ("set_inf", ["run", "national", "--days", "1", "--agents", "10", "--no-catalog", "--out",
                 "out", "--set", "days=.inf"], "'.inf' is not a finite number"),
    ("set_index_out_of_range", ["validate", "national", "--set",
                                "population.regions.99.share=0.1"],
     "index 99 out of range (list has 7)"),
    ("set_index_not_a_number", ["validate", "national", "--set",
                                "population.regions.first.share=0.1"],
     "a list index must be a number"),
    ("set_value_not_block", ["validate", "national", "--set", "days.x=1"],
     "days is a value, not a block"),
    ("set_no_equals", ["validate", "national", "--set", "days"], "expected PATH=VALUE"),
    ("set_empty_path", ["validate", "national", "--set", "=3"], "empty path segment"),
    ("set_python_tag", ["validate", "national", "--set",
                        "days=!!python/object/apply:os.system [touch scslab_pwned.txt]"],
     "days: Input should be a valid integer"),
    ("set_huge_int", ["validate", "national", "--set", "seed=" + "9" * 5000],
     "seed: "),
    ("agents_negative", ["run", "national", "--agents", "-5", "--no-catalog", "--out", "out"],
     "--agents"),
    ("agents_not_a_number", ["run", "national", "--agents", "lots", "--no-catalog"],
     "--agents"),
    ("agents_huge", ["run", "national", "--agents", "99999999999999999999", "--no-catalog",
                     "--out", "out"], "population.agents: Input should be less than or equal"),
    ("days_zero", ["run", "national", "--days", "0", "--no-catalog", "--out", "out"],
     "--days"),
    ("seed_negative", ["validate", "national", "--set", "seed=-1"],
     "seed: Input should be greater than or equal to 0"),
    ("checkpoint_every_negative", ["run", "national", "--checkpoint-every", "-1",
                                   "--no-catalog", "--out", "out"], "--checkpoint-every"),
    ("unknown_option", ["run", "national", "--bogus"], "--bogus"),
    ("scenario_missing", ["validate", "missing.yaml"], "scenario file 'missing.yaml' not found"),
    ("scenario_unknown_preset", ["run", "natinal", "--no-catalog"],
     "did you mean 'national'?"),
    ("scenario_name_too_long", ["validate", "x" * 5000], "cannot be used as a file name"),
    ("scenario_is_a_directory", ["validate", "out"], "is a directory"),
    ("scenario_dev_zero", ["validate", "/dev/zero"],
     "'/dev/zero' is not a regular file (a character device)"),
    ("resume_empty_dir", ["run", "--resume", "empty_dir"],
     "is an empty directory, and there is no empty_dir.partial to resume"),
    ("resume_a_file", ["run", "--resume", "somefile.txt"], "not a directory"),
    ("resume_missing", ["run", "--resume", "no_such_dir"],
     "does not exist, and there is no no_such_dir.partial to resume"),
    ("resume_with_scenario", ["run", "national", "--resume", "out"],
     "--resume takes the run directory only"),
    ("resume_bad_scenario_yaml", ["run", "--resume", "bad_run"], "the top level is null"),
    ("report_not_a_run", ["report", "empty_dir"], "no summary.json"),
    ("explain_not_a_run", ["explain", "empty_dir", "0"], "no summary.json"),
    ("catalog_add_not_a_run", ["catalog", "add", "somefile.txt"], "not a directory"),
    ("catalog_add_empty_dir", ["catalog", "add", "empty_dir"], "no summary.json"),
    ("audit_laws_not_utf8", ["audit", "vancouver-restaurant", "--laws",
                             BAD_DIR / "latin1.yaml"], "latin1.yaml: not valid UTF-8"),
    ("audit_laws_deep", ["audit", "vancouver-restaurant", "--laws",
                         BAD_DIR / "deep_nesting.yaml"], "deep_nesting.yaml"),
    ("audit_laws_python_tag", ["audit", "vancouver-restaurant", "--laws",
                               BAD_DIR / "python_tag.yaml"], "not valid (safe) YAML"),
]


def _arg_case(runner, tmp: Path, case_id: str, argv: list[str]):
    cwd, out = _workdir(tmp / case_id)
    (cwd / "empty_dir").mkdir()
    (cwd / "somefile.txt").write_text("not a run directory\n", encoding="utf-8")
    (cwd / "bad_run").mkdir()
    (cwd / "bad_run" / "scenario.yaml").write_text("~\n", encoding="utf-8")
    before = snapshot(cwd)
    done = runner(*argv, cwd=cwd, timeout=60)
    return done, before, snapshot(cwd)


@pytest.fixture(scope="module")
def arg_results(fork_server, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("args")
    return _run_all({cid: (_arg_case, fork_server.run, tmp, cid, argv)
                     for cid, argv, _ in ARG_CASES
                     if cid != "scenario_dev_zero" or Path("/dev/zero").exists()})


@pytest.mark.parametrize("case_id,argv,expected", ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_bad_arguments(arg_results, case_id, argv, expected):
    if case_id not in arg_results:
        pytest.skip("no /dev/zero here")
    done, before, after = arg_results[case_id]
    assert_bad_input(done, expected)
    assert after == before, "a bad command changed files written before"


# --------------------------------------------------------------------------- checkpoints


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _ckdir(run: Path) -> Path:
    return run / json.loads((run / "checkpoint.json").read_text())["checkpoint"]


def _pickled_state(run: Path) -> None:
    """A state.npz whose array is a pickle: np.load(allow_pickle=False) refuses it."""
    target = _ckdir(run) / "state.npz"
    with open(target, "wb") as fh:
        np.savez(fh, **{"state.score": np.array([{"evil": 1}], dtype=object)})


CORRUPTIONS = {
    "state_truncated": (lambda r: _truncate(_ckdir(r) / "state.npz"), "corrupt or truncated"),
    "state_empty": (lambda r: (_ckdir(r) / "state.npz").write_bytes(b""),
                    "corrupt or truncated"),
    "state_pickle": (_pickled_state, "corrupt or truncated"),
    "pointer_garbage": (lambda r: (r / "checkpoint.json").write_bytes(os.urandom(64)),
                        "corrupt or truncated"),
    "pointer_escapes": (lambda r: (r / "checkpoint.json").write_text(
        json.dumps({"checkpoint": "../../etc", "day": 4})), "not a checkpoint folder"),
    "pointer_list": (lambda r: (r / "checkpoint.json").write_text("[1, 2]"),
                     "corrupt or truncated"),
    "meta_truncated": (lambda r: _truncate(_ckdir(r) / "meta.json"), "corrupt or truncated"),
    "meta_not_object": (lambda r: (_ckdir(r) / "meta.json").write_text('"x"'),
                        "corrupt or truncated"),
    "daily_truncated": (lambda r: _truncate(_ckdir(r) / "daily.parquet"),
                        "corrupt or truncated"),
    "checkpoint_dir_missing": (lambda r: shutil.rmtree(_ckdir(r)), "corrupt or truncated"),
    "event_part_missing": (lambda r: (r / "events.parts" / "part-000002.parquet").unlink(),
                           "event log part part-000002.parquet is missing"),
    "event_part_truncated": (lambda r: _truncate(r / "events.parts" / "part-000002.parquet"),
                             "corrupt or truncated"),
}


def _resume_damaged(runner, stopped_run: Path, tmp: Path, corruption: str):
    run = tmp / corruption
    shutil.copytree(stopped_run, run)
    CORRUPTIONS[corruption][0](run)
    before = snapshot(run)
    done = runner("run", "--resume", run, cwd=tmp, timeout=60)
    return done, before, snapshot(run)


@pytest.fixture(scope="module")
def resume_results(fork_server, stopped_run, tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("damaged")
    return _run_all({c: (_resume_damaged, fork_server.run, stopped_run, tmp, c)
                     for c in CORRUPTIONS})


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_resume_corrupt_checkpoint(resume_results, corruption):
    done, before, after = resume_results[corruption]
    msg = assert_bad_input(done, CORRUPTIONS[corruption][1])
    assert "delete" in msg and "day 0" in msg  # says how to recover
    assert after == before, "a failed resume changed the run directory"


def test_following_the_hint_restarts_from_day_0(stopped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    _truncate(_ckdir(run) / "state.npz")
    assert_bad_input(run_cli("run", "--resume", run, cwd=tmp_path, timeout=60), "corrupt")
    (run / "checkpoint.json").unlink()
    for p in run.glob("checkpoint-*"):
        shutil.rmtree(p)
    done = run_cli("run", "--resume", run, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["completed"] is True and summary["days"] == 8


# --------------------------------------------------------------------------- run files

RUN_FILE_DAMAGE = {
    "daily_garbage": ("daily.parquet", lambda p: p.write_bytes(os.urandom(2000)),
                      "unreadable Parquet"),
    "daily_truncated": ("daily.parquet", _truncate, "unreadable Parquet"),
    "summary_truncated": ("summary.json", _truncate, "corrupt JSON"),
    "summary_not_utf8": ("summary.json", lambda p: p.write_bytes(b"\xff\xfe{}"),
                         "corrupt JSON"),
    "scenario_garbage": ("scenario.yaml", lambda p: p.write_bytes(b"\x00\x01\x02"),
                         "NUL bytes"),
}


@pytest.mark.parametrize("damage,command", [
    ("daily_garbage", "report"), ("daily_garbage", "explain"), ("daily_garbage", "catalog add"),
    ("daily_truncated", "catalog add"), ("summary_truncated", "report"),
    ("summary_not_utf8", "explain"), ("scenario_garbage", "catalog add"),
])
def test_corrupt_run_directory(finished_run, tmp_path, damage, command):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    name, fn, expected = RUN_FILE_DAMAGE[damage]
    fn(run / name)
    db = tmp_path / "catalog.duckdb"
    argv = {"report": ["report", run], "explain": ["explain", run, "0"],
            "catalog add": ["catalog", "add", run, "--db", db]}[command]
    before = snapshot(tmp_path)
    assert_bad_input(run_cli(*argv, cwd=tmp_path, timeout=60), expected)
    assert snapshot(tmp_path) == before


def test_explain_with_corrupt_event_log(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    _truncate(run / "events.parquet")
    before = snapshot(tmp_path)
    assert_bad_input(run_cli("explain", run, "0", cwd=tmp_path, timeout=60), "unreadable")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- catalog


def _small_run(cwd: Path, out: str, db: Path, env: dict | None = None):
    return run_cli("run", "national", "--agents", "500", "--days", "2", "--seed", "1",
                   "--out", out, "--db", db, cwd=cwd, env=env, timeout=120)


def _in_catalog(db: Path, run_dir: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = con.execute("SELECT run_id FROM runs WHERE run_dir = ?", [str(run_dir)]).fetchall()
        if not runs:
            return 0
        return con.execute("SELECT count(*) FROM daily WHERE run_id = ?", [runs[0][0]]
                           ).fetchone()[0]
    finally:
        con.close()


def test_corrupt_catalog_file(tmp_path):
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(np.random.default_rng(1).bytes(100_000))
    before = garbage.read_bytes()
    done = _small_run(tmp_path, "R", garbage)
    msg = assert_bad_input(done, "garbage.duckdb", "not a valid DuckDB database file",
                           max_seconds=120)
    # the catalog row is part of the commit: the finished run waits in R.partial
    assert "not committed" in msg and "scslab run --resume R" in msg and "--db" in msg
    assert garbage.read_bytes() == before, "the corrupt catalog was modified"
    assert not list(tmp_path.glob("garbage.duckdb.*")), "a WAL file was left beside it"
    assert not (tmp_path / "R").exists() and (tmp_path / "R.partial").is_dir()
    assert_bad_input(run_cli("catalog", "query", "SELECT 1", "--db", garbage, cwd=tmp_path),
                     "not a valid DuckDB database file")
    good = tmp_path / "good.duckdb"
    done = run_cli("run", "--resume", "R", "--db", good, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "R" / "summary.json").read_text())
    assert summary["completed"] is True and not (tmp_path / "R.partial").exists()
    assert _in_catalog(good, Path("R")) == 2
    assert garbage.read_bytes() == before


HOLD_LOCK = """
import sys, time, duckdb
c = duckdb.connect(sys.argv[1])
c.execute("create table if not exists t(a int)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_catalog_locked_past_the_bounded_retry(tmp_path):
    db = tmp_path / "x.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), "60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        done = _small_run(tmp_path, "R", db, env={"SCSLAB_CATALOG_LOCK_TIMEOUT": "3"})
        msg = assert_bad_input(done, "x.duckdb", "locked by another process for more than 3 s",
                               max_seconds=120)
        assert "not committed" in msg and "scslab run --resume R" in msg
        # the run itself takes a few seconds; the wait for the lock is bounded by ~3 s
        assert time.monotonic() - t0 >= 3
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "R").exists()
    done = run_cli("run", "--resume", "R", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "R" / "summary.json").read_text())
    assert summary["completed"] is True and (tmp_path / "R" / "daily.parquet").exists()
    assert _in_catalog(db, Path("R")) == 2


def test_catalog_lock_timeout_env_must_be_a_number(finished_run, tmp_path):
    done = run_cli("catalog", "add", finished_run, "--db", tmp_path / "x.duckdb",
                   env={"SCSLAB_CATALOG_LOCK_TIMEOUT": "soon"}, cwd=tmp_path)
    assert_bad_input(done, "SCSLAB_CATALOG_LOCK_TIMEOUT='soon': expected a number of seconds")
    assert not (tmp_path / "x.duckdb").exists()
    from scslab.catalog import lock_timeout
    from scslab.errors import ScslabError

    os.environ["SCSLAB_CATALOG_LOCK_TIMEOUT"] = "soon"
    try:
        with pytest.raises(ScslabError, match="SCSLAB_CATALOG_LOCK_TIMEOUT"):
            lock_timeout()
        os.environ["SCSLAB_CATALOG_LOCK_TIMEOUT"] = "2.5"
        assert lock_timeout() == 2.5
    finally:
        del os.environ["SCSLAB_CATALOG_LOCK_TIMEOUT"]
    assert lock_timeout() == 60.0
