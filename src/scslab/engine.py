"""The engine: builds the world and runs the day's stages in order, timing each.

It holds no model logic of its own; each stage lives in ``scslab.stages``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numba
import numpy as np

from scslab import rng
from scslab.buffers import EventBuffer, run_chunked
from scslab.eventlog import EventLogCollector
from scslab.params import (
    N_HIST,
    P_AWARE,
    P_DET_KNOWN,
    P_DET_LISTED,
    P_LOG_FRAC,
    P_MAX,
    P_MIN,
    Params,
    compile_params,
)
from scslab.population import World, build_world
from scslab.scenario.schema import Scenario
from scslab.stages import metrics as M
from scslab.stages.behaviour import behaviour_kernel, bound_tables
from scslab.stages.due_process import due_process_kernel
from scslab.stages.listing import apply_union_changes, listing_kernel
from scslab.stages.sanctions import sanctions_kernel
from scslab.stages.scoring import apply_events, score_kernel
from scslab.stages.sensing import sensing_kernel
from scslab.stages.spillover import business_kernel, exposure_kernel
from scslab.state import State

STAGES = ("behaviour", "sensing", "scoring", "spillover", "listing", "sanctions", "due_process",
          "metrics")
CHUNK_TARGET = 16384


def household_chunks(world: World, target: int = CHUNK_TARGET) -> tuple[np.ndarray, np.ndarray]:
    """Chunk boundaries of about ``target`` agents, cut at household starts.

    They depend on the population only, never on the number of threads.
    """
    n = world.n
    cuts = np.arange(0, n, target, dtype=np.int64)
    starts_hh = world.household_starts().astype(np.int64)
    idx = np.searchsorted(starts_hh, cuts, side="left")
    idx = np.minimum(idx, starts_hh.size - 1)
    bounds = np.unique(np.concatenate([starts_hh[idx], [n]]))
    bounds[0] = 0
    return bounds[:-1].copy(), bounds[1:].copy()


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
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    build_seconds: float = 0.0
    rows: list[dict] = field(default_factory=list)

    def build(self) -> Simulation:
        t0 = time.perf_counter()
        self.threads = set_threads(self.threads)
        sc = self.scenario
        self.world = build_world(sc)
        self.params: Params = compile_params(sc, self.world.n)
        self.state = State.initial(self.world, sc.policy.scoring.base)
        self.starts, self.ends = household_chunks(self.world)
        nc = self.starts.size
        self.n_chunks = nc
        p = self.params
        sizes = self.ends - self.starts
        exp_acts = float(np.max(sizes)) * float(p.beh_rate.sum()) * 3.0 + 4 * p.beh_rate.size
        self.acts = EventBuffer(nc, int(exp_acts) + 64)
        self.list_buf = EventBuffer(nc, 256)
        self.exp_buf = EventBuffer(nc, 64)
        self.sanc_buf = EventBuffer(nc, 64)
        self.dp_buf = EventBuffer(nc, 64)
        n_b, n_k, n_g = p.beh_rate.size, p.sanc_rate.size, len(p.group_names)
        self.c_acts = np.zeros((nc, n_b), np.int64)
        self.c_obs = np.zeros(nc, np.int64)
        self.c_mis = np.zeros(nc, np.int64)
        self.c_rev = np.zeros(nc, np.int64)
        self.c_mis_g = np.zeros((nc, n_g), np.int64)
        self.c_exposed = np.zeros((nc, 4), np.int64)
        self.c_pen = np.zeros((nc, 1), np.int64)
        self.c_list = np.zeros((nc, 6), np.int64)
        self.c_denied = np.zeros((nc, n_k), np.int64)
        self.c_sanc = np.zeros((nc, 5), np.int64)
        self.c_biz = np.zeros((max(1, min(nc, 64)), 2), np.int64)
        self.acc = np.zeros((nc, M.A_N), np.float64)
        self.gacc = np.zeros((nc, n_g, M.G_N), np.int64)
        self.hist = np.zeros((nc, N_HIST), np.int64)
        self.grades = np.zeros((nc, len(p.grade_names)), np.int64)
        seed = sc.seed
        self.aware_key = rng.stream_key(seed, "awareness")
        self.log_key = rng.stream_key(seed, "eventlog")
        self.log_frac = float(p.prm[P_LOG_FRAC])
        self.log = EventLogCollector(self.log_key, self.log_frac)
        self.bounds = bound_tables(p.beh_rate, p.beh_dexp, p.beh_age, p.beh_penalised,
                                   float(p.prm[P_DET_LISTED]), float(p.prm[P_DET_KNOWN]))
        self.abroad = None
        if sc.data_flows:
            from scslab.stages.abroad import AbroadStage

            self.abroad = AbroadStage(sc, self.world, p)
        self.build_seconds = time.perf_counter() - t0
        return self

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
        ts = self.stage_seconds
        for arr in (self.c_acts, self.c_obs, self.c_mis, self.c_rev, self.c_mis_g,
                    self.c_exposed, self.c_pen, self.c_list, self.c_denied, self.c_sanc,
                    self.c_biz, self.acc, self.gacc, self.hist, self.grades):
            arr.fill(0)
        t = time.perf_counter()

        run_chunked(behaviour_kernel,
                    (self._key("behaviour", day), self.aware_key, aware, prm, p.beh_rate,
                     p.beh_dexp, p.beh_age, p.beh_penalised, p.chill_risk, *self.bounds,
                     w.attr, w.region,
                     w.disposition, s.flags, s.listed_ties, w.tie_ptr, w.has_ties, self.c_acts),
                    self.starts, self.ends, self.acts)
        t = self._lap("behaviour", t)

        a = self.acts
        sensing_kernel(self._key("sensing", day), prm, p.sens_prob, p.sens_fmr, p.sens_scope,
                       p.sens_class, p.sens_same_group, w.attr, w.region, w.region_start, w.n,
                       self.c_obs, self.c_mis, self.c_rev, self.c_mis_g, a.agent, a.other,
                       a.kind, a.code, a.sensor, a.count)
        t = self._lap("sensing", t)

        lg = self.log.flat_buffer(2 * a.total() + 16)
        apply_events(prm, p.points, w.region, self.log_key, self.log_frac, s.flags, s.delta_rec,
                     s.delta_twin, a.agent, a.other, a.kind, a.code, a.sensor, a.count, *lg)
        self.log.take_flat(day, lg)
        t = self._lap("scoring", t)
        abroad_row = self.abroad.step(day, s) if self.abroad is not None else None
        t = self._lap("sensing", t)

        run_chunked(exposure_kernel,
                    (prm, self.log_key, self.log_frac, w.hh_size, w.employer, w.biz_rep, s.flags,
                     s.listed_ties, s.listed_ties_twin, s.b_flags, s.exposure, self.c_exposed),
                    self.starts, self.ends, self.exp_buf)
        self.log.take_buffer(day, self.exp_buf, logged_only=False)
        t = self._lap("spillover", t)

        score_kernel(prm, self.starts, self.ends, s.score, s.twin, s.delta_rec, s.delta_twin,
                     s.exposure, self.c_pen)
        t = self._lap("scoring", t)

        run_chunked(listing_kernel,
                    (self._key("listing", day), day, prm, s.score, s.twin, s.flags, s.bl_since,
                     s.tbl_since, s.ct_until, s.tct_until, self.c_list),
                    self.starts, self.ends, self.list_buf)
        t = self._lap("listing", t)

        run_chunked(sanctions_kernel,
                    (self._key("sanctions", day), prm, self.log_key, self.log_frac, p.sanc_rate,
                     p.sanc_lists, p.sanc_who, p.hh_sanc_mask, p.rep_sanc_mask, w.attr, s.flags,
                     s.exposure, self.c_denied, self.c_sanc),
                    self.starts, self.ends, self.sanc_buf)
        self.log.take_buffer(day, self.sanc_buf, logged_only=False)
        t = self._lap("sanctions", t)

        run_chunked(due_process_kernel,
                    (self._key("due_process", day), self.aware_key, aware, day, prm, s.score,
                     s.twin, s.flags, s.bl_since, s.tbl_since, s.ct_until, s.tct_until,
                     s.appeal_day, self.c_list),
                    self.starts, self.ends, self.dp_buf)
        t = self._lap("due_process", t)

        for buf in (self.list_buf, self.dp_buf):
            self.log.take_buffer(day, buf, logged_only=True)
            if w.has_ties and buf.total():
                need = self._tie_log_room(buf)
                lg = self.log.flat_buffer(need)
                apply_union_changes(w.tie_ptr, w.tie_idx, s.listed_ties, s.listed_ties_twin,
                                    buf.agent, buf.kind, buf.code, buf.value, buf.count,
                                    self.log_key, self.log_frac, *lg)
                self.log.take_flat(day, lg)
        if w.n_business:
            business_kernel(prm, w.biz_rep, s.flags, s.b_score, s.b_twin, s.b_flags, self.c_biz)
        t = self._lap("spillover", t)

        M.metrics_kernel(self.starts, self.ends, prm[P_MIN], prm[P_MAX], p.grade_min, w.attr,
                         s.score, s.twin, s.flags, self.acc, self.gacc, self.hist, self.grades)
        row = self._row(day)
        if abroad_row:
            row.update(abroad_row)
        self.rows.append(row)
        self._lap("metrics", t)
        return row

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
        p = self.params
        n = self.world.n
        acc = self.acc.sum(axis=0)
        row: dict = {"day": day}
        row["mean_score"] = acc[M.A_SUM_SCORE] / n
        row["mean_true_score"] = acc[M.A_SUM_TWIN] / n
        hist = self.hist.sum(axis=0)
        cum = np.cumsum(hist)
        smin, smax = p.prm[P_MIN], p.prm[P_MAX]
        width = (smax - smin) / N_HIST
        for q in (5, 25, 50, 75, 95):
            target = q / 100.0 * n
            b = int(np.searchsorted(cum, target, side="left"))
            b = min(b, N_HIST - 1)
            below = cum[b - 1] if b > 0 else 0
            frac = (target - below) / hist[b] if hist[b] else 0.0
            row[f"score_p{q:02d}"] = smin + width * (b + frac)
        row["listed"] = int(acc[M.A_LISTED])
        row["listed_blacklist"] = int(acc[M.A_LISTED_BL])
        row["listed_court"] = int(acc[M.A_LISTED_CT])
        row["redlisted"] = int(acc[M.A_RED])
        lst = self.c_list.sum(axis=0)
        row["list_entries"] = int(lst[0])
        row["list_exits"] = int(lst[1])
        row["true_listed"] = int(acc[M.A_TWIN_LISTED])
        row["wrongful_listed"] = int(acc[M.A_WRONGFUL])
        for b, name in enumerate(p.behaviour_names):
            row[f"acts_{name}"] = int(self.c_acts[:, b].sum())
        row["observed_events"] = int(self.c_obs.sum())
        row["misattributed_events"] = int(self.c_mis.sum())
        row["reversed_events"] = int(self.c_rev.sum())
        den = self.c_denied.sum(axis=0)
        for k, name in enumerate(p.sanction_names):
            row[f"denied_{name}"] = int(den[k])
        sc_ = self.c_sanc.sum(axis=0)
        row["denied_wrongful"] = int(sc_[0])
        row["collateral_denials"] = int(sc_[1])
        row["collateral_sanctioned"] = int(sc_[2])
        row["sanctioned"] = int(sc_[4])
        row["spillover_penalised"] = int(self.c_pen.sum())
        ex = self.c_exposed.sum(axis=0)
        row["exposed_household"] = int(ex[0])
        row["exposed_ties"] = int(ex[1])
        row["rewards_granted"] = int(sc_[3])
        row["businesses_listed"] = int(self.c_biz[:, 0].sum())
        row["appeals_filed"] = int(lst[2])
        row["appeals_succeeded"] = int(lst[3])
        row["expired"] = int(lst[4])
        row["credit_repairs"] = int(lst[5])
        gr = self.grades.sum(axis=0)
        for k, name in enumerate(p.grade_names):
            row[f"grade_{name}"] = int(gr[k])
        g = self.gacc.sum(axis=0)
        mis_g = self.c_mis_g.sum(axis=0)
        rates = []
        for k, name in enumerate(p.group_names):
            row[f"listed__{name}"] = int(g[k, M.G_LISTED])
            row[f"wrongful_listed__{name}"] = int(g[k, M.G_WRONGFUL])
            rate = g[k, M.G_WRONGFUL] / g[k, M.G_COUNT] if g[k, M.G_COUNT] else math.nan
            row[f"wrongful_rate__{name}"] = rate
            row[f"misattributed__{name}"] = int(mis_g[k])
            if g[k, M.G_COUNT]:
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
        }
