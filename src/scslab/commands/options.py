"""Command-line options shared by several commands (declared once)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a scenario value: PATH=VALUE (YAML scalar), repeatable.")]
AgentsOpt = Annotated[int | None, typer.Option("--agents", min=1, help="Population size.")]
DaysOpt = Annotated[int | None, typer.Option("--days", min=1, help="Days to simulate.")]
SeedOpt = Annotated[int | None, typer.Option(
    "--seed", min=0, help="Random seed (replicate seeds are derived from it).")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", min=1, help="Numba threads per run (default: all in-process, 1 on Dask "
    "workers).")]
DbOpt = Annotated[Path, typer.Option("--db", help="DuckDB catalog file.")]
NoCatalogOpt = Annotated[bool, typer.Option("--no-catalog",
                                            help="Do not record in the catalog.")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Start a local Dask cluster of N worker processes.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Use a running Dask scheduler, e.g. tcp://HOST:8786.")]
