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
