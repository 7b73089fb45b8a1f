"""Crash safety (README, Reliability): SIGKILL the real CLI in the middle of an import, a dump and an export.

Each run is killed when a probe sees it reach a point (the parse workers running, the WAL being
written, the aside folder filling up, the checksums being written); a run that finishes first
counts as killed after the end. Afterwards: `PRAGMA integrity_check` is ok, the database holds
all or none of the import, no partial dump or export folder is visible (only hidden, pid-tagged
leftovers may remain), and the next run succeeds, cleans the leftovers up and gives the same
bytes as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from curator.atomic import recover
from curator.constitution.versions import import_constitution
from curator.dumpload import dump
from curator.importer import PARALLEL_MIN_BYTES, import_file
from curator.mixture import export_from_spec, load_spec
from curator.store.db import open_workspace
from tests.conftest import SMALL_CONSTITUTION
from tests.helpers import gen_records, write_spec

N = 2000
"""Records in the big import: ~1.5-2 s through the CLI on 2 cores."""

PAD = 3600
"""Bytes of provenance padding per record, so the file passes PARALLEL_MIN_BYTES and the CLI parses
it in worker processes (as real big imports are) while the per-record work stays small."""

POLL_S = 0.002


@dataclass
class Workload:
    root: Path
    env: dict[str, str]
    base_db: Path
    """Constitution only: the starting point of every import."""
    full_db: Path
    """After the uninterrupted import."""
    data: Path
    spec: Path
    records_digest: str
    max_wal: int
    """Largest WAL seen during the uninterrupted import (its commit)."""
    ref_dump: dict[str, bytes]
    ref_export: dict[str, bytes]


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "curator", *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "curator", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has exited


def run_until(
    args: list[str], env: dict[str, str], cwd: Path, trigger: Callable[[float], bool]
) -> tuple[bool, set[int]]:
    """Start the CLI and SIGKILL it once `trigger(elapsed)` holds; (killed?, child pids seen)."""
    proc = cli(args, env, cwd)
    start = time.monotonic()
    children: set[int] = set()
    last_scan = 0.0
    try:
        while proc.poll() is None:
            now = time.monotonic()
            if now - last_scan > 0.05:
                children |= _children(proc.pid)
                last_scan = now
            if trigger(now - start):
                proc.kill()
                proc.wait()
                return True, children
            if now - start > 120:
                raise AssertionError(f"curator {' '.join(args)} did not finish in 120 s")
            time.sleep(POLL_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.communicate()
    assert proc.returncode == 0, f"curator {' '.join(args)} failed before it was killed"
    return False, children


def assert_children_exit(children: set[int]) -> None:
    """Parse workers (and their resource tracker) of a killed importer end by themselves."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in children):
            return
        time.sleep(0.05)
    raise AssertionError(f"processes left running after the kill: {sorted(p for p in children if not _gone(p))}")


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def records_digest(db_path: Path) -> tuple[int, str]:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT id, record FROM examples ORDER BY id").fetchall()
        fts = conn.execute("SELECT count(*) FROM examples_fts").fetchone()[0]
        audited = conn.execute("SELECT count(*) FROM audit WHERE action = 'import' AND entity = 'example'").fetchone()[
            0
        ]
        links = conn.execute("SELECT count(DISTINCT example_id) FROM example_clauses").fetchone()[0]
    finally:
        conn.close()
    assert fts == len(rows) and audited == len(rows) and links == len(rows)  # indexes and audit in step
    digest = hashlib.sha256("\n".join(f"{i}\t{r}" for i, r in rows).encode()).hexdigest()
    return len(rows), digest


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    root = tmp_path_factory.mktemp("crash")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURATOR_", "ANTHROPIC_", "PYTEST_"))}
    env |= {"CURATOR_HOME": str(root / "home"), "CURATOR_USER": "tester", "CURATOR_DB": str(root / "unused.db")}
    constitution = root / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    base = root / "base.db"
    with open_workspace(base) as ws:
        import_constitution(ws.db, constitution, actor="tester")
    data = root / "big.jsonl"
    with data.open("w", encoding="utf-8") as fh:
        for i, rec in enumerate(gen_records(N)):
            obj = rec.canonical()
            obj["source"] = {"type": "imported", "model": None, "prompt_sha256": None, "origin": f"{i}:" + "x" * PAD}
            fh.write(json.dumps(obj) + "\n")
    assert data.stat().st_size >= PARALLEL_MIN_BYTES
    # `import` lands records as drafts (an import is not a review), so the export takes drafts
    spec = write_spec(
        root,
        statuses=["draft"],
        budget_tokens=10**9,
        token_counter="estimate",
        dedup="exact",
        split={"eval_fraction": 0.1},
    )

    # the uninterrupted reference run, in-process (the same code the CLI runs, without its start-up)
    full = root / "full.db"
    shutil.copy(base, full)
    with open_workspace(full) as ws:
        report = import_file(ws.db, data, actor="tester", parallel=False)
        max_wal = file_size(Path(f"{full}-wal"))  # not truncated while the connection is open: its peak size
        dump(ws, root / "ref-dump")
        export_from_spec(ws.db, load_spec(spec), root / "ref-exports")
    assert len(report.imported) == N and max_wal > 1_000_000
    count, digest = records_digest(full)
    assert count == N
    return Workload(
        root, env, base, full, data, spec, digest, max_wal, tree(root / "ref-dump"), tree(root / "ref-exports" / "mix")
    )


def hidden_leftovers(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


# ---------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------


def _import_points(db: Path, work: Workload) -> dict[str, Callable[[float], bool]]:
    wal = Path(f"{db}-wal")
    base_size = file_size(work.base_db)
    opened: list[float] = []

    def parsing(elapsed: float) -> bool:  # the database is open and the parse workers are busy
        if not opened and Path(f"{db}-shm").exists():
            opened.append(elapsed)
        return bool(opened) and elapsed - opened[0] > 0.4

    return {
        "parsing": parsing,
        "wal-mostly-written": lambda _: file_size(wal) > work.max_wal * 0.7,
        # committed: the checkpoint copies the WAL into the database file before the process exits
        "checkpointing": lambda _: file_size(db) > base_size + 1_000_000,
    }


@pytest.mark.parametrize("point", ["parsing", "wal-mostly-written", "checkpointing"])
def test_killed_import_keeps_all_or_nothing(work: Workload, tmp_path: Path, point: str) -> None:
    db = tmp_path / "ws.db"
    shutil.copy(work.base_db, db)
    _, children = run_until(
        ["import", str(work.data), "--db", str(db)], work.env, tmp_path, _import_points(db, work)[point]
    )
    assert_children_exit(children)

    count, digest = records_digest(db)  # integrity_check, indexes and audit in step with the records
    assert count in (0, N), f"{point}: {count} of {N} records after the kill"
    rerun = run_cli(["import", str(work.data), "--db", str(db)], work.env, tmp_path)
    if count == 0:
        assert rerun.returncode == 0, rerun.stderr
        assert records_digest(db) == (N, work.records_digest)
    else:
        assert digest == work.records_digest
        # the file was imported whole: importing it again is refused in one line, and changes nothing
        assert rerun.returncode == 1
        assert rerun.stderr.count("\n") == 1 and "already exists" in rerun.stderr
        assert records_digest(db) == (N, work.records_digest)
    if point == "checkpointing":
        assert count == N  # the commit had happened: nothing of it may be lost


# ---------------------------------------------------------------------------
# Dump
# ---------------------------------------------------------------------------


def _aside(folder: Path, name: str) -> Path | None:
    for p in folder.glob(f".{name}.*.tmp"):
        return p
    return None


@pytest.mark.parametrize("point", ["aside-created", "examples-written", "audit-written", "manifest-written"])
def test_killed_dump_leaves_no_partial_folder(work: Workload, tmp_path: Path, point: str) -> None:
    db = tmp_path / "ws.db"
    shutil.copy(work.full_db, db)
    out = tmp_path / "dumps"
    out.mkdir()
    target = out / "workspace"

    def inside(name: str, size: int = 0) -> Callable[[float], bool]:
        def check(_: float) -> bool:
            aside = _aside(out, "workspace")
            return aside is not None and file_size(aside / name) > size

        return check

    points: dict[str, Callable[[float], bool]] = {
        "aside-created": lambda _: _aside(out, "workspace") is not None,
        "examples-written": inside("examples.jsonl", 1_000_000),
        "audit-written": inside("audit.jsonl", 1_000_000),
        "manifest-written": inside("manifest.json"),
    }
    run_until(["dump", str(target), "--db", str(db)], work.env, tmp_path, points[point])

    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert visible in ([], ["workspace"]), visible
    if visible:
        assert tree(target) == work.ref_dump  # complete, or not there at all
    assert all(name.split(".")[2].isdigit() for name in hidden_leftovers(out, "workspace"))
    assert records_digest(db)[1] == work.records_digest  # a dump only reads

    done = run_cli(["dump", str(target), "--db", str(db)], work.env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert tree(target) == work.ref_dump
    assert hidden_leftovers(out, "workspace") == []  # the killed run's aside folder was removed


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["aside-created", "second-format", "checksums"])
def test_killed_export_leaves_no_partial_folder(work: Workload, tmp_path: Path, point: str) -> None:
    db = tmp_path / "ws.db"
    shutil.copy(work.full_db, db)
    out = tmp_path / "exports"

    def inside(name: str) -> Callable[[float], bool]:
        def check(_: float) -> bool:
            aside = _aside(out, "mix") if out.exists() else None
            return aside is not None and (aside / name).exists()

        return check

    points: dict[str, Callable[[float], bool]] = {
        "aside-created": lambda _: out.exists() and _aside(out, "mix") is not None,
        "second-format": inside("openai/train.jsonl"),
        "checksums": inside("SHA256SUMS"),
    }
    args = ["export", "--spec", str(work.spec), "--out", str(out), "--db", str(db)]
    run_until(args, work.env, tmp_path, points[point])

    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []
    assert set(visible) <= {"mix", "mix.splits.lock.json"}, visible
    if "mix" in visible:
        assert tree(out / "mix") == work.ref_export  # complete, or not there at all
    assert all(name.split(".")[2].isdigit() for name in hidden_leftovers(out, "mix"))

    done = run_cli([*args, "--force"], work.env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert tree(out / "mix") == work.ref_export  # the same bytes as an uninterrupted run
    assert hidden_leftovers(out, "mix") == []


# ---------------------------------------------------------------------------
# What the next run does with a killed run's leftovers
# ---------------------------------------------------------------------------


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recover_removes_dead_leftovers_and_keeps_live_ones(tmp_path: Path, dead_pid: int) -> None:
    target = tmp_path / "mix"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    dead_tmp = tmp_path / f".mix.{dead_pid}.abc123.tmp"
    dead_tmp.mkdir()
    (dead_tmp / "half.jsonl").write_text("{")
    dead_file = tmp_path / f".mix.{dead_pid}.zz.tmp"
    dead_file.write_text("x")
    dead_old = tmp_path / f".mix.old-{dead_pid}"
    dead_old.mkdir()
    live_tmp = tmp_path / f".mix.{os.getppid()}.def456.tmp"  # a running process may be writing it
    live_tmp.mkdir()
    other = tmp_path / f".mixer.{dead_pid}.abc.tmp"  # another target's leftover
    other.mkdir()
    removed = recover(target)
    assert sorted(p.name for p in removed) == sorted([dead_tmp.name, dead_file.name, dead_old.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["mix", live_tmp.name, other.name])
    assert (target / "manifest.json").exists()


def test_folder_moved_aside_by_a_killed_run_is_restored(tmp_path: Path, dead_pid: int) -> None:
    """Killed between the two renames of a replace: the previous folder comes back."""
    old = tmp_path / f".mix.old-{dead_pid}"
    old.mkdir()
    (old / "manifest.json").write_text("previous")
    new = tmp_path / f".mix.{dead_pid}.abc.tmp"
    new.mkdir()
    recover(tmp_path / "mix")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix"]
    assert (tmp_path / "mix" / "manifest.json").read_text() == "previous"


def test_killed_load_leftovers_are_removed_by_the_next_load(
    tmp_path: Path, dead_pid: int, constitution_file: Path
) -> None:
    from curator.dumpload import load

    with open_workspace(tmp_path / "src.db") as ws:
        import_constitution(ws.db, constitution_file, actor="tester")
        dump(ws, tmp_path / "d")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path}/.new.db.loading-{dead_pid}{suffix}").write_bytes(b"half")
    load(tmp_path / "d", tmp_path / "new.db")
    assert not list(tmp_path.glob(".new.db.loading-*"))
    with open_workspace(tmp_path / "new.db") as ws:
        assert ws.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_unusable_dump_targets_are_refused(tmp_path: Path, constitution_file: Path) -> None:
    from curator.errors import CuratorError

    (tmp_path / "empty").mkdir()
    with open_workspace(tmp_path / "src.db") as ws:
        import_constitution(ws.db, constitution_file, actor="tester")
        before = sorted(p.name for p in tmp_path.iterdir())
        for bad in (tmp_path / "empty" / "..", Path("/"), Path(""), tmp_path / "a\x00b"):
            with pytest.raises(CuratorError, match="not a usable dump folder"):
                dump(ws, bad)
        assert sorted(p.name for p in tmp_path.iterdir()) == before
        assert not any((tmp_path / "empty").iterdir())
