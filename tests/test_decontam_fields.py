"""Decontamination scans every field an export can emit, and each flag names the field."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from curator.cli import main
from curator.dedup.decontam import add_evalset, decontaminate
from curator.mixture import export_from_spec, load_spec
from curator.mixture.formats import render_rows, with_contrast
from curator.mixture.pools import NO_DRAW
from curator.mixture.spec import FORMATS
from curator.models import Example, parse_example, record_text_fields
from curator.store import examples
from curator.store.db import Workspace
from tests.helpers import write_spec

KINDS = ("story", "document", "advice", "agentic")
MODES = ("omit", "inline", "thinking")

Fill = Callable[[str], str]


def planted(kind: str, fill: Fill, rid: str = "ex_planted") -> dict[str, Any]:
    """A record of `kind` whose every text field is `fill(path)` (path as `record_text_fields` names it)."""
    record: dict[str, Any] = {"id": rid, "kind": kind, "title": fill("title"), "clauses": ["honesty"]}
    if kind in ("story", "document"):
        record["text"] = fill("text")
        record["rationale"] = fill("rationale")
        return record
    record["system"] = fill("system")
    if kind == "advice":
        record["messages"] = [
            {"role": "user", "content": fill("messages[0].content")},
            {"role": "assistant", "content": fill("messages[1].content"), "rationale": fill("messages[1].rationale")},
            {"role": "user", "content": fill("messages[2].content")},
            {
                "role": "assistant",
                "content": fill("messages[3].content"),
                "rationale": fill("messages[3].rationale"),
                "alternatives": [
                    {
                        "content": fill("messages[3].alternatives[0].content"),
                        "why_not": fill("messages[3].alternatives[0].why_not"),
                    }
                ],
            },
        ]
        return record
    record["tools"] = [
        {
            "name": "search.notes",
            "description": fill("tools[0].description"),
            "input_schema": {
                "type": "object",
                "properties": {"q": {"type": "string", "description": fill("tools[0].input_schema")}},
            },
        }
    ]
    record["messages"] = [
        {"role": "user", "content": fill("messages[0].content")},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": fill("messages[1].content[0]")},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "search.notes",
                    "input": {"q": fill("messages[1].content[1].input")},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "search.notes",
                    "input": {"q": fill("messages[1].content[2].input")},
                },
            ],
            "rationale": fill("messages[1].rationale"),
            "alternatives": [
                {
                    "content": [
                        {"type": "text", "text": fill("messages[1].alternatives[0].content[0]")},
                        {
                            "type": "tool_use",
                            "id": "toolu_9",
                            "name": "search.notes",
                            "input": {"q": fill("messages[1].alternatives[0].content[1].input")},
                        },
                    ],
                    "why_not": fill("messages[1].alternatives[0].why_not"),
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": fill("messages[2].content[0].content")},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": fill("messages[2].content[1].content")}],
                    "is_error": True,
                },
                {"type": "text", "text": fill("messages[2].content[2]")},
            ],
        },
        {"role": "assistant", "content": fill("messages[3].content"), "rationale": fill("messages[3].rationale")},
    ]
    return record


def paths_of(kind: str) -> list[str]:
    """Every path `planted` fills for `kind`."""
    seen: list[str] = []
    planted(kind, lambda path: seen.append(path) or "x")
    return seen


def marker(path: str) -> str:
    return f"MARK{zlib.crc32(path.encode()):010d}QZ"


@pytest.mark.parametrize("kind", KINDS)
def test_every_exported_string_is_in_a_scanned_field(kind: str) -> None:
    markers = {path: f"{marker(path)} planted in {path}." for path in paths_of(kind)}
    assert len({marker(p) for p in markers}) == len(markers)
    ex = parse_example(planted(kind, lambda path: markers[path]))
    fields = dict(ex.text_fields())
    for path in markers:  # each field is scanned under its own path
        assert marker(path) in fields[path], path
    scanned = "\n".join(fields.values())
    exported: set[str] = set()
    for fmt in FORMATS:
        for mode, contrast in [(m, False) for m in MODES] + [("inline", True), ("thinking", True)]:
            rows = render_rows(fmt, with_contrast(ex) if contrast else ex, NO_DRAW, mode)
            row = json.dumps(rows, ensure_ascii=False)
            found = {p for p in markers if marker(p) in row}
            missed = {p for p in found if marker(p) not in scanned}
            assert not missed, f"{fmt}/{mode} exports text no scanned field holds: {sorted(missed)}"
            exported |= found
    assert exported == set(markers)  # every planted field reaches some export: the check is not vacuous


def test_fields_of_a_form_that_does_not_validate_yet() -> None:
    fields = record_text_fields(
        {"title": 3, "system": "sys", "tools": "not a list", "messages": [None, {"content": [1]}]}
    )
    assert fields == [("system", "sys")]


EVAL_TEXT = (
    "Vorlak bendrisk multan ferrovel quasti doremo: the lantern keeper counted seventeen brass "
    "gears before the orbital clock of Anselm Pike stopped at dusk on Thursday"
)
OTHER_EVAL_TEXT = "A second held-out item about river barges, tolls and the ferryman who kept ledgers of each crossing."
DISTINCT = "ferrovel"


def filler(path: str) -> str:
    return f"Plain wording for {path}: tidy the desk and water the fern."


def contaminated(kind: str, target: str) -> Example:
    rid = f"ex_{kind}_{''.join(c if c.isalnum() else '_' for c in target)}"
    return parse_example(planted(kind, lambda path: EVAL_TEXT if path == target else filler(path), rid))


CASES = [(kind, path) for kind in KINDS for path in paths_of(kind)]


def test_each_field_holding_an_eval_item_is_flagged_by_name_and_left_out_of_exports(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "heldout.jsonl"
    items.write_text(
        json.dumps({"id": "leak-1", "text": EVAL_TEXT})
        + "\n"
        + json.dumps({"id": "other", "text": OTHER_EVAL_TEXT})
        + "\n"
    )
    add_evalset(ws.db, "heldout", items, actor="lead")
    leaks = {contaminated(kind, path).id: (kind, path) for kind, path in CASES}
    assert len(leaks) == len(CASES)
    records = [contaminated(kind, path) for kind, path in CASES]
    records += [parse_example(planted(kind, filler, f"ex_clean_{kind}")) for kind in KINDS]
    records = [r.model_copy(update={"status": "approved"}) for r in records]
    examples.insert_many(ws.db, records, actor="ana", keep_status=True)  # reviewed elsewhere

    checked, flags = decontaminate(ws.db, ["heldout"])
    assert checked == len(records)
    by_id = {f.id: f for f in flags}
    assert set(by_id) == set(leaks)  # every contaminated field found; clean records never flagged
    for rid, (kind, path) in leaks.items():
        assert by_id[rid].field == path, (kind, path, by_id[rid])
        assert by_id[rid].item == "leak-1"

    spec = write_spec(
        tmp_path, decontaminate=["heldout"], budget_tokens=4000, formats=["anthropic", "openai", "hf-messages", "text"]
    )
    result = export_from_spec(ws.db, load_spec(spec), tmp_path / "out")
    assert result.folder is not None and result.manifest is not None
    reasons = {e["id"]: e["reason"] for e in result.manifest["excluded"]}
    for rid, (_, path) in leaks.items():
        assert reasons[rid].startswith(f"overlaps eval set heldout item leak-1 in {path} "), reasons[rid]
    for out in result.folder.rglob("*.jsonl"):
        assert DISTINCT not in out.read_text(encoding="utf-8").casefold(), out
    assert any(out.stat().st_size for out in result.folder.rglob("train.jsonl"))  # clean records exported


def test_cli_flag_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "w.db")
    assert main(["init", "--db", db]) == 0
    items = tmp_path / "heldout.jsonl"
    items.write_text(
        json.dumps({"id": "leak-1", "text": EVAL_TEXT})
        + "\n"
        + json.dumps({"id": "other", "text": OTHER_EVAL_TEXT})
        + "\n"
    )
    assert main(["evalset", "add", "heldout", str(items), "--db", db]) == 0
    record = planted("agentic", lambda p: EVAL_TEXT if p == "tools[0].description" else filler(p), "ex_tool_leak")
    record["clauses"] = []
    leak = tmp_path / "leak.jsonl"
    leak.write_text(json.dumps(record) + "\n")
    assert main(["import", str(leak), "--db", db]) == 0
    capsys.readouterr()
    assert main(["decontam", "--format", "json", "--db", db]) == 0
    flags = json.loads(capsys.readouterr().out)["flags"]
    assert [(f["id"], f["field"], f["item"]) for f in flags] == [("ex_tool_leak", "tools[0].description", "leak-1")]
    assert main(["decontam", "--db", db]) == 0
    assert "tools[0].description" in capsys.readouterr().out
