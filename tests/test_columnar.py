"""The Parquet snapshot the distributed engine reads: complete, deterministic, checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curator import columnar
from curator.bootstrap import init_workspace
from curator.store import examples
from curator.store.db import Workspace
from tests.conftest import REPO
from tests.helpers import run


@pytest.fixture
def demo(tmp_path: Path) -> Workspace:
    ws = init_workspace(tmp_path / "ws.db", demo=True, actor="tester")
    yield ws
    ws.close()


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_snapshot_holds_every_record_with_its_links_and_signature(demo: Workspace, tmp_path: Path) -> None:
    first = demo.db.execute("SELECT id FROM examples ORDER BY id").fetchone()[0]
    examples.delete(demo.db, first, expected_version=None, actor="tester")
    manifest = columnar.write_snapshot(demo, tmp_path / "snap")
    rows = pq.read_table(tmp_path / "snap" / "records-00000.parquet").to_pylist()
    stored = demo.db.execute("SELECT count(*) FROM examples").fetchone()[0]
    assert manifest["counts"]["records"] == stored == len(rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    by_id = {r["id"]: r for r in rows}
    assert by_id[first]["deleted"] is True
    assert sum(r["deleted"] for r in rows) == 1
    some = rows[1]
    linked = [
        c
        for (c,) in demo.db.execute(
            "SELECT clause_id FROM example_clauses WHERE example_id = ? ORDER BY clause_id", [some["id"]]
        )
    ]
    assert some["clauses"] == linked and len(some["clause_states"]) == len(linked)
    sig = demo.db.execute("SELECT sig FROM signatures WHERE example_id = ?", [some["id"]]).fetchone()[0]
    assert some["signature"] == sig and len(sig) == 256
    assert json.loads(some["record"])["id"] == some["id"]
    clauses = pq.read_table(tmp_path / "snap" / "clauses.parquet").column("id").to_pylist()
    assert len(clauses) == manifest["counts"]["clauses"] > 0


def test_the_same_state_gives_the_same_bytes(demo: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "SHARD_ROWS", 7)  # several shards, split across read chunks
    monkeypatch.setattr(columnar, "_READ_ROWS", 5)
    one = columnar.write_snapshot(demo, tmp_path / "one")
    columnar.write_snapshot(demo, tmp_path / "two")
    assert len(one["record_shards"]) == -(-one["counts"]["records"] // 7) > 1
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    ids = [i for p in columnar.record_paths(tmp_path / "one", one) for i in pq.read_table(p).column("id").to_pylist()]
    assert ids == sorted(ids) and len(ids) == one["counts"]["records"]


def test_a_changed_shard_is_refused_when_read(demo: Workspace, tmp_path: Path) -> None:
    columnar.write_snapshot(demo, tmp_path / "snap")
    columnar.read_manifest(tmp_path / "snap")
    shard = tmp_path / "snap" / "records-00000.parquet"
    shard.write_bytes(shard.read_bytes() + b"x")
    with pytest.raises(columnar.SnapshotFailed, match=r"records-00000\.parquet: checksum does not match"):
        columnar.read_manifest(tmp_path / "snap")


def test_snapshot_never_replaces_a_folder_it_did_not_write(demo: Workspace, tmp_path: Path, capsys) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    code, _, err = run(capsys, "snapshot", "--db", str(demo.path), "--parquet", str(mine))
    assert code != 0 and err.count("\n") == 1
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep me"
    code, out, _ = run(capsys, "snapshot", "--db", str(demo.path), "--parquet", str(tmp_path / "snap"))
    assert code == 0 and "48 records" in out
    code, out, _ = run(capsys, "snapshot", "--db", str(demo.path), "--parquet", str(tmp_path / "snap"))
    assert code == 0, "an earlier, unchanged snapshot is replaced"


def _no_tmp_env(tmp_path: Path) -> dict[str, str]:
    """The environment with a temporary folder of the test's own (to see that nothing was left in it)."""
    (tmp_path / "tmp").mkdir()
    return {**os.environ, "TMPDIR": str(tmp_path / "tmp")}


def test_the_core_runs_without_ray(demo: Workspace, tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["ray"] = None  # as if Ray were not installed
from curator.cli import main
sys.exit(main(["dedup", "clusters", "--db", {str(demo.path)!r}, "--format", "json"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["clusters"] is not None


def test_the_ray_engine_without_ray_fails_in_one_line(demo: Workspace, tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["ray"] = None  # as if Ray were not installed
from curator.cli import main
sys.exit(main(["dedup", "clusters", "--db", {str(demo.path)!r}, "--engine", "ray", "--blocks", "2"]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120, env=_no_tmp_env(tmp_path)
    )
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "pip install 'curator[ray]'" in lines[0], done.stderr
    assert not list((tmp_path / "tmp").iterdir())  # no snapshot was begun


def test_a_snapshot_of_an_older_format_is_refused_with_what_to_do(demo: Workspace, tmp_path: Path) -> None:
    """A snapshot written before signatures were stored at 16 bits holds 512-byte ones: it is refused
    by its format version (it names the command that writes a new one), never read as corrupt."""
    columnar.write_snapshot(demo, tmp_path / "snap")
    manifest_path = tmp_path / "snap" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format_version"] == 2
    manifest["format_version"] = 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(columnar.SnapshotFailed, match=r"format_version 1; this curator reads 2: write a new one"):
        columnar.read_manifest(tmp_path / "snap")
