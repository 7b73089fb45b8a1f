"""The key footer every screen shows: Textual's Footer in its compact form, rebuilt only when what
it shows changes.

Textual's Footer rebuilds all its keys whenever the screen's bindings may have changed: on every
focus move, although moving between fields of a form mostly leaves the shown keys as they were.
A rebuild mounts a dozen widgets, and each new key then restyles itself twice (it starts compact,
mounts by adding its `-compact` class, then takes the footer's setting). Together that was a
third of the editor's CPU time while typing and tabbing. Here the footer is compact, each key is
built with its class already set, and a rebuild that would show the same keys is skipped.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

COMPACT = "-compact"

Shown = tuple[tuple[Binding, bool, str], ...]


def shown_bindings(screen: Screen[Any]) -> Shown:
    """What a Footer on `screen` shows now: each shown binding with whether it is enabled and its
    tooltip, and the command palette's (shown whatever its `show`)."""
    active = screen.active_bindings
    palette = active.get(screen.app.COMMAND_PALETTE_BINDING)
    entries = [(b.binding, b.enabled, b.tooltip) for b in active.values() if b.binding.show]
    if palette is not None:
        entries.append((palette.binding, palette.enabled, palette.tooltip))
    return tuple(entries)


class KeyFooter(Footer):
    """Textual's compact Footer; the spacing of its keys is set in app.tcss."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(compact=True, **kwargs)
        self._composed: Shown | None = None

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._composed = shown_bindings(self.screen)
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.add_class(COMPACT, update=False)  # what its compact watcher would add on mount
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._composed is not None and screen is self.screen and shown_bindings(screen) == self._composed:
            return
        super().bindings_changed(screen)
