"""``scslab report RUN [--out FILE]``: write the HTML report of a run or a comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command("report")
    def report(run: Annotated[Path, typer.Argument(
                   help="A run directory (scslab run --out) or a comparison directory "
                        "(scslab compare --out).")],
               out: Annotated[Path | None, typer.Option(
                   "--out", help="HTML file to write (default: RUN/report.html).")] = None
               ) -> None:
        """Write a self-contained HTML report (works offline) of a run or a comparison."""
        from rich.console import Console

        from scslab.report import build_report

        path = build_report(run, out)
        size = path.stat().st_size / 2**20
        Console().print(f"report: {path} ({size:.1f} MiB, opens offline in any browser)",
                        highlight=False, soft_wrap=True)
