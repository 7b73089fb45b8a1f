"""Rows of blind double annotation (migration m014): assignments, annotations, decisions.

Plain reads and writes; the rules (who may be assigned, what an annotation may link, when a
lead may decide) and the audit events live in `curator.annotation`, which calls these inside
its transactions. Annotators are keyed by `identity.identity_key` and kept as typed for display.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlite_utils import Database

from curator import agreement
from curator.errors import StoreError
from curator.gcpause import gc_paused
from curator.store.examples import live_sql


@dataclass(frozen=True)
class Assignment:
    example_id: str
    annotator: str
    annotator_key: str
    assigned_by: str
    assigned_at: str
    constitution_version: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.example_id,
            "annotator": self.annotator,
            "assigned_by": self.assigned_by,
            "assigned_at": self.assigned_at,
            "constitution_version": self.constitution_version,
        }


@dataclass(frozen=True)
class Annotation:
    example_id: str
    annotator: str
    annotator_key: str
    clauses: tuple[str, ...]
    """Sorted clause ids."""
    clause_hashes: dict[str, str]
    """Each linked clause's hash in the constitution version annotated against."""
    constitution_version: int
    annotated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.example_id,
            "annotator": self.annotator,
            "clauses": [*self.clauses],
            "constitution_version": self.constitution_version,
            "clause_hashes": dict(self.clause_hashes),
            "annotated_at": self.annotated_at,
        }


@dataclass(frozen=True)
class Decision:
    example_id: str
    clauses: tuple[str, ...]
    how: str
    """`agreed` (every annotator gave this set) or `adjudicated` (a lead picked it)."""
    decided_by: str
    decided_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.example_id,
            "clauses": [*self.clauses],
            "how": self.how,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
        }


_ASSIGNMENT_COLS = "example_id, annotator, annotator_key, assigned_by, assigned_at, constitution_version"
_ANNOTATION_COLS = "example_id, annotator, annotator_key, clauses, clause_hashes, constitution_version, annotated_at"


def _assignment(row: Sequence[Any]) -> Assignment:
    return Assignment(row[0], row[1], row[2], row[3], row[4], row[5])


def _annotation(row: Sequence[Any]) -> Annotation:
    return Annotation(row[0], row[1], row[2], tuple(json.loads(row[3])), json.loads(row[4]), row[5], row[6])


def assignments_of(db: Database, example_id: str) -> list[Assignment]:
    """A record's assignments, by annotator key."""
    rows = db.execute(
        f"SELECT {_ASSIGNMENT_COLS} FROM annotation_assignments WHERE example_id = ? ORDER BY annotator_key",
        [example_id],
    ).fetchall()
    return [_assignment(r) for r in rows]


def assignment(db: Database, example_id: str, annotator_key: str) -> Assignment | None:
    row = db.execute(
        f"SELECT {_ASSIGNMENT_COLS} FROM annotation_assignments WHERE example_id = ? AND annotator_key = ?",
        [example_id, annotator_key],
    ).fetchone()
    return _assignment(row) if row else None


def assignments_for(db: Database, annotator_key: str) -> list[Assignment]:
    """An annotator's assignments on live records, oldest first (then by record id)."""
    rows = db.execute(
        f"SELECT {', '.join('a.' + c.strip() for c in _ASSIGNMENT_COLS.split(','))} "
        f"FROM annotation_assignments a JOIN examples e ON e.id = a.example_id "
        f"WHERE a.annotator_key = ? AND {live_sql('a.example_id')} ORDER BY a.assigned_at, a.example_id",
        [annotator_key],
    ).fetchall()
    return [_assignment(r) for r in rows]


def insert_assignment(db: Database, a: Assignment) -> None:
    db.execute(
        f"INSERT INTO annotation_assignments ({_ASSIGNMENT_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
        [a.example_id, a.annotator, a.annotator_key, a.assigned_by, a.assigned_at, a.constitution_version],
    )


def annotations_of(db: Database, example_id: str) -> list[Annotation]:
    rows = db.execute(
        f"SELECT {_ANNOTATION_COLS} FROM annotations WHERE example_id = ? ORDER BY annotator_key", [example_id]
    ).fetchall()
    return [_annotation(r) for r in rows]


def clause_text(clauses: Iterable[str]) -> str:
    """A link set as the annotations table stores it: the sorted ids, a compact JSON array."""
    return json.dumps(sorted(clauses), ensure_ascii=False, separators=(",", ":"))


def put_annotation(db: Database, a: Annotation) -> None:
    """Insert or replace one annotator's annotation of one record."""
    db.execute(
        f"INSERT OR REPLACE INTO annotations ({_ANNOTATION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            a.example_id,
            a.annotator,
            a.annotator_key,
            clause_text(a.clauses),
            json.dumps(dict(sorted(a.clause_hashes.items())), ensure_ascii=False, separators=(",", ":")),
            a.constitution_version,
            a.annotated_at,
        ],
    )


def iter_annotations(db: Database) -> Iterator[Annotation]:
    """Every annotation of a live record, by record then annotator."""
    cursor = db.execute(
        f"SELECT {', '.join('a.' + c.strip() for c in _ANNOTATION_COLS.split(','))} FROM annotations a "
        f"WHERE {live_sql('a.example_id')} ORDER BY a.example_id, a.annotator_key"
    )
    for row in cursor:
        yield _annotation(row)


@dataclass(frozen=True)
class LinkColumns:
    """Every annotation of a live record as parallel columns, by record then annotator key: what
    agreement reads (columns, not rows: a 300,000-annotation workspace is read in one pass)."""

    example_ids: list[str]
    annotator_keys: list[str]
    clause_texts: list[str]
    """Each annotation's clause ids as stored (a JSON array); `decode_clause_sets` reads them."""
    display_names: dict[str, str]
    """Each annotator key's name for display: the smallest of the names it was typed as."""


def decode_clause_sets(texts: list[str]) -> list[tuple[str, ...]]:
    """Stored clause-id arrays, decoded in one parse (one `json.loads` per set costs more in call
    overhead than in parsing); anything but arrays of strings is a `StoreError` naming it."""
    try:
        decoded = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        decoded = None
    if (
        isinstance(decoded, list)
        and len(decoded) == len(texts)
        and set(map(type, decoded)) <= {list}
        and set(map(type, itertools.chain.from_iterable(decoded))) <= {str}
    ):
        return list(map(tuple, decoded))
    out: list[tuple[str, ...]] = []
    for text in texts:  # something does not decode: find it
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not (isinstance(value, list) and all(isinstance(c, str) for c in value)):
            raise StoreError(f"annotations: clauses {text!r} is not a JSON array of clause ids")
        out.append(tuple(value))
    return out


def link_columns(db: Database) -> LinkColumns:
    """The annotations of live records as columns (see `LinkColumns`)."""
    live = live_sql("a.example_id")
    rows = db.execute(
        f"SELECT a.example_id, a.annotator_key, a.clauses FROM annotations a WHERE {live} "
        "ORDER BY a.example_id, a.annotator_key"
    ).fetchall()
    names = dict(
        db.execute(
            f"SELECT a.annotator_key, min(a.annotator) FROM annotations a WHERE {live} GROUP BY a.annotator_key"
        ).fetchall()
    )
    example_ids, keys, texts = (list(map(itemgetter(i), rows)) for i in range(3))
    return LinkColumns(example_ids, keys, texts, names)


def encoded_links(db: Database) -> agreement.Encoded:
    """Every annotation of a live record encoded for agreement, annotators by display name."""
    with gc_paused():
        columns = link_columns(db)
        names = columns.display_names
        return agreement.encode_columns(
            columns.example_ids,
            list(map(names.__getitem__, columns.annotator_keys)),
            columns.clause_texts,
            decode_clause_sets,
        )


def decision(db: Database, example_id: str) -> Decision | None:
    row = db.execute(
        "SELECT example_id, clauses, how, decided_by, decided_at FROM annotation_decisions WHERE example_id = ?",
        [example_id],
    ).fetchone()
    return Decision(row[0], tuple(json.loads(row[1])), row[2], row[3], row[4]) if row else None


def decided_ids(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT example_id FROM annotation_decisions")}


def put_decision(db: Database, d: Decision) -> None:
    db.execute(
        "INSERT OR REPLACE INTO annotation_decisions (example_id, clauses, how, decided_by, decided_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [d.example_id, json.dumps(list(d.clauses), ensure_ascii=False), d.how, d.decided_by, d.decided_at],
    )


def audit_actors(db: Database) -> list[str]:
    """Every name that acted in this workspace (the audit log's actors), as typed."""
    return [r[0] for r in db.execute("SELECT DISTINCT actor FROM audit ORDER BY actor")]
