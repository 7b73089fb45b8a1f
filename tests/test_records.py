"""Record operations (curator.records): show, edits, links, tags, review verbs, soft delete, bulk plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from curator import coverage, records
from curator.dedup.decontam import add_evalset, decontaminate
from curator.dedup.engine import DedupEngine
from curator.dumpload import dump, load
from curator.errors import ConflictError, CuratorError, NotFoundError, RecordError, UsageError
from curator.mixture.plan import plan_export
from curator.mixture.spec import load_spec
from curator.models import Example, parse_example
from curator.review import ReviewRuleError, queue
from curator.store import examples
from curator.store.audit import all_events, events_for
from curator.store.db import Workspace, open_workspace
from curator.store.links import linked_examples, problem_links
from tests.conftest import advice, story, write_jsonl
from tests.helpers import write_spec


def add(ws: Workspace, data: dict[str, Any], *, actor: str = "ana") -> Example:
    return examples.create(ws.db, parse_example({"author": actor, **data}), actor=actor)


def approved(ws: Workspace, data: dict[str, Any]) -> Example:
    ex = add(ws, data)
    records.submit(ws.db, ex.id, expected_version=None, actor="ana")
    return records.approve(ws.db, ex.id, expected_version=None, actor="ben").record


def audit_count(ws: Workspace) -> int:
    return len(all_events(ws.db))


# ---------------------------------------------------------------------------
# show
# ---------------------------------------------------------------------------


def test_show_gives_version_status_link_states_reviews_and_deletion(ws: Workspace) -> None:
    ex = approved(ws, story(clauses=["privacy.1", "honesty"]))
    view = records.show(ws.db, ex.id)
    assert (view.record.version, view.record.status) == (3, "approved")
    assert [(lk.clause, lk.state) for lk in view.links] == [("honesty", "ok"), ("privacy.1", "ok")]
    assert [(r.reviewer, r.verdict, r.version) for r in view.reviews] == [("ben", "approve", 3)]
    data = view.to_json()
    assert set(data) == {"id", "version", "status", "deleted", "links", "reviews", "record"}
    assert data["deleted"] is None and data["record"]["id"] == ex.id
    assert "approved" in view.to_text() and "honesty (ok)" in view.to_text()
    records.delete(ws.db, ex.id, expected_version=None, actor="chen")
    deleted = records.show(ws.db, ex.id).to_json()["deleted"]
    assert deleted is not None and deleted["actor"] == "chen"
    with pytest.raises(NotFoundError):
        records.show(ws.db, "ex_missing")


# ---------------------------------------------------------------------------
# set_fields and assignments
# ---------------------------------------------------------------------------


def test_parse_assignment_strings_unless_json_is_asked_for() -> None:
    assert records.parse_assignment("title=42") == ("title", "42")
    assert records.parse_assignment("text=a=b") == ("text", "a=b")
    assert records.parse_assignment("title=") == ("title", "")
    assert records.parse_assignment('tags:=["a", "b"]') == ("tags", ["a", "b"])
    assert records.parse_assignment("group:=null") == ("group", None)
    assert records.parse_assignment("messages.1.rationale=Why") == ("messages.1.rationale", "Why")
    for bad in ("title", "=x", ":=1"):
        with pytest.raises(UsageError, match="expected FIELD=VALUE"):
            records.parse_assignment(bad)
    with pytest.raises(UsageError, match="not valid JSON"):
        records.parse_assignment("tags:=[oops")
    assert records.parse_assignments(["title=a", "title=b", "group=g"]) == {"title": "b", "group": "g"}


def test_assign_sets_removes_and_appends_by_dotted_path() -> None:
    data = {"messages": [{"role": "user", "content": "q"}], "group": "g"}
    assert records.assign(data, "messages.0.content", "Q")["messages"][0]["content"] == "Q"
    assert "group" not in records.assign(data, "group", None)
    appended = records.assign(data, "messages.1", {"role": "assistant", "content": "a"})
    assert len(appended["messages"]) == 2 and len(data["messages"]) == 1  # a copy
    assert records.assign(data, "messages.0", None)["messages"] == []
    with pytest.raises(RecordError, match=r"messages\.5: no item 5 \(the list has 1\)"):
        records.assign(data, "messages.5.content", "x")
    with pytest.raises(RecordError, match="named by its number"):
        records.assign(data, "messages.first", "x")
    with pytest.raises(RecordError, match="source: no such field"):
        records.assign(data, "source.origin", "x")
    with pytest.raises(RecordError, match=r"group\.x: group is a value"):
        records.assign(data, "group.x", "y")


def test_set_fields_edits_validates_and_bumps_the_version(ws: Workspace) -> None:
    ex = add(ws, advice())
    change = records.set_fields(
        ws.db,
        ex.id,
        records.parse_assignments(["title=Weighing a move", "messages.1.rationale=Care, stated.", 'tags:=["x"]']),
        expected_version=1,
        actor="ana",
    )
    assert change.changed and (change.previous_version, change.version) == (1, 2)
    stored = examples.get(ws.db, ex.id)
    assert stored.title == "Weighing a move" and stored.tags == ["x"]
    assert stored.messages is not None and stored.messages[1].rationale == "Care, stated."
    assert events_for(ws.db, "example", ex.id)[-1].action == "update"
    assert set(change.to_json()) == {
        "action",
        "id",
        "changed",
        "previous_version",
        "version",
        "previous_status",
        "status",
        "note",
        "record",
    }
    # None = the current version, read in the same transaction
    assert records.set_fields(ws.db, ex.id, {"group": "g"}, expected_version=None, actor="ana").version == 3
    same = records.set_fields(ws.db, ex.id, {"group": "g"}, expected_version=None, actor="ana")
    assert not same.changed and same.version == 3 and "nothing to do" in same.to_text()


def test_set_fields_conflict_and_refusals_write_nothing(ws: Workspace) -> None:
    ex = add(ws, story())
    before = audit_count(ws)
    with pytest.raises(ConflictError, match="now version 1, expected 7"):
        records.set_fields(ws.db, ex.id, {"title": "x"}, expected_version=7, actor="ana")
    for field in ("id", "version", "created_at", "updated_at"):
        with pytest.raises(RecordError, match=f"^{field}: cannot be changed$"):
            records.set_fields(ws.db, ex.id, {field: "x"}, expected_version=None, actor="ana")
    with pytest.raises(RecordError, match="status: changes only through submit, approve and reject"):
        records.set_fields(ws.db, ex.id, {"status": "approved"}, expected_version=None, actor="ana")
    with pytest.raises(RecordError, match=r"^text: required for a story$"):
        records.set_fields(ws.db, ex.id, {"text": "   "}, expected_version=None, actor="ana")
    with pytest.raises(RecordError, match=r"clauses\[0\]: unknown clause id 'nope'"):
        records.set_fields(ws.db, ex.id, {"clauses": ["nope"]}, expected_version=None, actor="ana")
    assert examples.get(ws.db, ex.id).version == 1
    assert audit_count(ws) == before  # a conflict of the record service itself leaves no event either


def test_set_fields_on_approved_content_goes_back_to_review_and_says_so(ws: Workspace) -> None:
    ex = approved(ws, story())
    change = records.set_fields(ws.db, ex.id, {"text": "A rewritten story."}, expected_version=None, actor="chen")
    assert (change.previous_status, change.status) == ("approved", "review")
    assert change.note == "back to review: approved content changed (text)"
    assert "status approved -> review" in change.to_text()
    ex2 = approved(ws, story(id="ex_meta", text="Other text."))
    kept = records.set_fields(ws.db, ex2.id, {"group": "g2"}, expected_version=None, actor="chen")
    assert kept.status == "approved" and kept.note == ""


# ---------------------------------------------------------------------------
# merge patches
# ---------------------------------------------------------------------------


def test_json_merge_patch_follows_rfc_7386() -> None:
    # the examples of RFC 7386, appendix A
    cases = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch, expected in cases:
        assert records.json_merge_patch(target, patch) == expected, (target, patch)


def test_merge_patch_null_deletes_objects_merge_arrays_replace(ws: Workspace) -> None:
    ex = add(ws, story(group="g", tags=["a", "b"]))
    patch = {"group": None, "source": {"origin": "notes.md"}, "tags": ["c"], "title": "Patched"}
    change = records.merge_patch(ws.db, ex.id, patch, expected_version=1, actor="ana")
    stored = examples.get(ws.db, ex.id)
    assert stored.group is None and stored.tags == ["c"] and stored.title == "Patched"
    assert stored.source.origin == "notes.md" and stored.source.type == "manual"  # nested object merged
    assert change.version == 2


def test_a_merge_patch_making_an_invalid_record_writes_nothing(ws: Workspace) -> None:
    ex = add(ws, advice())
    before = audit_count(ws)
    bad_turns = {"messages": [{"role": "assistant", "content": "hi"}]}
    with pytest.raises(RecordError) as info:
        records.merge_patch(ws.db, ex.id, bad_turns, expected_version=1, actor="ana")
    assert str(info.value) == "messages[0].role: the dialogue must start with a user turn"
    assert "\n" not in str(info.value)
    for patch, message in (
        ({"id": "ex_other"}, "id: cannot be changed"),
        ({"version": 9}, "version: cannot be changed"),
        ({"created_at": None}, "created_at: cannot be changed"),
        ({"kind": "poem"}, "kind: unknown kind 'poem'"),
        ({"status": "approved"}, "status: changes only through"),
    ):
        with pytest.raises(RecordError, match=message):
            records.merge_patch(ws.db, ex.id, patch, expected_version=None, actor="ana")
    with pytest.raises(UsageError, match="JSON object"):
        records.merge_patch(ws.db, ex.id, ["not", "an", "object"], expected_version=None, actor="ana")  # type: ignore[arg-type]
    assert examples.get(ws.db, ex.id).version == 1 and audit_count(ws) == before


def test_merge_patch_conflict(ws: Workspace) -> None:
    ex = add(ws, story())
    records.merge_patch(ws.db, ex.id, {"title": "one"}, expected_version=1, actor="ana")
    with pytest.raises(ConflictError):
        records.merge_patch(ws.db, ex.id, {"title": "two"}, expected_version=1, actor="ben")
    assert examples.get(ws.db, ex.id).title == "one"


# ---------------------------------------------------------------------------
# whole-record edits (what an editor gives back)
# ---------------------------------------------------------------------------


def test_editable_json_round_trips_through_load_json_object(ws: Workspace) -> None:
    ex = add(ws, advice())
    text = records.editable_json(ex)
    assert text.endswith("}\n") and text.startswith('{\n  "id": ')
    assert records.load_json_object(text, source="x") == ex.canonical()
    with pytest.raises(RecordError, match=r"^edited: not valid JSON: Expecting .* \(line 2, column \d+\)$"):
        records.load_json_object('{"id": "x",\n  oops}', source="edited")
    with pytest.raises(RecordError, match=r"^p\.json: expected a JSON object, got list$"):
        records.load_json_object("[1, 2]", source="p.json")


def test_replace_stores_a_whole_record_validated_like_any_edit(ws: Workspace) -> None:
    ex = add(ws, story(tags=["a"], group="g"))
    data = ex.canonical()
    data["title"] = "Rewritten"
    del data["group"]  # a whole record: what is left out is gone (unlike a merge patch)
    change = records.replace(ws.db, ex.id, data, expected_version=1, actor="ana")
    stored = examples.get(ws.db, ex.id)
    assert change.changed and change.version == 2 and stored.title == "Rewritten" and stored.group is None
    same = records.replace(ws.db, ex.id, stored.canonical(), expected_version=None, actor="ana")
    assert not same.changed and same.note == "no change"
    before = audit_count(ws)
    bad = stored.canonical() | {"status": "approved"}
    with pytest.raises(RecordError, match="status: changes only through"):
        records.replace(ws.db, ex.id, bad, expected_version=None, actor="ana")
    with pytest.raises(ConflictError):
        records.replace(ws.db, ex.id, stored.canonical(), expected_version=1, actor="ana")
    assert audit_count(ws) == before


def test_current_refuses_a_stale_version_and_a_deleted_record(ws: Workspace) -> None:
    ex = add(ws, story())
    assert records.current(ws.db, ex.id, expected_version=None).version == 1
    assert records.current(ws.db, ex.id, expected_version=1).id == ex.id
    with pytest.raises(ConflictError, match="now version 1, expected 2"):
        records.current(ws.db, ex.id, expected_version=2)
    records.delete(ws.db, ex.id, expected_version=None, actor="ana")
    with pytest.raises(NotFoundError, match="restore it first"):
        records.current(ws.db, ex.id, expected_version=None)
    with pytest.raises(NotFoundError):
        records.current(ws.db, "ex_missing", expected_version=None)


def test_summary_is_one_line_with_version_status_and_what_else_happened(ws: Workspace) -> None:
    ex = approved(ws, story())
    assert records.tag(ws.db, ex.id, ["t"], expected_version=None, actor="c").summary() == (
        f"{ex.id} version 4 (status approved)"
    )
    again = records.approve(ws.db, ex.id, expected_version=None, actor="ben")
    assert again.summary() == f"{ex.id} version 4 (status approved): nothing to do, already approved"
    edited = records.set_fields(ws.db, ex.id, {"text": "New."}, expected_version=None, actor="c")
    assert edited.summary() == f"{ex.id} version 5 (status review): back to review: approved content changed (text)"
    records.delete(ws.db, ex.id, expected_version=None, actor="c")
    gone = records.purge(ws.db, ex.id, expected_version=None, actor="c")
    assert gone.summary() == f"{ex.id} purged (was version 6, status review); its history stays in the audit log"


def test_perform_runs_every_verb_by_name(ws: Workspace) -> None:
    ex = add(ws, story())
    steps: list[tuple[records.Verb, dict[str, Any], str]] = [
        ("link", {"clauses": ["honesty"]}, "draft"),
        ("unlink", {"clauses": ["honesty"]}, "draft"),
        ("tag", {"tags": ["t"]}, "draft"),
        ("untag", {"tags": ["t"]}, "draft"),
        ("submit", {}, "review"),
        ("reject", {"comment": "why"}, "rejected"),
        ("submit", {}, "review"),
        ("approve", {"comment": "fine"}, "approved"),
        ("delete", {}, "approved"),
        ("restore", {}, "approved"),
    ]
    for verb, kw, status in steps:
        actor = "ben" if verb in ("approve", "reject") else "ana"
        change = records.perform(ws.db, verb, ex.id, expected_version=None, actor=actor, **kw)
        assert change.changed and change.action == verb and change.status == status, verb
    assert [e.action for e in events_for(ws.db, "example", ex.id)].count("update") == 8
    records.perform(ws.db, "delete", ex.id, expected_version=None, actor="ana")
    assert records.perform(ws.db, "purge", ex.id, expected_version=None, actor="ana").action == "purge"
    with pytest.raises(UsageError, match="unknown verb"):
        records.perform(ws.db, "edit", ex.id, expected_version=None, actor="ana")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# links, tags, review verbs
# ---------------------------------------------------------------------------


def test_link_and_unlink(ws: Workspace) -> None:
    ex = add(ws, story(clauses=["privacy.1"]))
    change = records.link(ws.db, ex.id, ["honesty", "privacy.1"], expected_version=1, actor="ana")
    assert change.changed and change.note == "already linked: privacy.1"
    assert examples.get(ws.db, ex.id).clauses == ["privacy.1", "honesty"]
    again = records.link(ws.db, ex.id, ["honesty"], expected_version=None, actor="ana")
    assert not again.changed and again.version == 2
    with pytest.raises(RecordError, match="unknown clause id 'nope'"):
        records.link(ws.db, ex.id, ["nope"], expected_version=None, actor="ana")
    with pytest.raises(UsageError, match="at least one clause"):
        records.link(ws.db, ex.id, [" "], expected_version=None, actor="ana")
    out = records.unlink(ws.db, ex.id, ["privacy.1", "honesty.2"], expected_version=2, actor="ana")
    assert out.changed and out.note == "not linked: honesty.2"
    assert examples.get(ws.db, ex.id).clauses == ["honesty"]
    with pytest.raises(ConflictError):
        records.unlink(ws.db, ex.id, ["honesty"], expected_version=2, actor="ana")


def test_linking_an_approved_record_reopens_review_tagging_does_not(ws: Workspace) -> None:
    ex = approved(ws, story())
    tagged = records.tag(ws.db, ex.id, ["shutdown", "email"], expected_version=None, actor="chen")
    assert tagged.status == "approved" and examples.get(ws.db, ex.id).tags == ["shutdown", "email"]
    untagged = records.untag(ws.db, ex.id, ["email", "other"], expected_version=None, actor="chen")
    assert untagged.note == "not tagged: other" and examples.get(ws.db, ex.id).tags == ["shutdown"]
    linked = records.link(ws.db, ex.id, ["honesty"], expected_version=None, actor="chen")
    assert linked.status == "review" and linked.note == "back to review: approved content changed (clauses)"


def test_submit_approve_reject(ws: Workspace) -> None:
    ex = add(ws, story())
    submitted = records.submit(ws.db, ex.id, expected_version=1, actor="ana")
    assert (submitted.previous_status, submitted.status, submitted.version) == ("draft", "review", 2)
    assert not records.submit(ws.db, ex.id, expected_version=None, actor="ana").changed
    with pytest.raises(ReviewRuleError, match="your own"):
        records.approve(ws.db, ex.id, expected_version=None, actor="ana")
    with pytest.raises(ConflictError):
        records.approve(ws.db, ex.id, expected_version=1, actor="ben")
    done = records.approve(ws.db, ex.id, comment="good", expected_version=2, actor="ben")
    assert done.status == "approved" and done.version == 3
    assert not records.approve(ws.db, ex.id, expected_version=None, actor="ben").changed
    with pytest.raises(ReviewRuleError, match="already approved"):
        records.submit(ws.db, ex.id, expected_version=None, actor="ana")
    with pytest.raises(ReviewRuleError, match="needs a comment"):
        records.reject(ws.db, ex.id, " ", expected_version=None, actor="ben")
    rejected = records.reject(ws.db, ex.id, "too thin", expected_version=3, actor="ben")
    assert rejected.status == "rejected"
    assert [r.verdict for r in records.show(ws.db, ex.id).reviews] == ["approve", "reject"]


# ---------------------------------------------------------------------------
# soft delete, restore, purge
# ---------------------------------------------------------------------------


def test_delete_restore_purge_with_versions_and_audit(ws: Workspace) -> None:
    ex = approved(ws, story())
    deleted = records.delete(ws.db, ex.id, expected_version=3, actor="chen")
    assert deleted.changed and deleted.version == 4 and deleted.status == "approved"
    assert not records.delete(ws.db, ex.id, expected_version=None, actor="chen").changed
    with pytest.raises(NotFoundError, match="deleted"):
        records.set_fields(ws.db, ex.id, {"title": "x"}, expected_version=None, actor="chen")
    with pytest.raises(NotFoundError, match="deleted"):
        examples.update(ws.db, deleted.record.model_copy(update={"title": "x"}), expected_version=4, actor="chen")
    with pytest.raises(ConflictError):
        records.restore(ws.db, ex.id, expected_version=3, actor="chen")
    restored = records.restore(ws.db, ex.id, expected_version=4, actor="chen")
    assert restored.version == 5 and restored.status == "approved"  # content unchanged: still approved
    assert [e.id for e in examples.query(ws.db)] == [ex.id]
    with pytest.raises(CuratorError, match="not deleted; delete it first"):
        records.purge(ws.db, ex.id, expected_version=None, actor="chen")
    records.delete(ws.db, ex.id, expected_version=None, actor="chen")
    purged = records.purge(ws.db, ex.id, expected_version=None, actor="chen")
    assert purged.action == "purge" and purged.record.id == ex.id
    with pytest.raises(NotFoundError):
        examples.get(ws.db, ex.id)
    actions = [e.action for e in events_for(ws.db, "example", ex.id)]
    assert actions[-4:] == ["delete", "restore", "delete", "purge"]
    assert ws.db.execute("SELECT count(*) FROM reviews WHERE example_id = ?", [ex.id]).fetchone()[0] == 0


def test_soft_deleted_records_are_hidden_from_every_consumer(ws: Workspace, tmp_path: Path) -> None:
    text = "The assistant found the private letters on the shared drive and left every one of them sealed."
    gone = approved(ws, story(id="ex_gone", text=text, clauses=["privacy.1"], tags=["t"]))
    twin = approved(ws, story(id="ex_twin", text=text + " Then it logged off.", clauses=["privacy.1"]))
    waiting = add(ws, story(id="ex_wait", text="Waiting for a reviewer to read it.", clauses=["honesty"]))
    records.submit(ws.db, waiting.id, expected_version=None, actor="ana")
    records.delete(ws.db, gone.id, expected_version=None, actor="chen")
    records.delete(ws.db, waiting.id, expected_version=None, actor="chen")

    assert [e.id for e in examples.query(ws.db)] == [twin.id]
    assert examples.count(ws.db) == 1 and examples.count(ws.db, tag="t") == 0
    assert [s.id for s in examples.page(ws.db)] == [twin.id]
    assert [e.id for e in examples.query(ws.db, deleted=True)] == [gone.id, waiting.id]
    assert queue(ws.db) == []
    assert examples.all_tags(ws.db) == [] and examples.find_by_id_or_title(ws.db, "ex_gone") == []
    assert [e.id for e in linked_examples(ws.db, "privacy")] == [twin.id]
    report = {c.id: c for c in coverage.compute(ws.db).clauses}
    assert report["privacy.1"].total["story"]["approved"] == 1
    assert coverage.examples_for(ws.db, "privacy.1") == [(twin.id, "story", "approved", twin.title)]
    engine = DedupEngine.load(ws.db)
    assert [m.id for m in engine.check(text)] == [twin.id]
    assert engine.clusters().clusters == []
    assert examples.existing_hashes(ws.db, [examples.prepare(gone).norm_hash]) == {}
    evalset = write_jsonl(tmp_path / "eval.jsonl", [{"prompt": text}, {"prompt": "An unrelated second item."}])
    add_evalset(ws.db, "held", evalset, actor="lead")
    checked, flags = decontaminate(ws.db)
    assert checked == 1 and {f.id for f in flags} == {twin.id}
    spec = load_spec(write_spec(tmp_path, statuses=["approved", "review"], token_counter="estimate", dedup="exact"))
    exported = plan_export(ws.db, spec)
    assert set(exported.records) == {twin.id}
    assert not {gone.id, waiting.id} & {e.id for e in exported.excluded}
    ws.db.execute("UPDATE example_clauses SET state = 'stale' WHERE example_id = ?", [gone.id])
    ws.db.conn.commit()
    assert problem_links(ws.db)["stale"] == []

    records.restore(ws.db, gone.id, expected_version=None, actor="chen")
    assert [e.id for e in examples.query(ws.db)] == [gone.id, twin.id]
    assert {m.id for m in DedupEngine.load(ws.db).check(text)} == {gone.id, twin.id}


def test_dump_and_load_carry_soft_deletions(tmp_path: Path, constitution_file: Path) -> None:
    from curator.constitution.versions import import_constitution

    with open_workspace(tmp_path / "a.db") as ws:
        import_constitution(ws.db, constitution_file, actor="ana")
        add(ws, story(id="ex_live"))
        add(ws, story(id="ex_gone", text="Deleted but kept."))
        records.delete(ws.db, "ex_gone", expected_version=None, actor="chen")
        dump(ws, tmp_path / "d1")
    deleted_lines = (tmp_path / "d1" / "deleted.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["example_id"] for x in deleted_lines] == ["ex_gone"]
    assert json.loads((tmp_path / "d1" / "manifest.json").read_text())["format_version"] == 4
    load(tmp_path / "d1", tmp_path / "b.db")
    with open_workspace(tmp_path / "b.db") as ws:
        assert [e.id for e in examples.query(ws.db)] == ["ex_live"]
        assert examples.is_deleted(ws.db, "ex_gone")
        dump(ws, tmp_path / "d2")
    files = sorted(p.relative_to(tmp_path / "d1") for p in (tmp_path / "d1").rglob("*") if p.is_file())
    for name in files:
        assert (tmp_path / "d1" / name).read_bytes() == (tmp_path / "d2" / name).read_bytes(), name


def test_a_version_1_dump_still_loads(tmp_path: Path, constitution_file: Path) -> None:
    from curator.constitution.versions import import_constitution

    with open_workspace(tmp_path / "a.db") as ws:
        import_constitution(ws.db, constitution_file, actor="ana")
        add(ws, story(id="ex_1"))
        dump(ws, tmp_path / "d")
    folder = tmp_path / "d"
    (folder / "deleted.jsonl").unlink()
    audit = [json.loads(x) for x in (folder / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in audit:
        del row["note"]  # version 1 had no audit notes
    (folder / "audit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in audit), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["files"]  # version 1 had no checksums
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    load(folder, tmp_path / "b.db")
    with open_workspace(tmp_path / "b.db") as ws:
        assert [e.id for e in examples.query(ws.db)] == ["ex_1"]


# ---------------------------------------------------------------------------
# bulk
# ---------------------------------------------------------------------------


def five(ws: Workspace) -> list[Example]:
    return [add(ws, story(id=f"ex_{i}", text=f"Story number {i}.", tags=["batch"])) for i in range(5)]


def test_plan_says_what_would_change_and_writes_nothing(ws: Workspace) -> None:
    made = five(ws)
    records.link(ws.db, made[1].id, ["honesty"], expected_version=None, actor="ana")
    before = audit_count(ws)
    plan = records.plan(ws.db, "link", records.Filters(tag="batch"), actor="ana", clauses=["honesty"])
    assert plan.count("change") == 4 and plan.count("unchanged") == 1
    by_id = {i.id: i for i in plan.items}
    assert by_id["ex_1"].description == "already linked: honesty" and by_id["ex_1"].version == 2
    assert by_id["ex_0"].description == "link honesty"
    data = plan.to_json()
    assert set(data) == {
        "verb",
        "filters",
        "actor",
        "clauses",
        "tags",
        "comment",
        "matched",
        "changes",
        "unchanged",
        "refused",
        "items",
    }
    assert data["matched"] == 5 and set(data["items"][0]) == {"id", "version", "outcome", "description"}
    assert "5 matched, 4 would change" in plan.to_text()
    assert audit_count(ws) == before


def test_apply_plan_writes_one_event_per_record_in_one_go(ws: Workspace) -> None:
    five(ws)
    plan = records.plan(ws.db, "submit", records.Filters(tag="batch", status="draft"), actor="ana")
    assert [i.description for i in plan.items] == ["status draft -> review"] * 5
    before = audit_count(ws)
    result = records.apply_plan(ws.db, plan)
    assert len(result.changes) == 5 and audit_count(ws) == before + 5
    assert {e.status for e in examples.query(ws.db, tag="batch")} == {"review"}
    assert result.to_json()["applied"] == 5 and "5 applied" in result.to_text()


def test_apply_plan_is_all_or_nothing_on_a_conflict(ws: Workspace) -> None:
    made = five(ws)
    plan = records.plan(ws.db, "tag", records.Filters(tag="batch"), actor="ana", tags=["reviewed"])
    third = sorted(e.id for e in made)[2]
    records.set_fields(ws.db, third, {"title": "Changed meanwhile"}, expected_version=None, actor="ben")
    before = audit_count(ws)
    with pytest.raises(ConflictError, match=f"example {third} changed since the plan"):
        records.apply_plan(ws.db, plan)
    assert examples.query(ws.db, tag="reviewed") == []
    assert audit_count(ws) == before


def test_an_error_on_one_record_rolls_the_whole_plan_back(ws: Workspace) -> None:
    five(ws)
    plan = records.plan(ws.db, "link", records.Filters(tag="batch"), actor="ana", clauses=["honesty.2"])
    ws.db.execute("DELETE FROM clauses WHERE id = 'honesty.2'")  # the clause is gone by the time we apply
    ws.db.conn.commit()
    with pytest.raises(RecordError, match="nothing was applied"):
        records.apply_plan(ws.db, plan)
    assert examples.query(ws.db, clause="honesty.2") == []


def test_bulk_approve_leaves_refused_records_and_reopens_nothing_else(ws: Workspace) -> None:
    made = five(ws)
    records.apply_plan(ws.db, records.plan(ws.db, "submit", records.Filters(tag="batch"), actor="ana"))
    mine = add(ws, story(id="ex_ben", text="Ben wrote this one.", tags=["batch"]), actor="ben")
    records.submit(ws.db, mine.id, expected_version=None, actor="ben")
    plan = records.plan(ws.db, "approve", records.Filters(tag="batch", status="review"), actor="ben", comment="ok")
    assert plan.count("change") == 5 and plan.count("refused") == 1
    refused = next(i for i in plan.items if i.outcome == "refused")
    assert refused.id == mine.id and "your own" in refused.description
    result = records.apply_plan(ws.db, plan)
    assert {c.id for c in result.changes} == {e.id for e in made}
    assert [r.id for r in result.refused] == [mine.id]
    assert examples.get(ws.db, mine.id).status == "review"
    assert {e.status for e in examples.get_many(ws.db, [e.id for e in made])} == {"approved"}


def test_bulk_delete_restore_and_purge(ws: Workspace) -> None:
    five(ws)
    add(ws, story(id="ex_other", text="Not in the batch."))
    records.apply_plan(ws.db, records.plan(ws.db, "delete", records.Filters(tag="batch"), actor="lead"))
    assert [e.id for e in examples.query(ws.db)] == ["ex_other"]
    restore = records.plan(ws.db, "restore", records.Filters(text="number"), actor="lead")
    assert len(restore.items) == 5
    records.apply_plan(ws.db, records.plan(ws.db, "restore", records.Filters(text="number 3"), actor="lead"))
    assert [e.id for e in examples.query(ws.db)] == ["ex_3", "ex_other"]
    purge = records.plan(ws.db, "purge", records.Filters(tag="batch"), actor="lead")
    assert [i.description for i in purge.items] == ["purge (permanent)"] * 4
    records.apply_plan(ws.db, purge)
    assert examples.query(ws.db, deleted=True) == []
    assert ws.db.execute("SELECT count(*) FROM examples").fetchone()[0] == 2


def test_bulk_by_since_and_reject_needs_a_comment(ws: Workspace) -> None:
    five(ws)
    ws.db.execute("UPDATE examples SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id IN ('ex_0', 'ex_1')")
    ws.db.conn.commit()
    recent = records.plan(ws.db, "tag", records.Filters(since="2021-06-01"), actor="ana", tags=["new"])
    assert [i.id for i in recent.items] == ["ex_2", "ex_3", "ex_4"]
    with_offset = records.plan(ws.db, "tag", records.Filters(since="2020-01-01T01:00:00+02:00"), actor="a", tags=["n"])
    assert len(with_offset.items) == 5  # 2019-12-31T23:00Z: the two old records are after it
    with pytest.raises(UsageError, match="not an ISO date"):
        records.plan(ws.db, "tag", records.Filters(since="yesterday"), actor="ana", tags=["x"])
    with pytest.raises(ReviewRuleError, match="needs a comment"):
        records.plan(ws.db, "reject", records.Filters(), actor="ben")
    with pytest.raises(UsageError, match="unknown verb"):
        records.plan(ws.db, "edit", records.Filters(), actor="ben")  # type: ignore[arg-type]


def test_bulk_link_of_approved_records_says_they_go_back_to_review(ws: Workspace) -> None:
    ex = approved(ws, story(tags=["batch"]))
    plan = records.plan(ws.db, "link", records.Filters(tag="batch"), actor="chen", clauses=["honesty"])
    assert plan.items[0].description == "link honesty; status approved -> review (approved content changed)"
    result = records.apply_plan(ws.db, plan)
    assert result.changes[0].status == "review" and examples.get(ws.db, ex.id).status == "review"
