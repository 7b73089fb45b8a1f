"""Pilot tests of what fits on screen: the README's screenshot size (120x36) and an 80x24 terminal.

On every main screen the footer's keys fit the width (none cut off or pushed off screen), no input
is too narrow to read what it holds, and the list panes show no horizontal scrollbar (their rows
are cut with an ellipsis instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Tree

from curator.tui.app import CuratorApp
from curator.tui.screens.constitution import ConstitutionScreen
from curator.tui.screens.coverage import CoverageScreen
from curator.tui.screens.evals import EvalsScreen
from curator.tui.screens.examples import ExamplesScreen
from curator.tui.screens.export import ExportScreen
from curator.tui.screens.review import ReviewScreen
from tests.helpers import add_eval_data
from tests.tui.conftest import open_editor, wait_for

SCREENSHOT = (120, 36)
SMALL = (80, 24)
MIN_INPUT = 12
"""Columns an input needs to show a tag, a clause id or a path readably."""

LIST_PANES: dict[str, tuple[str, ...]] = {
    "constitution": ("#clause-tree", "#clause-links"),
    "examples": ("#examples-table",),
    "review": ("#review-table",),
    "coverage": ("#heat", "#drill"),
    "export": (),
    "evals": ("#suites", "#runs", "#clauses", "#responses"),
    "editor": ("#dup-panel",),
}


def make_app(db: Path) -> CuratorApp:
    return CuratorApp(db, user="erin")  # a lead who wrote none of the demo: the review queue is full


def footer_problems(app: App[Any]) -> list[str]:
    """Footer parts that do not fit: past the screen's edge, under the palette key, or too many."""
    width = app.size.width
    footer = app.screen.query_one(Footer)
    parts = [w for w in footer.query("FooterKey, FooterLabel") if w.display]
    palette = [w for w in parts if w.has_class("-command-palette")]
    edge = palette[0].region.x if palette else width
    problems = []
    for part in parts:
        limit = width if part in palette else edge
        if part.region.width < part.outer_size.width - part.styles.margin.width or part.region.right > limit:
            problems.append(f"footer key {getattr(part, 'key', part)!r} at {part.region} does not fit in {limit}")
    used = sum(part.region.width + part.styles.margin.width for part in parts)
    if used > width:
        problems.append(f"the footer needs {used} columns of {width}")
    return problems


def narrow_inputs(app: App[Any]) -> list[str]:
    return [
        f"input #{w.id} is {w.region.width} columns wide"
        for w in app.screen.query(Input)
        if w.display and w.region.width < MIN_INPUT
    ]


def scrolled_panes(app: App[Any], selectors: tuple[str, ...]) -> list[str]:
    problems = []
    for selector in selectors:
        pane = app.screen.query_one(selector, Widget)
        for widget in [pane, *pane.query("*")]:
            if widget.display and widget.show_horizontal_scrollbar:
                problems.append(f"{selector}: {type(widget).__name__}#{widget.id} shows a horizontal scrollbar")
    return problems


def layout_problems(app: App[Any], name: str) -> list[str]:
    found = footer_problems(app) + narrow_inputs(app) + scrolled_panes(app, LIST_PANES[name])
    return [f"{name} at {app.size.width}x{app.size.height}: {p}" for p in found]


async def settle(pilot: Pilot[Any]) -> None:
    """Until no worker runs and nothing is loading (data arrived, tables measured)."""
    app = pilot.app

    def calm() -> bool:
        return not any(w.is_running for w in app.workers) and not any(
            getattr(widget, "loading", False) for widget in app.screen.query("*")
        )

    await wait_for(pilot, calm, "the screen to load", timeout=20.0)
    await pilot.pause(0.2)
    await wait_for(pilot, calm, "the screen to settle", timeout=20.0)


async def visit_main_screens(pilot: Pilot[Any]) -> list[str]:
    """Every main screen in turn, each with its data loaded; the layout problems found."""
    app = pilot.app
    problems: list[str] = []
    screens = [
        ("constitution", ConstitutionScreen),
        ("examples", ExamplesScreen),
        ("review", ReviewScreen),
        ("coverage", CoverageScreen),
        ("export", ExportScreen),
        ("evals", EvalsScreen),
    ]
    for name, kind in screens:
        await app.switch_mode(name)
        await wait_for(pilot, lambda kind=kind: isinstance(app.screen, kind), name)  # type: ignore[misc]
        await settle(pilot)
        if name == "review":
            table = app.screen.query_one("#review-table", DataTable)
            await wait_for(pilot, lambda table=table: table.row_count > 0, "the review queue")  # type: ignore[misc]
        if name == "evals":
            table = app.screen.query_one("#clauses", DataTable)
            await wait_for(pilot, lambda table=table: table.row_count > 0, "the eval report")  # type: ignore[misc]
        problems += layout_problems(app, name)
    await app.switch_mode("examples")
    await open_editor(pilot, "ex_demo_014")  # an advice dialogue with a system prompt
    await settle(pilot)
    problems += layout_problems(app, "editor")
    return problems


@pytest.mark.parametrize("size", [SCREENSHOT, SMALL], ids=["120x36", "80x24"])
async def test_every_main_screen_fits(demo_db: Path, tmp_path: Path, size: tuple[int, int]) -> None:
    add_eval_data(demo_db, tmp_path)
    app = make_app(demo_db)
    async with app.run_test(size=size) as pilot:
        problems = await visit_main_screens(pilot)
    assert not problems, "\n".join(problems)


def tree_lines(tree: Tree[Any]) -> list[str]:
    """The tree's visible lines as a person reads them."""
    return [tree.render_line(y).text.strip() for y in range(tree.scrollable_content_region.height)]


async def test_the_constitution_title_is_shown_once(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=SCREENSHOT) as pilot:
        screen = app.screen
        assert isinstance(screen, ConstitutionScreen)
        await wait_for(pilot, lambda: bool(screen.nodes), "the clause tree")
        await settle(pilot)
        tree = screen.query_one("#clause-tree", Tree)
        tree.scroll_home(animate=False)
        await pilot.pause()
        lines = [line for line in tree_lines(tree) if line]
        title = "A Working Constitution"
        assert title in lines[0]
        assert [line for line in lines if title in line] == [lines[0]]
        assert "Honesty" in lines[1]  # the first section follows the title directly


@pytest.mark.parametrize("size", [SCREENSHOT, SMALL], ids=["120x36", "80x24"])
async def test_the_suite_screen_and_the_prompt_form_fit(demo_db: Path, tmp_path: Path, size: tuple[int, int]) -> None:
    from curator.tui.screens.eval_suite import PromptForm, SuiteScreen

    add_eval_data(demo_db, tmp_path)
    app = make_app(demo_db)
    async with app.run_test(size=size) as pilot:
        await app.switch_mode("evals")
        await settle(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, SuiteScreen), "the suite screen")
        await settle(pilot)
        problems = footer_problems(app) + scrolled_panes(app, ("#suite-items",))
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptForm), "the prompt form")
        await settle(pilot)
        problems += footer_problems(app) + narrow_inputs(app)
    assert not problems, "\n".join(problems)
