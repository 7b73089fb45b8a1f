"""Split first, then mix: train / eval / heldout by salted hash, held-out clauses and a lock file.

Rules, in order of strength (a stronger split always wins):

1. `heldout`: the record is linked to a held-out clause (or a clause below one).
2. `eval` / `train` from the lock file beside earlier exports (by record, and by split key), else
   from the salted SHA-256 of the split key (`group:<group>`, or `id:<id>` for `by = "id"` and for
   records without a group).
3. A split key takes the strongest split of any of its records, so a group is never divided
   between train and eval, even after a record moved into it.

The lock file `<out>/<name>.splits.lock.json` remembers every exported record's split and every
key's, so a later export never moves a record from eval or heldout back into train. It only ever
grows in protection: train may become eval or heldout (reported as a change), never the reverse.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import heapq
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.atomic import write_chunks
from curator.errors import CuratorError

SPLITS: tuple[str, ...] = ("train", "eval", "heldout")
STRENGTH = {"train": 0, "eval": 1, "heldout": 2}
LOCK_FORMAT = "curator-splits"
LOCK_VERSION = 1
LOCK_SUFFIX = ".splits.lock.json"


def lock_path(out_dir: Path, name: str) -> Path:
    """Where the split lock of export `name` lives: beside the export folder, not inside it."""
    return Path(out_dir) / f"{name}{LOCK_SUFFIX}"


def split_key(record_id: str, group: str | None, by: str) -> str:
    """The unit that is split as a whole."""
    if by == "group" and group:
        return f"group:{group}"
    return f"id:{record_id}"


def hash_unit(key: str, salt: str) -> float:
    """A uniform number in [0, 1) from the salted SHA-256 of a split key."""
    digest = hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(key: str, salt: str, eval_fraction: float) -> str:
    return "eval" if hash_unit(key, salt) < eval_fraction else "train"


def _stronger(a: str, b: str) -> str:
    return a if STRENGTH[a] >= STRENGTH[b] else b


@dataclass
class SplitLock:
    """Remembered splits: by record id and by split key."""

    records: Mapping[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> SplitLock:
        """The lock at `path` (empty when there is none); a damaged lock is an error, never ignored."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CuratorError(f"{path}: unreadable split lock ({err}); restore it or move it aside") from None
        if not isinstance(data, dict) or data.get("format") != LOCK_FORMAT or data.get("version") != LOCK_VERSION:
            raise CuratorError(f"{path}: not a curator split lock (format {LOCK_FORMAT} v{LOCK_VERSION})")
        records, keys = data.get("records"), data.get("keys")
        if not isinstance(records, dict) or not isinstance(keys, dict):
            raise CuratorError(f"{path}: records and keys must be objects")
        for where, table in (("records", records), ("keys", keys)):
            for k, v in table.items():
                if v not in SPLITS:
                    raise CuratorError(f"{path}: {where}.{k}: unknown split {v!r}")
        return cls(dict(records), dict(keys))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": LOCK_FORMAT,
            "version": LOCK_VERSION,
            "records": {k: self.records[k] for k in _in_order(self.records)},
            "keys": dict(sorted(self.keys.items())),
        }

    def write(self, path: Path) -> None:
        """Write atomically (aside, then renamed over the old lock): the bytes of `json.dumps(
        self.to_json(), indent=1, ensure_ascii=False)` and a newline, made entry by entry (a
        million records' lock is ~60 MB of text: neither it nor a sorted copy of the tables is held)."""
        write_chunks(Path(path), _utf8_batches(self._pieces()))  # 0644: the lock travels with the exports

    def _pieces(self) -> Iterator[str]:
        dump = functools.partial(json.dumps, ensure_ascii=False)
        yield f'{{\n "format": {dump(LOCK_FORMAT)},\n "version": {dump(LOCK_VERSION)}'
        for name, table in (("records", self.records), ("keys", self.keys)):
            yield f",\n {dump(name)}: "
            if not table:
                yield "{}"
                continue
            yield "{"
            for i, key in enumerate(_in_order(table)):
                yield f"{',' if i else ''}\n  {dump(key)}: {dump(table[key])}"
            yield "\n }"
        yield "\n}\n"


def _utf8_batches(pieces: Iterable[str], size: int = 1 << 16) -> Iterator[bytes]:
    """Small text pieces, joined into UTF-8 blocks of about `size` characters."""
    batch: list[str] = []
    held = 0
    for piece in pieces:
        batch.append(piece)
        held += len(piece)
        if held >= size:
            yield "".join(batch).encode("utf-8")
            batch, held = [], 0
    if batch:
        yield "".join(batch).encode("utf-8")


@dataclass(frozen=True, slots=True)
class SplitInput:
    id: str
    group: str | None
    clauses: tuple[str, ...]


def sorted_position(ids: Sequence[str], record_id: object) -> int:
    """Where `record_id` is in the sorted `ids`, or -1 (anything not a string is nowhere)."""
    if not isinstance(record_id, str):
        return -1
    at = bisect.bisect_left(ids, record_id)
    return at if at < len(ids) and ids[at] == record_id else -1


class OrderedSplits(Mapping[str, str]):
    """Record id -> split for records given in strictly increasing id order: the ids (the
    caller's strings) and a byte each, looked up by bisection; a million records' dict took ~40
    bytes a record more. `SplitResult.splits` is one when the records came in id order (as an
    export's do), a dict otherwise."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._codes = bytearray()

    def accepts(self, record_id: str) -> bool:
        """Whether `record_id` comes after every id added so far."""
        return not self._ids or record_id > self._ids[-1]

    def add(self, record_id: str, split: str) -> None:
        if not self.accepts(record_id):
            raise CuratorError(f"{record_id}: split assigned out of id order")
        self._ids.append(record_id)
        self._codes.append(SPLITS.index(split))

    def _row(self, record_id: object) -> int:
        return sorted_position(self._ids, record_id)

    def __getitem__(self, record_id: str) -> str:
        at = self._row(record_id)
        if at < 0:
            raise KeyError(record_id)
        return SPLITS[self._codes[at]]

    def __contains__(self, record_id: object) -> bool:
        return self._row(record_id) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class SplitResult:
    splits: Mapping[str, str]
    """Record id -> split (`OrderedSplits` when the records came in id order)."""
    keys: dict[str, str]
    """Split key -> train/eval (before held-out clauses)."""
    changed: list[tuple[str, str, str]]
    """(id, locked split, new split) for records whose split grew stronger than the lock said."""


def assign_splits(
    records: Iterable[SplitInput],
    *,
    by: str,
    salt: str,
    eval_fraction: float,
    heldout: set[str] | frozenset[str],
    lock: SplitLock,
) -> SplitResult:
    """Each record's split (pure: the lock is read, not changed).

    `records` is gone through twice (a list, or a view that makes each `SplitInput` as it is
    asked for), and keys are made again rather than held per record: for a million records each
    would be another dict and another string.
    """
    base: dict[str, str] = {}
    keys: dict[str, str] = {}
    group_keys: dict[str, str] = {}  # one key string per group, however many records it holds

    def key_of(r: SplitInput) -> str:
        if by == "group" and r.group:
            key = group_keys.get(r.group)
            if key is None:
                key = group_keys[r.group] = split_key(r.id, r.group, by)
            return key
        return split_key(r.id, r.group, by)

    for r in records:
        key = key_of(r)
        rec, kl = lock.records.get(r.id), lock.keys.get(key)
        if rec == "heldout":
            base[r.id] = rec  # locked heldout stays out, whatever the clauses say now
            rec = None
        locked = [x for x in (rec, kl) if x is not None]
        s = hash_split(key, salt, eval_fraction) if not locked else max(locked, key=STRENGTH.__getitem__)
        keys[key] = _stronger(keys.get(key, "train"), s)
    ordered = OrderedSplits()
    splits: dict[str, str] | None = None  # once a record comes out of id order
    changed: list[tuple[str, str, str]] = []
    for r in records:
        s = keys[key_of(r)]
        if r.id in base or any(c in heldout for c in r.clauses):
            s = "heldout"
        if splits is None and not ordered.accepts(r.id):
            splits = dict(ordered.items())
        if splits is None:
            ordered.add(r.id, s)
        else:
            splits[r.id] = s
        before = lock.records.get(r.id)
        if before is not None and before != s:
            changed.append((r.id, before, s))
    return SplitResult(ordered if splits is None else splits, keys, sorted(changed))


class UpdatedRecords(Mapping[str, str]):
    """The lock's records after an export, without a copy of either side: each exported record's
    split, over the earlier lock's entries. A million records' lock would otherwise be a second
    dict beside the split result, held until the lock is written.

    Iterates in id order (the order the file is written in), merging the two sides; `exported`
    must iterate in id order too, and an out-of-order id is an error, not a lock in another order.
    """

    def __init__(self, before: Mapping[str, str], exported: Collection[str], splits: Mapping[str, str]) -> None:
        self._before, self._exported, self._splits = before, exported, splits
        self._len = len(before) + sum(1 for rid in exported if rid not in before)

    def __getitem__(self, rid: str) -> str:
        return self._splits[rid] if rid in self._exported else self._before[rid]

    def __len__(self) -> int:
        return self._len

    def __contains__(self, rid: object) -> bool:
        return rid in self._exported or rid in self._before

    def __iter__(self) -> Iterator[str]:
        last: str | None = None
        for rid in heapq.merge(sorted(self._before), self._exported):
            if last is not None and rid <= last:
                if rid == last:
                    continue  # in the earlier lock and exported again
                raise CuratorError(f"split lock: exported record {rid} is out of id order (after {last})")
            last = rid
            yield rid


def _in_order(table: Mapping[str, str]) -> Iterable[str]:
    return table if isinstance(table, UpdatedRecords) else sorted(table)


def updated_lock(lock: SplitLock, result: SplitResult, exported: Collection[str]) -> SplitLock:
    """The lock after an export: old entries kept, exported records and their keys recorded
    (`exported` in id order: see `UpdatedRecords`)."""
    keys = dict(lock.keys)
    for key, s in result.keys.items():
        keys[key] = _stronger(keys.get(key, "train"), s)
    return SplitLock(UpdatedRecords(lock.records, exported, result.splits), keys)


def expand_heldout(heldout: Sequence[str], parents: dict[str, str | None]) -> frozenset[str]:
    """Held-out clauses and every clause below them in the current constitution."""
    wanted = set(heldout)
    out = set(wanted)
    for clause in parents:
        p: str | None = clause
        while p is not None:
            if p in wanted:
                out.add(clause)
                break
            p = parents.get(p)
    return frozenset(out)


def split_counts(records: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Records and split keys (groups, or ids) per split, over the (split, split key) of each
    record given."""
    out = {s: {"records": 0, "keys": 0} for s in SPLITS}
    keys: dict[str, set[str]] = {s: set() for s in SPLITS}
    for s, key in records:
        out[s]["records"] += 1
        keys[s].add(key)
    for s in SPLITS:
        out[s]["keys"] = len(keys[s])
    return out


def split_warnings(counts: dict[str, dict[str, int]], *, eval_fraction: float, heldout_requested: bool) -> list[str]:
    """What a trainer must know about the split before trusting it; empty when it is as asked.

    - a requested split (eval with `eval_fraction > 0`, heldout with held-out clauses) got no record;
    - the eval split's share of the train + eval records is off `eval_fraction` by more than
      max(2 records, 25% of the expected count): with few groups a salted hash cannot hit a
      fraction, and nobody should learn that from an empty eval file.
    """
    warnings: list[str] = []
    train, evals = counts["train"], counts["eval"]
    pool = train["records"] + evals["records"]
    groups = train["keys"] + evals["keys"]
    if eval_fraction > 0:
        expected = eval_fraction * pool
        if evals["records"] == 0:
            warnings.append(
                f"eval_fraction {eval_fraction:g} gave 0 eval records ({groups:,} split keys, "
                f"about {eval_fraction * groups:.1f} expected in eval): "
                "add groups, raise eval_fraction, change split.salt, or split by id"
            )
        elif abs(evals["records"] - expected) > max(2.0, 0.25 * expected):
            share = evals["records"] / pool if pool else 0.0
            warnings.append(
                f"eval_fraction {eval_fraction:g} gave {evals['records']:,} of {pool:,} records in eval "
                f"({share:.1%}, {evals['keys']:,} of {groups:,} split keys); expected about {expected:.0f}: "
                "groups of very different sizes or too few groups"
            )
    if heldout_requested and counts["heldout"]["records"] == 0:
        warnings.append("split.heldout_clauses is set but no exported record is linked to those clauses")
    return warnings
