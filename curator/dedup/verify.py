"""Verifying a candidate pair: every reported near-duplicate passed one of these rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from curator.dedup.config import DedupConfig
from curator.minhash import EXCERPT_GRAM, common_count, distinct, gram_hashes, shingle_hashes, winnow, word_hashes

Boilerplate = Callable[[npt.NDArray[np.uint64]], bool]
"""Whether a shared run is boilerplate, judged from the fingerprints inside it (the engine asks its
excerpt index: all of them held by more than `template_bucket` records)."""

SPAN_CHARS = 200
"""Spans shown with a match are cut to this many characters (and marked with " …")."""


def plausible(
    estimates: npt.NDArray[np.float64],
    size: int | npt.NDArray[np.int32],
    sizes: npt.NDArray[np.int32],
    config: DedupConfig,
) -> npt.NDArray[np.bool_]:
    """Which pairs could pass a rule, judged from signature estimates and shingle counts alone.

    Shared shingles follow from the estimated Jaccard J and the set sizes a, b:
    |A n B| = J (a + b) / (1 + J); containment is that over the smaller set.
    """
    common = estimates * (size + sizes) / (1.0 + estimates)
    smaller = np.minimum(size, sizes)
    contained = np.divide(common, smaller, out=np.zeros_like(common), where=smaller > 0)
    keep: npt.NDArray[np.bool_] = (estimates >= config.prefilter_jaccard) | (contained >= config.prefilter_containment)
    return keep


@dataclass(frozen=True)
class Verdict:
    """A verified pair: a score in [0, 1], the rule that passed and the shared text (normalised)."""

    score: float
    reason: str
    span: str = ""


class Candidate:
    """A normalised text with its distinct shingle hashes (sorted uint32), word hashes and word count,
    computed once.

    Hashed shingles instead of Python string sets: ~5x cheaper to build and intersect; a 32-bit
    collision between two texts' 5-grams is ~1e-5 per pair and only nudges a score. Word runs found
    through hashes are confirmed on the words themselves, so a collision never makes a match.
    """

    __slots__ = ("_grams", "_split", "normalized", "shingles", "word_ids", "words")

    def __init__(self, normalized: str) -> None:
        self.normalized = normalized
        hashes = shingle_hashes(normalized)
        self.shingles = distinct(hashes)
        self.word_ids = word_hashes(normalized)
        self.words = int(self.word_ids.size)
        self._split: list[str] | None = None
        self._grams: npt.NDArray[np.uint64] | None = None

    @property
    def split(self) -> list[str]:
        if self._split is None:
            self._split = self.normalized.split(" ") if self.normalized else []
        return self._split

    def grams(self, n: int) -> npt.NDArray[np.uint64]:
        """Hashes of the word n-grams (the excerpt size is kept: every verified pair needs them)."""
        if n != EXCERPT_GRAM:
            return gram_hashes(self.word_ids, n)
        if self._grams is None:
            self._grams = gram_hashes(self.word_ids, n)
        return self._grams


def longest_common_run(a: Candidate, b: Candidate, n: int) -> tuple[int, int, int]:
    """The longest run of consecutive words both texts contain, if it is >= n words:
    (start word in a, start word in b, words), or (0, 0, 0).

    Shared word n-grams are matched by hash and chained along diagonals (same offset, consecutive
    starts), vectorised; the run's words are then compared for real.
    """
    ga, gb = a.grams(n), b.grams(n)
    if not ga.size or not gb.size:
        return 0, 0, 0
    order = np.argsort(gb, kind="stable")
    sorted_b = gb[order]
    lo = np.searchsorted(sorted_b, ga, side="left")
    hi = np.searchsorted(sorted_b, ga, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return 0, 0, 0
    i = np.repeat(np.arange(ga.size, dtype=np.int64), counts)
    first = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    j = order[first + np.arange(total)].astype(np.int64)
    d = i - j
    by = np.lexsort((i, d))
    i, d = i[by], d[by]
    breaks = np.concatenate(([True], (d[1:] != d[:-1]) | (i[1:] != i[:-1] + 1)))
    starts = np.flatnonzero(breaks)
    lengths = np.diff(np.append(starts, i.size))
    for best in np.argsort(-lengths, kind="stable")[:8].tolist():  # a hash collision is skipped, not trusted
        sa = int(i[starts[best]])
        sb = sa - int(d[starts[best]])
        words = int(lengths[best]) + n - 1
        if a.split[sa : sa + words] == b.split[sb : sb + words]:
            return sa, sb, words
    return 0, 0, 0


def clip(span: str, limit: int = SPAN_CHARS) -> str:
    """A span cut to `limit` characters at a word boundary, marked with " …" when cut."""
    if len(span) <= limit:
        return span
    cut = span[:limit]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut + " …"


def shared_span(a: Candidate, b: Candidate) -> str:
    """A snippet of the text two matching records share: their longest common run of words."""
    for n in (4, 1):
        sa, _, words = longest_common_run(a, b, n)
        if words:
            return clip(" ".join(a.split[sa : sa + words]))
    return ""


def excerpt_run(
    a: Candidate, b: Candidate, config: DedupConfig, boilerplate: Boilerplate | None = None
) -> tuple[str, int] | None:
    """The shared run of >= `excerpt_min_words` consecutive words, confirmed as a real substring, and
    not boilerplate: a run whose own fingerprints (every record holding the run holds them) are all
    templates is shared by design, not excerpted."""
    if min(a.words, b.words) < config.excerpt_min_words:
        return None
    sa, _, words = longest_common_run(a, b, min(EXCERPT_GRAM, config.excerpt_min_words))
    if words < config.excerpt_min_words:
        return None
    run = " ".join(a.split[sa : sa + words])
    if f" {run} " not in f" {b.normalized} ":
        return None
    if boilerplate is not None and boilerplate(winnow(a.grams(EXCERPT_GRAM)[sa : sa + words - EXCERPT_GRAM + 1])):
        return None
    return run, words


def verify(
    a: Candidate, b: Candidate, config: DedupConfig, *, excerpts: bool = True, boilerplate: Boilerplate | None = None
) -> Verdict | None:
    """The best passing rule for a pair, or None when the pair is not a near-duplicate.

    `excerpts=False` leaves the excerpt rule out: the engine passes it for pairs that share no
    excerpt fingerprint other than templates (boilerplate many records hold is not an excerpt).
    """
    if not a.normalized or not b.normalized:
        return None
    if a.normalized == b.normalized:
        return Verdict(1.0, "exact", clip(a.normalized))
    passed: list[Verdict] = []
    common = common_count(a.shingles, b.shingles)
    union = a.shingles.size + b.shingles.size - common
    jaccard = common / union if union else 0.0
    if jaccard >= config.jaccard:
        passed.append(Verdict(jaccard, "jaccard"))
    longest = max(len(a.normalized), len(b.normalized))
    if longest <= config.max_fuzz_chars:
        if min(a.words, b.words) >= config.containment_min_words:
            # token_set_ratio ignores word order; the shorter text's 5-grams must also mostly occur in
            # the longer one, so a shuffle of the other's vocabulary is not "contained"
            shorter = min(a.shingles.size, b.shingles.size)
            inside = common / shorter if shorter else 0.0
            if inside >= 0.5:
                contained = fuzz.token_set_ratio(a.normalized, b.normalized, score_cutoff=config.containment_ratio)
                if contained:
                    passed.append(Verdict(contained / 100, "containment"))
        ratio = fuzz.ratio(a.normalized, b.normalized, score_cutoff=config.fuzz_ratio)
        if ratio:
            passed.append(Verdict(ratio / 100, "ratio"))
        if config.word_ratio <= 100 and min(a.words, b.words) >= config.word_ratio_min_words:
            # edit similarity over whole words: a substituted word costs one word, whatever its length
            words = fuzz.ratio(a.split, b.split, score_cutoff=config.word_ratio)
            if words:
                passed.append(Verdict(words / 100, "words"))
    excerpt = excerpt_run(a, b, config, boilerplate) if excerpts else None
    if excerpt is not None:
        run, words = excerpt
        passed.append(Verdict(words / min(a.words, b.words), "excerpt", clip(run)))
    if not passed:
        return None
    best = max(passed, key=lambda v: (v.score, v.reason == "excerpt"))  # a verbatim run names itself
    span = best.span or (excerpt[0] if excerpt is not None else "")
    return Verdict(round(min(1.0, best.score), 4), best.reason, clip(span) if span else shared_span(a, b))
