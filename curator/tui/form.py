"""The example editor's form as plain data: what it shows for a record, the record it describes,
where a problem is shown, and how turns are added, moved and removed.

No Textual here (the editor screen in `screens/editor.py` moves these values in and out of its
widgets), so all of it is tested without running an app. It still speaks of the form itself (the
order of its fields, the error line under each, which field gets the focus), so it lives with
the TUI rather than in the core.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from curator.errors import RecordError
from curator.models import (
    Alternative,
    Example,
    Message,
    Tool,
    parse_example,
    record_error_from,
    record_text_fields,
)

TEXT_KINDS = ("story", "document")
DIALOGUE_KINDS = ("advice", "agentic")
EDITABLE_FIELDS = ("title", "tags", "group", "clauses", "system", "tools", "messages", "text", "rationale")
FORM_ORDER = ("title", "tags", "group", "clauses", "text", "rationale", "system", "tools", "messages")
"""The record fields in the order the form shows them, top to bottom."""
TURN_PAIR = ("user", "assistant")
"""The turns a new dialogue starts with, and what ctrl+t adds."""
EMPTY_TURN = "must not be empty (write the turn or remove it)"
EMPTY_ALTERNATIVE = "must not be empty (write the rejected answer or remove it)"

_MESSAGE_FIELD = re.compile(r"^messages\[(\d+)\](.*)$")
_ALTERNATIVE_FIELD = re.compile(r"^\.alternatives\[(\d+)\](.*)$")
_BLOCK_START = re.compile(r"^\s*\[\s*(\{|\]\s*$)")
"""A turn is a block list when it starts like one (`[{`) or is exactly `[]`; anything else is text."""

Problem = tuple[str, str]
"""A problem to show: (record path of the field, message without the path)."""


def record_message(err: RecordError) -> str:
    """The error's message without the `field: ` prefix (the form shows the field itself)."""
    text = str(err)
    prefix = f"{err.field}: " if err.field else ""
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


class FormError(Exception):
    """A field that cannot even be turned into a record (bad JSON); `field` uses record paths."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_tools(text: str) -> list[dict[str, Any]] | None:
    """The tool definitions typed as JSON (None when empty); FormError names the bad tool."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormError("tools", f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise FormError("tools", "must be a JSON array of tool definitions")
    for i, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise FormError(f"tools[{i}]", "must be a JSON object with name, description and input_schema")
        try:
            Tool.model_validate(tool)
        except ValidationError as err:
            problem = record_error_from(err)
            where = f"tools[{i}]" + (f".{problem.field}" if problem.field and problem.field != "record" else "")
            raise FormError(where, record_message(problem)) from None
    return value


def parse_turn_content(text: str, *, blocks_allowed: bool) -> str | list[Any]:
    """A turn's content: plain text, or (agentic) a JSON array of blocks when it looks like one."""
    if not blocks_allowed or not _BLOCK_START.match(text):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormError(
            "content", f"invalid JSON block list: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    if not isinstance(value, list):
        return text
    return value


def turn_display_text(msg: Message | Alternative) -> tuple[str, bool]:
    """How a stored turn (or rejected alternative) is edited: (text, is_json)."""
    if isinstance(msg.content, str):
        return msg.content, False
    blocks = [b.model_dump(mode="json", exclude_none=True) for b in msg.content]
    return json.dumps(blocks, indent=2, ensure_ascii=False), True


# -- the form's values -----------------------------------------------------------------------------


@dataclass
class AlternativeValues:
    """One rejected answer of an assistant turn as typed: its content and why not."""

    text: str = ""
    """Plain text, or (agentic) a JSON array of blocks, as a turn's content."""
    why_not: str = ""
    source: str | None = None
    """Where it came from: not shown in the form, written back unchanged (it moves with the answer)."""
    is_json: bool = field(default=False, compare=False)

    def state(self) -> tuple[str, str, str | None]:
        return (self.text, self.why_not, self.source)


@dataclass
class TurnValues:
    """One turn as typed: its role, content, (assistant turns) rationale and rejected alternatives."""

    role: str
    text: str = ""
    rationale: str = ""
    is_json: bool = field(default=False, compare=False)
    """The content is a stored block list shown as JSON (highlighted as JSON; not part of the state)."""
    alternatives: list[AlternativeValues] = field(default_factory=list)


@dataclass
class FormValues:
    """Everything the form holds, as typed; a kind's form uses only its own fields."""

    kind: str
    title: str = ""
    tags: str = ""
    """Comma-separated."""
    group: str = ""
    clauses: list[str] = field(default_factory=list)
    text: str = ""
    rationale: str = ""
    system: str = ""
    tools: str = ""
    """JSON, as typed."""
    turns: list[TurnValues] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """The raw contents of the fields this kind's form has, to tell whether anything changed."""
        state: dict[str, Any] = {
            "title": self.title,
            "tags": self.tags,
            "group": self.group,
            "clauses": list(self.clauses),
        }
        if self.kind in TEXT_KINDS:
            state["text"] = self.text
            state["rationale"] = self.rationale
        else:
            state["system"] = self.system
            if self.kind == "agentic":
                state["tools"] = self.tools
            state["turns"] = [
                (t.role, t.text, t.rationale) + ((tuple(a.state() for a in t.alternatives),) if t.alternatives else ())
                for t in self.turns
            ]
        return state


def form_values(kind: str, ex: Example | None = None, clauses: Sequence[str] = ()) -> FormValues:
    """What a `kind` form shows for `ex`; without one, a new form linked to `clauses`."""
    if ex is None:
        turns = [TurnValues(role) for role in TURN_PAIR] if kind in DIALOGUE_KINDS else []
        return FormValues(kind, clauses=list(dict.fromkeys(clauses)), turns=turns)
    values = FormValues(kind, title=ex.title, tags=", ".join(ex.tags), group=ex.group or "", clauses=list(ex.clauses))
    if kind in TEXT_KINDS:
        values.text = ex.text or ""
        values.rationale = ex.rationale or ""
        return values
    values.system = ex.system or ""
    if kind == "agentic":
        tools = [t.model_dump(mode="json") for t in ex.tools or []]
        values.tools = json.dumps(tools, indent=2, ensure_ascii=False) if tools else ""
    for msg in ex.messages or []:
        text, is_json = turn_display_text(msg)
        turn = TurnValues(msg.role, text, msg.rationale or "", is_json=is_json)
        for alt in msg.alternatives or []:
            alt_text, alt_json = turn_display_text(alt)
            turn.alternatives.append(AlternativeValues(alt_text, alt.why_not or "", alt.source, is_json=alt_json))
        values.turns.append(turn)
    return values


# -- the record the form describes -----------------------------------------------------------------


def record_base(
    loaded: Example | None, *, new_id: str, kind: str, author: str, source: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the form does not edit: the stored record's other fields, or a new draft's header."""
    if loaded is not None:
        record = loaded.canonical()
        for key in EDITABLE_FIELDS:
            record.pop(key, None)
        return record
    return {"id": new_id, "kind": kind, "status": "draft", "author": author, "source": source or {"type": "manual"}}


def build_record(values: FormValues, base: dict[str, Any], problems: list[FormError] | None = None) -> dict[str, Any]:
    """The record the form describes on top of `base` (not validated yet).

    Fields the form cannot turn into a record (unreadable JSON, empty turns) raise FormError,
    or, with a `problems` list, are collected there and left out (or kept as typed).
    """

    def problem(err: FormError) -> None:
        if problems is None:
            raise err
        problems.append(err)

    record = dict(base)
    record["title"] = values.title.strip()
    record["tags"] = [t.strip() for t in values.tags.split(",") if t.strip()]
    record["clauses"] = list(values.clauses)
    group = values.group.strip()
    if group:
        record["group"] = group
    if values.kind in TEXT_KINDS:
        record["text"] = values.text
        if values.rationale.strip():
            record["rationale"] = values.rationale
        return record
    if values.system.strip():
        record["system"] = values.system
    if values.kind == "agentic":
        try:
            tools = parse_tools(values.tools)
        except FormError as err:
            problem(err)
            tools = None
        if tools is not None:
            record["tools"] = tools
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(values.turns):
        body: str | list[Any]
        try:
            body = parse_turn_content(turn.text, blocks_allowed=values.kind == "agentic")
        except FormError as err:
            problem(FormError(f"messages[{i}].content", err.message))
            body = turn.text
        if isinstance(body, str) and not body.strip():
            problem(FormError(f"messages[{i}].content", EMPTY_TURN))
        msg: dict[str, Any] = {"role": turn.role, "content": body}
        if turn.role == "assistant" and turn.rationale.strip():
            msg["rationale"] = turn.rationale
        if turn.role == "assistant" and turn.alternatives:
            msg["alternatives"] = [
                build_alternative(alt, f"messages[{i}].alternatives[{k}]", values.kind == "agentic", problem)
                for k, alt in enumerate(turn.alternatives)
            ]
        messages.append(msg)
    if messages:
        record["messages"] = messages
    return record


def build_alternative(
    alt: AlternativeValues, where: str, blocks_allowed: bool, problem: Callable[[FormError], None]
) -> dict[str, Any]:
    """One rejected answer in the record shape; unreadable JSON or an empty answer go to `problem`."""
    body: str | list[Any]
    try:
        body = parse_turn_content(alt.text, blocks_allowed=blocks_allowed)
    except FormError as err:
        problem(FormError(f"{where}.content", err.message))
        body = alt.text
    if isinstance(body, str) and not body.strip():
        problem(FormError(f"{where}.content", EMPTY_ALTERNATIVE))
    out: dict[str, Any] = {"content": body}
    if alt.why_not.strip():
        out["why_not"] = alt.why_not
    if alt.source is not None:
        out["source"] = alt.source
    return out


def form_position(field: str) -> tuple[int, int]:
    """Where a record path's field sits in the form, top to bottom (unknown fields first)."""
    name = re.split(r"[.\[]", field, maxsplit=1)[0]
    rank = FORM_ORDER.index(name) + 1 if name in FORM_ORDER else 0
    match = _MESSAGE_FIELD.match(field)
    return rank, int(match.group(1)) if match else -1


def validate(values: FormValues, base: dict[str, Any]) -> tuple[Example | None, list[Problem]]:
    """The form as a valid Example and no problems, or None and every problem in form order.

    The order is stable: for one field, the form's own finding (bad JSON, an empty turn) comes
    before the record validation's.
    """
    form_problems: list[FormError] = []
    record = build_record(values, base, form_problems)
    problems = [(p.field, p.message) for p in form_problems]
    example: Example | None = None
    try:
        example = parse_example(record)
    except RecordError as err:
        problems.append((err.field or "record", record_message(err)))
    if not problems:
        return example, []
    problems.sort(key=lambda p: form_position(p[0]))
    return None, problems


def review_reopened_by(loaded: Example | None, values: FormValues, base: dict[str, Any]) -> list[str]:
    """The reviewed fields the form changes in an approved example (saving sends it back to review);
    empty when it is not approved, nothing reviewed changed, or the form is not a valid record yet."""
    if loaded is None or loaded.status != "approved":
        return []
    from curator.store.examples import content_changes

    edited, _ = validate(values, base)
    return [] if edited is None else content_changes(loaded, edited)


_RECORD_TURN = re.compile(
    r"messages\[(\d+)\](?:\.alternatives\[(\d+)\](?:\.(content|why_not))?|\.(content|rationale))?"
)


def _turn_words(m: re.Match[str]) -> str:
    words = f"Turn {int(m.group(1)) + 1}"
    if m.group(2) is not None:
        words += f", rejected answer {int(m.group(2)) + 1}"
        if m.group(3) == "why_not":
            return words + " why-not"
        blocks = m.group(3) == "content" and m.string[m.end() : m.end() + 1] == "["
        return words + (" content" if blocks else "")
    return words + (f" {m.group(4)}" if m.group(4) else "")


def in_form_words(text: str) -> str:
    """Record paths as the form names them: `messages[4].content` is "Turn 5 content",
    `messages[1].alternatives[0].why_not` "Turn 2, rejected answer 1 why-not"."""
    return _RECORD_TURN.sub(_turn_words, text)


def follow_renames(clause_ids: Sequence[str], renamed: dict[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Links after renames: ((old, new) for each link that moved, the new id list in the same order)."""
    moved = [(c, renamed[c]) for c in clause_ids if c in renamed]
    return moved, list(dict.fromkeys(renamed.get(c, c) for c in clause_ids))


def review_feedback(review: Any) -> str:
    """The latest review as its author should read it first: verdict, reviewer, version, comment."""
    if review is None:
        return ""
    verdict = "Rejected" if review.verdict == "reject" else "Approved"
    said = f": {review.comment}" if review.comment else " (no comment)"
    return f"{verdict} by {review.reviewer} (version {review.example_version}){said}"


def problems_notice(failure: str, problems: Sequence[Problem]) -> str:
    """The one-line notice for a failed check: the first problem and how many more there are."""
    field, message = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return in_form_words(f"{failure} ({field}): {message}{more}")


def live_problems(tools: str, turn_texts: Sequence[str]) -> tuple[str | None, list[str | None]]:
    """The inline JSON / schema problems of an agentic form while it is typed: the tool
    definitions' problem and each turn's (None: fine)."""
    try:
        parse_tools(tools)
        tools_problem = None
    except FormError as err:
        tools_problem = f"{err.field}: {err.message}"
    turn_problems = [_blocks_problem(text, f"messages[{i}].content") for i, text in enumerate(turn_texts)]
    return tools_problem, turn_problems


def _blocks_problem(text: str, where: str) -> str | None:
    """Why `text` (turn or rejected-answer content as typed) does not read, in form words; None if it does."""
    try:
        parse_turn_content(text, blocks_allowed=True)
    except FormError as err:
        return in_form_words(f"{where}: {err.message}")
    return None


def live_alternative_problems(turn: int, texts: Sequence[str]) -> list[str | None]:
    """The inline JSON problems of an agentic turn's rejected answers while they are typed (None: fine)."""
    return [_blocks_problem(text, f"messages[{turn}].alternatives[{k}].content") for k, text in enumerate(texts)]


def eval_fields(values: FormValues) -> list[tuple[str, str]]:
    """The draft's text per field, as an export would emit it (`record_text_fields`), for the
    eval-overlap warning; tools JSON that does not parse yet is scanned as typed."""
    record = build_record(values, {}, problems=[])
    fields = record_text_fields(record)
    if values.kind == "agentic" and "tools" not in record and values.tools.strip():
        fields.append(("tools", values.tools))
    return fields


def dedup_text(values: FormValues) -> str:
    """The draft's content as `Example.searchable_text()` would give it."""
    if values.kind in TEXT_KINDS:
        return values.text
    parts = []
    for turn in values.turns:
        texts = [turn.text] + ([a.text for a in turn.alternatives] if turn.role == "assistant" else [])
        for text in texts:
            try:
                body = parse_turn_content(text, blocks_allowed=values.kind == "agentic")
                parts.append(Message.model_validate({"role": "assistant", "content": body}).plain_text())
            except (FormError, ValidationError):
                parts.append(text)
    return "\n".join(parts)


# -- where a problem is shown ----------------------------------------------------------------------


def form_fields(kind: str) -> tuple[str, ...]:
    """The fields a `kind` form has, each with its own error line (`messages`: the turns' one)."""
    common = ("title", "tags", "group", "clauses")
    if kind in TEXT_KINDS:
        return (*common, "text", "rationale")
    return (*common, "system", *(("tools",) if kind == "agentic" else ()), "messages")


@dataclass(frozen=True)
class ErrorPlace:
    """Where the form shows a problem, and whether the focus goes there."""

    text: str
    """What is shown: the message after its record path (whole-record problems: the message alone)."""
    field: str = "form"
    """The field whose error line shows it; "form" is the line at the top of the form."""
    turn: int | None = None
    """A turn's index: the problem is shown on that turn instead of under a field."""
    rationale: bool = False
    """On the turn's rationale (assistant turns) rather than its content."""
    alternative: int | None = None
    """A rejected answer's index within the turn: the problem is shown on that answer."""
    why_not: bool = False
    """On the rejected answer's why-not rather than its content."""
    focus: bool = False
    """Focus the field (`messages`: the first turn) or the turn's content / rationale."""


def error_place(field: str | None, message: str, kind: str, roles: Sequence[str]) -> ErrorPlace:
    """Where a problem with the record path `field` is shown on a `kind` form whose turns have `roles`."""
    field = field or "record"
    text = f"{field}: {message}" if field != "record" else message
    if kind in DIALOGUE_KINDS:  # a story's form has no turns to name
        text = in_form_words(text)
    match = _MESSAGE_FIELD.match(field)
    if match and kind in DIALOGUE_KINDS:
        index, rest = int(match.group(1)), match.group(2)
        if index >= len(roles):
            return ErrorPlace(text, "messages")
        rationale = rest.startswith(".rationale") and roles[index] == "assistant"
        alt = _ALTERNATIVE_FIELD.match(rest)
        if alt and roles[index] == "assistant":
            why_not = alt.group(2).startswith(".why_not")
            return ErrorPlace(text, "messages", turn=index, alternative=int(alt.group(1)), why_not=why_not, focus=True)
        return ErrorPlace(text, "messages", turn=index, rationale=rationale, focus=True)
    name = re.split(r"[.\[]", field, maxsplit=1)[0]
    if name not in form_fields(kind):
        return ErrorPlace(text)
    return ErrorPlace(text, name, focus=name != "messages" or bool(roles))


# -- turns -----------------------------------------------------------------------------------------


def turn_label(index: int, role: str) -> str:
    """A turn's heading: its 1-based position and role."""
    return f"Turn {index + 1} · {role}"


def alternative_label(index: int) -> str:
    """A rejected answer's heading, its 1-based position within its turn."""
    return f"Rejected answer {index + 1}"


def why_not_label(index: int) -> str:
    """The label over a rejected answer's why-not."""
    return f"Rejected answer {index + 1} — why not:"


def next_turn_role(roles: Sequence[str]) -> str:
    """The role of a single added turn: an answer after a user turn, else a user turn."""
    return "assistant" if roles and roles[-1] == "user" else "user"


def move_target(count: int, index: int, step: int) -> int | None:
    """Where the turn at `index` goes when moved by `step` (None: already at that end)."""
    target = index + step
    return target if 0 <= target < count else None


def removal_asks_first(text: str, rationale: str) -> bool:
    """Removing a turn asks first unless there is nothing written in it."""
    return bool(text.strip() or rationale.strip())


def focus_after_removal(count: int, index: int) -> int | None:
    """Which of the remaining turns gets the focus when the turn at `index` of `count` goes."""
    remaining = count - 1
    return min(index, remaining - 1) if remaining > 0 else None
