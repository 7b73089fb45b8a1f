"""One engine for near-duplicates, interactive (`check` as an annotator types) and whole-corpus
(`clusters`): exact hash, LSH candidates from stored signatures, every candidate verified.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from sqlite_utils import Database

from curator.dedup.config import DedupConfig
from curator.dedup.index import (
    ExcerptIndex,
    IdColumn,
    LshIndex,
    all_query_keys,
    all_short_keys,
    distinct_row_sets,
    id_order,
    sketch_of,
    sorted_keys,
)
from curator.dedup.persist import DeferredCheck, IndexWriter, State, open_index, write_index
from curator.dedup.verify import Boilerplate, Candidate, Verdict, clip, plausible, shared_span, verify
from curator.errors import NotFoundError, UsageError
from curator.minhash import (
    BANDS,
    NUM_PERM,
    SIG_BYTES,
    Signatures,
    distinct,
    excerpt_fingerprints,
    fingerprints_from_bytes,
    from_bytes,
    rows_from_bytes,
    shingle_hashes,
    signature_of_hashes,
)
from curator.models import Example, content_text, record_text_fields, utc_now
from curator.store.audit import examples_changed, latest_event_id, record_event
from curator.store.db import read_snapshot, scan_cache
from curator.store.examples import live_sql
from curator.store.migrations import migrations as _migrations
from curator.textnorm import exact_hash, normalize

Progress = Callable[[int, int], None]
CANDIDATE_CACHE = 4096
"""Stored records kept ready for verification (~4 KB each: text and sorted shingle hashes)."""
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class Match:
    """A verified near-duplicate of the text that was checked."""

    id: str
    score: float
    reason: str
    span: str = ""
    """The shared text (normalised, cut to ~200 characters): the run for `excerpt`, else the longest
    run of words both texts have."""
    field: str = ""
    """Where the span lies in the stored record (`text`, `messages[3].content`; "" when unknown)."""
    title: str = ""
    kind: str = ""
    status: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "reason": self.reason, "span": self.span, "field": self.field}


@dataclass(frozen=True)
class Member:
    """A record of a cluster with its best verified edge inside the cluster."""

    id: str
    title: str
    kind: str
    status: str
    score: float
    reason: str
    field: str
    span: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "score": self.score,
            "reason": self.reason,
            "field": self.field,
            "span": self.span,
        }


@dataclass
class Cluster:
    ids: list[str]
    representative: str
    max_score: float
    members: list[Member] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "representative": self.representative,
            "max_score": self.max_score,
            "members": [m.to_json() for m in self.members],
        }


@dataclass
class ClusterReport:
    clusters: list[Cluster] = field(default_factory=list)
    templates: list[list[str]] = field(default_factory=list)
    candidate_pairs: int = 0
    verified_pairs: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "clusters": [c.to_json() for c in self.clusters],
            "templates": [{"ids": ids, "size": len(ids)} for ids in self.templates],
            "candidate_pairs": self.candidate_pairs,
            "verified_pairs": self.verified_pairs,
        }


def applied_schema(db: Database) -> list[str]:
    """The workspace's applied migrations, sorted (an index file is valid for these only)."""
    return sorted(m.name for m in _migrations.applied(db))


def _event_at(db: Database, event_id: int) -> str:
    """The time of one audit event ("" for none): with its id, it tells one database's log from another's."""
    row = db.execute("SELECT at FROM audit WHERE id = ?", [event_id]).fetchone()
    return str(row[0]) if row else ""


def _signature_chunks(db: Database, live: str) -> Iterator[tuple[list[Any], np.ndarray[Any, np.dtype[np.uint16]]]]:
    """The live stored signatures in write order, 5,000 rows at a time: the rows (id, signature,
    shingle count, fingerprints) and their signatures as one (rows, NUM_PERM) array."""
    cursor = db.execute(f"SELECT example_id, sig, shingles, fingerprints FROM signatures WHERE {live} ORDER BY rowid")
    while rows := cursor.fetchmany(5000):
        blob = b"".join(r[1] for r in rows)
        if len(blob) != SIG_BYTES * len(rows):
            raise UsageError("stored signatures are corrupt (wrong size); run `curator dedup reindex`")
        yield rows, rows_from_bytes(blob, len(rows))


def _live_signatures(db: Database) -> int:
    """Stored signatures of live records: all minus the deleted (two index counts, not a test per row)."""
    count: int = db.execute(
        "SELECT (SELECT count(*) FROM signatures) - (SELECT count(*) FROM signatures s "
        "JOIN deleted_examples d ON d.example_id = s.example_id)"
    ).fetchone()[0]
    return count


def write_index_from_table(db: Database, path: Path) -> int:
    """Write the index file straight from the stored signatures, chunk by chunk; returns its size.

    The same bytes as `DedupEngine.load(db, index_file=path)` writes when it builds from the table,
    without the engine: each chunk's sketch rows and band keys go to their place in the file as they
    are read, and each band is then sorted on its own (~12 bytes a record at a time). The excerpt
    fingerprints (~8 a record) are sorted the same way by their top byte: each chunk's (fingerprint,
    row) pairs go to a scratch file as they are read, are then spread into their bucket's part of
    the file, and each bucket is sorted on its own (see `_sort_fingerprints`). What stays in memory
    is the ids (~24 bytes a record). Everything is read inside one snapshot.
    """
    live = live_sql("example_id")
    with read_snapshot(db), scan_cache(db):  # one pass over every signature: a small page cache
        seen = latest_event_id(db)
        n, id_bytes, print_bytes = db.execute(
            "SELECT count(*), coalesce(sum(length(CAST(example_id AS BLOB))), 0), "
            f"coalesce(sum(length(fingerprints)), 0) FROM signatures WHERE {live}"
        ).fetchone()
        if print_bytes % 8:
            raise UsageError("stored fingerprints are corrupt (wrong size); run `curator dedup reindex`")
        shapes = {
            "id_blob": (id_bytes,),
            "id_ends": (n,),
            "by_id": (n,),
            "sizes": (n,),
            "sketch": (n, NUM_PERM),
            "lsh_keys": (BANDS * n,),
            "lsh_rows": (BANDS * n,),
            "excerpt_keys": (print_bytes // 8,),
            "excerpt_rows": (print_bytes // 8,),
        }
        state = State(seen, _event_at(db, seen), n)
        with (
            IndexWriter(path, shapes, state, applied_schema(db)) as out,
            tempfile.TemporaryFile(dir=path.parent, prefix=".curator-prints-") as scratch_keys,
            tempfile.TemporaryFile(dir=path.parent, prefix=".curator-prints-") as scratch_rows,
        ):
            id_blob = bytearray()
            id_ends = np.empty(n, dtype=np.int64)
            buckets = np.zeros(_PRINT_BUCKETS, dtype=np.int64)  # fingerprints per top byte
            at = prints = 0
            for rows, sigs in _signature_chunks(db, live):
                end = at + len(rows)
                if end > n:
                    raise UsageError("the stored signatures changed while the index was written")
                out.write("sketch", at * NUM_PERM, sketch_of(sigs))
                out.write("sizes", at, [r[2] for r in rows])
                keys = all_short_keys(sigs)
                for band in range(BANDS):  # band-major: each band is sorted below
                    out.write("lsh_keys", band * n + at, keys[:, band])
                counts = []
                for k, r in enumerate(rows):
                    id_blob += r[0].encode()
                    id_ends[at + k] = len(id_blob)
                    if len(r[3]) % 8:
                        raise UsageError("stored fingerprints are corrupt (wrong size); run `curator dedup reindex`")
                    counts.append(len(r[3]) // 8)
                chunk_prints = np.frombuffer(b"".join(r[3] for r in rows), dtype="<u8")
                scratch_keys.write(chunk_prints.tobytes())
                scratch_rows.write(np.repeat(np.arange(at, end, dtype="<i4"), counts).tobytes())
                buckets += np.bincount(_print_bucket(chunk_prints), minlength=_PRINT_BUCKETS)
                prints += chunk_prints.size
                at = end
            if at != n or len(id_blob) != id_bytes or prints * 8 != print_bytes:
                raise UsageError("the stored signatures changed while the index was written")
            ids = np.frombuffer(id_blob, dtype=np.uint8)
            out.write("id_blob", 0, ids)
            out.write("id_ends", 0, id_ends)
            out.write("by_id", 0, id_order(ids, id_ends))
            del ids, id_blob, id_ends
            for band in range(BANDS):
                band_keys, band_rows = sorted_keys(out.read("lsh_keys", band * n, n))
                out.write("lsh_keys", band * n, band_keys)
                out.write("lsh_rows", band * n, band_rows)
            _sort_fingerprints(out, scratch_keys, scratch_rows, buckets)
            return out.finish()


_PRINT_BUCKETS = 256
"""Excerpt fingerprints are sorted in buckets by their top byte (hashes: ~1/256 of them each)."""
_SCRATCH_PIECE = 1 << 20
"""Fingerprints read back from the scratch files at a time."""


def _print_bucket(prints: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return (prints >> np.uint64(56)).astype(np.uint8)


def _sort_fingerprints(out: IndexWriter, scratch_keys: IO[bytes], scratch_rows: IO[bytes], buckets: Any) -> None:
    """Write the excerpt index's (fingerprint, row) pairs sorted by fingerprint, equal ones in row
    order: what a stable sort of all of them gives (`sorted_keys`), a bucket at a time.

    The scratch files hold the pairs in row order. A piece at a time, each pair goes to the next
    free place of its bucket's part of the file, so every bucket holds its pairs in row order;
    each bucket is then sorted on its own (a stable sort), which orders the whole array.
    """
    starts = np.concatenate(([0], np.cumsum(buckets)[:-1])).astype(np.int64)
    free = starts.copy()
    scratch_keys.seek(0)
    scratch_rows.seek(0)
    while data := scratch_keys.read(_SCRATCH_PIECE * 8):
        keys = np.frombuffer(data, dtype="<u8")
        rows = np.frombuffer(scratch_rows.read(keys.size * 4), dtype="<i4")
        if rows.size != keys.size:
            raise UsageError("the index's scratch file was cut short; run `curator dedup reindex`")
        bucket = _print_bucket(keys)
        order = np.argsort(bucket, kind="stable")
        keys, rows, bucket = keys[order], rows[order], bucket[order]
        firsts = np.flatnonzero(np.diff(bucket.astype(np.int16), prepend=-1))  # where each bucket starts
        for lo, hi in zip(firsts.tolist(), [*firsts[1:].tolist(), keys.size], strict=True):
            b = int(bucket[lo])
            out.write("excerpt_keys", int(free[b]), keys[lo:hi])
            out.write("excerpt_rows", int(free[b]), rows[lo:hi])
            free[b] += hi - lo
    if not np.array_equal(free, starts + buckets):
        raise UsageError("the index's scratch file was cut short; run `curator dedup reindex`")
    for lo, count in zip(starts.tolist(), buckets.tolist(), strict=True):
        if count > 1:
            keys, rows = sorted_keys(out.read("excerpt_keys", lo, count), out.read("excerpt_rows", lo, count))
            out.write("excerpt_keys", lo, keys)
            out.write("excerpt_rows", lo, rows)


def record_text(record_json: str) -> str:
    """The content a stored record is compared by (stored records were validated when written)."""
    return content_text(json.loads(record_json))


_CONTENT_FIELD = re.compile(r"^(text|messages\[\d+\]\.content(\[\d+\](\.input|\.content)?)?)$")
"""The fields `Example.searchable_text` joins: dedup compares content, not system prompts or tools."""


def field_of(record_json: str, span: str) -> str:
    """The content field of a stored record holding `span` (normalised), or "" when none holds it whole.

    A span crossing two fields is placed by its first half.
    """
    span = span.removesuffix(" …")
    if not span:
        return ""
    fields = [
        (path, f" {normalize(value)} ")
        for path, value in record_text_fields(json.loads(record_json))
        if _CONTENT_FIELD.match(path)
    ]
    words = span.split(" ")
    for part in (span, " ".join(words[: max(1, len(words) // 2)])):
        for path, text in fields:
            if f" {part} " in text:
                return path
    return ""


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def template_groups(
    n: int, buckets: Iterable[np.ndarray[Any, np.dtype[np.int32]]]
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per row, the template it belongs to (the smallest row of the buckets joined through shared
    rows), or -1. Labels spread to a fixed point, vectorised: a few passes over the bucket rows.

    Equal buckets are joined once; the passes work on 32-bit rows (the index numbers its rows so).
    """
    if n > np.iinfo(np.int32).max:
        raise UsageError(f"{n:,} records: more than the near-duplicate index numbers (2**31 - 1)")
    group = np.full(n, -1, dtype=np.int64)
    kept = distinct_row_sets(buckets)  # read one at a time; equal buckets join nothing more
    if not kept:
        return group
    sizes = np.array([b.size for b in kept], dtype=np.int64)
    rows = np.concatenate(kept)
    owner = np.repeat(np.arange(len(kept), dtype=np.int32), sizes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    label = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)
    label[rows] = rows
    while True:
        lowest = np.minimum.reduceat(label[rows], starts)
        before = label.copy()
        np.minimum.at(label, rows, lowest[owner])
        label[rows] = label[label[rows]]  # pointer jumping: a long chain of buckets takes a few passes, not its length
        if np.array_equal(before, label):
            break
    group[rows] = label[rows]
    return group


def _templates(
    group: np.ndarray[Any, np.dtype[np.int64]], boilerplate: list[np.ndarray[Any, np.dtype[np.int32]]]
) -> list[list[int]]:
    """The rows of each template to report: each joined LSH template with the boilerplate fingerprints
    mostly held by its records (the same fixed text, seen by the excerpt index), then the other
    boilerplate fingerprints' holders; equal row sets once."""
    joined: dict[int, set[int]] = {}
    for label, row in zip(group[group >= 0].tolist(), np.flatnonzero(group >= 0).tolist(), strict=True):
        joined.setdefault(label, set()).add(row)
    alone: list[list[int]] = []
    for rows in boilerplate:
        labels = group[rows]
        inside = labels[labels >= 0]
        if inside.size * 2 > rows.size:  # most holders are one template's records: part of it
            values, counts = np.unique(inside, return_counts=True)
            joined[int(values[np.argmax(counts)])].update(rows.tolist())
        else:
            alone.append(rows.tolist())
    unique = {tuple(sorted(rows)): None for rows in [*joined.values(), *alone]}
    return [list(rows) for rows in unique]


def _few_lookalikes(
    parts: list[np.ndarray[Any, np.dtype[np.int64]]], n: int, limit: int
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The pairs (codes `lo * n + hi`) touching a template whose two records each have at most `limit`
    such pairs: a real pair inside or beside a template, not two of its many fills."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    codes = _distinct_codes(parts)
    # a template's fills make most of a corpus's pairs (tens of millions at 1M records): each pass
    # below takes a block at a time, so no whole-size array of ends is made beside the codes
    width = max(n, 1)
    degree = np.zeros(n, dtype=np.int64)
    for start in range(0, codes.size, _PAIR_BLOCK):
        block = codes[start : start + _PAIR_BLOCK]
        degree += np.bincount(block // width, minlength=n)
        degree += np.bincount(block % width, minlength=n)
    keep = np.empty(codes.size, dtype=np.bool_)
    for start in range(0, codes.size, _PAIR_BLOCK):
        block = codes[start : start + _PAIR_BLOCK]
        keep[start : start + block.size] = (degree[block // width] <= limit) & (degree[block % width] <= limit)
    few: np.ndarray[Any, np.dtype[np.int64]] = codes[keep]
    return few


_PAIR_BLOCK = 1 << 20
"""Pair codes handled at once by `_few_lookalikes` (8 MB of them)."""


class CodeBlocks:
    """Pair codes appended a part at a time into blocks of `BLOCK` codes.

    A template-heavy million records set aside ~58 million pairs, ~6,000 parts of a few thousand:
    small arrays whose memory the allocator keeps once they are freed. Packed into blocks of 64 MB
    they can be merged block by block without holding them twice (`_distinct_codes`): a block is
    larger than the largest size glibc's malloc may take from its heap (32 MB), so each is a
    mapping of its own, returned to the system when freed.
    """

    BLOCK = 1 << 23

    def __init__(self) -> None:
        self._blocks: list[np.ndarray[Any, np.dtype[np.int64]]] = []
        self._filled = 0

    def append(self, codes: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        while codes.size:
            if not self._blocks or self._filled == self._blocks[-1].size:
                self._blocks.append(np.empty(self.BLOCK, dtype=np.int64))
                self._filled = 0
            block = self._blocks[-1]
            take = min(codes.size, block.size - self._filled)
            block[self._filled : self._filled + take] = codes[:take]
            self._filled += take
            codes = codes[take:]

    def parts(self) -> list[np.ndarray[Any, np.dtype[np.int64]]]:
        """The codes appended, as blocks (the last one cut to what it holds); the caller may empty the list."""
        if self._blocks:
            self._blocks[-1] = self._blocks[-1][: self._filled]
        blocks, self._blocks, self._filled = self._blocks, [], 0
        return blocks


def _distinct_codes(parts: list[np.ndarray[Any, np.dtype[np.int64]]]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The distinct codes of all `parts`, sorted, in one buffer of their total size: each part is
    freed once copied in (`parts` is emptied), and repeats are squeezed out in place, a block at a
    time. At a million template-heavy records the parts are ~58 million codes (460 MB): one copy
    of them, not three, at the clustering's peak."""
    codes = np.empty(sum(p.size for p in parts), dtype=np.int64)
    at = 0
    parts.reverse()
    while parts:
        part = parts.pop()
        codes[at : at + part.size] = part
        at += part.size
        del part
    codes.sort()
    kept = 0
    last: int | None = None
    for start in range(0, codes.size, _PAIR_BLOCK):
        block = codes[start : start + _PAIR_BLOCK]
        new = np.empty(block.size, dtype=np.bool_)
        new[0] = last is None or int(block[0]) != last
        np.not_equal(block[1:], block[:-1], out=new[1:])
        last = int(block[-1])
        fresh = block[new]  # a copy: writing it below may overwrite this block's own place
        codes[kept : kept + fresh.size] = fresh
        kept += fresh.size
    return codes[:kept]


def _template_order(ids: list[str]) -> tuple[int, list[str]]:
    """Largest template first, then by ids: the same list whatever order the records were written in."""
    return -len(ids), ids


class Forest:
    """Streaming union-find over verified edges, with each record's best edge (first of equal scores)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.best: dict[str, tuple[float, str, str, str, str]] = {}
        """Record -> (score, reason, span, a, b) of its best edge; span "" until it is shown."""
        self.edges = 0

    def find(self, x: str) -> str:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def edge(self, a: str, b: str, score: float, reason: str, span: str) -> None:
        self.edges += 1
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb
        for x in (a, b):
            if x not in self.best or score > self.best[x][0]:
                self.best[x] = (score, reason, span, a, b)

    def groups(self) -> list[list[str]]:
        """Components of two or more records, each sorted."""
        out: dict[str, list[str]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        return [sorted(g) for g in out.values() if len(g) > 1]


Rows = np.ndarray[Any, np.dtype[np.int64]]
Edge = tuple[str, str, float, str, str]
"""A verified edge: (a, b, score, reason, span), `a` the record numbered first."""
PairJob = tuple[str, str, bool, bool]
"""A candidate pair to verify: (a, b, shares an excerpt fingerprint, similar by signature)."""


def judge_pairs(
    lo: Rows,
    hi: Rows,
    sigs: Signatures,
    sizes: np.ndarray[Any, np.dtype[np.int32]],
    group: Rows,
    config: DedupConfig,
) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], np.ndarray[Any, np.dtype[np.bool_]]]:
    """Pairs of LSH rows sharing a bucket -> (kept, set aside): pairs whose signatures say no rule could
    pass are neither; a plausible pair touching a template (`group`) whose signatures estimate a
    Jaccard below `template_pair_jaccard` is set aside for `merge_candidates`, the rest are kept."""
    same = (sigs[lo] == sigs[hi]).mean(axis=1)
    able = plausible(same, sizes[lo], sizes[hi], config)
    inside = ((group[lo] >= 0) | (group[hi] >= 0)) & (same < config.template_pair_jaccard)
    return able & ~inside, able & inside


@dataclass(frozen=True)
class CandidatePairs:
    """Every pair to verify, as sorted distinct codes `lo * n + hi`, with what made each a candidate."""

    pairs: Rows
    sharing: np.ndarray[Any, np.dtype[np.bool_]]
    """The pair shares an excerpt fingerprint (the excerpt rule applies)."""
    similar: np.ndarray[Any, np.dtype[np.bool_]]
    """The pair shares an LSH band and passed `judge_pairs` (the whole-text rules apply)."""


def merge_candidates(
    kept: Rows, fills: list[Rows], excerpt_pairs: Rows, rows: int, config: DedupConfig
) -> CandidatePairs:
    """The candidates of the whole corpus from the kept LSH pairs (codes, any order, repeats allowed),
    the set-aside ones (`fills`, emptied) and the distinct excerpt pairs; `rows`: the records numbered."""
    pairs = np.union1d(kept, _few_lookalikes(fills, rows, config.template_fill_candidates))
    fills.clear()
    similar_pairs = pairs
    pairs = np.union1d(pairs, excerpt_pairs)
    sharing = np.isin(pairs, excerpt_pairs, assume_unique=True)
    similar = np.isin(pairs, similar_pairs, assume_unique=True)
    return CandidatePairs(pairs, sharing, similar)


def template_lists(group: Rows, boilerplate: list[np.ndarray[Any, np.dtype[np.int32]]], ids: Any) -> list[list[str]]:
    """The templates a report lists, as sorted ids (`ids[row]`), largest first."""
    return sorted((sorted(ids[r] for r in rows) for rows in _templates(group, boilerplate)), key=_template_order)


def exact_edges(forest: Forest, groups: Iterable[list[str]], ignored: set[tuple[str, str]]) -> None:
    """Exact duplicates (each group's ids sorted) are edges, even when their bucket was a template:
    each record joined to its group's first."""
    for group_ids in groups:
        for other in group_ids[1:]:
            if (min(group_ids[0], other), max(group_ids[0], other)) not in ignored:
                forest.edge(group_ids[0], other, 1.0, "exact", "")


def verify_batch(
    jobs: Iterable[PairJob],
    hashes: Mapping[str, str],
    texts: Mapping[str, Candidate],
    config: DedupConfig,
    *,
    boilerplate: Boilerplate,
    ignored: set[tuple[str, str]],
    decided: dict[tuple[str, str, bool, bool], Verdict | None],
    repeated: set[str],
) -> list[Edge]:
    """The verified edges among candidate pairs, in the order given (no span unless a rule found one).

    `texts` is keyed by normalised-text hash (`hashes`: id -> hash), so exact duplicates share one
    text; verdicts of texts that meet again (`repeated` hashes) are kept in `decided`.
    """
    out: list[Edge] = []
    for a, b, share, alike in jobs:
        ha, hb = hashes.get(a, a), hashes.get(b, b)
        if (min(a, b), max(a, b)) in ignored or ha not in texts or hb not in texts:
            continue
        key = (ha, hb, share, alike)
        if key in decided:
            verdict = decided[key]
        else:
            verdict = verify(
                texts[ha], texts[hb], config, excerpts=share, similar=alike, boilerplate=boilerplate, span=False
            )
            if ha in repeated or hb in repeated:  # the same texts meet again
                decided[key] = verdict
        if verdict is not None:
            out.append((a, b, verdict.score, verdict.reason, verdict.span))
    return out


def cluster_report(
    forest: Forest,
    meta: Mapping[str, tuple[str, str, str, str]],
    records: Mapping[str, tuple[str, str]],
    templates: list[list[str]],
    candidate_pairs: int,
) -> ClusterReport:
    """The report of the verified edges' components: `meta` (status, created_at, title, kind) and
    `records` (content text, record JSON) of every member (`forest.groups()`)."""
    report = ClusterReport(templates=templates, candidate_pairs=candidate_pairs, verified_pairs=forest.edges)
    for members in forest.groups():
        rep = min(members, key=lambda m: (meta[m][0] != "approved", meta[m][1], m))
        detail: list[Member] = []
        for m in members:
            score, reason, span, a, b = forest.best[m]
            text, record = records.get(m, ("", "{}"))
            if not span and reason != "exact" and a in records and b in records:  # spans only for shown edges
                span = shared_span(Candidate(normalize(records[a][0])), Candidate(normalize(records[b][0])))
            if not span:  # an exact duplicate: the whole (normalised) text is shared
                span = clip(normalize(text))
            status, _, title, kind = meta[m]
            detail.append(Member(m, title, kind, status, score, reason, field_of(record, span), span))
        top = max(forest.best[m][0] for m in members)
        report.clusters.append(Cluster(members, rep, round(top, 4), detail))
    report.clusters.sort(key=lambda c: (-len(c.ids), c.representative))
    return report


@dataclass(frozen=True)
class _Stored:
    """A stored record ready for verification: its candidate, record JSON and (title, kind, status)."""

    candidate: Candidate
    record: str
    meta: tuple[str, str, str]


@dataclass(frozen=True)
class CheckResult:
    """What `check` found: the verified matches, best first, and the look-alikes it did not verify."""

    matches: list[Match]
    unverified: int = 0
    """LSH candidates beyond the cap (`check_candidates`, or `limit` when larger; ranked by the
    signature sketch, the most alike verified first) that were not verified: on a corpus of fill-in
    templates, the other fills."""


CATCH_UP_LIMIT = 5_000
"""Records changed since an index file was written (or since the last check) that are applied from
the audit log into the overflow (~0.1 ms each); more (a large import): the index is built again from
the table."""


class DedupEngine:
    """Near-duplicate lookups over one workspace; build it once (`load`), then `check` many times."""

    def __init__(
        self,
        db: Database | Callable[[], Database],
        index: LshIndex,
        config: DedupConfig,
        ignored: set[tuple[str, str]],
        excerpts: ExcerptIndex | None = None,
    ) -> None:
        self._db = db
        self.index = index
        self.excerpts = excerpts or ExcerptIndex.empty(template_bucket=config.excerpt_template)
        self.config = config
        self.ignored = ignored
        self._lock = threading.RLock()  # the TUI checks in a worker while the UI thread notes writes
        self._cache: OrderedDict[str, tuple[int, _Stored]] = OrderedDict()
        self.seen = -1
        """The newest audit event the index reflects (-1: unknown, `refresh` does nothing)."""
        self.state: State | None = None
        """The workspace state of the build or of the opened file (what `write_index` records)."""
        self._deferred_check: DeferredCheck | None = None
        self.source = "table"
        """Where the bulk arrays came from: `table` (built from stored signatures) or `file`."""
        self.file_bytes = 0
        """Size of the index file read or written (0: none)."""
        self.index_file: Path | None = None
        """The file the index is kept in (None: none), read again after a large write elsewhere."""
        if self.index.fetch is None and self.index.signatures is None:
            self.index.fetch = self._fetch_entries

    @property
    def db(self) -> Database:
        """The database for the calling thread (a callable source gives each thread its own connection)."""
        return self._db if isinstance(self._db, Database) else self._db()

    @classmethod
    def load(
        cls,
        source: Database | Callable[[], Database],
        config: DedupConfig | None = None,
        *,
        index_file: Path | None = None,
        verify_file: bool = True,
    ) -> DedupEngine:
        """The engine over the stored signatures (no text is read or shingled).

        `source` is a Database, or a callable returning the calling thread's Database
        (`lambda: workspace.db`) when the engine is used from several threads. With `index_file`,
        the index is mapped from that file when it matches the workspace (the records changed since
        it was written are applied from the audit log); otherwise the file is written from the
        table (streamed, aside, then renamed) and mapped, with `source` "table". Where the file
        cannot be written, the index is built in memory.

        `verify_file=False` uses an existing file before its checksums are compared: the caller
        runs `verify_file()` next (off the UI's path) and replaces the engine if it fails.
        """
        db = source if isinstance(source, Database) else source()
        config = config or DedupConfig()
        if index_file is not None:
            engine = cls._from_file(source, db, config, index_file, True if verify_file else "later")
            if engine is None:
                with contextlib.suppress(OSError):  # a read-only folder or a full disk: built in memory below
                    write_index_from_table(db, index_file)  # streamed: bounded memory, then mapped
                    engine = cls._from_file(source, db, config, index_file)
                    if engine is not None:
                        engine.source = "table"
            if engine is not None:
                engine.index_file = index_file
                return engine
        engine = cls._build(source, db, config)  # the file could not be written: the next load tries again
        engine.index_file = index_file
        return engine

    @classmethod
    def _build(cls, source: Database | Callable[[], Database], db: Database, config: DedupConfig) -> DedupEngine:
        """Read every live signature and build both indexes in memory."""
        live = live_sql("example_id")  # soft-deleted records are neither candidates nor duplicates
        with read_snapshot(db), scan_cache(db):  # the rows and the audit state: one state of the database
            seen = latest_event_id(db)
            state = State(seen, _event_at(db, seen), 0)
            n = db.execute(f"SELECT count(*) FROM signatures WHERE {live}").fetchone()[0]
            ids: list[str] = []
            sigs = np.empty((n, NUM_PERM), dtype=np.uint16)  # 16-bit values, filled in chunks: no second copy
            sizes = np.empty(n, dtype=np.int32)
            prints = bytearray()  # every record's fingerprints end to end: no bytes object per record
            counts = np.empty(n, dtype=np.int64)
            for rows, chunk in _signature_chunks(db, live):
                at = len(ids)
                sigs[at : at + len(rows)] = chunk
                sizes[at : at + len(rows)] = [r[2] for r in rows]
                ids.extend(r[0] for r in rows)
                for k, r in enumerate(rows):
                    prints += r[3]
                    counts[at + k] = len(r[3]) // 8
            ignored = {(a, b) for a, b in db.execute("SELECT a, b FROM dedup_ignored")}
        index = LshIndex(ids, sigs, sizes, template_bucket=config.template_bucket)
        owners = np.repeat(np.arange(n, dtype=np.int32), counts)
        fingerprints = np.frombuffer(prints, dtype="<u8")  # a view: the sorted copy is the only one kept
        excerpts = ExcerptIndex(ids, fingerprints, owners, template_bucket=config.excerpt_template, row_of=index.row_of)
        del fingerprints, prints, owners
        engine = cls(source, index, config, ignored, excerpts)
        engine.seen = seen
        engine.state = State(state.audit_id, state.audit_at, n)
        return engine

    @classmethod
    def _from_file(
        cls,
        source: Database | Callable[[], Database],
        db: Database,
        config: DedupConfig,
        path: Path,
        verify: bool | Literal["later"] = True,
    ) -> DedupEngine | None:
        """The engine over a matching index file, brought up to date from the audit log; None when the
        file is missing, corrupt or stale beyond `CATCH_UP_LIMIT` (the caller rebuilds)."""
        opened = open_index(path, applied_schema(db), verify=verify)
        if opened is None:
            return None
        a = opened.arrays
        n = int(a["id_ends"].size)
        if (
            a["by_id"].size != n
            or a["sizes"].size != n
            or a["sketch"].shape != (n, NUM_PERM)
            or a["lsh_keys"].size != BANDS * n
            or a["lsh_rows"].size != BANDS * n
            or a["excerpt_keys"].size != a["excerpt_rows"].size
            or (n and int(a["id_ends"][-1]) != a["id_blob"].size)
        ):
            return None
        state = opened.state
        with read_snapshot(db):
            if _event_at(db, state.audit_id) != state.audit_at:  # another database, or its log was rewritten
                return None
            latest = latest_event_id(db)
            changed = examples_changed(db, state.audit_id, latest, limit=CATCH_UP_LIMIT)
            if changed is None:
                return None
            ids = IdColumn(a["id_blob"], a["id_ends"], a["by_id"])
            index = LshIndex.from_arrays(
                ids, a["sketch"], a["sizes"], a["lsh_keys"], a["lsh_rows"], template_bucket=config.template_bucket
            )
            excerpts = ExcerptIndex.from_arrays(
                ids,
                a["excerpt_keys"],
                a["excerpt_rows"],
                template_bucket=config.excerpt_template,
                row_of=index.row_of,
            )
            ignored = {(x, y) for x, y in db.execute("SELECT a, b FROM dedup_ignored")}
            engine = cls(source, index, config, ignored, excerpts)
            if len(index) != state.live:
                return None
            engine._apply(db, changed)
            # a write the audit log does not show: never trust the file then (counting reads an
            # index of the table: with verify "later", left to `verify_file` with the checksums)
            if verify != "later" and len(index) != _live_signatures(db):
                return None
        engine.seen = latest
        engine.state = state
        engine.source = "file"
        engine.file_bytes = opened.nbytes
        engine._deferred_check = opened.deferred
        return engine

    def verify_file(self) -> bool:
        """What `load(verify_file=False)` left for later: the mapped file against its checksums, and
        the records it holds against the live signatures stored. True when both hold, or when nothing
        was left to check. An engine over a file that fails must be replaced (`load` again rebuilds
        the file)."""
        check, self._deferred_check = self._deferred_check, None
        if check is None:
            return True
        if not check():
            return False
        db = self.db
        with self._lock, read_snapshot(db):  # brought to the snapshot's state, then counted in it
            latest = latest_event_id(db)
            changed = examples_changed(db, self.seen, latest, limit=CATCH_UP_LIMIT) if latest != self.seen else []
            if changed is None:  # a large import meanwhile: the next check rebuilds it anyway
                return True
            self._apply(db, changed)
            self.seen = latest
            return len(self.index) == _live_signatures(db)

    def write_index(self, path: Path) -> int:
        """Write this engine's index (built from the table, nothing written since) to `path`; returns its size."""
        index, excerpts = self.index, self.excerpts
        if self.state is None or index.signatures is None or index.sizes is None or index.extra_ids or index.dead:
            raise UsageError("only an index built from the table, with no record written since, can be saved")
        ids = IdColumn.of(list(index.ids))
        keys, rows = excerpts.arrays
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "id_blob": ids.blob,
            "id_ends": ids.ends,
            "by_id": ids.by_id,
            "sizes": index.sizes,
            "sketch": index.sketch,
            "lsh_keys": index.keys,
            "lsh_rows": index.rows,
            "excerpt_keys": keys,
            "excerpt_rows": rows,
        }
        self.file_bytes = write_index(path, arrays, self.state, applied_schema(self.db))
        return self.file_bytes

    def refresh(self) -> None:
        """Apply the records written since the index was read (by this or another process), from the audit log."""
        if self.seen < 0:
            return
        db = self.db
        latest = latest_event_id(db)
        if latest == self.seen:
            return
        with read_snapshot(db):
            changed = examples_changed(db, self.seen, latest, limit=CATCH_UP_LIMIT)
            if changed is not None:
                self._apply(db, changed)
                self.ignored = {(a, b) for a, b in db.execute("SELECT a, b FROM dedup_ignored")}
        if changed is None:  # a large import elsewhere: built again (and its file), not held in the overflow
            fresh = type(self).load(self._db, self.config, index_file=self.index_file)
            with self._lock:
                self.index, self.excerpts, self.ignored = fresh.index, fresh.excerpts, fresh.ignored
                self.state, self.source, self.file_bytes = fresh.state, fresh.source, fresh.file_bytes
                if self.index.fetch is not None:
                    self.index.fetch = self._fetch_entries
                self._cache.clear()
            latest = fresh.seen
        self.seen = latest

    def _apply(self, db: Database, changed: list[str]) -> None:
        """Index the live records among `changed` from their stored signatures; drop the others."""
        live = live_sql("example_id")
        found: dict[str, tuple[bytes, int, bytes]] = {}
        for chunk in _chunks(changed):
            marks = ",".join("?" * len(chunk))
            for eid, sig, shingles, prints in db.execute(
                f"SELECT example_id, sig, shingles, fingerprints FROM signatures "
                f"WHERE example_id IN ({marks}) AND {live}",
                chunk,
            ):
                found[eid] = (sig, shingles, prints)
        sigs = {eid: from_bytes(row[0]) for eid, row in found.items()}
        keys = dict(zip(sigs, all_query_keys(np.stack(list(sigs.values()))), strict=True)) if sigs else {}
        with self._lock:
            for eid in changed:
                self._cache.pop(eid, None)
                if eid in found:
                    _, shingles, prints = found[eid]
                    self.index.add(eid, sigs[eid], int(shingles), keys[eid])
                    self.excerpts.add(eid, fingerprints_from_bytes(prints or b""))
                else:
                    self.index.remove(eid)
                    self.excerpts.remove(eid)

    def _fetch_entries(self, ids: list[str]) -> dict[str, tuple[Signatures, int]]:
        """Exact signatures and distinct-shingle counts of stored records (an index opened from a file
        keeps only sketches)."""
        out: dict[str, tuple[Signatures, int]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for eid, sig, shingles in self.db.execute(
                f"SELECT example_id, sig, shingles FROM signatures WHERE example_id IN ({marks})", chunk
            ):
                out[eid] = (from_bytes(sig), int(shingles))
        return out

    # -- interactive --------------------------------------------------------------------------

    def check(self, text: str, exclude_id: str | None = None, limit: int = 10) -> list[Match]:
        """Verified near-duplicates of `text`, best first."""
        return self.check_result(text, exclude_id, limit).matches

    def check_result(self, text: str, exclude_id: str | None = None, limit: int = 10) -> CheckResult:
        """Verified near-duplicates of `text`, best first, and how many look-alikes were not verified."""
        normalized = normalize(text)
        if not normalized:
            return CheckResult([])
        self.refresh()
        query = Candidate(normalized)
        exact: set[str] = set()
        for (eid,) in self.db.execute(
            f"SELECT id FROM examples e WHERE norm_hash = ? AND {live_sql()}", [exact_hash(text)]
        ):
            if eid != exclude_id and not self._is_ignored(eid, exclude_id):
                exact.add(eid)
        with self._lock:
            similar, unverified = self._plausible_candidates(
                signature_of_hashes(query.shingles),
                query.shingles.size,
                exclude_id,
                max(self.config.check_candidates, limit),
            )
            sharing = self._excerpt_candidates(excerpt_fingerprints(normalized))
        candidates = similar | sharing | exact
        candidates.discard(exclude_id or "")
        candidates = {c for c in candidates if not self._is_ignored(c, exclude_id)}
        found: dict[str, tuple[Match, _Stored]] = {}
        decided: dict[tuple[str, bool, bool], Verdict | None] = {}  # fills with one normalised text: verified once
        for eid, stored in self._stored_candidates(sorted(candidates)).items():
            if eid in exact:
                span = clip(normalized)
                found[eid] = (Match(eid, 1.0, "exact", span, field_of(stored.record, span), *stored.meta), stored)
                continue
            key = (stored.candidate.normalized, eid in sharing, eid in similar)
            if key not in decided:
                decided[key] = verify(
                    query,
                    stored.candidate,
                    self.config,
                    excerpts=eid in sharing,
                    similar=eid in similar,
                    boilerplate=self.excerpts.is_template,
                    span=False,
                )
            verdict = decided[key]
            if verdict is not None:
                found[eid] = (Match(eid, verdict.score, verdict.reason, verdict.span, "", *stored.meta), stored)
        best = sorted(found.values(), key=lambda f: (-f[0].score, f[0].id))[:limit]
        return CheckResult([self._shown(query, match, stored) for match, stored in best], unverified)

    @staticmethod
    def _shown(query: Candidate, match: Match, stored: _Stored) -> Match:
        """A match with its span and field, found only for the matches returned (the longest common
        run is the costliest step of verification)."""
        if match.reason == "exact":
            return match
        span = match.span or shared_span(query, stored.candidate)
        return replace(match, span=span, field=field_of(stored.record, span))

    def check_example(self, example_id: str, limit: int = 10) -> list[Match]:
        """Near-duplicates of a stored record (itself and pairs marked not-a-duplicate excluded)."""
        return self.check_example_result(example_id, limit).matches

    def check_example_result(self, example_id: str, limit: int = 10) -> CheckResult:
        """`check_example`, with the count of look-alikes not verified."""
        row = self.db.execute("SELECT record FROM examples WHERE id = ?", [example_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no example with id {example_id!r}")
        return self.check_result(record_text(row[0]), exclude_id=example_id, limit=limit)

    def _plausible_candidates(
        self, sig: Signatures, size: int, exclude_id: str | None, cap: int
    ) -> tuple[set[str], int]:
        """LSH candidates that some rule could pass, judged from signatures and shingle counts only,
        and how many were left unverified by the cap.

        First the one-byte sketches: a pair's equal bytes are at least its equal values, so a
        candidate whose sketch says no rule could pass is dropped for sure. The rest are ranked by
        equal bytes (then id), the first `cap` are judged on their exact signatures, the others are
        counted, not verified.
        """
        index, config = self.index, self.config
        rows, extra, _ = index.candidate_rows(sig)
        if exclude_id is not None:  # the record checked against itself is no look-alike
            extra.discard(exclude_id)
            own = index.row_of.get(exclude_id)
            if own is not None and rows.size:
                rows = rows[rows != own]
        sketch = sketch_of(sig)
        pool: list[tuple[int, str, int]] = []  # (equal sketch bytes, id, bulk row or -1)
        if rows.size:
            equal = (index.sketch[rows] == sketch).sum(axis=1)
            assert index.sizes is not None
            able = plausible(equal / NUM_PERM, size, index.sizes[rows], config)
            rows, equal = rows[able], equal[able]
            if rows.size > cap:  # rank by equal bytes; ids only where the cut falls
                order = np.argsort(-equal, kind="stable")
                cut = int(equal[order[cap - 1]])
                above = rows[equal > cut]
                tied = rows[equal == cut]
                pool = [(int(e), "", int(r)) for r, e in zip(above.tolist(), equal[equal > cut].tolist(), strict=True)]
                pool += [(cut, index.ids[r], int(r)) for r in tied.tolist()]
                rest = int(np.count_nonzero(equal < cut))
            else:
                pool = [(int(e), "", int(r)) for r, e in zip(rows.tolist(), equal.tolist(), strict=True)]
                rest = 0
        else:
            rest = 0
        entries: dict[str, tuple[Signatures, int]] = {}
        for eid in extra:
            entry = index.entry_of(eid)
            if entry is None:
                continue
            bytes_equal = int(np.count_nonzero(sketch_of(entry[0]) == sketch))
            if plausible(np.array([bytes_equal / NUM_PERM]), size, np.array([entry[1]], dtype=np.int32), config)[0]:
                pool.append((bytes_equal, eid, -1))
                entries[eid] = entry
        unverified = rest
        if len(pool) > cap:
            named = [(e, eid or index.ids[r], r) for e, eid, r in pool]
            named.sort(key=lambda p: (-p[0], p[1]))
            unverified += len(named) - cap
            pool = named[:cap]
        bulk = [r for _, _, r in pool if r >= 0]
        entries.update(index.entries(bulk))
        if not entries:
            return set(), unverified
        names = list(entries)
        estimates = (np.stack([entries[e][0] for e in names]) == sig).mean(axis=1)
        keep = plausible(estimates, size, np.array([entries[e][1] for e in names], dtype=np.int32), config)
        return {e for e, k in zip(names, keep.tolist(), strict=True) if k}, unverified

    def _excerpt_candidates(self, fingerprints: np.ndarray[Any, np.dtype[np.uint64]]) -> set[str]:
        """Records sharing a winnowed word 13-gram with the text (template fingerprints skipped)."""
        rows, extra, _ = self.excerpts.candidate_rows(fingerprints)
        return {self.excerpts.ids[r] for r in rows.tolist()} | extra

    def _is_ignored(self, a: str, b: str | None) -> bool:
        if b is None:
            return False
        return (min(a, b), max(a, b)) in self.ignored

    def _texts(self, ids: list[str]) -> dict[str, tuple[str, str]]:
        """Content text and record JSON of stored records."""
        out: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for eid, rec in self.db.execute(f"SELECT id, record FROM examples WHERE id IN ({marks})", chunk):
                out[eid] = (record_text(rec), rec)
        return out

    def _stored_candidates(self, ids: list[str]) -> dict[str, _Stored]:
        """Verification-ready stored records, from a small cache keyed by (id, version).

        While an annotator types, consecutive checks meet the same candidates; the version read
        with each row keeps the cache right when another process edits a record.
        """
        out: dict[str, _Stored] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT id, version, record, title, kind, status FROM examples e WHERE id IN ({marks}) "
                f"AND {live_sql()}",
                chunk,
            )
            for eid, version, rec, title, kind, status in rows:
                with self._lock:
                    cached = self._cache.get(eid)
                    if cached is not None and cached[0] == version:
                        self._cache.move_to_end(eid)
                        out[eid] = cached[1]
                        continue
                stored = _Stored(Candidate(normalize(record_text(rec))), rec, (title, kind, status))
                out[eid] = stored
                with self._lock:
                    self._cache[eid] = (version, stored)
                    if len(self._cache) > CANDIDATE_CACHE:
                        self._cache.popitem(last=False)
        return out

    def note_written(self, example: Example) -> None:
        """Keep the in-memory index in step with a record this process just wrote."""
        normalized = normalize(example.searchable_text())
        shingles = shingle_hashes(normalized)
        size = int(distinct(shingles).size)
        sig = signature_of_hashes(shingles)
        prints = excerpt_fingerprints(normalized)
        with self._lock:
            self.index.add(example.id, sig, size)
            self.excerpts.add(example.id, prints)
            self._cache.pop(example.id, None)

    def note_deleted(self, example_id: str) -> None:
        with self._lock:
            self.index.remove(example_id)
            self.excerpts.remove(example_id)
            self._cache.pop(example_id, None)

    def ignore(self, a: str, b: str, *, actor: str) -> None:
        """Mark a pair as not a duplicate: it is never reported again (audited)."""
        if a == b:
            raise UsageError("a record cannot be marked as not a duplicate of itself")
        lo, hi = min(a, b), max(a, b)
        for eid in (lo, hi):
            if not self.db.execute("SELECT 1 FROM examples WHERE id = ?", [eid]).fetchone():
                raise NotFoundError(f"no example with id {eid!r}")
        with self.db.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO dedup_ignored (a, b, actor, at) VALUES (?, ?, ?, ?)", [lo, hi, actor, utc_now()]
            )
            record_event(
                self.db,
                actor=actor,
                action="not-duplicate",
                entity="example",
                entity_id=lo,
                after=json.dumps({"a": lo, "b": hi}),
            )
        self.ignored.add((lo, hi))

    # -- whole corpus -------------------------------------------------------------------------

    def clusters(self, progress: Progress | None = None, cancelled: Cancelled | None = None) -> ClusterReport:
        """Union-find over verified edges only; oversized LSH buckets and fingerprints shared by more
        than `template_bucket` records are reported as templates.

        Candidate pairs: records sharing an LSH band (dropped when their signatures say no rule could
        pass) or an excerpt fingerprint (kept: a shared run says nothing about the whole texts).
        LSH buckets above `template_bucket` that share records are one template, reported once. A pair
        touching a template is a candidate only when their signatures estimate a Jaccard of at least
        `template_pair_jaccard` (an edited copy of a fill) or when neither record has more than
        `template_fill_candidates` such pairs (a real pair, not two of a prompt's many fills). Pairs
        are made and filtered band by band as numpy arrays; records with the same normalised text
        are verified once.
        """
        ids = self.index.ids
        n = np.int64(max(len(ids), 1))
        config = self.config
        group = template_groups(len(ids), self.index.template_buckets(config.template_bucket))
        sigs, sizes = self.index.signatures, self.index.sizes
        if sigs is None:
            raise UsageError("clusters need the index built from the table (`DedupEngine.load` without a file)")

        fills = CodeBlocks()  # plausible pairs touching a template, not yet kept

        def keep(lo: Rows, hi: Rows) -> Any:
            """Drop pairs whose signatures already say they are far apart; set aside pairs touching a template."""
            kept, aside = judge_pairs(lo, hi, sigs, sizes, group, config)
            if aside.any():
                fills.append(lo[aside] * n + hi[aside])
            return kept

        lsh_pairs, _ = self.index.pairs(config.template_bucket, keep=keep, progress=progress)
        excerpt_pairs, excerpt_templates = self.excerpts.pairs()
        found = merge_candidates(lsh_pairs, fills.parts(), excerpt_pairs, len(ids), config)
        del lsh_pairs, excerpt_pairs
        pairs, sharing, similar = found.pairs, found.sharing, found.similar
        exact = self.db.execute(
            f"SELECT norm_hash, group_concat(id, char(31)) FROM examples e WHERE {live_sql()} "
            "GROUP BY norm_hash HAVING count(*) > 1"
        ).fetchall()
        exact_groups = [sorted(joined.split("\x1f")) for _, joined in exact]
        shared_hashes = {h for h, _ in exact if h}
        del exact
        templates = template_lists(group, excerpt_templates, ids)
        forest = Forest()
        exact_edges(forest, exact_groups, self.ignored)
        texts: dict[str, Candidate] = {}  # keyed by normalised-text hash: exact duplicates share one
        decided: dict[tuple[str, str, bool, bool], Verdict | None] = {}
        total = int(pairs.size)
        batch = 5000
        for start in range(0, total, batch):
            if cancelled is not None and cancelled():
                break
            chunk = pairs[start : start + batch]
            a_rows = (chunk // n).tolist()
            b_rows = (chunk % n).tolist()
            if len(texts) > 10_000:  # bounded cache: each entry holds a shingle set (~60 KB), ~0.6 GB at most
                texts.clear()
            hashes = self._norm_hashes({ids[r] for r in a_rows + b_rows})  # this batch's records only
            need = sorted({ids[r] for r in a_rows + b_rows if hashes.get(ids[r], ids[r]) not in texts})
            for eid, (text, _) in self._texts(need).items():
                texts.setdefault(hashes.get(eid, eid), Candidate(normalize(text)))
            jobs = zip(
                [ids[r] for r in a_rows],
                [ids[r] for r in b_rows],
                sharing[start : start + batch].tolist(),
                similar[start : start + batch].tolist(),
                strict=True,
            )
            for edge in verify_batch(
                jobs,
                hashes,
                texts,
                config,
                boilerplate=self.excerpts.is_template,
                ignored=self.ignored,
                decided=decided,
                repeated=shared_hashes,
            ):
                forest.edge(*edge)
            if progress:
                progress(min(start + batch, total), total)
        members_all = [x for g in forest.groups() for x in g]
        return cluster_report(
            forest, self._cluster_meta(members_all), self._texts(members_all), templates, int(pairs.size)
        )

    def _norm_hashes(self, record_ids: Iterable[str]) -> dict[str, str]:
        """Normalised-text hash of these records (equal for exact duplicates), the live ones: asked for
        a batch of pairs at a time (a million records' dict of them took ~200 MB)."""
        out: dict[str, str] = {}
        for chunk in _chunks(sorted(record_ids)):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, norm_hash FROM examples e WHERE id IN ({marks}) AND {live_sql()}"
            out.update(self.db.execute(sql, chunk).fetchall())
        return out

    def _cluster_meta(self, ids: list[str]) -> dict[str, tuple[str, str, str, str]]:
        """(status, created_at, title, kind) per record."""
        out: dict[str, tuple[str, str, str, str]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for eid, status, created, title, kind in self.db.execute(
                f"SELECT id, status, created_at, title, kind FROM examples WHERE id IN ({marks})", chunk
            ):
                out[eid] = (status, created, title, kind)
        return out
