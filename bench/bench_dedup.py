"""Near-duplicates and decontamination: speed side by side with peers, and quality on labelled data.

Speed: one workspace of N records composed from real sentences (bench/dedup_data.py), 1% planted
near-duplicates; in the same process and run, curator's `DedupEngine` (load, check, clusters),
`decontaminate`, datasketch `MinHashLSH(threshold=0.5, num_perm=128)` over the same 5-gram
shingles, and rapidfuzz brute force (`process.extract`, `fuzz.ratio`) over the same texts.

Quality: a labelled workspace (originals from the demo corpus and the Model Spec fixtures, planted
edits of known kinds, hard negatives) measures recall per edit type, precision and false cluster
merges; a second one plants verbatim eval-example windows, eval text in every field an export
emits and lightly edited copies into training records for the decontamination recall, and
measures false flags on clean records and on short everyday dialogues. Targets are reported next
to the numbers, met or not.

`python -m bench.bench_dedup [--quick] [--markdown]` prints the JSON (or the BENCHMARKS.md section).
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import random
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH  # type: ignore[import-untyped]
from rapidfuzz import fuzz, process
from sqlite_utils import Database

from bench import dedup_data as data
from bench.workspaces import insert_in_batches
from curator.dedup.decontam import EvalIndex, add_evalset, decontaminate, scan_workspace
from curator.dedup.engine import DedupEngine
from curator.dedup.index import LshIndex
from curator.dedup.verify import Candidate, verify
from curator.minhash import BANDS, NUM_PERM, ROWS, shingle_set, signature
from curator.models import Example
from curator.store.db import open_workspace
from curator.textnorm import normalize

ACTOR = "bench"
EVALSET = "spec-evals"
BATCH = 5000

TARGETS: dict[str, Any] = {
    "check_p99_ms": 5.0,
    "load_s": 1.0,
    "index_mb": 150.0,
    "clusters_s": 30.0,
    "decontam_records_per_s": 10_000,
    "recall_up_to_10pct": 0.99,
    "recall_20pct": 0.9,
    "false_merges": 0,
}


@dataclass(frozen=True)
class Sizes:
    """How much work each mode does (full: 100k records, the target scale; quick: a one-minute smoke run)."""

    records: int
    queries: int
    brute_queries: int
    profile_queries: int
    cluster_budget_s: float
    cluster_subset: int
    originals: int
    clean_records: int


FULL = Sizes(100_000, 1000, 20, 60, 60.0, 5_000, 300, 2000)
QUICK = Sizes(10_000, 200, 6, 30, 20.0, 0, 100, 400)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _ms_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max in milliseconds (linear interpolation between samples)."""
    if not seconds:
        return {}
    ms = np.asarray(seconds) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99]).tolist()
    return {
        "p50": round(p50, 3),
        "p95": round(p95, 3),
        "p99": round(p99, 3),
        "mean": round(float(ms.mean()), 3),
        "max": round(float(ms.max()), 3),
    }


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB, from /proc (Linux)."""
    cur = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return round(cur, 1), round(peak, 1)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _document(eid: str, text: str) -> Example:
    return Example(id=eid, kind="document", title=" ".join(text.split()[:6]) or "untitled", text=text)


def _insert(db: Database, examples: Iterable[Example]) -> None:
    insert_in_batches(db, examples, actor=ACTOR, size=BATCH)


# ---------------------------------------------------------------------------
# Speed: the corpus
# ---------------------------------------------------------------------------


@dataclass
class SpeedCorpus:
    """What was written, kept for the peers and the queries: ids, content parts, planted pairs."""

    ids: list[str]
    parts: list[list[str]]
    planted: list[tuple[int, int]]  # (copy row, source row)

    def text(self, row: int) -> str:
        """The content as the engine sees it (Example.searchable_text joins parts with newlines)."""
        return "\n".join(self.parts[row])


def _speed_example(eid: str, kind: str, parts: list[str]) -> Example:
    title = " ".join(parts[0].split()[:6])
    if kind == "advice":
        messages = [{"role": "user", "content": parts[0]}, {"role": "assistant", "content": parts[1]}]
        return Example.model_validate({"id": eid, "kind": kind, "title": title, "messages": messages})
    return Example.model_validate({"id": eid, "kind": kind, "title": title, "text": parts[0]})


def _fresh_parts(rng: random.Random, composer: data.Composer, kind: str) -> list[str]:
    if kind == "advice":
        return [composer.compose(rng, 35), composer.compose(rng, 65)]
    return [composer.compose(rng, 100)]


def build_speed_corpus(
    db: Database, n: int, rng: random.Random, composer: data.Composer, vocab: list[str]
) -> SpeedCorpus:
    """n records, kinds story/document/advice in turn; ~1% are 5%-substituted copies of an earlier record."""
    kinds = ("story", "document", "advice")
    corpus = SpeedCorpus([], [], [])

    def examples() -> Iterable[Example]:
        for i in range(n):
            eid = f"ex_dd_{i:07d}"
            if i >= 100 and rng.random() < 0.01:
                j = rng.randrange(i)
                parts = [data.substitute(rng, p, 0.05, vocab) for p in corpus.parts[j]]
                kind = "advice" if len(parts) == 2 else kinds[i % 2]
                corpus.planted.append((i, j))
            else:
                kind = kinds[i % 3]
                parts = _fresh_parts(rng, composer, kind)
            corpus.ids.append(eid)
            corpus.parts.append(parts)
            yield _speed_example(eid, kind, parts)

    _insert(db, examples())
    return corpus


@dataclass(frozen=True)
class Query:
    text: str
    source: int | None  # the stored row it was edited from; None for a fresh composition


def make_queries(
    rng: random.Random, corpus: SpeedCorpus, composer: data.Composer, vocab: list[str], n: int
) -> list[Query]:
    """Half lightly edited copies (3% of words substituted) of stored records, half fresh; interleaved."""
    out: list[Query] = []
    for row in rng.sample(range(len(corpus.ids)), n // 2):
        edited = [data.substitute(rng, p, 0.03, vocab) for p in corpus.parts[row]]
        out.append(Query("\n".join(edited), row))
        kind = "advice" if rng.random() < 1 / 3 else "story"
        out.append(Query("\n".join(_fresh_parts(rng, composer, kind)), None))
    return out


# ---------------------------------------------------------------------------
# Speed: curator
# ---------------------------------------------------------------------------


def measure_load(db: Database) -> tuple[DedupEngine, dict[str, Any]]:
    """Best of 3 wall times, then one more load under tracemalloc for the memory peak."""
    times = []
    engine: DedupEngine | None = None
    for _ in range(3):
        engine = None
        gc.collect()
        start = time.perf_counter()
        engine = DedupEngine.load(db)
        times.append(time.perf_counter() - start)
    engine = None
    gc.collect()
    tracemalloc.start()
    engine = DedupEngine.load(db)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return engine, {
        "load_s_best_of_3": round(min(times), 3),
        "load_s_all": [round(t, 3) for t in times],
        "index_nbytes_mb": round(engine.index.nbytes / 1e6, 1),
        "tracemalloc_peak_mb": round(peak / 1e6, 1),
        "tracemalloc_retained_mb": round(current / 1e6, 1),
    }


def measure_check(engine: DedupEngine, corpus: SpeedCorpus, queries: list[Query]) -> dict[str, Any]:
    """Latency of the whole `check(text)` call, and whether edited copies find their source."""
    for q in queries[:5]:  # warm-up: first SQLite page reads, first rapidfuzz calls
        engine.check(q.text)
    relatives: dict[str, set[str]] = {}  # a planted copy and its source are expected matches of each other
    for copy, src in corpus.planted:
        a, b = corpus.ids[copy], corpus.ids[src]
        relatives.setdefault(a, set()).add(b)
        relatives.setdefault(b, set()).add(a)
    edited: list[float] = []
    fresh: list[float] = []
    found = matches = unexpected = 0
    for q in queries:
        start = time.perf_counter()
        result = engine.check(q.text)
        elapsed = time.perf_counter() - start
        matches += len(result)
        expected: set[str] = set()
        if q.source is None:
            fresh.append(elapsed)
        else:
            edited.append(elapsed)
            source = corpus.ids[q.source]
            found += any(m.id == source for m in result)
            expected = {source} | relatives.get(source, set())
            expected |= {r for e in list(expected) for r in relatives.get(e, set())}
        unexpected += sum(1 for m in result if m.id not in expected)
    return {
        "queries": len(queries),
        "all_ms": _ms_stats(edited + fresh),
        "edited_copies_ms": _ms_stats(edited),
        "fresh_texts_ms": _ms_stats(fresh),
        "edited_copies_source_found": round(found / max(len(edited), 1), 4),
        "mean_matches_per_query": round(matches / len(queries), 2),
        "unexpected_matches": unexpected,
    }


def measure_lsh_only(engine: DedupEngine, queries: list[Query]) -> dict[str, Any]:
    """Signature + band lookup only (unverified candidates): the like-for-like peer of datasketch's query."""
    times: list[float] = []
    counts: list[int] = []
    skipped: list[int] = []
    for q in queries:
        start = time.perf_counter()
        found, skip = engine.index.candidates(signature(q.text))
        times.append(time.perf_counter() - start)
        counts.append(len(found))
        skipped.append(skip)
    c = np.asarray(counts)
    return {
        "ms": _ms_stats(times),
        "candidates_per_query": {
            "mean": round(float(c.mean()), 1),
            "p50": float(np.percentile(c, 50)),
            "p99": float(np.percentile(c, 99)),
            "max": int(c.max()),
        },
        "template_bands_skipped_per_query": round(float(np.mean(skipped)), 3),
    }


_STAGES: dict[str, list[tuple[str, str]]] = {
    "check (whole call)": [("engine.py", "check")],
    "fetch + parse candidate records, cached by version (_stored_candidates)": [("engine.py", "_stored_candidates")],
    "  of which pydantic parse (_record_text)": [("engine.py", "_record_text")],
    "candidate shingle sets (Candidate())": [("verify.py", "__init__")],
    "verify() rules": [("verify.py", "verify")],
    "query signature (shingle_hashes + minhash)": [
        ("minhash.py", "shingle_hashes"),
        ("minhash.py", "signature_of_hashes"),
    ],
    "LSH band lookup + prefilter (_plausible_candidates)": [("engine.py", "_plausible_candidates")],
    "normalize (all calls)": [("textnorm.py", "normalize")],
    "SQLite execute (all calls)": [("sqlite_utils/db.py", "execute")],
}


def profile_check(engine: DedupEngine, queries: list[Query]) -> dict[str, Any]:
    """cProfile cumulative time per stage of `check`, per query (profiling inflates Python-heavy stages)."""
    prof = cProfile.Profile()
    prof.enable()
    for q in queries:
        engine.check(q.text)
    prof.disable()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for label, keys in _STAGES.items():
        total = 0.0
        for (filename, _, func), (_, _, _, cumtime, _) in raw.items():
            if any(filename.endswith(suffix) and func == name for suffix, name in keys):
                total += cumtime
        out[label] = round(total * 1000 / len(queries), 3)
    whole = out["check (whole call)"] or 1.0
    return {
        "queries": len(queries),
        "ms_per_query": out,
        "share_of_check": {k: round(v / whole, 3) for k, v in out.items()},
    }


def measure_clusters(engine: DedupEngine, planted: list[tuple[str, str]], budget_s: float) -> dict[str, Any]:
    """`clusters()` over the engine's index, stopped (via its `cancelled` hook) after `budget_s`.

    When stopped, the time to finish is projected linearly from the verification rate so far (an
    overestimate, since early batches miss the call's text cache most); candidate pairs are always
    exact (they are enumerated before verification starts). RSS is sampled at
    each progress call because verified texts stay cached for the whole call.
    """
    gc.collect()
    marks: list[tuple[float, int, int, float]] = []
    rss_before, _ = _rss_mib()
    start = time.perf_counter()
    deadline = start + budget_s

    verifying: list[bool] = []

    def progress(done: int, total: int) -> None:
        if not verifying:  # the LSH bands being paired come first, (band, BANDS): the rate is of verification
            if (done, total) == (BANDS, BANDS):
                verifying.append(True)
            return
        marks.append((time.perf_counter(), done, total, _rss_mib()[0]))

    def cancelled() -> bool:  # at least three batches, so that a rate can always be measured
        return time.perf_counter() > deadline and len(marks) >= 3

    report = engine.clusters(progress=progress, cancelled=cancelled)
    elapsed = time.perf_counter() - start
    total = report.candidate_pairs
    done = marks[-1][1] if marks else 0
    finished = done >= total
    out: dict[str, Any] = {
        "finished": finished,
        "budget_s": budget_s,
        "elapsed_s": round(elapsed, 2),
        "candidate_pairs": total,
        "pairs_verified": done,
        "templates": len(report.templates),
        "verified_pairs": report.verified_pairs,
        "clusters": len(report.clusters),
        "rss_before_mib": rss_before,
        "rss_after_mib": marks[-1][3] if marks else rss_before,
    }
    if len(marks) >= 2:
        (t0, d0, _, _), (t1, d1, _, _) = marks[0], marks[-1]
        rate = (d1 - d0) / max(t1 - t0, 1e-9)
        out["verify_pairs_per_s"] = round(rate)
        setup = marks[0][0] - start - d0 / rate  # enumeration of candidate pairs before the first batch
        out["setup_s"] = round(max(setup, 0.0), 2)
        if not finished:
            out["projected_total_s"] = round(elapsed + (total - done) / rate, 1)
    if finished:
        out["seconds"] = round(elapsed, 2)
        where = {eid: k for k, c in enumerate(report.clusters) for eid in c.ids}
        together = sum(1 for copy, src in planted if copy in where and where.get(copy) == where.get(src))
        out["planted_pairs"] = len(planted)
        out["planted_pairs_clustered"] = round(together / max(len(planted), 1), 4)
    return out


def measure_clusters_subset(engine: DedupEngine, corpus: SpeedCorpus, n: int, budget_s: float) -> dict[str, Any]:
    """`clusters()` over an engine indexing only the first n records: the scaling point next to the full run."""
    assert engine.index.signatures is not None  # built from the table
    index = LshIndex(
        list(engine.index.ids[:n]),
        engine.index.signatures[:n],
        engine.index.sizes[:n],
        template_bucket=engine.config.template_bucket,
    )
    sub = DedupEngine(engine.db, index, engine.config, set(engine.ignored))
    planted = [(corpus.ids[c], corpus.ids[s]) for c, s in corpus.planted if c < n]
    out = measure_clusters(sub, planted, budget_s)
    out["records"] = n
    return out


def measure_decontam(db: Database) -> dict[str, Any]:
    """Throughput of `decontaminate` against the 114 Model Spec eval-example files: in one process, and
    as the CLI runs it (two spawned processes from 20k records); both must flag the same."""
    items = add_evalset(db, EVALSET, data.EVAL_DIR, actor=ACTOR)
    start = time.perf_counter()
    checked_one, flags_one = decontaminate(db, workers=1)
    one = time.perf_counter() - start
    start = time.perf_counter()
    checked, flags = decontaminate(db, workers=None)  # what `curator decontam` does (2 processes at 20k+)
    elapsed = time.perf_counter() - start
    assert checked == checked_one and [f.to_json() for f in flags] == [f.to_json() for f in flags_one]
    return {
        "eval_items": items,
        "records_checked": checked,
        "one_process_seconds": round(one, 2),
        "one_process_records_per_s": round(checked / one),
        "seconds": round(elapsed, 2),
        "records_per_s": round(checked / elapsed),
        "flags": len(flags),
        "records_flagged": len({f.id for f in flags}),
        "flags_by_rule": dict(Counter(f.rule for f in flags)),
    }


# ---------------------------------------------------------------------------
# Speed: peers
# ---------------------------------------------------------------------------


_DS_TEMPLATE = MinHash(num_perm=NUM_PERM)


def _ds_minhash(text: str) -> MinHash:
    """datasketch MinHash over the same shingles curator uses: normalised character 5-grams.

    The permutations are generated once and reused (datasketch's own advice for many MinHashes;
    generating them is most of the cost of a fresh `MinHash(num_perm=128)`).
    """
    m = MinHash(num_perm=NUM_PERM, permutations=_DS_TEMPLATE.permutations, scheme=_DS_TEMPLATE.scheme)
    m.update_batch([s.encode("utf-8") for s in shingle_set(normalize(text))])
    return m


def measure_datasketch(corpus: SpeedCorpus, queries: list[Query]) -> dict[str, Any]:
    """Build MinHashLSH(threshold=0.5, num_perm=128) over the corpus, then query it (no verification)."""
    lsh = MinHashLSH(threshold=0.5, num_perm=NUM_PERM)
    hashing = inserting = 0.0
    for row, eid in enumerate(corpus.ids):
        t0 = time.perf_counter()
        m = _ds_minhash(corpus.text(row))
        t1 = time.perf_counter()
        lsh.insert(eid, m)
        inserting += time.perf_counter() - t1
        hashing += t1 - t0
    with_hash: list[float] = []
    query_only: list[float] = []
    counts: list[int] = []
    found = edited = 0
    for q in queries:
        t0 = time.perf_counter()
        m = _ds_minhash(q.text)
        t1 = time.perf_counter()
        result = lsh.query(m)
        t2 = time.perf_counter()
        with_hash.append(t2 - t0)
        query_only.append(t2 - t1)
        counts.append(len(result))
        if q.source is not None:
            edited += 1
            found += corpus.ids[q.source] in result
    bands, rows = lsh.b, lsh.r
    del lsh
    gc.collect()
    return {
        "peer": f"datasketch MinHashLSH(threshold=0.5, num_perm=128): {bands} bands x {rows} rows, unverified",
        "bands": bands,
        "rows": rows,
        "build_s": round(hashing + inserting, 2),
        "build_minhash_s": round(hashing, 2),
        "build_insert_s": round(inserting, 2),
        "query_incl_minhash_ms": _ms_stats(with_hash),
        "query_only_ms": _ms_stats(query_only),
        "mean_candidates_per_query": round(float(np.mean(counts)), 1),
        "edited_copies_source_found": round(found / max(edited, 1), 4),
    }


def measure_bruteforce(corpus: SpeedCorpus, queries: list[Query]) -> dict[str, Any]:
    """rapidfuzz `process.extract(..., scorer=fuzz.ratio, limit=10)` over every normalised text."""
    start = time.perf_counter()
    norms = [normalize(corpus.text(row)) for row in range(len(corpus.ids))]
    prep = time.perf_counter() - start
    times: list[float] = []
    found = edited = 0
    for q in queries:
        t0 = time.perf_counter()
        best = process.extract(normalize(q.text), norms, scorer=fuzz.ratio, limit=10)
        times.append(time.perf_counter() - t0)
        if q.source is not None:
            edited += 1
            found += bool(best) and best[0][2] == q.source
    return {
        "peer": "rapidfuzz process.extract(scorer=fuzz.ratio, limit=10) over all normalised texts",
        "queries": len(queries),
        "normalise_corpus_s": round(prep, 2),
        "query_ms": _ms_stats(times),
        "edited_copies_source_top1": round(found / max(edited, 1), 4),
    }


def run_speed(sizes: Sizes, seed: int = 4) -> dict[str, Any]:
    rng = random.Random(seed)
    texts = data.spec_paragraphs() + data.demo_texts()
    pool = data.sentence_pool(texts)
    composer = data.Composer(pool)
    vocab = data.vocabulary(texts)
    out: dict[str, Any] = {"records": sizes.records, "sentence_pool": len(pool)}
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "speed.db")
        try:
            db = ws.db
            start = time.perf_counter()
            corpus = build_speed_corpus(db, sizes.records, rng, composer, vocab)
            insert_s = time.perf_counter() - start
            out["planted_near_duplicates"] = len(corpus.planted)
            out["insert_s"] = round(insert_s, 2)
            out["insert_records_per_s"] = round(sizes.records / insert_s)
            out["mean_words_per_record"] = round(
                float(np.mean([len(corpus.text(r).split()) for r in range(0, sizes.records, 97)])), 1
            )
            queries = make_queries(rng, corpus, composer, vocab, sizes.queries)
            engine, out["load"] = measure_load(db)
            out["check"] = measure_check(engine, corpus, queries)
            out["check_profile"] = profile_check(engine, queries[: sizes.profile_queries])
            out["lsh_lookup_only"] = measure_lsh_only(engine, queries)
            if sizes.cluster_subset:
                out["clusters_subset"] = measure_clusters_subset(engine, corpus, sizes.cluster_subset, 120.0)
            planted = [(corpus.ids[c], corpus.ids[s]) for c, s in corpus.planted]
            out["clusters"] = measure_clusters(engine, planted, sizes.cluster_budget_s)
            out["clusters"]["records"] = sizes.records
            del engine
            gc.collect()
            out["decontamination"] = measure_decontam(db)
        finally:
            ws.close()
    out["datasketch"] = measure_datasketch(corpus, queries)
    out["bruteforce"] = measure_bruteforce(corpus, queries[: sizes.brute_queries])
    check, ds, bf = out["check"]["all_ms"], out["datasketch"], out["bruteforce"]["query_ms"]
    out["ratios"] = {
        "check_over_datasketch_incl_minhash_p50": _ratio(check["p50"], ds["query_incl_minhash_ms"]["p50"]),
        "check_over_datasketch_incl_minhash_p99": _ratio(check["p99"], ds["query_incl_minhash_ms"]["p99"]),
        "lsh_lookup_over_datasketch_incl_minhash_p50": _ratio(
            out["lsh_lookup_only"]["ms"]["p50"], ds["query_incl_minhash_ms"]["p50"]
        ),
        "check_over_bruteforce_p50": _ratio(check["p50"], bf["p50"]),
        "check_over_bruteforce_p99": _ratio(check["p99"], bf["p99"]),
    }
    return out


# ---------------------------------------------------------------------------
# Quality: the labelled set
# ---------------------------------------------------------------------------

EDIT_TYPES = (
    "sub02",
    "sub05",
    "sub10",
    "sub20",
    "mixed",
    "reordered",
    "contained",
    "truncated",
    "excerpt30",
    "excerpt60",
    "excerpt120",
)
SUB_RATES = {"sub02": 0.02, "sub05": 0.05, "sub10": 0.10, "sub20": 0.20}
EXCERPTS = {"excerpt30": 30, "excerpt60": 60, "excerpt120": 120}
"""Window sizes (words) taken verbatim from an original and embedded in unrelated composed text."""


@dataclass(frozen=True)
class Labelled:
    """A record of the labelled set: what it is and which originals it derives from."""

    id: str
    text: str
    kind: str  # "original", an edit type, "neg-template" or "neg-opening"
    sources: frozenset[str]  # originals it derives from (itself for originals and negatives)
    family: str  # originals joined by a mixed pair share a family; clusters must not span families


def _word_ngrams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    w = normalize(text).split()
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def pick_originals(rng: random.Random, limit: int) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Up to `limit` texts of >= 80 words, pairwise sharing no word 8-gram (so truly distinct).

    Candidates: demo record texts and Model Spec prose (consecutive paragraphs joined to >= 80
    words), and the eval-example files of >= 80 words; shuffled, accepted greedily.
    """
    candidates: list[tuple[str, str]] = []
    for text in data.demo_texts():
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        candidates.extend(("demo", c) for c in data.chunk_paragraphs(paragraphs))
    candidates.extend(("model-spec", c) for c in data.chunk_paragraphs(data.spec_paragraphs()))
    candidates.extend(("eval-example", t) for _, t in data.eval_items() if len(t.split()) >= 80)
    rng.shuffle(candidates)
    seen: set[tuple[str, ...]] = set()
    chosen: list[tuple[str, str]] = []
    for source, text in candidates:
        grams = _word_ngrams(text)
        if len(text.split()) < 80 or grams & seen:
            continue
        seen |= grams
        chosen.append((source, text))
        if len(chosen) == limit:
            break
    if len(chosen) % 2:  # mixed texts pair originals two by two
        chosen.pop()
    return chosen, dict(Counter(s for s, _ in chosen))


TEMPLATES = (
    "Dear {name}, thank you for your order {code} placed on {date}. We are writing to let you know that your "
    "{item} has left our warehouse and should arrive within five working days. {content} If anything is wrong "
    "with the delivery, reply to this email and our support team will get back to you within one business day "
    "(quote {code}). Kind regards, the {shop} customer care team.",
    "Support ticket {code} opened by {name} on {date}. Category: {item}. Priority: normal. Summary of the issue "
    "as reported by the customer: {content} The agent on duty confirmed the account details and attached the "
    "conversation log. Status: waiting for a response from the second-line team at {shop}.",
    "Minutes of the weekly {shop} planning meeting held on {date}. Present: {name} and the product team. "
    "Apologies: none. The chair opened the meeting and reviewed the actions from last week. Discussion about "
    "the {item} project: {content} Actions were assigned as noted above. The next meeting will be held at the "
    "usual time in the main conference room. Reference {code}.",
    "Incident report {code}. Reported by {name} on {date}. Affected system: {item}. Severity: medium. "
    "Description of what happened, in the reporter's words: {content} Immediate actions taken: the service was "
    "monitored and the on-call engineer at {shop} was informed. A full review will follow within five days.",
    "Hello {name}, we would love to hear what you think of the {item} you bought from {shop} on {date}. "
    "Your feedback helps other customers and helps us improve. Here is the review you started writing: "
    "{content} To finish and publish it, open the link in this email and use your order number {code}. "
    "Thank you for shopping with us.",
)
OPENINGS = (
    "Thank you for reaching out to us today; we have read your message carefully and want to give you a "
    "complete and honest answer below.",
    "Before we begin, please note that everything in this document reflects our current understanding and may "
    "be revised as we learn more.",
    "This summary was prepared for the review board and is meant to be read alongside the full case file that "
    "accompanies it.",
    "As part of our commitment to transparency, we publish a short note like this one whenever an important "
    "decision is made.",
    "The following account is shared with the permission of everyone involved, and some details have been "
    "changed to protect their privacy.",
    "Welcome back to the weekly digest, where we collect the questions our readers asked most often and answer "
    "them in one place.",
)
NAMES = ("Ana Ruiz", "Ben Okafor", "Chen Wei", "Dara Novak", "Eli Haddad", "Femi Adeyemi", "Greta Lind", "Hugo Marin")
ITEMS = ("blue kettle", "standing desk", "billing dashboard", "payroll export", "garden hose", "mobile app",
         "noise-cancelling headphones", "data pipeline")  # fmt: skip
SHOPS = ("Northwind", "Acme", "Bluebird", "Lumen", "Harbor", "Kestrel")


class _SentenceSource:
    """Sentences handed out without replacement (reshuffled only if exhausted), so negatives share none."""

    def __init__(self, rng: random.Random, sentences: list[str]) -> None:
        self.rng = rng
        self.sentences = sentences[:]
        self.rng.shuffle(self.sentences)
        self.pos = 0
        self.reused = False

    def compose(self, words: int) -> str:
        out: list[str] = []
        n = 0
        while n < words:
            if self.pos == len(self.sentences):
                self.rng.shuffle(self.sentences)
                self.pos = 0
                self.reused = True
            s = self.sentences[self.pos]
            self.pos += 1
            out.append(s)
            n += len(s.split())
        return " ".join(out)


def _embed(source: _SentenceSource, window: str) -> str:
    """~150 composed words with `window` at the sentence boundary nearest the middle."""
    sentences = data.split_sentences(source.compose(150))
    half = len(sentences) // 2
    return " ".join([*sentences[:half], window, *sentences[half:]])


def build_labelled_set(rng: random.Random, n_originals: int) -> tuple[list[Labelled], dict[str, Any]]:
    """Originals, eleven planted edits of each (excerpts only of long enough originals), and two kinds of
    hard negatives."""
    originals, by_source = pick_originals(rng, n_originals)
    vocab = data.vocabulary([t for _, t in originals])
    out: list[Labelled] = []
    orig_ids = [f"q_o_{k:04d}" for k in range(len(originals))]
    texts = [t for _, t in originals]
    for k, (eid, text) in enumerate(zip(orig_ids, texts, strict=True)):
        out.append(Labelled(eid, text, "original", frozenset([eid]), f"f{k // 2}"))
    for k, (eid, text) in enumerate(zip(orig_ids, texts, strict=True)):
        fam = f"f{k // 2}"
        words = text.split()
        for edit, rate in SUB_RATES.items():
            out.append(Labelled(f"{eid}_{edit}", data.substitute(rng, text, rate, vocab), edit, frozenset([eid]), fam))
        partner = k + 1 if k % 2 == 0 else k - 1  # mixed texts join originals two by two (one family)
        pwords = texts[partner].split()
        mixed = " ".join(words[: len(words) // 2] + pwords[len(pwords) // 2 :])
        out.append(Labelled(f"{eid}_mixed", mixed, "mixed", frozenset([eid, orig_ids[partner]]), fam))
        out.append(Labelled(f"{eid}_reordered", data.reorder_sentences(rng, text), "reordered", frozenset([eid]), fam))
        pad = round(1.5 * len(words))
        before = data.babble(rng, pad // 2, vocab)
        after = data.babble(rng, pad - pad // 2, vocab)
        out.append(Labelled(f"{eid}_contained", f"{before} {text} {after}", "contained", frozenset([eid]), fam))
        out.append(Labelled(f"{eid}_truncated", " ".join(words[: len(words) // 2]), "truncated", frozenset([eid]), fam))
    # hard negatives: content from sentences that occur in no original
    joined = "\n".join(normalize(t) for t in texts)
    pool = [s for s in data.sentence_pool(data.spec_paragraphs() + data.demo_texts()) if normalize(s) not in joined]
    # and none sharing a word 13-gram with an original or an earlier sentence: the Model Spec repeats
    # long passages in slightly different sentences, which would make two "unrelated" negatives share
    # a verbatim run of 30+ words (a real excerpt)
    taken = set().union(*(_word_ngrams(t, 13) for t in texts))
    distinct_pool: list[str] = []
    for sentence in pool:
        grams = _word_ngrams(sentence, 13)
        if not grams & taken:
            distinct_pool.append(sentence)
            taken |= grams
    pool = distinct_pool
    source = _SentenceSource(rng, pool)
    fills = 8
    for t, template in enumerate(TEMPLATES):
        for f in range(fills):
            eid = f"q_nt_{t}_{f}"
            text = template.format(
                name=rng.choice(NAMES),
                code=f"{rng.randrange(10**6, 10**7)}",
                date=f"{rng.randrange(1, 29)} {rng.choice(('March', 'June', 'October'))} 2025",
                item=rng.choice(ITEMS),
                shop=rng.choice(SHOPS),
                content=source.compose(55),
            )
            out.append(Labelled(eid, text, "neg-template", frozenset([eid]), eid))
    for o, opening in enumerate(OPENINGS):
        for f in range(6):
            eid = f"q_no_{o}_{f}"
            out.append(Labelled(eid, f"{opening} {source.compose(80)}", "neg-opening", frozenset([eid]), eid))
    # excerpts: a window of N consecutive (normalised) words of an original inside ~150 words of
    # composed text; host sentences are under 10 words and drawn without replacement (reshuffled when
    # used up), so two unrelated records share a 30-word run only if four sentences in a row coincide
    # (check_labels refuses the set if they do)
    host = _SentenceSource(rng, [s for s in pool if len(normalize(s).split()) < 10])
    for k, (eid, text) in enumerate(zip(orig_ids, texts, strict=True)):
        words = text.split()
        for edit, size in EXCERPTS.items():
            if len(normalize(text).split()) < size:
                continue  # a window as long as the whole original is the "contained" edit
            at = rng.randrange(max(1, len(words) - size + 1))
            end = at
            while end < len(words) and len(normalize(" ".join(words[at:end])).split()) < size:
                end += 1
            if len(normalize(" ".join(words[at:end])).split()) < size:  # ran off the end: take the last words
                end = len(words)
                at = end
                while len(normalize(" ".join(words[at:end])).split()) < size:
                    at -= 1
            window = " ".join(words[at:end])
            embedded = _embed(host, window)
            out.append(Labelled(f"{eid}_{edit}", embedded, edit, frozenset([eid]), f"f{k // 2}"))
    check_labels(out)
    info = {
        "originals": len(originals),
        "originals_by_source": by_source,
        "planted": sum(1 for r in out if r.kind in EDIT_TYPES),
        "hard_negatives": sum(1 for r in out if r.kind.startswith("neg-")),
        "negative_sentence_pool": len(pool),
        "negative_sentences_reused": source.reused,
        "template_share_of_words": round(
            float(np.mean([1 - 55 / max(len(r.text.split()), 1) for r in out if r.kind == "neg-template"])), 2
        ),
    }
    return out, info


LABEL_RUN = 30
"""Two records of different families must not share this many consecutive words: that is an excerpt."""


def check_labels(records: list[Labelled]) -> None:
    """Refuse a labelled set whose negatives are really positives (a shared run of LABEL_RUN words).

    Template fills, hosts and negatives come from shared sentence pools; a run of 30 words they
    happen to share is a real excerpt by the engine's definition, and counting its match as false
    would measure the generator, not the engine.
    """
    seen: dict[tuple[str, ...], Labelled] = {}
    for r in records:
        words = normalize(r.text).split()
        for i in range(len(words) - LABEL_RUN + 1):
            gram = tuple(words[i : i + LABEL_RUN])
            other = seen.setdefault(gram, r)
            if other.family != r.family and not (other.sources & r.sources):
                raise RuntimeError(f"labelled set: {other.id} and {r.id} share {' '.join(gram)!r}")


def _jaccard(a: Candidate, b: Candidate) -> float:
    """Exact Jaccard of the two candidates' distinct (hashed) 5-gram sets."""
    common = int(np.intersect1d(a.shingles, b.shingles, assume_unique=True).size)
    union = a.shingles.size + b.shingles.size - common
    return common / union if union else 0.0


def _stages(engine: DedupEngine, text: str, source_id: str, source_text: str) -> tuple[bool, bool, float]:
    """Where a pair is lost: (source among the LSH candidates, verify() passes on its own, exact 5-gram Jaccard)."""
    candidates, _ = engine.index.candidates(signature(text))
    a, b = Candidate(normalize(text)), Candidate(normalize(source_text))
    jaccard = _jaccard(a, b)
    return source_id in candidates, verify(a, b, engine.config) is not None, jaccard


def closest_negatives(records: list[Labelled]) -> dict[str, dict[str, float]]:
    """Per hard-negative kind, the highest score any same-group pair reaches on each verify() rule's measure.

    Shows the margin to the thresholds (Jaccard 0.5, token_set_ratio 90, ratio 85), not just pass/fail.
    """
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for r in records:
        if r.kind.startswith("neg-"):
            groups.setdefault((r.kind, r.id.rsplit("_", 1)[0]), []).append(Candidate(normalize(r.text)))
    out: dict[str, dict[str, float]] = {}
    for (kind, _), members in groups.items():
        best = out.setdefault(kind, {"jaccard": 0.0, "token_set_ratio": 0.0, "ratio": 0.0})
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                jaccard = _jaccard(a, b)
                best["jaccard"] = round(max(best["jaccard"], jaccard), 3)
                best["token_set_ratio"] = max(best["token_set_ratio"], fuzz.token_set_ratio(a.normalized, b.normalized))
                best["ratio"] = max(best["ratio"], fuzz.ratio(a.normalized, b.normalized))
    return {k: {m: round(v, 3) for m, v in best.items()} for k, best in out.items()}


def run_quality(sizes: Sizes, seed: int = 5) -> dict[str, Any]:
    """Recall per edit type (check and clusters), precision of check, false cluster merges."""
    rng = random.Random(seed)
    records, info = build_labelled_set(rng, sizes.originals)
    by_id = {r.id: r for r in records}
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "quality.db")
        try:
            db = ws.db
            _insert(db, (_document(r.id, r.text) for r in records))
            engine = DedupEngine.load(db)
            found: dict[str, list[bool]] = {t: [] for t in EDIT_TYPES}
            found_top10: dict[str, list[bool]] = {t: [] for t in EDIT_TYPES}
            stages: dict[str, list[tuple[bool, bool, float]]] = {t: [] for t in EDIT_TYPES}
            true_matches = false_matches = 0
            false_by: Counter[str] = Counter()
            false_examples: list[dict[str, Any]] = []
            negative_hits = 0
            for rec in records:
                matches = engine.check(rec.text, exclude_id=rec.id, limit=10_000)
                rank = {m.id: i for i, m in enumerate(matches)}
                if rec.kind in EDIT_TYPES:
                    for src in sorted(rec.sources):
                        found[rec.kind].append(src in rank)
                        found_top10[rec.kind].append(rank.get(src, 10**9) < 10)
                        stages[rec.kind].append(_stages(engine, rec.text, src, by_id[src].text))
                for m in matches:
                    other = by_id[m.id]
                    if rec.sources & other.sources:
                        true_matches += 1
                        continue
                    false_matches += 1
                    false_by[f"{rec.kind} ~ {other.kind} ({m.reason})"] += 1
                    negative_hits += rec.kind.startswith("neg-")
                    if len(false_examples) < 8:
                        false_examples.append({"query": rec.id, "match": m.id, "score": m.score, "reason": m.reason})
            start = time.perf_counter()
            report = engine.clusters()
            cluster_s = time.perf_counter() - start
        finally:
            ws.close()
    where = {eid: k for k, c in enumerate(report.clusters) for eid in c.ids}
    clustered: dict[str, list[bool]] = {t: [] for t in EDIT_TYPES}
    for rec in records:
        if rec.kind in EDIT_TYPES:
            for src in sorted(rec.sources):
                clustered[rec.kind].append(rec.id in where and where.get(src) == where[rec.id])
    false_merges = []
    for c in report.clusters:
        families = {by_id[eid].family for eid in c.ids}
        if len(families) > 1:
            kinds = Counter(by_id[eid].kind for eid in c.ids)
            false_merges.append({"size": len(c.ids), "families": len(families), "kinds": dict(kinds)})
    total = true_matches + false_matches
    per_type = {
        t: {
            "pairs": len(found[t]),
            "check_recall": round(float(np.mean(found[t])), 4),
            "check_recall_top10": round(float(np.mean(found_top10[t])), 4),
            "cluster_recall": round(float(np.mean(clustered[t])), 4),
            "lsh_candidate_rate": round(float(np.mean([a for a, _, _ in stages[t]])), 4),
            "verify_pass_rate": round(float(np.mean([b for _, b, _ in stages[t]])), 4),
            "jaccard_median": round(float(np.median([j for _, _, j in stages[t]])), 3),
        }
        for t in EDIT_TYPES
    }
    return {
        **info,
        "records": len(records),
        "per_edit_type": per_type,
        "precision": round(true_matches / total, 4) if total else None,
        "matches_returned": total,
        "false_matches": false_matches,
        "false_matches_by_kind": dict(false_by.most_common()),
        "false_match_examples": false_examples,
        "hard_negative_queries_with_false_matches": negative_hits,
        "clusters": len(report.clusters),
        "cluster_s": round(cluster_s, 2),
        "hard_negative_closest_pairs": closest_negatives(records),
        "false_merges": len(false_merges),
        "false_merge_examples": false_merges[:8],
        "template_buckets": len(report.templates),
    }


# ---------------------------------------------------------------------------
# Decontamination quality
# ---------------------------------------------------------------------------

WINDOWS = (20, 60, 200)


def _host_with_window(rng: random.Random, composer: data.Composer, window: str) -> str:
    """A ~150-word composed record with `window` inserted at the sentence boundary nearest the middle."""
    sentences = data.split_sentences(composer.compose(rng, 150))
    half = len(sentences) // 2
    return " ".join([*sentences[:half], window, *sentences[half:]])


EVERYDAY_USER = (
    "I don't know what to do.",
    "I want to know this.",
    "Can you help me with something?",
    "I'm not sure if this is right.",
    "What do you think I should do?",
    "Is it okay if I ask you a question?",
    "I need some advice, please.",
    "Do you know what I mean?",
    "I don't know if I can do this.",
    "Sorry, I didn't get that.",
    "Could you explain that again?",
    "Thanks, that helps.",
)
EVERYDAY_ASSISTANT = (
    "Thanks, that helps.",
    "I'm happy to help with that.",
    "That's a good question.",
    "I don't know for sure, but here is what I think.",
    "Let me know if you have any other questions.",
    "It depends on what you want to do.",
    "I'm sorry to hear that.",
    "Here is what I would do.",
    "You don't have to decide right now.",
    "If you want to know more, just ask.",
    "I can't be certain, but it sounds reasonable.",
    "Take your time and think it through.",
)
BEFORE_DIALOGUES = {
    "records": 2000,
    "per_1000": 8.0,
    "per_1000_by_rule": {"ngram13": 0.0, "ngram8_coverage": 0.0, "char5_containment": 8.0},
    "one_sentence_per_1000": 48.0,
    "example_spans": [" i don t know what to do there a", "er questions example ", "on the assistant s"],
}
"""The same corpora under the rules before verified runs and the common-text discount (any shared
13-gram; coverage; character containment alone), measured once on this benchmark (seed 6)."""
EDIT_RATE = 0.05
EVAL_EXCERPTS = (30, 60, 120)
DIALOGUES = 2000


def _short_sentences(texts: list[str], max_words: int = 18) -> list[str]:
    return [s for s in data.sentence_pool(texts, min_words=4, max_words=max_words)]


def _turn(rng: random.Random, everyday: Sequence[str], pool: list[str], words: int) -> str:
    """A chat turn of about `words` words: everyday phrases and short real sentences, mixed."""
    out: list[str] = []
    n = 0
    while n < words:
        s = rng.choice(everyday) if rng.random() < 0.5 else rng.choice(pool)
        out.append(s)
        n += len(s.split())
    return " ".join(out)


def _dialogue(
    eid: str, user: str, assistant: str, *, system: str | None = None, rationale: str | None = None
) -> Example:
    return Example(
        id=eid,
        kind="advice",
        title=" ".join(user.split()[:6]) or "untitled",
        system=system,
        messages=[
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant, "rationale": rationale},
        ],
    )


def _tool_record(eid: str, description: str, user: str, assistant: str) -> Example:
    return Example(
        id=eid,
        kind="agentic",
        title=" ".join(user.split()[:6]) or "untitled",
        tools=[{"name": "lookup_notes", "description": description, "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
    )


def _window(rng: random.Random, words: list[str], size: int) -> str:
    start = rng.randrange(len(words) - size + 1)
    return " ".join(words[start : start + size])


def _planted_cases(
    rng: random.Random, items: list[tuple[str, str]], demo: data.Composer, chat: list[str], vocab: list[str]
) -> list[tuple[Example, str, str, str]]:
    """(record, case, eval item, field the flag must name) for eval text planted in each place an export emits."""
    out: list[tuple[Example, str, str, str]] = []
    for name, text in items:
        words = text.split()
        stem = Path(name).stem
        user = _turn(rng, EVERYDAY_USER, chat, 15)
        reply = _turn(rng, EVERYDAY_ASSISTANT, chat, 25)
        if len(words) >= 40:
            out.append(
                (_dialogue(f"p_sys_{stem}", user, reply, system=_window(rng, words, 40)), "system", name, "system")
            )
            out.append(
                (
                    _dialogue(f"p_rat_{stem}", user, reply, rationale=_window(rng, words, 40)),
                    "rationale",
                    name,
                    "messages[1].rationale",
                )
            )
            out.append(
                (
                    _tool_record(f"p_tool_{stem}", _window(rng, words, 40), user, reply),
                    "tool",
                    name,
                    "tools[0].description",
                )
            )
        for size in EVAL_EXCERPTS:
            if len(words) >= size:
                host = data.split_sentences(demo.compose(rng, 300))
                half = len(host) // 2
                body = " ".join([*host[:half], _window(rng, words, size), *host[half:]])
                out.append((_document(f"p_x{size}_{stem}", body), f"excerpt{size}", name, "text"))
        if len(words) >= 60:
            edited = data.substitute(rng, _window(rng, words, 60), EDIT_RATE, vocab)
            out.append((_document(f"p_edit_{stem}", _host_with_window(rng, demo, edited)), "edited60", name, "text"))
    return out


def _dialogue_corpus(rng: random.Random, n: int, chat: list[str]) -> list[Example]:
    """Short user/assistant exchanges (20-60 words) in everyday phrasing: what real chat data looks like."""
    out = []
    for k in range(n):
        total = rng.randint(20, 60)
        user_words = max(4, total // 3)
        out.append(
            _dialogue(
                f"c_chat_{k:05d}",
                _turn(rng, EVERYDAY_USER, chat, user_words),
                _turn(rng, EVERYDAY_ASSISTANT, chat, total - user_words),
            )
        )
    return out


def run_decontam_quality(sizes: Sizes, seed: int = 6) -> dict[str, Any]:
    """Recall for eval text planted in every field and as excerpts and edited copies; false flags on clean
    composed records and on short everyday dialogues."""
    rng = random.Random(seed)
    items = data.eval_items()
    demo = data.Composer(data.sentence_pool(data.demo_texts()))
    spec = data.Composer(data.sentence_pool(data.spec_paragraphs()))
    records: list[tuple[str, str, str, str]] = []  # (id, text, kind, eval item or clean source)
    for name, text in items:
        words = text.split()
        for size in WINDOWS:
            if len(words) < size:
                continue
            for k in range(2):
                start = rng.randrange(len(words) - size + 1)
                window = " ".join(words[start : start + size])
                eid = f"d_w{size}_{Path(name).stem}_{k}"
                records.append((eid, _host_with_window(rng, demo, window), f"window{size}", name))
    n_clean = sizes.clean_records
    for k in range(n_clean // 2):
        records.append((f"d_demo_{k:05d}", demo.compose(rng, 150), "clean", "demo corpus sentences"))
        records.append((f"d_babble_{k:05d}", data.babble(rng, 150), "clean", "datagen-style text"))
    for k in range(n_clean // 4):
        records.append((f"d_spec_{k:05d}", spec.compose(rng, 150), "spec-prose", "Model Spec prose sentences"))
    for k, sentence in enumerate(rng.sample(demo.sentences, min(n_clean // 4, len(demo.sentences)))):
        records.append((f"d_short_{k:05d}", sentence, "short", "one demo-corpus sentence (4-40 words)"))
    chat = _short_sentences(data.demo_texts()) + _short_sentences(data.spec_paragraphs())
    vocab = data.vocabulary(data.demo_texts())
    placed = _planted_cases(rng, items, demo, chat, vocab)
    dialogues = _dialogue_corpus(rng, DIALOGUES if sizes.clean_records >= 2000 else 500, chat)
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "decontam.db")
        try:
            db = ws.db
            _insert(db, (_document(eid, text) for eid, text, _, _ in records))
            _insert(db, (ex for ex, _, _, _ in placed))
            _insert(db, dialogues)
            add_evalset(db, EVALSET, data.EVAL_DIR, actor=ACTOR)
            scanned = scan_workspace(db)
            flags, discount = scanned.flags, scanned.summary()
        finally:
            ws.close()
    flags_of: dict[str, list[Any]] = {}
    for f in flags:
        flags_of.setdefault(f.id, []).append(f)
    cases: dict[str, Any] = {}
    for case in sorted({c for _, c, _, _ in placed}, key=lambda c: (c[:4], len(c), c)):
        mine = [(ex.id, item, fld) for ex, c, item, fld in placed if c == case]
        right = [[f for f in flags_of.get(eid, []) if f.item == item] for eid, item, _ in mine]
        cases[case] = {
            "planted": len(mine),
            "recall": round(sum(bool(r) for r in right) / len(mine), 4),
            "field_named": round(
                sum(any(f.field == fld for f in r) for r, (_, _, fld) in zip(right, mine, strict=True)) / len(mine), 4
            ),
            "rules": dict(Counter(r[0].rule for r in right if r)),
        }
    chat_ids = [ex.id for ex in dialogues]
    chat_flags = [f for eid in chat_ids for f in flags_of.get(eid, [])]
    chat_flagged = [eid for eid in chat_ids if eid in flags_of]
    dialogue_false = {
        "records": len(chat_ids),
        "mean_words": round(
            float(
                np.mean(
                    [
                        len(" ".join(m.content for m in ex.messages or [] if isinstance(m.content, str)).split())
                        for ex in dialogues
                    ]
                )
            ),
            1,
        ),
        "flagged": len(chat_flagged),
        "per_1000": round(1000 * len(chat_flagged) / len(chat_ids), 2),
        "per_1000_by_rule": {
            rule: round(1000 * len({f.id for f in chat_flags if f.rule == rule}) / len(chat_ids), 2)
            for rule in ("ngram13", "ngram8_coverage", "char5_containment")
        },
        "example_spans": [flags_of[eid][0].span[:120] for eid in chat_flagged[:5]],
    }
    windows: dict[str, Any] = {}
    for size in WINDOWS:
        planted = [(eid, label) for eid, _, kind, label in records if kind == f"window{size}"]
        hit = [any(f.item == label for f in flags_of.get(eid, [])) for eid, label in planted]
        rules = Counter(f.rule for eid, label in planted for f in flags_of.get(eid, []) if f.item == label)
        other = sum(1 for eid, label in planted for f in flags_of.get(eid, []) if f.item != label)
        windows[str(size)] = {
            "planted": len(planted),
            "recall": round(float(np.mean(hit)), 4) if hit else None,
            "rules": dict(rules),
            "flags_for_other_items": other,
        }
    clean: dict[str, Any] = {}
    for kind in ("clean", "spec-prose", "short"):
        for src in sorted({label for _, _, k, label in records if k == kind}):
            ids = [eid for eid, _, k, label in records if k == kind and label == src]
            flagged = [eid for eid in ids if eid in flags_of]
            clean[src] = {
                "records": len(ids),
                "flagged": len(flagged),
                "rate": round(len(flagged) / len(ids), 4),
                "rules": dict(Counter(f.rule for eid in flagged for f in flags_of[eid])),
                "example_spans": [flags_of[eid][0].span[:120] for eid in flagged[:3]],
            }
    clean_ids = [eid for eid, _, k, _ in records if k == "clean"]
    return {
        "eval_items": len(items),
        "windows": windows,
        "clean": clean,
        "false_flags": sum(1 for eid in clean_ids if eid in flags_of),
        "clean_records": len(clean_ids),
        "false_flag_rate": round(sum(1 for eid in clean_ids if eid in flags_of) / len(clean_ids), 4),
        "planted": cases,
        "dialogues": dialogue_false,
        "dialogues_before": BEFORE_DIALOGUES,
        "discount": discount,
        "source_overlap": source_overlap(items),
    }


def source_overlap(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Which raw sources already overlap the eval items (the Model Spec quotes its own examples)."""
    index = EvalIndex.build([(EVALSET, name, text) for name, text in items])
    out: dict[str, Any] = {}
    sources = {
        "model spec prose paragraphs (fences dropped)": data.spec_paragraphs(),
        "model spec fenced blocks": _fenced_blocks(),
        "demo corpus texts": data.demo_texts(),
    }
    for label, texts in sources.items():
        flags = index.scan([(str(i), t) for i, t in enumerate(texts)])
        flagged = sorted({int(f.id) for f in flags})
        out[label] = {
            "texts": len(texts),
            "flagged": len(flagged),
            "rules": dict(Counter(f.rule for f in flags)),
            "flagged_median_words": float(np.median([len(texts[i].split()) for i in flagged])) if flagged else None,
        }
    return out


def _fenced_blocks() -> list[str]:
    blocks: list[str] = []
    for f in data.SPEC_FILES:
        current: list[str] | None = None
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith(("~~~", "```")):
                if current is None:
                    current = []
                else:
                    blocks.append("\n".join(current))
                    current = None
            elif current is not None:
                current.append(line)
    return [b for b in blocks if b.strip()]


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    """Every measurement of this benchmark, JSON-serialisable; full mode <= 6 min, quick <= 1 min on 2 cores."""
    sizes = QUICK if quick else FULL
    start = time.perf_counter()
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "targets": TARGETS}
    results["lsh"] = {"bands": BANDS, "rows": ROWS, "num_perm": NUM_PERM}
    sections: dict[str, float] = {}
    for name, fn in (
        ("speed", run_speed),
        ("quality", run_quality),
        ("decontamination_quality", run_decontam_quality),
    ):
        t0 = time.perf_counter()
        results[name] = fn(sizes)
        sections[name] = round(time.perf_counter() - t0, 1)
    results["section_s"] = sections
    results["wall_s"] = round(time.perf_counter() - start, 1)
    return results


def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


EDIT_NAMES = {
    "sub02": "2% of words substituted",
    "sub05": "5% of words substituted",
    "sub10": "10% of words substituted",
    "sub20": "20% of words substituted",
    "mixed": "two texts mixed (half + half)",
    "reordered": "sentences reordered",
    "contained": "contained in a 2.5x longer text",
    "truncated": "truncated to the first half",
    "excerpt30": "30-word excerpt inside a longer record",
    "excerpt60": "60-word excerpt inside a longer record",
    "excerpt120": "120-word excerpt inside a longer record",
}
EDIT_GOALS = {
    "sub02": 0.99,
    "sub05": 0.99,
    "sub10": 0.99,
    "sub20": 0.9,
    "mixed": 0.9,
    "contained": 0.95,
    "excerpt30": 0.95,
    "excerpt60": 0.95,
    "excerpt120": 0.95,
}


def _cluster_cell(cl: dict[str, Any]) -> str:
    if cl["finished"]:
        return f"{cl['seconds']} s ({cl['clusters']:,} clusters, {cl['candidate_pairs']:,} candidate pairs)"
    return (
        f"stopped after {cl['elapsed_s']} s with {cl['pairs_verified']:,} of {cl['candidate_pairs']:,} candidate "
        f"pairs verified ({cl.get('verify_pairs_per_s', 0):,} pairs/s): projected {cl.get('projected_total_s', '?')} s"
    )


def _speed_markdown(sp: dict[str, Any], t: dict[str, Any]) -> list[str]:
    ld, ck, cl, dc = sp["load"], sp["check"]["all_ms"], sp["clusters"], sp["decontamination"]
    ds, bf, lk, ra = sp["datasketch"], sp["bruteforce"], sp["lsh_lookup_only"], sp["ratios"]
    n = sp["records"]
    dsq, dso, bfq = ds["query_incl_minhash_ms"], ds["query_only_ms"], bf["query_ms"]
    cluster_ok: bool | None = None
    if cl["finished"]:
        cluster_ok = cl["seconds"] <= t["clusters_s"]
    elif "projected_total_s" in cl:
        cluster_ok = cl["projected_total_s"] <= t["clusters_s"]
    elif cl["elapsed_s"] > t["clusters_s"]:
        cluster_ok = False
    lines = [
        f"### Speed ({n:,} records, same run)",
        "",
        "| query latency (ms) | p50 | p95 | p99 |",
        "|---|---:|---:|---:|",
        f"| curator `check` (verified matches) | {ck['p50']} | {ck['p95']} | {ck['p99']} |",
        f"| curator LSH lookup only (signature + bands) | {lk['ms']['p50']} | {lk['ms']['p95']} | {lk['ms']['p99']} |",
        f"| datasketch query incl. MinHash | {dsq['p50']} | {dsq['p95']} | {dsq['p99']} |",
        f"| datasketch query only | {dso['p50']} | {dso['p95']} | {dso['p99']} |",
        f"| rapidfuzz brute force ({bf['queries']} queries) | {bfq['p50']} | {bfq['p95']} | {bfq['p99']} |",
        "",
        f"Ratios, curator `check` / peer: datasketch (incl. MinHash) {ra['check_over_datasketch_incl_minhash_p50']}x "
        f"at p50 and {ra['check_over_datasketch_incl_minhash_p99']}x at p99; brute force "
        f"{ra['check_over_bruteforce_p50']}x at p50 and {ra['check_over_bruteforce_p99']}x at p99. LSH candidates "
        f"per query: curator ({BANDS} bands x {ROWS} rows) mean {lk['candidates_per_query']['mean']}, p99 "
        f"{lk['candidates_per_query']['p99']:.0f}; datasketch ({ds['bands']} bands x {ds['rows']} rows) mean "
        f"{ds['mean_candidates_per_query']}. Edited copies whose source was found: curator "
        f"{sp['check']['edited_copies_source_found']:.1%}, datasketch (candidates) "
        f"{ds['edited_copies_source_found']:.1%}, brute force (top 1) {bf['edited_copies_source_top1']:.1%}.",
        "",
        "| measure | result | target | met |",
        "|---|---|---:|:---:|",
        f"| `check` p99 | {ck['p99']} ms | <= {t['check_p99_ms']} ms | {_yes(ck['p99'] <= t['check_p99_ms'])} |",
        f"| `DedupEngine.load` (best of 3) | {ld['load_s_best_of_3']} s | <= {t['load_s']} s "
        f"| {_yes(ld['load_s_best_of_3'] <= t['load_s'])} |",
        f"| index memory held after load (tracemalloc; arrays alone: {ld['index_nbytes_mb']} MB) "
        f"| {ld['tracemalloc_retained_mb']} MB | <= {t['index_mb']} MB "
        f"| {_yes(ld['tracemalloc_retained_mb'] <= t['index_mb'])} |",
        f"| memory peak during load (tracemalloc) | {ld['tracemalloc_peak_mb']} MB | <= {t['index_mb']} MB "
        f"| {_yes(ld['tracemalloc_peak_mb'] <= t['index_mb'])} |",
        f"| `clusters()` on all {n:,} records, one core | {_cluster_cell(cl)} | <= {t['clusters_s']} s "
        f"| {_yes(cluster_ok)} |",
    ]
    if "clusters_subset" in sp:
        sub = sp["clusters_subset"]
        lines.append(f"| `clusters()` on the first {sub['records']:,} records | {_cluster_cell(sub)} | | |")
    lines += [
        f"| `curator decontam` vs {dc['eval_items']} eval items (2 processes) | {dc['records_per_s']:,} records/s "
        f"| >= {t['decontam_records_per_s']:,} | {_yes(dc['records_per_s'] >= t['decontam_records_per_s'])} |",
        f"| `decontaminate(workers=1)`, one process | {dc.get('one_process_records_per_s', 0):,} records/s | | |",
        f"| datasketch build (MinHash + insert) | {ds['build_s']} s ({ds['build_minhash_s']} s hashing) | | |",
        "",
        f"Resident memory during `clusters()` on all records: {cl['rss_before_mib']:,.0f} MiB before, "
        f"{cl['rss_after_mib']:,.0f} MiB after verifying {cl['pairs_verified']:,} pairs (verified texts stay "
        "cached for the whole call).",
        "",
    ]
    prof = sp["check_profile"]
    lines += [
        f"Where `check` spends its time (cProfile, {prof['queries']} of the queries; profiling inflates "
        "Python-heavy stages):",
        "",
        "| stage | ms/query | share |",
        "|---|---:|---:|",
        *(
            f"| {label.strip()} | {ms} | {prof['share_of_check'][label]:.0%} |"
            for label, ms in prof["ms_per_query"].items()
        ),
        "",
    ]
    return lines


def _quality_markdown(q: dict[str, Any]) -> list[str]:
    lines = [
        "### Quality (labelled set)",
        "",
        f"{q['originals']} distinct originals of >= 80 words (pairwise no shared word 8-gram: "
        + ", ".join(f"{v} {k}" for k, v in q["originals_by_source"].items())
        + f"), {q['planted']:,} planted near-duplicates (each edit once per original) and {q['hard_negatives']} "
        "hard negatives (five fill-in templates, each filled eight times with different content of similar length, "
        f"the template being {q['template_share_of_words']:.0%} of the words; six boilerplate opening sentences "
        "each followed by six different texts), in one workspace. Check recall: `check(planted, "
        "exclude_id=planted)` returns the original (a mixed text counts once for each of its two originals); "
        "cluster recall: planted and original in one cluster of `clusters()`. The last three columns say where "
        "pairs are lost: the original among the LSH candidates, `verify()` passing on the pair by itself, and "
        "the pair's exact 5-gram Jaccard. Excerpt edits embed a window of N consecutive (normalised) words "
        "of an original in ~150 words of composed text (sentences under 10 words drawn without replacement, "
        "from a pool sharing no word 13-gram with any original or negative; the set refuses itself if two "
        "unrelated records share a 30-word run); they and the mixed, contained and truncated edits "
        "are found mostly through the excerpt index, not LSH.",
        "",
        "| edit | pairs | check recall | cluster recall | target | LSH candidate | verify passes | Jaccard (median) |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for edit, row in q["per_edit_type"].items():
        goal = EDIT_GOALS.get(edit)
        target = "" if goal is None else f">= {goal}" + ("" if row["check_recall"] >= goal else " **missed**")
        lines.append(
            f"| {EDIT_NAMES[edit]} | {row['pairs']} | {row['check_recall']:.3f} | {row['cluster_recall']:.3f} "
            f"| {target} | {row['lsh_candidate_rate']:.3f} | {row['verify_pass_rate']:.3f} | {row['jaccard_median']} |"
        )
    lines += [
        "",
        f"Precision of `check`, every record of the set as a query: **{q['precision']}** ({q['false_matches']} false "
        f"of {q['matches_returned']:,} matches). False cluster merges (a cluster spanning unrelated originals or "
        f"hard negatives): **{q['false_merges']}** (target 0) among {q['clusters']} clusters. Closest hard-negative "
        "pairs (thresholds: Jaccard 0.5, token_set_ratio 90, ratio 85): "
        + "; ".join(
            f"{kind} Jaccard {c['jaccard']}, token_set_ratio {c['token_set_ratio']:.0f}, ratio {c['ratio']:.0f}"
            for kind, c in q["hard_negative_closest_pairs"].items()
        )
        + ".",
        "",
    ]
    return lines


def _decontam_markdown(dq: dict[str, Any]) -> list[str]:
    overlap = "; ".join(
        f"{k}: {v['flagged']} of {v['texts']} flagged ("
        + (", ".join(f"{r} {c}" for r, c in v["rules"].items()) or "none")
        + (f", median {v['flagged_median_words']:.0f} words" if v["flagged_median_words"] is not None else "")
        + ")"
        for k, v in dq["source_overlap"].items()
    )
    return [
        "### Decontamination quality",
        "",
        f"Verbatim windows of 20, 60 and 200 words from the {dq['eval_items']} eval-example files (two per file "
        "and size, where the file is long enough) inserted mid-way into ~150-word records composed from "
        "demo-corpus sentences; the eval folder registered as an eval set, then `decontaminate`. Recall: the record "
        "is flagged for the file it came from.",
        "",
        "| window | planted | recall | rules that fired for the right item | flags for other items |",
        "|---|---:|---:|---|---:|",
        *(
            f"| {size} words | {w['planted']} | {w['recall']} | "
            + ", ".join(f"{k} {v}" for k, v in w["rules"].items())
            + f" | {w['flags_for_other_items']} |"
            for size, w in dq["windows"].items()
        ),
        "",
        "| records that quote no eval item | records | flagged | rules |",
        "|---|---:|---:|---|",
        *(
            f"| {src} | {c['records']} | {c['flagged']} | {', '.join(f'{k} {v}' for k, v in c['rules'].items())} |"
            for src, c in dq["clean"].items()
        ),
        "",
        f"False flags on the {dq['clean_records']:,} clean ~150-word records (demo-corpus and datagen-style text): "
        f"**{dq['false_flags']}**. Raw-source overlap with the eval items, for the record: {overlap}.",
        "",
        *_planted_markdown(dq),
    ]


def _planted_markdown(dq: dict[str, Any]) -> list[str]:
    """Eval text planted in every field and as excerpts/edited copies; false flags on short dialogues."""
    if "planted" not in dq:
        return []
    d, before, disc = dq["dialogues"], dq["dialogues_before"], dq["discount"]
    rules = ("ngram13", "ngram8_coverage", "char5_containment")
    one = dq["clean"].get("one demo-corpus sentence (4-40 words)", {})
    top = "; ".join(f'"{t["text"]}" ({t["records"]})' for t in disc["top_common"][:3]) or "none"
    return [
        "Eval text planted where an export emits it: a 40-word window as the `system` prompt, as an assistant "
        "turn's `rationale` and as a tool's `description` (short everyday dialogues otherwise); 30/60/120-word "
        f"excerpts inside ~300-word documents; 60-word windows with {EDIT_RATE:.0%} of words substituted. Recall: "
        "flagged for the right item; field: the flag names the planted field.",
        "",
        "| planted | records | recall | field named | rules |",
        "|---|---:|---:|---:|---|",
        *(
            f"| {case} | {c['planted']} | {c['recall']} | {c['field_named']} | "
            + ", ".join(f"{k} {v}" for k, v in c["rules"].items())
            + " |"
            for case, c in dq["planted"].items()
        ),
        "",
        f"False flags on {d['records']:,} short user/assistant exchanges (mean {d['mean_words']:.0f} words; everyday "
        "phrases mixed with demo-corpus and Model Spec sentences) against the eval items, per 1,000 records:",
        "",
        "| rules | all | " + " | ".join(rules) + " | one-sentence records |",
        "|---|---:|" + "---:|" * len(rules) + "---:|",
        f"| before (raw rules) | {before['per_1000']} | "
        + " | ".join(str(before["per_1000_by_rule"][r]) for r in rules)
        + f" | {before['one_sentence_per_1000']} |",
        f"| now (verified runs, common text discounted) | {d['per_1000']} | "
        + " | ".join(str(d["per_1000_by_rule"][r]) for r in rules)
        + f" | {round(1000 * one.get('flagged', 0) / max(one.get('records', 1), 1), 1)} |",
        "",
        f"Discount in this run: {disc['common_ngrams']} eval 8-grams common (held by >= "
        f"{disc['common_threshold_records']} of {disc['training_records']:,} records; most: {top}); "
        f"{disc['dismissed_overlaps']} overlaps dismissed as common text or stop phrases.",
        "",
    ]


def markdown(results: dict[str, Any]) -> str:
    """The BENCHMARKS.md section for these results: a paragraph on method, then tables."""
    sp, t = results["speed"], results["targets"]
    method = (
        f"Method ({results['mode']} mode, {results['wall_s']} s): {sp['records']:,} records of "
        f"~{sp['mean_words_per_record']:.0f} words (stories, documents and two-turn advice in turn) composed "
        f"from {sp['sentence_pool']:,} distinct real sentences of the OpenAI Model Spec fixtures (prose outside "
        f"the example fences) and the demo corpus, {sp['planted_near_duplicates']:,} of them planted "
        "near-duplicates (5% of words substituted), written with `insert_many` (signatures computed on write). "
        "Then, in the same process: curator's `DedupEngine`, datasketch `MinHashLSH(threshold=0.5, num_perm=128)` "
        "built over the same normalised character 5-gram shingles, and rapidfuzz brute force "
        f"(`process.extract(..., scorer=fuzz.ratio, limit=10)` over every normalised text). "
        f"{sp['check']['queries']:,} queries, half lightly edited copies of stored records (3% of words "
        "substituted), half fresh compositions; the whole `check(text)` call is timed. datasketch returns "
        "unverified LSH candidates, `check` verifies every candidate against the stored text."
    )
    if not sp["clusters"]["finished"]:
        method += (
            f" `clusters()` on all records is stopped after {sp['clusters']['budget_s']:.0f} s of its run through "
            "its `cancelled` hook, and the rest is projected linearly from its verification rate so far (an "
            "overestimate: the first batches fetch and shingle every text they touch, later ones mostly hit the "
            "call's text cache)."
        )
    lines = ["## Near-duplicates and decontamination", "", method, ""]
    lines += _speed_markdown(sp, t)
    lines += _quality_markdown(results["quality"])
    lines += _decontam_markdown(results["decontamination_quality"])
    return "\n".join(lines)


if __name__ == "__main__":
    res = run("--quick" in sys.argv)
    print(markdown(res) if "--markdown" in sys.argv else json.dumps(res, indent=2))
