"""Parsing helpers for report tests (standard library only: BeautifulSoup is not a dependency)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path


class ReportPage(HTMLParser):
    """A report parsed with the standard library: elements, attributes, embedded JSON."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.raw = text
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.texts: list[str] = []
        self._script: dict[str, str] | None = None
        self._buf: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag == "script":
            self._script, self._buf = a, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buf)))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._buf.append(data)
        else:
            self.texts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def by_id(self, id_: str) -> dict[str, str] | None:
        for _, a in self.elements:
            if a.get("id") == id_:
                return a
        return None

    def ids(self, prefix: str = "") -> list[str]:
        return [a["id"] for _, a in self.elements if a.get("id", "").startswith(prefix)]

    def figures(self) -> dict[str, dict[str, str]]:
        """figure.chart elements by id."""
        return {a["id"]: a for tag, a in self.elements
                if tag == "figure" and "chart" in a.get("class", "").split()}

    def figure_json(self, fig_id: str) -> dict:
        for a, body in self.scripts:
            if a.get("id") == f"{fig_id}-data":
                assert a.get("type") == "application/json"
                return json.loads(body)
        raise KeyError(fig_id)

    def trace(self, fig_id: str, column: str, **meta) -> dict:
        """The trace of a figure whose meta names ``column`` (and matches ``meta``)."""
        for t in self.figure_json(fig_id)["data"]:
            m = t.get("meta") or {}
            if m.get("column") == column and all(m.get(k) == v for k, v in meta.items()):
                return t
        raise KeyError(f"{fig_id}: no trace for {column} {meta}")


def parse(path: Path) -> ReportPage:
    return ReportPage(Path(path).read_text(encoding="utf-8"))


class _Rows(HTMLParser):
    """The rows of one table (by the id of the table or of its wrapping div)."""

    def __init__(self, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id = table_id
        self.depth = 0  # > 0 inside the element with the id
        self.rows: list[tuple[dict[str, str], list[str]]] = []
        self.note: list[str] = []
        self._cell: list[str] | None = None
        self._in_note = False
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self.depth:
            self.depth += tag not in ("br", "col", "img", "input", "meta")
            if tag == "tr":
                self.rows.append((a, []))
            elif tag in ("td", "th"):
                self._cell = []
            elif tag == "p" and "note" in a.get("class", ""):
                self._in_note = True
        elif a.get("id") == self.table_id:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "p":
            self._in_note = False
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_note:
            self.note.append(data)


def table_rows(page: ReportPage, table_id: str) -> list[tuple[dict[str, str], list[str]]]:
    """(attributes, cell texts) of every row of a table, header row first."""
    p = _Rows(table_id)
    p.feed(page.raw)
    assert p.found, f"no table {table_id!r}"
    return p.rows


def table_note(page: ReportPage, table_id: str) -> str:
    """The note under a table."""
    p = _Rows(table_id)
    p.feed(page.raw)
    return " ".join("".join(p.note).split())
