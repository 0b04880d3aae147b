"""The package passes mypy and the whole tree passes ruff (configured in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]' brings it)")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_mypy_passes_on_the_package() -> None:
    r = _run("mypy", "src/scslab")
    assert r.returncode == 0, f"mypy found errors:\n{r.stdout}{r.stderr}"


def test_ruff_passes_on_the_tree() -> None:
    r = _run("ruff", "check", "src", "tests", "benchmarks", "scripts")
    assert r.returncode == 0, f"ruff found problems:\n{r.stdout}{r.stderr}"
