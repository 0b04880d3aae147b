"""Dask for sweeps: a local cluster or a running scheduler, and checks on its workers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from scslab.errors import ScslabError

__all__ = ["dashboard_link", "dask_client", "check_workers"]

SCHEDULER_TIMEOUT = "20s"  # how long to try to reach a --scheduler


def _worker_version() -> str:
    import scslab

    return scslab.__version__


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None,
                threads_per_worker: int = 1) -> Iterator[Any]:
    """A ``distributed.Client``: a new LocalCluster of ``workers`` processes, or ``scheduler``.

    Yields None when neither is given (run in-process).
    """
    if workers is not None and scheduler is not None:
        raise ScslabError("give either --workers (a local cluster) or --scheduler (a running "
                          "one), not both")
    if workers is None and scheduler is None:
        yield None
        return
    from scslab.extras import require

    require("distributed")
    from distributed import Client, LocalCluster
    if workers is not None:
        if workers < 1:
            raise ScslabError(f"--workers must be at least 1 (got {workers})")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        try:
            client = Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            # a busy machine makes workers slow to exit; the nanny's "killing" line is noise
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)
        return
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ScslabError(f"cannot reach the Dask scheduler at {scheduler} ({msg}); start one "
                          "with `dask scheduler` and pass the address it prints") from None
    try:
        yield client
    finally:
        client.close()


def check_workers(client: Any) -> int:
    """Number of worker threads now; raise if a worker runs another scslab version."""
    import scslab

    try:
        versions = client.run(_worker_version)
    except Exception as e:  # noqa: BLE001 - a worker without scslab
        raise ScslabError(f"a Dask worker cannot import scslab ({type(e).__name__}: {e}); "
                          "install the same scslab on every worker") from None
    bad = {w: v for w, v in versions.items() if v != scslab.__version__}
    if bad:
        w, v = next(iter(bad.items()))
        raise ScslabError(f"Dask worker {w} runs scslab {v}, this client {scslab.__version__}; "
                          "install the same version everywhere")
    return _cluster_threads(client)


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard's address, when the scheduler serves one."""
    try:
        if "dashboard" in client.scheduler_info().get("services", {}):
            return str(client.dashboard_link)
    except Exception:  # noqa: BLE001 - informational only
        pass
    return None


def _cluster_threads(client: Any) -> int:
    try:
        info = client.scheduler_info()
        return int(sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
    except Exception:  # noqa: BLE001 - only used to size the submission window
        return 0
