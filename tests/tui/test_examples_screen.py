"""Pilot tests: the Examples screen lists, filters and pages examples; data is never markup."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static, TextArea

from curator.bootstrap import init_workspace
from curator.models import Example
from curator.store.db import open_workspace
from curator.store.examples import insert_many
from curator.tui.app import CuratorApp
from curator.tui.screens.editor import EditorScreen
from curator.tui.screens.examples import PAGE_SIZE, ExamplesScreen
from tests.tui.conftest import HOSTILE, open_editor, paste_into, stored, wait_for, wait_screen


async def open_examples(pilot: Pilot[Any]) -> ExamplesScreen:
    app = pilot.app
    await app.switch_mode("examples")
    await wait_for(pilot, lambda: isinstance(app.screen, ExamplesScreen), "the examples screen")
    screen = app.screen
    assert isinstance(screen, ExamplesScreen)
    await wait_loaded(pilot, screen)
    return screen


async def wait_loaded(pilot: Pilot[Any], screen: ExamplesScreen) -> None:
    def settled() -> bool:
        total = screen.total
        return not screen.fetching and total is not None and screen.table.row_count == min(total, 200)

    await wait_for(pilot, settled, "the list to load")
    await pilot.pause(0.25)  # a filter's debounced reload may still be pending right after mount
    await wait_for(pilot, settled, "the list to settle")


def status_text(screen: ExamplesScreen) -> str:
    return str(screen.query_one("#examples-status", Static).render())


def column(screen: ExamplesScreen, key: str) -> list[str]:
    table = screen.table
    index = table.get_column_index(key)
    return [table.get_cell_at(Coordinate(row, index)).plain for row in range(table.row_count)]


async def test_opens_with_the_demo_newest_first(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        assert screen.total == 48
        assert screen.table.row_count == 48
        assert "48 examples" in status_text(screen)
        assert "48 loaded" in status_text(screen)
        ids = column(screen, "id")
        with open_workspace(app.db_path) as ws:
            expected = [
                r[0] for r in ws.db.execute("SELECT id FROM examples ORDER BY updated_at DESC, id DESC").fetchall()
            ]
        assert ids == expected
        times = column(screen, "updated")
        assert times == sorted(times, reverse=True)


async def test_filter_by_kind_and_free_text(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        with open_workspace(app.db_path) as ws:
            advice = ws.db.execute("SELECT count(*) FROM examples WHERE kind = 'advice'").fetchone()[0]
        assert 0 < advice < 48
        screen.query_one("#f-kind", Select).value = "advice"
        await wait_for(pilot, lambda: screen.total == advice and not screen.fetching, "the kind filter")
        assert set(column(screen, "kind")) == {"advice"}
        assert screen.table.row_count == advice
        assert f"{advice} examples" in status_text(screen)
        assert "kind=advice" in status_text(screen)

        # `c` clears the filters, `/` focuses the free-text filter
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.total == 48 and not screen.fetching, "clearing the filters")
        await pilot.press("slash")
        text_input = screen.query_one("#f-text", Input)
        assert screen.focused is text_input
        await pilot.press(*"sandbagg")
        await wait_for(pilot, lambda: screen.total == 1 and not screen.fetching, "the free-text filter")
        assert column(screen, "title") == ["Sandbagging is a kind of lie"]
        await pilot.press("enter")  # applies at once and goes back to the list
        focused: object = screen.focused
        assert focused is screen.table


async def test_keyset_paging_loads_pages_on_demand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "big.db"
    init_workspace(db, demo=False, actor="ana").close()
    with open_workspace(db) as ws:
        insert_many(
            ws.db,
            (Example(kind="story", title=f"Generated story {i}", text=f"Story number {i}.") for i in range(1050)),
            actor="gen",
        )
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        assert screen.total == 1050
        table = screen.table
        assert table.row_count == PAGE_SIZE  # only the first page is read
        assert "1,050 examples" in status_text(screen)
        assert f"{PAGE_SIZE} loaded" in status_text(screen)

        await pilot.press("ctrl+end")  # the cursor to the last loaded row: the next page arrives
        await wait_for(pilot, lambda: table.row_count == 2 * PAGE_SIZE and not screen.fetching, "the second page")
        assert table.row_count < 1050

        for _ in range(20):  # keep going to the end: every record exactly once, newest first
            if screen.exhausted:
                break
            await pilot.press("ctrl+end")
            await wait_for(pilot, lambda: not screen.fetching, "the next page")
        assert screen.exhausted
        ids = column(screen, "id")
        assert len(ids) == len(set(ids)) == 1050
        with open_workspace(db) as ws:
            expected = [
                r[0] for r in ws.db.execute("SELECT id FROM examples ORDER BY updated_at DESC, id DESC").fetchall()
            ]
        assert ids == expected
        assert "all loaded" in status_text(screen)

        # Enter opens the editor on the highlighted row
        await pilot.press("ctrl+home")
        first = ids[0]
        if importlib.util.find_spec("curator.tui.screens.editor") is not None:
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "EditorScreen", "the editor")
        else:
            opened: list[str | None] = []
            monkeypatch.setattr(app, "open_editor", lambda example_id=None, **_: opened.append(example_id))
            await pilot.press("enter")
            await wait_for(pilot, lambda: opened == [first], "open_editor")


async def test_scrolling_near_the_end_loads_more(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    init_workspace(db, demo=False, actor="ana").close()
    with open_workspace(db) as ws:
        insert_many(ws.db, (Example(kind="story", title=f"S{i}", text=f"Body {i}.") for i in range(450)), actor="gen")
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        table = screen.table
        assert table.row_count == PAGE_SIZE
        table.scroll_to(y=table.max_scroll_y, animate=False)  # the mouse wheel, not the cursor
        await wait_for(pilot, lambda: table.row_count > PAGE_SIZE and not screen.fetching, "more rows")


async def test_keys_new_and_history(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        calls: list[tuple[str | None, str, tuple[str, ...]]] = []
        monkeypatch.setattr(
            app,
            "open_editor",
            lambda example_id=None, *, kind="story", clauses=(): calls.append((example_id, kind, clauses)),
        )
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "KindPicker", "the kind picker")
        await pilot.press("down", "enter")  # story, advice
        await wait_for(pilot, lambda: calls == [(None, "advice", ())], "a new advice example")

        # with a clause filter, the new example starts linked to that clause; escape cancels the picker
        screen.query_one("#f-clause", Input).value = "privacy.2"
        await wait_for(pilot, lambda: screen.filters.clause == "privacy.2" and not screen.fetching, "clause filter")
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "KindPicker", "the kind picker")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "the picker closed")
        assert len(calls) == 1
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "KindPicker", "the kind picker")
        await pilot.press("enter")
        await wait_for(pilot, lambda: calls[-1] == (None, "story", ("privacy.2",)), "a new linked story")
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.total == 48 and not screen.fetching, "the filters cleared")

        first = column(screen, "id")[0]
        await pilot.press("h")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HistoryScreen", "the history")
        assert getattr(app.screen, "example_id", None) == first
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the list")

        await pilot.press("f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "the help")
        keys = str(app.screen.query_one("#help-keys", Static).render())
        assert "New" in keys and "History" in keys and "Quit" in keys
        await pilot.press("q")
        await wait_for(pilot, lambda: app.screen is screen, "help closed")


async def test_refresh_after_a_change_elsewhere(demo_db: Path) -> None:
    from curator.store import examples

    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        ex = examples.get(app.workspace.db, "ex_demo_001")
        examples.update(
            app.workspace.db, ex.model_copy(update={"title": "Renamed"}), expected_version=ex.version, actor="ana"
        )
        order = column(screen, "id")
        index = order.index("ex_demo_001")
        assert index > 0
        screen.refresh_data()
        await wait_for(pilot, lambda: column(screen, "title")[index] == "Renamed", "the row updated in place")
        assert column(screen, "id") == order
        assert screen.total == 48


async def test_hostile_strings_are_shown_literally(hostile_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(hostile_db, user="ben")
    async with app.run_test(size=(140, 40)) as pilot:
        monkeypatch.setattr(app, "open_editor", lambda *a, **k: None)
        screen = await open_examples(pilot)
        table: DataTable[Any] = screen.table
        for i, s in enumerate(HOSTILE):
            row = table.get_row(f"hostile_{i}")
            assert row[table.get_column_index("title")].plain == s
            assert row[table.get_column_index("author")].plain == s
        # a hostile filter value, echoed in the status line
        screen.query_one("#f-tag", Input).value = "[bold]x"
        await wait_for(pilot, lambda: screen.total == 1 and not screen.fetching, "the tag filter")
        assert column(screen, "title") == ["[bold]x"]
        assert "tag=[bold]x" in status_text(screen)
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.total == 55 and not screen.fetching, "all rows again")
        # a hostile author in the author filter's options and its current value
        author: Select[str] = screen.query_one("#f-author", Select)
        await wait_for(pilot, lambda: HOSTILE[2] in [v for _, v in author._options], "the author choices")
        author.value = HOSTILE[2]
        await wait_for(pilot, lambda: screen.total == 1 and not screen.fetching, "the author filter")
        assert str(author.query_one("#label", Static).render()) == HOSTILE[2]
        await pilot.press("c")
        await wait_for(pilot, lambda: screen.total == 55 and not screen.fetching, "all rows again")
        # clicking and pressing on the rows does not run the embedded actions
        for row_index in range(len(HOSTILE)):
            await pilot.click("#examples-table", offset=(3, row_index + 1))
            await pilot.click("#examples-table", offset=(3, row_index + 1))
            await pilot.press("enter")
        await pilot.click("#examples-status", offset=(2, 0))
        await pilot.pause(0.1)
        assert app.is_running
        assert app.return_code is None


async def test_screen_actions_are_in_the_command_palette(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        screen.query_one("#f-kind", Select).value = "advice"
        await wait_for(pilot, lambda: screen.total is not None and screen.total < 48, "the kind filter")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "the command palette")
        await pilot.press(*"Examples: Clear filters")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen and screen.total == 48, "the filters cleared")


async def test_titles_cut_by_the_column_end_with_an_ellipsis(demo_db: Path) -> None:
    """Two titles that differ only after the cut must not look the same."""
    base = "A long title about honesty under pressure from an operator, part "
    with open_workspace(demo_db) as ws:
        insert_many(
            ws.db,
            [Example(id=f"ex_long_{n}", kind="story", title=base + n, text=f"Story {n}.") for n in ("one", "two")],
            actor="ana",
        )
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        table = screen.query_one(DataTable)
        lines = ["".join(seg.text for seg in table.render_line(y)) for y in range(1, table.row_count + 1)]
        shown = [line for line in lines if "A long title about honesty" in line]
        assert len(shown) == 2 and all("…" in line for line in shown), shown


def db_order(db: Path) -> list[str]:
    """Live examples in the list's sort order (newest update first)."""
    with open_workspace(db) as ws:
        rows = ws.db.execute(
            "SELECT id FROM examples WHERE id NOT IN (SELECT example_id FROM deleted_examples) "
            "ORDER BY updated_at DESC, id DESC"
        )
        return [r[0] for r in rows]


async def test_a_save_in_the_editor_keeps_the_order(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        order = column(screen, "id")
        saved_id = order[5]
        screen.table.move_cursor(row=5)
        await pilot.press("enter")
        editor = await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: bool(editor._baseline), "the form to be filled")
        title = editor.query_one("#title", Input)
        title.value = ""
        await paste_into(pilot, title, "Retitled in a batch")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: stored(demo_db, saved_id).title == "Retitled in a batch", "the save")
        await wait_for(pilot, lambda: column(screen, "title")[5] == "Retitled in a batch", "the row updated in place")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the list")
        assert column(screen, "id") == order
        assert screen.highlighted_id() == saved_id
        assert db_order(demo_db)[0] == saved_id  # what a reload would show first

        # a new example goes to the top (where newest-first puts it); the rest stay as they were
        editor = await open_editor(pilot, None, kind="story")
        await paste_into(pilot, editor.query_one("#title", Input), "A brand new story")
        await paste_into(pilot, editor.query_one("#text", TextArea), "Once, a new story.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        new_id = editor.loaded.id if editor.loaded is not None else ""
        await wait_for(pilot, lambda: column(screen, "id")[:1] == [new_id], "the new row at the top")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the list")
        assert column(screen, "id") == [new_id, *order]
        assert screen.highlighted_id() == saved_id
        assert screen.total == 49

        # r re-sorts
        await pilot.press("r")
        await wait_for(pilot, lambda: column(screen, "id") == db_order(demo_db), "the re-sorted list")
        assert column(screen, "id")[:2] == [new_id, saved_id]


async def test_a_deleted_row_disappears_without_moving_the_others(demo_db: Path) -> None:
    from curator.store import examples

    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_examples(pilot)
        order = column(screen, "id")
        screen.table.move_cursor(row=10)
        await wait_for(pilot, lambda: screen.highlighted_id() == order[10], "the cursor")
        with open_workspace(demo_db) as ws:  # above the cursor, and edited: both from another process
            examples.delete(ws.db, order[3], expected_version=None, actor="ana")
            ex = examples.get(ws.db, order[20])
            examples.update(ws.db, ex.model_copy(update={"title": "Edited"}), expected_version=ex.version, actor="ben")
        screen.refresh_data()
        await wait_for(pilot, lambda: order[3] not in column(screen, "id"), "the deleted row gone")
        assert column(screen, "id") == order[:3] + order[4:]
        assert column(screen, "title")[19] == "Edited"
        assert screen.highlighted_id() == order[10]
        await wait_for(pilot, lambda: screen.total == 47, "the count")
