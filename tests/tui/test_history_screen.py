"""Pilot tests: the History screen lists an example's events and shows readable diffs."""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Static

from curator.store import examples
from curator.tui.app import CuratorApp
from curator.tui.screens.history import HistoryScreen
from tests.tui.conftest import HOSTILE, wait_for


def cells(table: DataTable[object], column: int) -> list[str]:
    return [str(table.get_row_at(r)[column]) for r in range(table.row_count)]


async def test_history_lists_events_and_diffs(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        ex = examples.get(app.workspace.db, "ex_demo_001")
        old_title = ex.title
        examples.update(
            app.workspace.db, ex.model_copy(update={"title": "A new title"}), expected_version=ex.version, actor="ben"
        )
        app.open_history("ex_demo_001")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen) and bool(app.screen.entries), "the history")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table: DataTable[object] = screen.query_one("#history-events", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2, "the events")
        assert cells(table, 2) == ["import", "update"]
        assert cells(table, 1) == ["ana", "ben"]
        heading = str(screen.query_one("#history-heading", Static).render())
        assert "ex_demo_001" in heading and "A new title" in heading

        diff = screen.query_one("#history-diff", Static)
        # the newest event is highlighted first: the update
        # (not `"update" in ...`: the import's diff holds "updated_at" too)
        await wait_for(pilot, lambda: '+  "title": "A new title",' in str(diff.render()), "the update's diff")
        text = str(diff.render())
        assert f'-  "title": "{old_title}",' in text
        assert '+  "title": "A new title",' in text
        # the styles come from the first character, not from markup
        shown = diff.content
        assert isinstance(shown, Text)
        added = '+  "title": "A new title",'
        start = shown.plain.index(added)
        assert any(sp.style == "green" and sp.start <= start < sp.end for sp in shown.spans)
        removed = shown.plain.index(f'-  "title": "{old_title}",')
        assert any(sp.style == "red" and sp.start <= removed < sp.end for sp in shown.spans)

        await pilot.press("up")  # the import: every line added
        await wait_for(pilot, lambda: f'+  "title": "{old_title}",' in str(diff.render()), "the import's diff")
        assert "A new title" not in str(diff.render())

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HistoryScreen), "going back")


async def test_history_of_hostile_strings(hostile_db: Path) -> None:
    app = CuratorApp(hostile_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        for i, s in enumerate(HOSTILE):
            app.open_history(f"hostile_{i}")
            await wait_for(
                pilot, lambda: isinstance(app.screen, HistoryScreen) and bool(app.screen.entries), "the history screen"
            )
            screen = app.screen
            assert isinstance(screen, HistoryScreen)
            table: DataTable[object] = screen.query_one("#history-events", DataTable)
            assert cells(table, 1) == ["mallory"]
            assert str(screen.query_one("#history-heading", Static).render()).endswith("  " + s)
            text = str(screen.query_one("#history-diff", Static).render())
            assert f'+  "title": {json.dumps(s, ensure_ascii=False)},' in text
            assert f'+  "author": {json.dumps(s, ensure_ascii=False)},' in text
            await pilot.click("#history-diff", offset=(2, 6))
            await pilot.click("#history-heading", offset=(20, 0))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HistoryScreen), "going back")
        assert app.is_running
        assert app.return_code is None
