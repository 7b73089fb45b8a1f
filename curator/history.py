"""An example's history as readable diffs of its audit events.

`history` lists the events (the TUI's History screen); `example_history` is the same for a
command: not-found when the id has no record and no events, with `to_json()` and `to_text()`.
A purged record keeps its history.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from curator.errors import NotFoundError
from curator.store import examples
from curator.store.audit import AuditEvent, events_for


@dataclass
class HistoryEntry:
    event: AuditEvent
    diff: list[str]
    """Unified diff lines of the pretty-printed record (empty when nothing textual changed)."""
    review: dict[str, str] | None = None
    """The review decision this event recorded (`verdict`, `reviewer`, `comment`), if it was one."""

    @property
    def label(self) -> str:
        """The event as a person names it: `rejected: <comment>` for a review, else the action."""
        if self.review is None:
            return self.event.action
        verdict = "rejected" if self.review["verdict"] == "reject" else "approved"
        return f"{verdict}: {self.review['comment']}" if self.review["comment"] else verdict

    @property
    def version(self) -> int | None:
        """The record version the event left (for a purge or a conflict: the version it concerned)."""
        for state in (self.event.after, self.event.before):
            if isinstance(state, dict) and isinstance(state.get("version"), int):
                return int(state["version"])
        return None

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {
            "event": e.id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "version": self.version,
            "note": e.note,
            "review": self.review,
            "diff": self.diff,
        }

    def to_text(self) -> str:
        e = self.event
        version = f"  version {self.version}" if self.version is not None else ""
        note = f"  ({e.note})" if e.note else ""
        return "\n".join([f"{e.at}  {e.actor}  {self.label}{version}{note}", *(f"    {line}" for line in self.diff)])


@dataclass(frozen=True)
class History:
    """Every audit event of one example, oldest first."""

    example_id: str
    entries: tuple[HistoryEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.example_id, "events": [e.to_json() for e in self.entries]}

    def to_text(self) -> str:
        head = f"{self.example_id}: {len(self.entries)} events, oldest first"
        return "\n".join([head, *(e.to_text() for e in self.entries)])


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
    """Oldest first; an event that recorded a review decision carries the verdict and comment."""
    decisions = {
        (reviewer, version): (verdict, comment)
        for reviewer, version, verdict, comment in db.execute(
            "SELECT reviewer, example_version, verdict, comment FROM reviews WHERE example_id = ? ORDER BY id",
            [example_id],
        )
    }
    out = []
    for e in events_for(db, "example", example_id):
        entry = HistoryEntry(e, diff_lines(e.before, e.after))
        after, before = e.after, e.before
        status_changed = (
            isinstance(after, dict) and isinstance(before, dict) and after.get("status") != before.get("status")
        )
        if status_changed and entry.version is not None:
            found = decisions.get((e.actor, entry.version)) or decisions.get((e.actor, entry.version - 1))
            if found is not None and found[0] in ("approve", "reject"):
                entry.review = {"verdict": found[0], "reviewer": e.actor, "comment": found[1] or ""}
        out.append(entry)
    return out


def example_history(db: Database, example_id: str) -> History:
    """The example's events as a `History`; NotFoundError when nothing is known of that id."""
    entries = history(db, example_id)
    if not entries and not examples.existing_ids(db, [example_id]):
        raise NotFoundError(f"no example with id {example_id!r} (and no history of one)")
    return History(example_id, tuple(entries))
