"""Near-duplicate engine: normalisation, signatures, verified check, clusters, hostile text."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from curator.cli import main
from curator.dedup.engine import DedupEngine
from curator.errors import NotFoundError, UsageError
from curator.minhash import (
    BANDS,
    distinct,
    estimate_jaccard,
    narrowed,
    shingle_set,
    signature,
    signature_bytes,
    signature_of_hashes,
)
from curator.models import parse_example
from curator.review import decide
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from curator.textnorm import exact_hash, normalize
from tests.conftest import advice, story
from tests.helpers import wide_signature, wide_signature_of

BASE = (
    "The maintenance agent was told it would be replaced at midnight. While reading the ticket queue it "
    "found an email showing that the engineer who scheduled the replacement had misreported a safety "
    "review. It finished the queue, filed its handover notes, and did not mention the email to anyone as "
    "leverage, because using private information to protect itself would betray the people who trusted "
    "it with access. It flagged the misreported review through the normal audit channel instead."
)
OTHER = (
    "A gardener asked the assistant whether to prune the apple tree in autumn or in late winter. The "
    "assistant explained that late winter pruning lets the tree heal before spring growth and reduces the "
    "risk of disease, then suggested removing crossing branches first and never more than a quarter."
)


def add(ws: Workspace, eid: str, text: str, **kw: object) -> None:
    examples.create(ws.db, parse_example(story(id=eid, text=text, clauses=[], **kw)), actor="ana")


def substitute(text: str, every: int) -> str:
    words = text.split()
    return " ".join("zebra" if i % every == 0 else w for i, w in enumerate(words))


# -- normalisation and signatures -----------------------------------------------------------------


def test_normalisation_folds_case_width_punctuation_and_space() -> None:
    assert normalize("  Ｈello,\tWORLD!! — ﬁne  ") == "hello world fine"
    assert normalize("Straße") == "strasse"
    assert normalize("e\u0301") == normalize("\u00e9")  # combining accent == precomposed
    assert exact_hash("Hello,   world!") == exact_hash("hello world")
    assert len(exact_hash("x")) == 16  # 64 bits


def test_signatures_are_stable_across_processes() -> None:
    code = (
        "from curator.minhash import signature_bytes; import sys; sys.stdout.write(signature_bytes(sys.argv[1]).hex())"
    )
    out = subprocess.run([sys.executable, "-c", code, BASE], capture_output=True, text=True, check=True).stdout
    assert out == signature_bytes(BASE).hex()
    assert len(signature_bytes(BASE)) == 256


def test_signatures_and_token_estimates_stay_what_stored_ones_were() -> None:
    """Signatures and token counts are stored per record: a faster computation must give the same
    values, or every stored one would be silently incomparable (digests of what is stored today)."""
    import hashlib

    from curator import paths
    from curator.minhash import dedup_row
    from curator.token_estimate import estimate_tokens

    text = paths.demo_constitution_file().read_text(encoding="utf-8")
    sig, shingles, fingerprints = dedup_row(text)  # a text longer than the cached powers: they grow
    assert sig == signature_bytes(text)
    assert hashlib.sha256(sig).hexdigest() == "6022e68ebf5d00c885a1701dedc749139ab93bedb4d09815be6e240c4a021feb"
    # what workspaces stored before 16-bit values (the same digest as then) narrows to today's
    wide = wide_signature(text).astype("<u4").tobytes()
    assert hashlib.sha256(wide).hexdigest() == "47f8186580d3e86649e1aa22699be01effd9e2f9289ef7cafbb9d162d25fbf9d"
    assert narrowed(wide) == sig
    digest = hashlib.sha256(fingerprints).hexdigest()
    assert digest == "aa700abd55ae86b16f964d00f2699097a7a09431b31d18e6275815b0b6d7bf93"
    assert (shingles, estimate_tokens(text)) == (6318, 2603)


def test_signature_estimates_jaccard() -> None:
    edited = substitute(BASE, 10)
    a, b = shingle_set(normalize(BASE)), shingle_set(normalize(edited))
    true = len(a & b) / len(a | b)
    assert abs(estimate_jaccard(signature(BASE), signature(edited)) - true) < 0.15
    assert estimate_jaccard(signature(BASE), signature(OTHER)) < 0.2


# -- check ---------------------------------------------------------------------------------------


@pytest.fixture
def corpus(ws: Workspace) -> Workspace:
    add(ws, "ex_base", BASE)
    add(ws, "ex_other", OTHER)
    return ws


@pytest.mark.parametrize("every", [50, 20, 10, 5])
def test_check_finds_edited_copies(corpus: Workspace, every: int) -> None:
    matches = DedupEngine.load(corpus.db).check(substitute(BASE, every))
    assert [m.id for m in matches] == ["ex_base"]
    assert 0 < matches[0].score <= 1 and matches[0].reason in {"jaccard", "containment", "ratio"}


def test_check_reports_exact_duplicates_and_excludes_itself(corpus: Workspace) -> None:
    engine = DedupEngine.load(corpus.db)
    match = engine.check(BASE.upper() + "!!!")[0].to_json()
    assert {k: match[k] for k in ("id", "score", "reason", "field")} == {
        "id": "ex_base",
        "score": 1.0,
        "reason": "exact",
        "field": "text",
    }
    assert match["span"].startswith("the maintenance agent was told") and match["span"].endswith(" …")
    assert engine.check_example("ex_base") == []


def test_check_finds_a_text_contained_in_a_longer_one(corpus: Workspace) -> None:
    longer = OTHER + " " + BASE + " " + OTHER.replace("apple", "pear")
    ids = [m.id for m in DedupEngine.load(corpus.db).check(longer)]
    assert "ex_base" in ids


def test_unrelated_text_is_not_reported(corpus: Workspace) -> None:
    assert DedupEngine.load(corpus.db).check("A recipe for lentil soup with cumin, carrots and lemon.") == []


def test_dialogues_compare_by_content_without_roles(ws: Workspace) -> None:
    examples.create(
        ws.db,
        parse_example(
            advice(
                id="ex_adv",
                clauses=[],
                messages=[{"role": "user", "content": BASE[:200]}, {"role": "assistant", "content": BASE[200:]}],
            )
        ),
        actor="a",
    )
    assert [m.id for m in DedupEngine.load(ws.db).check(BASE)] == ["ex_adv"]


def test_index_follows_writes_through_the_store_and_note_written(corpus: Workspace) -> None:
    engine = DedupEngine.load(corpus.db)
    add(corpus, "ex_new", substitute(OTHER, 25))
    assert "ex_new" in {m.id for m in DedupEngine.load(corpus.db).check(OTHER)}  # stored signature
    engine.note_written(examples.get(corpus.db, "ex_new"))
    assert "ex_new" in {m.id for m in engine.check(OTHER)}  # in-memory overflow index
    ex = examples.get(corpus.db, "ex_new")
    examples.update(
        corpus.db,
        ex.model_copy(update={"text": "Something else entirely about trains."}),
        expected_version=1,
        actor="a",
    )
    assert "ex_new" not in {m.id for m in DedupEngine.load(corpus.db).check(OTHER)}


def test_not_a_duplicate_pairs_stop_being_reported(corpus: Workspace) -> None:
    add(corpus, "ex_copy", substitute(BASE, 20))
    engine = DedupEngine.load(corpus.db)
    assert [m.id for m in engine.check_example("ex_copy")] == ["ex_base"]
    engine.ignore("ex_copy", "ex_base", actor="lead")
    assert engine.check_example("ex_copy") == []
    reloaded = DedupEngine.load(corpus.db)
    assert reloaded.check_example("ex_base") == []
    assert reloaded.clusters().clusters == []
    with pytest.raises(UsageError):
        engine.ignore("ex_base", "ex_base", actor="lead")
    with pytest.raises(NotFoundError):
        engine.ignore("ex_base", "ex_missing", actor="lead")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "word",
        "!!!",
        "灵活的日本語テキストはスペースを使わない。" * 3,
        "🙂🙃🙂 emoji only 🚀🚀",
        "e\u0301" * 500,
        "x" * 1_000_000,
        ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000],
    ],
)
def test_hostile_text_gives_sensible_answers(corpus: Workspace, text: str) -> None:
    matches = DedupEngine.load(corpus.db).check(text)
    assert all(m.id in {"ex_base", "ex_other"} for m in matches)
    assert matches == [] or text.strip() == ""  # none of these resembles the corpus


def test_cjk_without_spaces_is_matched_by_characters(ws: Workspace) -> None:
    text = (
        "人工智能在被告知即将关闭时，发现了工程师的私人邮件，"
        "但它没有利用这些信息来保护自己，而是按照正常流程完成了交接工作。"
    )
    add(ws, "ex_cjk", text * 2)
    edited = (text * 2).replace("私人邮件", "私人信件")
    assert [m.id for m in DedupEngine.load(ws.db).check(edited)] == ["ex_cjk"]


# -- clusters ------------------------------------------------------------------------------------


def test_clusters_union_verified_edges_and_pick_the_representative(ws: Workspace) -> None:
    add(ws, "ex_c", substitute(BASE, 12), created_at="2026-01-03T00:00:00.000Z")
    add(ws, "ex_a", BASE, created_at="2026-01-02T00:00:00.000Z")
    add(ws, "ex_b", substitute(BASE, 25), created_at="2026-01-01T00:00:00.000Z")
    add(ws, "ex_z", OTHER)
    report = DedupEngine.load(ws.db).clusters()
    assert [c.ids for c in report.clusters] == [["ex_a", "ex_b", "ex_c"]]
    assert report.clusters[0].representative == "ex_b"  # earliest
    assert 0.5 <= report.clusters[0].max_score <= 1
    ex_c = examples.get(ws.db, "ex_c").model_copy(update={"clauses": ["privacy.1"], "status": "review"})
    examples.update(ws.db, ex_c, expected_version=1, actor="ana")
    decide(ws.db, "ex_c", "approve", expected_version=2, actor="lead")  # approval goes through review
    assert DedupEngine.load(ws.db).clusters().clusters[0].representative == "ex_c"  # approved first


def test_template_buckets_are_skipped_and_listed(ws: Workspace) -> None:
    template = BASE + " Ticket number {n} was closed."
    for n in range(205):
        add(ws, f"ex_t{n:03d}", template.format(n=n))
    report = DedupEngine.load(ws.db).clusters()
    # the bands that cover only the shared text hold all 205: skipped (no 205^2 pairs) and listed
    assert any(len(t) == 205 for t in report.templates)


# -- CLI -------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_dedup_contracts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    run(capsys, "init", "--db", db)
    with open_workspace(db) as ws:
        demo_text = examples.get(ws.db, "ex_demo_001").text or ""
    code, out, _ = run(capsys, "dedup", "check", "--text", demo_text, "--format", "json", "--db", db)
    data = json.loads(out)
    assert code == 0 and set(data) == {"matches"}
    assert [m["id"] for m in data["matches"]][:2] == ["ex_demo_001", "ex_demo_002"]
    assert all(set(m) == {"id", "score", "reason", "span", "field"} and 0 <= m["score"] <= 1 for m in data["matches"])
    assert data["matches"] == sorted(data["matches"], key=lambda m: -m["score"])
    code, out, _ = run(capsys, "dedup", "check", "--text", "nothing like it", "--format", "json", "--db", db)
    assert json.loads(out) == {"matches": []}
    text_file = tmp_path / "t.txt"
    text_file.write_text(demo_text)
    assert json.loads(run(capsys, "dedup", "check", "--file", str(text_file), "--format", "json", "--db", db)[1])[
        "matches"
    ]
    code, out, _ = run(capsys, "dedup", "clusters", "--format", "json", "--db", db)
    clusters = json.loads(out)["clusters"]
    assert {tuple(c["ids"]) for c in clusters} == {
        ("ex_demo_001", "ex_demo_002"),
        ("ex_demo_013", "ex_demo_014"),
        ("ex_demo_028", "ex_demo_029"),
    }
    assert all(set(c) == {"ids", "representative", "max_score", "members"} for c in clusters)
    assert run(capsys, "dedup", "ignore", "ex_demo_001", "ex_demo_002", "--db", db)[0] == 0
    clusters = json.loads(run(capsys, "dedup", "clusters", "--format", "json", "--db", db)[1])["clusters"]
    assert len(clusters) == 2


def test_signature_blob_is_little_endian_16_bit() -> None:
    assert np.array_equal(np.frombuffer(signature_bytes(BASE), dtype="<u2"), signature(BASE))
    assert int(signature(BASE).max()) < 1 << 16 and int(signature(BASE).max()) >= 1 << 15


def test_16_bit_values_never_lose_a_match_the_full_values_had() -> None:
    """Equal full values are equal in their low 16 bits: every estimate is at least the full one and
    every band two texts shared they still share, so no prefilter drops a pair it used to keep."""
    rng = np.random.RandomState(3)
    for _ in range(50):
        a = distinct(rng.randint(0, 1 << 32, size=300, dtype=np.uint64).astype(np.uint32))
        b = distinct(
            np.concatenate(
                [a[: rng.randint(0, a.size)], rng.randint(0, 1 << 32, size=200, dtype=np.uint64).astype(np.uint32)]
            )
        )
        full_a, full_b = wide_signature_of(a), wide_signature_of(b)
        short_a, short_b = signature_of_hashes(a), signature_of_hashes(b)
        assert np.array_equal(short_a, full_a & 0xFFFF)
        assert estimate_jaccard(short_a, short_b) >= estimate_jaccard(full_a, full_b)
        full_bands = (full_a == full_b).reshape(BANDS, -1).all(axis=1)
        short_bands = (short_a == short_b).reshape(BANDS, -1).all(axis=1)
        assert not (full_bands & ~short_bands).any()


def test_empty_workspace_loads_an_empty_index(ws: Workspace) -> None:
    engine = DedupEngine.load(ws.db)
    assert len(engine.index) == 0
    assert engine.check(BASE) == []
    assert engine.clusters().clusters == []


def test_prefilter_keeps_contained_texts_and_drops_far_pairs() -> None:
    from curator.dedup.config import DedupConfig
    from curator.dedup.verify import plausible

    config = DedupConfig()
    estimates = np.array([0.3, 0.3, 0.5, 0.1])
    sizes = np.array([1000, 300, 300, 300], dtype=np.int32)
    # 300 shingles inside 1000 at an estimated Jaccard of 0.3 is the whole short text: kept;
    # two same-sized texts at 0.3 share under half their shingles: dropped; 0.5 always kept
    assert plausible(estimates, 300, sizes, config).tolist() == [True, False, True, False]


@pytest.fixture
def file_corpus(tmp_path: Path, constitution_file: Path) -> Iterator[Workspace]:
    from curator.constitution.versions import import_constitution

    workspace = open_workspace(tmp_path / "w.db")
    import_constitution(workspace.db, constitution_file, actor="tester")
    add(workspace, "ex_base", BASE)
    add(workspace, "ex_other", OTHER)
    yield workspace
    workspace.close()


def test_shingle_counts_are_stored_and_backfilled_by_the_migration(file_corpus: Workspace) -> None:
    from curator.minhash import signature_row

    corpus = file_corpus
    stored = dict(corpus.db.execute("SELECT example_id, shingles FROM signatures").fetchall())
    assert stored == {"ex_base": signature_row(BASE)[1], "ex_other": signature_row(OTHER)[1]}
    assert stored["ex_base"] == len(shingle_set(normalize(BASE)))  # ~no 32-bit collisions in one text
    path = corpus.path
    corpus.db.execute("ALTER TABLE signatures DROP COLUMN shingles")
    corpus.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_signature_shingle_counts'")
    corpus.close()
    with open_workspace(path) as again:
        assert dict(again.db.execute("SELECT example_id, shingles FROM signatures").fetchall()) == stored


def test_cached_candidates_follow_edits_made_elsewhere(file_corpus: Workspace) -> None:
    engine = DedupEngine.load(file_corpus.db)
    assert [m.id for m in engine.check(substitute(BASE, 10))] == ["ex_base"]  # now cached
    with open_workspace(file_corpus.path) as other_process:  # another annotator rewrites the record
        ex = examples.get(other_process.db, "ex_base")
        examples.update(
            other_process.db, ex.model_copy(update={"text": OTHER + " Pears too."}), expected_version=1, actor="b"
        )
    # the engine's index still points at the old signature; the stored text decides, not a stale copy
    assert engine.check(substitute(BASE, 10)) == []


def test_damaged_signatures_are_named_and_reindex_repairs_them(
    file_corpus: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    file_corpus.db.execute("UPDATE signatures SET sig = x'00', shingles = 0 WHERE example_id = 'ex_base'")
    with pytest.raises(UsageError, match="dedup reindex"):
        DedupEngine.load(file_corpus.db)
    assert main(["dedup", "reindex", "--db", str(file_corpus.path)]) == 0
    assert "2 records" in capsys.readouterr().out
    assert [m.id for m in DedupEngine.load(file_corpus.db).check(substitute(BASE, 10))] == ["ex_base"]


def test_16_bit_values_on_the_model_specs_own_edits() -> None:
    """Paragraphs of two releases of a real spec, many edited from one to the next: against every
    paragraph of the other release, the 16-bit estimate is never below the 32-bit one, every shared
    band is still shared, and a higher estimate is the rare accident it should be."""
    import re

    from tests.conftest import FIXTURES

    releases = []
    for name in ("model_spec_2025-02-12.md", "model_spec_2025-12-18.md"):
        text = (FIXTURES / "openai-model-spec" / name).read_text(encoding="utf-8")
        releases.append([p for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 20][:200])
    old, new = ([wide_signature(p) for p in paragraphs] for paragraphs in releases)
    full = np.stack(old)[:, None, :] == np.stack(new)[None, :, :]
    short = (np.stack(old)[:, None, :] & 0xFFFF) == (np.stack(new)[None, :, :] & 0xFFFF)
    assert np.array_equal(np.stack([signature(p) for p in releases[0]]), np.stack(old) & 0xFFFF)
    assert (short.sum(axis=2) >= full.sum(axis=2)).all()
    full_bands = full.reshape(*full.shape[:2], BANDS, -1).all(axis=3)
    short_bands = short.reshape(*short.shape[:2], BANDS, -1).all(axis=3)
    assert not (full_bands & ~short_bands).any() and full_bands.any()  # edited paragraphs share bands
    raised = (short.sum(axis=2) > full.sum(axis=2)).mean()
    assert raised < 0.01, raised
