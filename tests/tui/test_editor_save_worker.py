"""Saving while another process writes: the save waits in a worker, the editor stays usable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from textual.widgets import Input, Static

from curator.tui.app import CuratorApp
from tests.tui.conftest import focus, open_editor, paste_into, stored, wait_for


def meta(editor: object) -> str:
    return str(editor.query_one("#meta", Static).render())  # type: ignore[attr-defined]


async def test_a_save_during_another_writer_keeps_the_editor_usable(demo_db: Path) -> None:
    """A long import holds the write lock for its whole transaction: a save waits for it without
    freezing the form, says so, and stores what the form held when ctrl+s was pressed."""
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        title = editor.query_one("#title", Input)
        saved_title = "Renamed while an import runs"
        title.value = saved_title

        writer = sqlite3.connect(demo_db, isolation_level=None)  # what `curator import` does meanwhile
        writer.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "waiting for the database" in meta(editor), "the waiting notice")
            await focus(pilot, title)
            await pilot.press("end", "!")  # the form still takes keys while the save waits
            assert title.value == saved_title + "!"
            assert editor.saving
            await pilot.press("ctrl+s")  # a second save is refused, not queued behind the first
            assert stored(demo_db, "ex_demo_001").title != saved_title
        finally:
            writer.execute("COMMIT")
            writer.close()

        await wait_for(pilot, lambda: not editor.saving, "the save to finish")
        assert stored(demo_db, "ex_demo_001").title == saved_title
        assert "waiting" not in meta(editor)
        assert editor.dirty  # the "!" typed during the save is not stored, so the form still has changes


async def test_submit_for_review_saves_then_submits_in_one_worker(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await paste_into(pilot, editor.query_one("#title", Input), "A new story")
        await paste_into(pilot, editor.query_one("#text"), "Once, an assistant declined to bluff.")  # type: ignore[arg-type]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: editor.loaded is not None and editor.loaded.status == "review", "the submit")
        assert stored(demo_db, editor.loaded.id).status == "review"  # type: ignore[union-attr]
        assert not editor.dirty


async def test_after_a_save_the_form_shows_what_the_store_kept(demo_db: Path) -> None:
    """Records drop control characters: after saving, the form must not go on showing an ESC that
    exists nowhere (a re-open would show different text than the form did)."""
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        title = editor.query_one("#title", Input)
        title.value = "Red \x1b[31malert"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: stored(demo_db, "ex_demo_001").title == "Red [31malert", "the save")
        await wait_for(pilot, lambda: title.value == "Red [31malert", "the form to show the stored title")
        assert not editor.dirty
        assert any("stored differently from the form (title)" in n.message for n in app._notifications)
