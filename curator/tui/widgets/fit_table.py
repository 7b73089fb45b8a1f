"""A DataTable that never scrolls sideways: one column takes the width the others leave."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class FitTable(DataTable[Text]):
    """Rows end at the pane's edge: the `flex` column (a title, cut with "…" by `safe.clipped`)
    is as wide as the pane leaves it, at least `flex_min` and at most `flex_max` (None: no
    limit). A sideways scrollbar under a list only hid its last columns, and at 120 columns it
    looked like a stray block under the rows.

    When even `flex_min` does not fit, the last columns are cut at the edge (no scrollbar either).
    """

    DEFAULT_CSS = """
    FitTable {
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *args: Any, flex: str, flex_min: int = 10, flex_max: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flex = flex
        self.flex_min = flex_min
        self.flex_max = flex_max

    def _fit(self) -> bool:
        """Size the flex column to the room left; True when its width changed."""
        column = self.columns.get(self.flex)  # type: ignore[call-overload]
        room = self.scrollable_content_region.width
        if column is None or room <= 0:
            return False
        others = sum(c.get_render_width(self) for c in self.columns.values() if c is not column)
        width = room - others - self._row_label_column_width - 2 * self.cell_padding
        width = max(self.flex_min, width if self.flex_max is None else min(width, self.flex_max))
        if not column.auto_width and column.width == width:
            return False
        column.auto_width = False
        column.width = width
        return True

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # the other columns are measured here (as rows arrive); the flex column follows them
        super()._update_dimensions(new_rows)
        if self._fit():
            self._clear_caches()
            super()._update_dimensions([])

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        if self._fit():
            self._clear_caches()
            super()._update_dimensions([])
