"""Fixtures for sweep tests: a small sweep definition, a LocalCluster, a real scheduler."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

# the modules, even if ``scslab`` re-exports functions named sweep / sensitivity
sw = importlib.import_module("scslab.sweep")
sa = importlib.import_module("scslab.sensitivity")

AGENTS = 2000
DAYS = 20
GRID = {"governance.appeals.enabled": [True, False],
        "sensors.cameras.false_match_rate": [0.001, 0.05]}
REPLICATES = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited early with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"dask scheduler did not listen on port {port}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


@pytest.fixture(scope="session")
def local_client():
    """A real LocalCluster with 2 worker processes (1 thread each)."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="session")
def scheduler_address(tmp_path_factory):
    """A `dask scheduler` and one `dask worker` started as subprocesses on 127.0.0.1."""
    pytest.importorskip("distributed")
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    env = dict(os.environ)
    sched_log = open(logs / "scheduler.log", "w")
    worker_log = open(logs / "worker.log", "w")
    sched = subprocess.Popen([*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port",
                              str(port), "--no-dashboard"], stdout=sched_log,
                             stderr=subprocess.STDOUT, env=env)
    worker = None
    try:
        _wait_port(port, sched)
        address = f"tcp://127.0.0.1:{port}"
        worker = subprocess.Popen([*_dask_cli(), "worker", address, "--nworkers", "1",
                                   "--nthreads", "1", "--host", "127.0.0.1",
                                   "--no-dashboard", "--local-directory", str(logs)],
                                  stdout=worker_log, stderr=subprocess.STDOUT, env=env)
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
        yield address
    finally:
        if worker is not None:
            _stop(worker)
        _stop(sched)
        sched_log.close()
        worker_log.close()
