"""RM1 (shared/reference/rm1.md) written the usual way in Mesa 3: the fair baseline.

The model follows Mesa's own tutorials: a ``mesa.Model`` seeded through
``super().__init__(seed=...)``, one ``mesa.Agent`` subclass, agents activated
through ``self.agents``, a ``DataCollector`` with model reporters. Two
activation stages (Mesa's documented "staged activation" pattern) keep RM1's
order within a day: every agent's behaviour, sensing and scoring happen
(``shuffle_do("act")``) before anyone's spillover, decay and listing
(``do("settle")``).

Randomness: the risk multiplier comes from ``model.rng`` (NumPy); daily
draws and the activation order come from ``model.random`` (the stdlib
generator, the cheap one for scalar draws). Both are seeded by ``seed``.

Run ``python benchmarks/mesa_rm1.py --agents 10000 --days 100`` for a JSON summary.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
import tracemalloc
from typing import Any, Literal

import mesa

# RM1 parameters (rm1.md).
INITIAL_SCORE = 1000.0
P_SERVICE = 0.01
BASE_P_SMOKING = 0.005
BASE_P_FRAUD = 0.0005
LISTED_DAMPING = 0.5  # d_i while listed at the start of the day
P_OBSERVED = 0.6
FALSE_MATCH_RATE = 0.01
POINTS_SERVICE = 5.0
POINTS_SMOKING = -10.0
POINTS_FRAUD = -50.0
SPILLOVER_PENALTY = 1.0
DECAY = 0.01
LIST_BELOW = 900.0
DELIST_AT = 950.0
HOUSEHOLD_SIZE = 3


def _clip01(p: float) -> float:
    """Clip a probability to [0, 1]."""
    return 0.0 if p < 0.0 else (1.0 if p > 1.0 else p)


class RM1Agent(mesa.Agent):
    """One person in RM1: a score, a listed flag and a fixed risk multiplier."""

    def __init__(self, model: RM1Model, idx: int) -> None:
        """Create the agent with id ``idx`` (0..N-1; Mesa's ``unique_id`` starts at 1)."""
        super().__init__(model)
        self.idx = idx
        self.household = idx // HOUSEHOLD_SIZE
        self.score = INITIAL_SCORE
        self.listed = False
        self.m = float(self.rng.lognormal(0.0, 0.5))

    def act(self) -> None:
        """Stage 1: behaviour, then sensing and scoring of each act (via the model)."""
        rand = self.random.random
        # self.listed is still the start-of-day status: listing happens in settle().
        d = LISTED_DAMPING if self.listed else 1.0
        if rand() < P_SERVICE:
            self.model.sense(self, POINTS_SERVICE)
        if rand() < _clip01(BASE_P_SMOKING * self.m * d):
            self.model.sense(self, POINTS_SMOKING)
        if rand() < _clip01(BASE_P_FRAUD * self.m * d):
            self.model.sense(self, POINTS_FRAUD)

    def settle(self) -> None:
        """Stage 2: household spillover, decay toward 1000, then listing."""
        listed_housemates = self.model.listed_at_start[self.household] - (1 if self.listed else 0)
        if listed_housemates > 0:
            self.score -= SPILLOVER_PENALTY
        self.score += DECAY * (INITIAL_SCORE - self.score)
        if self.score < LIST_BELOW:
            self.listed = True
        elif self.listed and self.score >= DELIST_AT:
            self.listed = False


class RM1Model(mesa.Model):
    """RM1 over ``n_agents`` agents in households of three."""

    def __init__(
        self,
        n_agents: int = 1000,
        seed: int | None = None,
        false_match_rate: float = FALSE_MATCH_RATE,
    ) -> None:
        """Build the population.

        Args:
            n_agents: number of agents N (at least 2, so a false match has a target).
            seed: seeds both ``model.random`` and ``model.rng``.
            false_match_rate: probability that an observed act is attributed to a
                uniformly random other agent (rm1.md: 0.01).
        """
        super().__init__(seed=seed)
        if n_agents < 2:
            raise ValueError("RM1 needs at least 2 agents")
        self.n_agents = n_agents
        self.false_match_rate = false_match_rate
        self.n_households = (n_agents + HOUSEHOLD_SIZE - 1) // HOUSEHOLD_SIZE
        # Agents by idx, for O(1) lookup of a false-match target.
        self.agent_by_idx: list[RM1Agent] = [RM1Agent(self, i) for i in range(n_agents)]
        self.listed_at_start: list[int] = [0] * self.n_households
        self.misattributed_events = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "day": "steps",
                "mean_score": lambda m: m.agents.agg("score", statistics.fmean),
                "listed": lambda m: m.agents.agg("listed", sum),
                "misattributed_events": "misattributed_events",
            }
        )

    def sense(self, actor: RM1Agent, points: float) -> None:
        """Observe an act with p=0.6 and score it on the attributed agent."""
        if self.random.random() >= P_OBSERVED:
            return
        target = actor
        if self.random.random() < self.false_match_rate:
            j = self.random.randrange(self.n_agents - 1)  # uniform over the N-1 others
            target = self.agent_by_idx[j + 1 if j >= actor.idx else j]
            self.misattributed_events += 1
        target.score += points

    def start_day(self) -> None:
        """Snapshot the start-of-day listed members per household; reset daily counters."""
        counts = [0] * self.n_households
        for agent in self.agents:
            if agent.listed:
                counts[agent.household] += 1
        self.listed_at_start = counts
        self.misattributed_events = 0

    def step(self) -> None:
        """One day: act (random order), settle, record."""
        self.start_day()
        self.agents.shuffle_do("act")
        self.agents.do("settle")
        self.datacollector.collect(self)


def _rss_bytes() -> int:
    """Resident set size of this process, in bytes (psutil)."""
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss)


def run_mesa_rm1(
    n_agents: int,
    days: int,
    seed: int,
    *,
    false_match_rate: float = FALSE_MATCH_RATE,
    memory: Literal["rss", "tracemalloc"] = "rss",
) -> dict[str, Any]:
    """Build and run the Mesa RM1 baseline; time the build and the day loop separately.

    Args:
        n_agents: number of agents.
        days: number of days (model steps).
        seed: model seed.
        false_match_rate: see ``RM1Model``.
        memory: ``"rss"`` (default): ``peak_memory_bytes`` is the growth of the
            process RSS (psutil) from before the build to after the last day, the
            model still alive (Mesa only grows during a run, so this is its peak);
            ``"tracemalloc"``: peak of Python allocations traced during build and
            run (exact for Python objects, but slows the timed loop: do not quote
            its timings).

    Returns:
        ``build_seconds``, ``elapsed_seconds`` (day loop only),
        ``agent_days_per_second`` (agents × days / elapsed_seconds),
        ``final_mean_score``, ``final_listed_fraction``, ``peak_memory_bytes``,
        ``memory_method``, plus ``agents``, ``days``, ``seed`` and ``daily``: one
        dict per day with ``day`` (1..days), ``mean_score``, ``listed``,
        ``misattributed_events``.
    """
    gc.collect()
    if memory == "tracemalloc":
        tracemalloc.start()
        memory_method = "tracemalloc peak of traced Python allocations (build + run)"
    elif memory == "rss":
        memory_method = "psutil RSS after run minus RSS before build"
    else:
        raise ValueError(f"memory must be 'rss' or 'tracemalloc', not {memory!r}")
    rss_before = _rss_bytes()

    t0 = time.perf_counter()
    model = RM1Model(n_agents, seed=seed, false_match_rate=false_match_rate)
    build_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(days):
        model.step()
    elapsed_seconds = time.perf_counter() - t0

    if memory == "tracemalloc":
        peak_memory_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        peak_memory_bytes = max(0, _rss_bytes() - rss_before)

    model_vars = model.datacollector.model_vars
    names = list(model_vars)
    daily = [{name: model_vars[name][i] for name in names} for i in range(days)]
    last = daily[-1] if daily else {"mean_score": INITIAL_SCORE, "listed": 0}
    return {
        "agents": n_agents,
        "days": days,
        "seed": seed,
        "build_seconds": build_seconds,
        "elapsed_seconds": elapsed_seconds,
        "agent_days_per_second": n_agents * days / elapsed_seconds if elapsed_seconds else 0.0,
        "final_mean_score": float(last["mean_score"]),
        "final_listed_fraction": last["listed"] / n_agents,
        "peak_memory_bytes": int(peak_memory_bytes),
        "memory_method": memory_method,
        "mesa_version": mesa.__version__,
        "daily": daily,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: run once and print the summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory", choices=["rss", "tracemalloc"], default="rss")
    parser.add_argument("--daily", action="store_true", help="include the daily rows")
    args = parser.parse_args(argv)
    result = run_mesa_rm1(args.agents, args.days, args.seed, memory=args.memory)
    if not args.daily:
        result.pop("daily")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
