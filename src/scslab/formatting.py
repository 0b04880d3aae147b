"""Text formatting shared by the report and the model description.

Numbers for people (``fmt``, ``pct``, ``approx``, ``people``: the report's style),
numbers written out exactly (``fmt_number``, ``fmt_value``: the reference and ODD
style), Markdown building blocks (``md_cell``, ``md_code``, ``md_table``), docstring
text, HTML escaping, and Markdown rendered to HTML by markdown-it-py.

>>> fmt(1234.5), pct(0.0123), approx(1.4e9), fmt_number(2e-05)
('1,234.5', '1.2%', '≈ 1.4 billion', '0.00002')
"""

from __future__ import annotations

import enum
import html
import inspect
import json
import math
import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = [
    "approx",
    "doc_paragraph",
    "escape_html",
    "first_sentence",
    "fmt",
    "fmt_exact",
    "fmt_number",
    "fmt_value",
    "human",
    "is_missing",
    "md_cell",
    "md_code",
    "md_table",
    "pct",
    "pct_spaced",
    "people",
    "plural",
    "render_markdown",
    "rst_to_md",
    "signed_pct",
    "slug",
    "value_text",
]


# --------------------------------------------------------------------------- numbers for people


def is_missing(x: Any) -> bool:
    """Whether ``x`` is a missing number (None or NaN)."""
    return x is None or (isinstance(x, float | np.floating) and math.isnan(x))


def fmt(x: Any, digits: int = 3) -> str:
    """A number for people: thousands separators, few digits, '–' for missing."""
    if is_missing(x):
        return "–"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return f"{int(x):,}"
    if isinstance(x, float | np.floating):
        x = float(x)
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        if abs(x) >= 100:
            return f"{x:,.1f}"
        if abs(x) >= 1:
            return f"{x:,.2f}"
        return f"{x:.{digits}g}"
    return str(x)


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage ('–' for missing); tiny values keep two significant digits."""
    if is_missing(x):
        return "–"
    x = float(x)
    s = f"{x:.{digits}%}"
    if x != 0 and float(s.rstrip("%")) == 0:
        s = f"{x * 100:.2g}%"
    return s


def approx(x: Any) -> str:
    """A scaled (approximate) count: three significant digits, millions and billions in words.

    >>> approx(933_333.3), approx(1.4e9), approx(12.0)
    ('≈ 933,000', '≈ 1.4 billion', '≈ 12')
    """
    if is_missing(x):
        return "–"
    x = float(x)
    a = abs(x)
    if a >= 1e9:
        return f"≈ {x / 1e9:,.3g} billion"
    if a >= 1e6:
        return f"≈ {x / 1e6:,.3g} million"
    if a == 0:
        return "0"
    r = round(x, 2 - int(math.floor(math.log10(a))))
    return f"≈ {fmt(float(r))}"


def people(x: Any) -> str:
    """A population size in words when round ('1.4 billion'), else with separators."""
    if is_missing(x):
        return "–"
    a = approx(x)
    if a.startswith("≈ ") and (" million" in a or " billion" in a):
        unit = 1e9 if a.endswith("billion") else 1e6
        if float(a[2:].split()[0].replace(",", "")) * unit == float(x):
            return a[2:]
    return fmt(x)


def signed_pct(x: Any) -> str:
    """A relative difference with its sign ('+4.2%', '−12%'); '–' for missing."""
    if is_missing(x):
        return "–"
    a = abs(float(x))
    s = f"{a * 100:,.0f}%" if a >= 10 else pct(a)
    return ("+" if float(x) > 0 else "−" if float(x) < 0 else "") + s


def slug(name: str) -> str:
    """A name as an HTML id fragment: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def plural(n: Any, one: str, many: str) -> str:
    """'1 act was' / '3 acts were': a count with the right noun form."""
    return f"{fmt(n)} {one if not is_missing(n) and float(n) == 1 else many}"


def human(name: str) -> str:
    """A code name for people: underscores as spaces."""
    return name.replace("_", " ")


def value_text(v: Any) -> str:
    """A scenario value as short text ('on'/'off', numbers formatted, lists joined)."""
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float | int):
        return fmt(v, 4)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {value_text(x)}" for k, x in v.items()) if v else "none"
    if isinstance(v, list | tuple):
        return ", ".join(value_text(x) for x in v) if v else "none"
    if hasattr(v, "value"):
        return str(v.value)
    return str(v)


# --------------------------------------------------------------------------- series helpers


# --------------------------------------------------------------------------- exact numbers


def fmt_exact(x: Any) -> str:
    """A number for prose: thousands separators for large integers, others exactly."""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer) or (isinstance(x, float | np.floating)
                                           and float(x).is_integer() and abs(float(x)) < 1e15):
        v = int(x)
        return f"{v:,}" if abs(v) >= 1000 else str(v)
    return fmt_number(float(x))


def pct_spaced(x: float, digits: int = 1) -> str:
    """A fraction as a percentage with a space before the sign (``12.5 %``), for prose."""
    return f"{100 * x:.{digits}f} %"


def md_cell(text: Any) -> str:
    """Text safe inside a Markdown table cell.

    Pipes are escaped everywhere; outside `code spans`, emphasis markers and
    angle brackets are escaped too (inside them they show as written).
    """
    s = str(text).replace("\n", " ").strip()
    parts = s.split("`")
    for k in range(0, len(parts), 2):  # even parts are outside code spans
        t = parts[k].replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
        parts[k] = t.replace("<", "&lt;").replace(">", "&gt;")
    if len(parts) % 2 == 0:  # an unpaired backtick: escape it
        parts[-2] += "\\`" + parts.pop()
    return "`".join(parts).replace("|", "\\|")


def md_code(text: Any) -> str:
    """Inline code that survives a table cell (backticks and pipes handled)."""
    s = str(text).replace("\n", " ").replace("|", "\\|")
    if "`" in s:
        return f"`` {s} ``"
    return f"`{s}`"


def fmt_number(x: float | int) -> str:
    """A number written out positionally, without float noise (``2e-05`` → ``0.00002``)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    xf = float(x)
    if math.isinf(xf):
        return "∞" if xf > 0 else "-∞"
    if xf == int(xf) and abs(xf) < 1e15:
        return str(int(xf))
    return format(xf, ".12g") if abs(xf) >= 1e-4 else _positional(xf)


def _positional(x: float) -> str:
    return np.format_float_positional(x, trim="-")


def fmt_value(v: Any, limit: int | None = None) -> str:
    """A value as it would be written in a scenario YAML (flow style, compact)."""
    if isinstance(v, BaseModel):
        v = v.model_dump(mode="json")
    if isinstance(v, enum.Enum):
        v = v.value
    if v is None:
        s = "null"
    elif isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, int | float):
        s = fmt_number(v)
    elif isinstance(v, str):
        s = json.dumps(v, ensure_ascii=False) if (v == "" or v.strip() != v
                                                  or any(c in v for c in ":#{}[],"))\
            else v
    elif isinstance(v, dict):
        s = "{" + ", ".join(f"{fmt_value(k)}: {fmt_value(x)}" for k, x in v.items()) + "}"
    elif isinstance(v, list | tuple):
        s = "[" + ", ".join(fmt_value(x) for x in v) + "]"
    else:
        s = str(v)
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s


# --------------------------------------------------------------------------- Markdown


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown pipe table (cells are written as given: escape them with ``md_cell``)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring, on one line ('' for none)."""
    if not doc:
        return ""
    text = " ".join(doc.strip().split())
    m = re.match(r"(.+?\.)(\s|$)", text)
    return m.group(1) if m else text


def doc_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph on one line."""
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def rst_to_md(text: str) -> str:
    """Docstring markup (reST roles, double backticks) as Markdown."""
    text = re.sub(r":(?:func|meth|data|class|attr|mod):`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


# --------------------------------------------------------------------------- HTML


def escape_html(text: Any) -> str:
    """Text safe inside HTML, quotes included."""
    return html.escape(str(text), quote=True)


def _heading_id(text: str) -> str:
    """A heading's anchor: lower case, punctuation dropped, spaces as hyphens."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    s = re.sub(r"[^\w\s-]", "", s).strip().lower()
    return re.sub(r"[-\s]+", "-", s.strip())


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    """Markdown (CommonMark and pipe tables) as an HTML fragment; headings get ids.

    Raw HTML in the source is escaped, not passed through. Each heading's id is its
    text in lower case with punctuation dropped and spaces as hyphens (``## 4. Design
    concepts`` → ``4-design-concepts``), numbered when it repeats.
    """
    md = _markdown()
    tokens = md.parse(text)
    seen: dict[str, int] = {}
    for k, tok in enumerate(tokens):
        if tok.type == "heading_open" and k + 1 < len(tokens):
            inline = tokens[k + 1]
            plain = "".join(c.content for c in inline.children or ()
                            if c.type in ("text", "code_inline"))
            base = _heading_id(plain) or "section"
            n = seen.get(base, 0)
            seen[base] = n + 1
            tok.attrSet("id", base if n == 0 else f"{base}_{n}")
    return md.renderer.render(tokens, md.options, {})
