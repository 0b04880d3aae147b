"""The ODD description as a standalone HTML page (no external resources)."""

from __future__ import annotations

from scslab.formatting import escape_html, render_markdown

__all__ = ["markdown_to_html"]

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b}
main{max-width:70rem;margin:0 auto;padding:1rem 2rem 4rem}
h1,h2,h3{line-height:1.25}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:13px;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f3f3f3}code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;
background:#f5f5f5;padding:0 .2em;border-radius:3px}
pre{background:#f5f5f5;padding:.8em;overflow-x:auto}pre code{padding:0}
blockquote{border-left:3px solid #ccc;margin-left:0;padding-left:1em;color:#444}
"""


def markdown_to_html(md: str, title: str = "") -> str:
    """A standalone HTML page (no external resources) from Markdown.

    The Markdown is rendered by markdown-it-py (CommonMark with pipe tables,
    ``scslab.formatting.render_markdown``); headings get ids to link to.
    """
    body = render_markdown(md)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape_html(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
            f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
