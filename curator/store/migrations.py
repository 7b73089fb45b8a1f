"""Schema, changed only through `sqlite_utils.Migrations` (append, never edit, a migration)."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("curator")


@migrations()
def m001_initial(db: Database) -> None:
    """Constitution versions and clauses, examples, links, tags, reviews, audit, FTS."""
    db.executescript(
        """
        CREATE TABLE constitution_versions (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL,
            filename TEXT,
            format TEXT NOT NULL,
            title TEXT,
            source TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            is_current INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE clauses (
            version_id INTEGER NOT NULL REFERENCES constitution_versions(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            position INTEGER NOT NULL,
            parent TEXT,
            depth INTEGER NOT NULL,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            hash TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{}',
            PRIMARY KEY (version_id, id)
        );
        CREATE TABLE examples (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            author TEXT NOT NULL,
            group_name TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            version INTEGER NOT NULL,
            norm_hash TEXT NOT NULL,
            search_text TEXT NOT NULL,
            record TEXT NOT NULL
        );
        CREATE INDEX idx_examples_kind_status ON examples(kind, status);
        CREATE INDEX idx_examples_status ON examples(status);
        CREATE INDEX idx_examples_updated ON examples(updated_at, id);
        CREATE INDEX idx_examples_norm_hash ON examples(norm_hash);
        CREATE INDEX idx_examples_author ON examples(author);
        CREATE TABLE example_clauses (
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            clause_id TEXT NOT NULL,
            clause_hash TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'ok',
            linked_at TEXT NOT NULL,
            PRIMARY KEY (example_id, clause_id)
        );
        CREATE INDEX idx_example_clauses_clause ON example_clauses(clause_id);
        CREATE TABLE example_tags (
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (example_id, tag)
        );
        CREATE INDEX idx_example_tags_tag ON example_tags(tag);
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            example_version INTEGER NOT NULL,
            reviewer TEXT NOT NULL,
            verdict TEXT NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX idx_reviews_example ON reviews(example_id);
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            before TEXT,
            after TEXT
        );
        CREATE INDEX idx_audit_entity ON audit(entity, entity_id);
        """
    )
    # External-content FTS5. Inserts are indexed by the writer in one INSERT ... SELECT per
    # transaction (a per-row trigger costs ~7x more on bulk imports); updates and deletes
    # keep the index in step through triggers.
    db.executescript(
        """
        CREATE VIRTUAL TABLE examples_fts USING fts5(title, search_text, content=examples);
        CREATE TRIGGER examples_fts_ad AFTER DELETE ON examples BEGIN
            INSERT INTO examples_fts (examples_fts, rowid, title, search_text)
            VALUES ('delete', old.rowid, old.title, old.search_text);
        END;
        CREATE TRIGGER examples_fts_au AFTER UPDATE ON examples BEGIN
            INSERT INTO examples_fts (examples_fts, rowid, title, search_text)
            VALUES ('delete', old.rowid, old.title, old.search_text);
            INSERT INTO examples_fts (rowid, title, search_text) VALUES (new.rowid, new.title, new.search_text);
        END;
        """
    )


@migrations()
def m002_dedup_and_evalsets(db: Database) -> None:
    """Stored MinHash signatures, pairs marked not-a-duplicate, registered evaluation sets."""
    db.executescript(
        """
        CREATE TABLE signatures (
            example_id TEXT PRIMARY KEY REFERENCES examples(id) ON DELETE CASCADE,
            sig BLOB NOT NULL
        );
        CREATE TABLE dedup_ignored (
            a TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            b TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (a, b),
            CHECK (a < b)
        );
        CREATE TABLE evalsets (
            name TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL
        );
        CREATE TABLE eval_items (
            evalset TEXT NOT NULL REFERENCES evalsets(name) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            label TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (evalset, idx)
        );
        """
    )
    # backfill: workspaces written before this migration get their signatures now, once
    from curator.minhash import signature_bytes
    from curator.models import Example

    rows = db.execute("SELECT id, record FROM examples").fetchall()
    db.conn.executemany(
        "INSERT INTO signatures (example_id, sig) VALUES (?, ?)",
        [(eid, signature_bytes(Example.model_validate_json(rec).searchable_text())) for eid, rec in rows],
    )


@migrations()
def m003_example_tokens(db: Database) -> None:
    """Estimated tokens per example, kept in step on every write, so coverage sums them in SQL."""
    db.execute("ALTER TABLE examples ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0")
    from curator.models import Example
    from curator.token_estimate import estimate_tokens

    rows = db.execute("SELECT id, record FROM examples").fetchall()
    db.conn.executemany(
        "UPDATE examples SET tokens = ? WHERE id = ?",
        [(estimate_tokens(Example.model_validate_json(rec).training_text()), eid) for eid, rec in rows],
    )


@migrations()
def m004_coverage_index(db: Database) -> None:
    """A covering index for coverage: joins read (id, kind, status, tokens) without touching the big rows."""
    db.execute("CREATE INDEX idx_examples_coverage ON examples(id, kind, status, tokens)")


@migrations()
def m005_signature_shingle_counts(db: Database) -> None:
    """Distinct shingles per signature, so candidates are filtered by estimated containment too."""
    db.execute("ALTER TABLE signatures ADD COLUMN shingles INTEGER NOT NULL DEFAULT 0")
    from curator.store.examples import rebuild_signatures

    rebuild_signatures(db)  # one-off: ~15 s per 100k records


@migrations()
def m006_token_estimate_v2(db: Database) -> None:
    """Recompute the stored token estimates with estimator v2 (v1 over-counted 1.4-1.9x)."""
    from curator.models import Example
    from curator.token_estimate import estimate_tokens

    rows = db.execute("SELECT id, record FROM examples").fetchall()
    db.conn.executemany(
        "UPDATE examples SET tokens = ? WHERE id = ?",
        [(estimate_tokens(Example.model_validate_json(rec).training_text()), eid) for eid, rec in rows],
    )


@migrations()
def m007_soft_delete(db: Database) -> None:
    """Soft-deleted records: hidden from lists, review, coverage, dedup and exports until restored.

    A table of its own rather than a column, so a record's row and canonical JSON stay as they were
    (a restore is exact), purging cascades, and dump/load carry it like any other table.
    """
    db.execute(
        """
        CREATE TABLE deleted_examples (
            example_id TEXT PRIMARY KEY REFERENCES examples(id) ON DELETE CASCADE,
            deleted_at TEXT NOT NULL,
            actor TEXT NOT NULL
        )
        """
    )


@migrations()
def m008_audit_note(db: Database) -> None:
    """A note on audit events: why a status moved (back to review) or was kept (an import's choice)."""
    db.execute("ALTER TABLE audit ADD COLUMN note TEXT")


@migrations()
def m009_clause_model(db: Database) -> None:
    """Clause text without its heading line or item marker (and the hash of that), its plain text
    and its context; stored clauses are re-derived from their version's source and links rehashed,
    so a link is not stale only because the hashing changed."""
    db.execute("ALTER TABLE clauses ADD COLUMN plain TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE clauses ADD COLUMN context TEXT NOT NULL DEFAULT ''")
    from curator.store.clauses import rederive_clause_texts
    from curator.store.links import recompute_states

    rederive_clause_texts(db)
    recompute_states(db)


@migrations()
def m010_excerpt_fingerprints(db: Database) -> None:
    """Winnowed word 13-gram fingerprints per record, so excerpts and contained texts are found."""
    db.execute("ALTER TABLE signatures ADD COLUMN fingerprints BLOB NOT NULL DEFAULT x''")
    from curator.store.examples import rebuild_signatures

    rebuild_signatures(db)  # one-off, like m005: every record's row is recomputed once


@migrations()
def m011_eval_suites(db: Database) -> None:
    """Clause-linked eval suites, model runs over them, gradings (judge or human) and their verdicts.

    Verdicts are never overwritten: a new judge is a new grading, a person's verdict is a new row
    (`human` = 1) and the newest one for a (run, item, sample, clause) wins over any judge.
    """
    db.executescript(
        """
        CREATE TABLE eval_suites (
            name TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL
        );
        CREATE TABLE eval_suite_items (
            suite TEXT NOT NULL REFERENCES eval_suites(name) ON DELETE CASCADE,
            id TEXT NOT NULL,
            position INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            clauses TEXT NOT NULL,
            rubric TEXT,
            prompt_sha256 TEXT NOT NULL,
            PRIMARY KEY (suite, id)
        );
        CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY,
            suite TEXT NOT NULL REFERENCES eval_suites(name),
            model TEXT NOT NULL,
            params TEXT NOT NULL,
            source TEXT NOT NULL,
            batch_id TEXT,
            requests TEXT,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            completed_at TEXT,
            actor TEXT NOT NULL
        );
        CREATE TABLE eval_responses (
            run TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            item TEXT NOT NULL,
            sample INTEGER NOT NULL,
            response TEXT NOT NULL,
            content TEXT,
            error TEXT,
            request_id TEXT,
            prompt_sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (run, item, sample)
        );
        CREATE TABLE eval_gradings (
            id INTEGER PRIMARY KEY,
            run TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            judge TEXT NOT NULL,
            prompt_sha256 TEXT,
            batch_id TEXT,
            requests TEXT,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            completed_at TEXT,
            actor TEXT NOT NULL
        );
        CREATE TABLE eval_verdicts (
            id INTEGER PRIMARY KEY,
            run TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            grading INTEGER REFERENCES eval_gradings(id) ON DELETE CASCADE,
            item TEXT NOT NULL,
            sample INTEGER NOT NULL,
            clause TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('complies', 'violates', 'unclear')),
            reason TEXT NOT NULL DEFAULT '',
            evidence TEXT NOT NULL DEFAULT '',
            human INTEGER NOT NULL DEFAULT 0,
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX idx_eval_verdicts_grading ON eval_verdicts(grading, clause);
        CREATE INDEX idx_eval_verdicts_human ON eval_verdicts(run, human, item, sample, clause);
        """
    )


@migrations()
def m012_compact_storage(db: Database) -> None:
    """A workspace about 2.5x its JSON lines instead of 6x, with the same answers.

    - The search index keeps no copy of the text (a contentless FTS5 table): the writer indexes
      each record's search text and removes the old terms itself (`store.examples`), so
      `examples.search_text` (two thirds of a record again) is gone.
    - An example's newest audit event whose after-image *is* the stored record keeps a reference
      (`after_ref = 1`) instead of a second copy; a trigger writes the copy into the event the
      moment the record changes or is removed, so history reads the same forever.
    - Links and tags live in their primary-key b-tree (WITHOUT ROWID): no second index of the key.
    """
    db.executescript(
        """
        DROP TRIGGER IF EXISTS examples_fts_ad;
        DROP TRIGGER IF EXISTS examples_fts_au;
        CREATE VIRTUAL TABLE examples_search USING fts5(title, search_text, content='');
        INSERT INTO examples_search (rowid, title, search_text) SELECT rowid, title, search_text FROM examples;
        DROP TABLE examples_fts;
        ALTER TABLE examples_search RENAME TO examples_fts;
        ALTER TABLE examples DROP COLUMN search_text;
        ALTER TABLE audit ADD COLUMN after_ref INTEGER NOT NULL DEFAULT 0;

        CREATE TABLE example_clauses_new (
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            clause_id TEXT NOT NULL,
            clause_hash TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'ok',
            linked_at TEXT NOT NULL,
            PRIMARY KEY (example_id, clause_id)
        ) WITHOUT ROWID;
        INSERT INTO example_clauses_new SELECT example_id, clause_id, clause_hash, state, linked_at
            FROM example_clauses ORDER BY example_id, clause_id;
        DROP TABLE example_clauses;
        ALTER TABLE example_clauses_new RENAME TO example_clauses;
        CREATE INDEX idx_example_clauses_clause ON example_clauses(clause_id);

        CREATE TABLE example_tags_new (
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (example_id, tag)
        ) WITHOUT ROWID;
        INSERT INTO example_tags_new SELECT example_id, tag FROM example_tags ORDER BY example_id, tag;
        DROP TABLE example_tags;
        ALTER TABLE example_tags_new RENAME TO example_tags;
        CREATE INDEX idx_example_tags_tag ON example_tags(tag);
        """
    )
    db.executescript(
        """
        CREATE TRIGGER audit_after_kept_on_update BEFORE UPDATE OF record ON examples BEGIN
            UPDATE audit SET after = old.record, after_ref = 0
            WHERE entity = 'example' AND entity_id = old.id AND after_ref = 1;
        END;
        CREATE TRIGGER audit_after_kept_on_delete BEFORE DELETE ON examples BEGIN
            UPDATE audit SET after = old.record, after_ref = 0
            WHERE entity = 'example' AND entity_id = old.id AND after_ref = 1;
        END;
        """
    )
    from curator.store.audit import compact_example_after_images

    compact_example_after_images(db)


@migrations()
def m013_coverage_counts(db: Database) -> None:
    """Coverage counts per (clause, kind, status) kept by triggers on every write, with the current
    constitution's (clause, ancestor) closure; counted once here from every record and link."""
    from curator.store import coverage_counts

    db.executescript(coverage_counts.SCHEMA)
    coverage_counts.rebuild(db)


@migrations()
def m014_annotations(db: Database) -> None:
    """Blind double annotation: who is asked to link which record, the link sets they gave (with the
    constitution version and each clause's hash when they gave them), and the lead's decision."""
    db.executescript(
        """
        CREATE TABLE annotation_assignments (
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            annotator_key TEXT NOT NULL,
            annotator TEXT NOT NULL,
            assigned_by TEXT NOT NULL,
            assigned_at TEXT NOT NULL,
            constitution_version INTEGER,
            PRIMARY KEY (example_id, annotator_key)
        ) WITHOUT ROWID;
        CREATE INDEX idx_annotation_assignments_annotator ON annotation_assignments(annotator_key);
        CREATE TABLE annotations (
            example_id TEXT NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
            annotator_key TEXT NOT NULL,
            annotator TEXT NOT NULL,
            clauses TEXT NOT NULL,
            clause_hashes TEXT NOT NULL,
            constitution_version INTEGER NOT NULL,
            annotated_at TEXT NOT NULL,
            PRIMARY KEY (example_id, annotator_key)
        ) WITHOUT ROWID;
        CREATE TABLE annotation_decisions (
            example_id TEXT PRIMARY KEY REFERENCES examples(id) ON DELETE CASCADE,
            clauses TEXT NOT NULL,
            how TEXT NOT NULL CHECK (how IN ('agreed', 'adjudicated')),
            decided_by TEXT NOT NULL,
            decided_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m015_narrow_signatures(db: Database) -> None:
    """Signatures keep 16 bits a value, 256 bytes a record instead of 512 (see `curator.minhash`):
    those stored with 32-bit values keep their low 16 bits, the signature their text has now."""
    from curator.minhash import narrowed

    after = 0
    while rows := db.execute(
        "SELECT rowid, sig FROM signatures WHERE rowid > ? AND length(sig) = 512 ORDER BY rowid LIMIT 5000", [after]
    ).fetchall():
        db.conn.executemany(
            "UPDATE signatures SET sig = ? WHERE rowid = ?", [(narrowed(sig), rid) for rid, sig in rows]
        )
        after = rows[-1][0]


SCHEMA_MIGRATIONS: frozenset[str] = frozenset(m.name for m in migrations._migrations)
"""Names this version of curator knows; a database with others is from a newer curator."""
