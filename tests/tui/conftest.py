"""Shared by the Pilot tests: hostile strings, a workspace holding them, waiting on the app, and
driving the editor. Helpers are plain functions: import them from here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TextArea

from curator.models import Example
from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.screens.editor import EditorScreen

S = TypeVar("S", bound=Screen[Any])

HOSTILE = [
    "[bold]x",
    "[/]",
    "[@click=app.quit]x[/]",
    "[ @click=app.quit]x[/]",
    "[$accent @click=app.quit]x[/]",
    "a\\",
    '{"a": [true]}',
]
"""Data that Textual would take for markup (styles, a click action, a stray closing tag), an
escape at the end and JSON: shown anywhere, each must appear literally and do nothing."""


@pytest.fixture
def hostile_db(demo_db: Path) -> Path:
    """The demo plus one example per hostile string, used as title, tag, author and text, in review."""
    with open_workspace(demo_db) as ws:
        examples.insert_many(
            ws.db,
            [
                Example(id=f"hostile_{i}", kind="story", title=s, tags=[s], author=s, text=s, status="review")
                for i, s in enumerate(HOSTILE)
            ],
            actor="mallory",
        )
    return demo_db


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], what: str, *, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds; fail naming `what` after `timeout` seconds."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def wait_screen(pilot: Pilot[Any], kind: type[S]) -> S:
    """The app's screen once it is a mounted `kind`."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen.is_mounted, kind.__name__)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def open_editor(pilot: Pilot[Any], example_id: str | None = None, **kwargs: Any) -> EditorScreen:
    """The editor on `example_id` (None: a new example; kwargs as for `open_editor`), its form filled."""
    await pilot.pause()
    pilot.app.open_editor(example_id, **kwargs)  # type: ignore[attr-defined]
    editor = await wait_screen(pilot, EditorScreen)
    await wait_for(pilot, lambda: bool(editor._baseline), "the form to be filled")
    return editor


async def focus(pilot: Pilot[Any], widget: Widget) -> None:
    widget.focus()
    await wait_for(pilot, lambda: pilot.app.focused is widget, "the focus")


async def type_into(pilot: Pilot[Any], widget: Widget, text: str) -> None:
    """Focus `widget` and type `text` key by key (newlines as enter)."""
    await focus(pilot, widget)
    keys = ["enter" if ch == "\n" else ch for ch in text]
    await pilot.press(*keys)


async def paste_into(pilot: Pilot[Any], widget: Input | TextArea, text: str) -> None:
    """Focus `widget` and paste `text` at its cursor, as a terminal's paste arrives: one event.

    Typing costs two idle waits per key; paste what a test only needs to be in the field."""
    await focus(pilot, widget)
    before = widget.value if isinstance(widget, Input) else widget.text
    pilot.app.post_message(events.Paste(text))
    await wait_for(pilot, lambda: (widget.value if isinstance(widget, Input) else widget.text) != before, "the paste")


def stored(db: Path, example_id: str) -> Example:
    """The example as stored now (read on a connection of its own)."""
    with open_workspace(db) as ws:
        return examples.get(ws.db, example_id)
