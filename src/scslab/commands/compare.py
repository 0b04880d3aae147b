"""``scslab compare``: scenarios on common random numbers, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.commands.common import console
from scslab.commands.options import (
    AgentsOpt,
    DaysOpt,
    DbOpt,
    NoCatalogOpt,
    SeedOpt,
    SetOpt,
    ThreadsOpt,
)
from scslab.commands.progress import progress_bar
from scslab.errors import ScslabError


def compare(scenarios: Annotated[list[str], typer.Argument(help="Two or more scenarios.")],
            agents: AgentsOpt = None, days: DaysOpt = None, seed: SeedOpt = None,
            replicates: Annotated[int, typer.Option("--replicates", min=1, max=1000)] = 1,
            out: Annotated[Path | None, typer.Option("--out", help="Output directory.")] = None,
            threads: ThreadsOpt = None, set_: SetOpt = None, db: DbOpt = Path("scslab.duckdb"),
            no_catalog: NoCatalogOpt = False) -> None:
    """Run scenarios on common random numbers and compare their outcomes."""
    from scslab.comparison import compare as do_compare
    from scslab.comparison import render_comparison

    if len(scenarios) < 2:
        raise ScslabError("compare needs at least two scenarios, e.g. `scslab compare national "
                          "transparent`")
    with progress_bar() as prog:
        task = prog.add_task("runs", total=None, rate="")

        def progress(done: int, total: int, label: str) -> None:
            prog.update(task, completed=done, total=total, description=label)

        cmp = do_compare(scenarios, agents=agents, days=days, seed=seed, replicates=replicates,
                         out=out, threads=threads, set=set_,
                         db=None if no_catalog else db, progress=progress)
    render_comparison(cmp, console)
    if cmp.out_dir is not None:
        console.print(f"comparison written to {cmp.out_dir}")
        if (cmp.out_dir / "report.html").exists():
            console.print(f"report: {cmp.out_dir / 'report.html'}")


def register(app: typer.Typer) -> None:
    """Add ``scslab compare`` to ``app``."""
    app.command()(compare)
