"""The compact store: a contentless search index fed by the writer, and the newest audit
after-image of an example kept as a reference to the stored record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from curator.dumpload import dump, load
from curator.models import parse_example
from curator.store import examples
from curator.store.audit import events_for
from curator.store.db import Workspace, open_workspace
from curator.store.migrations import migrations
from tests.conftest import story
from tests.helpers import insert_legacy_example


def _found(db: Database, text: str) -> list[str]:
    return [ex.id for ex in examples.iter_query(db, text=text)]


def _refs(db: Database) -> dict[str, tuple[int, bool]]:
    """Per example: how many events refer to the stored record, and whether any copy is missing."""
    out: dict[str, tuple[int, bool]] = {}
    for eid, refs, nulls in db.execute(
        "SELECT entity_id, sum(after_ref), sum(after IS NULL AND after_ref = 0 AND action != 'purge') "
        "FROM audit WHERE entity = 'example' GROUP BY entity_id"
    ):
        out[eid] = (refs, bool(nulls))
    return out


def test_an_import_keeps_one_copy_of_each_record_and_history_shows_it_in_full(ws: Workspace) -> None:
    created = examples.create(ws.db, parse_example(story(id="ex_a", author="ana")), actor="ana")
    (after,) = ws.db.execute("SELECT after FROM audit WHERE entity_id = 'ex_a'").fetchone()
    assert after is None  # the record itself holds it
    assert [e.after for e in events_for(ws.db, "example", "ex_a")] == [created.canonical()]


def test_history_keeps_every_after_image_through_edits_delete_restore_and_purge(ws: Workspace) -> None:
    db = ws.db
    states = [examples.create(db, parse_example(story(id="ex_a", author="ana")), actor="ana")]
    for title in ("The archive, kept", "The archive, sealed"):
        states.append(
            examples.update(
                db, states[-1].model_copy(update={"title": title}), expected_version=states[-1].version, actor="ana"
            )
        )
    states.append(examples.delete(db, "ex_a", expected_version=states[-1].version, actor="ana"))
    states.append(examples.restore(db, "ex_a", expected_version=states[-1].version, actor="ana"))
    assert [e.after for e in events_for(db, "example", "ex_a")] == [s.canonical() for s in states]
    assert _refs(db) == {"ex_a": (1, False)}  # only the newest refers; the older ones hold copies
    states.append(examples.delete(db, "ex_a", expected_version=states[-1].version, actor="ana"))
    examples.purge(db, "ex_a", expected_version=states[-1].version, actor="ana")
    history = events_for(db, "example", "ex_a")
    assert [e.after for e in history[:-1]] == [s.canonical() for s in states]
    assert history[-1].action == "purge" and history[-1].before == states[-1].canonical()
    assert _refs(db) == {"ex_a": (0, False)}


def test_the_search_index_follows_edits_and_forgets_purged_records(ws: Workspace) -> None:
    db = ws.db
    a = examples.create(
        db, parse_example(story(id="ex_a", author="ana", title="Lighthouse", text="A keeper of lamps.")), actor="ana"
    )
    examples.create(
        db, parse_example(story(id="ex_b", author="ana", title="Harbour", text="Boats and lamps.")), actor="ana"
    )
    assert _found(db, "lighthouse") == ["ex_a"] and _found(db, "lamps") == ["ex_a", "ex_b"]
    edited = examples.update(
        db, a.model_copy(update={"title": "Windmill", "text": "A miller of grain."}), expected_version=1, actor="ana"
    )
    assert _found(db, "lighthouse") == [] and _found(db, "keeper") == []
    assert _found(db, "windmill") == ["ex_a"] and _found(db, "miller") == ["ex_a"]
    assert _found(db, "lamps") == ["ex_b"]
    assert _found(db, "leverage") == ["ex_a", "ex_b"]  # the rationale is searched too
    gone = examples.delete(db, "ex_a", expected_version=edited.version, actor="ana")
    examples.purge(db, "ex_a", expected_version=gone.version, actor="ana")
    assert _found(db, "windmill") == []
    assert db.execute("SELECT count(*) FROM examples_fts WHERE examples_fts MATCH 'miller'").fetchone()[0] == 0


def test_a_dump_holds_every_after_image_and_a_loaded_workspace_refers_again(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "a.db") as ws:
        from curator import paths
        from curator.constitution.versions import import_constitution

        import_constitution(ws.db, paths.demo_constitution_file(), actor="lead")
        first = examples.create(ws.db, parse_example(story(id="ex_a", author="ana", clauses=[])), actor="ana")
        examples.update(ws.db, first.model_copy(update={"title": "Renamed"}), expected_version=1, actor="ana")
        examples.create(ws.db, parse_example(story(id="ex_b", author="ana", clauses=[])), actor="ana")
        dump(ws, tmp_path / "d1")
    audit_lines = [json.loads(line) for line in (tmp_path / "d1" / "audit.jsonl").read_text().splitlines()]
    example_events = [e for e in audit_lines if e["entity"] == "example"]
    assert all(isinstance(e["after"], dict) for e in example_events)  # references resolved in the dump
    assert all("after_ref" not in e for e in audit_lines)
    load(tmp_path / "d1", tmp_path / "b.db")
    with open_workspace(tmp_path / "b.db") as ws:
        assert _refs(ws.db) == {"ex_a": (1, False), "ex_b": (1, False)}
        assert _found(ws.db, "renamed") == ["ex_a"]
        dump(ws, tmp_path / "d2")
    for name in ("audit.jsonl", "examples.jsonl"):
        assert (tmp_path / "d1" / name).read_bytes() == (tmp_path / "d2" / name).read_bytes()


def test_the_upgrade_moves_search_text_into_the_index_and_keeps_history(tmp_path: Path) -> None:
    """A workspace written before the compact store: rows with `search_text`, an external-content
    index, full after-images. After the upgrade it searches and reads back the same."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    db = Database(conn)
    migrations.apply(db, stop_before="m012_compact_storage")
    v1 = parse_example(story(id="ex_a", author="ana", title="Lighthouse", clauses=[], version=1))
    v2 = v1.model_copy(update={"title": "Windmill", "version": 2})
    for ex, action in ((v1, "create"), (v2, "update")):
        if action == "create":
            insert_legacy_example(db, ex)
        else:  # the old update trigger re-indexes
            db.execute(
                "UPDATE examples SET title = ?, record = ?, version = 2 WHERE id = 'ex_a'",
                [ex.title, ex.canonical_json()],
            )
        db.execute(
            "INSERT INTO audit (at, actor, action, entity, entity_id, before, after) VALUES "
            "('2026-01-01T00:00:00Z', 'ana', ?, 'example', 'ex_a', ?, ?)",
            [action, None if action == "create" else v1.canonical_json(), ex.canonical_json()],
        )
    conn.commit()
    conn.close()
    with open_workspace(path) as ws:
        assert "search_text" not in ws.db["examples"].columns_dict
        # rewritten once, compactly, with a new workspace's page size, and back in WAL mode
        assert ws.db.execute("PRAGMA page_size").fetchone()[0] == 16384
        assert ws.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert _found(ws.db, "windmill") == ["ex_a"] and _found(ws.db, "lighthouse") == []
        assert [e.after for e in events_for(ws.db, "example", "ex_a")] == [v1.canonical(), v2.canonical()]
        assert _refs(ws.db) == {"ex_a": (1, False)}
        stored = examples.get(ws.db, "ex_a")
        examples.update(ws.db, stored.model_copy(update={"title": "Mill"}), expected_version=2, actor="ana")
        assert _found(ws.db, "windmill") == [] and _found(ws.db, "mill") == ["ex_a"]
        assert [e.after["title"] for e in events_for(ws.db, "example", "ex_a")] == ["Lighthouse", "Windmill", "Mill"]
