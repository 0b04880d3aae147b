"""``scslab describe`` (an ODD description of a scenario) and ``scslab docs`` (references)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from scslab.errors import ScslabError

FORMATS = ("md", "html")


def _emit(text: str, out: Path | None, what: str) -> None:
    """Print ``text`` or write it atomically to ``out`` (and say where)."""
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from scslab.fileio import atomic_write_text

    if out.exists() and out.is_dir():
        raise ScslabError(f"--out {out} is a directory; give a file name")
    try:
        atomic_write_text(out, text)
    except OSError as e:
        raise ScslabError(f"cannot write {out}: {e.strerror or e}") from None
    typer.echo(f"{what} written to {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``describe`` and the ``docs`` group to the ``scslab`` command line."""

    @app.command()
    def describe(
        scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")],
        out: Annotated[Path | None, typer.Option(
            "--out", help="Write to this file instead of printing.")] = None,
        fmt: Annotated[str | None, typer.Option(
            "--format", help="md (default) or html; with --out, .html/.htm files default "
            "to html.")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="Override a scenario value: PATH=VALUE (YAML scalar), "
            "repeatable.")] = None,
    ) -> None:
        """Write the ODD description of a scenario, generated from the scenario and the code.

        ODD (Overview, Design concepts, Details) is the standard protocol for describing
        agent-based models (Grimm and others, 2006; second update 2020). Markdown by
        default; --format html writes a standalone page.
        """
        from scslab.describe import describe as make

        if fmt is None:
            fmt = "html" if out is not None and out.suffix.lower() in (".html", ".htm") else "md"
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise ScslabError(f"--format {fmt!r}: use md or html")
        text = make(scenario, set=set_, fmt=fmt, origin=scenario)
        _emit(text, out, "ODD description")

    docs_app = typer.Typer(help="Reference documentation generated from the code.",
                           no_args_is_help=True)
    app.add_typer(docs_app, name="docs")

    @docs_app.command("reference")
    def docs_reference(
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    ) -> None:
        """Print the reference: every scenario setting, the daily columns, summary.json keys."""
        from scslab.describe.reference import reference_md

        _emit(reference_md(), out, "reference")

    @docs_app.command("scenario")
    def docs_scenario(
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    ) -> None:
        """Print the scenario reference: one table per block of settings."""
        from scslab.describe.reference import scenario_reference_md

        _emit("# Scenario reference\n\n" + scenario_reference_md(heading_level=2), out,
              "scenario reference")

    @docs_app.command("columns")
    def docs_columns(
        scenario: Annotated[str, typer.Argument(help="Preset name or YAML file.")] = "national",
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="Override a scenario value: PATH=VALUE, repeatable.")] = None,
    ) -> None:
        """Print the dictionary of daily columns of a scenario."""
        from scslab.api import resolve
        from scslab.describe.reference import columns_md

        sc = resolve(scenario, set=set_)
        _emit("# Daily columns\n\n" + columns_md(sc, heading_level=2), out, "column dictionary")

    @docs_app.command("summary")
    def docs_summary(
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    ) -> None:
        """Print the keys of summary.json."""
        from scslab.describe.reference import summary_keys_md

        _emit("# summary.json\n\n" + summary_keys_md(), out, "summary keys")
