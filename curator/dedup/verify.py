"""Verifying a candidate pair: every reported near-duplicate passed one of these rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from curator.dedup.config import DedupConfig
from curator.minhash import common_count, distinct, shingle_hashes


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
    """A verified pair: a score in [0, 1] and the rule that passed."""

    score: float
    reason: str


class Candidate:
    """A normalised text with its distinct shingle hashes (sorted uint32) and word count, computed once.

    Hashed shingles instead of Python string sets: ~5x cheaper to build and intersect; a 32-bit
    collision between two texts' 5-grams is ~1e-5 per pair and only nudges a score.
    """

    __slots__ = ("normalized", "shingles", "words")

    def __init__(self, normalized: str) -> None:
        self.normalized = normalized
        hashes = shingle_hashes(normalized)
        self.shingles = distinct(hashes)
        self.words = normalized.count(" ") + 1 if normalized else 0


def verify(a: Candidate, b: Candidate, config: DedupConfig) -> Verdict | None:
    """The best passing rule for a pair, or None when the pair is not a near-duplicate."""
    if not a.normalized or not b.normalized:
        return None
    if a.normalized == b.normalized:
        return Verdict(1.0, "exact")
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
    if not passed:
        return None
    best = max(passed, key=lambda v: v.score)
    return Verdict(round(min(1.0, best.score), 4), best.reason)
