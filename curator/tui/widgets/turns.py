"""Dialogue turn editors: a role, a content TextArea and, on assistant turns, a rationale TextArea
and the turn's rejected alternatives (each an answer and its why-not)."""

from __future__ import annotations

import functools

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Static, TextArea

from curator.tui.form import AlternativeValues, alternative_label, turn_label, why_not_label
from curator.tui.safe import content
from curator.tui.widgets.exact_text import ExactTextArea


@functools.cache
def syntax_language(name: str) -> str | None:
    """`name` when this Textual install can highlight it (tree-sitter and the grammar present), else None.

    `TextArea.available_languages` lists the built-in names even without tree-sitter, and asking
    for a missing grammar with tree-sitter installed raises, so both are checked here.
    """
    if name not in TextArea().available_languages:
        return None
    try:
        from textual._tree_sitter import TREE_SITTER, get_language

        return name if TREE_SITTER and get_language(name) is not None else None
    except Exception:  # an optional extra that is broken is the same as a missing one
        return None


def show_error(widget: Static, message: str | None) -> None:
    """Show `message` literally in an error Static (hidden when empty)."""
    widget.update(content(message or ""))
    widget.display = bool(message)


class AlternativeEditor(Vertical):
    """One rejected answer of an assistant turn: the answer and, under it, why not (one or two lines)."""

    DEFAULT_CSS = """
    AlternativeEditor {
        height: auto;
        margin: 0 0 0 2;
        padding: 0 0 0 1;
        border-left: vkey $error-darken-2;
    }
    AlternativeEditor:focus-within {
        border-left: vkey $accent;
    }
    AlternativeEditor .alt-label, AlternativeEditor .alt-why-label {
        color: $text-muted;
    }
    AlternativeEditor:focus-within .alt-label {
        color: $accent;
    }
    AlternativeEditor TextArea.alt-content {
        min-height: 2;
        max-height: 10;
    }
    AlternativeEditor TextArea.alt-why-not {
        min-height: 1;
        max-height: 2;
    }
    """

    def __init__(self, values: AlternativeValues | None = None, *, language: str | None = None) -> None:
        super().__init__(classes="alternative")
        self.values = values or AlternativeValues()
        """What it was filled with: `source` is written back unchanged."""
        self._language = language
        self._position = 0

    def compose(self) -> ComposeResult:
        yield Static(content(alternative_label(self._position)), classes="alt-label")
        yield ExactTextArea(self.values.text, language=self._language, classes="alt-content")
        yield Static(content(""), classes="error alt-content-error")
        yield Label(content(why_not_label(self._position)), classes="alt-why-label")
        yield ExactTextArea(self.values.why_not, classes="alt-why-not")
        yield Static(content(""), classes="error alt-why-not-error")

    def on_mount(self) -> None:
        for error in self.query(".error").results(Static):
            error.display = False

    @property
    def content_area(self) -> TextArea:
        return self.query_one(".alt-content", TextArea)

    @property
    def why_not_area(self) -> TextArea:
        return self.query_one(".alt-why-not", TextArea)

    def read(self) -> AlternativeValues:
        """The answer as typed (what it was filled with until mounted)."""
        if not self.is_mounted:
            return self.values
        return AlternativeValues(self.content_area.text, self.why_not_area.text, self.values.source)

    def set_position(self, index: int) -> None:
        """Label it with its 1-based place in its turn (before or after it is composed)."""
        self._position = index
        for label in self.query_children(".alt-label").results(Static):
            label.update(content(alternative_label(index)))
        for why in self.query_children(".alt-why-label").results(Label):
            why.update(content(why_not_label(index)))

    def show_error(self, message: str | None, *, why_not: bool = False) -> None:
        show_error(self.query_one(".alt-why-not-error" if why_not else ".alt-content-error", Static), message)


class TurnEditor(Vertical):
    """One turn of a dialogue or transcript."""

    DEFAULT_CSS = """
    TurnEditor {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 0 0 1;
        border-left: thick $primary-darken-2;
    }
    TurnEditor.turn-assistant {
        border-left: thick $success-darken-2;
    }
    TurnEditor:focus-within {
        border-left: thick $accent;
    }
    TurnEditor .turn-role {
        text-style: bold;
    }
    TurnEditor TextArea {
        height: auto;
        min-height: 3;
        max-height: 16;
        scrollbar-size-vertical: 1;
    }
    TurnEditor .turn-rationale {
        min-height: 2;
    }
    TurnEditor .turn-rationale-label {
        color: $text-muted;
    }
    TurnEditor .turn-alternatives {
        height: auto;
    }
    """

    def __init__(
        self,
        role: str,
        text: str = "",
        rationale: str = "",
        *,
        language: str | None = None,
        alternatives: list[AlternativeEditor] | None = None,
    ) -> None:
        super().__init__(classes=f"turn turn-{role}")
        self.turn_role = role
        self._initial_text = text
        self._initial_rationale = rationale
        self._language = language
        self._initial_alternatives = alternatives or []
        for k, alt in enumerate(self._initial_alternatives):
            alt.set_position(k)

    def compose(self) -> ComposeResult:
        yield Static(content(self.turn_role), classes="turn-role")
        yield ExactTextArea(self._initial_text, language=self._language, classes="turn-content")
        yield Static(content(""), classes="error turn-content-error")
        if self.turn_role == "assistant":
            yield Label(content("Rationale: why this answer is right"), classes="turn-rationale-label")
            yield ExactTextArea(self._initial_rationale, classes="turn-rationale")
            yield Static(content(""), classes="error turn-rationale-error")
            yield Vertical(*self._initial_alternatives, classes="turn-alternatives")

    def on_mount(self) -> None:
        for error in self.query_children(".error").results(Static):
            error.display = False

    @property
    def content_area(self) -> TextArea:
        return self.query_one(".turn-content", TextArea)

    @property
    def rationale_area(self) -> TextArea | None:
        found = self.query(".turn-rationale").results(TextArea)
        return next(iter(found), None)

    @property
    def text(self) -> str:
        """The content as typed (the initial text until the editor is mounted)."""
        if not self.is_mounted:
            return self._initial_text
        return self.content_area.text

    @property
    def rationale(self) -> str:
        if self.turn_role != "assistant":
            return ""
        area = self.rationale_area if self.is_mounted else None
        return area.text if area is not None else self._initial_rationale

    @property
    def alternatives_box(self) -> Vertical | None:
        found = self.query_children(".turn-alternatives").results(Vertical)
        return next(iter(found), None)

    def alternative_editors(self) -> list[AlternativeEditor]:
        """The turn's rejected answers, in order (the initial ones until the editor is mounted)."""
        box = self.alternatives_box if self.is_mounted else None
        if box is None:
            return list(self._initial_alternatives) if not self.is_mounted else []
        return list(box.query_children(AlternativeEditor).results(AlternativeEditor))

    @property
    def alternatives(self) -> list[AlternativeValues]:
        return [alt.read() for alt in self.alternative_editors()]

    def set_position(self, index: int) -> None:
        """Label the turn with its 1-based position (and its rejected answers with theirs)."""
        self.query_one(".turn-role", Static).update(content(turn_label(index, self.turn_role)))
        self.renumber_alternatives()

    def renumber_alternatives(self) -> None:
        for k, alt in enumerate(self.alternative_editors()):
            alt.set_position(k)

    def show_content_error(self, message: str | None) -> None:
        show_error(self.query_one(".turn-content-error", Static), message)

    def show_rationale_error(self, message: str | None) -> None:
        found = list(self.query(".turn-rationale-error").results(Static))
        if found:
            show_error(found[0], message)
        else:
            self.show_content_error(message)

    def clear_errors(self) -> None:
        for error in self.query(".error").results(Static):
            show_error(error, None)
