"""``scslab audit``: a scenario's cross-border data flows against privacy laws."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.commands.common import console
from scslab.commands.options import SetOpt
from scslab.errors import ScslabError


def audit(scenario: Annotated[str, typer.Argument(help="Preset name or YAML file with "
                                                  "data_flows.")],
          strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any requirement "
                                               "is breached.")] = False,
          json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
          laws: Annotated[list[Path] | None, typer.Option("--laws", help="Extra law YAML "
                                                          "files.")] = None,
          set_: SetOpt = None) -> None:
    """Audit a scenario's cross-border data flows against privacy laws (not legal advice)."""
    from scslab.api import resolve
    from scslab.audit import LawFileError, audit_exit_code, audit_flows, load_laws
    from scslab.audit.report import print_audit

    sc = resolve(scenario, set=set_)
    if not sc.data_flows:
        raise ScslabError(f"{scenario} declares no data_flows to audit; try the preset "
                          "vancouver-restaurant")
    try:
        law_set = load_laws(laws) if laws else None
    except (LawFileError, OSError) as e:
        raise ScslabError(str(e)) from None
    result = audit_flows(list(sc.data_flows), law_set)
    print_audit(result, as_json=json_, console=console)
    code = audit_exit_code(result, strict)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``scslab audit`` to ``app``."""
    app.command()(audit)
