"""Explain-why's proposal as a unified diff of the assistant turns, accepted or rejected as a whole.

Nothing overwrites a person's text without confirmation (the rule for all assistance): this screen only
answers True (accept) or False (reject); the editor applies an accepted rewrite to its form.
Diff lines are data, so they go into a `Text` with styles, never into markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from curator.tui.safe import content, diff_style
from curator.tui.widgets.footer import KeyFooter


def diff_text(lines: list[str]) -> Text:
    """The diff as literal, styled text (a line like `[@click=app.quit]` stays exactly that)."""
    out = Text(end="", no_wrap=False)
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        out.append(line, style=diff_style(line))
    return out


class RewriteDiffScreen(ModalScreen[bool]):
    """The proposed rewrite as a diff; dismisses True (accept) or False (reject, esc)."""

    HELP_NAME = "Rewrite"

    DEFAULT_CSS = """
    RewriteDiffScreen {
        align: center middle;
    }
    RewriteDiffScreen > Vertical {
        width: 95%;
        height: 92%;
        border: thick $accent;
        background: $surface;
    }
    RewriteDiffScreen .rewrite-title {
        text-style: bold;
        padding: 0 1;
        height: auto;
    }
    RewriteDiffScreen #rewrite-note {
        color: $warning;
        padding: 0 1;
        height: auto;
    }
    RewriteDiffScreen #rewrite-scroll {
        height: 1fr;
        padding: 0 1;
    }
    RewriteDiffScreen #rewrite-buttons {
        height: auto;
        align-horizontal: center;
    }
    RewriteDiffScreen Button {
        margin: 0 1;
    }
    """

    AUTO_FOCUS = "#rewrite-scroll"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept rewrite"),
        Binding("r", "reject", "Reject rewrite"),
        Binding("escape", "reject", "Reject rewrite", show=False),
    ]

    def __init__(self, diff: list[str], *, note: str = "") -> None:
        super().__init__()
        self.diff = list(diff)
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(content("Explain why: proposed rewrite of the assistant turns"), classes="rewrite-title")
            if self.note:
                yield Static(content(self.note), id="rewrite-note")
            with VerticalScroll(id="rewrite-scroll"):
                yield Static(diff_text(self.diff), id="rewrite-diff")
            with Horizontal(id="rewrite-buttons"):
                yield Button(content("Accept into the form (a)"), variant="success", id="rewrite-accept")
                yield Button(content("Reject (r / esc)"), variant="error", id="rewrite-reject")
            yield KeyFooter()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "rewrite-accept")

    def action_accept(self) -> None:
        self.dismiss(True)

    def action_reject(self) -> None:
        self.dismiss(False)
