"""Text sources and edit operations for the near-duplicate benchmark (bench/bench_dedup.py).

Real prose, not bench/datagen.py's 62-word vocabulary: with so few words every pair of texts
shares many character 5-grams and the LSH index is flooded, which says nothing about a real
corpus. Sentences come from the OpenAI Model Spec fixtures (prose outside the fenced example
dialogues) and from the demo corpus; records are composed from randomly chosen sentences.
Everything is seeded, so two runs build the same data.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datagen import WORDS
from curator import paths
from curator.textnorm import normalize

ROOT = Path(__file__).resolve().parents[1]
SPEC_DIR = ROOT / "tests" / "data" / "fixtures" / "openai-model-spec"
SPEC_FILES = sorted(SPEC_DIR.glob("model_spec_*.md"))
EVAL_DIR = SPEC_DIR / "eval-examples"

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_FOOTNOTE = re.compile(r"\[\^[^\]]*\]")
_ANCHOR = re.compile(r"\{#[^}]*\}")
_EMPHASIS = re.compile(r"\*\*|__|(?<!\w)\*|\*(?!\w)|`")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"“(]?[A-Z])")


def _clean_line(line: str) -> str:
    line = _BULLET.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _FOOTNOTE.sub("", line)
    line = _ANCHOR.sub("", line)
    line = _EMPHASIS.sub("", line)
    return " ".join(line.split())


def markdown_paragraphs(text: str) -> list[str]:
    """Prose paragraphs of a Markdown document: no fenced blocks, headings, tables, tags or admonition heads."""
    out: list[str] = []
    current: list[str] = []
    fenced = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith(("~~~", "```")):
            fenced = not fenced
            continue
        if fenced:
            continue
        skip = stripped.startswith(("#", "|", "!!!", "<", "[^")) or stripped.endswith(">")
        if not stripped or skip or _BULLET.match(raw):
            if current:
                out.append(" ".join(current))
                current = []
            if stripped and not skip:  # a list item is a paragraph of its own
                current.append(_clean_line(raw))
            continue
        current.append(_clean_line(raw))
    if current:
        out.append(" ".join(current))
    return [p for p in out if p]


def _message_texts(messages: list[dict[str, Any]]) -> Iterator[str]:
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for block in content:
                if block.get("type") == "text":
                    yield block["text"]


def demo_texts() -> list[str]:
    """Every piece of prose of the demo corpus: record texts and message contents."""
    out: list[str] = []
    with paths.demo_corpus_file().open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("text"):
                out.append(rec["text"])
            out.extend(_message_texts(rec.get("messages") or []))
    return out


def chunk_paragraphs(paragraphs: list[str], min_words: int = 80) -> list[str]:
    """Consecutive paragraphs joined until each chunk has at least `min_words` words (a short tail is dropped)."""
    out: list[str] = []
    current: list[str] = []
    n = 0
    for p in paragraphs:
        current.append(p)
        n += len(p.split())
        if n >= min_words:
            out.append(" ".join(current))
            current, n = [], 0
    return out


def spec_paragraphs() -> list[str]:
    """Prose paragraphs of both Model Spec releases (they share most paragraphs: deduplicated)."""
    seen: set[str] = set()
    out: list[str] = []
    for f in SPEC_FILES:
        for p in markdown_paragraphs(f.read_text(encoding="utf-8")):
            key = normalize(p)
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def eval_items() -> list[tuple[str, str]]:
    """(file name, text) of the eval-example files, as `curator evalset add` reads the folder."""
    return [(f.name, f.read_text(encoding="utf-8")) for f in sorted(EVAL_DIR.glob("*.md"))]


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip()]


def sentence_pool(texts: list[str], min_words: int = 4, max_words: int = 40) -> list[str]:
    """Distinct sentences (by normalised form) of 4-40 words.

    The cap keeps any one sentence well under half of a ~100-word record: the pool is small
    (~2,000 sentences), so each sentence recurs in many records, and a long recurring sentence
    would make genuinely overlapping records rather than background.
    """
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        for para in text.split("\n"):
            for s in split_sentences(" ".join(para.split())):
                n = len(s.split())
                key = normalize(s)
                if min_words <= n <= max_words and key and key not in seen:
                    seen.add(key)
                    out.append(s)
    return out


@dataclass
class Composer:
    """Composes texts of about N words from randomly chosen sentences of a pool."""

    sentences: list[str]

    def compose(self, rng: random.Random, words: int) -> str:
        out: list[str] = []
        n = 0
        while n < words:
            s = rng.choice(self.sentences)
            out.append(s)
            n += len(s.split())
        return " ".join(out)


def babble(rng: random.Random, words: int, vocab: list[str] | None = None) -> str:
    """Sentences of random words (bench/datagen.py style): shares no long n-gram with anything."""
    vocab = vocab or WORDS
    out: list[str] = []
    while words > 0:
        n = min(words, rng.randint(8, 18))
        out.append(" ".join(rng.choice(vocab) for _ in range(n)).capitalize() + ".")
        words -= n
    return " ".join(out)


def substitute(rng: random.Random, text: str, rate: float, vocab: list[str]) -> str:
    """Replace `rate` of the words (at least one) at random positions with different words from `vocab`."""
    words = text.split()
    k = max(1, round(rate * len(words)))
    for pos in rng.sample(range(len(words)), min(k, len(words))):
        new = rng.choice(vocab)
        while new.lower() == words[pos].lower():
            new = rng.choice(vocab)
        words[pos] = new
    return " ".join(words)


def reorder_sentences(rng: random.Random, text: str) -> str:
    """The same sentences in another order (a different order whenever there are two or more)."""
    sentences = split_sentences(text)
    if len(sentences) < 2:
        words = text.split()  # one long sentence: swap its halves at a clause boundary
        half = len(words) // 2
        return " ".join(words[half:] + words[:half])
    shuffled = sentences[:]
    while shuffled == sentences:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def vocabulary(texts: list[str]) -> list[str]:
    """Distinct alphabetic words of the texts, sorted (stable across runs)."""
    return sorted({w for t in texts for w in re.findall(r"[A-Za-z][a-z]{2,}", t)})
