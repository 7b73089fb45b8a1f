"""Pilot tests: the History screen lists an example's events by name and shows word-level changes per field."""

from __future__ import annotations

from pathlib import Path

from textual.content import Content
from textual.widgets import DataTable, Static

from curator import records
from curator.store import examples
from curator.store.audit import record_event
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.history import HistoryScreen
from tests.tui.conftest import HOSTILE, wait_for, wait_screen


def cells(table: DataTable[object], column: int) -> list[str]:
    return [str(table.get_row_at(r)[column]) for r in range(table.row_count)]


def detail(screen: HistoryScreen) -> Content:
    shown = screen.query_one("#history-diff", Static).content
    assert isinstance(shown, Content)
    return shown


def styled(shown: Content, style: str) -> list[str]:
    """The runs of `shown` drawn with `style` (a span's style string, never parsed from the text)."""
    return [shown.plain[sp.start : sp.end] for sp in shown.spans if str(sp.style) == style]


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
        assert cells(table, 2) == ["imported", "edited title; back to review"]  # a story's title is content
        assert cells(table, 1) == ["ana", "ben"]
        heading = str(screen.query_one("#history-heading", Static).render())
        assert "ex_demo_001" in heading and "A new title" in heading

        # the newest event is highlighted first: the title edit, as words struck out and added
        await wait_for(pilot, lambda: "edited title" in detail(screen).plain, "the edit's changes")
        shown = detail(screen)
        first, *lines = shown.plain.splitlines()
        assert first.endswith("  ben  edited title; back to review  version 2")
        assert lines == [
            "approved content changed (title): status approved -> review",
            "",
            f"title: {old_title} A new title",
            "status: approved review",
        ]
        assert styled(shown, "strike red") == [old_title, "approved"]
        assert styled(shown, "bold green") == ["A new title", "review"]

        await pilot.press("up")  # the import: every field added, each one short line
        await wait_for(pilot, lambda: "imported" in detail(screen).plain.splitlines()[0], "the import")
        shown = detail(screen)
        assert f"title: {old_title}" in shown.plain.splitlines() and "A new title" not in shown.plain
        assert "status approved kept as given" in shown.plain  # the note
        assert all(len(line) < 200 for line in shown.plain.splitlines())

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HistoryScreen), "going back")


async def test_history_shows_a_one_word_edit_as_a_word_diff(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        db = app.workspace.db
        ex = examples.get(db, "ex_demo_003")
        words = (ex.text or "").split()
        assert len(words) > 100
        edited = (ex.text or "").replace(f" {words[60]} ", " unsealed ", 1)
        examples.update(db, ex.model_copy(update={"text": edited}), expected_version=ex.version, actor="ben")
        records.tag(db, ex.id, ["urgent"], expected_version=None, actor="ben")
        app.open_history(ex.id)
        screen = await wait_screen(pilot, HistoryScreen)
        table: DataTable[object] = screen.query_one("#history-events", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3, "the events")
        assert cells(table, 2) == ["imported", "edited text; back to review", "tagged urgent"]
        await wait_for(pilot, lambda: "tagged urgent" in detail(screen).plain, "the newest event")
        assert styled(detail(screen), "bold green") == ["urgent"]

        await pilot.press("up")
        await wait_for(pilot, lambda: "edited text" in detail(screen).plain.splitlines()[0], "the text edit")
        shown = detail(screen)
        (line,) = [t for t in shown.plain.splitlines() if t.startswith("text: ")]
        assert line == f"text: … {' '.join(words[56:60])} {words[60]} unsealed {' '.join(words[61:65])} …"
        assert styled(shown, "strike red") == [words[60], "approved"]
        assert styled(shown, "bold green") == ["unsealed", "review"]
        assert styled(shown, "bold") == ["edited text; back to review", "text", "status"]  # name and labels


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
            shown = detail(screen).plain.splitlines()
            assert f"title: {s}" in shown and f"author: {s}" in shown
            await pilot.click("#history-diff", offset=(2, 6))
            await pilot.click("#history-heading", offset=(20, 0))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HistoryScreen), "going back")
        assert app.is_running
        assert app.return_code is None


async def test_history_keeps_escape_bytes_and_huge_fields_inert_and_short(demo_db: Path) -> None:
    with open_workspace(demo_db) as ws:
        before = examples.get(ws.db, "ex_demo_001").canonical()
        after = {**before, "title": "[b]x[/b] \x1b[2J\x1b]0;owned\x07", "text": "[@click=app.quit]q[/] " + "y" * 5000}
        record_event(
            ws.db,
            actor="mallory",
            action="update",
            entity="example",
            entity_id="ex_demo_001",
            before=before,
            after=after,
        )
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        app.open_history("ex_demo_001")
        screen = await wait_screen(pilot, HistoryScreen)
        await wait_for(pilot, lambda: "edited title, text" in detail(screen).plain, "the hostile event")
        shown = detail(screen).plain
        assert "\x1b" not in shown and "\x07" not in shown
        assert "{+" not in shown  # styles, not the plain-text markers
        assert "[b]x[/b]" in shown and "␛[2J␛]0;owned␇" in shown and "[@click=app.quit]q[/]" in shown
        assert all(len(line) < 200 for line in shown.splitlines()), shown
        await pilot.click("#history-diff", offset=(10, 4))
        await pilot.click("#history-diff", offset=(10, 5))
        assert app.is_running and app.return_code is None
