"""The audit log: who changed what, when, with the record before and after.

An example's newest event whose after-image is exactly the stored record keeps a reference
(`after_ref = 1`, `after` NULL) rather than a second copy of the record; a trigger copies the
record into the event before the record changes or is removed. Every reader here resolves the
reference, so callers always see the full after-image.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from sqlite_utils import Database

from curator.models import utc_now


class AuditEvent(BaseModel):
    """One change: `before`/`after` are the canonical JSON objects (None for create/delete).

    `note` says in words what the before/after alone do not: that a record went back to review
    because its approved content changed, or that an import kept the file's statuses.
    """

    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None
    note: str | None = None


def _encode(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def event_row(
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: Any,
    after: Any,
    at: str | None = None,
    note: str | None = None,
    after_is_record: bool = False,
) -> tuple[str, str, str, str, str, str | None, str | None, str | None, int]:
    """The column values of one audit row (for executemany in bulk writes).

    `after_is_record`: `after` is the example's record exactly as this write stores it, so the
    event refers to it instead of holding a copy (only for `entity="example"`).
    """
    if after_is_record and entity != "example":
        raise ValueError("only an example event can refer to its stored record")
    stored_after = None if after_is_record else _encode(after)
    return (
        at or utc_now(),
        actor,
        action,
        entity,
        entity_id,
        _encode(before),
        stored_after,
        note,
        int(after_is_record),
    )


INSERT_SQL = (
    "INSERT INTO audit (at, actor, action, entity, entity_id, before, after, note, after_ref) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

EVENT_COLUMNS_SQL = (
    "a.id, a.at, a.actor, a.action, a.entity, a.entity_id, a.before, "
    "CASE WHEN a.after_ref = 1 THEN (SELECT record FROM examples WHERE examples.id = a.entity_id) "
    "ELSE a.after END AS after, a.note"
)
"""The event columns in their dumped order, the after-image resolved (select `FROM audit a`)."""


def record_event(
    db: Database,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: Any = None,
    after: Any = None,
    note: str | None = None,
    after_is_record: bool = False,
) -> None:
    """Append one event; call inside the transaction of the change it describes.

    `after_is_record`: `after` is the record this transaction stored (see `event_row`).
    """
    db.execute(
        INSERT_SQL,
        event_row(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            note=note,
            after_is_record=after_is_record,
        ),
    )


def latest_event_id(db: Database) -> int:
    """The newest event's id (0 for an empty log): every write adds one, so a new value means a change."""
    return int(db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0])


def examples_changed(db: Database, after: int, upto: int, *, limit: int) -> list[str] | None:
    """Ids of the examples with events after event `after` up to `upto`, most recently changed first.

    None when more than `limit` changed: a caller keeping a list in step reads it again instead.
    """
    rows = db.execute(
        "SELECT entity_id FROM audit WHERE entity = 'example' AND id > ? AND id <= ? "
        "GROUP BY entity_id ORDER BY max(id) DESC LIMIT ?",
        [after, upto, limit + 1],
    ).fetchall()
    if len(rows) > limit:
        return None
    return [r[0] for r in rows]


def _from_row(row: tuple[Any, ...]) -> AuditEvent:
    id_, at, actor, action, entity, entity_id, before, after, note = row
    return AuditEvent(
        id=id_,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=json.loads(before) if before else None,
        after=json.loads(after) if after else None,
        note=note,
    )


def events_for(db: Database, entity: str, entity_id: str) -> list[AuditEvent]:
    """An entity's history, oldest first."""
    rows = db.execute(
        f"SELECT {EVENT_COLUMNS_SQL} FROM audit a WHERE a.entity = ? AND a.entity_id = ? ORDER BY a.id",
        [entity, entity_id],
    ).fetchall()
    return [_from_row(r) for r in rows]


def all_events(db: Database) -> list[AuditEvent]:
    """The whole log, oldest first."""
    rows = db.execute(f"SELECT {EVENT_COLUMNS_SQL} FROM audit a ORDER BY a.id").fetchall()
    return [_from_row(r) for r in rows]


def compact_example_after_images(db: Database) -> None:
    """Turn each example's newest event whose after-image equals the stored record into a reference.

    For workspaces written before references existed, and after a dump is loaded (a dump holds
    every after-image in full, so a loaded workspace would otherwise be twice the size).
    """
    db.execute(
        """
        UPDATE audit SET after = NULL, after_ref = 1
        WHERE id IN (SELECT max(id) FROM audit WHERE entity = 'example' GROUP BY entity_id)
          AND after = (SELECT record FROM examples WHERE examples.id = audit.entity_id)
        """
    )
