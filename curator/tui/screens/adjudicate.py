"""The adjudication screen: records whose blind annotators disagree, who linked what side by side,
and the lead's final set.

On the left `annotation.disagreements`; on the right, for the highlighted record, one row per
clause any annotator linked (or the record links now, or the lead chose), a column per annotator
with a mark where they linked it, the record's current links and the final set. The final set
starts as the majority's (the union when no clause has a majority); `space` toggles the
highlighted clause, `u` / `m` start again from the union / the majority, `l` adds clauses nobody
linked (the clause picker), `d` decides (`annotation.adjudicate`, after a confirmation). `A`
applies every agreed set (`annotation.apply_agreed`) and says how many. The lead's sets are kept
per record until decided, so moving through the list loses nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from curator.annotation import AgreedResult, DecisionResult, Disagreement, adjudicate, apply_agreed, disagreements
from curator.errors import CuratorError
from curator.models import Clause
from curator.store.clauses import current_clauses
from curator.tui.messages import WorkspaceChanged
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp

NAME_WIDTH = 8
"""Cells an annotator's column takes at most (the name is cut with "…", the heading names them in full)."""


def union_set(d: Disagreement) -> list[str]:
    """Every clause any annotator linked, in the order first linked."""
    return list(dict.fromkeys(c for a in d.annotations for c in a.clauses))


def majority_set(d: Disagreement) -> list[str]:
    """The clauses more than half of the annotators linked."""
    return [c for c in union_set(d) if 2 * sum(c in a.clauses for a in d.annotations) > len(d.annotations)]


def starting_set(d: Disagreement) -> list[str]:
    """What the lead starts from: the majority's set, or the union when no clause has a majority."""
    return majority_set(d) or union_set(d)


def grid_rows(d: Disagreement, final: list[str], order: dict[str, int]) -> list[str]:
    """The clauses to show: linked by anyone, linked now, or chosen; in constitution order."""
    found = dict.fromkeys([*union_set(d), *d.links, *final])
    return sorted(found, key=lambda c: (order.get(c, len(order)), c))


def mark(linked: bool, style: str = "bold") -> Text:
    return plain("●" if linked else "·", style if linked else "dim")


class AdjudicateScreen(Screen[None]):
    """Decide the final links of records whose annotators disagree."""

    CSS_PATH = "lists.tcss"
    AUTO_FOCUS = "#adj-list"
    HELP_NAME = "Adjudicate"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space", "toggle_clause", "Toggle", tooltip="Put the highlighted clause in the final set, or take it out"
        ),
        Binding("u", "start('union')", "Union", show=False, tooltip="Final set: every clause any annotator linked"),
        Binding("m", "start('majority')", "Majority", show=False, tooltip="Final set: what most annotators linked"),
        Binding("l", "pick", "Add clause", show=False, tooltip="Add or remove clauses with the clause picker"),
        Binding("d", "decide", "Decide", tooltip="The final set becomes the record's links (asks first)"),
        Binding("A,shift+a", "apply_agreed", "Apply agreed", tooltip="Records all annotators agree on get that set"),
        Binding("r", "reload", "Reload", show=False),
        Binding("escape", "back", "Back"),
    ]

    class Loaded(Message):
        def __init__(self, items: list[Disagreement], clauses: list[Clause]) -> None:
            super().__init__()
            self.items = items
            self.clauses = clauses

    class Failed(Message):
        def __init__(self, error: str, *, write: bool = True) -> None:
            super().__init__()
            self.error = error
            self.write = write
            """A decision failed (nothing was written), not a read."""

    class Decided(Message):
        def __init__(self, result: DecisionResult) -> None:
            super().__init__()
            self.result = result

    class AgreedApplied(Message):
        def __init__(self, result: AgreedResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, Disagreement] = {}
        self.clauses: list[Clause] = []
        self.finals: dict[str, list[str]] = {}
        """The lead's set per record, kept until it is decided."""
        self.busy = False

    @property
    def curator(self) -> CuratorApp:
        return cast("CuratorApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="adj-main"):
            yield FitTable(cursor_type="row", zebra_stripes=True, id="adj-list", flex="title")
            with Vertical(id="adj-side"):
                yield Static(id="adj-heading")
                yield FitTable(cursor_type="row", id="adj-grid", flex="title", flex_min=6)
                yield Static(id="adj-final")
        yield Static(id="adj-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.list_table
        table.add_column("Title", width=20, key="title")
        table.add_column("Sets", key="sets")
        table.add_column("Id", key="id")
        self.query_one("#adj-status", Static).update(content("Loading the records in disagreement…"))
        self.load()

    @property
    def list_table(self) -> DataTable[Text]:
        return self.query_one("#adj-list", DataTable)

    @property
    def grid(self) -> DataTable[Text]:
        return self.query_one("#adj-grid", DataTable)

    def refresh_data(self) -> None:
        self.load()

    # -- loading -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="adjudicate-load")
    def load(self) -> None:
        db = self.curator.workspace.db
        try:
            items = disagreements(db)
            clauses = current_clauses(db)
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.Failed(f"Could not read the disagreements: {err}", write=False))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(items, clauses))

    def on_adjudicate_screen_failed(self, message: Failed) -> None:
        if message.write:
            self.busy = False
        self.notify(message.error, title="Not saved" if message.write else "", severity="error", markup=False)

    def on_adjudicate_screen_loaded(self, message: Loaded) -> None:
        self.clauses = message.clauses
        table = self.list_table
        keep = self.highlighted_id()
        table.clear()
        self.items = {d.id: d for d in message.items}
        self.finals = {k: v for k, v in self.finals.items() if k in self.items}
        for d in message.items:
            sets = f"{len(d.annotations)}" + (f"+{len(d.pending)}" if d.pending else "")
            table.add_row(clipped(d.title or "(untitled)"), plain(sets), plain(d.id, "dim"), key=d.id)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self.show_status()
        self.show_record()

    def show_status(self) -> None:
        parts: list[tuple[str, str] | str] = [(f"{len(self.items)} records in disagreement", "bold")]
        parts.append(("   Sets: given (+pending)", "dim"))
        parts += [("   you are ", "dim"), self.curator.user]
        self.query_one("#adj-status", Static).update(join(*parts))

    def highlighted_id(self) -> str | None:
        table = self.list_table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowHighlighted, "#adj-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_record()

    @on(DataTable.RowSelected, "#adj-list")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.grid.focus()

    @on(DataTable.RowSelected, "#adj-grid")
    def _grid_selected(self, event: DataTable.RowSelected) -> None:
        self.action_toggle_clause()

    def current(self) -> Disagreement | None:
        return self.items.get(self.highlighted_id() or "")

    def final_of(self, d: Disagreement) -> list[str]:
        return self.finals.setdefault(d.id, starting_set(d))

    def show_record(self) -> None:
        """The highlighted record side by side: a clause per row, a column per annotator."""
        heading = self.query_one("#adj-heading", Static)
        grid = self.grid
        d = self.current()
        grid.clear(columns=True)
        if d is None:
            heading.update(content("No record in disagreement: nothing to adjudicate (A applies agreed sets)."))
            self.query_one("#adj-final", Static).update(content(""))
            return
        parts: list[tuple[str, str] | str] = [(d.title or "(untitled)", "bold"), "\n", (d.id, "dim")]
        parts += [("   annotators: ", "dim"), ", ".join(a.annotator for a in d.annotations)]
        if d.pending:
            parts += [("   pending: ", "dim"), ", ".join(d.pending)]
        heading.update(join(*parts))
        grid.add_column("Clause", key="clause")
        grid.add_column("Title", width=10, key="title")
        for i, a in enumerate(d.annotations):
            grid.add_column(clipped(a.annotator), width=min(NAME_WIDTH, max(1, len(a.annotator))), key=f"a{i}")
        grid.add_column("Now", key="now")
        grid.add_column("Final", key="final")
        self.fill_grid(d)

    def fill_grid(self, d: Disagreement) -> None:
        grid = self.grid
        row = grid.cursor_row
        grid.clear()
        final = self.final_of(d)
        order = {c.id: i for i, c in enumerate(self.clauses)}
        titles = {c.id: c.title for c in self.clauses}
        for clause_id in grid_rows(d, final, order):
            known = clause_id in titles
            cells = [
                plain(clause_id, "" if known else "red"),
                clipped(titles.get(clause_id, "(not in the constitution)"), "dim"),
                *(mark(clause_id in a.clauses) for a in d.annotations),
                mark(clause_id in d.links, "cyan"),
                plain("✓" if clause_id in final else "", "bold green"),
            ]
            grid.add_row(*cells, key=clause_id)
        if grid.row_count:
            grid.move_cursor(row=min(row, grid.row_count - 1))
        self.query_one("#adj-final", Static).update(
            join(
                ("Final set: ", "bold"),
                ", ".join(final) or "(none)",
                ("   (space toggles, u union, m majority, l adds, d decides)", "dim"),
            )
        )

    # -- the lead's set --------------------------------------------------------------------------

    def _record(self) -> Disagreement | None:
        d = self.current()
        if d is None:
            self.notify("No record in disagreement is selected.", severity="warning", markup=False)
        elif self.busy:
            self.notify("Still saving.", severity="warning", markup=False)
            return None
        return d

    def action_toggle_clause(self) -> None:
        d = self._record()
        grid = self.grid
        if d is None or not grid.row_count:
            return
        clause_id = str(grid.coordinate_to_cell_key(grid.cursor_coordinate).row_key.value)
        final = self.final_of(d)
        if clause_id in final:
            final.remove(clause_id)
        else:
            final.append(clause_id)
        self.fill_grid(d)

    def action_start(self, how: str) -> None:
        d = self._record()
        if d is None:
            return
        chosen = union_set(d) if how == "union" else majority_set(d)
        if not chosen:
            self.notify("No clause has a majority: the set is left as it was.", severity="warning", markup=False)
            return
        self.finals[d.id] = chosen
        self.fill_grid(d)

    def action_pick(self) -> None:
        d = self._record()
        if d is None:
            return

        def picked(chosen: list[str] | None) -> None:
            if chosen is not None and d.id in self.items:
                self.finals[d.id] = chosen
                if self.highlighted_id() == d.id:
                    self.show_record()

        self.app.push_screen(ClausePicker(self.clauses, self.final_of(d)), picked)

    def action_decide(self) -> None:
        d = self._record()
        if d is None:
            return
        final = list(self.final_of(d))
        if not final:
            self.notify("The final set is empty: toggle at least one clause.", severity="warning", markup=False)
            return
        now = ", ".join(d.links) or "none"
        question = f"{d.id}: link {', '.join(final)} (links now: {now})? This decides the record."

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self._decide(d.id, tuple(final))

        self.app.push_screen(ConfirmScreen(question, yes="Decide", no="Cancel"), answered)

    @work(thread=True, group="adjudicate-write")
    def _decide(self, example_id: str, clauses: tuple[str, ...]) -> None:
        try:
            result = adjudicate(self.curator.workspace.db, example_id, clauses, actor=self.curator.user)
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.Failed(str(err)))
        else:
            self.post_message(self.Decided(result))

    def on_adjudicate_screen_decided(self, message: Decided) -> None:
        self.busy = False
        self.notify(message.result.summary(), markup=False)
        self.finals.pop(message.result.id, None)
        self.app.post_message(WorkspaceChanged())  # reloads this list too: the record leaves it

    def action_apply_agreed(self) -> None:
        if self.busy:
            self.notify("Still saving.", severity="warning", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self._apply_agreed()

        self.app.push_screen(
            ConfirmScreen(
                "Apply the agreed sets: every undecided record whose assigned annotators all gave one same set "
                "gets that set as its links?",
                yes="Apply",
                no="Cancel",
            ),
            answered,
        )

    @work(thread=True, group="adjudicate-write")
    def _apply_agreed(self) -> None:
        try:
            result = apply_agreed(self.curator.workspace.db, actor=self.curator.user)
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.Failed(str(err)))
        else:
            self.post_message(self.AgreedApplied(result))

    def on_adjudicate_screen_agreed_applied(self, message: AgreedApplied) -> None:
        self.busy = False
        result = message.result
        left = f", {len(result.refused)} left for adjudication" if result.refused else ""
        self.notify(f"Agreed sets applied to {len(result.applied)} records{left}.", markup=False)
        for example_id, why in result.refused:
            self.notify(f"{example_id}: not applied: {why}", severity="warning", markup=False)
        if result.applied:
            self.app.post_message(WorkspaceChanged())

    def action_reload(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
