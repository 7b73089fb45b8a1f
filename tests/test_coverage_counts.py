"""Coverage counts kept on write: after any sequence of real writes, the report read from the kept
counts is the report a count from scratch gives, for every filter; and reading it does not get
slower as the workspace grows."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from curator import coverage, records, review
from curator.constitution.versions import import_constitution
from curator.dumpload import dump, load
from curator.errors import CuratorError
from curator.importer import import_file
from curator.models import KINDS, STATUSES, parse_example
from curator.store import coverage_counts, examples, links
from curator.store.db import Workspace, open_workspace
from tests.conftest import SMALL_CONSTITUTION, advice, story, write_jsonl
from tests.helpers import run

VERSIONS = [
    SMALL_CONSTITUTION,
    # honesty.1 reworded (its links turn stale), privacy.1.1 removed (its links are orphaned)
    SMALL_CONSTITUTION.replace("Say what you believe.", "Say what you know.").replace(
        "  - Not even to avoid shutdown.\n", ""
    ),
    # a new section with two levels; honesty.2 removed
    SMALL_CONSTITUTION.replace("Say what you believe.", "Say what you know.").replace("- Own your mistakes.\n", "")
    + "\n## Care {#care}\n\n- Be kind.\n  - Even when tired.\n- Be patient.\n",
]


def reports_differ(db: Database) -> list[str]:
    """The filters (kind, status) whose report from the kept counts is not the fresh count's."""
    bad = []
    for kind in (None, *KINDS):
        for status in (None, *STATUSES):
            kept = coverage.compute(db, kind=kind, status=status, pairs=True).to_json()
            fresh = coverage.compute(db, kind=kind, status=status, pairs=True, fresh=True).to_json()
            if kept != fresh:
                bad.append(f"kind={kind} status={status}")
    return bad


def current_ids(db: Database) -> list[str]:
    return [c.id for c in coverage.compute(db, fresh=True).clauses]


def new_record(rng: random.Random, n: int, clause_ids: list[str], *, status: str = "draft") -> dict[str, Any]:
    chosen = rng.sample(clause_ids, rng.randint(1, min(3, len(clause_ids))))
    vocabulary = ["care", "truth", "letters", "sealed", "privacy", "kind"]
    words = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(3, 40)))
    if rng.random() < 0.5:
        data = story(id=f"ex_{n}", clauses=chosen, status=status, author="ana", text=f"story {n} {words}")
    else:
        data = advice(id=f"ex_{n}", clauses=chosen, status=status, author="ana")
        data["messages"][0]["content"] = f"question {n} {words}"
        if rng.random() < 0.5:
            data["messages"][1]["alternatives"] = [{"content": f"wrong {n}", "why_not": "It would mislead."}]
    return data


class Session:
    """Random real writes through the store and services, on a workspace file."""

    def __init__(self, tmp: Path, seed: int) -> None:
        self.tmp = tmp
        self.rng = random.Random(seed)
        self.n = 0
        self.version = 0
        self.path = tmp / "w.db"
        self.ws: Workspace = open_workspace(self.path)
        self.import_version()

    @property
    def db(self) -> Database:
        return self.ws.db

    def ids(self, *, deleted: bool = False) -> list[str]:
        return [e.id for e in examples.query(self.db, deleted=deleted)]

    def import_version(self) -> None:
        path = self.tmp / f"v{self.version}.md"
        path.write_text(VERSIONS[self.version], encoding="utf-8")
        import_constitution(self.db, path, actor="lead")
        self.version += 1

    def create(self) -> None:
        self.n += 1
        data = new_record(self.rng, self.n, current_ids(self.db), status=self.rng.choice(["draft", "review"]))
        examples.create(self.db, parse_example(data), actor="ana")

    def import_some(self) -> None:
        rows = []
        for _ in range(self.rng.randint(1, 6)):
            self.n += 1
            rows.append(new_record(self.rng, self.n, current_ids(self.db), status=self.rng.choice(list(STATUSES))))
        path = write_jsonl(self.tmp / f"in{self.n}.jsonl", rows)
        import_file(self.db, path, actor="ana", keep_status=self.rng.random() < 0.5)

    def pick(self, *, deleted: bool = False) -> str | None:
        ids = self.ids(deleted=deleted)
        return self.rng.choice(ids) if ids else None

    def link(self) -> None:
        eid = self.pick()
        if eid:
            records.link(self.db, eid, [self.rng.choice(current_ids(self.db))], expected_version=None, actor="ana")

    def unlink(self) -> None:
        eid = self.pick()
        if eid:
            ex = examples.get(self.db, eid)
            if len(ex.clauses) > 1:
                records.unlink(self.db, eid, [self.rng.choice(ex.clauses)], expected_version=None, actor="ana")

    def edit_text(self) -> None:
        eid = self.pick()
        if eid:
            ex = examples.get(self.db, eid)
            field = "text" if ex.kind == "story" else "messages.0.content"
            longer = "more words " * self.rng.randint(1, 30)
            records.set_fields(self.db, eid, {field: f"edited {eid} {longer}"}, expected_version=None, actor="ana")

    def change_kind(self) -> None:
        eid = self.pick()
        if eid:
            ex = examples.get(self.db, eid)
            maker = advice if ex.kind == "story" else story
            data = maker(clauses=list(ex.clauses), author=ex.author)
            data["title"] = f"now another kind {eid}"
            records.replace(self.db, eid, {"id": eid, **data}, expected_version=None, actor="ana")

    def approve(self) -> None:
        eid = self.pick()
        if eid and examples.get(self.db, eid).status != "approved":
            records.submit(self.db, eid, expected_version=None, actor="ana")
            records.approve(self.db, eid, expected_version=None, actor=self.rng.choice(["ben", "Ben ", "chen"]))

    def reject(self) -> None:
        eid = self.pick()
        if eid and examples.get(self.db, eid).status == "review":
            records.reject(self.db, eid, "not yet", expected_version=None, actor="chen")

    def add_alternative(self) -> None:
        eid = self.pick()
        if eid and examples.get(self.db, eid).kind == "advice":
            alt = [{"content": f"bad {eid}", "why_not": "Misleads."}]
            records.set_fields(self.db, eid, {"messages.1.alternatives": alt}, expected_version=None, actor="ana")

    def delete(self) -> None:
        eid = self.pick()
        if eid:
            records.delete(self.db, eid, expected_version=None, actor="ana")

    def restore(self) -> None:
        eid = self.pick(deleted=True)
        if eid:
            records.restore(self.db, eid, expected_version=None, actor="ana")

    def purge(self) -> None:
        eid = self.pick(deleted=True)
        if eid:
            records.purge(self.db, eid, expected_version=None, actor="ana")

    def confirm(self) -> None:
        eid = self.pick()
        if eid:
            links.confirm_links(self.db, eid, actor="lead")

    def constitution(self) -> None:
        if self.version < len(VERSIONS):
            self.import_version()

    def dump_and_load(self) -> None:
        folder = self.tmp / f"dump{self.n}"
        dump(self.ws, folder)
        self.ws.close()
        self.path = self.tmp / f"loaded{self.n}.db"
        load(folder, self.path)
        self.ws = open_workspace(self.path)

    def step(self) -> str:
        moves: list[Callable[[], None]] = [
            self.create,
            self.create,
            self.import_some,
            self.link,
            self.unlink,
            self.edit_text,
            self.change_kind,
            self.approve,
            self.approve,
            self.reject,
            self.add_alternative,
            self.delete,
            self.restore,
            self.purge,
            self.confirm,
        ]
        move = self.rng.choice(moves)
        with contextlib.suppress(CuratorError):  # a write the rules refuse (no rationale, ...) writes nothing
            move()
        return move.__name__


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_counts_equal_a_fresh_count_after_random_writes(tmp_path: Path, seed: int) -> None:
    session = Session(tmp_path, seed)
    done = []
    for i in range(70):
        if i in (25, 45):
            session.constitution()
            done.append("constitution")
        elif i == 55:
            session.dump_and_load()
            done.append("dump_and_load")
        else:
            done.append(session.step())
        assert coverage_counts.is_valid(session.db), done
        assert reports_differ(session.db) == [], done
    assert len(examples.query(session.db)) > 10
    assert any(c.stale for c in coverage.compute(session.db).clauses)
    session.ws.close()


def test_every_kind_of_write_moves_the_kept_counts(ws: Workspace) -> None:
    data = advice(id="ex_a", clauses=["privacy.1.1", "privacy"], author="ana")
    data["messages"][1]["alternatives"] = [{"content": "no", "why_not": "Misleads."}]
    examples.create(ws.db, parse_example(data), actor="ana")

    def privacy() -> coverage.ClauseCoverage:
        return next(c for c in coverage.compute(ws.db, pairs=True).clauses if c.id == "privacy")

    assert privacy().total["advice"]["draft"] == 1
    records.submit(ws.db, "ex_a", expected_version=None, actor="ana")
    review.decide(ws.db, "ex_a", "approve", expected_version=None, actor="ben")
    assert (privacy().total["advice"]["approved"], privacy().pairs, privacy().reviewers) == (1, 1, ["ben"])
    records.delete(ws.db, "ex_a", expected_version=None, actor="ana")
    assert privacy().approved_total == 0
    records.restore(ws.db, "ex_a", expected_version=None, actor="ana")
    assert privacy().approved_total == 1
    records.delete(ws.db, "ex_a", expected_version=None, actor="ana")
    records.purge(ws.db, "ex_a", expected_version=None, actor="ana")
    assert privacy().approved_total == 0 and privacy().pairs == 0
    assert reports_differ(ws.db) == []


def vm_steps(db: Database, action: Callable[[], object]) -> int:
    """SQLite virtual-machine steps (in hundreds) an action runs: work done, counted without a clock."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.conn.set_progress_handler(tick, 100)
    try:
        action()
    finally:
        db.conn.set_progress_handler(None, 100)
    return steps


def test_a_report_reads_no_more_with_twenty_times_the_records(ws: Workspace) -> None:
    rng = random.Random(7)
    ids = current_ids(ws.db)

    def add(count: int, start: int) -> None:
        rows = [parse_example(new_record(rng, start + i, ids)) for i in range(count)]
        examples.insert_many(ws.db, rows, actor="ana")

    add(20, 0)
    small = vm_steps(ws.db, lambda: coverage.compute(ws.db, pairs=True))
    add(400, 100)
    large = vm_steps(ws.db, lambda: coverage.compute(ws.db, pairs=True))
    fresh = vm_steps(ws.db, lambda: coverage.compute(ws.db, pairs=True, fresh=True))
    assert large <= small + 5, (small, large)
    assert fresh > 3 * large  # the fresh count reads every record and link: the kept counts do not
    assert reports_differ(ws.db) == []


def test_counts_of_another_constitution_are_never_used(ws: Workspace, tmp_path: Path) -> None:
    examples.create(ws.db, parse_example(story(id="ex_1", clauses=["honesty.1"], author="ana")), actor="ana")
    ws.db.execute("UPDATE coverage_state SET version_id = -1")  # as if the counts were of another version
    assert not coverage_counts.is_valid(ws.db)
    rows = {c.id: c for c in coverage.compute(ws.db).clauses}
    assert rows["honesty"].total["story"]["draft"] == 1  # counted fresh, not read from the table
    with ws.db.atomic():
        coverage_counts.rebuild(ws.db)
    assert coverage_counts.is_valid(ws.db)
    assert reports_differ(ws.db) == []


def test_cli_recount_rebuilds_the_kept_counts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    assert run(capsys, "init", "--db", db)[0] == 0
    code, before, _ = run(capsys, "coverage", "--format", "json", "--db", db)
    assert code == 0
    with open_workspace(Path(db)) as ws:
        ws.db.execute("UPDATE coverage_counts SET total = total + 5")  # damaged by hand
        ws.db.conn.commit()
    code, damaged, _ = run(capsys, "coverage", "--format", "json", "--db", db)
    assert json.loads(damaged) != json.loads(before)
    code, repaired, _ = run(capsys, "coverage", "--recount", "--format", "json", "--db", db)
    assert code == 0 and json.loads(repaired) == json.loads(before)
    assert json.loads(run(capsys, "coverage", "--format", "json", "--db", db)[1]) == json.loads(before)


def test_a_workspace_from_before_the_kept_counts_is_counted_when_opened(demo_db: Path) -> None:
    with open_workspace(demo_db) as ws:
        db = ws.db
        records.submit(db, examples.query(db, status="draft")[0].id, expected_version=None, actor="ana")
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'coverage_%'"):
            db.execute(f"DROP TRIGGER {name}")
        for table in ("coverage_counts", "coverage_closure", "coverage_state"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm013_coverage_counts'")
        db.conn.commit()
    with open_workspace(demo_db) as ws:
        assert coverage_counts.is_valid(ws.db)
        assert sum(c.approved_total for c in coverage.compute(ws.db).clauses) > 0
        assert reports_differ(ws.db) == []


def link_trigger(db: Database) -> str | None:
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'coverage_link_ai'").fetchone()
    return None if row is None else str(row[0])


def test_a_bulk_insert_puts_the_link_trigger_back_as_it_was(ws: Workspace, tmp_path: Path) -> None:
    # bulk writers take the link-insert trigger out of their transaction (it costs most of a link
    # insert even paused): afterwards it is there, the same text, and counts follow single writes
    before = link_trigger(ws.db)
    assert before is not None
    rng = random.Random(7)
    clause_ids = current_ids(ws.db)
    path = write_jsonl(tmp_path / "bulk.jsonl", [new_record(rng, i, clause_ids) for i in range(40)])
    import_file(ws.db, path, actor="ana")
    examples.insert_many(ws.db, [parse_example(new_record(rng, 100 + i, clause_ids)) for i in range(5)], actor="ana")
    assert link_trigger(ws.db) == before and coverage_counts.is_valid(ws.db)
    assert reports_differ(ws.db) == []
    examples.create(ws.db, parse_example(story(id="ex_single", clauses=["privacy.1"])), actor="ana")
    assert reports_differ(ws.db) == []


def test_a_failed_bulk_insert_rolls_the_trigger_back_with_it(ws: Workspace, tmp_path: Path) -> None:
    rng = random.Random(8)
    clause_ids = current_ids(ws.db)
    lines = [new_record(rng, i, clause_ids) for i in range(30)] + [{"id": "ex_bad", "kind": "story"}]
    with pytest.raises(CuratorError):
        import_file(ws.db, write_jsonl(tmp_path / "bad.jsonl", lines), actor="ana")
    assert link_trigger(ws.db) is not None and coverage_counts.is_valid(ws.db)
    assert examples.query(ws.db) == []


def test_a_workspace_missing_a_coverage_trigger_is_counted_from_scratch_until_recounted(ws: Workspace) -> None:
    examples.create(ws.db, parse_example(story(id="ex_a", clauses=["privacy.1"])), actor="ana")
    with ws.db.conn:
        ws.db.execute("DROP TRIGGER coverage_link_ai")  # as a writer that committed without putting it back
    assert coverage_counts.triggers_missing(ws.db) == ["coverage_link_ai"]
    assert not coverage_counts.is_valid(ws.db)  # so reports count from scratch, never from wrong counts
    with ws.db.conn:
        coverage_counts.rebuild(ws.db)
    assert coverage_counts.triggers_missing(ws.db) == [] and coverage_counts.is_valid(ws.db)
    edited = examples.get(ws.db, "ex_a").model_copy(update={"clauses": ["privacy.1", "honesty.1"]})
    examples.update(ws.db, edited, expected_version=1, actor="ana")  # a link inserted through the trigger
    assert reports_differ(ws.db) == []


def test_outside_a_transaction_no_trigger_is_set_aside(ws: Workspace) -> None:
    db = ws.db
    assert not db.conn.in_transaction
    level = db.conn.isolation_level
    db.conn.isolation_level = None  # every statement commits alone: a dropped trigger would stay dropped
    try:
        pause = coverage_counts.pause_for_new_rows(db)
        assert pause is not None and pause.triggers == ()
        assert link_trigger(db) is not None
        coverage_counts.add_new_rows(db, pause, [], [])
    finally:
        db.conn.isolation_level = level
    assert not coverage_counts.paused(db) and coverage_counts.is_valid(db)
