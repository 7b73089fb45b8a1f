"""Concurrent annotators (README, Reliability): separate processes on one database file.

- Two processes update the same example from the same version: exactly one wins, the other gets
  a conflict, and the audit log keeps both attempts (the loser as a `conflict` event).
- Eight processes import and edit their own records for DURATION_S seconds: no 'database is
  locked' (or any other error) reaches them, and every write they were told succeeded is there.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from curator.constitution.versions import import_constitution
from curator.errors import ConflictError, StoreError
from curator.models import parse_example
from curator.review import decide, submit
from curator.store import examples
from curator.store.audit import all_events, events_for
from curator.store.db import Workspace, begin_immediate, open_workspace
from tests import concurrency_workers
from tests.conftest import story

DURATION_S = 20.0
"""How long (seconds) the eight processes of the soak test import and edit."""

WORKERS = 8

SPAWN = multiprocessing.get_context("spawn")  # what the importer uses too; no fork of a pytest process


@pytest.fixture
def db_file(tmp_path: Path, constitution_file: Path) -> Path:
    path = tmp_path / "shared.db"
    with open_workspace(path) as ws:
        import_constitution(ws.db, constitution_file, actor="lead")
    return path


def test_two_processes_update_one_example_one_wins_and_both_are_audited(db_file: Path) -> None:
    with open_workspace(db_file) as ws:
        ex = examples.create(ws.db, parse_example(story(id="ex_shared")), actor="lead")
    barrier = SPAWN.Barrier(2)
    results = SPAWN.Queue()
    procs = [
        SPAWN.Process(
            target=concurrency_workers.update_same_record,
            args=(str(db_file), ex.id, f"{who}'s title", who, barrier, results),
        )
        for who in ("ana", "ben")
    ]
    for p in procs:
        p.start()
    outcome = {}
    for _ in procs:
        actor, result, detail = results.get(timeout=120)
        outcome[actor] = (result, detail)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(r for r, _ in outcome.values()) == ["conflict", "won"], outcome
    [winner] = [a for a, (r, _) in outcome.items() if r == "won"]
    [loser] = [a for a, (r, _) in outcome.items() if r == "conflict"]
    assert "was changed by someone else (now version 2, you edited version 1)" in outcome[loser][1]

    with open_workspace(db_file) as ws:
        stored = examples.get(ws.db, ex.id)
        assert stored.version == 2 and stored.title == f"{winner}'s title"
        events = events_for(ws.db, "example", ex.id)
        assert [(e.action, e.actor) for e in events] == [("create", "lead"), ("update", winner), ("conflict", loser)]
        conflict = events[-1]
        assert conflict.after["title"] == f"{loser}'s title"  # nothing is lost: the attempt is kept
        assert conflict.after["version"] == 1  # the version it was based on
        assert conflict.before["title"] == f"{winner}'s title" and conflict.before["version"] == 2


def test_conflict_inside_an_outer_transaction_is_audited_after_its_rollback(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    submit(ws.db, ex.id, expected_version=1, actor="ana")
    with pytest.raises(ConflictError):
        decide(ws.db, ex.id, "reject", comment="too thin", expected_version=1, actor="ben")
    assert [e.action for e in events_for(ws.db, "example", ex.id)] == ["create", "update", "conflict"]
    assert ws.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0  # the review row was rolled back
    assert examples.get(ws.db, ex.id).status == "review"


def test_write_waits_for_a_lock_held_longer_than_sqlites_busy_timeout(db_file: Path) -> None:
    """A writer that outlasts one busy-timeout attempt is retried, not reported as 'database is locked'."""
    holder = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with open_workspace(db_file) as ws:
            ws.db.execute("PRAGMA busy_timeout = 50")  # one SQLite-level attempt gives up after 50 ms
            conn = ws.db.conn
            with pytest.raises(StoreError, match=r"shared\.db: database is locked: another process kept writing"):
                begin_immediate(conn, wait_s=0.2, where=str(db_file))
            start = time.monotonic()
            threading.Timer(0.5, holder.execute, args=("COMMIT",)).start()
            examples.create(ws.db, parse_example(story(id="ex_waited")), actor="ana")
            assert time.monotonic() - start >= 0.4
            assert examples.get(ws.db, "ex_waited").title == "The archive"
    finally:
        holder.close()


def test_eight_processes_import_and_edit_for_twenty_seconds(db_file: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=SPAWN) as pool:
        futures = [
            pool.submit(concurrency_workers.import_and_edit, str(db_file), w, DURATION_S, str(scratch))
            for w in range(WORKERS)
        ]
        reports = [f.result(timeout=DURATION_S + 120) for f in futures]
    errors = [f"worker {r['worker']}: {r['error']}" for r in reports if r["error"]]
    assert not errors, "\n".join(errors)

    with open_workspace(db_file) as ws:
        db = ws.db
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0]: (row[1], row[2]) for row in db.execute("SELECT id, version, title FROM examples")}
        acknowledged = [eid for r in reports for eid in r["imported"]]
        assert len(acknowledged) == len(set(acknowledged))
        assert set(acknowledged) == set(stored)  # every acknowledged import is there, nothing else
        for r in reports:
            for eid, (version, title) in r["edited"].items():
                assert stored[eid] == (version, title), eid  # the last confirmed edit is what is stored
        # one audit event per acknowledged write: an import per record, an update per confirmed edit
        counts: dict[str, int] = {}
        for e in all_events(db):
            if e.entity == "example":
                counts[e.action] = counts.get(e.action, 0) + 1
        edits = sum(r["ops"]["edit"] for r in reports)
        assert counts == {"import": len(acknowledged), "update": edits}
    ops = {k: sum(r["ops"][k] for r in reports) for k in ("import", "cli-import", "edit", "read")}
    assert all(n > 0 for n in ops.values()), ops
