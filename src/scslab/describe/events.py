"""The "Event log columns" reference: every column and value of ``events.parquet``.

Generated from the one declaration of the event log's strings in ``scslab.eventlog``
(``COLUMN_DOCS``, ``KIND_DOCS``, ``LEDGER_DOCS``, ``DENIAL_REASON_DOCS``,
``LIST_REASON_DOCS``), so the README section (between the ``EVENT COLUMNS`` markers,
filled by ``scripts/gen_reference.py``) cannot drift from what a run writes.
"""

from __future__ import annotations

from scslab.formatting import md_cell, md_code

__all__ = ["event_columns_md"]


def event_columns_md(heading_level: int = 3) -> str:
    """Markdown: the columns of events.parquet, its kinds, ledgers and reasons."""
    from scslab.eventlog import (
        COLUMN_DOCS,
        DENIAL_REASON_DOCS,
        KIND_DOCS,
        LEDGER_DOCS,
        LIST_REASON_DOCS,
    )

    h = "#" * heading_level
    lines = [
        "`events.parquet` is the audit trail that `scslab explain` reads (`Result.events()` "
        "in Python): one row per event of a logged agent — every agent in small runs, a fixed "
        "hash-based sample in large ones (`output.event_log`). Text columns are "
        "dictionary-encoded strings (pandas reads them as categoricals); their values are "
        "listed below. Event logs written by older versions of scslab, which held numeric "
        "`kind`, `code` and `sensor` codes, are decoded into the same columns when read "
        "(`reason` of a list exit is then null: it was not recorded). Generated from "
        "`scslab.eventlog.KIND_DOCS`.",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
    ]
    for name, (typ, meaning) in COLUMN_DOCS.items():
        lines.append(f"| {md_code(name)} | {md_cell(typ)} | {md_cell(meaning)} |")
    lines += [
        "",
        f"{h} Event kinds",
        "",
        "What `agent`, `other`, `code` and `value` hold for each `kind`; `sensor`, `ledger` "
        "and `reason` are filled only where the last column says so (null elsewhere).",
        "",
        "| kind | meaning | `agent` | `other` | `code` | `value` | filled |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, d in KIND_DOCS.items():
        filled = ", ".join(c for c, f in (("sensor", d.sensor), ("ledger", d.ledger),
                                          ("reason", d.reason)) if f) or "–"
        lines.append(f"| {md_code(kind)} | {md_cell(d.meaning)} | {md_cell(d.agent)} | "
                     f"{md_cell(d.other)} | {md_cell(d.code)} | {md_cell(d.value)} | "
                     f"{md_cell(filled)} |")
    lines += [
        "",
        f"{h} Ledgers",
        "",
        "`ledger` of a list event (`list_enter`, `list_exit`, `expired`, `court_fulfilled`): "
        "which of the three ledgers kept per agent it concerns. Comparing them makes harms "
        "measurable: on the recorded list but not the twin's is a wrongful listing; on the "
        "twin's but not the own-conduct list is a listing through others.",
        "",
        "| ledger | meaning |",
        "|---|---|",
    ]
    lines += [f"| {md_code(k)} | {md_cell(v)} |" for k, v in LEDGER_DOCS.items()]
    lines += [
        "",
        f"{h} Reasons",
        "",
        "`reason` of a `denial` (why the agent was refused) and of a list event (why it went "
        "onto or left the list).",
        "",
        "| reason | of | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| {md_code(k)} | `denial` | {md_cell(v)} |"
              for k, v in DENIAL_REASON_DOCS.items()]
    lines += [f"| {md_code(k)} | list events | {md_cell(v)} |"
              for k, v in LIST_REASON_DOCS.items()]
    lines += [
        "",
        "`code` of an act is a behaviour and `sensor` a sensor of the run's scenario (the keys "
        "of its `behaviours` and `sensors` blocks); `code` of a denial is a sanction kind of "
        "`policy.sanctions`.",
    ]
    return "\n".join(lines) + "\n"
