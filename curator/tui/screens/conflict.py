"""Someone else saved the example meanwhile: show both versions and let the annotator choose."""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from curator.models import Example
from curator.tui.safe import content
from curator.tui.widgets.footer import KeyFooter
from curator.tui.widgets.turns import syntax_language

Resolution = Literal["mine", "theirs", "copy"]


def pretty(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False)


class ConflictScreen(ModalScreen[Resolution | None]):
    """Theirs (stored now) and yours (the form) side by side; dismisses with the choice (None: cancel)."""

    HELP_NAME = "Save conflict"

    DEFAULT_CSS = """
    ConflictScreen {
        align: center middle;
    }
    ConflictScreen > Vertical {
        width: 95%;
        height: 92%;
        border: thick $error;
        background: $surface;
    }
    ConflictScreen #conflict-message {
        padding: 0 1;
        height: auto;
    }
    ConflictScreen #conflict-sides {
        height: 1fr;
    }
    ConflictScreen .conflict-side {
        width: 1fr;
        padding: 0 1;
    }
    ConflictScreen .conflict-title {
        text-style: bold;
        height: auto;
    }
    ConflictScreen TextArea {
        height: 1fr;
    }
    ConflictScreen #conflict-buttons {
        height: auto;
        align-horizontal: center;
    }
    ConflictScreen Button {
        margin: 0 1;
    }
    """

    AUTO_FOCUS = "#conflict-theirs"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "choose('mine')", "Keep mine"),
        Binding("t", "choose('theirs')", "Take theirs"),
        Binding("c", "choose('copy')", "Save mine as copy"),
        Binding("escape", "cancel", "Back to editing"),
    ]

    def __init__(self, theirs: Example, mine: dict[str, Any]) -> None:
        super().__init__()
        self.theirs = theirs
        self.mine = mine

    def compose(self) -> ComposeResult:
        language = syntax_language("json")
        who = self.theirs.updated_at
        with Vertical():
            yield Static(
                content(
                    f"{self.theirs.id} was saved by someone else (now version {self.theirs.version}, {who}) "
                    "while you were editing. Choose what to keep."
                ),
                id="conflict-message",
            )
            with Horizontal(id="conflict-sides"):
                with Vertical(classes="conflict-side"):
                    yield Static(content(f"Theirs (stored, version {self.theirs.version})"), classes="conflict-title")
                    yield TextArea(
                        pretty(self.theirs.canonical()), read_only=True, language=language, id="conflict-theirs"
                    )
                with Vertical(classes="conflict-side"):
                    yield Static(content("Yours (this form)"), classes="conflict-title")
                    yield TextArea(pretty(self.mine), read_only=True, language=language, id="conflict-mine")
            with Horizontal(id="conflict-buttons"):
                yield Button(content("Keep mine (m)"), variant="warning", id="choose-mine")
                yield Button(content("Take theirs (t)"), variant="primary", id="choose-theirs")
                yield Button(content("Save mine as copy (c)"), variant="success", id="choose-copy")
                yield Button(content("Cancel (esc)"), id="choose-cancel")
            yield KeyFooter()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = (event.button.id or "").removeprefix("choose-")
        if choice in ("mine", "theirs", "copy"):
            self.action_choose(choice)
        else:
            self.action_cancel()

    def action_choose(self, choice: str) -> None:
        resolution: Resolution = "mine" if choice == "mine" else "theirs" if choice == "theirs" else "copy"
        self.dismiss(resolution)

    def action_cancel(self) -> None:
        self.dismiss(None)
