"""Pilot: the coverage heat map, drill-down and 'write for this gap'."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from curator.bootstrap import init_workspace
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.coverage import CoverageScreen
from tests.helpers import add_eval_run
from tests.tui.conftest import wait_for


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
        await wait_for(pilot, lambda: heat.row_count > 0, "the heat map")
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
        # the demo's story examples linked somewhere (the root's all-kinds list may show first)
        await wait_for(pilot, lambda: drill.row_count == 11, "the story examples of the root")
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


async def test_violations_column_and_priority_order(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    with open_workspace(db) as ws:
        run_id = add_eval_run(
            ws.db,
            tmp_path / "evals",
            {
                "care.2": ["violates"] * 3 + ["complies"] * 2,  # 3/5 60%, 4 approved
                "privacy.2": ["violates"] * 3 + ["complies"] * 2,  # the same rate, 4 approved: document order
                "harm.4": ["violates"],  # 1/1: a high rate on one answer ranks below 3 of 5
                "honesty.1": ["complies"],
            },
        )
    app = CuratorApp(db, user="ana")
    opened: list[tuple[object, ...]] = []
    app.open_editor = lambda *a, **k: opened.append((a, k))  # type: ignore[method-assign]
    async with app.run_test(size=(160, 50)) as pilot:
        await app.switch_mode("coverage")
        screen = app.screen
        assert isinstance(screen, CoverageScreen)
        heat = screen.query_one("#heat", DataTable)
        await wait_for(pilot, lambda: heat.row_count > 0, "the heat map")
        assert "violations" in heat.columns
        assert heat.get_cell("care.2", "violations").plain == "3/5 60%"
        assert heat.get_cell("care", "violations").plain == ""  # not rolled up
        assert screen.sub_title == f"demo.db · ana · eval {run_id} (probe, model-a)"  # shown in the header

        def order() -> list[str | None]:
            return [heat.coordinate_to_cell_key((i, 0)).row_key.value for i in range(heat.row_count)]

        assert order()[0] == "a-working-constitution-for-a-trustworthy-assistant"
        await pilot.press("p")
        assert order()[:4] == ["privacy.2", "care.2", "harm.4", "honesty.1"]
        assert order()[4] == "care.4"  # then the gaps, largest first
        heat.move_cursor(row=0, column=2)  # the advice cell of the most violated clause
        await pilot.press("w")
        assert opened[-1][1] == {"kind": "advice", "clauses": ("privacy.2",)}
        await pilot.press("o")
        assert order()[0] == "a-working-constitution-for-a-trustworthy-assistant"
