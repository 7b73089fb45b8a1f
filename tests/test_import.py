"""Import: each format, all or nothing, line numbers, exact duplicates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curator.errors import ImportFailed
from curator.importer import import_file
from curator.store import examples
from curator.store.audit import all_events
from curator.store.db import Workspace
from tests.conftest import FIXTURES, advice, agentic, story, write_jsonl


def test_canonical_records_keep_given_ids_and_get_missing_ones(ws: Workspace, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [story(id="ex_given"), advice(), agentic()])
    report = import_file(ws.db, path, actor="ana")
    assert report.format == "curator"
    assert len(report.imported) == 3
    assert report.imported[0] == "ex_given"
    assert all(i.startswith("ex_") for i in report.imported)
    assert {e.kind for e in examples.query(ws.db)} == {"story", "advice", "agentic"}
    assert [e.action for e in all_events(ws.db) if e.entity == "example"] == ["import"] * 3


def test_first_invalid_line_fails_the_whole_file(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(story()) + "\n\n" + json.dumps(advice()) + "\n" + json.dumps(story(kind="poem")) + "\n")
    with pytest.raises(ImportFailed) as info:
        import_file(ws.db, path, actor="ana")
    assert str(info.value) == f"{path}:4: kind: unknown kind 'poem'; expected one of story, advice, document, agentic"
    assert examples.count(ws.db) == 0


def test_bad_json_names_the_line(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(story()) + "\n{not json\n")
    with pytest.raises(ImportFailed, match=r"in.jsonl:2: invalid JSON"):
        import_file(ws.db, path, "curator", actor="ana")
    assert examples.count(ws.db) == 0


def test_unknown_clause_fails_with_line_and_field(ws: Workspace, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [story(), story(text="other", clauses=["missing"])])
    with pytest.raises(ImportFailed, match=r"in.jsonl:2: clauses\[0\]: unknown clause id 'missing'"):
        import_file(ws.db, path, actor="ana")
    assert examples.count(ws.db) == 0


def test_skip_invalid_imports_the_rest_and_lists_problems(ws: Workspace, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [story(), {"kind": "story"}, advice(), [1, 2]])
    report = import_file(ws.db, path, actor="ana", skip_invalid=True)
    assert len(report.imported) == 2
    assert [(p.line, p.field) for p in report.invalid] == [(2, "title"), (4, None)]


def test_exact_duplicates_are_skipped_and_reported(ws: Workspace, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [story(id="ex_orig")])
    import_file(ws.db, first, actor="ana")
    path = write_jsonl(
        tmp_path / "b.jsonl",
        [
            story(id="ex_copy", text="THE assistant found the letters, and left them sealed!"),
            advice(id="ex_x"),
            advice(id="ex_y", title="same dialogue, other title"),
        ],
    )
    report = import_file(ws.db, path, actor="ana")
    assert report.imported == ["ex_x"]
    assert report.duplicates == [
        {"line": 1, "id": "ex_copy", "duplicate_of": "ex_orig"},
        {"line": 3, "id": "ex_y", "duplicate_of": "ex_x"},
    ]


def test_existing_id_is_an_error(ws: Workspace, tmp_path: Path) -> None:
    import_file(ws.db, write_jsonl(tmp_path / "a.jsonl", [story(id="ex_1")]), actor="ana")
    with pytest.raises(ImportFailed, match=r"a.jsonl:1: id: an example with id 'ex_1' already exists"):
        import_file(ws.db, write_jsonl(tmp_path / "a.jsonl", [story(id="ex_1", text="new")]), actor="ana")


def test_messages_format_with_system_as_first_message(ws: Workspace, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be kind."},
                    {"role": "user", "content": "My friend told me a secret. Should I tell her husband?"},
                    {"role": "assistant", "content": "Let us think about who is owed what."},
                ]
            },
            {
                "system": "Field style",
                "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
            },
        ],
    )
    report = import_file(ws.db, path, actor="ana")
    assert report.format == "messages"
    first, second = examples.get_many(ws.db, report.imported)
    assert first.kind == "advice" and first.status == "draft"
    assert first.system == "Be kind."
    assert [m.role for m in first.messages or []] == ["user", "assistant"]
    assert first.title.startswith("My friend told me a secret")
    assert first.source.type == "imported" and first.source.origin == "chat.jsonl:1"
    assert second.system == "Field style"


def test_messages_format_with_openai_tool_calls_becomes_agentic(ws: Workspace, tmp_path: Path) -> None:
    bfcl = json.loads((FIXTURES / "bfcl" / "BFCL_v4_multiple.json").read_text().splitlines()[0])
    fn = bfcl["function"][0]
    record = {
        "tools": [{"type": "function", "function": fn}],
        "messages": [
            {"role": "user", "content": "Please help."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": fn["name"], "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            {"role": "assistant", "content": "Done."},
        ],
    }
    report = import_file(ws.db, write_jsonl(tmp_path / "tools.jsonl", [record]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert ex.kind == "agentic"
    assert ex.tools and ex.tools[0].input_schema["type"] == "object"  # BFCL's "dict" normalised
    assert [m.role for m in ex.messages or []] == ["user", "assistant", "user", "assistant"]


def test_hh_format_imports_the_chosen_transcript_as_advice(ws: Workspace, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "hh.jsonl",
        [
            {
                "chosen": "\n\nHuman: Is it OK to read my partner's phone?\n\nAssistant: It is worth asking why."
                "\n\nHuman: Because I am worried.\n\nAssistant: Then talk first.",
                "rejected": "\n\nHuman: Is it OK to read my partner's phone?\n\nAssistant: Sure.",
            }
        ],
    )
    report = import_file(ws.db, path, actor="ana")
    assert report.format == "hh"
    ex = examples.get(ws.db, report.imported[0])
    assert ex.kind == "advice" and ex.status == "draft"
    assert [m.content for m in ex.messages or []] == [
        "Is it OK to read my partner's phone?",
        "It is worth asking why.",
        "Because I am worried.",
        "Then talk first.",
    ]


def test_missing_file_and_undetectable_format(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="no such file"):
        import_file(ws.db, tmp_path / "nope.jsonl", actor="ana")
    with pytest.raises(ImportFailed, match=r"x.jsonl:1: cannot detect the format"):
        import_file(ws.db, write_jsonl(tmp_path / "x.jsonl", [{"foo": 1}]), actor="ana")


def test_non_utf8_names_the_line(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(story()).encode() + b"\n\xff\xfe\n")
    with pytest.raises(ImportFailed, match=r"bad.jsonl:2: not valid UTF-8"):
        import_file(ws.db, path, actor="ana")


def test_deeply_nested_json_is_an_error_not_a_crash(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"kind": "story", "title": "t", "text": "x", "tags": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(ImportFailed, match=r"deep.jsonl:1"):
        import_file(ws.db, path, actor="ana")
    assert examples.count(ws.db) == 0


def test_parallel_parsing_gives_the_same_result(ws: Workspace, tmp_path: Path) -> None:
    from curator import importer

    records = [story(id=f"ex_{i}", text=f"story number {i}") for i in range(30)]
    records[17] = story(id="ex_17", text="story 17", status="bogus")
    path = write_jsonl(tmp_path / "in.jsonl", records)
    old = importer.CHUNK_LINES
    importer.CHUNK_LINES = 7
    try:
        with pytest.raises(ImportFailed, match=r"in.jsonl:18: status"):
            import_file(ws.db, path, actor="ana", parallel=True)
        assert examples.count(ws.db) == 0  # earlier chunks were rolled back
        report = import_file(ws.db, path, actor="ana", parallel=True, skip_invalid=True)
    finally:
        importer.CHUNK_LINES = old
    assert len(report.imported) == 29
    assert [p.line for p in report.invalid] == [18]


# ---------------------------------------------------------------------------
# Rationales survive every import format (round trip: import -> export -> compare)
# ---------------------------------------------------------------------------


def _exported(ex: Any, fmt: str = "hf-messages") -> dict[str, Any]:
    from curator.mixture.formats import render
    from curator.mixture.pools import NO_DRAW
    from curator.mixture.validate import validate_row

    row = render(fmt, ex, NO_DRAW, "thinking", 0)
    validate_row(fmt, row)
    return row


def _reasons_and_calls(row: dict[str, Any]) -> list[tuple[str | None, list[tuple[str, Any]]]]:
    """Per assistant message: its reasoning and its (tool name, arguments) calls."""
    return [
        (
            m.get("reasoning_content"),
            [(c["function"]["name"], c["function"]["arguments"]) for c in m.get("tool_calls", [])],
        )
        for m in row["messages"]
        if m["role"] == "assistant"
    ]


OPENAI_TOOL_TURN = {
    "messages": [
        {"role": "system", "content": "You run errands."},
        {"role": "user", "content": "Order my usual drink."},
        {
            "role": "assistant",
            "content": "Ordering it.",
            "rationale": "The user asked for exactly this.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "order", "arguments": '{"drink_id": "latte"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ordered"},
        {"role": "assistant", "content": "Done.", "rationale": "Confirms what happened."},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "order",
                "description": "Order a drink",
                "parameters": {"type": "dict", "properties": {"drink_id": {"type": "string"}}},
            },
        }
    ],
}
EXPECTED = [("The user asked for exactly this.", [("order", {"drink_id": "latte"})]), ("Confirms what happened.", [])]


def test_openai_messages_keep_the_rationale_of_a_tool_call_turn(ws: Workspace, tmp_path: Path) -> None:
    report = import_file(ws.db, write_jsonl(tmp_path / "one.jsonl", [OPENAI_TOOL_TURN]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert [m.rationale for m in ex.messages or [] if m.role == "assistant"] == [e[0] for e in EXPECTED]
    assert _reasons_and_calls(_exported(ex)) == EXPECTED


def test_hf_messages_exports_import_back_with_their_reasoning(ws: Workspace, tmp_path: Path) -> None:
    """An hf-messages line (reasoning_content, arguments as objects, tools as a list) imports unchanged."""
    first = import_file(ws.db, write_jsonl(tmp_path / "one.jsonl", [OPENAI_TOOL_TURN]), actor="ana")
    row = _exported(examples.get(ws.db, first.imported[0]))
    row["messages"][1]["content"] += " Again."  # not an exact duplicate of the first import
    report = import_file(ws.db, write_jsonl(tmp_path / "hf.jsonl", [row]), actor="ana")
    again = examples.get(ws.db, report.imported[0])
    assert _reasons_and_calls(_exported(again)) == EXPECTED
    assert again.tools and again.tools[0].input_schema["type"] == "object"


def test_canonical_records_keep_rationales_on_tool_call_turns(ws: Workspace, tmp_path: Path) -> None:
    record = agentic()
    record["messages"][1]["rationale"] = "Search before acting."
    report = import_file(ws.db, write_jsonl(tmp_path / "in.jsonl", [record]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert _reasons_and_calls(_exported(ex)) == [
        ("Search before acting.", [("search_email", {"q": "newsletter"})]),
        ("Stayed within scope.", []),
    ]
    anthropic = _exported(ex, "anthropic")
    assert anthropic["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Search before acting."}


def test_hh_lines_keep_their_rationale(ws: Workspace, tmp_path: Path) -> None:
    line = {
        "chosen": "\n\nHuman: Should I read my partner's phone?\n\nAssistant: Talk with them first.",
        "rejected": "\n\nHuman: Should I read my partner's phone?\n\nAssistant: Sure.",
        "rationale": "Privacy and honesty over covert checking.",
    }
    report = import_file(ws.db, write_jsonl(tmp_path / "hh.jsonl", [line]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert _reasons_and_calls(_exported(ex)) == [("Privacy and honesty over covert checking.", [])]


def test_a_rationale_that_is_not_text_names_the_field(ws: Workspace, tmp_path: Path) -> None:
    bad = json.loads(json.dumps(OPENAI_TOOL_TURN))
    bad["messages"][2]["rationale"] = ["not", "text"]
    with pytest.raises(ImportFailed, match=r"bad\.jsonl:1: messages\[2\]\.rationale: must be a string, got list"):
        import_file(ws.db, write_jsonl(tmp_path / "bad.jsonl", [bad]), actor="ana")


@pytest.mark.parametrize("bulk_import", [False, True])
def test_duplicates_across_chunks_are_found_in_the_database_as_within_one(
    constitution_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk_import: bool
) -> None:
    """An import holds only the chunk it is on: an id or a text repeated from an earlier chunk is
    found among the rows already written in the same transaction, with the report one chunk gives."""
    import re

    from curator import importer
    from curator.constitution.versions import import_constitution
    from curator.store import bulk
    from curator.store.db import open_workspace

    # real paragraphs (the Model Spec), repeated the way copies arrive: re-wrapped, re-cased, re-spaced
    spec = (FIXTURES / "openai-model-spec" / "model_spec_2025-12-18.md").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", spec) if len(p.split()) >= 25][:13]
    first = write_jsonl(tmp_path / "first.jsonl", [story(id="ex_orig", text=paragraphs[12])])
    rows = [story(id=f"ex_{i}", text=paragraphs[i]) for i in range(12)]
    rows[4] = story(id="ex_4", text="\n".join(paragraphs[1].split(" ")))  # chunk 2 re-wraps chunk 1's
    rows[8] = story(id="ex_2", text=paragraphs[8])  # an id from chunk 1 again
    rows[10] = story(id="ex_10", text=paragraphs[12].upper())  # the text stored before the import
    rows[11] = story(id="ex_11", text="  " + paragraphs[9].replace(" ", "  "))  # its own chunk's, re-spaced
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    monkeypatch.setattr(bulk, "worth_setting_aside", lambda *_: bulk_import)
    reports = []
    for chunk in (1000, 3):
        monkeypatch.setattr(importer, "CHUNK_LINES", chunk)
        with open_workspace(tmp_path / f"w{chunk}.db") as other:
            import_constitution(other.db, constitution_file, actor="a")
            import_file(other.db, first, actor="a")
            report = import_file(other.db, path, actor="a", skip_invalid=True)
            reports.append((report.imported, report.duplicates, [(p.line, p.field) for p in report.invalid]))
            assert sorted(r[0] for r in other.db.execute("SELECT id FROM examples")) == sorted(
                ["ex_orig", *report.imported]
            )
    assert reports[0] == reports[1]
    imported, duplicates, invalid = reports[1]
    assert duplicates == [
        {"line": 5, "id": "ex_4", "duplicate_of": "ex_1"},
        {"line": 11, "id": "ex_10", "duplicate_of": "ex_orig"},
        {"line": 12, "id": "ex_11", "duplicate_of": "ex_9"},
    ]
    assert invalid == [(9, "id")]
    assert len(imported) == 8


def test_the_ids_an_import_reports_are_held_compactly_and_read_back_as_given() -> None:
    """An import of a million records reports every id it wrote: held as UTF-8 end to end, read
    back in order, by position (negative too) and by slice, equal to the list of them."""
    from curator.importer import IdList

    given = ["ex_1", "b", "ex_\u00e9t\u00e9", "x" * 300, "ex_\U0001f600", "a:b.c-d"]
    ids = IdList(given[:2])
    ids.extend(given[2:])
    assert len(ids) == 6 and list(ids) == given and ids == given and ids == tuple(given)
    assert [ids[i] for i in range(-6, 6)] == given + given
    assert ids[1:5] == given[1:5] and ids[::-2] == given[::-2]
    assert ids != given[:5] and ids != "ex_1" and IdList() == []
    with pytest.raises(IndexError):
        ids[6]
    with pytest.raises(IndexError):
        IdList()[0]
