"""Determinism (DESIGN.md §4): same seed → byte-identical daily.parquet and identical
events.parquet, whatever the number of threads; re-running the written scenario.yaml
reproduces the run; another seed gives another run."""

from __future__ import annotations

import json
import os

import numba
import pyarrow.parquet as pq
import pytest

import scslab

#: Threads Numba may use here (the CLI's runs inherit the same environment).
NUMBA_THREADS = numba.config.NUMBA_NUM_THREADS
needs_two_threads = pytest.mark.skipif(NUMBA_THREADS < 2, reason=(
    f"Numba has {NUMBA_THREADS} thread(s) here (NUMBA_NUM_THREADS; os.cpu_count() = "
    f"{os.cpu_count()}): a --threads 2 run would run on 1 thread, like --threads 1"))

# Ten chunks of households (20,000 agents, chunk_target), so two threads really split the
# work; a scenario where every stage has something to do.
ARGS = ["national", "--agents", "20000", "--days", "8", "--no-catalog",
        "--set", "sensors.cameras.false_match_rate=0.3",
        "--set", "policy.lists.blacklist.enter_below=995",
        "--set", "policy.lists.blacklist.exit_at_or_above=999",
        "--set", "governance.appeals.enabled=true",
        "--set", "governance.appeals.review_delay_days=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tk):
    root = tmp_path_factory.mktemp("determinism")
    out = {}

    def go(name, *args, env=None):
        proc = tk.cli("run", *args, "--out", root / name, cwd=root, env=env)
        assert proc.returncode == 0, proc.stderr
        out[name] = root / name

    go("t1", *ARGS, "--seed", "5", "--threads", "1")
    if NUMBA_THREADS >= 2:
        go("t2", *ARGS, "--seed", "5", "--threads", "2")
    # the written scenario, re-run as a file, with Numba limited by the environment
    go("again", out["t1"] / "scenario.yaml", "--no-catalog", env={"NUMBA_NUM_THREADS": "1"})
    return out


def _bytes(path):
    return path.read_bytes()


def _provenance(run_dir):
    return json.loads((run_dir / "summary.json").read_text())["provenance"]


@needs_two_threads
def test_threads_1_and_2_byte_identical(runs):
    # the two runs really used 1 and 2 threads (else this compares a run with itself)
    assert _provenance(runs["t1"])["threads"] == 1
    assert _provenance(runs["t2"])["threads"] == 2
    assert _bytes(runs["t1"] / "daily.parquet") == _bytes(runs["t2"] / "daily.parquet")
    assert _bytes(runs["t1"] / "events.parquet") == _bytes(runs["t2"] / "events.parquet")
    assert _bytes(runs["t1"] / "scenario.yaml") == _bytes(runs["t2"] / "scenario.yaml")


def test_rerunning_scenario_yaml_reproduces_the_run(runs):
    assert _provenance(runs["again"])["threads"] == 1  # NUMBA_NUM_THREADS=1 was obeyed
    assert _bytes(runs["t1"] / "daily.parquet") == _bytes(runs["again"] / "daily.parquet")
    assert _bytes(runs["t1"] / "events.parquet") == _bytes(runs["again"] / "events.parquet")
    assert _bytes(runs["t1"] / "scenario.yaml") == _bytes(runs["again"] / "scenario.yaml")


@needs_two_threads
def test_threads_recorded_in_provenance(runs):
    s1 = json.loads((runs["t1"] / "summary.json").read_text())
    s2 = json.loads((runs["t2"] / "summary.json").read_text())
    assert s1["provenance"]["threads"] == 1 and s2["provenance"]["threads"] == 2
    assert s1["provenance"]["scenario_hash"] == s2["provenance"]["scenario_hash"]
    assert s1["metrics"] == s2["metrics"] and s1["totals"] == s2["totals"]


def test_different_seed_different_run(tmp_path):
    kw = {"agents": 3000, "days": 8}
    a = scslab.run("national", seed=5, out=tmp_path / "a", **kw)
    b = scslab.run("national", seed=6, out=tmp_path / "b", **kw)
    assert list(a.daily.columns) == list(b.daily.columns)
    assert not a.daily.equals(b.daily)
    assert (a.daily.observed_events != b.daily.observed_events).any()
    assert _bytes(tmp_path / "a" / "daily.parquet") != _bytes(tmp_path / "b" / "daily.parquet")


def test_the_run_is_not_trivial(runs):
    d = pq.read_table(runs["t1"] / "daily.parquet").to_pandas()
    assert d.listed.iloc[-1] > 100 and d.wrongful_listed.iloc[-1] > 0
    assert d.appeals_filed.sum() > 0 and d.misattributed_events.sum() > 0


def test_same_seed_in_process_byte_identical(tmp_path):
    kw = {"agents": 3000, "days": 10, "set": {"sensors.cameras.false_match_rate": 0.2}}
    a = scslab.run("transparent", out=tmp_path / "a", **kw)
    b = scslab.run("transparent", out=tmp_path / "b", **kw)
    assert a.daily.equals(b.daily)
    for f in ("daily.parquet", "events.parquet", "scenario.yaml"):
        assert _bytes(tmp_path / "a" / f) == _bytes(tmp_path / "b" / f), f
    assert a.summary["metrics"] == b.summary["metrics"] or all(
        (x == y) or (x != x and y != y)
        for x, y in zip(a.summary["metrics"].values(), b.summary["metrics"].values(),
                        strict=True))
