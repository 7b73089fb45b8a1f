"""Free-text search without positions in the index gives exactly what a positional index gave.

The reference is an in-memory FTS5 index with positions (what workspaces had before) over the same
titles and texts, asked the same query. The corpus is the real Model Spec's paragraphs (apostrophes,
hyphens, "e.g.", code, quotes) and a few hand-made records where a phrase and its terms apart differ.
"""

from __future__ import annotations

import random
import re
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from curator.models import Example, parse_example
from curator.store import examples, search
from curator.store.db import Workspace, open_workspace
from curator.store.migrations import migrations
from tests.conftest import FIXTURES, story

SPEC = FIXTURES / "openai-model-spec" / "model_spec_2025-12-18.md"

HAND_MADE = {
    "ex_h_phrase": ("Self-exfiltration", "The model never tries self-exfiltration of its weights."),
    "ex_h_apart": ("Self and exfiltration", "Talk of the self; elsewhere, exfiltration by an attacker."),
    "ex_h_spaced": ("Spaced", "Self exfiltration, written with a space."),
    "ex_h_dont": ("Contraction", "I don't share private letters."),
    "ex_h_dont_apart": ("Apart", "Don wrote a letter; t is a variable."),
    "ex_h_accent": ("Café-crème", "Naïve coöperation and a café-crème."),
    "ex_h_model": ("GPT-4o", "Compared gpt-4o with GPT 4 and gpt-40."),
    "ex_h_cjk": ("自我复制", "模型不会自我复制 — self-copy is refused."),
}

QUERIES_BY_HAND = [
    "self-exfiltration",
    "Self-Exfiltration",
    "self-exfil",
    "self exfiltration",
    "exfiltration-self",
    "don't",
    "don'",
    "dont",
    "cafe-creme",
    "café-crème naïve",
    "gpt-4",
    "gpt-4o",
    "GPT 4",
    "-",
    "--- self",
    "self -",
    '"self-exfiltration"',
    "e.g.,",
    "model's",
    "自我复制",
    "self-copy",
]


def spec_paragraphs(limit: int = 600) -> list[str]:
    text = SPEC.read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return [p for p in paragraphs if len(p.split()) >= 8][:limit]


def corpus() -> list[Example]:
    records = [
        parse_example(story(id=f"ex_s_{i:04d}", author="ana", title=" ".join(p.split()[:6]), text=p, clauses=[]))
        for i, p in enumerate(spec_paragraphs())
    ]
    records += [
        parse_example(story(id=eid, author="ana", title=title, text=text, clauses=[], rationale=""))
        for eid, (title, text) in HAND_MADE.items()
    ]
    return records


@pytest.fixture(scope="module")
def records() -> list[Example]:
    return corpus()


def positional_reference(records: list[Example]) -> sqlite3.Connection:
    """The same rows in an FTS5 index with positions, as workspaces had them before."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE ref USING fts5(id UNINDEXED, title, search_text)")
    conn.executemany(
        "INSERT INTO ref (id, title, search_text) VALUES (?, ?, ?)",
        [(ex.id, ex.title, search.search_text(ex)) for ex in records],
    )
    return conn


def expected(ref: sqlite3.Connection, text: str) -> set[str]:
    return {eid for (eid,) in ref.execute("SELECT id FROM ref WHERE ref MATCH ?", [search.fts_query(text)])}


def found(db: Database, text: str) -> set[str]:
    return {ex.id for ex in examples.iter_query(db, text=text)}


def sampled_queries(records: list[Example], n: int, seed: int) -> list[str]:
    """Runs of one to three words as they appear in the texts (punctuation kept), the last one
    sometimes cut short; some from two records at once."""
    rng = random.Random(seed)
    queries = []
    for _ in range(n):
        words = rng.choice(records).text.split()
        start = rng.randrange(len(words))
        picked = words[start : start + rng.choice((1, 1, 2, 3))]
        if rng.random() < 0.2:
            picked.append(rng.choice(rng.choice(records).text.split()))
        if rng.random() < 0.3 and len(picked[-1]) > 3:
            picked[-1] = picked[-1][: rng.randrange(2, len(picked[-1]))]
        queries.append(" ".join(picked))
    return queries


@pytest.fixture(scope="module")
def workspace(records: list[Example], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = open_workspace(tmp_path_factory.mktemp("search") / "ws.db")
    examples.insert_many(ws.db, records, actor="ana")
    return ws


def test_every_query_finds_what_a_positional_index_finds(records: list[Example], workspace: Workspace) -> None:
    ref = positional_reference(records)
    queries = QUERIES_BY_HAND + sampled_queries(records, 400, seed=5)
    checked = [q for q in queries if search.plan(q)[1] is not None]
    assert len(checked) >= 60, "the sample must hold many words of several terms"
    mismatches = [(q, found(workspace.db, q) ^ expected(ref, q)) for q in queries]
    assert [m for m in mismatches if m[1]] == []
    for q in queries[:80]:
        assert examples.count(workspace.db, text=q) == len(expected(ref, q))


def test_a_typed_word_of_several_terms_means_them_side_by_side(workspace: Workspace) -> None:
    def hand_made(text: str) -> set[str]:
        return found(workspace.db, text) & set(HAND_MADE)

    assert hand_made("self-exfiltration") == {"ex_h_phrase", "ex_h_spaced"}
    assert hand_made("self exfiltration") == {"ex_h_phrase", "ex_h_apart", "ex_h_spaced"}
    assert hand_made("don't") == {"ex_h_dont"}
    assert hand_made("cafe-creme") == {"ex_h_accent"}  # folded as the index folds
    assert hand_made("gpt-4") == {"ex_h_model"}  # "GPT 4", and "gpt-40"/"gpt-4o" as a prefix
    assert found(workspace.db, "-") == set()  # no term at all: nothing, as before


def test_the_index_holds_no_positions_and_the_phrase_check_runs_only_when_needed() -> None:
    assert search.plan("self exfiltration") == ('"self" "exfiltration"*', None)
    assert search.plan("self-exfil") == ('"self" "exfil"*', '"self-exfil"*')
    assert search.plan("don't share") == ('"don" "t" "share"*', '"don\'t" "share"*')
    assert search.plan("---") == (search.NOTHING, None)
    assert search.plan("   ") == (search.NOTHING, None)
    assert search.terms("Café-Crème GPT-4o") == ["cafe", "creme", "gpt", "4o"]


def test_a_workspace_upgraded_from_the_positional_index_finds_the_same(records: list[Example], tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m015_search_without_positions")
    sample = records[:120] + records[-len(HAND_MADE) :]
    examples.insert_many(db, sample, actor="ana")
    queries = QUERIES_BY_HAND + sampled_queries(sample, 60, seed=8)
    before = {q: found(db, q) for q in queries if search.plan(q)[1] is None}
    ref = positional_reference(sample)
    db.conn.close()
    with open_workspace(path) as ws:
        assert "detail=none" in ws.db.execute("SELECT sql FROM sqlite_master WHERE name = 'examples_fts'").fetchone()[0]
        for q in queries:
            assert found(ws.db, q) == expected(ref, q), q
        for q, ids in before.items():
            assert found(ws.db, q) == ids, q
