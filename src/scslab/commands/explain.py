"""``scslab explain``: the audit trail of one synthetic agent of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.commands.common import console


def explain(run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
            agent: Annotated[int, typer.Argument(help="Agent id.")]) -> None:
    """Show the audit trail of one synthetic agent."""
    from scslab.explanation import explain_agent, render_explanation

    ex = explain_agent(run_dir, agent)
    render_explanation(ex, console)


def register(app: typer.Typer) -> None:
    """Add ``scslab explain`` to ``app``."""
    app.command(context_settings={"ignore_unknown_options": True})(explain)
