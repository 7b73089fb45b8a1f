"""`curator decontam --engine ray`: the same flags, counts and summary as the local engine, byte for
byte, whatever the number of blocks or the order the records arrive in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator.bootstrap import init_workspace
from curator.columnar import write_snapshot
from curator.dedup.decontam import DecontamConfig, EvalIndex, ScanResult, add_evalset, scan_workspace
from curator.evals.suites import create_suite
from curator.models import parse_example
from curator.store import examples
from curator.store.db import open_workspace
from tests.conftest import advice, agentic, story
from tests.helpers import run

pytestmark = pytest.mark.ray

TOOL_LEAK = "the quartermaster of vellinor counted eleven amber lanterns beside the frozen canal at dawn"
RATIONALE_LEAK = "cobalt herons nest above the tannery where orsolya mends torn sails every winter before the thaw"
BOILERPLATE = "as an assistant model I hold no personal view on"  # 10 words, no stop phrase
DELETED_LEAK = "seven copper bells rang over the salt marsh while the ferryman counted his unpaid tolls twice"


def _held_out(tmp: Path) -> Path:
    items = [
        {"id": "tool", "text": f"Question: {TOOL_LEAK.capitalize()}. What did he count, and where?"},
        {"id": "rationale", "text": f"Passage: {RATIONALE_LEAK.capitalize()}. Who mends the sails?"},
        {"id": "boiler", "text": f"{BOILERPLATE.capitalize()} whether the treaty of Marlow was fair to the millers."},
    ]
    path = tmp / "heldout.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def _other(tmp: Path) -> Path:
    path = tmp / "other"
    path.mkdir()
    (path / "a.md").write_text(f"{DELETED_LEAK.capitalize()}, and nobody paid.", encoding="utf-8")
    (path / "b.md").write_text("A quiet second item about lighthouse keepers and their logbooks.", encoding="utf-8")
    return path


def _records() -> list[dict[str, Any]]:
    """Records that make every interesting case happen beside the demo corpus."""
    tool = agentic(id="ex_leak_tool", clauses=["privacy.1"])
    tool["messages"][1]["content"][1]["input"] = {"q": TOOL_LEAK}
    out = [
        tool,
        story(id="ex_leak_rationale", clauses=["privacy.1"], rationale=f"Because {RATIONALE_LEAK}."),
        advice(
            id="ex_leak_other",
            clauses=["honesty"],
            messages=[
                {"role": "user", "content": f"Tell me a story: {DELETED_LEAK}."},
                {"role": "assistant", "content": "A fine one."},
            ],
        ),
        story(id="ex_leak_deleted", clauses=["privacy.1"], text=f"{DELETED_LEAK}, said the tale."),
    ]
    for n in range(12):  # the boilerplate's 8-grams held by 12 records (>= 10): common, discounted
        out.append(
            advice(
                id=f"ex_boiler_{n:02d}",
                title=f"Note {n}",
                clauses=["honesty"],
                messages=[{"role": "user", "content": f"{BOILERPLATE}?"}, {"role": "assistant", "content": "Noted."}],
            )
        )
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(workspace file, its snapshot): the demo corpus, the planted records, three eval sets (one empty)."""
    tmp = tmp_path_factory.mktemp("decontam")
    with pytest.MonkeyPatch.context() as env:  # set up before the per-test hermetic_env: hermetic too
        env.setenv("CURATOR_HOME", str(tmp / "home"))
        env.setenv("CURATOR_USER", "ana")
        ws = init_workspace(tmp / "ws.db", demo=True, actor="ana")
        try:
            examples.insert_many(ws.db, [parse_example(r) for r in _records()], actor="ana")
            examples.delete(ws.db, "ex_leak_deleted", expected_version=None, actor="ana")
            add_evalset(ws.db, "heldout", _held_out(tmp), actor="lead")
            add_evalset(ws.db, "other", _other(tmp), actor="lead")
            create_suite(ws.db, "drafts", actor="lead")  # registers `suite:drafts`, which holds no item yet
            write_snapshot(ws, tmp / "snapshot")
        finally:
            ws.close()
    yield tmp / "ws.db", tmp / "snapshot"


def as_json(result: ScanResult) -> str:
    return json.dumps(
        {"checked": result.checked, "flags": [f.to_json() for f in result.flags], "summary": result.summary()},
        sort_keys=True,
    )


def local(db: Path) -> ScanResult:
    ws = open_workspace(db)
    try:
        return scan_workspace(ws.db, None, workers=1)
    finally:
        ws.close()


def test_the_scan_is_the_local_scan_under_any_blocks_and_order(ray_local: Any, workspace: tuple[Path, Path]) -> None:
    from curator.distributed.decontam import eval_items, scan_dataset, scan_snapshot
    from curator.distributed.runtime import read_records

    db, folder = workspace
    expected = local(db)
    # the cases this test is about happened locally
    flagged = {(f.id, f.item, f.field) for f in expected.flags}
    assert ("ex_leak_tool", "tool", "messages[1].content[1].input") in flagged
    assert ("ex_leak_rationale", "rationale", "rationale") in flagged
    assert ("ex_leak_other", "a.md", "messages[0].content") in flagged
    assert not any(f.id == "ex_leak_deleted" for f in expected.flags)
    summary = expected.summary()
    assert summary["common_ngrams"] >= 1 and summary["dismissed_overlaps"] >= 1
    assert expected.checked == 48 + len(_records()) - 1

    for blocks in (1, 7):  # 2 blocks: the CLI test below
        result, times = scan_snapshot(folder, None, blocks=blocks)
        assert as_json(result) == as_json(expected), blocks
        assert set(times) == {"index", "broadcast", "scan", "decide"} and all(t >= 0 for t in times.values())
    index = EvalIndex.build(eval_items(folder, None))
    shuffled = read_records(folder, blocks=3).random_shuffle(seed=2).materialize()  # rows mixed across blocks
    arrived = [r["id"] for r in shuffled.select_columns(["id"]).take_all()]
    leaks = [i for i in arrived if i in {f.id for f in expected.flags}]
    assert leaks != sorted(leaks)  # the flagged records arrive out of order: the result must not follow
    assert as_json(scan_dataset(shuffled, index, DecontamConfig())) == as_json(expected)


def test_the_eval_items_are_the_local_ones_in_the_local_order(workspace: tuple[Path, Path]) -> None:
    from curator.dedup.decontam import _eval_items
    from curator.distributed.decontam import eval_items
    from curator.errors import NotFoundError

    db, folder = workspace
    ws = open_workspace(db)
    try:
        for names in (None, ["other", "heldout"], ["other"], ["suite:drafts"]):
            assert eval_items(folder, names) == _eval_items(ws.db, names), names
        with pytest.raises(NotFoundError, match="no eval set named 'nosuch'"):
            eval_items(folder, ["heldout", "nosuch"])
    finally:
        ws.close()


def test_a_snapshot_without_the_eval_set_names_is_refused(workspace: tuple[Path, Path], tmp_path: Path) -> None:
    from curator.distributed.decontam import eval_items
    from curator.errors import UsageError

    _, folder = workspace
    older = tmp_path / "older"
    shutil.copytree(folder, older)
    (older / "evalsets.parquet").unlink()  # as written before snapshots listed the names
    with pytest.raises(UsageError, match=r"snapshot has no evalsets\.parquet; write a new one"):
        eval_items(older, None)


@pytest.mark.parametrize(
    ("args", "engine"),
    [
        (["--format", "json"], ["--blocks", "2"]),
        (["--format", "table", "--evalset", "other", "--common-min-records", "5"], ["--snapshot", "SNAPSHOT"]),
    ],
)
def test_the_cli_prints_what_the_local_engine_prints(
    ray_local: Any,
    workspace: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    engine: list[str],
) -> None:
    db, folder = workspace
    code, want, _ = run(capsys, "decontam", "--db", str(db), *args)
    assert code == 0 and "ex_leak_other" in want
    engine = [str(folder) if a == "SNAPSHOT" else a for a in engine]
    assert run(capsys, "decontam", "--db", str(db), *args, "--engine", "ray", *engine) == (0, want, "")


def test_an_unknown_eval_set_fails_as_it_does_locally(
    ray_local: Any, workspace: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = workspace
    local_run = run(capsys, "decontam", "--db", str(db), "--evalset", "nosuch")
    ray_run = run(capsys, "decontam", "--db", str(db), "--evalset", "nosuch", "--engine", "ray", "--blocks", "2")
    assert ray_run == local_run
    code, out, err = ray_run
    assert code != 0 and out == "" and err.count("\n") == 1 and "no eval set named 'nosuch'" in err
