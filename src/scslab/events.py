"""The event schema and the per-chunk event buffers.

The event schema: event kinds (``EV_*``), their codes and names, and the per-chunk event buffers
through which parallel kernels hand rare events to the next step.

The population is cut into chunks of whole households. Each chunk owns one row
of every buffer, so kernels running in parallel never write to the same place,
and events come out in agent order whatever the number of threads. A kernel that
fills its row stops and records where (``pos``); the driver grows the buffer and
calls it again, and the chunk carries on from there: every agent is processed
exactly once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Event kinds (the event log's ``kind`` column).
EV_ACT = 1  # an observed act recorded on ``agent`` (other = actor)
EV_ACT_ELSEWHERE = 2  # an act by ``agent`` recorded on someone else (other = target)
EV_REVERSED = 3  # a misattributed act caught by evidence review (other = wrongly matched agent)
EV_LIST_ENTER = 4  # code = list id (+8 for the twin ledger)
EV_LIST_EXIT = 5  # code as EV_LIST_ENTER, sensor = exit reason (EXIT_*)
EV_DENIAL = 6  # code = sanction kind, sensor = reason (0 own, 1 household, 2 employer)
EV_EXPOSURE_START = 7  # code = channel (0 household, 1 ties, 2 employer, 3 representative)
EV_EXPOSURE_END = 8
EV_TIE_LISTED = 9  # other = the tie whose listing status changed, value = +1/-1
EV_APPEAL_FILED = 10
EV_APPEAL_DECIDED = 11  # value = 1 success, 0 rejected
EV_EXPIRED = 12
EV_CREDIT_REPAIR = 13  # value = points
EV_REWARD = 14
EV_COURT_FULFILLED = 15

# Why an agent left a list: the ``sensor`` field of list_exit events (-1: not recorded,
# as in logs written before scslab recorded it). Decoded by ``scslab.eventlog``.
EXIT_SCORE = 1  # the ledger's score crossed the list's exit threshold
EXIT_TERM = 2  # the court order's term ran out
EXIT_FULFILLED = 3  # the court obligation was fulfilled before the term
EXIT_APPEAL = 4  # an appeal found the record wrong and corrected it
EXIT_LENIENCY = 5  # an appeal was upheld although the record was right

LIST_NAMES = {0: "blacklist", 1: "court list", 2: "redlist"}
CHANNEL_NAMES = {0: "household", 1: "ties", 2: "employer", 3: "legal representative"}
REASON_NAMES = {0: "own listing", 1: "household member listed", 2: "business listed",
                3: "own listing, itself through others"}


class Events(NamedTuple):
    """An event buffer's arrays as kernels take them.

    One row per chunk (2-D fields, a count per chunk) or one flat row (1-D fields, a one-
    element count).
    """

    agent: np.ndarray
    other: np.ndarray
    kind: np.ndarray
    code: np.ndarray
    sensor: np.ndarray
    value: np.ndarray
    count: np.ndarray  # type: ignore[assignment]  # shadows tuple.count, as EventBuffer.count


class EventBuffer:
    """A struct of 2-D arrays, one row per chunk; see the module docstring."""

    FIELDS = (("agent", np.int64), ("other", np.int64), ("kind", np.uint8),
              ("code", np.uint8), ("sensor", np.int8), ("value", np.float32))
    # One (n_chunks, cap) array per field, made by ``__init__`` from FIELDS.
    agent: np.ndarray
    other: np.ndarray
    kind: np.ndarray
    code: np.ndarray
    sensor: np.ndarray
    value: np.ndarray

    def __init__(self, n_chunks: int, cap: int):
        """Zeroed rows of ``cap`` events (at least 8) for each of ``n_chunks`` chunks."""
        self.n_chunks = n_chunks
        self.cap = max(int(cap), 8)
        for name, dt in self.FIELDS:
            setattr(self, name, np.zeros((n_chunks, self.cap), dtype=dt))
        self.count = np.zeros(n_chunks, dtype=np.int64)

    def rows(self) -> Events:
        """The field arrays and ``count``, as the kernels take them."""
        return Events(self.agent, self.other, self.kind, self.code, self.sensor, self.value,
                      self.count)

    def reset(self) -> None:
        """Empty every row (the arrays are reused, not cleared)."""
        self.count[:] = 0

    def grow(self) -> None:
        """Double the capacity of every row, keeping the events already written."""
        new = self.cap * 2
        for name, dt in self.FIELDS:
            old = getattr(self, name)
            arr = np.zeros((self.n_chunks, new), dtype=dt)
            arr[:, : self.cap] = old
            setattr(self, name, arr)
        self.cap = new

    def total(self) -> int:
        """The number of events in all rows."""
        return int(self.count.sum())

    def flat(self) -> dict[str, np.ndarray]:
        """All events in chunk order (agent order within a chunk)."""
        mask = np.arange(self.cap)[None, :] < self.count[:, None]
        return {name: getattr(self, name)[mask] for name, _ in self.FIELDS}


def run_chunked(kernel, args: tuple, starts: np.ndarray, ends: np.ndarray,
                buf: EventBuffer, reset: bool = True, call=None) -> None:
    """Call ``kernel(*args, pos, ends, buf.rows())`` until every chunk is done.

    With ``call`` (``Context.call``), as ``call(kernel, *args, pos, ends, buf.rows())``.
    """
    if reset:
        buf.reset()
    pos = starts.copy()
    while True:
        if call is None:
            kernel(*args, pos, ends, buf.rows())
        else:
            call(kernel, *args, pos, ends, buf.rows())
        if np.all(pos >= ends):
            return
        buf.grow()
