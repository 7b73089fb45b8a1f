"""Benchmark workspaces, built once and cached in bench/data/ (git-ignored)."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlite_utils import Database

from bench.datagen import records
from curator import paths
from curator.constitution.versions import import_constitution
from curator.models import Example
from curator.store import examples
from curator.store.db import open_workspace

DATA = Path(__file__).resolve().parent / "data"
VERSION = 3  # bump when the generator or the schema changes


def linked_records(n: int, clause_ids: list[str], rng: random.Random, *, seed: int) -> Iterator[Example]:
    """`n` generated records, each linked to 1-3 of `clause_ids`."""
    for rec in records(n, clause_ids, seed=seed):
        rec["clauses"] = rng.sample(clause_ids, rng.choice((1, 2, 3)))
        yield Example.model_validate(rec)


def insert_in_batches(db: Database, records: Iterable[Example], *, actor: str = "bench", size: int = 5000) -> None:
    """`insert_many` in batches (signatures, tokens and audit computed on write, no process pool).

    Generated records stand in for a reviewed corpus, so their statuses are kept (`keep_status`).
    """
    batch: list[Example] = []
    for ex in records:
        batch.append(ex)
        if len(batch) == size:
            examples.insert_many(db, batch, actor=actor, keep_status=True)
            batch = []
    if batch:
        examples.insert_many(db, batch, actor=actor, keep_status=True)


def demo_constitution_workspace(n: int) -> Path:
    """A workspace with the demo constitution and `n` generated records linked to 1-3 clauses."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"ws-demo-{n}-v{VERSION}.db"
    if path.exists():
        open_workspace(path).close()  # apply any newer migration now, not inside a timed first paint
        return path
    tmp = path.with_suffix(".building")
    for p in DATA.glob(tmp.name + "*"):
        p.unlink()
    with open_workspace(tmp) as ws:
        import_constitution(ws.db, paths.demo_constitution_file(), actor="bench")
        clause_ids = [r[0] for r in ws.db.execute("SELECT id FROM clauses")]
        rng = random.Random(11)
        insert_in_batches(ws.db, linked_records(n, clause_ids, rng, seed=7))
        ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.move(str(tmp), str(path))
    return path
