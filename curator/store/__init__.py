"""The embedded SQLite store (sqlite-utils). Never imports a service or a face."""

from curator.store.db import Workspace, open_workspace

__all__ = ["Workspace", "open_workspace"]
