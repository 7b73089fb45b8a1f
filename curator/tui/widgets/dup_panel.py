"""Live near-duplicate and eval-overlap panel beside the example editor.

The editor calls :meth:`DupPanel.schedule` on every edit; after a quiet period a thread
worker asks the dedup engine (and the registered eval sets) about the draft and posts
:class:`DupPanel.Results` back. Everything shown is data, so it goes through `safe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from curator.errors import CuratorError, UsageError
from curator.tui.safe import content
from curator.tui.widgets.footer import KeyFooter
from curator.tui.widgets.word_diff import segments_content
from curator.worddiff import word_diff as core_word_diff

if TYPE_CHECKING:
    from curator.dedup.decontam import CommonNgrams, EvalIndex

DEBOUNCE_SECONDS = 0.3
RETRY_SECONDS = 0.5
MAX_ROWS = 8


@dataclass(frozen=True)
class DupRow:
    """One verified near-duplicate of the draft, with the other record's title."""

    id: str
    score: float
    reason: str
    title: str
    span: str = ""
    """The shared text (normalised, cut short), so an excerpt is recognised without opening it."""
    field: str = ""
    """Where the span lies in the other record."""


@dataclass(frozen=True)
class EvalWarning:
    evalset: str
    item: str
    rule: str
    score: float
    field: str = ""
    """Where in the draft the overlap is (`system`, `messages[1].rationale`, ...)."""


class DupCompareScreen(ModalScreen[None]):
    """The draft and one near-duplicate side by side (read-only)."""

    HELP_NAME = "Compare"

    DEFAULT_CSS = """
    DupCompareScreen {
        align: center middle;
    }
    DupCompareScreen > Vertical {
        width: 95%;
        height: 90%;
        border: thick $primary;
        background: $surface;
    }
    DupCompareScreen Horizontal {
        height: 1fr;
    }
    DupCompareScreen .compare-side {
        width: 1fr;
        padding: 0 1;
    }
    DupCompareScreen .compare-title {
        text-style: bold;
        height: auto;
    }
    DupCompareScreen TextArea {
        height: 1fr;
    }
    DupCompareScreen #compare-diff {
        height: auto;
        max-height: 10;
        padding: 0 1;
        border-bottom: solid $primary-darken-2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, left_title: str, left_text: str, right_title: str, right_text: str) -> None:
        super().__init__()
        self._sides = ((left_title, left_text, "compare-left"), (right_title, right_text, "compare-right"))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(word_diff(self._sides[0][1], self._sides[1][1]), id="compare-diff")
            with Horizontal():
                for title, text, side_id in self._sides:
                    with Vertical(classes="compare-side"):
                        yield Static(content(title), classes="compare-title")
                        yield TextArea(text, read_only=True, id=side_id)
            yield KeyFooter()

    def action_close(self) -> None:
        self.dismiss(None)


class DupPanel(Vertical):
    """Near-duplicates of the text being edited, best first; Enter or ctrl+d compares one."""

    DEFAULT_CSS = """
    DupPanel {
        height: 1fr;
    }
    DupPanel .dup-heading {
        text-style: bold;
        padding: 0 1;
    }
    DupPanel #dup-status {
        color: $text-muted;
        padding: 0 1;
    }
    DupPanel #dup-matches {
        height: 1fr;
    }
    DupPanel #dup-decontam {
        color: $warning;
        padding: 0 1;
        height: auto;
    }
    """

    class Results(Message):
        """What the worker found for one generation of the text (rows None: index still loading)."""

        def __init__(
            self,
            generation: int,
            rows: list[DupRow] | None,
            warnings: list[EvalWarning],
            error: str | None = None,
            unverified: int = 0,
        ) -> None:
            super().__init__()
            self.generation = generation
            self.rows = rows
            self.warnings = warnings
            self.error = error
            self.unverified = unverified

    class Updated(Message):
        """The panel now shows the results for `subject_id` (bubbles to the screen)."""

        def __init__(self, subject_id: str | None, rows: list[DupRow], warnings: list[EvalWarning]) -> None:
            super().__init__()
            self.subject_id = subject_id
            self.rows = rows
            self.warnings = warnings

    def __init__(self, *, id: str | None = None, subject: str = "This draft") -> None:
        super().__init__(id=id)
        self.subject = subject
        """How the compare view names the text being checked."""
        self.rows: list[DupRow] = []
        self.warnings: list[EvalWarning] = []
        self.checked_text = ""
        """The text the current rows were computed for."""
        self._text = ""
        self._fields: list[tuple[str, str]] | None = None
        self._exclude: str | None = None
        self._generation = 0
        self._timer: Timer | None = None
        self._eval_index: EvalIndex | None = None
        self._eval_common: CommonNgrams | None = None
        """Training counts of the eval 8-grams, counted once with the index: the same counts as
        `curator decontam` and the export, so the warning agrees with them."""
        self._eval_loaded = False
        self.checked_id: str | None = None
        """The record (its id, None for a new draft) the shown results belong to."""
        self.error: str | None = None
        """Why the last check failed (None when it ran)."""
        self.done = False
        """The shown results are for the latest scheduled text (no check pending)."""
        self.unverified = 0
        """Look-alikes of the checked text beyond the engine's per-check cap, counted but not verified."""

    def compose(self) -> ComposeResult:
        yield Static(content("Near-duplicates"), classes="dup-heading")
        yield Static(content("(no text yet)"), id="dup-status")
        yield OptionList(id="dup-matches", markup=False)
        yield Static(content(""), id="dup-decontam")

    def on_mount(self) -> None:
        self.query_one("#dup-decontam", Static).display = False

    # -- scheduling -------------------------------------------------------------------------------

    def schedule(
        self,
        text: str,
        exclude_id: str | None,
        delay: float = DEBOUNCE_SECONDS,
        fields: list[tuple[str, str]] | None = None,
    ) -> None:
        """Check `text` after `delay` seconds of quiet; every call restarts the wait.

        `fields` (path, text) is what is checked against eval sets: every field an export emits
        (by default `text` alone)."""
        self._text = text
        self._fields = fields
        self._exclude = exclude_id
        self._generation += 1
        self.done = False
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, 0.01), self._start)

    def recheck(self) -> None:
        """Check the latest text again at once: the index the shown results came from was replaced."""
        if self._generation:
            self.schedule(self._text, self._exclude, delay=0, fields=self._fields)

    def _start(self) -> None:
        self._timer = None
        app: Any = self.app
        self.run_check(self._text, self._exclude, self._generation, app, self._fields)

    @work(thread=True, exclusive=True, group="dup-check", exit_on_error=False)
    def run_check(
        self,
        text: str,
        exclude_id: str | None,
        generation: int,
        app: Any,
        fields: list[tuple[str, str]] | None = None,
    ) -> None:
        worker = get_current_worker()
        try:
            self._check(worker, text, exclude_id, generation, app, fields)
        except Exception as err:  # a failed check must never take the editor down
            if not worker.is_cancelled:
                self.post_message(self.Results(generation, [], [], error=f"check failed: {err}"))

    def _check(
        self,
        worker: Worker[None],
        text: str,
        exclude_id: str | None,
        generation: int,
        app: Any,
        fields: list[tuple[str, str]] | None = None,
    ) -> None:
        engine = app.dedup
        if engine is None:
            if not worker.is_cancelled:
                self.post_message(self.Results(generation, None, []))
            return
        from curator.store import examples

        db = app.workspace.db  # this worker thread's own connection
        result = engine.check_result(text, exclude_id=exclude_id, limit=MAX_ROWS) if text.strip() else None
        matches = result.matches if result is not None else []
        if worker.is_cancelled:
            return
        titles = examples.titles(db, [m.id for m in matches])
        rows = [DupRow(m.id, m.score, m.reason, titles.get(m.id, ""), m.span, m.field) for m in matches]
        scanned: list[tuple[str, str]] = fields if fields is not None else [("text", text)]
        warnings = self._eval_warnings(db, scanned, lambda: worker.is_cancelled)
        if worker.is_cancelled:
            return
        self.post_message(self.Results(generation, rows, warnings, unverified=result.unverified if result else 0))

    def _eval_warnings(
        self, db: Any, fields: list[tuple[str, str]], cancelled: Callable[[], bool]
    ) -> list[EvalWarning]:
        """Overlaps of the draft with registered eval sets (none registered: no warning)."""
        from curator.dedup.decontam import count_common, load_eval_index

        if not self._eval_loaded:
            try:
                self._eval_index = load_eval_index(db)
                self._eval_common = count_common(db, self._eval_index)
            except UsageError:
                self._eval_index = None
            self._eval_loaded = True
        if self._eval_index is None or cancelled() or not any(t.strip() for _, t in fields):
            return []
        flags = self._eval_index.scan([("draft", fields)], self._eval_common)
        seen: dict[tuple[str, str], EvalWarning] = {}
        for flag in flags:
            key = (flag.evalset, flag.item)
            if key not in seen or seen[key].score < flag.score:
                seen[key] = EvalWarning(flag.evalset, flag.item, flag.rule, flag.score, flag.field)
        return sorted(seen.values(), key=lambda w: (-w.score, w.evalset, w.item))

    def on_dup_panel_results(self, message: Results) -> None:
        message.stop()
        if message.generation != self._generation:
            return  # an older text; a newer check is on its way
        status = self.query_one("#dup-status", Static)
        if message.error is not None:
            status.update(content(message.error))
            self.error = message.error
            self.rows, self.warnings, self.unverified = [], [], 0
            self.checked_id = self._exclude
            self.done = True
            self.query_one("#dup-matches", OptionList).clear_options()
            self.query_one("#dup-decontam", Static).display = False
            self.post_message(self.Updated(self.checked_id, [], []))
            return
        if message.rows is None:
            status.update(content("index loading…"))
            if self._timer is None:
                self._timer = self.set_timer(RETRY_SECONDS, self._start)
            return
        self.rows = message.rows
        self.warnings = message.warnings
        self.error = None
        self.checked_text = self._text
        self.checked_id = self._exclude
        self.done = True
        options = self.query_one("#dup-matches", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        options.add_options([Option(_row_prompt(row), id=row.id) for row in self.rows])
        self.unverified = message.unverified
        more = f" (+{self.unverified} look-alikes not checked)" if self.unverified else ""
        if self.rows:
            options.highlighted = min(highlighted or 0, len(self.rows) - 1)
            status.update(content(f"{len(self.rows)} similar record(s){more}; Enter or ctrl+d compares"))
        else:
            status.update(content(f"no near-duplicates{more}"))
        decontam = self.query_one("#dup-decontam", Static)
        if self.warnings:
            lines = [
                f"⚠ overlaps eval set {w.evalset} item {w.item} in {w.field or 'the text'} ({w.rule}, {w.score:.2f})"
                for w in self.warnings
            ]
            decontam.update(content("\n".join(lines[:5])))
            decontam.display = True
        else:
            decontam.update(content(""))
            decontam.display = False
        self.set_class(not self.rows and not self.warnings, "-quiet")
        self.post_message(self.Updated(self.checked_id, self.rows, self.warnings))

    # -- comparing ----------------------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_list.id == "dup-matches" and event.option.id:
            self.compare(event.option.id)

    def compare(self, match_id: str | None = None) -> bool:
        """Open the side-by-side view of `match_id` (default: the highlighted or best match)."""
        if match_id is None:
            option = self.query_one("#dup-matches", OptionList).highlighted_option
            match_id = option.id if option is not None else (self.rows[0].id if self.rows else None)
        if match_id is None:
            return False
        from curator.store import examples

        app: Any = self.app
        try:
            other = examples.get(app.workspace.db, match_id)
        except CuratorError as err:
            self.notify(str(err), severity="error", markup=False)
            return False
        row = next((r for r in self.rows if r.id == match_id), None)
        score = f" · {row.score:.2f} {row.reason}" if row else ""
        self.app.push_screen(
            DupCompareScreen(
                self.subject,
                self.checked_text or self._text,
                f"{other.id} · {other.title}{score}",
                other.searchable_text(),
            )
        )
        return True


SPAN_CHARS = 90


def word_diff(left: str, right: str, *, context: int = 4, limit: int = 60) -> Content:
    """What differs between two texts, word by word (`curator.worddiff`): removed words struck
    through in red, added ones in green, unchanged runs cut to `context` words each side; at most
    `limit` changes, counted in the heading."""
    diff = core_word_diff(left, right, context=context, limit=limit, run_words=None, word_chars=None)
    if not diff.changes:
        return Content.styled("The two texts are the same word for word.", "dim")
    count = f"{limit}+" if diff.truncated else str(diff.changes)
    shown = Content.assemble((f"{count} difference(s): ", "bold"), segments_content(diff.segments))
    if diff.truncated:
        shown = Content.assemble(shown, (" … (more differences)", "dim"))
    return shown


def _row_prompt(row: DupRow) -> Content:
    span = row.span if len(row.span) <= SPAN_CHARS else row.span[: SPAN_CHARS - 1] + "…"
    parts: list[str | tuple[str, str]] = [
        (f"{row.score:.2f}", "bold"),
        " ",
        (row.reason, "italic"),
        "  ",
        (row.id, "dim"),
        "\n  ",
        row.title,
    ]
    if span:
        parts += ["\n  ", (f"“{span}”" + (f" in {row.field}" if row.field else ""), "dim italic")]
    return Content.assemble(*parts)
