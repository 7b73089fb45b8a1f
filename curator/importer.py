"""Importing records from JSON lines: the canonical format and two foreign ones.

Formats, detected per file with `auto`:
- `curator`: one canonical record per line (DESIGN section 3);
- `messages`: chat records `{"messages": [...]}` (OpenAI / Hugging Face style; the system
  prompt as a field or as the first message; OpenAI tool calls become an agentic record);
- `hh`: hh-rlhf pairs `{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ..."}`, imported as an
  advice draft from the chosen transcript.

All or nothing: every line is parsed and validated before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from sqlite_utils import Database

from curator.errors import ImportFailed, RecordError
from curator.models import Example, describe_validation_error, parse_example
from curator.store import examples as store_examples
from curator.store.clauses import current_clause_hashes
from curator.textnorm import exact_hash

ImportFormat = Literal["auto", "curator", "messages", "hh"]
FORMATS: tuple[str, ...] = ("auto", "curator", "messages", "hh")

MAX_LINE_BYTES = 5_000_000
"""A line longer than this is rejected before it is decoded (protects memory)."""


@dataclass
class LineProblem:
    """One line that could not be imported."""

    line: int
    field: str | None
    message: str

    def describe(self, filename: str) -> str:
        where = f"{filename}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import did: ids written, exact duplicates skipped, invalid lines skipped."""

    format: str
    imported: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[LineProblem] = field(default_factory=list)

    def to_json(self, filename: str) -> dict[str, Any]:
        return {
            "format": self.format,
            "imported": len(self.imported),
            "ids": self.imported,
            "duplicates": self.duplicates,
            "invalid": [{"line": p.line, "field": p.field, "message": p.message,
                         "error": p.describe(filename)} for p in self.invalid],
        }


# ---------------------------------------------------------------------------
# Reading lines
# ---------------------------------------------------------------------------


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; a top-level JSON array counts items instead."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFailed(f"{path}: is a folder, not a file") from None
    except OSError as err:
        raise ImportFailed(f"{path}: cannot read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ImportFailed(f"{path}:{line}: not valid UTF-8") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise ImportFailed(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
        for i, item in enumerate(items, start=1):
            yield i, json.dumps(item, ensure_ascii=False)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line


def detect_format(first_object: Any) -> str:
    """Which format a file is in, from its first record."""
    if isinstance(first_object, dict):
        if "kind" in first_object:
            return "curator"
        if "chosen" in first_object:
            return "hh"
        if "messages" in first_object or "conversations" in first_object:
            return "messages"
    raise RecordError("cannot detect the format (expected a curator record, or `messages`, or `chosen`); "
                      "pass --format")


# ---------------------------------------------------------------------------
# Foreign formats -> canonical dicts
# ---------------------------------------------------------------------------

_CARRIED = ("id", "title", "status", "author", "tags", "clauses", "group")


def _title_from(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= 72:
        return words or "Untitled"
    cut = words[:72].rsplit(" ", 1)[0]
    return cut + "…"


def _imported_source(origin: str) -> dict[str, Any]:
    return {"type": "imported", "model": None, "prompt_sha256": None, "origin": origin}


def _normalize_schema(schema: Any) -> Any:
    """JSON Schema from tool sets in the wild: `"type": "dict"` (BFCL and others) means object."""
    if isinstance(schema, dict):
        out = {k: _normalize_schema(v) for k, v in schema.items()}
        if out.get("type") == "dict":
            out["type"] = "object"
        return out
    if isinstance(schema, list):
        return [_normalize_schema(v) for v in schema]
    return schema


def convert_tool(tool: Any) -> dict[str, Any]:
    """An Anthropic, OpenAI (`{"type": "function", "function": {...}}`) or bare function tool."""
    if not isinstance(tool, dict):
        raise RecordError("a tool must be an object", field="tools")
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        tool = tool["function"]
    schema = tool.get("input_schema", tool.get("parameters", {"type": "object", "properties": {}}))
    return {
        "name": tool.get("name"),
        "description": tool.get("description", ""),
        "input_schema": _normalize_schema(schema),
    }


def _openai_content(content: Any) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, list):  # OpenAI content parts
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", None)]
        return "\n".join(texts)
    return content  # type: ignore[no-any-return]


def from_messages(obj: dict[str, Any], origin: str) -> dict[str, Any]:
    """A chat record (OpenAI / HF / ShareGPT style) as a canonical advice or agentic dict."""
    raw = obj.get("messages", obj.get("conversations"))
    if not isinstance(raw, list) or not raw:
        raise RecordError("must be a non-empty list of turns", field="messages")
    system = obj.get("system")
    turns: list[dict[str, Any]] = []
    role_map = {"human": "user", "gpt": "assistant", "user": "user", "assistant": "assistant",
                "system": "system", "tool": "tool"}
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise RecordError("each turn must be an object", field=f"messages[{i}]")
        role = role_map.get(str(m.get("role", m.get("from", ""))))
        if role is None:
            raise RecordError(f"unknown role {m.get('role', m.get('from'))!r}", field=f"messages[{i}].role")
        content = _openai_content(m.get("content", m.get("value")))
        if role == "system":
            if turns:
                raise RecordError("a system message must come first", field=f"messages[{i}]")
            system = content if isinstance(content, str) else str(content)
            continue
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.get("tool_call_id", ""), "content": content}
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
            continue
        calls = m.get("tool_calls") or []
        if calls:
            blocks: list[dict[str, Any]] = []
            if content:
                blocks.append({"type": "text", "text": content})
            for call in calls:
                fn = call.get("function", {}) if isinstance(call, dict) else {}
                args = fn.get("arguments", {})
                if isinstance(args, str):
                    try:
                        args = json.loads(args) if args.strip() else {}
                    except json.JSONDecodeError:
                        raise RecordError("tool call arguments are not JSON",
                                          field=f"messages[{i}].tool_calls") from None
                blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": fn.get("name", ""),
                               "input": args})
            turns.append({"role": role, "content": blocks})
            continue
        if turns and turns[-1]["role"] == role and isinstance(turns[-1]["content"], str) and isinstance(content, str):
            turns[-1]["content"] += "\n\n" + content  # consecutive turns of one speaker
            continue
        turn: dict[str, Any] = {"role": role, "content": content}
        if role == "assistant" and obj.get("rationale") is None and m.get("rationale"):
            turn["rationale"] = m["rationale"]
        turns.append(turn)
    tools = [convert_tool(t) for t in obj.get("tools") or []]
    first_user = next((t["content"] for t in turns if t["role"] == "user" and isinstance(t["content"], str)), "")
    record: dict[str, Any] = {
        "kind": "agentic" if tools else "advice",
        "title": _title_from(first_user) if first_user else "Imported dialogue",
        "status": "draft",
        "messages": turns,
        "source": _imported_source(origin),
    }
    if system:
        record["system"] = system
    if tools:
        record["tools"] = tools
    for key in _CARRIED:
        if key in obj:
            record[key] = obj[key]
    return record


_HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")


def from_hh(obj: dict[str, Any], origin: str) -> dict[str, Any]:
    """An hh-rlhf pair as an advice draft built from the chosen transcript."""
    chosen = obj.get("chosen")
    if not isinstance(chosen, str) or not chosen.strip():
        raise RecordError("must be a non-empty transcript string", field="chosen")
    text = chosen if chosen.startswith("\n\n") else "\n\n" + chosen
    parts = _HH_TURN.split(text)
    turns: list[dict[str, Any]] = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content.strip()
        else:
            turns.append({"role": role, "content": content.strip()})
    if not turns:
        raise RecordError("no 'Human:' / 'Assistant:' turns found", field="chosen")
    record: dict[str, Any] = {
        "kind": "advice",
        "title": _title_from(turns[0]["content"]),
        "status": "draft",
        "messages": turns,
        "source": _imported_source(origin),
    }
    for key in _CARRIED:
        if key in obj:
            record[key] = obj[key]
    return record


# ---------------------------------------------------------------------------
# Parsing a whole file
# ---------------------------------------------------------------------------


def _parse_line(line: str, fmt: str, origin: str) -> Example:
    if fmt == "curator":
        try:
            return Example.model_validate_json(line)
        except ValidationError as err:
            if err.errors()[0]["type"] != "json_invalid":
                raise describe_validation_error(err) from None
        obj = _loads(line)  # raises a clear JSON error
        return parse_example(obj)
    obj = _loads(line)
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    converted = from_messages(obj, origin) if fmt == "messages" else from_hh(obj, origin)
    return parse_example(converted)


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise RecordError(f"invalid JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:
        raise RecordError("invalid JSON (nested too deeply)") from None


def parse_file(
    path: Path, fmt: str = "auto", *, skip_invalid: bool = False
) -> tuple[str, list[tuple[int, Example]], list[LineProblem]]:
    """Parse and validate every line; raises ImportFailed at the first bad line unless skip_invalid."""
    if fmt not in FORMATS:
        raise ImportFailed(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    records: list[tuple[int, Example]] = []
    problems: list[LineProblem] = []
    detected = None if fmt == "auto" else fmt
    for number, line in _read_lines(path):
        try:
            if len(line) > MAX_LINE_BYTES:
                raise RecordError(f"line longer than {MAX_LINE_BYTES} bytes")
            if detected is None:
                detected = detect_format(_loads(line))
            records.append((number, _parse_line(line, detected, f"{path.name}:{number}")))
        except RecordError as err:
            problem = LineProblem(number, err.field, str(err).removeprefix(f"{err.field}: ") if err.field else str(err))
            if not skip_invalid:
                raise ImportFailed(problem.describe(str(path))) from None
            problems.append(problem)
    return detected or (fmt if fmt != "auto" else "curator"), records, problems


def import_file(
    db: Database,
    path: Path,
    fmt: str = "auto",
    *,
    actor: str,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a JSON-lines file in one transaction: all or nothing (or the valid lines with skip_invalid).

    Exact duplicates (same normalised text) of stored records or of earlier lines are skipped
    and reported; ids already in the workspace are an error for that line.
    """
    detected, records, problems = parse_file(path, fmt, skip_invalid=skip_invalid)
    report = ImportReport(format=detected, invalid=problems)
    clause_hashes = current_clause_hashes(db)
    hashes = {n: exact_hash(ex.searchable_text()) for n, ex in records}
    stored = store_examples.existing_hashes(db, hashes.values())
    taken_ids = set(store_examples._existing_ids(db, [ex.id for _, ex in records]))
    seen_hash: dict[str, str] = {}
    seen_ids: set[str] = set()
    to_insert: list[Example] = []
    for number, ex in records:
        try:
            store_examples.check_clauses(ex, clause_hashes)
            if ex.id in taken_ids or ex.id in seen_ids:
                raise RecordError(f"an example with id {ex.id!r} already exists", field="id")
        except RecordError as err:
            problem = LineProblem(number, err.field, str(err).removeprefix(f"{err.field}: "))
            if not skip_invalid:
                raise ImportFailed(problem.describe(str(path))) from None
            report.invalid.append(problem)
            continue
        h = hashes[number]
        dup_of = stored.get(h) or seen_hash.get(h)
        if dup_of is not None:
            report.duplicates.append({"line": number, "id": ex.id, "duplicate_of": dup_of})
            continue
        seen_hash[h] = ex.id
        seen_ids.add(ex.id)
        to_insert.append(ex)
    report.invalid.sort(key=lambda p: p.line)
    if progress:
        progress(0, len(to_insert))
    report.imported = store_examples.insert_many(db, to_insert, actor=actor, action="import")
    if progress:
        progress(len(to_insert), len(to_insert))
    return report
