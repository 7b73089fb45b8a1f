"""The store: schema through migrations, CRUD, optimistic concurrency, audit, FTS, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from curator.errors import ConflictError, NotFoundError, RecordError, StoreError
from curator.models import parse_example
from curator.store import examples
from curator.store.audit import events_for, examples_changed, latest_event_id
from curator.store.clauses import current_clause_hashes
from curator.store.db import Workspace, open_workspace
from curator.store.migrations import SCHEMA_MIGRATIONS, migrations
from tests.conftest import advice, agentic, story


def test_migrations_on_a_blank_database_create_the_columns(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "x.db") as ws:
        db = ws.db
        assert [m.name for m in migrations.applied(db)] == [
            "m001_initial",
            "m002_dedup_and_evalsets",
            "m003_example_tokens",
            "m004_coverage_index",
            "m005_signature_shingle_counts",
            "m006_token_estimate_v2",
            "m007_soft_delete",
            "m008_audit_note",
            "m009_clause_model",
            "m010_excerpt_fingerprints",
            "m011_eval_suites",
            "m012_compact_storage",
            "m013_coverage_counts",
            "m014_annotations",
            "m015_narrow_signatures",
        ]
        assert set(db["examples"].columns_dict) >= {
            "id",
            "kind",
            "title",
            "status",
            "author",
            "group_name",
            "created_at",
            "updated_at",
            "version",
            "norm_hash",
            "record",
        }
        assert "search_text" not in db["examples"].columns_dict  # the search index keeps no copy of the text
        assert set(db["example_clauses"].columns_dict) == {
            "example_id",
            "clause_id",
            "clause_hash",
            "state",
            "linked_at",
        }
        assert set(db["audit"].columns_dict) == {
            "id",
            "at",
            "actor",
            "action",
            "entity",
            "entity_id",
            "before",
            "after",
            "note",
            "after_ref",
        }
        assert set(db["deleted_examples"].columns_dict) == {"example_id", "deleted_at", "actor"}
        assert set(db["clauses"].columns_dict) >= {"version_id", "id", "parent", "depth", "title", "text", "hash"}
        assert {"reviews", "example_tags", "constitution_versions", "examples_fts"} <= set(db.table_names())
        assert set(db["signatures"].columns_dict) == {"example_id", "sig", "shingles", "fingerprints"}
        assert set(db["dedup_ignored"].columns_dict) == {"a", "b", "actor", "at"}
        assert set(db["eval_items"].columns_dict) == {"evalset", "idx", "label", "text"}
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA page_size").fetchone()[0] == 16384  # big pages pack record rows tightly
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    open_workspace(tmp_path / "x.db").close()
    with open_workspace(tmp_path / "x.db") as ws:
        assert len(migrations.applied(ws.db)) == len(SCHEMA_MIGRATIONS)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "x.db") as ws:
        ws.db["_sqlite_migrations"].insert(
            {"migration_set": "curator", "name": "m999_future", "applied_at": "2030-01-01"}
        )
    with pytest.raises(StoreError, match="newer"):
        open_workspace(tmp_path / "x.db")


def test_non_curator_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a curator database"):
        open_workspace(other)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a curator database"):
        open_workspace(garbage)


def foreign_file(path: Path, *, migrations_of: str | None = None) -> bytes:
    """Another application's SQLite file (rollback journal), optionally with sqlite-utils migrations."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    if migrations_of is not None:
        conn.execute("CREATE TABLE _sqlite_migrations (migration_set TEXT, name TEXT, applied_at TEXT)")
        conn.execute("INSERT INTO _sqlite_migrations VALUES (?, 'm001_notes', '2026-01-01')", [migrations_of])
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_a_refused_foreign_file_is_left_byte_for_byte_as_it_was(tmp_path: Path) -> None:
    for name, migrations_of in (("plain.db", None), ("migrated.db", "notes-app")):
        path = tmp_path / name
        before = foreign_file(path, migrations_of=migrations_of)
        with pytest.raises(StoreError, match="not a curator database"):
            open_workspace(path)
        assert path.read_bytes() == before  # not switched to WAL, no curator table added
        assert not Path(f"{path}-wal").exists()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.close()
        assert "examples" not in tables


def test_a_refused_foreign_file_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import run

    path = tmp_path / "notes.db"
    before = foreign_file(path, migrations_of="notes-app")
    code, _, err = run(capsys, "list", "--db", str(path))
    assert code != 0 and "not a curator database" in err
    assert path.read_bytes() == before


def test_create_read_and_links_keep_the_clause_hash(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    assert ex.author == "ana"
    assert examples.get(ws.db, ex.id) == ex
    link = ws.db.execute("SELECT clause_id, clause_hash, state FROM example_clauses").fetchone()
    assert link == ("privacy.1", current_clause_hashes(ws.db)["privacy.1"], "ok")


def test_unknown_clause_is_refused_and_nothing_written(ws: Workspace) -> None:
    with pytest.raises(RecordError) as info:
        examples.create(ws.db, parse_example(story(clauses=["privacy.1", "nope"])), actor="ana")
    assert info.value.field == "clauses[1]"
    assert examples.count(ws.db) == 0


def test_records_without_clauses_are_allowed() -> None:
    with open_workspace(":memory:") as bare:
        examples.create(bare.db, parse_example(story(clauses=[])), actor="ana")
        with pytest.raises(RecordError, match="no constitution"):
            examples.create(bare.db, parse_example(story(text="other", clauses=["x"])), actor="ana")


def test_update_bumps_version_and_audits_before_and_after(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    edited = examples.update(ws.db, ex.model_copy(update={"title": "New title"}), expected_version=1, actor="ben")
    assert edited.version == 2
    assert edited.created_at == ex.created_at
    events = events_for(ws.db, "example", ex.id)
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].actor == "ben"
    assert events[1].before["title"] == "The archive"
    assert events[1].after["title"] == "New title"


def test_stale_update_raises_conflict_changes_nothing_and_audits_the_attempt(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    examples.update(ws.db, ex.model_copy(update={"title": "Ana's"}), expected_version=1, actor="ana")
    with pytest.raises(ConflictError, match="version 2"):
        examples.update(ws.db, ex.model_copy(update={"title": "Ben's"}), expected_version=1, actor="ben")
    assert examples.get(ws.db, ex.id).title == "Ana's"
    events = events_for(ws.db, "example", ex.id)
    assert [e.action for e in events] == ["create", "update", "conflict"]
    conflict = events[2]
    assert conflict.actor == "ben"
    assert conflict.before["title"] == "Ana's" and conflict.before["version"] == 2
    assert conflict.after["title"] == "Ben's" and conflict.after["version"] == 1  # the version it was based on


def test_update_keeps_link_hash_of_kept_clauses_and_adds_new(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    ws.db.execute("UPDATE example_clauses SET clause_hash = 'old'")
    examples.update(ws.db, ex.model_copy(update={"clauses": ["privacy.1", "honesty"]}), expected_version=1, actor="ana")
    links = dict(ws.db.execute("SELECT clause_id, clause_hash FROM example_clauses").fetchall())
    assert links["privacy.1"] == "old"
    assert links["honesty"] == current_clause_hashes(ws.db)["honesty"]


def test_purge_after_delete_cascades_and_audits(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(tags=["t"])), actor="ana")
    deleted = examples.delete(ws.db, ex.id, expected_version=1, actor="ana")
    examples.purge(ws.db, ex.id, expected_version=deleted.version, actor="ana")
    with pytest.raises(NotFoundError):
        examples.get(ws.db, ex.id)
    assert ws.db.execute("SELECT count(*) FROM example_clauses").fetchone()[0] == 0
    assert ws.db.execute("SELECT count(*) FROM example_tags").fetchone()[0] == 0
    assert ws.db.execute("SELECT count(*) FROM deleted_examples").fetchone()[0] == 0
    assert [e.action for e in events_for(ws.db, "example", ex.id)] == ["create", "delete", "purge"]


def test_query_filters_and_full_text_search(ws: Workspace) -> None:
    examples.create(ws.db, parse_example(story(id="ex_a", tags=["shutdown"])), actor="ana")
    approved = parse_example(advice(id="ex_b", status="approved", author="ben"))
    examples.insert_many(ws.db, [approved], actor="ben", keep_status=True)  # reviewed elsewhere
    examples.create(ws.db, parse_example(agentic(id="ex_c")), actor="ben")
    assert [e.id for e in examples.query(ws.db, kind="advice")] == ["ex_b"]
    assert [e.id for e in examples.query(ws.db, status="approved")] == ["ex_b"]
    assert [e.id for e in examples.query(ws.db, tag="shutdown")] == ["ex_a"]
    assert [e.id for e in examples.query(ws.db, clause="honesty")] == ["ex_b"]
    assert [e.id for e in examples.query(ws.db, author="ben")] == ["ex_b", "ex_c"]
    assert [e.id for e in examples.query(ws.db, text="sealed letters")] == ["ex_a"]
    assert [e.id for e in examples.query(ws.db, text="newslet")] == ["ex_c"]  # prefix, tool input
    assert examples.query(ws.db, text='"unbalanced OR (') == []  # hostile FTS syntax is inert
    assert examples.count(ws.db, author="ben") == 2


def test_fts_follows_updates(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    examples.update(ws.db, ex.model_copy(update={"text": "A lighthouse keeper"}), expected_version=1, actor="a")
    assert examples.query(ws.db, text="sealed") == []
    assert [e.id for e in examples.query(ws.db, text="lighthouse")] == [ex.id]


def test_keyset_paging_by_last_update(ws: Workspace) -> None:
    for i in range(7):
        examples.create(
            ws.db, parse_example(story(id=f"ex_{i}", text=f"story {i}", updated_at=f"2026-01-0{i + 1}")), actor="a"
        )
    seen: list[str] = []
    after = None
    while True:
        page = examples.query(ws.db, order="updated", limit=3, after=after)
        if not page:
            break
        seen += [e.id for e in page]
        after = (page[-1].updated_at, page[-1].id)
    assert seen == [f"ex_{i}" for i in reversed(range(7))]


def test_changed_examples_and_their_summaries_since_an_event(ws: Workspace) -> None:
    """What a list needs to update its rows in place: which records changed, and how they look now."""
    for i in range(3):
        examples.create(ws.db, parse_example(story(id=f"ex_{i}", tags=["t"] if i else [])), actor="ana")
    mark = latest_event_id(ws.db)
    ex = examples.get(ws.db, "ex_1")
    examples.update(ws.db, ex.model_copy(update={"title": "Renamed"}), expected_version=1, actor="ana")
    examples.delete(ws.db, "ex_2", expected_version=None, actor="ana")
    examples.create(ws.db, parse_example(story(id="ex_new")), actor="ana")
    now = latest_event_id(ws.db)
    assert examples_changed(ws.db, mark, now, limit=10) == ["ex_new", "ex_2", "ex_1"]  # latest change first
    assert examples_changed(ws.db, mark, now, limit=2) is None  # too many: read the list again
    assert examples_changed(ws.db, now, now, limit=10) == []
    found = examples.summaries_of(ws.db, ["ex_0", "ex_1", "ex_2", "ex_new", "ex_missing"])
    assert sorted(found) == ["ex_0", "ex_1", "ex_new"]  # live ones only
    assert (found["ex_1"].title, found["ex_1"].status) == ("Renamed", "draft")
    assert sorted(examples.summaries_of(ws.db, ["ex_0", "ex_1", "ex_new"], tag="t")) == ["ex_1"]


def test_each_thread_gets_its_own_connection(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "x.db") as ws:
        main_conn = ws.db.conn
        other: list[object] = []
        errors: list[Exception] = []

        def work() -> None:
            try:
                other.append(ws.db.conn)
                examples.create(ws.db, parse_example(story(clauses=[])), actor="thread")
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)

        t = threading.Thread(target=work)
        t.start()
        t.join()
        assert not errors
        assert other[0] is not main_conn
        assert examples.count(ws.db) == 1


def test_upgrading_an_older_workspace_is_announced_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from curator.cli import main

    path = tmp_path / "old.db"
    open_workspace(path).close()
    with open_workspace(path) as ws:  # make it look like a workspace written before m005
        ws.db.execute("ALTER TABLE signatures DROP COLUMN shingles")
        ws.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_signature_shingle_counts'")
    assert main(["list", "--db", str(path), "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "upgrading" in err and "m005_signature_shingle_counts" in err
    assert main(["list", "--db", str(path), "--format", "json"]) == 0
    assert "upgrading" not in capsys.readouterr().err


SCRIPTS_WITH_SEMICOLONS_INSIDE = [
    "CREATE TABLE t (a TEXT DEFAULT ';'); -- a ; in a comment\nINSERT INTO t VALUES ('x;y');\n/* ; */ SELECT 1",
    "CREATE TRIGGER g AFTER INSERT ON t BEGIN INSERT INTO t VALUES (';'); DELETE FROM t WHERE a = 'q;'; END;\n",
    "SELECT 1;;SELECT 'it''s;';   \n  ",
    "",
]


@pytest.mark.parametrize("script", SCRIPTS_WITH_SEMICOLONS_INSIDE)
def test_scripts_split_into_the_statements_sqlite_utils_finds(script: str) -> None:
    from sqlite_utils.db import _iter_complete_sql_statements

    from curator.store.db import sql_statements

    assert list(sql_statements(script)) == list(_iter_complete_sql_statements(script))


def test_a_script_inside_a_transaction_runs_whole_and_rolls_back_whole(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "x.db") as ws:
        with pytest.raises(sqlite3.OperationalError), ws.db.atomic():
            ws.db.executescript(
                "CREATE TABLE t (a TEXT); CREATE TRIGGER g AFTER INSERT ON t BEGIN "
                "INSERT INTO t2 VALUES (new.a || ';'); END; CREATE TABLE t2 (b TEXT); INSERT INTO t VALUES ('x');"
                "SELECT * FROM no_such_table;"
            )
        assert "t" not in ws.db.table_names()
        with ws.db.atomic():
            ws.db.executescript("CREATE TABLE u (b TEXT DEFAULT ';'); -- a ; comment\nINSERT INTO u VALUES ('x;y');")
        assert [r[0] for r in ws.db.execute("SELECT b FROM u")] == ["x;y"]


def test_a_pass_over_the_corpus_reads_through_a_small_cache_and_gives_it_back(ws: Workspace) -> None:
    """A whole-corpus read does not fill an import-sized page cache; the connection gets its own back."""
    from curator.store.db import CACHE_KIB, SCAN_CACHE_KIB, scan_cache

    def cache() -> int:
        return int(ws.db.execute("PRAGMA cache_size").fetchone()[0])

    assert cache() == -CACHE_KIB
    with scan_cache(ws.db):
        assert cache() == -SCAN_CACHE_KIB < 0
    assert cache() == -CACHE_KIB
    with pytest.raises(RuntimeError), scan_cache(ws.db):
        raise RuntimeError("the pass failed")
    assert cache() == -CACHE_KIB


def _write_pages(ws: Workspace, rows: int) -> None:
    """A committed write of `rows` 4 KB blobs (a page of the log each, at least)."""
    with ws.db.atomic():
        ws.db.execute("CREATE TABLE IF NOT EXISTS blobs (b BLOB)")
        ws.db.conn.executemany("INSERT INTO blobs VALUES (randomblob(4000))", [()] * rows)


def test_a_background_checkpoint_copies_the_log_after_the_commit_not_in_it(tmp_path: Path) -> None:
    """Commits inside the block leave the log (the database file does not grow); `start` copies it
    on another connection, and the block's end waits for that copy and restores the automatic one."""
    from curator.store.db import BackgroundCheckpoint

    path = tmp_path / "ws.db"
    with open_workspace(path) as ws:
        ws.db.execute("PRAGMA wal_autocheckpoint = 20")
        before = path.stat().st_size
        _write_pages(ws, 100)
        assert path.stat().st_size > before  # the control: an ordinary commit copies the log at once
        with BackgroundCheckpoint(ws) as checkpoint:
            grown = path.stat().st_size
            _write_pages(ws, 100)
            assert path.stat().st_size == grown  # committed, but only in the log so far
            assert ws.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 200
            checkpoint.start()
            assert ws.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 200  # reads go on
        assert path.stat().st_size >= grown + 100 * 4000
        assert ws.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 20
        busy, logged, copied = ws.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and logged == copied
    with open_workspace(path) as again:
        assert again.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 200


def test_a_background_checkpoint_never_started_restores_the_automatic_one(tmp_path: Path) -> None:
    from curator.store.db import BackgroundCheckpoint

    path = tmp_path / "ws.db"
    with open_workspace(path) as ws:
        ws.db.execute("PRAGMA wal_autocheckpoint = 20")
        with pytest.raises(RecordError), BackgroundCheckpoint(ws):
            raise RecordError("the import failed")
        assert ws.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 20
    with open_workspace(":memory:") as memory, BackgroundCheckpoint(memory) as checkpoint:
        checkpoint.start()  # nothing to copy: no log, no thread
        assert checkpoint._thread is None
