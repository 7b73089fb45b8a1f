"""Tests for curator.constitution.diff: what changed between two constitution versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.constitution.diff import ConstitutionDiff, RenamedClause, diff_constitutions
from curator.constitution.parse import clause_hash, parse_file, parse_markdown
from curator.errors import ConstitutionError
from curator.models import Clause

FIXTURES = Path(__file__).parent / "data" / "fixtures" / "openai-model-spec"
OLD_SPEC = FIXTURES / "model_spec_2025-02-12.md"
NEW_SPEC = FIXTURES / "model_spec_2025-12-18.md"
needs_fixtures = pytest.mark.skipif(
    not (OLD_SPEC.exists() and NEW_SPEC.exists()), reason="model spec fixtures not available"
)

LONG = (
    "The assistant should weigh the interests of everyone affected by an action, "
    "explain its reasoning plainly, and prefer reversible steps when unsure."
)


def clauses(text: str) -> list[Clause]:
    return parse_markdown(text).clauses


def clause(ident: str, text: str, kind: str = "section") -> Clause:
    return Clause(id=ident, parent=None, depth=1, title=ident, text=text, hash=clause_hash(text), kind=kind)


def test_unchanged_and_edited() -> None:
    old = clauses("# A\n\nSame.\n\n# B\n\nOld words.\n")
    new = clauses("# A\n\nSame.   \n\n\n\n# B\n\nNew words.\n")
    diff = diff_constitutions(old, new)
    assert diff.to_json() == {
        "unchanged": ["a"],
        "edited": ["b"],
        "renamed": [],
        "added": [],
        "removed": [],
        "edited_similarity": [{"id": "b", "similarity": 50.0}],  # "old words" vs "new words"
    }
    assert diff.has_changes


def test_added_and_removed() -> None:
    old = clauses("# A\n\nSame.\n\n# Gone\n\nCompletely different text.\n")
    new = clauses("# A\n\nSame.\n\n# Fresh\n\nNothing alike here at all!\n")
    diff = diff_constitutions(old, new)
    assert diff.added == ["fresh"]
    assert diff.removed == ["gone"]
    assert diff.renamed == []


def test_renamed_heading_id_with_same_body() -> None:
    old = clauses(f"# Care {{#care authority=root}}\n\n{LONG}\n\n- {LONG}\n")
    new = clauses(f"# Care {{#wellbeing authority=root}}\n\n{LONG}\n\n- {LONG}\n")
    diff = diff_constitutions(old, new)
    assert diff.to_json()["renamed"] == [
        {"from": "care", "to": "wellbeing", "similarity": 100.0},
        {"from": "care.1", "to": "wellbeing.1", "similarity": 100.0},
    ]
    assert diff.added == diff.removed == []
    # the id alone changed: the texts match once the {#id} is set aside
    assert diff.renamed[0].score == 100.0


def test_short_section_renamed_by_id_only() -> None:
    diff = diff_constitutions(clauses("## Be brief {#brief}\n"), clauses("## Be brief {#concise}\n"))
    assert [(r.from_id, r.to_id) for r in diff.renamed] == [("brief", "concise")]


def test_moved_item_is_renamed() -> None:
    old = clauses(f"# A\n\n- {LONG}\n\n# B\n\nB text.\n")
    new = clauses(f"# A\n\nA text.\n\n# B\n\nB text.\n\n- other\n- {LONG}\n")
    diff = diff_constitutions(old, new)
    assert [(r.from_id, r.to_id) for r in diff.renamed] == [("a.1", "b.2")]
    assert diff.added == ["b.1"]
    assert diff.edited == ["a"]
    assert diff.unchanged == ["b"]


def test_small_edit_plus_rename_still_matches() -> None:
    edited = LONG.replace("plainly", "clearly")
    diff = diff_constitutions([clause("x", LONG)], [clause("y", edited)])
    assert len(diff.renamed) == 1
    assert 90.0 <= diff.renamed[0].score < 100.0


def test_threshold_controls_renames() -> None:
    edited = LONG[: len(LONG) * 3 // 4]
    strict = diff_constitutions([clause("x", LONG)], [clause("y", edited)], rename_threshold=95)
    assert (strict.added, strict.removed, strict.renamed) == (["y"], ["x"], [])
    loose = diff_constitutions([clause("x", LONG)], [clause("y", edited)], rename_threshold=80)
    assert [(r.from_id, r.to_id) for r in loose.renamed] == [("x", "y")]


def test_renames_are_one_to_one_best_first() -> None:
    close = LONG.replace("plainly", "clearly")
    far = LONG.replace("plainly", "clearly").replace("reversible", "undoable")
    old = [clause("a", far), clause("b", LONG)]
    new = [clause("c", LONG), clause("d", close)]
    diff = diff_constitutions(old, new, rename_threshold=85)
    # b matches c exactly (100) first; a then takes the remaining d
    assert [(r.from_id, r.to_id) for r in diff.renamed] == [("b", "c"), ("a", "d")]

    # two vanished copies of one text, one new home: one rename, one removal
    diff = diff_constitutions([clause("a", LONG), clause("b", LONG)], [clause("c", LONG)])
    assert [(r.from_id, r.to_id) for r in diff.renamed] == [("a", "c")]
    assert diff.removed == ["b"]


def test_lists_follow_document_order() -> None:
    old = [clause("z", "zz"), clause("m", "mm"), clause("a", "aa")]
    new = [clause("n3", "n3 text"), clause("m", "mm2"), clause("n1", "n1 text"), clause("a", "aa")]
    diff = diff_constitutions(old, new)
    assert diff.removed == ["z"]
    assert diff.added == ["n3", "n1"]
    assert diff.edited == ["m"]
    assert diff.unchanged == ["a"]


def test_summary_and_json_shape() -> None:
    diff = ConstitutionDiff(
        unchanged=["u1", "u2"],
        edited=["e1", "e2", "e3", "e4", "e5"],
        renamed=[RenamedClause("old", "new", 97.5)],
        added=[],
        removed=["r"],
    )
    assert diff.summary().splitlines() == [
        "unchanged: 2",
        "edited: 5 (e1, e2, e3, … (+2))",
        "renamed: 1 (old -> new (edited))",
        "added: 0",
        "removed: 1 (r)",
    ]
    data = diff.to_json()
    assert list(data) == ["unchanged", "edited", "renamed", "added", "removed", "edited_similarity"]
    assert data["renamed"] == [{"from": "old", "to": "new", "similarity": 97.5}]
    assert not ConstitutionDiff(unchanged=["x"]).has_changes


def test_empty_inputs() -> None:
    assert diff_constitutions([], []).to_json() == {
        "unchanged": [],
        "edited": [],
        "renamed": [],
        "added": [],
        "removed": [],
        "edited_similarity": [],
    }
    assert diff_constitutions([], [clause("a", "x")]).added == ["a"]
    assert diff_constitutions([clause("a", "x")], []).removed == ["a"]


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ConstitutionError, match="'a' twice"):
        diff_constitutions([clause("a", "x"), clause("a", "y")], [])


@needs_fixtures
def test_fixture_diff_with_itself_is_all_unchanged() -> None:
    parsed = parse_file(NEW_SPEC)
    diff = diff_constitutions(parsed.clauses, parsed.clauses)
    assert diff.unchanged == [c.id for c in parsed.clauses]
    assert not diff.has_changes


@needs_fixtures
def test_fixture_release_diff() -> None:
    old = parse_file(OLD_SPEC).clauses
    new = parse_file(NEW_SPEC).clauses
    diff = diff_constitutions(old, new)
    renamed_to = [r.to_id for r in diff.renamed]
    renamed_from = [r.from_id for r in diff.renamed]
    # every clause is accounted for exactly once on each side
    assert sorted(diff.unchanged + diff.edited + renamed_to + diff.added) == sorted(c.id for c in new)
    assert sorted(diff.unchanged + diff.edited + renamed_from + diff.removed) == sorted(c.id for c in old)
    # plausible for ten months of revisions: most survives, plenty was edited, some is new
    assert len(diff.unchanged) >= 30
    assert 30 <= len(diff.edited) <= len(new) // 2
    assert len(diff.added) >= 20
    assert 1 <= len(diff.removed) <= 30
    # sections known to exist in both releases, to be new, or to be gone
    assert "protect_privacy" in diff.edited + diff.unchanged
    assert "follow_all_applicable_instructions" in diff.edited  # authority platform -> root
    assert "red_line_principles" in diff.added
    assert "approachable" in diff.removed
    # a section renamed with its words mostly kept is found by similarity, not lost
    assert ("be_kind", "love_humanity") in [(r.from_id, r.to_id) for r in diff.renamed]
    # a list item inserted at the top shifts the others: renamed, not edited
    assert ("follow_all_applicable_instructions.4", "follow_all_applicable_instructions.5") in [
        (r.from_id, r.to_id) for r in diff.renamed
    ]
    assert "protect_privacy" not in diff.added + diff.removed
    summary = diff.summary()
    assert f"edited: {len(diff.edited)}" in summary


def test_headings_without_text_are_not_paired_by_their_empty_text() -> None:
    """A section with only sub-clauses has no text of its own: a removed one and an added one
    must not pair as a perfect rename just because both texts are empty."""
    old = parse_markdown(
        "# Doc\n\n## Alpha\n\n- Keep every promise you make.\n\n## Beta\n\n- Never read private letters.\n"
    ).clauses
    new = parse_markdown(
        "# Doc\n\n## Alpha\n\n- Keep every promise you make.\n\n## Gamma\n\n- Cite the sources you rely on.\n"
    ).clauses
    result = diff_constitutions(old, new)
    assert result.renamed == []
    assert set(result.removed) == {"beta", "beta.1"} and set(result.added) == {"gamma", "gamma.1"}
    assert "alpha" in result.unchanged and "alpha.1" in result.unchanged
