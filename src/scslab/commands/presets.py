"""``scslab presets``: the scenarios shipped with scslab."""

from __future__ import annotations

import typer
from rich.table import Table

from scslab.commands.common import console


def presets() -> None:
    """List the scenarios shipped with scslab."""
    from scslab.scenario.loader import preset_description, preset_names

    t = Table("preset", "description", box=None)
    for name in preset_names():
        t.add_row(name, preset_description(name))
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``scslab presets`` to ``app``."""
    app.command()(presets)
