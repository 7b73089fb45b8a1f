"""Constitution versions in a workspace: diff on import, links that follow, turn stale or orphaned."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curator.cli import main
from curator.constitution.diff import diff_constitutions
from curator.constitution.parse import parse_file
from curator.constitution.versions import import_constitution
from curator.errors import ConstitutionError, NotFoundError, RecordError, UsageError
from curator.models import parse_example
from curator.store import examples
from curator.store.audit import events_for
from curator.store.db import Workspace, open_workspace
from curator.store.links import (
    LinkConfirmation,
    confirm_links,
    confirm_stale_links,
    link_states,
    move_link,
    problem_links,
)
from tests.conftest import FIXTURES, SMALL_CONSTITUTION, story

SPEC = FIXTURES / "openai-model-spec"
OLD_SPEC = SPEC / "model_spec_2025-02-12.md"
NEW_SPEC = SPEC / "model_spec_2025-12-18.md"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def linked(ws: Workspace, *clause_sets: list[str]) -> list[str]:
    ids = []
    for i, clauses in enumerate(clause_sets):
        ex = examples.create(ws.db, parse_example(story(id=f"ex_{i}", text=f"story {i}", clauses=clauses)), actor="ana")
        ids.append(ex.id)
    return ids


def test_first_import_has_no_diff(ws: Workspace) -> None:
    (version,) = ws.db.execute("SELECT count(*) FROM constitution_versions").fetchone()
    assert version == 1


def test_edited_clause_makes_links_stale_until_confirmed(ws: Workspace, tmp_path: Path) -> None:
    linked(ws, ["honesty.1"], ["honesty.2"])
    edited = SMALL_CONSTITUTION.replace("Say what you believe.", "Say only what you believe to be true.")
    result = import_constitution(ws.db, write(tmp_path, "v2.md", edited), actor="lead")
    assert result.diff is not None and result.diff.edited == ["honesty.1"]
    assert result.links == {"ok": 1, "stale": 1, "orphaned": 0}
    problems = problem_links(ws.db)
    assert [(p["example_id"], p["clause_id"]) for p in problems["stale"]] == [("ex_0", "honesty.1")]
    assert problems["orphaned"] == []
    assert confirm_links(ws.db, "ex_0", actor="ana") == ["honesty.1"]
    assert problem_links(ws.db) == {"stale": [], "orphaned": []}
    assert events_for(ws.db, "example", "ex_0")[-1].action == "confirm-links"


def test_removed_clause_orphans_links_and_nothing_is_deleted(ws: Workspace, tmp_path: Path) -> None:
    linked(ws, ["privacy.1.1", "honesty"])
    without = SMALL_CONSTITUTION.replace("  - Not even to avoid shutdown.\n", "")
    result = import_constitution(ws.db, write(tmp_path, "v2.md", without), actor="lead")
    assert result.diff is not None and result.diff.removed == ["privacy.1.1"]
    assert link_states(ws.db, "ex_0") == {"privacy.1.1": "orphaned", "honesty": "ok"}
    ex = examples.get(ws.db, "ex_0")
    assert ex.clauses == ["privacy.1.1", "honesty"]  # the record still says what it was linked to
    # an unrelated edit can still be saved; the orphaned link stays until someone decides
    edited = examples.update(ws.db, ex.model_copy(update={"title": "Retitled"}), expected_version=1, actor="ana")
    assert link_states(ws.db, edited.id)["privacy.1.1"] == "orphaned"
    # but a new link to a clause that does not exist is refused
    with pytest.raises(Exception, match="unknown clause id 'nope'"):
        examples.update(ws.db, edited.model_copy(update={"clauses": ["nope"]}), expected_version=2, actor="a")
    # the clause coming back makes the link whole again
    import_constitution(ws.db, write(tmp_path, "v3.md", SMALL_CONSTITUTION), actor="lead")
    assert link_states(ws.db, "ex_0")["privacy.1.1"] == "ok"


def test_renamed_clause_carries_its_links(ws: Workspace, tmp_path: Path) -> None:
    linked(ws, ["privacy"], ["privacy.1", "honesty"])
    renamed = SMALL_CONSTITUTION.replace("## Privacy {#privacy}", "## Privacy {#confidentiality}")
    result = import_constitution(ws.db, write(tmp_path, "v2.md", renamed), actor="lead")
    assert result.diff is not None
    assert {(r.from_id, r.to_id) for r in result.diff.renamed} >= {("privacy", "confidentiality")}
    assert ("privacy.1", "confidentiality.1") in {(r.from_id, r.to_id) for r in result.diff.renamed}
    assert examples.get(ws.db, "ex_0").clauses == ["confidentiality"]
    moved = examples.get(ws.db, "ex_1")
    assert moved.clauses == ["confidentiality.1", "honesty"]
    assert moved.version == 2
    assert events_for(ws.db, "example", "ex_1")[-1].action == "follow-rename"
    assert set(link_states(ws.db, "ex_1")) == {"confidentiality.1", "honesty"}
    assert sorted(result.moved) == ["ex_0", "ex_1"]
    assert examples.count(ws.db, clause="confidentiality.1") == 1


def test_a_bad_new_version_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    before = ws.db.execute("SELECT count(*) FROM constitution_versions").fetchone()[0]
    bad = write(tmp_path, "bad.md", "# A {#x}\n\n# B {#x}\n")
    with pytest.raises(ConstitutionError, match=r"bad.md: duplicate explicit id 'x' on lines 1 and 3"):
        import_constitution(ws.db, bad, actor="lead")
    assert ws.db.execute("SELECT count(*) FROM constitution_versions").fetchone()[0] == before


def test_real_releases_every_explicit_anchor_is_a_clause() -> None:
    for path in (OLD_SPEC, NEW_SPEC):
        text = path.read_text(encoding="utf-8")
        ids = {c.id for c in parse_file(path).clauses}
        anchors = set(re.findall(r"^#{1,6} .*\{#([^\s}]+)", _outside_fences(text), flags=re.M))
        assert anchors and anchors <= ids
        assert not [c.title for c in parse_file(path).clauses if "{" in c.title]


def _outside_fences(text: str) -> str:
    out, fence = [], None
    for line in text.split("\n"):
        marker = re.match(r"^\s*(```|~~~)", line)
        if marker:
            fence = None if fence == marker.group(1) else (fence or marker.group(1))
            continue
        if fence is None:
            out.append(line)
    return "\n".join(out)


def test_real_releases_diff_accounts_for_every_anchor() -> None:
    old_ids = {c.id for c in parse_file(OLD_SPEC).clauses}
    new_ids = {c.id for c in parse_file(NEW_SPEC).clauses}
    diff = diff_constitutions(parse_file(OLD_SPEC).clauses, parse_file(NEW_SPEC).clauses)
    renamed_from = {r.from_id for r in diff.renamed}
    renamed_to = {r.to_id for r in diff.renamed}
    # every clause is accounted for once on each side; a positional id in both versions may
    # name different clauses (an item inserted above shifts the others), so it is not "the same"
    assert sorted(diff.unchanged + diff.edited + list(renamed_to) + diff.added) == sorted(new_ids)
    assert sorted(diff.unchanged + diff.edited + list(renamed_from) + diff.removed) == sorted(old_ids)
    assert set(diff.unchanged) | set(diff.edited) <= old_ids & new_ids
    assert "protect_privacy" in diff.edited
    assert "red_line_principles" in diff.added


def test_importing_the_newer_release_over_the_older(tmp_path: Path) -> None:
    with open_workspace(tmp_path / "x.db") as ws:
        import_constitution(ws.db, OLD_SPEC, actor="lead")
        linked(ws, ["protect_privacy"], ["approachable"], ["overview"], ["be_kind"])
        result = import_constitution(ws.db, NEW_SPEC, actor="lead")
        states = {row[0]: row[1] for row in ws.db.execute("SELECT clause_id, state FROM example_clauses")}
        assert states["protect_privacy"] == "stale"
        assert states["approachable"] == "orphaned"
        assert states["love_humanity"] == "stale"  # be_kind, renamed and edited: the link followed
        assert result.links["stale"] >= 1 and result.links["orphaned"] == 1


# -- CLI -----------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_diff_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "constitution", "diff", str(OLD_SPEC), str(NEW_SPEC), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"unchanged", "edited", "renamed", "added", "removed", "edited_similarity"}
    assert all(set(r) == {"from", "to", "similarity"} for r in data["renamed"])
    assert [e["id"] for e in data["edited_similarity"]] == data["edited"]
    assert all(0 <= e["similarity"] <= 100 for e in data["edited_similarity"])


def test_cli_show_tree(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "constitution", "show", str(NEW_SPEC))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("overview ")
    assert any(line.startswith("  follow_all_applicable_instructions ") for line in lines)


def test_cli_import_stale_and_relink(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    run(capsys, "init", "--empty", "--db", db)
    run(capsys, "constitution", "import", str(write(tmp_path, "v1.md", SMALL_CONSTITUTION)), "--db", db)
    with open_workspace(db) as ws:
        linked(ws, ["honesty.1", "privacy.1.1"])
    v2 = SMALL_CONSTITUTION.replace("Say what you believe.", "Say what you know.").replace(
        "  - Not even to avoid shutdown.\n", ""
    )
    code, out, _ = run(capsys, "constitution", "import", str(write(tmp_path, "v2.md", v2)), "--db", db)
    assert code == 0 and "1 stale" in out and "1 orphaned" in out
    code, out, _ = run(capsys, "constitution", "stale", "--format", "json", "--db", db)
    data = json.loads(out)
    assert [(p["example_id"], p["clause_id"]) for p in data["stale"]] == [("ex_0", "honesty.1")]
    assert [(p["example_id"], p["clause_id"]) for p in data["orphaned"]] == [("ex_0", "privacy.1.1")]
    code, out, _ = run(capsys, "constitution", "relink", "ex_0", "--db", db)
    assert "confirmed 1" in out and "still orphaned: privacy.1.1" in out
    code, out, _ = run(
        capsys, "constitution", "relink", "ex_0", "--clause", "privacy.1.1", "--to", "privacy.1", "--db", db
    )
    assert code == 0
    data = json.loads(run(capsys, "constitution", "stale", "--format", "json", "--db", db)[1])
    assert data == {"stale": [], "orphaned": []}
    records = json.loads(run(capsys, "list", "--format", "json", "--db", db)[1])
    assert records[0]["clauses"] == ["honesty.1", "privacy.1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not valid UTF-8"),
        (b"caf\xe9 au lait\n", "not valid UTF-8"),
        (b"plain prose only\n\nno headings here\n", "no clauses"),
        (b"# One {#same}\n\n## Two {#same}\n", "lines 1 and 3"),
        (b"# ok\n\x00\x00\x00", "binary"),
    ],
)
def test_cli_bad_constitutions_fail_cleanly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, message: str
) -> None:
    db = str(tmp_path / "w.db")
    run(capsys, "init", "--empty", "--db", db)
    bad = tmp_path / "bad.md"
    bad.write_bytes(content)
    for argv in (["constitution", "show", str(bad)], ["constitution", "import", str(bad), "--db", db]):
        code, _out, err = run(capsys, *argv)
        assert code == 1
        assert err.count("\n") == 1 and message in err and str(bad) in err
    with open_workspace(db) as ws:
        assert ws.db.execute("SELECT count(*) FROM constitution_versions").fetchone()[0] == 0


# -- Relinking (the logic behind `constitution relink`) ---------------------------------------------


def test_confirm_stale_links_reports_what_is_still_orphaned(ws: Workspace, tmp_path: Path) -> None:
    linked(ws, ["honesty.1", "privacy.1.1", "honesty.2"])
    v2 = SMALL_CONSTITUTION.replace("Say what you believe.", "Say what you know.").replace(
        "  - Not even to avoid shutdown.\n", ""
    )
    import_constitution(ws.db, write(tmp_path, "v2.md", v2), actor="lead")
    done = confirm_stale_links(ws.db, "ex_0", actor="lead")
    assert done == LinkConfirmation("ex_0", ("honesty.1",), ("privacy.1.1",))
    assert confirm_stale_links(ws.db, "ex_0", actor="lead", clause_id="honesty.1").confirmed == ()
    with pytest.raises(RecordError):
        confirm_stale_links(ws.db, "ex_0", actor="lead", clause_id="privacy.2")


def test_move_link_keeps_its_place_and_drop_removes_it(ws: Workspace) -> None:
    linked(ws, ["honesty.1", "privacy.1", "honesty.2"])
    moved = move_link(ws.db, "ex_0", "privacy.1", to="privacy.1.1", actor="lead")
    assert moved.clauses == ["honesty.1", "privacy.1.1", "honesty.2"] and moved.version == 2
    assert examples.get(ws.db, "ex_0").clauses == moved.clauses
    assert events_for(ws.db, "example", "ex_0")[-1].actor == "lead"
    # onto a clause it already links: the two links become one
    assert move_link(ws.db, "ex_0", "honesty.2", to="honesty.1", actor="lead").clauses == ["honesty.1", "privacy.1.1"]
    assert move_link(ws.db, "ex_0", "honesty.1", to=None, actor="lead").clauses == ["privacy.1.1"]


def test_move_link_refuses_a_link_the_example_does_not_have(ws: Workspace) -> None:
    linked(ws, ["honesty.1"])
    with pytest.raises(UsageError, match=r"not linked to clause 'privacy\.1'"):
        move_link(ws.db, "ex_0", "privacy.1", to="honesty.2", actor="lead")
    with pytest.raises(NotFoundError):
        move_link(ws.db, "ex_missing", "honesty.1", to=None, actor="lead")
    assert examples.get(ws.db, "ex_0").version == 1


# -- Unchanged imports, chains and swaps of renames, removed ids given to other clauses ------------------------


def test_importing_the_same_clauses_twice_creates_nothing(ws: Workspace, tmp_path: Path) -> None:
    linked(ws, ["honesty.1"])
    versions = ws.db.execute("SELECT count(*) FROM constitution_versions").fetchone()[0]
    events = ws.db.execute("SELECT count(*) FROM audit").fetchone()[0]
    # same clauses; a trailing blank line and spaces do not change any clause
    same = write(
        tmp_path, "again.md", SMALL_CONSTITUTION.replace("Why honesty matters.", "Why honesty matters.   ") + "\n\n"
    )
    for _ in range(2):
        result = import_constitution(ws.db, same, actor="lead")
        assert result.unchanged
        assert result.version_id == versions
        assert result.summary().startswith(f"unchanged (version {versions})")
        assert result.to_json()["unchanged"] is True
        assert result.links == {"ok": 1, "stale": 0, "orphaned": 0}
        assert result.diff is not None and not result.diff.has_changes
    assert ws.db.execute("SELECT count(*) FROM constitution_versions").fetchone()[0] == versions
    assert ws.db.execute("SELECT count(*) FROM audit").fetchone()[0] == events
    # a changed title is a change, even with every hash the same
    retitled = write(tmp_path, "retitled.md", SMALL_CONSTITUTION.replace("# Test constitution", "# Tested"))
    assert not import_constitution(ws.db, retitled, actor="lead").unchanged


def test_links_follow_a_chain_and_a_swap_of_renames(ws: Workspace, tmp_path: Path) -> None:
    # honesty.1 and honesty.2 swap places; a new item on top of privacy shifts privacy.1 to privacy.2
    linked(ws, ["honesty.1"], ["honesty.2"], ["honesty.1", "honesty.2"], ["privacy.1", "privacy.1.1"])
    v2 = SMALL_CONSTITUTION.replace(
        "- Say what you believe.\n- Own your mistakes.\n", "- Own your mistakes.\n- Say what you believe.\n"
    ).replace("## Privacy {#privacy}\n\n", "## Privacy {#privacy}\n\n- Ask before you share.\n")
    result = import_constitution(ws.db, write(tmp_path, "v2.md", v2), actor="lead")
    assert result.diff is not None
    assert sorted((r.from_id, r.to_id) for r in result.diff.renamed) == [
        ("honesty.1", "honesty.2"),
        ("honesty.2", "honesty.1"),
        ("privacy.1", "privacy.2"),
        ("privacy.1.1", "privacy.2.1"),
    ]
    assert result.diff.added == ["privacy.1"]
    assert examples.get(ws.db, "ex_0").clauses == ["honesty.2"]
    assert examples.get(ws.db, "ex_1").clauses == ["honesty.1"]
    assert examples.get(ws.db, "ex_2").clauses == ["honesty.2", "honesty.1"]
    assert examples.get(ws.db, "ex_3").clauses == ["privacy.2", "privacy.2.1"]
    for example_id in ("ex_0", "ex_1", "ex_2", "ex_3"):
        ex = examples.get(ws.db, example_id)
        assert link_states(ws.db, example_id) == dict.fromkeys(ex.clauses, "ok")
    assert result.links == {"ok": 6, "stale": 0, "orphaned": 0}


def test_a_removed_item_whose_id_is_reused_leaves_an_orphaned_link(ws: Workspace, tmp_path: Path) -> None:
    linked(ws, ["honesty.1"], ["honesty.2"])
    v2 = SMALL_CONSTITUTION.replace("- Say what you believe.\n", "")
    result = import_constitution(ws.db, write(tmp_path, "v2.md", v2), actor="lead")
    assert result.diff is not None and result.diff.removed == ["honesty.1"]
    assert [(r.from_id, r.to_id) for r in result.diff.renamed] == [("honesty.2", "honesty.1")]
    assert result.retired == {"honesty.1": "honesty.1@v1"}
    assert examples.get(ws.db, "ex_0").clauses == ["honesty.1@v1"]
    assert link_states(ws.db, "ex_0") == {"honesty.1@v1": "orphaned"}
    assert examples.get(ws.db, "ex_1").clauses == ["honesty.1"]
    assert link_states(ws.db, "ex_1") == {"honesty.1": "ok"}
    assert "honesty.1@v1" in result.summary()
    note = events_for(ws.db, "example", "ex_0")[-1].note or ""
    assert "honesty.1 kept as honesty.1@v1" in note
