"""Split honesty: an export whose split is not what the spec asked says so (CLI, manifest), or
fails under `strict = true`; `--dry-run` shows the split keys per split."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator.bootstrap import open_workspace
from curator.constitution.versions import import_constitution
from curator.errors import CuratorError
from curator.mixture import SpecError, export_from_spec, load_spec
from curator.mixture.split import (
    OrderedSplits,
    SplitInput,
    SplitLock,
    SplitResult,
    UpdatedRecords,
    assign_splits,
    split_warnings,
    updated_lock,
)
from curator.store.db import Workspace
from tests.helpers import fill_ws, gen_records, run, write_spec


def counts(
    train: tuple[int, int], evals: tuple[int, int], heldout: tuple[int, int] = (0, 0)
) -> dict[str, dict[str, int]]:
    """(records, keys) per split."""
    return {s: {"records": r, "keys": k} for s, (r, k) in (("train", train), ("eval", evals), ("heldout", heldout))}


def test_an_empty_eval_split_is_a_warning() -> None:
    [warning] = split_warnings(counts((390, 39), (0, 0)), eval_fraction=0.1, heldout_requested=False)
    assert "eval_fraction 0.1 gave 0 eval records" in warning
    assert "39 split keys" in warning


def test_an_eval_share_far_off_the_fraction_is_a_warning() -> None:
    [warning] = split_warnings(counts((900, 90), (100, 10)), eval_fraction=0.2, heldout_requested=False)
    assert "gave 100 of 1,000 records in eval" in warning and "expected about 200" in warning


def test_small_deviations_are_not_warned_about() -> None:
    # expected 5: within 2 records; expected 100: within 25%
    assert split_warnings(counts((47, 47), (3, 3)), eval_fraction=0.1, heldout_requested=False) == []
    assert split_warnings(counts((880, 88), (120, 12)), eval_fraction=0.1, heldout_requested=False) == []
    assert split_warnings(counts((100, 10), (0, 0)), eval_fraction=0.0, heldout_requested=False) == []


def test_requested_heldout_without_records_is_a_warning() -> None:
    found = split_warnings(counts((100, 10), (0, 0)), eval_fraction=0.0, heldout_requested=True)
    assert found == ["split.heldout_clauses is set but no exported record is linked to those clauses"]


@pytest.fixture
def few_groups(tmp_path: Path, constitution_file: Path) -> Iterator[Workspace]:
    """A workspace file with 160 records in 4 groups: a 5% eval fraction cannot be met by whole groups."""
    ws = open_workspace(tmp_path / "few.db")
    import_constitution(ws.db, constitution_file, actor="tester")
    fill_ws(ws, gen_records(160, groups=4))
    yield ws
    ws.close()


def test_export_warns_on_stderr_and_in_the_manifest(
    few_groups: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, budget_tokens=5_000, formats=["text"], dedup="off", split={"eval_fraction": 0.05})
    plan = export_from_spec(few_groups.db, load_spec(spec), tmp_path / "out", dry_run=True).plan
    assert len(plan.warnings) == 1 and plan.warnings[0].startswith("split: eval_fraction 0.05 gave")
    code, _, err = run(
        capsys, "--db", str(few_groups.path), "export", "--spec", str(spec), "--out", str(tmp_path / "out")
    )
    assert code == 0, err
    assert "warning: split: eval_fraction 0.05 gave" in err
    manifest = json.loads((tmp_path / "out" / "mix" / "manifest.json").read_text())
    splits = manifest["splits"]
    assert splits["warnings"] == [plan.warnings[0].removeprefix("split: ")]
    assert sum(splits["split_keys"].values()) == 4


def test_strict_export_fails_on_a_split_warning(few_groups: Workspace, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, budget_tokens=5_000, formats=["text"], dedup="off", strict=True, split={"eval_fraction": 0.05}
    )
    with pytest.raises(SpecError, match=r"spec\.toml: split: eval_fraction 0\.05 gave .* \(strict = true\)"):
        export_from_spec(few_groups.db, load_spec(spec), tmp_path / "out", dry_run=True)
    assert not (tmp_path / "out").exists()


def test_dry_run_shows_split_keys_per_split(
    few_groups: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(tmp_path, budget_tokens=5_000, formats=["text"], dedup="off", split={"eval_fraction": 0.5})
    code, out, err = run(capsys, "export", "--db", str(few_groups.path), "--spec", str(spec), "--dry-run")
    assert code == 0, err
    assert "split keys (groups or ids): train " in out
    code, out, _ = run(
        capsys, "--db", str(few_groups.path), "export", "--spec", str(spec), "--dry-run", "--format", "json"
    )
    keys = json.loads(out)["split_keys"]
    assert keys["train"] + keys["eval"] == 4 and keys["heldout"] == 0


@pytest.mark.parametrize("n", [0, 1, 9_000])
def test_the_split_lock_is_written_as_one_json_document_piece_by_piece(tmp_path: Path, n: int) -> None:
    """The lock is streamed to its file (a million records' lock is not held twice as text), and its
    bytes are exactly those of the whole document dumped at once."""
    rng = random.Random(n)
    splits = ("train", "eval", "heldout")
    odd = 'é"\\'  # quoted and escaped in JSON, not ASCII
    records = {f"ex_{i:05d}_{odd if i % 7 == 0 else 'a'}": rng.choice(splits) for i in range(n)}
    keys = {f"group \u2603 {i}": rng.choice(splits) for i in range(n // 3)}
    lock = SplitLock(records, keys)
    path = tmp_path / "mix.splits.lock.json"
    lock.write(path)
    assert path.read_bytes() == (json.dumps(lock.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    assert SplitLock.read(path) == lock
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing left aside


def test_the_lock_after_an_export_merges_the_earlier_lock_without_copying_it(tmp_path: Path) -> None:
    """The updated lock is the earlier lock's entries with every exported record's split over them
    (a record locked train and now eval is written eval), in id order, byte for byte what a merged
    dict gives; its records are a view over the earlier lock and the split result, not a copy."""
    rng = random.Random(7)
    splits = ("train", "eval", "heldout")
    earlier = {f"ex_{i:05d}": rng.choice(splits) for i in range(0, 3000, 2)}
    exported = [f"ex_{i:05d}" for i in range(0, 3000, 3)]  # half of them in the earlier lock
    result = SplitResult(
        {rid: rng.choice(splits) for rid in [*exported, "ex_99999"]},  # a split but not exported: a duplicate
        {"group:a": "eval"},
        [],
    )
    lock = updated_lock(SplitLock(earlier, {"group:a": "train", "group:b": "eval"}), result, exported)
    merged = {**earlier, **{rid: result.splits[rid] for rid in exported}}
    assert isinstance(lock.records, UpdatedRecords) and lock.records is not earlier
    assert list(lock.records) == sorted(merged) and len(lock.records) == len(merged)
    assert "ex_99999" not in lock.records and lock.keys == {"group:a": "eval", "group:b": "eval"}
    path = tmp_path / "mix.splits.lock.json"
    lock.write(path)
    expected = SplitLock(dict(sorted(merged.items())), lock.keys)
    assert path.read_bytes() == (json.dumps(expected.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    assert SplitLock.read(path) == lock == expected


def test_exported_records_out_of_id_order_are_an_error_not_a_lock_in_another_order(tmp_path: Path) -> None:
    result = SplitResult({"ex_1": "train", "ex_2": "eval"}, {}, [])
    lock = updated_lock(SplitLock({"ex_0": "train"}, {}), result, ["ex_2", "ex_1"])
    with pytest.raises(CuratorError, match="ex_1 is out of id order"):
        lock.write(tmp_path / "mix.splits.lock.json")
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing left aside


def test_splits_of_records_in_id_order_are_held_compactly_and_answer_the_same() -> None:
    """An export's records come in id order: their splits are an `OrderedSplits` (ids and a byte
    each); the same records shuffled give a dict; both say the same split for every record."""
    rng = random.Random(3)
    inputs = [
        SplitInput(f"ex_{i:05d}", rng.choice([None, "g1", "g2", "g3"]), (rng.choice(["a", "b", "held"]),))
        for i in sorted(rng.sample(range(50_000), 2000))
    ]
    kwargs: dict[str, Any] = {
        "by": "group",
        "salt": "s",
        "eval_fraction": 0.3,
        "heldout": frozenset({"held"}),
        "lock": SplitLock({inputs[5].id: "heldout"}, {"group:g1": "eval"}),
    }
    ordered = assign_splits(inputs, **kwargs)
    shuffled = inputs[:]
    rng.shuffle(shuffled)
    plain = assign_splits(shuffled, **kwargs)
    assert isinstance(ordered.splits, OrderedSplits) and isinstance(plain.splits, dict)
    assert dict(ordered.splits.items()) == plain.splits and set(plain.splits.values()) == {"train", "eval", "heldout"}
    assert (ordered.keys, ordered.changed) == (plain.keys, plain.changed)
    assert ordered.splits[inputs[5].id] == "heldout" and "ex_99999" not in ordered.splits
    with pytest.raises(KeyError):
        ordered.splits["ex_99999"]
    with pytest.raises(CuratorError, match="out of id order"):
        ordered.splits.add(inputs[0].id, "train")
