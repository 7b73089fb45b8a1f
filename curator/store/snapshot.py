"""Whole-workspace rows for dump/load: every table that holds data a person made.

Derived tables (FTS, tag index) are not dumped; they are rebuilt on load. Later
migrations that add tables of their own register them in `DUMPED_TABLES`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from curator.models import Example
from curator.store.audit import EVENT_COLUMNS_SQL
from curator.store.examples import PreparedRecord, prepare_many, write_rows, write_signatures


@dataclass(frozen=True)
class DumpedTable:
    """A table written to `<file>.jsonl`, rows ordered by `order_by`."""

    table: str
    file: str
    order_by: str
    json_columns: tuple[str, ...] = ()
    select_from: str | None = None
    """Columns and FROM clause when not every column of `table` is dumped as stored (the audit
    log resolves its after-image references and leaves its internal flag out)."""


DUMPED_TABLES: list[DumpedTable] = [
    DumpedTable("clauses", "constitution/clauses", "version_id, position", ("meta",)),
    DumpedTable("example_clauses", "links", "example_id, clause_id"),
    DumpedTable("reviews", "reviews", "id"),
    DumpedTable("audit", "audit", "a.id", ("before", "after"), select_from=f"{EVENT_COLUMNS_SQL} FROM audit a"),
    DumpedTable("dedup_ignored", "dedup_ignored", "a, b"),
    DumpedTable("evalsets", "evalsets/sets", "name"),
    DumpedTable("eval_items", "evalsets/items", "evalset, idx"),
    DumpedTable("deleted_examples", "deleted", "example_id"),
    DumpedTable("eval_suites", "evals/suites", "name"),
    DumpedTable("eval_suite_items", "evals/suite_items", "suite, position", ("prompt", "clauses")),
    DumpedTable("eval_runs", "evals/runs", "id", ("params", "requests")),
    DumpedTable("eval_responses", "evals/responses", "run, item, sample", ("content",)),
    DumpedTable("eval_gradings", "evals/gradings", "id", ("requests",)),
    DumpedTable("eval_verdicts", "evals/verdicts", "id"),
    DumpedTable("annotation_assignments", "annotations/assignments", "example_id, annotator_key"),
    DumpedTable("annotations", "annotations/annotations", "example_id, annotator_key", ("clauses", "clause_hashes")),
    DumpedTable("annotation_decisions", "annotations/decisions", "example_id", ("clauses",)),
]

VERSION_COLUMNS = ("id", "sha256", "filename", "format", "title", "imported_at", "actor", "is_current")


def table_rows(db: Database, spec: DumpedTable) -> Iterator[dict[str, Any]]:
    """A table's rows as JSON-ready dicts (JSON columns decoded so dumps stay readable)."""
    cursor = db.execute(f"SELECT {spec.select_from or f'* FROM [{spec.table}]'} ORDER BY {spec.order_by}")
    names = [d[0] for d in cursor.description]
    for row in cursor:
        item = dict(zip(names, row, strict=True))
        for col in spec.json_columns:
            if item.get(col) is not None:
                item[col] = json.loads(item[col])
        yield item


def dumped_table(table: str) -> DumpedTable:
    """The dumped table named `table`."""
    return next(spec for spec in DUMPED_TABLES if spec.table == table)


def encoded_row(spec: DumpedTable, item: dict[str, Any]) -> dict[str, Any]:
    """A dumped row as its table stores it: a copy with the JSON columns encoded compactly again."""
    out = dict(item)
    for col in spec.json_columns:
        if out.get(col) is not None:
            out[col] = json.dumps(out[col], ensure_ascii=False, separators=(",", ":"))
    return out


def insert_encoded_rows(db: Database, spec: DumpedTable, batch: Sequence[dict[str, Any]]) -> None:
    """Insert rows `encoded_row` made (a load encodes them in its worker processes)."""
    if batch:
        columns = list(batch[0])
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f"[{c}]" for c in columns)
        db.conn.executemany(
            f"INSERT INTO [{spec.table}] ({names}) VALUES ({marks})", [[r.get(c) for c in columns] for r in batch]
        )


def versions(db: Database) -> list[dict[str, Any]]:
    """Constitution versions (with their source text) in id order."""
    cols = ", ".join(VERSION_COLUMNS)
    cursor = db.execute(f"SELECT {cols}, source FROM constitution_versions ORDER BY id")
    return [dict(zip((*VERSION_COLUMNS, "source"), r, strict=True)) for r in cursor]


def insert_version(db: Database, version: dict[str, Any], source: str) -> None:
    """Restore one constitution version row as it was."""
    cols = [*VERSION_COLUMNS, "source"]
    db.execute(
        f"INSERT INTO constitution_versions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [*(version.get(c) for c in VERSION_COLUMNS), source],
    )


def restore_examples(db: Database, records: Iterable[Example]) -> None:
    """Insert records as they were (no audit event, no clause check: links come from the dump).

    This is the restore path: statuses come back exactly, `approved` included, because the dump
    holds the reviews and audit events that made them so.
    """
    restore_prepared(db, prepare_many(list(records)))


def restore_prepared(db: Database, prepared: Sequence[PreparedRecord]) -> None:
    """`restore_examples` of records prepared already (a load prepares them in worker processes)."""
    write_rows(db, prepared, [], allow_approved=True)
    write_signatures(db, [(p.id, p.signature, p.shingles, p.fingerprints) for p in prepared])
