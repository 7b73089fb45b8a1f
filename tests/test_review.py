"""Review rules, history diffs, list paging and clause search: the cores behind the TUI screens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator.constitution.search import search_clauses
from curator.errors import NotFoundError
from curator.history import example_history, history
from curator.importer import import_file
from curator.models import parse_example
from curator.review import ReviewRuleError, approval_problems, decide, queue, reviews_of, submit
from curator.store import examples
from curator.store.clauses import current_clauses
from curator.store.db import Workspace
from curator.store.links import link_states
from tests.conftest import advice, agentic, story


def test_nobody_approves_their_own_example(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ana")), actor="ana")
    with pytest.raises(ReviewRuleError, match="your own"):
        decide(ws.db, ex.id, "approve", expected_version=1, actor="ana")
    approved = decide(ws.db, ex.id, "approve", comment="clear", expected_version=1, actor="ben")
    assert approved.status == "approved"
    assert [(r.reviewer, r.verdict, r.comment) for r in reviews_of(ws.db, ex.id)] == [("ben", "approve", "clear")]


def test_whoever_imported_an_authorless_record_cannot_approve_it(ws: Workspace, tmp_path: Path) -> None:
    record = story(id="ex_imported")
    record.pop("author", None)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    import_file(ws.db, source, actor="ana")
    assert examples.get(ws.db, "ex_imported").author in (None, "")
    with pytest.raises(ReviewRuleError, match="brought this example in"):
        decide(ws.db, "ex_imported", "approve", expected_version=1, actor="ana")
    assert decide(ws.db, "ex_imported", "approve", expected_version=1, actor="ben").status == "approved"


def test_naming_someone_else_as_author_does_not_let_the_importer_approve(ws: Workspace, tmp_path: Path) -> None:
    record = story(id="ex_renamed_author")
    record.pop("author", None)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    import_file(ws.db, source, actor="ana")
    ex = examples.get(ws.db, "ex_renamed_author")
    ex = examples.update(ws.db, ex.model_copy(update={"author": "carl"}), expected_version=ex.version, actor="ana")
    with pytest.raises(ReviewRuleError, match="brought this example in"):
        decide(ws.db, ex.id, "approve", expected_version=ex.version, actor="ana")
    assert decide(ws.db, ex.id, "approve", expected_version=ex.version, actor="ben").status == "approved"


def test_approval_needs_a_clause_and_every_rationale(ws: Workspace) -> None:
    no_links = parse_example(story(clauses=[], author="ana"))
    assert approval_problems(no_links, "ben") == ["link at least one clause first"]
    dialogue = advice(author="ana")
    dialogue["messages"] += [{"role": "user", "content": "And then?"}, {"role": "assistant", "content": "Then."}]
    assert approval_problems(parse_example(dialogue), "ben") == [
        "every assistant turn needs a rationale (missing on turn 4)"
    ]
    tool = agentic(author="ana")
    tool["messages"][1]["rationale"] = "search first"
    assert approval_problems(parse_example(tool), "ben") == []


def test_rejection_needs_a_comment_and_submit_moves_to_review(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ana")), actor="ana")
    ex = submit(ws.db, ex.id, expected_version=1, actor="ana")
    assert ex.status == "review"
    assert [q["id"] for q in queue(ws.db)] == [ex.id]
    assert queue(ws.db, exclude_author="ana") == []
    with pytest.raises(ReviewRuleError, match="comment"):
        decide(ws.db, ex.id, "reject", expected_version=2, actor="ben")
    assert decide(ws.db, ex.id, "reject", comment="too vague", expected_version=2, actor="ben").status == "rejected"


def test_approval_confirms_stale_links(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ana")), actor="ana")
    ws.db.execute("UPDATE example_clauses SET clause_hash = 'old', state = 'stale'")
    decide(ws.db, ex.id, "approve", expected_version=1, actor="ben")
    assert link_states(ws.db, ex.id) == {"privacy.1": "ok"}


def test_history_shows_readable_diffs(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ana")), actor="ana")
    examples.update(ws.db, ex.model_copy(update={"title": "Sealed letters"}), expected_version=1, actor="ben")
    entries = history(ws.db, ex.id)
    assert [e.event.action for e in entries] == ["create", "update"]
    assert entries[1].diff == ["title: [-The archive-]{+Sealed letters+}"]


def test_example_history_for_commands(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ana")), actor="ana")
    examples.update(ws.db, ex.model_copy(update={"title": "Sealed letters"}), expected_version=1, actor="ben")
    found = example_history(ws.db, ex.id)
    data = found.to_json()
    assert data["id"] == ex.id and [e["action"] for e in data["events"]] == ["create", "update"]
    assert set(data["events"][1]) >= {"event", "at", "actor", "action", "version", "note", "review", "diff"}
    assert data["events"][1]["version"] == 2 and data["events"][1]["actor"] == "ben"
    text = found.to_text()
    assert text.startswith(f"{ex.id}: 2 events, oldest first\n")
    assert "  ben  edited title  version 2" in text and "    title: [-The archive-]{+Sealed letters+}" in text
    with pytest.raises(NotFoundError, match="no example with id 'ex_nope'"):
        example_history(ws.db, "ex_nope")


def test_keyset_pages_of_summaries(ws: Workspace) -> None:
    for i in range(25):
        examples.create(
            ws.db,
            parse_example(
                story(
                    id=f"ex_{i:02d}",
                    text=f"t {i}",
                    tags=["a"] if i % 2 else [],
                    updated_at=f"2026-01-01T00:00:{i:02d}.000Z",
                )
            ),
            actor="a",
        )
    seen, after = [], None
    while page := examples.page(ws.db, after=after, limit=10, tag="a"):
        seen += [s.id for s in page]
        after = (page[-1].updated_at, page[-1].id)
    assert seen == [f"ex_{i:02d}" for i in reversed(range(25)) if i % 2]
    assert examples.all_tags(ws.db) == ["a"]


def test_clause_search_by_id_title_and_text(ws: Workspace) -> None:
    clauses = current_clauses(ws.db)
    assert search_clauses(clauses, "privacy.1")[0].clause.id == "privacy.1"
    hit = search_clauses(clauses, "leverage")[0]
    assert hit.clause.id == "privacy.1" and hit.path.endswith("Never use private information as leverage.")
    assert [h.clause.id for h in search_clauses(clauses, "")][:2] == [clauses[0].id, clauses[1].id]
