"""STREAM-like triad ``a[i] = b[i] + s * c[i]``: the memory-bandwidth bound of this machine.

Two implementations over float64 arrays much larger than the caches:

- ``numba``: an ``@njit(parallel=True)`` ``prange`` loop, one pass, threads
  set with ``numba.set_num_threads``;
- ``numpy``: ``np.multiply(c, s, out=a); np.add(a, b, out=a)`` (no temporary,
  single-threaded, two passes: it moves 5 arrays' worth of data, not 3).

Each is timed ``repeats`` times and the best (shortest) time is kept, as STREAM
does. The Numba triad, whose figure sets the bound in ``run.py``, is measured in
``rounds`` such rounds and the median of the round bests is quoted, so that one
odd round does not move the bound. What a shared virtual machine delivers also
changes over hours (on 2026-11-23 this one measured 42-47 GB/s for most of the
day and 80-83 GB/s later): compare a throughput only with the bandwidth measured
in the same run. Rates are quoted in GB/s = 10^9 bytes/s under two conventions:
``gb_per_s`` counts 3 arrays × 8 bytes per element (STREAM's convention: read
b, read c, write a); ``gb_per_s_write_allocate`` counts 4 × 8 bytes (the store
to ``a`` also reads its cache line first, unless the CPU uses streaming stores).

Run ``python benchmarks/bandwidth.py --threads 1 2`` for JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numba
import numpy as np
from numba import njit, prange

DEFAULT_N_ELEMENTS = 2**26  # per array: 3 arrays × 2^26 × 8 B = 1.5 GiB
SCALAR = 3.0
BYTES_STREAM = 24  # per element: read b, read c, write a
BYTES_WRITE_ALLOCATE = 32  # plus reading a's cache line before the store


@njit(parallel=True, cache=False)
def _fill(x: np.ndarray, value: float) -> None:
    """Fill ``x`` in parallel, so each thread first-touches the pages it will use."""
    for i in prange(x.shape[0]):
        x[i] = value


@njit(parallel=True, cache=False)
def _triad_numba(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float) -> None:
    """a[i] = b[i] + s * c[i], one parallel pass."""
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def _triad_numpy(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float) -> None:
    """a = b + s * c with NumPy ufuncs and no temporary array."""
    np.multiply(c, s, out=a)
    np.add(a, b, out=a)


def _best_seconds(fn: Any, args: tuple[Any, ...], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn(*args)``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def _rates(n_elements: int, seconds: float) -> dict[str, float]:
    """Best time and GB/s under both byte-counting conventions."""
    return {
        "best_seconds": seconds,
        "gb_per_s": BYTES_STREAM * n_elements / seconds / 1e9,
        "gb_per_s_write_allocate": BYTES_WRITE_ALLOCATE * n_elements / seconds / 1e9,
    }


def measure_bandwidth(
    n_elements: int = DEFAULT_N_ELEMENTS,
    repeats: int = 5,
    threads: int | None = None,
    rounds: int = 3,
) -> dict[str, Any]:
    """Measure triad bandwidth with Numba (parallel) and NumPy (single-threaded).

    Args:
        n_elements: elements per array (three float64 arrays are allocated).
            The default, 2^26, makes 1.5 GiB in all; shrink it for quick checks
            (the figure is then a cache bandwidth, not a memory bandwidth).
        repeats: timed repetitions per round; the best is kept.
        rounds: rounds of the Numba triad; the median of their bests is quoted.
        threads: Numba threads for this measurement (restored afterwards);
            ``None`` keeps Numba's current setting.

    Returns:
        ``method``, ``n_elements``, ``total_bytes`` (of the three arrays),
        ``repeats``, ``threads``, ``bytes_per_element`` (both conventions) and,
        under ``numba`` and ``numpy``: ``best_seconds`` (for ``numba``, the median of
        the rounds' bests), ``gb_per_s`` (24 B per element) and
        ``gb_per_s_write_allocate`` (32 B per element); ``rounds`` and
        ``numba_round_gb_per_s`` (each round's best).
    """
    if n_elements < 1 or repeats < 1 or rounds < 1:
        raise ValueError("n_elements, repeats and rounds must be positive")
    previous_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        used_threads = numba.get_num_threads()
        # Compile on tiny arrays so that compilation is never timed.
        tiny = np.empty(4)
        _fill(tiny, 1.0)
        _triad_numba(tiny, tiny, tiny, SCALAR)

        a = np.empty(n_elements)
        b = np.empty(n_elements)
        c = np.empty(n_elements)
        _fill(a, 0.0)
        _fill(b, 1.0)
        _fill(c, 2.0)

        round_bests = [_best_seconds(_triad_numba, (a, b, c, SCALAR), repeats)
                       for _ in range(rounds)]
        numba_s = float(np.median(round_bests))
        if not (a[0] == a[-1] == 1.0 + SCALAR * 2.0):
            raise RuntimeError("numba triad gave a wrong result")
        _fill(a, 0.0)
        numpy_s = _best_seconds(_triad_numpy, (a, b, c, SCALAR), repeats)
        if not (a[0] == a[-1] == 1.0 + SCALAR * 2.0):
            raise RuntimeError("numpy triad gave a wrong result")
    finally:
        numba.set_num_threads(previous_threads)

    return {
        "method": (
            "STREAM-like triad a[i] = b[i] + s*c[i] over float64 arrays; best of "
            f"{repeats}; numba: @njit(parallel=True) prange loop on {used_threads} "
            f"thread(s), median of {rounds} rounds' bests; numpy: np.multiply(c, s, out=a); np.add(a, b, out=a), "
            "single-threaded, two passes (bytes still counted as one triad); "
            "GB = 1e9 bytes"
        ),
        "n_elements": n_elements,
        "total_bytes": 3 * 8 * n_elements,
        "repeats": repeats,
        "rounds": rounds,
        "numba_round_gb_per_s": [BYTES_STREAM * n_elements / t / 1e9 for t in round_bests],
        "threads": used_threads,
        "bytes_per_element": {"stream": BYTES_STREAM, "write_allocate": BYTES_WRITE_ALLOCATE},
        "numba": _rates(n_elements, numba_s),
        "numpy": _rates(n_elements, numpy_s),
        "numba_version": numba.__version__,
        "numpy_version": np.__version__,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: measure for each requested thread count and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-elements", type=int, default=DEFAULT_N_ELEMENTS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, nargs="*", default=None, help="thread counts (default: Numba's)"
    )
    args = parser.parse_args(argv)
    counts: list[int | None] = list(args.threads) if args.threads else [None]
    results = [measure_bandwidth(args.n_elements, args.repeats, t) for t in counts]
    print(json.dumps(results if len(results) > 1 else results[0], indent=2))


if __name__ == "__main__":
    main()
