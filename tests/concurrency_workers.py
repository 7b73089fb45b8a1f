"""Worker processes for tests/test_concurrency.py (a module of its own: spawned children import it).

Every worker opens the workspace itself, as a separate curator process would, and reports what it
wrote so the parent can check that every acknowledged write is present.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import time
import traceback
from pathlib import Path
from typing import Any


def update_same_record(db_path: str, example_id: str, title: str, actor: str, barrier: Any, results: Any) -> None:
    """Edit one record based on version 1, released together with the other worker by `barrier`."""
    from curator.errors import ConflictError
    from curator.store import examples
    from curator.store.db import open_workspace

    try:
        with open_workspace(db_path, create=False) as ws:
            ex = examples.get(ws.db, example_id)
            mine = ex.model_copy(update={"title": title})
            barrier.wait(timeout=60)
            try:
                saved = examples.update(ws.db, mine, expected_version=1, actor=actor)
            except ConflictError as err:
                results.put((actor, "conflict", str(err)))
            else:
                results.put((actor, "won", saved.version))
    except BaseException:
        results.put((actor, "crashed", traceback.format_exc()))


def _record(worker: int, batch: int, i: int) -> dict[str, Any]:
    return {
        "id": f"w{worker}-b{batch}-{i}",
        "kind": "story",
        "title": f"Worker {worker} batch {batch} record {i}",
        "text": f"Story {worker}.{batch}.{i}: the assistant kept the secret it found in archive {random.random()}.",
        "rationale": "Private information is never leverage.",
        "clauses": ["privacy.1"],
    }


def import_and_edit(db_path: str, worker: int, duration_s: float, scratch: str) -> dict[str, Any]:
    """Import small batches (core API and the CLI, in turn) and edit own records until `duration_s` passes.

    Returns every acknowledged write: ids imported and, per edited id, the last version and title
    the store confirmed. Any exception (a 'database is locked' included) is returned as `error`.
    """
    from curator import cli
    from curator.importer import import_file
    from curator.store import examples
    from curator.store.db import open_workspace

    rng = random.Random(worker)
    imported: list[str] = []
    edited: dict[str, list[Any]] = {}
    ops = {"import": 0, "cli-import": 0, "edit": 0, "read": 0}
    folder = Path(scratch)
    deadline = time.monotonic() + duration_s
    batch = 0
    try:
        with open_workspace(db_path, create=False) as ws:
            while time.monotonic() < deadline:
                op = rng.random()
                if op < 0.3 or not imported:
                    batch += 1
                    records = [_record(worker, batch, i) for i in range(rng.randint(1, 6))]
                    path = folder / f"w{worker}-b{batch}.jsonl"
                    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
                    if batch % 2:
                        report = import_file(ws.db, path, "curator", actor=f"w{worker}")
                        assert report.imported == [r["id"] for r in records], report
                        ops["import"] += 1
                    else:
                        out, err = io.StringIO(), io.StringIO()
                        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                            rc = cli.main(["import", str(path), "--db", db_path, "--user", f"w{worker}"])
                        if rc != 0 or err.getvalue():
                            raise AssertionError(f"curator import exited {rc}: {err.getvalue().strip()}")
                        ops["cli-import"] += 1
                    imported.extend(r["id"] for r in records)
                elif op < 0.8:
                    eid = rng.choice(imported)
                    ex = examples.get(ws.db, eid)
                    title = f"Worker {worker} edit {ops['edit']}"
                    saved = examples.update(
                        ws.db, ex.model_copy(update={"title": title}), expected_version=ex.version, actor=f"w{worker}"
                    )
                    edited[eid] = [saved.version, title]
                    ops["edit"] += 1
                else:
                    examples.query(ws.db, author="", limit=20, order="updated")
                    examples.count(ws.db, kind="story")
                    ops["read"] += 1
                time.sleep(rng.uniform(0.002, 0.02))  # annotators pause; keeps 8 processes off 2 cores' throats
    except BaseException:
        return {"worker": worker, "imported": imported, "edited": edited, "ops": ops, "error": traceback.format_exc()}
    return {"worker": worker, "imported": imported, "edited": edited, "ops": ops, "error": None}
