"""The self-contained HTML page that reports share (coverage, eval runs): escaping and one style.

No script, no external file: a report can be mailed or attached to a ticket and still render.
"""

from __future__ import annotations

STYLE = """\
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; }
td.id { text-align: left; font-family: monospace; }
td.ok { background: #d9f0d3; } td.some { background: #fff3c4; } td.none { background: #f8d7da; }
td.bad { background: #f8d7da; } td.unknown { background: #f4f4f4; }
"""


def escape(text: str) -> str:
    """Text as HTML that shows it literally, in element content and in quoted attributes."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def page(title: str, body: str, *, extra_style: str = "") -> str:
    """A whole document: `title` escaped here, `body` already HTML (its data escaped by the caller)."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
{STYLE}{extra_style}</style></head><body>
<h1>{escape(title)}</h1>
{body}
</body></html>
"""
