"""The review rules no write path can skip: only review approves, content edits reopen review.

Each path that writes records is tried: the importer (default, submit, keep_status), the store's
create/insert_many/update (what the editor and scripts call), assist's explain-why apply,
constitution renames, review.decide itself, and load (a restore).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curator.assist import actions
from curator.assist.results import ProposedTurn, RewriteProposal
from curator.constitution.versions import import_constitution
from curator.dumpload import dump, load
from curator.errors import CuratorError, ReviewGuardError, UsageError
from curator.importer import import_file
from curator.models import Example, parse_example
from curator.review import ReviewRuleError, decide, submit
from curator.store import examples
from curator.store.audit import events_for
from curator.store.db import Workspace, open_workspace
from curator.store.examples import Approval, content_changes, reviewed_content
from curator.store.links import confirm_links
from tests.conftest import REPO, SMALL_CONSTITUTION, advice, agentic, story, write_jsonl


def approved(ws: Workspace, data: dict[str, object], *, author: str = "ana", reviewer: str = "ben") -> Example:
    """A record taken through the real workflow: created by its author, submitted, approved by another."""
    ex = examples.create(ws.db, parse_example({**data, "author": author}), actor=author)
    ex = submit(ws.db, ex.id, expected_version=ex.version, actor=author)
    return decide(ws.db, ex.id, "approve", expected_version=ex.version, actor=reviewer)


# ---------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------


def test_import_lands_drafts_whatever_the_file_says(ws: Workspace, tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "in.jsonl",
        [story(id="ex_a", status="approved", clauses=[]), advice(id="ex_b", status="review"), agentic(id="ex_c")],
    )
    report = import_file(ws.db, data, actor="ana")
    assert report.statuses == "draft"
    assert {e.id: e.status for e in examples.query(ws.db)} == {"ex_a": "draft", "ex_b": "draft", "ex_c": "draft"}
    assert events_for(ws.db, "example", "ex_a")[0].note is None


def test_import_submit_lands_records_in_review(ws: Workspace, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", [story(id="ex_a", status="approved"), advice(id="ex_b")])
    report = import_file(ws.db, data, actor="ana", submit=True)
    assert report.statuses == "review"
    assert {e.status for e in examples.query(ws.db)} == {"review"}


def test_import_keep_status_keeps_approved_and_the_event_says_who_asked(ws: Workspace, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", [story(id="ex_a", status="approved"), advice(id="ex_b")])
    report = import_file(ws.db, data, actor="lead", keep_status=True)
    assert report.statuses == "kept"
    assert examples.get(ws.db, "ex_a").status == "approved"
    assert examples.get(ws.db, "ex_b").status == "draft"
    event = events_for(ws.db, "example", "ex_a")[0]
    assert event.action == "import" and event.actor == "lead"
    assert event.note == "status approved kept as given (keep_status, asked by lead)"


def test_import_submit_and_keep_status_exclude_each_other(ws: Workspace, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", [story()])
    with pytest.raises(UsageError, match="exclude each other"):
        import_file(ws.db, data, actor="ana", submit=True, keep_status=True)
    assert examples.count(ws.db) == 0


def test_parallel_import_applies_the_status_in_the_workers(ws: Workspace, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", [story(id=f"ex_{i}", text=f"t {i}", status="approved") for i in range(3)])
    import_file(ws.db, data, actor="ana", parallel=True)
    assert {e.status for e in examples.query(ws.db)} == {"draft"}


def test_demo_workspace_keeps_its_reviewed_statuses(tmp_path: Path) -> None:
    from curator.bootstrap import init_workspace

    with init_workspace(tmp_path / "demo.db", demo=True, actor="tester") as ws:
        statuses = {e.status for e in examples.query(ws.db)}
        first = events_for(ws.db, "example", "ex_demo_001")[0]
    assert {"approved", "review", "draft", "rejected"} <= statuses
    assert first.note is not None and "keep_status" in first.note


# ---------------------------------------------------------------------------
# The store: create, insert, update
# ---------------------------------------------------------------------------


def test_create_refuses_an_approved_record_naming_it(ws: Workspace) -> None:
    with pytest.raises(ReviewGuardError, match="example ex_new: cannot be stored as approved") as info:
        examples.create(ws.db, parse_example(story(id="ex_new", status="approved")), actor="ana")
    assert info.value.exit_code == 1 and isinstance(info.value, CuratorError)
    assert examples.count(ws.db) == 0


def test_insert_many_refuses_approved_unless_keep_status(ws: Workspace) -> None:
    records = [parse_example(story(id="ex_1")), parse_example(advice(id="ex_2", status="approved"))]
    with pytest.raises(ReviewGuardError, match="ex_2"):
        examples.insert_many(ws.db, records, actor="ana")
    assert examples.count(ws.db) == 0  # all or nothing
    examples.insert_many(ws.db, records, actor="ana", keep_status=True)
    assert examples.get(ws.db, "ex_2").status == "approved"


def test_direct_update_to_approved_is_refused(ws: Workspace) -> None:
    ex = examples.create(ws.db, parse_example(story(author="ana")), actor="ana")
    ex = submit(ws.db, ex.id, expected_version=1, actor="ana")
    with pytest.raises(ReviewGuardError, match=f"example {ex.id}: only review can approve"):
        examples.update(ws.db, ex.model_copy(update={"status": "approved"}), expected_version=ex.version, actor="ben")
    stored = examples.get(ws.db, ex.id)
    assert (stored.status, stored.version) == ("review", ex.version)
    assert [e.action for e in events_for(ws.db, "example", ex.id)] == ["create", "update"]


def test_an_approval_for_another_version_reviewer_or_record_is_refused(ws: Workspace) -> None:
    ex = submit(ws.db, examples.create(ws.db, parse_example(story()), actor="ana").id, expected_version=1, actor="ana")
    wanted = ex.model_copy(update={"status": "approved"})
    for approval in (
        Approval(ex.id, ex.version - 1, "ben"),
        Approval(ex.id, ex.version, "chen"),
        Approval("ex_other", ex.version, "ben"),
    ):
        with pytest.raises(ReviewGuardError, match="the approval is for"):
            examples.update(ws.db, wanted, expected_version=ex.version, actor="ben", approval=approval)
    assert examples.get(ws.db, ex.id).status == "review"


def test_an_approval_cannot_change_content(ws: Workspace) -> None:
    ex = submit(ws.db, examples.create(ws.db, parse_example(story()), actor="ana").id, expected_version=1, actor="ana")
    sneaky = ex.model_copy(update={"status": "approved", "text": "Something nobody reviewed."})
    with pytest.raises(ReviewGuardError, match=r"cannot change content at the same time \(text\)"):
        examples.update(
            ws.db, sneaky, expected_version=ex.version, actor="ben", approval=Approval(ex.id, ex.version, "ben")
        )


def test_review_decide_approves_and_refuses_self_approval(ws: Workspace, tmp_path: Path) -> None:
    ex = approved(ws, story())
    assert ex.status == "approved"
    mine = examples.create(ws.db, parse_example(story(id="ex_mine", text="Another text.", author="ana")), actor="ana")
    with pytest.raises(ReviewRuleError, match="your own"):
        decide(ws.db, mine.id, "approve", expected_version=None, actor="ana")
    record = story(id="ex_anon", text="An imported text.")
    import_file(ws.db, write_jsonl(tmp_path / "anon.jsonl", [record]), actor="chen")
    with pytest.raises(ReviewRuleError, match="brought this example in"):
        decide(ws.db, "ex_anon", "approve", expected_version=None, actor="chen")
    assert decide(ws.db, "ex_anon", "approve", expected_version=None, actor="ben").status == "approved"


def test_editor_style_update_of_approved_content_goes_back_to_review(ws: Workspace) -> None:
    ex = approved(ws, advice())
    messages = [m.model_copy() for m in ex.messages or []]
    messages[1] = messages[1].model_copy(update={"content": "Take the job; I changed my mind."})
    edited = ex.model_copy(update={"title": "A new title", "messages": messages})  # the form keeps `approved`
    saved = examples.update(ws.db, edited, expected_version=ex.version, actor="chen")
    assert saved.status == "review" and saved.version == ex.version + 1
    stored = examples.get(ws.db, ex.id)
    assert (stored.status, stored.title) == ("review", "A new title")
    event = events_for(ws.db, "example", ex.id)[-1]
    assert event.action == "update"
    assert (event.before["status"], event.after["status"]) == ("approved", "review")
    assert event.note == "approved content changed (messages): status approved -> review"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": "A different story."}, "text"),
        ({"rationale": "Another reason."}, "rationale"),
        ({"title": "Retitled"}, "title"),  # a story's title is its training prompt
        ({"clauses": ["privacy.1", "honesty"]}, "clauses"),
    ],
)
def test_story_content_changes_reopen_review(ws: Workspace, change: dict[str, object], field: str) -> None:
    ex = approved(ws, story())
    saved = examples.update(ws.db, ex.model_copy(update=change), expected_version=ex.version, actor="chen")
    assert saved.status == "review"
    assert content_changes(ex, saved) == [field]


def test_metadata_only_edits_keep_approved(ws: Workspace) -> None:
    ex = approved(ws, advice())
    changed = ex.model_copy(update={"tags": ["family"], "group": "g1", "title": "Relabelled advice"})
    saved = examples.update(ws.db, changed, expected_version=ex.version, actor="chen")
    assert saved.status == "approved" and saved.version == ex.version + 1
    assert events_for(ws.db, "example", ex.id)[-1].note is None
    reordered = approved(ws, story(clauses=["privacy.1", "honesty"]))  # the links are a set
    swapped = reordered.model_copy(update={"clauses": ["honesty", "privacy.1"]})
    assert examples.update(ws.db, swapped, expected_version=reordered.version, actor="chen").status == "approved"


def test_agentic_tools_and_system_are_content(ws: Workspace) -> None:
    data = agentic()
    data["messages"][1]["rationale"] = "Search first."
    ex = approved(ws, data)
    assert set(reviewed_content(ex)) == {"kind", "text", "rationale", "system", "tools", "messages", "clauses"}
    saved = examples.update(
        ws.db, ex.model_copy(update={"system": "Be brief."}), expected_version=ex.version, actor="x"
    )
    assert saved.status == "review"


def test_rejecting_an_approved_record_and_reapproving_through_review_work(ws: Workspace) -> None:
    ex = approved(ws, story())
    again = decide(ws.db, ex.id, "approve", expected_version=ex.version, actor="chen")
    assert again.status == "approved"
    rejected = decide(ws.db, ex.id, "reject", comment="on reflection, no", expected_version=None, actor="chen")
    assert rejected.status == "rejected"


def test_confirming_stale_links_keeps_approved(ws: Workspace, tmp_path: Path) -> None:
    ex = approved(ws, story())
    edited = SMALL_CONSTITUTION.replace("Never use private information", "Never use personal information")
    import_constitution(ws.db, write(tmp_path, "v2.md", edited), actor="lead")
    assert confirm_links(ws.db, ex.id, actor="lead") == ["privacy.1"]
    assert examples.get(ws.db, ex.id).status == "approved"


# ---------------------------------------------------------------------------
# Assist and constitution renames
# ---------------------------------------------------------------------------


def test_assist_apply_explain_why_sends_approved_back_to_review(ws: Workspace) -> None:
    ex = approved(ws, advice())
    proposal = RewriteProposal(
        ex.id, ex.version, ex.status, "msg_1", (ProposedTurn(1, "Weigh it this way.", "Care, said."),), ()
    )
    updated = actions.apply_explain_why(ws.db, ex.id, proposal, ex.version, actor="chen")
    assert updated.status == "review"
    assert events_for(ws.db, "example", ex.id)[-1].note == (
        "approved content changed (messages): status approved -> review"
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_links_following_a_renamed_clause_keep_the_approval(ws: Workspace, tmp_path: Path) -> None:
    ex = approved(ws, story(id="ex_ok"))
    draft = examples.create(ws.db, parse_example(story(id="ex_draft", text="Another story.")), actor="ana")
    renamed = SMALL_CONSTITUTION.replace("## Privacy {#privacy}", "## Privacy {#confidentiality}")
    result = import_constitution(ws.db, write(tmp_path, "v2.md", renamed), actor="lead")
    assert set(result.moved) == {ex.id, draft.id}
    moved = examples.get(ws.db, ex.id)
    # the same clause under a new id: the example's content is unchanged, so is its approval
    assert moved.clauses == ["confidentiality.1"] and moved.status == "approved"
    row = ws.db.execute("SELECT status FROM examples WHERE id = ?", [ex.id]).fetchone()
    assert row[0] == "approved"
    event = events_for(ws.db, "example", ex.id)[-1]
    assert event.action == "follow-rename" and event.note == "clause renamed: privacy.1 -> confidentiality.1"
    assert examples.get(ws.db, draft.id).status == "draft"


# ---------------------------------------------------------------------------
# load is a restore
# ---------------------------------------------------------------------------


def test_load_restores_approved_records_exactly(tmp_path: Path, constitution_file: Path) -> None:
    with open_workspace(tmp_path / "a.db") as ws:
        import_constitution(ws.db, constitution_file, actor="ana")
        import_file(
            ws.db,
            write_jsonl(tmp_path / "in.jsonl", [story(id="ex_kept", status="approved")]),
            actor="lead",
            keep_status=True,
        )
        approved(ws, advice(id="ex_reviewed"))
        dump(ws, tmp_path / "d")
    load(tmp_path / "d", tmp_path / "b.db")
    with open_workspace(tmp_path / "b.db") as ws:
        assert {e.id: e.status for e in examples.query(ws.db)} == {"ex_kept": "approved", "ex_reviewed": "approved"}
        assert events_for(ws.db, "example", "ex_kept")[0].note is not None


# ---------------------------------------------------------------------------
# Only review makes approvals
# ---------------------------------------------------------------------------


def test_only_the_review_service_makes_an_approval() -> None:
    """The store's guard trusts `Approval`; a test keeps every other module from making one."""
    makers = []
    for path in sorted((REPO / "curator").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"\bApproval\(", line) and not line.lstrip().startswith(("class ", "#", '"', "`")):
                makers.append(f"{path.relative_to(REPO)}:{number}")
    assert [m.split(":")[0] for m in makers] == ["curator/review.py"], makers


def test_the_import_note_is_plain_json_in_a_dump(tmp_path: Path, constitution_file: Path) -> None:
    with open_workspace(tmp_path / "a.db") as ws:
        import_constitution(ws.db, constitution_file, actor="ana")
        import_file(ws.db, write_jsonl(tmp_path / "in.jsonl", [story(status="approved")]), actor="x", keep_status=True)
        dump(ws, tmp_path / "d")
    lines = [json.loads(x) for x in (tmp_path / "d" / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["note"] for row in lines if row["entity"] == "example"] == [
        "status approved kept as given (keep_status, asked by x)"
    ]
