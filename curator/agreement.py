"""Agreement between annotators who linked clauses to the same records, in numpy.

The label of one annotation is a *set* of clause ids, so the overall figure is Krippendorff's
alpha with the MASI distance (Passonneau 2006), computed exactly as nltk's
`AnnotationTask(distance=masi_distance).alpha()` does (nltk is the reference in the tests):

- MASI distance `1 - J * M`, J the Jaccard of the two sets, M 1 for equal sets, 2/3 when one is
  a subset of the other, 1/3 when they only overlap, 0 when they are disjoint;
- only records with two or more annotations count (`n` is the number of their annotations);
  observed disagreement = sum over records of (sum of distances over ordered pairs of its
  annotations) / (m - 1), divided by `n`; expected = sum over ordered pairs of all those
  annotations' values of N_a N_b d(a, b) / (n (n - 1)); alpha = 1 - observed / expected;
- one distinct value among them: alpha 1 (nltk's rule); no record with two annotations: None.

Per clause the same alpha with the binary distance (linked or not). The clause-pair confusions
count, over every pair of annotations of one record, each clause one annotator linked and the
other did not, against each clause the other linked and the first did not. The mean pairwise
Jaccard is the plain-language figure. The bootstrap interval resamples records with replacement
from a seeded generator, so the same annotations give the same interval; each replicate's observed
disagreement is its records' and the expected one stays the whole sample's (Hayes & Krippendorff
2007, the bootstrap published for alpha).

Everything here takes plain rows and returns plain data: no database, no output.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

BOOTSTRAP_REPLICATES = 200
"""Resamples of the records for the 95% interval (percentiles 2.5 and 97.5)."""

SUBSET_LIMIT = 8
"""Largest link set whose subsets `_Expected` enumerates (2**8 each); larger sets compare pairwise."""

_BLOCK = 512
"""Distinct sets compared at a time when comparing pairwise (memory stays flat)."""

LOW_AGREEMENT = 0.667
"""Alpha below which a clause's agreement counts as low (Krippendorff's lowest for tentative
conclusions): the Coverage screen highlights such a clause and the Constitution screen marks it
"unclear?"."""

CONFUSIONS_SHOWN = 50
"""Clause pairs a report keeps, most frequent first (`confusions_total` counts them all)."""


def is_low(alpha: float | None) -> bool:
    """A measured alpha below LOW_AGREEMENT (None, nothing measured, is not low)."""
    return alpha is not None and alpha < LOW_AGREEMENT


def masi_distance(a: Iterable[str], b: Iterable[str]) -> float:
    """MASI distance of two non-empty sets (nltk's `masi_distance`, for one pair)."""
    sa, sb = set(a), set(b)
    inter, union = len(sa & sb), len(sa | sb)
    if len(sa) == len(sb) == inter:
        m = 1.0
    elif inter == min(len(sa), len(sb)):
        m = 2 / 3
    elif inter > 0:
        m = 1 / 3
    else:
        m = 0.0
    return 1 - inter / union * m


def _masi_similarity(inter: npt.NDArray[Any], sa: npt.NDArray[Any], sb: npt.NDArray[Any]) -> FloatArray:
    """J * M of value pairs given their intersection and set sizes (1 - MASI distance)."""
    inter = inter.astype(np.float64)
    union = sa + sb - inter
    low = np.minimum(sa, sb)
    m = np.where((sa == sb) & (inter == sa), 1.0, np.where(inter == low, 2 / 3, np.where(inter > 0, 1 / 3, 0.0)))
    return np.asarray(inter / union * m, dtype=np.float64)


@dataclass(frozen=True)
class Encoded:
    """Annotations as integer arrays, sorted by (record, annotator): what every statistic reads."""

    records: tuple[str, ...]
    annotators: tuple[str, ...]
    clauses: tuple[str, ...]
    item: IntArray
    coder: IntArray
    value: IntArray
    """Index of each annotation's link set among the distinct ones."""
    padded: IntArray
    """Distinct link sets as rows of sorted clause indices, padded with -1."""
    sizes: IntArray

    @property
    def n_values(self) -> int:
        return int(self.sizes.size)


def encode(rows: Iterable[tuple[str, str, Iterable[str]]]) -> Encoded:
    """(record, annotator, clause ids) rows as arrays; one annotation per (record, annotator).

    An annotator listed twice for one record, or an empty link set (MASI is undefined between
    two empty sets), is a `ValueError` naming the record: the store never holds either.
    """
    rows = list(rows)
    records = [r[0] for r in rows]
    annotators = [r[1] for r in rows]
    return encode_columns(records, annotators, [x if type(x) is tuple else tuple(x) for _, _, x in rows])


def encode_columns(
    records: Sequence[str],
    annotators: Sequence[str],
    labels: Sequence[Hashable],
    decode: Callable[[list[Any]], Sequence[Iterable[str]]] | None = None,
) -> Encoded:
    """`encode` of parallel columns: row i is (records[i], annotators[i], labels[i]).

    `labels` are the rows' link sets as tuples, or, with `decode`, hashable keys standing for them
    (the store's JSON text) that `decode` turns into link sets, all distinct keys in one call.
    Every per-row step is a C-level pass over a column and the link sets are deduplicated as
    integer rows, so 300,000 rows encode in about a tenth of a second.
    """
    if not records:
        empty = np.zeros(0, dtype=np.int64)
        return Encoded((), (), (), empty, empty, empty, np.zeros((0, 0), dtype=np.int64), empty)
    record_names, item = _codes(records)
    annotator_names, coder = _codes(annotators)
    keys = list(dict.fromkeys(labels))
    key_code = np.fromiter(map({k: i for i, k in enumerate(keys)}.__getitem__, labels), np.int64, len(labels))
    labelsets = [tuple(x) for x in (decode(keys) if decode is not None else cast(list[tuple[str, ...]], keys))]
    clauses = tuple(sorted(set().union(*labelsets)))
    cl_ix = {c: i for i, c in enumerate(clauses)}
    sizes = np.fromiter(map(len, labelsets), np.int64, len(labelsets))
    if sizes.size and int(sizes.min()) == 0:
        row = int(np.flatnonzero(sizes[key_code] == 0)[0])
        raise ValueError(f"{records[row]}: {annotators[row]}'s annotation links no clause")
    width = int(sizes.max()) if sizes.size else 0
    raw = np.full((len(labelsets), width), -1, dtype=np.int64)
    if sizes.size:
        flat = np.fromiter((cl_ix[c] for labelset in labelsets for c in labelset), np.int64, int(sizes.sum()))
        starts = np.cumsum(sizes) - sizes
        raw[np.repeat(np.arange(len(labelsets)), sizes), np.arange(flat.size) - np.repeat(starts, sizes)] = flat
    # each set in order, without repeats: sort each row with the padding last, then drop repeats
    last = np.iinfo(np.int64).max
    raw[raw < 0] = last
    raw.sort(axis=1)
    repeated = np.zeros_like(raw, dtype=bool)
    repeated[:, 1:] = (raw[:, 1:] == raw[:, :-1]) & (raw[:, 1:] != last)
    if repeated.any():
        raw[repeated] = last
        raw.sort(axis=1)
    raw[raw == last] = -1
    # rows of clause indices, padded with -1, sort as the tuples of clause ids do
    base = len(clauses) + 1
    if width and base**width < 2**62:  # each row as one integer (digits clause + 1): a 1-d unique
        row_key = np.zeros(raw.shape[0], dtype=np.int64)
        for col in range(width):
            row_key = row_key * base + (raw[:, col] + 1)
        _, first, canonical = np.unique(row_key, return_index=True, return_inverse=True)
        padded = raw[first]
    else:
        padded, canonical = np.unique(raw, axis=0, return_inverse=True)
    value = canonical.reshape(-1)[key_code] if key_code.size else np.zeros(0, dtype=np.int64)
    pair_code = item * max(len(annotator_names), 1) + coder
    if not (pair_code[1:] > pair_code[:-1]).all():  # the store's rows come in this order already
        order = np.argsort(pair_code, kind="stable")
        item, coder, value, pair_code = item[order], coder[order], value[order], pair_code[order]
    twice = np.flatnonzero(np.diff(pair_code) == 0)
    if twice.size:
        k = int(twice[0])
        raise ValueError(f"{record_names[int(item[k])]}: {annotator_names[int(coder[k])]} has two annotations")
    set_sizes = (padded >= 0).sum(axis=1)
    padded = padded[:, : int(set_sizes.max())]  # as wide as the largest set once repeats are gone
    return Encoded(record_names, annotator_names, clauses, item, coder, value, padded, set_sizes)


def _codes(column: Sequence[str]) -> tuple[tuple[str, ...], IntArray]:
    """The distinct values of `column` sorted, and each row's position among them."""
    values = np.array(column, dtype=object)
    if values.size and bool((values[:-1] <= values[1:]).all()):  # sorted already (the store's records)
        new = np.concatenate([[False], values[:-1] != values[1:]])
        return tuple(values[np.flatnonzero(np.concatenate([[True], new[1:]]))]), np.cumsum(new, dtype=np.int64)
    names = sorted(dict.fromkeys(column))
    index = {name: i for i, name in enumerate(names)}
    return tuple(names), np.fromiter(map(index.__getitem__, column), np.int64, len(column))


def _intersections(enc: Encoded, va: IntArray, vb: IntArray) -> IntArray:
    """|a & b| for pairs of value indices (padding never matches: -1 against -2)."""
    a = enc.padded[va]
    b = np.where(enc.padded[vb] < 0, -2, enc.padded[vb])
    return np.asarray((a[:, :, None] == b[:, None, :]).sum(axis=(1, 2)), dtype=np.int64)


@dataclass(frozen=True)
class _Sample:
    """The pairable annotations (records with two or more) of one selection, ready for alpha."""

    item: IntArray
    """Position of each annotation's record among the pairable records (0..n_items-1)."""
    value: IntArray
    coder: IntArray
    m: IntArray
    """Annotations per pairable record."""
    first: IntArray
    """Index of each pairable record's first annotation."""


def _sample(enc: Encoded) -> _Sample:
    item, value = enc.item, enc.value
    if item.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Sample(empty, empty, empty, empty, empty)
    _, counts = np.unique(item, return_counts=True)
    pairable_items = counts >= 2
    per_ann = np.repeat(pairable_items, counts)
    m = counts[pairable_items].astype(np.int64)
    new_item = np.repeat(np.arange(m.size, dtype=np.int64), m)
    first_new = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)
    return _Sample(new_item, value[per_ann], enc.coder[per_ann], m, first_new)


def _pair_index(s: _Sample) -> tuple[IntArray, IntArray]:
    """Every unordered pair of annotations of one record, as two index arrays into the sample."""
    left: list[IntArray] = []
    right: list[IntArray] = []
    top = int(s.m.max()) if s.m.size else 0
    for a in range(top):
        for b in range(a + 1, top):
            has = s.m > b
            left.append(s.first[has] + a)
            right.append(s.first[has] + b)
    if not left:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(left), np.concatenate(right)


def _pair_stats(enc: Encoded, va: IntArray, vb: IntArray) -> tuple[FloatArray, FloatArray]:
    """(J * M, J) for pairs of value indices, computed once per distinct pair."""
    if va.size == 0:
        empty = np.zeros(0, dtype=np.float64)
        return empty, empty
    nv = enc.n_values
    keys, inverse = np.unique(va * nv + vb, return_inverse=True)
    ua, ub = keys // nv, keys % nv
    inter = _intersections(enc, ua, ub)
    sa, sb = enc.sizes[ua], enc.sizes[ub]
    jac = inter / (sa + sb - inter)
    inv = inverse.reshape(-1)
    return _masi_similarity(inter, sa, sb)[inv], np.asarray(jac, dtype=np.float64)[inv]


class _Expected:
    """Sum over ordered pairs of annotations of J * M, from value counts, without comparing every pair.

    J * M depends only on (|a|, |b|, |a & b|). For each subset T of a value (|T| = j) the sums
    F_s(T) = sum of N_v over values of size s holding T give G_j(s, t) = sum over T of
    F_s(T) F_t(T) = sum over value pairs of sizes (s, t) of N_a N_b C(|a & b|, j); binomial
    inversion turns G into the weight of each intersection size. Linear in the values times their
    subsets (link sets are small), so each annotator pair's total is cheap too; exact in float64 while the
    sums stay below 2**53, which sets of up to `SUBSET_LIMIT` clauses keep far from. A set larger
    than that (2**n subsets) makes every total a blockwise comparison of the distinct sets instead.
    """

    def __init__(self, enc: Encoded) -> None:
        self.enc = enc
        rows = enc.padded
        sizes = enc.sizes
        self.pairwise = bool(sizes.size) and int(sizes.max()) > SUBSET_LIMIT
        if self.pairwise:
            sizes = sizes[:0]
        self.size_values = np.unique(sizes)
        size_of = np.searchsorted(self.size_values, sizes)
        self.n_sizes = int(self.size_values.size)
        base = len(enc.clauses) + 1
        self.levels: list[tuple[IntArray, IntArray, int]] = []
        """Per subset size j: (value, flat subset x size cell) entries and the number of cells."""
        top = int(sizes.max()) if sizes.size else 0
        for j in range(1, top + 1):
            pos_parts: list[IntArray] = []
            key_parts: list[IntArray] = []
            for s in range(j, top + 1):
                which = np.flatnonzero(sizes == s)
                if which.size == 0:
                    continue
                for combo in itertools.combinations(range(s), j):
                    pos_parts.append(which)
                    key_parts.append(rows[np.ix_(which, np.array(combo, dtype=np.int64))])
            if not pos_parts:
                continue
            subsets = np.concatenate(key_parts)
            if base**j < 2**62:  # one integer per subset: a much faster unique than rows
                key = np.zeros(subsets.shape[0], dtype=np.int64)
                for col in range(j):
                    key = key * base + subsets[:, col]
                keys, ids = np.unique(key, return_inverse=True)
            else:
                keys, ids = np.unique(subsets, axis=0, return_inverse=True)
            pos = np.concatenate(pos_parts)
            cells = ids.reshape(-1) * self.n_sizes + size_of[pos]
            self.levels.append((pos, cells, int(keys.shape[0]) * self.n_sizes))
        self.top = top
        sv = self.size_values
        self.sim = np.zeros((top + 1, self.n_sizes, self.n_sizes), dtype=np.float64)
        for a in range(self.n_sizes):
            for b in range(self.n_sizes):
                for i in range(1, int(min(sv[a], sv[b])) + 1):
                    self.sim[i, a, b] = _masi_similarity(np.array([i]), np.array([sv[a]]), np.array([sv[b]]))[0]
        # weight of intersection size i from the G_j: sum over j >= i of (-1)^(j-i) C(j, i) G_j
        self.inversion = np.array(
            [[(-1) ** (j - i) * math.comb(j, i) if j >= i else 0 for j in range(top + 1)] for i in range(top + 1)],
            dtype=np.float64,
        )

    def total(self, counts: FloatArray) -> float:
        """Sum over ordered pairs of the annotations, given each distinct value's count, of J * M."""
        if self.pairwise:
            return self._pairwise_total(counts)
        g = np.zeros((self.top + 1, self.n_sizes, self.n_sizes), dtype=np.float64)
        for j, (pos, cells, n_cells) in enumerate(self.levels, start=1):
            f = np.bincount(cells, weights=counts[pos], minlength=n_cells).reshape(-1, self.n_sizes)
            g[j] = np.einsum("ns,nt->st", f, f)
        weight = np.tensordot(self.inversion, g, axes=1)
        return float((weight * self.sim).sum())

    def _pairwise_total(self, counts: FloatArray) -> float:
        present = np.flatnonzero(counts)
        enc = self.enc
        members = np.zeros((present.size, len(enc.clauses)), dtype=np.float32)
        rows, cols = np.nonzero(enc.padded[present] >= 0)
        members[rows, enc.padded[present][rows, cols]] = 1.0
        sizes, weights = enc.sizes[present], counts[present]
        total = 0.0
        for start in range(0, present.size, _BLOCK):
            inter = np.rint(members[start : start + _BLOCK] @ members.T).astype(np.int64)
            block = slice(start, start + _BLOCK)
            sim = _masi_similarity(inter, sizes[block, None], sizes[None, :])
            total += float(weights[block] @ sim @ weights)
        return total


def _expected(n: int, counts: FloatArray, expected_of: _Expected) -> float | None:
    """Expected disagreement of `n` pairable annotations with these value counts (None: one value
    only, where alpha is 1 by nltk's rule)."""
    if n < 2 or np.count_nonzero(counts) <= 1:
        return None
    return (n * n - expected_of.total(counts)) / (n * (n - 1))


def _alpha(n: int, disagreement: float, expected: float | None) -> float | None:
    """Krippendorff's alpha of `n` pairable annotations, given the sum over their records of each
    record's disagreement (None when there is nothing to pair)."""
    if n == 0:
        return None
    return 1.0 if expected is None else 1.0 - disagreement / n / expected


def _counts(values: IntArray, n_values: int) -> FloatArray:
    return np.bincount(values, minlength=n_values).astype(np.float64)


def _bootstrap(
    per_item: FloatArray, s: _Sample, expected: float | None, replicates: int, seed: int
) -> tuple[float, float] | None:
    """Percentile 95% interval of alpha over records resampled with replacement (seeded).

    Each replicate recomputes the observed disagreement of its resampled records (`per_item`: each
    record's) and keeps `expected`, the whole sample's expected disagreement, as Hayes and
    Krippendorff's bootstrap for alpha does (2007): what varies between samples of records is how
    often their annotators disagree; the chance baseline is a property of the values in use. It
    also makes a replicate a sum over the records drawn, which is what keeps 200 of them within
    the speed budget at 100,000 records.
    """
    items = int(s.m.size)
    if items < 2 or replicates <= 0:
        return None
    if expected is None:
        return (1.0, 1.0)
    mf = s.m.astype(np.float64)
    rng = np.random.default_rng(seed)
    alphas = np.empty(replicates, dtype=np.float64)
    for r in range(replicates):
        times_drawn = np.bincount(rng.integers(0, items, size=items), minlength=items).astype(np.float64)
        # einsum, not `@`: a BLAS dot may start threads that spin while other processes hold the cores
        observed = float(np.einsum("i,i->", times_drawn, per_item)) / float(np.einsum("i,i->", times_drawn, mf))
        alphas[r] = 1.0 - observed / expected
    low, high = np.percentile(alphas, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class PairAgreement:
    """Two annotators on the records both annotated."""

    annotators: tuple[str, str]
    alpha: float | None
    jaccard: float | None
    n_records: int

    def to_json(self) -> dict[str, Any]:
        return {
            "annotators": [*self.annotators],
            "alpha": self.alpha,
            "jaccard": self.jaccard,
            "n_records": self.n_records,
        }


@dataclass(frozen=True)
class ClauseAgreement:
    """Binary alpha (linked or not) of one clause over the records with two or more annotations."""

    id: str
    alpha: float | None
    n: int
    """Records in the sample (annotated by two or more)."""
    linked: int
    """Annotations in the sample that link the clause."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "alpha": self.alpha, "n": self.n, "linked": self.linked}


@dataclass(frozen=True)
class Confusion:
    """How often one annotator linked `a` where another linked `b` (and neither linked both)."""

    a: str
    b: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"clauses": [self.a, self.b], "count": self.count}


@dataclass(frozen=True)
class AgreementReport:
    alpha: float | None
    """Krippendorff's alpha with MASI over the link sets (None: no record has two annotations)."""
    interval: tuple[float, float] | None
    """Bootstrap 95% interval of `alpha` over records."""
    replicates: int
    seed: int
    n_records: int
    """Records with two or more annotations: the sample."""
    n_annotations: int
    """Annotations of those records."""
    annotators: tuple[str, ...]
    jaccard: float | None
    """Mean Jaccard over every pair of annotations of one record."""
    pairs: tuple[PairAgreement, ...]
    clauses: tuple[ClauseAgreement, ...]
    confusions: tuple[Confusion, ...]
    confusions_total: int
    disagreements: int
    """Records in the sample whose annotations are not all the same set."""

    def to_json(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "interval": list(self.interval) if self.interval else None,
            "bootstrap": {"replicates": self.replicates, "seed": self.seed},
            "n_records": self.n_records,
            "n_annotations": self.n_annotations,
            "annotators": [*self.annotators],
            "jaccard": self.jaccard,
            "disagreements": self.disagreements,
            "pairs": [p.to_json() for p in self.pairs],
            "clauses": [c.to_json() for c in self.clauses],
            "confusions": [c.to_json() for c in self.confusions],
            "confusions_total": self.confusions_total,
        }


def clause_alphas(enc: Encoded, s: _Sample) -> dict[int, tuple[float, int]]:
    """Per clause index linked at least once in the sample: (binary alpha, annotations linking it)."""
    n = int(s.value.size)
    if n == 0 or not enc.clauses:
        return {}
    c_count = len(enc.clauses)
    ann, col = np.nonzero(enc.padded[s.value] >= 0)
    clause = enc.padded[s.value[ann], col]
    keys, ones = np.unique(s.item[ann] * c_count + clause, return_counts=True)
    k_item, k_clause = keys // c_count, keys % c_count
    zeros = s.m[k_item] - ones
    observed = np.bincount(k_clause, weights=2.0 * ones * zeros / (s.m[k_item] - 1), minlength=c_count) / n
    linked = np.bincount(k_clause, weights=ones, minlength=c_count)
    out: dict[int, tuple[float, int]] = {}
    for c in np.flatnonzero(linked):
        n1 = float(linked[c])
        n0 = n - n1
        expected = 2.0 * n1 * n0 / (n * (n - 1))
        out[int(c)] = (1.0 if expected == 0 else 1.0 - float(observed[c]) / expected, int(n1))
    return out


def _confusions(enc: Encoded, va: IntArray, vb: IntArray) -> list[tuple[int, int, int]]:
    """(clause a, clause b, count) with a < b, over the annotation pairs (va[k], vb[k])."""
    differ = va != vb
    va, vb = va[differ], vb[differ]
    if va.size == 0:
        return []
    nv = enc.n_values
    keys, weight = np.unique(va * nv + vb, return_counts=True)
    ua, ub = keys // nv, keys % nv
    rows_a, rows_b = enc.padded[ua], enc.padded[ub]
    a_in_b = (rows_a[:, :, None] == np.where(rows_b < 0, -2, rows_b)[:, None, :]).any(axis=2)
    b_in_a = (rows_b[:, :, None] == np.where(rows_a < 0, -2, rows_a)[:, None, :]).any(axis=2)
    pa, col_a = np.nonzero((rows_a >= 0) & ~a_in_b)
    pb, col_b = np.nonzero((rows_b >= 0) & ~b_in_a)
    ca, cb = rows_a[pa, col_a], rows_b[pb, col_b]
    if pa.size == 0 or pb.size == 0:
        return []
    # cross every clause only in a with every clause only in b, pair by pair
    start_b = np.searchsorted(pb, np.arange(keys.size))
    len_b = np.bincount(pb, minlength=keys.size)
    rep = len_b[pa]
    total = int(rep.sum())
    if total == 0:
        return []
    offsets = np.arange(total) - np.repeat(np.cumsum(rep) - rep, rep)
    left = np.repeat(ca, rep)
    right = cb[np.repeat(start_b[pa], rep) + offsets]
    w = np.repeat(weight[pa], rep)
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    c_count = len(enc.clauses)
    pair_keys, inverse = np.unique(lo * c_count + hi, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=w).astype(np.int64)
    return [(int(k // c_count), int(k % c_count), int(n)) for k, n in zip(pair_keys, counts, strict=True)]


def compute(
    rows: Iterable[tuple[str, str, Iterable[str]]] | Encoded,
    *,
    clause: str | None = None,
    replicates: int = BOOTSTRAP_REPLICATES,
    seed: int = 0,
    confusions_shown: int = CONFUSIONS_SHOWN,
) -> AgreementReport:
    """The whole agreement report over (record, annotator, clause ids) rows.

    `clause` narrows the per-clause rows and the confusions to that clause (the overall and pair
    figures stay over every clause). Deterministic: the same rows give the same report.
    """
    enc = rows if isinstance(rows, Encoded) else encode(rows)
    s = _sample(enc)
    expected_of = _Expected(enc)
    # every unordered pair of annotations of one record, compared once; the annotator pairs' figures
    # are these pairs' subsets (a record both annotated holds exactly one pair of theirs)
    left, right = _pair_index(s)
    va, vb = s.value[left], s.value[right]
    sim, jac = _pair_stats(enc, va, vb)
    pair_item = s.item[left]
    disagreement = 2.0 * (1.0 - sim) / (s.m[pair_item] - 1)
    per_item: FloatArray = np.bincount(pair_item, weights=disagreement, minlength=int(s.m.size)).astype(np.float64)
    n = int(s.value.size)
    expected = _expected(n, _counts(s.value, enc.n_values), expected_of)
    alpha = _alpha(n, float(per_item.sum()), expected)
    interval = _bootstrap(per_item, s, expected, replicates, seed)
    jaccard = float(jac.mean()) if va.size else None
    differ = np.bincount(pair_item, weights=(va != vb), minlength=int(s.m.size))

    pairs: list[PairAgreement] = []
    coder_a, coder_b = s.coder[left], s.coder[right]
    for i in range(len(enc.annotators)):
        for j in range(i + 1, len(enc.annotators)):
            mine = np.flatnonzero((coder_a == i) & (coder_b == j) | (coder_a == j) & (coder_b == i))
            both = np.concatenate([va[mine], vb[mine]])
            pairs.append(
                PairAgreement(
                    (enc.annotators[i], enc.annotators[j]),
                    _alpha(
                        int(both.size),
                        float((2.0 * (1.0 - sim[mine])).sum()),
                        _expected(int(both.size), _counts(both, enc.n_values), expected_of),
                    ),
                    float(jac[mine].mean()) if mine.size else None,
                    int(mine.size),
                )
            )

    per_clause = clause_alphas(enc, s)
    n_records = int(s.m.size)
    clause_rows = [ClauseAgreement(enc.clauses[c], a, n_records, linked) for c, (a, linked) in per_clause.items()]
    if clause is not None:
        clause_rows = [c for c in clause_rows if c.id == clause] or [ClauseAgreement(clause, None, n_records, 0)]
    clause_rows.sort(key=lambda c: c.id)

    found = [Confusion(enc.clauses[a], enc.clauses[b], n) for a, b, n in _confusions(enc, va, vb)]
    if clause is not None:
        found = [c for c in found if clause in (c.a, c.b)]
    found.sort(key=lambda c: (-c.count, c.a, c.b))

    return AgreementReport(
        alpha=alpha,
        interval=interval,
        replicates=replicates,
        seed=seed,
        n_records=n_records,
        n_annotations=int(s.value.size),
        annotators=enc.annotators,
        jaccard=jaccard,
        pairs=tuple(pairs),
        clauses=tuple(clause_rows),
        confusions=tuple(found[:confusions_shown]),
        confusions_total=len(found),
        disagreements=int((differ > 0).sum()),
    )


def clause_agreement(rows: Sequence[tuple[str, str, Iterable[str]]] | Encoded) -> dict[str, tuple[float, int]]:
    """Per clause id linked in records with two or more annotations: (binary alpha, records in the sample)."""
    enc = rows if isinstance(rows, Encoded) else encode(rows)
    s = _sample(enc)
    n_records = int(s.m.size)
    return {enc.clauses[c]: (a, n_records) for c, (a, _) in clause_alphas(enc, s).items()}
