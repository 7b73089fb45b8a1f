"""Secondary indexes built once at the end of a bulk write instead of row by row.

A write that adds as many records as a workspace holds (a first import, the restore of a dump)
keeps eight secondary indexes up to date as it goes: each row lands at a random place in each of
them, and the pages they split stay an eighth empty. Built once at the end from the sorted rows,
the same indexes are full and take ~4 MB less per 100k records. The b-trees a bulk write must keep
up to date as it goes are rebuilt once at its end (`REPACKED`), full as well.

The indexes are dropped and created again inside the writer's transaction, from the exact text the
database held. SQLite's DDL is transactional: a writer that fails rolls the drop back with the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlite_utils import Database

from curator.errors import CuratorError

BULK_INDEXES = (
    "idx_examples_kind_status",
    "idx_examples_status",
    "idx_examples_updated",
    "idx_examples_author",
    "idx_examples_coverage",
    "idx_example_clauses_clause",
    "idx_example_tags_tag",
    "idx_audit_entity",
)
"""Set aside by a bulk write: none is read while records are inserted. (The exact-text hash index
stays: an import looks up each record's hash in it.)"""

REPACKED = (
    "example_clauses",
    "example_tags",
    "sqlite_autoindex_examples_1",
    "sqlite_autoindex_signatures_1",
    "idx_examples_norm_hash",
)
"""Written in key order by a bulk write but kept up to date as it goes (links and tags live in their
primary-key b-tree; the others are read by the write): SQLite splits such pages leaving an eighth
empty, so they are rebuilt once at the end (`REINDEX`; of a table: its primary key, while its secondary
indexes are set aside), ~5 MB less per 100k records. Before the set-aside indexes are created
again, which reuse the pages this frees."""

WORTH_IT = 1.0
"""Set the indexes aside when a write adds at least this many records per record already stored."""


def worth_setting_aside(db: Database, adding: int) -> bool:
    """Whether adding about `adding` records is big enough, against what is stored, to rebuild."""
    stored = db.execute("SELECT count(*) FROM examples").fetchone()[0]
    return adding >= WORTH_IT * stored and adding > 0


@contextmanager
def indexes_set_aside(db: Database) -> Iterator[None]:
    """Inside the caller's transaction: drop the bulk indexes, and create them again when the block
    ends without an error (on an error the caller's rollback restores them)."""
    if not db.conn.in_transaction:
        raise CuratorError("indexes can only be set aside inside a write transaction")
    held = drop_schema_objects(db, "index", BULK_INDEXES)
    yield
    marks = ",".join("?" * len(REPACKED))
    for (name,) in db.execute(f"SELECT name FROM sqlite_master WHERE name IN ({marks}) ORDER BY name", REPACKED):
        db.execute(f'REINDEX "{name}"')
    for sql in held:
        db.execute(sql)


def drop_schema_objects(db: Database, kind: str, names: Sequence[str]) -> list[str]:
    """Drop those of the named triggers or indexes (`kind`) the database holds; returns the SQL
    that creates each again, exactly as the database held it (in name order)."""
    if kind not in ("index", "trigger"):
        raise CuratorError(f"cannot set aside a {kind}")
    marks = ",".join("?" * len(names))
    held = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = ? AND name IN ({marks}) ORDER BY name", [kind, *names]
    ).fetchall()
    for name, _ in held:
        db.execute(f'DROP {kind.upper()} "{name}"')
    return [sql for _, sql in held]
