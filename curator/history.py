"""An example's history: each audit event named as a person would say it, with what it changed per field.

`history` lists the events (the TUI's History screen); `example_history` is the same for a
command: not-found when the id has no record and no events, with `to_json()` and `to_text()`.
A purged record keeps its history.

A change is reported per field, labelled as the editor form names it (`title`, `Turn 3 content`,
`Turn 3 tool calls`, `Turn 2 rejected answer 1 why-not`), with a word-level diff cut to a few words around each change
(`curator.worddiff`): one word edited in a long text is one short line, never the whole field.
Bookkeeping (`id`, `version`, `created_at`, `updated_at`) is not a change anyone made.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from curator.errors import NotFoundError
from curator.store import examples
from curator.store.audit import AuditEvent, events_for
from curator.worddiff import ELLIPSIS, Segment, WordDiff, visible, word_diff

BOOKKEEPING = frozenset({"id", "version", "created_at", "updated_at"})
"""Record keys every write changes by itself: never shown as a change."""

FIELD_ORDER = (
    "kind",
    "title",
    "tags",
    "group",
    "clauses",
    "text",
    "rationale",
    "system",
    "tools",
    "messages",
    "status",
    "author",
    "source",
)
"""Record keys in the order their changes are listed: the form's order, then what the form does not
edit (the status an edit may send back to review, the author, the source)."""

ITEM_FIELDS = frozenset({"tags", "clauses"})
"""List fields shown as items added and removed rather than as text."""

TURN_PARTS = ("content", "tool calls", "tool results", "rationale")
"""What one turn holds, as the history names it (`Turn 3 tool calls`)."""

NO_FIELD_CHANGES = frozenset({"purge", "confirm-links", "not-duplicate"})
"""Actions whose before/after are not two states of the record (a purge has no after)."""

NAME_ITEMS = 5
"""Clause ids or tags named in an event's name before "and N more"."""

_TURN_LABEL = re.compile(r"^Turn (\d+) ")


@dataclass(frozen=True)
class FieldChange:
    """One field's change in one event: whole values before and after, and the shortened differences.

    `kind` is `text` (a word diff of the field's text) or `items` (tags and clauses: the items
    `added` and `removed`, each one segment). `before`/`after` are None where the field was absent.
    """

    field: str
    kind: Literal["text", "items"]
    before: str | list[str] | None
    after: str | list[str] | None
    diff: WordDiff
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.diff.segments

    def body(self) -> str:
        """The differences in git's --word-diff=plain form (`[-deleted-]`, `{+inserted+}`)."""
        if self.kind == "items":
            return " ".join(s.plain() for s in self.segments) or "(order changed)"
        if not self.segments:
            return "(spacing only)"
        return self.diff.plain()

    def line(self) -> str:
        """`label: differences`, one line."""
        return f"{self.field}: {self.body()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "added": list(self.added),
            "removed": list(self.removed),
            "segments": [s.to_json() for s in self.segments],
        }


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    changes: tuple[FieldChange, ...] = ()
    """What the event changed, per field, in form order (empty when no field changed)."""
    name: str = ""
    """The event as a person names it: `edited title, turn 2`, `linked §honesty.1`, `rejected: <comment>`."""
    review: dict[str, str] | None = None
    """The review decision this event recorded (`verdict`, `reviewer`, `comment`), if it was one."""

    @property
    def label(self) -> str:
        """The event's name (kept for callers of the older name)."""
        return self.name

    @property
    def diff(self) -> list[str]:
        """One readable line per changed field: `title: [-old-]{+new+}`."""
        return [c.line() for c in self.changes]

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
            "name": self.name,
            "version": self.version,
            "note": e.note,
            "review": self.review,
            "diff": self.diff,
            "changes": [c.to_json() for c in self.changes],
        }

    def heading(self) -> str:
        """Time, actor, name, version and note on one line."""
        e = self.event
        version = f"  version {self.version}" if self.version is not None else ""
        note = f"  ({visible(e.note)})" if e.note else ""
        return f"{e.at}  {visible(e.actor)}  {self.name}{version}{note}"

    def to_text(self) -> str:
        return "\n".join([self.heading(), *(f"    {line}" for line in self.diff)])


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


# -- a record's fields as the form names them ------------------------------------------------------


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _turn_fields(index: int, msg: Mapping[str, Any]) -> dict[str, str]:
    """One turn's parts: its text, its tool calls (`name {input}`), its tool results, its rationale."""
    turn = f"Turn {index + 1}"
    out: dict[str, str] = {}
    content = msg.get("content")
    if isinstance(content, list):
        texts, calls, results = [], [], []
        for block in content:
            if not isinstance(block, Mapping):
                continue
            kind = block.get("type")
            if kind == "text":
                texts.append(_as_text(block.get("text", "")))
            elif kind == "tool_use":
                call = json.dumps(block.get("input") or {}, ensure_ascii=False, sort_keys=True)
                calls.append(f"{block.get('name', '')} {call}")
            elif kind == "tool_result":
                inner = block.get("content", "")
                if isinstance(inner, list):
                    inner = "\n\n".join(_as_text(b.get("text", "")) for b in inner if isinstance(b, Mapping))
                results.append(("error: " if block.get("is_error") else "") + _as_text(inner))
            else:
                texts.append(_as_text(block))
        if texts or not (calls or results):
            out[f"{turn} content"] = "\n\n".join(texts)
        if calls:
            out[f"{turn} tool calls"] = "\n".join(calls)
        if results:
            out[f"{turn} tool results"] = "\n\n".join(results)
    elif content is not None:
        out[f"{turn} content"] = _as_text(content)
    if msg.get("rationale") is not None:
        out[f"{turn} rationale"] = _as_text(msg["rationale"])
    alternatives = msg.get("alternatives")
    for k, alt in enumerate(alternatives if isinstance(alternatives, list) else []):
        if not isinstance(alt, Mapping):
            continue
        answer = f"{turn} rejected answer {k + 1}"
        for label, text in _turn_fields(index, {"content": alt.get("content")}).items():
            part = label.removeprefix(turn)  # " content", " tool calls"
            out[answer + ("" if part == " content" else part)] = text
        if alt.get("why_not") is not None:
            out[f"{answer} why-not"] = _as_text(alt["why_not"])
    return out


def field_values(record: Any) -> dict[str, str | list[str]]:
    """A record state's fields by the label the history shows: text, or a list of items for tags and
    clauses. Anything that is not a record object (None, a purge's missing after) has no fields."""
    if not isinstance(record, Mapping):
        return {}
    out: dict[str, str | list[str]] = {}
    for key, value in record.items():
        if key in BOOKKEEPING or value is None:
            continue
        if key == "messages" and isinstance(value, list):
            for i, msg in enumerate(value):
                if isinstance(msg, Mapping):
                    out.update(_turn_fields(i, msg))
        elif key in ITEM_FIELDS and isinstance(value, list):
            out[key] = [_as_text(v) for v in value]
        else:
            out[visible(key)] = _as_text(value)
    return out


def _order(label: str) -> tuple[int, int, int, str]:
    """Where a label is listed: the form's order, turns in turn order, unknown keys last."""
    turn = _TURN_LABEL.match(label)
    if turn:
        part = label[turn.end() :]
        rank = TURN_PARTS.index(part) if part in TURN_PARTS else len(TURN_PARTS)
        return FIELD_ORDER.index("messages"), int(turn.group(1)), rank, label
    if label in FIELD_ORDER:
        return FIELD_ORDER.index(label), 0, 0, label
    return len(FIELD_ORDER), 0, 0, label


def _item(text: str) -> str:
    return visible(text if len(text) <= 60 else text[:59] + ELLIPSIS)


def field_changes(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Every field that differs between two record states (either may be None), in form order."""
    old, new = field_values(before), field_values(after)
    changes: list[FieldChange] = []
    for label in sorted(old.keys() | new.keys(), key=_order):
        was, now = old.get(label), new.get(label)
        if was == now:
            continue
        if isinstance(was, list | None) and isinstance(now, list | None) and label in ITEM_FIELDS:
            removed = tuple(x for x in was or [] if x not in (now or []))
            added = tuple(x for x in now or [] if x not in (was or []))
            segments = tuple(
                [Segment("delete", _item(x)) for x in removed] + [Segment("insert", _item(x)) for x in added]
            )
            diff = WordDiff(segments, len(segments), len(segments))
            changes.append(FieldChange(label, "items", was, now, diff, added, removed))
            continue
        was_text = was if isinstance(was, str) else _as_text(was) if was is not None else ""
        now_text = now if isinstance(now, str) else _as_text(now) if now is not None else ""
        changes.append(FieldChange(label, "text", was, now, word_diff(was_text, now_text)))
    return tuple(changes)


# -- names -----------------------------------------------------------------------------------------


def _listing(items: Sequence[str], prefix: str = "") -> str:
    """`§a, §b` for a few items; the first NAME_ITEMS and `and N more` for many."""
    shown = [prefix + _item(i) for i in items[:NAME_ITEMS]]
    more = len(items) - NAME_ITEMS
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _edited(changes: Sequence[FieldChange]) -> str | None:
    """`edited title, turns 2, 3` for the fields changed other than tags, clauses and status."""
    fields: list[str] = []
    turns: list[str] = []
    for change in changes:
        if change.field in ITEM_FIELDS or change.field == "status":
            continue
        turn = _TURN_LABEL.match(change.field)
        if turn:
            if turn.group(1) not in turns:
                turns.append(turn.group(1))
        elif change.field not in fields:
            fields.append(visible(change.field))
    if turns:
        fields.append(("turn " if len(turns) == 1 else "turns ") + _listing(turns))
    return "edited " + ", ".join(fields) if fields else None


def _status_change(was: Any, now: Any) -> str | None:
    if was == now or not isinstance(now, str):
        return None
    if now == "review":
        return "back to review" if was == "approved" else "submitted for review"
    if now in ("approved", "rejected"):
        return now
    return f"status {visible(str(was))} → {visible(now)}"


def _update_name(event: AuditEvent, changes: Sequence[FieldChange]) -> str:
    """An update named by what it changed: `edited text; back to review`, `linked §a`, `tagged x`."""
    parts: list[str] = []
    edited = _edited(changes)
    if edited:
        parts.append(edited)
    for change in changes:
        if change.field == "clauses":
            if change.added:
                parts.append("linked " + _listing(change.added, "§"))
            if change.removed:
                parts.append("unlinked " + _listing(change.removed, "§"))
            if not (change.added or change.removed):
                parts.append("reordered links")
        elif change.field == "tags":
            if change.added:
                parts.append("tagged " + _listing(change.added))
            if change.removed:
                parts.append("untagged " + _listing(change.removed))
            if not (change.added or change.removed):
                parts.append("reordered tags")
    before, after = event.before, event.after
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        status = _status_change(before.get("status"), after.get("status"))
        if status:
            parts.append(status)
    return "; ".join(parts) or "saved without changes"


def _review_name(review: Mapping[str, str]) -> str:
    verdict = "rejected" if review["verdict"] == "reject" else "approved"
    comment = visible(review["comment"])
    if len(comment) > 200:
        comment = comment[:199] + ELLIPSIS
    return f"{verdict}: {comment}" if comment else verdict


def event_name(
    event: AuditEvent,
    changes: Sequence[FieldChange],
    review: Mapping[str, str] | None = None,
    constitution_version: str | None = None,
) -> str:
    """What a person calls the event. `constitution_version` is the version whose import moved the
    links of a `follow-rename` event."""
    action = event.action
    if review is not None:
        return _review_name(review)
    simple = {
        "create": "created",
        "import": "imported",
        "delete": "deleted",
        "restore": "restored",
        "purge": "purged",
    }
    if action in simple:
        return simple[action]
    if action == "update":
        return _update_name(event, changes)
    if action == "follow-rename":
        version = f"version {visible(constitution_version)}" if constitution_version else "a new version"
        return f"relinked by constitution {version}"
    if action == "conflict":
        attempt = event.after.get("version") if isinstance(event.after, Mapping) else None
        stored = event.before.get("version") if isinstance(event.before, Mapping) else None
        if isinstance(attempt, int) and isinstance(stored, int):
            return f"conflict: edit of version {attempt} not saved (version {stored} was stored)"
        return "conflict: edit not saved"
    if action == "confirm-links":
        cleared = event.after.get("clauses") if isinstance(event.after, Mapping) else None
        if isinstance(cleared, list) and cleared:
            return "confirmed links " + _listing([_as_text(c) for c in cleared], "§")
        return "confirmed links"
    if action == "not-duplicate" and isinstance(event.after, Mapping):
        pair = [_as_text(event.after.get(k, "")) for k in ("a", "b")]
        others = [p for p in pair if p != event.entity_id]
        return "marked not a duplicate of " + _item(others[0] if others else pair[-1])
    return visible(action)


# -- reading the log -------------------------------------------------------------------------------


def _constitution_imports(db: Database) -> tuple[list[int], list[str]]:
    """(audit event ids, version ids) of every constitution import, oldest first."""
    rows = db.execute(
        "SELECT id, entity_id FROM audit WHERE entity = 'constitution' AND action = 'import' ORDER BY id"
    ).fetchall()
    return [int(r[0]) for r in rows], [str(r[1]) for r in rows]


def history(db: Database, example_id: str) -> list[HistoryEntry]:
    """Oldest first; an event that recorded a review decision carries the verdict and comment.

    Links that followed renamed clauses are named after the constitution version whose import
    moved them: the import's own event is the last constitution import before theirs (the same
    transaction writes both).
    """
    decisions = {
        (reviewer, version): (verdict, comment)
        for reviewer, version, verdict, comment in db.execute(
            "SELECT reviewer, example_version, verdict, comment FROM reviews WHERE example_id = ? ORDER BY id",
            [example_id],
        )
    }
    imports: tuple[list[int], list[str]] | None = None
    out = []
    for e in events_for(db, "example", example_id):
        changes = () if e.action in NO_FIELD_CHANGES else field_changes(e.before, e.after)
        version = HistoryEntry(e).version
        review = None
        after, before = e.after, e.before
        status_changed = (
            isinstance(after, dict) and isinstance(before, dict) and after.get("status") != before.get("status")
        )
        if status_changed and version is not None and e.action == "update":
            found = decisions.get((e.actor, version)) or decisions.get((e.actor, version - 1))
            if found is not None and found[0] in ("approve", "reject"):
                review = {"verdict": found[0], "reviewer": e.actor, "comment": found[1] or ""}
        constitution = None
        if e.action == "follow-rename":
            if imports is None:
                imports = _constitution_imports(db)
            at = bisect.bisect_left(imports[0], e.id)
            constitution = imports[1][at - 1] if at else None
        out.append(HistoryEntry(e, changes, event_name(e, changes, review, constitution), review))
    return out


def example_history(db: Database, example_id: str) -> History:
    """The example's events as a `History`; NotFoundError when nothing is known of that id."""
    entries = history(db, example_id)
    if not entries and not examples.existing_ids(db, [example_id]):
        raise NotFoundError(f"no example with id {example_id!r} (and no history of one)")
    return History(example_id, tuple(entries))
