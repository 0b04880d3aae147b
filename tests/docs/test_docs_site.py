"""The documentation site builds with ``mkdocs build --strict`` (warnings are errors)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install mkdocs-material)")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    # Build a copy: the build's hook regenerates pages into the docs directory it builds.
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copytree(ROOT / "docs", work / "docs")
    (work / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "gen_reference.py", work / "scripts")
    shutil.copy2(ROOT / "mkdocs.yml", work)
    for name in ("README.md", "BENCHMARKS.md", "benchmarks/README.md"):
        if (ROOT / name).exists():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                        str(work / "mkdocs.yml"), "-d", str(site)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout}\n{r.stderr}"
    from scslab import preset_names

    for page in ["index.html", "reference/scenario.html", "reference/columns.html",
                 "reference/summary.html", "odd/index.html", "sweeps.html", "benchmarks.html",
                 "tutorials/01-first-run.html", *[f"odd/{p}.html" for p in preset_names()]]:
        assert (site / page).exists(), page
    assert "Input data" in (site / "odd" / "national.html").read_text(encoding="utf-8")
