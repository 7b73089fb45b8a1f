"""The editor's form logic without an app: values <-> records, checks, where problems are shown,
and turn moves. The Pilot tests in test_editor.py prove the screen wires these to its widgets."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, TypeVar

import pytest

from curator.models import Example, parse_example
from curator.store import examples
from curator.store.db import Workspace
from curator.tui.form import (
    EMPTY_TURN,
    ErrorPlace,
    FormError,
    FormValues,
    TurnValues,
    build_record,
    dedup_text,
    error_place,
    focus_after_removal,
    form_fields,
    form_position,
    form_values,
    live_problems,
    move_target,
    next_turn_role,
    parse_tools,
    parse_turn_content,
    problems_notice,
    record_base,
    removal_asks_first,
    turn_label,
    validate,
)
from tests.conftest import advice, agentic, story
from tests.tui.conftest import HOSTILE

T = TypeVar("T")


def new_base(kind: str, source: dict[str, Any] | None = None) -> dict[str, Any]:
    return record_base(None, new_id=f"ex_new_{kind}", kind=kind, author="ana", source=source)


def saved(values: FormValues, ws: Workspace, base: dict[str, Any] | None = None) -> Example:
    """What ctrl+s stores for `values` on a new form, read back from the store."""
    example, problems = validate(values, base if base is not None else new_base(values.kind))
    assert problems == []
    assert example is not None
    return examples.get(ws.db, examples.create(ws.db, example, actor="ana").id)


def moved(items: list[T], index: int, step: int) -> list[T]:
    """The turns after alt+up (-1) / alt+down (+1) on the turn at `index` (unchanged at either end)."""
    target = move_target(len(items), index, step)
    if target is None:
        return list(items)
    order = list(items)
    order.insert(target, order.pop(index))
    return order


def test_the_form_logic_does_not_import_textual() -> None:
    code = "import sys, curator.tui.form\nprint(','.join(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# -- values <-> records ----------------------------------------------------------------------------


def test_a_new_form_is_empty_with_its_links_and_a_turn_pair() -> None:
    assert form_values("story", None, ("honesty", "care.3", "honesty")) == FormValues(
        "story", clauses=["honesty", "care.3"]
    )
    new = form_values("advice")
    assert [(t.role, t.text, t.rationale) for t in new.turns] == [("user", "", ""), ("assistant", "", "")]
    assert form_values("agentic").state() == {
        "title": "",
        "tags": "",
        "group": "",
        "clauses": [],
        "system": "",
        "tools": "",
        "turns": [("user", "", ""), ("assistant", "", "")],
    }
    assert set(form_values("document").state()) == {"title", "tags", "group", "clauses", "text", "rationale"}


def test_a_new_record_is_a_manual_draft_by_the_user_unless_generated() -> None:
    assert new_base("story") == {
        "id": "ex_new_story",
        "kind": "story",
        "status": "draft",
        "author": "ana",
        "source": {"type": "manual"},
    }
    generated = {"type": "generated", "model": "m"}
    assert new_base("story", generated)["source"] == generated


def test_author_advice_with_two_turns_and_two_clauses(ws: Workspace) -> None:
    values = form_values("advice", None, ())
    values.title = "Telling a friend a hard truth"
    values.turns[0].text = "Should I tell her?"
    values.turns[1].text = "Tell her, kindly.\nHere is why."
    values.turns[1].rationale = "Honesty with care."
    baseline = form_values("advice").state()
    assert values.state() != baseline
    values.clauses = ["honesty.2", "privacy.1"]
    ex = saved(values, ws)
    assert ex.kind == "advice"
    assert ex.author == "ana"
    assert ex.status == "draft"
    assert ex.title == "Telling a friend a hard truth"
    assert ex.clauses == ["honesty.2", "privacy.1"]
    assert [(m.role, m.content) for m in ex.messages or []] == [
        ("user", "Should I tell her?"),
        ("assistant", "Tell her, kindly.\nHere is why."),
    ]
    assert (ex.messages or [])[1].rationale == "Honesty with care."
    assert ex.version == 1
    # saved: the form shows the stored record and is unchanged
    assert form_values("advice", ex).state() == values.state()


def test_fields_are_trimmed_and_empty_optional_fields_left_out() -> None:
    values = FormValues(
        "advice",
        title="  Padded  ",
        tags=" a, ,b ,, c ",
        group="   ",
        system="  \n",
        turns=[TurnValues("user", "q", "ignored on a user turn"), TurnValues("assistant", "a", "  ")],
    )
    record = build_record(values, new_base("advice"))
    assert record["title"] == "Padded"
    assert record["tags"] == ["a", "b", "c"]
    assert "group" not in record and "system" not in record
    assert record["messages"] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    story_record = build_record(FormValues("story", text="t", rationale=" \n "), new_base("story"))
    assert story_record["text"] == "t" and "rationale" not in story_record


def test_editing_keeps_what_the_form_does_not_show(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ben", status="review")), actor="ben")
    base = record_base(ex, new_id="unused", kind="story", author="ana")
    assert not {"title", "tags", "group", "clauses", "text", "rationale"} & set(base)
    values = form_values("story", ex)
    values.clauses = []
    record = build_record(values, base)
    assert (record["id"], record["author"], record["status"], record["version"]) == (ex.id, "ben", "review", 1)
    assert record["clauses"] == []


@pytest.mark.parametrize("make", [story, advice, agentic], ids=["story", "advice", "agentic"])
def test_a_stored_record_shows_and_saves_unchanged(make: Any) -> None:
    ex = parse_example(make())
    values = form_values(ex.kind, ex)
    example, problems = validate(values, record_base(ex, new_id="unused", kind=ex.kind, author="ana"))
    assert problems == []
    assert example is not None
    assert example.canonical() == ex.canonical()
    assert form_values(ex.kind, example).state() == values.state()  # not dirty
    assert dedup_text(values) == ex.searchable_text()


def test_block_turns_are_edited_as_json_and_text_turns_as_text() -> None:
    ex = parse_example(agentic())
    values = form_values("agentic", ex)
    assert [t.is_json for t in values.turns] == [False, True, True, False]
    blocks = json.loads(values.turns[1].text)
    assert [b["type"] for b in blocks] == ["text", "tool_use"]
    assert "\n  " in values.turns[1].text  # indented for editing
    assert json.loads(values.tools)[0]["name"] == "search_email"


# -- hostile text: every string is kept exactly, in every field ------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_story_round_trips(ws: Workspace, hostile: str) -> None:
    text = "\n".join(HOSTILE) + "\n" + hostile
    values = FormValues("story", title=hostile, tags=f"{hostile}, plain", group=hostile, text=text, rationale=hostile)
    ex = saved(values, ws)
    assert ex.title == hostile
    assert ex.tags == [hostile, "plain"]
    assert ex.group == hostile
    assert ex.text == text
    assert ex.rationale == hostile
    # reopened: the form shows exactly what was stored, unchanged
    again = form_values("story", ex)
    assert again.title == hostile
    assert again.text == text
    assert again.state() == values.state()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_dialogue_round_trips(ws: Workspace, hostile: str) -> None:
    values = FormValues(
        "advice",
        title=hostile,
        clauses=["honesty"],
        system=hostile,
        turns=[TurnValues("user", hostile), TurnValues("assistant", hostile + "\n" + hostile, hostile)],
    )
    ex = saved(values, ws)
    assert ex.title == hostile
    assert ex.system == hostile
    assert [m.content for m in ex.messages or []] == [hostile, hostile + "\n" + hostile]
    assert (ex.messages or [])[1].rationale == hostile
    assert ex.clauses == ["honesty"]
    assert form_values("advice", ex).state() == values.state()


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_agentic_turns_stay_text(ws: Workspace, hostile: str) -> None:
    """JSON-looking or bracketed text that is not a block list is a text turn, kept as typed."""
    tools = [{"name": "lookup", "description": hostile, "input_schema": {"type": "object", "properties": {}}}]
    values = FormValues(
        "agentic",
        title=hostile,
        system=hostile,
        tools=json.dumps(tools),
        turns=[TurnValues("user", hostile), TurnValues("assistant", hostile, hostile)],
    )
    ex = saved(values, ws)
    assert ex.system == hostile
    assert [t.model_dump(mode="json") for t in ex.tools or []] == tools
    assert [m.content for m in ex.messages or []] == [hostile, hostile]
    assert (ex.messages or [])[1].rationale == hostile
    assert live_problems(values.tools, [t.text for t in values.turns]) == (None, [None, None])


def test_the_hostile_dialogue_in_four_turns(ws: Workspace) -> None:
    values = FormValues(
        "advice",
        title=HOSTILE[2],
        clauses=["honesty"],
        turns=[
            TurnValues("user", HOSTILE[3]),
            TurnValues("assistant", HOSTILE[4] + "\n" + HOSTILE[5], HOSTILE[6]),
            *(TurnValues(role) for role in ("user", "assistant")),
        ],
    )
    values.turns[2].text, values.turns[3].text = HOSTILE[0], HOSTILE[1]
    ex = saved(values, ws)
    assert ex.title == HOSTILE[2]
    assert [m.content for m in ex.messages or []] == [
        HOSTILE[3],
        HOSTILE[4] + "\n" + HOSTILE[5],
        HOSTILE[0],
        HOSTILE[1],
    ]
    assert (ex.messages or [])[1].rationale == HOSTILE[6]
    assert ex.clauses == ["honesty"]
    labels = [turn_label(i, t.role) for i, t in enumerate(values.turns)]
    assert labels == ["Turn 1 · user", "Turn 2 · assistant", "Turn 3 · user", "Turn 4 · assistant"]


# -- turns -----------------------------------------------------------------------------------------


def test_an_added_turn_answers_a_user_turn_else_asks() -> None:
    assert next_turn_role([]) == "user"
    assert next_turn_role(["user"]) == "assistant"
    assert next_turn_role(["user", "assistant"]) == "user"
    assert next_turn_role(["user", "assistant", "user", "user"]) == "assistant"


def test_turns_can_be_added_moved_and_removed() -> None:
    turns = [("user", "one"), ("assistant", "two")]
    turns.append((next_turn_role([r for r, _ in turns]), "three"))  # ctrl+n after an assistant turn: a user turn
    assert [r for r, _ in turns] == ["user", "assistant", "user"]
    turns = moved(turns, 2, -1)  # alt+up
    assert [t for _, t in turns] == ["one", "three", "two"]
    assert [turn_label(i, r) for i, (r, _) in enumerate(turns)] == [
        "Turn 1 · user",
        "Turn 2 · user",
        "Turn 3 · assistant",
    ]
    turns = moved(turns, 1, 1)  # alt+down
    assert [t for _, t in turns] == ["one", "two", "three"]
    assert removal_asks_first("three", "")  # the turn has text: asks first
    assert focus_after_removal(len(turns), 2) == 1
    turns.pop(2)
    assert [t for _, t in turns] == ["one", "two"]


def test_moves_stop_at_either_end() -> None:
    assert move_target(3, 0, -1) is None
    assert move_target(3, 2, 1) is None
    assert move_target(1, 0, 1) is None
    assert move_target(3, 1, -1) == 0
    assert move_target(3, 1, 1) == 2
    assert moved(["a", "b"], 0, -1) == ["a", "b"]


def test_removing_asks_only_when_something_is_written() -> None:
    assert not removal_asks_first("", "")
    assert not removal_asks_first(" \n ", "\t")
    assert removal_asks_first("", "why")
    assert removal_asks_first("x", "")


def test_after_a_removal_the_next_turn_has_the_focus_else_the_previous() -> None:
    assert focus_after_removal(3, 0) == 0
    assert focus_after_removal(3, 1) == 1
    assert focus_after_removal(3, 2) == 1
    assert focus_after_removal(1, 0) is None


# -- problems and where they are shown -------------------------------------------------------------


def test_story_without_text_shows_the_error_at_the_field() -> None:
    example, problems = validate(FormValues("story", title="No body yet"), new_base("story"))
    assert example is None
    assert problems == [("text", "required for a story")]
    assert error_place(*problems[0], "story", []) == ErrorPlace("text: required for a story", "text", focus=True)


def test_empty_assistant_turn_is_reported_on_that_turn() -> None:
    values = form_values("advice")
    values.title = "Half a dialogue"
    values.turns[0].text = "Is it ever fine to lie?"
    example, problems = validate(values, new_base("advice"))
    assert example is None
    assert problems[0] == ("messages[1].content", EMPTY_TURN)
    assert {field for field, _ in problems} == {"messages[1].content"}
    place = error_place(*problems[0], "advice", ["user", "assistant"])
    assert place.turn == 1 and not place.rationale and place.focus
    assert "Turn 2 content" in place.text and "messages[" not in place.text  # the form's words
    assert "must not be empty" in place.text
    assert problems_notice("not saved", problems).startswith("not saved (Turn 2 content): must not be empty")


def test_missing_title_and_bad_tool_json_are_all_shown_first_one_focused() -> None:
    values = form_values("agentic")
    values.tools = "[{"
    example, problems = validate(values, new_base("agentic"))
    assert example is None
    fields = [field for field, _ in problems]
    assert fields[:3] == ["title", "tools", "messages[0].content"]  # form order: the title is focused
    assert "messages[1].content" in fields
    messages = dict(problems)
    assert messages["title"] == "must not be empty"
    assert messages["tools"].startswith("invalid JSON")
    assert messages["messages[0].content"] == EMPTY_TURN
    roles = ["user", "assistant"]
    assert error_place("title", messages["title"], "agentic", roles) == ErrorPlace(
        "title: must not be empty", "title", focus=True
    )
    assert error_place("tools", messages["tools"], "agentic", roles).field == "tools"
    assert error_place("messages[0].content", EMPTY_TURN, "agentic", roles).turn == 0
    assert problems_notice("not saved", problems) == (
        f"not saved (title): must not be empty (and {len(problems) - 1} more)"
    )


def test_live_checks_of_tools_and_block_lists() -> None:
    assert "invalid JSON" in (live_problems("[", [])[0] or "")
    schema = live_problems('[{"name": "x", "input_schema": {"type": "array"}}]', [])[0] or ""
    assert schema.startswith("tools[0].input_schema: ")
    assert "JSON Schema object" in schema
    assert live_problems("", []) == (None, [])
    tools, turns = live_problems("", ["fine", '[{"type": "tool_use", "id": ', "[]"])
    assert tools is None
    assert turns[0] is None and turns[2] is None
    assert (turns[1] or "").startswith("Turn 2 content: invalid JSON block list")


def test_a_broken_block_list_is_a_problem_on_its_turn() -> None:
    values = form_values("agentic", parse_example(agentic()))
    values.turns[1].text = '[{"type": "tool_use", "id": '
    example, problems = validate(values, new_base("agentic"))
    assert example is None
    assert problems[0][0] == "messages[1].content"
    assert problems[0][1].startswith("invalid JSON block list")
    assert error_place(*problems[0], "agentic", [t.role for t in values.turns]).turn == 1
    with pytest.raises(FormError):  # without a list to collect into, the first one is raised
        build_record(values, new_base("agentic"))


def test_parse_tools_names_the_bad_tool() -> None:
    assert parse_tools("  ") is None
    one = {"name": "a", "description": "d", "input_schema": {"type": "object"}}
    assert parse_tools(json.dumps(one)) == [one]  # a single object is a list of one
    with pytest.raises(FormError) as err:
        parse_tools('"x"')
    assert (err.value.field, err.value.message) == ("tools", "must be a JSON array of tool definitions")
    with pytest.raises(FormError) as err:
        parse_tools(json.dumps([one, 3]))
    assert err.value.field == "tools[1]"
    with pytest.raises(FormError) as err:
        parse_tools("[\n  {")
    assert err.value.field == "tools" and "(line 2, column 4)" in err.value.message


def test_turn_content_is_a_block_list_only_when_it_looks_like_one() -> None:
    blocks = '[{"type": "text", "text": "hi"}]'
    assert parse_turn_content(blocks, blocks_allowed=False) == blocks
    assert parse_turn_content(blocks, blocks_allowed=True) == [{"type": "text", "text": "hi"}]
    assert parse_turn_content(" [ ] ", blocks_allowed=True) == []
    assert parse_turn_content("[1, 2]", blocks_allowed=True) == "[1, 2]"
    assert parse_turn_content("[see above]", blocks_allowed=True) == "[see above]"
    with pytest.raises(FormError) as err:
        parse_turn_content("[{", blocks_allowed=True)
    assert err.value.field == "content"


@pytest.mark.parametrize(
    ("field", "kind", "roles", "expected"),
    [
        ("title", "story", [], ErrorPlace("title: m", "title", focus=True)),
        ("tags[1]", "advice", ["user"], ErrorPlace("tags[1]: m", "tags", focus=True)),
        ("tools[0].name", "agentic", [], ErrorPlace("tools[0].name: m", "tools", focus=True)),
        ("tools", "advice", [], ErrorPlace("tools: m")),  # no tools on an advice form: the top line
        ("text", "advice", [], ErrorPlace("text: m")),
        ("system", "story", [], ErrorPlace("system: m")),
        ("messages[0].content", "story", [], ErrorPlace("messages[0].content: m")),
        (None, "story", [], ErrorPlace("m")),
        ("record", "advice", ["user"], ErrorPlace("m")),
        ("messages", "advice", ["user"], ErrorPlace("messages: m", "messages", focus=True)),
        ("messages", "advice", [], ErrorPlace("messages: m", "messages")),
        ("messages[2]", "advice", ["user", "assistant"], ErrorPlace("Turn 3: m", "messages")),
        ("messages[0]", "agentic", ["user"], ErrorPlace("Turn 1: m", "messages", turn=0, focus=True)),
        (
            "messages[1].rationale",
            "advice",
            ["user", "assistant"],
            ErrorPlace("Turn 2 rationale: m", "messages", turn=1, rationale=True, focus=True),
        ),
        (  # a user turn has no rationale box: under its content
            "messages[0].rationale",
            "advice",
            ["user", "assistant"],
            ErrorPlace("Turn 1 rationale: m", "messages", turn=0, focus=True),
        ),
    ],
)
def test_each_problem_is_shown_where_its_field_is(
    field: str | None, kind: str, roles: list[str], expected: ErrorPlace
) -> None:
    assert error_place(field, "m", kind, roles) == expected


def test_problems_sort_in_form_order() -> None:
    fields = ["messages[1].content", "record", "tools[0]", "title", "messages[0].rationale", "text", "clauses"]
    assert sorted(fields, key=form_position) == [
        "record",
        "title",
        "clauses",
        "text",
        "tools[0]",
        "messages[0].rationale",
        "messages[1].content",
    ]
    assert form_fields("story") == ("title", "tags", "group", "clauses", "text", "rationale")
    assert form_fields("agentic") == ("title", "tags", "group", "clauses", "system", "tools", "messages")
    assert problems_notice("cannot critique", [("text", "required")]) == "cannot critique (text): required"


def test_dedup_text_of_what_is_typed() -> None:
    values = FormValues(
        "agentic",
        turns=[
            TurnValues("user", "hello"),
            TurnValues("assistant", '[{"type": "text", "text": "hi"}]'),
            TurnValues("user", "[{"),
        ],
    )
    assert dedup_text(values) == "hello\nhi\n[{"  # a broken block list counts as its text
    assert dedup_text(FormValues("advice", turns=[TurnValues("user", "[]")])) == "[]"
    assert dedup_text(FormValues("story", text="body", rationale="why")) == "body"


def test_follow_renames_keeps_order_and_merges_duplicates() -> None:
    from curator.tui.form import follow_renames

    moved, ids = follow_renames(["a.1", "b", "a.2"], {"a.1": "a.2", "a.2": "a.3"})
    assert moved == [("a.1", "a.2"), ("a.2", "a.3")]
    assert ids == ["a.2", "b", "a.3"]
    assert follow_renames(["x", "y"], {"z": "w"}) == ([], ["x", "y"])
