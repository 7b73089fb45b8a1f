"""An example's history as readable diffs of its audit events."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from curator.store.audit import AuditEvent, events_for


@dataclass
class HistoryEntry:
    event: AuditEvent
    diff: list[str]
    """Unified diff lines of the pretty-printed record (empty when nothing textual changed)."""


def _pretty(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            lines: list[str] = value.splitlines()
            return lines
    return json.dumps(value, ensure_ascii=False, indent=2).splitlines()


def diff_lines(before: Any, after: Any) -> list[str]:
    """A unified diff between two record states (either may be None)."""
    return list(difflib.unified_diff(_pretty(before), _pretty(after), "before", "after", lineterm="", n=1))


def history(db: Database, example_id: str) -> list[HistoryEntry]:
    """Oldest first."""
    return [HistoryEntry(e, diff_lines(e.before, e.after)) for e in events_for(db, "example", example_id)]
