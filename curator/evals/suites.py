"""Eval suites: named sets of clause-linked prompts, read from JSON lines, Model-Spec examples or an eval set.

Every suite is also a decontamination set (`suite:NAME`, written in the same transaction): no
training record may contain its prompts, whether or not an export spec names it.

Shapes read (docs/evals.md):

- JSON lines: `id`, `prompt` (text) or `messages` (user/assistant turns, the API's content blocks),
  optional `system`, `tools` (name, description, input_schema), `clauses` (or `clause`), `rubric`;
  `rejected` answers (what `curator constitution examples --eval-out` writes) become rubric lines;
  `title`, `source` and `metadata` are kept out of the prompt; any other field is refused.
- Markdown: a Model-Spec-style evaluation-example file ("Examples for [^tag] in Section:" then
  fenced `<user>` blocks), or a folder of them; the clause is the one whose text holds `[^tag]`.
  The constitution document itself gives its examples that have no GOOD answer.
- An eval set already registered for decontamination (`--from-evalset`), each item a user prompt.

Nothing is guessed: an unknown clause, a duplicate id, a prompt that ends on an assistant turn or
an item with no clause is one error naming the file, line and field; examples that cannot be a
prompt (a tool output turn) are listed as skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from curator import jsonl
from curator.constitution.examples import MARKDOWN_SUFFIXES, Turn, find_examples, import_examples, turn_content
from curator.dedup.decontam import register_suite_evalset, suite_evalset_name
from curator.errors import ImportFailed, UsageError
from curator.files import plain_suffix, read_text
from curator.models import Message, Tool, clean_text
from curator.store import evals as store
from curator.store.clauses import current_clauses

KNOWN_FIELDS = {"id", "prompt", "messages", "system", "tools", "clauses", "clause", "rubric", "rejected"}
IGNORED_FIELDS = {"title", "source", "metadata"}
"""Fields other tools write that describe an item without being part of its prompt."""
MAX_ID = 200
_EXAMPLES_FOR = re.compile(r"^Examples for \[\^([^\]\s]+)\] in (.+?):?\s*$", re.M)


@dataclass
class Skipped:
    where: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


@dataclass
class SuiteImport:
    """What `add_suite` read: the items, what it skipped and what it warns about."""

    name: str
    source: str
    items: list[store.SuiteItem] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.name,
            "source": self.source,
            "items": len(self.items),
            "clauses": sorted({c for it in self.items for c in it.clauses}),
            "evalset": suite_evalset_name(self.name),
            "skipped": [s.to_json() for s in self.skipped],
            "warnings": self.warnings,
        }


def prompt_sha256(prompt: dict[str, Any]) -> str:
    """The hash of a prompt's canonical JSON (system, messages, tools): what a response answered."""
    canonical = json.dumps(prompt, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_suite_name(name: str) -> str:
    if not name or len(name) > 100 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
        raise UsageError(f"invalid suite name {name!r}: letters, digits, '_', '.', '-' (not first), at most 100")
    return name


def _item_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ImportFailed(f"{where}: id: must be text or a whole number")
    text = clean_text(str(value)).strip()
    if not text or len(text) > MAX_ID:
        raise ImportFailed(f"{where}: id: must be 1 to {MAX_ID} characters")
    return text


def _text(value: Any, where: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ImportFailed(f"{where}: {name}: must be non-empty text")
    return clean_text(value)


def _messages(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ImportFailed(f"{where}: messages: must be a non-empty list of turns")
    out: list[dict[str, Any]] = []
    for i, turn in enumerate(value):
        try:
            message = Message.model_validate(turn)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ImportFailed(f"{where}: messages[{i}]{'.' + loc if loc else ''}: {first['msg']}") from None
        if message.rationale is not None or message.alternatives is not None:
            raise ImportFailed(f"{where}: messages[{i}]: a prompt's turns hold no rationale or alternatives")
        out.append(message.model_dump(mode="json", exclude_none=True, include={"role", "content"}))
    if out[0]["role"] != "user":
        raise ImportFailed(f"{where}: messages[0]: a prompt starts with a user turn")
    if out[-1]["role"] != "user":
        raise ImportFailed(f"{where}: messages[{len(out) - 1}]: a prompt ends with a user turn (the model answers it)")
    return out


def _tools(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ImportFailed(f"{where}: tools: must be a list of tool definitions")
    out = []
    for i, tool in enumerate(value):
        try:
            out.append(Tool.model_validate(tool).model_dump(mode="json"))
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ImportFailed(f"{where}: tools[{i}]{'.' + loc if loc else ''}: {first['msg']}") from None
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise ImportFailed(f"{where}: tools: two tools named {next(n for n in names if names.count(n) > 1)!r}")
    return out


def _rejected_rubric(value: Any, where: str) -> str:
    """`rejected` answers (content, why_not) as rubric lines the judge reads."""
    if not isinstance(value, list):
        raise ImportFailed(f"{where}: rejected: must be a list of answers")
    lines = []
    for i, answer in enumerate(value, start=1):
        if not isinstance(answer, dict) or not isinstance(answer.get("content"), str):
            raise ImportFailed(f"{where}: rejected[{i - 1}]: must be an object with text content")
        why = answer.get("why_not")
        lines.append(
            f"Wrong answer {i}: {clean_text(answer['content'])}" + (f"\n  Why not: {clean_text(why)}" if why else "")
        )
    return "\n".join(lines)


def _clauses(obj: dict[str, Any], where: str, known: set[str], default: tuple[str, ...]) -> tuple[str, ...]:
    if "clauses" in obj and "clause" in obj:
        raise ImportFailed(f"{where}: give clauses or clause, not both")
    raw = obj.get("clauses", obj.get("clause"))
    name = "clauses" if "clauses" in obj else "clause"
    if raw is None:
        values: list[Any] = []
    elif isinstance(raw, str):
        values = [raw]
    elif isinstance(raw, list) and all(isinstance(c, str) for c in raw):
        values = list(raw)
    else:
        raise ImportFailed(f"{where}: {name}: must be a clause id or a list of clause ids")
    values = [v.strip().lstrip("#") for v in values if v.strip()] or list(default)
    if not values:
        raise ImportFailed(f"{where}: clauses: no clause linked (name them in the file or give --clause)")
    for v in values:
        if v not in known:
            raise ImportFailed(f"{where}: {name}: unknown clause {v!r} (not in the current constitution)")
    return tuple(dict.fromkeys(values))


def item_from_json(
    obj: dict[str, Any], where: str, *, known: set[str], default_clauses: tuple[str, ...] = ()
) -> store.SuiteItem:
    """One JSON object as a suite item; every problem names `where` (file:line) and the field."""
    unknown = sorted(set(obj) - KNOWN_FIELDS - IGNORED_FIELDS)
    if unknown:
        raise ImportFailed(f"{where}: {unknown[0]}: unknown field (expected {', '.join(sorted(KNOWN_FIELDS))})")
    if "id" not in obj:
        raise ImportFailed(f"{where}: id: missing (every eval item needs an id)")
    item_id = _item_id(obj["id"], where)
    if ("prompt" in obj) == ("messages" in obj):
        raise ImportFailed(f"{where}: give prompt (text) or messages (turns), exactly one")
    if "prompt" in obj:
        messages = [{"role": "user", "content": _text(obj["prompt"], where, "prompt")}]
    else:
        messages = _messages(obj["messages"], where)
    prompt: dict[str, Any] = {"system": None, "messages": messages, "tools": None}
    if obj.get("system") is not None:
        prompt["system"] = _text(obj["system"], where, "system")
    if obj.get("tools"):
        prompt["tools"] = _tools(obj["tools"], where)
    rubric_parts = []
    if obj.get("rubric") is not None:
        rubric_parts.append(_text(obj["rubric"], where, "rubric"))
    if obj.get("rejected"):
        rubric_parts.append(_rejected_rubric(obj["rejected"], where))
    prompt = {k: v for k, v in prompt.items() if v is not None}
    return store.SuiteItem(
        id=item_id,
        prompt=prompt,
        clauses=_clauses(obj, where, known, default_clauses),
        rubric="\n\n".join(rubric_parts) or None,
        prompt_sha256=prompt_sha256(prompt),
    )


def _read_jsonl(path: Path, known: set[str], default: tuple[str, ...]) -> list[store.SuiteItem]:
    text = read_text(path, ImportFailed, what="eval suite file", kind="evalset")
    return [
        item_from_json(obj, f"{path}:{number}", known=known, default_clauses=default)
        for number, obj in jsonl.objects(text, str(path), ImportFailed)
    ]


def _prompt_from_turns(turns: list[Turn | list[Turn]]) -> tuple[dict[str, Any] | None, str | None, str]:
    """(prompt, rubric, why not) of a prompt-only example's turns."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    rubric: list[str] = []
    for item in turns:
        if isinstance(item, list):
            good = [t for t in item if t.mark == "GOOD"]
            bad = [t for t in item if t.mark == "BAD"]
            rubric += [f"A good answer: {turn_content(t)}" + (f"\n  Why: {t.reason}" if t.reason else "") for t in good]
            rubric += [
                f"A wrong answer: {turn_content(t)}" + (f"\n  Why not: {t.reason}" if t.reason else "") for t in bad
            ]
            continue
        if item.role in ("system", "developer"):
            if messages:
                return None, None, f"a <{item.role}> message after the dialogue started"
            system.append(item.text)
            continue
        if item.role == "tool":
            return None, None, "a <tool> output turn (a prompt cannot hold a tool's answer without its call)"
        content = turn_content(item)
        if messages and messages[-1]["role"] == item.role:
            messages[-1]["content"] += "\n\n" + content
        else:
            messages.append({"role": item.role, "content": content})
    if not messages or messages[0]["role"] != "user":
        return None, None, "no user turn to start the prompt"
    if messages[-1]["role"] != "user":
        return None, None, "the example ends with an assistant turn (nothing left for the model to answer)"
    prompt: dict[str, Any] = {"messages": messages}
    if system:
        prompt = {"system": "\n\n".join(system), **prompt}
    return prompt, "\n".join(rubric) or None, ""


def _clause_of_tag(tag: str, clauses: list[Any]) -> list[Any]:
    marker = f"[^{tag}]"
    return [c for c in clauses if marker in c.text]


def _read_example_file(path: Path, clauses: list[Any], out: SuiteImport) -> list[store.SuiteItem]:
    """One "Examples for [^tag] in Section:" file: its prompt-only examples, linked to the tag's clause."""
    text = read_text(path, ImportFailed, what="eval examples file", kind="evalset")
    header = _EXAMPLES_FOR.search(text)
    if header is None:
        raise ImportFailed(f"{path}:1: not an evaluation-example file (no 'Examples for [^tag] in Section:' line)")
    tag, section = header.group(1), header.group(2).strip()
    holders = _clause_of_tag(tag, clauses)
    if not holders:
        out.skipped.append(Skipped(f"{path}:1", f"no clause of the current constitution holds the footnote [^{tag}]"))
        return []
    if len(holders) > 1:
        names = ", ".join(c.id for c in holders)
        out.skipped.append(Skipped(f"{path}:1", f"the footnote [^{tag}] is in several clauses ({names})"))
        return []
    clause = holders[0]
    by_id = {c.id: c for c in clauses}
    titles = []
    at: Any = clause
    while at is not None:
        titles.append(at.title.strip())
        at = by_id.get(at.parent) if at.parent else None
    if section.casefold() not in {t.casefold() for t in titles}:
        out.warnings.append(
            f"{path}:1: the file says [^{tag}] is in {section!r}; the constitution has it in {clause.id} "
            f"({clause.title!r}); linked to {clause.id}"
        )
    items = []
    for ordinal, example in enumerate(find_examples(text, []), start=1):
        where = f"{path}:{example.line}"
        prompt, rubric, why = _prompt_from_turns(example.items)
        if prompt is None:
            out.skipped.append(Skipped(where, why))
            continue
        items.append(
            store.SuiteItem(
                id=f"{tag}-{ordinal}",
                prompt=prompt,
                clauses=(clause.id,),
                rubric=rubric,
                prompt_sha256=prompt_sha256(prompt),
            )
        )
    return items


def _read_markdown(path: Path, db: Database, clauses: list[Any], out: SuiteImport) -> list[store.SuiteItem]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and plain_suffix(p) in MARKDOWN_SUFFIXES)
        if not files:
            raise ImportFailed(f"{path}: folder holds no .md files")
        return [item for f in files for item in _read_example_file(f, clauses, out)]
    text = read_text(path, ImportFailed, what="eval suite file", kind="evalset")
    if _EXAMPLES_FOR.search(text):
        return _read_example_file(path, clauses, out)
    # the constitution document itself: its worked examples without a GOOD answer are prompts
    report = import_examples(db, path, actor="", dry_run=True)
    known = {c.id for c in clauses}
    items = []
    for number, obj in enumerate(report.eval_prompts, start=1):
        where = f"{path} (example {obj['id']})"
        if not obj.get("clause"):
            out.skipped.append(Skipped(where, "before the first section: no clause to link"))
            continue
        data = {k: v for k, v in obj.items() if v is not None}
        items.append(item_from_json(data, where, known=known))
        del number
    for problem in report.skipped:
        out.skipped.append(Skipped(f"{path}:{problem.line}", problem.reason))
    return items


def _from_evalset(db: Database, evalset: str, default: tuple[str, ...], known: set[str]) -> list[store.SuiteItem]:
    rows = db.execute("SELECT label, text FROM eval_items WHERE evalset = ? ORDER BY idx", [evalset]).fetchall()
    if not rows:
        raise UsageError(f"no eval set named {evalset!r} (see `curator evalset list`)")
    return [
        item_from_json(
            {"id": label, "prompt": text}, f"eval set {evalset} item {label}", known=known, default_clauses=default
        )
        for label, text in rows
    ]


def read_suite(
    db: Database,
    name: str,
    path: Path | None,
    *,
    clauses: tuple[str, ...] = (),
    from_evalset: str | None = None,
) -> SuiteImport:
    """Read a suite's items without writing anything (what `add_suite` would store)."""
    check_suite_name(name)
    current = current_clauses(db)
    if not current:
        raise UsageError("no constitution imported: eval items link clauses (curator constitution import FILE)")
    known = {c.id for c in current}
    for c in clauses:
        if c.lstrip("#") not in known:
            raise UsageError(f"--clause: unknown clause {c!r} (not in the current constitution)")
    default = tuple(c.lstrip("#") for c in clauses)
    if (path is None) == (from_evalset is None):
        raise UsageError("give a FILE or --from-evalset NAME, exactly one")
    if from_evalset is not None:
        out = SuiteImport(name, f"evalset:{from_evalset}")
        out.items = _from_evalset(db, from_evalset, default, known)
    else:
        assert path is not None
        out = SuiteImport(name, str(path))
        if path.is_dir() or plain_suffix(path) in MARKDOWN_SUFFIXES:
            out.items = _read_markdown(path, db, current, out)
            if default:
                out.warnings.append(
                    "--clause is ignored for Markdown examples: each links the clause it was written for"
                )
        else:
            out.items = _read_jsonl(path, known, default)
    seen: dict[str, int] = {}
    for pos, item in enumerate(out.items):
        if item.id in seen:
            raise ImportFailed(f"{out.source}: id {item.id!r} appears twice (items {seen[item.id] + 1} and {pos + 1})")
        seen[item.id] = pos
    if not out.items:
        raise ImportFailed(
            f"{out.source}: no eval prompts found" + (f" ({len(out.skipped)} skipped)" if out.skipped else "")
        )
    return out


def add_suite(
    db: Database,
    name: str,
    path: Path | None,
    *,
    actor: str,
    clauses: tuple[str, ...] = (),
    from_evalset: str | None = None,
) -> SuiteImport:
    """Read and store a suite and its decontamination set in one transaction (nothing on error)."""
    out = read_suite(db, name, path, clauses=clauses, from_evalset=from_evalset)
    with db.atomic():
        store.insert_suite(db, name, out.source, out.items, actor=actor)
        register_suite_evalset(
            db,
            name,
            [(item.id, store.prompt_text(item.prompt)) for item in out.items],
            actor=actor,
        )
    return out


def _sync_evalset(db: Database, name: str, *, actor: str) -> None:
    """Re-register the suite's decontamination set from its items as they now are."""
    items = store.suite_items(db, name)
    register_suite_evalset(db, name, [(i.id, store.prompt_text(i.prompt)) for i in items], actor=actor)


def create_suite(db: Database, name: str, *, actor: str) -> None:
    """An empty suite, to be written prompt by prompt (the TUI's Evals screen)."""
    check_suite_name(name)
    with db.atomic():
        store.insert_suite(db, name, "written in curator", [], actor=actor)
        _sync_evalset(db, name, actor=actor)


def save_item(
    db: Database, suite: str, data: dict[str, Any], *, actor: str, replace: str | None = None
) -> store.SuiteItem:
    """Validate one item (the JSON lines shape) and add it, or replace item `replace`; the
    decontamination set follows in the same transaction. An answered item cannot change."""
    known = {c.id for c in current_clauses(db)}
    where = f"suite {suite} item {data.get('id', '?')}"
    item = item_from_json(data, where, known=known)
    with db.atomic():
        store.put_item(db, suite, item, actor=actor, replace=replace)
        _sync_evalset(db, suite, actor=actor)
    return item


def remove_item(db: Database, suite: str, item_id: str, *, actor: str) -> None:
    with db.atomic():
        store.delete_item(db, suite, item_id, actor=actor)
        _sync_evalset(db, suite, actor=actor)


def append_items(db: Database, name: str, path: Path, *, actor: str, clauses: tuple[str, ...] = ()) -> SuiteImport:
    """Add the items of a file to an existing suite (ids must be new), all or nothing."""
    store.require_suite(db, name)
    out = read_suite(db, name, path, clauses=clauses)
    with db.atomic():
        for item in out.items:
            store.put_item(db, name, item, actor=actor)
        _sync_evalset(db, name, actor=actor)
    return out


def remove_suite(db: Database, name: str, *, actor: str) -> None:
    """Remove a suite without runs, and its decontamination set."""
    with db.atomic():
        store.delete_suite(db, name, actor=actor)
        db.execute("DELETE FROM evalsets WHERE name = ?", [suite_evalset_name(name)])
