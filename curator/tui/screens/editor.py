"""The example editor: one form per kind, keyboard first, with a live near-duplicate panel.

Every piece of data shown here goes through `curator.tui.safe` (or a widget that never parses
markup: Input values, TextArea text). Saving validates the whole record with `parse_example`
and shows each problem under the field it names, the first one in the form focused. The form's
logic (the values a record shows as, the record the values describe, where a problem is shown,
turn moves) is in `curator.tui.form`, without widgets; this screen moves those values in and
out of its widgets.
LLM assistance (f2-f5) lives in `editor_assist.py` and its panel in `widgets/assist_panel.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Header, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from curator.constitution.diff import diff_constitutions
from curator.constitution.search import clause_paths
from curator.errors import ConflictError, CuratorError, NotFoundError, RecordError
from curator.models import Example, new_id, utc_now
from curator.review import ReviewRow, reviews_of
from curator.store import examples
from curator.store.clauses import current_clauses, current_version, version_clauses
from curator.tui.editor_assist import EditorAssist
from curator.tui.form import (
    DIALOGUE_KINDS,
    TEXT_KINDS,
    TURN_PAIR,
    AlternativeValues,
    FormValues,
    TurnValues,
    dedup_text,
    error_place,
    eval_fields,
    focus_after_removal,
    follow_renames,
    form_values,
    live_alternative_problems,
    live_problems,
    move_target,
    next_turn_role,
    problems_notice,
    record_base,
    record_message,
    removal_asks_first,
    review_feedback,
    review_reopened_by,
    validate,
)
from curator.tui.messages import ExampleSaved
from curator.tui.safe import content
from curator.tui.screens.clause_picker import ClausePicker, parent_path
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.conflict import ConflictScreen, Resolution
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.assist_panel import AssistPanel
from curator.tui.widgets.chips import Chip, ClauseChips
from curator.tui.widgets.dup_panel import DEBOUNCE_SECONDS, DupPanel
from curator.tui.widgets.exact_text import ExactInput, ExactTextArea
from curator.tui.widgets.footer import KeyFooter
from curator.tui.widgets.turns import AlternativeEditor, TurnEditor, show_error, syntax_language

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp

TOOLS_PLACEHOLDER = (
    'e.g. [{"name": "search_email", "description": "Search the mailbox",\n'
    '  "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]'
)
_CLEANING = "control characters are dropped, line ends become LF, spaces around names are trimmed"

W = TypeVar("W", bound=Widget)

SLOW_SAVE_SECONDS = 0.4
"""After this long a save says it is waiting for the database lock (someone else is writing)."""

CLAUSES_HINT = "delete unlinks · ctrl+l links more"
BLOCKS_HINT = (
    "Plain text, or a JSON array of blocks: "
    '{"type": "text", "text": …}, {"type": "tool_use", "id", "name", "input"}, '
    '{"type": "tool_result", "tool_use_id", "content"}'
)


class TagSuggester(SuggestFromList):
    """Completes the last comma-separated tag from the tags already in use."""

    async def get_suggestion(self, value: str) -> str | None:
        head, _, last = value.rpartition(",")
        word = last.lstrip()
        if not word:
            return None
        taken = {t.strip() for t in head.split(",")}
        for tag in self._suggestions:
            if tag.startswith(word) and tag != word and tag not in taken:
                return value + tag[len(word) :]
        return None


class LinkList(OptionList):
    """The clauses linked to the example, one per line while it has the focus (the chips line
    stands for it otherwise); delete removes the highlighted link."""

    # named in the line above the list while it has the focus (CLAUSES_HINT), not in the footer
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace", "unlink", "Unlink clause", show=False),
    ]

    class Unlink(TextualMessage):
        def __init__(self, clause_id: str) -> None:
            super().__init__()
            self.clause_id = clause_id

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0  # delete acts on the first link straight away

    def action_unlink(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id:
            self.post_message(self.Unlink(option.id))


ASSIST_KEYS = Binding.Group("AI")
"""f2-f5 in the footer: LLM assistance."""


class EditorScreen(Screen[None]):
    """Create or edit one example."""

    class Written(TextualMessage):
        """The save worker finished: what it wrote (or why not), and the submit's outcome if asked."""

        def __init__(
            self,
            mine: Example,
            saved: Example | None,
            *,
            wrote: bool = True,
            conflict: bool = False,
            field: str | None = None,
            error: str = "",
            on_field: bool = False,
            copy: bool = False,
            submitted: Example | None = None,
            submit_error: str | None = None,
        ) -> None:
            super().__init__()
            self.mine = mine
            self.saved = saved
            self.wrote = wrote
            self.conflict = conflict
            self.field = field
            self.error = error
            self.on_field = on_field
            self.copy = copy
            self.submitted = submitted
            self.submit_error = submit_error

    CSS_PATH = "editor.tcss"
    HELP_NAME = "Editor"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}

    # the footer shows what is used on every example, in 80 columns (the assistance keys as one
    # group, each named on hover); the turn, history and compare keys are named in the form
    # itself (turn and duplicate panels), and every key is in help (F1) and in the palette
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+l", "link_clauses", "Link clauses", priority=True),
        Binding("ctrl+r", "submit_review", "Submit", tooltip="Save and submit for review"),
        # not ctrl+h: most terminals send it as Backspace
        Binding("f6", "history", "History", show=False),
        Binding("ctrl+d", "compare_duplicate", "Compare duplicate", priority=True, show=False),
        Binding("ctrl+t", "add_turn_pair", "Add turn pair", show=False),
        Binding("ctrl+n", "add_turn", "Add turn", show=False),
        Binding("ctrl+delete", "remove_turn", "Remove turn", show=False),
        Binding("alt+up", "move_turn(-1)", "Turn up", show=False),
        Binding("alt+down", "move_turn(1)", "Turn down", show=False),
        # rejected alternatives of the focused assistant turn; TextArea binds none of these
        Binding("f8", "add_alternative", "Add rejected answer", show=False),
        Binding("f9", "remove_alternative", "Remove rejected answer", show=False),
        Binding("ctrl+shift+up", "move_alternative(-1)", "Rejected answer up", show=False),
        Binding("ctrl+shift+down", "move_alternative(1)", "Rejected answer down", show=False),
        Binding("f2", "assist('draft')", "Draft (AI)", group=ASSIST_KEYS),
        Binding("f3", "assist('critique')", "Critique (AI)", group=ASSIST_KEYS),
        Binding("f4", "assist('explain_why')", "Explain why (AI)", group=ASSIST_KEYS),
        Binding("f5", "assist('suggest_links')", "Suggest links (AI)", group=ASSIST_KEYS),
        Binding("escape", "leave", "Back", show=False),
    ]

    def __init__(self, example_id: str | None = None, *, kind: str = "story", clauses: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.example_id = example_id
        self.kind = kind
        self.initial_clauses = tuple(clauses)
        self.loaded: Example | None = None
        """The stored record this form edits (None: not saved yet)."""
        self.new_id = example_id or new_id()
        self.clause_ids: list[str] = list(dict.fromkeys(clauses))
        self.load_error: str | None = None
        self.last_review: ReviewRow | None = None
        """The latest review of the stored example: its feedback is shown at the top of the form."""
        self._baseline: dict[str, Any] = {}
        self._clauses_by_id: dict[str, Any] = {}
        self._clause_paths: dict[str, str] = {}
        self._tags: list[str] = []
        self._validate_timer: Timer | None = None
        self.saving = False
        """A save (or submit) is running in its worker: another one waits for it."""
        self._slow_save_timer: Timer | None = None
        self._save_waiting = False
        self._writing_state: dict[str, Any] = {}
        """The form as it was when the running save started (the baseline once it is stored)."""
        self.assist = EditorAssist(self)
        """LLM assistance over this form (editor_assist.py)."""

    @property
    def curator(self) -> CuratorApp:
        return cast("CuratorApp", self.app)

    def _show_feedback(self) -> None:
        self.query_one("#review-feedback", Static).display = self.last_review is not None

    @property
    def is_dialogue(self) -> bool:
        return self.kind in DIALOGUE_KINDS

    # -- building the form -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        db = self.curator.workspace.db
        if self.example_id is not None:
            try:
                self.loaded = examples.get(db, self.example_id)
                self.kind = self.loaded.kind
                self.clause_ids = list(self.loaded.clauses)
                self.last_review = next(reversed(reviews_of(db, self.example_id)), None)
            except (NotFoundError, RecordError) as err:
                self.load_error = str(err)
        clauses = current_clauses(db)
        self._constitution_version = (current_version(db) or {}).get("id")
        """The constitution version the clause list was read from (to follow renames made meanwhile)."""
        self._clauses_by_id = {c.id: c for c in clauses}
        self._clause_paths = clause_paths(clauses)
        self._tags = examples.all_tags(db)
        yield Header()
        if self.load_error is not None:
            yield Static(content(self.load_error), id="load-error", classes="error")
            yield KeyFooter()
            return
        with Horizontal(id="editor-body"):
            with VerticalScroll(id="editor-form"):
                yield Static(content(""), id="meta")
                yield Static(content(review_feedback(self.last_review)), id="review-feedback")
                yield Static(content(""), id="error-form", classes="error")
                yield from self._row("Title", ExactInput(id="title", placeholder="a short title"), "title")
                yield from self._row(
                    "Tags",
                    ExactInput(
                        id="tags",
                        suggester=TagSuggester(self._tags),
                        placeholder="comma-separated, completed from the tags in use",
                    ),
                    "tags",
                )
                yield from self._row(
                    "Group",
                    ExactInput(id="group", placeholder="scenario family for held-out splits (optional)"),
                    "group",
                )
                yield from self._clause_row()
                if self.kind in TEXT_KINDS:
                    yield from self._field(
                        "Text", ExactTextArea(id="text", language=syntax_language("markdown"), classes="body"), "text"
                    )
                    yield from self._field(
                        "Rationale: what principle this teaches and why", ExactTextArea(id="rationale"), "rationale"
                    )
                else:
                    yield from self._row(
                        "System", ExactTextArea(id="system", placeholder="system prompt (optional)"), "system"
                    )
                    if self.kind == "agentic":
                        yield from self._row(
                            "Tools",
                            ExactTextArea(id="tools", language=syntax_language("json"), placeholder=TOOLS_PLACEHOLDER),
                            "tools",
                        )
                    label = "Turns (ctrl+t adds a pair, ctrl+n a turn, ctrl+delete removes, alt+↑/↓ moves)"
                    yield Label(content(label), classes="field-label")
                    if self.kind == "agentic":
                        yield Static(content(BLOCKS_HINT), classes="hint")
                    yield Vertical(id="turns")
                    yield Static(content(""), id="error-messages", classes="error")
            yield AssistPanel(id="assist-panel")
            yield DupPanel(id="dup-panel")
        yield KeyFooter()

    def _field(self, label: str, widget: Widget, name: str) -> ComposeResult:
        """A field of several lines: its label above it, its error under it."""
        yield Label(content(label), classes="field-label")
        yield widget
        yield Static(content(""), id=f"error-{name}", classes="error")

    def _row(self, label: str, widget: Widget, name: str) -> ComposeResult:
        """A short field on one row, its label to the left (a fixed column), its error under it: the
        one-line fields take a line each, so the text or the dialogue starts near the top."""
        yield Horizontal(Label(content(label), classes="row-label"), widget, classes="field-row", id=f"row-{name}")
        yield Static(content(""), id=f"error-{name}", classes="error row-error")

    def _clause_row(self) -> ComposeResult:
        """The linked clauses as one line of chips. Tab opens the list under them (delete unlinks),
        then reaches the button that opens the clause picker (as ctrl+l does)."""
        box = Vertical(
            ClauseChips(id="clause-chips"),
            Static(content(CLAUSES_HINT), id="clause-hint"),
            LinkList(id="clauses"),
            id="clause-box",
        )
        button = Button(content("Link ^l"), id="link-clauses", compact=True)
        label = Label(content("Clauses"), classes="row-label")
        yield Horizontal(label, box, button, classes="field-row", id="row-clauses")
        yield Static(content(""), id="error-clauses", classes="error row-error")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # the list of links opens where the chips were (a class: the styles of the list's
        # siblings do not follow a :focus-within of their parent)
        if event.widget.id == "clauses":
            self.query_one("#clause-box").add_class("-open")

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if event.widget.id == "clauses":
            self.query_one("#clause-box").remove_class("-open")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "link-clauses":
            event.stop()
            self.action_link_clauses()

    async def on_mount(self) -> None:
        if self.load_error is not None:
            self.notify(self.load_error, severity="error", markup=False)
            return
        self._show_feedback()
        await self._fill_form(self.loaded)
        self._hide_errors()
        self._schedule_dup(delay=0.0)
        self._focus_first_field()

    def _focus_first_field(self) -> None:
        """Typing right after opening lands in the title: a new example starts there, and an existing
        one is most often opened to fix it."""
        self.query_one("#title", Input).focus()

    async def _fill_form(self, ex: Example | None, *, baseline: bool = True) -> None:
        """Show `ex` (None: a new example of this screen's kind) and make it the unchanged state.

        `baseline=False` (a generated draft) leaves the form changed: nothing is stored until ctrl+s.
        """
        values = form_values(self.kind, ex, self.initial_clauses)
        self.query_one("#title", Input).value = values.title
        self.query_one("#tags", Input).value = values.tags
        self.query_one("#group", Input).value = values.group
        self.clause_ids = values.clauses
        self._render_links()
        if self.kind in TEXT_KINDS:
            self.query_one("#text", TextArea).load_text(values.text)
            self.query_one("#rationale", TextArea).load_text(values.rationale)
        else:
            self.query_one("#system", TextArea).load_text(values.system)
            if self.kind == "agentic":
                self.query_one("#tools", TextArea).load_text(values.tools)
            turns = [
                TurnEditor(
                    t.role,
                    t.text,
                    t.rationale,
                    language=syntax_language("json") if t.is_json else None,
                    alternatives=[
                        AlternativeEditor(a, language=syntax_language("json") if a.is_json else None)
                        for a in t.alternatives
                    ],
                )
                for t in values.turns
            ]
            container = self.query_one("#turns", Vertical)
            await container.remove_children()
            await container.mount_all(turns)
            self._renumber_turns()
        self._show_meta()
        if baseline:
            self._baseline = self.form_state()
            self.assist.rewrite_accepted = False

    async def show_draft(self, drafted: Example) -> None:
        """Fill this new, empty form with a generated draft (unsaved: the form is now changed)."""
        await self._fill_form(drafted, baseline=False)
        self._hide_errors()
        self._schedule_dup(delay=0.0)

    def _show_meta(self) -> None:
        ex = self.loaded
        if ex is None:
            line = f"new {self.kind} · {self.new_id} · status draft · author {self.curator.user}"
            if self.assist.draft_source is not None:
                line += f" · generated by {self.assist.draft_source.get('model') or '?'}"
        else:
            line = f"{ex.kind} · {ex.id} · status {ex.status} · version {ex.version} · author {ex.author or '?'}"
            reopened = review_reopened_by(ex, self.read_form(), self._record_base()) if self.is_mounted else []
            if reopened:
                line += f" · saving sends it back to review ({', '.join(reopened)} changed)"
        if self.saving:
            waiting = "waiting for the database: another process is writing to it (an import?) · "
            line = f"saving… {waiting if self._save_waiting else ''}· {line}"
        self.query_one("#meta", Static).update(content(line))
        self.sub_title = ex.title if ex else f"new {self.kind}"
        self.refresh_bindings()

    def _render_links(self) -> None:
        self.query_one("#clause-chips", ClauseChips).chips = tuple(
            Chip(cid, clause.title if (clause := self._clauses_by_id.get(cid)) is not None else None)
            for cid in self.clause_ids
        )
        links = self.query_one("#clauses", LinkList)
        highlighted = links.highlighted
        links.clear_options()
        if not self.clause_ids:
            links.add_option(Option(content("no clauses linked: ctrl+l to link"), disabled=True))
            return
        options = []
        for cid in self.clause_ids:
            clause = self._clauses_by_id.get(cid)
            if clause is None:
                prompt = Content.assemble((cid, "bold"), ("  not in the current constitution (orphaned)", "italic"))
            else:
                prompt = Content.assemble(
                    (cid, "bold"), "  ", clause.title, "\n    ", (parent_path(self._clause_paths.get(cid, "")), "dim")
                )
            options.append(Option(prompt, id=cid))
        links.add_options(options)
        if highlighted is not None:
            links.highlighted = min(highlighted, len(options) - 1)

    def turn_editors(self) -> list[TurnEditor]:
        if not self.is_dialogue:
            return []
        return list(self.query_one("#turns", Vertical).query_children(TurnEditor).results(TurnEditor))

    def _renumber_turns(self) -> None:
        for i, turn in enumerate(self.turn_editors()):
            turn.set_position(i)

    # -- reading the form ----------------------------------------------------------------------

    def read_form(self) -> FormValues:
        """The form's contents as typed."""
        values = FormValues(
            self.kind,
            title=self.query_one("#title", Input).value,
            tags=self.query_one("#tags", Input).value,
            group=self.query_one("#group", Input).value,
            clauses=list(self.clause_ids),
        )
        if self.kind in TEXT_KINDS:
            values.text = self.query_one("#text", TextArea).text
            values.rationale = self.query_one("#rationale", TextArea).text
        else:
            values.system = self.query_one("#system", TextArea).text
            if self.kind == "agentic":
                values.tools = self.query_one("#tools", TextArea).text
            values.turns = [
                TurnValues(t.turn_role, t.text, t.rationale, alternatives=t.alternatives) for t in self.turn_editors()
            ]
        return values

    def form_state(self) -> dict[str, Any]:
        """The raw form contents, to tell whether anything changed."""
        return self.read_form().state()

    @property
    def dirty(self) -> bool:
        if self.load_error is not None:
            return False
        return self.form_state() != self._baseline

    def _record_base(self) -> dict[str, Any]:
        return record_base(
            self.loaded, new_id=self.new_id, kind=self.kind, author=self.curator.user, source=self.assist.draft_source
        )

    # -- errors ----------------------------------------------------------------------------------

    def _hide_errors(self) -> None:
        for error in self.query(".error").results(Static):
            if error.id != "load-error":
                show_error(error, None)

    def show_field_error(self, field: str | None, message: str) -> None:
        """Show `message` under the field a record path names, and focus that field."""
        turns = self.turn_editors()
        place = error_place(field, message, self.kind, [t.turn_role for t in turns])
        target: Widget | None = None
        alternatives = turns[place.turn].alternative_editors() if place.turn is not None else []
        if place.turn is not None and place.alternative is not None and place.alternative < len(alternatives):
            alternative = alternatives[place.alternative]
            alternative.show_error(place.text, why_not=place.why_not)
            target = alternative.why_not_area if place.why_not else alternative.content_area
        elif place.turn is not None:
            turn = turns[place.turn]
            if place.rationale:
                turn.show_rationale_error(place.text)
                target = turn.rationale_area
            else:
                turn.show_content_error(place.text)
                target = turn.content_area
        else:
            show_error(self.query_one(f"#error-{place.field}", Static), place.text)
            if place.focus:
                target = turns[0].content_area if place.field == "messages" else self.query_one(f"#{place.field}")
        if target is not None:
            target.focus()
            target.scroll_visible()

    # -- saving ----------------------------------------------------------------------------------

    def validated(self, failure: str = "not saved") -> Example | None:
        """The form as a valid Example, or None after showing its problems (focus on the first)."""
        self._hide_errors()
        example, problems = validate(self.read_form(), self._record_base())
        if not problems:
            return example
        for field, message in reversed(problems):  # the first in form order ends up focused
            self.show_field_error(field, message)
        self.notify(problems_notice(failure, problems), severity="error", markup=False)
        return None

    def _report(self, field: str | None, message: str) -> None:
        self.show_field_error(field, message)
        where = f" ({field})" if field else ""
        self.notify(f"not saved{where}: {message}", severity="error", markup=False)

    def action_save(self) -> None:
        self.save()

    def save(self, *, then_submit: bool = False) -> None:
        """Validate the form now; write it in a thread (see `_write_in_thread`).

        `then_submit`: submit the saved record for review in the same worker."""
        if self.load_error is not None:
            return
        if self.saving:
            self.notify("still saving: wait for the save to finish", severity="warning", markup=False)
            return
        mine = self.validated()
        if mine is None or self._follow_renames():
            return
        expected = self.loaded.version if self.loaded is not None else None
        self._write(self.assist.before_save(mine), expected, then_submit=then_submit)

    def _write(
        self, mine: Example, expected_version: int | None, *, copy: bool = False, then_submit: bool = False
    ) -> None:
        """Start the write. A write waits for the database lock while another process writes (a
        long import holds it for its whole transaction), so it never runs on the UI thread: the
        form stays usable and the meta line says what the save waits for."""
        self.saving = True
        self._writing_state = self.form_state()  # typing goes on during the write: only this is saved
        self._show_meta()
        self._slow_save_timer = self.set_timer(SLOW_SAVE_SECONDS, self._show_waiting)
        self._write_in_thread(mine, expected_version, copy=copy, then_submit=then_submit)

    @work(thread=True, group="editor-save")
    def _write_in_thread(self, mine: Example, expected_version: int | None, *, copy: bool, then_submit: bool) -> None:
        db = self.curator.workspace.db  # this worker thread's own connection
        user = self.curator.user
        outcome: EditorScreen.Written
        try:
            if expected_version is None:
                saved = examples.create(db, mine, actor=user)
            else:
                saved = examples.update(db, mine, expected_version=expected_version, actor=user)
        except ConflictError:
            outcome = self.Written(mine, None, conflict=True)
        except RecordError as err:
            outcome = self.Written(mine, None, field=err.field, error=record_message(err), on_field=True)
        except CuratorError as err:
            outcome = self.Written(mine, None, error=f"{'copy ' if copy else ''}not saved: {err}")
        else:
            outcome = self.Written(mine, saved, copy=copy)
            if then_submit:
                outcome.submitted, outcome.submit_error = self._submit_in_thread(saved)
        self.post_message(outcome)

    def _submit_in_thread(self, saved: Example) -> tuple[Example | None, str | None]:
        from curator.review import submit

        try:
            return submit(
                self.curator.workspace.db, saved.id, expected_version=saved.version, actor=self.curator.user
            ), None
        except CuratorError as err:
            return None, f"not submitted: {err}"

    async def on_editor_screen_written(self, message: Written) -> None:
        message.stop()
        self.saving = self._save_waiting = False
        if self._slow_save_timer is not None:
            self._slow_save_timer.stop()
            self._slow_save_timer = None
        if not message.wrote:
            self._show_meta()
        elif message.conflict:
            self._show_meta()
            self._open_conflict(message.mine)
        elif message.saved is None:
            self._show_meta()
            if message.on_field:
                self._report(message.field, message.error)
            else:
                self.notify(message.error, severity="error", markup=False)
        elif message.copy:
            self.query_one("#title", Input).value = message.saved.title
            self._writing_state["title"] = message.saved.title
            self.assist.after_save(None, message.saved)
            self._saved(message.saved, f"saved as a copy: {message.saved.id}")
        else:
            self._saved(message.saved, self.assist.after_save(self.loaded, message.saved))
            await self._show_what_was_stored(message.saved)
        if message.submitted is not None:
            self.loaded = message.submitted
            self._show_meta()
            self.app.post_message(ExampleSaved(message.submitted))
            self.notify("submitted for review", markup=False)
        elif message.submit_error is not None:
            self.notify(message.submit_error, severity="error", markup=False)

    async def _show_what_was_stored(self, saved: Example) -> None:
        """When the store cleaned the text (control characters dropped, CRLF made LF), the form
        shows the stored record instead of text that no longer exists anywhere, and says so.
        Edits typed while the save ran are never overwritten: then it only says so."""
        stored = form_values(self.kind, saved).state()
        if stored == self._writing_state:
            return
        cleaned = sorted(k for k in stored if stored[k] != self._writing_state.get(k))
        if self.form_state() != self._writing_state:
            self.notify(
                f"saved, but stored differently from the form ({', '.join(cleaned)}): {_CLEANING}. "
                "Your newer edits are not saved yet, so the form keeps showing what you typed",
                severity="warning",
                markup=False,
            )
            return
        focused = self.app.focused.id if self.app.focused is not None else None
        await self._fill_form(saved)
        if focused:
            with contextlib.suppress(NoMatches):
                self.query_one(f"#{focused}").focus()
        self.notify(
            f"saved, but stored differently from the form ({', '.join(cleaned)}): {_CLEANING}. "
            "The form now shows what is stored",
            severity="warning",
            markup=False,
        )

    def _show_waiting(self) -> None:
        self._slow_save_timer = None
        if self.saving:
            self._save_waiting = True
            self._show_meta()

    def _follow_renames(self) -> bool:
        """Before writing: when a constitution import renamed linked clauses while this form was
        open, move the links to the new ids and say so; True means nothing was saved (the person
        checks the links and saves again). Checked before every write, not on a refusal: a renamed
        clause's old id may now name another clause, and the link would silently move to it."""
        if self._constitution_version is None:
            return False
        db = self.curator.workspace.db
        now = current_version(db)
        if now is None or now["id"] == self._constitution_version:
            return False
        clauses = current_clauses(db)
        diff = diff_constitutions(version_clauses(db, self._constitution_version), clauses)
        self._clauses_by_id = {c.id: c for c in clauses}
        self._clause_paths = clause_paths(clauses)
        self._constitution_version = now["id"]
        removed = set(diff.removed) - {r.from_id for r in diff.renamed}
        gone = [c for c in self.clause_ids if c in removed]
        moved, self.clause_ids = follow_renames(self.clause_ids, {r.from_id: r.to_id for r in diff.renamed})
        self.clause_ids = [c for c in self.clause_ids if c not in gone]
        if not moved and not gone:
            return False
        self._render_links()
        changes = ", ".join([f"{a} is now {b}" for a, b in moved] + [f"{c} was removed (unlinked)" for c in gone])
        self.notify(
            f"Not saved: the constitution changed while you edited (version {now['id']}): {changes}. "
            "The links follow them; check them and save again.",
            title="Clauses renamed",
            severity="warning",
            markup=False,
            timeout=20,
        )
        return True

    def _saved(self, saved: Example, note: str) -> None:
        self.loaded = saved
        self.example_id = saved.id
        self.new_id = saved.id
        self._hide_errors()
        self._show_meta()
        self._baseline = self._writing_state
        self.app.post_message(ExampleSaved(saved))
        self.notify(note, markup=False)
        self._schedule_dup(delay=0.0)

    def _open_conflict(self, mine: Example) -> None:
        try:
            theirs = examples.get(self.curator.workspace.db, mine.id)
        except CuratorError as err:
            self.notify(f"not saved: {err}", severity="error", markup=False)
            return
        self.app.push_screen(ConflictScreen(theirs, mine.canonical()), partial(self._resolve_conflict, mine, theirs))

    async def _resolve_conflict(self, mine: Example, theirs: Example, choice: Resolution | None) -> None:
        if choice == "mine":
            # the form never sets a status: keep theirs, so a stale `approved` is not written back
            # (the store refuses that; changed approved content goes back to review anyway)
            self._write(mine.model_copy(update={"status": theirs.status}), theirs.version)
        elif choice == "theirs":
            self.loaded = theirs
            await self._fill_form(theirs)
            self._hide_errors()
            self._schedule_dup(delay=0.0)
            self.notify("reloaded the stored version", markup=False)
        elif choice == "copy":
            self._save_copy(mine)
        else:
            self.notify("not saved: the record changed meanwhile (ctrl+s to choose again)", severity="warning")

    def _save_copy(self, mine: Example) -> None:
        now = utc_now()
        copy = mine.model_copy(
            update={
                "id": new_id(),
                "title": mine.title + " (copy)",
                "status": "draft",
                "author": self.curator.user,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        self._write(copy, None, copy=True)

    # -- other actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in (
            "add_turn_pair",
            "add_turn",
            "remove_turn",
            "move_turn",
            "add_alternative",
            "remove_alternative",
            "move_alternative",
        ):
            return self.is_dialogue and self.load_error is None
        if action == "history":
            return True if self.loaded is not None else None
        if action in ("save", "link_clauses", "submit_review", "compare_duplicate"):
            return self.load_error is None
        if action == "assist":  # draft stays on for stored examples: pressing it says what it is for
            return self.load_error is None and (self.is_dialogue or parameters[:1] != ("explain_why",))
        return True

    def action_submit_review(self) -> None:
        """Save first when the form has changes (or was never saved), then submit: one worker."""
        if self.saving:
            self.notify("still saving: wait for the save to finish", severity="warning", markup=False)
            return
        if self.loaded is None or self.dirty:
            self.save(then_submit=True)
            return
        self.saving = True
        self._submit_stored(self.loaded)

    @work(thread=True, group="editor-save")
    def _submit_stored(self, stored: Example) -> None:
        submitted, error = self._submit_in_thread(stored)
        self.post_message(self.Written(stored, None, wrote=False, submitted=submitted, submit_error=error))

    def action_history(self) -> None:
        if self.loaded is None:
            self.notify("save the example first: it has no history yet")
            return
        self.curator.open_history(self.loaded.id)

    def action_link_clauses(self) -> None:
        clauses = list(self._clauses_by_id.values())
        self.app.push_screen(ClausePicker(clauses, self.clause_ids), self._links_chosen)

    def _links_chosen(self, chosen: list[str] | None) -> None:
        if chosen is None:
            return
        self.clause_ids = list(dict.fromkeys(chosen))
        self._render_links()
        show_error(self.query_one("#error-clauses", Static), None)
        self.query_one("#clauses", LinkList).focus()

    def on_link_list_unlink(self, message: LinkList.Unlink) -> None:
        message.stop()
        if message.clause_id in self.clause_ids:
            self.clause_ids.remove(message.clause_id)
            self._render_links()

    def action_compare_duplicate(self) -> None:
        if not self.query_one(DupPanel).compare():
            self.notify("no near-duplicate to compare")

    def action_leave(self) -> None:
        if self.assist.cancel_or_close():  # esc: a running request first, then the assist panel
            return
        if self.saving:
            self.notify("still saving: wait for the save to finish", severity="warning", markup=False)
            return
        if not self.dirty:
            self.app.pop_screen()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.app.pop_screen()

        self.app.push_screen(ConfirmScreen("Discard changes?", yes="Discard", no="Keep editing"), answered)

    # -- LLM assistance (editor_assist.py) ----------------------------------------------------------

    def action_assist(self, action: str) -> None:
        if action in ("draft", "critique", "explain_why", "suggest_links"):
            getattr(self.assist, action)()

    async def on_assist_panel_done(self, message: AssistPanel.Done) -> None:
        await self.assist.done(message)

    def on_assist_panel_failed(self, message: AssistPanel.Failed) -> None:
        self.assist.failed(message)

    def on_assist_panel_link_accepted(self, message: AssistPanel.LinkAccepted) -> None:
        message.stop()
        self.query_one(AssistPanel).drop_suggestion(message.clause_id)
        if message.clause_id not in self.clause_ids:
            self.clause_ids.append(message.clause_id)
            self._render_links()
            show_error(self.query_one("#error-clauses", Static), None)

    def clause_titles(self) -> dict[str, str]:
        return {cid: clause.title for cid, clause in self._clauses_by_id.items()}

    def focus_links(self) -> None:
        self.query_one("#clauses", LinkList).focus()

    # -- turns -------------------------------------------------------------------------------------

    def _focused_in(self, kind: type[W]) -> W | None:
        """The `kind` widget holding the focus (the focused widget itself or an ancestor), if any."""
        node = self.focused
        while node is not None:
            if isinstance(node, kind):
                return node
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        return None

    def _focused_turn(self) -> TurnEditor | None:
        return self._focused_in(TurnEditor)

    async def _append_turns(self, roles: Sequence[str]) -> None:
        new = [TurnEditor(role) for role in roles]
        await self.query_one("#turns", Vertical).mount_all(new)
        self._renumber_turns()
        new[0].content_area.focus()
        new[-1].scroll_visible()
        self._schedule_dup()

    async def action_add_turn_pair(self) -> None:
        await self._append_turns(TURN_PAIR)

    async def action_add_turn(self) -> None:
        await self._append_turns((next_turn_role([t.turn_role for t in self.turn_editors()]),))

    def action_remove_turn(self) -> None:
        turn = self._focused_turn()
        if turn is None:
            self.notify("focus a turn first")
            return
        if not removal_asks_first(turn.text, turn.rationale):
            self._remove_turn(turn)
            return
        position = self.turn_editors().index(turn) + 1

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove_turn(turn)

        self.app.push_screen(ConfirmScreen(f"Remove turn {position} ({turn.turn_role})?"), answered)

    def _remove_turn(self, turn: TurnEditor) -> None:
        turns = self.turn_editors()
        neighbours = [t for t in turns if t is not turn]
        focus = focus_after_removal(len(turns), turns.index(turn))
        turn.remove()
        self.call_after_refresh(self._renumber_turns)
        if focus is not None:
            neighbours[focus].content_area.focus()
        self._schedule_dup()

    def action_move_turn(self, step: int) -> None:
        turn = self._focused_turn()
        if turn is None:
            self.notify("focus a turn first")
            return
        turns = self.turn_editors()
        target = move_target(len(turns), turns.index(turn), step)
        if target is None:
            return
        container = self.query_one("#turns", Vertical)
        if step < 0:
            container.move_child(turn, before=turns[target])
        else:
            container.move_child(turn, after=turns[target])
        self._renumber_turns()
        turn.scroll_visible()
        self._schedule_dup()

    # -- rejected alternatives -------------------------------------------------------------------

    def _focused_alternative(self) -> AlternativeEditor | None:
        return self._focused_in(AlternativeEditor)

    async def action_add_alternative(self) -> None:
        """A new rejected answer at the end of the focused assistant turn's, focused."""
        turn = self._focused_turn()
        if turn is None or turn.turn_role != "assistant" or turn.alternatives_box is None:
            self.notify("focus an assistant turn first: rejected answers belong to an answer", markup=False)
            return
        alternative = AlternativeEditor(AlternativeValues())
        await turn.alternatives_box.mount(alternative)
        turn.renumber_alternatives()
        alternative.content_area.focus()
        alternative.scroll_visible()
        self._schedule_dup()

    def action_remove_alternative(self) -> None:
        """Remove the focused rejected answer; one with text in it asks first."""
        alternative = self._focused_alternative()
        turn = self._focused_turn()
        if alternative is None or turn is None:
            self.notify("focus a rejected answer first", markup=False)
            return
        values = alternative.read()
        if not removal_asks_first(values.text, values.why_not):
            self._remove_alternative(turn, alternative)
            return
        position = turn.alternative_editors().index(alternative) + 1
        turn_position = self.turn_editors().index(turn) + 1

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove_alternative(turn, alternative)

        self.app.push_screen(ConfirmScreen(f"Remove rejected answer {position} of turn {turn_position}?"), answered)

    def _remove_alternative(self, turn: TurnEditor, alternative: AlternativeEditor) -> None:
        alternatives = turn.alternative_editors()
        neighbours = [a for a in alternatives if a is not alternative]
        focus = focus_after_removal(len(alternatives), alternatives.index(alternative))
        for k, other in enumerate(neighbours):
            other.set_position(k)
        alternative.remove()
        if focus is not None:
            neighbours[focus].content_area.focus()
        else:
            turn.content_area.focus()
        self._schedule_dup()

    def action_move_alternative(self, step: int) -> None:
        """Move the focused rejected answer up or down among its turn's."""
        alternative = self._focused_alternative()
        turn = self._focused_turn()
        if alternative is None or turn is None or turn.alternatives_box is None:
            self.notify("focus a rejected answer first", markup=False)
            return
        alternatives = turn.alternative_editors()
        target = move_target(len(alternatives), alternatives.index(alternative), step)
        if target is None:
            return
        if step < 0:
            turn.alternatives_box.move_child(alternative, before=alternatives[target])
        else:
            turn.alternatives_box.move_child(alternative, after=alternatives[target])
        turn.renumber_alternatives()
        alternative.scroll_visible()
        self._schedule_dup()

    # -- live checks -------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "title" and self.loaded is not None and self.loaded.status == "approved":
            self._show_meta()  # a story's or document's title is reviewed content

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        area = event.text_area
        self._schedule_dup()  # every text area holds exported text: all of it is checked against eval sets
        blocks = area.has_class("turn-content") or area.has_class("alt-content")
        if area.id == "tools" or (self.kind == "agentic" and blocks):
            if self._validate_timer is not None:
                self._validate_timer.stop()
            self._validate_timer = self.set_timer(DEBOUNCE_SECONDS, self._live_validate)

    def _live_validate(self) -> None:
        """Inline JSON / schema errors for the tool definitions and agentic block lists."""
        self._validate_timer = None
        if self.kind != "agentic" or not self.is_attached:
            return
        turns = self.turn_editors()
        tools_problem, turn_problems = live_problems(
            self.query_one("#tools", TextArea).text, [turn.text for turn in turns]
        )
        show_error(self.query_one("#error-tools", Static), tools_problem)
        for i, (turn, problem) in enumerate(zip(turns, turn_problems, strict=True)):
            turn.show_content_error(problem)
            alternatives = turn.alternative_editors()
            found = live_alternative_problems(i, [a.read().text for a in alternatives])
            for alternative, alt_problem in zip(alternatives, found, strict=True):
                alternative.show_error(alt_problem)

    def _schedule_dup(self, delay: float = DEBOUNCE_SECONDS) -> None:
        if self.load_error is not None or not self.query(DupPanel):
            return
        exclude = self.loaded.id if self.loaded is not None else None
        if self.loaded is not None and self.loaded.status == "approved":
            self._show_meta()  # says whether saving now would send it back to review
        values = self.read_form()
        self.query_one(DupPanel).schedule(dedup_text(values), exclude, delay=delay, fields=eval_fields(values))
