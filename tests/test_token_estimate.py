"""The token estimate: one token per word of up to 10 characters, one more per further 8, one per
punctuation mark; counted with two regular expressions, checked here against the rule itself."""

from __future__ import annotations

import random
import re

from curator.token_estimate import estimate_tokens


def _by_the_rule(text: str) -> int:
    total = 0
    for piece in re.findall(r"\w+|[^\w\s]", text):
        total += 1 if len(piece) <= 10 else 1 + (len(piece) - 10 + 7) // 8
    return total


def test_the_estimate_counts_by_its_rule_on_words_of_every_length_and_script() -> None:
    rng = random.Random(7)
    alphabet = "ab_ é9 ,.\n\tΩ中'-—"
    for _ in range(5000):
        text = "".join(
            rng.choice(alphabet) if rng.random() < 0.7 else rng.choice("xé中") * rng.randint(1, 30)
            for _ in range(rng.randint(0, 60))
        )
        assert estimate_tokens(text) == _by_the_rule(text), text
    assert estimate_tokens("") == 0
    assert estimate_tokens("internationalisation, done.") == _by_the_rule("internationalisation, done.") == 6


def test_every_character_counts_as_the_regular_expression_classes_it() -> None:
    """Code points (lone surrogates too) alone, doubled into a word, next to ASCII letters and
    in runs that cross the long-word limits: the count of `\\w+|[^\\w\\s]` by the rule."""
    rng = random.Random(11)
    # every code point up to the ideographic space (scripts, marks, every space and dash), a sample after
    points = [chr(c) for c in range(0x3001)] + [chr(c) for c in sorted(rng.sample(range(0x3001, 0x110000), 20_000))]
    points += [chr(c) for c in range(0xD800, 0xE000)]  # lone surrogates
    for start in range(0, len(points), 512):
        chunk = points[start : start + 512]
        text = " ".join(f"{ch}{ch}a{ch}" for ch in chunk)
        assert estimate_tokens(text) == _by_the_rule(text), hex(ord(chunk[0]))
    for _ in range(2000):
        ch = rng.choice(points)
        text = "".join(
            rng.choice([ch, "a", " ", ".", "é"]) * rng.choice([1, 1, 2, 9, 10, 11, 18, 19, 27]) for _ in range(12)
        )
        assert estimate_tokens(text) == _by_the_rule(text), ascii(text)


def test_real_text_of_every_kind_counts_by_the_rule() -> None:
    """Third-party material as it comes: both Model Spec releases (curly quotes, dashes, code,
    tables), its eval examples, chat templates (Jinja, special tokens) and tool definitions (JSON)."""
    from tests.conftest import FIXTURES

    files = [p for p in sorted(FIXTURES.rglob("*")) if p.suffix in {".md", ".jinja", ".json"}]
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert estimate_tokens(text) == _by_the_rule(text), path.name
