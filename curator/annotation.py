"""Blind double annotation of clause links: assign, annotate blind, measure agreement, decide.

A lead asks named users to link clauses to records (`assign`); each sees their queue without the
record's existing links (`queue`: the function never returns them) and gives their own set
(`annotate`). `agreement_report` measures how far the sets agree (`curator.agreement`).
`disagreements` lists records whose annotators differ, side by side; the lead picks the final set
(`adjudicate`), or takes the set every annotator gave (`apply_agreed`). A decided set becomes the
record's links through `records.set_links`, so coverage, the audit log and the review rules see
an ordinary link change. Every write here is one transaction with an audit event per change
(entity `annotation`, the record's id).

Who may be assigned: a *known* user, i.e. a name in the `team` setting (config.toml) or a name
that has acted in this workspace (its audit log), compared as identities (`identity.same_user`);
never a record's author or whoever brought the record in (`review.introduced_by`); never on a
soft-deleted record. Each function refuses a bad request with one line and writes nothing.

Screens call the same functions: `queue(db, user)` for an annotator's blind list and
`blind_record` for the record to show; `disagreements(db)` for the side-by-side list;
`adjudicate`, `apply_agreed`; `agreement_report(db)` and `clause_agreement(db)` for figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from curator import agreement, records, review
from curator.errors import CuratorError, NotFoundError, RecordError, UsageError
from curator.gcpause import gc_paused
from curator.identity import check_user_name, identity_key, name_for_message, same_user
from curator.models import Example, utc_now
from curator.store import annotations as store
from curator.store import examples
from curator.store.audit import record_event
from curator.store.clauses import current_clause_hashes, current_version, version_clauses
from curator.store.db import read_snapshot


class AnnotationError(CuratorError):
    """An annotation request the rules refuse (unknown user, own record, stale clause, not assigned)."""


class ClauseChangedError(AnnotationError):
    """`annotate` refused a clause whose text changed since the assignment and was not confirmed;
    `clause_id` names it, so a front end can show its current text and ask."""

    def __init__(self, message: str, clause_id: str) -> None:
        super().__init__(message)
        self.clause_id = clause_id


# ---------------------------------------------------------------------------
# Assign
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedAssignment:
    id: str
    annotator: str
    outcome: str
    """`assign`, or `unchanged` when the user is already assigned to the record."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "annotator": self.annotator, "outcome": self.outcome}


@dataclass(frozen=True)
class AssignPlan:
    annotators: tuple[str, ...]
    actor: str
    items: tuple[PlannedAssignment, ...]
    applied: bool = False

    @property
    def changes(self) -> int:
        return sum(1 for i in self.items if i.outcome == "assign")

    def to_json(self) -> dict[str, Any]:
        return {
            "annotators": [*self.annotators],
            "records": len({i.id for i in self.items}),
            "assignments": self.changes,
            "unchanged": len(self.items) - self.changes,
            "applied": self.applied,
            "items": [i.to_json() for i in self.items],
        }

    def to_text(self) -> str:
        verb = "assigned" if self.applied else "would assign"
        head = (
            f"{verb} {self.changes} (records {len({i.id for i in self.items})} x annotators "
            f"{', '.join(self.annotators)}; {len(self.items) - self.changes} already assigned)"
        )
        return "\n".join(
            [
                head,
                *(
                    f"{i.id}: {i.annotator}: {'already assigned' if i.outcome == 'unchanged' else verb}"
                    for i in self.items
                ),
            ]
        )


def known_users(db: Database, team: Iterable[str] = ()) -> dict[str, str]:
    """Identity key -> name of everyone who may be assigned: the team setting, then the audit log's actors."""
    known: dict[str, str] = {}
    for name in [*team, *store.audit_actors(db)]:
        key = identity_key(name)
        if key:
            known.setdefault(key, name)
    return known


def _annotator_names(names: Iterable[str]) -> tuple[str, ...]:
    out: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        check_user_name(name, where="annotator name")
        out.setdefault(identity_key(name), name)
    if not out:
        raise UsageError("name at least one annotator (--to USER,USER)")
    return tuple(out.values())


def plan_assign(
    db: Database, record_ids: Sequence[str], annotators: Iterable[str], *, actor: str, team: Iterable[str] = ()
) -> AssignPlan:
    """What `assign` would write; refuses (AnnotationError, nothing written) the whole request when any
    annotator is unknown, any record is missing or deleted, or any annotator wrote or brought in a record."""
    names = _annotator_names(annotators)
    ids = tuple(dict.fromkeys(record_ids))
    if not ids:
        raise UsageError("no record selected: give IDs, or filters that match")
    with read_snapshot(db):
        known = known_users(db, team)
        for name in names:
            if identity_key(name) not in known:
                raise AnnotationError(
                    f"unknown user {name_for_message(name)}: not in the team setting of config.toml and never "
                    "acted in this workspace; nothing was assigned"
                )
        items: list[PlannedAssignment] = []
        for example_id in ids:
            ex = _live(db, example_id, "nothing was assigned")
            introducer = review.introduced_by(db, example_id)
            for name in names:
                if same_user(ex.author, name):
                    raise AnnotationError(
                        f"{name_for_message(name)} cannot annotate {example_id}: it is their own record (author); "
                        "nothing was assigned"
                    )
                if same_user(introducer, name):
                    raise AnnotationError(
                        f"{name_for_message(name)} cannot annotate {example_id}: they brought it into the workspace; "
                        "nothing was assigned"
                    )
                have = store.assignment(db, example_id, identity_key(name))
                items.append(PlannedAssignment(example_id, name, "unchanged" if have else "assign"))
    return AssignPlan(names, actor, tuple(items))


def apply_assign(db: Database, plan: AssignPlan, *, team: Iterable[str] = ()) -> AssignPlan:
    """Write a plan in one transaction (checked again inside it), one audit event per assignment."""
    with db.atomic():
        again = plan_assign(db, [i.id for i in plan.items], plan.annotators, actor=plan.actor, team=team)
        version = current_version(db)
        now = utc_now()
        for item in again.items:
            if item.outcome != "assign":
                continue
            row = store.Assignment(
                item.id,
                item.annotator,
                identity_key(item.annotator),
                plan.actor,
                now,
                version["id"] if version else None,
            )
            store.insert_assignment(db, row)
            record_event(
                db, actor=plan.actor, action="assign", entity="annotation", entity_id=item.id, after=row.to_json()
            )
    return AssignPlan(again.annotators, again.actor, again.items, applied=True)


def assign(
    db: Database, record_ids: Sequence[str], annotators: Iterable[str], *, actor: str, team: Iterable[str] = ()
) -> AssignPlan:
    """Assign every record to every annotator (already assigned pairs are left as they are)."""
    return apply_assign(db, plan_assign(db, record_ids, annotators, actor=actor, team=team), team=team)


def select(db: Database, filters: records.Filters) -> list[str]:
    """Ids of the live records the Examples filters select (what `assign` with filters acts on)."""
    if filters.since:
        examples.since_bound(filters.since)
    return [ex.id for ex in records.selected(db, filters)]


def _live(db: Database, example_id: str, consequence: str) -> Example:
    try:
        ex = examples.get(db, example_id)
    except NotFoundError:
        raise NotFoundError(f"example {example_id} not found; {consequence}") from None
    if examples.is_deleted(db, example_id):
        raise AnnotationError(f"example {example_id} is deleted (restore it first); {consequence}")
    return ex


# ---------------------------------------------------------------------------
# The annotator's queue and annotation
# ---------------------------------------------------------------------------


def blind_record(ex: Example) -> dict[str, Any]:
    """The record as an annotator sees it: its canonical JSON without the links."""
    data = ex.canonical()
    data.pop("clauses", None)
    return data


@dataclass(frozen=True)
class QueueItem:
    """One record assigned to the user; `record` is blind (no links), `annotated` their own set if any."""

    id: str
    title: str
    kind: str
    assigned_by: str
    assigned_at: str
    annotated: tuple[str, ...] | None
    record: dict[str, Any] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "assigned_by": self.assigned_by,
            "assigned_at": self.assigned_at,
            "annotated": list(self.annotated) if self.annotated is not None else None,
            "record": self.record,
        }


def queue(db: Database, user: str, *, include_done: bool = False) -> list[QueueItem]:
    """The user's assigned live records not yet decided, oldest assignment first; pending ones only
    unless `include_done`. No item carries the record's links or another annotator's set."""
    key = identity_key(user)
    out: list[QueueItem] = []
    with read_snapshot(db):
        decided = store.decided_ids(db)
        for a in store.assignments_for(db, key):
            if a.example_id in decided:
                continue
            mine = {x.annotator_key: x for x in store.annotations_of(db, a.example_id)}.get(key)
            if mine is not None and not include_done:
                continue
            ex = examples.get(db, a.example_id)
            out.append(
                QueueItem(
                    ex.id,
                    ex.title or "",
                    ex.kind,
                    a.assigned_by,
                    a.assigned_at,
                    mine.clauses if mine else None,
                    blind_record(ex),
                )
            )
    return out


@dataclass(frozen=True)
class AnnotationResult:
    id: str
    annotator: str
    clauses: tuple[str, ...]
    changed: bool
    previous: tuple[str, ...] | None
    constitution_version: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "annotator": self.annotator,
            "clauses": [*self.clauses],
            "changed": self.changed,
            "previous": list(self.previous) if self.previous is not None else None,
            "constitution_version": self.constitution_version,
        }

    def summary(self) -> str:
        if not self.changed:
            return f"{self.id}: {self.annotator}: nothing to do, already annotated {', '.join(self.clauses)}"
        again = " (replacing " + ", ".join(self.previous) + ")" if self.previous else ""
        return f"{self.id}: {self.annotator} linked {', '.join(self.clauses)}{again}"


def annotate(
    db: Database, example_id: str, clause_ids: Iterable[str], *, user: str, confirm_changed: Iterable[str] = ()
) -> AnnotationResult:
    """Store `user`'s blind link set for a record assigned to them (replacing their earlier one).

    Every clause must be in the current constitution. A clause whose text changed since the record
    was assigned (the constitution got a new version) is refused unless named in `confirm_changed`
    (the annotator has read its current text); a clause removed since is refused with its name.
    Nothing is written on a refusal, and an earlier annotation stays as it was.
    """
    wanted = tuple(sorted(dict.fromkeys(c.strip() for c in clause_ids if c.strip())))
    if not wanted:
        raise UsageError("name at least one clause")
    key = identity_key(user)
    confirmed = {c.strip() for c in confirm_changed}
    with db.atomic():
        _live(db, example_id, "nothing was written")
        mine = store.assignment(db, example_id, key)
        if mine is None:
            raise AnnotationError(
                f"{name_for_message(user)} is not assigned to {example_id} (a lead assigns with curator assign); "
                "nothing was written"
            )
        done = store.decision(db, example_id)
        if done is not None:
            raise AnnotationError(
                f"{example_id} was already {done.how} by {done.decided_by}; annotations are closed, nothing was written"
            )
        version = current_version(db)
        if version is None:
            raise AnnotationError("no constitution imported yet; nothing was written")
        hashes = current_clause_hashes(db)
        then = (
            {c.id: c.hash for c in version_clauses(db, mine.constitution_version)}
            if mine.constitution_version is not None and mine.constitution_version != version["id"]
            else hashes
        )
        for clause_id in wanted:
            if clause_id not in hashes:
                if clause_id in then:
                    raise AnnotationError(
                        f"clause {clause_id!r} was removed from the constitution since {example_id} was assigned "
                        f"(version {mine.constitution_version} -> {version['id']}); annotate without it "
                        "(or with the clause that replaced it); nothing was written"
                    )
                raise RecordError(
                    f"unknown clause id {clause_id!r} (not in the current constitution); nothing was written",
                    field="clauses",
                )
            if clause_id in then and then[clause_id] != hashes[clause_id] and clause_id not in confirmed:
                raise ClauseChangedError(
                    f"clause {clause_id!r} changed since {example_id} was assigned (version "
                    f"{mine.constitution_version} -> {version['id']}): read its current text, then confirm it "
                    f"(--confirm-changed {clause_id}); nothing was written",
                    clause_id,
                )
        before = {x.annotator_key: x for x in store.annotations_of(db, example_id)}.get(key)
        if before is not None and before.clauses == wanted and before.constitution_version == version["id"]:
            return AnnotationResult(example_id, user, wanted, False, before.clauses, version["id"])
        row = store.Annotation(
            example_id, user, key, wanted, {c: hashes[c] for c in wanted}, int(version["id"]), utc_now()
        )
        store.put_annotation(db, row)
        record_event(
            db,
            actor=user,
            action="annotate",
            entity="annotation",
            entity_id=example_id,
            before=before.to_json() if before else None,
            after=row.to_json(),
        )
    return AnnotationResult(example_id, user, wanted, True, before.clauses if before else None, int(version["id"]))


# ---------------------------------------------------------------------------
# Disagreements, adjudication, agreed sets
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Disagreement:
    """A record whose annotators gave different sets: who linked what, for the side-by-side view."""

    id: str
    title: str
    links: tuple[str, ...]
    """The record's current links (the lead is not blind)."""
    annotations: tuple[store.Annotation, ...]
    pending: tuple[str, ...]
    """Assigned annotators who have not annotated yet."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "links": [*self.links],
            "annotations": [{"annotator": a.annotator, "clauses": [*a.clauses]} for a in self.annotations],
            "pending": [*self.pending],
        }

    def to_text(self) -> str:
        head = f"{self.id}  {self.title}  (links now: {', '.join(self.links) or '-'})"
        rows = [f"  {a.annotator}: {', '.join(a.clauses)}" for a in self.annotations]
        rows += [f"  {p}: (not annotated yet)" for p in self.pending]
        return "\n".join([head, *rows])


def disagreements(db: Database) -> list[Disagreement]:
    """Undecided live records with two or more annotations that are not all the same set, by id."""
    out: list[Disagreement] = []
    with read_snapshot(db):
        decided = store.decided_ids(db)
        by_record: dict[str, list[store.Annotation]] = {}
        for a in store.iter_annotations(db):
            by_record.setdefault(a.example_id, []).append(a)
        for example_id, anns in sorted(by_record.items()):
            if example_id in decided or len(anns) < 2 or len({a.clauses for a in anns}) == 1:
                continue
            ex = examples.get(db, example_id)
            have = {a.annotator_key for a in anns}
            pending = tuple(x.annotator for x in store.assignments_of(db, example_id) if x.annotator_key not in have)
            out.append(Disagreement(example_id, ex.title or "", tuple(ex.clauses), tuple(anns), pending))
    return out


@dataclass(frozen=True)
class DecisionResult:
    id: str
    how: str
    clauses: tuple[str, ...]
    change: records.RecordChange

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "how": self.how, "clauses": [*self.clauses], "record": self.change.to_json()}

    def summary(self) -> str:
        return f"{self.id}: {self.how} {', '.join(self.clauses)}; {self.change.summary()}"


def _decide(
    db: Database, example_id: str, clauses: tuple[str, ...], how: str, actor: str, anns: list[store.Annotation]
) -> DecisionResult:
    """Inside the caller's transaction: the set becomes the record's links; the decision is kept and audited."""
    change = records.set_links(
        db, example_id, clauses, expected_version=None, actor=actor, action=how.removesuffix("d")
    )
    before = store.decision(db, example_id)
    row = store.Decision(example_id, clauses, how, actor, utc_now())
    store.put_decision(db, row)
    record_event(
        db,
        actor=actor,
        action="adjudicate" if how == "adjudicated" else "agree",
        entity="annotation",
        entity_id=example_id,
        before=before.to_json() if before else None,
        after={**row.to_json(), "annotations": {a.annotator: [*a.clauses] for a in anns}},
    )
    return DecisionResult(example_id, how, clauses, change)


def adjudicate(db: Database, example_id: str, clause_ids: Iterable[str], *, actor: str) -> DecisionResult:
    """The lead's final set for an annotated record becomes its links (a later call replaces it).

    Refused: a record nobody annotated, a lead who annotated it (their set is one of the blind
    ones), a clause not in the current constitution.
    """
    wanted = tuple(dict.fromkeys(c.strip() for c in clause_ids if c.strip()))
    if not wanted:
        raise UsageError("name at least one clause")
    with db.atomic():
        _live(db, example_id, "nothing was written")
        anns = store.annotations_of(db, example_id)
        if not anns:
            raise AnnotationError(f"{example_id} has no annotations to adjudicate; nothing was written")
        if any(same_user(a.annotator, actor) for a in anns):
            raise AnnotationError(
                f"{name_for_message(actor)} annotated {example_id}: another lead must adjudicate it; "
                "nothing was written"
            )
        hashes = current_clause_hashes(db)
        unknown = [c for c in wanted if c not in hashes]
        if unknown:
            raise RecordError(
                f"unknown clause id {unknown[0]!r} (not in the current constitution); nothing was written",
                field="clauses",
            )
        return _decide(db, example_id, wanted, "adjudicated", actor, anns)


@dataclass(frozen=True)
class AgreedResult:
    applied: tuple[DecisionResult, ...]
    refused: tuple[tuple[str, str], ...]
    """(record, why) for agreed records whose set cannot be applied as it was given."""

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": [a.to_json() for a in self.applied],
            "refused": [{"id": i, "reason": why} for i, why in self.refused],
        }

    def to_text(self) -> str:
        head = f"agreed sets applied to {len(self.applied)} records, {len(self.refused)} left for adjudication"
        return "\n".join(
            [head, *(a.summary() for a in self.applied), *(f"{i}: not applied: {why}" for i, why in self.refused)]
        )


def apply_agreed(db: Database, *, actor: str) -> AgreedResult:
    """Every undecided record whose assigned annotators all annotated (two or more) with one same set gets
    that set as its links, in one transaction. A set holding a clause that changed or was removed since it
    was given is not applied (the record is listed with the clause and why: adjudicate it)."""
    applied: list[DecisionResult] = []
    refused: list[tuple[str, str]] = []
    with db.atomic():
        decided = store.decided_ids(db)
        hashes = current_clause_hashes(db)
        by_record: dict[str, list[store.Annotation]] = {}
        for a in store.iter_annotations(db):
            by_record.setdefault(a.example_id, []).append(a)
        for example_id, anns in sorted(by_record.items()):
            if example_id in decided or len(anns) < 2 or len({a.clauses for a in anns}) != 1:
                continue
            assigned = {x.annotator_key for x in store.assignments_of(db, example_id)}
            if assigned - {a.annotator_key for a in anns}:
                continue
            problem = _stale_in(anns, hashes)
            if problem:
                refused.append((example_id, problem))
                continue
            applied.append(_decide(db, example_id, anns[0].clauses, "agreed", actor, anns))
    return AgreedResult(tuple(applied), tuple(refused))


def _stale_in(anns: list[store.Annotation], hashes: dict[str, str]) -> str | None:
    for a in anns:
        for clause_id in a.clauses:
            if clause_id not in hashes:
                return f"clause {clause_id!r} was removed from the constitution since {a.annotator} linked it"
            if a.clause_hashes.get(clause_id) != hashes[clause_id]:
                return f"clause {clause_id!r} changed since {a.annotator} linked it"
    return None


# ---------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------


def agreement_report(
    db: Database, *, clause: str | None = None, replicates: int = agreement.BOOTSTRAP_REPLICATES, seed: int = 0
) -> agreement.AgreementReport:
    """Agreement over every annotation of a live record (see `curator.agreement.compute`).

    `clause` must be a clause of the current constitution or one some annotation links.
    """
    with read_snapshot(db):
        enc = store.encoded_links(db)
        if clause is not None and clause not in current_clause_hashes(db) and clause not in enc.clauses:
            raise UsageError(f"unknown clause id {clause!r} (not in the current constitution nor in any annotation)")
    with gc_paused():
        return agreement.compute(enc, clause=clause, replicates=replicates, seed=seed)


def clause_agreement(db: Database) -> dict[str, tuple[float, int]]:
    """Per clause linked in a record with two or more annotations: (binary alpha, records in the sample)."""
    with read_snapshot(db):
        enc = store.encoded_links(db)
    return agreement.clause_agreement(enc)


# ---------------------------------------------------------------------------
# Rendering the agreement report
# ---------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report_lines(report: agreement.AgreementReport) -> list[str]:
    """The report as plain text lines (the CLI's table format)."""
    interval = f" (95% bootstrap {_fmt(report.interval[0])}..{_fmt(report.interval[1])})" if report.interval else ""
    out = [
        f"alpha (Krippendorff, MASI over link sets): {_fmt(report.alpha)}{interval}",
        f"mean pairwise Jaccard: {_fmt(report.jaccard)}",
        f"records annotated by two or more: {report.n_records} ({report.n_annotations} annotations, "
        f"{report.disagreements} with differing sets); annotators: {', '.join(report.annotators) or '-'}",
    ]
    if report.pairs:
        out += ["", "pair                      alpha   jaccard  records"]
        out += [
            f"{' / '.join(p.annotators):<25} {_fmt(p.alpha):>6}  {_fmt(p.jaccard):>7}  {p.n_records:>7}"
            for p in report.pairs
        ]
    if report.clauses:
        out += ["", "clause                    alpha   n  linked"]
        out += [f"{c.id:<25} {_fmt(c.alpha):>6}  {c.n:>2}  {c.linked:>6}" for c in report.clauses]
    if report.confusions:
        out += ["", "confused clauses (one annotator linked the first where another linked the second)"]
        out += [f"{c.a} <-> {c.b}: {c.count}" for c in report.confusions]
    return out


def report_html(report: agreement.AgreementReport) -> str:
    """The report as one self-contained HTML page."""
    from curator.htmlpage import escape, page

    def table(headers: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    summary = "".join(f"<p>{escape(line)}</p>" for line in report_lines(report)[:3])
    parts = [
        summary,
        "<h2>Annotator pairs</h2>",
        table(
            ["pair", "alpha", "jaccard", "records"],
            [[" / ".join(p.annotators), _fmt(p.alpha), _fmt(p.jaccard), str(p.n_records)] for p in report.pairs],
        ),
        "<h2>Clauses</h2>",
        table(
            ["clause", "alpha", "n", "linked"], [[c.id, _fmt(c.alpha), str(c.n), str(c.linked)] for c in report.clauses]
        ),
        "<h2>Confused clauses</h2>",
        table(["clause", "clause", "count"], [[c.a, c.b, str(c.count)] for c in report.confusions]),
    ]
    return page("Annotation agreement", "\n".join(parts))
