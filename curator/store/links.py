"""Example-clause links across constitution versions: stale, orphaned, renamed.

A link keeps the clause hash from when it was made (or last confirmed). Its state is
derived against the current constitution: `orphaned` when the clause is gone, `stale`
when the clause's text changed since, else `ok`. Nothing is ever deleted here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlite_utils import Database

from curator.errors import NotFoundError, RecordError, UsageError
from curator.models import Example, utc_now
from curator.store import examples
from curator.store.audit import record_event
from curator.store.clauses import current_clause_hashes
from curator.store.examples import live_sql


def follow_renames(
    db: Database,
    renames: Iterable[tuple[str, str]],
    *,
    actor: str,
    retired: Mapping[str, str] | None = None,
) -> list[str]:
    """Move links (and the records' `clauses` lists) from old ids to new ids; returns example ids touched.

    The whole mapping is applied at once, so chains (`a.1 -> a.2` with `a.2 -> a.3`) and swaps
    (`a.1 <-> a.2`) move every link exactly one step. `retired` maps the id of a removed clause
    whose id now names a different clause to an id no clause has (`a.1@v3`): its links become
    orphaned instead of silently pointing at the clause that took the id over.

    Each touched record gets a new version and an audit event, as any other change would. Its
    status is kept: the record's own content did not change and the clause it teaches is the same
    clause under a new id. Were the clause's text changed too, the link turns `stale` (see
    `recompute_states`), which is what tells a lead to look again.
    """
    touched: list[str] = []
    renamed = dict(renames)
    retired = dict(retired or {})
    mapping = {**renamed, **retired}
    if not mapping:
        return touched
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _moved_clauses (id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM _moved_clauses")
    db.conn.executemany("INSERT INTO _moved_clauses (id) VALUES (?)", [(k,) for k in mapping])
    rows = db.execute(
        "SELECT DISTINCT e.id, e.version, e.record FROM examples e JOIN example_clauses l ON l.example_id = e.id "
        "WHERE l.clause_id IN (SELECT id FROM _moved_clauses) ORDER BY e.id"
    ).fetchall()
    db.execute("DROP TABLE _moved_clauses")
    for example_id, version, before in rows:
        ex = Example.model_validate_json(before)
        clauses = list(dict.fromkeys(mapping.get(c, c) for c in ex.clauses))
        moved = ex.model_copy(update={"clauses": clauses})
        notes = []
        followed = [f"{o} -> {renamed[o]}" for o in ex.clauses if o in renamed]
        if followed:
            notes.append("clause renamed: " + ", ".join(followed))
        kept = [f"{o} kept as {retired[o]}" for o in ex.clauses if o in retired]
        if kept:
            notes.append("clause removed and its id given to another clause: " + ", ".join(kept))
        after = moved.model_copy(update={"version": version + 1, "updated_at": utc_now()})
        record_json = after.canonical_json()
        db.execute(
            "UPDATE examples SET record = ?, status = ?, version = ?, updated_at = ? WHERE id = ?",
            [record_json, after.status, after.version, after.updated_at, example_id],
        )
        _move_link_rows(db, example_id, mapping)
        record_event(
            db,
            actor=actor,
            action="follow-rename",
            entity="example",
            entity_id=example_id,
            before=before,
            after=record_json,
            note="; ".join(notes),
            after_is_record=True,
        )
        touched.append(example_id)
    return touched


def _move_link_rows(db: Database, example_id: str, mapping: Mapping[str, str]) -> None:
    """Rewrite one example's link rows through `mapping` in one step (all rows out, all back in).

    Two links landing on one id become one: the link that did not move (it already pointed at that
    id) wins, else the first in clause-id order.
    """
    rows = db.execute(
        "SELECT clause_id, clause_hash, state, linked_at FROM example_clauses WHERE example_id = ? ORDER BY clause_id",
        [example_id],
    ).fetchall()
    out: dict[str, tuple[str, str, str, bool]] = {}
    for clause_id, clause_hash, state, linked_at in rows:
        target = mapping.get(clause_id, clause_id)
        stayed = target == clause_id
        if target not in out or (stayed and not out[target][3]):
            out[target] = (clause_hash, state, linked_at, stayed)
    db.execute("DELETE FROM example_clauses WHERE example_id = ?", [example_id])
    db.conn.executemany(
        "INSERT INTO example_clauses (example_id, clause_id, clause_hash, state, linked_at) VALUES (?, ?, ?, ?, ?)",
        [(example_id, cid, h, st, at) for cid, (h, st, at, _) in out.items()],
    )


def recompute_states(db: Database) -> dict[str, int]:
    """Set every link's state against the current constitution; returns counts per state."""
    hashes = current_clause_hashes(db)
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _current_clauses (id TEXT PRIMARY KEY, hash TEXT)")
    db.execute("DELETE FROM _current_clauses")
    db.conn.executemany("INSERT INTO _current_clauses (id, hash) VALUES (?, ?)", list(hashes.items()))
    db.execute(
        """
        UPDATE example_clauses SET state = CASE
            WHEN NOT EXISTS (SELECT 1 FROM _current_clauses c WHERE c.id = example_clauses.clause_id) THEN 'orphaned'
            WHEN (SELECT c.hash FROM _current_clauses c WHERE c.id = example_clauses.clause_id) != clause_hash
                THEN 'stale'
            ELSE 'ok' END
        """
    )
    db.execute("DROP TABLE _current_clauses")
    counts = dict(db.execute("SELECT state, count(*) FROM example_clauses GROUP BY state").fetchall())
    return {state: int(counts.get(state, 0)) for state in ("ok", "stale", "orphaned")}


def link_state_counts(db: Database) -> dict[str, int]:
    """Link counts per stored state (ok, stale, orphaned), without recomputing them."""
    counts = dict(db.execute("SELECT state, count(*) FROM example_clauses GROUP BY state").fetchall())
    return {state: int(counts.get(state, 0)) for state in ("ok", "stale", "orphaned")}


def problem_links(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Stale and orphaned links of live records with what a lead needs to act on them, by example then clause."""
    out: dict[str, list[dict[str, Any]]] = {"stale": [], "orphaned": []}
    hashes = current_clause_hashes(db)
    for example_id, clause_id, linked_hash, state, title, status in db.execute(
        "SELECT l.example_id, l.clause_id, l.clause_hash, l.state, e.title, e.status FROM example_clauses l "
        f"JOIN examples e ON e.id = l.example_id WHERE l.state IN ('stale', 'orphaned') AND {live_sql()} "
        "ORDER BY l.example_id, l.clause_id"
    ):
        item: dict[str, Any] = {
            "example_id": example_id,
            "clause_id": clause_id,
            "example_title": title,
            "status": status,
            "linked_hash": linked_hash,
        }
        if state == "stale":
            item["current_hash"] = hashes.get(clause_id)
        out[state].append(item)
    return out


def confirm_links(db: Database, example_id: str, *, actor: str, clause_ids: Iterable[str] | None = None) -> list[str]:
    """Re-review: the example still teaches these (stale) clauses as they now read. Returns clause ids cleared."""
    hashes = current_clause_hashes(db)
    wanted = set(clause_ids) if clause_ids is not None else None
    rows = db.execute("SELECT clause_id, state FROM example_clauses WHERE example_id = ?", [example_id]).fetchall()
    if not rows and not db.execute("SELECT 1 FROM examples WHERE id = ?", [example_id]).fetchone():
        raise NotFoundError(f"no example with id {example_id!r}")
    linked = {c for c, _ in rows}
    if wanted is not None:
        missing = sorted(wanted - linked)
        if missing:
            raise RecordError(f"example {example_id} is not linked to clause {missing[0]!r}", field="clauses")
    cleared = []
    now = utc_now()
    with db.atomic():
        for clause_id, state in rows:
            if state != "stale" or (wanted is not None and clause_id not in wanted):
                continue
            db.execute(
                "UPDATE example_clauses SET clause_hash = ?, state = 'ok', linked_at = ? "
                "WHERE example_id = ? AND clause_id = ?",
                [hashes[clause_id], now, example_id, clause_id],
            )
            cleared.append(clause_id)
        if cleared:
            record_event(
                db,
                actor=actor,
                action="confirm-links",
                entity="example",
                entity_id=example_id,
                after=json.dumps({"clauses": cleared}),
            )
    return cleared


def link_states(db: Database, example_id: str) -> dict[str, str]:
    """clause id -> link state for one example."""
    return dict(db.execute("SELECT clause_id, state FROM example_clauses WHERE example_id = ?", [example_id]))


@dataclass(frozen=True)
class LinkConfirmation:
    """What confirming an example's stale links did, and what still needs a decision."""

    example_id: str
    confirmed: tuple[str, ...]
    """Clause ids whose stale links now match the current text, in link order."""
    orphaned: tuple[str, ...]
    """Clause ids the current constitution no longer has (move or drop each), sorted."""


def confirm_stale_links(db: Database, example_id: str, *, actor: str, clause_id: str | None = None) -> LinkConfirmation:
    """Confirm the example's stale links (or only the one to `clause_id`), then list its orphaned ones."""
    confirmed = confirm_links(db, example_id, actor=actor, clause_ids=[clause_id] if clause_id else None)
    orphaned = sorted(c for c, state in link_states(db, example_id).items() if state == "orphaned")
    return LinkConfirmation(example_id, tuple(confirmed), tuple(orphaned))


def move_link(db: Database, example_id: str, clause_id: str, *, to: str | None, actor: str) -> Example:
    """Move the example's link from `clause_id` to `to`, in the same place of its clause list; drop it when `to`
    is None (or when the example already links `to`). A new version of the record, audited; returns it.

    An example that is not linked to `clause_id` is a `UsageError`: the caller named the wrong link.
    """
    ex = examples.get(db, example_id)
    if clause_id not in ex.clauses:
        raise UsageError(f"example {ex.id} is not linked to clause {clause_id!r}")
    clauses = [c for c in ex.clauses if c != clause_id]
    if to and to not in clauses:
        clauses.insert(ex.clauses.index(clause_id), to)
    return examples.update(db, ex.model_copy(update={"clauses": clauses}), expected_version=ex.version, actor=actor)


def orphaned_link_count(db: Database) -> int:
    """How many links of live records point at clauses no longer in the constitution (each needs a decision)."""
    return int(
        db.execute(
            f"SELECT count(*) FROM example_clauses WHERE state = 'orphaned' AND {live_sql('example_id')}"
        ).fetchone()[0]
    )


class LinkedExample(NamedTuple):
    """An example linked to a clause or one of its sub-clauses, as a clause's example list shows it."""

    id: str
    kind: str
    status: str
    state: str
    """The first by name of its link states into the subtree (ok < orphaned < stale): `ok` when any link is ok."""
    title: str


_SUBTREE_SQL = """
    WITH RECURSIVE sub(id) AS (
        SELECT ? UNION
        SELECT c.id FROM clauses c JOIN constitution_versions v ON v.id = c.version_id AND v.is_current = 1
        JOIN sub ON c.parent = sub.id
    )"""

DENSE_LINKS = 10_000
"""A subtree with at least this many links is listed by walking records newest first (it meets
`limit` rows early); a sparser one by gathering its links and sorting them."""


def linked_examples(db: Database, clause_id: str, *, limit: int = 500) -> list[LinkedExample]:
    """Live examples linked to `clause_id` or to any clause below it, each once, newest update first.

    Sub-clauses are those of the current constitution version only: a clause that exists only in an
    older version is not followed (its links stay visible under its own id, as orphaned). At most
    `limit` rows, so a top-level section with thousands of examples still lists at once: a section
    linked to most of a million records is read from the newest end of the update index, never
    grouped and sorted whole (that took 20 s).
    """
    dense = db.execute(
        f"{_SUBTREE_SQL} SELECT count(*) FROM (SELECT 1 FROM example_clauses WHERE clause_id IN sub LIMIT ?)",
        [clause_id, DENSE_LINKS],
    ).fetchone()[0]
    if dense >= DENSE_LINKS:
        sql = f"""{_SUBTREE_SQL}
            SELECT e.id, e.kind, e.status,
                (SELECT min(l.state) FROM example_clauses l WHERE l.example_id = e.id AND l.clause_id IN sub),
                e.title
            FROM examples e
            WHERE EXISTS (SELECT 1 FROM example_clauses l WHERE l.example_id = e.id AND l.clause_id IN sub)
            AND {live_sql()} ORDER BY e.updated_at DESC, e.id DESC LIMIT ?"""
    else:
        sql = f"""{_SUBTREE_SQL}
            SELECT e.id, e.kind, e.status, min(l.state), e.title FROM example_clauses l
            JOIN examples e ON e.id = l.example_id WHERE l.clause_id IN sub AND {live_sql()}
            GROUP BY e.id ORDER BY e.updated_at DESC, e.id DESC LIMIT ?"""
    return [LinkedExample(r[0], r[1], r[2], r[3], r[4]) for r in db.execute(sql, [clause_id, limit])]
