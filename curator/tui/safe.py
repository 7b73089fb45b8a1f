"""Turning data into display objects without ever parsing it as markup.

`escape()` is not enough in Textual 8 (DESIGN section 10): data goes into
`rich.text.Text` / `textual.content.Content` objects, never into markup strings.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content


def plain(text: str, style: str = "") -> Text:
    """A Rich Text that shows `text` literally (for Tree labels, DataTable cells)."""
    return Text(text, style=style, no_wrap=False, end="")


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
