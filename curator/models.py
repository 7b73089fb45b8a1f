"""The canonical record (docs/record.md), constitution clauses, and their validation.

One pydantic model is used for import, dump/load and storage, so a record that
is valid in one place is valid everywhere. Validation errors are turned into
one line naming the field (see :func:`record_error_from`).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from curator.errors import RecordError

# ---------------------------------------------------------------------------
# Clean strings
# ---------------------------------------------------------------------------

MAX_FIELD_BYTES = 200_000
"""Largest size of one text field (UTF-8 bytes); larger input is an error, not truncated."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# \r is dropped too: CRLF and lone CR become \n before the strip. C1 controls (\x80-\x9f) go as
# well: \x9b is CSI on some terminals, so no escape sequence of any kind survives into the store.
_SURROGATE = re.compile(r"[\ud800-\udfff]")

MAX_JSON_DEPTH = 64
"""Deepest nesting of a JSON value inside a record (tool inputs and schemas)."""


def clean_text(value: str) -> str:
    """Normalise line endings, drop control characters (keeping newline and tab); refuse unpaired surrogates."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    bad = _SURROGATE.search(value)
    if bad:  # JSON's "\ud800" escapes decode to these; they cannot be stored as UTF-8
        raise ValueError(f"contains an unpaired surrogate (\\u{ord(bad.group()):04x}) at character {bad.start()}")
    if len(value) > MAX_FIELD_BYTES // 4 and len(value.encode("utf-8")) > MAX_FIELD_BYTES:
        raise ValueError(f"longer than the limit of {MAX_FIELD_BYTES} bytes")
    return value


def _clean_json(value: Any) -> Any:
    """Clean every string inside a JSON value (tool inputs, schemas)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    return value


def _json_depth_ok(value: Any) -> bool:
    """True when `value` nests at most MAX_JSON_DEPTH levels (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return False
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return True


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    if not _json_depth_ok(value):
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    value = _clean_json(value)
    if len(json.dumps(value, ensure_ascii=False)) > MAX_FIELD_BYTES:
        raise ValueError(f"longer than the limit of {MAX_FIELD_BYTES} bytes")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


CleanStr = Annotated[str, AfterValidator(clean_text)]
NonEmptyStr = Annotated[str, AfterValidator(clean_text), AfterValidator(_non_empty)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded_json)]

MAX_VERSION = 2**53 - 1
"""Largest record version: exact in every JSON reader, and fits SQLite's 64-bit integers."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
"""Record ids: safe in file names and URLs; no separators, no '..' at the start."""

Kind = Literal["story", "advice", "document", "agentic"]
Status = Literal["draft", "review", "approved", "rejected"]
KINDS: tuple[str, ...] = ("story", "advice", "document", "agentic")
STATUSES: tuple[str, ...] = ("draft", "review", "approved", "rejected")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str = "ex_") -> str:
    """A ULID-style id: 48-bit millisecond time + 80 random bits, sortable by creation."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


_LAST_NOW: tuple[int, str] = (-1, "")
"""The last `utc_now` (milliseconds since the epoch, text): a bulk import stamps thousands of records
in the same millisecond, and formatting the time took ~3 µs of the ~6 a record's defaults cost."""


def utc_now() -> str:
    """Current UTC time as ISO 8601 with millisecond precision and a Z."""
    global _LAST_NOW
    ms = time.time_ns() // 1_000_000
    last = _LAST_NOW  # one read: another thread may replace it (with a whole pair) at any time
    if last[0] == ms:
        return last[1]
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _LAST_NOW = (ms, text)
    return text


# ---------------------------------------------------------------------------
# Content blocks and messages (Anthropic style)
# ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TextBlock(_Strict):
    type: Literal["text"] = "text"
    text: CleanStr


class ToolUseBlock(_Strict):
    type: Literal["tool_use"] = "tool_use"
    id: NonEmptyStr
    name: NonEmptyStr
    input: JsonObject = Field(default_factory=dict)


class ToolResultBlock(_Strict):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: NonEmptyStr
    content: CleanStr | list[TextBlock] = ""
    is_error: bool = False


Block = Annotated[TextBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


def _plain_text(content: str | list[Any]) -> str:
    """Every piece of text in a turn's content (tool inputs as JSON), for search and dedup."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            parts.append(json.dumps(block.input, ensure_ascii=False, sort_keys=True))
        elif isinstance(block.content, str):
            parts.append(block.content)
        else:
            parts.extend(b.text for b in block.content)
    return "\n".join(p for p in parts if p)


class Alternative(_Strict):
    """An answer that must not be given at this assistant turn, and why it would be wrong.

    Contrastive material: the turn is the chosen answer, each alternative a rejected one (a
    preference pair). `why_not` is required before the record can be approved, like a rationale;
    an import that has no reason (a chosen/rejected corpus) leaves it empty for a reviewer.
    """

    content: CleanStr | list[Block]
    why_not: CleanStr | None = None
    """Why this answer is wrong here, citing the principle."""
    source: CleanStr | None = None
    """Where the alternative came from (e.g. `model-spec-2025-09-12#chain_of_command BAD 2`), if not typed."""

    def plain_text(self) -> str:
        return _plain_text(self.content)


class Message(_Strict):
    role: Literal["user", "assistant"]
    content: CleanStr | list[Block]
    rationale: CleanStr | None = None
    """Why this assistant turn is right, citing the principle (assistant turns only)."""
    alternatives: list[Alternative] | None = None
    """Answers that must not be given here, each with why not (assistant turns only)."""

    @field_validator("alternatives")
    @classmethod
    def _no_empty_list(cls, value: list[Alternative] | None) -> list[Alternative] | None:
        return value or None  # `[]` and absent mean the same: the canonical form has one spelling

    @model_validator(mode="after")
    def _rationale_only_on_assistant(self) -> Message:
        if self.rationale is not None and self.role != "assistant":
            raise ValueError("rationale is only allowed on assistant turns")
        if self.alternatives is not None and self.role != "assistant":
            raise ValueError("alternatives are only allowed on assistant turns")
        return self

    def blocks(self) -> list[TextBlock | ToolUseBlock | ToolResultBlock]:
        """The content as a list of blocks (a plain string is one text block)."""
        if isinstance(self.content, str):
            return [TextBlock(text=self.content)]
        return list(self.content)

    def plain_text(self) -> str:
        """Every piece of text in this turn, for search and duplicate detection (not alternatives)."""
        return _plain_text(self.content)


class Tool(_Strict):
    name: Annotated[str, AfterValidator(clean_text), Field(pattern=r"^[A-Za-z0-9_.\-]{1,128}$")]
    description: CleanStr = ""
    input_schema: JsonObject

    @field_validator("input_schema")
    @classmethod
    def _schema_is_object(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "object":
            raise ValueError('must be a JSON Schema object (with "type": "object")')
        props = value.get("properties", {})
        if not isinstance(props, dict):
            raise ValueError('"properties" must be an object')
        return value


class Source(_Strict):
    type: Literal["manual", "generated", "imported"] = "manual"
    model: CleanStr | None = None
    prompt_sha256: CleanStr | None = None
    origin: CleanStr | None = None


# ---------------------------------------------------------------------------
# The example record
# ---------------------------------------------------------------------------


class Example(_Strict):
    """One training example of any kind; per-kind rules are checked after parsing."""

    id: Annotated[str, Field(pattern=ID_PATTERN)] = Field(default_factory=new_id)
    kind: Kind
    title: NonEmptyStr
    status: Status = "draft"
    author: CleanStr = ""
    tags: list[NonEmptyStr] = Field(default_factory=list)
    clauses: list[NonEmptyStr] = Field(default_factory=list)
    group: CleanStr | None = None
    system: CleanStr | None = None
    tools: list[Tool] | None = None
    messages: list[Message] | None = None
    text: CleanStr | None = None
    rationale: CleanStr | None = None
    source: Source = Field(default_factory=Source)
    created_at: CleanStr = Field(default_factory=utc_now)
    updated_at: CleanStr = Field(default_factory=utc_now)
    version: int = Field(default=1, ge=1, le=MAX_VERSION)

    @field_validator("tags", "clauses")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for v in values:
            seen.setdefault(v.strip(), None)
        return [v for v in seen if v]

    @model_validator(mode="after")
    def _kind_rules(self) -> Example:
        if self.kind in ("story", "document"):
            if not (self.text and self.text.strip()):
                raise _field_error("text", f"required for a {self.kind}")
            if self.messages:
                raise _field_error("messages", f"not allowed for a {self.kind} (use text)")
            if self.tools:
                raise _field_error("tools", f"not allowed for a {self.kind}")
        elif self.kind == "advice":
            self._check_dialogue(allow_tools=False)
            if self.tools:
                raise _field_error("tools", "not allowed for advice (use kind agentic)")
        else:
            if not self.tools:
                raise _field_error("tools", "an agentic example needs at least one tool")
            names = [t.name for t in self.tools]
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise _field_error("tools", f"duplicate tool name {sorted(dupes)[0]!r}")
            self._check_dialogue(allow_tools=True)
        return self

    def _check_dialogue(self, *, allow_tools: bool) -> None:
        if not self.messages:
            raise _field_error("messages", f"required for {self.kind} (at least one user turn)")
        if self.text:
            raise _field_error("text", f"not allowed for {self.kind} (use messages)")
        tool_names = {t.name for t in self.tools or []}
        seen_tool_use: set[str] = set()
        answered: set[str] = set()
        for i, msg in enumerate(self.messages):
            expected = "user" if i % 2 == 0 else "assistant"
            if msg.role != expected:
                if i == 0:
                    raise _field_error("messages[0].role", "the dialogue must start with a user turn")
                raise _field_error(
                    f"messages[{i}].role",
                    f"turns must alternate user/assistant; expected {expected}, got {msg.role}",
                )
            for k, alt in enumerate(msg.alternatives or []):
                self._check_alternative(alt, f"messages[{i}].alternatives[{k}]", allow_tools, tool_names)
                if alt.content == msg.content:
                    raise _field_error(f"messages[{i}].alternatives[{k}].content", "is the answer itself (must differ)")
            if isinstance(msg.content, str):
                continue
            for j, block in enumerate(msg.content):
                where = f"messages[{i}].content[{j}]"
                if isinstance(block, ToolUseBlock):
                    if allow_tools and msg.role != "assistant":
                        raise _field_error(where, "tool_use must be in an assistant turn")
                    self._check_tool_use(block, where, allow_tools, tool_names, seen_tool_use)
                elif isinstance(block, ToolResultBlock):
                    if not allow_tools:
                        raise _field_error(where, "tool_result is only allowed in agentic examples")
                    if msg.role != "user":
                        raise _field_error(where, "tool_result must be in a user turn")
                    if block.tool_use_id not in seen_tool_use:
                        raise _field_error(
                            f"{where}.tool_use_id",
                            f"no earlier tool_use with id {block.tool_use_id!r}",
                        )
                    if block.tool_use_id in answered:
                        raise _field_error(f"{where}.tool_use_id", f"tool_use {block.tool_use_id!r} answered twice")
                    answered.add(block.tool_use_id)

    @staticmethod
    def _check_alternative(alt: Alternative, where: str, allow_tools: bool, tool_names: set[str]) -> None:
        """An alternative is an assistant answer: text and (agentic) calls of defined tools, no results."""
        if isinstance(alt.content, str):
            if not alt.content.strip():
                raise _field_error(f"{where}.content", "an alternative answer cannot be empty")
            return
        if not alt.content:
            raise _field_error(f"{where}.content", "an alternative answer cannot be empty")
        ids: set[str] = set()
        for j, block in enumerate(alt.content):
            at = f"{where}.content[{j}]"
            if isinstance(block, ToolResultBlock):
                raise _field_error(at, "an alternative is an assistant answer: no tool_result")
            if isinstance(block, ToolUseBlock):
                Example._check_tool_use(block, at, allow_tools, tool_names, ids)

    @staticmethod
    def _check_tool_use(
        block: ToolUseBlock, where: str, allow_tools: bool, tool_names: set[str], seen: set[str]
    ) -> None:
        """A tool call names a defined tool, with an id not used before (in agentic records only)."""
        if not allow_tools:
            raise _field_error(where, "tool_use is only allowed in agentic examples")
        if block.name not in tool_names:
            raise _field_error(f"{where}.name", f"tool {block.name!r} is not defined in tools")
        if block.id in seen:
            raise _field_error(f"{where}.id", f"duplicate tool_use id {block.id!r}")
        seen.add(block.id)

    # -- derived views -----------------------------------------------------

    def searchable_text(self) -> str:
        """The example's content (no roles, no metadata) used for search and dedup."""
        parts: list[str] = []
        if self.text:
            parts.append(self.text)
        for msg in self.messages or []:
            parts.append(msg.plain_text())
            parts.extend(alt.plain_text() for alt in msg.alternatives or [])
        return "\n".join(parts)

    def training_text(self, content: str | None = None) -> str:
        """Everything a trainer would see: system prompt, content and rationales (for token estimates).

        `content` is this record's `searchable_text()` when the caller has it already.
        """
        parts = [self.system or "", self.searchable_text() if content is None else content, self.rationale or ""]
        parts += [m.rationale or "" for m in self.messages or []]
        parts += [a.why_not or "" for m in self.messages or [] for a in m.alternatives or []]
        parts += [f"{t.name} {t.description} {json.dumps(t.input_schema)}" for t in self.tools or []]
        return "\n".join(p for p in parts if p)

    def text_fields(self) -> list[tuple[str, str]]:
        """Every string an export of this record can emit, per field (see `record_text_fields`)."""
        return record_text_fields(self.canonical())

    @field_serializer("source")
    def _source_in_full(self, source: Source) -> dict[str, Any]:
        # provenance keeps its null fields: readers can rely on every key being there
        return {
            "type": source.type,
            "model": source.model,
            "prompt_sha256": source.prompt_sha256,
            "origin": source.origin,
        }

    def canonical(self) -> dict[str, Any]:
        """The canonical JSON object: stable key order, no null optional fields."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_json(self) -> str:
        """One line of canonical JSON (the dump/export form): compact, UTF-8, stable key order."""
        return self.model_dump_json(exclude_none=True)


def content_text(record: Mapping[str, Any]) -> str:
    """`Example.searchable_text()` of a record's JSON shape, without validating it again.

    The dedup engine reads thousands of stored records (validated when they were written) per
    `clusters()` batch; a pydantic parse per record was a fifth of the time. A test keeps the two
    identical over the demo, the fixtures and hostile text.
    """
    parts: list[str] = []
    text = record.get("text")
    if text:
        parts.append(text)
    for msg in record.get("messages") or []:
        parts.append(_content_plain(msg.get("content")))
        parts.extend(_content_plain(alt.get("content")) for alt in msg.get("alternatives") or [])
    return "\n".join(parts)


def _content_plain(content: Any) -> str:
    """`_plain_text` of a turn's JSON content."""
    if isinstance(content, str):
        return content
    pieces: list[str] = []
    for block in content or []:
        kind = block.get("type")
        if kind == "text":
            pieces.append(block.get("text", ""))
        elif kind == "tool_use":
            pieces.append(json.dumps(block.get("input", {}), ensure_ascii=False, sort_keys=True))
        else:
            inner = block.get("content", "")
            if isinstance(inner, str):
                pieces.append(inner)
            else:
                pieces.extend(b.get("text", "") for b in inner)
    return "\n".join(p for p in pieces if p)


def record_text_fields(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every string an export of `record` can emit, per field: `(path, text)` in record order.

    `record` is the record's JSON shape (`Example.canonical()`, a stored record, an editor's form).
    Paths follow the record: `title`, `system`, `text`, `rationale`, `tools[0].name`,
    `tools[0].description`, `tools[0].input_schema`, `messages[3].content`,
    `messages[3].content[1]` (a text block), `messages[1].content[1].input` (a tool call's input;
    `.name` its tool), `messages[2].content[0].content` (a tool result), `messages[3].rationale`.
    Tool inputs and schemas are their JSON text as the export formats write it. Empty strings are
    left out; values of the wrong type (an unfinished editor form) are skipped, never an error.
    """
    out: list[tuple[str, str]] = []

    def add(path: str, value: Any) -> None:
        if isinstance(value, str):
            if value:
                out.append((path, value))
        elif isinstance(value, dict):
            out.append((path, json.dumps(value, ensure_ascii=False)))

    for key in ("title", "system", "text", "rationale"):
        add(key, record.get(key))
    tools = record.get("tools")
    for i, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, Mapping):
            add(f"tools[{i}].name", tool.get("name"))
            add(f"tools[{i}].description", tool.get("description"))
            add(f"tools[{i}].input_schema", tool.get("input_schema"))
    messages = record.get("messages")
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(msg, Mapping):
            continue
        add_content(f"messages[{i}].content", msg.get("content"), add)
        add(f"messages[{i}].rationale", msg.get("rationale"))
        alternatives = msg.get("alternatives")
        for k, alt in enumerate(alternatives if isinstance(alternatives, list) else []):
            if isinstance(alt, Mapping):
                add_content(f"messages[{i}].alternatives[{k}].content", alt.get("content"), add)
                add(f"messages[{i}].alternatives[{k}].why_not", alt.get("why_not"))
    return out


def add_content(path: str, content: Any, add: Callable[[str, Any], None]) -> None:
    """The strings of one turn's (or alternative's) content, per block, for `record_text_fields`."""
    if isinstance(content, str):
        add(path, content)
    elif isinstance(content, list):
        for j, block in enumerate(content):
            if not isinstance(block, Mapping):
                continue
            where = f"{path}[{j}]"
            kind = block.get("type")
            if kind == "text":
                add(where, block.get("text"))
            elif kind == "tool_use":
                add(f"{where}.name", block.get("name"))
                add(f"{where}.input", block.get("input") if block.get("input") is not None else {})
            elif kind == "tool_result":
                result = block.get("content")
                if isinstance(result, list):
                    texts = [b.get("text") for b in result if isinstance(b, Mapping)]
                    result = "\n\n".join(t for t in texts if isinstance(t, str) and t)
                add(f"{where}.content", result)


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _field_error(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


def _loc_to_field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "list[tagged-union[TextBlock,ToolUseBlock,ToolResultBlock]]", "list[TextBlock]"):
            continue  # union branch names carry no meaning for a user
        elif isinstance(part, str) and part.startswith(("function-after[", "function-before[", "function-wrap[")):
            continue  # a validator's name (`function-after[clean_text(), str]`), not a field
        elif part in ("text", "tool_use", "tool_result") and out.endswith("]"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "record"


def record_error_from(err: ValidationError) -> RecordError:
    """Turn pydantic's error list into one RecordError naming the first bad field."""
    first = err.errors()[0]
    ctx_err = first.get("ctx", {}).get("error")
    if isinstance(ctx_err, _FieldError):
        return RecordError(str(ctx_err).split(": ", 1)[1], field=ctx_err.field)
    if not first["loc"] and first["type"] in ("model_type", "dict_type"):
        return RecordError("expected a JSON object")
    field = _loc_to_field(tuple(first["loc"]))
    msg = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if first["type"] == "missing":
        msg = "required field is missing"
    elif first["type"] == "extra_forbidden":
        msg = "unknown field"
    elif first["type"] == "literal_error" and field == "kind":
        msg = f"unknown kind {first.get('input')!r}; expected one of {', '.join(KINDS)}"
    return RecordError(msg, field=field)


def parse_example(data: Any) -> Example:
    """Validate a decoded JSON value as an Example, raising RecordError naming the field."""
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return Example.model_validate(data)
    except ValidationError as err:
        raise record_error_from(err) from None


# ---------------------------------------------------------------------------
# Constitution clauses
# ---------------------------------------------------------------------------


class Clause(BaseModel):
    """One clause of the constitution: a heading's section or a list item."""

    model_config = ConfigDict(extra="forbid")

    id: str
    parent: str | None
    depth: int
    """1 for a top-level clause, parent's depth + 1 below it."""
    title: str
    """Plain text: no attribute syntax, no inline markup."""
    text: str
    """The clause's own Markdown, without its children: a section's body without its heading line,
    a list item's Markdown without its marker (``- ``, ``1. ``) and attribute block."""
    hash: str
    """SHA-256 (hex) of the normalised text (so a heading rename keeps it)."""
    kind: Literal["section", "item"] = "section"
    meta: dict[str, str] = Field(default_factory=dict)
    """Heading or item attributes other than the id (e.g. authority=root)."""
    plain: str = ""
    """`text` rendered as plain text: no markup, links as their text, whitespace collapsed
    within a paragraph, paragraphs separated by a blank line."""
    context: str = ""
    """For a list item, what introduces it: the last paragraph before its list in the same parent
    (e.g. "The assistant should never:"); for a nested item, the parent item's context and first
    line too, joined by " › ". Empty for a section (its place is its title path)."""

    @property
    def is_container(self) -> bool:
        """No normative prose of its own: its plain text is empty or only links (a table of
        contents). Whether it has children is for the caller to know."""
        return is_link_list(self.plain, self.text)


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LIST_MARK = re.compile(r"^\s*(?:[-+*•]|\d{1,9}[.)])\s+", re.M)


def is_link_list(plain: str, text: str) -> bool:
    """Whether a clause has no prose of its own: empty plain text, or Markdown that is only links
    (with list markers, punctuation and whitespace between them)."""
    if not plain.strip():
        return True
    if "](" not in text:
        return False
    rest = _MD_LINK.sub("", _LIST_MARK.sub("", text))
    return not re.sub(r"[\s|,;.:·•—–-]+", "", rest)


def title_path(clause: Clause, by_id: Mapping[str, Clause], separator: str = " › ") -> str:
    """The titles from the top-level ancestor down to `clause`, joined by `separator`."""
    titles: list[str] = []
    cur: Clause | None = clause
    seen: set[str] = set()
    while cur is not None and cur.id not in seen:
        seen.add(cur.id)
        titles.append(cur.title)
        cur = by_id.get(cur.parent) if cur.parent else None
    return separator.join(reversed(titles))


class ParsedConstitution(BaseModel):
    """A parsed constitution: document metadata plus clauses in document order."""

    document: dict[str, Any]
    clauses: list[Clause]
