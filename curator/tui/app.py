"""The Textual application: wiring only. Screens live in `screens/`, styles in `app.tcss`."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from curator.store.db import Workspace, open_workspace
from curator.tui.screens.constitution import ConstitutionScreen


class CuratorApp(App[None]):
    """curator's terminal UI over one workspace database."""

    CSS_PATH = "app.tcss"
    TITLE = "curator"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", priority=False),
    ]

    def __init__(self, db_path: Path | str, *, user: str) -> None:
        super().__init__()
        self.db_path = str(db_path)
        self.user = user
        self.workspace: Workspace = open_workspace(self.db_path, create=False)
        self.sub_title = f"{Path(self.db_path).name} · {user}"

    def on_mount(self) -> None:
        self.push_screen(ConstitutionScreen())

    async def action_quit(self) -> None:
        self.workspace.close()
        self.exit()


def run(db_path: Path | str, *, user: str) -> None:
    """Open the TUI (called lazily by the CLI)."""
    CuratorApp(db_path, user=user).run()
