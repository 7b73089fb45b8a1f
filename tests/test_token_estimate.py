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
