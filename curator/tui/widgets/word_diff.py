"""Word diffs (`curator.worddiff`) as Textual Content: deleted words struck through in red, inserted
ones in green, unchanged words plain. Styles are given as spans, never parsed from the text, so the
words of any record show literally."""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content

from curator.worddiff import ELLIPSIS, Segment, WordDiff

DELETED = "strike red"
INSERTED = "bold green"
NOTE = "dim"

_STYLES = {"delete": DELETED, "insert": INSERTED, "equal": ""}


def segments_content(segments: Iterable[Segment]) -> Content:
    """The segments separated by spaces, each styled by what happened to its words."""
    parts: list[str | tuple[str, str]] = []
    for segment in segments:
        if parts:
            parts.append(" ")
        style = _STYLES[segment.op]
        parts.append((segment.text, style) if style else segment.text)
    return Content.assemble(*parts)


def word_diff_content(diff: WordDiff) -> Content:
    """A whole word diff on one line, with a dim note when it has more changes than it shows."""
    shown = segments_content(diff.segments)
    if diff.truncated:
        more = diff.changes - diff.limit
        shown = Content.assemble(shown, (f" {ELLIPSIS} ({more} more change{'s' if more > 1 else ''})", NOTE))
    return shown
