"""Creating workspaces: empty, or filled with the demo constitution and corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from curator import paths
from curator.constitution.versions import import_constitution
from curator.errors import StoreError
from curator.importer import ImportReport, import_file
from curator.store.db import Workspace, open_workspace


def fill_demo(ws: Workspace, *, actor: str) -> ImportReport:
    """Import the demo constitution and the demo examples into an empty workspace.

    The demo corpus keeps its statuses (`keep_status`): it shows a workspace in use, with
    approved, in-review, draft and rejected examples, and its statuses were set when it was
    written for this project, not by whoever runs `init`.
    """
    import_constitution(ws.db, paths.demo_constitution_file(), actor=actor)
    return import_file(ws.db, paths.demo_corpus_file(), "curator", actor=actor, keep_status=True)


def init_workspace(path: Path, *, demo: bool, actor: str) -> Workspace:
    """Create a workspace database; refuses one that already holds data."""
    ws = open_workspace(path)
    try:
        if not ws.is_empty():
            raise StoreError(f"{path}: already holds a workspace; use another --db or remove it")
        if demo:
            fill_demo(ws, actor=actor)
    except BaseException:
        ws.close()
        raise
    return ws


def open_or_create_default(
    path: Path, *, actor: str, on_upgrade: Callable[[list[str]], None] | None = None
) -> Workspace:
    """The TUI's database: created and filled with the demo when it does not exist yet."""
    if path.exists():
        return open_workspace(path, on_upgrade=on_upgrade)
    return init_workspace(path, demo=True, actor=actor)
