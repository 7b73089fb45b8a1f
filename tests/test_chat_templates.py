"""Every hf-messages line renders through real chat templates with `transformers`' `apply_chat_template`.

The templates are the ten in `tests/data/fixtures/chat-templates/` (copied from TRL, see SOURCE.md).
The tokenizer is a throwaway WordLevel model: rendering never looks at the vocabulary. Per template:

- `gemma3` and `phi3_5` have no tool support (gemma3 raises on the `tool` role, phi3_5 drops tool
  definitions and calls): rows with tools are skipped for them, chat rows are still rendered;
- `llama3_1` and `llama3_2` raise on more than one tool call in a turn ("This model only supports
  single tool-calls at once!") and `gptoss` renders only the first (`message.tool_calls[0]`): rows
  with parallel calls are skipped for them;
- `deepseekv3` concatenates `arguments` as a string (`'```json\\n' + arguments`), the opposite of
  the transformers convention the export follows: the test hands it the arguments as JSON text;
- `gptoss` refuses an assistant turn with tool calls that has both `content` and reasoning ("Put
  the analysis message in one or the other"): the test moves such a turn's text into its reasoning,
  as that error asks. transformers itself passes `reasoning_content` to gpt-oss as `thinking`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator.bootstrap import init_workspace
from curator.mixture import export_from_spec, load_spec
from curator.mixture.formats import render, render_rows
from curator.mixture.pools import Draw, load_tools
from curator.mixture.validate import validate_row
from curator.models import parse_example
from tests.conftest import FIXTURES, REPO, advice, agentic, story

transformers = pytest.importorskip("transformers", reason="transformers is a test-only dependency (dev extras)")
tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is a test-only dependency (dev extras)")

TEMPLATES = FIXTURES / "chat-templates"
NAMES = sorted(p.stem for p in TEMPLATES.glob("*.jinja"))
NO_TOOLS = {"gemma3": "no tool support: raises on the tool role", "phi3_5": "no tool support: ignores tools"}
SINGLE_CALL = {"llama3_1", "llama3_2", "gptoss"}
"""Templates that take one tool call per assistant turn (llama raises, gpt-oss drops the rest)."""
DEEPSEEK_STRING_ARGUMENTS = "deepseekv3"
"""Its template concatenates `arguments` to a string; it needs them as JSON text (the openai shape)."""
GPT_OSS = "gptoss"
"""Refuses content and reasoning together in a tool-call turn; the test moves the text into the reasoning."""
DOUBLE_ENCODED = re.compile(r'"(parameters|arguments)":\s*"[{\[]')
"""What a JSON-string schema or arguments turn into when a template encodes them again."""
SMALL = REPO / "tests" / "data" / "specs" / "small.toml"


def tokenizer() -> Any:
    model = tokenizers.models.WordLevel({"<unk>": 0, "<s>": 1, "</s>": 2}, unk_token="<unk>")
    tok = tokenizers.Tokenizer(model)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def fixture_records() -> list[dict[str, Any]]:
    """Records with everything a chat template meets: tool calls and results, errors, rationales, systems."""
    with_why = agentic()
    with_why["messages"][1]["rationale"] = "Look before acting."
    parallel = agentic(
        tools=[
            *agentic()["tools"],
            {
                "name": "archive.move",
                "description": "Move messages",
                "input_schema": {
                    "type": "object",
                    "properties": {"ids": {"type": "array", "items": {"type": "string"}}, "folder": {"type": "string"}},
                },
            },
        ],
        messages=[
            {"role": "user", "content": 'Archive the "weekly" newsletters, then tell me.'},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "search_email", "input": {"q": 'tag:"weekly"'}},
                    {"type": "tool_use", "id": "toolu_2", "name": "archive.move", "input": {"ids": ["m1", "m2"]}},
                ],
                "rationale": "Both steps are what was asked.",
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "2 hits"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no such folder", "is_error": True},
                ],
            },
            {"role": "assistant", "content": "Found 2; moving failed.", "rationale": "Report failures plainly."},
        ],
    )
    no_system = agentic(title="No system prompt")
    del no_system["system"]
    return [story(), advice(), advice(system="Be brief."), agentic(), with_why, parallel, no_system]


def hf_rows(tmp: Path) -> list[dict[str, Any]]:
    """Every line of a demo export (pool distractors included) and the fixture records, as hf-messages."""
    rows: list[dict[str, Any]] = []
    ws = init_workspace(tmp / "demo.db", demo=True, actor="ana")
    try:
        folder = export_from_spec(ws.db, load_spec(SMALL), tmp / "out").folder
        assert folder is not None
        for path in sorted((folder / "hf-messages").glob("*.jsonl")):
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    finally:
        ws.close()
    bfcl = load_tools(_bfcl_pool(tmp / "tools.jsonl"), "bfcl").items
    for mode in ("thinking", "inline", "omit"):
        for n, record in enumerate(fixture_records()):
            draw = Draw("You are a pool prompt.", tuple(bfcl[n * 2 : n * 2 + 2]))
            row = render("hf-messages", parse_example(record), draw, mode, 0)
            validate_row("hf-messages", row)
            rows.append(json.loads(json.dumps(row)))
    return rows


def _bfcl_pool(path: Path) -> Path:
    """Real benchmark tools (with their `dict`/`float` types) as a distractor pool."""
    lines = []
    for line in (FIXTURES / "bfcl" / "BFCL_v4_multiple.json").read_text(encoding="utf-8").splitlines()[:10]:
        for f in json.loads(line)["function"]:
            lines.append(json.dumps({"type": "function", "function": f}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = hf_rows(tmp_path_factory.mktemp("chat-templates"))
    assert any(r["tools"] for r in out) and any(not r["tools"] for r in out)
    assert any(len(m.get("tool_calls", ())) > 1 for r in out for m in r["messages"])
    return out


def _with_alternatives(record: dict[str, Any]) -> dict[str, Any]:
    """The record with a rejected alternative on every assistant turn (a tool call where the turn calls one)."""
    record = json.loads(json.dumps(record))
    for i, m in enumerate(record.get("messages") or []):
        if m["role"] != "assistant":
            continue
        alt: dict[str, Any] = {"content": f"Rejected answer {i}.", "why_not": "It skips the question."}
        if isinstance(m["content"], list) and any(b["type"] == "tool_use" for b in m["content"]):
            call = {"type": "tool_use", "id": f"toolu_alt{i}", "name": record["tools"][0]["name"], "input": {"q": "*"}}
            alt["content"] = [{"type": "text", "text": "Reading everything."}, call]
        m["alternatives"] = [alt]
    return record


@pytest.fixture(scope="module")
def pair_rows() -> list[dict[str, Any]]:
    """trl-preference lines of the fixture records, as the chosen and the rejected conversations a trainer renders."""
    out: list[dict[str, Any]] = []
    for n, record in enumerate(fixture_records()):
        draw = Draw("You are a pool prompt.", ()) if n % 2 else Draw(None, ())
        for pair in render_rows("trl-preference", parse_example(_with_alternatives(record)), draw, "thinking", 0):
            validate_row("trl-preference", pair)
            for side in ("chosen", "rejected"):
                out.append({"messages": pair["prompt"] + pair[side], "tools": pair["tools"]})
    assert any(r["tools"] for r in out) and any(r["messages"][-1].get("tool_calls") for r in out)
    return out


@pytest.fixture(scope="module")
def tok() -> Any:
    return tokenizer()


def leaf_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from leaf_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaf_strings(v)


def _calls(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [c["function"] for m in row["messages"] for c in m.get("tool_calls", ())]


def _adapted(name: str, row: dict[str, Any]) -> dict[str, Any]:
    """What a trainer has to do for the two templates that do not take the transformers convention."""
    if name == DEEPSEEK_STRING_ARGUMENTS:
        row = json.loads(json.dumps(row))
        for f in _calls(row):
            f["arguments"] = json.dumps(f["arguments"], ensure_ascii=False)
    elif name == GPT_OSS:
        row = json.loads(json.dumps(row))
        for m in row["messages"]:
            if m.get("tool_calls") and m.get("content") and m.get("reasoning_content"):
                m["reasoning_content"] += "\n\n" + m["content"]
                m["content"] = ""
    return row


@pytest.mark.parametrize("name", NAMES)
def test_every_hf_line_renders_through_the_template(name: str, rows: list[dict[str, Any]], tok: Any) -> None:
    _render_every_row(name, rows, tok)


@pytest.mark.parametrize("name", NAMES)
def test_every_preference_pair_renders_through_the_template(
    name: str, pair_rows: list[dict[str, Any]], tok: Any
) -> None:
    """Both sides of each trl-preference pair (prompt + chosen, prompt + rejected) render as conversations."""
    _render_every_row(name, pair_rows, tok)


def _render_every_row(name: str, rows: list[dict[str, Any]], tok: Any) -> None:
    template = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
    rendered = skipped = 0
    for i, original in enumerate(rows):
        if original["tools"] and name in NO_TOOLS:
            skipped += 1
            continue
        if name in SINGLE_CALL and any(len(m.get("tool_calls", ())) > 1 for m in original["messages"]):
            skipped += 1
            continue
        row = _adapted(name, original)
        try:
            text = tok.apply_chat_template(
                row["messages"], tools=row["tools"] or None, chat_template=template, tokenize=False
            )
        except Exception as err:  # the message names template, line and error
            pytest.fail(f"{name}: row {i}: {type(err).__name__}: {err}")
        assert isinstance(text, str) and text
        for f in _calls(original):
            assert f["name"] in text, f"{name}: row {i}: tool name {f['name']!r} missing"
            for value in leaf_strings(f["arguments"]):
                assert value in text or json.dumps(value, ensure_ascii=False)[1:-1] in text, (
                    f"{name}: row {i}: argument {value!r} missing"
                )
            if name != DEEPSEEK_STRING_ARGUMENTS:
                encoded_twice = json.dumps(json.dumps(f["arguments"], ensure_ascii=False), ensure_ascii=False)
                assert encoded_twice[1:-1] not in text, f"{name}: row {i}: arguments encoded twice"
        if original["tools"] and name not in NO_TOOLS:
            assert not DOUBLE_ENCODED.search(text), f"{name}: row {i}: parameters or arguments as an escaped string"
        rendered += 1
    assert rendered > 0
    if name in NO_TOOLS:
        assert skipped > 0  # tool rows exist and were left out for a stated reason


def test_the_check_catches_the_old_string_arguments(rows: list[dict[str, Any]], tok: Any) -> None:
    """Arguments as a JSON string (the old hf-messages shape) come out encoded twice: the check sees it."""
    row = next(
        r for r in rows if r["tools"] and _calls(r) and all(len(m.get("tool_calls", ())) < 2 for m in r["messages"])
    )
    row = _adapted(DEEPSEEK_STRING_ARGUMENTS, row)  # arguments as JSON text
    template = (TEMPLATES / "llama3_1.jinja").read_text(encoding="utf-8")
    text = tok.apply_chat_template(row["messages"], tools=row["tools"], chat_template=template, tokenize=False)
    assert DOUBLE_ENCODED.search(text)


def test_gemma3_really_has_no_tool_role(rows: list[dict[str, Any]], tok: Any) -> None:
    row = next(r for r in rows if any(m["role"] == "tool" for m in r["messages"]))
    template = (TEMPLATES / "gemma3.jinja").read_text(encoding="utf-8")
    with pytest.raises(Exception, match="roles must alternate"):
        tok.apply_chat_template(row["messages"], tools=row["tools"], chat_template=template, tokenize=False)
