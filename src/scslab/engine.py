"""The engine: builds the world and runs the day's plan (``scslab.plan``), timing each stage.

It holds no model logic of its own and knows no stage's arguments, metrics or flags:
each stage lives in ``scslab.stages`` and declares itself to the plan.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numba.core.event
import numpy as np

from scslab import plan as PL
from scslab import rng
from scslab.eventlog import EventLogCollector
from scslab.events import EventBuffer
from scslab.params import P_AWARE, P_LOG_FRAC, compile_params
from scslab.population import World, build_world
from scslab.scenario.schema import Scenario
from scslab.stages import metrics as M
from scslab.stages import settle as ST
from scslab.stages.behaviour import screening_bounds
from scslab.stages.common import DAY_STREAMS, Agents, Context, Day, People, Tables, Work
from scslab.state import State

STAGES = PL.STAGES
"""The day's stages in order (``scslab.plan.PLAN``). Without profiling, the settle pass
times its parts (spillover exposure, scoring, listing, sanctions, due process and
metrics) together as "settle"."""
CHUNK_TARGET = 16384
CHUNK_MIN = 2048
WARM_UP_AGENTS = 2000
PHASE_COMPILING = "compiling kernels — first run only"
PHASE_POPULATION = "building population"
PHASE_RUNNING = "running"


def chunk_target(n: int) -> int:
    """Agents per chunk for a population of ``n``.

    Agents per chunk: CHUNK_TARGET, but smaller for small populations so that at least ~48
    chunks share the threads (it depends on ``n`` only, never on threads).
    """
    return int(min(CHUNK_TARGET, max(CHUNK_MIN, n // 48)))


def household_chunks(world: World, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chunk boundaries of about ``target`` agents, cut at household starts.

    Chunk boundaries of about ``target`` agents (default ``chunk_target(n)``), cut at
    household starts and at every (region, group) stratum start (``World.strata_start``).

    They depend on the population only, never on the number of threads.
    """
    if target is None:
        target = chunk_target(world.n)
    n = world.n
    cuts = np.arange(0, n, target, dtype=np.int64)
    starts_hh = world.household_starts().astype(np.int64)
    idx = np.searchsorted(starts_hh, cuts, side="left")
    idx = np.minimum(idx, starts_hh.size - 1)
    # cut at every (region, group) stratum start too (households never cross one), so that
    # each chunk's counters belong to one region and one group
    strata = world.strata_start[(world.strata_start > 0) & (world.strata_start < n)]
    bounds = np.unique(np.concatenate([starts_hh[idx], strata, [n]]))
    bounds[0] = 0
    return bounds[:-1].copy(), bounds[1:].copy()


class _PhaseReporter(numba.core.event.Listener):
    """Calls ``on_phase(name)`` for each phase of a build, each name at most once.

    Cold-cache detection is exact and costs nothing: while active (a ``with`` block)
    it listens to Numba's ``numba:compile`` event, which Numba fires only when it
    compiles a kernel (a kernel found in its cache is loaded without the event), and
    reports ``PHASE_COMPILING`` at the first one. Only compilations on the building
    thread count. Without a callback it installs no listener and does nothing.
    """

    def __init__(self, on_phase: Callable[[str], None] | None):
        self.on_phase = on_phase
        self.seen: set[str] = set()
        self._thread = threading.get_ident()

    def __call__(self, name: str) -> None:
        if self.on_phase is not None and name not in self.seen:
            self.seen.add(name)
            self.on_phase(name)

    def on_start(self, event) -> None:
        if threading.get_ident() == self._thread:
            self(PHASE_COMPILING)

    def on_end(self, event) -> None:
        pass

    def __enter__(self) -> _PhaseReporter:
        if self.on_phase is not None:
            numba.core.event.register("numba:compile", self)
        return self

    def __exit__(self, *exc) -> None:
        if self.on_phase is not None:
            numba.core.event.unregister("numba:compile", self)


def set_threads(threads: int | None) -> int:
    """Use ``threads`` Numba threads (default: all); returns the number in use."""
    if threads is not None:
        threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
        numba.set_num_threads(threads)
    return numba.get_num_threads()


@dataclass
class Simulation:
    """One run of a scenario: ``build()`` then ``step()`` per day (or ``run()``)."""

    scenario: Scenario
    threads: int | None = None
    day: int = 0
    profile: bool = False
    stage_seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys((*STAGES, "settle"), 0.0))
    build_seconds: float = 0.0
    rows: list[dict] = field(default_factory=list)
    warm_up: bool = True
    """Compile the kernels on a tiny copy during ``build`` (see ``_warm_up``)."""

    @staticmethod
    def plan() -> list[PL.Entry]:
        """The day's plan, stage by stage in day order (see ``scslab.plan.entries``)."""
        return PL.entries()

    def build(self, on_phase: Callable[[str], None] | None = None) -> Simulation:
        """Build the population and the state, compiling the kernels first (``_warm_up``).

        ``on_phase``, if given, is called with what the build is doing, in order and
        each at most once: ``PHASE_COMPILING`` when Numba starts compiling a kernel
        (only on a cold cache: Numba compiles only what it cannot load from its cache),
        ``PHASE_POPULATION`` before the population is built, and ``PHASE_RUNNING`` when
        the build is done and the day loop can start.
        """
        t0 = time.perf_counter()
        self.threads = set_threads(self.threads)
        with _PhaseReporter(on_phase) as phase:
            if self.warm_up:
                self._warm_up()
            phase(PHASE_POPULATION)
            self._build_world()
            phase(PHASE_RUNNING)
        self.build_seconds = time.perf_counter() - t0
        return self

    def _build_world(self) -> None:
        """The world, the compiled tables, the state and every working array of the run."""
        sc = self.scenario
        self.world = world = build_world(sc)
        self.params = p = compile_params(sc, world.n)
        self.state = State.initial(world, sc.policy.scoring.base)
        self.starts, self.ends = household_chunks(world)
        nc = self.n_chunks = self.starts.size
        sizes = self.ends - self.starts
        exp_acts = float(np.max(sizes)) * float(p.beh_rate.sum()) * 3.0 + 4 * p.beh_rate.size
        cnt, off = M.counter_matrix(p, nc)
        # per-chunk scratch of the kernels, as the stages declare it, allocated once per run
        work = Work(cnt, off, **{x.name: np.zeros((nc, *x.shape), x.dtype) for x in PL.SCRATCH})
        self.aware_key = rng.stream_key(sc.seed, "awareness")
        self.log_key = rng.stream_key(sc.seed, "eventlog")
        self.log_frac = float(p.prm[P_LOG_FRAC])
        self.log = EventLogCollector(self.log_key, self.log_frac)
        ub = screening_bounds(p.prm, p.beh_rate, p.beh_age, p.beh_penalised)
        self.ctx = Context(
            world=world, state=self.state, params=p, tables=Tables.of(p, ub),
            people=People.of(world), agents=Agents.of(self.state), work=work,
            starts=self.starts, ends=self.ends, acts=EventBuffer(nc, int(exp_acts) + 64),
            settle=EventBuffer(nc, 256), log=self.log,
            group_sizes=np.bincount(world.attr >> 3, minlength=len(p.group_names)).tolist(),
            chunk_stratum=np.searchsorted(world.strata_start, self.starts, side="right") - 1)
        for spec in PL.PLAN:
            if spec.setup is not None:
                spec.setup(self.ctx, sc)

    @property
    def abroad(self):
        """The data flows' stage (``stages.abroad.AbroadStage``), or None without flows."""
        return self.ctx.abroad

    @property
    def quiet_agent_days(self) -> int:
        """Agent-days settled on the fused pass's quiet-block path (a speed diagnostic)."""
        return self.ctx.quiet_agent_days if hasattr(self, "ctx") else 0

    def _warm_up(self) -> None:
        """Compile (or load) the kernels on a tiny copy of the scenario.

        Compile (or load from Numba's cache) the kernels on a tiny copy of the scenario
        before the population is built, so that compilation counts in the build, not in
        the timed day loop, and happens in one go.
        """
        if int(self.scenario.population.agents) <= WARM_UP_AGENTS:
            return
        from scslab.errors import ScslabError
        from scslab.scenario import load_scenario

        try:
            tiny = load_scenario(self.scenario, {"population.agents": WARM_UP_AGENTS, "days": 1})
        except ScslabError:
            return  # a scenario that cannot shrink compiles on its first day instead
        sim = Simulation(tiny, threads=self.threads, profile=self.profile, warm_up=False).build()
        sim.step()
        for spec in PL.PLAN:
            if spec.warm_up is not None:
                spec.warm_up(sim.ctx)

    # ------------------------------------------------------------------ one day

    def _day(self, day: int) -> Day:
        """The day's random keys (one per stream of ``DAY_STREAMS``) and the run's."""
        seed = self.scenario.seed
        keys = (rng.day_key(seed, stream, day) for stream in DAY_STREAMS)
        return Day._make((day, *keys, self.aware_key, self.params.prm[P_AWARE], self.log_key,
                          self.log_frac))

    def step(self) -> dict:
        """Simulate one day (the calls of ``scslab.plan.SCHEDULE``) and return its row."""
        self.day += 1
        d = self._day(self.day)
        ctx = self.ctx
        ctx.work.cnt.fill(0)
        ctx.columns = {}
        t = time.perf_counter()
        schedule = PL.SCHEDULE
        k = 0
        while k < len(schedule):
            call = schedule[k]
            if call.run is not None:
                call.run(ctx, d)
                t = self._lap(call.stage, t)
                k += 1
                continue
            parts = [call]  # a run of settle parts: one fused pass, or one pass each
            while k + len(parts) < len(schedule) and schedule[k + len(parts)].run is None:
                parts.append(schedule[k + len(parts)])
            k += len(parts)
            ST.begin(ctx)
            if self.profile:
                for part in parts:
                    ST.settle(ctx, d, part.settle)
                    t = self._lap(part.stage, t)
            else:
                ST.settle(ctx, d, sum(part.settle for part in parts))
                t = self._lap("settle", t)
            ST.end(ctx, d)
        self.rows.append(ctx.row)
        return ctx.row

    def _lap(self, stage: str, t0: float) -> float:
        """Charge the time since ``t0`` to ``stage``; returns now."""
        t1 = time.perf_counter()
        self.stage_seconds[stage] += t1 - t0
        return t1

    # ------------------------------------------------------------------ many days

    def run(self, days: int | None = None,
            on_day: Callable[[Simulation, dict], bool | None] | None = None) -> bool:
        """Run until ``days`` (default: the scenario's); ``on_day`` returning False stops.

        Returns True when every day was simulated.
        """
        if not hasattr(self, "world"):
            self.build()
        total = self.scenario.days if days is None else days
        while self.day < total:
            row = self.step()
            if on_day is not None and on_day(self, row) is False:
                return self.day >= total
        return True

    def metric_registry(self) -> list[M.Metric]:
        """Every daily column of this run, in table order."""
        p = self.params
        reg = M.registry(p.behaviour_names, p.sanction_names, p.grade_names, p.group_names,
                         p.region_names if len(p.region_names) > 1 else [], p.sensor_keys)
        if self.abroad is not None:
            reg += self.abroad.columns()
        return reg

    def bytes_per_agent(self) -> dict[str, float]:
        """Bytes per agent of the state, the attributes, the ties (and the data flows)."""
        n = max(self.world.n, 1)
        return {
            "state": self.state.nbytes_agents() / n,
            "attributes": self.world.nbytes_agents() / n,
            "ties": self.world.nbytes_ties() / n,
            **({"group_index": self.world.nbytes_group_index() / n}
               if self.world.group_members.size else {}),
            **({"abroad": self.abroad.nbytes() / n} if self.abroad is not None else {}),
        }
