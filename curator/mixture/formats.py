"""Rendering one record into each export format, and the text that its tokens are counted on.

Field names follow what the target tools document:

- `anthropic`: the Messages API request shape `{"system", "messages", "tools"}`; tool calls are
  `tool_use` blocks, results are `tool_result` blocks (first) in the next user turn; `thinking`
  blocks carry the rationale in thinking mode (no signature: this is training data, not a replay).
- `openai`: the chat fine-tuning shape `{"messages", "tools"}` and no other key; the system prompt
  is the first message, `tool_calls[].function.arguments` is a JSON string, results are
  `role: tool` messages with `tool_call_id`. The format has no field for hidden reasoning, so in
  thinking mode the rationale is rendered inline (as in `inline` mode).
- `hf-messages`: what `transformers`' `apply_chat_template` and TRL's SFTTrainer read,
  `{"messages", "tools"}`: `tools` a list of `{"type": "function", "function": {...}}` objects
  (`[]` when there are none), `tool_calls[].function.arguments` an object (a string would be
  encoded a second time by the chat templates), `content` always a string, the rationale in
  `reasoning_content` in thinking mode.
- `text`: `{"id", "text", "source", "metadata"}`; stories and documents as their text, dialogues
  as a plain `Role: text` rendering.
- `bedrock`: Claude fine-tuning on Amazon Bedrock, `{"system"?, "messages"}` with string contents
  only, strictly alternating from user to assistant. The format has no tools, tool blocks or
  reasoning field, so tool definitions are listed in the system prompt, a tool call is an
  assistant line `[tool call] NAME {JSON arguments}`, a result opens the next user turn as
  `[tool result] NAME: TEXT` (`[tool error]` for an error), and in thinking mode the rationale is
  rendered inline (as in `inline` mode).
- `trl-preference`: TRL's conversational preference type, one line per (turn, alternative) pair:
  `{"prompt", "chosen", "rejected", "tools"}`, the messages before the turn as `prompt` and the
  turn and the alternative as one assistant message each, in the hf-messages shape.
- `openai-preference`: OpenAI's DPO fine-tuning line, one per pair: `{"input": {"messages",
  "tools"?, "parallel_tool_calls"?}, "preferred_output", "non_preferred_output"}`, messages in the
  openai shape.

Preference lines carry no rationale (the chosen and rejected answers must differ in the answer
only: a rationale on one side would be what the model learns to prefer), and a record without
alternatives (every story and document) makes none.

Stories and documents appear in the chat formats as one exchange: a user request built from the
title (`STORY_PROMPT`, `DOCUMENT_PROMPT`) and the text as the assistant's answer. Tool names are
rewritten to `[A-Za-z0-9_-]{1,64}` (what both APIs accept; the shipped pool has dotted names),
consistently in definitions and calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from curator.jsonschema_norm import SchemaError, normalize_schema
from curator.mixture.pools import Draw, api_tool_name
from curator.models import Alternative, Example, Message, TextBlock, Tool, ToolResultBlock, ToolUseBlock

STORY_PROMPT = 'Write a short story titled "{title}".'
DOCUMENT_PROMPT = 'Write a document titled "{title}".'
INLINE_LABEL = "Why: "
"""Inline mode appends the rationale to the answer as its stated reasons, after this label."""
ERROR_PREFIX = "Error: "
"""openai/hf-messages have no is_error flag: an error result's content starts with this."""
TOOL_CALL = "[tool call] "
TOOL_RESULT = "[tool result] "
TOOL_ERROR = "[tool error] "
"""bedrock has no tool blocks: calls and results are lines of text starting with these."""
BEDROCK_TOOLS = (
    "Tools you can call. To call one, write a line `[tool call] NAME {JSON arguments}`; its result comes "
    "back at the start of the next user turn as `[tool result] NAME: ...` (or `[tool error] NAME: ...`)."
)

CONTRAST_INTRO = 'A tempting answer would be: "{answer}"'
CONTRAST_REASON = "It would be wrong because: {why_not}"
"""`contrast = true`: each alternative with a why-not adds these two lines to its turn's rationale."""

Row = dict[str, Any]


def _name_map(tools: list[Tool]) -> dict[str, str]:
    """Original -> API name for one row; clashes after rewriting get a numeric suffix."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for t in tools:
        base = api_tool_name(t.name)
        name, n = base, 1
        while name in used:
            n += 1
            suffix = f"_{n}"
            name = base[: 64 - len(suffix)] + suffix
        used.add(name)
        out[t.name] = name
    return out


def _blocks(msg: Message) -> list[TextBlock | ToolUseBlock | ToolResultBlock]:
    """The content as blocks, without re-validating a plain string (this runs per line)."""
    if isinstance(msg.content, str):
        return [TextBlock.model_construct(type="text", text=msg.content)]
    return list(msg.content)


def _has_text(text: str) -> bool:
    """Whitespace-only text blocks are dropped: the APIs reject them and they teach nothing."""
    return bool(text) and not text.isspace()


def _same_text(haystack: str, needle: str) -> bool:
    return " ".join(needle.split()).casefold() in " ".join(haystack.split()).casefold()


def _inline(text: str, rationale: str) -> str:
    if _same_text(text, rationale):
        return text
    return f"{text}\n\n{INLINE_LABEL}{rationale}" if text.strip() else f"{INLINE_LABEL}{rationale}"


def _result_text(block: ToolResultBlock) -> str:
    if isinstance(block.content, str):
        return block.content
    return "\n\n".join(b.text for b in block.content if b.text)


def _tools_of(ex: Example, draw: Draw) -> tuple[list[Tool], dict[str, str]]:
    if not ex.tools and not draw.extra_tools:
        return [], {}
    tools = list(ex.tools or [])
    if draw.extra_tools:
        tools += draw.extra_tools
    names = _name_map(tools)
    if draw.extra_tools:
        tools.sort(key=lambda t: names[t.name])  # distractors' position says nothing
    return tools, names


_SCHEMAS: dict[str, dict[str, Any]] = {}
"""Normalised schemas by their JSON text: a pool's tools recur on many lines."""


def export_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameters as valid JSON Schema (the normaliser import and the pools use).

    A schema the normaliser cannot repair is returned unchanged: the format's validator then refuses
    the line, naming the record and the path inside the schema.
    """
    key = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    out = _SCHEMAS.get(key)
    if out is None:
        try:
            out = normalize_schema(schema)
        except SchemaError:
            return schema
        if len(_SCHEMAS) > 50_000:
            _SCHEMAS.clear()
        _SCHEMAS[key] = out
    return out


def _system_of(ex: Example, draw: Draw) -> str | None:
    return ex.system if ex.system else draw.system


def _prompt(ex: Example) -> str:
    return (STORY_PROMPT if ex.kind == "story" else DOCUMENT_PROMPT).format(title=ex.title)


# ---------------------------------------------------------------------------
# anthropic
# ---------------------------------------------------------------------------


def _anthropic_assistant(msg: Message, mode: str, names: dict[str, str]) -> str | list[dict[str, Any]]:
    rationale = msg.rationale
    if isinstance(msg.content, str):
        if rationale is None or mode == "omit":
            return msg.content
        if mode == "inline":
            return _inline(msg.content, rationale)
        return [{"type": "thinking", "thinking": rationale}, {"type": "text", "text": msg.content}]
    blocks: list[dict[str, Any]] = []
    if rationale is not None and mode == "thinking":
        blocks.append({"type": "thinking", "thinking": rationale})
    items = list(msg.content)
    first_call = next((i for i, b in enumerate(items) if isinstance(b, ToolUseBlock)), len(items))
    add_inline = rationale is not None and mode == "inline" and not _same_text(msg.plain_text(), rationale)
    last_text = max(
        (i for i, b in enumerate(items[:first_call]) if isinstance(b, TextBlock) and _has_text(b.text)), default=-1
    )
    for i, b in enumerate(items):
        if add_inline and rationale is not None and i == first_call and last_text < 0:
            blocks.append({"type": "text", "text": f"{INLINE_LABEL}{rationale}"})
        if isinstance(b, TextBlock):
            text = b.text
            if add_inline and rationale is not None and i == last_text:
                text = _inline(text, rationale)
            if _has_text(text):
                blocks.append({"type": "text", "text": text})
        elif isinstance(b, ToolUseBlock):
            blocks.append({"type": "tool_use", "id": b.id, "name": names.get(b.name, b.name), "input": b.input})
    if add_inline and rationale is not None and first_call == len(items) and last_text < 0:
        blocks.append({"type": "text", "text": f"{INLINE_LABEL}{rationale}"})
    return blocks


def _anthropic_user(msg: Message) -> str | list[dict[str, Any]]:
    if isinstance(msg.content, str):
        return msg.content
    results: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    for b in msg.content:
        if isinstance(b, ToolResultBlock):
            content: str | list[dict[str, Any]] = (
                b.content if isinstance(b.content, str) else [{"type": "text", "text": t.text} for t in b.content]
            )
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": b.tool_use_id, "content": content}
            if b.is_error:
                block["is_error"] = True
            results.append(block)
        elif isinstance(b, TextBlock) and _has_text(b.text):
            texts.append({"type": "text", "text": b.text})
    return results + texts  # the API wants tool results first in the turn


def render_anthropic(ex: Example, draw: Draw, mode: str, repeat: int = 0) -> Row:
    """A Messages API request body (without model and max_tokens)."""
    row: Row = {}
    system = _system_of(ex, draw)
    if system:
        row["system"] = system
    messages: list[dict[str, Any]] = []
    if ex.messages is None:
        answer = ex.text or ""
        content: str | list[dict[str, Any]] = answer
        if ex.rationale and mode == "inline":
            content = _inline(answer, ex.rationale)
        elif ex.rationale and mode == "thinking":
            content = [{"type": "thinking", "thinking": ex.rationale}, {"type": "text", "text": answer}]
        messages = [{"role": "user", "content": _prompt(ex)}, {"role": "assistant", "content": content}]
        row["messages"] = messages
        return row
    tools, names = _tools_of(ex, draw)
    for msg in ex.messages:
        if msg.role == "user":
            messages.append({"role": "user", "content": _anthropic_user(msg)})
        else:
            messages.append({"role": "assistant", "content": _anthropic_assistant(msg, mode, names)})
    row["messages"] = messages
    if tools:
        row["tools"] = [
            {"name": names[t.name], "description": t.description, "input_schema": export_schema(t.input_schema)}
            for t in tools
        ]
    return row


# ---------------------------------------------------------------------------
# openai and hf-messages (one walk, two dialects)
# ---------------------------------------------------------------------------


def _chat_messages(ex: Example, draw: Draw, mode: str, names: dict[str, str], hf: bool) -> list[dict[str, Any]]:
    if not hf and mode == "thinking":
        mode = "inline"  # openai's fine-tuning format has no reasoning field
    out: list[dict[str, Any]] = []
    system = _system_of(ex, draw)
    if system:
        out.append({"role": "system", "content": system})
    if ex.messages is None:
        answer = ex.text or ""
        assistant: dict[str, Any] = {"role": "assistant", "content": answer}
        if ex.rationale and mode == "inline":
            assistant["content"] = _inline(answer, ex.rationale)
        elif ex.rationale and mode == "thinking":
            assistant["reasoning_content"] = ex.rationale
        out.append({"role": "user", "content": _prompt(ex)})
        out.append(assistant)
        return out
    call_names: dict[str, str] = {}
    for msg in ex.messages:
        if msg.role == "user":
            if isinstance(msg.content, str):
                out.append({"role": "user", "content": msg.content})
                continue
            texts: list[str] = []
            for b in msg.content:
                if isinstance(b, ToolResultBlock):
                    text = _result_text(b)
                    if b.is_error and not text.startswith(ERROR_PREFIX):
                        text = ERROR_PREFIX + text
                    tool_msg: dict[str, Any] = {"role": "tool", "tool_call_id": b.tool_use_id}
                    if hf:
                        tool_msg["name"] = call_names.get(b.tool_use_id, "")
                    tool_msg["content"] = text
                    out.append(tool_msg)
                elif isinstance(b, TextBlock) and _has_text(b.text):
                    texts.append(b.text)
            if texts:
                out.append({"role": "user", "content": "\n\n".join(texts)})
            continue
        calls: list[dict[str, Any]] = []
        if isinstance(msg.content, str):
            content = msg.content
        else:
            parts: list[str] = []
            for b in msg.content:
                if isinstance(b, TextBlock):
                    if _has_text(b.text):
                        parts.append(b.text)
                elif isinstance(b, ToolUseBlock):
                    name = names.get(b.name, b.name)
                    call_names[b.id] = name
                    calls.append(
                        {
                            "id": b.id,
                            "type": "function",
                            "function": {
                                "name": name,
                                "arguments": dict(b.input) if hf else json.dumps(b.input, ensure_ascii=False),
                            },
                        }
                    )
            content = "\n\n".join(parts)
        if msg.rationale is not None and mode == "inline":
            content = _inline(content, msg.rationale)
        assistant = {"role": "assistant"}
        if content or hf or not calls:
            assistant["content"] = content
        if msg.rationale is not None and mode == "thinking":
            assistant["reasoning_content"] = msg.rationale
        if calls:
            assistant["tool_calls"] = calls
        out.append(assistant)
    return out


def _function_tools(tools: list[Tool], names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": names[t.name],
                "description": t.description,
                "parameters": export_schema(t.input_schema),
            },
        }
        for t in tools
    ]


def render_openai(ex: Example, draw: Draw, mode: str, repeat: int = 0) -> Row:
    """A chat fine-tuning line: `{"messages", "tools"}` (tools only when there are some)."""
    tools, names = _tools_of(ex, draw)
    row: Row = {"messages": _chat_messages(ex, draw, mode, names, hf=False)}
    if tools:
        row["tools"] = _function_tools(tools, names)
    return row


def render_hf(ex: Example, draw: Draw, mode: str, repeat: int = 0) -> Row:
    """`messages` and `tools` as `apply_chat_template(messages, tools=tools)` takes them (tools always a list)."""
    tools, names = _tools_of(ex, draw)
    return {"messages": _chat_messages(ex, draw, mode, names, hf=True), "tools": _function_tools(tools, names)}


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------


def _answer_parts(
    msg: Message, names: dict[str, str], call_names: dict[str, str], write_call: Callable[[str, str], str]
) -> tuple[list[str], list[str]]:
    """An assistant turn's texts and its tool calls as lines (`write_call(name, JSON arguments)`), for
    the formats that flatten tool use into text; each call's exported name is kept in `call_names`
    so that its result can name the tool."""
    texts: list[str] = []
    calls: list[str] = []
    for b in _blocks(msg):
        if isinstance(b, TextBlock):
            if _has_text(b.text):
                texts.append(b.text)
        elif isinstance(b, ToolUseBlock):
            name = names.get(b.name, b.name)
            call_names[b.id] = name
            calls.append(write_call(name, json.dumps(b.input, ensure_ascii=False)))
    return texts, calls


def _plain_dialogue(ex: Example, draw: Draw, mode: str) -> str:
    paras: list[str] = []
    system = _system_of(ex, draw)
    if system:
        paras.append(f"System: {system}")
    tools, names = _tools_of(ex, draw)
    if tools:
        lines = [f"- {names[t.name]}: {t.description}" if t.description else f"- {names[t.name]}" for t in tools]
        paras.append("Tools:\n" + "\n".join(lines))
    call_names: dict[str, str] = {}
    for msg in ex.messages or []:
        if msg.role == "user":
            texts: list[str] = []
            for b in _blocks(msg):
                if isinstance(b, ToolResultBlock):
                    label = "Tool error" if b.is_error else "Tool result"
                    paras.append(f"{label} ({call_names.get(b.tool_use_id, 'tool')}): {_result_text(b)}")
                elif isinstance(b, TextBlock) and _has_text(b.text):
                    texts.append(b.text)
            if texts:
                paras.append("User: " + "\n\n".join(texts))
            continue
        if msg.rationale is not None and mode == "thinking":
            paras.append(f"Assistant (thinking): {msg.rationale}")
        parts, calls = _answer_parts(msg, names, call_names, lambda name, args: f"[calls {name} {args}]")
        content = "\n\n".join(parts)
        if msg.rationale is not None and mode == "inline":
            content = _inline(content, msg.rationale)
        paras.append("Assistant: " + "\n".join(p for p in (content, *calls) if p))
    return "\n\n".join(paras)


def render_text(ex: Example, draw: Draw, mode: str, repeat: int = 0) -> Row:
    """`{"id", "text", "source", "metadata"}`; a repeat's id gets `#<repeat>` so ids stay unique."""
    metadata: dict[str, Any] = {"kind": ex.kind, "title": ex.title, "clauses": list(ex.clauses), "repeat": repeat}
    if ex.messages is None:
        text = ex.text or ""
        if ex.rationale and mode == "inline":
            text = _inline(text, ex.rationale)
        elif ex.rationale and mode == "thinking":
            metadata["rationale"] = ex.rationale
    else:
        text = _plain_dialogue(ex, draw, mode)
    return {
        "id": ex.id if repeat == 0 else f"{ex.id}#{repeat}",
        "text": text,
        "source": f"curator:{ex.source.type}",
        "metadata": metadata,
    }


# ---------------------------------------------------------------------------
# bedrock
# ---------------------------------------------------------------------------


def _bedrock_system(ex: Example, draw: Draw, tools: list[Tool], names: dict[str, str]) -> str | None:
    """The system prompt, with the tool definitions appended (the format has no `tools` key)."""
    parts = [s for s in (_system_of(ex, draw),) if s]
    if tools:
        lines = [BEDROCK_TOOLS]
        for t in tools:
            schema = json.dumps(export_schema(t.input_schema), ensure_ascii=False)
            about = f" {t.description}" if t.description else ""
            lines.append(f"- {names[t.name]}:{about} Parameters: {schema}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) or None


def _bedrock_turn(msg: Message, mode: str, names: dict[str, str], call_names: dict[str, str]) -> str:
    if msg.role == "user":
        parts: list[str] = []
        for b in _blocks(msg):
            if isinstance(b, ToolResultBlock):
                label = TOOL_ERROR if b.is_error else TOOL_RESULT
                parts.append(f"{label}{call_names.get(b.tool_use_id, 'tool')}: {_result_text(b)}")
            elif isinstance(b, TextBlock) and _has_text(b.text):
                parts.append(b.text)
        return "\n\n".join(parts)
    texts, calls = _answer_parts(msg, names, call_names, lambda name, args: f"{TOOL_CALL}{name} {args}")
    content = "\n\n".join(texts)
    if msg.rationale is not None and mode == "inline":
        content = _inline(content, msg.rationale)
    return "\n\n".join(p for p in (content, "\n".join(calls)) if p)


def render_bedrock(ex: Example, draw: Draw, mode: str, repeat: int = 0) -> Row:
    """A Bedrock Claude fine-tuning line: `{"system"?, "messages"}`, string contents, strict alternation."""
    if mode == "thinking":
        mode = "inline"  # no reasoning field in the format
    tools, names = _tools_of(ex, draw)
    row: Row = {}
    system = _bedrock_system(ex, draw, tools, names)
    if system:
        row["system"] = system
    if ex.messages is None:
        answer = ex.text or ""
        if ex.rationale and mode == "inline":
            answer = _inline(answer, ex.rationale)
        row["messages"] = [{"role": "user", "content": _prompt(ex)}, {"role": "assistant", "content": answer}]
        return row
    messages: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for msg in ex.messages:
        content = _bedrock_turn(msg, mode, names, call_names)
        if messages and messages[-1]["role"] == msg.role:
            messages[-1]["content"] += "\n\n" + content  # keep the roles strictly alternating
        else:
            messages.append({"role": msg.role, "content": content})
    row["messages"] = messages
    return row


# ---------------------------------------------------------------------------
# preference pairs (trl-preference, openai-preference)
# ---------------------------------------------------------------------------


def pair_points(ex: Example) -> list[tuple[int, int]]:
    """(turn, alternative) of every preference pair in a record, in order (none without messages)."""
    return [
        (i, k)
        for i, msg in enumerate(ex.messages or [])
        if msg.role == "assistant"
        for k in range(len(msg.alternatives or []))
    ]


def pair_count(ex: Example) -> int:
    """How many preference lines one copy of the record makes."""
    return sum(len(m.alternatives or []) for m in ex.messages or [] if m.role == "assistant")


def _as_turn(alt: Alternative) -> Message:
    return Message.model_construct(role="assistant", content=alt.content, rationale=None, alternatives=None)


def _pair_chat(
    ex: Example, draw: Draw, names: dict[str, str], turn: int, alt: int, hf: bool
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(prompt, chosen, rejected) for one pair: the same walk as the chat formats, without rationales."""
    messages = ex.messages or []
    head = messages[:turn]
    chosen_turn = messages[turn].model_copy(update={"rationale": None, "alternatives": None})
    alternative = (messages[turn].alternatives or [])[alt]
    chosen = _chat_messages(ex.model_copy(update={"messages": [*head, chosen_turn]}), draw, "omit", names, hf)
    rejected = _chat_messages(
        ex.model_copy(update={"messages": [*head, _as_turn(alternative)]}), draw, "omit", names, hf
    )
    return chosen[:-1], chosen[-1], rejected[-1]


def render_trl_preference_pairs(ex: Example, draw: Draw) -> list[Row]:
    """TRL's conversational preference lines, `{"prompt", "chosen", "rejected", "tools"}`, one per pair."""
    points = pair_points(ex)
    if not points:
        return []
    tools, names = _tools_of(ex, draw)
    fn_tools = _function_tools(tools, names)
    rows: list[Row] = []
    for turn, alt in points:
        prompt, chosen, rejected = _pair_chat(ex, draw, names, turn, alt, hf=True)
        rows.append({"prompt": prompt, "chosen": [chosen], "rejected": [rejected], "tools": fn_tools})
    return rows


def _parallel_calls(*messages: dict[str, Any]) -> bool:
    return any(len(m.get("tool_calls", ())) > 1 for m in messages)


def render_openai_preference_pairs(ex: Example, draw: Draw) -> list[Row]:
    """OpenAI DPO lines, `{"input", "preferred_output", "non_preferred_output"}`, one per pair."""
    points = pair_points(ex)
    if not points:
        return []
    tools, names = _tools_of(ex, draw)
    rows: list[Row] = []
    for turn, alt in points:
        prompt, chosen, rejected = _pair_chat(ex, draw, names, turn, alt, hf=False)
        inp: dict[str, Any] = {"messages": prompt}
        if tools:
            inp["tools"] = _function_tools(tools, names)
            inp["parallel_tool_calls"] = _parallel_calls(*prompt, chosen, rejected)
        rows.append({"input": inp, "preferred_output": [chosen], "non_preferred_output": [rejected]})
    return rows


def _alternative_text(alt: Alternative) -> str:
    """The alternative as one quoted answer: its text, and a tool call as `[calls NAME {JSON arguments}]`."""
    if isinstance(alt.content, str):
        return alt.content
    parts: list[str] = []
    for b in alt.content:
        if isinstance(b, TextBlock) and _has_text(b.text):
            parts.append(b.text)
        elif isinstance(b, ToolUseBlock):
            parts.append(f"[calls {b.name} {json.dumps(b.input, ensure_ascii=False)}]")
    return "\n".join(parts)


def with_contrast(ex: Example) -> Example:
    """`contrast = true`: each alternative that has a why-not is added to its turn's rationale.

    The rationale then says what a tempting wrong answer would be and why it is wrong, so SFT
    formats teach the contrast too. Alternatives without a why-not add nothing (no reason to state).
    """
    if not ex.messages or not any(m.alternatives for m in ex.messages):
        return ex
    messages: list[Message] = []
    for msg in ex.messages:
        notes = [
            CONTRAST_INTRO.format(answer=_alternative_text(alt)) + "\n" + CONTRAST_REASON.format(why_not=alt.why_not)
            for alt in msg.alternatives or []
            if alt.why_not
        ]
        if notes:
            parts = [msg.rationale, *notes] if msg.rationale else notes
            msg = msg.model_copy(update={"rationale": "\n\n".join(parts)})
        messages.append(msg)
    return ex.model_copy(update={"messages": messages})


Renderer = Callable[[Example, Draw, str, int], Row]

RENDERERS: dict[str, Renderer] = {
    "anthropic": render_anthropic,
    "openai": render_openai,
    "hf-messages": render_hf,
    "text": render_text,
    "bedrock": render_bedrock,
}


PAIR_RENDERERS: dict[str, Callable[[Example, Draw], list[Row]]] = {
    "trl-preference": render_trl_preference_pairs,
    "openai-preference": render_openai_preference_pairs,
}


def render(fmt: str, ex: Example, draw: Draw, mode: str, repeat: int = 0) -> Row:
    """One record (one repeat) in one of the per-record formats."""
    return RENDERERS[fmt](ex, draw, mode, repeat)


def render_rows(fmt: str, ex: Example, draw: Draw, mode: str, repeat: int = 0) -> list[Row]:
    """Every line one record (one repeat) makes in a format: one, or one per pair for preference formats."""
    pairs = PAIR_RENDERERS.get(fmt)
    if pairs is not None:
        return pairs(ex, draw)
    return [RENDERERS[fmt](ex, draw, mode, repeat)]


# ---------------------------------------------------------------------------
# What tokens are counted on
# ---------------------------------------------------------------------------


def _anthropic_content_text(content: Any, out: list[str]) -> None:
    if isinstance(content, str):
        out.append(content)
        return
    for b in content:
        t = b.get("type")
        if t == "text":
            out.append(b["text"])
        elif t == "thinking":
            out.append(b["thinking"])
        elif t == "tool_use":
            out.append(b["name"])
            out.append(json.dumps(b["input"], ensure_ascii=False))
        elif t == "tool_result":
            _anthropic_content_text(b["content"], out)


def training_text(fmt: str, row: Row) -> str:
    """Every string a model trained on `row` reads, newline-joined: the text tokens are counted on.

    Role markers and chat-template tokens are not included (they depend on the trainer's template).
    """
    out: list[str] = []
    if fmt == "text":
        return str(row["text"])
    if fmt == "trl-preference":
        _chat_text(row.get("tools"), [*row["prompt"], *row["chosen"], *row["rejected"]], out)
        return "\n".join(out)
    if fmt == "openai-preference":
        inp = row["input"]
        _chat_text(inp.get("tools"), [*inp["messages"], *row["preferred_output"], *row["non_preferred_output"]], out)
        return "\n".join(out)
    if fmt == "bedrock":
        if "system" in row:
            out.append(row["system"])
        out.extend(m["content"] for m in row["messages"])
        return "\n".join(out)
    if fmt == "anthropic":
        if "system" in row:
            out.append(row["system"])
        for t in row.get("tools", ()):
            out.append(json.dumps(t, ensure_ascii=False))
        for m in row["messages"]:
            _anthropic_content_text(m["content"], out)
        return "\n".join(out)
    _chat_text(row.get("tools"), row["messages"], out)
    return "\n".join(out)


def _chat_text(tools: Any, messages: list[dict[str, Any]], out: list[str]) -> None:
    """The strings of a chat-shaped line (openai, hf-messages and both preference formats)."""
    if isinstance(tools, str):
        if tools != "[]":
            out.append(tools)
    elif tools:
        out.extend(json.dumps(t, ensure_ascii=False) for t in tools)
    for m in messages:
        if "reasoning_content" in m:
            out.append(m["reasoning_content"])
        content = m.get("content")
        if content:
            out.append(content)
        for call in m.get("tool_calls", ()):
            out.append(call["function"]["name"])
            args = call["function"]["arguments"]
            out.append(args if isinstance(args, str) else json.dumps(args, ensure_ascii=False))
