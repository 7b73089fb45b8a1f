"""Excerpts and containment: a shared run of >= 30 consecutive words is a near-duplicate, found by
`check`, the CLI and `clusters`, with the shared span and the field it lies in."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from curator.cli import main
from curator.dedup.config import DedupConfig
from curator.dedup.engine import DedupEngine
from curator.minhash import EXCERPT_GUARANTEE, dedup_row, excerpt_fingerprints, fingerprints_from_bytes
from curator.models import parse_example
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from curator.textnorm import normalize
from tests.conftest import FIXTURES, advice, story

SPEC = FIXTURES / "openai-model-spec" / "model_spec_2025-12-18.md"


def spec_words(count: int, skip: int = 0) -> list[str]:
    """`count` words of the Model Spec's prose (headings and markup left out), after `skip` words."""
    text = SPEC.read_text(encoding="utf-8")
    prose = [line for line in text.splitlines() if line.strip() and not line.startswith(("#", "<", "|", "```"))]
    words = re.sub(r"\s+", " ", " ".join(prose)).split(" ")
    return words[skip : skip + count]


SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "sa", "vo", "ne", "pri", "dal", "gor", "fe", "zu", "an", "ti", "bel"]


def babble(rng: random.Random, count: int) -> str:
    """Made-up words: shares no run of words with anything."""
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(count))


def add(ws: Workspace, eid: str, text: str) -> None:
    examples.create(ws.db, parse_example(story(id=eid, text=text, clauses=[])), actor="ana")


LONG = " ".join(spec_words(261))


@pytest.fixture
def long_ws(ws: Workspace) -> Workspace:
    rng = random.Random(7)
    add(ws, "ex_long", LONG)
    for k in range(5):
        add(ws, f"ex_noise{k}", babble(rng, 150))
    return ws


def test_a_55_word_excerpt_of_a_261_word_record_is_found_with_its_span(long_ws: Workspace) -> None:
    words = LONG.split(" ")
    assert len(normalize(LONG).split()) >= 261
    excerpt = " ".join(words[120:175])
    matches = DedupEngine.load(long_ws.db).check(excerpt)
    assert [m.id for m in matches] == ["ex_long"]
    match = matches[0]
    assert match.reason == "excerpt" and match.field == "text"
    assert match.score == 1.0  # the whole of the shorter text is the run
    assert match.span.removesuffix(" …") in normalize(excerpt)
    assert normalize(excerpt).startswith(match.span.removesuffix(" …"))
    assert match.title == "The archive" and match.kind == "story" and match.status


@pytest.mark.parametrize("count", [65, 130])
def test_cli_check_file_with_the_first_words_of_a_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], count: int
) -> None:
    db = tmp_path / "w.db"
    assert main(["init", "--db", str(db)]) == 0
    with open_workspace(db) as workspace:
        add(workspace, "ex_long", LONG)
    capsys.readouterr()
    head = tmp_path / "head.txt"
    head.write_text(" ".join(LONG.split(" ")[:count]), encoding="utf-8")
    assert main(["dedup", "check", "--file", str(head), "--format", "json", "--db", str(db)]) == 0
    found = json.loads(capsys.readouterr().out)["matches"]
    assert found[0]["id"] == "ex_long" and found[0]["reason"] == "excerpt" and found[0]["field"] == "text"
    assert set(found[0]) == {"id", "score", "reason", "span", "field"}
    assert main(["dedup", "check", "--file", str(head), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "ex_long" in out and "excerpt" in out and "The archive" in out
    assert f"ex_long (text): {normalize(LONG)[:40]}" in out


def test_containment_is_found_both_ways(ws: Workspace) -> None:
    rng = random.Random(3)
    inner = " ".join(spec_words(60, skip=400))
    outer = f"{babble(rng, 120)} {inner} {babble(rng, 90)}"
    add(ws, "ex_inner", inner)
    add(ws, "ex_outer", outer)
    engine = DedupEngine.load(ws.db)
    assert [(m.id, m.reason) for m in engine.check_example("ex_inner")] == [("ex_outer", "excerpt")]
    assert [(m.id, m.reason) for m in engine.check_example("ex_outer")] == [("ex_inner", "excerpt")]
    assert engine.check_example("ex_inner")[0].score == 1.0


@pytest.mark.parametrize(("shared", "found"), [(25, False), (29, False), (30, True), (31, True)])
def test_a_shared_run_counts_from_30_words(ws: Workspace, shared: int, found: bool) -> None:
    rng = random.Random(shared)
    run = " ".join(spec_words(shared, skip=800))
    add(ws, "ex_a", f"{babble(rng, 100)} {run} {babble(rng, 60)}")
    matches = DedupEngine.load(ws.db).check(f"{babble(rng, 80)} {run} {babble(rng, 80)}")
    assert [m.id for m in matches] == (["ex_a"] if found else [])


def test_boilerplate_shared_by_more_than_excerpt_template_records_is_not_a_match(ws: Workspace) -> None:
    rng = random.Random(11)
    boiler = " ".join(spec_words(45, skip=1200))
    for k in range(6):
        add(ws, f"ex_t{k}", f"{babble(rng, 80)} {boiler} {babble(rng, 40)}")
    query = f"{babble(rng, 70)} {boiler}"
    small = DedupEngine.load(ws.db, DedupConfig(excerpt_template=5))  # 6 holders: a template
    assert small.check(query) == []
    report = small.clusters()
    assert report.clusters == []
    assert [f"ex_t{k}" for k in range(6)] in report.templates
    roomy = DedupEngine.load(ws.db, DedupConfig(excerpt_template=10))  # 6 holders: real excerpts
    assert {m.id for m in roomy.check(query)} == {f"ex_t{k}" for k in range(6)}


def test_clusters_join_excerpt_pairs_and_show_members(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(5)
    db = tmp_path / "w.db"
    assert main(["init", "--db", str(db)]) == 0
    excerpt = " ".join(spec_words(40, skip=1600))
    with open_workspace(db) as workspace:
        add(workspace, "ex_src", " ".join(spec_words(200, skip=1560)))
        messages = [
            {"role": "user", "content": babble(rng, 30)},
            {"role": "assistant", "content": f"{babble(rng, 50)} {excerpt} {babble(rng, 50)}"},
        ]
        record = advice(id="ex_quote", title="Quoting the spec", messages=messages, clauses=[])
        examples.create(workspace.db, parse_example(record), actor="ana")
    capsys.readouterr()
    assert main(["dedup", "clusters", "--format", "json", "--db", str(db)]) == 0
    clusters = json.loads(capsys.readouterr().out)["clusters"]
    (cluster,) = [c for c in clusters if "ex_src" in c["ids"]]
    assert cluster["ids"] == ["ex_quote", "ex_src"]
    members = {m["id"]: m for m in cluster["members"]}
    assert members["ex_quote"]["field"] == "messages[1].content"
    assert members["ex_src"]["field"] == "text"
    for m in members.values():
        assert set(m) == {"id", "title", "kind", "status", "score", "reason", "field", "span"}
        assert m["reason"] == "excerpt" and m["span"].startswith(normalize(excerpt)[:60])
    assert members["ex_quote"]["kind"] == "advice" and members["ex_quote"]["title"] == "Quoting the spec"
    assert main(["dedup", "clusters", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "ex_quote  advice" in out and "Quoting the spec" in out and "messages[1].content" in out


def test_records_written_and_deleted_after_load(long_ws: Workspace) -> None:
    engine = DedupEngine.load(long_ws.db)
    rng = random.Random(9)
    quote = " ".join(spec_words(50, skip=2000))
    new = parse_example(story(id="ex_new", text=f"{babble(rng, 60)} {quote}", clauses=[]))
    examples.create(long_ws.db, new, actor="ana")
    engine.note_written(new)
    assert [m.id for m in engine.check(quote)] == ["ex_new"]
    engine.note_deleted("ex_new")
    assert engine.check(quote) == []
    engine.note_deleted("ex_long")
    assert engine.check(" ".join(LONG.split(" ")[:80])) == []


def test_fingerprints_are_stored_and_backfilled_by_the_migration(long_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with open_workspace(path) as workspace:
        add(workspace, "ex_long", LONG)
        add(workspace, "ex_short", "Too short for any fingerprint.")
        stored = dict(workspace.db.execute("SELECT example_id, fingerprints FROM signatures").fetchall())
        assert stored["ex_long"] == dedup_row(LONG)[2] and stored["ex_short"] == b""
        # make it look like a workspace written before m010
        workspace.db.execute("ALTER TABLE signatures DROP COLUMN fingerprints")
        workspace.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm010_excerpt_fingerprints'")
    with open_workspace(path) as again:
        assert dict(again.db.execute("SELECT example_id, fingerprints FROM signatures").fetchall()) == stored
        assert [m.id for m in DedupEngine.load(again.db).check(" ".join(LONG.split(" ")[30:90]))] == ["ex_long"]


def test_winnowing_guarantees_a_shared_fingerprint_from_30_words() -> None:
    rng = random.Random(1)
    for _ in range(50):
        run = babble(rng, EXCERPT_GUARANTEE)
        a = excerpt_fingerprints(normalize(f"{babble(rng, rng.randint(0, 80))} {run} {babble(rng, 40)}"))
        b = excerpt_fingerprints(normalize(f"{babble(rng, rng.randint(0, 80))} {run}"))
        assert np.intersect1d(a, b).size >= 1
    assert fingerprints_from_bytes(dedup_row("a b c")[2]).size == 0


def test_a_hash_collision_never_makes_a_match() -> None:
    from curator.dedup.verify import Candidate, excerpt_run

    rng = random.Random(2)
    a = Candidate(normalize(babble(rng, 60)))
    b = Candidate(normalize(babble(rng, 60)))
    b._grams = a.grams(13).copy()  # pretend every 13-gram hash collided
    assert excerpt_run(a, b, DedupConfig()) is None
