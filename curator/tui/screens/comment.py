"""A small modal asking for a review comment: OK returns the text, cancel returns None."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from curator.tui.safe import content
from curator.tui.widgets.exact_text import ExactInput


class CommentScreen(ModalScreen[str | None]):
    """Ask for a comment; with `require_comment`, an empty comment is refused in place."""

    HELP_NAME = "Comment"

    CSS_PATH = "lists.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "ok", "OK"),
    ]

    def __init__(
        self, heading: str, *, require_comment: bool = False, ok_label: str = "OK", placeholder: str = "Comment"
    ) -> None:
        super().__init__()
        self.heading = heading
        self.require_comment = require_comment
        self.ok_label = ok_label
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="comment-dialog"):
            yield Static(content(self.heading), id="comment-heading")
            yield ExactInput(placeholder=self.placeholder, id="comment-input")
            yield Static(id="comment-error")
            with Horizontal(id="comment-buttons"):
                yield Button(content(self.ok_label), variant="primary", id="comment-ok")
                yield Button(content("Cancel"), id="comment-cancel")

    def on_mount(self) -> None:
        self.query_one("#comment-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_ok()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "comment-ok":
            self.action_ok()
        else:
            self.action_cancel()

    def action_ok(self) -> None:
        text = self.query_one("#comment-input", Input).value.strip()
        if self.require_comment and not text:
            self.query_one("#comment-error", Static).update(content("A comment is required: say why."))
            self.query_one("#comment-input", Input).focus()
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
