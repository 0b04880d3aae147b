"""Where a result came from: versions, commit, scenario hash, threads, device."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

KEY_PACKAGES = ("numpy", "numba", "pydantic", "pyarrow", "duckdb", "pandas")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    """The commit of the scslab checkout, when it runs from one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def provenance(scenario_hash: str, threads: int | None, device: str = "cpu") -> dict:
    """What a run needs to be reproduced: versions, commit, platform, scenario hash."""
    from scslab import __version__

    return {
        "scslab": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in KEY_PACKAGES},
        "scenario_hash": scenario_hash,
        "threads": threads,
        "device": device,
    }
