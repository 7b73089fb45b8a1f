"""Messages that cross screens (screen-local messages live next to the widget that sends them)."""

from __future__ import annotations

from textual.message import Message

from curator.models import Example


class ExampleSaved(Message):
    """An example was created or updated in this app (badges, lists and the dedup index refresh)."""

    def __init__(self, example: Example) -> None:
        super().__init__()
        self.example = example


class WorkspaceChanged(Message):
    """Something changed that every screen showing counts should reload (e.g. a review)."""
