"""The store's read queries behind the TUI: palette search, titles, change token, clause links."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.constitution.versions import import_constitution
from curator.errors import RecordError
from curator.models import parse_example
from curator.store import examples, links
from curator.store.audit import latest_event_id
from curator.store.db import Workspace, open_workspace
from curator.store.links import LinkedExample, linked_examples, orphaned_link_count
from tests.conftest import SMALL_CONSTITUTION, advice, agentic, story
from tests.helpers import CLAUSES, fill_ws, gen_records


def add(ws: Workspace, record: dict[str, object]) -> str:
    return examples.create(ws.db, parse_example(record), actor="ana").id


def new_version(ws: Workspace, tmp_path: Path, text: str) -> None:
    path = tmp_path / "next.md"
    path.write_text(text, encoding="utf-8")
    import_constitution(ws.db, path, actor="lead")


# -- latest_event_id --------------------------------------------------------------------------------


def test_latest_event_id_is_zero_for_a_new_workspace() -> None:
    with open_workspace(":memory:") as bare:
        assert latest_event_id(bare.db) == 0


def test_latest_event_id_moves_on_every_write_and_not_on_a_refused_one(ws: Workspace) -> None:
    start = latest_event_id(ws.db)
    assert start > 0  # the constitution import is audited
    ex = examples.create(ws.db, parse_example(story()), actor="ana")
    created = latest_event_id(ws.db)
    assert created > start
    examples.update(ws.db, ex.model_copy(update={"title": "Retitled"}), expected_version=1, actor="ben")
    assert latest_event_id(ws.db) > created
    before = latest_event_id(ws.db)
    with pytest.raises(RecordError):
        examples.create(ws.db, parse_example(story(text="other", clauses=["nope"])), actor="ana")
    assert latest_event_id(ws.db) == before


# -- titles -----------------------------------------------------------------------------------------


def test_titles_of_existing_ids_follow_edits_and_skip_missing_ones(ws: Workspace) -> None:
    a = add(ws, story(id="ex_a"))
    b = add(ws, advice(id="ex_b"))
    assert examples.titles(ws.db, [b, "gone", a]) == {"ex_a": "The archive", "ex_b": advice()["title"]}
    ex = examples.get(ws.db, a)
    examples.update(ws.db, ex.model_copy(update={"title": "The sealed letters"}), expected_version=1, actor="ana")
    assert examples.titles(ws.db, [a]) == {"ex_a": "The sealed letters"}
    assert examples.titles(ws.db, []) == {}


def test_titles_of_a_long_id_list_find_records_past_the_first_batch(ws: Workspace) -> None:
    add(ws, story(id="ex_late"))
    ids = [f"missing_{i}" for i in range(1200)] + ["ex_late"]
    assert examples.titles(ws.db, ids) == {"ex_late": "The archive"}


# -- find_by_id_or_title ----------------------------------------------------------------------------


def test_find_matches_title_or_id_ignoring_case_and_surrounding_spaces(ws: Workspace) -> None:
    add(ws, story(id="ex_archive", title="Letters", updated_at="2026-01-01"))
    add(ws, advice(id="ex_job", title="The ARCHIVE question", updated_at="2026-01-02"))
    add(ws, agentic(id="ex_inbox", updated_at="2026-01-03"))
    assert examples.find_by_id_or_title(ws.db, "  archive ") == [
        ("ex_job", "The ARCHIVE question"),
        ("ex_archive", "Letters"),
    ]
    assert examples.find_by_id_or_title(ws.db, "nothing like it") == []


def test_find_with_empty_text_lists_newest_update_first_up_to_the_limit(ws: Workspace) -> None:
    for i in range(5):
        add(ws, story(id=f"ex_{i}", text=f"story {i}", updated_at=f"2026-01-0{i + 1}"))
    assert [eid for eid, _ in examples.find_by_id_or_title(ws.db, "")] == ["ex_4", "ex_3", "ex_2", "ex_1", "ex_0"]
    assert [eid for eid, _ in examples.find_by_id_or_title(ws.db, "", limit=2)] == ["ex_4", "ex_3"]


# -- orphaned_link_count ----------------------------------------------------------------------------


def test_orphaned_links_are_counted_until_the_clause_comes_back(ws: Workspace, tmp_path: Path) -> None:
    add(ws, agentic(id="ex_a"))  # privacy.1.1
    add(ws, story(id="ex_b", clauses=["privacy.1.1", "honesty"]))
    add(ws, advice(id="ex_c"))  # honesty
    assert orphaned_link_count(ws.db) == 0
    new_version(ws, tmp_path, SMALL_CONSTITUTION.replace("  - Not even to avoid shutdown.\n", ""))
    assert orphaned_link_count(ws.db) == 2
    new_version(ws, tmp_path, SMALL_CONSTITUTION)
    assert orphaned_link_count(ws.db) == 0


# -- linked_examples --------------------------------------------------------------------------------


def test_a_section_lists_examples_linked_to_its_sub_clauses_once_newest_first(ws: Workspace) -> None:
    add(ws, story(id="ex_item", clauses=["privacy.1"], updated_at="2026-01-01"))
    add(ws, agentic(id="ex_subitem", updated_at="2026-01-03"))  # privacy.1.1
    add(ws, story(id="ex_both", text="both", clauses=["privacy", "privacy.1.1"], updated_at="2026-01-02"))
    add(ws, advice(id="ex_honesty", updated_at="2026-01-04"))  # another section
    rows = linked_examples(ws.db, "privacy")
    assert [r.id for r in rows] == ["ex_subitem", "ex_both", "ex_item"]
    assert rows[0] == LinkedExample("ex_subitem", "agentic", "draft", "ok", agentic()["title"])
    assert [r.id for r in linked_examples(ws.db, "privacy.1.1")] == ["ex_subitem", "ex_both"]
    assert [r.id for r in linked_examples(ws.db, "test-constitution")] == [
        "ex_honesty",
        "ex_subitem",
        "ex_both",
        "ex_item",
    ]
    assert [r.id for r in linked_examples(ws.db, "privacy", limit=2)] == ["ex_subitem", "ex_both"]


def test_a_section_linked_to_many_records_lists_the_same_rows_as_a_sparse_one_would(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = gen_records(400, seed=5)
    fill_ws(ws, records)
    for ex in records[::7]:  # newer updates on some, deletions of others
        examples.update(ws.db, ex.model_copy(update={"title": "touched"}), expected_version=1, actor="ana")
    for ex in records[3::11]:
        examples.delete(ws.db, ex.id, expected_version=None, actor="ana")
    new_version(ws, tmp_path, SMALL_CONSTITUTION.replace("Say what you believe.", "Say only what you believe."))
    for clause in ["test-constitution", *CLAUSES]:
        for limit in (5, 60, 500):
            monkeypatch.setattr(links, "DENSE_LINKS", 10**9)
            sparse = linked_examples(ws.db, clause, limit=limit)
            monkeypatch.setattr(links, "DENSE_LINKS", 1)
            dense = linked_examples(ws.db, clause, limit=limit)
            assert dense == sparse, clause
            assert sparse and len(sparse) <= limit
    states = {r.state for r in linked_examples(ws.db, "honesty")}
    assert states == {"ok", "stale"}


def test_linked_example_state_is_ok_when_any_link_into_the_subtree_is_ok(ws: Workspace, tmp_path: Path) -> None:
    add(ws, story(id="ex_stale", clauses=["honesty.1"], updated_at="2026-01-01"))
    add(ws, story(id="ex_mixed", text="mixed", clauses=["honesty.1", "honesty.2"], updated_at="2026-01-02"))
    new_version(ws, tmp_path, SMALL_CONSTITUTION.replace("Say what you believe.", "Say only what you believe."))
    states = {r.id: r.state for r in linked_examples(ws.db, "honesty")}
    assert states == {"ex_stale": "stale", "ex_mixed": "ok"}


def test_a_clause_only_in_an_old_constitution_version_is_not_followed(ws: Workspace, tmp_path: Path) -> None:
    add(ws, story(id="ex_item", clauses=["privacy.1"]))
    add(ws, agentic(id="ex_removed"))  # privacy.1.1, gone from the next version
    new_version(ws, tmp_path, SMALL_CONSTITUTION.replace("  - Not even to avoid shutdown.\n", ""))
    assert [r.id for r in linked_examples(ws.db, "privacy")] == ["ex_item"]
    # asked for by its own id, the removed clause still shows what pointed at it
    assert [(r.id, r.state) for r in linked_examples(ws.db, "privacy.1.1")] == [("ex_removed", "orphaned")]


# -- authors ------------------------------------------------------------------------------------------


def test_authors_are_those_of_live_records_sorted_once_each(ws: Workspace) -> None:
    names = ["zoë", "Ana", "ana", "bo", "ｂｏ", "", "Łukasz", "bo"]
    for i, name in enumerate(names):
        add(ws, story(id=f"ex_{i}", text=f"story {i}", author=name))
    add(ws, story(id="ex_gone", text="gone", author="carl"))
    examples.delete(ws.db, "ex_gone", expected_version=None, actor="ana")
    add(ws, story(id="ex_kept", text="kept", author="dora"))
    add(ws, story(id="ex_dora_gone", text="dora gone", author="dora"))
    examples.delete(ws.db, "ex_dora_gone", expected_version=None, actor="ana")
    assert examples.authors(ws.db) == sorted({n for n in names if n} | {"dora"})


def test_tags_are_those_of_live_records_most_used_first(ws: Workspace) -> None:
    tagged = {"ex_1": ["b", "a"], "ex_2": ["b", "é"], "ex_3": ["c", "a"], "ex_4": ["z", "c", "a"], "ex_5": ["z"]}
    for eid, tags in tagged.items():
        add(ws, story(id=eid, text=eid, tags=tags))
    add(ws, story(id="ex_gone", text="gone", tags=["z", "z2", "c"]))
    examples.delete(ws.db, "ex_gone", expected_version=None, actor="ana")
    assert examples.all_tags(ws.db) == ["a", "b", "c", "z", "é"]
