"""``scslab validate``: check a scenario and estimate what a run of it needs."""

from __future__ import annotations

from typing import Annotated

import typer

from scslab.commands.common import console
from scslab.commands.options import AgentsOpt, DaysOpt, SetOpt


def validate(scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")],
             set_: SetOpt = None, agents: AgentsOpt = None, days: DaysOpt = None) -> None:
    """Check a scenario; print its size and the memory and disk a run needs."""
    from scslab.api import resolve
    from scslab.resources import estimate

    sc = resolve(scenario, agents=agents, days=days, set=set_)
    est = estimate(sc)
    console.print(f"[green]valid[/green]: {scenario} → {sc.name}: {sc.population.agents:,} "
                  f"agents × {sc.days} days, seed {sc.seed}")
    console.print(f"estimated memory {est['memory_bytes'] / 2**20:,.1f} MiB "
                  f"({est['bytes_per_agent']:.1f} B/agent incl. ties), "
                  f"disk {est['disk_bytes'] / 2**20:,.1f} MiB")


def register(app: typer.Typer) -> None:
    """Add ``scslab validate`` to ``app``."""
    app.command()(validate)
