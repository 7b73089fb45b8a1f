"""The Review screen: the queue of examples waiting for review, the highlighted one read-only
beside it with the reasons it could not be approved yet, and approve / reject with a comment.
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
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from curator.errors import CuratorError
from curator.models import Example, TextBlock, ToolUseBlock
from curator.review import ReviewRow, Verdict, approval_problems, decide, introduced_by, queue, reviews_of
from curator.store import examples
from curator.tui.messages import WorkspaceChanged
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.comment import CommentScreen
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.dup_panel import DupPanel, DupRow, EvalWarning
from curator.tui.widgets.fit_table import FitTable

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


def example_body(ex: Example) -> Text:
    """Everything a reviewer reads, literally: clauses, tags, system prompt, tools, text or turns."""
    parts: list[Part] = []

    def field(label: str, value: str) -> None:
        parts.append((label + ": ", "bold"))
        parts.append(value + "\n")

    if ex.clauses:
        field("Clauses", ", ".join(ex.clauses))
    else:
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


def problems_text(problems: list[str], reviews: list[ReviewRow], overlaps: list[str] | None = None) -> Text:
    """Why the example cannot be approved, or that it can; `overlaps` None while they are being checked."""
    parts: list[Part] = []
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
    else:
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


class ReviewScreen(Screen[None]):
    """Approve or reject what others submitted."""

    CSS_PATH = "lists.tcss"
    AUTO_FOCUS = "#review-table"
    HELP_NAME = "Review"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", tooltip="Approve the highlighted example (with an optional comment)"),
        Binding("x", "reject", "Reject", tooltip="Reject the highlighted example (a comment is required)"),
        Binding("e", "edit", "Edit"),
        Binding("h", "history", "History"),
        Binding("r", "reload", "Reload", show=False),
    ]

    class QueueLoaded(Message):
        def __init__(self, rows: list[dict[str, Any]]) -> None:
            super().__init__()
            self.rows = rows

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
        self.introducer: str | None = None  # who imported the shown example, when it names no author
        """The highlighted example as last read (its version is the one a decision expects)."""
        self.reviews: list[ReviewRow] = []
        self.deciding = False
        self.loaded = False
        """The queue was read at least once."""

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
        yield Footer()

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Title", width=30, key="title")
        table.add_column("Kind", key="kind")
        table.add_column("Author", key="author")
        table.add_column("Waiting since", key="since")
        table.add_column("Id", key="id")
        self.query_one("#review-status", Static).update(content("Loading the review queue…"))
        self.load_queue()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#review-table", DataTable)

    def refresh_data(self) -> None:
        self.load_queue()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.load_queue()

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="review-queue")
    def load_queue(self) -> None:
        try:
            rows = queue(self.curator.workspace.db, limit=QUEUE_LIMIT)
        except sqlite3.Error as err:
            self.app.call_from_thread(self.notify, f"Could not read the queue: {err}", severity="error", markup=False)
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.QueueLoaded(rows))

    def on_review_screen_queue_loaded(self, message: QueueLoaded) -> None:
        self.loaded = True
        table = self.table
        keep = self.highlighted_id()
        index = table.cursor_row
        table.clear()
        for row in message.rows:
            table.add_row(
                clipped(row["title"]),
                plain(row["kind"]),
                plain(row["author"]),
                plain(row["updated_at"][:10]),
                plain(row["id"], "dim"),
                key=row["id"],
            )
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        elif table.row_count:
            table.move_cursor(row=min(index, table.row_count - 1))
        n = len(message.rows)
        more = " (showing the oldest)" if n >= QUEUE_LIMIT else ""
        self.query_one("#review-status", Static).update(
            join((f"{n} waiting for review{more}", "bold"), ("   you are ", "dim"), self.curator.user)
        )
        if not n:
            self.show_detail(None, [])
            self.query_one("#review-heading", Static).update(content("Nothing is waiting for review."))
        else:
            self.load_detail(self.highlighted_id() or "")

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
        problems = self.query_one("#review-problems", Static)
        problems.set_class(bool(found or overlaps), "has-problems")
        problems.update(problems_text(found, self.reviews, overlaps))

    def on_dup_panel_updated(self, message: DupPanel.Updated) -> None:
        message.stop()
        if self.example is not None and message.subject_id == self.example.id:
            self.show_problems(overlap_lines(message.rows, message.warnings))

    def highlighted_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

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

    def action_approve(self) -> None:
        ex = self._current()
        if ex is None:
            return
        if approval_problems(ex, self.curator.user, self.introducer):
            # the rules refuse it anyway: let the core say why, without asking for a comment first
            self.decide(ex.id, "approve", "", ex.version)
            return
        question = self.overlap_question(ex)
        if question is None:
            self.ask_approval_comment(ex)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.ask_approval_comment(ex)

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
        self.deciding = False
        word = "Approved" if message.verdict == "approve" else "Rejected"
        self.notify(f"{word} {message.example.id}: {message.example.title}", markup=False)
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
        self.load_queue()
