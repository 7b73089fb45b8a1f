"""The batched dedup rows are byte for byte the per-record ones: stored signatures, shingle counts
and excerpt fingerprints must stay comparable whichever path computed them."""

from __future__ import annotations

import dataclasses
import json
import random
import re

import pytest

from bench.datagen import records as bench_records
from curator import minhash
from curator.importer import parse_chunk
from curator.minhash import EXCERPT_GRAM, EXCERPT_WINDOW, dedup_row_normalized, dedup_rows_normalized
from curator.models import Example
from curator.store.examples import prepare, prepare_many
from curator.textnorm import normalize
from tests.conftest import FIXTURES, story
from tests.helpers import gen_records

SPEC = FIXTURES / "openai-model-spec" / "model_spec_2025-12-18.md"

WORDS = ["honest", "trust", "the", "a", "oversight", "shutdown", "élan", "straße", "日本語", "𝔘𝔫𝔦", "😀ok"]


def assert_same(texts: list[str]) -> None:
    expected = [dedup_row_normalized(t) for t in texts]
    got = dedup_rows_normalized(texts)
    assert len(got) == len(expected)
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert g == e, f"text {i} ({texts[i][:40]!r}, {len(texts[i])} chars) differs"


def words(count: int, vocabulary: list[str] = WORDS, seed: int = 0) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(vocabulary) for _ in range(count))


EDGE_CASES: dict[str, list[str]] = {
    "nothing": [],
    "empty": [""],
    "empties around text": ["", "abcdef", "", "", "ghijkl mnop", ""],
    "shorter than a shingle": ["a", "ab", "abc", "abcd", "𝔘", "😀😀"],
    "short after long and last": ["abcdefgh", "ab", "abcdefghij", "a"],
    "exactly a shingle": ["abcde", "abcdef", "abcde"],
    "spaces": [" ", "  ", " a ", "a  b", " leading", "trailing "],
    "fewer than 13 words": [words(n, seed=n) for n in range(EXCERPT_GRAM + 1)],
    "grams up to one window": [words(EXCERPT_GRAM - 1 + g, seed=g) for g in range(1, EXCERPT_WINDOW + 3)],
    "non-BMP": ["𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " * 40, "😀 😃 😄 " * 30, words(300, seed=7)],
    "repeated shingles": ["abab" * 200, "the the the the " * 50, "x" * 1000, words(400, ["a", "b"], seed=3)],
    "same text twice": [words(100, seed=5)] * 3,
}


@pytest.mark.parametrize("name", EDGE_CASES)
def test_batch_equals_per_record_on_edge_cases(name: str) -> None:
    assert_same(EDGE_CASES[name])


def test_long_texts_grow_the_powers_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(minhash, "_POWERS_CACHE", [])
    long_text = words(6000, seed=11)  # ~50,000 characters: past the first cache size
    assert_same(["ab", long_text, words(50, seed=12), long_text[:9000]])
    monkeypatch.setattr(minhash, "_POWERS_CACHE", [])
    assert_same([words(50, seed=12), long_text])


def test_small_groups_and_blocks_split_texts_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts cut across signature blocks and groups smaller than one text take the same values."""
    rng = random.Random(4)
    texts = [words(rng.randint(0, 300), seed=i) for i in range(60)] + ["", "abc", words(2000, seed=99)]
    rng.shuffle(texts)
    expected = [dedup_row_normalized(t) for t in texts]
    monkeypatch.setattr(minhash, "_SIGNATURE_ROWS", 97)
    monkeypatch.setattr(minhash, "_BATCH_CHARS", 1500)
    assert dedup_rows_normalized(texts) == expected
    monkeypatch.setattr(minhash, "_SIGNATURE_ROWS", 1)
    monkeypatch.setattr(minhash, "_BATCH_CHARS", 1)
    assert dedup_rows_normalized(texts) == expected


def random_text(rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.4:  # words, 0..400 of them, from a small vocabulary (repeats) or made up
        vocabulary = WORDS if rng.random() < 0.5 else [f"w{rng.randrange(5000)}" for _ in range(50)]
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 400)))
    alphabet = "ab cde fghi  j" if shape < 0.7 else "aé 𝔘😀 z日"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice((rng.randint(0, 8), rng.randint(0, 3000)))))


def test_batch_equals_per_record_on_random_texts() -> None:
    rng = random.Random(2024)
    texts = [random_text(rng) for _ in range(3000)]
    assert_same(texts)
    for start in range(0, 200, 17):  # any slice: group boundaries fall elsewhere
        assert dedup_rows_normalized(texts[start : start + start % 23]) == [
            dedup_row_normalized(t) for t in texts[start : start + start % 23]
        ]


def test_batch_equals_per_record_on_the_model_spec() -> None:
    paragraphs = [normalize(p) for p in re.split(r"\n\s*\n", SPEC.read_text(encoding="utf-8"))]
    assert len(paragraphs) > 500
    assert_same(paragraphs)
    assert_same([normalize(SPEC.read_text(encoding="utf-8"))])


def assert_prepared_equal(examples: list[Example]) -> None:
    expected = [prepare(ex) for ex in examples]
    got = prepare_many(examples)
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        for field in dataclasses.fields(e):
            assert getattr(g, field.name) == getattr(e, field.name), (e.id, field.name)


def test_prepare_many_equals_prepare() -> None:
    assert_prepared_equal(gen_records(200, seed=3))
    clause_ids = ["honesty", "honesty.1", "privacy", "privacy.1"]
    assert_prepared_equal([Example.model_validate(r) for r in bench_records(200, clause_ids, seed=5)])
    assert prepare_many([]) == []


def test_parse_chunk_keeps_line_order_and_problems() -> None:
    stamp = "2026-01-02T03:04:05.000Z"  # fixed: a record without dates gets the time it is read
    good = [
        json.dumps(story(id=f"ex_{i}", text=words(20 + 10 * i, seed=i), created_at=stamp, updated_at=stamp))
        for i in range(5)
    ]
    lines = [(1, good[0]), (2, "{not json"), (3, good[1]), (4, json.dumps({"kind": "story"})), (5, good[2])]
    lines += [(6, good[3]), (7, "[]"), (8, good[4])]
    parsed = parse_chunk(lines, "curator", "r.jsonl")
    assert [number for number, *_ in parsed] == [1, 2, 3, 4, 5, 6, 7, 8]
    problems = {number for number, record, problem, _ in parsed if problem is not None}
    assert problems == {2, 4, 7}
    for number, record, problem, warnings in parsed:
        if number in problems:
            assert record is None and warnings == []
            continue
        assert problem is None and record is not None
        one = parse_chunk([(number, dict(lines)[number])], "curator", "r.jsonl")
        assert one == [(number, record, None, warnings)]
        assert record == prepare(Example.model_validate_json(dict(lines)[number]))
