"""Coverage counts kept on write, so a coverage report reads a few thousand rows, not every link.

`coverage_counts` holds, per (clause, kind, status), over live examples:

- `direct`: links to the clause itself (not orphaned);
- `total`: distinct examples linked to the clause or one of its descendants in the current
  constitution (an example linking two children of a section counts once for the section);
- `tokens`: the estimated tokens of those examples; `paired`: those of them that are approved and
  hold a rejected alternative (preference pairs);
- `stale`: stale links to the clause itself;
- `orphaned`: orphaned links, keyed by the link's own clause id (the report attributes them to the
  nearest surviving ancestor when it reads them).

`coverage_closure` is (clause, ancestor) for the current constitution (a clause is its own
ancestor). `coverage_state` says which constitution version the counts are for, and whether
upkeep is paused.

Upkeep is by SQLite triggers, so every write path keeps the counts right in its own transaction:
a change to an example's links, kind, status, tokens or record, or to its soft deletion, takes the
example's whole contribution out as it was before the change and puts it back as it is after (a
handful of rows). A link insert or delete does both in one trigger (the example with and without
that link): paused, a trigger still costs the set-up of its program per row (~7 µs for the
link-insert one), so bulk writers set that one aside in their transaction (`SET_ASIDE_TRIGGERS`).
Bulk writers pause the triggers instead: `write_rows` adds the contributions of its new rows,
aggregated in Python, in one statement per chunk; a new constitution version or a load of a dump pauses upkeep
(`pause`) and the caller then rebuilds everything (`rebuild`), once per version.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlite_utils import Database

from curator.store.bulk import drop_schema_objects

HAS_ALTERNATIVES_SQL = (
    "instr(e.record, '\"alternatives\"') > 0 AND EXISTS (SELECT 1 FROM json_each(e.record, '$.messages') m "
    "WHERE json_array_length(m.value, '$.alternatives') > 0)"
)
"""An example with at least one rejected alternative on a turn (the canonical record is the truth; the
text test first spares parsing the records that have none, where the canonical JSON has no such key)."""

PAIRED_SQL = f"(CASE WHEN e.status = 'approved' AND {HAS_ALTERNATIVES_SQL} THEN 1 ELSE 0 END)"
"""1 for an approved example with rejected alternatives (the record is read only for approved ones)."""

LIVE_SQL = "e.id NOT IN (SELECT example_id FROM deleted_examples)"

COLUMNS = ("direct", "total", "tokens", "stale", "orphaned", "paired")

_UPSERT = "ON CONFLICT (clause_id, kind, status) DO UPDATE SET " + ", ".join(
    f"{c} = {c} + excluded.{c}" for c in COLUMNS
)
_INSERT = f"INSERT INTO coverage_counts (clause_id, kind, status, {', '.join(COLUMNS)}) "

_NOT_IN_CLOSURE = "NOT EXISTS (SELECT 1 FROM coverage_closure k WHERE k.clause_id = l.clause_id)"


def _linked_sql(sign: str, where: str) -> str:
    """Counts of the examples matching `where`, over the links matching it too (one row per example and
    ancestor, so each example counts once)."""
    return (
        f"{_INSERT}SELECT cc.ancestor, e.kind, e.status, {sign}sum(cc.ancestor = l.clause_id), {sign}1, "
        f"{sign}e.tokens, {sign}sum(cc.ancestor = l.clause_id AND l.state = 'stale'), 0, {sign}{PAIRED_SQL} "
        "FROM examples e JOIN example_clauses l ON l.example_id = e.id "
        "JOIN coverage_closure cc ON cc.clause_id = l.clause_id "
        f"WHERE ({where}) AND l.state != 'orphaned' AND {LIVE_SQL} GROUP BY e.id, cc.ancestor {_UPSERT}"
    )


def _orphaned_sql(sign: str, where: str) -> str:
    """Orphaned links of the examples matching `where` (or links to a clause the constitution lacks)."""
    return (
        f"{_INSERT}SELECT l.clause_id, e.kind, e.status, 0, 0, 0, 0, {sign}count(*), 0 "
        "FROM examples e JOIN example_clauses l ON l.example_id = e.id "
        f"WHERE ({where}) AND (l.state = 'orphaned' OR {_NOT_IN_CLOSURE}) AND {LIVE_SQL} "
        f"GROUP BY e.id, l.clause_id {_UPSERT}"
    )


def _change(sign: str, where: str, *, without: str | None = None) -> str:
    """Add (`sign` "") or take out ("-") the counts of the examples matching `where`; `without` names a
    link's clause to leave out (the example as it is without that link)."""
    if without is not None:
        where = f"{where} AND l.clause_id IS NOT {without}"
    return f"{_linked_sql(sign, where)};\n{_orphaned_sql(sign, where)};"


class NewExample(NamedTuple):
    """What `add_new` needs of a new example row."""

    id: str
    kind: str
    status: str
    tokens: int
    record: str


_RUNNING = "(SELECT paused FROM coverage_state) = 0"

SCHEMA = f"""
CREATE TABLE coverage_closure (
    clause_id TEXT NOT NULL,
    ancestor TEXT NOT NULL,
    PRIMARY KEY (clause_id, ancestor)
) WITHOUT ROWID;
CREATE TABLE coverage_counts (
    clause_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    direct INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    stale INTEGER NOT NULL DEFAULT 0,
    orphaned INTEGER NOT NULL DEFAULT 0,
    paired INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (clause_id, kind, status)
) WITHOUT ROWID;
CREATE TABLE coverage_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    paused INTEGER NOT NULL DEFAULT 0,
    version_id INTEGER
);
INSERT INTO coverage_state (id, paused, version_id) VALUES (1, 1, NULL);

CREATE TRIGGER coverage_link_ai AFTER INSERT ON example_clauses WHEN {_RUNNING} BEGIN
    {_change("-", "e.id = new.example_id", without="new.clause_id")}
    {_change("", "e.id = new.example_id")}
END;
CREATE TRIGGER coverage_link_bd BEFORE DELETE ON example_clauses WHEN {_RUNNING} BEGIN
    {_change("-", "e.id = old.example_id")}
    {_change("", "e.id = old.example_id", without="old.clause_id")}
END;
CREATE TRIGGER coverage_link_bu BEFORE UPDATE OF example_id, clause_id, state ON example_clauses
WHEN {_RUNNING} BEGIN
    {_change("-", "e.id IN (old.example_id, new.example_id)")}
END;
CREATE TRIGGER coverage_link_au AFTER UPDATE OF example_id, clause_id, state ON example_clauses
WHEN {_RUNNING} BEGIN
    {_change("", "e.id IN (old.example_id, new.example_id)")}
END;
CREATE TRIGGER coverage_example_bu BEFORE UPDATE OF kind, status, tokens, record ON examples
WHEN {_RUNNING} AND (old.kind IS NOT new.kind OR old.status IS NOT new.status OR old.tokens IS NOT new.tokens
    OR (old.record IS NOT new.record AND 'approved' IN (old.status, new.status))) BEGIN
    {_change("-", "e.id = old.id")}
END;
CREATE TRIGGER coverage_example_au AFTER UPDATE OF kind, status, tokens, record ON examples
WHEN {_RUNNING} AND (old.kind IS NOT new.kind OR old.status IS NOT new.status OR old.tokens IS NOT new.tokens
    OR (old.record IS NOT new.record AND 'approved' IN (old.status, new.status))) BEGIN
    {_change("", "e.id = new.id")}
END;
CREATE TRIGGER coverage_example_bd BEFORE DELETE ON examples WHEN {_RUNNING} BEGIN
    {_change("-", "e.id = old.id")}
END;
CREATE TRIGGER coverage_deleted_bi BEFORE INSERT ON deleted_examples WHEN {_RUNNING} BEGIN
    {_change("-", "e.id = new.example_id")}
END;
CREATE TRIGGER coverage_deleted_ad AFTER DELETE ON deleted_examples WHEN {_RUNNING} BEGIN
    {_change("", "e.id = old.example_id")}
END;
"""
"""Tables and triggers (the migration `m013_coverage_counts` creates them, then calls `rebuild`).

A cascade from a purged example sees the example's row gone already, so its triggers add and take
nothing; the example's own BEFORE DELETE trigger took its counts out if it was live."""


def paused(db: Database) -> bool:
    """True while a bulk writer has the triggers paused (inside its transaction)."""
    return bool(db.execute("SELECT paused FROM coverage_state").fetchone()[0])


def pause(db: Database) -> None:
    """Stop upkeep and mark the counts as not current, inside the caller's transaction.

    For writers that change much at once (a new constitution version, a load): they call `rebuild`
    before they commit. Were one to commit without it, readers see counts of no version and count
    from scratch (`is_valid` is false) until the next rebuild.
    """
    db.execute("UPDATE coverage_state SET paused = 1, version_id = NULL")


SET_ASIDE_TRIGGERS = ("coverage_link_ai",)
"""Triggers a bulk insert of new rows takes out of its transaction and puts back: even paused, SQLite
sets up a trigger's whole program for every row, and the link-insert trigger's (four statements)
costs ~7 µs a link, three times the insert itself."""


@dataclass(frozen=True)
class NewRowsPause:
    """What `pause_for_new_rows` set aside; `add_new_rows` puts it back."""

    triggers: tuple[str, ...]
    """The set-aside triggers' own `CREATE TRIGGER` text, as the database held it."""


def pause_for_new_rows(db: Database) -> NewRowsPause | None:
    """Pause the per-row triggers while new examples and their links are inserted (inside the writer's
    transaction); a pause when the writer must then call `add_new_rows`, which resumes them.

    None when upkeep was paused already by an outer writer that will rebuild, or in a database not
    yet migrated to `m013` (an older migration step writing rows), which counts every row when it
    gets there. Inside a transaction the link-insert trigger is also dropped (`SET_ASIDE_TRIGGERS`)
    and created again, from its stored text, by `add_new_rows`: SQLite's DDL is transactional, so
    a writer that fails in between rolls both back. Should the writer fail in between, its rollback
    undoes the pause; were it to commit anyway, `is_valid` says no (and `triggers_missing` names
    what is gone) and reports count from scratch until a rebuild.
    """
    try:
        if paused(db):
            return None
    except sqlite3.OperationalError as exc:
        if "coverage_state" not in str(exc):
            raise
        return None
    db.execute("UPDATE coverage_state SET paused = 1")
    if not db.conn.in_transaction:  # each statement would commit alone: never drop a trigger then
        return NewRowsPause(())
    return NewRowsPause(tuple(drop_schema_objects(db, "trigger", SET_ASIDE_TRIGGERS)))


def add_new_rows(
    db: Database, pause: NewRowsPause, examples: Sequence[NewExample], links: Sequence[tuple[str, str, str]]
) -> None:
    """Add the counts of the new examples and their links as (example id, clause id, state), then put
    the set-aside triggers back and resume upkeep (see `pause_for_new_rows`)."""
    add_new(db, examples, links)
    for sql in pause.triggers:
        db.execute(sql)
    db.execute("UPDATE coverage_state SET paused = 0")


@functools.cache
def _trigger_statements() -> dict[str, str]:
    """Each coverage trigger's `CREATE TRIGGER` statement in `SCHEMA`, by name."""
    from curator.store.db import sql_statements  # the store's splitter (db imports this module)

    out: dict[str, str] = {}
    for statement in sql_statements(SCHEMA):
        match = re.match(r"CREATE TRIGGER (\w+)", statement)
        if match:
            out[match.group(1)] = statement
    return out


def triggers_missing(db: Database) -> list[str]:
    """The coverage triggers this workspace should have and does not (a bulk writer that set one
    aside and committed without putting it back would leave every later count wrong)."""
    names = {
        r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'coverage_%'")
    }
    return sorted(set(_trigger_statements()) - names)


def restore_triggers(db: Database) -> list[str]:
    """Create the missing coverage triggers again (see `triggers_missing`); their names."""
    missing = triggers_missing(db)
    statements = _trigger_statements()
    for name in missing:
        db.execute(statements[name])
    return missing


class _Tally:
    """Counts of examples not counted yet, aggregated in Python, written as one row per (clause, kind, status)."""

    def __init__(self, db: Database) -> None:
        self.ancestors: dict[str, list[str]] = {}
        for clause_id, ancestor in db.execute("SELECT clause_id, ancestor FROM coverage_closure"):
            self.ancestors.setdefault(clause_id, []).append(ancestor)
        self.counts: dict[tuple[str, str, str], list[int]] = {}

    def _cell(self, clause_id: str, kind: str, status: str) -> list[int]:
        key = (clause_id, kind, status)
        found = self.counts.get(key)
        if found is None:
            found = self.counts[key] = [0] * len(COLUMNS)
        return found

    def add(self, ex: NewExample, links: Iterable[tuple[str, str]], *, paired: bool) -> None:
        """One live example and its links as (clause id, state)."""
        reached: set[str] = set()  # ancestors reached by its links: the example counts once for each
        for clause_id, state in links:
            chain = self.ancestors.get(clause_id)
            if chain is None or state == "orphaned":
                self._cell(clause_id, ex.kind, ex.status)[4] += 1
                continue
            own = self._cell(clause_id, ex.kind, ex.status)
            own[0] += 1
            if state == "stale":
                own[3] += 1
            reached.update(chain)
        pair = 1 if paired else 0
        for ancestor in reached:
            cell = self._cell(ancestor, ex.kind, ex.status)
            cell[1] += 1
            cell[2] += ex.tokens
            cell[5] += pair

    def write(self, db: Database) -> None:
        db.conn.executemany(
            f"{_INSERT}VALUES (?, ?, ?, {', '.join('?' * len(COLUMNS))}) {_UPSERT}",
            [(*key, *values) for key, values in self.counts.items()],
        )
        self.counts.clear()


def add_new(db: Database, examples: Sequence[NewExample], links: Sequence[tuple[str, str, str]]) -> None:
    """Add the counts of new examples (none was counted yet), aggregated in Python from the values the
    writer holds, then written as one row per (clause, kind, status): no new row is read back.

    `links` are (example id, clause id, state). Rejected alternatives are looked up (in SQL, as the
    triggers do) only for approved records whose JSON mentions them.
    """
    if not examples:
        return
    maybe_paired = [e.id for e in examples if e.status == "approved" and '"alternatives"' in e.record]
    paired: set[str] = set()
    for start in range(0, len(maybe_paired), 500):
        chunk = maybe_paired[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT e.id FROM examples e WHERE e.id IN ({marks}) AND {HAS_ALTERNATIVES_SQL}"
        paired.update(r[0] for r in db.execute(sql, chunk))
    by_example: dict[str, list[tuple[str, str]]] = {}
    for example_id, clause_id, state in links:
        by_example.setdefault(example_id, []).append((clause_id, state))
    tally = _Tally(db)
    for ex in examples:
        tally.add(ex, by_example.get(ex.id, ()), paired=ex.id in paired)
    tally.write(db)


def closure(clauses: Sequence[tuple[str, str | None, int]]) -> list[tuple[str, str]]:
    """(clause, ancestor) pairs of a constitution given as (id, parent, depth): each clause with itself and
    every parent above it (at most as many steps as the deepest clause's depth)."""
    parent = {c[0]: c[1] for c in clauses}
    depth = max((c[2] for c in clauses), default=1)
    pairs: list[tuple[str, str]] = []
    for clause_id, _, _ in clauses:
        cur: str | None = clause_id
        steps = 0
        while cur is not None and cur in parent and steps < depth:
            pairs.append((clause_id, cur))
            cur = parent[cur]
            steps += 1
    return pairs


def rebuild(db: Database) -> None:
    """Recount everything for the current constitution, from the links and examples (inside the
    caller's transaction); then upkeep runs again. Used by the migration, a new constitution
    version, a load and `curator coverage --recount`.

    One pass over the live examples through their covering index, each with its links (no record
    is read), aggregated in Python; then the approved records that mention alternatives are read
    for the preference pairs.
    """
    version = db.execute("SELECT coalesce(max(id), 0) FROM constitution_versions WHERE is_current = 1").fetchone()[0]
    clauses = db.execute(
        "SELECT c.id, c.parent, c.depth FROM clauses c JOIN constitution_versions v ON v.id = c.version_id "
        "WHERE v.is_current = 1 ORDER BY c.position"
    ).fetchall()
    db.execute("UPDATE coverage_state SET paused = 1")
    restore_triggers(db)  # counts kept from here on need every trigger
    db.execute("DELETE FROM coverage_closure")
    db.execute("DELETE FROM coverage_counts")
    db.conn.executemany("INSERT INTO coverage_closure (clause_id, ancestor) VALUES (?, ?)", closure(clauses))
    paired = {
        r[0] for r in db.execute(f"SELECT e.id FROM examples e WHERE e.status = 'approved' AND {HAS_ALTERNATIVES_SQL}")
    }
    tally = _Tally(db)
    current: NewExample | None = None
    links: list[tuple[str, str]] = []
    for example_id, kind, status, tokens, clause_id, state in db.execute(
        "SELECT e.id, e.kind, e.status, e.tokens, l.clause_id, l.state FROM examples e "
        "INDEXED BY idx_examples_coverage CROSS JOIN example_clauses l ON l.example_id = e.id "
        f"WHERE {LIVE_SQL} ORDER BY e.id"
    ):
        if current is None or current.id != example_id:
            if current is not None:
                tally.add(current, links, paired=current.id in paired)
            current, links = NewExample(example_id, kind, status, tokens, ""), []
        links.append((clause_id, state))
    if current is not None:
        tally.add(current, links, paired=current.id in paired)
    tally.write(db)
    db.execute("UPDATE coverage_state SET paused = 0, version_id = ?", [int(version)])


def is_valid(db: Database) -> bool:
    """The kept counts are those of the current constitution version (and upkeep is running, every
    trigger in place)."""
    row = db.execute(
        "SELECT s.paused, s.version_id, (SELECT coalesce(max(id), 0) FROM constitution_versions WHERE is_current = 1) "
        "FROM coverage_state s"
    ).fetchone()
    current = row is not None and row[0] == 0 and row[1] is not None and row[1] == row[2]
    return current and not triggers_missing(db)


def read(db: Database) -> list[tuple[Any, ...]]:
    """Every kept row: (clause id, kind, status, direct, total, tokens, stale, orphaned, paired)."""
    return db.execute(f"SELECT clause_id, kind, status, {', '.join(COLUMNS)} FROM coverage_counts").fetchall()
