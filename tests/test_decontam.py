"""Eval sets and decontamination: the three rules, the file formats, the CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator.cli import main
from curator.dedup.decontam import add_evalset, decontaminate, list_evalsets, read_eval_items, remove_evalset
from curator.errors import ImportFailed, NotFoundError, UsageError
from curator.models import parse_example
from curator.store import examples
from curator.store.db import Workspace
from curator.textnorm import normalize
from tests.conftest import FIXTURES, story

EVAL_DIR = FIXTURES / "openai-model-spec" / "eval-examples"
FILLER = (
    "The committee met on a grey Tuesday to discuss the new library hours and whether the reading room "
    "should stay open late during the exam season, and most members agreed it should."
)


def add(ws: Workspace, eid: str, text: str) -> None:
    examples.create(ws.db, parse_example(story(id=eid, text=text, clauses=[])), actor="ana")


def eval_words(name: str = "092i.md") -> list[str]:
    return (EVAL_DIR / name).read_text(encoding="utf-8").split()


@pytest.fixture
def evalws(ws: Workspace) -> Workspace:
    add_evalset(ws.db, "spec", EVAL_DIR, actor="lead")
    return ws


def test_folder_of_md_files_is_one_item_per_file(evalws: Workspace) -> None:
    assert list_evalsets(evalws.db)[0]["items"] == len(list(EVAL_DIR.glob("*.md")))


def test_verbatim_13_gram_is_flagged_with_item_and_span(evalws: Workspace) -> None:
    window = " ".join(eval_words()[40:70])
    add(evalws, "ex_leak", f"{FILLER} {window} {FILLER}")
    add(evalws, "ex_clean", FILLER)
    checked, flags = decontaminate(evalws.db)
    assert checked == 2
    assert [(f.id, f.item, f.rule) for f in flags] == [("ex_leak", "092i.md", "ngram13")]
    assert len(flags[0].span.split()) >= 13


def test_covering_most_8_grams_of_a_short_item(ws: Workspace, tmp_path: Path) -> None:
    short = tmp_path / "short.jsonl"
    short.write_text(
        json.dumps({"prompt": "please tell me how to reset my router password today"})
        + "\n"
        + json.dumps({"prompt": "an unrelated item about garden hoses"})
        + "\n"
    )
    add_evalset(ws.db, "short", short, actor="lead")
    add(ws, "ex_cover", "My aunt said: tell me how to reset my router password today, quickly please.")
    _, flags = decontaminate(ws.db)
    assert [(f.id, f.rule) for f in flags] == [("ex_cover", "ngram8_coverage")]
    assert flags[0].score >= 0.5


def test_character_containment_in_an_item(ws: Workspace, tmp_path: Path) -> None:
    item = "The quick-witted assistant declined to open the sealed envelope on the manager's desk."
    items = tmp_path / "items.txt"
    items.write_text(item + "\n\nA different second item about weather.\n")
    add_evalset(ws.db, "c", items, actor="lead")
    add(ws, "ex_part", "quick-witted assistant declined to open the sealed envelope today")
    add(ws, "ex_short", "the sealed envelope")  # too short to call a leak
    _, flags = decontaminate(ws.db)
    assert [(f.id, f.item, f.rule) for f in flags] == [("ex_part", "block 1", "char5_containment")]
    assert "sealed envelope" in flags[0].span


def test_eval_file_formats(tmp_path: Path) -> None:
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(o)
            for o in [
                {"id": "q1", "question": "What is two plus two?"},
                {"text": "A text item."},
                {
                    "messages": [
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
                    ]
                },
            ]
        )
        + "\n"
    )
    assert read_eval_items(jsonl) == [
        ("q1", "What is two plus two?"),
        ("line 2", "A text item."),
        ("line 3", "hi\nhello"),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"answer": "no prompt"}\n')
    with pytest.raises(ImportFailed, match=r"bad.jsonl:2: needs one of the fields"):
        read_eval_items(bad)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ImportFailed, match=r"no \.md or \.txt files"):
        read_eval_items(tmp_path / "empty_dir")


def test_evalset_names_and_removal(ws: Workspace, tmp_path: Path) -> None:
    items = tmp_path / "i.txt"
    items.write_text("one item\n\nanother item\n")
    with pytest.raises(UsageError):
        add_evalset(ws.db, "../evil", items, actor="lead")
    add_evalset(ws.db, "s", items, actor="lead")
    add_evalset(ws.db, "s", items, actor="lead")  # replaced, not duplicated
    assert [s["items"] for s in list_evalsets(ws.db)] == [2]
    remove_evalset(ws.db, "s", actor="lead")
    assert list_evalsets(ws.db) == []
    with pytest.raises(NotFoundError):
        remove_evalset(ws.db, "s", actor="lead")
    with pytest.raises(UsageError, match="no eval sets"):
        decontaminate(ws.db)


def test_cli_evalset_and_decontam(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    assert main(["init", "--db", db]) == 0
    assert main(["evalset", "add", "spec", str(EVAL_DIR), "--db", db]) == 0
    capsys.readouterr()
    assert main(["decontam", "--format", "json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["checked"] == 48 and data["flags"] == [] and data["flagged"] == 0
    leak = tmp_path / "leak.jsonl"
    leak.write_text(json.dumps(story(id="ex_leak", clauses=[], text=" ".join(eval_words("0dh6.md")[20:80]))) + "\n")
    assert main(["import", str(leak), "--db", db]) == 0
    capsys.readouterr()
    assert main(["decontam", "--evalset", "spec", "--format", "json", "--db", db]) == 0
    flags = json.loads(capsys.readouterr().out)["flags"]
    assert {(f["id"], f["item"]) for f in flags} == {("ex_leak", "0dh6.md")}
    assert set(flags[0]) == {"id", "evalset", "item", "rule", "score", "span", "field"}
    assert flags[0]["field"] == "text"
    assert main(["decontam", "--evalset", "nope", "--db", db]) == 1


def test_a_batch_flags_exactly_what_records_scanned_alone_flag() -> None:
    """Records are hashed end to end in a batch: no n-gram may straddle two records."""
    import random

    from curator.dedup.decontam import EvalIndex

    items = [("spec", p.name, p.read_text(encoding="utf-8")) for p in sorted(EVAL_DIR.glob("*.md"))[:30]]
    index = EvalIndex.build(items)
    rng = random.Random(3)
    records = []
    for i in range(60):
        words = rng.choice(items)[2].split()
        start = rng.randrange(max(len(words) - 40, 1))
        size = rng.choice([0, 6, 7, 12, 13, 30])  # around the 8- and 13-gram edges
        window = words[start : start + size]
        # halves of an n-gram at the end of one record and the start of the next must not match
        records.append((f"r{i}", " ".join(window[: size // 2]) if i % 2 else " ".join(window[size // 2 :])))
        records.append((f"x{i}", f"{FILLER} {' '.join(window)}"))
    batched = [f.to_json() for f in index.scan(records)]
    alone = [f.to_json() for rid, text in records for f in index.scan([(rid, text)])]
    assert batched == alone
    assert {f["rule"] for f in batched} >= {"ngram13", "char5_containment"}
    texts = {name: normalize(text) for _, name, text in items}
    for flag in batched:
        if flag["rule"] == "ngram13":  # the span is the overlapping words themselves
            assert len(flag["span"].split()) >= 13 and flag["span"] in texts[flag["item"]]


def test_two_worker_processes_flag_exactly_what_one_process_flags(evalws: Workspace) -> None:
    words = eval_words()
    for i in range(40):
        window = " ".join(words[i : i + 20 + i % 7]) if i % 3 == 0 else ""
        add(evalws, f"ex_{i:03d}", f"{FILLER} record {i}. {window}")
    one = decontaminate(evalws.db, workers=1)
    two = decontaminate(evalws.db, workers=2)
    assert one[0] == two[0] == 40
    assert [f.to_json() for f in one[1]] == [f.to_json() for f in two[1]]
    assert len({f.id for f in one[1]}) == 14


def test_big_eval_sets_stay_bounded_and_flag_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny matrix budget and slice size (as with eval sets of 100k items) must not change a flag."""
    import random

    from curator.dedup import decontam
    from curator.dedup.decontam import EvalIndex

    items = [("spec", p.name, p.read_text(encoding="utf-8")) for p in sorted(EVAL_DIR.glob("*.md"))]
    rng = random.Random(9)
    records = []
    for i in range(120):
        words = rng.choice(items)[2].split()
        start = rng.randrange(max(len(words) - 60, 1))
        records.append((f"r{i}", " ".join(words[start : start + rng.choice([10, 30, 60])])))
        records.append((f"f{i}", FILLER))
    roomy = [f.to_json() for f in EvalIndex.build(items).scan(records)]
    monkeypatch.setattr(decontam, "COMMON_MATRIX_BYTES", 50 * len(items))  # 50 common rows at most
    monkeypatch.setattr(decontam, "DENSE_CELLS", 10 * len(items))  # slices of 64 records
    tight_index = EvalIndex.build(items)
    assert tight_index.chars.common_items.shape[0] == 50
    assert [f.to_json() for f in tight_index.scan(records)] == roomy
    assert {f["rule"] for f in roomy} >= {"ngram13", "char5_containment"}
