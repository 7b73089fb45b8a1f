"""Evaluation sets and decontamination: training records that overlap held-out eval items.

Rules, each reported with the eval item and the overlapping span:
- `ngram13`: the record shares any word 13-gram with an eval item;
- `ngram8_coverage`: the record covers >= 50% of an eval item's word 8-grams;
- `char5_containment`: >= 50% of the record's character 5-grams occur in one eval item.

A record is scanned as every string an export can emit (`models.record_text_fields`: title,
system prompt, text, turns, tool calls and results, rationales, tool definitions), joined into one
text, and each flag names the field holding its overlapping span.

Records are scanned in batches with numpy (sorted hash arrays and searchsorted), so the
cost per record is a handful of vectorised operations, not Python loops over n-grams.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from curator import jsonl
from curator.errors import ImportFailed, NotFoundError, UsageError
from curator.files import plain_suffix, read_text
from curator.minhash import SHINGLE, shingle_hashes
from curator.models import record_text_fields, utc_now
from curator.store.audit import record_event
from curator.store.examples import live_sql
from curator.textnorm import normalize

NGRAM_LONG = 13
NGRAM_SHORT = 8
COVERAGE = 0.5
CONTAINMENT = 0.5
CONTAINMENT_MIN_WORDS = 8
"""Shorter records are not tested for character containment: three common words are not a leak."""
_P = np.uint64(0x100000001B3)
_EVAL_FIELDS = ("prompt", "text", "question", "messages")

ScanText = str | list[tuple[str, str]]
"""What is scanned of one record: a plain text, or its `(field path, text)` pairs."""


# ---------------------------------------------------------------------------
# Reading eval files
# ---------------------------------------------------------------------------


def _messages_text(messages: Any) -> str:
    parts: list[str] = []
    for m in messages if isinstance(messages, list) else []:
        content = m.get("content") if isinstance(m, dict) else m
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(b.get("text", "") for b in content if isinstance(b, dict))
    return "\n".join(p for p in parts if p)


_TEXT_SUFFIXES = (".md", ".txt")
_JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
_DELIMITED = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


def read_eval_items(path: Path, *, field: str | None = None, column: str | None = None) -> list[tuple[str, str]]:
    """(label, text) items from an eval file or folder; a `.gz` file is read decompressed.

    - JSON lines: the first of prompt/text/question/messages, or `field` (a dotted path into
      nested objects and lists: `messages.0.content`);
    - CSV/TSV (`.csv`, `.tsv`, `.tab`) with a header: the `column`, required when more than one
      column holds text; an `id` column labels the items;
    - a folder of .md/.txt files (one item each);
    - any other text file: blank-line-separated blocks.

    A file that gives one item, or blocks that look like CSV rows, is refused: that is a misread
    file far more often than a one-item eval set.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if plain_suffix(p) in _TEXT_SUFFIXES and p.is_file())
        if not files:
            raise ImportFailed(f"{path}: folder holds no .md or .txt files")
        items = [(f.name, read_text(f, ImportFailed)) for f in files]
        return [(label, text) for label, text in items if text.strip()]
    suffix = plain_suffix(path)
    if column is not None and suffix not in _DELIMITED:
        raise UsageError(f"{path}: --column is for .csv and .tsv files")
    if field is not None and suffix in _DELIMITED:
        raise UsageError(f"{path}: --field is for JSON lines; a CSV or TSV file takes --column")
    text = read_text(path, ImportFailed)
    if suffix in _DELIMITED:
        items = _delimited_items(path, text, _DELIMITED[suffix], column)
    elif suffix in _JSONL_SUFFIXES or text.lstrip().startswith("{") or field is not None:
        items = _jsonl_items(path, text, field)
    else:
        blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
        items = [(f"block {i}", b) for i, b in enumerate((b for b in blocks if b), start=1)]
        _refuse_delimited_blocks(path, text)
    if len(items) == 1:
        raise ImportFailed(
            f"{path}: read as exactly 1 item; an eval set needs its items separated "
            "(JSON lines, CSV/TSV with a header, blank lines between blocks, or a folder of files)"
        )
    return items


def _refuse_delimited_blocks(path: Path, text: str) -> None:
    """Refuse plain text whose lines are delimited rows (a CSV or TSV read as prose)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        return
    for name, delimiter, least in (("tab", "\t", 1), ("comma", ",", 2)):
        counts = [line.count(delimiter) for line in lines]
        if counts[0] >= least and sum(c == counts[0] for c in counts) >= 0.8 * len(lines):
            raise ImportFailed(
                f"{path}: looks like {'TSV' if delimiter == chr(9) else 'CSV'} rows ({counts[0]} {name}s on "
                f"most lines), not text blocks; name it .{'tsv' if delimiter == chr(9) else 'csv'} and pick --column"
            )


def _delimited_items(path: Path, text: str, delimiter: str, column: str | None) -> list[tuple[str, str]]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as err:
        raise ImportFailed(f"{path}: invalid {'TSV' if delimiter == chr(9) else 'CSV'} ({err})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    listed = ", ".join(header)
    if column is None:
        texty = [i for i, name in enumerate(header) if _is_text_column([r[i] if i < len(r) else "" for r in body])]
        if len(texty) != 1:
            found = "no column holds text" if not texty else "more than one column holds text"
            raise UsageError(f"{path}: {found}; choose one with --column (columns: {listed})")
        at = texty[0]
    elif column in header:
        at = header.index(column)
    else:
        raise UsageError(f"{path}: no column named {column!r} (columns: {listed})")
    id_at = header.index("id") if "id" in header and header.index("id") != at else None
    items = []
    for number, row in enumerate(body, start=2):
        value = row[at].strip() if at < len(row) else ""
        if not value:
            continue
        label = row[id_at].strip() if id_at is not None and id_at < len(row) and row[id_at].strip() else f"row {number}"
        items.append((label, value))
    return items


def _is_text_column(values: list[str]) -> bool:
    """Prose, not ids, numbers or labels: most filled cells hold three or more words."""
    filled = [v for v in values if v.strip()]
    return bool(filled) and sum(len(v.split()) >= 3 for v in filled) >= 0.5 * len(filled)


def _at_path(obj: Any, dotted: str) -> Any:
    """The value at a dotted path (`messages.0.content`); None when there is none."""
    value = obj
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _jsonl_items(path: Path, text: str, field: str | None = None) -> list[tuple[str, str]]:
    items = []
    for number, obj in jsonl.objects(text, str(path), ImportFailed):
        if field is not None:
            key, value = field, _at_path(obj, field)
            if value is None:
                raise ImportFailed(f"{path}:{number}: no field {field!r}")
        else:
            found = next((k for k in _EVAL_FIELDS if k in obj), None)
            if found is None:
                raise ImportFailed(f"{path}:{number}: needs one of the fields {', '.join(_EVAL_FIELDS)} (or --field)")
            key, value = found, obj[found]
        if isinstance(value, list):
            value = _messages_text(value)
        if not isinstance(value, str) or not value.strip():
            raise ImportFailed(f"{path}:{number}: {key}: must be non-empty text")
        label = str(obj.get("id", f"line {number}"))
        items.append((label, value))
    return items


def add_evalset(
    db: Database, name: str, path: Path, *, actor: str, field: str | None = None, column: str | None = None
) -> int:
    """Register (or replace) an evaluation set; returns how many items it holds."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 100:
        raise UsageError(f"invalid eval set name {name!r} (no path separators, not starting with '.')")
    items = read_eval_items(path, field=field, column=column)
    if not items:
        raise ImportFailed(f"{path}: no evaluation items found")
    with db.atomic():
        db.execute("DELETE FROM evalsets WHERE name = ?", [name])
        db.execute(
            "INSERT INTO evalsets (name, source, created_at, actor) VALUES (?, ?, ?, ?)",
            [name, str(path), utc_now(), actor],
        )
        db.conn.executemany(
            "INSERT INTO eval_items (evalset, idx, label, text) VALUES (?, ?, ?, ?)",
            [(name, i, label, text) for i, (label, text) in enumerate(items)],
        )
        record_event(
            db,
            actor=actor,
            action="evalset-add",
            entity="evalset",
            entity_id=name,
            after=json.dumps({"source": str(path), "items": len(items)}),
        )
    return len(items)


def list_evalsets(db: Database) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT s.name, s.source, s.created_at, s.actor, count(i.idx) FROM evalsets s "
        "LEFT JOIN eval_items i ON i.evalset = s.name GROUP BY s.name ORDER BY s.name"
    ).fetchall()
    return [dict(zip(("name", "source", "created_at", "actor", "items"), r, strict=True)) for r in rows]


def remove_evalset(db: Database, name: str, *, actor: str) -> None:
    with db.atomic():
        if db.execute("DELETE FROM evalsets WHERE name = ?", [name]).rowcount == 0:
            raise NotFoundError(f"no eval set named {name!r}")
        record_event(db, actor=actor, action="evalset-remove", entity="evalset", entity_id=name)


# ---------------------------------------------------------------------------
# Hashing
# ---------------------------------------------------------------------------


def _distinct(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Sorted distinct values (sort + neighbour compare: numpy 2's hash-based unique is slower here)."""
    if values.size < 2:
        return values
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


_SCREEN_BITS = 24


def _screen(hashes: npt.NDArray[Any], shift: int) -> npt.NDArray[np.bool_]:
    table = np.zeros(1 << _SCREEN_BITS, dtype=np.bool_)
    if hashes.size:
        table[(hashes >> type(hashes[0])(shift)).astype(np.int64) & ((1 << _SCREEN_BITS) - 1)] = True
    return table


def _screened(screen: npt.NDArray[np.bool_], hashes: npt.NDArray[Any], shift: int) -> npt.NDArray[np.bool_]:
    found: npt.NDArray[np.bool_] = screen[
        (hashes >> type(hashes[0])(shift)).astype(np.int64) & ((1 << _SCREEN_BITS) - 1)
    ]
    return found


def _ngram_hashes(ids: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.uint64]:
    """Hash of every window of n word ids (polynomial, mixed); empty when fewer than n words."""
    count = ids.size - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = ids[:count].copy()
        for k in range(1, n):
            h *= _P
            h += ids[k : k + count]
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
    return h


class _Vocab:
    """Word -> id for this scan (ids >= 1; words never seen in an eval item map to 0)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def add(self, words: list[str]) -> npt.NDArray[np.uint64]:
        get = self.ids.setdefault
        return np.fromiter((get(w, len(self.ids) + 1) for w in words), dtype=np.uint64, count=len(words))

    def lookup(self, words: list[str]) -> npt.NDArray[np.uint64]:
        get = self.ids.get
        return np.fromiter((get(w, 0) for w in words), dtype=np.uint64, count=len(words))


def _ranges(
    lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every index of the ranges [lo[i], hi[i]) laid end to end, with the range `i` each came from."""
    counts = hi - lo
    which = np.repeat(np.arange(lo.size), counts)
    offsets = np.arange(which.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, np.repeat(lo, counts) + offsets


@dataclass
class _Table:
    """Sorted hashes with the eval item each came from (a hash may appear under several items)."""

    hashes: npt.NDArray[Any]
    items: npt.NDArray[np.int32]

    @classmethod
    def build(cls, per_item: list[npt.NDArray[Any]], dtype: Any) -> _Table:
        if not per_item:
            return cls(np.zeros(0, dtype=dtype), np.zeros(0, dtype=np.int32))
        hashes = np.concatenate(per_item).astype(dtype)
        items = np.concatenate([np.full(h.size, i, dtype=np.int32) for i, h in enumerate(per_item)])
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], items[order])

    def hits(self, query: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """For each query hash found: (query position, eval item), one pair per matching item."""
        if self.hashes.size == 0 or query.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        lo_all = np.searchsorted(self.hashes, query, side="left")
        present = self.hashes[np.minimum(lo_all, self.hashes.size - 1)] == query
        found = np.flatnonzero(present)  # most records hit nothing: one binary search each, then done
        if found.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        hi = np.searchsorted(self.hashes, query[found], side="right")
        which, at = _ranges(lo_all[found], hi)
        return found[which].astype(np.int64), self.items[at]


def _pairs(owners: npt.NDArray[Any], items: npt.NDArray[Any]) -> list[tuple[int, int]]:
    """Distinct (record, item) pairs, in order."""
    codes = owners.astype(np.int64) * (1 << 32) + items.astype(np.int64)
    return [(int(c >> 32), int(c & 0xFFFFFFFF)) for c in _distinct(codes).tolist()]


def _distinct_in_groups(
    hashes: npt.NDArray[Any], owners: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32]]:
    """Each record's distinct hashes, for owners already in non-decreasing order.

    Sorting each record's few hundred values on its own is ~5x faster than one sort of the batch.
    """
    if hashes.size < 2:
        return hashes, owners
    cuts = np.flatnonzero(owners[1:] != owners[:-1]) + 1
    edges = [0, *cuts.tolist(), hashes.size]
    ordered = np.concatenate([np.sort(hashes[a:b]) for a, b in itertools.pairwise(edges)])
    first = np.ones(hashes.size, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    first[cuts] = True
    return ordered[first], owners[first]


DENSE_CELLS = 4_000_000
"""Records x eval items counted at once (int64: 32 MB); bigger batches are scanned in slices."""

COMMON_ITEMS = 4
"""A 5-gram held by at least this many eval items is a row of the common matrix..."""
COMMON_MATRIX_BYTES = 64_000_000
"""...as long as the matrix (rows x items, one byte each) stays under this; the most widely held
5-grams get the rows, the others are expanded item by item (slower, bounded memory)."""


@dataclass
class _CharTable:
    """Every distinct character 5-gram of the eval items, and which items hold it.

    Widely held 5-grams (" the ", "tion ") are rows of the 0/1 matrix `common_items`, so a batch
    never expands them item by item; the others list their items in `items[starts[i]:starts[i+1]]`.
    """

    hashes: npt.NDArray[np.uint32]
    starts: npt.NDArray[np.int64]
    items: npt.NDArray[np.int32]
    common_row: npt.NDArray[np.int32]
    common_items: npt.NDArray[np.uint8]

    @classmethod
    def build(cls, per_item: list[npt.NDArray[np.uint32]]) -> _CharTable:
        table = _Table.build(per_item, np.uint32)
        if table.hashes.size == 0:
            none = np.zeros(0, dtype=np.int32)
            return cls(
                np.zeros(0, np.uint32), np.zeros(1, np.int64), none, none, np.zeros((0, len(per_item)), np.uint8)
            )
        n_items = max(len(per_item), 1)
        first = np.flatnonzero(np.concatenate(([True], table.hashes[1:] != table.hashes[:-1])))
        held_by = np.diff(np.append(first, table.hashes.size))
        budget = COMMON_MATRIX_BYTES // n_items
        candidates = np.flatnonzero(held_by >= COMMON_ITEMS)
        if candidates.size > budget:  # keep the most widely held
            candidates = np.sort(candidates[np.argsort(-held_by[candidates], kind="stable")[:budget]])
        common_row = np.full(first.size, -1, dtype=np.int32)
        common_row[candidates] = np.arange(candidates.size, dtype=np.int32)
        row_of_entry = np.repeat(np.arange(first.size), held_by)
        in_matrix = common_row[row_of_entry] >= 0
        matrix = np.zeros((candidates.size, len(per_item)), dtype=np.uint8)
        matrix[common_row[row_of_entry[in_matrix]], table.items[in_matrix]] = 1
        listed = np.where(common_row >= 0, 0, held_by)
        starts = np.concatenate(([0], np.cumsum(listed))).astype(np.int64)
        return cls(table.hashes[first], starts, table.items[~in_matrix], common_row, matrix)

    def expand(self, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
        """For the listed (not common) rows: (index into `rows`, item) for every item holding each."""
        which, at = _ranges(self.starts[rows], self.starts[rows + 1])
        return which, self.items[at]


def _pair_counts(
    owners: npt.NDArray[Any], items: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """How often each (record, item) pair occurs, sparse: (records, items, counts), sorted by record.

    Never a dense records x items array: eval sets can hold tens of thousands of items.
    """
    codes = np.sort(owners.astype(np.int64) * (1 << 32) + items.astype(np.int64))
    if not codes.size:
        return codes, codes, codes
    first = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
    counts = np.diff(np.append(first, codes.size))
    pairs = codes[first]
    return pairs >> 32, pairs & 0xFFFFFFFF, counts


@dataclass
class _Batch:
    """A batch of training records laid end to end: words (as eval-vocabulary ids) and characters."""

    ids: list[str]
    norms: list[str]
    words: list[list[str]]
    word_ids_all: npt.NDArray[np.uint64]
    word_starts: npt.NDArray[np.int64]
    fields: list[list[tuple[str, int, int, int, int]]]
    """Per record, each field's (path, first word, end word, first char, end char) in its norm."""

    @classmethod
    def of(cls, records: list[tuple[str, ScanText]], vocab: _Vocab) -> _Batch:
        ids, norms, words, fields = [], [], [], []
        for rid, text in records:
            parts = [("", text)] if isinstance(text, str) else text
            if len(parts) == 1:
                norm = normalize(parts[0][1])
                w = norm.split()
                bounds = [(parts[0][0], 0, len(w), 0, len(norm))]
            else:
                pieces: list[str] = []
                bounds, w, at = [], [], 0
                for path, value in parts:
                    piece = normalize(value)
                    if not piece:
                        continue
                    if pieces:
                        at += 1  # the space joining it to the previous field
                    fw = piece.split()
                    bounds.append((path, len(w), len(w) + len(fw), at, at + len(piece)))
                    pieces.append(piece)
                    w.extend(fw)
                    at += len(piece)
                norm = " ".join(pieces)
            ids.append(rid)
            norms.append(norm)
            words.append(w)
            fields.append(bounds)
        counts = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        starts = np.concatenate(([0], np.cumsum(counts)))
        all_ids = vocab.lookup([w for ws in words for w in ws])
        return cls(ids, norms, words, all_ids, starts, fields)

    def field_of(self, rec: int, start: int, end: int, *, chars: bool) -> str:
        """The field holding most of the record's words (or characters) [start, end)."""
        best, most = "", -1
        for path, first_word, end_word, first_char, end_char in self.fields[rec]:
            lo, hi = (first_char, end_char) if chars else (first_word, end_word)
            share = min(end, hi) - max(start, lo)
            if share > most:
                best, most = path, share
        return best

    def word_ids(self, rec: int) -> npt.NDArray[np.uint64]:
        return self.word_ids_all[self.word_starts[rec] : self.word_starts[rec + 1]]

    def word_ngrams(self, n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
        """Hashes of every word n-gram inside one record, with the record of each and its start word."""
        hashes = _ngram_hashes(self.word_ids_all, n)
        if not hashes.size:
            return hashes, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        starts = np.arange(hashes.size, dtype=np.int64)
        counts = np.diff(self.word_starts)
        owners = np.repeat(np.arange(counts.size, dtype=np.int32), counts)[: hashes.size]
        inside = starts + n <= self.word_starts[owners + 1]
        # a window containing a word no eval item has cannot match: drop it before any lookup
        unknown = np.concatenate(([0], np.cumsum(self.word_ids_all == 0)))
        known = unknown[starts + n] - unknown[starts] == 0
        keep = inside & known
        return hashes[keep], owners[keep], starts[keep]

    def char_shingles(self, min_words: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int32]]:
        """Character 5-gram hashes of records with at least `min_words` words, with their record."""
        chosen = [r for r, w in enumerate(self.words) if len(w) >= min_words]
        if not chosen:
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int32)
        text = "".join(self.norms[r] for r in chosen)
        lengths = np.fromiter((len(self.norms[r]) for r in chosen), dtype=np.int64, count=len(chosen))
        bounds = np.concatenate(([0], np.cumsum(lengths)))
        hashes = shingle_hashes(text)
        slot = np.repeat(np.arange(len(chosen)), lengths)[: hashes.size]
        inside = np.arange(hashes.size, dtype=np.int64) + SHINGLE <= bounds[slot + 1]
        owners = np.asarray(chosen, dtype=np.int32)[slot]
        return hashes[inside], owners[inside]


@dataclass
class Flag:
    """One training record overlapping one eval item by one rule, in one field of the record."""

    id: str
    evalset: str
    item: str
    rule: str
    score: float
    span: str
    field: str = ""
    """Where the overlap is (`system`, `messages[3].rationale`, ...; `record_text_fields` paths);
    the field holding most of the span when it crosses fields; empty for a plain text."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "evalset": self.evalset,
            "item": self.item,
            "rule": self.rule,
            "score": self.score,
            "span": self.span,
            "field": self.field,
        }


@dataclass
class EvalIndex:
    """Everything needed to test training records against a set of eval items."""

    labels: list[tuple[str, str]]  # (evalset, label) per item
    words: list[list[str]]
    norms: list[str]
    vocab: _Vocab
    long: _Table
    short: _Table
    short_totals: npt.NDArray[np.int64]
    chars: _CharTable
    char_sets: list[set[int]] = field(default_factory=list)
    screens: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)
    """Bit tables of every eval hash (top 24 bits): most records are cleared by one lookup per
    n-gram, without a binary search into the tables (false positives only cost the exact check)."""

    @classmethod
    def build(cls, items: list[tuple[str, str, str]]) -> EvalIndex:
        """items: (evalset, label, text)."""
        vocab = _Vocab()
        words, norms, longs, shorts, chars = [], [], [], [], []
        for _, _, text in items:
            norm = normalize(text)
            w = norm.split()
            ids = vocab.add(w)
            words.append(w)
            norms.append(norm)
            longs.append(_distinct(_ngram_hashes(ids, NGRAM_LONG)))
            shorts.append(_distinct(_ngram_hashes(ids, NGRAM_SHORT)))
            chars.append(_distinct(shingle_hashes(norm)))
        index = cls(
            labels=[(s, label) for s, label, _ in items],
            words=words,
            norms=norms,
            vocab=vocab,
            long=_Table.build(longs, np.uint64),
            short=_Table.build(shorts, np.uint64),
            short_totals=np.array([s.size for s in shorts], dtype=np.int64),
            chars=_CharTable.build(chars),
        )
        index.screens = {
            "long": _screen(index.long.hashes, 40),
            "short": _screen(index.short.hashes, 40),
            "chars": _screen(index.chars.hashes, 8),
        }
        return index

    def scan(self, records: list[tuple[str, ScanText]]) -> list[Flag]:
        """Flags for a batch of (id, text) training records, in record order.

        A record's text is a string or its fields (`record_text_fields`): the fields are scanned as
        one text (an eval item split across fields is still found), and each flag names the field
        where the overlapping span lies.

        The whole batch is hashed at once: the word ids and characters of every record are laid
        end to end, n-grams are hashed over the concatenation and windows crossing a record
        boundary are dropped. Bit-table screens then clear most (record, n-gram) pairs, and only
        screened hashes are looked up exactly; Python only runs per flag (to cut its span).
        """
        if not self.labels or not records:
            return []
        step = max(64, DENSE_CELLS // len(self.labels))
        if len(records) > step:  # records x items counts stay small even for eval sets of 100k items
            return [flag for at in range(0, len(records), step) for flag in self.scan(records[at : at + step])]
        batch = _Batch.of(records, self.vocab)
        found: dict[tuple[int, int], Flag] = {}  # (record, item) -> its first flag
        self._scan_long(batch, found)
        self._scan_short(batch, found)
        self._scan_chars(batch, found)
        rule_order = {"ngram13": 0, "ngram8_coverage": 1, "char5_containment": 2}
        ordered = sorted(found.items(), key=lambda kv: (kv[0][0], rule_order[kv[1].rule], kv[0][1]))
        return [flag for _, flag in ordered]

    def _scan_long(self, batch: _Batch, found: dict[tuple[int, int], Flag]) -> None:
        """Any shared word 13-gram."""
        hashes, owners, starts = batch.word_ngrams(NGRAM_LONG)
        screened = np.flatnonzero(_screened(self.screens["long"], hashes, 40)) if hashes.size else hashes
        if not screened.size:
            return
        pos, items = self.long.hits(hashes[screened])
        windows = screened[pos]
        for rec, item in _pairs(owners[windows], items):
            where = starts[windows[(owners[windows] == rec) & (items == item)]] - batch.word_starts[rec]
            span, lo, hi = _word_span(batch.words[rec], where, NGRAM_LONG)
            place = batch.field_of(rec, lo, hi, chars=False)
            found[(rec, item)] = self._flag(batch.ids[rec], item, "ngram13", 1.0, span, place)

    def _scan_short(self, batch: _Batch, found: dict[tuple[int, int], Flag]) -> None:
        """>= 50% of an eval item's distinct word 8-grams present in the record."""
        hashes, owners, _ = batch.word_ngrams(NGRAM_SHORT)
        if not hashes.size:
            return
        keep = _screened(self.screens["short"], hashes, 40)
        hashes, owners = _distinct_in_groups(hashes[keep], owners[keep])
        if not hashes.size:
            return
        pos, items = self.short.hits(hashes)
        if not items.size:
            return
        recs, hit_items, covered = _pair_counts(owners[pos], items)
        share = covered / np.maximum(self.short_totals[hit_items], 1)
        for at in np.flatnonzero(share >= COVERAGE).tolist():
            rec, item = int(recs[at]), int(hit_items[at])
            if (rec, item) in found:
                continue
            words = batch.words[rec]
            all8 = _ngram_hashes(batch.word_ids(rec), NGRAM_SHORT)
            item_hashes = set(self.short.hashes[self.short.items == item].tolist())
            where = np.flatnonzero([h in item_hashes for h in all8.tolist()])
            span, lo, hi = _word_span(words, where, NGRAM_SHORT)
            place = batch.field_of(rec, lo, hi, chars=False)
            score = round(float(share[at]), 4)
            found[(rec, item)] = self._flag(batch.ids[rec], item, "ngram8_coverage", score, span, place)

    def _scan_chars(self, batch: _Batch, found: dict[tuple[int, int], Flag]) -> None:
        """>= 50% of the record's distinct character 5-grams inside one eval item (records of 8+ words).

        Cleared in three steps, each exact or an upper bound: the share inside any item at all (bit
        screen); then the 5-grams found in few items are counted per item, and those found in many
        are only counted per record, which bounds every item's share; only records the bound cannot
        clear are summed over the common rows item by item.
        """
        hashes, owners = batch.char_shingles(CONTAINMENT_MIN_WORDS)
        if not hashes.size:
            return
        hashes, owners = _distinct_in_groups(hashes, owners)
        n_recs, n_items = len(batch.ids), len(self.labels)
        totals = np.bincount(owners, minlength=n_recs)
        need = CONTAINMENT * totals
        screened = _screened(self.screens["chars"], hashes, 8)
        maybe = (np.bincount(owners[screened], minlength=n_recs) >= need) & (totals > 0)
        if not maybe.any():
            return
        keep = maybe[owners] & screened
        hashes, owners = hashes[keep], owners[keep]
        table = self.chars
        at = np.searchsorted(table.hashes, hashes)
        at[at == table.hashes.size] = 0
        present = table.hashes[at] == hashes if table.hashes.size else np.zeros(hashes.size, dtype=bool)
        rows, owners = at[present], owners[present]
        common_rows = table.common_row[rows]
        is_common = common_rows >= 0
        which, items = table.expand(rows[~is_common].astype(np.int64))
        codes = owners[~is_common][which].astype(np.int64) * n_items + items
        rare = np.bincount(codes, minlength=n_recs * n_items).reshape(n_recs, n_items)  # scan() bounds its size
        common_counts = np.bincount(owners[is_common], minlength=n_recs)
        common_rows = common_rows[is_common]
        bounds = np.concatenate(([0], np.cumsum(common_counts)))
        for rec in np.flatnonzero(maybe & (rare.max(axis=1) + common_counts >= need)).tolist():
            segment = common_rows[bounds[rec] : bounds[rec + 1]]
            inside = rare[rec] + table.common_items[segment].sum(axis=0, dtype=np.int64)
            share = inside / totals[rec]
            for item in np.flatnonzero(share >= CONTAINMENT).tolist():
                if (rec, item) in found:
                    continue
                span, lo, hi = _char_span(batch.norms[rec], self.norms[item])
                place = batch.field_of(rec, lo, hi, chars=True)
                score = round(float(share[item]), 4)
                found[(rec, item)] = self._flag(batch.ids[rec], item, "char5_containment", score, span, place)

    def _flag(self, rid: str, item: int, rule: str, score: float, span: str, place: str) -> Flag:
        evalset, label = self.labels[item]
        return Flag(rid, evalset, label, rule, score, span, place)


def _word_span(words: list[str], starts: npt.NDArray[Any], n: int, limit: int = 60) -> tuple[str, int, int]:
    """The longest run of overlapping n-grams, as the record's words, with its word range."""
    if starts.size == 0:
        return "", 0, 0
    s = np.sort(starts)
    best_start, best_end, run_start = int(s[0]), int(s[0]), int(s[0])
    prev = int(s[0])
    for x in s[1:].tolist():
        if x != prev + 1:
            run_start = x
        prev = x
        if prev - run_start > best_end - best_start:
            best_start, best_end = run_start, prev
    span = words[best_start : best_end + n]
    text = " ".join(span[:limit])
    return text + (" …" if len(span) > limit else ""), best_start, best_end + n


def _char_span(record_norm: str, item_norm: str, limit: int = 300) -> tuple[str, int, int]:
    """The longest stretch of the record whose 5-grams all occur in the item, with its range."""
    item_grams = {item_norm[i : i + SHINGLE] for i in range(max(len(item_norm) - SHINGLE + 1, 0))}
    best = (0, 0)
    start = None
    for i in range(max(len(record_norm) - SHINGLE + 1, 0)):
        if record_norm[i : i + SHINGLE] in item_grams:
            if start is None:
                start = i
            if i + SHINGLE - start > best[1] - best[0]:
                best = (start, i + SHINGLE)
        else:
            start = None
    text = record_norm[best[0] : best[1]]
    return text[:limit] + (" …" if len(text) > limit else ""), best[0], best[1]


def _eval_items(db: Database, evalsets: list[str] | None) -> list[tuple[str, str, str]]:
    known = {r[0] for r in db.execute("SELECT name FROM evalsets")}
    if evalsets:
        missing = sorted(set(evalsets) - known)
        if missing:
            raise NotFoundError(f"no eval set named {missing[0]!r} (see `curator evalset list`)")
    names = evalsets or sorted(known)
    if not names:
        raise UsageError("no eval sets registered; add one with `curator evalset add NAME FILE`")
    marks = ",".join("?" * len(names))
    rows = db.execute(
        f"SELECT evalset, label, text FROM eval_items WHERE evalset IN ({marks}) ORDER BY evalset, idx", names
    ).fetchall()
    return [(s, label, text) for s, label, text in rows]


def load_eval_index(db: Database, evalsets: list[str] | None = None) -> EvalIndex:
    """The index over registered eval items (all sets, or the named ones)."""
    return EvalIndex.build(_eval_items(db, evalsets))


def iter_training_texts(db: Database, batch: int = 2000) -> Iterator[list[tuple[str, ScanText]]]:
    """(id, fields) of every live stored record, in id order, in batches.

    The fields are every string an export can emit (`record_text_fields`), read from the stored
    canonical JSON without validating it again (it was validated when it was written).
    """
    cursor = db.execute(f"SELECT id, record FROM examples e WHERE {live_sql()} ORDER BY id")
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            return
        yield [(eid, record_text_fields(json.loads(record))) for eid, record in rows]


PARALLEL_MIN_RECORDS = 20_000
"""Corpora at least this big are scanned in two spawned processes (start-up costs ~0.5 s)."""

_worker_index: EvalIndex | None = None


def _init_worker(items: list[tuple[str, str, str]]) -> None:
    global _worker_index
    _worker_index = EvalIndex.build(items)


def _scan_in_worker(batch: list[tuple[str, ScanText]]) -> list[Flag]:
    assert _worker_index is not None
    return _worker_index.scan(batch)


def _scanned(
    items: list[tuple[str, str, str]], batches: Iterator[list[tuple[str, ScanText]]], workers: int
) -> Iterator[tuple[int, list[Flag]]]:
    """(records, flags) per batch, in order; with workers > 1, scanned in spawned processes."""
    if workers <= 1:
        index = EvalIndex.build(items)
        for batch in batches:
            yield len(batch), index.scan(batch)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork: callers may be threads of the TUI
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(items,)) as pool:
        pending: deque[tuple[int, Future[list[Flag]]]] = deque()
        try:
            for batch in batches:
                pending.append((len(batch), pool.submit(_scan_in_worker, batch)))
                if len(pending) >= 2 * workers:  # bounded read-ahead keeps memory flat
                    size, future = pending.popleft()
                    yield size, future.result()
            while pending:
                size, future = pending.popleft()
                yield size, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def decontaminate(
    db: Database,
    evalsets: list[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    workers: int | None = 1,
) -> tuple[int, list[Flag]]:
    """Scan every stored record; returns (records checked, flags).

    `workers=None` picks two processes for corpora of PARALLEL_MIN_RECORDS or more (the CLI),
    else one; the flags are the same either way, in record order.
    """
    items = _eval_items(db, evalsets)
    if workers is None:
        total = db.execute(f"SELECT count(*) FROM examples e WHERE {live_sql()}").fetchone()[0]
        workers = min(2, os.cpu_count() or 1) if total >= PARALLEL_MIN_RECORDS else 1
    flags: list[Flag] = []
    checked = 0
    for size, found in _scanned(items, iter_training_texts(db), workers):
        if cancelled is not None and cancelled():
            break
        flags.extend(found)
        checked += size
        if progress:
            progress(checked)
    return checked, flags


def flagged_ids(db: Database, evalsets: list[str]) -> dict[str, list[Flag]]:
    """Record id -> its flags (for the export's exclusion list)."""
    if not evalsets:
        return {}
    _, flags = decontaminate(db, evalsets)
    out: dict[str, list[Flag]] = {}
    for f in flags:
        out.setdefault(f.id, []).append(f)
    return out
