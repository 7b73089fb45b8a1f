"""Turning data into display objects without ever parsing it as markup.

`escape()` is not enough in Textual 8 (some hostile strings still act as markup; tests/tui/test_safe.py
lists them): data goes into `rich.text.Text` / `textual.content.Content` objects, never into markup
strings.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content


def plain(text: str, style: str = "") -> Text:
    """A Rich Text that shows `text` literally (for Tree labels, DataTable cells)."""
    return Text(text, style=style, no_wrap=False, end="")


def clipped(text: str, style: str = "") -> Text:
    """Like `plain`, for a fixed-width table cell: one line, cut with "…" (two titles that differ only
    after the cut must not look identical)."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")


def content(text: str) -> Content:
    """A Textual Content that shows `text` literally (for Static, Label)."""
    return Content(text)


def join(*parts: tuple[str, str] | str) -> Text:
    """Literal pieces, each optionally styled: join(("3/5", "bold"), " honesty")."""
    out = Text(end="")
    for part in parts:
        if isinstance(part, tuple):
            out.append(part[0], style=part[1])
        else:
            out.append(part)
    return out


def highlight(text: str, query: str, style: str = "bold reverse") -> Content:
    """Fuzzy-match highlighting that never parses `text` as markup.

    Textual's `Matcher.highlight` runs `Content.from_markup` on the candidate, so data shown in
    the command palette goes through here instead.
    """
    from textual.fuzzy import FuzzySearch

    out = Content(text)
    if not query:
        return out
    score, offsets = FuzzySearch().match(query, text)
    if not score:
        return out
    for offset in offsets:
        if not text[offset].isspace():
            out = out.stylize(style, offset, offset + 1)
    return out


def diff_style(line: str) -> str:
    """A unified-diff line's style: added lines green, removed red, file headers bold, hunk headers cyan."""
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("@@"):
        return "cyan"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return ""
