"""The annotation queue: the records a lead assigned to the acting user, blind, and their own clause set.

The list is `annotation.queue` (with the user's annotated records, marked ✓, so a set can be given
again until a lead decides the record). The highlighted record is shown read-only without its
links: everything on this screen comes from the queue items, which never carry them, nor another
annotator's set. `l` (or Enter) picks clauses with the editor's clause picker into a draft kept per
record, `s` submits the draft (`annotation.annotate`). When a clause changed since the assignment
the core refuses it: the screen shows the clause's current text and asks before confirming it.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from curator.annotation import AnnotationResult, ClauseChangedError, QueueItem, annotate, queue
from curator.errors import CuratorError
from curator.identity import same_user
from curator.models import Clause, parse_example
from curator.store.clauses import current_clauses
from curator.tui.messages import WorkspaceChanged
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.screens.review import example_body
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp

CLAUSE_TEXT_SHOWN = 600
"""Characters of a changed clause's text the confirmation shows (the Constitution screen has it all)."""


def blind_body(item: QueueItem) -> Text:
    """The record as the annotator reads it: the queue item's blind JSON, without a clauses line."""
    try:
        ex = parse_example(item.record)
    except CuratorError:  # cannot happen for a stored record; show its JSON rather than nothing
        return plain(json.dumps(item.record, ensure_ascii=False, indent=2))
    return example_body(ex, links=False)


def queue_cells(item: QueueItem) -> tuple[Text, ...]:
    """A queue row: ✓ once the user gave a set, the title, kind, who assigned it, the id."""
    done = item.annotated is not None
    return (
        plain("✓" if done else "", "green"),
        clipped(item.title or "(untitled)", "dim" if done else ""),
        plain(item.kind),
        plain(item.assigned_by),
        plain(item.id, "dim"),
    )


COLUMNS = ("mark", "title", "kind", "by", "id")


class AnnotateScreen(Screen[None]):
    """Link clauses to assigned records blind, one set per record."""

    CSS_PATH = "lists.tcss"
    AUTO_FOCUS = "#annotate-table"
    HELP_NAME = "Annotate"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "pick", "Link clauses", tooltip="Pick the clauses the highlighted record teaches (a draft)"),
        Binding("s", "submit", "Submit", tooltip="Submit your clause set for the highlighted record"),
        Binding("r", "reload", "Reload", show=False, tooltip="Read the queue again"),
        Binding("escape", "back", "Back"),
    ]

    class QueueLoaded(Message):
        def __init__(self, user: str, items: list[QueueItem], clauses: list[Clause]) -> None:
            super().__init__()
            self.user = user
            self.items = items
            self.clauses = clauses

    class LoadFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class Submitted(Message):
        def __init__(self, result: AnnotationResult) -> None:
            super().__init__()
            self.result = result

    class SubmitFailed(Message):
        def __init__(
            self, example_id: str, error: str, clauses: tuple[str, ...], confirmed: tuple[str, ...], changed: str | None
        ) -> None:
            super().__init__()
            self.example_id = example_id
            self.error = error
            self.clauses = clauses
            self.confirmed = confirmed
            self.changed = changed
            """The clause the core refused as changed since the assignment (ask, then confirm it)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, QueueItem] = {}
        self.clauses: list[Clause] = []
        self.drafts: dict[str, list[str]] = {}
        """Clause sets picked but not submitted, by record: kept while the cursor moves."""
        self.user: str | None = None
        """Whose queue is shown (the acting user when it was read)."""
        self.submitting = False

    @property
    def curator(self) -> CuratorApp:
        return cast("CuratorApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="annotate-main"):
            yield FitTable(cursor_type="row", zebra_stripes=True, id="annotate-table", flex="title")
            with VerticalScroll(id="annotate-detail"):
                yield Static(id="annotate-heading")
                yield Static(id="annotate-set")
                yield Static(id="annotate-body")
        yield Static(id="annotate-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.table
        table.add_column("", width=1, key="mark")
        table.add_column("Title", width=30, key="title")
        table.add_column("Kind", key="kind")
        table.add_column("Assigned by", key="by")
        table.add_column("Id", key="id")
        self.query_one("#annotate-status", Static).update(content("Loading your annotation queue…"))
        self.load()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#annotate-table", DataTable)

    def refresh_data(self) -> None:
        self.load()

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> None:
        self._load(self.curator.user)

    @work(thread=True, exclusive=True, group="annotate-queue")
    def _load(self, user: str) -> None:
        db = self.curator.workspace.db
        try:
            items = queue(db, user, include_done=True)
            clauses = current_clauses(db)
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.LoadFailed(str(err)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.QueueLoaded(user, items, clauses))

    def on_annotate_screen_load_failed(self, message: LoadFailed) -> None:
        self.notify(f"Could not read the annotation queue: {message.error}", severity="error", markup=False)

    def on_annotate_screen_queue_loaded(self, message: QueueLoaded) -> None:
        if self.user is not None and not same_user(self.user, message.user):
            self.drafts.clear()  # another person's queue: their drafts are not this one's
        self.user = message.user
        self.clauses = message.clauses
        table = self.table
        keep = self.highlighted_id()
        table.clear()
        self.items = {item.id: item for item in message.items}
        for item in message.items:
            table.add_row(*queue_cells(item), key=item.id)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        elif table.row_count:
            following = next((i.id for i in message.items if i.annotated is None), message.items[0].id)
            table.move_cursor(row=table.get_row_index(following))
        self.show_status()
        self.show_detail()

    def show_status(self) -> None:
        total = len(self.items)
        done = sum(1 for item in self.items.values() if item.annotated is not None)
        parts: list[tuple[str, str] | str] = [(f"{done} of {total} annotated", "bold")]
        parts.append(("   blind: no links, no one else's sets", "dim"))
        parts += [("   you are ", "dim"), self.user or self.curator.user]
        self.query_one("#annotate-status", Static).update(join(*parts))

    def highlighted_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pick()

    def show_detail(self) -> None:
        heading = self.query_one("#annotate-heading", Static)
        chosen = self.query_one("#annotate-set", Static)
        body = self.query_one("#annotate-body", Static)
        item = self.items.get(self.highlighted_id() or "")
        if item is None:
            heading.update(
                content("Nothing is assigned to you. A lead assigns records with `curator assign --to USER`.")
            )
            chosen.update(content(""))
            body.update(content(""))
            return
        heading.update(
            join(
                (item.title or "(untitled)", "bold"),
                "\n",
                (f"{item.id} · {item.kind} · assigned by ", "dim"),
                (item.assigned_by, "dim"),
                (f" on {item.assigned_at[:10]}", "dim"),
            )
        )
        chosen.update(self.set_text(item))
        body.update(blind_body(item))
        self.query_one("#annotate-detail", VerticalScroll).scroll_home(animate=False)

    def set_text(self, item: QueueItem) -> Text:
        """The user's submitted set and the draft, if any, with what to press next."""
        parts: list[tuple[str, str] | str] = []
        if item.annotated is not None:
            parts += [("Your set: ", "bold green"), ", ".join(item.annotated), "\n"]
        else:
            parts.append(("Not annotated yet.\n", "yellow"))
        draft = self.drafts.get(item.id)
        if draft is not None and tuple(sorted(draft)) != item.annotated:
            parts += [("Draft (not submitted): ", "bold yellow"), ", ".join(draft) or "(none)"]
            parts.append(("   s submits, l changes it\n", "dim"))
        else:
            parts.append(("l picks the clauses this record teaches, s submits them\n", "dim"))
        return join(*parts)

    # -- picking and submitting ----------------------------------------------------------------

    def _item(self) -> QueueItem | None:
        item = self.items.get(self.highlighted_id() or "")
        if item is None:
            self.notify("Nothing selected: your queue is empty.", severity="warning", markup=False)
        return item

    def action_pick(self) -> None:
        item = self._item()
        if item is None:
            return
        start = self.drafts.get(item.id, list(item.annotated or ()))

        def picked(chosen: list[str] | None) -> None:
            if chosen is None:
                return
            self.drafts[item.id] = chosen
            if self.highlighted_id() == item.id:
                self.query_one("#annotate-set", Static).update(self.set_text(item))

        self.app.push_screen(ClausePicker(self.clauses, start), picked)

    def action_submit(self) -> None:
        item = self._item()
        if item is None:
            return
        if self.submitting:
            self.notify("Still saving the last set.", severity="warning", markup=False)
            return
        draft = self.drafts.get(item.id)
        if not draft:
            self.notify(f"Pick the clauses {item.id} teaches first (l).", severity="warning", markup=False)
            return
        self.submit(item.id, tuple(draft), ())

    def submit(self, example_id: str, clauses: Sequence[str], confirmed: Sequence[str]) -> None:
        self.submitting = True
        self._submit(example_id, tuple(clauses), tuple(confirmed), self.user or self.curator.user)

    @work(thread=True, group="annotate-submit")
    def _submit(self, example_id: str, clauses: tuple[str, ...], confirmed: tuple[str, ...], user: str) -> None:
        try:
            result = annotate(self.curator.workspace.db, example_id, clauses, user=user, confirm_changed=confirmed)
        except ClauseChangedError as err:
            self.post_message(self.SubmitFailed(example_id, str(err), clauses, confirmed, err.clause_id))
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.SubmitFailed(example_id, str(err), clauses, confirmed, None))
        else:
            self.post_message(self.Submitted(result))

    def on_annotate_screen_submit_failed(self, message: SubmitFailed) -> None:
        self.submitting = False
        if message.changed is None:
            self.notify(message.error, title="Not saved", severity="error", markup=False)
            return
        clause_id = message.changed
        clause = next((c for c in self.clauses if c.id == clause_id), None)
        text = (clause.plain or clause.title) if clause else ""
        if len(text) > CLAUSE_TEXT_SHOWN:
            text = text[:CLAUSE_TEXT_SHOWN] + "…"
        title = f" “{clause.title}”" if clause else ""
        question = (
            f"Clause {clause_id}{title} changed since {message.example_id} was assigned to you. It now reads:\n\n"
            f"{text}\n\nLink it as it reads now?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.submit(message.example_id, message.clauses, (*message.confirmed, clause_id))
            else:
                self.notify(f"Not saved: {clause_id} changed; your draft is kept.", severity="warning", markup=False)

        self.app.push_screen(ConfirmScreen(question, yes="Link it", no="Cancel"), answered)

    def on_annotate_screen_submitted(self, message: Submitted) -> None:
        self.submitting = False
        result = message.result
        self.notify(result.summary(), markup=False)
        self.drafts.pop(result.id, None)
        item = self.items.get(result.id)
        if item is not None:
            self.items[result.id] = item = dataclasses.replace(item, annotated=result.clauses)
            for column, cell in zip(COLUMNS, queue_cells(item), strict=True):
                self.table.update_cell(result.id, column, cell)
            self.show_status()
            if self.highlighted_id() == result.id:
                following = self.next_pending(result.id)
                if following is not None:
                    self.table.move_cursor(row=self.table.get_row_index(following))
                else:
                    self.show_detail()
        self.app.post_message(WorkspaceChanged())

    def next_pending(self, after: str) -> str | None:
        """The first row below `after` (wrapping round) the user has not annotated yet."""
        ids = [str(row.key.value) for row in self.table.ordered_rows]
        start = ids.index(after) + 1 if after in ids else 0
        for example_id in ids[start:] + ids[:start]:
            if example_id != after and self.items[example_id].annotated is None:
                return example_id
        return None

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
