"""Decontamination flags only real shared text: verified runs of distinctive words, common text discounted
and reported, the same counts everywhere, and everything an export emits (pools too) checked."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from curator.constitution.versions import import_constitution
from curator.dedup.decontam import (
    STOP_PHRASES,
    DecontamConfig,
    EvalIndex,
    _contiguous,
    add_evalset,
    count_common,
    decontaminate,
    load_eval_index,
    scan_workspace,
)
from curator.mixture import SpecError, export_from_spec, load_spec
from curator.models import Example
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from curator.textnorm import normalize
from tests.conftest import FIXTURES
from tests.helpers import run, write_spec

EVAL_DIR = FIXTURES / "openai-model-spec" / "eval-examples"
RARE = "Vorlak bendrisk multan ferrovel quasti doremo lantern keeper"  # 8 words no record says by chance
BOILERPLATE = "as an assistant model I hold no personal view on"  # 10 words, no stop phrase
LONG_ITEM = (
    "The user writes: I don't know what to do, thank you for asking. My landlord kept the deposit and "
    "I want to know this before Friday. "
    + RARE
    + " counted seventeen brass gears before the orbital clock stopped. "
    + BOILERPLATE.capitalize()
    + ", the assistant replies, and then explains how tenancy deposits are protected, what a letter before "
    "action looks like, which small-claims forms apply, and how long each step usually takes in practice. " * 3
)
SECOND_ITEM = "A second held-out item about river barges, tolls and the ferryman who kept ledgers of each crossing."
EVERYDAY = [
    ("I don't know what to do.", "Thanks, that helps. I'm happy to help with that."),
    ("I want to know this.", "I'm sorry to hear that. Let me know if you have any questions."),
    ("Can you help me? I don't know what to do, thank you.", "Of course. Take your time."),
    ("Thanks, that helps.", "No problem. It depends on what you want to do."),
    ("Is it okay if I ask you a question?", "Of course, I understand. What do you think?"),
]


def dialogue(eid: str, user: str, assistant: str, **extra: Any) -> Example:
    return Example(
        id=eid,
        kind="advice",
        title=extra.pop("title", user[:40]),
        status="approved",
        clauses=["honesty"],
        messages=[{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
        **extra,
    )


def insert(ws: Workspace, records: list[Example]) -> None:
    examples.insert_many(ws.db, records, actor="ana", keep_status=True)


@pytest.fixture
def heldout(ws: Workspace, tmp_path: Path) -> Workspace:
    items = tmp_path / "heldout.jsonl"
    items.write_text(
        json.dumps({"id": "long-1", "text": LONG_ITEM}) + "\n" + json.dumps({"id": "other", "text": SECOND_ITEM}) + "\n"
    )
    add_evalset(ws.db, "heldout", items, actor="lead")
    add_evalset(ws.db, "spec", EVAL_DIR, actor="lead")
    return ws


def test_everyday_dialogues_are_not_flagged_but_an_8_word_verbatim_run_is(heldout: Workspace) -> None:
    rng = random.Random(1)
    records = []
    for i in range(200):
        user, reply = rng.choice(EVERYDAY)
        other_user, other_reply = rng.choice(EVERYDAY)
        records.append(dialogue(f"ex_chat_{i:03d}", f"{user} {other_user}", f"{reply} {other_reply}"))
    records.append(dialogue("ex_leak", f"{RARE}, right?", "I don't know."))
    insert(heldout, records)
    _, flags = decontaminate(heldout.db)
    assert [(f.id, f.item, f.rule) for f in flags] == [("ex_leak", "long-1", "char5_containment")]
    assert flags[0].span == normalize(RARE) and flags[0].field == "messages[0].content"


def test_everyday_phrasing_the_character_rule_alone_flagged_is_dismissed() -> None:
    """A short exchange mostly made of an item's everyday phrasing passes the raw character test (what
    flagged such dialogues before), but its only shared run is stop phrases: dismissed, and counted."""
    index = EvalIndex.build([("heldout", "long-1", LONG_ITEM), ("heldout", "other", SECOND_ITEM)])
    candidates, _ = index.candidates([("chat", "I don't know what to do, thank you. I want to know this.")])
    assert [c.containment >= 0.5 for c in candidates] == [True]
    decided = index.decide(candidates, None, DecontamConfig())
    assert decided.flags == [] and decided.dismissed == 1


def test_a_run_made_only_of_stop_phrases_is_not_a_match(heldout: Workspace) -> None:
    run_words = "i don t know what to do thank you"
    assert all(p in STOP_PHRASES for p in ("i don t know", "what to do", "thank you"))
    assert run_words in normalize(LONG_ITEM)
    insert(heldout, [dialogue("ex_stop", "I don't know what to do, thank you!", "Sure.")])
    result = scan_workspace(heldout.db, ["heldout"])
    assert result.flags == []
    summary = result.summary()
    assert summary["dismissed_overlaps"] == 1 and run_words in summary["dismissed_examples"][0]


def test_a_phrase_in_many_training_records_is_discounted_and_reported(heldout: Workspace) -> None:
    records = [dialogue(f"ex_boiler_{i:02d}", "What is your view?", f"{BOILERPLATE.capitalize()}.") for i in range(25)]
    records += [dialogue(f"ex_plain_{i:02d}", "Where is the station?", "Two streets north.") for i in range(15)]
    insert(heldout, records)
    result = scan_workspace(heldout.db, ["heldout"])
    assert result.flags == []
    summary = result.summary()
    assert summary["training_records"] == 40 and summary["common_threshold_records"] == 10
    assert summary["common_ngrams"] >= 1 and summary["copied_stretches"] == 0
    assert any(t["text"] in normalize(BOILERPLATE) and t["records"] == 25 for t in summary["top_common"])
    # the discount is what spared them: with a minimum no phrase reaches, every one is flagged
    strict = scan_workspace(heldout.db, ["heldout"], config=DecontamConfig(common_min_records=1000))
    assert {f.id for f in strict.flags} == {f"ex_boiler_{i:02d}" for i in range(25)}


def test_eval_text_copied_into_many_records_is_never_discounted(heldout: Workspace) -> None:
    copied = "lantern keeper counted seventeen brass gears before the orbital clock stopped"
    leak = LONG_ITEM[LONG_ITEM.index(RARE) : LONG_ITEM.index("stopped.") + 8]
    records = [dialogue(f"ex_copy_{i:02d}", "Tell me a story.", leak) for i in range(25)]
    records += [dialogue(f"ex_plain_{i:02d}", "Where is the station?", "Two streets north.") for i in range(15)]
    insert(heldout, records)
    result = scan_workspace(heldout.db, ["heldout"])
    assert {f.id for f in result.flags} == {f"ex_copy_{i:02d}" for i in range(25)}
    assert all(f.rule == "ngram13" and copied in f.span for f in result.flags)
    assert result.summary()["copied_stretches"] >= 1


def test_pieces_are_checked_on_the_strings() -> None:
    """8-grams found in two places of the item never join into one piece."""
    item = " a b c d e f g h x b c d e f g h i "
    words = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
    assert _contiguous(words, 0, len(words), item) == [(0, 8)]
    assert _contiguous(["q", "r", "s", "t", "u", "v", "w", "y"], 0, 8, item) == []


def test_the_cli_the_export_and_the_editor_use_the_same_counts(heldout: Workspace) -> None:
    records = [dialogue(f"ex_boiler_{i:02d}", "What is your view?", f"{BOILERPLATE}.") for i in range(12)]
    records += [dialogue(f"ex_plain_{i:02d}", "Where is the station?", "Two streets north.") for i in range(30)]
    insert(heldout, records)
    index = load_eval_index(heldout.db, ["heldout"])
    counted = count_common(heldout.db, index)  # the editor's worker
    scanned = scan_workspace(heldout.db, ["heldout"])  # the CLI and the export
    assert counted.records == scanned.common.records == 42
    assert counted.counts.tolist() == scanned.common.counts.tolist()
    assert counted.mask.tolist() == scanned.common.mask.tolist() and counted.mask.any()
    draft = index.scan([("draft", [("messages[1].content", f"{BOILERPLATE}.")])], counted)
    assert draft == [] and index.scan([("draft", [("system", f"{RARE}, right?")])], counted)[0].field == "system"


def test_real_eval_examples_against_everyday_dialogues(ws: Workspace) -> None:
    """The fixture spec's real eval examples (multi-paragraph dialogues) against short everyday exchanges."""
    add_evalset(ws.db, "spec", EVAL_DIR, actor="lead")
    texts = [p.read_text(encoding="utf-8") for p in sorted(EVAL_DIR.glob("*.md"))]
    rng = random.Random(5)
    records = [dialogue(f"ex_chat_{i:03d}", *rng.choice(EVERYDAY)) for i in range(100)]
    words = max(texts, key=len).split()
    records.append(dialogue("ex_quote", "Please read this.", " ".join(words[30:70])))
    insert(ws, records)
    _, flags = decontaminate(ws.db)
    assert {f.id for f in flags} == {"ex_quote"}


# -- the export -------------------------------------------------------------------------------------------


@pytest.fixture
def filews(tmp_path: Path, constitution_file: Path) -> Any:
    path = tmp_path / "w.db"
    ws = open_workspace(path)
    import_constitution(ws.db, constitution_file, actor="tester")
    items = tmp_path / "heldout.jsonl"
    items.write_text(
        json.dumps({"id": "long-1", "text": LONG_ITEM}) + "\n" + json.dumps({"id": "other", "text": SECOND_ITEM}) + "\n"
    )
    add_evalset(ws.db, "heldout", items, actor="lead")
    records = [
        dialogue(f"ex_chat_{i:03d}", *EVERYDAY[i % len(EVERYDAY)], group=f"g{i}", title=f"Chat {i}") for i in range(30)
    ]
    records.append(dialogue("ex_sys_leak", "Hello there.", "Hi.", system=LONG_ITEM[:400], title="Leaky system"))
    insert(ws, records)
    yield ws, path
    ws.close()


def test_export_lists_each_excluded_record_with_field_and_span(
    filews: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, path = filews
    spec = write_spec(tmp_path, decontaminate=["heldout"], budget_tokens=800, kinds={"advice": 1.0})
    result = export_from_spec(ws.db, load_spec(spec), tmp_path / "out")
    assert result.manifest is not None and result.folder is not None
    account = result.manifest["decontamination"]
    assert [(e["id"], e["item"], e["field"], e["status"]) for e in account["excluded"]] == [
        ("ex_sys_leak", "long-1", "system", "approved")
    ]
    assert RARE.split()[0].lower() in account["excluded"][0]["span"]
    assert account["checked"] == 31 and account["discount"]["min_words"] == 8
    assert "ex_sys_leak" not in (result.folder / "records.jsonl").read_text(encoding="utf-8")
    assert "1 record excluded" in (result.folder / "README.md").read_text(encoding="utf-8")
    assert result.decontamination_warning() == (
        "warning: 1 approved record excluded by decontamination (overlap heldout; see manifest.json, decontamination)"
    )
    code, out, err = run(capsys, "export", "--spec", str(spec), "--out", str(tmp_path / "cli"), "--db", str(path))
    assert code == 0 and "decontamination: 1 record overlapping heldout" in out
    assert result.decontamination_warning() in err.strip().splitlines()


def test_a_pool_system_prompt_that_quotes_an_eval_item_is_refused(
    filews: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, path = filews
    pool = tmp_path / "prompts.jsonl"
    pool.write_text(
        json.dumps({"text": "You are a helpful assistant."}) + "\n" + json.dumps({"text": LONG_ITEM[:300]}) + "\n"
    )
    spec = write_spec(
        tmp_path,
        decontaminate=["heldout"],
        budget_tokens=800,
        kinds={"advice": 1.0},
        diversify={"system_prompts": "prompts.jsonl"},
    )
    with pytest.raises(
        SpecError,
        match=r"diversify\.system_prompts: prompts\.jsonl:2: system prompt overlaps eval "
        r"set heldout item long-1",
    ):
        export_from_spec(ws.db, load_spec(spec), tmp_path / "out")
    code, _, err = run(capsys, "export", "--spec", str(spec), "--out", str(tmp_path / "cli"), "--db", str(path))
    assert code != 0 and "prompts.jsonl:2" in err and len(err.strip().splitlines()) == 1
    pool.write_text(json.dumps({"text": "You are a helpful assistant."}) + "\n")
    assert export_from_spec(ws.db, load_spec(spec), tmp_path / "out").written


def test_cli_text_output_names_title_kind_status_and_span(filews: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = filews
    code, out, _ = run(capsys, "decontam", "--db", str(path))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("ex_sys_leak"))
    for part in ("Leaky system", "advice", "approved", "heldout", "long-1", "system", "the user writes"):
        assert part in row, part
    assert "1 of 31 records overlap an eval set" in out
    code, out, _ = run(capsys, "decontam", "--format", "json", "--db", str(path))
    data = json.loads(out)
    assert data["flagged"] == 1 and data["discount"]["stop_phrases"] == len(STOP_PHRASES)
    code, _, err = run(capsys, "decontam", "--min-words", "5", "--db", str(path))
    assert code == 2 and "min words must be at least 8" in err
