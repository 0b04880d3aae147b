"""Resource guard (issue "Nothing lost", part 2).

Before allocating anything, ``scslab run`` estimates memory (runtime + bytes per
agent × agents, ties included, + the event log) and disk; a run that will not fit
exits 2 with the estimate and what is available, unless ``--force``. ``scslab
validate`` prints the estimate too. The estimate is checked against the measured
peak resident memory (``peak_memory_bytes`` in summary.json, the process's
``ru_maxrss``) at two sizes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from robust_helpers import assert_bad_input, cli_cmd, cli_env, run_cli, snapshot

from scslab import resources
from scslab.errors import ResourceError
from scslab.resources import check_fits, estimate
from scslab.scenario import load_scenario

TOLERANCE = 0.25


def test_two_billion_agents_is_refused_quickly(tmp_path):
    before = snapshot(tmp_path)
    done = run_cli("run", "national", "--agents", "2000000000", "--out", tmp_path / "R",
                   "--db", tmp_path / "c.duckdb", cwd=tmp_path)
    msg = assert_bad_input(done, "2,000,000,000 agents need about", "GiB is available",
                           "--force")
    need, avail = (float(x) for x in re.findall(r"([\d.,]+) GiB", msg)[:2])
    est = estimate(load_scenario("national", {"population.agents": 2_000_000_000}))
    assert need == pytest.approx(est["memory_bytes"] / 2**30, rel=0.01)
    assert avail == pytest.approx(psutil.virtual_memory().available / 2**30, rel=0.5)
    assert snapshot(tmp_path) == before, "nothing may be written for a run that won't fit"


def test_validate_prints_the_estimate():
    done = run_cli("validate", "national", "--agents", "2000000000")
    assert done.returncode == 0, done.stderr
    est = estimate(load_scenario("national", {"population.agents": 2_000_000_000}))
    m = re.search(r"estimated memory ([\d,.]+) MiB", done.stdout)
    assert m, done.stdout
    assert float(m.group(1).replace(",", "")) == pytest.approx(est["memory_bytes"] / 2**20,
                                                               rel=0.001)
    assert "disk" in done.stdout


def test_force_skips_the_guard(tmp_path):
    sc = load_scenario("national", {"population.agents": 2_000_000_000})
    with pytest.raises(ResourceError, match="pass --force"):
        check_fits(sc, tmp_path)
    est = check_fits(sc, tmp_path, force=True)
    assert est["memory_bytes"] > psutil.virtual_memory().available


def test_disk_guard(tmp_path, monkeypatch):
    import shutil as _shutil

    sc = load_scenario("national", {"population.agents": 1000, "days": 10})
    usage = _shutil.disk_usage(tmp_path)
    monkeypatch.setattr("scslab.resources.shutil.disk_usage",
                        lambda p: usage._replace(free=10))
    with pytest.raises(ResourceError, match="MiB is free"):
        check_fits(sc, tmp_path / "not" / "yet")
    assert check_fits(sc, tmp_path, force=True)["disk_bytes"] > 10


def test_the_cli_accepts_force():
    done = run_cli("run", "--help")
    assert "--force" in done.stdout


def _measured(tmp: Path, agents: int, days: int) -> tuple[int, int]:
    """(peak RSS of the day loop from summary.json, peak RSS of the whole process)."""
    out = tmp / f"run{agents}"
    cmd = [str(c) for c in cli_cmd("run", "national", "--agents", agents, "--days", days,
                                   "--no-catalog", "--out", out)]
    # On Linux a child's ru_maxrss starts at its parent's size (it survives fork and
    # exec), and pytest is large by now: a small launcher process starts the run and
    # reports the run's own peak.
    launcher = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], "
                "stdout=subprocess.DEVNULL); _, st, ru = os.wait4(p.pid, 0); "
                "print(ru.ru_maxrss); sys.exit(os.waitstatus_to_exitcode(st))")
    proc = subprocess.run([sys.executable, "-c", launcher, *cmd], env=cli_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    return int(summary["peak_memory_bytes"]), int(proc.stdout.split()[-1]) * 1024


@pytest.fixture(scope="module")
def compiled_kernels(tmp_path_factory) -> None:
    """Run once small first: the first run after a change compiles the Numba kernels
    (and caches them), which costs a few hundred MiB more than any later run; the
    estimate is for a run with the kernels compiled."""
    done = run_cli("run", "national", "--agents", 2000, "--days", 3, "--no-catalog",
                   "--out", tmp_path_factory.mktemp("warm") / "r", timeout=600)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("agents", [300_000, 1_500_000])
def test_estimate_within_25_percent_of_measured_peak(compiled_kernels, tmp_path, agents):
    days = 20
    t0 = time.monotonic()
    peak_loop, peak_process = _measured(tmp_path, agents, days)
    est = estimate(load_scenario("national", {"population.agents": agents, "days": days}))
    mem = est["memory_bytes"]
    for what, peak in (("peak_memory_bytes (day loop)", peak_loop),
                       ("peak of the whole process", peak_process)):
        assert abs(mem - peak) <= TOLERANCE * peak, (
            f"{agents:,} agents: estimate {mem / 2**20:.0f} MiB vs {what} "
            f"{peak / 2**20:.0f} MiB ({mem / peak - 1:+.0%}) after {time.monotonic() - t0:.0f} s")
    # the outputs it wrote fit in the disk estimate
    written = sum(p.stat().st_size for p in (tmp_path / f"run{agents}").iterdir())
    assert written <= est["disk_bytes"]


def test_per_agent_terms_follow_the_state_and_the_group_index():
    """The estimate's per-agent state is the State's, and the group index counts when built."""
    from scslab.population import build_world
    from scslab.scenario.loader import load_scenario
    from scslab.state import State

    sc = load_scenario("national", {"population.agents": 2000})
    world = build_world(sc)
    assert State.initial(world, 1000.0).nbytes_agents() == resources.STATE_BYTES * world.n
    assert world.group_members.nbytes == resources.GROUP_INDEX_BYTES * world.n
    off = load_scenario(sc, {f"sensors.{k}.same_group_preference": 0.0
                             for k, s in sc.sensors.items() if hasattr(s, "false_match_rate")
                             and "same_group_preference" in type(s).model_fields})
    assert build_world(off).group_members.size == 0
    assert (resources.estimate(sc)["bytes_per_agent"]
            - resources.estimate(off)["bytes_per_agent"]) == resources.GROUP_INDEX_BYTES
