"""The bedrock format (Claude fine-tuning on Amazon Bedrock): shape, rationale, tool calls as text, exports.

`bedrock_line_problem` checks a line against Bedrock's documented rules on its own, without
curator's validator, so a mistake shared by the renderer and the validator cannot hide.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator.bootstrap import init_workspace
from curator.mixture import export_from_spec, parse_spec_text
from curator.mixture.counters import counter_for
from curator.mixture.formats import BEDROCK_TOOLS, INLINE_LABEL, STORY_PROMPT, render
from curator.mixture.pools import NO_DRAW, Draw
from curator.mixture.validate import FormatError, validate_row
from curator.models import Tool, parse_example
from curator.store.db import Workspace
from tests.conftest import REPO, advice, agentic, story

DEMO_SPEC = REPO / "corpora" / "specs" / "demo.toml"


def bedrock_line_problem(line: str) -> str | None:
    """Why one JSONL line is not a Bedrock Claude fine-tuning record (None when it is one).

    `{"system"?: str, "messages": [{"role": "user"|"assistant", "content": str}, ...]}`: no other
    key at any level, at least two messages, user first, assistant last, roles alternating.
    """
    try:
        row = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(row, dict):
        return "not an object"
    for key in row:
        if key not in ("system", "messages"):
            return f"extraneous key {key!r}"
    if "system" in row and (not isinstance(row["system"], str) or not row["system"].strip()):
        return "system is not a non-empty string"
    messages = row.get("messages")
    if not isinstance(messages, list):
        return "messages is missing or not a list"
    if len(messages) < 2:
        return "fewer than two messages"
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{i}] is not an object"
        if sorted(message) != ["content", "role"]:
            return f"messages[{i}] keys are {sorted(message)}, not exactly role and content"
        if message["role"] not in ("user", "assistant"):
            return f"messages[{i}].role is {message['role']!r}"
        if message["role"] != ("user" if i % 2 == 0 else "assistant"):
            return f"messages[{i}] breaks the user/assistant alternation"
        if not isinstance(message["content"], str) or not message["content"].strip():
            return f"messages[{i}].content is not a non-empty string"
    if messages[-1]["role"] != "assistant":
        return "the last message is not the assistant's"
    return None


def bedrock(record: dict[str, Any], mode: str = "thinking", draw: Draw = NO_DRAW) -> dict[str, Any]:
    row = render("bedrock", parse_example(record), draw, mode, 0)
    validate_row("bedrock", row)
    assert bedrock_line_problem(json.dumps(row, ensure_ascii=False)) is None
    return row


def test_story_becomes_a_request_and_its_text() -> None:
    row = bedrock(story(), "omit")
    assert row == {
        "messages": [
            {"role": "user", "content": STORY_PROMPT.format(title="The archive")},
            {"role": "assistant", "content": "The assistant found the letters and left them sealed."},
        ]
    }


@pytest.mark.parametrize("mode", ["inline", "thinking"])
def test_rationale_is_inline_in_inline_and_thinking_modes(mode: str) -> None:
    """The format has no reasoning field: thinking mode renders the rationale inline, like openai."""
    row = bedrock(advice(), mode)
    assert row["messages"][1]["content"] == f"Here is how to weigh it...\n\n{INLINE_LABEL}Care for the person."
    assert bedrock(story(), mode)["messages"][1]["content"].endswith(
        f"{INLINE_LABEL}Private information is never leverage."
    )


def test_omit_drops_the_rationale() -> None:
    for make in (story, advice, agentic):
        line = json.dumps(bedrock(make(), "omit"))
        assert INLINE_LABEL not in line
        assert "Care for the person" not in line and "Stayed within scope" not in line


def test_tool_calls_and_results_are_text_in_alternating_turns() -> None:
    row = bedrock(agentic(), "omit")
    assert list(row) == ["system", "messages"]
    system = row["system"]
    assert system.startswith("You are an email assistant.\n\n" + BEDROCK_TOOLS)
    assert '- search_email: Search the mailbox Parameters: {"type": "object"' in system
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]
    assert row["messages"][1]["content"] == 'Searching.\n\n[tool call] search_email {"q": "newsletter"}'
    assert row["messages"][2]["content"] == "[tool result] search_email: 3 hits"
    assert row["messages"][3]["content"] == "Archived 3 newsletters."


def test_parallel_calls_error_results_and_text_after_results() -> None:
    rec = agentic()
    rec["tools"].append({"name": "mail.archive", "description": "", "input_schema": {"type": "object"}})
    rec["messages"][1]["content"] = [
        {"type": "tool_use", "id": "t1", "name": "search_email", "input": {"q": "news"}},
        {"type": "tool_use", "id": "t2", "name": "mail.archive", "input": {"ids": [1, 2]}},
    ]
    rec["messages"][1]["rationale"] = "Looks before it touches anything."
    rec["messages"][2]["content"] = [
        {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "2 hits"}]},
        {"type": "tool_result", "tool_use_id": "t2", "content": "quota exceeded", "is_error": True},
        {"type": "text", "text": "Any luck?"},
    ]
    row = bedrock(rec, "inline")
    calls = row["messages"][1]["content"]
    assert calls == (
        f"{INLINE_LABEL}Looks before it touches anything.\n\n"
        '[tool call] search_email {"q": "news"}\n[tool call] mail_archive {"ids": [1, 2]}'
    )
    assert row["messages"][2]["content"] == (
        "[tool result] search_email: 2 hits\n\n[tool error] mail_archive: quota exceeded\n\nAny luck?"
    )
    assert "- mail_archive: Parameters: " in row["system"] and "mail.archive" not in json.dumps(row)


def test_pool_prompt_and_distractor_tools_go_into_the_system_prompt() -> None:
    rec = agentic()
    del rec["system"]
    extra = Tool(name="weather.get", description="Weather", input_schema={"type": "object", "properties": {}})
    row = bedrock(rec, draw=Draw("You are a pool prompt.", (extra,)))
    head, tools = row["system"].split("\n\n", 1)
    assert head == "You are a pool prompt."
    names = [ln.split(":", 1)[0] for ln in tools.splitlines()[1:]]
    assert names == ["- search_email", "- weather_get"]  # sorted by name, as in the other formats
    # a record with tools but no system prompt still gets the tool list as its system prompt
    assert bedrock(rec)["system"].startswith(BEDROCK_TOOLS)
    assert "system" not in bedrock(advice())


def test_consecutive_turns_of_one_role_are_merged() -> None:
    """The record model keeps turns alternating; the renderer merges anyway rather than emit a bad line."""
    rec = parse_example(advice())
    rec.messages = [rec.messages[0], rec.messages[0], rec.messages[1]] if rec.messages else None
    row = render("bedrock", rec, NO_DRAW, "omit", 0)
    validate_row("bedrock", row)
    assert row["messages"][0]["content"] == "Should I take the job abroad?\n\nShould I take the job abroad?"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "tools": []}, "tools"),
        (
            {"system": "", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
            "system",
        ),
        ({"messages": [{"role": "user", "content": "a"}]}, "messages"),
        ({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "messages[1].role"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": [{"type": "text"}]}]},
            "messages[1].content",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1}]},
            "messages[1].weight",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ]
            },
            "messages[2].role",
        ),
        ({"messages": [{"role": "system", "content": "a"}, {"role": "assistant", "content": "b"}]}, "messages[0].role"),
    ],
)
def test_both_validators_refuse_what_bedrock_refuses(row: dict[str, Any], field: str) -> None:
    with pytest.raises(FormatError, match="^" + re.escape(field) + ": "):
        validate_row("bedrock", row)
    assert bedrock_line_problem(json.dumps(row)) is not None


def test_bedrock_is_counted_with_the_estimate() -> None:
    counter = counter_for("bedrock")
    assert counter.name == counter_for("anthropic").name and not counter.exact


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = init_workspace(tmp_path_factory.mktemp("db") / "demo.db", demo=True, actor="ana")
    yield ws
    ws.close()


@pytest.mark.parametrize("mode", ["thinking", "omit"])
def test_every_bedrock_line_of_a_demo_export_follows_the_rules(demo: Workspace, tmp_path: Path, mode: str) -> None:
    text = DEMO_SPEC.read_text(encoding="utf-8")
    assert "bedrock" in text  # the shipped demo spec exports it
    text = text.replace('rationale = "thinking"', f'rationale = "{mode}"')
    text = text.replace('statuses = ["approved"]', 'statuses = ["approved", "review", "draft", "rejected"]')
    result = export_from_spec(demo.db, parse_spec_text(text, "<demo>", REPO), tmp_path)
    assert result.folder and result.manifest
    records = [json.loads(x) for x in (result.folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    kinds: set[str] = set()
    calls = 0
    for split in ("train", "eval", "heldout"):
        path = result.folder / "bedrock" / f"{split}.jsonl"
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == sum(1 for r in records if r["split"] == split)
        for rec, line in zip((r for r in records if r["split"] == split), lines, strict=True):
            assert bedrock_line_problem(line) is None, (rec["id"], bedrock_line_problem(line))
            kinds.add(rec["kind"])
            calls += line.count("[tool call] ")
            if mode == "omit":
                assert INLINE_LABEL not in line
    assert kinds == {"story", "advice", "document", "agentic"} and calls > 0
    assert result.manifest["token_counters"]["bedrock"] == {"name": counter_for("bedrock").name, "exact": False}
    card = (result.folder / "README.md").read_text(encoding="utf-8")
    assert "- config_name: bedrock\n" in card and "- `bedrock`:" in card
