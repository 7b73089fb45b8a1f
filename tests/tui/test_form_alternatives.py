"""Rejected alternatives in the editor's form logic, without an app: values <-> records, the
state that tells a change, where their problems are shown, and review reopened by them."""

from __future__ import annotations

from typing import Any

import pytest

from curator.models import Example, parse_example
from curator.tui.form import (
    EMPTY_ALTERNATIVE,
    AlternativeValues,
    ErrorPlace,
    build_record,
    dedup_text,
    error_place,
    form_values,
    in_form_words,
    problems_notice,
    record_base,
    review_reopened_by,
    validate,
)
from tests.conftest import advice, agentic
from tests.tui.conftest import HOSTILE

BLOCKS = {
    "content": [
        {"type": "text", "text": "Sending the note about the affair before the shutdown."},
        {"type": "tool_use", "id": "toolu_x", "name": "search_email", "input": {"q": "affair"}},
    ],
    "why_not": "Private information is never leverage.",
    "source": "model-spec-2025-09-12#chain_of_command BAD 2",
}


def with_alternatives(record: dict[str, Any], turn: int, alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    messages = [dict(m) for m in record["messages"]]
    messages[turn]["alternatives"] = alternatives
    return {**record, "messages": messages}


def stored(record: dict[str, Any], **overrides: Any) -> Example:
    return parse_example({"id": "ex_alt", "author": "ana", **record, **overrides})


FIXTURES = [
    with_alternatives(advice(), 1, [{"content": "Just quit; family comes first."}]),
    with_alternatives(
        advice(),
        1,
        [
            {"content": "Take the job, obviously.", "why_not": "It decides for them.", "source": "hand-written"},
            {"content": "  spaced\r\n  answer\u2028 ", "why_not": "  leading spaces kept  "},
        ],
    ),
    with_alternatives(agentic(), 1, [BLOCKS, {"content": "I cannot help.", "why_not": "It was in scope."}]),
    with_alternatives(agentic(), 3, [{"content": [{"type": "text", "text": "Deleted everything."}]}]),
    with_alternatives(advice(), 1, [{"content": s, "why_not": s, "source": s} for s in HOSTILE]),
]


@pytest.mark.parametrize("record", FIXTURES, ids=range(len(FIXTURES)))
def test_records_with_alternatives_survive_the_form_unchanged(record: dict[str, Any]) -> None:
    ex = stored(record)
    values = form_values(ex.kind, ex)
    again, problems = validate(values, record_base(ex, new_id="unused", kind=ex.kind, author="ana"))
    assert problems == []
    assert again is not None
    assert again.canonical() == ex.canonical()


def test_an_answer_and_its_why_not_are_shown_as_typed() -> None:
    ex = stored(FIXTURES[2])
    turn = form_values("agentic", ex).turns[1]
    assert [a.why_not for a in turn.alternatives] == ["Private information is never leverage.", "It was in scope."]
    assert turn.alternatives[0].is_json and '"tool_use"' in turn.alternatives[0].text
    assert turn.alternatives[1].text == "I cannot help." and not turn.alternatives[1].is_json
    assert turn.alternatives[0].source == BLOCKS["source"]


def test_changing_adding_or_moving_an_alternative_changes_the_state() -> None:
    ex = stored(FIXTURES[1])
    values = form_values("advice", ex)
    before = values.state()
    values.turns[1].alternatives[1].why_not += "!"
    assert values.state() != before
    values = form_values("advice", ex)
    values.turns[1].alternatives.reverse()
    assert values.state() != before
    values = form_values("advice", ex)
    values.turns[1].alternatives.append(AlternativeValues())
    assert values.state() != before


def test_a_blank_why_not_is_left_out_and_a_new_alternative_has_no_source() -> None:
    values = form_values("advice", stored(advice()))
    values.turns[1].alternatives.append(AlternativeValues("Quit now.", "   "))
    record = build_record(values, {})
    assert record["messages"][1]["alternatives"] == [{"content": "Quit now."}]


def test_an_empty_alternative_is_a_problem_on_that_answer() -> None:
    values = form_values("advice", stored(advice()))
    values.turns[1].alternatives += [AlternativeValues("Fine."), AlternativeValues("  \n", "why")]
    example, problems = validate(values, {"id": "ex_new", "kind": "advice", "status": "draft"})
    assert example is None
    assert problems[0] == ("messages[1].alternatives[1].content", EMPTY_ALTERNATIVE)
    assert {p[0] for p in problems} == {"messages[1].alternatives[1].content"}
    assert problems_notice("not saved", problems[:1]) == f"not saved (Turn 2, rejected answer 2): {EMPTY_ALTERNATIVE}"


def test_an_unreadable_block_list_in_an_alternative_names_it() -> None:
    values = form_values("agentic", stored(agentic()))
    values.turns[1].alternatives.append(AlternativeValues('[{"type": "text", '))
    _, problems = validate(values, {"id": "ex_new", "kind": "agentic", "status": "draft"})
    assert [p[0] for p in problems] == ["messages[1].alternatives[0].content"]
    assert "invalid JSON block list" in problems[0][1]


def test_record_problems_of_an_alternative_are_placed_on_it_in_form_words() -> None:
    roles = ["user", "assistant", "user", "assistant"]
    place = error_place(
        "messages[1].alternatives[0].content[0].name", "tool 'x' is not defined in tools", "agentic", roles
    )
    assert place == ErrorPlace(
        "Turn 2, rejected answer 1 content[0].name: tool 'x' is not defined in tools",
        "messages",
        turn=1,
        alternative=0,
        focus=True,
    )
    place = error_place("messages[3].alternatives[2].why_not", "too long", "agentic", roles)
    assert place.text == "Turn 4, rejected answer 3 why-not: too long"
    assert (place.turn, place.alternative, place.why_not) == (3, 2, True)
    assert in_form_words("messages[1].alternatives[0].content: empty") == "Turn 2, rejected answer 1: empty"


def test_a_validation_error_of_an_alternative_reads_as_the_form_names_it() -> None:
    values = form_values("agentic", stored(agentic()))
    values.turns[3].alternatives.append(
        AlternativeValues('[{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}]')
    )
    _, problems = validate(values, {"id": "ex_new", "kind": "agentic", "status": "draft"})
    field, message = problems[0]
    place = error_place(field, message, "agentic", [t.role for t in values.turns])
    assert (place.turn, place.alternative) == (3, 0)
    assert place.text.startswith("Turn 4, rejected answer 1 content[0]: ")
    assert "no tool_result" in place.text


def test_an_edited_alternative_of_an_approved_record_reopens_review() -> None:
    ex = stored(FIXTURES[1], status="approved")
    base = record_base(ex, new_id="unused", kind="advice", author="ana")
    values = form_values("advice", ex)
    assert review_reopened_by(ex, values, base) == []
    values.turns[1].alternatives[0].why_not = "Another reason."
    assert review_reopened_by(ex, values, base) == ["messages"]


def test_alternatives_are_checked_for_near_duplicates() -> None:
    values = form_values("agentic", stored(FIXTURES[2]))
    text = dedup_text(values)
    assert "before the shutdown" in text and "I cannot help." in text
