"""``scslab catalog add`` and ``scslab catalog query``: the DuckDB catalog of runs."""

from __future__ import annotations

from pathlib import Path

import typer

from scslab.commands.common import console
from scslab.commands.options import DbOpt
from scslab.errors import ScslabError


def catalog_add(run_dir: Path, db: DbOpt = Path("scslab.duckdb")) -> None:
    """Add (or refresh) a finished run directory in the catalog."""
    from scslab.catalog import record_run
    from scslab.results import load_run

    r = load_run(run_dir)
    run_id = r.summary.get("run_id") or run_dir.name
    record_run(db, run_id, run_dir, r.scenario.name, r.summary, r.daily)
    console.print(f"added {run_id} to {db}")


def catalog_query(sql: str, db: DbOpt = Path("scslab.duckdb")) -> None:
    """Run a SQL query on the catalog and print the result."""
    import duckdb

    from scslab.catalog import query

    if not db.exists():
        raise ScslabError(f"catalog {db} does not exist yet; run a scenario first")
    try:
        df = query(db, sql)
    except duckdb.Error as e:
        raise ScslabError(f"SQL error: {str(e).splitlines()[0]}") from None
    console.print(df.to_string(index=False))


def register(app: typer.Typer) -> None:
    """Add the ``scslab catalog`` group to ``app``."""
    catalog_app = typer.Typer(help="The DuckDB catalog of runs.", no_args_is_help=True)
    catalog_app.command("add")(catalog_add)
    catalog_app.command("query")(catalog_query)
    app.add_typer(catalog_app, name="catalog")
