"""`dedup clusters` on Ray Data gives the local engine's report byte for byte, whatever the number of
blocks, the order of the input rows, or a worker killed mid-run."""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from curator import columnar
from curator.bootstrap import init_workspace
from curator.dedup.config import DedupConfig
from curator.dedup.engine import DedupEngine, record_text
from curator.dedup.verify import Candidate, verify
from curator.distributed.clusters import STAGES, Batch, Shared, Stages, clusters_report, verify_pairs
from curator.models import parse_example
from curator.store import examples
from curator.store.db import Workspace
from curator.targets import sha256_file
from curator.textnorm import normalize
from tests.conftest import story
from tests.helpers import run

pytestmark = pytest.mark.ray

TEMPLATED = DedupConfig(template_bucket=4, excerpt_template=3, template_fill_candidates=3)
"""Small template limits, so that a handful of records make LSH and excerpt templates and set-aside fills."""


def _words(rng: random.Random, n: int) -> str:
    return " ".join(
        "".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(3)) for _ in range(n)
    )


def _edited(text: str, every: int) -> str:
    return " ".join("zebra" if i % every == 3 else w for i, w in enumerate(text.split()))


def _build(path: Path) -> Workspace:
    """The demo plus near-duplicate pairs, three exact copies, an excerpt, a soft-deleted duplicate,
    a pair marked not-a-duplicate and six fills of one prompt; written in shuffled order, so the
    store's numbering (which decides the local engine's ties) is not the ids' order."""
    ws = init_workspace(path, demo=True, actor="tester")
    rng = random.Random(5)
    records: list[tuple[str, str]] = []
    for k in range(4):
        text = _words(rng, 80) + "."
        records += [(f"ex_z{k}pair", text), (f"ex_a{k}pair", _edited(text, 10))]
    same = _words(rng, 50) + "."
    records += [("ex_m1same", same), ("ex_b1same", same), ("ex_y1same", same + " ")]
    passage = _words(rng, 45)
    host = f"{_words(rng, 60)} {passage} {_words(rng, 60)}."
    records += [("ex_q1host", host), ("ex_c1quote", f"{_words(rng, 50)}: {passage}. {_words(rng, 50)}.")]
    gone = _words(rng, 70) + "."
    records += [("ex_d1gone", gone), ("ex_d2keep", _edited(gone, 9)), ("ex_d3keep", _edited(gone, 13))]
    ignored = _words(rng, 70) + "."
    records += [("ex_i1x", ignored), ("ex_i2y", _edited(ignored, 11))]
    prompt = _words(rng, 60)
    records += [(f"ex_t{k}fill", f"{prompt} {_words(rng, 12)}.") for k in range(6)]
    rng.shuffle(records)
    records += _tie(rng)
    for eid, text in records:
        example = parse_example(story(id=eid, text=text, clauses=[], title=f"about {eid}"))
        examples.insert_many(ws.db, [example], actor="ana")
    examples.delete(ws.db, "ex_d1gone", expected_version=None, actor="tester")
    DedupEngine.load(ws.db).ignore("ex_i1x", "ex_i2y", actor="tester")
    return ws


def _tie(rng: random.Random) -> list[tuple[str, str]]:
    """A record with two copies, each with one word replaced, of equal scores: its best edge is the
    first in the store's numbering (written B, X, A: the edge with B), not in id order (with A)."""
    words = _words(rng, 80).split()
    a, b = list(words), list(words)
    a[20], b[60] = "zebrax", "zebrax"
    return [("ex_k3b", " ".join(b) + "."), ("ex_k1x", " ".join(words) + "."), ("ex_k2a", " ".join(a) + ".")]


def _shuffled_copy(folder: Path, target: Path, seed: int) -> Path:
    """The snapshot with its records' rows in a seeded random order (the manifest's checksums redone)."""
    target.mkdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest["files"]:
        table = pq.read_table(folder / name)
        if name.startswith("records-"):
            order = list(range(table.num_rows))
            random.Random(seed).shuffle(order)
            table = table.take(order)
        pq.write_table(table, target / name)
        manifest["files"][name] = sha256_file(target / name)
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, ray_local: Any) -> Iterator[dict[str, Any]]:
    """One workspace, its snapshot, a shuffled copy, and the local engine's reports."""
    root = tmp_path_factory.mktemp("clusters")
    ws = _build(root / "ws.db")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(columnar, "SHARD_ROWS", 25)  # several shards, read by several tasks
            manifest = columnar.write_snapshot(ws, root / "snap")
        assert len(manifest["record_shards"]) > 2
        yield {
            "db": ws.path,
            "snap": root / "snap",
            "shuffled": _shuffled_copy(root / "snap", root / "shuffled", seed=11),
            "local": DedupEngine.load(ws.db).clusters().to_json(),
            "templated": DedupEngine.load(ws.db, TEMPLATED).clusters().to_json(),
            "tie": {
                eid: Candidate(normalize(record_text(record)))
                for eid, record in ws.db.execute("SELECT id, record FROM examples WHERE id LIKE 'ex_k%'")
            },
        }
    finally:
        ws.close()


def test_the_corpus_exercises_every_rule(corpus: dict[str, Any]) -> None:
    """Guards the comparisons below: they mean something only if these cases happen."""
    local, templated = corpus["local"], corpus["templated"]
    clustered = {eid for c in local["clusters"] for eid in c["ids"]}
    reasons = {m["reason"] for c in local["clusters"] for m in c["members"]}
    assert {"exact", "excerpt"} <= reasons and len(reasons) >= 3
    assert {"ex_a0pair", "ex_z0pair", "ex_b1same", "ex_c1quote", "ex_d2keep"} <= clustered
    assert "ex_d1gone" not in clustered  # soft-deleted
    assert not {"ex_i1x", "ex_i2y"} <= clustered  # marked not a duplicate
    assert templated["templates"] and templated["clusters"] != local["clusters"]


def test_equal_scores_are_decided_by_the_store_numbering(corpus: dict[str, Any]) -> None:
    """What the snapshot's `signature_row` is for: numbered by id, the tie below would go the other way."""
    with_b = verify(corpus["tie"]["ex_k3b"], corpus["tie"]["ex_k1x"], DedupConfig(), span=False)
    with_a = verify(corpus["tie"]["ex_k1x"], corpus["tie"]["ex_k2a"], DedupConfig(), span=False)
    assert with_a is not None and with_b is not None
    assert with_a.score == with_b.score and with_a.span != with_b.span
    member = next(m for c in corpus["local"]["clusters"] for m in c["members"] if m["id"] == "ex_k1x")
    assert member["span"] == with_b.span


@pytest.mark.parametrize(("folder", "blocks"), [("snap", 1), ("snap", 7), ("shuffled", 2)])
def test_ray_gives_the_local_report_whatever_the_blocks_and_row_order(
    corpus: dict[str, Any], folder: str, blocks: int
) -> None:
    steps: list[tuple[str, int, int]] = []
    report, times = clusters_report(corpus[folder], TEMPLATED, blocks, progress=lambda *step: steps.append(step))
    assert json.dumps(report.to_json()) == json.dumps(corpus["templated"])
    assert list(times) == list(STAGES) and all(t >= 0 for t in times.values())
    assert steps == [(stage, k + 1, len(STAGES)) for k, stage in enumerate(STAGES)]  # each stage as it ends


def test_the_cli_on_ray_prints_what_the_local_engine_prints(
    corpus: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    db, snap = str(corpus["db"]), str(corpus["snap"])
    code, local, _ = run(capsys, "dedup", "clusters", "--db", db, "--format", "json")
    assert code == 0 and json.loads(local) == corpus["local"]
    code, on_ray, err = run(
        capsys,
        "dedup",
        "clusters",
        "--db",
        db,
        "--format",
        "json",
        "--engine",
        "ray",
        "--blocks",
        "2",
        "--snapshot",
        snap,
    )
    assert code == 0, err
    assert on_ray == local
    assert "clusters [" not in err  # no progress line when stderr is not a terminal


def kill_once(marker: Path, batch: Batch, shared: Shared) -> Batch:
    """Verify a batch, except the first time any worker gets here: that worker dies on the spot."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return verify_pairs(batch, shared)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(1)


def test_a_worker_killed_mid_run_changes_nothing(corpus: dict[str, Any], tmp_path: Path, ray_local: Any) -> None:
    """The first verify task's worker dies; Ray runs the task again and the report is the same."""
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests
    marker = tmp_path / "killed"
    report, _ = clusters_report(corpus["snap"], TEMPLATED, 2, stages=Stages(verify=partial(kill_once, marker)))
    assert marker.exists(), "no worker was killed: the test proved nothing"
    assert int(marker.read_text()) != os.getpid()  # a worker, not this process
    assert json.dumps(report.to_json()) == json.dumps(corpus["templated"])
