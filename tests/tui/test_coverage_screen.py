"""Pilot: the coverage heat map, drill-down and 'write for this gap'."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from curator.bootstrap import init_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.coverage import CoverageScreen


async def test_heat_map_sort_drill_down_and_write(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    app = CuratorApp(db, user="ana")
    opened: list[tuple[object, ...]] = []
    app.open_editor = lambda *a, **k: opened.append((a, k))  # type: ignore[method-assign]
    async with app.run_test(size=(160, 50)) as pilot:
        await app.switch_mode("coverage")
        screen = app.screen
        assert isinstance(screen, CoverageScreen)
        heat = screen.query_one("#heat", DataTable)
        for _ in range(100):
            await pilot.pause(0.02)
            if heat.row_count:
                break
        assert heat.row_count == 45  # every clause of the demo constitution
        assert "Honesty" in str(screen.query_one("#chart", Static).render())
        await pilot.press("g")  # largest gap first
        first = heat.coordinate_to_cell_key((0, 0)).row_key.value
        report = screen.report
        assert report is not None
        assert first in report.gaps
        # drill down into the story cell of the root (every story example)
        await pilot.press("o")
        heat.move_cursor(row=0, column=1)
        drill = screen.query_one("#drill", DataTable)
        for _ in range(100):
            await pilot.pause(0.02)
            if drill.row_count:
                break
        assert drill.row_count == 11  # the demo's story examples linked somewhere
        await pilot.press("w")
        assert opened and opened[-1][1]["clauses"] == (heat.coordinate_to_cell_key((0, 1)).row_key.value,)
        assert opened[-1][1]["kind"] == "story"


def test_section_bars_fit_the_width_they_are_given() -> None:
    from curator.tui.screens.coverage import bars

    rows = [("a", "Supporting Human Oversight and Correction", 4983), ("b", "Privacy", 120)]
    for width in (30, 52, 80):
        lines = bars(rows, width=width).plain.splitlines()
        assert len(lines) == 2 and all(len(line) <= width for line in lines)
        assert lines[0].endswith(" 4,983") and lines[1].endswith(" 120")
