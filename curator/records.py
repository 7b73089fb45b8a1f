"""Record operations for scripts and front ends: what the TUI does to a record, as functions.

`show` a record; edit it by dotted fields (`set_fields`) or a JSON merge patch (`merge_patch`);
`link`/`unlink` clauses, `tag`/`untag`; `submit`, `approve`, `reject` (thin over `curator.review`);
`delete` (soft: hidden everywhere, restorable), `restore`, `purge` (permanent); `perform` runs
any of these verbs by name on one record. An editor's whole record is stored with `replace`
(`editable_json` gives the text to edit, `load_json_object` reads it back). The same verbs,
except edits, run in bulk over the Examples screen's filters: `plan` says what would change,
`apply_plan` does it all or nothing.

Every operation takes `expected_version`: an int must be the stored version (else
`ConflictError`); None means the current version, read in the same transaction as the write.
A verb that finds nothing to do (already linked, already in review, ...) writes nothing and
returns `changed=False` with a note. The review rules live in the store
(`curator/store/examples.py`): none of these functions can make a record approved except
`approve`, and an edit or link change to approved content sends it back to review, which the
returned change shows (`status`, `note`).

Results are frozen dataclasses with `to_json()` (fixed keys, for `--format json`) and `to_text()`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlite_utils import Database

from curator import review
from curator.errors import ConflictError, CuratorError, NotFoundError, RecordError, UsageError
from curator.models import Example, parse_example
from curator.store import examples
from curator.store.clauses import current_clause_hashes
from curator.store.db import read_snapshot
from curator.store.examples import Deletion, content_changes, status_after_write
from curator.store.links import link_states

Verb = Literal["link", "unlink", "tag", "untag", "submit", "approve", "reject", "delete", "restore", "purge"]
VERBS: tuple[str, ...] = get_args(Verb)
"""Verbs that run in bulk (every record operation except the edits)."""

FIXED_FIELDS: tuple[str, ...] = ("id", "version", "created_at", "updated_at")
"""Fields an edit cannot change: the record's identity and what the store keeps for it."""

_STATUS_HINT = "changes only through submit, approve and reject"


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkView:
    clause: str
    state: str
    """`ok`, `stale` (the clause's text changed since) or `orphaned` (the clause is gone)."""

    def to_json(self) -> dict[str, str]:
        return {"clause": self.clause, "state": self.state}


@dataclass(frozen=True)
class ReviewView:
    reviewer: str
    verdict: str
    comment: str
    version: int
    """The record version the verdict produced."""
    at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "reviewer": self.reviewer,
            "verdict": self.verdict,
            "comment": self.comment,
            "version": self.version,
            "at": self.at,
        }


@dataclass(frozen=True)
class RecordView:
    """A record with what the store knows about it: link states, reviews, soft deletion."""

    record: Example
    links: tuple[LinkView, ...]
    reviews: tuple[ReviewView, ...]
    deleted: Deletion | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "version": self.record.version,
            "status": self.record.status,
            "deleted": {"at": self.deleted.at, "actor": self.deleted.actor} if self.deleted else None,
            "links": [link.to_json() for link in self.links],
            "reviews": [r.to_json() for r in self.reviews],
            "record": self.record.canonical(),
        }

    def to_text(self) -> str:
        ex = self.record
        lines = [f"{ex.id} · {ex.kind} · {ex.status} · version {ex.version} · author {ex.author or '?'}"]
        if self.deleted:
            lines.append(f"deleted at {self.deleted.at} by {self.deleted.actor} (restore brings it back)")
        lines.append("links: " + (", ".join(f"{lk.clause} ({lk.state})" for lk in self.links) or "none"))
        for r in self.reviews:
            comment = f": {r.comment}" if r.comment else ""
            lines.append(f"review: {r.verdict} by {r.reviewer} at {r.at} (version {r.version}){comment}")
        lines.append(json.dumps(ex.canonical(), ensure_ascii=False, indent=2))
        return "\n".join(lines)


@dataclass(frozen=True)
class RecordChange:
    """What one operation did to one record."""

    action: str
    id: str
    changed: bool
    """False when there was nothing to do (nothing was written)."""
    previous_version: int
    version: int
    previous_status: str
    status: str
    note: str
    """Why nothing changed, or what else changed (an approved record sent back to review)."""
    record: Example
    """The record afterwards (for `purge`, as it was when it was removed)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "id": self.id,
            "changed": self.changed,
            "previous_version": self.previous_version,
            "version": self.version,
            "previous_status": self.previous_status,
            "status": self.status,
            "note": self.note,
            "record": self.record.canonical(),
        }

    def summary(self) -> str:
        """One line for a single-record command: where the record is now, then what else happened.

        `ex_1 version 4 (status review)`, followed by the note (`: back to review: ...`), or
        `: nothing to do, already approved` when nothing was written; a purge says `purged`.
        """
        if self.action == "purge" and self.changed:
            gone = f"{self.id} purged (was version {self.version}, status {self.status})"
            return f"{gone}; its history stays in the audit log"
        head = f"{self.id} version {self.version} (status {self.status})"
        if not self.changed:
            return f"{head}: nothing to do, {self.note}"
        return f"{head}: {self.note}" if self.note else head

    def to_text(self) -> str:
        if not self.changed:
            return f"{self.id}: {self.action}: nothing to do ({self.note})"
        parts = [f"version {self.previous_version} -> {self.version}"] if self.version != self.previous_version else []
        if self.status != self.previous_status:
            parts.append(f"status {self.previous_status} -> {self.status}")
        if self.note:
            parts.append(self.note)
        return f"{self.id}: {self.action}" + (f" ({'; '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class Filters:
    """The Examples screen's filters; every one given must match."""

    kind: str | None = None
    status: str | None = None
    tag: str | None = None
    clause: str | None = None
    author: str | None = None
    text: str | None = None
    """Full-text search over title and content."""
    since: str | None = None
    """Updated at or after this ISO date or date-time (UTC unless an offset is given)."""

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "status": self.status,
            "tag": self.tag,
            "clause": self.clause,
            "author": self.author,
            "text": self.text,
            "since": self.since,
        }

    def describe(self) -> str:
        given = [f"{k}={v}" for k, v in self.to_json().items() if v]
        return " ".join(given) or "all records"


Outcome = Literal["change", "unchanged", "refused"]


@dataclass(frozen=True)
class PlannedChange:
    """What a bulk operation would do to one record, at the version it was planned on."""

    id: str
    version: int
    outcome: Outcome
    description: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "outcome": self.outcome, "description": self.description}


@dataclass(frozen=True)
class BulkPlan:
    """A verb over the records a filter selected: what would change, nothing written yet."""

    verb: Verb
    filters: Filters
    actor: str
    clauses: tuple[str, ...]
    tags: tuple[str, ...]
    comment: str
    items: tuple[PlannedChange, ...]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for i in self.items if i.outcome == outcome)

    def to_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "filters": self.filters.to_json(),
            "actor": self.actor,
            "clauses": [*self.clauses],
            "tags": [*self.tags],
            "comment": self.comment,
            "matched": len(self.items),
            "changes": self.count("change"),
            "unchanged": self.count("unchanged"),
            "refused": self.count("refused"),
            "items": [i.to_json() for i in self.items],
        }

    def to_text(self) -> str:
        head = (
            f"{self.verb} over {self.filters.describe()}: {len(self.items)} matched, {self.count('change')} "
            f"would change, {self.count('unchanged')} unchanged, {self.count('refused')} refused"
        )
        return "\n".join([head, *(f"{i.id} (v{i.version}): {i.outcome}: {i.description}" for i in self.items)])


@dataclass(frozen=True)
class BulkResult:
    """What applying a plan did: every change in one transaction."""

    verb: Verb
    changes: tuple[RecordChange, ...]
    unchanged: tuple[str, ...]
    refused: tuple[PlannedChange, ...]
    """Records the plan already showed as refused; they were left as they were."""

    def to_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "applied": len(self.changes),
            "changes": [c.to_json() for c in self.changes],
            "unchanged": [*self.unchanged],
            "refused": [r.to_json() for r in self.refused],
        }

    def to_text(self) -> str:
        head = f"{self.verb}: {len(self.changes)} applied, {len(self.unchanged)} unchanged, {len(self.refused)} refused"
        lines = [head, *(c.to_text() for c in self.changes)]
        lines += [f"{r.id}: refused: {r.description}" for r in self.refused]
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def show(db: Database, example_id: str) -> RecordView:
    """A record (live or soft-deleted) with its version, status, link states and reviews."""
    with read_snapshot(db):
        ex = examples.get(db, example_id)
        states = link_states(db, example_id)
        reviews = review.reviews_of(db, example_id)
        deleted = examples.deletion(db, example_id)
    return RecordView(
        ex,
        tuple(LinkView(c, states[c]) for c in sorted(states)),
        tuple(ReviewView(r.reviewer, r.verdict, r.comment, r.example_version, r.created_at) for r in reviews),
        deleted,
    )


# ---------------------------------------------------------------------------
# Field assignments and merge patches (pure)
# ---------------------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, Any]:
    """`path=value` sets the string `value`; `path:=value` sets a JSON value.

    Values are strings unless JSON is asked for with `:=`, so a title of `42` or `null` needs no
    quoting: `title=42`. With `:=`, `tags:=["a","b"]`, `messages.1.rationale:=null` (removes it).
    The path is dotted; list items are numbered from 0 (`messages.1.rationale`).
    """
    eq = text.find("=")
    if eq <= 0 or (eq == 1 and text[0] == ":"):
        raise UsageError(f"{text!r}: expected FIELD=VALUE (a string) or FIELD:=JSON")
    if text[eq - 1] == ":":
        path, raw = text[: eq - 1].strip(), text[eq + 1 :]
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            raise UsageError(f"{path}: {raw!r} is not valid JSON (use {path}=... for a string)") from None
        return path, value
    return text[:eq].strip(), text[eq + 1 :]


def parse_assignments(texts: Iterable[str]) -> dict[str, Any]:
    """Several `path=value` / `path:=json` strings as one {path: value} update (later ones win)."""
    out: dict[str, Any] = {}
    for text in texts:
        path, value = parse_assignment(text)
        out[path] = value
    return out


def assign(data: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with the dotted `path` set to `value` (None removes the key or list item).

    A list index may be the list's length, which appends. Missing objects on the way are not
    created: the path must name existing parents.
    """
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise RecordError("not a field path (use dots between names: messages.1.rationale)", field=path or "field")
    root: dict[str, Any] = copy.deepcopy(dict(data))
    node: Any = root
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit():
                raise RecordError("a list item is named by its number, from 0", field=where)
            index = int(part)
            if index > len(node) or (index == len(node) and (not last or value is None)):
                raise RecordError(f"no item {index} (the list has {len(node)})", field=where)
            if not last:
                node = node[index]
            elif value is None:
                del node[index]
            elif index == len(node):
                node.append(value)
            else:
                node[index] = value
        elif isinstance(node, dict):
            if last:
                if value is None:
                    node.pop(part, None)
                else:
                    node[part] = value
            elif part not in node:
                raise RecordError("no such field", field=where)
            else:
                node = node[part]
        else:
            raise RecordError(f"{'.'.join(parts[:i])} is a value, not an object or a list", field=where)
    return root


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _edited(before: Example, data: dict[str, Any]) -> Example:
    """The edited record validated, refusing changes to fixed fields and to the status."""
    original = before.canonical()
    for name in FIXED_FIELDS:
        if data.get(name) != original.get(name):
            raise RecordError("cannot be changed", field=name)
    if data.get("status") != original.get("status"):
        raise RecordError(_STATUS_HINT, field="status")
    return parse_example(data)


# ---------------------------------------------------------------------------
# One record
# ---------------------------------------------------------------------------


def _current(db: Database, example_id: str, expected_version: int | None, *, live: bool = True) -> Example:
    """The stored record read inside the caller's transaction, at `expected_version` (None: any)."""
    ex = examples.get(db, example_id)
    if expected_version is not None and ex.version != expected_version:
        raise ConflictError(
            f"example {example_id} was changed by someone else (now version {ex.version}, "
            f"expected {expected_version}); reload it"
        )
    if live and examples.is_deleted(db, example_id):
        raise NotFoundError(f"example {example_id} is deleted; restore it first")
    return ex


def _result(action: str, before: Example, after: Example, note: str = "") -> RecordChange:
    if before.status == "approved" and after.status == "review" and action not in ("submit", "reject"):
        changed = ", ".join(content_changes(before, after))
        note = "; ".join(filter(None, [note, f"back to review: approved content changed ({changed})"]))
    return RecordChange(action, after.id, True, before.version, after.version, before.status, after.status, note, after)


def unchanged(action: str, ex: Example, note: str) -> RecordChange:
    """The result of `action` when there was nothing to do: `ex` as it is, `note` saying why."""
    return RecordChange(action, ex.id, False, ex.version, ex.version, ex.status, ex.status, note, ex)


def current(db: Database, example_id: str, *, expected_version: int | None) -> Example:
    """The live record to start an edit from; writes nothing.

    NotFoundError when it is missing or soft-deleted, ConflictError when `expected_version` is
    given and no longer the stored version.
    """
    with read_snapshot(db):
        return _current(db, example_id, expected_version)


Transform = Callable[[Example], tuple[Example | None, str]]
"""A record's next state (None: nothing to do) and a note on it."""


def _write(
    db: Database, action: str, example_id: str, expected_version: int | None, actor: str, transform: Transform
) -> RecordChange:
    """Read, transform and write one record in one transaction (the store applies the review rules)."""
    with db.atomic():
        before = _current(db, example_id, expected_version)
        after, note = transform(before)
        if after is None or after.canonical() == before.canonical():
            return unchanged(action, before, note or "no change")
        updated = examples.update(db, after, expected_version=before.version, actor=actor)
    return _result(action, before, updated, note)


def set_fields(
    db: Database, example_id: str, fields: Mapping[str, Any], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Set dotted fields (`{"title": "...", "messages.1.rationale": "..."}`), validate, store.

    Build `fields` from `path=value` strings with `parse_assignments`. `id`, `version`,
    `created_at`, `updated_at` and `status` cannot be set. A field error is one line naming the
    field, and nothing is written.
    """
    if not fields:
        raise UsageError("name at least one field to set")

    def edit(ex: Example) -> tuple[Example | None, str]:
        data = ex.canonical()
        for path, value in fields.items():
            data = assign(data, path, value)
        return _edited(ex, data), ""

    return _write(db, "edit", example_id, expected_version, actor, edit)


def merge_patch(
    db: Database, example_id: str, patch: Mapping[str, Any], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Apply an RFC 7386 JSON Merge Patch to the canonical record, validate, store.

    null removes a key, objects merge, arrays and other values replace. `id`, `version`,
    `created_at`, `updated_at` and `status` cannot change. An invalid result is refused with a
    one-line field error and nothing is written.
    """
    if not isinstance(patch, Mapping):
        raise UsageError("a merge patch is a JSON object")

    def edit(ex: Example) -> tuple[Example | None, str]:
        return _edited(ex, json_merge_patch(ex.canonical(), dict(patch))), ""

    return _write(db, "edit", example_id, expected_version, actor, edit)


def editable_json(ex: Example) -> str:
    """The record as a person edits it: the canonical JSON object, indented, with a final newline."""
    return json.dumps(ex.canonical(), ensure_ascii=False, indent=2) + "\n"


def load_json_object(text: str, *, source: str) -> dict[str, Any]:
    """`text` (an edited record, a merge patch) as a JSON object; a RecordError naming `source` otherwise.

    The error is one line with the line and column of a syntax error.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordError(f"{source}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None
    except (ValueError, RecursionError):
        raise RecordError(f"{source}: not valid JSON") from None
    if not isinstance(value, dict):
        raise RecordError(f"{source}: expected a JSON object, got {type(value).__name__}")
    return value


def replace(
    db: Database, example_id: str, data: Mapping[str, Any], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Store a whole edited record (what an editor gives back), validated like any edit.

    `id`, `version`, `created_at`, `updated_at` and `status` must be as stored; a field error is
    one line naming the field, and nothing is written. The same record again is nothing to do.
    """

    def edit(ex: Example) -> tuple[Example | None, str]:
        return _edited(ex, dict(data)), ""

    return _write(db, "edit", example_id, expected_version, actor, edit)


def _names(values: Iterable[str], what: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not names:
        raise UsageError(f"name at least one {what}")
    return names


def _linking(clause_ids: tuple[str, ...]) -> Transform:
    def transform(ex: Example) -> tuple[Example | None, str]:
        new = [c for c in clause_ids if c not in ex.clauses]
        already = [c for c in clause_ids if c in ex.clauses]
        note = f"already linked: {', '.join(already)}" if already else ""
        return (ex.model_copy(update={"clauses": [*ex.clauses, *new]}) if new else None), note

    return transform


def _unlinking(clause_ids: tuple[str, ...]) -> Transform:
    def transform(ex: Example) -> tuple[Example | None, str]:
        absent = [c for c in clause_ids if c not in ex.clauses]
        kept = [c for c in ex.clauses if c not in clause_ids]
        note = f"not linked: {', '.join(absent)}" if absent else ""
        return (ex.model_copy(update={"clauses": kept}) if len(kept) != len(ex.clauses) else None), note

    return transform


def _tagging(tags: tuple[str, ...]) -> Transform:
    def transform(ex: Example) -> tuple[Example | None, str]:
        new = [t for t in tags if t not in ex.tags]
        already = [t for t in tags if t in ex.tags]
        note = f"already tagged: {', '.join(already)}" if already else ""
        return (ex.model_copy(update={"tags": [*ex.tags, *new]}) if new else None), note

    return transform


def _untagging(tags: tuple[str, ...]) -> Transform:
    def transform(ex: Example) -> tuple[Example | None, str]:
        absent = [t for t in tags if t not in ex.tags]
        kept = [t for t in ex.tags if t not in tags]
        note = f"not tagged: {', '.join(absent)}" if absent else ""
        return (ex.model_copy(update={"tags": kept}) if len(kept) != len(ex.tags) else None), note

    return transform


def link(
    db: Database, example_id: str, clause_ids: Iterable[str], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Link clauses of the current constitution (links are content: an approved record goes back to review)."""
    return _write(db, "link", example_id, expected_version, actor, _linking(_names(clause_ids, "clause")))


def unlink(
    db: Database, example_id: str, clause_ids: Iterable[str], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Remove clause links, orphaned ones included (an approved record goes back to review)."""
    return _write(db, "unlink", example_id, expected_version, actor, _unlinking(_names(clause_ids, "clause")))


def set_links(
    db: Database,
    example_id: str,
    clause_ids: Iterable[str],
    *,
    expected_version: int | None,
    actor: str,
    action: str = "link",
) -> RecordChange:
    """Make the record's links exactly `clause_ids` (an adjudicated set): links kept keep their place,
    new ones follow in the given order. Same rules as `link`/`unlink`: unknown clauses are refused
    and an approved record goes back to review."""
    wanted = _names(clause_ids, "clause")

    def transform(ex: Example) -> tuple[Example | None, str]:
        kept = [c for c in ex.clauses if c in wanted]
        new = [c for c in wanted if c not in ex.clauses]
        dropped = [c for c in ex.clauses if c not in wanted]
        if not new and not dropped:
            return None, "already linked exactly so"
        notes = [f"linked {', '.join(new)}"] if new else []
        notes += [f"unlinked {', '.join(dropped)}"] if dropped else []
        return ex.model_copy(update={"clauses": [*kept, *new]}), "; ".join(notes)

    return _write(db, action, example_id, expected_version, actor, transform)


def tag(
    db: Database, example_id: str, tags: Iterable[str], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Add tags (metadata: an approved record stays approved)."""
    return _write(db, "tag", example_id, expected_version, actor, _tagging(_names(tags, "tag")))


def untag(
    db: Database, example_id: str, tags: Iterable[str], *, expected_version: int | None, actor: str
) -> RecordChange:
    """Remove tags (metadata: an approved record stays approved)."""
    return _write(db, "untag", example_id, expected_version, actor, _untagging(_names(tags, "tag")))


def submit(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> RecordChange:
    """Draft or rejected -> review (`review.submit`); already in review is nothing to do."""
    with db.atomic():
        before = _current(db, example_id, expected_version)
        if before.status == "review":
            return unchanged("submit", before, "already in review")
        after = review.submit(db, example_id, expected_version=before.version, actor=actor)
    return _result("submit", before, after)


def approve(
    db: Database, example_id: str, *, comment: str = "", expected_version: int | None, actor: str
) -> RecordChange:
    """Approve through `review.decide`, which checks the rules (no self-approval, links, rationales).

    Already approved is nothing to do (no second review row).
    """
    with db.atomic():
        before = _current(db, example_id, expected_version)
        if before.status == "approved":
            return unchanged("approve", before, "already approved")
        after = review.decide(db, example_id, "approve", comment=comment, expected_version=before.version, actor=actor)
    return _result("approve", before, after)


def reject(db: Database, example_id: str, comment: str, *, expected_version: int | None, actor: str) -> RecordChange:
    """Reject with a comment saying why (`review.decide`); already rejected is nothing to do."""
    with db.atomic():
        before = _current(db, example_id, expected_version)
        if before.status == "rejected":
            return unchanged("reject", before, "already rejected")
        after = review.decide(db, example_id, "reject", comment=comment, expected_version=before.version, actor=actor)
    return _result("reject", before, after)


def delete(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> RecordChange:
    """Soft delete: hidden from lists, review, coverage, dedup, decontamination and exports; restorable."""
    with db.atomic():
        before = _current(db, example_id, expected_version, live=False)
        if examples.is_deleted(db, example_id):
            return unchanged("delete", before, "already deleted")
        after = examples.delete(db, example_id, expected_version=before.version, actor=actor)
    return _result("delete", before, after, "hidden until restored")


def restore(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> RecordChange:
    """Bring a soft-deleted record back as it was (its status too: its content did not change)."""
    with db.atomic():
        before = _current(db, example_id, expected_version, live=False)
        if not examples.is_deleted(db, example_id):
            return unchanged("restore", before, "not deleted")
        after = examples.restore(db, example_id, expected_version=before.version, actor=actor)
    return _result("restore", before, after)


def purge(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> RecordChange:
    """Remove a soft-deleted record for good (links, tags, reviews, signature); its history stays in the audit log."""
    with db.atomic():
        before = _current(db, example_id, expected_version, live=False)
        gone = examples.purge(db, example_id, expected_version=before.version, actor=actor)
    return RecordChange("purge", gone.id, True, gone.version, gone.version, gone.status, gone.status, "permanent", gone)


def perform(
    db: Database,
    verb: Verb,
    example_id: str,
    *,
    expected_version: int | None,
    actor: str,
    clauses: Iterable[str] = (),
    tags: Iterable[str] = (),
    comment: str = "",
) -> RecordChange:
    """Run one of `VERBS` on one record by name (what `apply_plan` runs for each planned record).

    `link`/`unlink` take `clauses`, `tag`/`untag` take `tags`, `approve` and `reject` take
    `comment` (a rejection needs one); the other arguments are ignored.
    """
    kw: dict[str, Any] = {"expected_version": expected_version, "actor": actor}
    if verb == "link":
        return link(db, example_id, clauses, **kw)
    if verb == "unlink":
        return unlink(db, example_id, clauses, **kw)
    if verb == "tag":
        return tag(db, example_id, tags, **kw)
    if verb == "untag":
        return untag(db, example_id, tags, **kw)
    if verb == "submit":
        return submit(db, example_id, **kw)
    if verb == "approve":
        return approve(db, example_id, comment=comment, **kw)
    if verb == "reject":
        return reject(db, example_id, comment, **kw)
    if verb == "delete":
        return delete(db, example_id, **kw)
    if verb == "restore":
        return restore(db, example_id, **kw)
    if verb == "purge":
        return purge(db, example_id, **kw)
    raise UsageError(f"unknown verb {verb!r}; expected one of {', '.join(VERBS)}")


# ---------------------------------------------------------------------------
# Bulk: plan, then apply all or nothing
# ---------------------------------------------------------------------------


def _preview(
    db: Database, verb: Verb, ex: Example, *, actor: str, clauses: tuple[str, ...], tags: tuple[str, ...]
) -> tuple[Outcome, str]:
    """What `verb` would do to `ex`, judged by the same rules the write applies."""
    if verb in ("link", "unlink", "tag", "untag"):
        names = clauses if verb in ("link", "unlink") else tags
        have = ex.clauses if verb in ("link", "unlink") else ex.tags
        adding = verb in ("link", "tag")
        transform = {"link": _linking, "unlink": _unlinking, "tag": _tagging, "untag": _untagging}[verb](names)
        after, note = transform(ex)
        if after is None:
            return "unchanged", note or "no change"
        done = [n for n in names if (n in have) != adding]
        what = f"{verb} {', '.join(done)}" + (f" ({note})" if note else "")
        status, _ = status_after_write(ex, after)
        if status != ex.status:
            what += f"; status {ex.status} -> {status} (approved content changed)"
        return "change", what
    if verb == "submit":
        if ex.status == "review":
            return "unchanged", "already in review"
        if ex.status == "approved":
            return "refused", "already approved"
        return "change", f"status {ex.status} -> review"
    if verb == "approve":
        if ex.status == "approved":
            return "unchanged", "already approved"
        problems = review.approval_problems(ex, actor, review.introduced_by(db, ex.id))
        if problems:
            return "refused", "cannot approve: " + "; ".join(problems)
        return "change", f"status {ex.status} -> approved"
    if verb == "reject":
        if ex.status == "rejected":
            return "unchanged", "already rejected"
        return "change", f"status {ex.status} -> rejected"
    if verb == "delete":
        return "change", f"delete (status {ex.status}; hidden until restored)"
    if verb == "restore":
        return "change", f"restore (status {ex.status})"
    return "change", "purge (permanent)"


def selected(db: Database, filters: Filters, *, deleted: bool = False) -> list[Example]:
    """The records the Examples filters select (live ones, or soft-deleted ones with `deleted`)."""
    return examples.query(
        db,
        kind=filters.kind,
        status=filters.status,
        clause=filters.clause,
        tag=filters.tag,
        author=filters.author,
        text=filters.text,
        since=filters.since,
        deleted=deleted,
    )


def plan(
    db: Database,
    verb: Verb,
    filters: Filters,
    *,
    actor: str,
    clauses: Iterable[str] = (),
    tags: Iterable[str] = (),
    comment: str = "",
) -> BulkPlan:
    """Which records `filters` selects and what `verb` would do to each; nothing is written.

    `link`/`unlink` take `clauses`, `tag`/`untag` take `tags`, `reject` needs a `comment`
    (`approve` may have one). `restore` and `purge` select among soft-deleted records, the other
    verbs among live ones. The plan remembers each record's version for `apply_plan`.
    """
    if verb not in VERBS:
        raise UsageError(f"unknown verb {verb!r}; expected one of {', '.join(VERBS)}")
    clause_ids = _names(clauses, "clause") if verb in ("link", "unlink") else ()
    tag_names = _names(tags, "tag") if verb in ("tag", "untag") else ()
    if verb == "reject" and not comment.strip():
        raise review.ReviewRuleError("a rejection needs a comment saying why")
    if since := filters.since:
        examples.since_bound(since)  # a bad date is refused before anything is read
    with read_snapshot(db):
        if verb == "link":
            known = current_clause_hashes(db)
            unknown = [c for c in clause_ids if c not in known]
            if unknown:
                raise RecordError(
                    f"unknown clause id {unknown[0]!r} (not in the current constitution)", field="clauses"
                )
        found = selected(db, filters, deleted=verb in ("restore", "purge"))
        items = tuple(
            PlannedChange(ex.id, ex.version, *_preview(db, verb, ex, actor=actor, clauses=clause_ids, tags=tag_names))
            for ex in found
        )
    return BulkPlan(verb, filters, actor, clause_ids, tag_names, comment, items)


def _apply_one(db: Database, plan: BulkPlan, item: PlannedChange) -> RecordChange:
    return perform(
        db,
        plan.verb,
        item.id,
        expected_version=item.version,
        actor=plan.actor,
        clauses=plan.clauses,
        tags=plan.tags,
        comment=plan.comment,
    )


def apply_plan(db: Database, plan: BulkPlan) -> BulkResult:
    """Apply a plan in ONE transaction, all or nothing, with one audit event per changed record.

    Every planned record must still be at the version it was planned on (else `ConflictError`
    naming it, and nothing is applied); records that came to match the filter since are not
    touched. Records the plan showed as unchanged or refused are left alone. Any error on any
    record rolls the whole plan back.
    """
    changes: list[RecordChange] = []
    with db.atomic():
        for item in plan.items:
            row = db.execute("SELECT version FROM examples WHERE id = ?", [item.id]).fetchone()
            if row is None or row[0] != item.version:
                now = "it is gone" if row is None else f"now version {row[0]}"
                raise ConflictError(
                    f"example {item.id} changed since the plan (planned on version {item.version}, {now}); "
                    "nothing was applied: plan again"
                )
        for item in plan.items:
            if item.outcome != "change":
                continue
            try:
                changes.append(_apply_one(db, plan, item))
            except CuratorError as err:  # same error type (and field, and pending audit), naming the record
                where = "" if item.id in str(err) else f"{item.id}: "
                err.args = (f"{where}{err}; nothing was applied",)
                raise
    return BulkResult(
        plan.verb,
        tuple(changes),
        tuple(i.id for i in plan.items if i.outcome == "unchanged"),
        tuple(i for i in plan.items if i.outcome == "refused"),
    )
