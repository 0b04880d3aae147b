"""Counter-based random numbers (DESIGN.md §4).

Every draw is a pure function of ``(seed, stream, day, agent, k)``: no generator
state is carried between days, threads or shards, so results do not depend on
the number of threads and two scenarios run with the same seed share their
random numbers (common random numbers).

The core is the SplitMix64 finaliser, a bijective 64-bit mixer with full
avalanche. One hash yields two 32-bit uniforms (``hi`` and ``lo`` halves).
"""

from __future__ import annotations

import zlib

import numpy as np
from numba import int64, njit, uint64

from scslab import _kernel_cache

# Every kernel module imports this one before defining its kernels, so the cache
# folder is set before Numba looks for it.
_kernel_cache.configure()

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV32 = 1.0 / 4294967296.0


@njit(inline="always", cache=True)
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective avalanche mix of a 64-bit word."""
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@njit(inline="always", cache=True)
def agent_hash(day_key: np.uint64, agent: int, k: int) -> np.uint64:
    """64 random bits for draw ``k`` of ``agent`` under a (seed, stream, day) key."""
    base = mix64(day_key ^ (uint64(agent) * uint64(0x9E3779B97F4A7C15)))
    return mix64(base + uint64(k) * uint64(0xD1B54A32D192ED03))


@njit(inline="always", cache=True)
def u_hi(h: np.uint64) -> float:
    """Uniform in [0, 1) from the high 32 bits of a hash."""
    return float(h >> uint64(32)) * 2.3283064365386963e-10


@njit(inline="always", cache=True)
def u_lo(h: np.uint64) -> float:
    """Uniform in [0, 1) from the low 32 bits of a hash."""
    return float(h & uint64(0xFFFFFFFF)) * 2.3283064365386963e-10


@njit(inline="always", cache=True)
def below(h: np.uint64, n: int) -> np.int64:
    """An integer uniform in [0, n) from the high 32 bits (Lemire's multiply-shift)."""
    return int64(((h >> uint64(32)) * uint64(n)) >> uint64(32))


def stream_id(name: str) -> int:
    """A stable 32-bit id for a named stream (independent of Python's hash seed)."""
    return zlib.crc32(name.encode("utf-8"))


def _mix64_py(z: int) -> int:
    mask = (1 << 64) - 1
    z &= mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def day_key(seed: int, stream: str, day: int) -> np.uint64:
    """The key that a stage's kernel combines with agent ids for one day."""
    k = _mix64_py(_mix64_py(int(seed) * 0x9E3779B97F4A7C15 + stream_id(stream)) + int(day))
    return np.uint64(k)


def stream_key(seed: int, stream: str) -> np.uint64:
    """A key for draws that do not depend on the day (population build)."""
    return day_key(seed, stream, -1 & 0xFFFFFFFF)


@njit(parallel=False, cache=True)
def uniforms(key: np.uint64, n: int, k: int) -> np.ndarray:
    """Vector of ``n`` uniforms, one per agent id ``0..n-1``, for draw ``k``."""
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = u_hi(agent_hash(key, i, k))
    return out


def spawn_seeds(seed: int, n: int) -> list[int]:
    """Replicate seeds derived from one seed with NumPy's seed spawning."""
    ss = np.random.SeedSequence(int(seed))
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in ss.spawn(n)]
