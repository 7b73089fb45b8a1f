"""Pick the constitution clauses an example teaches: fuzzy search, Enter toggles, Escape is done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from curator.constitution.search import ClauseHit, search_clauses
from curator.models import Clause
from curator.tui.safe import content
from curator.tui.widgets.footer import KeyFooter


def parent_path(path: str) -> str:
    """The titles above a clause (its path without its own title)."""
    return path.rsplit(" › ", 1)[0] if " › " in path else ""


def hit_prompt(hit: ClauseHit, chosen: bool) -> Content:
    """`✓ id  title` over the sections it sits in; data is never parsed as markup."""
    return Content.assemble(
        ("✓ " if chosen else "  ", "bold $success"),
        (hit.clause.id, "bold"),
        "  ",
        hit.clause.title,
        "\n    ",
        (parent_path(hit.path), "dim"),
    )


class ClausePicker(ModalScreen[list[str] | None]):
    """Dismisses with the chosen clause ids (the linked ones, toggled), in the order chosen."""

    HELP_NAME = "Link clauses"

    DEFAULT_CSS = """
    ClausePicker {
        align: center middle;
    }
    ClausePicker > Vertical {
        width: 90%;
        height: 85%;
        border: thick $primary;
        background: $surface;
    }
    ClausePicker #picker-help {
        padding: 0 1;
        color: $text-muted;
    }
    ClausePicker #picker-hits {
        height: 1fr;
    }
    ClausePicker #picker-chosen {
        padding: 0 1;
        height: auto;
    }
    """

    AUTO_FOCUS = "#picker-query"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "done", "Done"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("space", "toggle_link", "Toggle", show=False),
        Binding("enter", "toggle_link", "Toggle link", show=True),
    ]

    def __init__(self, clauses: Sequence[Clause], linked: Sequence[str] = ()) -> None:
        super().__init__()
        self.clauses = list(clauses)
        self.chosen: list[str] = list(dict.fromkeys(linked))
        self.hits: list[ClauseHit] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                content("Link clauses: type to search; Enter (or space in the list) toggles; Escape when done."),
                id="picker-help",
            )
            yield Input(placeholder="search clauses by id, title or text", id="picker-query")
            yield OptionList(id="picker-hits", markup=False)
            yield Static(content(""), id="picker-chosen")
            yield KeyFooter()

    def on_mount(self) -> None:
        self._search("")
        self._show_chosen()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_toggle_link()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self._toggle(event.option.id)

    def _search(self, query: str) -> None:
        self.hits = search_clauses(self.clauses, query)
        options = self.query_one("#picker-hits", OptionList)
        options.clear_options()
        options.add_options([Option(hit_prompt(h, h.clause.id in self.chosen), id=h.clause.id) for h in self.hits])
        if self.hits:
            options.highlighted = 0
        if not self.clauses:
            self.query_one("#picker-chosen", Static).update(
                content("No constitution imported yet: run `curator constitution import FILE`.")
            )

    def _show_chosen(self) -> None:
        label = "Linked: " + (", ".join(self.chosen) if self.chosen else "(none)")
        self.query_one("#picker-chosen", Static).update(content(label))

    def _toggle(self, clause_id: str) -> None:
        if clause_id in self.chosen:
            self.chosen.remove(clause_id)
        else:
            self.chosen.append(clause_id)
        options = self.query_one("#picker-hits", OptionList)
        for hit in self.hits:
            if hit.clause.id == clause_id:
                options.replace_option_prompt(clause_id, hit_prompt(hit, clause_id in self.chosen))
        self._show_chosen()

    def action_toggle_link(self) -> None:
        option = self.query_one("#picker-hits", OptionList).highlighted_option
        if option is not None and option.id:
            self._toggle(option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-hits", OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    def action_done(self) -> None:
        self.dismiss(list(self.chosen))
