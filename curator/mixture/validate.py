"""Small validators, one per export format: every line is checked before it is written.

They check what the target tools reject or silently mangle: unknown keys, wrong JSON types,
roles out of order, tool calls without results (or the reverse), bad tool names, tool schemas that
are not valid JSON Schema (2020-12), `arguments` of the wrong type (a JSON string for openai, an
object for hf-messages, which chat templates would otherwise encode twice), and (hf-messages) a
`content` or `tools` whose JSON type could differ between rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from curator.errors import CuratorError
from curator.jsonschema_norm import SchemaError, check_schema

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _json_loader() -> Callable[[str], Any]:
    try:
        import orjson  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return json.loads
    loads: Callable[[str], Any] = orjson.loads
    return loads


_loads = _json_loader()
_DECODE_ERRORS: tuple[type[Exception], ...] = (ValueError,)  # json.JSONDecodeError and orjson's are ValueErrors


class FormatError(CuratorError):
    """A rendered line does not match its format; the message names the field."""


def _fail(path: str, message: str) -> FormatError:
    return FormatError(f"{path}: {message}")


def _at(where: str, key: str | int) -> str:
    """A field's path, built only when there is an error to report."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _keys(obj: Any, where: str, required: frozenset[str], allowed: frozenset[str]) -> dict[str, Any]:
    if type(obj) is not dict:
        raise _fail(where or "line", "expected an object")
    keys = obj.keys()
    if not required <= keys:
        raise _fail(_at(where, sorted(required - keys)[0]), "missing")
    if not keys <= allowed:
        raise _fail(_at(where, sorted(keys - allowed)[0]), "unknown field")
    return obj


def _shape(required: tuple[str, ...], optional: tuple[str, ...] = ()) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(required), frozenset(required + optional)


def _str(value: Any, where: str, key: str | int, *, non_empty: bool = False) -> str:
    if type(value) is not str:
        raise _fail(_at(where, key), f"expected a string, got {type(value).__name__}")
    if non_empty and (not value or value.isspace()):
        raise _fail(_at(where, key), "must not be empty")
    return value


def _list(value: Any, where: str, key: str | int, *, non_empty: bool = False) -> list[Any]:
    if type(value) is not list:
        raise _fail(_at(where, key), f"expected a list, got {type(value).__name__}")
    if non_empty and not value:
        raise _fail(_at(where, key), "must not be empty")
    return value


_VALID_SCHEMAS: set[str] = set()
"""JSON text of schemas already checked against the meta-schema (pool tools recur on many lines)."""


def _schema(value: Any, where: str, key: str) -> None:
    if type(value) is not dict or value.get("type") != "object":
        raise _fail(_at(where, key), 'must be a JSON Schema object (with "type": "object")')
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if text in _VALID_SCHEMAS:
        return
    try:
        check_schema(value, _at(where, key))
    except SchemaError as err:
        raise FormatError(str(err)) from None
    if len(_VALID_SCHEMAS) > 50_000:
        _VALID_SCHEMAS.clear()
    _VALID_SCHEMAS.add(text)


FN_TOOL = _shape(("type", "function"))
FN_BODY = _shape(("name", "description", "parameters"))
ANTH_TOOL = _shape(("name", "description", "input_schema"))


def _tool_names(tools: list[Any], where: str, fn: bool) -> set[str]:
    names: set[str] = set()
    for i, t in enumerate(tools):
        tw = f"{where}[{i}]"
        if fn:
            _keys(t, tw, *FN_TOOL)
            if t["type"] != "function":
                raise _fail(_at(tw, "type"), 'must be "function"')
            fw = f"{tw}.function"
            f = _keys(t["function"], fw, *FN_BODY)
            name = _str(f["name"], fw, "name")
            _str(f["description"], fw, "description")
            _schema(f["parameters"], fw, "parameters")
        else:
            fw = tw
            _keys(t, tw, *ANTH_TOOL)
            name = _str(t["name"], tw, "name")
            _str(t["description"], tw, "description")
            _schema(t["input_schema"], tw, "input_schema")
        if not TOOL_NAME.match(name):
            raise _fail(_at(fw, "name"), f"{name!r} is not a valid tool name ([A-Za-z0-9_-]{{1,64}})")
        if name in names:
            raise _fail(_at(fw, "name"), f"duplicate tool name {name!r}")
        names.add(name)
    return names


# ---------------------------------------------------------------------------
# anthropic
# ---------------------------------------------------------------------------


ANTH_ROW = _shape(("messages",), ("system", "tools"))
MESSAGE = _shape(("role", "content"))
TEXT_BLOCK = _shape(("type", "text"))
THINKING_BLOCK = _shape(("type", "thinking"))
TOOL_USE = _shape(("type", "id", "name", "input"))
TOOL_RESULT = _shape(("type", "tool_use_id", "content"), ("is_error",))


def _tool_result(b: dict[str, Any], bw: str) -> str:
    _keys(b, bw, *TOOL_RESULT)
    tid = _str(b["tool_use_id"], bw, "tool_use_id")
    c = b["content"]
    if type(c) is not str:
        for k, tb in enumerate(_list(c, bw, "content")):
            tw = f"{bw}.content[{k}]"
            _keys(tb, tw, *TEXT_BLOCK)
            if tb["type"] != "text":
                raise _fail(_at(tw, "type"), 'must be "text"')
            _str(tb["text"], tw, "text")
    if "is_error" in b and type(b["is_error"]) is not bool:
        raise _fail(_at(bw, "is_error"), "expected true or false")
    return tid


def validate_anthropic(row: Any) -> None:
    """A Messages API body: alternating roles from user, blocks in order, every tool_use answered."""
    _keys(row, "", *ANTH_ROW)
    if "system" in row:
        _str(row["system"], "", "system", non_empty=True)
    names = (
        _tool_names(_list(row["tools"], "", "tools", non_empty=True), "tools", fn=False) if "tools" in row else set()
    )
    messages = _list(row["messages"], "", "messages", non_empty=True)
    pending: set[str] = set()
    seen: set[str] = set()
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        _keys(m, where, *MESSAGE)
        role = m["role"]
        if role != ("user" if i % 2 == 0 else "assistant"):
            expected = "user" if i % 2 == 0 else "assistant"
            raise _fail(_at(where, "role"), f"roles must alternate starting with user; expected {expected}")
        content = m["content"]
        if type(content) is str:
            _str(content, where, "content", non_empty=True)
            if pending:
                raise _fail(where, f"tool_use {sorted(pending)[0]!r} has no tool_result in this turn")
            continue
        blocks = _list(content, where, "content", non_empty=True)
        answered: set[str] = set()
        after_results = False
        for j, b in enumerate(blocks):
            t = b.get("type") if type(b) is dict else None
            if t == "text":
                bw = f"{where}.content[{j}]"
                _keys(b, bw, *TEXT_BLOCK)
                _str(b["text"], bw, "text", non_empty=True)
                after_results = True
            elif t == "thinking" and role == "assistant":
                bw = f"{where}.content[{j}]"
                _keys(b, bw, *THINKING_BLOCK)
                _str(b["thinking"], bw, "thinking", non_empty=True)
                if j != 0:
                    raise _fail(bw, "a thinking block must come first in the turn")
            elif t == "tool_use" and role == "assistant":
                bw = f"{where}.content[{j}]"
                _keys(b, bw, *TOOL_USE)
                tid = _str(b["id"], bw, "id", non_empty=True)
                if _str(b["name"], bw, "name") not in names:
                    raise _fail(_at(bw, "name"), f"tool {b['name']!r} is not in tools")
                if type(b["input"]) is not dict:
                    raise _fail(_at(bw, "input"), "expected an object")
                if tid in seen:
                    raise _fail(_at(bw, "id"), f"duplicate tool_use id {tid!r}")
                seen.add(tid)
                pending.add(tid)
            elif t == "tool_result" and role == "user":
                bw = f"{where}.content[{j}]"
                tid = _tool_result(b, bw)
                if tid not in pending:
                    raise _fail(_at(bw, "tool_use_id"), f"no tool_use {tid!r} in the previous assistant turn")
                if after_results:
                    raise _fail(bw, "tool_result blocks must come before any text in the turn")
                answered.add(tid)
            else:
                raise _fail(f"{where}.content[{j}].type", f"{t!r} is not allowed in a {role} turn")
        if role == "user":
            if pending - answered:
                raise _fail(where, f"tool_use {sorted(pending - answered)[0]!r} has no tool_result in this turn")
            pending = set()
    if messages[-1].get("role") != "assistant":
        raise _fail(f"messages[{len(messages) - 1}].role", "the last turn must be the assistant's")


# ---------------------------------------------------------------------------
# openai / hf-messages
# ---------------------------------------------------------------------------

HF_ROW = _shape(("messages", "tools"))
OPENAI_ROW = _shape(("messages",), ("tools",))
SIMPLE = _shape(("role", "content"))
HF_ASSISTANT = _shape(("role", "content"), ("reasoning_content", "tool_calls"))
OPENAI_ASSISTANT = _shape(("role",), ("content", "tool_calls"))
CALL = _shape(("id", "type", "function"))
CALL_FN = _shape(("name", "arguments"))
HF_TOOL_MSG = _shape(("role", "tool_call_id", "name", "content"))
OPENAI_TOOL_MSG = _shape(("role", "tool_call_id", "content"))


def _calls(calls: list[Any], where: str, names: set[str], seen: set[str], pending: dict[str, str], *, hf: bool) -> None:
    for j, c in enumerate(calls):
        cw = f"{where}.tool_calls[{j}]"
        _keys(c, cw, *CALL)
        cid = _str(c["id"], cw, "id", non_empty=True)
        if c["type"] != "function":
            raise _fail(_at(cw, "type"), 'must be "function"')
        fw = f"{cw}.function"
        f = _keys(c["function"], fw, *CALL_FN)
        name = _str(f["name"], fw, "name")
        if name not in names:
            raise _fail(_at(fw, "name"), f"tool {name!r} is not in tools")
        if hf:
            if type(f["arguments"]) is not dict:
                raise _fail(_at(fw, "arguments"), f"expected an object, got {type(f['arguments']).__name__}")
        else:
            args = _str(f["arguments"], fw, "arguments")
            try:
                parsed = _loads(args)
            except _DECODE_ERRORS:
                raise _fail(_at(fw, "arguments"), "not valid JSON") from None
            if type(parsed) is not dict:
                raise _fail(_at(fw, "arguments"), "must encode a JSON object")
        if cid in seen:
            raise _fail(_at(cw, "id"), f"duplicate tool call id {cid!r}")
        seen.add(cid)
        pending[cid] = name


def _validate_chat(row: Any, hf: bool) -> None:
    if hf:
        _keys(row, "", *HF_ROW)
        names = _tool_names(_list(row["tools"], "", "tools"), "tools", fn=True)
    else:
        _keys(row, "", *OPENAI_ROW)
        names = set()
        if "tools" in row:
            names = _tool_names(_list(row["tools"], "", "tools", non_empty=True), "tools", fn=True)
    messages = _list(row["messages"], "", "messages", non_empty=True)
    pending: dict[str, str] = {}
    seen: set[str] = set()
    saw_user = saw_assistant = False
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        role = m.get("role") if type(m) is dict else None
        if role == "user" or role == "system":
            _keys(m, where, *SIMPLE)
            _str(m["content"], where, "content", non_empty=True)
            if role == "system" and i != 0:
                raise _fail(_at(where, "role"), "the system message must come first")
            if pending:
                raise _fail(where, f"tool call {sorted(pending)[0]!r} has no tool message before this turn")
            saw_user = saw_user or role == "user"
        elif role == "assistant":
            if not saw_user:
                raise _fail(_at(where, "role"), "the first turn after the system message must be the user's")
            if pending:
                raise _fail(where, f"tool call {sorted(pending)[0]!r} has no tool message before this turn")
            _keys(m, where, *(HF_ASSISTANT if hf else OPENAI_ASSISTANT))
            content = _str(m["content"], where, "content") if "content" in m else ""
            if "reasoning_content" in m:
                _str(m["reasoning_content"], where, "reasoning_content", non_empty=True)
            calls = _list(m["tool_calls"], where, "tool_calls", non_empty=True) if "tool_calls" in m else []
            if (not content or content.isspace()) and not calls:
                raise _fail(_at(where, "content"), "an assistant message needs content or tool_calls")
            _calls(calls, where, names, seen, pending, hf=hf)
            saw_assistant = True
        elif role == "tool":
            _keys(m, where, *(HF_TOOL_MSG if hf else OPENAI_TOOL_MSG))
            cid = _str(m["tool_call_id"], where, "tool_call_id")
            if cid not in pending:
                raise _fail(_at(where, "tool_call_id"), f"no pending tool call {cid!r}")
            if hf and _str(m["name"], where, "name") != pending[cid]:
                raise _fail(_at(where, "name"), f"does not match the call's function name {pending[cid]!r}")
            _str(m["content"], where, "content")
            del pending[cid]
        else:
            raise _fail(f"{where}.role", f"unknown role {role!r}")
    if not saw_assistant:
        raise _fail("messages", "needs at least one assistant message")
    if messages[-1].get("role") != "assistant":
        raise _fail(f"messages[{len(messages) - 1}].role", "the last message must be the assistant's")


def validate_openai(row: Any) -> None:
    """A chat fine-tuning line: system first, tool calls answered by tool messages, ends with the assistant."""
    _validate_chat(row, hf=False)


def validate_hf(row: Any) -> None:
    """Like openai, with `arguments` objects, `tools` always a list and `content` always a string."""
    _validate_chat(row, hf=True)


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------

TEXT_ROW = _shape(("id", "text", "source", "metadata"))
TEXT_META = _shape(("kind", "title", "clauses", "repeat"), ("rationale",))


def validate_text(row: Any) -> None:
    """`{"id", "text", "source", "metadata"}` with a known metadata shape."""
    _keys(row, "", *TEXT_ROW)
    _str(row["id"], "", "id", non_empty=True)
    _str(row["text"], "", "text", non_empty=True)
    _str(row["source"], "", "source", non_empty=True)
    meta = _keys(row["metadata"], "metadata", *TEXT_META)
    _str(meta["kind"], "metadata", "kind")
    _str(meta["title"], "metadata", "title")
    for i, c in enumerate(_list(meta["clauses"], "metadata", "clauses")):
        _str(c, "metadata.clauses", i)
    if type(meta["repeat"]) is not int or meta["repeat"] < 0:
        raise _fail("metadata.repeat", "expected a non-negative integer")
    if "rationale" in meta:
        _str(meta["rationale"], "metadata", "rationale", non_empty=True)


# ---------------------------------------------------------------------------
# bedrock
# ---------------------------------------------------------------------------

BEDROCK_ROW = _shape(("messages",), ("system",))


def validate_bedrock(row: Any) -> None:
    """Bedrock's Claude fine-tuning line: string contents, at least two turns, user first, strict
    alternation, assistant last, no other key."""
    _keys(row, "", *BEDROCK_ROW)
    if "system" in row:
        _str(row["system"], "", "system", non_empty=True)
    messages = _list(row["messages"], "", "messages")
    if len(messages) < 2:
        raise _fail("messages", "needs at least two messages (a user turn and an assistant turn)")
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        _keys(m, where, *MESSAGE)
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected:
            raise _fail(_at(where, "role"), f"roles must alternate starting with user; expected {expected}")
        _str(m["content"], where, "content", non_empty=True)
    if messages[-1]["role"] != "assistant":
        raise _fail(f"messages[{len(messages) - 1}].role", "the last turn must be the assistant's")


# ---------------------------------------------------------------------------
# preference pairs
# ---------------------------------------------------------------------------

TRL_PREFERENCE_ROW = _shape(("prompt", "chosen", "rejected", "tools"))
OPENAI_PREFERENCE_ROW = _shape(("input", "preferred_output", "non_preferred_output"))
OPENAI_PREFERENCE_INPUT = _shape(("messages",), ("tools", "parallel_tool_calls"))


def _one_answer(value: Any, key: str) -> dict[str, Any]:
    answer = _list(value, "", key, non_empty=True)
    if len(answer) != 1:
        raise _fail(key, f"expected exactly one assistant message, got {len(answer)}")
    if type(answer[0]) is not dict or answer[0].get("role") != "assistant":
        raise _fail(f"{key}[0].role", "must be the assistant's")
    return answer[0]


def _pair(prompt: list[Any], prompt_key: str, answers: dict[str, dict[str, Any]], tools: Any, hf: bool) -> None:
    """Each side, prompt then answer, must be a valid chat line of its dialect; the prompt ends before an answer."""
    if prompt and type(prompt[-1]) is dict and prompt[-1].get("role") == "assistant":
        raise _fail(f"{prompt_key}[{len(prompt) - 1}].role", "the prompt must end before the assistant's answer")
    for key, answer in answers.items():
        chat: dict[str, Any] = {"messages": [*prompt, answer]}
        if tools is not None:
            chat["tools"] = tools
        try:
            _validate_chat(chat, hf=hf)
        except FormatError as err:
            where = str(err).replace(f"messages[{len(prompt)}]", f"{key}[0]", 1).replace("messages", prompt_key, 1)
            raise FormatError(where) from None


def validate_trl_preference(row: Any) -> None:
    """TRL's conversational preference line: a prompt and one chosen and one rejected assistant message."""
    _keys(row, "", *TRL_PREFERENCE_ROW)
    prompt = _list(row["prompt"], "", "prompt", non_empty=True)
    answers = {"chosen": _one_answer(row["chosen"], "chosen"), "rejected": _one_answer(row["rejected"], "rejected")}
    _pair(prompt, "prompt", answers, row["tools"], hf=True)


def validate_openai_preference(row: Any) -> None:
    """OpenAI's DPO line: `input` (messages, tools) and one preferred and one non-preferred assistant message."""
    _keys(row, "", *OPENAI_PREFERENCE_ROW)
    inp = _keys(row["input"], "input", *OPENAI_PREFERENCE_INPUT)
    prompt = _list(inp["messages"], "input", "messages", non_empty=True)
    if "parallel_tool_calls" in inp and type(inp["parallel_tool_calls"]) is not bool:
        raise _fail("input.parallel_tool_calls", f"expected a boolean, got {type(inp['parallel_tool_calls']).__name__}")
    answers = {
        "preferred_output": _one_answer(row["preferred_output"], "preferred_output"),
        "non_preferred_output": _one_answer(row["non_preferred_output"], "non_preferred_output"),
    }
    _pair(prompt, "input.messages", answers, inp.get("tools"), hf=False)


VALIDATORS: dict[str, Callable[[Any], None]] = {
    "anthropic": validate_anthropic,
    "openai": validate_openai,
    "hf-messages": validate_hf,
    "text": validate_text,
    "bedrock": validate_bedrock,
    "trl-preference": validate_trl_preference,
    "openai-preference": validate_openai_preference,
}


def validate_row(fmt: str, row: Any) -> None:
    """Raise FormatError (naming the field) when `row` is not a valid line of `fmt`."""
    VALIDATORS[fmt](row)


def validate_line(fmt: str, line: str) -> None:
    """Parse one written JSONL line back and validate it (used by tests and readers)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise FormatError(f"invalid JSON ({err.msg})") from None
    validate_row(fmt, row)
