"""A bulk write builds the workspace's secondary indexes once at the end: afterwards every index is
there exactly as before and used, a failed write leaves them as they were, and a small import into
a big workspace keeps them up to date row by row instead."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from curator.dumpload import dump, load
from curator.errors import CuratorError
from curator.importer import ImportFailed, import_file
from curator.store import bulk
from curator.store.db import Workspace, open_workspace
from tests.conftest import story, write_jsonl


def index_sql(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))


def stories(n: int, prefix: str) -> list[dict[str, object]]:
    return [
        story(id=f"ex_{prefix}_{i:04d}", title=f"Story {prefix} {i}", text=f"The {prefix} keeper {i} kept letter {i}.")
        for i in range(n)
    ]


def dropped_indexes(ws: Workspace) -> list[str]:
    """Start recording the indexes this connection drops."""
    seen: list[str] = []

    def trace(sql: str) -> None:
        if sql.startswith("DROP INDEX"):
            seen.append(sql.split('"')[1])

    ws.db.conn.set_trace_callback(trace)
    return seen


def test_a_first_import_builds_the_indexes_at_the_end_and_they_are_used(
    tmp_path: Path, constitution_file: Path
) -> None:
    path = tmp_path / "ws.db"
    with open_workspace(path) as ws:
        from curator.constitution.versions import import_constitution

        import_constitution(ws.db, constitution_file, actor="lead")
    before = index_sql(path)
    data = write_jsonl(tmp_path / "a.jsonl", stories(300, "a"))
    with open_workspace(path) as ws:
        dropped = dropped_indexes(ws)
        report = import_file(ws.db, data, actor="ana")
        assert len(report.imported) == 300
        assert sorted(dropped) == sorted(bulk.BULK_INDEXES)
        plan = " ".join(
            str(r) for r in ws.db.execute("EXPLAIN QUERY PLAN SELECT id FROM examples WHERE status = 'draft'")
        )
        assert "idx_examples_status" in plan
        assert ws.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert index_sql(path) == before


def test_a_failed_import_leaves_the_indexes_and_the_rows_as_they_were(tmp_path: Path, ws: Workspace) -> None:
    lines = stories(50, "b")
    lines.append({"kind": "story", "title": "no text"})  # invalid: the whole import fails
    data = write_jsonl(tmp_path / "b.jsonl", lines)
    names = {r[0] for r in ws.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    dropped = dropped_indexes(ws)
    with pytest.raises(ImportFailed):
        import_file(ws.db, data, actor="ana")
    assert dropped  # it did set them aside, and the rollback put them back
    assert {r[0] for r in ws.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")} == names
    assert ws.db.execute("SELECT count(*) FROM examples").fetchone()[0] == 0


def test_a_small_import_into_a_bigger_workspace_keeps_the_indexes(tmp_path: Path, ws: Workspace) -> None:
    import_file(ws.db, write_jsonl(tmp_path / "big.jsonl", stories(200, "c")), actor="ana")
    dropped = dropped_indexes(ws)
    import_file(ws.db, write_jsonl(tmp_path / "small.jsonl", stories(2, "d")), actor="ana")
    assert dropped == []


def test_indexes_are_only_set_aside_inside_a_transaction(ws: Workspace) -> None:
    with pytest.raises(CuratorError, match="inside a write transaction"), bulk.indexes_set_aside(ws.db):
        pass
    assert not bulk.worth_setting_aside(ws.db, 0)


def test_a_loaded_workspace_has_every_index(tmp_path: Path, ws: Workspace) -> None:
    import_file(ws.db, write_jsonl(tmp_path / "e.jsonl", stories(40, "e")), actor="ana")
    dump(ws, tmp_path / "dump")
    load(tmp_path / "dump", tmp_path / "loaded.db")
    names = set(index_sql(tmp_path / "loaded.db"))
    assert set(bulk.BULK_INDEXES) <= names


def test_a_first_import_leaves_the_b_trees_it_wrote_in_key_order_full(tmp_path: Path, constitution_file: Path) -> None:
    """Links, tags and the id and exact-text indexes are kept up to date as an import goes (SQLite
    leaves such pages an eighth empty); a first import rebuilds them once at its end, as compact as
    VACUUM makes them."""
    path = tmp_path / "ws.db"
    with open_workspace(path) as ws:
        from curator.constitution.versions import import_constitution

        import_constitution(ws.db, constitution_file, actor="lead")
        clause = ws.db.execute("SELECT id FROM clauses ORDER BY id LIMIT 1").fetchone()[0]
    records = [
        {**s, "clauses": [clause], "tags": ["lighthouse", f"keeper-{i % 50}"]} for i, s in enumerate(stories(4000, "a"))
    ]
    trees = ("example_clauses", "example_tags", "sqlite_autoindex_examples_1", "idx_examples_norm_hash")
    pages = f"SELECT name, count(*) FROM dbstat WHERE name IN ({', '.join(map(repr, trees))}) GROUP BY name"
    with open_workspace(path) as ws:
        assert len(import_file(ws.db, write_jsonl(tmp_path / "a.jsonl", records), actor="ana").imported) == 4000
        imported = dict(ws.db.execute(pages).fetchall())
        assert ws.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert ws.db.execute("SELECT count(*) FROM example_tags WHERE tag = 'lighthouse'").fetchone()[0] == 4000
        ws.db.execute("VACUUM INTO ?", [str(tmp_path / "packed.db")])
    conn = sqlite3.connect(tmp_path / "packed.db")
    packed = dict(conn.execute(pages).fetchall())
    conn.close()
    assert imported == packed and packed["example_clauses"] > 10
