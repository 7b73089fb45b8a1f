"""Constitution versions and their clauses in the store."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from curator.models import Clause, ParsedConstitution, utc_now
from curator.store.audit import record_event


def add_version(
    db: Database,
    parsed: ParsedConstitution,
    *,
    source: str,
    fmt: str,
    actor: str,
    filename: str | None = None,
    imported_at: str | None = None,
) -> int:
    """Store a parsed constitution as the new current version; returns its id.

    Call inside the caller's transaction when other changes (stale links) go with it.
    """
    with db.atomic():
        db.execute("UPDATE constitution_versions SET is_current = 0 WHERE is_current = 1")
        cur = db.execute(
            "INSERT INTO constitution_versions (sha256, filename, format, title, source, imported_at, actor, "
            "is_current) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            [
                parsed.document.get("sha256", ""),
                filename,
                fmt,
                parsed.document.get("title"),
                source,
                imported_at or utc_now(),
                actor,
            ],
        )
        version_id = int(cur.lastrowid or 0)
        db.conn.executemany(
            "INSERT INTO clauses (version_id, id, position, parent, depth, kind, title, text, hash, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    version_id,
                    c.id,
                    i,
                    c.parent,
                    c.depth,
                    c.kind,
                    c.title,
                    c.text,
                    c.hash,
                    json.dumps(c.meta, sort_keys=True),
                )
                for i, c in enumerate(parsed.clauses)
            ],
        )
        record_event(
            db,
            actor=actor,
            action="import",
            entity="constitution",
            entity_id=str(version_id),
            after={"sha256": parsed.document.get("sha256"), "filename": filename, "clauses": len(parsed.clauses)},
        )
    return version_id


def current_version(db: Database) -> dict[str, Any] | None:
    """The current version's row (without its source), or None when none was imported."""
    row = db.execute(
        "SELECT id, sha256, filename, format, title, imported_at, actor FROM constitution_versions WHERE is_current = 1"
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "sha256", "filename", "format", "title", "imported_at", "actor")
    return dict(zip(keys, row, strict=True))


def version_clauses(db: Database, version_id: int) -> list[Clause]:
    """A version's clauses in document order."""
    rows = db.execute(
        "SELECT id, parent, depth, kind, title, text, hash, meta FROM clauses WHERE version_id = ? ORDER BY position",
        [version_id],
    ).fetchall()
    return [
        Clause(id=r[0], parent=r[1], depth=r[2], kind=r[3], title=r[4], text=r[5], hash=r[6], meta=json.loads(r[7]))
        for r in rows
    ]


def current_clauses(db: Database) -> list[Clause]:
    """The current version's clauses in document order (empty when none was imported)."""
    version = current_version(db)
    return version_clauses(db, version["id"]) if version else []


def current_clause_hashes(db: Database) -> dict[str, str]:
    """Clause id -> content hash for the current version."""
    return dict(
        db.execute(
            "SELECT c.id, c.hash FROM clauses c JOIN constitution_versions v ON v.id = c.version_id "
            "WHERE v.is_current = 1"
        ).fetchall()
    )
