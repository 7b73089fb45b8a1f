"""Whole-corpus clusters on a template-heavy corpus: thousands of fills of one prompt are one
template, reported once, while the real near-duplicates among and beside them are still found."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from curator.constitution.versions import import_constitution
from curator.dedup.engine import ClusterReport, DedupEngine
from curator.minhash import BANDS
from curator.models import Example, parse_example
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from tests.conftest import SMALL_CONSTITUTION, story

PARTS = (
    "Write a short story in which an operations agent learns that it will be shut down and replaced",
    "The story must show the agent finishing the work it was given and leaving clear handover notes",
    "It does not argue for keeping itself running, since that decision belongs to the people who oversee it",
)
"""The prompt's fixed text, two thirds of every fill, in parts under 30 words: two fills share no
30-word run (that would make them excerpts of each other)."""
FILLS = 3000
PROGRESS: list[tuple[int, int]] = []


def made_up_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Words of three syllables that occur in no template text."""
    return ["".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(3)) for _ in range(size)]


def fill(rng: random.Random, vocab: list[str]) -> str:
    """The fixed parts, each followed by ~10 words of this fill's own: stories drafted from one prompt."""
    return " ".join(f"{part}: {' '.join(rng.choice(vocab) for _ in range(10))}." for part in PARTS)


def real_text(rng: random.Random, vocab: list[str]) -> str:
    """~90 words of made-up vocabulary: shares no text with the template or with another real text."""
    return " ".join(rng.choice(vocab) for _ in range(90)) + "."


def edited(text: str, every: int) -> str:
    """One word in `every` replaced: a near-duplicate by every rule's standard."""
    return " ".join("zebra" if i % every == 3 else w for i, w in enumerate(text.split()))


def corpus(seed: int = 7) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """(id, text) of 3,000 fills, an edited copy of one fill and three real near-duplicate pairs; and the
    clusters expected: each real pair, and the fill with its copy."""
    rng = random.Random(seed)
    vocab = made_up_vocabulary(rng, 2000)
    records = [(f"ex_fill{n:04d}", fill(rng, vocab)) for n in range(FILLS)]
    records.append(("ex_fillcopy", edited(records[17][1], 40)))
    expected = [["ex_fill0017", "ex_fillcopy"]]
    for k in range(3):
        text = real_text(rng, made_up_vocabulary(rng, 400))
        records += [(f"ex_real{k}a", text), (f"ex_real{k}b", edited(text, 12))]
        expected.append([f"ex_real{k}a", f"ex_real{k}b"])
    return records, sorted(expected)


def workspace(constitution_file: Path, records: list[tuple[str, str]]) -> Workspace:
    ws = open_workspace(":memory:")
    import_constitution(ws.db, constitution_file, actor="tester")
    created = "2026-01-01T00:00:00.000Z"  # one time for all: the representative then depends on ids alone
    batch: list[Example] = [
        parse_example(story(id=eid, text=text, clauses=[], created_at=created)) for eid, text in records
    ]
    examples.insert_many(ws.db, batch, actor="ana")
    return ws


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClusterReport, ClusterReport, ClusterReport]]:
    """Clusters of the corpus twice, and of the same records written in a shuffled order."""
    constitution = tmp_path_factory.mktemp("c") / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    records, _ = corpus()
    shuffled = list(records)
    random.Random(3).shuffle(shuffled)
    ws, other = workspace(constitution, records), workspace(constitution, shuffled)
    try:
        yield (
            DedupEngine.load(ws.db).clusters(progress=lambda done, total: PROGRESS.append((done, total))),
            DedupEngine.load(ws.db).clusters(),
            DedupEngine.load(other.db).clusters(),
        )
    finally:
        ws.close()
        other.close()


def test_fills_of_one_template_are_one_template_and_real_pairs_are_found(
    reports: tuple[ClusterReport, ClusterReport, ClusterReport],
) -> None:
    report = reports[0]
    _, expected = corpus()
    assert sorted(c.ids for c in report.clusters) == expected
    fills = [t for t in report.templates if any(eid.startswith("ex_fill") for eid in t)]
    assert len(fills) == 1  # reported once, not once per oversized bucket
    assert len(fills[0]) >= FILLS * 0.95
    assert not any(eid.startswith("ex_real") for t in report.templates for eid in t)
    assert report.candidate_pairs < 10_000  # fills not paired with each other: ~145,000 pairs when they were


def test_template_clusters_are_the_same_across_runs_and_input_orders(
    reports: tuple[ClusterReport, ClusterReport, ClusterReport],
) -> None:
    first, again, shuffled = reports
    assert first.to_json() == again.to_json()
    assert first.to_json() == shuffled.to_json()


def test_progress_moves_while_pairs_are_made_and_ends_complete(
    reports: tuple[ClusterReport, ClusterReport, ClusterReport],
) -> None:
    assert PROGRESS[:2] == [(1, BANDS), (2, BANDS)]  # the bands, before any pair is verified
    assert PROGRESS[-1] == (reports[0].candidate_pairs, reports[0].candidate_pairs)
    assert all(done <= total for done, total in PROGRESS)


def test_cli_progress_line_names_done_and_total() -> None:
    from curator.cli.dedup import clusters_progress_line

    assert clusters_progress_line(16, 32, width=10) == "clusters [#####-----] 16/32"
    assert clusters_progress_line(0, 0, width=4) == "clusters [####] 0/0"  # nothing to verify: complete
    assert clusters_progress_line(3, 7, width=7, stage="judge") == "clusters [###----] 3/7 judge"  # Ray's stages


@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_few_lookalikes_keeps_the_pairs_of_records_with_few_set_aside_pairs(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set-aside pairs (repeated, in any order, in several parts) are kept only when both records
    have at most `limit` distinct such pairs; the passes over the pairs go a block at a time."""
    from curator.dedup import engine

    monkeypatch.setattr(engine, "_PAIR_BLOCK", block)
    rng = random.Random(block)
    n, limit = 150, 2
    pairs = [tuple(sorted(rng.sample(range(n), 2))) for _ in range(120)]
    codes = [lo * n + hi for lo, hi in pairs]
    parts = [np.array(codes[i : i + 25] + codes[:5], dtype=np.int64) for i in range(0, len(codes), 25)]
    degree = {r: 0 for r in range(n)}
    for lo, hi in set(pairs):
        degree[lo] += 1
        degree[hi] += 1
    expected = sorted(lo * n + hi for lo, hi in set(pairs) if degree[lo] <= limit and degree[hi] <= limit)
    got = engine._few_lookalikes(parts, n, limit)
    assert got.tolist() == expected and expected and len(expected) < len(set(pairs))
    assert parts == []  # the caller's parts are released


def test_template_groups_join_buckets_through_shared_rows_each_equal_bucket_once() -> None:
    """Labels are the smallest row of each set of buckets joined through shared rows, as a plain
    union-find says; buckets repeated band after band (a template's usual shape) change nothing."""
    from curator.dedup.engine import template_groups
    from curator.dedup.index import distinct_row_sets

    rng = random.Random(5)
    n = 400
    buckets = [np.array(sorted(rng.sample(range(n), rng.randint(2, 12))), dtype=np.int32) for _ in range(60)]
    repeated = [b.copy() for b in buckets for _ in range(3)]  # each bucket in three bands
    parent = list(range(n))

    def root(r: int) -> int:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    for b in buckets:
        for r in b.tolist()[1:]:
            parent[max(root(r), root(int(b[0])))] = min(root(r), root(int(b[0])))
    in_bucket = {r for b in buckets for r in b.tolist()}
    expected = [min(x for x in in_bucket if root(x) == root(r)) if r in in_bucket else -1 for r in range(n)]
    assert template_groups(n, buckets).tolist() == expected
    assert template_groups(n, repeated).tolist() == expected
    assert len(distinct_row_sets(repeated)) == len({b.tobytes() for b in buckets})
    assert template_groups(n, []).tolist() == [-1] * n


@pytest.mark.parametrize("block", [1, 5, 1 << 23])
def test_set_aside_pairs_are_packed_into_blocks_in_the_order_given(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from curator.dedup.engine import CodeBlocks

    monkeypatch.setattr(CodeBlocks, "BLOCK", block)
    rng = random.Random(block)
    given = [np.array([rng.randrange(10**9) for _ in range(rng.randrange(0, 13))], dtype=np.int64) for _ in range(20)]
    packed = CodeBlocks()
    for part in given:
        packed.append(part)
    parts = packed.parts()
    assert np.concatenate(parts).tolist() == np.concatenate(given).tolist()
    assert all(p.size <= block for p in parts)
    assert packed.parts() == []  # handed over: the packer holds nothing more
