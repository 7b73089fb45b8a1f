"""The embedded SQLite store (sqlite-utils). Never imports a service or a face."""

import sys

if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
    # sqlite-utils imports pandas, when installed, only for optional DataFrame support curator never
    # uses; that costs ~0.3 s at every start (CLI and TUI). Hide it during that one import.
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["pandas"]

from curator.store.db import Workspace, open_workspace

__all__ = ["Workspace", "open_workspace"]
