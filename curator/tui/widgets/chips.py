"""The clauses linked to an example as one line of chips (`§care.2 Respect their autonomy`), as
many as fit the line, then "+3 more": the editor's clause field takes one line, not a list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

TITLE_WIDTHS = (24, 16, 10)
"""Cells of a clause title in a chip, tried in turn until every chip fits the line."""
GAP = "  "
NONE_LINKED = "none linked: ctrl+l to link clauses"


@dataclass(frozen=True)
class Chip:
    """One linked clause: its id and title (None: not in the current constitution)."""

    id: str
    title: str | None


def cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, ending with "…" when it was longer."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return set_cell_size(text, width - 1).rstrip() + "…"


def more(count: int) -> str:
    return f"+{count} more"


Part = tuple[str, str]


def _chip(chip: Chip, title_width: int | None) -> list[Part]:
    """`§id title`; an orphaned link says so; `title_width` None: the id alone."""
    if chip.title is None:
        return [("§" + chip.id, "bold $error"), (" orphaned", "italic $error")]
    if title_width is None:
        return [("§" + chip.id, "bold")]
    return [("§" + chip.id, "bold"), (" " + cut(chip.title, title_width), "")]


def _width(parts: Sequence[Part]) -> int:
    return sum(cell_len(text) for text, _ in parts)


def _joined(chips: Sequence[list[Part]]) -> list[Part]:
    out: list[Part] = []
    for chip in chips:
        out += ([(GAP, "")] if out else []) + chip
    return out


def _squeezed(chip: Chip, room: int) -> list[Part]:
    """The chip in `room` cells: its title cut, or its id alone, cut."""
    ident, *title = _chip(chip, None if chip.title is None else max(1, room - cell_len("§" + chip.id) - 1))
    if title and cell_len(ident[0]) + 2 < room:
        return [ident, (cut(title[0][0], room - cell_len(ident[0])), title[0][1])]
    return [(cut(ident[0], max(1, room)), ident[1])]


def chip_parts(chips: Sequence[Chip], width: int) -> list[Part]:
    """The chips in `width` cells: every one, with its title cut shorter and shorter, else as many
    as fit then "+N more". Styled pieces of data, never markup."""
    if not chips:
        return [(NONE_LINKED, "italic $warning")]
    for title_width in TITLE_WIDTHS:
        line = _joined([_chip(chip, title_width) for chip in chips])
        if _width(line) <= width:
            return line
    # as many as fit, with the longer titles unless shorter ones let more chips in
    shown = max((_greedy(chips, width, title_width) for title_width in TITLE_WIDTHS[1:]), key=len)
    rest = len(chips) - len(shown)
    return [*_joined(shown), *([(GAP, ""), (more(rest), "italic")] if rest else [])]


def _greedy(chips: Sequence[Chip], width: int, title_width: int) -> list[list[Part]]:
    """The first chips that fit beside the count of the others (at least the first, squeezed)."""
    shown: list[list[Part]] = []
    for index, chip in enumerate(chips):
        others = len(chips) - index - 1
        tail = _width([(GAP, ""), (more(others), "")]) if others else 0
        piece = _chip(chip, title_width)
        room = width - _width(_joined(shown)) - (len(GAP) if shown else 0) - tail
        if _width(piece) > room:
            if not shown:
                shown.append(_squeezed(chip, room))
            break
        shown.append(piece)
    return shown


def chip_line(chips: Sequence[Chip], width: int) -> Content:
    return Content.assemble(*chip_parts(chips, width))


class ClauseChips(Widget):
    """The linked clauses on one line (the editor's LinkList shows them one per line when focused)."""

    DEFAULT_CSS = """
    ClauseChips {
        height: 1;
        width: 1fr;
    }
    """

    chips: reactive[tuple[Chip, ...]] = reactive(())

    def render(self) -> Content:
        return chip_line(self.chips, self.size.width)
