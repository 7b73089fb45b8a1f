"""Closing a workspace while another thread waits to write: no crash, and nothing written."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from curator.errors import NotFoundError, StoreError
from curator.models import Example
from curator.store import examples
from curator.store.db import open_workspace


def test_close_while_a_thread_waits_for_the_write_lock(demo_db: Path) -> None:
    ws = open_workspace(demo_db)
    assert examples.count(ws.db) > 0  # the closing thread has its own connection too
    writer = sqlite3.connect(demo_db, isolation_level=None)  # another process's long import
    writer.execute("BEGIN IMMEDIATE")
    outcome: list[BaseException | str] = []
    waiting = threading.Event()

    def save() -> None:
        db = ws.db
        waiting.set()
        try:
            examples.create(db, Example(id="late", kind="story", title="t", text="x"), actor="ana")
            outcome.append("written")
        except BaseException as err:  # the test reports whatever it was
            outcome.append(err)

    thread = threading.Thread(target=save)
    thread.start()
    assert waiting.wait(5)
    try:
        ws.close()  # closing the waiting thread's connection under it used to crash the process
        thread.join(10)
        assert not thread.is_alive(), "the waiting write did not give up after close()"
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert len(outcome) == 1 and isinstance(outcome[0], StoreError), outcome
    assert "closed while waiting for the write lock" in str(outcome[0])
    with open_workspace(demo_db) as again, pytest.raises(NotFoundError):
        examples.get(again.db, "late")


def test_a_closed_workspace_opens_fresh_connections(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "w.db")
    ws.close()
    examples.create(ws.db, Example(id="after", kind="story", title="t", text="x"), actor="ana")
    assert examples.get(ws.db, "after").title == "t"
    ws.close()
