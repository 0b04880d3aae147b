"""``scslab bench``: run the benchmark suite in ``benchmarks/`` of a checkout."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Annotated

import typer

from scslab.errors import ScslabError


def _bench_dir() -> Path:
    for base in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[3]):
        cand = base / "benchmarks" / "run.py"
        if cand.exists():
            return cand.parent
    raise ScslabError("benchmarks/run.py not found: run `scslab bench` from a scslab checkout")


def register(app: typer.Typer) -> None:
    """Add ``scslab bench`` to ``app``."""

    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def bench(ctx: typer.Context,
              quick: Annotated[bool, typer.Option("--quick", help="Small sizes.")] = False
              ) -> None:
        """Benchmark RM1 against Mesa, memory bandwidth and national at scale."""
        from scslab.extras import require

        require("mesa")
        d = _bench_dir()
        sys.path.insert(0, str(d))
        argv = (["--quick"] if quick else []) + list(ctx.args)
        mod = runpy.run_path(str(d / "run.py"), run_name="scslab_bench")
        mod["main"](argv)
