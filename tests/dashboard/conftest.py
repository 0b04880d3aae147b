"""Fixtures for the dashboard tests: a running `scslab serve` (the headless Chromium,
``browser``, is shared by every browser test and lives in tests/conftest.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"scslab serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`scslab serve --port <free> --runs-dir <tmp>` as a subprocess; yields (url, runs, proc)."""
    pytest.importorskip("streamlit")
    runs = tmp_path_factory.mktemp("served-runs")
    port = free_port()
    log = open(runs.parent / f"serve-{port}.log", "w+")  # noqa: SIM115 - closed below
    # this interpreter's scslab, not whichever `scslab` PATH finds (another checkout's)
    cmd = [sys.executable, "-m", "scslab.cli"]
    proc = subprocess.Popen(cmd + ["serve", "--port", str(port), "--runs-dir", str(runs)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(f"{url}/_stcore/health", proc, 60)
    except Exception:
        proc.kill()
        log.seek(0)
        pytest.fail(f"dashboard did not start:\n{log.read()[-3000:]}")
    yield url, runs, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
