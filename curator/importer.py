"""Importing records from JSON lines: the canonical format and two foreign ones.

Formats, detected per file with `auto`:
- `curator`: one canonical record per line (docs/record.md);
- `messages`: chat records `{"messages": [...]}` (OpenAI / Hugging Face style; the system
  prompt as a field or as the first message; OpenAI tool calls become an agentic record);
- `hh`: hh-rlhf pairs `{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}`, imported
  as an advice draft from the chosen transcript; the rejected final answer becomes an alternative
  of the chosen final answer (no why-not yet) when both transcripts share the turns before it,
  else it is left out with a warning.

All or nothing: every line is parsed and validated before anything is written.

Statuses: an import is not a review. Records land as `draft` whatever the file says, or as
`review` with `submit=True`; only `keep_status=True` keeps the file's statuses (`approved`
included), for records reviewed elsewhere, and each import event notes it and who asked.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import itertools
import json
import os
import re
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

from pydantic import ValidationError
from sqlite_utils import Database

from curator import workers
from curator.errors import ImportFailed, RecordError, UsageError
from curator.files import open_bytes
from curator.jsonschema_norm import SchemaError, normalize_schema
from curator.models import Example, parse_example, record_error_from
from curator.store import bulk
from curator.store import examples as store_examples
from curator.store.clauses import current_clause_hashes
from curator.store.examples import PreparedRecord, prepare, prepare_many
from curator.workers import ordered_map

ImportFormat = Literal["auto", "curator", "messages", "hh"]
FORMATS: tuple[str, ...] = ("auto", "curator", "messages", "hh")

MAX_LINE_BYTES = 5_000_000
"""A line longer than this is rejected before it is decoded (protects memory)."""

_TOO_LONG = "\x00curator: line too long\x00"
"""Stands in for a line longer than MAX_LINE_BYTES (NUL bytes never occur in a JSON line)."""


@dataclass
class LineProblem:
    """One line that could not be imported."""

    line: int
    field: str | None
    message: str

    def describe(self, filename: str) -> str:
        where = f"{filename}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class IdList(Sequence[str]):
    """Ids in the order they were added, held as UTF-8 end to end: ~34 bytes an id where a list of
    strings took ~85, and an import of a million records reports every id it wrote."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._blob = bytearray()
        self._ends = array("Q")
        self.extend(ids)

    def extend(self, ids: Iterable[str]) -> None:
        for record_id in ids:
            self._blob += record_id.encode()
            self._ends.append(len(self._blob))

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, at: int) -> str: ...

    @overload
    def __getitem__(self, at: slice) -> list[str]: ...

    def __getitem__(self, at: int | slice) -> str | list[str]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        at = range(len(self._ends))[at]  # negative positions count from the end; IndexError beyond
        start = self._ends[at - 1] if at else 0
        return self._blob[start : self._ends[at]].decode()

    def __iter__(self) -> Iterator[str]:
        start = 0
        for end in self._ends:
            yield self._blob[start:end].decode()
            start = end

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IdList | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"IdList({list(self)!r})"


@dataclass
class ImportReport:
    """What an import did: ids written, exact duplicates skipped, invalid lines skipped."""

    format: str
    statuses: str = "draft"
    """What the imported records' statuses are: `draft`, `review` (submitted) or `kept` (as in the file)."""
    imported: IdList = field(default_factory=IdList)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[LineProblem] = field(default_factory=list)
    warnings: list[LineProblem] = field(default_factory=list)
    """Imported lines of which something was left out (an hh rejected answer that could not be kept)."""

    def to_json(self, filename: str) -> dict[str, Any]:
        return {
            "format": self.format,
            "imported": len(self.imported),
            "ids": list(self.imported),
            "duplicates": self.duplicates,
            "invalid": [
                {"line": p.line, "field": p.field, "message": p.message, "error": p.describe(filename)}
                for p in self.invalid
            ],
            "warnings": [
                {"line": p.line, "message": p.message, "warning": p.describe(filename)} for p in self.warnings
            ],
        }


# ---------------------------------------------------------------------------
# Reading lines
# ---------------------------------------------------------------------------


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers, streamed; a top-level JSON array counts items instead.

    A `.gz` file is decompressed as it is read."""
    try:
        yield from _lines_of(path)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ImportFailed(f"{path}: not a valid gzip file ({err})") from None


def _lines_of(path: Path) -> Iterator[tuple[int, str]]:
    fh = open_bytes(path, ImportFailed, kind="records")
    with fh:
        try:
            head = fh.read(4096)
        except IsADirectoryError:
            raise ImportFailed(f"{path}: is a directory, not a file") from None
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        if head.lstrip().startswith(b"["):
            try:
                text = (head + fh.read()).decode("utf-8")
            except UnicodeDecodeError:
                raise ImportFailed(f"{path}: not valid UTF-8") from None
            yield from _array_items(path, text)
            return
        fh.seek(0)
        number = 0
        while raw := fh.readline(MAX_LINE_BYTES + 1):  # bounded: a huge line is never held in memory
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of it
                    raw = fh.readline(1 << 20)
                yield number, _TOO_LONG
                continue
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise ImportFailed(f"{path}:{number}: not valid UTF-8") from None
            if line.strip():
                yield number, line.rstrip("\r\n")


def _array_items(path: Path, text: str) -> Iterator[tuple[int, str]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise ImportFailed(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from None
    except RecursionError:
        raise ImportFailed(f"{path}:1: invalid JSON (nested too deeply)") from None
    for i, item in enumerate(items, start=1):
        yield i, json.dumps(item, ensure_ascii=False)


def detect_format(first_object: Any) -> str:
    """Which format a file is in, from its first record."""
    if isinstance(first_object, dict):
        if "kind" in first_object:
            return "curator"
        if "chosen" in first_object:
            return "hh"
        if "messages" in first_object or "conversations" in first_object:
            return "messages"
    raise RecordError("cannot detect the format (expected a curator record, or `messages`, or `chosen`); pass --format")


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


def convert_tool(tool: Any, where: str = "tools") -> dict[str, Any]:
    """An Anthropic, OpenAI (`{"type": "function", "function": {...}}`) or bare function tool.

    The parameter schema goes through the one normaliser (`curator.jsonschema_norm`), so `"dict"`,
    `"float"`, `"tuple"` and `"any"` from tool sets in the wild become valid JSON Schema; what it
    cannot repair is an error naming the path inside the schema (`where` is the tool's field).
    """
    if not isinstance(tool, dict):
        raise RecordError("a tool must be an object", field=where)
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        tool = tool["function"]
        where = f"{where}.function"
    key = "input_schema" if "input_schema" in tool else "parameters"
    schema = tool.get(key, {"type": "object", "properties": {}})
    try:
        input_schema = normalize_schema(schema, f"{where}.{key}")
    except SchemaError as err:
        raise RecordError(err.message, field=err.path) from None
    return {"name": tool.get("name"), "description": tool.get("description", ""), "input_schema": input_schema}


def _normalized_tools(ex: Example) -> Example:
    """A canonical record with its tool schemas through the normaliser (unchanged when already valid)."""
    if not ex.tools:
        return ex
    tools = []
    changed = False
    for i, t in enumerate(ex.tools):
        try:
            schema = normalize_schema(t.input_schema, f"tools[{i}].input_schema")
        except SchemaError as err:
            raise RecordError(err.message, field=err.path) from None
        if schema != t.input_schema:
            changed = True
            t = t.model_copy(update={"input_schema": schema})
        tools.append(t)
    return ex.model_copy(update={"tools": tools}) if changed else ex


RATIONALE_KEYS = ("rationale", "reasoning_content", "thinking", "reasoning")
"""Where chat files keep an assistant turn's reasons: curator's own key, then what exports and
chat templates use (`reasoning_content` for openai-style and hf-messages, `thinking` for gpt-oss)."""


def _rationale_of(m: dict[str, Any], where: str) -> str | None:
    for key in RATIONALE_KEYS:
        value = m.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise RecordError(f"must be a string, got {type(value).__name__}", field=f"{where}.{key}")
        return value
    return None


def _join(a: str | None, b: str | None) -> str | None:
    if a and b:
        return f"{a}\n\n{b}"
    return a or b


def _openai_content(content: Any) -> str | list[dict[str, Any]]:
    if content is None:
        return ""
    if isinstance(content, list):  # OpenAI content parts
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in ("text", None)]
        return "\n".join(t for t in texts if isinstance(t, str))
    return content  # type: ignore[no-any-return]


def from_messages(obj: dict[str, Any], origin: str) -> dict[str, Any]:
    """A chat record (OpenAI / HF / ShareGPT style) as a canonical advice or agentic dict."""
    raw = obj.get("messages", obj.get("conversations"))
    if not isinstance(raw, list) or not raw:
        raise RecordError("must be a non-empty list of turns", field="messages")
    system = obj.get("system")
    turns: list[dict[str, Any]] = []
    role_map = {
        "human": "user",
        "gpt": "assistant",
        "user": "user",
        "assistant": "assistant",
        "system": "system",
        "tool": "tool",
    }
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
            if not isinstance(calls, list):
                raise RecordError("must be a list of tool calls", field=f"messages[{i}].tool_calls")
            blocks: list[dict[str, Any]] = []
            if content:
                blocks.append({"type": "text", "text": content})
            for j, call in enumerate(calls):
                fn = call.get("function", {}) if isinstance(call, dict) else None
                if not isinstance(call, dict) or not isinstance(fn, dict):
                    raise RecordError(
                        'must be an object {"id", "function": {"name", "arguments"}}',
                        field=f"messages[{i}].tool_calls[{j}]",
                    )
                args = fn.get("arguments", {})
                if isinstance(args, str):
                    try:
                        args = json.loads(args) if args.strip() else {}
                    except (ValueError, RecursionError):  # JSONDecodeError, numbers too long, nesting too deep
                        raise RecordError(
                            "tool call arguments are not JSON", field=f"messages[{i}].tool_calls[{j}]"
                        ) from None
                blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": fn.get("name", ""), "input": args})
            turn: dict[str, Any] = {"role": role, "content": blocks}
            if role == "assistant" and (why := _rationale_of(m, f"messages[{i}]")) is not None:
                turn["rationale"] = why
            turns.append(turn)
            continue
        why = _rationale_of(m, f"messages[{i}]") if role == "assistant" else None
        if turns and turns[-1]["role"] == role and isinstance(turns[-1]["content"], str) and isinstance(content, str):
            turns[-1]["content"] += "\n\n" + content  # consecutive turns of one speaker
            if why is not None:
                turns[-1]["rationale"] = _join(turns[-1].get("rationale"), why)
            continue
        turn = {"role": role, "content": content}
        if why is not None:
            turn["rationale"] = why
        turns.append(turn)
    _record_rationale(obj, turns)
    raw_tools = obj.get("tools") or []
    if isinstance(raw_tools, str):  # hf-messages style: the tool list as a JSON string
        try:
            raw_tools = json.loads(raw_tools) if raw_tools.strip() else []
        except (ValueError, RecursionError):
            raise RecordError("a string of tools must be a JSON list", field="tools") from None
    if not isinstance(raw_tools, list):
        raise RecordError("must be a list of tool definitions", field="tools")
    tools = [convert_tool(t, f"tools[{k}]") for k, t in enumerate(raw_tools)]
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


def _record_rationale(obj: dict[str, Any], turns: list[dict[str, Any]]) -> None:
    """A line-level `rationale` belongs to the last assistant turn (the answer the line is about)."""
    if "rationale" not in obj:
        return
    why = obj["rationale"]
    if why is None or why == "":
        return
    if not isinstance(why, str):
        raise RecordError(f"must be a string, got {type(why).__name__}", field="rationale")
    last = next((t for t in reversed(turns) if t["role"] == "assistant"), None)
    if last is None:
        raise RecordError("there is no assistant turn to attach it to", field="rationale")
    if last.get("rationale") != why:
        last["rationale"] = _join(last.get("rationale"), why)


_HH_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")


def _hh_turns(transcript: Any, key: str) -> list[dict[str, Any]]:
    """The turns of one hh-rlhf transcript (consecutive turns of one speaker joined)."""
    if not isinstance(transcript, str) or not transcript.strip():
        raise RecordError("must be a non-empty transcript string", field=key)
    text = transcript if transcript.startswith("\n\n") else "\n\n" + transcript
    parts = _HH_TURN.split(text)
    turns: list[dict[str, Any]] = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + content.strip()
        else:
            turns.append({"role": role, "content": content.strip()})
    if not turns:
        raise RecordError("no 'Human:' / 'Assistant:' turns found", field=key)
    return turns


HH_REJECTED_SOURCE = "hh rejected"


def _hh_rejected(obj: dict[str, Any], chosen: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The rejected transcript's final answer as an alternative of the chosen final answer, or why not.

    Only when both transcripts hold the same turns before their last answer: a rejected answer
    given to another dialogue would be a reason-less "don't" attached to the wrong question.
    """
    if obj.get("rejected") is None:
        return None, None
    rejected = _hh_turns(obj["rejected"], "rejected")
    if chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
        return None, "rejected answer not kept: a transcript does not end with an assistant answer"
    if rejected[:-1] != chosen[:-1]:
        return None, (
            "rejected transcript's turns before its last answer differ from the chosen one's "
            f"({len(rejected) - 1} vs {len(chosen) - 1} turns): rejected answer not kept"
        )
    answer = rejected[-1]["content"]
    if answer == chosen[-1]["content"]:
        return None, "rejected answer is the same as the chosen one: nothing to keep"
    if not answer.strip():
        return None, "rejected answer is empty: nothing to keep"
    return {"content": answer, "why_not": None, "source": HH_REJECTED_SOURCE}, None


def from_hh(obj: dict[str, Any], origin: str, warnings: list[str] | None = None) -> dict[str, Any]:
    """An hh-rlhf pair as an advice draft: the chosen transcript, its rejected final answer as an alternative.

    A rejected answer that cannot be kept (another dialogue before it, the same text) is left out
    and said in `warnings`.
    """
    turns = _hh_turns(obj.get("chosen"), "chosen")
    alternative, warning = _hh_rejected(obj, turns)
    if alternative is not None:
        turns[-1]["alternatives"] = [alternative]
    if warning is not None and warnings is not None:
        warnings.append(warning)
    _record_rationale(obj, turns)
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


def _parse_line(line: str, fmt: str, origin: str, warnings: list[str] | None = None) -> Example:
    if fmt == "curator":
        try:
            return _normalized_tools(Example.model_validate_json(line))
        except ValidationError as err:
            if err.errors()[0]["type"] != "json_invalid":
                raise record_error_from(err) from None
        obj = _loads(line)  # raises a clear JSON error
        return _normalized_tools(parse_example(obj))
    obj = _loads(line)
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
    converted = from_messages(obj, origin) if fmt == "messages" else from_hh(obj, origin, warnings)
    return parse_example(converted)


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise RecordError(f"invalid JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:
        raise RecordError("invalid JSON (nested too deeply)") from None
    except ValueError:  # a number with more digits than Python converts (sys.int_max_str_digits)
        raise RecordError("invalid JSON (a number has too many digits)") from None


def _problem(number: int, err: RecordError) -> LineProblem:
    message = str(err).removeprefix(f"{err.field}: ") if err.field else str(err)
    return LineProblem(number, err.field, message)


ParsedLine = tuple[int, PreparedRecord | None, LineProblem | None, list[str]]
"""A line's number, its record or its problem, and warnings about a record that was kept."""


def parse_chunk(lines: list[tuple[int, str]], fmt: str, name: str, status: str | None = None) -> list[ParsedLine]:
    """Validate and prepare a chunk of lines (runs in a worker process for big files).

    `status` replaces each record's status (None keeps the file's).
    """
    out: list[ParsedLine] = []
    valid: list[tuple[int, Example, list[str]]] = []  # prepared together at the end, in one batch
    for number, line in lines:
        try:
            if line == _TOO_LONG or len(line) > MAX_LINE_BYTES:
                raise RecordError(f"line longer than {MAX_LINE_BYTES:,} bytes")
            warnings: list[str] = []
            ex = _parse_line(line, fmt, f"{name}:{number}", warnings)
            if status is not None and ex.status != status:
                ex = ex.model_copy(update={"status": status})
            valid.append((len(out), ex, warnings))
            out.append((number, None, None, warnings))  # its record is filled in below
        except RecordError as err:
            out.append((number, None, _problem(number, err), []))
        except RecursionError:  # a structure deeper than any check above expected
            out.append((number, None, LineProblem(number, None, "nested too deeply"), []))
    try:
        prepared = prepare_many([ex for _, ex, _ in valid])
    except (RecordError, RecursionError):  # some record cannot be prepared: find it line by line
        for at, ex, warnings in valid:
            number = out[at][0]
            try:
                out[at] = (number, prepare(ex), None, warnings)
            except RecordError as err:
                out[at] = (number, None, _problem(number, err), [])
            except RecursionError:
                out[at] = (number, None, LineProblem(number, None, "nested too deeply"), [])
        return out
    for (at, _, warnings), record in zip(valid, prepared, strict=True):
        out[at] = (out[at][0], record, None, warnings)
    return out


def _chunks(lines: Iterator[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parsed_chunks(
    chunks: Iterator[list[tuple[int, str]]], fmt: str, name: str, *, parallel: bool, status: str | None
) -> Iterator[list[ParsedLine]]:
    """Chunks parsed in order; with `parallel`, in worker processes while this one writes."""
    return ordered_map(functools.partial(parse_chunk, fmt=fmt, name=name, status=status), chunks, parallel=parallel)


PARALLEL_MIN_BYTES = workers.PARALLEL_MIN_BYTES
"""Files at least this big are parsed in worker processes (start-up costs ~0.3 s)."""

CHUNK_LINES = 2000

LINE_BYTES_GUESS = 1000
"""Bytes a record's line takes, roughly, to guess from a file's size how many records it adds
(whether building the workspace's indexes once at the end is worth it: `store.bulk`)."""


def import_file(
    db: Database,
    path: Path,
    fmt: str = "auto",
    *,
    actor: str,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = False,
    submit: bool = False,
    keep_status: bool = False,
) -> ImportReport:
    """Import a JSON-lines file in one transaction: all or nothing (or the valid lines with skip_invalid).

    Lines are validated and written chunk by chunk inside one transaction, so memory stays
    flat; the first bad line rolls everything back. Exact duplicates (same normalised text)
    of live stored records or of earlier lines are skipped and reported. `progress` gets the
    number of lines handled so far. `parallel=None` parses big files in a second (spawned)
    process; only entry points guarded by `if __name__ == "__main__"` may pass it (the CLI does).

    Imported records are `draft` whatever the file says (an import is not a review); `submit`
    makes them `review`; `keep_status` keeps the file's statuses, `approved` included, and each
    import event notes that the status was kept and who asked.
    """
    if fmt not in FORMATS:
        raise ImportFailed(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if submit and keep_status:
        raise UsageError("submit and keep_status exclude each other: submit sets every status, keep_status none")
    status = None if keep_status else "review" if submit else "draft"
    path = Path(path)
    lines = _read_lines(path)
    first = next(lines, None)
    if first is None:
        return ImportReport(format=fmt if fmt != "auto" else "curator", statuses=status or "kept")
    detected = fmt
    if fmt == "auto":
        try:
            if first[1] == _TOO_LONG:
                raise RecordError(f"line longer than {MAX_LINE_BYTES:,} bytes")
            detected = detect_format(_loads(first[1]))
        except RecordError as err:
            raise ImportFailed(_problem(first[0], err).describe(str(path))) from None
    if parallel is None:
        parallel = path.stat().st_size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
    report = ImportReport(format=detected, statuses=status or "kept")
    clause_hashes = current_clause_hashes(db)
    handled = 0

    def fail(problem: LineProblem) -> None:
        if not skip_invalid:
            raise ImportFailed(problem.describe(str(path)))
        report.invalid.append(problem)

    all_lines = itertools.chain([first], lines)
    big = bulk.worth_setting_aside(db, path.stat().st_size // LINE_BYTES_GUESS)
    with db.atomic(), bulk.indexes_set_aside(db) if big else contextlib.nullcontext():
        chunks = _chunks(all_lines, CHUNK_LINES)
        for parsed in _parsed_chunks(chunks, detected, path.name, parallel=parallel, status=status):
            ready = [p for _, p, _, _ in parsed if p is not None]
            # the earlier chunks are in the database already (this transaction sees them, and the id
            # and exact-text indexes stay up to date in a bulk import): only this chunk's own ids and
            # texts are held, so the import's memory does not grow with the file
            taken = set(store_examples.existing_ids(db, [p.id for p in ready]))
            stored = store_examples.existing_hashes(db, [p.norm_hash for p in ready])
            seen_hash: dict[str, str] = {}
            seen_ids: set[str] = set()
            batch: list[PreparedRecord] = []
            for number, prep, problem, warned in parsed:
                if prep is None:
                    assert problem is not None
                    fail(problem)
                    continue
                unknown = next((c for c in prep.clauses if c not in clause_hashes), None)
                if unknown is not None:
                    why = "no constitution imported yet" if not clause_hashes else "not in the current constitution"
                    fail(
                        LineProblem(
                            number, f"clauses[{prep.clauses.index(unknown)}]", f"unknown clause id {unknown!r} ({why})"
                        )
                    )
                    continue
                if prep.id in taken or prep.id in seen_ids:
                    fail(LineProblem(number, "id", f"an example with id {prep.id!r} already exists"))
                    continue
                dup_of = stored.get(prep.norm_hash) or seen_hash.get(prep.norm_hash)
                if dup_of is not None:
                    report.duplicates.append({"line": number, "id": prep.id, "duplicate_of": dup_of})
                    continue
                seen_hash[prep.norm_hash] = prep.id
                seen_ids.add(prep.id)
                batch.append(prep)
                report.warnings.extend(LineProblem(number, None, w) for w in warned)
            store_examples.insert_prepared(
                db, batch, actor=actor, action="import", clause_hashes=clause_hashes, keep_status=keep_status
            )
            report.imported.extend(p.id for p in batch)
            handled += len(parsed)
            if progress:
                progress(handled)
    return report
