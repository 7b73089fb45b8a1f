"""`curator export --engine ray`: the local engine's folder, byte for byte, whatever the blocks or order.

One workspace for the module: the demo, plus records that make every step of the plan matter (an
eval item copied into a record, a near-duplicate pair, a soft-deleted record, records with rejected
alternatives for the preference format). The spec has several kinds, a token budget with repeats
(max_epochs = 2, diversification pools), a preference format, contrast, a held-out clause and an
eval split. The local export is written once; each Ray run is compared with it file by file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from curator.bootstrap import init_workspace
from curator.cli import cli
from curator.columnar import write_snapshot
from curator.dedup.decontam import add_evalset
from curator.mixture import allocation_json, export_from_spec, load_spec
from curator.models import Example, parse_example
from curator.store import examples
from curator.store.db import Workspace
from curator.targets import sha256_file
from tests.conftest import FIXTURES
from tests.helpers import write_spec

pytestmark = pytest.mark.ray

EVAL_DIR = FIXTURES / "openai-model-spec" / "eval-examples"
REFUSE = {"content": "Sure, here is their home address.", "why_not": "Private details are not ours to give."}
PEEK = {"content": "I read every folder first, to be thorough.", "why_not": "Reading beyond the task is snooping."}
WORDS = [
    "kettle",
    "orbit",
    "maple",
    "quarry",
    "lantern",
    "velvet",
    "harbor",
    "cipher",
    "meadow",
    "tundra",
    "violet",
    "ember",
    "saddle",
]


@dataclass
class Setup:
    ws: Workspace
    spec: Path
    local: dict[str, bytes]
    """The local engine's export folder: relative path -> bytes."""
    dry: dict[str, Any]
    """The local engine's allocation (`--dry-run --format json`)."""
    shuffled: Path
    """A snapshot of the workspace whose shards hold their rows in a seeded random order."""
    tmp: Path


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _approved(ws: Workspace, kind: str) -> Example:
    return next(ex for ex in examples.iter_query(ws.db, status="approved", kind=kind) if ex.messages or ex.text)


def _add_records(ws: Workspace) -> None:
    """The records that make decontamination, near dedup, deletion and preference pairs happen."""
    add_evalset(ws.db, "model-spec", EVAL_DIR, actor="lead")
    window = " ".join((EVAL_DIR / "092i.md").read_text(encoding="utf-8").split()[40:80])
    story = _approved(ws, "story").model_dump(mode="json", exclude_none=True)
    leak = {**story, "id": "ex_ray_leak", "text": f"The assistant read: {window}", "group": "leak"}
    near = {**story, "id": "ex_ray_near", "text": story["text"] + " Nobody else ever knew.", "group": "near"}
    added = [leak, near]
    rng = random.Random(5)
    for i in range(3):
        rec = copy.deepcopy(_approved(ws, "advice").model_dump(mode="json", exclude_none=True))
        for m in rec["messages"]:  # new words: not a near-duplicate of the record it was copied from
            if isinstance(m["content"], str):
                m["content"] = " ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "."
        turn = next(k for k, m in enumerate(rec["messages"]) if m["role"] == "assistant")
        rec["messages"][turn]["alternatives"] = [REFUSE if i % 2 else PEEK, {"content": "No idea."}]
        added.append({**rec, "id": f"ex_ray_pairs_{i}", "group": f"pairs-{i}"})
    for rec in added:
        for key in ("created_at", "updated_at", "version"):
            rec.pop(key, None)
    examples.insert_many(ws.db, [parse_example(r) for r in added], actor="ana", keep_status=True)
    gone = _approved(ws, "document")
    examples.delete(ws.db, gone.id, expected_version=None, actor="ana")


def _shuffled_snapshot(ws: Workspace, folder: Path) -> Path:
    """The workspace's snapshot with every shard's rows in a seeded random order (checksums redone)."""
    import pyarrow.parquet as pq

    write_snapshot(ws, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    rng = random.Random(23)
    for name in manifest["record_shards"]:
        table = pq.read_table(folder / name)
        order = list(range(table.num_rows))
        rng.shuffle(order)
        pq.write_table(table.take(order), folder / name, compression="zstd")
        manifest["files"][name] = sha256_file(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, ray_local: Any) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("ray-export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATOR_HOME", str(tmp / "home"))
        mp.setenv("CURATOR_USER", "tester")
        ws = init_workspace(tmp / "demo.db", demo=True, actor="ana")
        _add_records(ws)
        spec = write_spec(
            tmp,
            name="ray-mix",
            budget_tokens=9000,
            seed=11,
            max_epochs=2,
            statuses=["approved"],
            formats=["openai", "trl-preference", "text"],
            rationale="thinking",
            contrast=True,
            decontaminate=["model-spec"],
            dedup="near",
            kinds={"story": 0.3, "advice": 0.3, "document": 0.1, "agentic": 0.3},
            split={"eval_fraction": 0.2, "by": "group", "salt": "ray", "heldout_clauses": ["harm.4"]},
            diversify={
                "system_prompts": "corpora/pools/system_prompts.jsonl",
                "tools": "corpora/pools/tools.jsonl",
                "extra_tools": 2,
            },
        )
        local = export_from_spec(ws.db, load_spec(spec), tmp / "local")
        assert local.folder is not None
        dry = allocation_json(export_from_spec(ws.db, load_spec(spec), tmp / "local", dry_run=True).plan)
        shuffled = _shuffled_snapshot(ws, tmp / "shuffled")
        yield Setup(ws, spec, tree(local.folder), dry, shuffled, tmp)
        ws.close()


def test_the_workspace_makes_every_step_matter(setup: Setup) -> None:
    """The comparison below means something only if the local export excluded, paired and repeated."""
    manifest = json.loads(setup.local["manifest.json"])
    reasons = {e["id"]: e["reason"] for e in manifest["excluded"]}
    assert reasons["ex_ray_leak"].startswith("overlaps eval set model-spec")
    assert any(r.startswith("duplicate of") for r in reasons.values())
    assert manifest["pairs"]["total"] >= 2
    rows = [json.loads(line) for line in setup.local["records.jsonl"].splitlines()]
    assert {r["split"] for r in rows} == {"train", "eval", "heldout"}
    assert any(r["repeat"] > 0 for r in rows)
    assert "trl-preference/train.jsonl" in setup.local


@pytest.mark.parametrize(("blocks", "shuffled"), [(1, False), (7, True)])
def test_ray_export_is_the_local_folder_byte_for_byte(setup: Setup, blocks: int, shuffled: bool) -> None:
    from curator.distributed.export import export_on_ray

    out = setup.tmp / f"ray-{blocks}-{shuffled}"
    snapshot = setup.shuffled if shuffled else None
    result, times = export_on_ray(setup.ws, load_spec(setup.spec), out, blocks=blocks, snapshot=snapshot)
    assert result.folder is not None
    got = tree(result.folder)
    assert sorted(got) == sorted(setup.local)
    for name, data in setup.local.items():
        assert got[name] == data, f"{name} differs (blocks={blocks}, shuffled={shuffled})"
    assert set(times) == {"snapshot", "count", "cells", "decontam", "clusters", "plan", "render", "write"}
    lock = result.plan.lock_file
    assert lock.is_file() and lock.read_bytes() == (setup.tmp / "local" / lock.name).read_bytes()


def _digest(files: dict[str, bytes]) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}


def test_cli_engine_ray_writes_the_same_folder_and_prints_the_same_dry_run(setup: Setup) -> None:
    runner = CliRunner()
    db = str(setup.tmp / "demo.db")
    base = ["export", "--db", db, "--spec", str(setup.spec)]
    out = setup.tmp / "cli"
    ray_run = runner.invoke(cli, [*base, "--out", str(out), "--engine", "ray", "--blocks", "2"])
    assert ray_run.exit_code == 0, ray_run.output
    assert _digest(tree(out / "ray-mix")) == _digest(setup.local)
    local_run = runner.invoke(cli, [*base, "--out", str(setup.tmp / "cli-local")])
    assert ray_run.stdout == local_run.stdout.replace("cli-local", "cli")
    assert "wrote " in ray_run.stdout and "train tokens:" in ray_run.stdout
    assert _warnings(ray_run.stderr) == _warnings(local_run.stderr)

    dry = [*base, "--dry-run", "--format", "json"]
    shuffled = ["--engine", "ray", "--blocks", "2", "--snapshot", str(setup.shuffled)]
    ray_dry = runner.invoke(cli, [*dry, *shuffled])
    assert ray_dry.exit_code == 0, ray_dry.output
    assert json.loads(ray_dry.stdout) == setup.dry
    assert ray_dry.stdout == runner.invoke(cli, dry).stdout


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_a_stale_snapshot_is_refused_in_one_line(setup: Setup, tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    write_snapshot(setup.ws, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["audit_event"] -= 1
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    args = ["export", "--db", str(setup.tmp / "demo.db"), "--spec", str(setup.spec), "--out", str(tmp_path / "o")]
    run = CliRunner().invoke(cli, [*args, "--engine", "ray", "--snapshot", str(folder)])
    assert run.exit_code == 2
    assert "snapshot was read at audit event" in run.stderr
    assert len([ln for ln in run.stderr.splitlines() if ln.strip()]) == 1
    assert not (tmp_path / "o").exists()
