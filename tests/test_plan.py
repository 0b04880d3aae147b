"""The plan of the day (scslab.plan): what each stage declares is true of the code."""

from __future__ import annotations

import re

import numpy as np

from scslab import plan, state
from scslab.engine import STAGES, Simulation
from scslab.stages import metrics as M
from scslab.stages import settle
from scslab.stages.common import DAY_STREAMS, Day, Work


def test_plan_is_the_stages_in_day_order():
    assert tuple(s.name for s in plan.PLAN) == STAGES == plan.STAGES
    assert STAGES[:3] == ("behaviour", "sensing", "scoring")
    assert [e.name for e in Simulation.plan()] == list(STAGES)
    # every stage's calls of the day are in the schedule, in order
    for e in plan.entries():
        assert e.calls == tuple(c for c in plan.SCHEDULE if c.stage == e.name)


def test_settle_parts_are_each_in_the_schedule_once():
    bits = [c.settle for c in plan.SCHEDULE if c.settle]
    assert sorted(bits) == [settle.ST_EXPOSURE, settle.ST_SCORING, settle.ST_LISTING,
                            settle.ST_SANCTIONS, settle.ST_DUE_PROCESS, settle.ST_METRICS]
    assert sum(bits) == settle.ST_ALL
    # the settle parts are consecutive: one fused pass
    idx = [k for k, c in enumerate(plan.SCHEDULE) if c.settle]
    assert idx == list(range(idx[0], idx[0] + len(idx)))


def test_declarations_name_real_things():
    for e in plan.entries():
        assert e.doc and e.doc.endswith("."), e.name
        for col in e.counters:
            assert re.fullmatch(r"[CO]_[A-Z_]+", col) and hasattr(M, col), (e.name, col)
        for bit in (*e.reads, *e.writes):
            assert isinstance(getattr(state, bit), int), (e.name, bit)
        for k in e.kernels:
            assert callable(k), (e.name, k)
    assert set(DAY_STREAMS) <= {s for e in plan.entries() for s in e.streams}
    assert Day._fields[1:1 + len(DAY_STREAMS)] == DAY_STREAMS
    assert Work._fields[2:] == tuple(x.name for x in plan.SCRATCH)


def test_work_is_allocated_from_the_declared_scratch():
    from scslab.scenario import load_scenario

    sim = Simulation(load_scenario("rm1", {"population.agents": 500, "days": 1}),
                     warm_up=False).build()
    for x in plan.SCRATCH:
        arr = getattr(sim.ctx.work, x.name)
        assert arr.shape == (sim.n_chunks, *x.shape) and arr.dtype == np.dtype(x.dtype)
