"""Verifying a candidate pair: every reported near-duplicate passed one of these rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from curator.dedup.config import DedupConfig
from curator.minhash import (
    EXCERPT_GRAM,
    EXCERPT_GUARANTEE,
    common_count,
    distinct,
    gram_hashes,
    shingle_hashes,
    winnow,
    word_hashes,
)

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

    __slots__ = ("_anchors", "_grams", "_positions", "_shingles", "_split", "_word_ids", "normalized", "words")

    def __init__(self, normalized: str) -> None:
        self.normalized = normalized
        self.words = normalized.count(" ") + 1 if normalized else 0
        # computed on first use: a candidate met only through the excerpt index never needs its
        # shingles, one met only through LSH never needs its word hashes
        self._shingles: npt.NDArray[np.uint32] | None = None
        self._word_ids: npt.NDArray[np.uint64] | None = None
        self._split: list[str] | None = None
        self._grams: dict[int, npt.NDArray[np.uint64]] | None = None
        self._positions: dict[int, list[int]] | None = None
        self._anchors: list[int] | None = None

    @property
    def shingles(self) -> npt.NDArray[np.uint32]:
        if self._shingles is None:
            self._shingles = distinct(shingle_hashes(self.normalized))
        return self._shingles

    @property
    def anchors(self) -> list[int]:
        """Positions (word n-gram starts) of this text's excerpt fingerprints."""
        if self._anchors is None:
            grams = self.grams(EXCERPT_GRAM)
            self._anchors = np.flatnonzero(np.isin(grams, winnow(grams))).tolist() if grams.size else []
        return self._anchors

    @property
    def word_ids(self) -> npt.NDArray[np.uint64]:
        if self._word_ids is None:
            self._word_ids = word_hashes(self.normalized)
        return self._word_ids

    @property
    def split(self) -> list[str]:
        if self._split is None:
            self._split = self.normalized.split(" ") if self.normalized else []
        return self._split

    def gram_list(self, n: int) -> list[int]:
        """The word n-gram hashes as Python ints (what the run search walks)."""
        return self.grams(n).tolist()  # type: ignore[no-any-return]

    def gram_positions(self, n: int) -> dict[int, list[int]]:
        """Word n-gram hash -> its positions (kept for the excerpt size: a stored candidate meets
        many queries while an annotator types)."""
        if n == EXCERPT_GRAM and self._positions is not None:
            return self._positions
        out: dict[int, list[int]] = {}
        for at, h in enumerate(self.gram_list(n)):
            out.setdefault(h, []).append(at)
        if n == EXCERPT_GRAM:
            self._positions = out
        return out

    def grams(self, n: int) -> npt.NDArray[np.uint64]:
        """Hashes of the word n-grams, kept per size (8 bytes a word: the span search meets the
        checked text once per match)."""
        if self._grams is None:
            self._grams = {}
        if n not in self._grams:
            self._grams[n] = gram_hashes(self.word_ids, n)
        return self._grams[n]


def longest_common_run(a: Candidate, b: Candidate, n: int) -> tuple[int, int, int]:
    """The longest run of consecutive words both texts contain, if it is >= n words:
    (start word in a, start word in b, words), or (0, 0, 0).

    Shared word n-grams are matched by hash and chained along diagonals (a run ending at (i, j)
    extends the one ending at (i - 1, j - 1)); the run's words are then compared for real, so a
    hash collision is skipped, never trusted. A dict walk, not numpy: texts are a few hundred
    words, where a dozen vectorised calls cost more than the loop.
    """
    ga = a.gram_list(n)
    positions = b.gram_positions(n)
    if not ga or not positions:
        return 0, 0, 0
    runs: list[tuple[int, int, int]] = []  # (grams, end in a, end in b) of each maximal run
    previous: dict[int, int] = {}  # end in b -> start in a, for runs ending at the previous gram of a
    for i, h in enumerate(ga):
        current: dict[int, int] = {}
        for j in positions.get(h, ()):
            current[j] = previous.get(j - 1, i)
        for j, begin in previous.items():
            if j + 1 not in current:  # that run ended at i - 1
                runs.append((i - begin, i - 1, j))
        previous = current
    runs.extend((len(ga) - begin, len(ga) - 1, j) for j, begin in previous.items())
    runs.sort(reverse=True)
    for grams, end_a, end_b in runs[:8]:
        sa, sb, words = end_a - grams + 1, end_b - grams + 1, grams + n - 1
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
    words = 0
    if not set(_word_grams(a.split, 4)).isdisjoint(_word_grams(b.split, 4)):  # template fills mostly share none
        sa, _, words = longest_common_run(a, b, 4)
    if not words:
        sa, words = _last_short_run(a.split, b.split)
    return clip(" ".join(a.split[sa : sa + words])) if words else ""


def _word_grams(words: list[str], n: int) -> list[tuple[str, ...]]:
    """The runs of `n` consecutive words, as tuples (no hashing: cheaper than numpy for a few hundred words)."""
    return list(zip(*(words[k:] for k in range(n)), strict=False))


def _last_short_run(a: list[str], b: list[str]) -> tuple[int, int]:
    """With no shared run of 4 words, the longest one (3, 2 or 1 words) ending last in `a`, then in
    `b`, as `longest_common_run(a, b, 1)` finds it: (start word in a, words), or (0, 0).

    Every shared run is shorter than 4 words, so for each length the last run of `a` that `b`
    holds is the answer."""
    for n in (3, 2, 1):
        held = set(_word_grams(b, n))
        grams = _word_grams(a, n)
        for at in range(len(grams) - 1, -1, -1):
            if grams[at] in held:
                return at, n
    return 0, 0


def anchored_run(a: Candidate, b: Candidate) -> tuple[int, int]:
    """The longest run of words both texts share through one of `a`'s excerpt fingerprints:
    (start word in a, words), or (0, 0).

    Every shared run of EXCERPT_GUARANTEE or more words holds a fingerprint of both texts (the
    minimum of a window inside the run is the same on both sides), so looking only where `a`'s
    fingerprint 13-grams occur in `b`, by plain substring search, finds each such run; the run is
    then grown word by word. `b` is never hashed: a stored candidate costs a few string searches.
    """
    best_start, best_words = 0, 0
    padded = f" {b.normalized} "
    aw, bw = a.split, b.split
    for p in a.anchors:
        phrase = " " + " ".join(aw[p : p + EXCERPT_GRAM]) + " "
        at = padded.find(phrase)
        while at >= 0:
            q = padded.count(" ", 0, at)  # the phrase's first word in b
            lo_a, lo_b = p, q
            while lo_a > 0 and lo_b > 0 and aw[lo_a - 1] == bw[lo_b - 1]:
                lo_a, lo_b = lo_a - 1, lo_b - 1
            hi_a, hi_b = p + EXCERPT_GRAM, q + EXCERPT_GRAM
            while hi_a < len(aw) and hi_b < len(bw) and aw[hi_a] == bw[hi_b]:
                hi_a, hi_b = hi_a + 1, hi_b + 1
            if hi_a - lo_a > best_words:
                best_start, best_words = lo_a, hi_a - lo_a
            at = padded.find(phrase, at + 1)
    return best_start, best_words


def excerpt_run(
    a: Candidate, b: Candidate, config: DedupConfig, boilerplate: Boilerplate | None = None
) -> tuple[str, int] | None:
    """The shared run of >= `excerpt_min_words` consecutive words, confirmed as a real substring, and
    not boilerplate: a run whose own fingerprints (every record holding the run holds them) are all
    templates is shared by design, not excerpted."""
    if min(a.words, b.words) < config.excerpt_min_words:
        return None
    if config.excerpt_min_words >= EXCERPT_GUARANTEE:
        sa, words = anchored_run(a, b)
    else:  # shorter than the fingerprints guarantee: search every shared n-gram
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
    a: Candidate,
    b: Candidate,
    config: DedupConfig,
    *,
    excerpts: bool = True,
    similar: bool = True,
    boilerplate: Boilerplate | None = None,
    span: bool = True,
) -> Verdict | None:
    """The best passing rule for a pair, or None when the pair is not a near-duplicate.

    `span=False` leaves the span empty unless a rule found it anyway (`exact`, `excerpt`): finding
    the longest common run costs more than the rules, and `clusters` shows one edge per record.

    `excerpts=False` leaves the excerpt rule out: the engine passes it for pairs that share no
    excerpt fingerprint other than templates (boilerplate many records hold is not an excerpt).
    `similar=False` leaves the whole-text rules out (Jaccard, containment, ratio, words): the engine
    passes it for pairs its signatures already judged too far apart for any of them.
    """
    if not a.normalized or not b.normalized:
        return None
    if a.normalized == b.normalized:
        return Verdict(1.0, "exact", clip(a.normalized))
    passed: list[Verdict] = []
    if similar:
        passed += _similarity_verdicts(a, b, config)
    excerpt = excerpt_run(a, b, config, boilerplate) if excerpts else None
    if excerpt is not None:
        run, words = excerpt
        passed.append(Verdict(words / min(a.words, b.words), "excerpt", clip(run)))
    if not passed:
        return None
    best = max(passed, key=lambda v: (v.score, v.reason == "excerpt"))  # a verbatim run names itself
    found = best.span or (excerpt[0] if excerpt is not None else "")
    shown = clip(found) if found else (shared_span(a, b) if span else "")
    return Verdict(round(min(1.0, best.score), 4), best.reason, shown)


def _similarity_verdicts(a: Candidate, b: Candidate, config: DedupConfig) -> list[Verdict]:
    """The whole-text rules a pair passes: Jaccard, containment, edit ratio, word edit ratio."""
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
    return passed
