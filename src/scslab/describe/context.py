"""What the ODD sections are written from: the compiled scenario and a sample build."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scslab.describe.model import ScheduleStep
from scslab.describe.parameters import Parameter, input_parameters
from scslab.scenario.schema import Scenario

SAMPLE_AGENTS = 20_000  # size of the sample population built to read arrays and realised shares



@dataclass
class _Ctx:
    sc: Scenario
    origin: str
    p: Any  # params.Params
    world: Any
    state: Any
    n_sample: int
    params: list[Parameter]
    sim: Any  # engine.Simulation built on the sample population (not run)

    @property
    def N(self) -> int:  # noqa: N802 - the population size, as in the text
        return int(self.sc.population.agents)


def _context(sc: Scenario, origin: str) -> _Ctx:
    """Compile the scenario and build a sample of its population, as a run would.

    ``Simulation.build`` calls ``population.build_world`` and ``State.initial``
    (and sets up the optional stages the scenario needs); nothing is run.
    """
    from scslab.engine import Simulation
    from scslab.params import compile_params
    from scslab.scenario.loader import load_scenario

    n_sample = min(int(sc.population.agents), SAMPLE_AGENTS)
    small = load_scenario(sc, {"population.agents": n_sample})
    sim = Simulation(small).build()
    p = compile_params(sc, int(sc.population.agents))
    return _Ctx(sc, origin, p, sim.world, sim.state, n_sample, input_parameters(sc), sim)


def _active(c: _Ctx, step: ScheduleStep) -> bool:
    """Whether the step's stage is set up for this scenario.

    A stage that keeps its own structures on the simulation (``Simulation.abroad``) is
    not set up when that is None (a scenario with no data flows abroad).
    """
    return getattr(c.sim, step.stage, True) is not None



def _mean_household(sc: Scenario) -> float:
    items = sc.population.households.size_shares
    tot = sum(items.values())
    return sum(s * w for s, w in items.items()) / tot if tot else 1.0


def _businesses_estimate(sc: Scenario) -> int:
    pop = sc.population
    emp = pop.employers
    if emp.employed_share <= 0:
        return 0
    adults = 1 - pop.age.child_share - pop.age.elderly_share
    total = 0
    for reg in pop.regions:
        workers = reg.share * pop.agents * adults * emp.employed_share
        total += math.ceil(workers / emp.mean_size)
    return total

