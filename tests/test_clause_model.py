"""The clause model: text without heading line or item marker, plain text, context, item ids,
containers in coverage, prompts built from clauses, and the migration of older workspaces."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from curator import coverage
from curator.assist.prompts import clause_paths, critique_prompt, draft_prompt, suggest_links_prompt
from curator.constitution.diff import diff_constitutions
from curator.constitution.parse import clause_hash, constitution_json, normalize_clause_text, parse_file, parse_markdown
from curator.constitution.versions import import_constitution
from curator.errors import ConstitutionError
from curator.models import Clause, parse_example
from curator.store import examples
from curator.store.clauses import current_clauses
from curator.store.db import Workspace, open_workspace
from curator.store.migrations import migrations
from tests.conftest import FIXTURES, story
from tests.helpers import insert_legacy_example

SPEC = FIXTURES / "openai-model-spec"
SPEC_FILES = [SPEC / "model_spec_2025-02-12.md", SPEC / "model_spec_2025-12-18.md"]
needs_fixtures = pytest.mark.skipif(not all(p.exists() for p in SPEC_FILES), reason="model spec fixtures not available")


def by_id(text: str) -> dict[str, Clause]:
    return {c.id: c for c in parse_markdown(text).clauses}


# ---------------------------------------------------------------------------
# Text, plain, context
# ---------------------------------------------------------------------------


def test_section_text_has_no_heading_and_item_text_no_marker() -> None:
    clauses = by_id("# Rules {#rules a=b}\n\nBe **good**.  \nAlways.\n\n1. Never [lie](#rules).\n   Really.\n")
    assert clauses["rules"].text == "Be **good**.  \nAlways."
    assert clauses["rules"].plain == "Be good. Always."
    assert clauses["rules"].context == ""
    assert clauses["rules.1"].text == "Never [lie](#rules).\nReally."
    assert clauses["rules.1"].plain == "Never lie. Really."
    assert clauses["rules.1"].context == "Be good. Always."


def test_setext_heading_is_not_text() -> None:
    assert by_id("Title\n=====\n\nBody.\n")["title"].text == "Body."


def test_nested_item_context_joins_the_parent_line() -> None:
    text = "# S\n\nThe assistant should never:\n\n- Help with harm, for example:\n  - weapons\n- Lie\n"
    clauses = by_id(text)
    assert clauses["s.1"].context == "The assistant should never:"
    assert clauses["s.2"].context == "The assistant should never:"
    assert clauses["s.1.1"].context == "The assistant should never: › Help with harm, for example:"


def test_lead_in_is_the_last_paragraph_before_the_list() -> None:
    clauses = by_id("# S\n\nFirst.\n\n- a\n\nThen these:\n\n1. b\n\n## T\n\n- c\n")
    assert (clauses["s.1"].context, clauses["s.2"].context, clauses["t.1"].context) == ("First.", "Then these:", "")


def test_plain_renders_admonitions_dialogues_and_cross_references() -> None:
    text = (
        "# Target {#target}\n\nSee [?](#target).\n\n"
        '!!! meta "Commentary"\n    Some *notes*.\n\n'
        "~~~xml\n<user>\nHi **there**\n</user>\n"
        "<assistant> <!-- BAD: violates [?](#target) -->\nNo.\n</assistant>\n~~~\n"
    )
    plain = by_id(text)["target"].plain
    assert plain.startswith("See Target.\n\nCommentary: Some notes.")
    assert "<user>\nHi there\n</user>" in plain
    assert "<!-- BAD: violates Target -->" in plain


def test_heading_rename_keeps_the_hash() -> None:
    old = by_id("# Old name {#x}\n\nBody text.\n")["x"]
    new = by_id("# New name {#x}\n\nBody text.\n")["x"]
    assert old.hash == new.hash == clause_hash("Body text.")
    assert old.title != new.title
    # without explicit ids the id changes with the heading: a rename, text unchanged
    a, b = parse_markdown("# Old name\n\nBody text.\n").clauses, parse_markdown("# New name\n\nBody text.\n").clauses
    result = diff_constitutions(a, b)
    assert [(r.from_id, r.to_id) for r in result.renamed] == [("old-name", "new-name")]


def test_renumbering_or_changing_the_marker_keeps_item_hashes() -> None:
    a = by_id("# S\n\n- one\n- two\n")
    b = by_id("# S\n\n1. one\n2. two\n")
    assert [c.hash for c in a.values()] == [c.hash for c in b.values()]


# ---------------------------------------------------------------------------
# Explicit ids on list items
# ---------------------------------------------------------------------------


def test_explicit_item_ids_and_meta() -> None:
    parsed = parse_markdown("# S\n\n- Be **kind** {#kind authority=root}\n  - nested\n- other\n")
    assert [(c.id, c.parent) for c in parsed.clauses] == [
        ("s", None),
        ("kind", "s"),
        ("kind.1", "kind"),
        ("s.2", "s"),
    ]
    kind = parsed.clauses[1]
    assert (kind.title, kind.text, kind.plain, kind.meta) == (
        "Be kind",
        "Be **kind**",
        "Be kind",
        {"authority": "root"},
    )
    assert constitution_json(parsed)["clauses"][1]["metadata"] == {"authority": "root"}


def test_item_attributes_only_on_the_first_line() -> None:
    clauses = by_id("# S\n\n- first\n  second {#no}\n- braces {not attrs}\n")
    assert set(clauses) == {"s", "s.1", "s.2"}
    assert clauses["s.1"].text == "first\nsecond {#no}"
    assert clauses["s.2"].title == "braces {not attrs}"


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("# A {#dup}\n\n- x {#dup}\n", (1, 3)),
        ("# A\n\n- x {#dup}\n- y {#dup}\n", (3, 4)),
        ("# A\n\n- x {#dup}\n\n# B {#dup}\n", (3, 5)),
    ],
)
def test_duplicate_item_ids_name_both_lines(text: str, lines: tuple[int, int]) -> None:
    message = f"c.md: duplicate explicit id 'dup' on lines {lines[0]} and {lines[1]}"
    with pytest.raises(ConstitutionError, match=re.escape(message)):
        parse_markdown(text, filename="c.md")


# ---------------------------------------------------------------------------
# The Model Spec releases
# ---------------------------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_model_spec_text_and_plain(path: Path) -> None:
    parsed = parse_file(path)
    for clause in parsed.clauses:
        assert not clause.text.startswith("#"), clause.id
        for markup in ("**", "](", "{#"):
            assert markup not in clause.plain, (clause.id, markup)
        assert not re.search(r" {2}$", clause.plain, flags=re.M), clause.id
        assert clause.hash == clause_hash(clause.text)


@needs_fixtures
def test_model_spec_item_contexts() -> None:
    clauses = {c.id: c for c in parse_file(SPEC / "model_spec_2025-12-18.md").clauses}
    assert clauses["overview.1"].context == "To realize this vision, we need to:"
    assert clauses["overview.1"].plain == "Iteratively deploy models that empower developers and users."
    assert clauses["levels_of_authority.1"].context == "The levels of authority are as follows:"
    assert clauses["levels_of_authority.1"].plain.startswith("Root: Fundamental root rules")
    lead = (
        "Conversation: valid input to the model is a conversation, which consists of a list of messages. "
        "Every message contains a role and content:"
    )
    assert clauses["definitions.1"].context == lead
    assert clauses["definitions.1.1"].context.startswith(lead + " › role: specifies the source of each message.")
    assert clauses["definitions.1.1"].plain == "system: messages added by OpenAI"


@needs_fixtures
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_prompts_from_the_model_spec_have_no_headings_and_keep_lead_ins(path: Path) -> None:
    clauses = parse_file(path).clauses
    paths = clause_paths(clauses)
    ex = parse_example(story(id="ex_1", clauses=[clauses[0].id]))
    prompts = [draft_prompt("story", [c], paths=paths)[1] for c in clauses]
    prompts.append(critique_prompt(ex, clauses, paths=paths)[1])
    prompts.append(suggest_links_prompt(ex, clauses)[1])
    for prompt in prompts:
        heading = re.search(r"^#{1,6} .*", prompt, flags=re.M)
        assert heading is None, heading
    for clause, prompt in zip(clauses, prompts, strict=False):
        if clause.context:
            assert f"Introduced by: {clause.context}\n" in prompt
        assert f"Clause: {paths[clause.id]}\n" in prompt
    never = next(c for c in clauses if c.kind == "item" and "never" in c.context.lower().split(" › ")[-1])
    prompt = draft_prompt("story", [never], paths=paths)[1]
    assert prompt.index(never.context) < prompt.index(never.plain.split("\n")[0])


# ---------------------------------------------------------------------------
# Containers in coverage
# ---------------------------------------------------------------------------


def _add(ws: Workspace, eid: str, clauses: list[str]) -> None:
    data = story(id=eid, clauses=clauses, status="approved")
    examples.insert_many(ws.db, [parse_example({"author": "ana", **data})], actor="ana", keep_status=True)


def test_containers_roll_up_but_are_not_gaps(ws: Workspace) -> None:
    report = coverage.compute(ws.db)
    rows = {r.id: r for r in report.clauses}
    assert rows["test-constitution"].container and rows["privacy"].container
    assert not rows["honesty"].container and not rows["privacy.1"].container  # prose; or a leaf
    assert "test-constitution" not in report.gaps and "privacy" not in report.gaps
    assert {"honesty", "honesty.1", "privacy.1"} <= set(report.gaps)
    data = report.to_json()
    assert {c["id"]: c["container"] for c in data["clauses"]}["privacy"] is True
    _add(ws, "ex_1", ["privacy.1.1"])
    rows = {r.id: r for r in coverage.compute(ws.db).clauses}
    assert rows["privacy"].approved_total == 1  # still rolled up


def test_a_target_on_a_container_still_counts(tmp_path: Path) -> None:
    src = tmp_path / "c.md"
    src.write_text("# Root\n\n## Privacy {#privacy target=2}\n\n- Never leak.\n\n## Index\n\n- [Privacy](#privacy)\n")
    with open_workspace(":memory:") as ws:
        import_constitution(ws.db, src, actor="lead")
        report = coverage.compute(ws.db)
        rows = {r.id: r for r in report.clauses}
        assert rows["privacy"].container and "privacy" in report.gaps
        assert "root" not in report.gaps
        assert "index" not in report.gaps and "index.1" in report.gaps  # a leaf is never a container
        toc = parse_markdown("# Index\n\n[A](#a), [B](#b)\n\n## A\n\nText.\n").clauses[0]
        assert coverage.is_container(toc, has_children=True)


# ---------------------------------------------------------------------------
# Migrating a workspace made before the clause model
# ---------------------------------------------------------------------------

V1 = "# Rules {#rules}\n\nBe good.\n\n- Never lie.\n"
V2 = "# Principles {#rules}\n\nBe good.\n\n- Never lie.\n- Never cheat.\n"


def _old_hash(text: str) -> str:
    return hashlib.sha256(normalize_clause_text(text).encode()).hexdigest()


def _old_version(db: Database, version_id: int, source: str, rows: list[tuple[str, str | None, str, str]]) -> None:
    """A version and its clauses as the previous curator stored them (heading line and marker in the text)."""
    db.execute("UPDATE constitution_versions SET is_current = 0")
    db.execute(
        "INSERT INTO constitution_versions (id, sha256, filename, format, title, source, imported_at, actor, "
        "is_current) VALUES (?, ?, 'c.md', 'markdown', 'Rules', ?, '2025-01-01T00:00:00Z', 'lead', 1)",
        [version_id, hashlib.sha256(source.encode()).hexdigest(), source],
    )
    for position, (ident, parent, kind, text) in enumerate(rows):
        db.execute(
            "INSERT INTO clauses (version_id, id, position, parent, depth, kind, title, text, hash, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')",
            [version_id, ident, position, parent, 1 if parent is None else 2, kind, ident, text, _old_hash(text)],
        )


def test_migration_rederives_clauses_and_keeps_links_fresh(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    db = Database(conn)
    migrations.apply(db, stop_before="m009_clause_model")
    assert "plain" not in db["clauses"].columns_dict
    _old_version(
        db,
        1,
        V1,
        [
            ("rules", None, "section", "# Rules {#rules}\n\nBe good."),
            ("rules.1", "rules", "item", "- Never lie."),
            ("gone", None, "section", "## Gone\n\nOld *words*."),  # not in the source any more
        ],
    )
    linked_v1 = {"rules": _old_hash("# Rules {#rules}\n\nBe good."), "gone": _old_hash("## Gone\n\nOld *words*.")}
    _old_version(
        db,
        2,
        V2,
        [
            ("rules", None, "section", "# Principles {#rules}\n\nBe good."),
            ("rules.1", "rules", "item", "- Never lie."),
            ("rules.2", "rules", "item", "- Never cheat."),
        ],
    )
    record = parse_example({"author": "ana", **story(id="ex_1", clauses=["rules", "rules.1", "rules.2"])})
    stored_hashes = dict(db.execute("SELECT id, hash FROM clauses WHERE version_id = 2").fetchall())
    insert_legacy_example(db, record, {c: stored_hashes[c] for c in record.clauses})
    # the link to `rules` was made under version 1: the old hashing made the heading rename an edit
    db.execute(
        "UPDATE example_clauses SET clause_hash = ?, state = 'stale' WHERE clause_id = 'rules'", [linked_v1["rules"]]
    )
    db.execute(
        "INSERT INTO example_clauses (example_id, clause_id, clause_hash, state, linked_at) "
        "VALUES ('ex_1', 'gone', ?, 'orphaned', '2025-01-01T00:00:00Z')",
        [linked_v1["gone"]],
    )
    conn.commit()
    conn.close()

    with open_workspace(path) as ws:
        clauses = {c.id: c for c in current_clauses(ws.db)}
        assert [c.id for c in current_clauses(ws.db)] == ["rules", "rules.1", "rules.2"]  # ids kept
        assert (clauses["rules"].text, clauses["rules"].hash) == ("Be good.", clause_hash("Be good."))
        assert (clauses["rules.1"].text, clauses["rules.1"].plain) == ("Never lie.", "Never lie.")
        assert clauses["rules.2"].context == "Be good."
        links = dict(
            ((c, (h, s)) for c, h, s in ws.db.execute("SELECT clause_id, clause_hash, state FROM example_clauses"))
        )
        assert links["rules"] == (clause_hash("Be good."), "ok")  # not stale: only the heading changed
        assert links["rules.1"] == (clause_hash("Never lie."), "ok")
        assert links["rules.2"] == (clause_hash("Never cheat."), "ok")
        assert links["gone"] == (clause_hash("Old *words*."), "orphaned")
        gone = ws.db.execute("SELECT text, plain FROM clauses WHERE id = 'gone'").fetchone()
        assert tuple(gone) == ("Old *words*.", "Old words.")  # from the stored text: heading line stripped
