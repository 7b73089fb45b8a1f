"""Writing an eval suite in the TUI: the suite's prompts (SuiteScreen), one prompt's form
(PromptForm) and the name of a new suite (NewSuiteDialog). Every write goes through
`evals/suites.py` in a thread worker, which validates as the CLI's file import does."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Header, Input, Static
from textual.worker import get_current_worker

from curator.errors import CuratorError
from curator.evals import suites
from curator.models import Clause
from curator.store import evals as store
from curator.store.clauses import current_clauses
from curator.tui.messages import WorkspaceChanged
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.chips import Chip, ClauseChips
from curator.tui.widgets.exact_text import ExactInput, ExactTextArea
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter
from curator.tui.widgets.turns import syntax_language

FIELD_KEYS = ("id", "prompt", "system", "clauses", "rubric")
"""What the simple form holds; an item with anything else (turns, tools) is edited as JSON."""


def item_data(item: store.SuiteItem) -> dict[str, Any]:
    """A stored item in the JSON lines shape `save_item` reads: one user text turn as `prompt`,
    anything more (turns, content blocks) as `messages`, with `system` and `tools` when set."""
    messages = item.prompt.get("messages") or []
    data: dict[str, Any] = {"id": item.id}
    single = len(messages) == 1 and messages[0].get("role") == "user" and isinstance(messages[0].get("content"), str)
    if single:
        data["prompt"] = messages[0]["content"]
    else:
        data["messages"] = messages
    if item.prompt.get("system"):
        data["system"] = item.prompt["system"]
    if item.prompt.get("tools"):
        data["tools"] = item.prompt["tools"]
    data["clauses"] = list(item.clauses)
    if item.rubric:
        data["rubric"] = item.rubric
    return data


def fields_refusal(data: Any) -> str | None:
    """Why `data` cannot be shown in the simple fields without losing something (None: it can)."""
    if not isinstance(data, dict):
        return "the JSON is not one object"
    if "messages" in data:
        turns = data["messages"]
        count = len(turns) if isinstance(turns, list) else 0
        return f"this prompt has {count} turn(s) in messages: it stays JSON (the fields hold one user text)"
    if data.get("tools"):
        return "this prompt has tools: it stays JSON (the fields cannot hold tools)"
    extra = sorted(k for k in data if k not in FIELD_KEYS and data[k] not in (None, [], ""))
    if extra:
        return f"{extra[0]}: the fields cannot hold it; it stays JSON"
    if isinstance(data.get("id"), bool) or not isinstance(data.get("id", ""), str | int):
        return "id: not text; it stays JSON"
    for key in ("prompt", "system", "rubric"):
        if not isinstance(data.get(key) or "", str):
            return f"{key}: not text; it stays JSON"
    clauses = data.get("clauses", [])
    if not isinstance(clauses, list) or not all(isinstance(c, str) for c in clauses):
        return "clauses: not a list of clause ids; it stays JSON"
    return None


def first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def prompt_cell(item: store.SuiteItem) -> Text:
    """The first line of the prompt's first user turn, and how many turns and tools there are."""
    messages = item.prompt.get("messages") or []
    body = messages[0].get("content") if messages else ""
    if isinstance(body, list):
        body = "\n".join(str(b.get("text", "")) for b in body if isinstance(b, dict) and b.get("type") == "text")
    extra = []
    if len(messages) > 1:
        extra.append(f"{len(messages)} turns")
    if item.prompt.get("tools"):
        extra.append(f"{len(item.prompt['tools'])} tool(s)")
    cell = join(first_line(str(body or "")), (f"  ({', '.join(extra)})" if extra else "", "dim"))
    cell.no_wrap, cell.overflow = True, "ellipsis"
    return cell


class NewSuiteDialog(ModalScreen[str | None]):
    """Ask for a new suite's name and create it; a refused name is said here, and the dialog stays."""

    HELP_NAME = "New suite"
    CSS_PATH = "evals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    class Created(Message):
        def __init__(self, name: str, error: str | None) -> None:
            super().__init__()
            self.name, self.error = name, error

    def compose(self) -> ComposeResult:
        with Vertical(id="new-suite-dialog"):
            yield Static(content("New eval suite: its name (letters, digits, '_', '.', '-')"), id="new-suite-heading")
            yield ExactInput(placeholder="suite name", id="new-suite-name")
            yield Static(content(""), id="new-suite-error")

    def on_mount(self) -> None:
        self.query_one("#new-suite-name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.create_suite(event.value.strip())

    @work(thread=True, exclusive=True, group="new-suite")
    def create_suite(self, name: str) -> None:
        app: Any = self.app
        try:
            suites.create_suite(app.workspace.db, name, actor=app.user)
            error = None
        except CuratorError as err:
            error = str(err)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Created(name, error))

    def on_new_suite_dialog_created(self, message: Created) -> None:
        if message.error is not None:
            self.query_one("#new-suite-error", Static).update(content(message.error))
            return
        self.dismiss(message.name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptForm(ModalScreen[bool]):
    """One eval prompt: id, clauses, system, user prompt and rubric, or the whole item as JSON
    (always, for several turns or tools). ctrl+s validates and stores it; dismisses True once stored."""

    HELP_NAME = "Eval prompt"
    CSS_PATH = "evals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+l", "clauses", "Clauses"),
        Binding("ctrl+t", "toggle_json", "JSON", tooltip="Edit the whole item as JSON, or back in fields"),
        Binding("escape", "leave", "Cancel"),
    ]

    class Saved(Message):
        def __init__(self, error: str | None) -> None:
            super().__init__()
            self.error = error

    def __init__(self, suite: str, item: store.SuiteItem | None, clauses: Sequence[Clause]) -> None:
        super().__init__()
        self.suite = suite
        self.item = item
        self.clauses = list(clauses)
        self._titles = {c.id: c.title for c in self.clauses}
        self.baseline: dict[str, Any] = item_data(item) if item is not None else {"id": "", "prompt": "", "clauses": []}
        self.json_mode = fields_refusal(self.baseline) is not None
        self.clause_ids: list[str] = list(self.baseline.get("clauses") or [])
        self.saving = False

    def compose(self) -> ComposeResult:
        title = f"Prompt {self.item.id} of suite {self.suite}" if self.item else f"New prompt in suite {self.suite}"
        with Vertical(id="prompt-dialog"):
            yield Static(content(title), id="prompt-heading")
            yield Static(content(""), id="prompt-error")
            with VerticalScroll(id="prompt-fields"):
                yield Static(content("Id"), classes="field-label")
                yield ExactInput(str(self.baseline.get("id", "")), id="p-id")
                with Horizontal(id="p-clause-row"):
                    yield ClauseChips(id="p-chips")
                    yield Button(content("Clauses (ctrl+l)"), id="p-pick")
                yield Static(content("System prompt (optional)"), classes="field-label")
                yield ExactTextArea(str(self.baseline.get("system") or ""), id="p-system", classes="p-short")
                yield Static(content("User prompt"), classes="field-label")
                yield ExactTextArea(str(self.baseline.get("prompt") or ""), id="p-prompt", classes="p-long")
                yield Static(content("Rubric: what the judge should look for (optional)"), classes="field-label")
                yield ExactTextArea(str(self.baseline.get("rubric") or ""), id="p-rubric", classes="p-short")
            yield ExactTextArea(
                json.dumps(self.baseline, ensure_ascii=False, indent=2) if self.json_mode else "",
                id="p-json",
                language=syntax_language("json"),
            )
            yield KeyFooter()

    def on_mount(self) -> None:
        self._render_chips()
        self._show_mode()
        if self.json_mode and self.item is not None:
            self._error("several turns or tools: edited as JSON (ctrl+t: back to fields is refused for them)")

    def _show_mode(self) -> None:
        self.query_one("#prompt-fields").display = not self.json_mode
        json_area = self.query_one("#p-json", ExactTextArea)
        json_area.display = self.json_mode
        (json_area if self.json_mode else self.query_one("#p-id", Input)).focus()

    def _render_chips(self) -> None:
        self.query_one("#p-chips", ClauseChips).chips = tuple(Chip(c, self._titles.get(c)) for c in self.clause_ids)

    def _error(self, text: str) -> None:
        self.query_one("#prompt-error", Static).update(content(text))

    # -- the form as an item -----------------------------------------------------------------------

    def field_data(self) -> dict[str, Any]:
        """The simple fields in the JSON lines shape (empty optional fields left out)."""
        data: dict[str, Any] = {
            "id": self.query_one("#p-id", Input).value,
            "prompt": self.query_one("#p-prompt", ExactTextArea).text,
        }
        system = self.query_one("#p-system", ExactTextArea).text
        if system.strip():
            data["system"] = system
        data["clauses"] = list(self.clause_ids)
        rubric = self.query_one("#p-rubric", ExactTextArea).text
        if rubric.strip():
            data["rubric"] = rubric
        return data

    def json_data(self) -> dict[str, Any]:
        """The JSON field as an item; a `ValueError` says why it is not one."""
        text = self.query_one("#p-json", ExactTextArea).text
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"JSON: line {err.lineno} column {err.colno}: {err.msg}") from None
        if not isinstance(data, dict):
            raise ValueError("JSON: must be one object (the item's fields)")
        return data

    def data(self) -> dict[str, Any]:
        return self.json_data() if self.json_mode else self.field_data()

    def changed(self) -> bool:
        try:
            return self.data() != self.baseline
        except ValueError:
            return True

    # -- actions -----------------------------------------------------------------------------------

    def action_toggle_json(self) -> None:
        if not self.json_mode:
            data = self.field_data()
            self.query_one("#p-json", ExactTextArea).load_text(json.dumps(data, ensure_ascii=False, indent=2))
            self.json_mode = True
            self._error("")
            self._show_mode()
            return
        try:
            data = self.json_data()
        except ValueError as err:
            self._error(str(err))
            return
        refusal = fields_refusal(data)
        if refusal is not None:
            self._error(refusal)
            return
        self.query_one("#p-id", Input).value = str(data.get("id", ""))
        self.query_one("#p-prompt", ExactTextArea).load_text(str(data.get("prompt") or ""))
        self.query_one("#p-system", ExactTextArea).load_text(str(data.get("system") or ""))
        self.query_one("#p-rubric", ExactTextArea).load_text(str(data.get("rubric") or ""))
        self.clause_ids = list(dict.fromkeys(data.get("clauses") or []))
        self._render_chips()
        self.json_mode = False
        self._error("")
        self._show_mode()

    def action_clauses(self) -> None:
        linked = self.clause_ids
        if self.json_mode:
            try:
                data = self.json_data()
            except ValueError as err:
                self._error(str(err))
                return
            found = data.get("clauses")
            linked = [c for c in found if isinstance(c, str)] if isinstance(found, list) else []
        self.app.push_screen(ClausePicker(self.clauses, linked), self._clauses_chosen)

    @on(Button.Pressed, "#p-pick")
    def _pick_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_clauses()

    def _clauses_chosen(self, chosen: list[str] | None) -> None:
        if chosen is None:
            return
        if self.json_mode:
            try:
                data = self.json_data()
            except ValueError as err:
                self._error(str(err))
                return
            data["clauses"] = list(dict.fromkeys(chosen))
            data.pop("clause", None)
            self.query_one("#p-json", ExactTextArea).load_text(json.dumps(data, ensure_ascii=False, indent=2))
            return
        self.clause_ids = list(dict.fromkeys(chosen))
        self._render_chips()

    def action_save(self) -> None:
        if self.saving:
            return
        try:
            data = self.data()
        except ValueError as err:
            self._error(str(err))
            return
        self.saving = True
        self._error("saving…")
        self.write_item(data)

    @work(thread=True, exclusive=True, group="prompt-save")
    def write_item(self, data: dict[str, Any]) -> None:
        app: Any = self.app
        replace = self.item.id if self.item is not None else None
        try:
            suites.save_item(app.workspace.db, self.suite, data, actor=app.user, replace=replace)
            error = None
        except CuratorError as err:
            error = str(err)
        self.post_message(self.Saved(error))

    def on_prompt_form_saved(self, message: Saved) -> None:
        self.saving = False
        if message.error is not None:
            self._error(message.error)
            return
        self.dismiss(True)

    def action_leave(self) -> None:
        if self.saving:
            self.notify("saving: wait for it to finish", markup=False)
            return
        if not self.changed():
            self.dismiss(False)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(False)

        self.app.push_screen(ConfirmScreen("Discard changes?", yes="Discard", no="Keep editing"), answered)


class SuiteScreen(Screen[None]):
    """One suite's prompts, written and changed one by one; items a run answered stay as they are."""

    HELP_NAME = "Eval suite"
    CSS_PATH = "evals.tcss"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
        Binding("r", "reload", "Reload", show=False),
    ]

    class Loaded(Message):
        def __init__(self, items: list[store.SuiteItem], answered: set[str], clauses: list[Clause]) -> None:
            super().__init__()
            self.items, self.answered, self.clauses = items, answered, clauses

    class Removed(Message):
        def __init__(self, item: str, error: str | None) -> None:
            super().__init__()
            self.item, self.error = item, error

    def __init__(self, suite: str) -> None:
        super().__init__()
        self.suite = suite
        self.items: list[store.SuiteItem] = []
        self.answered: set[str] = set()
        self.clauses: list[Clause] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(content(f"Suite {self.suite}"), id="suite-meta", classes="pane-title")
        yield FitTable(id="suite-items", cursor_type="row", flex="prompt", flex_min=12)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#suite-items", DataTable)
        for name in ("id", "clauses", "prompt", "answered"):
            table.add_column(name, key=name)
        table.loading = True
        table.focus()
        self.load_items()

    def refresh_data(self) -> None:
        self.load_items()

    def action_reload(self) -> None:
        self.load_items()

    @work(thread=True, exclusive=True, group="suite-items")
    def load_items(self) -> None:
        db = self.app.workspace.db  # type: ignore[attr-defined]
        items = store.suite_items(db, self.suite)
        answered = store.answered_items(db, self.suite)
        clauses = current_clauses(db)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(items, answered, clauses))

    def on_suite_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one("#suite-items", DataTable)
        table.loading = False
        keep = self.highlighted()
        self.items, self.answered, self.clauses = message.items, message.answered, message.clauses
        self.loaded = True
        table.clear()
        for item in self.items:
            table.add_row(
                clipped(item.id),
                clipped(", ".join(item.clauses)),
                prompt_cell(item),
                plain("answered", "bold yellow") if item.id in self.answered else plain(""),
                key=item.id,
            )
        ids = [i.id for i in self.items]
        if keep is not None and keep.id in ids:
            table.move_cursor(row=ids.index(keep.id))
        answered = len(self.answered & set(ids))
        meta = f"Suite {self.suite}: {len(ids)} prompt(s)" + (f", {answered} answered by a run" if answered else "")
        if not ids:
            meta += " · a: add a prompt"
        self.query_one("#suite-meta", Static).update(content(meta))

    def highlighted(self) -> store.SuiteItem | None:
        table = self.query_one("#suite-items", DataTable)
        if not table.row_count or not self.items or table.cursor_row >= len(self.items):
            return None
        return self.items[table.cursor_row]

    def _changed(self, saved: bool | None) -> None:
        if saved:
            self.app.post_message(WorkspaceChanged())

    def action_add(self) -> None:
        if not self.loaded:
            return
        self.app.push_screen(PromptForm(self.suite, None, self.clauses), self._changed)

    def _refused(self, item: store.SuiteItem, *, removing: bool) -> bool:
        if item.id in self.answered:
            self.notify(store.answered_refusal(self.suite, item.id, removing=removing), severity="error", markup=False)
            return True
        return False

    def action_edit(self) -> None:
        item = self.highlighted()
        if item is None or self._refused(item, removing=False):
            return
        self.app.push_screen(PromptForm(self.suite, item, self.clauses), self._changed)

    @on(DataTable.RowSelected, "#suite-items")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_delete(self) -> None:
        item = self.highlighted()
        if item is None or self._refused(item, removing=True):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.remove_prompt(item.id)

        self.app.push_screen(ConfirmScreen(f"Remove prompt {item.id} from suite {self.suite}?"), answered)

    @work(thread=True, group="suite-remove")
    def remove_prompt(self, item_id: str) -> None:
        app: Any = self.app
        try:
            suites.remove_item(app.workspace.db, self.suite, item_id, actor=app.user)
            error = None
        except CuratorError as err:
            error = str(err)
        self.post_message(self.Removed(item_id, error))

    def on_suite_screen_removed(self, message: Removed) -> None:
        if message.error is not None:
            self.notify(message.error, severity="error", markup=False)
            return
        self.notify(f"removed prompt {message.item}", markup=False)
        self.app.post_message(WorkspaceChanged())
