"""Review workflow: submit, approve, reject, with the rules a lead relies on.

- the acting user never approves their own example (names compared as identities, see
  `curator.identity`: `Ana`, ` ana ` and a Cyrillic `аna` are all `ana`);
- approval needs at least one clause link and, for advice and agentic examples, a rationale
  on every assistant turn;
- approving (re-reviewing) an example confirms its stale clause links against the current text.
Every step is one transaction with a review row and an audit event.

`decide` is the only way into `approved`: after the rules pass it hands the store an
`examples.Approval` for the record, version and reviewer, and the store refuses any other write
into `approved` (see `curator/store/examples.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from curator.errors import CuratorError
from curator.identity import same_user
from curator.models import Example, utc_now
from curator.store import examples
from curator.store.examples import Approval, live_sql
from curator.store.links import confirm_links

Verdict = Literal["approve", "reject"]


class ReviewRuleError(CuratorError):
    """A review that the rules do not allow (self-approval, missing links or rationales)."""


def introduced_by(db: Database, example_id: str) -> str | None:
    """Who brought a record into the workspace: the actor of its first create or import event."""
    row = db.execute(
        "SELECT actor FROM audit WHERE entity = 'example' AND entity_id = ? AND action IN ('create', 'import') "
        "ORDER BY id LIMIT 1",
        [example_id],
    ).fetchone()
    return row[0] if row else None


def approval_problems(example: Example, reviewer: str, introducer: str | None = None) -> list[str]:
    """Why `reviewer` may not approve `example` (empty when they may).

    No self-approval: neither the author nor the person who brought the record in (`introducer`,
    see `introduced_by`: whoever created or imported it) may approve it. Both are checked, since
    `author` is an editable field: whoever imported a record could otherwise name someone else
    as its author and approve it. Names are compared with `identity.same_user` (normalised,
    case-folded, look-alike letters mapped), never as typed.
    """
    problems = []
    if same_user(example.author, reviewer):
        problems.append("you cannot approve your own example")
    elif same_user(introducer, reviewer):
        problems.append("you brought this example in: another reviewer must approve it")
    if not example.clauses:
        problems.append("link at least one clause first")
    if example.kind in ("advice", "agentic"):
        missing = [
            i for i, m in enumerate(example.messages or []) if m.role == "assistant" and not (m.rationale or "").strip()
        ]
        if missing:
            problems.append(
                "every assistant turn needs a rationale (missing on turn "
                + ", ".join(str(i + 1) for i in missing)
                + ")"
            )
        unexplained = [
            f"{i + 1}.{k + 1}"
            for i, m in enumerate(example.messages or [])
            for k, alt in enumerate(m.alternatives or [])
            if not (alt.why_not or "").strip()
        ]
        if unexplained:
            problems.append(
                "every rejected alternative needs its why-not (missing on turn.alternative "
                + ", ".join(unexplained)
                + ")"
            )
    return problems


def submit(db: Database, example_id: str, *, expected_version: int | None, actor: str) -> Example:
    """Draft (or rejected) -> review. `expected_version=None` takes the current version.

    A stale `expected_version` is a `ConflictError` (the attempt is kept in the audit log).
    """
    with db.atomic():
        ex = examples.get(db, example_id)
        if ex.status == "review":
            return ex
        if ex.status == "approved":
            raise ReviewRuleError(f"{example_id} is already approved")
        version = ex.version if expected_version is None else expected_version
        return examples.update(db, ex.model_copy(update={"status": "review"}), expected_version=version, actor=actor)


def decide(
    db: Database,
    example_id: str,
    verdict: Verdict,
    *,
    comment: str = "",
    expected_version: int | None,
    actor: str,
) -> Example:
    """Approve or reject an example (with a comment); the rules above are checked first.

    The record is read, checked and written in one transaction, so what is approved is exactly
    the version the rules were checked on. `expected_version=None` takes the current version; a
    stale one is a `ConflictError` (the attempt is kept in the audit log).
    """
    if verdict not in ("approve", "reject"):
        raise ReviewRuleError(f"unknown verdict {verdict!r}")
    if verdict == "reject" and not comment.strip():
        raise ReviewRuleError("a rejection needs a comment saying why")
    with db.atomic():
        ex = examples.get(db, example_id)
        version = ex.version if expected_version is None else expected_version
        approval = None
        if verdict == "approve":
            problems = approval_problems(ex, actor, introduced_by(db, example_id))
            if problems:
                raise ReviewRuleError(f"cannot approve {example_id}: " + "; ".join(problems))
            approval = Approval(example_id, version, actor)  # the store refuses it unless `version` is current
        status = "approved" if verdict == "approve" else "rejected"
        updated = examples.update(
            db,
            ex.model_copy(update={"status": status}),
            expected_version=version,
            actor=actor,
            approval=approval,
        )
        db.execute(
            "INSERT INTO reviews (example_id, example_version, reviewer, verdict, comment, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [example_id, updated.version, actor, verdict, comment, utc_now()],
        )
        if verdict == "approve":
            confirm_links(db, example_id, actor=actor)
    return updated


@dataclass
class ReviewRow:
    example_id: str
    example_version: int
    reviewer: str
    verdict: str
    comment: str
    created_at: str


def reviews_of(db: Database, example_id: str) -> list[ReviewRow]:
    rows = db.execute(
        "SELECT example_id, example_version, reviewer, verdict, comment, created_at FROM reviews "
        "WHERE example_id = ? ORDER BY id",
        [example_id],
    ).fetchall()
    return [ReviewRow(*r) for r in rows]


def queue(db: Database, *, limit: int = 200, exclude_author: str | None = None) -> list[dict[str, Any]]:
    """Live examples waiting for review, oldest update first (what has waited longest).

    `exclude_author` leaves out the examples that person wrote (the same identity, see `same_user`).
    """
    sql = f"SELECT id, kind, title, author, updated_at FROM examples e WHERE status = 'review' AND {live_sql()}"
    sql += " ORDER BY updated_at, id"
    rows: list[dict[str, Any]] = []
    for r in db.execute(sql):
        row = dict(zip(("id", "kind", "title", "author", "updated_at"), r, strict=True))
        if exclude_author and same_user(row["author"], exclude_author):
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows
