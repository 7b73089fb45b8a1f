"""The Examples screen: a filter bar and a keyset-paged list of examples, newest update first.

Only pages are read: the first page on open (and on every filter change, debounced), the next one
when the cursor or the scroll position gets near the end of what is loaded. Every read runs in a
thread worker; a generation number drops results of a load that a newer filter change superseded.

The list holds still while people work through it: after a save (here, in the editor, or in
another process) only the rows that changed are read again, from the audit log's new events, and
updated where they are; a deleted row disappears, a new (or newly matching) one goes to the top,
where newest-first puts it. Only `r` (or a filter change) reads and sorts the list again.

Keys: enter opens the highlighted example in the editor (e too), n asks for a kind and opens a new
example of it (linked to the clause in the clause filter when that is a current clause id), h shows
the history, r reloads, / focuses the free-text filter, c clears the filters, escape returns to
the list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import DataTable, Header, Input, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from curator.errors import CuratorError
from curator.models import KINDS, STATUSES
from curator.store.audit import examples_changed, latest_event_id
from curator.store.clauses import current_clause_hashes
from curator.store.db import WorkspaceDB
from curator.store.examples import Summary, all_tags, authors, count, page, summaries_of
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.exact_text import ExactInput
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp

PAGE_SIZE = 200
"""Rows read per page."""
NEAR_END = 50
"""Fetch the next page when the cursor is this close to the last loaded row."""
DEBOUNCE = 0.2
"""Seconds of quiet after a filter edit before the list reloads."""
MAX_SUGGESTIONS = 1000
MAX_CHANGED_ROWS = 500
"""More changed records than this (a big import) since the list was read: read it again instead."""


@dataclass(frozen=True)
class Filters:
    """The filter bar's values (None: no filter)."""

    kind: str | None = None
    status: str | None = None
    tag: str | None = None
    clause: str | None = None
    author: str | None = None
    text: str | None = None

    def kwargs(self) -> dict[str, str | None]:
        return asdict(self)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items() if v)


def fetch_page(
    db: WorkspaceDB, filters: Filters, after: tuple[str, str] | None, *, limit: int = PAGE_SIZE
) -> list[Summary]:
    """One page of summaries for `filters` (runs in a worker thread)."""
    return page(db, after=after, limit=limit, **filters.kwargs())


class ExampleTable(FitTable):
    """The list; Enter opens the highlighted example (shown in the footer)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
    ]


class KindPicker(ModalScreen[str | None]):
    """Which kind of example to create."""

    HELP_NAME = "New example"

    CSS_PATH = "lists.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, selected: str | None = None) -> None:
        super().__init__()
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical(id="kind-dialog"):
            yield Static(content("New example: which kind?"), id="kind-heading")
            yield OptionList(*[Option(content(k), id=k) for k in KINDS], id="kind-list")

    def on_mount(self) -> None:
        options = self.query_one("#kind-list", OptionList)
        options.highlighted = KINDS.index(self.selected) if self.selected in KINDS else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExamplesScreen(Screen[None]):
    """Browse, filter and open examples; only pages of the list are ever in memory."""

    CSS_PATH = "lists.tcss"
    AUTO_FOCUS = "#examples-table"
    HELP_NAME = "Examples"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New", tooltip="Create an example (pick its kind)"),
        Binding("e", "open", "Edit", show=False),
        Binding("h", "history", "History", tooltip="The highlighted example's changes", show=False),
        Binding("r", "reload", "Reload", show=False),
        Binding("slash", "search", "Search", tooltip="Focus the free-text filter"),
        Binding("c", "clear_filters", "Clear filters"),
        Binding("escape", "focus_list", "List", show=False),
    ]

    class PageLoaded(Message):
        def __init__(self, generation: int, rows: list[Summary], *, first: bool, exhausted: bool) -> None:
            super().__init__()
            self.generation = generation
            self.rows = rows
            self.first = first
            self.exhausted = exhausted

    class CountLoaded(Message):
        def __init__(self, generation: int, total: int, token: int) -> None:
            super().__init__()
            self.generation = generation
            self.total = total
            self.token = token

    class LoadFailed(Message):
        def __init__(self, generation: int, error: str) -> None:
            super().__init__()
            self.generation = generation
            self.error = error

    class ChoicesLoaded(Message):
        def __init__(self, authors: list[str], tags: list[str], clauses: list[str]) -> None:
            super().__init__()
            self.authors = authors
            self.tags = tags
            self.clauses = clauses

    class RowsChanged(Message):
        """The records changed since the list was read: `live` holds the summaries of those still
        live, `matching` the ids among them that the filters select; `None` means too many changed."""

        def __init__(
            self,
            generation: int,
            token: int,
            changed: list[str] | None,
            live: dict[str, Summary],
            matching: set[str],
            total: int,
        ) -> None:
            super().__init__()
            self.generation = generation
            self.token = token
            self.changed = changed
            self.live = live
            self.matching = matching
            self.total = total

    class ChangeToken(Message):
        """The workspace's newest audit id, read when the screen is shown again: a change means reload."""

        def __init__(self, token: int) -> None:
            super().__init__()
            self.token = token

    def __init__(self) -> None:
        super().__init__()
        self.filters = Filters()
        self.total: int | None = None
        """Matches for the current filters (None while counting)."""
        self.fetching = False
        """A page is being read."""
        self.exhausted = False
        """The last page read was short: everything matching is loaded."""
        self.error: str | None = None
        self._generation = 0
        self._after: tuple[str, str] | None = None
        self._keep_id: str | None = None
        self._timer: Timer | None = None
        self._clause_ids: set[str] = set()
        self._token: int | None = None
        self._choices_asked = False
        """The filter choices (authors, tags, clauses) are read once the first page is shown."""

    @property
    def curator(self) -> CuratorApp:
        return cast("CuratorApp", self.app)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="examples-filters"):
            yield Select[str]([(plain(k), k) for k in KINDS], prompt="kind", id="f-kind")
            yield Select[str]([(plain(s), s) for s in STATUSES], prompt="status", id="f-status")
            yield ExactInput(placeholder="tag", id="f-tag")
            yield ExactInput(placeholder="clause id", id="f-clause")
            yield Select[str]([], prompt="author", id="f-author")
            yield ExactInput(placeholder="search text  ( / )", id="f-text")
        yield ExampleTable(cursor_type="row", zebra_stripes=True, id="examples-table", flex="title", flex_max=48)
        yield Static(id="examples-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Title", width=48, key="title")
        table.add_column("Kind", key="kind")
        table.add_column("Status", key="status")
        table.add_column("Author", key="author")
        table.add_column("Updated", key="updated")
        table.add_column("Id", key="id")
        self.watch(table, "scroll_y", self._scrolled, init=False)
        self.reload()

    @property
    def table(self) -> ExampleTable:
        return self.query_one("#examples-table", ExampleTable)

    # -- loading -----------------------------------------------------------------------------

    def reload(self, *, keep_id: str | None = None) -> None:
        """Read the list again from its first page with the current filters."""
        self._generation += 1
        self.fetching = True
        self.exhausted = False
        self.error = None
        self.total = None
        self._token = None
        self._after = None
        self._keep_id = keep_id
        self._update_status()
        self.fetch(self._generation, self.filters, None)

    def refresh_data(self) -> None:
        """Called by the app after a save or a review: the changed rows are updated where they are."""
        if self._token is None:  # the list has not been read yet: read it (again)
            self.reload(keep_id=self.highlighted_id())
        else:
            self.fetch_changes(self._generation, self.filters, self._token)
        self.load_choices()

    @work(thread=True, exclusive=True, group="examples-page")
    def fetch(self, generation: int, filters: Filters, after: tuple[str, str] | None) -> None:
        worker = get_current_worker()
        db = self.curator.workspace.db
        try:
            token = latest_event_id(db) if after is None else 0
            rows = fetch_page(db, filters, after)
            if worker.is_cancelled:
                return
            self.post_message(self.PageLoaded(generation, rows, first=after is None, exhausted=len(rows) < PAGE_SIZE))
            if after is None:
                total = count(db, **filters.kwargs())
                if not worker.is_cancelled:
                    self.post_message(self.CountLoaded(generation, total, token))
        except (sqlite3.Error, CuratorError) as err:
            self.post_message(self.LoadFailed(generation, str(err)))

    @work(thread=True, exclusive=True, group="examples-changes")
    def fetch_changes(self, generation: int, filters: Filters, after: int) -> None:
        """Read the records changed since audit event `after`, for `on_examples_screen_rows_changed`."""
        worker = get_current_worker()
        db = self.curator.workspace.db
        try:
            token = latest_event_id(db)
            changed = examples_changed(db, after, token, limit=MAX_CHANGED_ROWS)
            live: dict[str, Summary] = {}
            matching: set[str] = set()
            if changed:
                live = summaries_of(db, changed)
                matching = set(summaries_of(db, changed, **filters.kwargs())) if filters.describe() else set(live)
            total = count(db, **filters.kwargs())
        except (sqlite3.Error, CuratorError) as err:
            self.post_message(self.LoadFailed(generation, str(err)))
            return
        if not worker.is_cancelled:
            self.post_message(self.RowsChanged(generation, token, changed, live, matching, total))

    @work(thread=True, exclusive=True, group="examples-choices")
    def load_choices(self) -> None:
        db = self.curator.workspace.db
        try:
            names = authors(db)
            tags = all_tags(db)[:MAX_SUGGESTIONS]
            clauses = sorted(current_clause_hashes(db))
        except sqlite3.Error:
            return
        self.post_message(self.ChoicesLoaded(names, tags, clauses))

    @work(thread=True, exclusive=True, group="examples-check")
    def check_changed(self) -> None:
        self.post_message(self.ChangeToken(latest_event_id(self.curator.workspace.db)))

    def on_examples_screen_page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self._generation:
            return
        table = self.table
        if message.first:
            table.clear()
        for s in message.rows:
            if s.id not in table.rows:
                table.add_row(*_cells(s), key=s.id)
        if message.rows:
            last = message.rows[-1]
            self._after = (last.updated_at, last.id)
        self.exhausted = message.exhausted
        self.fetching = False
        if message.first and self._keep_id is not None and self._keep_id in table.rows:
            table.move_cursor(row=table.get_row_index(self._keep_id))
        self._keep_id = None
        self._update_status()
        self.maybe_load_more()
        self._ask_choices()

    def _ask_choices(self) -> None:
        """The filter choices, after the first page: on two cores their reads slowed it at 1M."""
        if not self._choices_asked:
            self._choices_asked = True
            self.load_choices()

    def on_examples_screen_count_loaded(self, message: CountLoaded) -> None:
        if message.generation == self._generation:
            self.total = message.total
            self._token = message.token
            self._update_status()

    def on_examples_screen_load_failed(self, message: LoadFailed) -> None:
        if message.generation == self._generation:
            self.fetching = False
            self.error = message.error
            self._update_status()
            self._ask_choices()

    def on_examples_screen_rows_changed(self, message: RowsChanged) -> None:
        if message.generation != self._generation or self._token is None or message.token < self._token:
            return  # a newer load or a newer refresh has answered already
        if message.changed is None:
            self.reload(keep_id=self.highlighted_id())
            return
        table = self.table
        keep = self.highlighted_id()
        added: list[Summary] = []
        for example_id in message.changed:
            summary = message.live.get(example_id)
            if example_id in table.rows:
                if summary is None:  # deleted (or purged)
                    table.remove_row(example_id)
                else:  # kept where it is, even if it no longer matches the filters: `r` re-reads
                    for column, cell in zip(COLUMNS, _cells(summary), strict=True):
                        table.update_cell(example_id, column, cell)
            elif summary is not None and example_id in message.matching:
                added.append(summary)
        if added:
            for summary in added:
                table.add_row(*_cells(summary), key=summary.id)
            added.sort(key=lambda s: (s.updated_at, s.id), reverse=True)
            order = [s.id for s in added] + [str(row.key.value) for row in table.ordered_rows]
            rank: dict[str, int] = {}
            for example_id in order:
                rank.setdefault(example_id, len(rank))
            table.sort("id", key=lambda cell: rank[cell.plain])
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self._token = message.token
        self.total = message.total
        self._update_status()

    def on_examples_screen_choices_loaded(self, message: ChoicesLoaded) -> None:
        select: Select[str] = self.query_one("#f-author", Select)
        current = select.value
        select.set_options([(plain(a), a) for a in message.authors])
        if isinstance(current, str) and current in message.authors:
            select.value = current
        self.query_one("#f-tag", Input).suggester = SuggestFromList(message.tags, case_sensitive=False)
        self.query_one("#f-clause", Input).suggester = SuggestFromList(message.clauses, case_sensitive=False)
        self._clause_ids = set(message.clauses)

    def on_examples_screen_change_token(self, message: ChangeToken) -> None:
        if self._token is not None and message.token != self._token and not self.fetching:
            self.refresh_data()

    def on_screen_resume(self) -> None:
        # The app broadcasts changes only to the active mode's screens: check when shown again.
        if self._token is not None and not self.fetching:
            self.check_changed()

    def maybe_load_more(self) -> None:
        """Fetch the next page if the cursor or the scroll position is near the end of the loaded rows."""
        if self.fetching or self.exhausted or self._after is None:
            return
        table = self.table
        near_cursor = table.cursor_row >= table.row_count - NEAR_END
        # rows are one line high: the last visible row is about scroll_y + height
        near_scroll = table.row_count - (table.scroll_y + table.size.height) <= NEAR_END
        if near_cursor or near_scroll:
            self.fetching = True
            self._update_status()
            self.fetch(self._generation, self.filters, self._after)

    def _scrolled(self, _: float) -> None:
        self.maybe_load_more()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.maybe_load_more()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.curator.open_editor(event.row_key.value)

    def _update_status(self) -> None:
        loaded = self.table.row_count if self.is_mounted else 0
        if self.error is not None:
            status = join(("Could not read the list: ", "bold red"), self.error)
        else:
            total = "counting…" if self.total is None else f"{self.total:,} examples"
            parts: list[tuple[str, str] | str] = [(total, "bold"), f" · {loaded:,} loaded"]
            if self.fetching:
                parts.append(" · loading…")
            elif self.exhausted:
                parts.append(" · all loaded")
            described = self.filters.describe()
            if described:
                parts.append(("   filters: ", "dim"))
                parts.append(described)
            status = join(*parts)
        self.query_one("#examples-status", Static).update(status)

    # -- filters -----------------------------------------------------------------------------

    def read_filters(self) -> Filters:
        def select_value(widget_id: str) -> str | None:
            value = self.query_one(widget_id, Select).value
            return value if isinstance(value, str) and value else None

        def input_value(widget_id: str) -> str | None:
            return self.query_one(widget_id, Input).value.strip() or None

        return Filters(
            kind=select_value("#f-kind"),
            status=select_value("#f-status"),
            tag=input_value("#f-tag"),
            clause=input_value("#f-clause"),
            author=select_value("#f-author"),
            text=input_value("#f-text"),
        )

    def apply_filters(self, *, force: bool = False) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        filters = self.read_filters()
        if filters == self.filters and not force:
            return
        self.filters = filters
        self.reload()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self.apply_filters)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._schedule()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._schedule()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply_filters()
        self.table.focus()

    # -- actions -----------------------------------------------------------------------------

    def highlighted_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return key.value

    def action_open(self) -> None:
        example_id = self.highlighted_id()
        if example_id is not None:
            self.curator.open_editor(example_id)

    def action_new(self) -> None:
        def chosen(kind: str | None) -> None:
            if kind is None:
                return
            clause = self.filters.clause
            clauses = (clause,) if clause and clause in self._clause_ids else ()
            self.curator.open_editor(None, kind=kind, clauses=clauses)

        self.app.push_screen(KindPicker(self.filters.kind), chosen)

    def action_history(self) -> None:
        example_id = self.highlighted_id()
        if example_id is not None:
            self.curator.open_history(example_id)

    def action_reload(self) -> None:
        self.apply_filters(force=True)
        self.load_choices()

    def action_search(self) -> None:
        self.query_one("#f-text", Input).focus()

    def action_focus_list(self) -> None:
        self.table.focus()

    def action_clear_filters(self) -> None:
        for select_id in ("#f-kind", "#f-status", "#f-author"):
            self.query_one(select_id, Select).clear()
        for input_id in ("#f-tag", "#f-clause", "#f-text"):
            self.query_one(input_id, Input).value = ""
        self.apply_filters()


_STATUS_STYLE = {"approved": "green", "review": "yellow", "rejected": "red", "draft": ""}

COLUMNS = ("title", "kind", "status", "author", "updated", "id")
"""The list's column keys, in the order of `_cells`."""


def rejected_badge(count: int) -> str:
    """The marker of a record with rejected alternatives ("2 rejected"); empty without any."""
    return f"{count} rejected" if count > 0 else ""


def title_cell(title: str, rejected: int, style: str = "") -> Text:
    """A list's title cell: the rejected-alternatives marker first (a cut title never hides it)."""
    cell = clipped(title, style)
    badge = rejected_badge(rejected)
    if badge:
        cell = Text.assemble((badge, f"bold magenta {style}".strip()), (" · ", "dim"), cell)
        cell.no_wrap, cell.overflow, cell.end = True, "ellipsis", ""
    return cell


def _cells(s: Summary) -> tuple[Text, ...]:
    """One row of the list, every value shown literally."""
    return (
        title_cell(s.title, s.rejected),
        plain(s.kind),
        plain(s.status, _STATUS_STYLE.get(s.status, "")),
        plain(s.author),
        plain(_short_time(s.updated_at)),
        plain(s.id, "dim"),
    )


def _short_time(iso: str) -> str:
    return iso[:16].replace("T", " ")
