"""Evaluation sets and decontamination: training records that overlap held-out eval items.

Rules (DESIGN section 7, issue 4), each reported with the eval item and the overlapping span:
- `ngram13`: the record shares any word 13-gram with an eval item;
- `ngram8_coverage`: the record covers >= 50% of an eval item's word 8-grams;
- `char5_containment`: >= 50% of the record's character 5-grams occur in one eval item.

Records are scanned in batches with numpy (sorted hash arrays and searchsorted), so the
cost per record is a handful of vectorised operations, not Python loops over n-grams.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from curator import jsonl
from curator.dedup.minhash import SHINGLE, shingle_hashes
from curator.errors import ImportFailed, NotFoundError, UsageError
from curator.models import utc_now
from curator.store.audit import record_event
from curator.textnorm import normalize

NGRAM_LONG = 13
NGRAM_SHORT = 8
COVERAGE = 0.5
CONTAINMENT = 0.5
CONTAINMENT_MIN_WORDS = 8
"""Shorter records are not tested for character containment: three common words are not a leak."""
_P = np.uint64(0x100000001B3)
_EVAL_FIELDS = ("prompt", "text", "question", "messages")


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


def read_eval_items(path: Path) -> list[tuple[str, str]]:
    """(label, text) items from JSON lines, a plain text file (blank-line blocks) or a folder of .md files."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".md" and p.is_file())
        if not files:
            raise ImportFailed(f"{path}: folder holds no .md files")
        items = []
        for f in files:
            try:
                items.append((f.name, f.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise ImportFailed(f"{f}: not valid UTF-8") from None
        return [(label, text) for label, text in items if text.strip()]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ImportFailed(f"{path}: not valid UTF-8") from None
    stripped = text.lstrip()
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson") or stripped.startswith("{"):
        return _jsonl_items(path, text)
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return [(f"block {i}", b) for i, b in enumerate((b for b in blocks if b), start=1)]


def _jsonl_items(path: Path, text: str) -> list[tuple[str, str]]:
    items = []
    for number, obj in jsonl.objects(text, str(path), ImportFailed):
        key = next((k for k in _EVAL_FIELDS if k in obj), None)
        if key is None:
            raise ImportFailed(f"{path}:{number}: needs one of the fields {', '.join(_EVAL_FIELDS)}")
        value = obj[key]
        body = _messages_text(value) if key == "messages" else value
        if not isinstance(body, str) or not body.strip():
            raise ImportFailed(f"{path}:{number}: {key}: must be non-empty text")
        label = str(obj.get("id", f"line {number}"))
        items.append((label, body))
    return items


def add_evalset(db: Database, name: str, path: Path, *, actor: str) -> int:
    """Register (or replace) an evaluation set; returns how many items it holds."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 100:
        raise UsageError(f"invalid eval set name {name!r} (no path separators, not starting with '.')")
    items = read_eval_items(path)
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
        lo = np.zeros(query.size, dtype=np.int64)
        hi = np.zeros(query.size, dtype=np.int64)
        lo[found] = lo_all[found]
        hi[found] = np.searchsorted(self.hashes, query[found], side="right")
        counts = hi - lo
        reps = counts[found]
        positions = np.repeat(found, reps)
        starts = np.repeat(lo[found], reps)
        offsets = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        return positions.astype(np.int64), self.items[starts + offsets]


@dataclass
class Flag:
    """One training record overlapping one eval item by one rule."""

    id: str
    evalset: str
    item: str
    rule: str
    score: float
    span: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "evalset": self.evalset,
            "item": self.item,
            "rule": self.rule,
            "score": self.score,
            "span": self.span,
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
    chars: _Table
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
            longs.append(np.unique(_ngram_hashes(ids, NGRAM_LONG)))
            shorts.append(np.unique(_ngram_hashes(ids, NGRAM_SHORT)))
            chars.append(np.unique(shingle_hashes(norm)))
        index = cls(
            labels=[(s, label) for s, label, _ in items],
            words=words,
            norms=norms,
            vocab=vocab,
            long=_Table.build(longs, np.uint64),
            short=_Table.build(shorts, np.uint64),
            short_totals=np.array([s.size for s in shorts], dtype=np.int64),
            chars=_Table.build(chars, np.uint32),
        )
        index.screens = {
            "long": _screen(index.long.hashes, 40),
            "short": _screen(index.short.hashes, 40),
            "chars": _screen(index.chars.hashes, 8),
        }
        return index

    def scan(self, records: list[tuple[str, str]]) -> list[Flag]:
        """Flags for a batch of (id, text) training records."""
        flags: list[Flag] = []
        n_items = len(self.labels)
        if not n_items:
            return flags
        for rid, text in records:
            norm = normalize(text)
            if not norm:
                continue
            w = norm.split()
            ids = self.vocab.lookup(w)
            flags.extend(self._scan_one(rid, norm, w, ids, n_items))
        return flags

    def _scan_one(self, rid: str, norm: str, w: list[str], ids: npt.NDArray[np.uint64], n_items: int) -> list[Flag]:
        out: list[Flag] = []
        flagged: set[int] = set()
        if ids.any():
            g13 = _ngram_hashes(ids, NGRAM_LONG)
            if g13.size and _screened(self.screens["long"], g13, 40).any():
                pos, items = self.long.hits(g13)
                for item in np.unique(items).tolist():
                    where = pos[items == item]
                    span = _word_span(w, where, NGRAM_LONG)
                    out.append(self._flag(rid, item, "ngram13", 1.0, span))
                    flagged.add(item)
            g8 = _distinct(_ngram_hashes(ids, NGRAM_SHORT))
            if g8.size and _screened(self.screens["short"], g8, 40).any():
                _, items8 = self.short.hits(g8)
                if items8.size:
                    covered = np.bincount(items8, minlength=n_items)
                    share = covered / np.maximum(self.short_totals, 1)
                    for item in np.flatnonzero(share >= COVERAGE).tolist():
                        if item in flagged:
                            continue
                        all8 = _ngram_hashes(ids, NGRAM_SHORT)
                        item_hashes = set(self.short.hashes[self.short.items == item].tolist())
                        where = np.flatnonzero([h in item_hashes for h in all8.tolist()])
                        out.append(
                            self._flag(
                                rid,
                                item,
                                "ngram8_coverage",
                                round(float(share[item]), 4),
                                _word_span(w, where, NGRAM_SHORT),
                            )
                        )
                        flagged.add(item)
        c5 = _distinct(shingle_hashes(norm)) if len(w) >= CONTAINMENT_MIN_WORDS else np.zeros(0, dtype=np.uint32)
        if c5.size and _screened(self.screens["chars"], c5, 8).mean() >= CONTAINMENT:
            _, items5 = self.chars.hits(c5)
            if items5.size:
                share5 = np.bincount(items5, minlength=n_items) / c5.size
                for item in np.flatnonzero(share5 >= CONTAINMENT).tolist():
                    if item in flagged:
                        continue
                    span = _char_span(norm, self.norms[item])
                    out.append(self._flag(rid, item, "char5_containment", round(float(share5[item]), 4), span))
        return out

    def _flag(self, rid: str, item: int, rule: str, score: float, span: str) -> Flag:
        evalset, label = self.labels[item]
        return Flag(rid, evalset, label, rule, score, span)


def _word_span(words: list[str], starts: npt.NDArray[Any], n: int, limit: int = 60) -> str:
    """The longest run of overlapping n-grams, as the record's words."""
    if starts.size == 0:
        return ""
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
    return text + (" …" if len(span) > limit else "")


def _char_span(record_norm: str, item_norm: str, limit: int = 300) -> str:
    """The longest stretch of the record whose 5-grams all occur in the item."""
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
    return text[:limit] + (" …" if len(text) > limit else "")


def load_eval_index(db: Database, evalsets: list[str] | None = None) -> EvalIndex:
    """The index over registered eval items (all sets, or the named ones)."""
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
    return EvalIndex.build([(s, label, text) for s, label, text in rows])


def iter_training_texts(db: Database, batch: int = 2000) -> Iterator[list[tuple[str, str]]]:
    """(id, content) of every stored record, in id order, in batches.

    The stored search text (content of every turn, plus a story's or document's rationale) is read
    as is: parsing every record again would cost more than the scan itself.
    """
    cursor = db.execute("SELECT id, search_text FROM examples ORDER BY id")
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            return
        yield [(eid, text) for eid, text in rows]


def decontaminate(
    db: Database,
    evalsets: list[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[int, list[Flag]]:
    """Scan every stored record; returns (records checked, flags)."""
    index = load_eval_index(db, evalsets)
    flags: list[Flag] = []
    checked = 0
    for batch in iter_training_texts(db):
        if cancelled is not None and cancelled():
            break
        flags.extend(index.scan(batch))
        checked += len(batch)
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
