"""Constitution versions and their clauses in the store."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from curator.clausetext import clause_hash, parse_json, parse_markdown, strip_legacy_text, text_plain
from curator.errors import ConstitutionError
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

    Call inside the caller's transaction when other changes (stale links) go with it. The kept
    coverage counts stop being current (`coverage_counts.pause`): the caller rebuilds them once its
    links are up to date (`coverage_counts.rebuild`).
    """
    from curator.store import coverage_counts

    with db.atomic():
        coverage_counts.pause(db)
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
            "INSERT INTO clauses (version_id, id, position, parent, depth, kind, title, text, hash, meta, plain, "
            "context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    c.plain,
                    c.context,
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
        "SELECT id, parent, depth, kind, title, text, hash, meta, plain, context FROM clauses WHERE version_id = ? "
        "ORDER BY position",
        [version_id],
    ).fetchall()
    return [
        Clause(
            id=r[0],
            parent=r[1],
            depth=r[2],
            kind=r[3],
            title=r[4],
            text=r[5],
            hash=r[6],
            meta=json.loads(r[7]),
            plain=r[8],
            context=r[9],
        )
        for r in rows
    ]


def last_known_clause(db: Database, clause_id: str) -> tuple[int, Clause] | None:
    """(version id, clause) of the newest version that holds `clause_id`; None when none ever did."""
    row = db.execute("SELECT max(version_id) FROM clauses WHERE id = ?", [clause_id]).fetchone()
    if row is None or row[0] is None:
        return None
    version = int(row[0])
    return version, next(c for c in version_clauses(db, version) if c.id == clause_id)


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


def rederive_clause_texts(db: Database) -> dict[str, int]:
    """Bring clauses stored by an older curator to the current clause model, keeping their ids.

    Older curators stored a section's text with its heading line and an item's with its marker, and
    hashed that. Each version's clauses are re-derived from the version's stored source with the
    current parser (matched by id, else by position when the structure is the same); a clause the
    source no longer yields gets its stored text with the heading line or marker stripped. Links keep
    their meaning: a link's `clause_hash` that was the old hash of a clause becomes the new hash of
    the same text, so a link made before a heading rename is not stale after it. The caller then
    recomputes link states (`links.recompute_states`). Returns counts: clauses re-derived from source,
    from stored text, links rehashed.
    """
    counts = {"from_source": 0, "from_text": 0, "links": 0}
    new_hash: dict[tuple[str, str], str] = {}  # (clause id, old hash) -> new hash
    versions = db.execute("SELECT id, format, source, filename FROM constitution_versions ORDER BY id").fetchall()
    for version_id, fmt, source, filename in versions:
        rows = db.execute(
            "SELECT id, position, kind, parent, text, hash FROM clauses WHERE version_id = ? ORDER BY position",
            [version_id],
        ).fetchall()
        parsed = _reparse(fmt, source, filename)
        by_id = {c.id: c for c in parsed}
        same_shape = len(parsed) == len(rows) and all(c.kind == r[2] for c, r in zip(parsed, rows, strict=False))
        updates = []
        for ident, position, kind, _parent, text, old_hash in rows:
            clause = by_id.get(ident) or (parsed[position] if same_shape and position < len(parsed) else None)
            if clause is not None and clause.kind == kind:
                body, plain, context = clause.text, clause.plain, clause.context
                counts["from_source"] += 1
            else:
                body = strip_legacy_text(text, kind) if fmt != "json" else text
                plain, context = text_plain(body), ""
                counts["from_text"] += 1
            digest = clause_hash(body)
            new_hash.setdefault((ident, old_hash), digest)
            updates.append((body, digest, plain, context, version_id, ident))
        db.conn.executemany(
            "UPDATE clauses SET text = ?, hash = ?, plain = ?, context = ? WHERE version_id = ? AND id = ?", updates
        )
    links = db.execute("SELECT example_id, clause_id, clause_hash FROM example_clauses").fetchall()
    moved = [
        (new_hash[(clause_id, linked)], example_id, clause_id)
        for example_id, clause_id, linked in links
        if (clause_id, linked) in new_hash and new_hash[(clause_id, linked)] != linked
    ]
    db.conn.executemany("UPDATE example_clauses SET clause_hash = ? WHERE example_id = ? AND clause_id = ?", moved)
    counts["links"] = len(moved)
    return counts


def _reparse(fmt: str, source: str, filename: str | None) -> list[Clause]:
    """A stored version's clauses as the current parser reads its source; empty if it no longer parses."""
    try:
        parsed = parse_json(source, filename=filename) if fmt == "json" else parse_markdown(source, filename=filename)
    except ConstitutionError:
        return []
    return parsed.clauses
