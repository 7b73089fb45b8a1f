"""Real write failures, not mocked ones: a process whose files may not grow (RLIMIT_FSIZE, the
kernel refuses the write as a full disk would) and standard output on /dev/full (ENOSPC).

Each command must fail with one line naming the path, exit non-zero, and leave the workspace as it
was and no half-written output behind.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from curator.constitution.versions import import_constitution
from curator.store import examples
from curator.store.db import open_workspace
from tests.helpers import REPO, gen_records

pytestmark = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")

CURATOR = [sys.executable, "-m", "curator"]


@pytest.fixture
def gen_db(tmp_path: Path, constitution_file: Path) -> Path:
    """A workspace file with the small constitution the generated records link to."""
    db = tmp_path / "ws.db"
    with open_workspace(db) as ws:
        import_constitution(ws.db, constitution_file, actor="ana")
    return db


def limited(max_bytes: int) -> Callable[[], None]:
    """In the child: no file may grow past `max_bytes` (the write fails with EFBIG, as on a full disk)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def curator(
    *args: str, home: Path, cwd: Path, max_bytes: int | None = None, stdout: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CURATOR_HOME": str(home), "CURATOR_USER": "ana", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*CURATOR, *args],
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=limited(max_bytes) if max_bytes is not None else None,
    )


def one_line_error(done: subprocess.CompletedProcess[str], *, naming: str) -> str:
    assert done.returncode != 0, done.stderr
    err = done.stderr.strip()
    assert "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    assert naming in err, err
    return err


def state(db: Path) -> tuple[int, str]:
    """What a reader sees: the record count, and SQLite's own integrity verdict."""
    with open_workspace(db) as ws:
        n = examples.count(ws.db)
    conn = sqlite3.connect(db)
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    return n, verdict


def big_import_file(folder: Path, n: int = 3000) -> Path:
    path = folder / "many.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for ex in gen_records(n, seed=3):
            f.write(json.dumps(ex.canonical(), ensure_ascii=False) + "\n")
    return path


def test_an_import_that_fills_the_disk_changes_nothing(gen_db: Path, tmp_path: Path) -> None:
    before = state(gen_db)
    source = big_import_file(tmp_path)
    room = gen_db.stat().st_size + 64 * 1024  # the file and its WAL may grow by 64 KiB, not by megabytes
    done = curator("import", str(source), "--db", str(gen_db), home=tmp_path / "home", cwd=tmp_path, max_bytes=room)
    err = one_line_error(done, naming=str(gen_db))
    assert "free some space" in err.lower() and "nothing was changed" in err, err
    assert state(gen_db) == before == (before[0], "ok")  # all or nothing, and not corrupted


def test_an_export_that_fills_the_disk_leaves_no_folder(gen_db: Path, tmp_path: Path) -> None:
    with open_workspace(gen_db) as ws:
        examples.insert_many(ws.db, gen_records(1500, seed=4), actor="bench", keep_status=True)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'name = "full"\nbudget_tokens = 2000000\nseed = 1\n[kinds]\nstory = 0.25\nadvice = 0.25\n'
        "document = 0.25\nagentic = 0.25\n",
        encoding="utf-8",
    )
    out = tmp_path / "exports"
    done = curator(
        "export", "--spec", str(spec), "--out", str(out), "--db", str(gen_db),
        home=tmp_path / "home", cwd=tmp_path, max_bytes=256 * 1024,
    )  # fmt: skip
    one_line_error(done, naming=str(out))
    leftovers = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert leftovers == [], leftovers  # written aside and renamed: nothing half-written remains


def test_a_dump_that_fills_the_disk_leaves_no_folder(gen_db: Path, tmp_path: Path) -> None:
    with open_workspace(gen_db) as ws:
        examples.insert_many(ws.db, gen_records(1500, seed=5), actor="bench", keep_status=True)
    target = tmp_path / "dump"
    done = curator("dump", str(target), "--db", str(gen_db), home=tmp_path / "home", cwd=tmp_path, max_bytes=256 * 1024)
    one_line_error(done, naming=str(tmp_path))
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_listing_to_a_full_disk_says_so(demo_db: Path, tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        args = ("list", "--format", "jsonl", "--db", str(demo_db))
        done = curator(*args, home=tmp_path / "home", cwd=tmp_path, stdout=full.fileno())
    err = one_line_error(done, naming="")
    assert "disk is full" in err.lower() or "no space" in err.lower(), err
