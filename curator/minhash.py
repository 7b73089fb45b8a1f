"""MinHash signatures over character 5-gram shingles, vectorised with numpy.

A pure leaf module (numpy and the shared normalisation only): the store calls it when a
record is written, so signatures are stored and start-up never re-shingles the corpus.

Shingle hashes are a polynomial hash of the code points, mixed, cut to 32 bits (stable across
runs, unlike Python's `hash`). The 128 permutations are `(a * x + b) mod 2**32` with odd `a`:
each is a bijection of the 32-bit space, i.e. a true permutation. In numpy, in place, that is
~5x cheaper than datasketch's `mod 2**61 - 1` family, which matters because every write
computes one; measured estimator error on 100-word texts: bias < 0.01, sd 0.04 (the
theoretical sd for 128 permutations).

Each signature value is the low 16 bits of its permutation's minimum (b-bit minwise hashing, Li &
König): half the storage of the full 32 bits. Two values that are equal in 32 bits are equal in
their low 16, so a pair's count of equal values can only grow: every estimate is at least the
32-bit one (higher by 128 x 2**-16 ~ 0.002 values on average), every LSH band two records shared
still matches, and every prefilter built on them (which only decides what is verified exactly,
never what is reported) keeps every pair the full values kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from curator.textnorm import normalize

SHINGLE = 5
NUM_PERM = 128
BANDS = 32
ROWS = 4
SIG_BITS = 16
SIG_BYTES = NUM_PERM * SIG_BITS // 8
_SIG_MASK = np.uint32((1 << SIG_BITS) - 1)
Signatures = npt.NDArray[np.unsignedinteger[Any]]
"""One signature or rows of them: uint32 as computed, uint16 (their stored width) when held by the
many, as the duplicate engine's matrices are."""
_STORED = "<u2"
"""How a signature is stored: little-endian, 16 bits a value (256 bytes)."""

_rng = np.random.RandomState(1)  # fixed forever: stored signatures must stay comparable
_A = (_rng.randint(0, 1 << 31, size=NUM_PERM).astype(np.uint32) * np.uint32(2) + np.uint32(1)).astype(np.uint32)
_B = _rng.randint(0, 1 << 32, size=NUM_PERM, dtype=np.uint64).astype(np.uint32)
_BASE = 1_000_003
_POWERS = np.array([_BASE ** (SHINGLE - 1 - k) % (1 << 64) for k in range(SHINGLE)], dtype=np.uint64)

_A_ROW = _A[None, :]
_B_ROW = _B[None, :]
_A_COLUMN = _A[:, None]
_B_COLUMN = _B[:, None]

EMPTY_SIGNATURE = np.full(NUM_PERM, _SIG_MASK, dtype=np.uint32)


def shingle_hashes(normalized: str) -> npt.NDArray[np.uint32]:
    """32-bit hashes of the character 5-grams of an already normalised text (with repeats).

    A text shorter than one shingle is one shingle of the whole text.
    """
    if not normalized:
        return np.zeros(0, dtype=np.uint32)
    codes = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if codes.size < SHINGLE:
        codes = np.concatenate([codes, np.zeros(SHINGLE - codes.size, dtype=np.uint64)])
    n = codes.size - SHINGLE + 1
    with np.errstate(over="ignore"):
        hashes = codes[:n] * _POWERS[0]
        for k in range(1, SHINGLE):
            hashes += codes[k : k + n] * _POWERS[k]
        hashes ^= hashes >> np.uint64(29)
        hashes *= np.uint64(0xBF58476D1CE4E5B9)
        hashes ^= hashes >> np.uint64(32)
    out: npt.NDArray[np.uint32] = hashes.astype(np.uint32)
    return out


def distinct(hashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Sorted distinct values: `np.unique` without its overhead (~5x faster on a few hundred values)."""
    if hashes.size < 2:
        return hashes.copy()
    ordered = np.sort(hashes)
    out: npt.NDArray[np.uint32] = ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
    return out


def common_count(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> int:
    """How many values two sorted distinct arrays share (a binary search of one in the other)."""
    if not a.size or not b.size:
        return 0
    at = np.searchsorted(b, a)
    at[at == b.size] = 0
    return int(np.count_nonzero(b[at] == a))


def signature_of_hashes(hashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The 128-value MinHash signature of a (multi)set of shingle hashes (16-bit values)."""
    if hashes.size == 0:
        return EMPTY_SIGNATURE.copy()
    with np.errstate(over="ignore"):
        permuted = hashes[:, None] * _A_ROW  # one row per shingle: the minimum runs down 128-wide rows
        permuted += _B_ROW
    out: npt.NDArray[np.uint32] = permuted.min(axis=0)
    out &= _SIG_MASK
    return out


def signature(text: str) -> npt.NDArray[np.uint32]:
    """Signature of raw text (normalised here)."""
    return signature_of_hashes(shingle_hashes(normalize(text)))


def signature_bytes(text: str) -> bytes:
    """The stored form: 256 bytes, 16 bits a value, little-endian."""
    return to_bytes(signature(text))


def to_bytes(sig: Signatures) -> bytes:
    """A signature (or rows of them) in its stored form."""
    return sig.astype(_STORED).tobytes()


def signature_row(text: str) -> tuple[bytes, int]:
    """What the store keeps per record: the signature blob and the number of distinct shingles.

    The count lets the engine estimate containment (|A n B| / |A|) from the signature alone, so
    candidates that no rule could pass are dropped before any text is read.
    """
    hashes = shingle_hashes(normalize(text))
    count = int(distinct(hashes).size)
    return to_bytes(signature_of_hashes(hashes)), count


def from_bytes(blob: bytes) -> npt.NDArray[np.uint32]:
    """A stored signature back as an array."""
    sig: npt.NDArray[np.uint32] = np.frombuffer(blob, dtype=_STORED).astype(np.uint32)
    return sig


def rows_from_bytes(blob: bytes, rows: int) -> npt.NDArray[np.uint16]:
    """Stored signatures end to end back as a (rows, NUM_PERM) array, at their stored width."""
    out: npt.NDArray[np.uint16] = np.frombuffer(blob, dtype=_STORED).reshape(rows, NUM_PERM).astype(np.uint16)
    return out


def narrowed(blob: bytes) -> bytes:
    """A signature stored with 32-bit values (workspaces written before 16-bit ones) in today's
    form: the low 16 bits of each value, what the signature of the same text is now."""
    wide: npt.NDArray[np.uint32] = np.frombuffer(blob, dtype="<u4").astype(np.uint32)
    return to_bytes(wide & _SIG_MASK)


def estimate_jaccard(a: Signatures, b: Signatures) -> float:
    """The share of equal signature values: an unbiased estimate of shingle-set Jaccard."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def shingle_set(normalized: str) -> set[str]:
    """The exact shingle set, for verifying candidates (Jaccard, containment)."""
    if len(normalized) < SHINGLE:
        return {normalized} if normalized else set()
    return {normalized[i : i + SHINGLE] for i in range(len(normalized) - SHINGLE + 1)}


# -- excerpt fingerprints: winnowed word 13-grams ------------------------------------------------

EXCERPT_GRAM = 13
"""Words per hashed n-gram of the excerpt index."""
EXCERPT_WINDOW = 18
"""Winnowing window (in n-grams): every run of >= EXCERPT_WINDOW + EXCERPT_GRAM - 1 = 30 shared
consecutive words shares at least one fingerprint (the minimum of a window both texts contain)."""
EXCERPT_GUARANTEE = EXCERPT_WINDOW + EXCERPT_GRAM - 1

_WORD_BASE = np.uint64(0x100000001B3)
_WORD_BASE_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_GRAM_MULT = np.uint64(0x9E3779B97F4A7C15)


def _mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: spreads polynomial hashes over all 64 bits."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(0xBF58476D1CE4E5B9)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(0x94D049BB133111EB)
        values = values ^ (values >> np.uint64(31))
    return values


def word_hashes(normalized: str) -> npt.NDArray[np.uint64]:
    """A stable 64-bit hash per word of an already normalised text (single spaces between words).

    Vectorised: a prefix sum of code point * B**i gives every word's polynomial hash as
    (S[end] - S[start]) * B**-start, all modulo 2**64 (B is odd, so it has an inverse).
    """
    if not normalized:
        return np.zeros(0, dtype=np.uint64)
    return _words_of(np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32))[0]


def _words_of(raw: npt.NDArray[np.uint32]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]]:
    """`word_hashes` of a non-empty text's code points, and the positions of its spaces."""
    n = raw.size
    powers, inverse = _powers(n)
    with np.errstate(over="ignore"):
        prefix = np.empty(n + 1, dtype=np.uint64)
        prefix[0] = 0
        np.cumsum((raw.astype(np.uint64) + np.uint64(1)) * powers[:n], dtype=np.uint64, out=prefix[1:])
        spaces = np.flatnonzero(raw == 32)
        starts = np.empty(spaces.size + 1, dtype=np.intp)
        starts[0] = 0
        starts[1:] = spaces + 1
        ends = np.empty(spaces.size + 1, dtype=np.intp)
        ends[:-1] = spaces
        ends[-1] = n
        hashes = (prefix[ends] - prefix[starts]) * inverse[starts]
    return _mix64(hashes), spaces


_POWERS_CACHE: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]] = []


def _powers(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """B**i and B**-i (mod 2**64) for i <= n, computed once and grown when a longer text comes."""
    if not _POWERS_CACHE or _POWERS_CACHE[0][0].size <= n:
        size = max(n + 1, 2 * _POWERS_CACHE[0][0].size if _POWERS_CACHE else 0, 8192)
        with np.errstate(over="ignore"):
            one = np.ones(1, dtype=np.uint64)
            powers: npt.NDArray[np.uint64] = np.concatenate(
                (one, np.cumprod(np.full(size - 1, _WORD_BASE, dtype=np.uint64)))
            ).astype(np.uint64, copy=False)
            inverse: npt.NDArray[np.uint64] = np.concatenate(
                (one, np.cumprod(np.full(size - 1, _WORD_BASE_INV, dtype=np.uint64)))
            ).astype(np.uint64, copy=False)
        _POWERS_CACHE[:] = [(powers, inverse)]  # one assignment: a reader in another thread sees old or new
    return _POWERS_CACHE[0]


def gram_hashes(words: npt.NDArray[np.uint64], n: int = EXCERPT_GRAM) -> npt.NDArray[np.uint64]:
    """64-bit hashes of every run of `n` consecutive words (empty when there are fewer words)."""
    count = words.size - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        out = words[:count].copy()
        for k in range(1, n):
            out *= _GRAM_MULT
            out += words[k : k + count]
    return _mix64(out)


def winnow(hashes: npt.NDArray[np.uint64], window: int = EXCERPT_WINDOW) -> npt.NDArray[np.uint64]:
    """Sorted distinct minima of every `window` consecutive hashes (all hashes' minimum if fewer)."""
    if hashes.size == 0:
        return hashes.copy()
    if hashes.size <= window:
        least: npt.NDArray[np.uint64] = hashes.min(keepdims=True)
        return least
    count = hashes.size - window + 1
    minima = hashes[:count].copy()
    for k in range(1, window):  # a running minimum: cheaper than a sliding-window view at these sizes
        np.minimum(minima, hashes[k : k + count], out=minima)
    minima.sort()
    out: npt.NDArray[np.uint64] = minima[np.concatenate(([True], minima[1:] != minima[:-1]))]
    return out


def excerpt_fingerprints(normalized: str) -> npt.NDArray[np.uint64]:
    """The winnowed word-13-gram fingerprints of a normalised text (none below 13 words)."""
    return winnow(gram_hashes(word_hashes(normalized)))


def dedup_row(text: str) -> tuple[bytes, int, bytes]:
    """Everything the store keeps per record for near-duplicates, from one normalisation: the
    MinHash signature blob, the distinct-shingle count and the excerpt fingerprints (little-endian
    uint64 blob, ~2 per 19 words)."""
    return dedup_row_normalized(normalize(text))


def dedup_row_normalized(normalized: str) -> tuple[bytes, int, bytes]:
    """`dedup_row` of a text already normalised."""
    unique = distinct(shingle_hashes(normalized))  # the minima of a multiset are those of its set
    sig = to_bytes(signature_of_hashes(unique))
    return sig, int(unique.size), excerpt_fingerprints(normalized).astype("<u8").tobytes()


def fingerprints_from_bytes(blob: bytes) -> npt.NDArray[np.uint64]:
    """Stored fingerprints back as an array."""
    out: npt.NDArray[np.uint64] = np.frombuffer(blob, dtype="<u8").astype(np.uint64)
    return out


# -- many records at once ------------------------------------------------------------------------

_BATCH_CHARS = 1 << 18
"""Characters of text vectorised together by `dedup_rows_normalized`: big enough that numpy's
per-call overhead vanishes, small enough that the arrays (and the `_powers` cache) stay a few MB."""
_SIGNATURE_ROWS = 1 << 15
"""Distinct shingles per (128 x shingles) uint32 block of `dedup_rows_normalized` (16 MB)."""


def dedup_rows_normalized(texts: Sequence[str]) -> list[tuple[bytes, int, bytes]]:
    """`[dedup_row_normalized(t) for t in texts]`, byte for byte, with numpy calls shared by a whole
    group of texts: on texts of a few hundred characters numpy's per-call overhead, not the
    arithmetic, is what the per-record function spends its time on."""
    out: list[tuple[bytes, int, bytes]] = []
    start = 0
    while start < len(texts):
        stop, chars = start, 0
        while stop < len(texts) and (stop == start or chars + len(texts[stop]) <= _BATCH_CHARS):
            chars += len(texts[stop]) + 1
            stop += 1
        out.extend(_dedup_group(texts[start:stop]))
        start = stop
    return out


def _dedup_group(texts: Sequence[str]) -> list[tuple[bytes, int, bytes]]:
    """`dedup_rows_normalized` of texts small enough together to be held at once.

    The non-empty texts are joined with single spaces: every shingle and word 13-gram (and
    winnowing window) that crosses a joint is dropped, and since a joint is a space, the words of
    the joined text are exactly the words of each text in turn.
    """
    count = len(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.intp, count=count)
    present = np.flatnonzero(lengths)  # empty texts have no shingles, words or fingerprints
    joined = " ".join(texts[i] for i in present.tolist())
    raw = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    offsets = np.zeros(present.size, dtype=np.intp)
    if present.size > 1:
        np.cumsum(lengths[present[:-1]] + 1, out=offsets[1:])

    unique_rid, unique = _distinct_shingles(texts, raw, lengths, present, offsets)
    shingles = np.bincount(unique_rid, minlength=count)
    signatures = to_bytes(_signatures(unique, shingles))

    finger_rid, fingers = _fingerprints(raw, lengths, present, offsets)
    finger_counts = np.bincount(finger_rid, minlength=count)
    finger_ends = np.cumsum(finger_counts).tolist()
    finger_blob = fingers.astype("<u8", copy=False).tobytes()

    rows: list[tuple[bytes, int, bytes]] = []
    begin = 0
    for i, (n, end) in enumerate(zip(shingles.tolist(), finger_ends, strict=True)):
        rows.append((signatures[i * SIG_BYTES : (i + 1) * SIG_BYTES], n, finger_blob[begin * 8 : end * 8]))
        begin = end
    return rows


def _distinct_shingles(
    texts: Sequence[str],
    raw: npt.NDArray[np.uint32],
    lengths: npt.NDArray[np.intp],
    present: npt.NDArray[np.intp],
    offsets: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """Each text's distinct shingle hashes, sorted, texts in order: (text index, hash) pairs."""
    long = lengths[present] >= SHINGLE
    keys = np.zeros(0, dtype=np.uint64)
    if long.any():
        codes = raw.astype(np.uint64)
        n = codes.size - SHINGLE + 1
        with np.errstate(over="ignore"):
            hashes = codes[:n] * _POWERS[0]
            for k in range(1, SHINGLE - 1):
                hashes += codes[k : k + n] * _POWERS[k]
            hashes += codes[SHINGLE - 1 :]  # the last power is 1
            hashes ^= hashes >> np.uint64(29)
            hashes *= np.uint64(0xBF58476D1CE4E5B9)
            hashes ^= hashes >> np.uint64(32)
        hashes &= np.uint64(0xFFFFFFFF)
        # Each text's windows, then those across the joint after it (and all of a short text's),
        # whose owner is past every text so that they sort last and are cut off.
        valid = np.where(long, lengths[present] - SHINGLE + 1, 0)
        spans = np.diff(np.minimum(offsets, n), append=n)  # a short last text may start past n
        owner = np.empty(2 * present.size, dtype=np.uint64)
        owner[0::2] = present.astype(np.uint64) << np.uint64(32)
        owner[1::2] = np.uint64(len(texts)) << np.uint64(32)
        counts = np.empty(2 * present.size, dtype=np.intp)
        counts[0::2] = valid
        counts[1::2] = spans - valid
        hashes |= np.repeat(owner, counts)
        hashes.sort()
        keys = hashes[: int(valid.sum())]
    short_rid = present[~long]
    if short_rid.size:  # shorter than a shingle: one shingle of the text padded with zeros
        short = np.concatenate([shingle_hashes(texts[i]) for i in short_rid.tolist()]).astype(np.uint64)
        keys = np.concatenate((keys, short | (short_rid.astype(np.uint64) << np.uint64(32))))
        keys.sort()
    if keys.size > 1:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    rid: npt.NDArray[np.intp] = (keys >> np.uint64(32)).astype(np.intp)
    return rid, keys.astype(np.uint32)


def _signatures(unique: npt.NDArray[np.uint32], counts: npt.NDArray[np.intp]) -> npt.NDArray[np.uint32]:
    """One signature row per text from its distinct shingle hashes (`unique`, texts in order,
    `counts` per text).

    Computed in (128 x rows) blocks of bounded size, one permutation per row, so the per-text
    minimum is a `reduceat` along contiguous memory; a text whose shingles span two blocks takes
    the minimum of both parts.
    """
    sigs = np.tile(EMPTY_SIGNATURE[:, None], (1, counts.size))
    owners = np.flatnonzero(counts)
    if not owners.size:
        return sigs.T
    starts = np.cumsum(counts[owners]) - counts[owners]
    total = unique.size
    block = np.empty((NUM_PERM, min(total, _SIGNATURE_ROWS)), dtype=np.uint32)
    for lo in range(0, total, _SIGNATURE_ROWS):
        hi = min(lo + _SIGNATURE_ROWS, total)
        first = int(np.searchsorted(starts, lo, side="right")) - 1  # the text that holds shingle `lo`
        last = int(np.searchsorted(starts, hi, side="left"))
        local = starts[first:last] - lo
        local[0] = 0
        part = block[:, : hi - lo]
        with np.errstate(over="ignore"):
            np.multiply(_A_COLUMN, unique[None, lo:hi], out=part)
            part += _B_COLUMN
        minima = np.minimum.reduceat(part, local, axis=1)
        columns = owners[first:last]
        if starts[first] < lo:  # continues from the previous block
            np.minimum(minima[:, 0], sigs[:, columns[0]], out=minima[:, 0])
        sigs[:, columns] = minima
    sigs &= _SIG_MASK
    return sigs.T


def _fingerprints(
    raw: npt.NDArray[np.uint32],
    lengths: npt.NDArray[np.intp],
    present: npt.NDArray[np.intp],
    offsets: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64]]:
    """Each text's excerpt fingerprints (`excerpt_fingerprints`), texts in order: (text index,
    fingerprint) pairs."""
    none = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.uint64))
    if not present.size:
        return none
    words, spaces = _words_of(raw)
    first_word = np.searchsorted(spaces, offsets)  # the joints are spaces: text i's words start there
    word_counts = np.diff(first_word, append=words.size)
    gram_counts = np.maximum(word_counts - (EXCERPT_GRAM - 1), 0)
    has = gram_counts > 0
    if not has.any():
        return none
    grams_all = gram_hashes(words)
    counts = gram_counts[has]
    first = np.cumsum(counts) - counts
    grams = grams_all[np.arange(int(counts.sum()), dtype=np.intp) + np.repeat(first_word[has] - first, counts)]
    rid = present[has]

    few = counts <= EXCERPT_WINDOW  # one window: the minimum of all the text's grams
    least = np.minimum.reduceat(grams, first)[few]
    least_rid = rid[few]

    many = ~few
    windows = counts[many] - EXCERPT_WINDOW + 1
    minima = np.zeros(0, dtype=np.uint64)
    minima_rid = np.zeros(0, dtype=np.intp)
    if windows.size:
        total = grams.size - EXCERPT_WINDOW + 1
        running = grams[:total].copy()
        for k in range(1, EXCERPT_WINDOW):
            np.minimum(running, grams[k : k + total], out=running)
        taken = np.cumsum(windows) - windows
        kept = np.arange(int(windows.sum()), dtype=np.intp) + np.repeat(first[many] - taken, windows)
        minima = running[kept]
        minima_rid = np.repeat(rid[many], windows)
        if minima.size > 1:  # neighbouring windows mostly share their minimum: drop runs before sorting
            new = np.concatenate(([True], (minima[1:] != minima[:-1]) | (minima_rid[1:] != minima_rid[:-1])))
            minima, minima_rid = minima[new], minima_rid[new]

    values = np.concatenate((least, minima))
    owners = np.concatenate((least_rid, minima_rid))
    order = np.lexsort((values, owners))
    values, owners = values[order], owners[order]
    if values.size > 1:
        keep = np.concatenate(([True], (values[1:] != values[:-1]) | (owners[1:] != owners[:-1])))
        values, owners = values[keep], owners[keep]
    return owners, values
