"""History: word-level differences per field and the names people give audit events."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from curator import records
from curator.constitution.versions import import_constitution
from curator.dedup.engine import DedupEngine
from curator.errors import ConflictError
from curator.history import History, HistoryEntry, example_history, history
from curator.importer import import_file
from curator.models import parse_example
from curator.review import decide, submit
from curator.store import examples
from curator.store.audit import record_event
from curator.store.db import Workspace
from curator.store.links import confirm_links
from curator.worddiff import word_diff
from tests.conftest import SMALL_CONSTITUTION, advice, agentic, story, write_jsonl

WORDS = ["archive", "letter", "sealed", "assistant", "privacy", "trust", "drawer", "quiet", "shelf", "answer"]


def long_text(n: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(i) for i in range(n))


def last(ws: Workspace, example_id: str) -> HistoryEntry:
    return history(ws.db, example_id)[-1]


def names(ws: Workspace, example_id: str) -> list[str]:
    return [e.name for e in history(ws.db, example_id)]


def create(ws: Workspace, data: dict[str, object], actor: str = "ana") -> str:
    return examples.create(ws.db, parse_example({"author": "ana", **data}), actor=actor).id


# -- the word diff ---------------------------------------------------------------------------------


def test_word_diff_of_one_word_in_a_long_text_is_short() -> None:
    before = long_text(2000)
    words = before.split()
    after = " ".join([*words[:1000], "CHANGED", *words[1001:]])
    diff = word_diff(before, after)
    plain = diff.plain()
    assert diff.changes == 1 and len(plain) < 160, plain
    assert f"[-{words[1000]}-]{{+CHANGED+}}" in plain
    assert plain.startswith("… ") and plain.endswith(" …")
    assert " ".join(words[996:1000]) in plain and " ".join(words[1001:1005]) in plain
    assert [s.op for s in diff.segments] == ["equal", "delete", "insert", "equal"]


def test_word_diff_cuts_long_runs_and_long_words_and_shows_control_characters() -> None:
    added = word_diff("", long_text(500)).plain()
    assert added.startswith("{+") and added.endswith("+}") and "…" in added and len(added) < 400
    huge = word_diff("a b", "a " + "x" * 5000).plain()
    assert len(huge) < 120 and "xxx…" in huge
    escaped = word_diff("plain", "bell\x07 esc\x1b[31m").plain()
    assert "\x1b" not in escaped and "\x07" not in escaped
    assert "␛[31m" in escaped and "bell␇" in escaped
    same = word_diff("same words", "same  words")
    assert same.changes == 0 and same.segments == ()
    many = word_diff(" ".join(f"a{i}" for i in range(100)), " ".join(f"b{i} a{i}" for i in range(100)), limit=5)
    assert many.truncated and many.changes == 100 and sum(s.op == "insert" for s in many.segments) == 5


# -- field changes ---------------------------------------------------------------------------------


def test_one_word_edited_in_a_2000_word_text(ws: Workspace) -> None:
    text = long_text(2000)
    ex_id = create(ws, story(text=text))
    ex = examples.get(ws.db, ex_id)
    words = text.split()
    edited = " ".join([*words[:1500], "unsealed", *words[1501:]])
    examples.update(ws.db, ex.model_copy(update={"text": edited}), expected_version=1, actor="ben")
    entry = last(ws, ex_id)
    assert entry.name == "edited text"
    assert [c.field for c in entry.changes] == ["text"]
    (line,) = entry.diff
    assert line.startswith("text: … ") and f"[-{words[1500]}-]{{+unsealed+}}" in line
    assert len(line) < 160, line
    change = entry.changes[0].to_json()
    assert change["before"] == text and change["after"] == edited  # whole values for scripts
    assert {"op": "delete", "text": words[1500]} in change["segments"]


def test_a_group_change_is_one_short_line(ws: Workspace) -> None:
    ex_id = create(ws, story(text=long_text(1000), group="g1"))
    records.set_fields(ws.db, ex_id, {"group": "g2"}, expected_version=None, actor="ben")
    entry = last(ws, ex_id)
    assert entry.diff == ["group: [-g1-]{+g2+}"]
    assert entry.name == "edited group"


def test_turn_fields_are_named_as_the_form_names_them(ws: Workspace) -> None:
    ex_id = create(ws, advice())
    records.set_fields(
        ws.db, ex_id, {"messages.1.rationale": "Care for the whole person."}, expected_version=None, actor="ben"
    )
    entry = last(ws, ex_id)
    assert entry.name == "edited turn 2"
    assert entry.diff == ["Turn 2 rationale: Care for the {+whole+} person."]
    records.set_fields(
        ws.db,
        ex_id,
        {"title": "Parent or job", "messages.0.content": "Should I take the job in Oslo?"},
        expected_version=None,
        actor="ben",
    )
    entry = last(ws, ex_id)
    assert entry.name == "edited title, turn 1"
    assert [c.field for c in entry.changes] == ["title", "Turn 1 content"]
    assert "Turn 1 content: … I take the job [-abroad?-]{+in Oslo?+}" in entry.diff


def test_rejected_answers_are_named_as_the_form_names_them(ws: Workspace) -> None:
    data = advice()
    data["messages"][1]["alternatives"] = [{"content": "Just quit the job.", "why_not": "It decides for them."}]
    ex_id = create(ws, data)
    records.set_fields(
        ws.db,
        ex_id,
        {"messages.1.alternatives.0.why_not": "It decides for them instead of helping."},
        expected_version=None,
        actor="ben",
    )
    entry = last(ws, ex_id)
    assert entry.name == "edited turn 2"
    assert entry.diff == ["Turn 2 rejected answer 1 why-not: It decides for [-them.-]{+them instead of helping.+}"]
    ex = examples.get(ws.db, ex_id)
    record = ex.canonical()
    record["messages"][1]["alternatives"].append({"content": "Stay; duty first."})
    examples.update(ws.db, parse_example(record), expected_version=ex.version, actor="ben")
    assert [c.field for c in last(ws, ex_id).changes] == ["Turn 2 rejected answer 2"]


def test_agentic_tool_calls_and_tools(ws: Workspace) -> None:
    ex_id = create(ws, agentic())
    ex = examples.get(ws.db, ex_id)
    record = ex.canonical()
    record["messages"][1]["content"][1]["input"] = {"q": "promotions"}
    record["tools"][0]["description"] = "Search the whole mailbox"
    records.replace(ws.db, ex_id, record, expected_version=None, actor="ben")
    entry = last(ws, ex_id)
    assert [c.field for c in entry.changes] == ["tools", "Turn 2 tool calls"]
    assert entry.name == "edited tools, turn 2"
    calls = entry.changes[1]
    assert calls.before == 'search_email {"q": "newsletter"}' and calls.after == 'search_email {"q": "promotions"}'
    assert '[-"newsletter"}-]{+"promotions"}+}' in calls.line()
    assert "{+whole+}" in entry.changes[0].line()


def test_list_fields_show_added_and_removed_items(ws: Workspace) -> None:
    ex_id = create(ws, story(tags=["a", "b"]))
    records.untag(ws.db, ex_id, ["a"], expected_version=None, actor="ben")
    records.tag(ws.db, ex_id, ["c", "d"], expected_version=None, actor="ben")
    records.link(ws.db, ex_id, ["honesty.1"], expected_version=None, actor="ben")
    records.unlink(ws.db, ex_id, ["privacy.1"], expected_version=None, actor="ben")
    entries = history(ws.db, ex_id)
    assert [e.name for e in entries[1:]] == ["untagged a", "tagged c, d", "linked §honesty.1", "unlinked §privacy.1"]
    tag = entries[2].changes[0]
    assert (tag.field, tag.kind, tag.added, tag.removed) == ("tags", "items", ("c", "d"), ())
    assert tag.line() == "tags: {+c+} {+d+}"
    assert entries[4].diff == ["clauses: [-privacy.1-]"]


# -- event names -----------------------------------------------------------------------------------


def test_created_imported_and_review_names(ws: Workspace, tmp_path: Path) -> None:
    ex_id = create(ws, story())
    first = history(ws.db, ex_id)[0]
    assert first.name == "created" and "title: {+The archive+}" in first.diff
    submit(ws.db, ex_id, expected_version=None, actor="ana")
    decide(ws.db, ex_id, "reject", comment="Say why it stays sealed", expected_version=None, actor="ben")
    submit(ws.db, ex_id, expected_version=None, actor="ana")
    decide(ws.db, ex_id, "approve", expected_version=None, actor="ben")
    assert names(ws, ex_id)[1:] == [
        "submitted for review",
        "rejected: Say why it stays sealed",
        "submitted for review",
        "approved",
    ]
    approved = last(ws, ex_id)
    assert approved.review == {"verdict": "approve", "reviewer": "ben", "comment": ""}
    assert approved.diff == ["status: [-review-]{+approved+}"]
    assert approved.label == approved.name  # kept for callers of the old name

    path = write_jsonl(tmp_path / "in.jsonl", [story(id="ex_imported", title="Imported one", text="Another story.")])
    import_file(ws.db, path, "curator", actor="ana")
    assert names(ws, "ex_imported") == ["imported"]


def test_content_edit_of_an_approved_record_names_the_way_back_to_review(ws: Workspace) -> None:
    ex_id = create(ws, story())
    submit(ws.db, ex_id, expected_version=None, actor="ana")
    decide(ws.db, ex_id, "approve", expected_version=None, actor="ben")
    records.set_fields(
        ws.db, ex_id, {"text": "The assistant left the letters sealed."}, expected_version=None, actor="ana"
    )
    entry = last(ws, ex_id)
    assert entry.name == "edited text; back to review"
    assert entry.event.note and entry.event.note.startswith("approved content changed (text)")


def test_delete_restore_purge_names(ws: Workspace) -> None:
    ex_id = create(ws, story())
    records.delete(ws.db, ex_id, expected_version=None, actor="ana")
    records.restore(ws.db, ex_id, expected_version=None, actor="ana")
    records.delete(ws.db, ex_id, expected_version=None, actor="ana")
    records.purge(ws.db, ex_id, expected_version=None, actor="ana")
    entries = history(ws.db, ex_id)
    assert [e.name for e in entries] == ["created", "deleted", "restored", "deleted", "purged"]
    assert all(e.changes == () for e in entries[1:])  # the record's fields did not change


def test_conflict_and_stale_link_confirmation_names(ws: Workspace) -> None:
    ex_id = create(ws, story())
    ex = examples.get(ws.db, ex_id)
    examples.update(ws.db, ex.model_copy(update={"title": "First"}), expected_version=1, actor="ben")
    with pytest.raises(ConflictError):
        examples.update(ws.db, ex.model_copy(update={"title": "Second"}), expected_version=1, actor="cy")
    conflict = last(ws, ex_id)
    assert conflict.event.action == "conflict"
    assert conflict.name == "conflict: edit of version 1 not saved (version 2 was stored)"
    assert conflict.diff == ["title: [-First-]{+Second+}"]
    ws.db.execute("UPDATE example_clauses SET clause_hash = 'old', state = 'stale'")
    confirm_links(ws.db, ex_id, actor="ben")
    assert last(ws, ex_id).name == "confirmed links §privacy.1"


def test_not_a_duplicate_names_the_other_record(ws: Workspace) -> None:
    a = create(ws, story(id="ex_a"))
    b = create(ws, story(id="ex_b", title="Other"))
    engine = DedupEngine.load(ws.db)
    engine.ignore(a, b, actor="ben")
    assert last(ws, "ex_a").name == "marked not a duplicate of ex_b"


def test_links_following_a_renamed_clause_name_the_constitution_version(ws: Workspace, tmp_path: Path) -> None:
    ex_id = create(ws, story(clauses=["privacy.1"]))
    renamed = tmp_path / "v2.md"
    renamed.write_text(SMALL_CONSTITUTION.replace("{#privacy}", "{#confidentiality}"), encoding="utf-8")
    result = import_constitution(ws.db, renamed, actor="lead")
    entry = last(ws, ex_id)
    assert entry.event.action == "follow-rename"
    assert entry.name == f"relinked by constitution version {result.version_id}"
    assert entry.diff == ["clauses: [-privacy.1-] {+confidentiality.1+}"]


# -- hostile text and the JSON form ----------------------------------------------------------------


def test_hostile_values_stay_inert_and_short(ws: Workspace) -> None:
    before = story(id="ex_h", title="[b]x[/b]", text="t " + "y" * 5000)
    after = {**before, "title": "[b]x[/b] \x1b[2J", "text": "t " + "z" * 5000}
    record_event(
        ws.db, actor="mallory", action="update", entity="example", entity_id="ex_h", before=before, after=after
    )
    entry = last(ws, "ex_h")
    assert entry.name == "edited title, text"
    text = "\n".join(entry.diff)
    assert "\x1b" not in text and "{+␛[2J+}" in text and "[b]x[/b]" in text
    assert all(len(line) < 200 for line in entry.diff), entry.diff


def test_json_keeps_every_key_and_adds_name_and_changes(ws: Workspace) -> None:
    ex_id = create(ws, story())
    records.set_fields(ws.db, ex_id, {"title": "Sealed letters"}, expected_version=None, actor="ben")
    found = example_history(ws.db, ex_id)
    assert isinstance(found, History)
    event = found.to_json()["events"][1]
    assert set(event) == {"event", "at", "actor", "action", "version", "note", "review", "diff", "name", "changes"}
    assert event["action"] == "update" and event["name"] == "edited title"
    assert event["diff"] == ["title: [-The archive-]{+Sealed letters+}"]
    assert event["changes"] == [
        {
            "field": "title",
            "kind": "text",
            "before": "The archive",
            "after": "Sealed letters",
            "added": [],
            "removed": [],
            "segments": [
                {"op": "delete", "text": "The archive"},
                {"op": "insert", "text": "Sealed letters"},
            ],
        }
    ]
