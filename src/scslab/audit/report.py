"""Rendering of audit results for the terminal, and the CLI's exit-code rule.

Used by ``scslab audit SCENARIO [--strict] [--json]``: the audit prints its
findings and exits 0 whenever it ran, whatever it found; with ``--strict`` it
exits 1 if any finding is a breach.
"""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scslab.audit.evaluate import AuditResult

__all__ = ["audit_exit_code", "print_audit", "render_audit_table", "render_audit_text"]

_STATUS_STYLE = {"breach": "bold red", "met": "green", "note": "yellow"}


def audit_exit_code(result: AuditResult, strict: bool) -> int:
    """Exit status for ``scslab audit``.

    Args:
        result: The audit result.
        strict: ``--strict`` was given.

    Returns:
        1 when ``strict`` and at least one finding is a breach, else 0 (an audit
        that ran is a success, whatever it found).
    """
    return 1 if strict and result.any_breach else 0


def _headline(result: AuditResult) -> str:
    s = result.summary()
    laws = ", ".join(result.laws) or "no laws"
    return (f"{s['flows']} flow(s) checked against {laws}: {s['breaches']} breach(es), "
            f"{s['met']} requirement(s) met, {s['notes']} note(s).")


def render_audit_table(result: AuditResult) -> Table:
    """The findings as a Rich table, notes included, the disclaimer as caption.

    Args:
        result: The audit result.

    Returns:
        A :class:`rich.table.Table`, one row per finding and per note.
    """
    table = Table(title="Data-flow privacy audit", caption=result.disclaimer,
                  caption_justify="left", show_lines=False, expand=False)
    for name, kw in (("Flow", {"no_wrap": True}), ("Law", {"no_wrap": True}),
                     ("Section", {}), ("Requirement", {}), ("Status", {"no_wrap": True}),
                     ("Why", {"ratio": 3})):
        table.add_column(name, **kw)
    for flow in result.flows:
        for note in (n for n in result.notes if n.flow == flow):
            table.add_row(Text(flow), "", "", "", Text("NOTE", style=_STATUS_STYLE["note"]),
                          Text(note.text))
        for f in (f for f in result.findings if f.flow == flow):
            label = "BREACH" if f.status == "breach" else "met"
            # Text, not str: reasons such as "[none]" must not be read as Rich markup
            table.add_row(Text(f.flow), Text(f.law), Text(f.section), Text(f.requirement),
                          Text(label, style=_STATUS_STYLE[f.status]), Text(f.why))
    return table


def render_audit_text(result: AuditResult, width: int = 100) -> str:
    """The result as plain text (no colour), for logs and pipes.

    Args:
        result: The audit result.
        width: Line width for wrapping the reasons.

    Returns:
        The text, starting and ending with the disclaimer.
    """
    wrap = textwrap.TextWrapper(width=width, initial_indent=" " * 11,
                                subsequent_indent=" " * 11)
    lines = ["Data-flow privacy audit", result.disclaimer, _headline(result)]
    for flow in result.flows:
        lines += ["", f"Flow: {flow}"]
        for a in (a for a in result.applicability if a.flow == flow):
            verdict = "applies" if a.applies else "does not apply"
            if a.applies and not a.governs_collection:
                verdict = "applies at the destination only"
            lines.append(f"  {a.law} {verdict}.")
        for n in (n for n in result.notes if n.flow == flow):
            lines += ["  NOTE", wrap.fill(n.text)]
        for f in (f for f in result.findings if f.flow == flow):
            label = "BREACH" if f.status == "breach" else "met"
            lines.append(f"  {label:<8} {f.law} {f.section}: {f.requirement}")
            lines.append(wrap.fill(f.why))
    lines += ["", result.disclaimer]
    return "\n".join(lines) + "\n"


def print_audit(result: AuditResult, *, as_json: bool = False,
                console: Console | None = None) -> None:
    """Print the result: JSON (``--json``) or the Rich table and a headline.

    Args:
        result: The audit result.
        as_json: Print JSON instead of the table.
        console: Where to print; a new stdout console when ``None``.
    """
    console = console or Console()
    if as_json:
        console.print_json(result.to_json())
        return
    console.print(render_audit_table(result))
    console.print(_headline(result))
