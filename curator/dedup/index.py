"""The LSH band index (32 bands x 4 rows) over stored MinHash signatures, built vectorised.

Each band's keys (cut to 32 bits) are one sorted array with the matching row numbers, so a lookup
is a binary search, and the arrays are the same whether built in memory or mapped from the file
`dedup/persist.py` writes (no Python objects per record). Records written after the build go to a
small overflow dict; rows that were replaced or deleted are tombstoned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from curator.minhash import BANDS, NUM_PERM, ROWS, Signatures

_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)


def band_keys(signatures: Signatures, bands: int = BANDS) -> npt.NDArray[np.uint64]:
    """(n, >= ROWS * bands) signature values -> (n, bands) band keys: the rows of a band mixed into 64 bits.

    A layout whose bands x rows is below 128 leaves the last stored values unused.
    """
    values = signatures[:, : bands * ROWS].reshape(-1, bands, ROWS)
    values = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = values * _MIX[:ROWS]
        keys = mixed[:, :, 0].copy()
        for row, shift in zip(range(1, ROWS), (7, 11, 3), strict=False):
            keys ^= (mixed[:, :, row] >> np.uint64(shift)) if row != 2 else (mixed[:, :, row] << np.uint64(shift))
    return keys


SKETCH_BITS = 8
"""Bits of each signature value kept in the sketch (`sketch_of`): one byte per value."""

EntryFetch = Callable[[list[str]], dict[str, tuple[Signatures, int]]]
"""Exact signatures and distinct-shingle counts of stored records, by id (an index opened from a
file keeps only sketches and asks the store for the few it needs)."""


def sketch_of(signatures: Signatures) -> npt.NDArray[np.uint8]:
    """The low byte of every signature value: equal values have equal bytes, so the count of equal
    bytes is an upper bound of the count of equal values (what makes it a safe prefilter)."""
    out: npt.NDArray[np.uint8] = signatures.astype(np.uint8)  # unsigned narrowing keeps the low byte
    return out


def short_keys(signatures: Signatures, band: int) -> npt.NDArray[np.uint32]:
    """One band's keys, cut to their top 32 bits (what the index sorts and stores)."""
    keys = band_keys(signatures[:, band * ROWS : (band + 1) * ROWS], bands=1)[:, 0]
    out: npt.NDArray[np.uint32] = (keys >> np.uint64(32)).astype(np.uint32)
    return out


def query_keys(signature: Signatures) -> list[int]:
    """Every band's short key of one signature (as `short_keys` gives them band by band)."""
    return all_query_keys(signature[None, :])[0]


def all_query_keys(signatures: Signatures) -> list[list[int]]:
    """Every band's short key of each signature, in one pass."""
    keys: list[list[int]] = all_short_keys(signatures).tolist()
    return keys


def all_short_keys(signatures: Signatures) -> npt.NDArray[np.uint32]:
    """(n, BANDS) short keys: column `band` is `short_keys(signatures, band)` (a record's buckets)."""
    out: npt.NDArray[np.uint32] = (band_keys(signatures) >> np.uint64(32)).astype(np.uint32)
    return out


def is_template_bucket(size: int, template_bucket: int) -> bool:
    """A bucket (LSH band key or excerpt fingerprint) held by more than `template_bucket` entries is
    a template: its members are listed, never paired."""
    return size > template_bucket


def bucket_pairs(
    rows: npt.NDArray[np.int64], template_bucket: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64] | None]:
    """One bucket's entries (row numbers, any order, a row may repeat) -> its pairs of distinct rows
    as (lower, higher) arrays, or, for a template bucket, no pairs and its sorted distinct rows.

    The rule `LshIndex.pairs` and `ExcerptIndex.pairs` apply vectorised over every bucket of one size.
    """
    empty = np.zeros(0, dtype=np.int64)
    if is_template_bucket(int(rows.size), template_bucket):
        return empty, empty, np.unique(rows)
    if rows.size < 2:
        return empty, empty, None
    i, j = np.triu_indices(int(rows.size), k=1)
    lo, hi = np.minimum(rows[i], rows[j]), np.maximum(rows[i], rows[j])
    distinct = lo != hi
    return lo[distinct], hi[distinct], None


def sorted_keys(
    keys: npt.NDArray[Any], owners: npt.NDArray[np.int32] | None = None
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32]]:
    """`keys` sorted (stable: equal keys keep their row order) and the row each came from: its
    position, or `owners[position]`. The layout of a band and of the excerpt index, in memory and
    in the file alike."""
    order = np.argsort(keys, kind="stable")
    rows = (order if owners is None else owners[order]).astype(np.int32, copy=False)
    return keys[order], rows


def id_order(blob: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
    """The rows of ids stored end to end (`IdColumn`'s blob and ends), in the ids' byte order.

    Sorted by numpy as fixed-width byte strings padded with NUL, which orders as the bytes do when no
    id holds a NUL byte or a byte above 127 (record ids are ASCII by their pattern); otherwise
    Python sorts the bytes themselves.
    """
    n = int(ends.size)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    starts = np.concatenate(([0], ends[:-1]))
    lengths = ends - starts
    if blob.size and (int(blob.min()) == 0 or int(blob.max()) > 127):
        raw = blob.tobytes()
        return np.array(sorted(range(n), key=lambda i: raw[starts[i] : ends[i]]), dtype=np.int32)
    width = max(int(lengths.max()), 1)
    padded = np.zeros((n, width), dtype=np.uint8)
    padded[np.arange(width) < lengths[:, None]] = blob  # row by row: the ids in order, each left-aligned
    order: npt.NDArray[np.int32] = np.argsort(padded.view(f"S{width}").reshape(n), kind="stable").astype(np.int32)
    return order


class IdColumn(Sequence[str]):
    """Record ids stored end to end as UTF-8 (`blob`, `ends`): read one at a time, no Python object
    per record until it is asked for (an index opened from a file holds a million of them)."""

    def __init__(self, blob: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64], by_id: npt.NDArray[np.int32]) -> None:
        self.blob = blob
        self.ends = ends
        self.by_id = by_id
        """Rows in id order: a binary search finds an id's row."""

    @classmethod
    def of(cls, ids: list[str]) -> IdColumn:
        encoded = [i.encode() for i in ids]
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        ends = np.cumsum([len(e) for e in encoded], dtype=np.int64) if encoded else np.zeros(0, dtype=np.int64)
        return cls(blob, ends, id_order(blob, ends))

    def __len__(self) -> int:
        return int(self.ends.size)

    def _raw(self, row: int) -> bytes:
        start = int(self.ends[row - 1]) if row > 0 else 0
        return self._view[start : int(self.ends[row])].tobytes()

    @property
    def _view(self) -> memoryview:
        return memoryview(self.blob)  # type: ignore[arg-type]

    @overload
    def __getitem__(self, row: int) -> str: ...
    @overload
    def __getitem__(self, row: slice) -> list[str]: ...
    def __getitem__(self, row: int | slice) -> str | list[str]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        return self._raw(row).decode()

    def row_of(self, example_id: str) -> int | None:
        """The row holding `example_id`, or None."""
        target = example_id.encode()
        order = self.by_id
        lo, hi = 0, int(order.size)
        while lo < hi:  # binary search in id order, comparing the UTF-8 bytes (the order of `of`)
            mid = (lo + hi) // 2
            if self._raw(int(order[mid])) < target:
                lo = mid + 1
            else:
                hi = mid
        if lo < order.size and self._raw(int(order[lo])) == target:
            return int(order[lo])
        return None


class RowOf:
    """Id -> row of the bulk arrays: a dict for an index built in memory, a binary search over an
    `IdColumn` for one opened from a file."""

    def __init__(self, ids: Sequence[str]) -> None:
        self._column = ids if isinstance(ids, IdColumn) else None
        self._dict = None if self._column is not None else {eid: i for i, eid in enumerate(ids)}
        self._found: dict[str, int | None] = {}

    def get(self, example_id: str) -> int | None:
        if self._dict is not None:
            return self._dict.get(example_id)
        assert self._column is not None
        if example_id not in self._found:  # a written record is looked up by both indexes, often again
            self._found[example_id] = self._column.row_of(example_id)
        return self._found[example_id]


class TemplatePrints:
    """`ExcerptIndex.is_template` for a worker without the index: the fingerprints held by more than
    `excerpt_template` records (the template buckets `bucket_pairs` reports) are the templates."""

    def __init__(self, prints: npt.NDArray[np.uint64]) -> None:
        self.prints: npt.NDArray[np.uint64] = np.unique(prints.astype(np.uint64))

    def __call__(self, fingerprints: npt.NDArray[np.uint64]) -> bool:
        return bool(fingerprints.size) and bool(np.all(np.isin(fingerprints, self.prints)))


PairFilter = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.bool_]]
"""Which pairs of rows (lower, higher) to keep, decided while pairs are made."""
PAIR_CHUNK = 200_000
"""Pairs made at once per bucket size: bounds the memory of expanding many buckets."""


class LshIndex:
    """Candidates for a signature: records sharing at least one whole band.

    Per band, the rows sorted by their band key cut to 32 bits (`_keys[band * n : (band + 1) * n]`,
    `_rows` alike): a lookup is one binary search per band. Built in memory from signatures, it keeps
    them (`signatures`, `sizes`: what `clusters` pairs); opened from a file it keeps only the
    one-byte `sketch` per value and asks `fetch` for the exact entries of the few rows it needs.
    """

    def __init__(
        self,
        ids: Sequence[str],
        signatures: Signatures,
        sizes: npt.NDArray[np.int32] | None = None,
        *,
        template_bucket: int = 200,
    ) -> None:
        self.ids: Sequence[str] = ids
        self.signatures: Signatures | None = signatures.reshape(-1, NUM_PERM)
        self.sizes: npt.NDArray[np.int32] = (
            np.zeros(len(ids), dtype=np.int32) if sizes is None else sizes.astype(np.int32)
        )
        """Distinct shingles per row (0 when unknown), for containment estimates."""
        self.template_bucket = template_bucket
        n = len(ids)
        self.sketch: npt.NDArray[np.uint8] = sketch_of(self.signatures)
        self._keys: npt.NDArray[np.uint32] = np.empty(BANDS * n, dtype=np.uint32)
        self._rows: npt.NDArray[np.int32] = np.empty(BANDS * n, dtype=np.int32)
        for band in range(BANDS):  # one band at a time: the build's peak stays near the index's size
            keys, rows = sorted_keys(short_keys(self.signatures, band))
            self._rows[band * n : (band + 1) * n] = rows
            self._keys[band * n : (band + 1) * n] = keys
        self.fetch: EntryFetch | None = None
        self._setup()

    def _setup(self) -> None:
        self.row_of = RowOf(self.ids)
        self._dead: set[int] = set()
        self._extra: dict[str, tuple[Signatures, int]] = {}
        self._extra_bands: list[dict[int, set[str]]] = [{} for _ in range(BANDS)]

    @classmethod
    def from_arrays(
        cls,
        ids: IdColumn,
        sketch: npt.NDArray[np.uint8],
        sizes: npt.NDArray[np.int32],
        keys: npt.NDArray[np.uint32],
        rows: npt.NDArray[np.int32],
        *,
        template_bucket: int = 200,
    ) -> LshIndex:
        """An index over arrays read from a file (sorted band keys and rows, sketches, shingle counts):
        nothing is built. Exact entries come from `fetch`, which the engine sets."""
        index = cls.__new__(cls)
        index.ids = ids
        index.signatures = None
        index.sizes = sizes
        index.template_bucket = template_bucket
        index.sketch = sketch
        index._keys = keys
        index._rows = rows
        index.fetch = None
        index._setup()
        return index

    @property
    def keys(self) -> npt.NDArray[np.uint32]:
        """Every band's sorted short keys, band after band (what a file keeps)."""
        return self._keys

    @property
    def rows(self) -> npt.NDArray[np.int32]:
        """The row of each key in `keys`."""
        return self._rows

    @property
    def dead(self) -> set[int]:
        """Bulk rows replaced or deleted since the build."""
        return self._dead

    @classmethod
    def empty(cls, *, template_bucket: int = 200) -> LshIndex:
        return cls([], np.zeros((0, NUM_PERM), dtype=np.uint32), template_bucket=template_bucket)

    def __len__(self) -> int:
        return len(self.ids) - len(self._dead) + len(self._extra)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the bulk of the index; a file's arrays are mapped, not held)."""
        held = self.sketch.nbytes + self.sizes.nbytes + self._rows.nbytes + self._keys.nbytes
        if self.signatures is not None:
            held += self.signatures.nbytes
        return int(held)

    @property
    def extra_ids(self) -> list[str]:
        """Records written after the build (their entries live in the overflow dict)."""
        return list(self._extra)

    def add(self, example_id: str, signature: Signatures, size: int = 0, keys: list[int] | None = None) -> None:
        """Index a record written after the build (replacing an older signature of it); `keys`: its
        band keys when already computed (a batch of records at once)."""
        self.remove(example_id)
        self._extra[example_id] = (signature, size)
        for band, key in enumerate(keys if keys is not None else query_keys(signature)):
            self._extra_bands[band].setdefault(key, set()).add(example_id)

    def remove(self, example_id: str) -> None:
        row = self.row_of.get(example_id)
        if row is not None:
            self._dead.add(row)
        old = self._extra.pop(example_id, None)
        if old is not None:
            for band, key in enumerate(query_keys(old[0])):
                self._extra_bands[band].get(key, set()).discard(example_id)

    def signature_of(self, example_id: str) -> Signatures | None:
        entry = self.entry_of(example_id)
        return None if entry is None else entry[0]

    def entry_of(self, example_id: str) -> tuple[Signatures, int] | None:
        """A live record's signature and distinct-shingle count."""
        if example_id in self._extra:
            return self._extra[example_id]
        row = self.row_of.get(example_id)
        if row is None or row in self._dead:
            return None
        return self.entries([row]).get(example_id)

    def entries(self, rows: list[int]) -> dict[str, tuple[Signatures, int]]:
        """Exact signatures and distinct-shingle counts of live bulk rows, by id."""
        ids = [self.ids[r] for r in rows]
        if self.signatures is not None and self.sizes is not None and self.fetch is None:
            return {eid: (self.signatures[r], int(self.sizes[r])) for eid, r in zip(ids, rows, strict=True)}
        assert self.fetch is not None
        return self.fetch(ids)

    def candidate_rows(self, signature: Signatures) -> tuple[npt.NDArray[np.int32], set[str], int]:
        """Live bulk rows and overflow ids sharing a band with `signature`, and template buckets skipped."""
        n = len(self.ids)
        parts: list[npt.NDArray[np.int32]] = []
        extra: set[str] = set()
        skipped = 0
        keys = query_keys(signature)
        for band, key in enumerate(keys):
            segment = self._keys[band * n : (band + 1) * n]
            probe = np.uint32(key)  # the array's own dtype: a Python int makes searchsorted convert the array
            lo = int(segment.searchsorted(probe, side="left"))
            hi = int(segment.searchsorted(probe, side="right"))
            members = self._extra_bands[band].get(key, set()) if self._extra else set()
            if hi - lo + len(members) > self.template_bucket:
                skipped += 1
                continue
            if hi > lo:
                parts.append(self._rows[band * n + lo : band * n + hi])
            extra |= members
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        if rows.size > 1:
            rows = np.sort(rows)
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        if self._dead and rows.size:
            rows = rows[[r not in self._dead for r in rows.tolist()]]
        return rows, extra, skipped

    def candidates(self, signature: Signatures) -> tuple[set[str], int]:
        """Ids sharing a band with `signature`, and how many template buckets were skipped."""
        rows, extra, skipped = self.candidate_rows(signature)
        return {self.ids[r] for r in rows.tolist()} | extra, skipped

    def pairs(
        self,
        template_bucket: int,
        keep: PairFilter | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.int32]]]:
        """Every pair of live bulk rows sharing a bucket, as sorted distinct codes `lo * n + hi`, and
        the row sets of buckets larger than `template_bucket` (templates, not paired).

        Vectorised per bucket size: buckets of one size are expanded together (most have 2 members),
        at most ~200k pairs at a time. `keep(left, right)` drops pairs as they are made, so a corpus
        whose buckets hold tens of millions of pairs never holds them all (`progress(band, BANDS)`).
        """
        n = len(self.ids)
        codes: list[npt.NDArray[np.int64]] = []
        templates: list[npt.NDArray[np.int32]] = []
        for band in range(BANDS):
            rows, starts, sizes = self._buckets(band)
            for size in np.unique(sizes[sizes >= 2]).tolist():
                firsts = starts[sizes == size]
                if is_template_bucket(size, template_bucket):
                    templates.extend(np.sort(rows[f : f + size]) for f in firsts.tolist())
                    continue
                i, j = np.triu_indices(size, k=1)
                step = max(1, PAIR_CHUNK // i.size)
                for at in range(0, firsts.size, step):
                    part = firsts[at : at + step, None]
                    left = rows[part + i].astype(np.int64).ravel()
                    right = rows[part + j].astype(np.int64).ravel()
                    lo, hi = np.minimum(left, right), np.maximum(left, right)
                    if keep is not None:
                        mask = keep(lo, hi)
                        lo, hi = lo[mask], hi[mask]
                    codes.append(lo * n + hi)
            if progress is not None:
                progress(band + 1, BANDS)
        flat = np.sort(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
        if flat.size < 2:
            return flat, templates
        return flat[np.concatenate(([True], flat[1:] != flat[:-1]))], templates

    def template_buckets(self, template_bucket: int) -> Iterator[npt.NDArray[np.int32]]:
        """The sorted live rows of every bucket larger than `template_bucket`, in band order (no pairs
        made), one at a time: a template's fills make the same bucket in band after band, and
        `template_groups` keeps each set of rows once as it reads them."""
        for band in range(BANDS):
            rows, starts, sizes = self._buckets(band)
            for f, size in zip(
                starts[sizes > template_bucket].tolist(), sizes[sizes > template_bucket].tolist(), strict=True
            ):
                yield np.sort(rows[f : f + size])

    def _buckets(self, band: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """One band's live rows in key order, with the start and size of each bucket."""
        n = len(self.ids)
        keys = self._keys[band * n : (band + 1) * n]
        rows = self._rows[band * n : (band + 1) * n]
        if self._dead:
            dead = np.zeros(n, dtype=bool)
            dead[list(self._dead)] = True
            live = ~dead[rows]
            keys, rows = keys[live], rows[live]
        if keys.size < 2:
            empty = np.zeros(0, dtype=np.intp)
            return rows, empty, empty
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        sizes = np.diff(np.append(starts, keys.size))
        return rows, starts, sizes

    def live_ids(self) -> Iterable[str]:
        for row, eid in enumerate(self.ids):
            if row not in self._dead:
                yield eid
        yield from self._extra


def distinct_row_sets(buckets: Iterable[npt.NDArray[np.int32]]) -> list[npt.NDArray[np.int32]]:
    """The first of each set of sorted rows, in order: a template's fills tend to make the same bucket
    in band after band (a million-record template: 32 buckets of the same million rows, 128 MB)."""
    kept: dict[tuple[int, bytes], npt.NDArray[np.int32]] = {}
    for bucket in buckets:
        rows = bucket.astype(np.int32, copy=False)
        kept.setdefault((rows.size, hashlib.blake2b(rows.tobytes(), digest_size=16).digest()), rows)
    return list(kept.values())


class ExcerptIndex:
    """Records sharing a winnowed word 13-gram fingerprint with a text: excerpt and containment candidates.

    One sorted uint64 array of fingerprints with the row of each (a lookup is a binary search);
    records written after the build go to an overflow dict, replaced or deleted rows are
    tombstoned, like `LshIndex`. A fingerprint held by more than `template_bucket` records is
    boilerplate shared by design (a template), never a candidate.
    """

    def __init__(
        self,
        ids: Sequence[str],
        fingerprints: npt.NDArray[np.uint64],
        owners: npt.NDArray[np.int32],
        *,
        template_bucket: int = 200,
        row_of: RowOf | None = None,
    ) -> None:
        self.ids: Sequence[str] = ids
        self.template_bucket = template_bucket
        self._keys: npt.NDArray[np.uint64]
        self._rows: npt.NDArray[np.int32]
        self._keys, self._rows = sorted_keys(fingerprints.astype(np.uint64, copy=False), owners)
        self._setup(row_of)

    def _setup(self, row_of: RowOf | None) -> None:
        self._row_of = row_of if row_of is not None else RowOf(self.ids)
        """Id -> row; shared with the LSH index built over the same ids (read-only after the build)."""
        self._dead: set[int] = set()
        self._extra: dict[str, npt.NDArray[np.uint64]] = {}
        self._extra_keys: dict[int, set[str]] = {}

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[str],
        keys: npt.NDArray[np.uint64],
        rows: npt.NDArray[np.int32],
        *,
        template_bucket: int = 200,
        row_of: RowOf | None = None,
    ) -> ExcerptIndex:
        """An index over sorted fingerprints and their rows read from a file: nothing is built."""
        index = cls.__new__(cls)
        index.ids = ids
        index.template_bucket = template_bucket
        index._keys = keys
        index._rows = rows
        index._setup(row_of)
        return index

    @property
    def arrays(self) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32]]:
        """The sorted fingerprints and the row of each (what a file keeps)."""
        return self._keys, self._rows

    @classmethod
    def empty(cls, *, template_bucket: int = 200) -> ExcerptIndex:
        return cls([], np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32), template_bucket=template_bucket)

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes + self._rows.nbytes)

    def add(self, example_id: str, fingerprints: npt.NDArray[np.uint64]) -> None:
        """Index a record written after the build (replacing an older fingerprint set of it)."""
        self.remove(example_id)
        self._extra[example_id] = fingerprints
        for key in fingerprints.tolist():
            self._extra_keys.setdefault(key, set()).add(example_id)

    def remove(self, example_id: str) -> None:
        row = self._row_of.get(example_id)
        if row is not None:
            self._dead.add(row)
        old = self._extra.pop(example_id, None)
        if old is not None:
            for key in old.tolist():
                self._extra_keys.get(key, set()).discard(example_id)

    def holders(self, fingerprints: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """How many records hold each fingerprint (tombstoned rows still counted: a template stays one)."""
        counts = np.searchsorted(self._keys, fingerprints, side="right") - np.searchsorted(
            self._keys, fingerprints, side="left"
        )
        if self._extra_keys:
            counts = counts + np.array(
                [len(self._extra_keys.get(k, ())) for k in fingerprints.tolist()], dtype=np.int64
            )
        return counts.astype(np.int64)

    def is_template(self, fingerprints: npt.NDArray[np.uint64]) -> bool:
        """Whether every one of these fingerprints is held by more than `template_bucket` records."""
        return bool(fingerprints.size) and bool(np.all(self.holders(fingerprints) > self.template_bucket))

    def candidate_rows(self, fingerprints: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int32], set[str], int]:
        """Live bulk rows and overflow ids sharing a fingerprint, and how many template fingerprints were skipped."""
        if not fingerprints.size:
            return np.zeros(0, dtype=np.int32), set(), 0
        los = np.searchsorted(self._keys, fingerprints, side="left")
        his = np.searchsorted(self._keys, fingerprints, side="right")
        counts = his - los
        extra: set[str] = set()
        skipped = 0
        if self._extra_keys:
            for at, key in enumerate(fingerprints.tolist()):
                members = self._extra_keys.get(key)
                if members:
                    if counts[at] + len(members) > self.template_bucket:
                        counts[at] = 0
                        skipped += 1
                    else:
                        extra |= members
        hit = np.flatnonzero((counts > 0) & (counts <= self.template_bucket))
        skipped += int(np.count_nonzero(counts > self.template_bucket))
        if not hit.size:
            return np.zeros(0, dtype=np.int32), extra, skipped
        rows = np.concatenate([self._rows[los[h] : his[h]] for h in hit.tolist()])
        rows = np.unique(rows)
        if self._dead and rows.size:
            rows = rows[[r not in self._dead for r in rows.tolist()]]
        return rows, extra, skipped

    def pairs(self) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.int32]]]:
        """Every pair of live bulk rows sharing a fingerprint, as sorted distinct codes `lo * n + hi`,
        and the row sets of template fingerprints (more than `template_bucket` records, not paired)."""
        n = len(self.ids)
        keys, rows = self._keys, self._rows
        if self._dead:
            dead = np.zeros(n, dtype=bool)
            dead[list(self._dead)] = True
            live = ~dead[rows]
            keys, rows = keys[live], rows[live]
        templates: list[npt.NDArray[np.int32]] = []
        if keys.size < 2:
            return np.zeros(0, dtype=np.int64), templates
        # only the runs of equal keys: most fingerprints are held by one record, and the start and size
        # of every key's run took ~130 MB at a million records
        edges = np.diff((keys[1:] == keys[:-1]).astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        starts = np.flatnonzero(edges == 1)
        sizes = np.flatnonzero(edges == -1) - starts + 1
        del edges
        codes: list[npt.NDArray[np.int64]] = []
        for size in np.unique(sizes[sizes >= 2]).tolist():
            firsts = starts[sizes == size]
            if is_template_bucket(size, self.template_bucket):
                templates.extend(np.unique(rows[f : f + size]) for f in firsts.tolist())
                continue
            i, j = np.triu_indices(size, k=1)
            left = rows[firsts[:, None] + i].astype(np.int64)
            right = rows[firsts[:, None] + j].astype(np.int64)
            codes.append((np.minimum(left, right) * n + np.maximum(left, right)).ravel())
        if not codes:
            return np.zeros(0, dtype=np.int64), templates
        flat = np.sort(np.concatenate(codes))
        flat = flat[np.concatenate(([True], flat[1:] != flat[:-1]))]
        return flat[(flat // n) != (flat % n)], templates
