"""The engine: builds the world and runs the day's stages in order, timing each.

It holds no model logic of its own; each stage lives in ``scslab.stages``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numba.core.event
import numpy as np

from scslab import kernels as K
from scslab import rng
from scslab.eventlog import EventLogCollector
from scslab.events import EventBuffer, run_chunked
from scslab.params import (
    N_HIST,
    P_AWARE,
    P_HIST_HI,
    P_HIST_LO,
    P_LOG_FRAC,
    Params,
    compile_params,
)
from scslab.population import World, build_world
from scslab.scenario.schema import Scenario
from scslab.stages import metrics as M
from scslab.stages.behaviour import SCREEN_BLOCK, behaviour_kernel, screening_bounds
from scslab.stages.listing import apply_union_changes
from scslab.stages.scoring import apply_events
from scslab.stages.sensing import sensing_kernel
from scslab.stages.spillover import business_kernel
from scslab.state import State

STAGES = ("behaviour", "sensing", "scoring", "spillover", "listing", "sanctions", "due_process",
          "metrics")
"""The day's stages in order (DESIGN.md §3). Without profiling, the settle pass times
spillover exposure, scoring, listing, sanctions, due process and metrics together as
"settle"."""
CHUNK_TARGET = 16384
CHUNK_MIN = 2048
WARM_UP_AGENTS = 2000
PHASE_COMPILING = "compiling kernels — first run only"
PHASE_POPULATION = "building population"
PHASE_RUNNING = "running"
PERCENTILES = np.array([5, 25, 50, 75, 95])


def chunk_target(n: int) -> int:
    """Agents per chunk: CHUNK_TARGET, but smaller for small populations so that at
    least ~48 chunks share the threads (it depends on ``n`` only, never on threads)."""
    return int(min(CHUNK_TARGET, max(CHUNK_MIN, n // 48)))


def household_chunks(world: World, target: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Chunk boundaries of about ``target`` agents (default ``chunk_target(n)``), cut at
    household starts.

    They depend on the population only, never on the number of threads.
    """
    if target is None:
        target = chunk_target(world.n)
    n = world.n
    cuts = np.arange(0, n, target, dtype=np.int64)
    starts_hh = world.household_starts().astype(np.int64)
    idx = np.searchsorted(starts_hh, cuts, side="left")
    idx = np.minimum(idx, starts_hh.size - 1)
    bounds = np.unique(np.concatenate([starts_hh[idx], [n]]))
    bounds[0] = 0
    return bounds[:-1].copy(), bounds[1:].copy()


@numba.njit(cache=True)
def _count_listed_ties(tie_ptr, tie_idx, listed, out):
    for k in range(out.size):
        c = 0
        for p in range(tie_ptr[k], tie_ptr[k + 1]):
            c += listed[tie_idx[p]]
        out[k] = c


def initial_court_list(world: World, state: State, sc: Scenario) -> None:
    """Put ``initial_share`` of adults on the court list on day 1 (both ledgers)."""
    from scslab.state import F_CT, F_TCT

    ct = sc.policy.lists.court
    key = rng.stream_key(sc.seed, "initial_state")
    u = rng.uniforms(key, world.n, 0)
    remaining = rng.uniforms(key, world.n, 1)
    adult = ((world.attr >> 1) & 3) != 0
    on = adult & (u < ct.initial_share)
    until = np.minimum(1 + (remaining * ct.term_days).astype(np.int64), 32767).astype(np.int16)
    state.flags[on] |= F_CT | F_TCT
    state.ct_until[on] = until[on]
    state.tct_until[on] = until[on]
    if world.has_ties:
        _count_listed_ties(world.tie_ptr, world.tie_idx, on.astype(np.uint16), state.listed_ties)
        state.listed_ties_twin[:] = state.listed_ties


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
        threads = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
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
    quiet_agent_days: int = 0
    """Agent-days settled on the fused pass's quiet-block path (a speed diagnostic)."""

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
        sc = self.scenario
        self.world = build_world(sc)
        self.params: Params = compile_params(sc, self.world.n)
        self.state = State.initial(self.world, sc.policy.scoring.base)
        if sc.policy.lists.court.enabled and sc.policy.lists.court.initial_share > 0:
            initial_court_list(self.world, self.state, sc)
        self.starts, self.ends = household_chunks(self.world)
        nc = self.starts.size
        self.n_chunks = nc
        p = self.params
        sizes = self.ends - self.starts
        exp_acts = float(np.max(sizes)) * float(p.beh_rate.sum()) * 3.0 + 4 * p.beh_rate.size
        self.acts = EventBuffer(nc, int(exp_acts) + 64)
        n_b, n_k, n_g = p.beh_rate.size, p.sanc_rate.size, len(p.group_names)
        self.off = M.counter_layout(n_b, n_g, n_k, len(p.grade_names))
        self.cnt = np.zeros((nc, int(self.off[M.O_END])), np.int64)
        self.settle_buf = EventBuffer(nc, 256)
        # per-chunk scratch of the kernels, allocated once per run
        self.hist_scratch = np.zeros((nc, M.HIST_LANES, N_HIST), np.int32)
        self.score_scratch = np.zeros((nc, 2, K.QUIET_BLOCK), np.float32)
        self.screen_hashes = np.zeros((nc, SCREEN_BLOCK), np.uint64)
        self.screen_marks = np.zeros((nc, SCREEN_BLOCK), np.uint16)
        self.group_sizes = np.bincount(self.world.attr >> 3, minlength=n_g).tolist()
        seed = sc.seed
        self.aware_key = rng.stream_key(seed, "awareness")
        self.log_key = rng.stream_key(seed, "eventlog")
        self.log_frac = float(p.prm[P_LOG_FRAC])
        self.log = EventLogCollector(self.log_key, self.log_frac)
        self.screen_ub = screening_bounds(p.prm, p.beh_rate, p.beh_age, p.beh_penalised)
        self.abroad = None
        if sc.data_flows:
            from scslab.stages.abroad import AbroadStage

            self.abroad = AbroadStage(sc, self.world, p)

    def _warm_up(self) -> None:
        """Compile (or load from Numba's cache) the kernels on a tiny copy of the scenario
        before the population is built, so that compilation counts in the build, not in
        the timed day loop, and happens in one go."""
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
        if sim.world.has_ties:
            # the tie counters are updated only on days when someone's list status
            # changes, which one tiny day rarely has: compile that kernel on no events
            sim.settle_buf.reset()
            sim._push_union_changes(sim.day, sim.settle_buf)

    # ------------------------------------------------------------------ one day

    def _key(self, stream: str, day: int):
        return rng.day_key(self.scenario.seed, stream, day)

    def step(self) -> dict:
        """Simulate one day and return its metrics row."""
        self.day += 1
        day = self.day
        w, s, p = self.world, self.state, self.params
        prm = p.prm
        aware = prm[P_AWARE]
        self.cnt.fill(0)
        t = time.perf_counter()

        run_chunked(behaviour_kernel,
                    (self._key("behaviour", day), self.aware_key, aware, prm, p.beh_rate,
                     p.beh_dexp, p.beh_age, p.beh_penalised, self.screen_ub, p.chill_risk,
                     w.attr, w.region, w.disposition, s.flags, s.listed_ties, w.tie_ptr,
                     w.has_ties, self.cnt, self.off, self.screen_hashes, self.screen_marks),
                    self.starts, self.ends, self.acts)
        t = self._lap("behaviour", t)

        a = self.acts
        sensing_kernel(self._key("sensing", day), prm, p.sens_prob, p.sens_fmr, p.sens_scope,
                       p.sens_class, p.sens_same_group, w.attr, w.region, w.region_start, w.n,
                       self.cnt, self.off, a.agent, a.other, a.kind, a.code, a.sensor, a.count)
        t = self._lap("sensing", t)

        lg = self.log.flat_buffer(2 * a.total() + 16)
        apply_events(prm, p.points, w.region, self.log_key, self.log_frac, s.flags, s.delta_rec,
                     s.delta_twin, a.agent, a.other, a.kind, a.code, a.sensor, a.count, *lg)
        self.log.take_flat(day, lg)
        t = self._lap("scoring", t)
        abroad_row = self.abroad.step(day, s) if self.abroad is not None else None
        t = self._lap("sensing", t)

        buf = self.settle_buf
        buf.reset()
        settle_args = (day, self._key("listing", day), self._key("sanctions", day),
                       self._key("due_process", day), self.aware_key, aware, self.log_key,
                       self.log_frac, prm, p.sanc_rate, p.sanc_lists, p.sanc_who,
                       p.hh_sanc_mask, p.rep_sanc_mask, p.grade_min, w.attr, w.hh_size, w.hh_off,
                       w.employer, w.biz_rep, s.score, s.twin, s.delta_rec, s.delta_twin,
                       s.flags, s.exposure, s.bl_since, s.tbl_since, s.ct_until, s.tct_until,
                       s.appeal_day, s.listed_ties, s.listed_ties_twin, w.has_ties, s.b_flags,
                       self.cnt, self.off, self.hist_scratch,
                       self.score_scratch)
        if self.profile:
            for stage, bit in K.PLAN:
                run_chunked(K.settle_kernel, (bit, *settle_args), self.starts, self.ends, buf,
                            reset=False)
                t = self._lap(stage, t)
        else:
            run_chunked(K.settle_kernel, (K.ST_ALL, *settle_args), self.starts, self.ends, buf,
                        reset=False)
            t = self._lap("settle", t)

        self.log.take_buffer(day, buf, logged_only=False)
        if w.has_ties and buf.total():
            self._push_union_changes(day, buf)
        if w.n_business:
            business_kernel(prm, w.biz_rep, s.flags, s.b_score, s.b_twin, s.b_flags, self.cnt)
        t = self._lap("spillover", t)

        row = self._row(day)
        if abroad_row:
            row.update(abroad_row)
        self.rows.append(row)
        self._lap("metrics", t)
        return row

    def _push_union_changes(self, day: int, buf: EventBuffer) -> None:
        """Push the day's list-status changes in ``buf`` to every tie's counters."""
        w, s = self.world, self.state
        lg = self.log.flat_buffer(self._tie_log_room(buf))
        apply_union_changes(w.tie_ptr, w.tie_idx, s.listed_ties, s.listed_ties_twin,
                            buf.agent, buf.kind, buf.code, buf.value, buf.count,
                            self.log_key, self.log_frac, *lg)
        self.log.take_flat(day, lg)

    def _lap(self, stage: str, t0: float) -> float:
        t1 = time.perf_counter()
        self.stage_seconds[stage] += t1 - t0
        return t1

    def _tie_log_room(self, buf: EventBuffer) -> int:
        if self.log_frac <= 0:
            return 1
        f = buf.flat()
        ag = f["agent"][f["kind"] == 100]
        ptr = self.world.tie_ptr
        return int((ptr[ag + 1] - ptr[ag]).sum()) + 1

    def _row(self, day: int) -> dict:
        """The day's metrics row from the per-chunk counters (reduced in chunk order)."""
        p = self.params
        n = self.world.n
        total = self.cnt.sum(axis=0)
        c = total.tolist()
        self.quiet_agent_days += c[M.C_QUIET]
        # exact integer totals of the fixed-point score sums (Python ints cannot overflow)
        score_sum = sum(self.cnt[:, M.C_SCORE_SUM].tolist()) / M.SCORE_FIXED_POINT
        twin_sum = sum(self.cnt[:, M.C_TWIN_SUM].tolist()) / M.SCORE_FIXED_POINT
        off = self.off.tolist()
        row: dict = {"day": day}
        row["mean_score"] = score_sum / n
        row["mean_true_score"] = twin_sum / n
        hist = total[off[M.O_HIST]:off[M.O_HIST] + N_HIST].astype(np.float64)
        cum = np.cumsum(hist)
        smin, smax = p.prm[P_HIST_LO], p.prm[P_HIST_HI]
        width = (smax - smin) / N_HIST
        # linear interpolation inside the bin where each quantile falls
        targets = PERCENTILES / 100.0 * n
        b = np.minimum(np.searchsorted(cum, targets, side="left"), N_HIST - 1)
        below = np.where(b > 0, cum[b - 1], 0.0)
        safe = np.where(hist[b] > 0, hist[b], 1.0)
        frac = np.where(hist[b] > 0, (targets - below) / safe, 0.0)
        for q, v in zip(PERCENTILES.tolist(), (smin + width * (b + frac)).tolist(), strict=True):
            row[f"score_p{q:02d}"] = v
        row["listed"] = c[M.C_LISTED]
        row["listed_blacklist"] = c[M.C_LISTED_BL]
        row["listed_court"] = c[M.C_LISTED_CT]
        row["redlisted"] = c[M.C_RED]
        row["list_entries"] = c[M.C_ENTRIES]
        row["list_exits"] = c[M.C_EXITS]
        row["true_listed"] = c[M.C_TWIN_LISTED]
        row["wrongful_listed"] = c[M.C_WRONGFUL]
        for b, name in enumerate(p.behaviour_names):
            row[f"acts_{name}"] = c[off[M.O_ACTS] + b]
        row["observed_events"] = c[M.C_OBS]
        row["misattributed_events"] = c[M.C_MIS]
        row["reversed_events"] = c[M.C_REV]
        for k, name in enumerate(p.sanction_names):
            row[f"denied_{name}"] = c[off[M.O_DENIED] + k]
        row["denied_wrongful"] = c[M.C_DENIED_WRONGFUL]
        row["collateral_denials"] = c[M.C_DENIED_COLLATERAL]
        row["collateral_sanctioned"] = c[M.C_COLLATERAL]
        row["sanctioned"] = c[M.C_SANCTIONED]
        row["spillover_penalised"] = c[M.C_PEN]
        row["exposed_household"] = c[M.C_EXP_HH]
        row["exposed_ties"] = c[M.C_EXP_TIE]
        row["rewards_granted"] = c[M.C_REWARDS]
        row["businesses_listed"] = c[M.C_BIZ_LISTED]
        row["appeals_filed"] = c[M.C_FILED]
        row["appeals_succeeded"] = c[M.C_SUCCEEDED]
        row["expired"] = c[M.C_EXPIRED]
        row["credit_repairs"] = c[M.C_REPAIRS]
        for k, name in enumerate(p.grade_names):
            row[f"grade_{name}"] = c[off[M.O_GRADES] + k]
        rates = []
        for k, name in enumerate(p.group_names):
            count = self.group_sizes[k]
            wrong = c[off[M.O_G_WRONG] + k]
            row[f"listed__{name}"] = c[off[M.O_G_LISTED] + k]
            row[f"wrongful_listed__{name}"] = wrong
            rate = wrong / count if count else math.nan
            row[f"wrongful_rate__{name}"] = rate
            row[f"misattributed__{name}"] = c[off[M.O_MIS_G] + k]
            if count:
                rates.append(rate)
        lo = min(rates) if rates else 0.0
        row["disparate_impact"] = max(rates) / lo if rates and lo > 0 else math.nan
        return row

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
        p = self.params
        reg = M.registry(p.behaviour_names, p.sanction_names, p.grade_names, p.group_names)
        if self.abroad is not None:
            reg += self.abroad.columns()
        return reg

    def bytes_per_agent(self) -> dict[str, float]:
        n = max(self.world.n, 1)
        return {
            "state": self.state.nbytes_agents() / n,
            "attributes": self.world.nbytes_agents() / n,
            "ties": self.world.nbytes_ties() / n,
            **({"abroad": self.abroad.nbytes() / n} if self.abroad is not None else {}),
        }
