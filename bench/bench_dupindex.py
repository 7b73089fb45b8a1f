"""The duplicate panel at scale: how long until `check` can answer after the workspace opens (the
index built from the table, or mapped from its file), the file's size, and `check` latency with
and without the cap on look-alikes verified per check.

Corpora: the cached template-heavy benchmark workspaces (bench/datagen.py records, opened
read-only; their index files are written to a scratch folder) and the real-sentence corpus of
bench_dedup (composed from Model Spec and demo sentences, built here). Queries: half edited copies
of stored records (3% of words substituted), half new texts of the same kind, as an annotator
would type them.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

from bench import dedup_data as data
from bench.bench_dedup import _ms_stats, build_speed_corpus, make_queries
from bench.datagen import record
from bench.workspaces import DATA, VERSION, demo_constitution_workspace
from curator.dedup.config import DedupConfig
from curator.dedup.engine import DedupEngine
from curator.models import content_text
from curator.store.db import open_workspace

QUERIES = 400
UNCAPPED = 1_000_000


def _readonly(path: Path) -> Database:
    """The workspace opened read-only: the cached benchmark workspaces are shared."""
    return Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))


def _timed_load(load: Callable[[], DedupEngine]) -> tuple[DedupEngine, float, float]:
    """An engine, the seconds its load took and the Python memory peak during it (tracemalloc, MB)."""
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    engine = load()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return engine, seconds, peak / 1e6


def _ready(db: Database, index_file: Path, text: str) -> tuple[float, float, float]:
    """Wall seconds to open the index file, then to answer a first check, and the CPU seconds of both."""
    gc.collect()
    start, used = time.perf_counter(), time.thread_time()
    engine = DedupEngine.load(db, index_file=index_file)
    opened = time.perf_counter() - start
    assert engine.source == "file"
    engine.check_result(text, limit=8)
    return opened, time.perf_counter() - start - opened, time.thread_time() - used


def template_queries(db: Database, n: int, seed: int = 3) -> list[str]:
    """Half edited copies of stored records, half new generated records (the same template family)."""
    rng = random.Random(seed)
    total = db.execute("SELECT max(rowid) FROM examples").fetchone()[0]
    out: list[str] = []
    while len(out) < n:
        row = db.execute("SELECT record FROM examples WHERE rowid = ?", [rng.randrange(1, total + 1)]).fetchone()
        if row is None:
            continue
        words = content_text(json.loads(row[0])).split()
        out.append(" ".join(rng.choice(("alpha", "beta", "gamma")) if rng.random() < 0.03 else w for w in words))
        out.append(content_text(record(10**7 + len(out), rng, ["a", "b"])))
    return out


def measure_checks(engine: DedupEngine, texts: list[str], limit: int = 8) -> dict[str, Any]:
    """Latency of the whole `check_result` call (the panel's 8 rows), wall and this thread's CPU time
    (on a shared machine the wall time includes waiting for a core), and what the cap left unverified."""
    for t in texts[:5]:  # warm-up: first SQLite page reads, first rapidfuzz calls
        engine.check_result(t, limit=limit)
    times: list[float] = []
    cpu: list[float] = []
    unverified: list[int] = []
    for t in texts:
        start, used = time.perf_counter(), time.thread_time()
        result = engine.check_result(t, limit=limit)
        cpu.append(time.thread_time() - used)
        times.append(time.perf_counter() - start)
        unverified.append(result.unverified)
    u = np.asarray(unverified)
    return {
        "ms": _ms_stats(times),
        "cpu_ms": _ms_stats(cpu),
        "capped_checks": int(np.count_nonzero(u)),
        "unverified_mean": round(float(u.mean()), 1),
    }


def same_answers(engine: DedupEngine, texts: list[str], limit: int = 10) -> dict[str, int]:
    """How many checks return other matches with the cap than without it (and matches lost)."""
    config = engine.config
    capped = [engine.check(t, limit=limit) for t in texts]
    engine.config = config.model_copy(update={"check_candidates": UNCAPPED})
    whole = [engine.check(t, limit=limit) for t in texts]
    engine.config = config
    lost = sum(len({m.id for m in w} - {m.id for m in c}) for c, w in zip(capped, whole, strict=True))
    return {"checks": len(texts), "differing": sum(c != w for c, w in zip(capped, whole, strict=True)), "lost": lost}


def measure_workspace(db: Database, db_file: Path, index_file: Path, texts: list[str]) -> dict[str, Any]:
    """Load from the table (and write the file), open from the file, then checks with and without the cap."""
    index_file.unlink(missing_ok=True)
    out: dict[str, Any] = {"records": db.execute("SELECT count(*) FROM examples").fetchone()[0]}
    out["workspace_mb"] = round(db_file.stat().st_size / 1e6, 1)
    engine, seconds, peak = _timed_load(lambda: DedupEngine.load(db))
    out["table_load_s"] = round(seconds, 2)
    out["table_load_peak_mb"] = round(peak, 1)
    out["table_index_mb"] = round(engine.index.nbytes / 1e6, 1)
    start = time.perf_counter()
    out["file_mb"] = round(engine.write_index(index_file) / 1e6, 1)
    out["file_write_s"] = round(time.perf_counter() - start, 2)
    out["file_bytes_per_record"] = round(engine.file_bytes / max(out["records"], 1))
    del engine
    gc.collect()
    best = min(_ready(db, index_file, texts[0]) for _ in range(3))
    out["file_open_s"] = round(best[0], 3)
    out["first_check_s"] = round(best[1], 3)
    out["panel_ready_s"] = round(best[0] + best[1], 3)
    out["panel_ready_cpu_s"] = round(best[2], 3)
    engine, _, peak = _timed_load(lambda: DedupEngine.load(db, index_file=index_file))
    out["file_open_peak_mb"] = round(peak, 1)
    out["check"] = measure_checks(engine, texts)
    engine.config = engine.config.model_copy(update={"check_candidates": UNCAPPED})
    out["check_uncapped"] = measure_checks(engine, texts)
    engine.config = DedupConfig()
    out["same_answers"] = same_answers(engine, texts[:200])
    return out


def cached_workspace(n: int) -> Path:
    """The cached template-heavy workspace of `n` records, from `$CURATOR_BENCH_DATA` (another
    checkout's bench/data, only read) when it is there, else built in bench/data."""
    shared = Path(os.environ.get("CURATOR_BENCH_DATA", DATA)) / f"ws-demo-{n}-v{VERSION}.db"
    return shared if shared.is_file() else demo_constitution_workspace(n)


def jsonl_mb(db: Database) -> float:
    """The size of the records as JSON lines (what `curator list --format jsonl` would write, roughly)."""
    total = int(db.execute("SELECT sum(length(CAST(record AS BLOB))) + count(*) FROM examples").fetchone()[0])
    return round(total / 1e6, 1)


def run(quick: bool = False, sizes: tuple[int, ...] | None = None, scratch: Path | None = None) -> dict[str, Any]:
    """Template-heavy workspaces at `sizes` (default 100k; `--size 1000000`: 100k and 1M) and the
    real-sentence corpus (100k; 10k with `--quick`)."""
    sizes = sizes or ((10_000,) if quick else (100_000,))
    real = 10_000 if quick else 100_000
    folder = scratch or Path(os.environ.get("CURATOR_BENCH_SCRATCH", tempfile.gettempdir()))
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"load_before": os.getloadavg(), "template": {}, "real": {}}
    for n in sizes:
        path = cached_workspace(n)
        db = _readonly(path)
        texts = template_queries(db, QUERIES)
        result = measure_workspace(db, path, folder / f"{path.name}.dedup-index", texts)
        result["jsonl_mb"] = jsonl_mb(db)
        result["file_over_jsonl"] = round(result["file_mb"] / result["jsonl_mb"], 3)
        (folder / f"{path.name}.dedup-index").unlink(missing_ok=True)
        db.conn.close()
        out["template"][str(n)] = result
    rng = random.Random(4)
    texts_pool = data.spec_paragraphs() + data.demo_texts()
    composer = data.Composer(data.sentence_pool(texts_pool))
    vocab = data.vocabulary(texts_pool)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        ws = open_workspace(Path(tmp) / "real.db")
        try:
            corpus = build_speed_corpus(ws.db, real, rng, composer, vocab)
            queries = [q.text for q in make_queries(rng, corpus, composer, vocab, QUERIES)]
            ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            result = measure_workspace(ws.db, Path(tmp) / "real.db", Path(tmp) / "real.db.dedup-index", queries)
            result["jsonl_mb"] = jsonl_mb(ws.db)
            result["file_over_jsonl"] = round(result["file_mb"] / result["jsonl_mb"], 3)
            out["real"][str(real)] = result
        finally:
            ws.close()
    out["load_after"] = os.getloadavg()
    out["target"] = {"panel_ready_s": 1.0, "check_p99_ms": 5.0}
    return out


def merge(earlier: dict[str, Any], latest: dict[str, Any]) -> dict[str, Any]:
    """Every size measured so far, the latest run of each size winning."""
    merged = dict(latest)
    merged["template"] = {**earlier.get("template", {}), **latest["template"]}
    return merged


def markdown(r: dict[str, Any]) -> str:
    rows = []
    for corpus, runs in (("template-heavy", r["template"]), ("real-sentence", r["real"])):
        for n, m in sorted(runs.items(), key=lambda kv: int(kv[0])):
            ck, un, same = m["check"]["ms"], m["check_uncapped"]["ms"], m["same_answers"]
            cpu = m["check"].get("cpu_ms", {})
            rows.append(
                f"| {corpus} | {int(n):,} | {m['table_load_s']} s / {m['table_load_peak_mb']:.0f} MB | "
                f"{m['file_open_s']} s / {m['file_open_peak_mb']:.1f} MB | {m['panel_ready_s']} s"
                f"{f' ({cpu_ready} s CPU)' if (cpu_ready := m.get('panel_ready_cpu_s')) else ''} | "
                f"{m['file_mb']:.0f} MB ({m['file_over_jsonl']:.2f}x JSONL) | {ck['p50']} / {ck['p99']} "
                f"({cpu.get('p50', '?')} / {cpu.get('p99', '?')} CPU) | "
                f"{un['p50']} / {un['p99']} | {m['check']['capped_checks']} of {QUERIES} | "
                f"{same['differing']} of {same['checks']} |"
            )
    tm = r["target"]
    return f"""## Duplicate panel at scale

`python -m bench dupindex` (`--size 1000000` adds the 1M workspace). How long until the editor's
duplicate panel can answer after the workspace opens, and `check` latency for the panel's 8 rows.
*Table*: `DedupEngine.load` reading every stored signature and building the indexes in memory
(what the TUI did before the index file; a missing or stale file is now written from the table,
array by array, ~10 s and 270 MiB at 1M, and mapped), Python memory peak (tracemalloc). *File*:
mapping the index file beside the workspace (`<database>.dedup-index`), checking it (the CRC-32 of
every array read from the file, two at a time: at 1M most of the open; the TUI compares them after
the panel is ready) and applying the audit log since; *ready* = that plus the first check (wall, and CPU
time of the thread when measured: on the shared 2-core machine wall time includes waiting for a core).
`check` p50/p99 in ms (wall, then CPU) over {QUERIES} queries (half edited copies of stored
records, half new texts), with the cap of {DedupConfig().check_candidates} look-alikes verified per
check and without it; *capped* = checks that reached the cap; *differing* = checks (limit 10)
whose matches differ with the cap. Template-heavy: the cached bench/datagen.py workspaces (a
62-word vocabulary, every record a fill of one template family); real-sentence: bench_dedup's
corpus. Load average before/after: {r["load_before"][0]:.1f} / {r["load_after"][0]:.1f}.
Targets: ready <= {tm["panel_ready_s"]} s, `check` p99 <= {tm["check_p99_ms"]} ms.

| corpus | records | table load | file open | ready | file size | check p50 / p99 | without cap | capped | differing |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
