"""The one text normalisation used by every stage (exact duplicates, near-duplicates, decontamination).

A leaf module: the store and the services both use it, so it depends on nothing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)
_ASCII_PUNCT = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"})


def normalize(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, whitespace collapsed to single spaces."""
    if text.isascii():  # fast path, same result: NFKC and casefold are lower() on ASCII
        return " ".join(text.lower().translate(_ASCII_PUNCT).split())
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCT.sub(" ", text).split())


def exact_hash(text: str) -> str:
    """A 64-bit hash (16 hex digits) of the normalised text: equal for exact duplicates."""
    return hash_normalized(normalize(text))


def hash_normalized(normalized: str) -> str:
    """`exact_hash` of a text already normalised (a writer that has it spares normalising twice)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()
