"""The help screen (every key of the app and of the screen below it), and a command-palette
provider that offers the current screen's bindings as commands.

Binding descriptions are our own constants, but they still go through the safe helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from curator.tui.safe import content, highlight, join

WORKFLOW = (
    "Workflow: read a clause on the Constitution screen (1), write examples that illustrate it in the "
    "editor (n on the Examples screen, 2) and link them to the clauses they show. A finished example is "
    "submitted for review; on the Review screen (3) another annotator approves it (a) or rejects it with a "
    "comment (x). Nobody approves their own work, and approval needs at least one clause link and, for "
    "advice and agentic examples, a rationale on every assistant turn. h shows any example's history; "
    "ctrl+p opens the command palette; ctrl+q quits. In the editor, f2-f5 ask the model (needs ANTHROPIC_API_KEY) "
    "for a draft, a critique, an explain-why rewrite or clause links; nothing is stored until you save. "
    "Blind double annotation: 7 lists the records a lead assigned to you, without their links, to link "
    "clauses to (l) and submit (s); 8 shows the records whose annotators disagree, side by side, for a "
    "lead to decide (d)."
)


def _described(bindings: BindingsMap, *, shown_only: bool = False) -> Iterator[tuple[str, Binding]]:
    for key, binding in bindings:
        if binding.description and (binding.show or not shown_only):
            yield key, binding


def screen_bindings(screen: Screen[object]) -> list[tuple[str, Binding]]:
    """The screen's own described bindings, then those shown by its focused widget."""
    found = list(_described(screen._bindings))
    focused = screen.focused
    if focused is not None:
        for node in focused.ancestors_with_self:
            if node is screen:
                break
            found.extend(_described(node._bindings, shown_only=True))
    return found


class HelpScreen(ModalScreen[None]):
    """Keys of the app and of the screen it was opened from, and the workflow in one paragraph."""

    HELP_NAME = "Help"

    CSS_PATH = "lists.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(content("Keys"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(id="help-keys")
                yield Static(content(WORKFLOW), id="help-workflow")

    def on_mount(self) -> None:
        self.query_one("#help-keys", Static).update(self.keys_text())

    def screen_below(self) -> Screen[object] | None:
        stack = self.app.screen_stack
        index = stack.index(self) if self in stack else len(stack)
        return stack[index - 1] if index >= 1 else None

    def sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(heading, [(key display, description)]) for the screen below and the whole app."""
        out: list[tuple[str, list[tuple[str, str]]]] = []
        below = self.screen_below()
        if below is not None:
            name = getattr(below, "HELP_NAME", type(below).__name__)
            out.append((f"On this screen ({name})", self._rows(screen_bindings(below))))
        out.append(("Everywhere", self._rows(list(_described(self.app._bindings)))))
        return [(heading, rows) for heading, rows in out if rows]

    def _rows(self, bindings: list[tuple[str, Binding]]) -> list[tuple[str, str]]:
        keys: dict[str, list[str]] = {}  # description -> key displays, in binding order
        for _, binding in bindings:
            shown = keys.setdefault(binding.description, [])
            key = self.app.get_key_display(binding)
            if key not in shown:
                shown.append(key)
        return [(" / ".join(shown), description) for description, shown in keys.items()]

    def keys_text(self) -> Text:
        parts: list[tuple[str, str] | str] = []
        for heading, rows in self.sections():
            parts.append((heading + "\n", "bold underline"))
            width = max(len(key) for key, _ in rows)
            for key, description in rows:
                parts.append((f"  {key.ljust(width)}  ", "bold"))
                parts.append(description + "\n")
            parts.append("\n")
        return join(*parts)

    def action_close(self) -> None:
        self.dismiss(None)


class ScreenBindingCommands(Provider):
    """The current screen's key bindings as command-palette entries (keyboard first: every key is also in ctrl+p)."""

    def _commands(self) -> list[tuple[str, str]]:
        screen = self.screen
        name = getattr(screen, "HELP_NAME", type(screen).__name__)
        commands: dict[str, str] = {}  # one entry per action: two keys for one action (ctrl+c, super+c) list it once
        for _, binding in _described(screen._bindings):
            text = f"{name}: {binding.description}"
            if text not in commands and binding.action not in commands.values():
                commands[text] = binding.action
        return list(commands.items())

    async def discover(self) -> Hits:
        for text, action in self._commands():
            yield DiscoveryHit(highlight(text, ""), partial(self.screen.run_action, action), text=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, highlight(text, query), partial(self.screen.run_action, action), text=text)
