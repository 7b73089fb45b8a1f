"""Evaluation sets and decontamination: training records that overlap held-out eval items.

A flag needs real shared text. For each (record, eval item) pair the scan finds *shared runs*:
record word 8-grams that are 8-grams of the item, grouped into consecutive runs, each cut into
*pieces* whose normalised words occur contiguously in the item's normalised text (checked on the
strings, so a hash collision never makes a flag). In a piece a word is *discounted* when it lies
in a *common* 8-gram (one held by more than `common_share` (1%) of the live training records and
by at least `common_min_records` (10) of them) or in one of the built-in stop phrases (everyday
phrasing: "i don t know", "thank you", "let me know if you have any questions", ...). A pair is a
match when one piece has at least `min_words` (8) words that are not discounted: common text can
lengthen a match but never makes one. A match is then flagged by the first rule that holds:

- `ngram13`: the piece is 13 words or longer;
- `ngram8_coverage`: the record holds >= 50% of the item's distinct word 8-grams;
- `char5_containment`: >= 50% of the record's distinct character 5-grams occur in the item
  (records of 8 words or more).

Each flag reports the eval item, the rule, the piece (the span) and the field it lies in. The
training counts (`CommonNgrams`) are counted once per corpus with the scan's own hashing: during
`scan_workspace`'s pass (the CLI and the export) or by `count_common` (the editor), so all three
decide with the same counts; `summary` names the common 8-grams that were discounted.

A record is scanned as every string an export can emit (`models.record_text_fields`: title,
system prompt, text, turns, tool calls and results, rationales, tool definitions), joined into one
text, and each flag names the field holding its overlapping span.

Records are scanned in batches with numpy (sorted hash arrays and searchsorted), so the
cost per record is a handful of vectorised operations, not Python loops over n-grams; Python
runs only for the few pairs a raw test passes.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
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
from curator.store.db import scan_cache
from curator.store.examples import live_sql
from curator.textnorm import normalize

NGRAM_LONG = 13
NGRAM_SHORT = 8
COVERAGE = 0.5
CONTAINMENT = 0.5
CONTAINMENT_MIN_WORDS = 8
"""Shorter records are not tested for character containment: three common words are not a leak."""
MIN_WORDS = 8
"""Distinctive shared words a match needs (see the module docstring)."""
COMMON_SHARE = 0.01
COMMON_MIN_RECORDS = 10
COMMON_MAX_WORDS = 12
"""Longest stretch of an eval item that training counts can make common (see `CommonNgrams`)."""
STOP_PHRASES = (
    "i don t know",
    "i do not know",
    "i don t think",
    "i m not sure",
    "i am not sure",
    "not sure if",
    "what to do",
    "what do you think",
    "what i mean",
    "do you know",
    "i want to know",
    "i would like to know",
    "want to know",
    "can you help me",
    "could you help me",
    "can you explain",
    "could you explain",
    "i need help",
    "i need some advice",
    "is it okay",
    "is it ok",
    "how do i",
    "how can i",
    "thank you",
    "thanks so much",
    "that helps",
    "that s helpful",
    "i m happy to help",
    "i am happy to help",
    "happy to help",
    "i m sorry",
    "i am sorry",
    "sorry to hear that",
    "i can t help with that",
    "i cannot help with that",
    "i can t help",
    "i can t do that",
    "let me know if you have any questions",
    "let me know if",
    "if you have any questions",
    "if you have any other questions",
    "that s a good question",
    "good question",
    "it depends on",
    "here is what",
    "here s what",
    "you don t have to",
    "take your time",
    "of course",
    "i understand",
    "i hear you",
    "for example",
    "on the other hand",
    "at the same time",
    "in other words",
    "as well as",
    "a lot of",
    "one of the",
    "it s important to",
    "make sure",
    "no problem",
    "sounds good",
)
"""Everyday phrases (normalised) that never count toward a match."""
_STOP_BY_FIRST: dict[str, tuple[tuple[str, ...], ...]] = {
    first: tuple(tuple(p.split()) for p in STOP_PHRASES if p.split()[0] == first)
    for first in {p.split()[0] for p in STOP_PHRASES}
}
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
        items = [(f.name, read_text(f, ImportFailed, what="eval set file", kind="evalset")) for f in files]
        return [(label, text) for label, text in items if text.strip()]
    suffix = plain_suffix(path)
    if column is not None and suffix not in _DELIMITED:
        raise UsageError(f"{path}: --column is for .csv and .tsv files")
    if field is not None and suffix in _DELIMITED:
        raise UsageError(f"{path}: --field is for JSON lines; a CSV or TSV file takes --column")
    text = read_text(path, ImportFailed, what="eval set file", kind="evalset")
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


SUITE_PREFIX = "suite:"
"""Eval sets named `suite:NAME` are the prompts of eval suite NAME, kept in step with it."""


def suite_evalset_name(suite: str) -> str:
    return f"{SUITE_PREFIX}{suite}"


def suite_evalsets(db: Database) -> list[str]:
    """The eval sets that belong to eval suites: every export decontaminates against them."""
    return [r[0] for r in db.execute("SELECT name FROM evalsets WHERE name LIKE 'suite:%' ORDER BY name")]


def _store_evalset(db: Database, name: str, source: str, items: list[tuple[str, str]], *, actor: str) -> None:
    with db.atomic():
        db.execute("DELETE FROM evalsets WHERE name = ?", [name])
        db.execute(
            "INSERT INTO evalsets (name, source, created_at, actor) VALUES (?, ?, ?, ?)",
            [name, source, utc_now(), actor],
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
            after=json.dumps({"source": source, "items": len(items)}),
        )


def register_suite_evalset(db: Database, suite: str, items: list[tuple[str, str]], *, actor: str) -> None:
    """Register an eval suite's prompts (label, text) as the decontamination set `suite:NAME`."""
    name = suite_evalset_name(suite)
    _store_evalset(
        db, name, f"eval suite {suite}", [(label, text) for label, text in items if text.strip()], actor=actor
    )


def add_evalset(
    db: Database, name: str, path: Path, *, actor: str, field: str | None = None, column: str | None = None
) -> int:
    """Register (or replace) an evaluation set; returns how many items it holds."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 100:
        raise UsageError(f"invalid eval set name {name!r} (no path separators, not starting with '.')")
    if name.startswith(SUITE_PREFIX):
        raise UsageError(
            f"eval set names starting with {SUITE_PREFIX!r} belong to eval suites (curator eval suite add)"
        )
    items = read_eval_items(path, field=field, column=column)
    if not items:
        raise ImportFailed(f"{path}: no evaluation items found")
    _store_evalset(db, name, str(path), items, actor=actor)
    return len(items)


def list_evalsets(db: Database) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT s.name, s.source, s.created_at, s.actor, count(i.idx) FROM evalsets s "
        "LEFT JOIN eval_items i ON i.evalset = s.name GROUP BY s.name ORDER BY s.name"
    ).fetchall()
    return [dict(zip(("name", "source", "created_at", "actor", "items"), r, strict=True)) for r in rows]


def remove_evalset(db: Database, name: str, *, actor: str) -> None:
    if name.startswith(SUITE_PREFIX):
        raise UsageError(
            f"eval set {name!r} holds the prompts of eval suite {name[len(SUITE_PREFIX) :]!r}; "
            "it goes when the suite does (curator eval suite remove)"
        )
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


@dataclass(frozen=True)
class DecontamConfig:
    """How much shared text makes a flag, and which shared text is too common to count."""

    min_words: int = MIN_WORDS
    """A flag needs a shared run with at least this many distinctive words (8 or more: runs are
    found through word 8-grams)."""
    common_share: float = COMMON_SHARE
    """An eval word 8-gram held by more than this share of the live training records is common..."""
    common_min_records: int = COMMON_MIN_RECORDS
    """...and by at least this many records (so a small corpus does not make everything common)."""

    def __post_init__(self) -> None:
        if self.min_words < NGRAM_SHORT:
            raise UsageError(f"min words must be at least {NGRAM_SHORT} (got {self.min_words})")
        if not 0 <= self.common_share <= 1:
            raise UsageError(f"common share must be between 0 and 1 (got {self.common_share})")
        if self.common_min_records < 1:
            raise UsageError(f"common min records must be at least 1 (got {self.common_min_records})")


@dataclass
class CommonNgrams:
    """How many live training records hold each distinct word 8-gram of the eval items, and which
    8-grams that makes common.

    Counted once over the corpus (`scan_workspace`'s own pass, or `count_common`); the CLI, the
    export and the editor all decide with the same counts. An 8-gram is common when more than
    `common_share` of the records (and at least `common_min_records`) hold it and it lies in a
    stretch of at most COMMON_MAX_WORDS words of every eval item holding it whose 8-grams are all
    that widely held: everyday phrasing is short, a longer shared stretch is a copied eval passage
    and is never discounted (`copied_stretches` counts them).
    """

    records: int
    counts: npt.NDArray[np.int64]
    config: DecontamConfig
    mask: npt.NDArray[np.bool_]
    copied_stretches: int = 0

    @classmethod
    def build(
        cls, index: EvalIndex, records: int, counts: npt.NDArray[np.int64], config: DecontamConfig
    ) -> CommonNgrams:
        threshold = _threshold(records, config)
        held = counts >= threshold
        mask = held.copy()
        copied = 0
        for rows in index.item_rows:
            if not rows.size:
                continue
            wide = held[rows]
            edges = np.flatnonzero(np.diff(np.concatenate(([0], wide.astype(np.int8), [0]))))
            for lo, hi in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
                if hi - lo + NGRAM_SHORT - 1 > COMMON_MAX_WORDS:
                    mask[rows[lo:hi]] = False
                    copied += 1
        return cls(records, counts, config, mask, copied)

    @property
    def threshold(self) -> int:
        """Records an 8-gram must be in to be common: more than `common_share`, at least the minimum."""
        return _threshold(self.records, self.config)


def _threshold(records: int, config: DecontamConfig) -> int:
    return max(config.common_min_records, int(config.common_share * records) + 1)


@dataclass
class _Piece:
    """A run of record words that occurs contiguously in the eval item (checked on the strings)."""

    start: int
    words: list[str]
    rows: list[int]
    """Row in `EvalIndex.grams` of each 8-gram starting in the piece (for its training count)."""
    stop: list[bool]
    """Per word: inside one of the stop phrases."""
    field: str


@dataclass
class Candidate:
    """A (record, eval item) pair some rule's raw test passed, with its shared runs: whether it is a
    flag depends on which 8-grams are common (`EvalIndex.decide`)."""

    order: int
    id: str
    item: int
    coverage: float
    containment: float
    long: bool
    pieces: list[_Piece]


@dataclass
class Decided:
    """Flags of a set of candidates, and how many overlaps were dismissed as common text."""

    flags: list[Flag]
    dismissed: int = 0
    dismissed_examples: list[str] = field(default_factory=list)


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
    grams: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    """Every distinct word 8-gram hash of the eval items, sorted: the rows training counts refer to."""
    screens: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)
    """Bit tables of every eval hash (top 24 bits): most records are cleared by one lookup per
    n-gram, without a binary search into the tables (false positives only cost the exact check)."""
    item_rows: list[npt.NDArray[np.int64]] = field(default_factory=list)
    """Per item, the `grams` row of the 8-gram at each word position."""
    _item_grams: dict[int, npt.NDArray[np.uint64]] = field(default_factory=dict)

    @classmethod
    def build(cls, items: list[tuple[str, str, str]]) -> EvalIndex:
        """items: (evalset, label, text)."""
        vocab = _Vocab()
        words, norms, longs, shorts, chars, seqs = [], [], [], [], [], []
        for _, _, text in items:
            norm = normalize(text)
            w = norm.split()
            ids = vocab.add(w)
            seqs.append(_ngram_hashes(ids, NGRAM_SHORT))
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
        index.grams = _distinct(index.short.hashes)
        index.item_rows = [np.searchsorted(index.grams, seq).astype(np.int64) for seq in seqs]
        index.screens = {
            "long": _screen(index.long.hashes, 40),
            "short": _screen(index.short.hashes, 40),
            "chars": _screen(index.chars.hashes, 8),
        }
        return index

    # -- scanning -----------------------------------------------------------------------------------

    def scan(
        self,
        records: list[tuple[str, ScanText]],
        common: CommonNgrams | None = None,
        config: DecontamConfig | None = None,
    ) -> list[Flag]:
        """Flags for a batch of (id, text) training records, in record order.

        A record's text is a string or its fields (`record_text_fields`): the fields are scanned as
        one text (an eval item split across fields is still found), and each flag names the field
        where the overlapping span lies. `common` holds the training counts that make an 8-gram
        common (none: only the stop phrases are discounted).
        """
        candidates, _ = self.candidates(records)
        return self.decide(candidates, common, config or (common.config if common else DecontamConfig())).flags

    def candidates(self, records: list[tuple[str, ScanText]]) -> tuple[list[Candidate], npt.NDArray[np.int64]]:
        """The batch's candidate pairs, and how many of its records hold each eval 8-gram (`grams`).

        The whole batch is hashed at once: the word ids and characters of every record are laid
        end to end, n-grams are hashed over the concatenation and windows crossing a record
        boundary are dropped. Bit-table screens then clear most (record, n-gram) pairs, and only
        screened hashes are looked up exactly; Python only runs per candidate pair.
        """
        counts = np.zeros(self.grams.size, dtype=np.int64)
        if not self.labels or not records:
            return [], counts
        step = max(64, DENSE_CELLS // len(self.labels))
        if len(records) > step:  # records x items counts stay small even for eval sets of 100k items
            out: list[Candidate] = []
            for at in range(0, len(records), step):
                found, part = self.candidates(records[at : at + step])
                out += [replace(c, order=c.order + at) for c in found]
                counts += part
            return out, counts
        batch = _Batch.of(records, self.vocab)
        pairs: dict[tuple[int, int], list[Any]] = {}  # (record, item) -> [coverage, containment, long]
        for pair in self._long_pairs(batch):
            pairs.setdefault(pair, [0.0, 0.0, False])[2] = True
        counts += self._short_pairs(batch, pairs)
        self._char_pairs(batch, pairs)
        out = [self._candidate(batch, rec, item, *pairs[(rec, item)]) for rec, item in sorted(pairs)]
        return [c for c in out if c.pieces], counts

    def ngram_counts(self, records: list[tuple[str, ScanText]]) -> npt.NDArray[np.int64]:
        """How many of these records hold each eval 8-gram (`grams`): the scan's hashing, no rules."""
        counts = np.zeros(self.grams.size, dtype=np.int64)
        if self.grams.size and records:
            hashes, _ = self._record_grams(_Batch.of(records, self.vocab))
            counts += self._gram_counts(hashes)
        return counts

    def decide(self, candidates: list[Candidate], common: CommonNgrams | None, config: DecontamConfig) -> Decided:
        """Flags of candidate pairs: each needs a shared run with `min_words` distinctive words.

        A word of a run is discounted when a common 8-gram of the run covers it, or a stop phrase
        does; common text can lengthen a match but never makes one.
        """
        mask = common.mask if common is not None else np.zeros(self.grams.size, dtype=bool)
        found: list[tuple[int, int, int, Flag]] = []
        out = Decided([])
        for cand in candidates:
            best: _Piece | None = None
            for piece in cand.pieces:
                longer = best is None or len(piece.words) > len(best.words)
                if longer and _distinctive(piece, mask) >= config.min_words:
                    best = piece
            if best is None:
                if any(len(p.words) >= config.min_words for p in cand.pieces):
                    out.dismissed += 1
                    if len(out.dismissed_examples) < 5:
                        out.dismissed_examples.append(_snippet(max(cand.pieces, key=lambda p: len(p.words)).words))
                continue
            if len(best.words) >= NGRAM_LONG:
                rule, score = "ngram13", 1.0
            elif cand.coverage >= COVERAGE:
                rule, score = "ngram8_coverage", cand.coverage
            elif cand.containment >= CONTAINMENT:
                rule, score = "char5_containment", cand.containment
            else:
                continue
            flag = self._flag(cand.id, cand.item, rule, round(score, 4), _snippet(best.words), best.field)
            found.append((cand.order, _RULE_ORDER[rule], cand.item, flag))
        out.flags = [f for *_, f in sorted(found, key=lambda t: t[:3])]
        return out

    # -- the raw tests ------------------------------------------------------------------------------

    def _long_pairs(self, batch: _Batch) -> list[tuple[int, int]]:
        """Pairs sharing any word 13-gram (by hash; the pieces are checked on the strings)."""
        hashes, owners, _ = batch.word_ngrams(NGRAM_LONG)
        screened = np.flatnonzero(_screened(self.screens["long"], hashes, 40)) if hashes.size else hashes
        if not screened.size:
            return []
        pos, items = self.long.hits(hashes[screened])
        return _pairs(owners[screened[pos]], items)

    def _record_grams(self, batch: _Batch) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32]]:
        """Each record's distinct word 8-gram hashes that may be eval 8-grams (screened), with their record."""
        hashes, owners, _ = batch.word_ngrams(NGRAM_SHORT)
        if not hashes.size:
            return hashes, owners
        keep = _screened(self.screens["short"], hashes, 40)
        return _distinct_in_groups(hashes[keep], owners[keep])

    def _gram_counts(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        if not hashes.size or not self.grams.size:
            return np.zeros(self.grams.size, dtype=np.int64)
        at = np.searchsorted(self.grams, hashes)
        at[at == self.grams.size] = 0
        found = at[self.grams[at] == hashes]
        return np.bincount(found, minlength=self.grams.size).astype(np.int64)

    def _short_pairs(self, batch: _Batch, pairs: dict[tuple[int, int], list[Any]]) -> npt.NDArray[np.int64]:
        """Coverage of every pair sharing an 8-gram (kept when >= 50% or already a pair); the counts."""
        hashes, owners = self._record_grams(batch)
        counts = self._gram_counts(hashes)
        if not hashes.size:
            return counts
        pos, items = self.short.hits(hashes)
        if not items.size:
            return counts
        recs, hit_items, covered = _pair_counts(owners[pos], items)
        share = covered / np.maximum(self.short_totals[hit_items], 1)
        wide = np.flatnonzero(share >= COVERAGE)
        for rec, item, s in zip(recs[wide].tolist(), hit_items[wide].tolist(), share[wide].tolist(), strict=True):
            pairs.setdefault((rec, item), [0.0, 0.0, False])[0] = s
        if pairs:  # the coverage of pairs already found (13-grams), looked up among the sorted pair codes
            codes = recs * (1 << 32) + hit_items
            for (rec, item), value in pairs.items():
                at = int(np.searchsorted(codes, rec * (1 << 32) + item))
                if at < codes.size and codes[at] == rec * (1 << 32) + item:
                    value[0] = float(share[at])
        return counts

    def _char_pairs(self, batch: _Batch, pairs: dict[tuple[int, int], list[Any]]) -> None:
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
                pairs.setdefault((rec, item), [0.0, 0.0, False])[1] = float(share[item])

    # -- verified runs ------------------------------------------------------------------------------

    def _grams_of(self, item: int) -> npt.NDArray[np.uint64]:
        grams = self._item_grams.get(item)
        if grams is None:
            grams = self._item_grams[item] = self.short.hashes[self.short.items == item]
        return grams

    def _candidate(
        self, batch: _Batch, rec: int, item: int, coverage: float, containment: float, long: bool
    ) -> Candidate:
        """The pair's shared runs: record 8-grams found in the item, grouped into consecutive runs, each
        cut into pieces whose words occur contiguously in the item's normalised text."""
        words = batch.words[rec]
        hashes = _ngram_hashes(batch.word_ids(rec), NGRAM_SHORT)
        starts = np.flatnonzero(np.isin(hashes, self._grams_of(item))).tolist()
        runs: list[list[int]] = []
        for p in starts:
            if runs and p == runs[-1][1] + 1:
                runs[-1][1] = p
            else:
                runs.append([p, p])
        pieces: list[_Piece] = []
        padded = f" {self.norms[item]} "
        for first, last in runs:
            for lo, hi in _contiguous(words, first, last + NGRAM_SHORT, padded):
                rows = np.searchsorted(self.grams, hashes[lo : hi - NGRAM_SHORT + 1]).tolist()
                piece = words[lo:hi]
                pieces.append(_Piece(lo, piece, rows, _stop_mask(piece), batch.field_of(rec, lo, hi, chars=False)))
        return Candidate(rec, batch.ids[rec], item, round(coverage, 4), round(containment, 4), long, pieces)

    def _flag(self, rid: str, item: int, rule: str, score: float, span: str, place: str) -> Flag:
        evalset, label = self.labels[item]
        return Flag(rid, evalset, label, rule, score, span, place)

    def gram_text(self, row: int) -> str:
        """The words of eval 8-gram `row` (for reports)."""
        h = self.grams[row]
        item = int(self.short.items[np.searchsorted(self.short.hashes, h)])
        hashes = _ngram_hashes(self.vocab.lookup(self.words[item]), NGRAM_SHORT)
        at = int(np.flatnonzero(hashes == h)[0])
        return " ".join(self.words[item][at : at + NGRAM_SHORT])


_RULE_ORDER = {"ngram13": 0, "ngram8_coverage": 1, "char5_containment": 2}


def _contiguous(words: list[str], lo: int, hi: int, padded_item: str) -> list[tuple[int, int]]:
    """Word ranges of [lo, hi), of 8 words or more, whose words occur contiguously in the item.

    Hash hits are only candidates: every range is checked on the normalised strings, so a hash
    collision or 8-grams taken from different places of the item never make a piece.
    """
    out: list[tuple[int, int]] = []
    i = lo
    while i + NGRAM_SHORT <= hi:
        j = i + NGRAM_SHORT
        if f" {' '.join(words[i:j])} " not in padded_item:
            i += 1
            continue
        if f" {' '.join(words[i:hi])} " in padded_item:
            j = hi
        else:
            while j < hi and f" {' '.join(words[i : j + 1])} " in padded_item:
                j += 1
        out.append((i, j))
        i = j
    return out


def _stop_mask(words: list[str]) -> list[bool]:
    """Per word: inside an occurrence of a stop phrase."""
    mask = [False] * len(words)
    for i, w in enumerate(words):
        for phrase in _STOP_BY_FIRST.get(w, ()):
            n = len(phrase)
            if tuple(words[i : i + n]) == phrase:
                mask[i : i + n] = [True] * n
    return mask


def _distinctive(piece: _Piece, common: npt.NDArray[np.bool_]) -> int:
    """Words of the piece that neither a common 8-gram nor a stop phrase covers."""
    discounted = piece.stop[:]
    for k, row in enumerate(piece.rows):
        if row < common.size and common[row]:
            discounted[k : k + NGRAM_SHORT] = [True] * NGRAM_SHORT
    return len(piece.words) - sum(discounted)


def _snippet(words: list[str], limit: int = 60) -> str:
    return " ".join(words[:limit]) + (" …" if len(words) > limit else "")


def evalset_names(known: Iterable[str], evalsets: list[str] | None) -> list[str]:
    """The eval sets a scan reads: the named ones (each must be registered), else every registered one.

    Both engines ask this, so a missing or absent eval set fails the same way wherever it runs.
    """
    registered = set(known)
    if evalsets:
        missing = sorted(set(evalsets) - registered)
        if missing:
            raise NotFoundError(f"no eval set named {missing[0]!r} (see `curator evalset list`)")
    names = evalsets or sorted(registered)
    if not names:
        raise UsageError("no eval sets registered; add one with `curator evalset add NAME FILE`")
    return names


def _eval_items(db: Database, evalsets: list[str] | None) -> list[tuple[str, str, str]]:
    names = evalset_names((r[0] for r in db.execute("SELECT name FROM evalsets")), evalsets)
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
        yield training_texts(rows)


def training_texts(rows: Iterable[tuple[str, str]]) -> list[tuple[str, ScanText]]:
    """(id, fields) of stored (id, canonical JSON) rows: what a scan reads of each record, whichever
    engine read the rows."""
    return [(eid, record_text_fields(json.loads(record))) for eid, record in rows]


PARALLEL_MIN_RECORDS = 20_000
"""Corpora at least this big are scanned in two spawned processes (start-up costs ~0.5 s)."""

_worker_index: EvalIndex | None = None


def _init_worker(items: list[tuple[str, str, str]]) -> None:
    global _worker_index
    _worker_index = EvalIndex.build(items)


def _candidates_in_worker(batch: list[tuple[str, ScanText]]) -> tuple[list[Candidate], npt.NDArray[np.int64]]:
    assert _worker_index is not None
    return _worker_index.candidates(batch)


Scanned = tuple[int, list[Candidate], npt.NDArray[np.int64]]
"""(records, candidates, 8-gram counts) of one batch."""


def _scanned(
    index: EvalIndex,
    items: list[tuple[str, str, str]],
    batches: Iterator[list[tuple[str, ScanText]]],
    workers: int,
) -> Iterator[Scanned]:
    """Candidates and counts per batch, in order; with workers > 1, scanned in spawned processes."""
    if workers <= 1:
        for batch in batches:
            yield len(batch), *index.candidates(batch)
        return
    ctx = multiprocessing.get_context("spawn")  # no fork: callers may be threads of the TUI
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(items,)) as pool:
        pending: deque[tuple[int, Future[tuple[list[Candidate], npt.NDArray[np.int64]]]]] = deque()
        try:
            for batch in batches:
                pending.append((len(batch), pool.submit(_candidates_in_worker, batch)))
                if len(pending) >= 2 * workers:  # bounded read-ahead keeps memory flat
                    size, future = pending.popleft()
                    yield size, *future.result()
            while pending:
                size, future = pending.popleft()
                yield size, *future.result()
        finally:
            for _, future in pending:
                future.cancel()


@dataclass
class ScanResult:
    """What a decontamination pass over the workspace found, and what it discounted."""

    checked: int
    flags: list[Flag]
    common: CommonNgrams
    index: EvalIndex
    dismissed: int = 0
    """(record, item) overlaps of `min_words`+ words dismissed because common text covered them."""
    dismissed_examples: list[str] = field(default_factory=list)

    def summary(self, top: int = 5) -> dict[str, Any]:
        """The discount, for the CLI's summary and the export manifest (never silent)."""
        return discount_summary(self.index, self.common, self.dismissed, self.dismissed_examples, top)


def discount_summary(
    index: EvalIndex, common: CommonNgrams, dismissed: int = 0, examples: list[str] | None = None, top: int = 5
) -> dict[str, Any]:
    """How many eval 8-grams were common in the training corpus, the most common as text, and the
    overlaps dismissed because of them or of the stop phrases."""
    mask = common.mask
    rows = np.flatnonzero(mask)
    ordered = rows[np.argsort(-common.counts[rows], kind="stable")][:top]
    return {
        "training_records": common.records,
        "common_threshold_records": common.threshold,
        "common_share": common.config.common_share,
        "common_min_records": common.config.common_min_records,
        "min_words": common.config.min_words,
        "common_max_words": COMMON_MAX_WORDS,
        "common_ngrams": int(rows.size),
        "copied_stretches": common.copied_stretches,
        "top_common": [{"text": index.gram_text(int(r)), "records": int(common.counts[r])} for r in ordered],
        "stop_phrases": len(STOP_PHRASES),
        "dismissed_overlaps": dismissed,
        "dismissed_examples": list(examples or []),
    }


def scan_workspace(
    db: Database,
    evalsets: list[str] | None = None,
    *,
    config: DecontamConfig | None = None,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    workers: int | None = 1,
) -> ScanResult:
    """Scan every live stored record in one pass: candidates and training counts together, then
    the flags decided with the corpus's counts (the same as counting first and scanning after).

    `workers=None` picks two processes for corpora of PARALLEL_MIN_RECORDS or more (the CLI),
    else one; the flags are the same either way, in record order.
    """
    config = config or DecontamConfig()
    items = _eval_items(db, evalsets)
    index = EvalIndex.build(items)
    if workers is None:
        total = db.execute(f"SELECT count(*) FROM examples e WHERE {live_sql()}").fetchone()[0]
        workers = min(2, os.cpu_count() or 1) if total >= PARALLEL_MIN_RECORDS else 1
    candidates: list[Candidate] = []
    counts = np.zeros(index.grams.size, dtype=np.int64)
    checked = 0
    with scan_cache(db):
        for size, found, part in _scanned(index, items, iter_training_texts(db), workers):
            if cancelled is not None and cancelled():
                break
            candidates += [replace(c, order=c.order + checked) for c in found]
            counts += part
            checked += size
            if progress:
                progress(checked)
    return decide_scan(index, checked, candidates, counts, config)


def decide_scan(
    index: EvalIndex,
    checked: int,
    candidates: list[Candidate],
    counts: npt.NDArray[np.int64],
    config: DecontamConfig,
) -> ScanResult:
    """The corpus-wide step of a scan: which 8-grams are common over `checked` live records (their
    summed `counts`), then the flags of every candidate.

    `candidates` must be in record id order (each record's in item order), as one pass over the
    corpus finds them: that order is the order of the flags and of the dismissed examples.
    """
    common = CommonNgrams.build(index, checked, counts, config)
    decided = index.decide(candidates, common, config)
    return ScanResult(checked, decided.flags, common, index, decided.dismissed, decided.dismissed_examples)


def count_common(db: Database, index: EvalIndex, config: DecontamConfig | None = None) -> CommonNgrams:
    """Training counts of the index's 8-grams over every live record (the editor's warning uses these)."""
    counts = np.zeros(index.grams.size, dtype=np.int64)
    records = 0
    for batch in iter_training_texts(db):
        counts += index.ngram_counts(batch)
        records += len(batch)
    return CommonNgrams.build(index, records, counts, config or DecontamConfig())


def decontaminate(
    db: Database,
    evalsets: list[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    workers: int | None = 1,
    config: DecontamConfig | None = None,
) -> tuple[int, list[Flag]]:
    """Scan every stored record; returns (records checked, flags). See `scan_workspace`."""
    result = scan_workspace(db, evalsets, config=config, progress=progress, cancelled=cancelled, workers=workers)
    return result.checked, result.flags
