"""One run pipeline: run, compare and sweep give the same daily frame and commit the same way.

``scslab.pipeline.execute`` is what ``scslab run``, ``compare``, ``sweep``, sensitivity
and calibration run a scenario through; ``pipeline.write_run`` commits the run
directories of compare and sweep through ``rundir``'s writer, as ``scslab run`` does.
"""

from __future__ import annotations

import importlib
import json
import math
import shutil

import pandas as pd
import pytest

import scslab
from scslab import outcomes as O
from scslab.comparison import compare
from scslab.errors import RunDirError, ScslabError
from scslab.results import read_daily, read_summary

sw = importlib.import_module("scslab.sweep")

# au-headquarters has a start_date (so a date column) and sites abroad (optional outcomes)
PRESET = "au-headquarters"
KW = {"agents": 1200, "days": 5}


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """The same scenario and seed run by ``scslab.run``, ``compare`` and ``sweep``."""
    root = tmp_path_factory.mktemp("pipeline")
    res = sw.sweep(PRESET, None, replicates=1, seed=7, out=root / "sweep",
                   db=root / "c.duckdb", **KW)
    seed = res.plan.specs[0].seed
    run = scslab.run(PRESET, seed=seed, out=root / "run", report=False, **KW)
    cmp = compare([PRESET, "national"], seed=seed, out=root / "cmp", **KW)
    return root, run, cmp, res


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=True)


def test_daily_frames_are_the_runs_column_for_column(three):
    root, run, cmp, res = three
    key = res.plan.specs[0].key
    assert cmp.results[0].scenario.seed == run.scenario.seed == res.plan.specs[0].seed
    assert list(run.daily.columns[:2]) == ["day", "date"]
    assert run.daily["date"].iloc[0].isoformat() == run.scenario.start_date
    # in memory
    _same(res.daily[key], run.daily)
    _same(cmp.results[0].daily, run.daily)
    # on disk: daily.parquet as `scslab run` writes it
    on_disk = read_daily(root / "run")
    _same(read_daily(root / "sweep" / key), on_disk)
    _same(read_daily(root / "cmp" / f"{PRESET}-r0"), on_disk)


def test_a_run_dir_rewritten_from_the_catalog_keeps_its_date(three):
    root, run, _, res = three
    key = res.plan.specs[0].key
    shutil.rmtree(root / "sweep" / key)
    again = sw.sweep(PRESET, None, replicates=1, seed=7, out=root / "sweep",
                     db=root / "c.duckdb", **KW)
    assert again.skipped == [key] and not again.ran
    back = read_daily(root / "sweep" / key)
    assert list(back.columns) == list(run.daily.columns)
    pd.testing.assert_series_equal(back["date"], run.daily["date"], check_exact=True)
    pd.testing.assert_frame_equal(back, read_daily(root / "run"), check_exact=True,
                                  check_dtype=False)


def test_compare_and_sweep_commit_their_run_dirs(three):
    root, _, cmp, res = three
    dirs = [root / "sweep" / s.key for s in res.plan.specs] + [r.run_dir for r in cmp.results]
    for d in dirs:
        s = read_summary(d)
        assert s["completed"] is True
        assert "outputs_written" not in s and "will_complete" not in s
        assert not d.with_name(d.name + ".partial").exists()
        assert not d.with_name(f".{d.name}.lock").exists()
    leftovers = [p.name for p in (root / "sweep").iterdir() if p.name.endswith(".partial")]
    assert not leftovers


def test_sweep_table_reads_the_registry(three):
    _, _, cmp, res = three
    t = res.table
    spec = res.plan.specs[0]
    summary = read_summary(res.run_dir(spec.key))
    want = O.measure(res.daily[spec.key], summary)
    for o in O.for_run(summary):  # per-group fairness outcomes expanded to its groups
        if o.key == "chilling_effect":  # no counterfactual in this sweep: left out
            assert o.key not in t
            continue
        assert o.key in t, o.key  # abroad outcomes included: this scenario measures them
        got = t.loc[0, o.key]
        assert (math.isnan(got) and math.isnan(want[o.key])) or got == want[o.key], o.key
    assert "elapsed_seconds" in t and t.loc[0, "elapsed_seconds"] > 0
    assert t.loc[0, "abroad_visitors_total"] == res.daily[spec.key]["abroad_visitors"].sum()
    # compare always runs the counterfactual; national has no sites abroad, but this does
    assert "chilling_effect" in set(cmp.table["outcome"])
    assert "abroad_visitors_total" in set(cmp.table["outcome"])


def test_optional_outcomes_no_run_measured_are_left_out(tmp_path):
    res = sw.sweep("rm1", None, agents=200, days=2, chilling=True)
    assert not any(o.key in res.table for o in O.OUTCOMES if o.optional)
    assert res.table["chilling_effect"].notna().all()
    cmp = compare(["rm1", "rm1"], agents=200, days=2)
    assert not any(o.key in set(cmp.table["outcome"]) for o in O.OUTCOMES if o.optional)
    assert {"sanctioned_end", "disparate_impact_end"} <= set(cmp.table["outcome"])


def test_write_run_commits_like_a_run(tmp_path):
    from scslab.pipeline import execute, resolve, write_run
    from scslab.rundir import RunLock

    sc = resolve("rm1", agents=200, days=2)
    ran = execute(sc, run_id="r1")
    out = tmp_path / "r"
    # an unfinished run left by a kill is replaced, not mixed in
    (tmp_path / "r.partial").mkdir()
    (tmp_path / "r.partial" / "scenario.yaml").write_text("stale")
    (tmp_path / "r.partial" / "stale.txt").write_text("x")
    assert write_run(out, sc, ran.daily, ran.summary) == out
    assert sorted(p.name for p in out.iterdir()) == ["daily.parquet", "scenario.yaml",
                                                     "summary.json"]
    assert json.loads((out / "summary.json").read_text())["completed"] is True
    assert not (tmp_path / "r.partial").exists()
    # one writer per directory
    with RunLock(out), pytest.raises(RunDirError, match="in use"):
        write_run(out, sc, ran.daily, ran.summary)
    # a directory that is not a run is never written into
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a scslab run"):
        write_run(other, sc, ran.daily, ran.summary)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    # a catalog that cannot take the row: nothing is committed, nothing is left behind
    bad_db = tmp_path / "db-is-a-folder"
    bad_db.mkdir()
    with pytest.raises(ScslabError, match="is a directory") as exc:
        write_run(tmp_path / "n", sc, ran.daily, ran.summary, db=bad_db)
    assert "add it later" not in str(exc.value)  # there is no run directory to add
    assert not (tmp_path / "n").exists() and not (tmp_path / "n.partial").exists()


def test_execute_is_what_run_gives(tmp_path):
    from scslab.pipeline import execute, resolve

    sc = resolve("rm1", agents=300, days=3, seed=11)
    ran = execute(sc, run_id="x", chilling=True)
    r = scslab.run(sc, chilling=True)
    _same(ran.daily, r.daily)
    assert ran.summary["metrics"] == r.summary["metrics"]
    assert ran.summary["totals"] == r.summary["totals"]
    assert ran.summary["chilling"] == r.summary["chilling"]


def test_cli_sweep_table_columns_come_from_the_registry(three):
    from scslab.commands.sweep import _points_table

    res = three[3]
    t = _points_table(res)
    shown = [o for o in O.table_outcomes() if o.key in res.table]
    assert [c.header for c in t.columns] == ["point"] + [o.short for o in shown]
    assert "chilling" not in [c.header for c in t.columns]  # this sweep did not measure it
    assert t.caption == ("listed, wrongful, own-conduct, through others: agents at the end; "
                         "misattrib., denials: totals over the run")
