"""Pilot tests of the compact editor at the screenshot size (120x36): short fields take one row
each, the clauses one line of chips, the system prompt a few lines until it has the focus, so the
text being written starts near the top of the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea

from curator.models import Example
from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.editor import EditorScreen
from tests.tui.conftest import HOSTILE, focus, open_editor, wait_for, wait_screen

SIZE = (120, 36)
MANY_CLAUSES = ["honesty.1", "honesty.2", "honesty.3", "privacy.1", "privacy.2", "privacy.3", "care.1"]


def make_app(db: Path) -> App[None]:
    return CuratorApp(db, user="ana")


def inside_screen(app: App[Any], widget: Widget) -> bool:
    """The whole widget is on screen, between the header and the footer."""
    region = widget.region
    return region.height > 0 and region.y >= 1 and region.bottom <= app.size.height - 1


def row_label(widget: Widget) -> Label:
    parent = widget.parent
    while parent is not None and not parent.has_class("field-row"):
        parent = parent.parent
    assert isinstance(parent, Widget), "the field sits in a row"
    return parent.query_one(".row-label", Label)


@pytest.mark.parametrize("example_id", ["ex_demo_014", "ex_demo_026"])  # a draft; a rejected one with feedback
async def test_an_advice_dialogue_shows_its_first_turn_without_scrolling(demo_db: Path, example_id: str) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, example_id)
        assert editor.loaded is not None and editor.loaded.system  # a system prompt above the turns
        await pilot.pause()
        form = editor.query_one("#editor-form", Widget)
        assert form.scroll_y == 0
        first = editor.turn_editors()[0]
        assert inside_screen(app, first.content_area), first.content_area.region
        assert inside_screen(app, first.query_one(".turn-role", Static))


async def test_a_story_shows_its_text_in_the_top_half(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        await pilot.pause()
        text = editor.query_one("#text", TextArea)
        assert 1 <= text.region.y < SIZE[1] // 2, text.region


async def test_a_new_story_fits_the_screen_without_a_scrollbar(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await pilot.pause()
        form = editor.query_one("#editor-form", Widget)
        assert not form.show_vertical_scrollbar
        assert inside_screen(app, editor.query_one("#rationale", TextArea))


async def test_short_fields_take_one_row_each_and_focus_shows(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, "ex_demo_014")
        await pilot.pause()
        title, tags, group = (editor.query_one(f"#{name}", Input) for name in ("title", "tags", "group"))
        rows = [title, tags, group, editor.query_one("#clause-chips", Widget)]
        for widget in rows:
            label = row_label(widget)
            assert widget.region.height == 1, widget
            assert label.region.y == widget.region.y and label.region.right <= widget.region.x
        assert [w.region.y for w in rows] == list(range(rows[0].region.y, rows[0].region.y + 4))
        assert app.focused is title
        # the focused field and its label look different from the others
        assert title.styles.background != tags.styles.background
        assert row_label(title).styles.color != row_label(tags).styles.color
        await focus(pilot, tags)
        await pilot.pause()
        assert title.styles.background == group.styles.background != tags.styles.background


async def test_linked_clauses_are_one_line_of_chips_with_the_list_and_picker_a_tab_away(demo_db: Path) -> None:
    with open_workspace(demo_db) as ws:
        examples.insert_many(
            ws.db,
            [Example(id="ex_many", kind="story", title="Many", text="A story.", clauses=MANY_CLAUSES)],
            actor="ana",
        )
    app = make_app(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, "ex_many")
        await pilot.pause()
        chips = editor.query_one("#clause-chips", Widget)
        line = str(chips.render())
        assert chips.region.height == 1
        assert line.startswith("§honesty.1 ") and line.rstrip().endswith("more")
        shown = line.count("§")
        assert 1 <= shown < len(MANY_CLAUSES)
        assert f"+{len(MANY_CLAUSES) - shown} more" in line
        links = editor.query_one("#clauses", OptionList)
        assert links.region.height == 0  # the list opens only with the focus

        await focus(pilot, editor.query_one("#group", Input))
        await pilot.press("tab")  # into the list of links: it opens under the label, one per line
        await wait_for(pilot, lambda: app.focused is links, "the list's focus")
        await wait_for(pilot, lambda: links.region.height > 1, "the list to open")
        assert links.option_count == len(MANY_CLAUSES)
        hint = editor.query_one("#clause-hint", Static)
        assert hint.display and not chips.display  # the keys of the list stand where the chips were
        assert "delete unlinks" in str(hint.render())
        await pilot.press("delete")
        await wait_for(pilot, lambda: editor.clause_ids == MANY_CLAUSES[1:], "the unlink")

        await pilot.press("tab")  # the button that opens the clause picker, as ctrl+l does
        button = editor.query_one("#link-clauses", Button)
        await wait_for(pilot, lambda: app.focused is button, "the button's focus")
        await wait_for(pilot, lambda: links.region.height == 0, "the list to close")
        assert chips.display and not hint.display
        assert str(chips.render()).startswith("§honesty.2 ")
        await pilot.press("enter")
        picker = await wait_screen(pilot, ClausePicker)
        assert picker.chosen == MANY_CLAUSES[1:]
        await pilot.press("escape")
        await wait_screen(pilot, EditorScreen)


async def test_the_system_prompt_is_short_until_it_has_the_focus(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(pilot, "ex_demo_014")
        system = editor.query_one("#system", TextArea)
        await pilot.pause()
        assert 2 <= system.region.height <= 3
        await focus(pilot, system)
        await wait_for(pilot, lambda: system.region.height > 3, "the system prompt to grow")
        await focus(pilot, editor.query_one("#title", Input))
        await wait_for(pilot, lambda: system.region.height <= 3, "the system prompt to shrink")


def test_chips_fit_their_width_and_show_data_literally() -> None:
    from rich.cells import cell_len

    from curator.tui.widgets.chips import Chip, chip_line

    chips = [Chip("care.2", "Respect their autonomy. Offer information"), Chip("care.1", "Serve the real need")]
    chips += [Chip("gone", None), *(Chip(f"h{i}", h) for i, h in enumerate(HOSTILE))]
    for width in (12, 30, 50, 80, 200, 400):
        line = chip_line(chips, width).plain
        assert cell_len(line) <= width, (width, line)
        assert line.startswith("§care.2") or width < 14
        shown = line.count("§")
        assert shown == len(chips) or line.endswith(f"+{len(chips) - shown} more"), line
    everything = chip_line(chips, 400).plain
    assert "§gone orphaned" in everything
    for hostile in HOSTILE:  # titles are cut at 24 cells
        assert hostile[:20] in everything
    assert chip_line([], 80).plain.startswith("none linked")
