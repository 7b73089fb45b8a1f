"""The key footer follows the focus: it shows the focused widget's keys, and moving between
widgets whose keys are the same keeps the keys it shows instead of rebuilding them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widget import Widget
from textual.widgets import Input

from curator.tui.app import CuratorApp
from curator.tui.widgets.footer import KeyFooter
from tests.tui.conftest import focus, wait_for
from tests.tui.test_examples_screen import open_examples


def footer_keys(app: CuratorApp) -> list[Widget]:
    return list(app.screen.query_one(KeyFooter).query("FooterKey"))


def descriptions(app: CuratorApp) -> list[str]:
    return [str(getattr(key, "description", "")) for key in footer_keys(app)]


async def test_the_footer_shows_the_focused_widgets_keys_and_keeps_them_while_they_stay_the_same(
    demo_db: Path,
) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_examples(pilot)
        await focus(pilot, screen.table)
        await wait_for(pilot, lambda: "Open" in descriptions(app), "the table's Open key")
        assert all(key.has_class("-compact") for key in footer_keys(app))

        await focus(pilot, screen.query_one("#f-tag", Input))
        await wait_for(pilot, lambda: "Open" not in descriptions(app), "the footer without Open")
        shown: list[Any] = footer_keys(app)
        assert "Search" in descriptions(app)  # a letter key like n (New) goes to the input

        # another input: the same keys, so the very same key widgets stay
        await focus(pilot, screen.query_one("#f-clause", Input))
        await pilot.pause(0.2)
        assert footer_keys(app) == shown
        assert all(key.is_attached for key in shown)

        await focus(pilot, screen.table)
        await wait_for(pilot, lambda: "Open" in descriptions(app), "the Open key back")
        assert all(key.has_class("-compact") for key in footer_keys(app))
