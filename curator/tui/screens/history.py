"""An example's history: its audit events by name, and what the highlighted one changed, word by word."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from curator.errors import CuratorError, NotFoundError
from curator.history import FieldChange, HistoryEntry, history
from curator.store import examples
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.footer import KeyFooter
from curator.tui.widgets.word_diff import NOTE, segments_content, word_diff_content
from curator.worddiff import visible

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp


def change_line(change: FieldChange) -> Content:
    """One field's change on one line: its label in bold, then the words struck out and added."""
    if change.kind == "items":
        body = segments_content(change.segments) if change.segments else Content.styled("(order changed)", NOTE)
    elif change.segments:
        body = word_diff_content(change.diff)
    else:
        body = Content.styled("(spacing only)", NOTE)
    return Content.assemble((change.field, "bold"), ": ", body)


def entry_content(entry: HistoryEntry) -> Content:
    """The event's heading (time, actor, name, version), its note, then one line per changed field.

    Every piece of data is a literal Content with styles given as spans: a title like `[b]x[/b]`
    shows as typed, and control characters arrive as pictures (`curator.worddiff.visible`).
    """
    event = entry.event
    version = f"  version {entry.version}" if entry.version is not None else ""
    lines = [
        Content.assemble(
            (event.at[:19].replace("T", " "), "dim"),
            "  ",
            visible(event.actor),
            "  ",
            (entry.name, "bold"),
            (version, "dim"),
        )
    ]
    if event.note:
        lines.append(Content.styled(visible(event.note), "dim italic"))
    lines.append(Content(""))
    if entry.changes:
        lines += [change_line(change) for change in entry.changes]
    else:
        lines.append(Content.styled("(no field of the record changed)", "dim italic"))
    return Content("\n").join(lines)


class HistoryScreen(Screen[None]):
    """Who changed an example, when, and what changed."""

    CSS_PATH = "lists.tcss"
    AUTO_FOCUS = "#history-events"
    HELP_NAME = "History"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "reload", "Reload"),
    ]

    class Loaded(Message):
        def __init__(self, title: str | None, entries: list[HistoryEntry], error: str = "") -> None:
            super().__init__()
            self.title = title
            self.entries = entries
            self.error = error

    def __init__(self, example_id: str) -> None:
        super().__init__()
        self.example_id = example_id
        self.entries: list[HistoryEntry] = []

    @property
    def curator(self) -> CuratorApp:
        return cast("CuratorApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="history-heading")
        with Horizontal(id="history-main"):
            yield DataTable[Text](cursor_type="row", id="history-events")
            with VerticalScroll(id="history-detail"):
                yield Static(content("Loading…"), id="history-diff")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#history-events", DataTable)
        table.add_column("Time", key="at")
        table.add_column("Actor", key="actor")
        table.add_column("Event", key="name")
        self.query_one("#history-heading", Static).update(join(("History of ", "dim"), self.example_id))
        self.load()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        db = self.curator.workspace.db
        try:
            entries = history(db, self.example_id)
        except sqlite3.Error as err:
            self.post_message(self.Loaded(None, [], str(err)))
            return
        try:
            title: str | None = examples.get(db, self.example_id).title
        except NotFoundError:
            title = None
        except (CuratorError, sqlite3.Error):
            title = None
        self.post_message(self.Loaded(title, entries))

    def on_history_screen_loaded(self, message: Loaded) -> None:
        table: DataTable[Text] = self.query_one("#history-events", DataTable)
        table.clear()
        self.entries = message.entries
        heading = self.query_one("#history-heading", Static)
        if message.error:
            heading.update(join(("Could not read the history: ", "bold red"), message.error))
            return
        title = message.title if message.title is not None else "(deleted)"
        heading.update(join(("History of ", "dim"), (self.example_id, "bold"), "  ", title))
        for index, entry in enumerate(message.entries):
            event = entry.event
            table.add_row(
                plain(event.at[:19].replace("T", " ")), plain(visible(event.actor)), clipped(entry.name), key=str(index)
            )
        if not message.entries:
            self.query_one("#history-diff", Static).update(content("No recorded events for this example."))
            return
        table.move_cursor(row=len(message.entries) - 1)  # the newest change first
        self.show_entry(len(message.entries) - 1)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_entry(event.cursor_row)

    def show_entry(self, index: int) -> None:
        if 0 <= index < len(self.entries):
            self.query_one("#history-diff", Static).update(entry_content(self.entries[index]))
            self.query_one("#history-detail", VerticalScroll).scroll_home(animate=False)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        self.load()
