"""Whole-workspace commands stream: the same bytes as rendering everything at once, without
holding every record (a million records must list, dump and export in flat memory)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tracemalloc
from pathlib import Path

import pytest

from curator.cli import main
from curator.cli.output import short
from curator.constitution.versions import import_constitution
from curator.store import examples
from curator.store.db import open_workspace
from tests.conftest import REPO, SMALL_CONSTITUTION
from tests.helpers import fill_ws, gen_records, run, write_spec

GENERATED = 5_000

EXPORT_SUMS = {
    "demo": "189d13f305ff70d03bc12120a72c0fe254791d344efb6dcca8fbbfbc5bbd35d1",
    "demo-preference": "e0ae6d2a6e2d0746f748833f241d0b119ffbd1f6d1d39d900a4d512b4a9e5a71",
    "generated": "f3d778e96e769f3dc01d21ac39f02e084d051cd560f12737a60aa5a767119d04",
}
"""SHA256SUMS of each export as written before exports streamed (the bytes must not change)."""


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of generated records, a few deleted and a few in draft (built once per module)."""
    folder = tmp_path_factory.mktemp("generated")
    constitution = folder / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    db = folder / "gen.db"
    with open_workspace(db) as ws:
        import_constitution(ws.db, constitution, actor="tester")
        records = gen_records(GENERATED, seed=3)
        records = [
            r.model_copy(update={"status": "draft", "author": "zoë"}) if i % 9 == 0 else r
            for i, r in enumerate(records)
        ]
        fill_ws(ws, records)
        for r in records[5::97]:
            examples.delete(ws.db, r.id, expected_version=None, actor="tester")
    return db


def _old_table(db: Path, **filters: object) -> str:
    """`curator list`'s table as it was rendered before it streamed: every record parsed and held."""
    with open_workspace(db) as ws:
        listed = examples.query(ws.db, **filters)
    rows = [[r.id, r.kind, r.status, r.author, short(r.title, 48), ",".join(r.clauses)] for r in listed]
    headers = ["id", "kind", "status", "author", "title", "clauses"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(out) + f"\n{len(listed)} records\n"


def _old_json(db: Path, **filters: object) -> str:
    with open_workspace(db) as ws:
        listed = examples.query(ws.db, **filters)
    return json.dumps([r.canonical() for r in listed], ensure_ascii=False, indent=2) + "\n"


def _old_jsonl(db: Path, **filters: object) -> str:
    with open_workspace(db) as ws:
        return "".join(r.canonical_json() + "\n" for r in examples.query(ws.db, **filters))


FILTERS: list[tuple[list[str], dict[str, object]]] = [
    ([], {}),
    (["--status", "draft"], {"status": "draft"}),
    (["--clause", "privacy.1"], {"clause": "privacy.1"}),
    (["--kind", "agentic", "--author", "zoë"], {"kind": "agentic", "author": "zoë"}),
    (["--limit", "7"], {"limit": 7}),
    (["--tag", "nothing-has-this"], {"tag": "nothing-has-this"}),
]


@pytest.mark.parametrize(("argv", "filters"), FILTERS)
def test_list_writes_the_same_bytes_as_before_on_a_generated_workspace(
    capsys: pytest.CaptureFixture[str], generated_db: Path, argv: list[str], filters: dict[str, object]
) -> None:
    for fmt, old in (("table", _old_table), ("json", _old_json), ("jsonl", _old_jsonl)):
        code, out, err = run(capsys, "list", "--db", str(generated_db), "--format", fmt, *argv)
        assert (code, err) == (0, "")
        assert out == old(generated_db, **filters), fmt


def test_list_writes_the_same_bytes_as_before_on_the_demo(capsys: pytest.CaptureFixture[str], demo_db: Path) -> None:
    for fmt, old in (("table", _old_table), ("json", _old_json), ("jsonl", _old_jsonl)):
        for argv, filters in ([], {}), (["--text", "privacy"], {"text": "privacy"}):
            code, out, _ = run(capsys, "list", "--db", str(demo_db), "--format", fmt, *argv)
            assert code == 0 and out == old(demo_db, **filters), fmt


class Digest(io.TextIOBase):
    """A stdout that keeps only a hash of what is written (the output itself is not held)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def write(self, text: str) -> int:
        self.sha.update(text.encode("utf-8"))
        return len(text)


def _peak(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Peak traced Python memory (bytes) of one command, and the hash of its output."""
    sink = Digest()
    monkeypatch.setattr(sys, "stdout", sink)
    tracemalloc.start()
    try:
        assert main(argv) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        monkeypatch.undo()
    return peak, sink.sha.hexdigest()


def _records_held(db: Path) -> int:
    """What holding every listed record costs (traced bytes): the bound streaming stays far under."""
    with open_workspace(db) as ws:
        tracemalloc.start()
        try:
            held = examples.query(ws.db)
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    assert len(held) > 4_000
    return size


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_list_holds_one_record_at_a_time(generated_db: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    held = _records_held(generated_db)
    peak, _ = _peak(["list", "--db", str(generated_db), "--format", fmt], monkeypatch)
    assert peak < held / 10, (peak, held)


# -- export -------------------------------------------------------------------------------------------

DEMO_SPEC = REPO / "corpora" / "specs" / "demo.toml"


def _export_sums(capsys: pytest.CaptureFixture[str], db: Path, spec: Path, out: Path) -> str:
    """The export's SHA256SUMS (a checksum of every file it wrote), after checking them."""
    code, _, err = run(capsys, "export", "--db", str(db), "--spec", str(spec), "--out", str(out))
    assert code == 0, err
    folder = out / spec_name(spec)
    sums = (folder / "SHA256SUMS").read_text(encoding="utf-8")
    for line in sums.splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    return hashlib.sha256(sums.encode("utf-8")).hexdigest()


def spec_name(spec: Path) -> str:
    import tomllib

    return str(tomllib.loads(spec.read_text(encoding="utf-8"))["name"])


def _generated_spec(folder: Path) -> Path:
    return write_spec(
        folder,
        name="gen-mix",
        budget_tokens=1_500_000,
        max_epochs=3,
        statuses=["approved", "draft"],
        formats=["openai", "anthropic", "text", "bedrock"],
        dedup="exact",
        split={"eval_fraction": 0.1, "by": "group", "salt": "s1", "heldout_clauses": ["privacy.1.1"]},
    )


def _demo_preference_spec(folder: Path) -> Path:
    text = DEMO_SPEC.read_text(encoding="utf-8")
    text = text.replace('name = "demo-mix"', 'name = "demo-pref"').replace("max_epochs = 2", "max_epochs = 3")
    text = text.replace('statuses = ["approved"]', 'statuses = ["approved", "review", "draft"]\ncontrast = true')
    text = text.replace(
        'formats = ["openai", "anthropic", "hf-messages", "text", "bedrock"]',
        'formats = ["text", "trl-preference", "openai-preference"]',
    )
    spec = folder / "pref.toml"
    spec.write_text(text, encoding="utf-8")
    return spec


def _demo_spec(folder: Path) -> Path:
    spec = folder / "demo.toml"
    spec.write_text(DEMO_SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    return spec


def _with_alternatives(db: Path) -> None:
    """Rejected answers (one with a why-not, one without) on every third advice record of the demo."""
    from curator.models import Alternative

    with open_workspace(db) as ws:
        advice = [ex for ex in examples.query(ws.db, kind="advice") if ex.messages][::3]
        for i, ex in enumerate(advice):
            messages = list(ex.messages or [])
            last = messages[-1]
            alternatives = [Alternative(content=f"A tempting wrong answer {i}.", why_not="It breaks the rule.")]
            alternatives.append(Alternative(content=f"Another wrong answer {i}."))
            messages[-1] = last.model_copy(update={"alternatives": alternatives})
            examples.update(
                ws.db, ex.model_copy(update={"messages": messages}), expected_version=ex.version, actor="bo"
            )


def test_export_writes_the_same_files_as_before(
    capsys: pytest.CaptureFixture[str], generated_db: Path, demo_db: Path, tmp_path: Path
) -> None:
    sums = {
        "generated": _export_sums(capsys, generated_db, _generated_spec(tmp_path), tmp_path / "out"),
        "demo": _export_sums(capsys, demo_db, _demo_spec(tmp_path), tmp_path / "out"),
        "demo-preference": _with_alternatives(demo_db)
        or _export_sums(capsys, demo_db, _demo_preference_spec(tmp_path), tmp_path / "out"),
    }
    assert sums == EXPORT_SUMS
    manifest = json.loads((tmp_path / "out" / "gen-mix" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["splits"]["heldout"]["rows"] and manifest["splits"]["eval"]["rows"]
    assert any('"repeat":1' in line for line in (tmp_path / "out" / "gen-mix" / "records.jsonl").open())
    pref = json.loads((tmp_path / "out" / "demo-pref" / "manifest.json").read_text(encoding="utf-8"))
    assert pref["pairs"]["total"] and all(f["rows"] for f in pref["files"] if f["split"] == "train")
