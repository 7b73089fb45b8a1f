"""The LSH band index (32 bands x 4 rows) over stored MinHash signatures, built vectorised.

Each band's keys are one sorted uint64 array with the matching row numbers, so a lookup is
a binary search and the whole index for 100k records is ~40 MB of numpy arrays (no Python
objects per record). Records written after the build go to a small overflow dict; rows that
were replaced or deleted are tombstoned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt

from curator.dedup.minhash import BANDS, NUM_PERM, ROWS

_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)


def band_keys(signatures: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
    """(n, 128) signatures -> (n, 32) band keys: the 4 rows of a band mixed into 64 bits."""
    bands = signatures.reshape(-1, BANDS, ROWS).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = bands * _MIX
        keys = mixed[:, :, 0] ^ (mixed[:, :, 1] >> np.uint64(7)) ^ (mixed[:, :, 2] << np.uint64(11))
        keys ^= mixed[:, :, 3] >> np.uint64(3)
    return keys  # type: ignore[no-any-return]


class LshIndex:
    """Candidates for a signature: records sharing at least one whole band."""

    def __init__(self, ids: list[str], signatures: npt.NDArray[np.uint32], *, template_bucket: int = 200) -> None:
        self.ids = ids
        self.signatures = signatures.reshape(-1, NUM_PERM)
        self.template_bucket = template_bucket
        keys = band_keys(self.signatures)  # (n, 32)
        order = np.argsort(keys, axis=0, kind="stable")  # per band
        self._rows = order.T.astype(np.int32).copy()  # (32, n)
        self._keys = np.take_along_axis(keys, order, axis=0).T.copy()  # (32, n)
        self._row_of = {eid: i for i, eid in enumerate(ids)}
        self._dead: set[int] = set()
        self._extra: dict[str, npt.NDArray[np.uint32]] = {}
        self._extra_bands: list[dict[int, set[str]]] = [{} for _ in range(BANDS)]

    @classmethod
    def empty(cls, *, template_bucket: int = 200) -> LshIndex:
        return cls([], np.zeros((0, NUM_PERM), dtype=np.uint32), template_bucket=template_bucket)

    def __len__(self) -> int:
        return len(self.ids) - len(self._dead) + len(self._extra)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (the bulk of the index)."""
        return int(self.signatures.nbytes + self._rows.nbytes + self._keys.nbytes)

    def add(self, example_id: str, signature: npt.NDArray[np.uint32]) -> None:
        """Index a record written after the build (replacing an older signature of it)."""
        self.remove(example_id)
        self._extra[example_id] = signature
        for band, key in enumerate(band_keys(signature[None, :])[0]):
            self._extra_bands[band].setdefault(int(key), set()).add(example_id)

    def remove(self, example_id: str) -> None:
        row = self._row_of.get(example_id)
        if row is not None:
            self._dead.add(row)
        old = self._extra.pop(example_id, None)
        if old is not None:
            for band, key in enumerate(band_keys(old[None, :])[0]):
                self._extra_bands[band].get(int(key), set()).discard(example_id)

    def signature_of(self, example_id: str) -> npt.NDArray[np.uint32] | None:
        if example_id in self._extra:
            return self._extra[example_id]
        row = self._row_of.get(example_id)
        if row is None or row in self._dead:
            return None
        sig: npt.NDArray[np.uint32] = self.signatures[row]
        return sig

    def candidates(self, signature: npt.NDArray[np.uint32]) -> tuple[set[str], int]:
        """Ids sharing a band with `signature`, and how many template buckets were skipped."""
        found: set[str] = set()
        skipped = 0
        keys = band_keys(signature[None, :])[0]
        for band in range(BANDS):
            band_sorted = self._keys[band]
            lo = int(np.searchsorted(band_sorted, keys[band], side="left"))
            hi = int(np.searchsorted(band_sorted, keys[band], side="right"))
            extra = self._extra_bands[band].get(int(keys[band]), set())
            if hi - lo + len(extra) > self.template_bucket:
                skipped += 1
                continue
            for row in self._rows[band, lo:hi].tolist():
                if row not in self._dead:
                    found.add(self.ids[row])
            found |= extra
        return found, skipped

    def buckets(self) -> Iterator[tuple[int, npt.NDArray[np.int32]]]:
        """Every bucket with two or more live rows of the bulk index, as (band, rows)."""
        for band in range(BANDS):
            keys = self._keys[band]
            if keys.size < 2:
                continue
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            ends = np.concatenate((starts[1:], [keys.size]))
            multi = np.flatnonzero(ends - starts >= 2)
            for s, e in zip(starts[multi].tolist(), ends[multi].tolist(), strict=True):
                rows = self._rows[band, s:e]
                if self._dead:
                    rows = rows[[r not in self._dead for r in rows.tolist()]]
                if rows.size >= 2:
                    yield band, rows

    def live_ids(self) -> Iterable[str]:
        for row, eid in enumerate(self.ids):
            if row not in self._dead:
                yield eid
        yield from self._extra
