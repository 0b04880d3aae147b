"""``scslab calibrate``: fit parameters to published figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``scslab calibrate`` to ``app``."""

    @app.command()
    def calibrate(
        scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")],
        target: Annotated[list[str], typer.Option(
            "--target", help="COLUMN[:AGG][@DATE]=VALUE, repeatable.")],
        param: Annotated[list[str], typer.Option("--param", help="PATH=LO:HI, repeatable.")],
        agents: Annotated[int | None, typer.Option("--agents", min=1)] = None,
        days: Annotated[int | None, typer.Option("--days", min=1)] = None,
        seed: Annotated[int | None, typer.Option("--seed", min=0)] = None,
        set_: Annotated[list[str] | None, typer.Option("--set")] = None,
        budget: Annotated[int, typer.Option("--budget", min=4, help="Candidate runs.")] = 120,
        replicates: Annotated[int, typer.Option("--replicates", min=2)] = 5,
        workers: Annotated[int | None, typer.Option("--workers", min=1)] = None,
        scheduler: Annotated[str | None, typer.Option("--scheduler")] = None,
        out: Annotated[Path, typer.Option("--out")] = Path("calibration"),
    ) -> None:
        """Fit free parameters so the scenario reproduces published figures."""
        from rich.console import Console
        from rich.progress import Progress

        from scslab.calibrate import calibrate as fit
        from scslab.calibrate import to_markdown

        console = Console()
        client = cluster = None
        if workers or scheduler:
            from scslab.extras import require

            require("distributed")
            from distributed import Client, LocalCluster

            if scheduler:
                client = Client(scheduler)
            else:
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
                client = Client(cluster)
        try:
            err = Console(stderr=True)
            with Progress(console=err, disable=not err.is_terminal) as prog:
                task = prog.add_task("calibrating", total=budget)

                def progress(done: int, total: int, obj: float) -> None:
                    prog.update(task, completed=min(done, total),
                                description=f"calibrating (objective {obj:.3g})")

                cal = fit(scenario, target, param, agents=agents, days=days, seed=seed,
                          set=set_, budget=budget, replicates=replicates, client=client,
                          out=out, progress=progress)
        finally:
            if client is not None:
                client.close()
            if cluster is not None:
                cluster.close()
        console.print(to_markdown(cal), markup=False)
        console.print(f"calibration written to {out}")
