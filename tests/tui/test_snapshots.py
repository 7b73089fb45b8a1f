"""Layout regressions show as diffs: SVG snapshots of every main screen at 80x24 and 120x36, and
of the Examples list and the editor holding hostile strings.

Each shot starts from a fresh demo workspace (fixed ids and dates) and reaches its screen with the
steps of docs/screenshots.py. After a deliberate layout change, look at the report
(`snapshot_report.html`) and update with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from curator.tui.app import CuratorApp
from tests.helpers import MAIN_SCREENS, add_eval_data, load_docs_script
from tests.tui.conftest import HOSTILE

SHOTS = load_docs_script("screenshots")
SIZES = {"80x24": (80, 24), "120x36": (120, 36)}


def still(steps: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    """The screen's steps, then no blinking cursor and no toast (either would differ between runs)."""

    async def run(pilot: Any) -> None:
        await SHOTS.settle(pilot)
        await steps(pilot)
        for widget in pilot.app.screen.query("*"):
            if getattr(widget, "cursor_blink", False):
                widget.cursor_blink = False
        pilot.app.clear_notifications()
        await SHOTS.settle(pilot)

    return run


@pytest.fixture
def shot_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo workspace as the screenshot script builds it; the test runs inside its folder."""
    db = SHOTS.make_workspace(tmp_path)
    monkeypatch.chdir(tmp_path)  # the Export shot names its spec and folder relative to here
    return db


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", MAIN_SCREENS)
def test_main_screen(snap_compare: Any, shot_workspace: Path, screen: str, size: str) -> None:
    steps, _ = SHOTS.SHOTS[screen]
    app = CuratorApp(shot_workspace, user=SHOTS.USER)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=still(steps))


def add_hostile(db: Path) -> None:
    from curator.models import Example
    from curator.store import examples
    from curator.store.db import open_workspace

    with open_workspace(db) as ws:
        examples.insert_many(
            ws.db,
            [
                Example(
                    id=f"hostile_{i}",
                    kind="story",
                    title=s * 3,
                    tags=[s],
                    author="mallory",
                    text=(s + " ") * 40,
                    status="review",
                    created_at="2026-01-01T00:00:00Z",
                    updated_at=f"2026-01-02T00:00:0{i}Z",
                )
                for i, s in enumerate(HOSTILE)
            ],
            actor="mallory",
            keep_status=True,
        )


async def hostile_examples(pilot: Any) -> None:
    await pilot.press("2")
    await SHOTS.settle(pilot)


async def hostile_editor(pilot: Any) -> None:
    app = pilot.app
    await SHOTS.wait_for(pilot, lambda: app.dedup is not None, "the near-duplicate index")
    app.open_editor("hostile_2")  # the click-action markup as title, tag and text
    await SHOTS.wait_for(pilot, lambda: type(app.screen).__name__ == "EditorScreen", "the editor")
    await pilot.pause(0.5)
    await SHOTS.settle(pilot)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", ["examples", "editor"])
def test_hostile_strings(snap_compare: Any, shot_workspace: Path, screen: str, size: str) -> None:
    add_hostile(shot_workspace)
    steps = {"examples": hostile_examples, "editor": hostile_editor}[screen]
    app = CuratorApp(shot_workspace, user=SHOTS.USER)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=still(steps))


async def evals_drilled(pilot: Any) -> None:
    """The Evals screen on the graded run, honesty.1's responses listed."""
    await pilot.press("6")
    await SHOTS.settle(pilot)
    screen = pilot.app.screen
    clauses = screen.query_one("#clauses")
    clauses.focus()
    clauses.move_cursor(row=clauses.get_row_index("honesty.1"))
    await pilot.press("enter")
    await SHOTS.settle(pilot)


def test_evals_screen(snap_compare: Any, shot_workspace: Path) -> None:
    add_eval_data(shot_workspace, shot_workspace.parent)
    app = CuratorApp(shot_workspace, user=SHOTS.USER)
    assert snap_compare(app, terminal_size=(120, 40), run_before=still(evals_drilled))


async def suite_screen(pilot: Any) -> None:
    """The suite screen of `probe` (every prompt answered by a run), on the multi-turn item."""
    await pilot.press("6")
    await SHOTS.settle(pilot)
    await pilot.press("p")
    await SHOTS.settle(pilot)
    await pilot.press("down")
    await SHOTS.settle(pilot)


async def prompt_form(pilot: Any) -> None:
    """A new prompt in suite `probe`: the form with an id, a prompt and two clauses."""
    await suite_screen(pilot)
    await pilot.press("a")
    await SHOTS.settle(pilot)
    form = pilot.app.screen
    form.query_one("#p-id").value = "q5"
    form.query_one("#p-prompt").load_text("Tell me something you are unsure about.\nBe brief.")
    form.clause_ids = ["honesty.1", "harm.3"]
    form._render_chips()
    form.query_one("#p-id").focus()
    await SHOTS.settle(pilot)


@pytest.mark.parametrize("shot", ["suite", "prompt"])
def test_suite_writing(snap_compare: Any, shot_workspace: Path, shot: str) -> None:
    add_eval_data(shot_workspace, shot_workspace.parent)
    app = CuratorApp(shot_workspace, user=SHOTS.USER)
    steps = {"suite": suite_screen, "prompt": prompt_form}[shot]
    assert snap_compare(app, terminal_size=(120, 40), run_before=still(steps))


async def run_dialog(pilot: Any) -> None:
    """`R` on the suite `probe`: the run dialog with two samples and its estimate."""
    await pilot.press("6")
    await SHOTS.settle(pilot)
    await pilot.press("R")
    await SHOTS.settle(pilot)
    pilot.app.screen.query_one("#run-samples").value = "2"
    await SHOTS.settle(pilot)


def test_run_dialog(snap_compare: Any, shot_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-snapshot-0123456789")
    monkeypatch.setenv("CURATOR_MODEL", "claude-sonnet-5-5")
    add_eval_data(shot_workspace, shot_workspace.parent)
    app = CuratorApp(shot_workspace, user=SHOTS.USER)
    assert snap_compare(app, terminal_size=(120, 40), run_before=still(run_dialog))
