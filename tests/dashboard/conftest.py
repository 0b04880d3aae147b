"""Fixtures for the dashboard tests: a headless Chromium and a running `scslab serve`.

Browser tests use Debian's ``chromium`` driven by Playwright. When it is missing the
session tries ``apt-get install -y chromium`` (as root); if that is impossible the
browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"


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
