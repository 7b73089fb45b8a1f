"""openai lines hold only the keys of OpenAI's documented chat fine-tuning format, checked key by key.

Independent of `curator.mixture.validate` on purpose: this is the documented shape written out again,
so a key the exporter adds and its validator allows still fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from curator.bootstrap import init_workspace
from curator.mixture import export_from_spec, load_spec
from curator.mixture.formats import INLINE_LABEL, render
from curator.mixture.pools import NO_DRAW
from curator.models import parse_example
from tests.conftest import REPO, advice, agentic, story

SMALL = REPO / "tests" / "data" / "specs" / "small.toml"

ROW_KEYS = {"messages", "tools", "parallel_tool_calls"}
MESSAGE_KEYS = {"role", "content", "tool_calls", "tool_call_id", "name", "weight"}
ROLES = {"system", "user", "assistant", "tool"}
CALL_KEYS = {"id", "type", "function"}
CALL_FUNCTION_KEYS = {"name", "arguments"}
TOOL_KEYS = {"type", "function"}
TOOL_FUNCTION_KEYS = {"name", "description", "parameters", "strict"}


def check_openai_line(row: Any) -> None:
    """Assert that one line follows the documented format; the message names the key."""
    assert isinstance(row, dict), "line: not an object"
    assert set(row) <= ROW_KEYS, f"unknown top-level keys {sorted(set(row) - ROW_KEYS)}"
    assert isinstance(row["messages"], list) and row["messages"], "messages: a non-empty list"
    if "parallel_tool_calls" in row:
        assert isinstance(row["parallel_tool_calls"], bool), "parallel_tool_calls: a boolean"
    for i, tool in enumerate(row.get("tools", [])):
        assert set(tool) == TOOL_KEYS and tool["type"] == "function", f"tools[{i}]: {sorted(tool)}"
        fn = tool["function"]
        assert set(fn) <= TOOL_FUNCTION_KEYS and "name" in fn, f"tools[{i}].function: {sorted(fn)}"
        assert isinstance(fn["name"], str) and isinstance(fn.get("description", ""), str)
        if "parameters" in fn:
            Draft202012Validator.check_schema(fn["parameters"])
    for i, m in enumerate(row["messages"]):
        where = f"messages[{i}]"
        assert set(m) <= MESSAGE_KEYS, f"{where}: unknown keys {sorted(set(m) - MESSAGE_KEYS)}"
        assert m.get("role") in ROLES, f"{where}.role: {m.get('role')!r}"
        content = m.get("content")
        assert content is None or isinstance(content, str), f"{where}.content: a string"
        if "tool_calls" in m:
            assert m["role"] == "assistant", f"{where}.tool_calls: only on assistant messages"
            for j, call in enumerate(m["tool_calls"]):
                assert set(call) == CALL_KEYS and call["type"] == "function", f"{where}.tool_calls[{j}]"
                fn = call["function"]
                assert set(fn) == CALL_FUNCTION_KEYS, f"{where}.tool_calls[{j}].function: {sorted(fn)}"
                assert isinstance(fn["arguments"], str), f"{where}.tool_calls[{j}].function.arguments: JSON text"
                assert isinstance(json.loads(fn["arguments"]), dict)
        else:
            assert isinstance(content, str), f"{where}.content: required without tool_calls"
        if "tool_call_id" in m:
            assert m["role"] == "tool", f"{where}.tool_call_id: only on tool messages"
        if m["role"] == "tool":
            assert isinstance(m.get("tool_call_id"), str), f"{where}.tool_call_id: required"
        if "weight" in m:
            assert m["role"] == "assistant" and m["weight"] in (0, 1), f"{where}.weight"


@pytest.fixture(scope="module")
def export_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    tmp = tmp_path_factory.mktemp("openai")
    ws = init_workspace(tmp / "demo.db", demo=True, actor="ana")
    try:
        folder = export_from_spec(ws.db, load_spec(SMALL), tmp / "out").folder
    finally:
        ws.close()
    assert folder is not None
    return [line for p in sorted((folder / "openai").glob("*.jsonl")) for line in p.read_text().splitlines()]


def test_every_exported_openai_line_has_only_documented_keys(export_lines: list[str]) -> None:
    assert len(export_lines) > 10
    for n, line in enumerate(export_lines, start=1):
        try:
            check_openai_line(json.loads(line))
        except AssertionError as err:
            pytest.fail(f"line {n}: {err}")
    assert any('"tool_calls"' in line for line in export_lines)


@pytest.mark.parametrize("mode", ["thinking", "inline", "omit"])
@pytest.mark.parametrize("make", [story, advice, agentic])
def test_every_mode_gives_documented_lines(mode: str, make: Any) -> None:
    check_openai_line(json.loads(json.dumps(render("openai", parse_example(make()), NO_DRAW, mode, 0))))


def test_thinking_mode_puts_the_rationale_inline_for_openai() -> None:
    record = agentic()
    record["messages"][1]["rationale"] = "Look first."
    row = render("openai", parse_example(record), NO_DRAW, "thinking", 0)
    assert row == render("openai", parse_example(record), NO_DRAW, "inline", 0)
    assert row["messages"][2]["content"] == f"Searching.\n\n{INLINE_LABEL}Look first."
    assert "reasoning_content" not in json.dumps(row)


def test_the_checker_refuses_an_undocumented_key() -> None:
    row = render("openai", parse_example(advice()), NO_DRAW, "omit", 0)
    row["messages"][-1]["reasoning_content"] = "hidden"
    with pytest.raises(AssertionError, match="reasoning_content"):
        check_openai_line(row)
