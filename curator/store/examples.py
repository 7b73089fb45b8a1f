"""Examples in the store: create, read, update with optimistic concurrency, query, bulk insert,
soft delete, restore and purge.

The canonical JSON of each record is the truth (`record` column); the other
columns and the link/tag tables are indexes kept in step in the same transaction.

Review rules every write goes through (nothing above the store can skip them):

- **Becoming approved.** `update` refuses a change into `approved` unless the caller hands it an
  :class:`Approval` for that record, version and actor, which `review.decide` makes after the
  review rules passed; an approval cannot change content at the same time, and the record's
  author can never approve it (names compared as identities, `identity.same_user`). `create`,
  `insert_many` and `insert_prepared` refuse records that arrive `approved`, except an import
  that explicitly keeps the file's statuses (`keep_status=True`, audited with a note) and the
  restore of a dump (`snapshot.restore_examples`). A refusal is a `ReviewGuardError`.
- **Content.** What a reviewer approves is what a model is trained on (:func:`reviewed_content`):
  `kind`, `text`, `rationale`, `system`, `tools`, `messages` (every turn's content, blocks and
  rationale, whatever a turn holds), the set of linked `clauses`, and for a story or document the
  `title` (its training prompt is built from the title). Metadata does not count: `tags`,
  `group`, `author`, `source`, an advice or agentic title (a label for people), status, dates and
  version. A write that changes the content of an approved record stores it as `review` instead,
  in the same transaction, and its audit event carries a note saying why; metadata-only edits
  keep `approved`.
- **Soft delete.** A deleted record keeps its row (listed in `deleted_examples`) but is hidden
  from queries, counts, pages, the review queue, coverage, dedup, decontamination and exports
  (`live_sql`); it cannot be edited until it is restored. `purge` removes a deleted record for good.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlite_utils import Database

from curator.errors import ConflictError, CuratorError, NotFoundError, RecordError, ReviewGuardError, UsageError
from curator.identity import same_user
from curator.minhash import dedup_row, dedup_row_normalized, dedup_rows_normalized
from curator.models import Example, Status, parse_example, utc_now
from curator.store import coverage_counts
from curator.store.audit import INSERT_SQL as AUDIT_INSERT
from curator.store.audit import event_row, record_event
from curator.store.clauses import current_clause_hashes
from curator.textnorm import exact_hash, hash_normalized, normalize
from curator.token_estimate import estimate_tokens

_INSERT_EXAMPLE = (
    "INSERT INTO examples (rowid, id, kind, title, status, author, group_name, created_at, updated_at, version, "
    "norm_hash, record, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SEARCH = "INSERT INTO examples_fts (rowid, title, search_text) VALUES (?, ?, ?)"
_DELETE_SEARCH = "INSERT INTO examples_fts (examples_fts, rowid, title, search_text) VALUES ('delete', ?, ?, ?)"
_INSERT_LINK = (
    "INSERT INTO example_clauses (example_id, clause_id, clause_hash, state, linked_at) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_TAG = "INSERT INTO example_tags (example_id, tag) VALUES (?, ?)"
_INSERT_SIGNATURE = "INSERT OR REPLACE INTO signatures (example_id, sig, shingles, fingerprints) VALUES (?, ?, ?, ?)"
_INSERT_SIGNATURE_BEFORE_M010 = "INSERT OR REPLACE INTO signatures (example_id, sig, shingles) VALUES (?, ?, ?)"

CONTENT_FIELDS: tuple[str, ...] = ("kind", "text", "rationale", "system", "tools", "messages", "clauses")
"""Record fields a reviewer approves for every kind (see the module docstring)."""

TITLE_IS_CONTENT: tuple[str, ...] = ("story", "document")
"""Kinds whose title is content: the exported prompt is built from it ("Write a short story titled ...")."""


def reviewed_content(ex: Example) -> dict[str, Any]:
    """The part of a record that review approves; a change to it sends an approved record back to review."""
    data = ex.canonical()
    content = {name: data.get(name) for name in CONTENT_FIELDS}
    content["clauses"] = sorted(ex.clauses)  # the links are a set: their order is not what was reviewed
    if ex.kind in TITLE_IS_CONTENT:
        content["title"] = ex.title
    return content


def content_changes(before: Example, after: Example) -> list[str]:
    """Names of the content fields that differ between two states of a record, sorted."""
    a, b = reviewed_content(before), reviewed_content(after)
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def status_after_write(before: Example, after: Example) -> tuple[Status, str | None]:
    """The status a write stores, and the audit note explaining a forced change.

    Approved content that changed is no longer what a person approved: the record goes back
    to `review` whatever status the writer asked for (except a status that leaves approval anyway).
    """
    if before.status != "approved":
        return after.status, None
    changed = content_changes(before, after)
    if not changed:
        return after.status, None
    status: Status = "review" if after.status == "approved" else after.status
    return status, f"approved content changed ({', '.join(changed)}): status {before.status} -> {status}"


@dataclass(frozen=True, slots=True)
class Approval:
    """Permission for one write into `approved`: this record, at this version, by this reviewer.

    `review.decide` makes one after `review.approval_problems` found nothing; no other module does
    (a test checks). It is a plain value, so it guards against every path that would write
    `approved` by accident or by default (editor, importer, assist, relinks, scripts calling the
    store), not against code that deliberately forges one.
    """

    example_id: str
    version: int
    """The version the reviewer read and approved; the write must be based on it."""
    reviewer: str


def _check_approval(stored: Example, wanted: Example, approval: Approval | None, version: int, actor: str) -> None:
    """Refuse a change into `approved` that does not carry a matching approval, or changes content too."""
    where = f"example {stored.id}"
    if approval is None:
        raise ReviewGuardError(
            f"{where}: only review can approve a record (it is {stored.status}); "
            "submit it and let another person approve it"
        )
    if (approval.example_id, approval.version) != (stored.id, version) or not same_user(approval.reviewer, actor):
        raise ReviewGuardError(
            f"{where}: the approval is for {approval.example_id} version {approval.version} by "
            f"{approval.reviewer}, not version {version} by {actor}"
        )
    if same_user(stored.author, actor):
        raise ReviewGuardError(f"{where}: its author cannot approve it; another person must")
    changed = content_changes(stored, wanted)
    if changed:
        raise ReviewGuardError(f"{where}: an approval cannot change content at the same time ({', '.join(changed)})")


def live_sql(column: str = "e.id") -> str:
    """SQL condition: the record whose id is `column` is not soft-deleted (for every reader that hides them)."""
    return f"{column} NOT IN (SELECT example_id FROM deleted_examples)"


def check_clauses(
    example: Example, clause_hashes: dict[str, str], keep: set[str] | frozenset[str] = frozenset()
) -> None:
    """Every linked clause must exist in the current constitution (or be an existing link in `keep`).

    `keep` lets an edit save a record that still carries an orphaned link: removing the link is
    the annotator's decision, never a side effect of saving something else.
    """
    for i, clause_id in enumerate(example.clauses):
        if clause_id not in clause_hashes and clause_id not in keep:
            if not clause_hashes:
                raise RecordError(
                    f"unknown clause id {clause_id!r}: no constitution imported yet", field=f"clauses[{i}]"
                )
            raise RecordError(
                f"unknown clause id {clause_id!r} (not in the current constitution)", field=f"clauses[{i}]"
            )


def search_text(ex: Example, content: str | None = None) -> str:
    """What the full-text index holds for a record besides its title: its content and rationale.

    The index keeps no copy of it (contentless FTS5), so removing a record's old terms takes this
    same text again: every write that changes a title or content goes through `_reindex`.
    """
    if content is None:
        content = ex.searchable_text()
    return (ex.rationale + "\n" + content) if ex.rationale else content


def _reindex(db: Database, rowid: int, before: Example, after: Example | None) -> None:
    """Replace (or with `after` None remove) a stored record's terms in the full-text index."""
    db.execute(_DELETE_SEARCH, [rowid, before.title, search_text(before)])
    if after is not None:
        db.execute(_INSERT_SEARCH, [rowid, after.title, search_text(after)])


def _example_row(
    ex: Example, record_json: str, content: str | None = None, norm_hash: str | None = None
) -> tuple[Any, ...]:
    """The `examples` column values after `rowid` (`content`: the record's searchable text and
    `norm_hash` its exact hash, when the caller has them)."""
    if content is None:
        content = ex.searchable_text()
    return (
        ex.id,
        ex.kind,
        ex.title,
        ex.status,
        ex.author,
        ex.group,
        ex.created_at,
        ex.updated_at,
        ex.version,
        exact_hash(content) if norm_hash is None else norm_hash,
        record_json,
        estimate_tokens(ex.training_text(content)),
    )


@dataclass(slots=True)
class PreparedRecord:
    """A validated record turned into column values: cheap to pickle between processes."""

    id: str
    clauses: list[str]
    tags: list[str]
    norm_hash: str
    record_json: str
    row: tuple[Any, ...]
    signature: bytes
    """MinHash signature of the content, stored so start-up never re-shingles the corpus."""
    shingles: int
    """Distinct 5-gram shingles of the content (for containment estimates from the signature)."""
    fingerprints: bytes
    """Winnowed word 13-gram hashes of the content (the excerpt index)."""
    search: str
    """What the full-text index holds besides the title (`search_text`)."""

    @property
    def status(self) -> str:
        return str(self.row[3])


def prepare(ex: Example) -> PreparedRecord:
    """Everything the store needs to write `ex`, computed once."""
    content = ex.searchable_text()
    normalized = normalize(content)
    return _prepared(ex, content, normalized, dedup_row_normalized(normalized))


def prepare_many(examples: Sequence[Example]) -> list[PreparedRecord]:
    """`[prepare(ex) for ex in examples]`, with the near-duplicate rows of all records computed in
    one batch (`dedup_rows_normalized`): per record, numpy's call overhead is most of their cost."""
    contents = [ex.searchable_text() for ex in examples]
    normalized = [normalize(content) for content in contents]
    rows = dedup_rows_normalized(normalized)
    return [_prepared(*args) for args in zip(examples, contents, normalized, rows, strict=True)]


def _prepared(ex: Example, content: str, normalized: str, dedup: tuple[bytes, int, bytes]) -> PreparedRecord:
    """`prepare`'s record from the pieces computed before (`dedup`: `dedup_row_normalized`)."""
    record_json = ex.canonical_json()
    row = _example_row(ex, record_json, content, hash_normalized(normalized))
    sig, shingles, fingerprints = dedup
    return PreparedRecord(
        ex.id,
        list(ex.clauses),
        list(ex.tags),
        row[9],
        record_json,
        row,
        sig,
        shingles,
        fingerprints,
        search_text(ex, content),
    )


def rebuild_signatures(db: Database) -> int:
    """Recompute every stored MinHash signature, shingle count and excerpt fingerprint set from the
    records; returns how many.

    Derived data only (no audit event); the caller chooses the transaction.
    """
    rows = db.execute("SELECT id, record FROM examples").fetchall()
    write_signatures(db, [(eid, *dedup_row(Example.model_validate_json(rec).searchable_text())) for eid, rec in rows])
    return len(rows)


def write_signatures(db: Database, rows: Sequence[tuple[str, bytes, int, bytes]]) -> None:
    """Store (id, signature, shingle count, fingerprints) rows.

    A database between migrations (an older migration step rebuilding signatures before m010
    added the fingerprint column) gets the columns it has; m010 then fills in the rest.
    """
    try:
        db.conn.executemany(_INSERT_SIGNATURE, rows)
    except sqlite3.OperationalError as exc:
        if "fingerprints" not in str(exc):
            raise
        db.conn.executemany(_INSERT_SIGNATURE_BEFORE_M010, [row[:3] for row in rows])


def insert_many(
    db: Database, examples: Iterable[Example], *, actor: str, action: str = "import", keep_status: bool = False
) -> list[str]:
    """Insert new records in one transaction (all or nothing), audited; returns their ids.

    A record that arrives `approved` is refused unless `keep_status` (see `insert_prepared`).
    """
    clause_hashes = current_clause_hashes(db)
    records = list(examples)
    for ex in records:
        check_clauses(ex, clause_hashes)
    prepared = prepare_many(records)
    existing = existing_ids(db, [p.id for p in prepared])
    if existing:
        raise RecordError(f"an example with id {existing[0]!r} already exists", field="id")
    with db.atomic():
        insert_prepared(db, prepared, actor=actor, action=action, clause_hashes=clause_hashes, keep_status=keep_status)
    return [p.id for p in prepared]


def insert_prepared(
    db: Database,
    prepared: Sequence[PreparedRecord],
    *,
    actor: str,
    action: str,
    clause_hashes: dict[str, str],
    keep_status: bool = False,
) -> None:
    """Write checked records with links, tags and one audit event each (inside the caller's transaction).

    Records arriving `approved` are refused (`ReviewGuardError`) unless `keep_status`: the caller
    states that the statuses were reviewed elsewhere, and each audit event notes that the status
    was kept at `actor`'s request.
    """
    now = utc_now()
    links = [(p.id, c, clause_hashes[c], "ok", now) for p in prepared for c in p.clauses]
    write_rows(db, prepared, links, allow_approved=keep_status)
    write_signatures(db, [(p.id, p.signature, p.shingles, p.fingerprints) for p in prepared])

    def note(p: PreparedRecord) -> str | None:
        if not keep_status:
            return None
        return f"status {p.status} kept as given (keep_status, asked by {actor})"

    db.conn.executemany(
        AUDIT_INSERT,
        [
            event_row(
                actor=actor,
                action=action,
                entity="example",
                entity_id=p.id,
                before=None,
                after=p.record_json,
                at=now,
                note=note(p),
                after_is_record=True,
            )
            for p in prepared
        ],
    )


def write_rows(
    db: Database,
    prepared: Sequence[PreparedRecord],
    links: list[tuple[Any, ...]],
    *,
    allow_approved: bool = False,
) -> None:
    """Insert example rows, their links and tags, and index them for search (inside a transaction).

    Every new row goes through here, so this is where a row arriving `approved` is refused, unless
    `allow_approved` (an import keeping reviewed statuses, or the restore of a dump). Rows get
    explicit rowids, so the full-text index is fed the same rowids from the prepared text.
    """
    if not allow_approved:
        for p in prepared:
            if p.status == "approved":
                raise ReviewGuardError(
                    f"example {p.id}: cannot be stored as approved without review; store it as draft or "
                    "review and approve it through review (an import may keep_status for records already reviewed)"
                )
    conn = db.conn
    start = conn.execute("SELECT coalesce(max(rowid), 0) FROM examples").fetchone()[0] + 1
    pause = coverage_counts.pause_for_new_rows(db)  # one aggregated write below, not a trigger per link
    conn.executemany(_INSERT_EXAMPLE, [(start + i, *p.row) for i, p in enumerate(prepared)])
    conn.executemany(_INSERT_SEARCH, [(start + i, p.row[2], p.search) for i, p in enumerate(prepared)])
    conn.executemany(_INSERT_LINK, links)
    conn.executemany(_INSERT_TAG, [(p.id, t) for p in prepared for t in p.tags])
    if pause is not None:
        new = [coverage_counts.NewExample(p.id, p.row[1], p.status, p.row[11], p.record_json) for p in prepared]
        coverage_counts.add_new_rows(db, pause, new, [(link[0], link[1], link[3]) for link in links])


def existing_ids(db: Database, ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.extend(r[0] for r in db.execute(f"SELECT id FROM examples WHERE id IN ({marks})", chunk))
    return sorted(found)


def create(db: Database, example: Example, *, actor: str) -> Example:
    """Store a new record (version 1), audited; never as `approved` (that takes a review)."""
    if not example.author:
        example = example.model_copy(update={"author": actor})
    example = example.model_copy(update={"version": 1})
    insert_many(db, [example], actor=actor, action="create")
    return example


def get(db: Database, example_id: str) -> Example:
    """The stored record, or NotFoundError."""
    row = db.execute("SELECT record FROM examples WHERE id = ?", [example_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no example with id {example_id!r}")
    return parse_example(json.loads(row[0]))


def get_many(db: Database, example_ids: Sequence[str]) -> list[Example]:
    """Records by id, in the order asked (missing ids are skipped)."""
    by_id: dict[str, Example] = {}
    for start in range(0, len(example_ids), 500):
        chunk = list(example_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for eid, rec in db.execute(f"SELECT id, record FROM examples WHERE id IN ({marks})", chunk):
            by_id[eid] = Example.model_validate_json(rec)
    return [by_id[i] for i in example_ids if i in by_id]


def update(
    db: Database,
    example: Example,
    *,
    expected_version: int,
    actor: str,
    approval: Approval | None = None,
) -> Example:
    """Replace a record if nobody changed it since `expected_version`; else ConflictError.

    A losing attempt is not lost: a `conflict` audit event (before = the stored record, after =
    the attempt, based on `expected_version`) is written after the rollback. The new version is
    `expected_version + 1`; links to clauses that stay keep their link-time hash and state, new
    links take the current hash.

    Review rules (module docstring): a change into `approved` needs a matching `approval`; a
    change to the content of an approved record stores it as `review` (the returned record shows
    it, and the audit event's note says why). A soft-deleted record is refused until restored.
    """
    clause_hashes = current_clause_hashes(db)
    linked = {r[0] for r in db.execute("SELECT clause_id FROM example_clauses WHERE example_id = ?", [example.id])}
    check_clauses(example, clause_hashes, keep=linked)
    with db.atomic():
        row = db.execute("SELECT version, record, rowid FROM examples WHERE id = ?", [example.id]).fetchone()
        if row is None:
            raise NotFoundError(f"no example with id {example.id!r}")
        current_version, before, rowid = row
        if current_version != expected_version:
            raise ConflictError(
                f"example {example.id} was changed by someone else (now version {current_version}, "
                f"you edited version {expected_version}); reload and merge",
                pending_audit=[_conflict_event(example, expected_version, before, actor)],
            )
        _refuse_deleted(db, example.id)
        before_ex = Example.model_validate_json(before)
        if example.status == "approved" and before_ex.status != "approved":
            _check_approval(before_ex, example, approval, expected_version, actor)
        status, note = status_after_write(before_ex, example)
        updated = example.model_copy(
            update={
                "version": expected_version + 1,
                "updated_at": utc_now(),
                "created_at": before_ex.created_at,
                "status": status,
            }
        )
        updated = parse_example(updated.canonical())  # re-validate the merged record
        record_json = updated.canonical_json()
        row_values = _example_row(updated, record_json)
        cur = db.execute(
            "UPDATE examples SET kind=?, title=?, status=?, author=?, group_name=?, created_at=?, updated_at=?, "
            "version=?, norm_hash=?, record=?, tokens=? WHERE id=? AND version=?",
            [*row_values[1:], updated.id, expected_version],
        )
        if cur.rowcount != 1:
            raise ConflictError(
                f"example {example.id} was changed by someone else; reload and merge",
                pending_audit=[_conflict_event(example, expected_version, before, actor)],
            )
        _reindex(db, rowid, before_ex, updated)
        _sync_links(db, updated, clause_hashes)
        write_signatures(db, [(updated.id, *dedup_row(updated.searchable_text()))])
        db.execute("DELETE FROM example_tags WHERE example_id = ?", [updated.id])
        db.conn.executemany(_INSERT_TAG, [(updated.id, t) for t in updated.tags])
        record_event(
            db,
            actor=actor,
            action="update",
            entity="example",
            entity_id=updated.id,
            before=before,
            after=record_json,
            note=note,
            after_is_record=True,
        )
    return updated


def _refuse_deleted(db: Database, example_id: str) -> None:
    if is_deleted(db, example_id):
        raise NotFoundError(f"example {example_id} is deleted; restore it before changing it")


def _conflict_event(example: Example, expected_version: int, stored: str, actor: str) -> tuple[str | int | None, ...]:
    """Audit row of an update that lost a race: `before` is the stored record it collided with,
    `after` the attempted record, its `version` being the version the attempt was based on."""
    attempt = example.model_copy(update={"version": expected_version}).canonical_json()
    return event_row(
        actor=actor, action="conflict", entity="example", entity_id=example.id, before=stored, after=attempt
    )


def _sync_links(db: Database, ex: Example, clause_hashes: dict[str, str]) -> None:
    existing = {r[0] for r in db.execute("SELECT clause_id FROM example_clauses WHERE example_id = ?", [ex.id])}
    wanted = set(ex.clauses)
    for gone in existing - wanted:
        db.execute("DELETE FROM example_clauses WHERE example_id = ? AND clause_id = ?", [ex.id, gone])
    now = utc_now()
    db.conn.executemany(
        _INSERT_LINK, [(ex.id, c, clause_hashes[c], "ok", now) for c in ex.clauses if c not in existing]
    )


def is_deleted(db: Database, example_id: str) -> bool:
    """True when the record is soft-deleted (hidden, restorable)."""
    return db.execute("SELECT 1 FROM deleted_examples WHERE example_id = ?", [example_id]).fetchone() is not None


@dataclass(frozen=True, slots=True)
class Deletion:
    """When and by whom a record was soft-deleted."""

    at: str
    actor: str


def deletion(db: Database, example_id: str) -> Deletion | None:
    """The soft deletion of a record, or None when it is live."""
    row = db.execute("SELECT deleted_at, actor FROM deleted_examples WHERE example_id = ?", [example_id]).fetchone()
    return Deletion(row[0], row[1]) if row else None


def _locked_current(db: Database, example_id: str, expected_version: int | None) -> tuple[int, str]:
    """(version, record JSON) read inside the caller's transaction; ConflictError when not `expected_version`.

    `expected_version=None` takes whatever version is current.
    """
    row = db.execute("SELECT version, record FROM examples WHERE id = ?", [example_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no example with id {example_id!r}")
    if expected_version is not None and row[0] != expected_version:
        raise ConflictError(
            f"example {example_id} was changed by someone else (now version {row[0]}, expected {expected_version})"
        )
    return int(row[0]), str(row[1])


def _bump(db: Database, before_json: str, version: int) -> Example:
    """Write a new version of an unchanged record (delete and restore are changes too): version and updated_at."""
    bumped = Example.model_validate_json(before_json).model_copy(
        update={"version": version + 1, "updated_at": utc_now()}
    )
    db.execute(
        "UPDATE examples SET version = ?, updated_at = ?, record = ? WHERE id = ? AND version = ?",
        [bumped.version, bumped.updated_at, bumped.canonical_json(), bumped.id, version],
    )
    return bumped


def delete(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> Example:
    """Soft-delete a record: hidden everywhere but kept (links, tags, reviews, history); audited.

    Returns the record at its new version. `restore` brings it back, `purge` removes it for good.
    """
    with db.atomic():
        version, before = _locked_current(db, example_id, expected_version)
        if is_deleted(db, example_id):
            raise NotFoundError(f"example {example_id} is already deleted")
        after = _bump(db, before, version)
        db.execute(
            "INSERT INTO deleted_examples (example_id, deleted_at, actor) VALUES (?, ?, ?)",
            [example_id, after.updated_at, actor],
        )
        record_event(
            db,
            actor=actor,
            action="delete",
            entity="example",
            entity_id=example_id,
            before=before,
            after=after.canonical_json(),
            after_is_record=True,
            note="soft delete: hidden until restored",
        )
    return after


def restore(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> Example:
    """Bring a soft-deleted record back, as it was (status included: its content did not change); audited."""
    with db.atomic():
        version, before = _locked_current(db, example_id, expected_version)
        if not is_deleted(db, example_id):
            raise NotFoundError(f"example {example_id} is not deleted")
        after = _bump(db, before, version)
        db.execute("DELETE FROM deleted_examples WHERE example_id = ?", [example_id])
        record_event(
            db,
            actor=actor,
            action="restore",
            entity="example",
            entity_id=example_id,
            before=before,
            after=after.canonical_json(),
            after_is_record=True,
        )
    return after


def purge(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> Example:
    """Remove a soft-deleted record for good (with its links, tags, reviews and signature); audited.

    Only a deleted record can be purged, so a permanent removal always takes two decisions. The
    audit log keeps the record's history and the purged state. Returns the record as it was.
    """
    with db.atomic():
        _version, before = _locked_current(db, example_id, expected_version)
        if not is_deleted(db, example_id):
            raise CuratorError(f"example {example_id} is not deleted; delete it first, then purge it")
        (rowid,) = db.execute("SELECT rowid FROM examples WHERE id = ?", [example_id]).fetchone()
        _reindex(db, rowid, Example.model_validate_json(before), None)
        db.execute("DELETE FROM examples WHERE id = ?", [example_id])
        record_event(
            db,
            actor=actor,
            action="purge",
            entity="example",
            entity_id=example_id,
            before=before,
            note="purged: removed for good",
        )
    return Example.model_validate_json(before)


def existing_hashes(db: Database, hashes: Iterable[str]) -> dict[str, str]:
    """Normalised-text hash -> id of a live stored record with that hash (exact duplicates)."""
    wanted = list(set(hashes))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for h, eid in db.execute(
            f"SELECT norm_hash, min(id) FROM examples e WHERE norm_hash IN ({marks}) AND {live_sql()} "
            "GROUP BY norm_hash",
            chunk,
        ):
            found[h] = eid
    return found


def query(db: Database, **filters: Any) -> list[Example]:
    """Every record :func:`iter_query` yields for the same filters, as a list."""
    return list(iter_query(db, **filters))


def iter_query(
    db: Database,
    *,
    kind: str | None = None,
    status: str | None = None,
    clause: str | None = None,
    tag: str | None = None,
    author: str | None = None,
    text: str | None = None,
    since: str | None = None,
    deleted: bool = False,
    limit: int | None = None,
    after: tuple[str, str] | None = None,
    order: str = "id",
) -> Iterator[Example]:
    """Records matching every given filter, one at a time (a listing of a million holds one).

    Live records only; `deleted=True` lists only soft-deleted ones. `since` keeps records
    updated at or after an ISO date or time (see `since_bound`). `order="id"` lists by id;
    `order="updated"` lists newest first with keyset paging: pass the last row's
    `(updated_at, id)` as `after` for the next page.
    """
    sql, params = _filter_sql(
        deleted, kind=kind, status=status, clause=clause, tag=tag, author=author, text=text, since=since
    )
    if order == "updated":
        if after is not None:
            sql += " AND (e.updated_at, e.id) < (?, ?)"
            params.extend(after)
        sql += " ORDER BY e.updated_at DESC, e.id DESC"
    else:
        sql += " ORDER BY e.id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for (record,) in db.execute(sql, params):
        yield Example.model_validate_json(record)


class Listed(NamedTuple):
    """What `curator list --format table` shows of a record, read without validating the record."""

    id: str
    kind: str
    status: str
    author: str
    title: str
    clauses: list[str]


def iter_listed(db: Database, *, limit: int | None = None, **filters: str | None) -> Iterator[Listed]:
    """The rows of :func:`iter_query` (same filters, id order) as `Listed`, one at a time.

    From the indexed columns and the record's `clauses`, so a table of a million records neither
    validates nor holds them.
    """
    sql, params = _filter_sql(**filters)
    sql = sql.replace(
        "SELECT e.record FROM",
        "SELECT e.id, e.kind, e.status, e.author, e.title, json_extract(e.record, '$.clauses') FROM",
        1,
    )
    sql += " ORDER BY e.id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    for eid, kind, status, author, title, clauses in db.execute(sql, params):
        yield Listed(eid, kind, status, author, title, json.loads(clauses) if clauses else [])


def count(db: Database, **filters: str | None) -> int:
    """How many live records match the filters of :func:`query`.

    Unfiltered, all rows less the deleted ones: SQLite counts a table from its smallest index,
    10x faster at 1M than checking every row against the deleted list.
    """
    if not any(filters.values()):
        return int(
            db.execute("SELECT (SELECT count(*) FROM examples) - (SELECT count(*) FROM deleted_examples)").fetchone()[0]
        )
    sql, params = _filter_sql(**filters)
    return int(db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def since_bound(value: str) -> str:
    """An ISO date or date-time as the stored timestamp form, for comparing with `updated_at`.

    A date means its start (UTC); a time without an offset is UTC; an offset is converted.
    """
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"since: {value!r} is not an ISO date or date-time (e.g. 2026-10-03)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _filter_sql(
    deleted: bool = False,
    /,
    *,
    kind: str | None = None,
    status: str | None = None,
    clause: str | None = None,
    tag: str | None = None,
    author: str | None = None,
    text: str | None = None,
    since: str | None = None,
) -> tuple[str, list[Any]]:
    sql = "SELECT e.record FROM examples e WHERE "
    sql += "e.id IN (SELECT example_id FROM deleted_examples)" if deleted else live_sql()
    params: list[Any] = []
    for column, value in (("kind", kind), ("status", status), ("author", author)):
        if value:
            sql += f" AND e.{column} = ?"
            params.append(value)
    if clause:
        sql += " AND e.id IN (SELECT example_id FROM example_clauses WHERE clause_id = ?)"
        params.append(clause)
    if tag:
        sql += " AND e.id IN (SELECT example_id FROM example_tags WHERE tag = ?)"
        params.append(tag)
    if text:
        sql += " AND e.rowid IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)"
        params.append(fts_query(text))
    if since:
        sql += " AND e.updated_at >= ?"
        params.append(since_bound(since))
    return sql, params


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: every word quoted, all must match (prefix on the last)."""
    words = [w.replace('"', '""') for w in text.split()]
    if not words:
        return '""'
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def all_records_json(db: Database) -> Iterable[str]:
    """Every record's canonical JSON, sorted by id (for dumps)."""
    for (rec,) in db.execute("SELECT record FROM examples ORDER BY id"):
        yield rec


REJECTED_COUNT_SQL = (
    "(CASE WHEN instr(e.record, '\"alternatives\"') THEN (SELECT count(*) FROM json_each(e.record, '$.messages') m,"
    " json_each(m.value, '$.alternatives')) ELSE 0 END)"
)
"""How many rejected alternatives the row's record holds, read from its JSON by SQLite (no column,
no migration); the JSON is walked only for the few records that mention alternatives at all."""

_SUMMARY_SELECT = f"SELECT e.id, e.kind, e.status, e.title, e.author, e.updated_at, {REJECTED_COUNT_SQL} FROM"


@dataclass(slots=True)
class Summary:
    """What a list row shows: read from indexed columns (and the count of rejected alternatives)
    without parsing the record in Python."""

    id: str
    kind: str
    status: str
    title: str
    author: str
    updated_at: str
    rejected: int = 0
    """Rejected alternatives over all turns (the list marks "2 rejected")."""


def page(
    db: Database,
    *,
    after: tuple[str, str] | None = None,
    limit: int = 100,
    **filters: str | None,
) -> list[Summary]:
    """One page of live records' summaries, newest update first; pass the last row's (updated_at, id) as `after`.

    Keyset paging: each page is an index range scan, as fast on page 1,000 as on page 1.
    """
    sql, params = _filter_sql(**filters)
    sql = sql.replace("SELECT e.record FROM", _SUMMARY_SELECT, 1)
    if after is not None:
        sql += " AND (e.updated_at, e.id) < (?, ?)"
        params.extend(after)
    sql += " ORDER BY e.updated_at DESC, e.id DESC LIMIT ?"
    params.append(limit)
    return [Summary(*row) for row in db.execute(sql, params)]


def summaries_of(db: Database, example_ids: Sequence[str], **filters: str | None) -> dict[str, Summary]:
    """id -> summary of those of `example_ids` that are live and match `filters` (as for :func:`page`).

    A list that updates changed rows in place (rather than reading its pages again) asks for
    just the records that changed.
    """
    sql, params = _filter_sql(**filters)
    sql = sql.replace("SELECT e.record FROM", _SUMMARY_SELECT, 1)
    found: dict[str, Summary] = {}
    for start in range(0, len(example_ids), 500):
        chunk = list(example_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"{sql} AND e.id IN ({marks})", [*params, *chunk]):
            found[row[0]] = Summary(*row)
    return found


def rejected_counts(db: Database, example_ids: Sequence[str]) -> dict[str, int]:
    """id -> number of rejected alternatives, for those of `example_ids` that have any."""
    found: dict[str, int] = {}
    for start in range(0, len(example_ids), 500):
        chunk = list(example_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT e.id, {REJECTED_COUNT_SQL} FROM examples e WHERE e.id IN ({marks})"
        found.update({row[0]: row[1] for row in db.execute(sql, chunk) if row[1]})
    return found


def all_tags(db: Database) -> list[str]:
    """Every tag in use on live records, most used first (for completion).

    All uses counted from the tag index, less those of deleted records (read from the few deleted
    ones): a live check on every tag row took 1 s at 1M.
    """
    uses = dict(db.execute("SELECT tag, count(*) FROM example_tags GROUP BY tag").fetchall())
    for tag, n in db.execute(
        "SELECT t.tag, count(*) FROM deleted_examples d CROSS JOIN example_tags t ON t.example_id = d.example_id"
        " GROUP BY t.tag"
    ):
        uses[tag] -= n
    return sorted((t for t, n in uses.items() if n > 0), key=lambda t: (-uses[t], t))


def authors(db: Database) -> list[str]:
    """Authors of live records, sorted (for the author filter).

    Steps from one author to the next through the author index (a few lookups per author), so a
    million records by a handful of people are not read one by one (3 s at 1M).
    """
    found: list[str] = []
    name = db.execute("SELECT min(author) FROM examples WHERE author > ''").fetchone()[0]
    while name is not None:
        if db.execute(f"SELECT 1 FROM examples e WHERE e.author = ? AND {live_sql()} LIMIT 1", [name]).fetchone():
            found.append(name)
        name = db.execute("SELECT min(author) FROM examples WHERE author > ?", [name]).fetchone()[0]
    return found


def _columns_by_id(db: Database, columns: str, example_ids: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """(id, *columns) of the given records, 500 ids a query (missing ids are left out)."""
    for start in range(0, len(example_ids), 500):
        chunk = list(example_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        yield from db.execute(f"SELECT id, {columns} FROM examples WHERE id IN ({marks})", chunk)


def titles(db: Database, example_ids: Sequence[str]) -> dict[str, str]:
    """id -> title of the given records, read from the indexed column (missing ids are left out)."""
    return {eid: title for eid, title in _columns_by_id(db, "title", example_ids)}


def created_times(db: Database, example_ids: Sequence[str]) -> dict[str, str]:
    """id -> creation time of the given records (missing ids are left out)."""
    return {eid: at for eid, at in _columns_by_id(db, "created_at", example_ids)}


def summaries(db: Database, example_ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """id -> (title, kind, status) of the given records (missing ids are left out)."""
    rows = _columns_by_id(db, "title, kind, status", example_ids)
    return {eid: (title, kind, status) for eid, title, kind, status in rows}


def find_by_id_or_title(db: Database, text: str, *, limit: int = 50) -> list[tuple[str, str]]:
    """(id, title) of live records whose id or title contains `text` (SQL LIKE, so ASCII case is ignored).

    Newest update first, at most `limit`: enough for a jump-to list without reading every title.
    Whitespace around `text` is ignored; an empty `text` matches every record.
    """
    like = f"%{text.strip()}%"
    rows = db.execute(
        f"SELECT id, title FROM examples e WHERE (id LIKE ? OR title LIKE ?) AND {live_sql()} "
        "ORDER BY updated_at DESC LIMIT ?",
        [like, like, limit],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]
