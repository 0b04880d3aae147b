"""The plan of one simulated day: which stages run, in which order, and what each declares.

Each stage module declares itself in a ``SPEC`` (``scslab.stages.common.StageSpec``):
its name, a one-line doc, the random streams it draws from, its Numba kernels, the
per-chunk scratch they need, the counter columns it writes and the state bits it
reads and writes. ``SCHEDULE`` is the day's calls in order, each charged to one
stage's timer; ``PLAN`` is the stages in the order of their first call. The engine
(``scslab.engine.Simulation``) runs ``SCHEDULE`` and knows nothing else about the
stages: a run of calls that are parts of the settle pass (``Call.settle``) is fused
into one pass (timed as ``"settle"``), or run one part per pass and timed per stage
when profiling.

Reading the plan::

    from scslab.plan import PLAN, table
    [s.name for s in PLAN]       # the stages in day order
    table()[0]["streams"]        # ('behaviour', 'awareness')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scslab.stages import (
    abroad,
    behaviour,
    due_process,
    listing,
    metrics,
    sanctions,
    scoring,
    sensing,
    settle,
    spillover,
)
from scslab.stages.common import Call, Scratch, StageSpec, Work

SETTLE = StageSpec(
    name="settle",
    doc="The fused per-agent pass: exposure, score, lists, sanctions, due process, tallies.",
    kernels=(settle.settle_kernel, settle.settle_chunk),
    scratch=settle.SCRATCH,
    counters=("C_QUIET",),
)
"""The settle pass itself (not a stage: the timer of the fused pass)."""

SCHEDULE: tuple[Call, ...] = (
    Call("behaviour", behaviour.act),
    Call("sensing", sensing.sense),
    Call("scoring", scoring.credit),
    Call("abroad", abroad.observe),
    Call("spillover", settle=settle.ST_EXPOSURE, agent=spillover.update_exposure),
    Call("scoring", settle=settle.ST_SCORING, agent=scoring.score_agent),
    Call("listing", settle=settle.ST_LISTING, agent=listing.list_agent),
    Call("sanctions", settle=settle.ST_SANCTIONS, agent=sanctions.sanction_agent),
    Call("due_process", settle=settle.ST_DUE_PROCESS, agent=due_process.due_process_agent),
    Call("metrics", settle=settle.ST_METRICS, agent=metrics.accumulate),
    Call("spillover", spillover.spread),
    Call("metrics", metrics.report),
)
"""The day's calls, in order."""

_SPECS = {s.name: s for s in (behaviour.SPEC, sensing.SPEC, scoring.SPEC, abroad.SPEC,
                               spillover.SPEC, listing.SPEC, sanctions.SPEC,
                               due_process.SPEC, metrics.SPEC)}
PLAN: tuple[StageSpec, ...] = tuple(_SPECS[name] for name in
                                    dict.fromkeys(c.stage for c in SCHEDULE))
"""The stages in day order (the order of their first call)."""

STAGES: tuple[str, ...] = tuple(s.name for s in PLAN)
"""The stages' names in day order: the timers of ``Simulation.stage_seconds``."""

SCRATCH: tuple[Scratch, ...] = tuple(x for s in (*PLAN, SETTLE) for x in s.scratch)
"""Every per-chunk scratch array of the day (the fields of ``Work`` after cnt, off)."""

if tuple(x.name for x in SCRATCH) != Work._fields[2:]:  # pragma: no cover - a wiring bug
    raise RuntimeError(f"Work fields {Work._fields[2:]} != the plan's scratch {SCRATCH}")

if sum(c.settle for c in SCHEDULE) != settle.ST_ALL:  # pragma: no cover - a wiring bug
    raise RuntimeError("the schedule must hold every part of the settle pass once")


@dataclass(frozen=True)
class Entry:
    """One stage of the plan as ``table`` reports it."""

    name: str
    doc: str
    streams: tuple[str, ...]
    kernels: tuple[Any, ...]
    scratch: tuple[Scratch, ...]
    counters: tuple[str, ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    calls: tuple[Call, ...]


def entries() -> list[Entry]:
    """The plan, stage by stage in day order, with each stage's calls of the day.

    A stage with a part in the settle pass lists the pass's kernels after its own.
    """
    out = []
    for s in PLAN:
        calls = tuple(c for c in SCHEDULE if c.stage == s.name)
        kernels = s.kernels
        if any(c.settle for c in calls):
            kernels = kernels + SETTLE.kernels
        out.append(Entry(s.name, s.doc, s.streams, kernels, s.scratch, s.counters, s.reads,
                         s.writes, calls))
    return out


def table() -> list[dict[str, Any]]:
    """``entries()`` as plain dictionaries.

    Keys: name, doc, streams, kernels, scratch, counters, reads, writes, calls.
    """
    return [{f: getattr(e, f) for f in Entry.__dataclass_fields__} for e in entries()]
