"""HTML report (placeholder until the report issue lands): writes nothing yet."""

from __future__ import annotations


def write_report(result) -> None:  # pragma: no cover - replaced by the report module
    return None
