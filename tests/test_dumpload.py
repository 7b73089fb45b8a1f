"""dump -> load -> dump is byte-identical; load is all or nothing; dumps are atomic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.constitution.versions import import_constitution
from curator.dumpload import dump, load
from curator.errors import CuratorError, ImportFailed, StoreError
from curator.importer import import_file
from curator.models import clean_text, parse_example
from curator.store import examples
from curator.store.db import open_workspace
from tests.conftest import SMALL_CONSTITUTION, advice, agentic, story, write_jsonl
from tests.helpers import reseal_dump


def read_tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def build_workspace(db_path: Path, constitution: Path, records: list[dict[str, Any]], tmp: Path) -> None:
    with open_workspace(db_path) as ws:
        import_constitution(ws.db, constitution, actor="ana")
        # statuses as given (approved included): what a dump must carry back is whatever the workspace held
        import_file(ws.db, write_jsonl(tmp / "records.jsonl", records), actor="ana", keep_status=True)
        first = examples.query(ws.db)[0]
        examples.update(ws.db, first.model_copy(update={"status": "review"}), expected_version=1, actor="ben")
        ws.db.execute(
            "INSERT INTO reviews (example_id, example_version, reviewer, verdict, comment, created_at) "
            "VALUES (?, 2, 'chen', 'approve', 'good [b]', '2026-01-01T00:00:00.000Z')",
            [first.id],
        )
        ws.db.conn.commit()


def round_trip(tmp: Path, constitution: Path, records: list[dict[str, Any]]) -> tuple[dict, dict]:
    build_workspace(tmp / "a.db", constitution, records, tmp)
    with open_workspace(tmp / "a.db") as ws:
        dump(ws, tmp / "dump1")
    load(tmp / "dump1", tmp / "b.db")
    with open_workspace(tmp / "b.db") as ws:
        dump(ws, tmp / "dump2")
    return read_tree(tmp / "dump1"), read_tree(tmp / "dump2")


def test_round_trip_is_byte_identical(tmp_path: Path, constitution_file: Path) -> None:
    first, second = round_trip(tmp_path, constitution_file, [story(tags=["x"]), advice(), agentic()])
    assert first == second
    assert set(first) == {
        "manifest.json",
        "examples.jsonl",
        "links.jsonl",
        "reviews.jsonl",
        "audit.jsonl",
        "constitution/versions.jsonl",
        "constitution/clauses.jsonl",
        "constitution/v0001.md",
        "dedup_ignored.jsonl",
        "evalsets/sets.jsonl",
        "evalsets/items.jsonl",
        "deleted.jsonl",
        "evals/suites.jsonl",
        "evals/suite_items.jsonl",
        "evals/runs.jsonl",
        "evals/responses.jsonl",
        "evals/gradings.jsonl",
        "evals/verdicts.jsonl",
        "annotations/assignments.jsonl",
        "annotations/annotations.jsonl",
        "annotations/decisions.jsonl",
    }
    assert first["constitution/v0001.md"].decode() == SMALL_CONSTITUTION
    ids = [json.loads(line)["id"] for line in first["examples.jsonl"].decode().split("\n") if line]
    assert ids == sorted(ids)


def test_loaded_workspace_answers_queries(tmp_path: Path, constitution_file: Path) -> None:
    round_trip(tmp_path, constitution_file, [story(tags=["x"]), advice(), agentic()])
    with open_workspace(tmp_path / "b.db") as ws:
        assert examples.count(ws.db) == 3
        assert [e.kind for e in examples.query(ws.db, tag="x")] == ["story"]
        assert [e.kind for e in examples.query(ws.db, text="sealed")] == ["story"]
        assert examples.count(ws.db, clause="honesty") == 1


hostile_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(
    lambda s: clean_text(s).strip()
)


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=1, max_value=5))
    out = []
    for i in range(n):
        maker = draw(st.sampled_from([story, advice, agentic]))
        body = draw(hostile_text) + f" #{i}"
        overrides: dict[str, Any] = {
            "title": draw(hostile_text),
            "tags": draw(st.lists(hostile_text, max_size=3)),
            "status": draw(st.sampled_from(["draft", "review", "approved", "rejected"])),
        }
        if maker is story:
            overrides["text"] = body
        else:
            rec = maker()
            rec["messages"][0]["content"] = body
            overrides["messages"] = rec["messages"]
        out.append(maker(**overrides))
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=records())
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, data: list[dict[str, Any]]) -> None:
    tmp = tmp_path_factory.mktemp("rt")
    constitution = tmp / "c.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    first, second = round_trip(tmp, constitution, data)
    assert first == second
    # and the records themselves survived exactly
    dumped = [parse_example(json.loads(line)) for line in first["examples.jsonl"].decode().split("\n") if line]
    assert dumped
    assert {e.title for e in dumped} <= {parse_example(r).title for r in data}


def test_load_refuses_a_database_with_data(tmp_path: Path, constitution_file: Path) -> None:
    round_trip(tmp_path, constitution_file, [story()])
    with pytest.raises(StoreError, match="not empty"):
        load(tmp_path / "dump1", tmp_path / "a.db")


def test_load_of_a_broken_dump_writes_nothing(tmp_path: Path, constitution_file: Path) -> None:
    round_trip(tmp_path, constitution_file, [story(), advice()])
    lines = (tmp_path / "dump1" / "examples.jsonl").read_text().splitlines()
    (tmp_path / "dump1" / "examples.jsonl").write_text(lines[0] + "\n" + '{"kind": "poem"}\n')
    reseal_dump(tmp_path / "dump1")
    with pytest.raises(ImportFailed, match=r"examples.jsonl:2: kind"):
        load(tmp_path / "dump1", tmp_path / "c.db")
    assert not (tmp_path / "c.db").exists()
    assert not list(tmp_path.glob(".c.db*"))


def test_load_refuses_unsafe_source_paths(tmp_path: Path, constitution_file: Path) -> None:
    round_trip(tmp_path, constitution_file, [story()])
    versions = tmp_path / "dump1" / "constitution" / "versions.jsonl"
    row = json.loads(versions.read_text())
    row["source_file"] = "../../etc/passwd"
    versions.write_text(json.dumps(row) + "\n")
    reseal_dump(tmp_path / "dump1")
    with pytest.raises(ImportFailed, match="unsafe source_file"):
        load(tmp_path / "dump1", tmp_path / "c.db")


def test_load_needs_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(ImportFailed, match="not a curator dump"):
        load(tmp_path / "d", tmp_path / "x.db")


def test_dump_replaces_an_earlier_dump_but_not_other_folders(tmp_path: Path, constitution_file: Path) -> None:
    round_trip(tmp_path, constitution_file, [story()])
    with open_workspace(tmp_path / "a.db") as ws:
        dump(ws, tmp_path / "dump1")  # an earlier dump: replaced
        (tmp_path / "precious").mkdir()
        (tmp_path / "precious" / "notes.txt").write_text("mine")
        with pytest.raises(CuratorError, match="not a curator dump"):
            dump(ws, tmp_path / "precious")
    assert (tmp_path / "precious" / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dump1")]


def test_a_dump_from_before_the_clause_model_loads_with_rederived_clauses(
    tmp_path: Path, constitution_file: Path
) -> None:
    from curator.constitution.parse import clause_hash, normalize_clause_text
    from curator.store.clauses import current_clauses

    def old_hash(text: str) -> str:
        import hashlib

        return hashlib.sha256(normalize_clause_text(text).encode()).hexdigest()

    build_workspace(tmp_path / "a.db", constitution_file, [story(clauses=["honesty", "privacy.1"])], tmp_path)
    with open_workspace(tmp_path / "a.db") as ws:
        dump(ws, tmp_path / "dump")
    clauses_file = tmp_path / "dump" / "constitution" / "clauses.jsonl"
    rows = [json.loads(line) for line in clauses_file.read_text().splitlines() if line]
    old: dict[str, str] = {}
    for row in rows:  # as the previous curator wrote them: heading line or marker in the text, no plain/context
        del row["plain"], row["context"]
        row["text"] = f"## {row['title']}\n\n{row['text']}" if row["kind"] == "section" else f"- {row['text']}"
        row["hash"] = old[row["id"]] = old_hash(row["text"])
    clauses_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    links_file = tmp_path / "dump" / "links.jsonl"
    links = [json.loads(line) for line in links_file.read_text().splitlines() if line]
    for link in links:
        link["clause_hash"] = old[link["clause_id"]]
    links_file.write_text("".join(json.dumps(r) + "\n" for r in links))
    manifest = json.loads((tmp_path / "dump" / "manifest.json").read_text())
    manifest["format_version"] = 2  # as the previous curator wrote it: no checksums
    del manifest["files"]
    (tmp_path / "dump" / "manifest.json").write_text(json.dumps(manifest))
    load(tmp_path / "dump", tmp_path / "b.db")
    with open_workspace(tmp_path / "b.db") as ws:
        honesty = next(c for c in current_clauses(ws.db) if c.id == "honesty")
        assert (honesty.text, honesty.hash, honesty.plain) == (
            "Why honesty matters.",
            clause_hash("Why honesty matters."),
            "Why honesty matters.",
        )
        states = dict(ws.db.execute("SELECT clause_id, state FROM example_clauses").fetchall())
        assert states == {"honesty": "ok", "privacy.1": "ok"}


def test_a_load_prepared_in_worker_processes_is_the_same_workspace(tmp_path: Path, constitution_file: Path) -> None:
    # a big dump is parsed and prepared in two worker processes (batches of LOAD_BATCH lines in
    # order): what lands must be what a load in one process writes, byte for byte once dumped
    import curator.dumpload as dumpload

    records = [story(id=f"ex_s{i:04d}", text=f"Story number {i} about care and honesty.") for i in range(23)]
    build_workspace(tmp_path / "a.db", constitution_file, [*records, advice(), agentic()], tmp_path)
    with open_workspace(tmp_path / "a.db") as ws:
        dump(ws, tmp_path / "dump1")
    original = read_tree(tmp_path / "dump1")
    batch = dumpload.LOAD_BATCH
    dumpload.LOAD_BATCH = 4  # several batches in flight at once
    try:
        load(tmp_path / "dump1", tmp_path / "serial.db", parallel=False)
        load(tmp_path / "dump1", tmp_path / "parallel.db", parallel=True)
        folder = tmp_path / "dump1"

        def refused_with(name: str, number: int, line: bytes, message: str) -> None:
            """A load of the dump with line `number` of `name` replaced fails naming file and line."""
            lines = original[name].splitlines(keepends=True)
            lines[number - 1] = line
            (folder / name).write_bytes(b"".join(lines))
            reseal_dump(folder)
            with pytest.raises(ImportFailed, match=rf"{name}:{number}:.*{message}"):
                load(folder, tmp_path / "bad.db", parallel=True)
            (folder / name).write_bytes(original[name])
            reseal_dump(folder)

        refused_with("examples.jsonl", 10, b'{"kind": "poem"}\n', "kind")  # a bad line in the third batch
        refused_with("examples.jsonl", 10, b"\xff\xfe\n", r"not valid UTF-8 \(byte 0xff at column 1\)")
        # the other tables' lines are parsed in the workers too: a bad one is still named by file and line
        refused_with("audit.jsonl", 7, b'{"id": 7, "entity": \n', "invalid JSON")
        gone = original["links.jsonl"].splitlines(keepends=True)[5].replace(b'"example_id":"', b'"example_id":"gone_')
        refused_with("links.jsonl", 6, gone, "refers to something the dump does not hold")
    finally:
        dumpload.LOAD_BATCH = batch
    assert not (tmp_path / "bad.db").exists()
    for name in ("serial", "parallel"):
        with open_workspace(tmp_path / f"{name}.db") as ws:
            dump(ws, tmp_path / f"dump-{name}")
    assert read_tree(tmp_path / "dump-serial") == read_tree(tmp_path / "dump-parallel") == original


def test_a_model_spec_workspace_loaded_in_workers_is_the_same_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real material through the parallel load: the Model Spec's 2025-02 release with its worked
    examples as records, then the 2025-12 release on top (links go stale or orphaned, clause texts
    and metadata change, the audit log carries every event). Tables go to the workers a few lines
    at a time; the workspace dumped again is the dump it came from, as the in-process load's is."""
    import curator.dumpload as dumpload
    from curator.constitution.examples import import_examples
    from tests.conftest import FIXTURES

    spec = FIXTURES / "openai-model-spec"
    with open_workspace(tmp_path / "real.db") as ws:
        import_constitution(ws.db, spec / "model_spec_2025-02-12.md", actor="tester")
        import_examples(ws.db, spec / "model_spec_2025-02-12.md", actor="tester")
        import_constitution(ws.db, spec / "model_spec_2025-12-18.md", actor="tester")
        states = {s for (s,) in ws.db.execute("SELECT DISTINCT state FROM example_clauses")}
        assert examples.count(ws.db) > 100 and states - {"ok"}  # the new release moved some links
        dump(ws, tmp_path / "dump")
    original = read_tree(tmp_path / "dump")
    monkeypatch.setattr(dumpload, "LOAD_BATCH", 40)  # tables 10 lines a batch: many in flight
    load(tmp_path / "dump", tmp_path / "parallel.db", parallel=True)
    load(tmp_path / "dump", tmp_path / "serial.db", parallel=False)
    for name in ("parallel", "serial"):
        with open_workspace(tmp_path / f"{name}.db") as ws:
            dump(ws, tmp_path / f"again-{name}")
        assert read_tree(tmp_path / f"again-{name}") == original
