"""Near-duplicate thresholds: one settings model shared by the engine, the verifier and settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DedupConfig(BaseModel):
    """Thresholds for calling two texts near-duplicates (see docs/architecture.md, near-duplicates)."""

    jaccard: float = Field(default=0.5, ge=0, le=1)
    """Minimum character-5-gram Jaccard similarity."""
    containment_ratio: float = Field(default=90, ge=0, le=100)
    """Minimum rapidfuzz token_set_ratio for one text contained in the other..."""
    containment_min_words: int = Field(default=40, ge=1)
    """...counted only when the shorter text has at least this many words."""
    fuzz_ratio: float = Field(default=85, ge=0, le=100)
    """Minimum rapidfuzz ratio (edit similarity) over the whole texts."""
    word_ratio: float = Field(default=75, ge=0, le=101)
    """Minimum rapidfuzz ratio over the two texts' word sequences (101 turns the rule off).

    A substituted word costs one word whatever its length, so 20% of words replaced scores ~80
    (measured on the benchmark: 78.9 at the 1st percentile) where the character ratio falls below
    85; unrelated texts sharing a template score at most 55."""
    word_ratio_min_words: int = Field(default=30, ge=1)
    """...counted only when the shorter text has at least this many words."""
    excerpt_min_words: int = Field(default=30, ge=1)
    """Two texts sharing a run of at least this many consecutive normalised words are near-duplicates
    (an excerpt, or one text inside the other). Found through the excerpt index, whose winnowing
    guarantees a shared fingerprint for runs of 30 words or more: below 30 only `verify` applies it."""
    excerpt_template: int = Field(default=20, ge=2)
    """Excerpt fingerprints held by more records than this are boilerplate (templates): skipped as
    candidates, and a shared run made only of them is not an excerpt. Lower than `template_bucket`:
    a passage legitimately quoted by 20+ records is rare, while sentences reused across a corpus
    (openings, disclaimers) would otherwise make every check verify hundreds of candidates."""
    max_fuzz_chars: int = Field(default=20_000, ge=100)
    """Above this length the quadratic edit-distance rules are skipped (Jaccard still applies)."""
    template_bucket: int = Field(default=200, ge=2)
    """LSH buckets with more members than this are templates, not duplicates: skipped."""
    template_pair_jaccard: float = Field(default=0.9, ge=0, le=1)
    """A pair touching a template (records joined through buckets above `template_bucket`) is
    verified when its signatures estimate a Jaccard of at least this (an edited copy of one fill),
    or when neither record has more than `template_fill_candidates` such candidate pairs.
    Fills of one template share most of their text by design; verifying all their pairs made
    `clusters` quadratic on template-heavy corpora (386 s for 100k generated records)."""
    template_fill_candidates: int = Field(default=50, ge=0)
    """...a record with more candidate pairs touching a template than this is one of its fills. Measured:
    at most 27 on the 100k real-sentence benchmark corpus, a median of 99 on bench/datagen.py's."""
    prefilter_jaccard: float = Field(default=0.35, ge=0, le=1)
    """Candidates whose signature-estimated Jaccard is below this (and that cannot be contained,
    see `prefilter_containment`) are dropped before any text is read.

    Measured on the benchmark corpora: every verified match estimated >= 0.5 (3.4 standard
    errors of a 128-permutation estimate above 0.35), while 88% of LSH candidates estimated < 0.35."""
    prefilter_containment: float = Field(default=0.6, ge=0, le=1)
    """...kept anyway when the estimated share of the shorter text's shingles inside the longer one
    is at least this (a short text inside a long one has a low Jaccard but a containment near 1)."""
    check_candidates: int = Field(default=8, ge=1)
    """At most this many LSH look-alikes (or as many as the matches asked for, when more) are verified
    per `check`, the most alike first (equal bytes of the signature sketches, then id); the others
    are counted as unverified, never silently dropped. Exact duplicates and excerpt candidates are
    always verified. On a corpus of fill-in templates a text meets hundreds of fills that pass the
    prefilter (bench/datagen.py's 100k records: ~100 per check; 23/149 ms p50/p99 verifying them
    all); on the 100k real-sentence benchmark corpus 29 of 1,000 checks reached a cap of 8 and all
    1,000 returned the same matches as without it."""
