"""The Review screen: the queue of examples waiting for review, the highlighted one read-only
beside it with the reasons it could not be approved yet, and one key per decision.

`a` approves and moves on, `x` asks for the reason and rejects, `s` (or space) skips. The queue
holds still while a reviewer works through it: a decided example stays in its row, marked and
dimmed, and the cursor moves to the next undecided row; rows are dropped only when `r` reads the
queue again. The rules are the core's (`curator.review`); the screen only asks before approving
an example with overlaps.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

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

from curator.errors import CuratorError
from curator.models import Example, TextBlock, ToolUseBlock
from curator.review import ReviewRow, Verdict, approval_problems, decide, introduced_by, queue, reviews_of
from curator.store import examples
from curator.store.examples import rejected_counts, summaries_of
from curator.tui.messages import WorkspaceChanged
from curator.tui.safe import content, join, plain
from curator.tui.screens.comment import CommentScreen
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.examples import title_cell
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.dup_panel import DupPanel, DupRow, EvalWarning
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp

QUEUE_LIMIT = 500

Part = tuple[str, str] | str


def example_heading(ex: Example) -> Text:
    """Title and one line of metadata."""
    return join(
        (ex.title, "bold"),
        "\n",
        (f"{ex.id} · {ex.kind} · {ex.status} · by ", "dim"),
        (ex.author or "(no author)", "dim"),
        (f" · version {ex.version} · updated {ex.updated_at}", "dim"),
    )


def example_body(ex: Example, *, links: bool = True) -> Text:
    """Everything a reviewer reads, literally: clauses, tags, system prompt, tools, text or turns.
    `links=False` leaves out the clauses line (a blind annotator's record has none to show)."""
    parts: list[Part] = []

    def field(label: str, value: str) -> None:
        parts.append((label + ": ", "bold"))
        parts.append(value + "\n")

    if links and ex.clauses:
        field("Clauses", ", ".join(ex.clauses))
    elif links:
        parts.append(("Clauses: none linked\n", "yellow"))
    if ex.tags:
        field("Tags", ", ".join(ex.tags))
    if ex.group:
        field("Group", ex.group)
    if ex.source.type != "manual" or ex.source.model:
        field("Source", " ".join(v for v in (ex.source.type, ex.source.model or "", ex.source.origin or "") if v))
    if ex.system:
        parts.append(("\nSystem\n", "bold underline"))
        parts.append(ex.system + "\n")
    for tool in ex.tools or []:
        parts.append(("Tool ", "bold"))
        parts.append((tool.name, "italic"))
        parts.append((" — " + tool.description if tool.description else "") + "\n")
    if ex.text is not None:
        parts.append(("\nText\n", "bold underline"))
        parts.append(ex.text + "\n")
    for i, msg in enumerate(ex.messages or []):
        role = "User" if msg.role == "user" else "Assistant"
        parts.append((f"\n{i + 1}. {role}\n", "bold cyan" if msg.role == "user" else "bold green"))
        parts.extend(_message_parts(msg.content))
        if msg.role == "assistant":
            if (msg.rationale or "").strip():
                parts.append(("   Rationale: ", "bold italic"))
                parts.append((msg.rationale or "", "italic"))
                parts.append("\n")
            else:
                parts.append(("   Rationale: missing\n", "yellow"))
            for k, alt in enumerate(msg.alternatives or []):
                parts.append((f"   ✗ Rejected answer {k + 1}\n", "bold red"))
                parts.extend(_message_parts(alt.content))
                if (alt.why_not or "").strip():
                    parts.append(("   Why not: ", "bold italic"))
                    parts.append((alt.why_not or "", "italic"))
                    parts.append("\n")
                else:
                    parts.append(("   Why not: missing (needs a why-not before approval)\n", "yellow"))
    if ex.rationale:
        parts.append(("\nRationale\n", "bold underline"))
        parts.append(ex.rationale + "\n")
    return join(*parts)


def _message_parts(value: Any) -> list[Part]:
    if isinstance(value, str):
        return [value + "\n"]
    parts: list[Part] = []
    for block in value:
        if isinstance(block, TextBlock):
            parts.append(block.text + "\n")
        elif isinstance(block, ToolUseBlock):
            parts.append((f"→ {block.name} ", "magenta"))
            parts.append((json.dumps(block.input, ensure_ascii=False), "magenta"))
            parts.append(("  [" + block.id + "]\n", "dim"))
        else:
            label = "← error " if block.is_error else "← result "
            parts.append((label, "red" if block.is_error else "magenta"))
            if isinstance(block.content, str):
                parts.append(block.content + "\n")
            else:
                parts.append("\n".join(b.text for b in block.content) + "\n")
    return parts


def overlap_lines(rows: list[DupRow], warnings: list[EvalWarning]) -> list[str]:
    """One line per near-duplicate and per eval overlap, as a reviewer reads them."""
    lines = [f"near-copy of {r.id} “{r.title}” ({r.reason}, {r.score:.2f})" for r in rows]
    lines += [
        f"overlaps eval set {w.evalset} item {w.item} in {w.field or 'the text'} ({w.rule}, {w.score:.2f})"
        for w in warnings
    ]
    return lines


def problems_text(
    problems: list[str], reviews: list[ReviewRow], overlaps: list[str] | None = None, decided: str | None = None
) -> Text:
    """Why the example cannot be approved, or that it can; `overlaps` None while they are being checked;
    `decided` the row's mark once it is no longer waiting."""
    parts: list[Part] = []
    if decided:
        parts.append((f"{decided}: no longer waiting (r reloads the queue)\n", "bold"))
    if problems:
        parts.append(("Cannot approve yet:\n", "bold yellow"))
        for problem in problems:
            parts.append(("  ⚠ " + problem + "\n", "yellow"))
    elif overlaps:
        parts.append(("The rules allow approval, but look first:\n", "bold yellow"))
        for line in overlaps:
            parts.append(("  ⚠ " + line + "\n", "yellow"))
    elif overlaps is None:
        parts.append(("Checking for near-duplicates and eval overlaps…\n", "dim"))
    elif not decided:
        parts.append(("Ready to approve: no near-duplicates, no eval overlaps.\n", "green"))
    for r in reviews:
        parts.append((f"Earlier review (version {r.example_version}): ", "dim"))
        parts.append((r.verdict, "green" if r.verdict == "approve" else "red"))
        parts.append((" by ", "dim"))
        parts.append(r.reviewer)
        if r.comment:
            parts.append((" — ", "dim"))
            parts.append(r.comment)
        parts.append("\n")
    return join(*parts)


MARKS: dict[str, tuple[str, str]] = {
    "approved": ("✓", "green"),
    "rejected": ("✗", "red"),
    "deleted": ("–", ""),
}
"""How a row that is no longer waiting is marked in its first column, by its status now: one
character, so the titles keep the width (the detail pane and the status line say the rest)."""


def row_cells(row: dict[str, Any], state: str | None) -> tuple[Text, ...]:
    """A queue row: empty status while it waits; marked and dimmed once decided (`state`: its status now)."""
    dim = "dim" if state else ""
    mark, colour = MARKS.get(state, ("–", "")) if state else ("", "")
    return (
        plain(mark, f"{colour} {dim}".strip()),
        title_cell(row["title"], row.get("rejected", 0), dim),
        plain(row["kind"], dim),
        plain(row["author"], dim),
        plain(row["updated_at"][:10], dim),
        plain(row["id"], "dim"),
    )


COLUMNS = ("status", "title", "kind", "author", "since", "id")
"""The queue's column keys, in the order of `row_cells`."""


class ReviewScreen(Screen[None]):
    """Approve or reject what others submitted, one key per decision."""

    CSS_PATH = "lists.tcss"
    AUTO_FOCUS = "#review-table"
    HELP_NAME = "Review"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", tooltip="Approve the highlighted example and move to the next"),
        Binding(
            "A,shift+a", "approve(True)", "Approve with comment", show=False, tooltip="Approve with a comment, move on"
        ),
        Binding("x", "reject", "Reject", tooltip="Reject with a comment (required), then move to the next"),
        Binding("s,space", "skip", "Skip", tooltip="Move to the next undecided example without deciding"),
        Binding("e", "edit", "Edit"),
        Binding("h", "history", "History"),
        Binding("r", "reload", "Reload", show=False, tooltip="Read the queue again: decided examples leave it"),
    ]

    class QueueLoaded(Message):
        def __init__(self, rows: list[dict[str, Any]], gone: dict[str, str], *, full: bool) -> None:
            super().__init__()
            self.rows = rows
            self.gone = gone
            """Shown rows no longer waiting, elsewhere decided (or deleted): id -> their status now."""
            self.full = full

    class DetailLoaded(Message):
        def __init__(
            self, example: Example | None, reviews: list[ReviewRow], error: str = "", introducer: str | None = None
        ) -> None:
            super().__init__()
            self.example = example
            self.reviews = reviews
            self.error = error
            self.introducer = introducer

    class Decided(Message):
        def __init__(self, example: Example, verdict: Verdict) -> None:
            super().__init__()
            self.example = example
            self.verdict = verdict

    class DecisionFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.example: Example | None = None
        """The highlighted example as last read (its version is the one a decision expects)."""
        self.introducer: str | None = None  # who imported the shown example, when it names no author
        self.reviews: list[ReviewRow] = []
        self.deciding = False
        self.loaded = False
        """The queue was read at least once."""
        self.rows: dict[str, dict[str, Any]] = {}
        """The shown rows' data (id, title, kind, author, updated_at), by id."""
        self.states: dict[str, str] = {}
        """Rows no longer waiting: id -> status now (decided here, elsewhere, or deleted)."""
        self.decided_here: set[str] = set()
        """Rows decided on this screen since the last reload: their marks hold until `r`."""
        self.more = False
        """The queue was cut at QUEUE_LIMIT."""

    @property
    def curator(self) -> CuratorApp:
        return cast("CuratorApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="review-main"):
            yield FitTable(cursor_type="row", zebra_stripes=True, id="review-table", flex="title")
            with VerticalScroll(id="review-detail"):
                yield Static(id="review-heading")
                yield Static(id="review-problems")
                yield DupPanel(id="review-overlaps", subject="Under review")
                yield Static(id="review-body")
        yield Static(id="review-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.table
        table.add_column("", width=1, key="status")
        table.add_column("Title", width=30, key="title")
        table.add_column("Kind", key="kind")
        table.add_column("Author", key="author")
        table.add_column("Waiting since", key="since")
        table.add_column("Id", key="id")
        self.query_one("#review-status", Static).update(content("Loading the review queue…"))
        self.load_queue(full=True)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#review-table", DataTable)

    def refresh_data(self) -> None:
        """After a change anywhere: new submissions join at the end, nothing moves or leaves."""
        self.load_queue()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.load_queue()

    # -- loading -----------------------------------------------------------------------------

    def load_queue(self, *, full: bool = False) -> None:
        """Read the queue; `full` rebuilds the list from it (decided rows leave), else it is merged in."""
        shown = () if full else tuple(self.rows)
        self._load_queue(shown, full)

    @work(thread=True, exclusive=True, group="review-queue")
    def _load_queue(self, shown: tuple[str, ...], full: bool) -> None:
        db = self.curator.workspace.db
        try:
            rows = queue(db, limit=QUEUE_LIMIT)
            rejected = rejected_counts(db, [row["id"] for row in rows])
            for row in rows:
                row["rejected"] = rejected.get(row["id"], 0)
            waiting = {row["id"] for row in rows}
            left = [example_id for example_id in shown if example_id not in waiting]
            live = summaries_of(db, left) if left else {}
        except sqlite3.Error as err:
            self.app.call_from_thread(self.notify, f"Could not read the queue: {err}", severity="error", markup=False)
            return
        gone = {example_id: live[example_id].status if example_id in live else "deleted" for example_id in left}
        if not get_current_worker().is_cancelled:
            self.post_message(self.QueueLoaded(rows, gone, full=full))

    def on_review_screen_queue_loaded(self, message: QueueLoaded) -> None:
        self.loaded = True
        self.more = len(message.rows) >= QUEUE_LIMIT
        table = self.table
        keep = self.highlighted_id()
        index = table.cursor_row
        if message.full:
            table.clear()
            self.rows.clear()
            self.states.clear()
            self.decided_here.clear()
        for example_id, status in message.gone.items():
            if example_id in self.rows and example_id not in self.decided_here:
                self.states[example_id] = status
                self._render_row(example_id)
        for row in message.rows:
            example_id = row["id"]
            if example_id in self.rows:
                self.rows[example_id] = row  # its title may have changed
                if example_id not in self.decided_here:
                    self.states.pop(example_id, None)  # back in the queue (resubmitted)
                self._render_row(example_id)
            else:  # a new submission joins at the end
                self.rows[example_id] = row
                table.add_row(*row_cells(row, None), key=example_id)
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        elif table.row_count:
            table.move_cursor(row=min(index, table.row_count - 1))
        self.show_progress()
        if not table.row_count:
            self.show_detail(None, [])
            self.query_one("#review-heading", Static).update(content("Nothing is waiting for review."))
        elif message.full or self.example is None or self.example.id != self.highlighted_id():
            self.load_detail(self.highlighted_id() or "")

    def _render_row(self, example_id: str) -> None:
        cells = row_cells(self.rows[example_id], self.states.get(example_id))
        for column, cell in zip(COLUMNS, cells, strict=True):
            self.table.update_cell(example_id, column, cell)

    def show_progress(self) -> None:
        """How far through the queue the reviewer is, and how many still wait."""
        total = len(self.rows)
        decided = len(self.states)
        more = " (showing the oldest)" if self.more else ""
        parts: list[Part] = [(f"{decided} of {total} decided", "bold")]
        parts.append(f" · {total - decided} waiting for review{more}")
        if total and decided == total:
            parts.append(("   all decided: r reloads the queue", "green"))
        parts += [("   you are ", "dim"), self.curator.user]
        self.query_one("#review-status", Static).update(join(*parts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.load_detail(event.row_key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    @work(thread=True, exclusive=True, group="review-detail")
    def load_detail(self, example_id: str) -> None:
        db = self.curator.workspace.db
        try:
            ex = examples.get(db, example_id)
            reviews = reviews_of(db, example_id)
            introducer = introduced_by(db, example_id)
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.DetailLoaded(None, [], str(err)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.DetailLoaded(ex, reviews, introducer=introducer))

    def on_review_screen_detail_loaded(self, message: DetailLoaded) -> None:
        if message.example is not None and message.example.id != self.highlighted_id():
            return  # the cursor moved on
        self.introducer = message.introducer
        self.show_detail(message.example, message.reviews)
        if message.error:
            self.query_one("#review-heading", Static).update(content(message.error))

    def show_detail(self, ex: Example | None, reviews: list[ReviewRow]) -> None:
        self.example = ex
        heading = self.query_one("#review-heading", Static)
        problems = self.query_one("#review-problems", Static)
        body = self.query_one("#review-body", Static)
        if ex is None:
            for widget in (heading, problems, body):
                widget.update(content(""))
            return
        self.reviews = reviews
        heading.update(example_heading(ex))
        self.show_problems(None)
        body.update(example_body(ex))
        self.query_one("#review-detail", VerticalScroll).scroll_home(animate=False)
        self.overlaps.schedule(ex.searchable_text(), ex.id, delay=0, fields=ex.text_fields())

    @property
    def overlaps(self) -> DupPanel:
        return self.query_one("#review-overlaps", DupPanel)

    def show_problems(self, overlaps: list[str] | None) -> None:
        """The rules' verdict on the shown example, with its overlaps once they are known."""
        ex = self.example
        if ex is None:
            return
        found = approval_problems(ex, self.curator.user, self.introducer)
        state = self.states.get(ex.id)
        decided = MARKS.get(state, (f"– {state}", ""))[0] if state else None
        problems = self.query_one("#review-problems", Static)
        problems.set_class(bool(found or overlaps), "has-problems")
        problems.update(problems_text(found, self.reviews, overlaps, decided))

    def on_dup_panel_updated(self, message: DupPanel.Updated) -> None:
        message.stop()
        if self.example is not None and message.subject_id == self.example.id:
            self.show_problems(overlap_lines(message.rows, message.warnings))

    def highlighted_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def next_undecided(self, after: str) -> str | None:
        """The first waiting row below `after`, wrapping round to the top; None when none waits."""
        ids = [str(row.key.value) for row in self.table.ordered_rows]
        start = ids.index(after) + 1 if after in ids else 0
        for example_id in ids[start:] + ids[:start]:
            if example_id != after and example_id not in self.states:
                return example_id
        return None

    def move_to(self, example_id: str) -> None:
        self.table.move_cursor(row=self.table.get_row_index(example_id))

    # -- decisions ---------------------------------------------------------------------------

    def _current(self) -> Example | None:
        ex = self.example
        if ex is None or ex.id != self.highlighted_id():
            self.notify("Nothing selected (or still loading).", severity="warning", markup=False)
            return None
        if self.deciding:
            self.notify("Still saving the last decision.", severity="warning", markup=False)
            return None
        return ex

    def action_approve(self, with_comment: bool = False) -> None:
        """Approve the highlighted example (after confirming its overlaps), asking for a comment only
        with `with_comment`."""
        ex = self._current()
        if ex is None:
            return
        if approval_problems(ex, self.curator.user, self.introducer):
            # the rules refuse it anyway: let the core say why, without asking anything first
            self.decide(ex.id, "approve", "", ex.version)
            return

        def approve() -> None:
            if with_comment:
                self.ask_approval_comment(ex)
            else:
                self.decide(ex.id, "approve", "", ex.version)

        question = self.overlap_question(ex)
        if question is None:
            approve()
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                approve()

        self.app.push_screen(ConfirmScreen(question, yes="Approve anyway", no="Cancel"), confirmed)

    def overlap_question(self, ex: Example) -> str | None:
        """What to confirm before approving `ex`: its overlaps, or that they are not known; None when clean."""
        panel = self.overlaps
        if not panel.done or panel.checked_id != ex.id:
            return f"The near-duplicate and eval-overlap check of {ex.id} has not finished. Approve without it?"
        if panel.error is not None:
            return f"The overlap check of {ex.id} failed ({panel.error}). Approve anyway?"
        lines = overlap_lines(panel.rows, panel.warnings)
        if not lines:
            return None
        shown = "\n".join(f"• {line}" for line in lines[:6])
        more = f"\n… and {len(lines) - 6} more" if len(lines) > 6 else ""
        return f"{ex.id} “{ex.title}”:\n{shown}{more}\n\nApprove it anyway?"

    def ask_approval_comment(self, ex: Example) -> None:
        def done(comment: str | None) -> None:
            if comment is not None:
                self.decide(ex.id, "approve", comment, ex.version)

        self.app.push_screen(
            CommentScreen(f"Approve {ex.id}: {ex.title}", ok_label="Approve", placeholder="Comment (optional)"), done
        )

    def action_reject(self) -> None:
        ex = self._current()
        if ex is None:
            return

        def done(comment: str | None) -> None:
            if comment is not None:
                self.decide(ex.id, "reject", comment, ex.version)

        self.app.push_screen(
            CommentScreen(
                f"Reject {ex.id}: {ex.title}", require_comment=True, ok_label="Reject", placeholder="Why? (required)"
            ),
            done,
        )

    def action_skip(self) -> None:
        """On to the next undecided row, deciding nothing."""
        current = self.highlighted_id()
        if current is None:
            return
        following = self.next_undecided(current)
        if following is None:
            self.notify("Nothing else is waiting: r reloads the queue.", markup=False)
        else:
            self.move_to(following)

    def decide(self, example_id: str, verdict: Verdict, comment: str, version: int) -> None:
        """Record the decision in a worker; the core checks the rules and the version."""
        self.deciding = True
        self._decide(example_id, verdict, comment, version)

    @work(thread=True, group="review-decide")
    def _decide(self, example_id: str, verdict: Verdict, comment: str, version: int) -> None:
        try:
            updated = decide(
                self.curator.workspace.db,
                example_id,
                verdict,
                comment=comment,
                expected_version=version,
                actor=self.curator.user,
            )
        except (CuratorError, sqlite3.Error) as err:
            self.post_message(self.DecisionFailed(str(err)))
        else:
            self.post_message(self.Decided(updated, verdict))

    def on_review_screen_decided(self, message: Decided) -> None:
        """Mark the row where it is and, if the cursor is still on it, move to the next undecided one."""
        self.deciding = False
        ex = message.example
        word = "Approved" if message.verdict == "approve" else "Rejected"
        self.notify(f"{word} {ex.id}: {ex.title}", markup=False)
        if ex.id in self.rows:
            self.states[ex.id] = ex.status
            self.decided_here.add(ex.id)
            self._render_row(ex.id)
            self.show_progress()
            if self.highlighted_id() == ex.id:
                following = self.next_undecided(ex.id)
                if following is not None:
                    self.move_to(following)
                else:
                    self.load_detail(ex.id)  # nothing else waits: show this one as decided
        self.app.post_message(WorkspaceChanged())

    def on_review_screen_decision_failed(self, message: DecisionFailed) -> None:
        self.deciding = False
        self.notify(message.error, title="Not saved", severity="error", markup=False)

    # -- navigation --------------------------------------------------------------------------

    def action_edit(self) -> None:
        example_id = self.highlighted_id()
        if example_id is not None:
            self.curator.open_editor(example_id)

    def action_history(self) -> None:
        example_id = self.highlighted_id()
        if example_id is not None:
            self.curator.open_history(example_id)

    def action_reload(self) -> None:
        """Read the queue again: decided rows leave it, the order is the queue's."""
        self.load_queue(full=True)
