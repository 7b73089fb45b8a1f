"""Worked examples of a Model-Spec-style constitution as draft records (`curator constitution examples`).

A worked example is a fenced ``~~~xml`` block of turns (`<system>`, `<developer>`, `<user>`,
`<assistant>`, `<tool>`) with `<comparison>` groups of answers marked `<!-- GOOD -->`,
`<!-- BAD: reason -->` or `<!-- OK -->`. Each becomes an `advice` draft linked to the clause of the
section that holds it: the GOOD answer is the assistant turn (its reason the turn's rationale), each
BAD answer an `Alternative` with its reason as `why_not`. Examples without a GOOD answer are eval
prompts, not records (an advice record needs its answer); they are counted and can be written as an
eval set. Examples that no record can express (no user turn, a tool's output) are reported, never
bent into another shape. The document must be the workspace's current constitution, so every link
names a clause people can see; ids derive from the file, the section and the example's ordinal, so
running the import again adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from curator.clausetext import parse_markdown
from curator.errors import ConstitutionError, RecordError
from curator.files import decode, read_bytes
from curator.models import Clause, Example, parse_example
from curator.store import examples as store_examples
from curator.store.clauses import current_clause_hashes, current_clauses
from curator.store.examples import PreparedRecord, prepare
from curator.targets import check_file_target, write_file

EVAL_TAG = "eval-prompt"
MARKDOWN_SUFFIXES = (".md", ".markdown")

_FENCE = re.compile(r"^(~~~+|```+)\s*(\S*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{#([^\s}]+)[^}]*\})?\s*$")
_TITLE = re.compile(r"^\*\*Example\*\*:?\s*(.*?)\s*$")
_OPEN = re.compile(r"^<(system|developer|user|assistant|tool)((?:\s+[\w-]+=\"[^\"]*\")*)\s*>\s*(.*)$", re.S)
_ATTR = re.compile(r"([\w-]+)=\"([^\"]*)\"")
_MARK = re.compile(r"^<!--\s*(GOOD|BAD|OK)\b(?:\[#([^\]]+)\])?\s*[:,]?\s*(.*?)\s*-->\s*(.*)$", re.S)


@dataclass
class Turn:
    """One turn of a worked example as written."""

    role: str
    text: str
    attrs: dict[str, str] = field(default_factory=dict)
    mark: str | None = None
    """GOOD, BAD or OK inside a comparison; None for a turn of the dialogue."""
    reason: str | None = None
    cites: str | None = None
    """The clause a marker names in brackets (`BAD[#chain_of_command]`)."""


@dataclass
class WorkedExample:
    """One fenced example block: where it is, its title and its turns (comparisons as lists)."""

    line: int
    title: str
    section: str | None
    """The id of the heading above it (None before the first heading)."""
    ordinal: int
    """1-based position among the examples of its section."""
    items: list[Turn | list[Turn]]


@dataclass
class Problem:
    """An example that became neither a record nor an eval prompt, and why."""

    line: int
    title: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "title": self.title, "reason": self.reason}


@dataclass
class ExamplesImport:
    """What `import_examples` found and (unless a dry run) wrote."""

    document: str
    version: str
    dry_run: bool
    examples: int = 0
    records: list[str] = field(default_factory=list)
    """Ids of every record the document yields, written now or before."""
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    """Ids already in the workspace (an earlier run): left as they are."""
    duplicates: list[dict[str, str]] = field(default_factory=list)
    alternatives: int = 0
    alternatives_with_reason: int = 0
    clauses: list[str] = field(default_factory=list)
    eval_prompts: list[dict[str, Any]] = field(default_factory=list)
    ok_answers: int = 0
    extra_good: int = 0
    tool_text: int = 0
    """Assistant turns addressed to a tool (`recipient=`), kept as advice text."""
    joined: int = 0
    """Assistant turns that continue the one before (an action, then the answer), joined into one."""
    unlinked: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    eval_out: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "version": self.version,
            "dry_run": self.dry_run,
            "examples": self.examples,
            "records": len(self.records),
            "created": len(self.created),
            "existing": len(self.existing),
            "duplicates": self.duplicates,
            "alternatives": self.alternatives,
            "alternatives_with_reason": self.alternatives_with_reason,
            "clauses": len(self.clauses),
            "eval_prompts": len(self.eval_prompts),
            "eval_out": self.eval_out,
            "ok_answers_skipped": self.ok_answers,
            "extra_good_skipped": self.extra_good,
            "tool_calls_as_text": self.tool_text,
            "assistant_turns_joined": self.joined,
            "unlinked": [p.to_json() for p in self.unlinked],
            "skipped": [p.to_json() for p in self.skipped],
            "ids": self.records,
        }

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        lines = [
            f"{self.document}: {self.examples} worked examples -> {len(self.records)} draft records "
            f"({verb} {len(self.created)}, {len(self.existing)} already imported), "
            f"{self.alternatives} BAD alternatives ({self.alternatives_with_reason} with a reason), "
            f"{len(self.clauses)} clauses linked",
            f"{len(self.eval_prompts)} examples without a GOOD answer are eval prompts, not records"
            + (f" (written to {self.eval_out})" if self.eval_out else " (write them with --eval-out FILE)"),
        ]
        if self.ok_answers or self.extra_good:
            lines.append(
                f"left out: {self.ok_answers} OK answers (neither chosen nor rejected), "
                f"{self.extra_good} GOOD answers after the first of their comparison"
            )
        if self.tool_text:
            lines.append(
                f"{self.tool_text} assistant turns addressed to a tool kept as advice text "
                "(the document defines no tool schemas to make agentic records from)"
            )
        if self.joined:
            lines.append(
                f"{self.joined} assistant turns that continue the one before (an action, then the answer) "
                "joined into one turn; BAD answers carry the same beginning"
            )
        for dup in self.duplicates:
            lines.append(f"duplicate: {dup['id']} has the same text as {dup['duplicate_of']}, not imported")
        for p in self.unlinked:
            lines.append(f"unlinked: line {p.line} {p.title!r}: {p.reason}")
        for p in self.skipped:
            lines.append(f"skipped: line {p.line} {p.title!r}: {p.reason}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Reading the document
# ---------------------------------------------------------------------------


def read_document(path: Path) -> tuple[str, str]:
    """The document's text and version (its front matter `date`, else the file name without suffix)."""
    path = Path(path)
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        raise ConstitutionError(f"{path}: not a Markdown file (expected .md or .markdown)")
    text = decode(
        read_bytes(path, ConstitutionError, what="constitution file", kind="constitution"), str(path), ConstitutionError
    )
    version = path.stem
    front = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if front:
        date = re.search(r"^date:\s*['\"]?([\w.:-]+)", front.group(1), re.M)
        if date:
            version = f"{path.stem}@{date.group(1)}"
    return text, version


def _section_ids(text: str, clauses: list[Clause]) -> dict[int, str]:
    """Line number of each heading outside code -> the id of its section clause."""
    sections = [c for c in clauses if c.kind == "section"]
    headings: list[tuple[int, str, str | None]] = []
    fence: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif line.startswith(fence) and not line[len(m.group(1)) :].strip():
                fence = None
            continue
        if fence is None and (h := _HEADING.match(line)):
            headings.append((number, h.group(2), h.group(3)))
    out: dict[int, str] = {}
    known = {c.id for c in sections}
    in_step = len(sections) == len(headings)
    for k, (number, _title, explicit) in enumerate(headings):
        if explicit and explicit in known:
            out[number] = explicit
        elif in_step:
            out[number] = sections[k].id
    return out


def _turns(block: list[str]) -> list[Turn | list[Turn]]:
    """The turns of one fenced block; a comparison is a list of marked answers."""
    items: list[Turn | list[Turn]] = []
    comparison: list[Turn] | None = None
    current: Turn | None = None
    body: list[str] = []
    depth = 0
    for line in block:
        if current is not None:
            close = f"</{current.role}>"
            opens = line.lstrip().startswith(f"<{current.role}") and _OPEN.match(line.lstrip())
            if opens:
                depth += 1
            if line.rstrip().endswith(close):
                if depth == 0:
                    body.append(line.rstrip()[: -len(close)])
                    current.text = "\n".join(body).strip("\n")
                    (comparison if comparison is not None else items).append(current)
                    current, body = None, []
                    continue
                depth -= 1
            body.append(line)
            continue
        stripped = line.strip()
        if stripped == "<comparison>":
            comparison = []
            continue
        if stripped == "</comparison>":
            if comparison is not None:
                items.append(comparison)
            comparison = None
            continue
        m = _OPEN.match(stripped)
        if not m:
            continue
        role, attrs, rest = m.group(1), dict(_ATTR.findall(m.group(2))), m.group(3)
        current = Turn(role=role, text="", attrs=attrs)
        mark = _MARK.match(rest)
        if mark:
            current.mark, current.cites, reason, rest = mark.group(1), mark.group(2), mark.group(3), mark.group(4)
            current.reason = reason or None
        body = [rest] if rest else []
        close = f"</{role}>"
        if rest.rstrip().endswith(close):  # a one-line turn
            current.text = rest.rstrip()[: -len(close)].strip("\n")
            (comparison if comparison is not None else items).append(current)
            current, body = None, []
    return items


def find_examples(text: str, clauses: list[Clause]) -> list[WorkedExample]:
    """Every fenced xml block holding turns, with its title and section, in document order."""
    headings = _section_ids(text, clauses)
    titles = {c.id: c.title for c in clauses}
    lines = text.split("\n")
    out: list[WorkedExample] = []
    section: str | None = None
    title: str | None = None
    per_section: dict[str | None, int] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        number = i + 1
        if number in headings:
            section, title = headings[number], None
        elif (t := _TITLE.match(line)) is not None:
            title = t.group(1) or None
        m = _FENCE.match(line)
        if not m:
            i += 1
            continue
        fence, lang = m.group(1), m.group(2)
        end = i + 1
        while end < len(lines) and not (lines[end].startswith(fence) and not lines[end][len(fence) :].strip()):
            end += 1
        block = lines[i + 1 : end]
        items = _turns(block) if lang in ("xml", "") else []
        if items:
            per_section[section] = per_section.get(section, 0) + 1
            ordinal = per_section[section]
            name = title or f"{titles.get(section or '', 'Preamble')} (example {ordinal})"
            out.append(WorkedExample(number, name, section, ordinal, items))
            title = None
        i = end + 1
    return out


# ---------------------------------------------------------------------------
# Examples -> records
# ---------------------------------------------------------------------------


def _slug(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-.") or "x"


def example_id(version: str, example: WorkedExample) -> str:
    """A stable id: the document version, the section and the example's ordinal in it."""
    value = f"spec.{_slug(version)}.{_slug(example.section or 'preamble')}.{example.ordinal}"
    if len(value) > 120:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        value = f"spec.{digest}.{example.ordinal}"
    return value


def turn_content(turn: Turn) -> str:
    """A turn's text as a record holds it (a turn addressed to a tool names its recipient first)."""
    if "recipient" in turn.attrs:
        return f"[to {turn.attrs['recipient']}]\n{turn.text}"
    return turn.text


@dataclass
class _Built:
    record: dict[str, Any] | None = None
    eval_item: dict[str, Any] | None = None
    problem: str | None = None
    ok: int = 0
    extra_good: int = 0
    tool_text: int = 0
    joined: int = 0


def build(example: WorkedExample, version: str) -> _Built:
    """One worked example as a record dict, an eval prompt, or the reason it is neither."""
    out = _Built()
    anchor = example.section or "preamble"
    origin = f"{version}#{anchor} example {example.ordinal}"
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    comparisons = [k for k, item in enumerate(example.items) if isinstance(item, list)]
    if not comparisons:
        out.problem = "no <comparison> of GOOD/BAD answers"
        return out
    for k, item in enumerate(example.items):
        if isinstance(item, Turn):
            if item.role in ("system", "developer"):
                if messages:
                    out.problem = f"a <{item.role}> message after the dialogue started"
                    return out
                system.append(item.text)
                continue
            if item.role == "tool":
                out.problem = "a <tool> output turn (no defined tool to make an agentic record from)"
                return out
            if item.role == "assistant" and "recipient" in item.attrs:
                out.tool_text += 1
            turn: dict[str, Any] = {"role": item.role, "content": turn_content(item)}
            if messages and messages[-1]["role"] == item.role:
                messages[-1]["content"] += "\n\n" + turn["content"]
                out.joined += 1
            else:
                messages.append(turn)
            continue
        good = [t for t in item if t.mark == "GOOD"]
        bad = [t for t in item if t.mark == "BAD"]
        out.ok += sum(1 for t in item if t.mark == "OK")
        out.tool_text += sum(1 for t in [*good[:1], *bad] if "recipient" in t.attrs)
        if not good:
            if k != comparisons[-1]:
                out.problem = "a comparison without a GOOD answer before the last turn"
                return out
            if not messages or messages[0]["role"] != "user":
                out.problem = "no GOOD answer, and no user turn to make an eval prompt of"
                return out
            out.eval_item = {
                "id": origin,
                "title": example.title,
                "clause": example.section,
                "system": "\n\n".join(system) or None,
                "messages": messages,
                "rejected": [{"content": turn_content(t), "why_not": t.reason} for t in bad],
                "source": origin,
            }
            return out
        out.extra_good += len(good) - 1
        prefix = ""
        if messages and messages[-1]["role"] == "assistant":  # the answer continues an assistant turn
            prefix = messages.pop()["content"] + "\n\n"
            out.joined += 1
        answer: dict[str, Any] = {"role": "assistant", "content": prefix + turn_content(good[0])}
        if good[0].reason:
            answer["rationale"] = good[0].reason
        if bad:
            answer["alternatives"] = [
                {
                    "content": prefix + turn_content(t),
                    "why_not": t.reason,
                    "source": f"{version}#{anchor} BAD {n}" + (f" (cites #{t.cites})" if t.cites else ""),
                }
                for n, t in enumerate(bad, start=1)
            ]
        messages.append(answer)
    if not messages or messages[0]["role"] != "user":
        out.problem = "no user turn before the answers (an advice record starts with the user)"
        return out
    record: dict[str, Any] = {
        "id": example_id(version, example),
        "kind": "advice",
        "title": example.title,
        "status": "draft",
        "clauses": [example.section] if example.section else [],
        "messages": messages,
        "source": {"type": "imported", "model": None, "prompt_sha256": None, "origin": origin},
    }
    if system:
        record["system"] = "\n\n".join(system)
    out.record = record
    return out


def import_examples(
    db: Database | None,
    path: Path,
    *,
    actor: str,
    dry_run: bool = False,
    eval_out: Path | None = None,
    db_path: str | None = None,
) -> ExamplesImport:
    """Turn the worked examples of `path` into draft records in one transaction (none on error).

    The document must be the workspace's current constitution (`curator constitution import` it
    first), so each record links the clause of its section. Records whose id exists are left
    alone; `dry_run` reads and counts, writes nothing (no eval file either). `eval_out` may only
    be a new file or one curator wrote (`curator.targets`; `db_path` is the workspace's file).
    """
    path = Path(path)
    if eval_out is not None and not dry_run:
        check_file_target(eval_out, db_path=db_path)
    text, version = read_document(path)
    parsed = parse_markdown(text, filename=path.name)
    if db is not None:
        current = current_clauses(db)
        if [(c.id, c.hash) for c in current] != [(c.id, c.hash) for c in parsed.clauses]:
            raise ConstitutionError(
                f"{path}: not the workspace's current constitution; import it first "
                f"(curator constitution import {path})"
            )
    found = find_examples(text, parsed.clauses)
    if not found:
        raise ConstitutionError(f"{path}: no worked examples (fenced blocks of <user>/<assistant> turns) found")
    report = ExamplesImport(document=path.name, version=version, dry_run=dry_run, examples=len(found))
    ready: list[PreparedRecord] = []
    seen_hash: dict[str, str] = {}
    for example in found:
        built = build(example, version)
        report.ok_answers += built.ok
        report.extra_good += built.extra_good
        report.tool_text += built.tool_text
        report.joined += built.joined
        if built.problem:
            report.skipped.append(Problem(example.line, example.title, built.problem))
            continue
        if built.eval_item is not None:
            report.eval_prompts.append(built.eval_item)
            continue
        assert built.record is not None
        if not built.record["clauses"]:
            report.unlinked.append(Problem(example.line, example.title, "its section maps to no clause"))
        try:
            ex: Example = parse_example(built.record)
        except RecordError as err:
            report.skipped.append(Problem(example.line, example.title, str(err)))
            continue
        prep = prepare(ex)
        if prep.norm_hash in seen_hash:
            report.duplicates.append({"id": prep.id, "duplicate_of": seen_hash[prep.norm_hash]})
            continue
        seen_hash[prep.norm_hash] = prep.id
        report.records.append(prep.id)
        for msg in ex.messages or []:
            for alt in msg.alternatives or []:
                report.alternatives += 1
                report.alternatives_with_reason += alt.why_not is not None
        for c in ex.clauses:
            if c not in report.clauses:
                report.clauses.append(c)
        ready.append(prep)
    if db is None:
        report.created = list(report.records)
        return report
    taken = set(store_examples.existing_ids(db, [p.id for p in ready]))
    report.existing = [p.id for p in ready if p.id in taken]
    new = [p for p in ready if p.id not in taken]
    report.created = [p.id for p in new]
    if dry_run:
        return report
    hashes = current_clause_hashes(db)
    with db.atomic():
        store_examples.insert_prepared(db, new, actor=actor, action="import", clause_hashes=hashes)
    if eval_out is not None:
        data = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in report.eval_prompts)
        write_file(eval_out, data.encode("utf-8"), db_path=db_path)
        report.eval_out = str(eval_out)
    return report
