"""The event log: a sparse audit trail per agent (never one row per agent-day).

All agents are logged in small runs; in large runs a fixed hash-based sample of
agents is (``output.event_log``). ``scslab explain`` reads it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit, prange

from scslab.events import EventBuffer, Events
from scslab.rng import agent_hash, u_hi

EVENT_SCHEMA = pa.schema([
    ("day", pa.int32()), ("agent", pa.int64()), ("kind", pa.uint8()), ("code", pa.uint8()),
    ("other", pa.int64()), ("sensor", pa.int8()), ("value", pa.float32()),
])
INTERNAL_KINDS = (100,)

#: The random stream that picks the logged sample (keyed by the seed only).
STREAM = "eventlog"


@njit(parallel=True, cache=True)
def logged_mask(log_key, log_frac, agents):
    """Which of ``agents`` are in the logged sample: a fixed hash of each agent's id.

    The same agents are logged every day and whatever the number of threads.
    """
    out = np.empty(agents.size, np.bool_)
    for j in prange(agents.size):
        if log_frac >= 1.0:
            out[j] = True
        elif log_frac <= 0.0:
            out[j] = False
        else:
            out[j] = u_hi(agent_hash(log_key, agents[j], 0)) < log_frac
    return out


class EventLogCollector:
    """Collects the day's logged events from the stages, in a fixed order."""

    def __init__(self, log_key, log_frac: float):
        """Log the fraction ``log_frac`` of agents chosen by hashing with ``log_key``."""
        self.log_key = log_key
        self.log_frac = log_frac
        self.parts: list[dict[str, np.ndarray]] = []
        self.rows = 0

    @property
    def enabled(self) -> bool:
        """Whether anything is logged at all."""
        return self.log_frac > 0

    def flat_buffer(self, cap: int) -> Events:
        """Arrays for a kernel to write up to ``cap`` events into, and a one-element count.

        A disabled log gets buffers of one element: the kernels still take them.
        """
        cap = max(int(cap), 1) if self.enabled else 1
        return Events(np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.uint8),
                      np.empty(cap, np.uint8), np.empty(cap, np.int8), np.empty(cap, np.float32),
                      np.zeros(1, np.int64))

    def _add(self, day: int, cols: dict[str, np.ndarray]) -> None:
        n = cols["agent"].size
        if n == 0:
            return
        cols = {k: np.ascontiguousarray(v) for k, v in cols.items()}
        cols["day"] = np.full(n, day, np.int32)
        self.parts.append(cols)
        self.rows += n

    def take_flat(self, day: int, lg: Events) -> None:
        """Keep the events a kernel wrote into a ``flat_buffer`` on ``day``."""
        if not self.enabled:
            return
        n = int(lg[6][0])
        names = ("agent", "other", "kind", "code", "sensor", "value")
        self._add(day, {k: a[:n].copy() for k, a in zip(names, lg[:6], strict=True)})

    def take_buffer(self, day: int, buf: EventBuffer, logged_only: bool) -> None:
        """Keep the events of ``buf`` on ``day``, internal kinds left out.

        ``logged_only``: keep only the events of agents in the logged sample (for a
        buffer that holds every agent's events).
        """
        if not self.enabled or buf.total() == 0:
            return
        f = buf.flat()
        keep = ~np.isin(f["kind"], INTERNAL_KINDS)
        if logged_only:
            keep &= logged_mask(self.log_key, self.log_frac, f["agent"])
        self._add(day, {k: v[keep] for k, v in f.items()})

    def table(self) -> pa.Table:
        """The events kept so far as one table of ``EVENT_SCHEMA``, in the order kept."""
        if not self.parts:
            return EVENT_SCHEMA.empty_table()
        cols = {name: np.concatenate([p[name] for p in self.parts]) for name in EVENT_SCHEMA.names}
        return pa.table({n: pa.array(cols[n], type=EVENT_SCHEMA.field(n).type)
                         for n in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)

    def drain(self) -> pa.Table:
        """The events kept so far, which are then dropped (for writing in parts)."""
        t = self.table()
        self.parts = []
        return t
