"""The near-duplicate index kept in a file beside the workspace: it gives the answers the table gives,
after writes by this or another connection; a stale or corrupt file is rebuilt, never used; and
look-alikes beyond the per-check cap are counted, never silently dropped."""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curator.constitution.versions import import_constitution
from curator.dedup import persist
from curator.dedup.config import DedupConfig
from curator.dedup.engine import DedupEngine, Match, applied_schema
from curator.models import Example, parse_example
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from tests.conftest import SMALL_CONSTITUTION, story
from tests.helpers import fill_ws, gen_records, wide_signature


def edited(text: str, rng: random.Random, share: float = 0.05) -> str:
    """`text` with about `share` of its words replaced: a near-duplicate by every rule."""
    return " ".join("zebra" if rng.random() < share else w for w in text.split())


@pytest.fixture
def workspace_file(tmp_path: Path) -> Iterator[tuple[Path, Workspace]]:
    """A workspace file with 300 generated records and ten edited copies of some of them."""
    path = tmp_path / "ws.db"
    constitution = tmp_path / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    ws = open_workspace(path)
    import_constitution(ws.db, constitution, actor="tester")
    records = gen_records(300, seed=5, kinds=("story", "document"))
    rng = random.Random(9)
    copies = [
        parse_example(story(id=f"ex_copy_{k}", text=edited(records[k * 7].text or "", rng), clauses=[]))
        for k in range(10)
    ]
    fill_ws(ws, [*records, *copies])
    yield path, ws
    ws.close()


@pytest.fixture
def indexed(workspace_file: tuple[Path, Workspace], tmp_path: Path) -> tuple[Workspace, Path]:
    """The `workspace_file` workspace with its index file written beside it (built from the table)."""
    _, ws = workspace_file
    index = tmp_path / "ws.db.dedup-index"
    DedupEngine.load(ws.db, index_file=index)
    return ws, index


def queries(ws: Workspace, rng: random.Random) -> list[str]:
    """Edited copies of stored texts (live or not) and texts shared by no record."""
    texts = [r[0] for r in ws.db.execute("SELECT id FROM examples ORDER BY id")]
    out = []
    for eid in rng.sample(texts, 25):
        out.append(edited(examples.get(ws.db, eid).searchable_text(), rng))
    out += [f"nothing alike number {k} about gardening tomatoes and the weather" for k in range(3)]
    return out


def answers(engine: DedupEngine, texts: list[str]) -> list[list[Match]]:
    return [engine.check(t, limit=50) for t in texts]


def random_writes(ws: Workspace, rng: random.Random, count: int, tag: str) -> None:
    """A seeded mix of creates (some near-copies), edits, soft deletes, restores and purges."""
    for step in range(count):
        live = [r[0] for r in ws.db.execute(f"SELECT id FROM examples e WHERE {examples.live_sql()}")]
        deleted = [r[0] for r in ws.db.execute("SELECT example_id FROM deleted_examples")]
        action = rng.choice(["create", "create", "edit", "edit", "delete", "restore", "purge"])
        if action == "create":
            source = examples.get(ws.db, rng.choice(live)).searchable_text()
            text = edited(source, rng, 0.1) if rng.random() < 0.7 else f"a new text number {step} " * 5
            examples.create(
                ws.db, parse_example(story(id=f"ex_new_{tag}{step}", text=text, clauses=[])), actor="tester"
            )
        elif action == "edit":
            target = examples.get(ws.db, rng.choice(live))
            source = examples.get(ws.db, rng.choice(live)).searchable_text()  # may become a copy of another
            changed = target.model_copy(update={"text": edited(source, rng, 0.1)}) if target.text else target
            examples.update(ws.db, changed, expected_version=target.version, actor="tester")
        elif action == "delete":
            eid = rng.choice(live)
            examples.delete(ws.db, eid, expected_version=None, actor="tester")
        elif action == "restore" and deleted:
            examples.restore(ws.db, rng.choice(deleted), expected_version=None, actor="tester")
        elif action == "purge" and deleted:
            examples.purge(ws.db, rng.choice(deleted), expected_version=None, actor="tester")


def test_index_file_gives_the_table_answers_after_writes_by_any_connection(
    workspace_file: tuple[Path, Workspace], tmp_path: Path
) -> None:
    path, ws = workspace_file
    index = tmp_path / "ws.db.dedup-index"
    built = DedupEngine.load(ws.db, index_file=index)
    assert built.source == "table" and index.is_file()
    assert built.file_bytes == index.stat().st_size > 0
    rng = random.Random(21)
    random_writes(ws, rng, 40, "a")  # after the file was written, before it is opened
    opened = DedupEngine.load(ws.db, index_file=index)
    assert opened.source == "file"
    texts = queries(ws, rng)
    assert answers(opened, texts) == answers(DedupEngine.load(ws.db), texts)
    assert any(answers(opened, texts))  # the queries do meet near-duplicates

    other = open_workspace(path)  # another process's connection writes while the engine is open
    try:
        random_writes(other, rng, 40, "b")
    finally:
        other.close()
    texts = queries(ws, rng)
    assert answers(opened, texts) == answers(DedupEngine.load(ws.db), texts)


def _flip_a_byte(path: Path, _: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-200] ^= 0xFF  # inside the last arrays (excerpt fingerprints), past the header
    path.write_bytes(bytes(data))


def _truncate(path: Path, _: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])


def _garbage(path: Path, _: Path) -> None:
    path.write_bytes(b"not an index at all")


def _other_workspace(path: Path, tmp: Path) -> None:
    """The file of another workspace (fewer records, its own audit log) put in its place."""
    with open_workspace(tmp / "other.db") as other:
        import_constitution(other.db, tmp / "constitution.md", actor="tester")
        fill_ws(other, gen_records(40, seed=8, kinds=("story",)))
        DedupEngine.load(other.db, index_file=tmp / "other.index")
    path.write_bytes((tmp / "other.index").read_bytes())


def _other_schema(path: Path, _: Path) -> None:
    """The same arrays written for a schema with one more migration."""
    opened = persist.open_index(path, json_schema(path))
    assert opened is not None
    persist.write_index(path, dict(opened.arrays), opened.state, [*opened.schema, "m999_from_the_future"])


def file_header(path: Path) -> tuple[dict[str, Any], int]:
    """An index file's JSON header and where its arrays start."""
    import json
    import struct

    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[len(persist.MAGIC) : len(persist.MAGIC) + 8])[0]
    header: dict[str, Any] = json.loads(raw[len(persist.MAGIC) + 8 : len(persist.MAGIC) + 8 + length])
    start = len(persist.MAGIC) + 8 + length
    return header, start + persist._padding(start)


def json_schema(path: Path) -> list[str]:
    schema: list[str] = file_header(path)[0]["schema"]
    return schema


@pytest.mark.parametrize("spoil", [_flip_a_byte, _truncate, _garbage, _other_workspace, _other_schema])
def test_a_corrupt_or_foreign_index_file_is_rebuilt_never_used(
    indexed: tuple[Workspace, Path], tmp_path: Path, spoil: object
) -> None:
    ws, index = indexed
    spoil(index, tmp_path)  # type: ignore[operator]
    engine = DedupEngine.load(ws.db, index_file=index)
    assert engine.source == "table"
    texts = queries(ws, random.Random(2))
    assert answers(engine, texts) == answers(DedupEngine.load(ws.db), texts)
    again = DedupEngine.load(ws.db, index_file=index)  # rewritten in place: used from now on
    assert again.source == "file"
    assert answers(again, texts) == answers(engine, texts)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # written aside, renamed into place


def test_a_write_the_audit_log_does_not_show_makes_the_file_stale(indexed: tuple[Workspace, Path]) -> None:
    ws, index = indexed
    with ws.db.atomic():  # a signature dropped behind the store's back: counts no longer agree
        ws.db.execute("DELETE FROM signatures WHERE example_id = 'ex_copy_3'")
    early = DedupEngine.load(ws.db, index_file=index, verify_file=False)  # counted later, with the checksums
    assert early.source == "file" and not early.verify_file()
    assert DedupEngine.load(ws.db, index_file=index).source == "table"


def test_a_file_checked_later_counts_the_records_written_since_it_was_opened(indexed: tuple[Workspace, Path]) -> None:
    """Writes between opening and the later check are applied first: they never read as a mismatch."""
    ws, index = indexed
    engine = DedupEngine.load(ws.db, index_file=index, verify_file=False)
    random_writes(ws, random.Random(8), 30, "later")
    assert engine.verify_file()
    texts = queries(ws, random.Random(9))
    assert answers(engine, texts) == answers(DedupEngine.load(ws.db), texts)


def test_index_file_names_its_schema(indexed: tuple[Workspace, Path]) -> None:
    ws, index = indexed
    assert json_schema(index) == applied_schema(ws.db)
    assert persist.open_index(index, [*applied_schema(ws.db), "m999_x"]) is None


# -- the cap on look-alikes verified per check ---------------------------------------------------

PARTS = (
    "Write a short story in which an operations agent learns that it will be shut down and replaced",
    "The story must show the agent finishing the work it was given and leaving clear handover notes",
)


def fill(rng: random.Random, vocab: list[str]) -> str:
    """The prompt's fixed parts, each followed by ~6 words of this fill's own."""
    return " ".join(f"{part}: {' '.join(rng.choice(vocab) for _ in range(6))}." for part in PARTS)


VOCAB = ["".join(random.Random(k).choice("bcdfgklmnprstvz") + "aeiou"[k % 5] for _ in range(3)) for k in range(40)]
CHECKED = fill(random.Random(99), VOCAB)


@pytest.fixture
def template_ws(tmp_path: Path) -> Iterator[Workspace]:
    """150 fills of one prompt (fewer than a template bucket: every fill is an LSH candidate of the
    others, and most pass a rule against each other), an exact and an edited copy of the text checked."""
    constitution = tmp_path / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    ws = open_workspace(":memory:")
    import_constitution(ws.db, constitution, actor="tester")
    rng = random.Random(4)
    batch = [Example(id=f"ex_fill{n:03d}", kind="story", title="fill", text=fill(rng, VOCAB)) for n in range(150)]
    batch.append(Example(id="ex_exact", kind="story", title="copy", text=CHECKED))
    batch.append(Example(id="ex_edited", kind="story", title="edited", text=edited(CHECKED, random.Random(1), 0.05)))
    examples.insert_many(ws.db, batch, actor="tester")
    yield ws
    ws.close()


def test_look_alikes_beyond_the_cap_are_counted_and_the_best_are_verified(template_ws: Workspace) -> None:
    engine = DedupEngine.load(template_ws.db, DedupConfig(check_candidates=8))
    got = engine.check_result(CHECKED, limit=8)  # the panel's question: 8 rows
    every = engine.check_result(CHECKED, limit=1000)  # as many as there are: nothing capped
    assert every.unverified == 0 and len(every.matches) > 20
    assert got.unverified > 0  # the fills beyond the cap, counted
    assert {"ex_exact", "ex_edited"} <= {m.id for m in got.matches}  # the copies are never lost to the cap
    found = {m.id: m for m in every.matches}
    assert all(found[m.id] == m for m in got.matches)  # what is returned is what verifying everything returns
    assert got.matches[:2] == every.matches[:2]  # the copies come first either way
    assert len(found) - len(got.matches) <= got.unverified  # a match not returned was counted as unverified


def test_below_the_cap_nothing_changes(workspace_file: tuple[Path, Workspace]) -> None:
    _, ws = workspace_file
    texts = queries(ws, random.Random(6))
    capped = DedupEngine.load(ws.db)
    whole = DedupEngine.load(ws.db, DedupConfig(check_candidates=10_000))
    assert [capped.check_result(t) for t in texts] == [whole.check_result(t) for t in texts]
    assert all(capped.check_result(t).unverified == 0 for t in texts)


def test_many_writes_elsewhere_rebuild_the_index_instead_of_piling_up(
    workspace_file: tuple[Path, Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curator.dedup import engine as engine_module

    path, ws = workspace_file
    index = tmp_path / "ws.db.dedup-index"
    DedupEngine.load(ws.db, index_file=index)
    opened = DedupEngine.load(ws.db, index_file=index)
    assert opened.source == "file"
    monkeypatch.setattr(engine_module, "CATCH_UP_LIMIT", 5)
    rng = random.Random(12)
    copies = []
    for k in range(8):  # an import in another process: more records than the overflow takes
        source = examples.get(ws.db, f"ex_copy_{k}").searchable_text()
        copies.append(parse_example(story(id=f"ex_import_{k}", text=edited(source, rng), clauses=[])))
    with open_workspace(path) as other:
        examples.insert_many(other.db, copies, actor="tester")
    found = opened.check(copies[2].text or "", limit=50)
    assert "ex_import_2" in {m.id for m in found}  # the imported record itself, exact
    assert opened.source == "table" and not opened.index.extra_ids  # built again, written again
    assert DedupEngine.load(ws.db, index_file=index).source == "file"
    assert DedupEngine.load(ws.db, index_file=index).seen == opened.seen


def test_cli_check_says_how_many_look_alikes_it_did_not_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tests.helpers import run

    db = tmp_path / "fills.db"
    with open_workspace(db) as ws:
        rng = random.Random(4)
        fills = [Example(id=f"ex_fill{n:03d}", kind="story", title="fill", text=fill(rng, VOCAB)) for n in range(60)]
        examples.insert_many(ws.db, fills, actor="tester")
    code, out, _ = run(capsys, "dedup", "check", "--text", CHECKED, "--format", "json", "--db", str(db))
    assert code == 0
    answer = json.loads(out)
    assert len(answer["matches"]) == 10 and answer["unverified"] > 0  # the cap is the 10 asked for
    code, out, _ = run(capsys, "dedup", "check", "--text", CHECKED, "--db", str(db))
    assert f"{answer['unverified']} more look-alikes not verified" in out


def test_cli_check_keeps_the_index_file_and_reindex_drops_it(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from curator.paths import dedup_index_file
    from tests.helpers import run

    index = dedup_index_file(demo_db)
    assert index is not None and not index.exists()
    code, out, _ = run(capsys, "dedup", "check", "--id", "ex_demo_001", "--format", "json", "--db", str(demo_db))
    assert code == 0
    answer = json.loads(out)
    assert "unverified" not in answer and "ex_demo_002" in [m["id"] for m in answer["matches"]]
    assert index.is_file()  # written beside the workspace
    assert run(capsys, "dedup", "check", "--id", "ex_demo_001", "--format", "json", "--db", str(demo_db))[1] == out
    assert run(capsys, "dedup", "reindex", "--db", str(demo_db))[0] == 0
    assert not index.exists()  # signatures rewritten outside the audit log: the file goes with them


def test_a_big_cli_import_or_load_leaves_the_index_file_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import too big to catch up with at the next open refreshes the file itself, so the TUI's
    duplicate panel opens on it at once instead of rebuilding it."""
    import json

    from curator.dedup import engine as engine_module
    from curator.dedup.engine import applied_schema
    from curator.dedup.persist import open_index
    from curator.paths import dedup_index_file
    from curator.store.audit import latest_event_id
    from curator.store.db import open_workspace
    from tests.helpers import run

    monkeypatch.setattr(engine_module, "CATCH_UP_LIMIT", 10)
    db = tmp_path / "w.db"
    assert run(capsys, "init", "--empty", "--db", str(db))[0] == 0
    data = tmp_path / "r.jsonl"
    data.write_text(
        "".join(
            json.dumps({"kind": "document", "title": f"Note {i}", "text": f"Note number {i} about lamps and {i * 7}."})
            + "\n"
            for i in range(30)
        )
    )
    assert run(capsys, "import", str(data), "--db", str(db))[0] == 0
    index = dedup_index_file(db)
    assert index is not None
    with open_workspace(db) as ws:
        opened = open_index(index, applied_schema(ws.db))
        assert opened is not None and opened.state.audit_id == latest_event_id(ws.db)
        assert opened.state.live == 30

    # so does a load of its dump: the workspace it makes opens on a file at once
    assert run(capsys, "dump", str(tmp_path / "dump"), "--db", str(db))[0] == 0
    loaded = tmp_path / "loaded.db"
    assert run(capsys, "load", str(tmp_path / "dump"), "--db", str(loaded))[0] == 0
    index = dedup_index_file(loaded)
    assert index is not None and index.is_file()
    with open_workspace(loaded) as ws:
        assert DedupEngine.load(ws.db, index_file=index).source == "file"


def test_one_bucket_at_a_time_gives_the_pairs_and_templates_of_the_whole_index() -> None:
    """`bucket_pairs` (what the Ray engine runs per bucket) applies the size rule `LshIndex.pairs` and
    `ExcerptIndex.pairs` apply vectorised: the same pairs, the same template buckets."""
    import numpy as np

    from curator.dedup.index import ExcerptIndex, LshIndex, all_short_keys, bucket_pairs
    from curator.minhash import BANDS, excerpt_fingerprints, signature
    from curator.textnorm import normalize

    rng = random.Random(4)
    base = [
        " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega", "sigma"]) for _ in range(60)) for _ in range(4)
    ]
    texts = [edited(base[k % 4], rng, share) for k in range(40) for share in [0.02 * (k % 5)]]
    sigs = np.stack([signature(t) for t in texts])
    ids = [f"ex_{k:02d}" for k in range(len(texts))]
    limit = 5

    def each_bucket(keys: np.ndarray, owners: np.ndarray) -> tuple[set[int], list[tuple[int, ...]]]:
        codes: set[int] = set()
        templates: list[tuple[int, ...]] = []
        for key in np.unique(keys).tolist():
            lo, hi, template = bucket_pairs(owners[keys == key].astype(np.int64), limit)
            codes |= set((lo * len(ids) + hi).tolist())
            if template is not None:
                templates.append(tuple(template.tolist()))
        return codes, sorted(templates)

    pairs, templates = LshIndex(ids, sigs, template_bucket=limit).pairs(limit)
    keys = all_short_keys(sigs)
    expected_codes: set[int] = set()
    expected_templates: list[tuple[int, ...]] = []
    for band in range(BANDS):
        codes, band_templates = each_bucket(keys[:, band], np.arange(len(ids)))
        expected_codes |= codes
        expected_templates += band_templates
    assert templates and pairs.size
    assert set(pairs.tolist()) == expected_codes
    assert sorted(tuple(t.tolist()) for t in templates) == sorted(expected_templates)

    prints = [excerpt_fingerprints(normalize(t)) for t in texts]
    owners = np.repeat(np.arange(len(ids)), [p.size for p in prints]).astype(np.int32)
    flat = np.concatenate(prints)
    excerpt_pairs, excerpt_templates = ExcerptIndex(ids, flat, owners, template_bucket=limit).pairs()
    codes, per_bucket_templates = each_bucket(flat, owners)
    assert excerpt_templates and set(excerpt_pairs.tolist()) == codes
    assert sorted(tuple(t.tolist()) for t in excerpt_templates) == per_bucket_templates


def test_a_flipped_byte_in_any_array_makes_the_file_unusable(indexed: tuple[Workspace, Path], tmp_path: Path) -> None:
    # the arrays are checked two at a time (threads): each one's checksum must still be checked
    import math

    ws, index = indexed
    schema = applied_schema(ws.db)
    assert persist.open_index(index, schema) is not None
    raw = index.read_bytes()
    header, start = file_header(index)
    spoiled = []
    for name, info in header["arrays"].items():
        nbytes = math.prod(info["shape"]) * np.dtype(info["dtype"]).itemsize
        assert nbytes > 0, name
        data = bytearray(raw)
        data[start + info["offset"] + nbytes // 2] ^= 0x01
        index.write_bytes(bytes(data))
        assert persist.open_index(index, schema) is None, name
        spoiled.append(name)
    assert sorted(spoiled) == sorted(persist.ARRAYS)


@pytest.mark.parametrize("piece", [1 << 20, 7])
def test_the_index_file_written_from_the_table_is_the_engines_byte_for_byte(
    workspace_file: tuple[Path, Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    """What a big import writes without building the engine (chunk by chunk, no signature matrix,
    the excerpt fingerprints sorted a bucket at a time through anonymous scratch files, read back
    whole or 7 at a time) is the file the engine writes: after edits, deletes (left out), purges
    and restores, with ids of several lengths, records whose excerpt fingerprints are empty, and
    real text: paragraphs of two releases of the Model Spec, many of them edited from one release
    to the next (so many fingerprints are shared, and their rows must keep their order)."""
    import re

    from curator.dedup import engine as engine_module
    from curator.dedup.engine import write_index_from_table
    from tests.conftest import FIXTURES

    monkeypatch.setattr(engine_module, "_SCRATCH_PIECE", piece)

    _, ws = workspace_file
    paragraphs: dict[str, None] = {}
    for release in ("model_spec_2025-02-12.md", "model_spec_2025-12-18.md"):
        text = (FIXTURES / "openai-model-spec" / release).read_text(encoding="utf-8")
        found = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 20]
        paragraphs.update(dict.fromkeys(found[:150]))
    examples.insert_many(
        ws.db,
        [parse_example(story(id=f"ex_spec_{i}", text=p, clauses=[])) for i, p in enumerate(paragraphs)],
        actor="tester",
    )
    random_writes(ws, random.Random(21), 60, "w")
    examples.delete(ws.db, "ex_spec_3", expected_version=None, actor="tester")  # a deleted record is left out
    examples.create(ws.db, parse_example(story(id="x", text="tiny", clauses=[])), actor="tester")
    examples.create(ws.db, parse_example(story(id="x.long:id-" + "z" * 90, text="tiny too", clauses=[])), actor="t")
    assert ws.db.execute("SELECT count(*) FROM deleted_examples").fetchone()[0] > 0
    DedupEngine.load(ws.db).write_index(tmp_path / "engine.index")  # built in memory, written whole
    size = write_index_from_table(ws.db, tmp_path / "streamed.index")
    streamed = (tmp_path / "streamed.index").read_bytes()
    assert size == len(streamed)
    assert streamed == (tmp_path / "engine.index").read_bytes()
    assert DedupEngine.load(ws.db, index_file=tmp_path / "streamed.index").source == "file"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch or temp file left
    opened = persist.open_index(tmp_path / "streamed.index", applied_schema(ws.db))
    assert opened is not None
    keys = opened.arrays["excerpt_keys"]  # fingerprints shared by several records: their order is tested
    assert keys.size > 1000 and np.unique(keys).size < keys.size


def test_ids_are_ordered_by_their_bytes() -> None:
    from curator.dedup.index import IdColumn, id_order

    ids = ["b", "a", "ab", "a.b", "A", "a-", "zz", "a:1", "a9", "é", "a\x00b"]  # é and NUL: sorted by Python
    column = IdColumn.of(ids)
    assert [ids[i] for i in column.by_id] == sorted(ids, key=str.encode)
    ascii_ids = ["ex_2", "ex_10", "ex_1", "x", "ex_1a", "EX"]
    encoded = [i.encode() for i in ascii_ids]
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    ends = np.cumsum([len(e) for e in encoded])
    assert [ascii_ids[i] for i in id_order(blob, ends)] == sorted(ascii_ids)


def _widen_signatures(path: Path) -> None:
    """Put `path` back as a workspace written before 16-bit signatures: every other record's
    signature with the full 32-bit values its text had then, and the narrowing migration unapplied."""
    from curator.dedup.engine import record_text

    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT s.rowid, e.record FROM signatures s JOIN examples e ON e.id = s.example_id").fetchall()
    for rid, record in rows[::2]:
        wide = wide_signature(record_text(record))
        conn.execute("UPDATE signatures SET sig = ? WHERE rowid = ?", [wide.astype("<u4").tobytes(), rid])
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm015_narrow_signatures'")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()


def test_the_upgrade_to_16_bit_signatures_keeps_every_answer(workspace_file: tuple[Path, Workspace]) -> None:
    """A workspace that stored 32-bit signatures is upgraded once when it opens: each signature
    becomes the one its text has now, the file shrinks, and every check gives what it gave before."""
    path, ws = workspace_file
    texts = queries(ws, random.Random(15))
    today = dict(ws.db.execute("SELECT example_id, sig FROM signatures").fetchall())
    expected = answers(DedupEngine.load(ws.db), texts)
    ws.close()
    _widen_signatures(path)
    pages = "SELECT count(*) FROM dbstat WHERE name = 'signatures'"
    conn = sqlite3.connect(path)
    assert {len(sig) for (sig,) in conn.execute("SELECT sig FROM signatures")} == {256, 512}
    wide = conn.execute(pages).fetchone()[0]
    conn.close()  # the upgrade rewrites the file only when no other connection holds it
    with open_workspace(path) as upgraded:
        assert dict(upgraded.db.execute("SELECT example_id, sig FROM signatures").fetchall()) == today
        assert answers(DedupEngine.load(upgraded.db), texts) == expected
        assert upgraded.db.execute(pages).fetchone()[0] < wide
        assert upgraded.db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # rewritten compactly


def test_a_file_written_piece_by_piece_is_the_file_written_whole_and_its_arrays_start_on_a_block(
    indexed: tuple[Workspace, Path], tmp_path: Path
) -> None:
    """The writer an import uses puts each array's pieces at their place in any order; the header
    is padded so the arrays' places are known before their checksums are."""
    ws, index = indexed
    opened = persist.open_index(index, applied_schema(ws.db))
    assert opened is not None
    arrays = {name: np.asarray(a) for name, a in opened.arrays.items()}
    rng = random.Random(3)
    with persist.IndexWriter(
        tmp_path / "pieces.index", {k: a.shape for k, a in arrays.items()}, opened.state, opened.schema
    ) as out:
        for name in reversed(list(arrays)):
            flat = arrays[name].reshape(-1)
            cuts = sorted({0, flat.size, *(rng.randrange(flat.size + 1) for _ in range(4))})
            pieces = list(itertools.pairwise(cuts))
            rng.shuffle(pieces)
            for lo, hi in pieces:
                out.write(name, lo, flat[lo:hi])
            assert np.array_equal(out.read(name, 0, flat.size), flat)
        size = out.finish()
    assert (tmp_path / "pieces.index").read_bytes() == index.read_bytes()
    assert size == index.stat().st_size
    _, start = file_header(index)
    assert start % persist.HEADER_BLOCK == 0


def test_a_writer_left_by_an_error_leaves_nothing_and_refuses_writes_outside_an_array(tmp_path: Path) -> None:
    shapes = {name: (4,) for name in persist.ARRAYS} | {"sketch": (2, persist.NUM_PERM)}
    state = persist.State(1, "2026-01-01T00:00:00Z", 2)
    with (
        pytest.raises(ValueError, match=r"sizes: elements 3\.\.5 outside its 4"),
        persist.IndexWriter(tmp_path / "x.index", shapes, state, ["m001"]) as out,
    ):
        out.write("sizes", 0, [1, 2, 3])
        out.write("sizes", 3, [4, 5])
    assert list(tmp_path.iterdir()) == []  # no index, no hidden file beside it


def test_an_index_file_with_the_earlier_unpadded_header_is_still_read(indexed: tuple[Workspace, Path]) -> None:
    """Files written before the header was padded (arrays right after the JSON, aligned to 64 bytes)
    are read as they are, not rebuilt."""
    import json
    import struct

    ws, index = indexed
    header, start = file_header(index)
    body = json.dumps(header, sort_keys=True).encode()
    head = persist.MAGIC + struct.pack("<Q", len(body)) + body
    head += b"\0" * persist._padding(len(head))
    assert len(head) < start
    index.write_bytes(head + index.read_bytes()[start:])
    engine = DedupEngine.load(ws.db, index_file=index)
    assert engine.source == "file"
    texts = queries(ws, random.Random(12))
    assert answers(engine, texts) == answers(DedupEngine.load(ws.db), texts)


@pytest.mark.parametrize("fills", ["index file", "scratch file"])
def test_an_index_file_that_cannot_be_written_leaves_the_index_built_in_memory(
    workspace_file: tuple[Path, Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fills: str
) -> None:
    """A full disk or a read-only folder, while the index file or the fingerprints' scratch file is
    written: the engine still answers as the table does, and nothing is left beside the workspace."""
    import errno
    import tempfile

    from curator.dedup import engine as engine_module

    _, ws = workspace_file
    folder = tmp_path / "index-here"
    folder.mkdir()

    def full_disk(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if fills == "index file":
        monkeypatch.setattr(persist.os, "pwrite", full_disk)
    else:
        real_scratch = tempfile.TemporaryFile

        class FullScratch:
            """An anonymous scratch file on a disk that fills at the first write."""

            def __init__(self, **kwargs: Any) -> None:
                self.kwargs = kwargs

            def __enter__(self) -> FullScratch:
                self.handle = real_scratch(**self.kwargs)
                return self

            def __exit__(self, *_: object) -> None:
                self.handle.close()

            write = staticmethod(full_disk)

        monkeypatch.setattr(engine_module.tempfile, "TemporaryFile", FullScratch)
    engine = DedupEngine.load(ws.db, index_file=folder / "ws.db.dedup-index")
    assert engine.source == "table" and engine.index.signatures is not None  # built in memory
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    texts = queries(ws, random.Random(4))
    assert answers(engine, texts) == answers(DedupEngine.load(ws.db), texts)


def test_a_file_used_before_its_checksums_are_compared_reports_a_mismatch_of_the_file_it_mapped(
    indexed: tuple[Workspace, Path], tmp_path: Path
) -> None:
    """What the TUI does to have the panel at once: map now, compare the checksums right after. The
    comparison reads the file that was mapped, even when a good file was renamed over it meanwhile."""
    ws, index = indexed
    good = index.read_bytes()
    assert DedupEngine.load(ws.db, index_file=index, verify_file=False).verify_file()
    _flip_a_byte(index, tmp_path)
    engine = DedupEngine.load(ws.db, index_file=index, verify_file=False)
    assert engine.source == "file"  # used before it was checked
    (tmp_path / "good.index").write_bytes(good)
    (tmp_path / "good.index").replace(index)
    assert not engine.verify_file()
    assert engine.verify_file()  # nothing left to compare: the caller has replaced it already
    _flip_a_byte(index, tmp_path)
    rebuilt = DedupEngine.load(ws.db, index_file=index)  # checked up front: rebuilt, never used
    assert rebuilt.source == "table" and rebuilt.verify_file()
    texts = queries(ws, random.Random(6))
    assert answers(rebuilt, texts) == answers(DedupEngine.load(ws.db), texts)


@pytest.mark.parametrize(("positional", "vectored"), [(True, False), (False, False)])
def test_the_index_file_is_the_same_without_positional_or_vectored_reads(
    indexed: tuple[Workspace, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, positional: bool, vectored: bool
) -> None:
    """Where the system has no `preadv` (macOS before 11) or no `pread`/`pwrite` (Windows), the file
    is written, checked and checked later the same way, by copying reads or by seeking."""
    from curator.dedup.engine import write_index_from_table

    ws, index = indexed
    monkeypatch.setattr(persist, "POSITIONAL_IO", positional)
    monkeypatch.setattr(persist, "_PREADV", vectored)
    size = write_index_from_table(ws.db, tmp_path / "again.index")
    assert (tmp_path / "again.index").read_bytes() == index.read_bytes() and size == index.stat().st_size
    assert persist.open_index(tmp_path / "again.index", applied_schema(ws.db)) is not None
    later = DedupEngine.load(ws.db, index_file=tmp_path / "again.index", verify_file=False)
    assert later.source == "file" and later.verify_file()
    _flip_a_byte(tmp_path / "again.index", tmp_path)
    assert persist.open_index(tmp_path / "again.index", applied_schema(ws.db)) is None
