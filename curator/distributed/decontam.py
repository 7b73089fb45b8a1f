"""Decontamination on Ray Data: the local scan's per-record step on the workers, its corpus-wide
step on the driver.

- On the driver, the eval index is built from the snapshot's `eval_items.parquet` (the same items
  in the same order as the local engine reads from SQLite: the chosen sets, by set name then
  position) and broadcast once with `ray.put`.
- `map_batches` over the records (pyarrow batches): the live records' texts
  (`decontam.training_texts`, as the local pass reads them), then `EvalIndex.candidates`, the
  local engine's own function: the candidate (record, eval item) pairs and how many records hold
  each eval 8-gram. Nothing is shuffled.
- Back on the driver: the counts are summed, the candidates sorted by (record id, item) (the order
  one local pass finds them in) and `decontam.decide_scan` decides which 8-grams are common and
  which candidates are flags, exactly as `scan_workspace` does.

The result is the local engine's `ScanResult`, whatever the number of blocks, their order or the
number of workers.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from curator.dedup.decontam import (
    Candidate,
    DecontamConfig,
    EvalIndex,
    ScanResult,
    decide_scan,
    evalset_names,
    training_texts,
)
from curator.distributed.runtime import fetched, read_records
from curator.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

BATCH_ROWS = 2000
"""Records per `map_batches` call, as the local pass reads them: a few MB of record JSON."""

_COLUMNS = ["id", "deleted", "record"]


def eval_items(folder: Path, evalsets: list[str] | None) -> list[tuple[str, str, str]]:
    """(evalset, label, text) of the chosen eval sets in a snapshot, ordered by set name then position,
    as the local engine reads them from the workspace (and refused the same way when a name is unknown)."""
    import pyarrow.parquet as pq

    for name in ("evalsets.parquet", "eval_items.parquet"):
        if not (Path(folder) / name).is_file():
            raise UsageError(f"{folder}: snapshot has no {name}; write a new one (curator snapshot --parquet {folder})")
    known = pq.read_table(Path(folder) / "evalsets.parquet").column("name").to_pylist()
    names = set(evalset_names(known, evalsets))
    rows = pq.read_table(Path(folder) / "eval_items.parquet").to_pylist()
    chosen = sorted((r for r in rows if r["evalset"] in names), key=lambda r: (r["evalset"], r["idx"]))
    return [(r["evalset"], r["label"], r["text"]) for r in chosen]


def _scan_batch(batch: pa.Table, ref: Any) -> pa.Table:
    """One batch of records -> one row: its live records, its candidates (pickled) and its sparse
    8-gram counts (rows of `EvalIndex.grams` held by at least one record, and how many)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    index: EvalIndex = fetched(ref)  # once per worker process, not per batch
    live = batch.filter(pc.invert(batch.column("deleted")))
    records = training_texts(zip(live.column("id").to_pylist(), live.column("record").to_pylist(), strict=True))
    found, counts = index.candidates(records)
    rows = np.flatnonzero(counts)
    return pa.table(
        {
            "records": pa.array([len(records)], pa.int64()),
            "candidates": pa.array([pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)], pa.binary()),
            "gram_rows": pa.array([rows.tolist()], pa.list_(pa.int64())),
            "gram_counts": pa.array([counts[rows].tolist()], pa.list_(pa.int64())),
        }
    )


def broadcast(index: EvalIndex) -> Any:
    """The index in the object store, once per run: every batch's task reads this one copy."""
    import ray

    return ray.put(index)


def gather(records: ray.data.Dataset, index: EvalIndex, ref: Any) -> tuple[int, list[Candidate], npt.NDArray[np.int64]]:
    """The per-record step over a Dataset of snapshot records (columns id, deleted, record; any blocks,
    any order) with the broadcast `ref` of `index`: live records scanned, their candidates in record
    id then item order (numbered by record, as one local pass numbers them), the summed 8-gram counts."""
    scan: Any = _scan_batch  # takes the broadcast index as a second argument (`fn_args`)
    scanned = records.select_columns(_COLUMNS).map_batches(
        scan, batch_format="pyarrow", batch_size=BATCH_ROWS, fn_args=[ref]
    )
    checked = 0
    counts = np.zeros(index.grams.size, dtype=np.int64)
    candidates: list[Candidate] = []
    part: pa.Table
    for part in scanned.iter_batches(batch_format="pyarrow", batch_size=None):
        for row in part.to_pylist():
            checked += row["records"]
            candidates += pickle.loads(row["candidates"])
            np.add.at(counts, np.asarray(row["gram_rows"], dtype=np.int64), np.asarray(row["gram_counts"], np.int64))
    candidates.sort(key=lambda c: (c.id, c.item))
    rank: dict[str, int] = {}
    for c in candidates:
        c.order = rank.setdefault(c.id, len(rank))
    return checked, candidates, counts


def scan_dataset(records: ray.data.Dataset, index: EvalIndex, config: DecontamConfig) -> ScanResult:
    """`scan_workspace` over a Dataset of snapshot records: `gather`, then the local corpus-wide step."""
    return decide_scan(index, *gather(records, index, broadcast(index)), config)


def scan_snapshot(
    folder: Path, evalsets: list[str] | None, config: DecontamConfig | None = None, blocks: int | None = None
) -> tuple[ScanResult, dict[str, float]]:
    """`scan_workspace` over a snapshot on Ray (started by the caller): the same `ScanResult`, and the
    wall time of each stage in seconds (`index`: eval items read, indexed; `broadcast`: `ray.put`;
    `scan`: the records read and scanned on the workers, gathered on the driver; `decide`: the
    corpus-wide step)."""
    config = config or DecontamConfig()
    clock = time.perf_counter()
    records = read_records(folder, blocks=blocks)
    index = EvalIndex.build(eval_items(folder, evalsets))
    times = {"index": time.perf_counter() - clock}
    clock = time.perf_counter()
    ref = broadcast(index)
    times["broadcast"] = time.perf_counter() - clock
    clock = time.perf_counter()
    checked, candidates, counts = gather(records, index, ref)
    times["scan"] = time.perf_counter() - clock
    clock = time.perf_counter()
    result = decide_scan(index, checked, candidates, counts, config)
    times["decide"] = time.perf_counter() - clock
    return result, times
