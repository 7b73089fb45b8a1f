"""The LSH band index (32 bands x 4 rows) over stored MinHash signatures, built vectorised.

Each band's keys are one sorted uint64 array with the matching row numbers, so a lookup is
a binary search and the whole index for 100k records is ~40 MB of numpy arrays (no Python
objects per record). Records written after the build go to a small overflow dict; rows that
were replaced or deleted are tombstoned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from curator.minhash import BANDS, NUM_PERM, ROWS

_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)


def band_keys(signatures: npt.NDArray[np.uint32], bands: int = BANDS) -> npt.NDArray[np.uint64]:
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


_BAND_BITS = 6
_BAND_SHIFT = np.uint64(64 - _BAND_BITS)


def _tagged(keys: npt.NDArray[np.uint64], band: int | npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Band keys with the band number in the top 6 bits (58 bits of key remain)."""
    tagged: npt.NDArray[np.uint64] = (np.asarray(band, dtype=np.uint64) << _BAND_SHIFT) | (
        keys >> np.uint64(_BAND_BITS)
    )
    return tagged


_ALL_BANDS = np.arange(BANDS, dtype=np.uint64)

PairFilter = Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], npt.NDArray[np.bool_]]
"""Which pairs of rows (lower, higher) to keep, decided while pairs are made."""
PAIR_CHUNK = 200_000
"""Pairs made at once per bucket size: bounds the memory of expanding many buckets."""


class LshIndex:
    """Candidates for a signature: records sharing at least one whole band."""

    def __init__(
        self,
        ids: list[str],
        signatures: npt.NDArray[np.uint32],
        sizes: npt.NDArray[np.int32] | None = None,
        *,
        template_bucket: int = 200,
    ) -> None:
        self.ids = ids
        self.signatures = signatures.reshape(-1, NUM_PERM)
        self.sizes = np.zeros(len(ids), dtype=np.int32) if sizes is None else sizes.astype(np.int32)
        """Distinct shingles per row (0 when unknown), for containment estimates."""
        self.template_bucket = template_bucket
        # one flat sorted array for all bands: the band number sits in the top 5 bits of each key,
        # so one vectorised binary search answers all 32 bands of a query
        n = len(ids)
        self._rows = np.empty(BANDS * n, dtype=np.int32)
        self._keys = np.empty(BANDS * n, dtype=np.uint64)
        for band in range(BANDS):  # one band at a time: the build's peak stays near the index's size
            keys = _tagged(band_keys(self.signatures[:, band * ROWS : (band + 1) * ROWS], bands=1)[:, 0], band)
            order = np.argsort(keys, kind="stable")
            self._rows[band * n : (band + 1) * n] = order
            self._keys[band * n : (band + 1) * n] = keys[order]
        self.row_of = {eid: i for i, eid in enumerate(ids)}
        self._row_of = self.row_of
        self._dead: set[int] = set()
        self._extra: dict[str, tuple[npt.NDArray[np.uint32], int]] = {}
        self._extra_bands: list[dict[int, set[str]]] = [{} for _ in range(BANDS)]

    @classmethod
    def empty(cls, *, template_bucket: int = 200) -> LshIndex:
        return cls([], np.zeros((0, NUM_PERM), dtype=np.uint32), template_bucket=template_bucket)

    def __len__(self) -> int:
        return len(self.ids) - len(self._dead) + len(self._extra)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the bulk of the index)."""
        return int(self.signatures.nbytes + self.sizes.nbytes + self._rows.nbytes + self._keys.nbytes)

    def add(self, example_id: str, signature: npt.NDArray[np.uint32], size: int = 0) -> None:
        """Index a record written after the build (replacing an older signature of it)."""
        self.remove(example_id)
        self._extra[example_id] = (signature, size)
        for band, key in enumerate(band_keys(signature[None, :])[0]):
            self._extra_bands[band].setdefault(int(key), set()).add(example_id)

    def remove(self, example_id: str) -> None:
        row = self._row_of.get(example_id)
        if row is not None:
            self._dead.add(row)
        old = self._extra.pop(example_id, None)
        if old is not None:
            for band, key in enumerate(band_keys(old[0][None, :])[0]):
                self._extra_bands[band].get(int(key), set()).discard(example_id)

    def signature_of(self, example_id: str) -> npt.NDArray[np.uint32] | None:
        entry = self.entry_of(example_id)
        return None if entry is None else entry[0]

    def entry_of(self, example_id: str) -> tuple[npt.NDArray[np.uint32], int] | None:
        """A live record's signature and distinct-shingle count."""
        if example_id in self._extra:
            return self._extra[example_id]
        row = self._row_of.get(example_id)
        if row is None or row in self._dead:
            return None
        return self.signatures[row], int(self.sizes[row])

    def candidate_rows(self, signature: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.int32], set[str], int]:
        """Live bulk rows and overflow ids sharing a band with `signature`, and template buckets skipped."""
        keys = band_keys(signature[None, :])[0]
        tagged = _tagged(keys, _ALL_BANDS)
        los = np.searchsorted(self._keys, tagged, side="left").tolist()
        his = np.searchsorted(self._keys, tagged, side="right").tolist()
        parts: list[npt.NDArray[np.int32]] = []
        extra: set[str] = set()
        skipped = 0
        for band, key in enumerate(keys.tolist()):
            members = self._extra_bands[band].get(key, set()) if self._extra else set()
            if his[band] - los[band] + len(members) > self.template_bucket:
                skipped += 1
                continue
            if his[band] > los[band]:
                parts.append(self._rows[los[band] : his[band]])
            extra |= members
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        if rows.size > 1:
            rows = np.sort(rows)
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
        if self._dead and rows.size:
            rows = rows[[r not in self._dead for r in rows.tolist()]]
        return rows, extra, skipped

    def candidates(self, signature: npt.NDArray[np.uint32]) -> tuple[set[str], int]:
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
                if size > template_bucket:
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

    def template_buckets(self, template_bucket: int) -> list[npt.NDArray[np.int32]]:
        """The sorted live rows of every bucket larger than `template_bucket`, in band order (no pairs made)."""
        templates: list[npt.NDArray[np.int32]] = []
        for band in range(BANDS):
            rows, starts, sizes = self._buckets(band)
            for f, size in zip(
                starts[sizes > template_bucket].tolist(), sizes[sizes > template_bucket].tolist(), strict=True
            ):
                templates.append(np.sort(rows[f : f + size]))
        return templates

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


class ExcerptIndex:
    """Records sharing a winnowed word 13-gram fingerprint with a text: excerpt and containment candidates.

    One sorted uint64 array of fingerprints with the row of each (a lookup is a binary search);
    records written after the build go to an overflow dict, replaced or deleted rows are
    tombstoned, like `LshIndex`. A fingerprint held by more than `template_bucket` records is
    boilerplate shared by design (a template), never a candidate.
    """

    def __init__(
        self,
        ids: list[str],
        fingerprints: npt.NDArray[np.uint64],
        owners: npt.NDArray[np.int32],
        *,
        template_bucket: int = 200,
        row_of: dict[str, int] | None = None,
    ) -> None:
        self.ids = ids
        self.template_bucket = template_bucket
        order = np.argsort(fingerprints, kind="stable")
        self._keys = fingerprints[order].astype(np.uint64)
        self._rows = owners[order].astype(np.int32)
        del order
        self._row_of = row_of if row_of is not None else {eid: i for i, eid in enumerate(ids)}
        """Id -> row; shared with the LSH index built over the same ids (read-only after the build)."""
        self._dead: set[int] = set()
        self._extra: dict[str, npt.NDArray[np.uint64]] = {}
        self._extra_keys: dict[int, set[str]] = {}

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
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        sizes = np.diff(np.append(starts, keys.size))
        codes: list[npt.NDArray[np.int64]] = []
        for size in np.unique(sizes[sizes >= 2]).tolist():
            firsts = starts[sizes == size]
            if size > self.template_bucket:
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
