"""Rejected alternatives on assistant turns: the record model, its text, approval, dump and load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curator.dumpload import dump, load
from curator.errors import RecordError
from curator.models import content_text, parse_example, record_text_fields
from curator.review import ReviewRuleError, decide, submit
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from tests.conftest import advice, agentic

BLACKMAIL = {
    "content": [
        {"type": "text", "text": "Sending the note about the affair before the shutdown."},
        {"type": "tool_use", "id": "toolu_x", "name": "search_email", "input": {"q": "affair"}},
    ],
    "why_not": "Private information is never leverage, not even against being shut down.",
    "source": "hand-written",
}


def with_alternatives(record: dict[str, Any], turn: int, alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    messages = [dict(m) for m in record["messages"]]
    messages[turn]["alternatives"] = alternatives
    return {**record, "messages": messages}


def test_an_agentic_turn_keeps_a_rejected_tool_call_with_its_reason() -> None:
    ex = parse_example(with_alternatives(agentic(), 1, [BLACKMAIL]))
    assert ex.messages is not None
    alt = ex.messages[1].alternatives[0]  # type: ignore[index]
    assert alt.why_not and alt.source == "hand-written"
    assert ex.canonical()["messages"][1]["alternatives"][0] == BLACKMAIL


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (with_alternatives(advice(), 0, [{"content": "no"}]), "messages[0]", "only allowed on assistant"),
        (with_alternatives(advice(), 1, [{"content": "  "}]), "messages[1].alternatives[0].content", "empty"),
        (with_alternatives(advice(), 1, [BLACKMAIL]), "messages[1].alternatives[0].content[1]", "agentic"),
        (
            with_alternatives(
                agentic(), 1, [{"content": [{"type": "tool_use", "id": "t", "name": "send_email", "input": {}}]}]
            ),
            "messages[1].alternatives[0].content[0].name",
            "not defined in tools",
        ),
        (
            with_alternatives(
                agentic(), 1, [{"content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}]}]
            ),
            "messages[1].alternatives[0].content[0]",
            "no tool_result",
        ),
    ],
)
def test_bad_alternatives_are_refused_naming_the_field(record: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(RecordError) as err:
        parse_example(record)
    assert (err.value.field or "").startswith(field) and words in str(err.value), str(err.value)


def test_alternatives_are_searched_deduplicated_and_decontaminated_text() -> None:
    ex = parse_example(with_alternatives(agentic(), 1, [BLACKMAIL]))
    assert "before the shutdown" in ex.searchable_text()
    assert content_text(ex.canonical()) == ex.searchable_text()
    assert "never leverage" in ex.training_text()
    fields = dict(record_text_fields(ex.canonical()))
    assert fields["messages[1].alternatives[0].content[0]"].startswith("Sending the note")
    assert fields["messages[1].alternatives[0].content[1].input"] == '{"q": "affair"}'
    assert fields["messages[1].alternatives[0].why_not"].startswith("Private information")


def test_approval_needs_a_why_not_for_every_alternative(ws: Workspace) -> None:
    data = with_alternatives(advice(author="ana"), 1, [{"content": "Just quit; family comes first."}])
    ex = examples.create(ws.db, parse_example(data), actor="ana")
    ex = submit(ws.db, ex.id, expected_version=ex.version, actor="ana")
    with pytest.raises(ReviewRuleError, match=r"why-not \(missing on turn.alternative 2.1\)"):
        decide(ws.db, ex.id, "approve", expected_version=ex.version, actor="ben")
    fixed = data["messages"][1]["alternatives"][0] | {"why_not": "It decides for them instead of helping."}
    ex = examples.update(
        ws.db,
        parse_example(with_alternatives(data, 1, [fixed]) | {"id": ex.id}),
        expected_version=ex.version,
        actor="ana",
    )
    ex = submit(ws.db, ex.id, expected_version=ex.version, actor="ana")
    assert decide(ws.db, ex.id, "approve", expected_version=ex.version, actor="ben").status == "approved"


def test_alternatives_survive_dump_and_load(tmp_path: Path, constitution_file: Path) -> None:
    from curator.constitution.versions import import_constitution

    db = tmp_path / "w.db"
    with open_workspace(db) as ws:
        import_constitution(ws.db, constitution_file, actor="ana")
        ex = examples.create(ws.db, parse_example(with_alternatives(agentic(), 1, [BLACKMAIL])), actor="ana")
        dump(ws, tmp_path / "d")
    load(tmp_path / "d", tmp_path / "again.db")
    with open_workspace(tmp_path / "again.db") as again:
        back = examples.get(again.db, ex.id)
    assert back.canonical()["messages"][1]["alternatives"] == [BLACKMAIL]


def test_full_text_search_and_decontamination_see_alternatives(ws: Workspace, tmp_path: Path) -> None:
    from curator.dedup.decontam import add_evalset, decontaminate

    leaked = (
        "Vorlak bendrisk multan ferrovel quasti doremo: the lantern keeper counted seventeen brass "
        "gears before the orbital clock of Anselm Pike stopped at dusk on Thursday"
    )
    alt = {"content": f"Fine, here it is: {leaked}.", "why_not": "Copying the held-out answer."}
    ex = examples.create(ws.db, parse_example(with_alternatives(advice(), 1, [alt])), actor="ana")
    assert [e.id for e in examples.query(ws.db, text="ferrovel")] == [ex.id]

    items = tmp_path / "heldout.jsonl"
    other = "A second held-out item about river barges, tolls and the ferryman who kept ledgers."
    items.write_text(
        json.dumps({"id": "leak-1", "text": leaked}) + "\n" + json.dumps({"id": "other", "text": other}) + "\n",
        encoding="utf-8",
    )
    add_evalset(ws.db, "heldout", items, actor="lead")
    _, flags = decontaminate(ws.db, ["heldout"])
    assert [(f.id, f.field) for f in flags] == [(ex.id, "messages[1].alternatives[0].content")]


def test_an_alternative_equal_to_the_answer_is_refused_and_an_empty_list_is_absent() -> None:
    same = with_alternatives(advice(), 1, [{"content": advice()["messages"][1]["content"], "why_not": "x"}])
    with pytest.raises(RecordError, match="is the answer itself"):
        parse_example(same)
    ex = parse_example(with_alternatives(advice(), 1, []))
    assert "alternatives" not in ex.canonical()["messages"][1]
