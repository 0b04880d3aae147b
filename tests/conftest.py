"""Shared helpers and session-scoped runs for the core test suite.

Runs are small (a few thousand agents, a few weeks) so the whole suite stays
fast on two cores; Numba's compiled kernels are cached on disk after the first
run. Statistical tolerances are derived from the sampling error (5 standard
errors, fixed seeds), never guessed.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scslab.scenario.schema import Sensors

#: Every sensor of the schema, for "set every identity-error rate to zero".
SENSOR_NAMES: tuple[str, ...] = tuple(Sensors.model_fields)

#: A national run where identity errors are frequent and a single misattributed act
#: is enough to list someone: wrongful listings must occur.
HIGH_FMR: dict = {
    "sensors.cameras.false_match_rate": 0.5,
    "policy.lists.blacklist.enter_below": 995,
    "policy.lists.blacklist.exit_at_or_above": 999,
    "policy.lists.blacklist.min_days": 0,
}

#: Appeals that are always filed, decided the same day and always upheld on wrong records.
INSTANT_APPEALS: dict = {
    "governance.appeals.enabled": True,
    "governance.appeals.filing_probability_known": 1.0,
    "governance.appeals.filing_probability_unknown": 1.0,
    "governance.appeals.review_delay_days": 0,
    "governance.appeals.success_if_wrong": 1.0,
    "governance.appeals.success_if_right": 0.0,
}


class Toolkit:
    """Helpers shared by the test modules, handed out by the ``tk`` fixture.

    (Test modules do not ``import conftest``: other folders of tests/ may have their
    own conftest.py, and the name would then be ambiguous.)
    """

    SENSOR_NAMES = SENSOR_NAMES
    HIGH_FMR = HIGH_FMR
    INSTANT_APPEALS = INSTANT_APPEALS

    @staticmethod
    def zero_identity_errors() -> dict:
        """Overrides that set the false-match rate of every sensor to zero.

        (Vehicle recognition: no misread plate and every vehicle registered to its driver.)
        """
        out = {f"sensors.{name}.false_match_rate": 0.0 for name in SENSOR_NAMES
               if name != "vehicles"}
        out["sensors.vehicles.plate_misread_rate"] = 0.0
        out["sensors.vehicles.owner_is_other_household_member"] = 0.0
        return out

    @staticmethod
    def binom_sd(n: float, p: float) -> float:
        """Standard deviation of a binomial count."""
        return math.sqrt(max(n * p * (1.0 - p), 0.0))

    @staticmethod
    def close(observed: float, expected: float, sd: float, what: str = "",
              k: float = 5.0) -> None:
        """Assert |observed − expected| < k·sd (k = 5 standard errors by default)."""
        assert sd > 0, f"{what}: a tolerance needs a positive standard error"
        assert abs(observed - expected) < k * sd, (
            f"{what}: observed {observed:.6g}, expected {expected:.6g} ± {k}·{sd:.4g}")

    @staticmethod
    def simulate(scenario, overrides: dict | None = None, days: int | None = None):
        """Build and run a ``Simulation`` (kept in memory: state, rows, event log)."""
        from scslab.engine import Simulation
        from scslab.scenario import load_scenario

        sim = Simulation(load_scenario(scenario, overrides or None)).build()
        sim.run(days)
        return sim

    @staticmethod
    def events(sim):
        """The run's event log so far, as a DataFrame."""
        return sim.log.table().to_pandas()

    @staticmethod
    def total(sim, column: str) -> int:
        """A daily count summed over the days run."""
        return sum(r[column] for r in sim.rows)

    @staticmethod
    def cli_env(extra: dict | None = None) -> dict:
        env = dict(os.environ)
        env.pop("SCSLAB_PROGRESS", None)
        env.pop("SCSLAB_DEBUG", None)
        env["COLUMNS"] = "200"
        if extra:
            env.update(extra)
        return env

    @classmethod
    def cli(cls, *args, cwd: Path | str | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``scslab ARGS…`` in a subprocess (as a user would), capturing its output."""
        return subprocess.run([sys.executable, "-m", "scslab.cli", *map(str, args)], cwd=cwd,
                              env=cls.cli_env(env), capture_output=True, text=True,
                              timeout=timeout)

    @staticmethod
    def bad_input(proc: subprocess.CompletedProcess, *needles: str) -> str:
        """Exit status 2, one line on stderr (containing ``needles``), no traceback."""
        assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
        err = proc.stderr.strip()
        assert len(err.splitlines()) == 1, err
        for n in needles:
            assert n in err, (n, err)
        return err


@pytest.fixture(scope="session")
def tk() -> type[Toolkit]:
    return Toolkit


# --------------------------------------------------------------------------- shared runs

@pytest.fixture(scope="session")
def national_cli_run(tmp_path_factory) -> dict:
    """``scslab run national`` once, end to end, with the agents table and a catalog."""
    root = tmp_path_factory.mktemp("national_cli")
    out = root / "run"
    db = root / "catalog.duckdb"
    proc = Toolkit.cli("run", "national", "--agents", "3000", "--days", "20", "--seed", "11",
                   "--out", out, "--db", db, "--save-agents", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return {"dir": out, "db": db, "root": root, "proc": proc, "agents": 3000, "days": 20,
            "seed": 11}


@pytest.fixture(scope="session")
def wrongful_run(tmp_path_factory):
    """A run (API, with a run directory) where identity errors list people wrongly.

    Spillover is off, so the only way the recorded and the true ledger differ is an
    act recorded on the wrong agent.
    """
    import scslab

    out = tmp_path_factory.mktemp("wrongful") / "run"
    sets = dict(HIGH_FMR)
    sets["policy.spillover.enabled"] = False
    return scslab.run("national", agents=3000, days=15, seed=5, set=sets, out=out,
                      save_agents=True)


# -- headless Chromium, for the browser tests (tests/dashboard, tests/report) ----------
#
# Browser tests use Debian's ``chromium`` driven by Playwright. When it is missing the
# session tries ``apt-get install -y chromium`` (as root); if that is impossible the
# browser tests are skipped with the reason.

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def _find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if name and Path(name).exists():
            return name
    return None


def _install_chromium() -> str:
    """Install Debian's chromium; returns why not when it cannot be done."""
    if shutil.which("apt-get") is None:
        return "chromium is not installed and apt-get is not available"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "chromium is not installed and installing it needs root (apt-get install chromium)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"apt-get install chromium failed: {e}"
    if r.returncode != 0:
        return f"apt-get install chromium failed: {r.stderr.strip().splitlines()[-1:]}"
    return ""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _find_chromium()
    if path is None:
        why = _install_chromium()
        path = _find_chromium()
        if path is None:
            pytest.skip(f"headless Chromium unavailable: {why or 'not found after install'}")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless Chromium (Playwright, Debian's binary)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        except Exception as e:  # noqa: BLE001 - report why, then skip
            pytest.skip(f"cannot launch {chromium_path}: {str(e).splitlines()[0]}")
        yield b
        b.close()
