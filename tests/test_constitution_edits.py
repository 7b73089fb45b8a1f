"""Edit scenarios on real constitutions: the diff aligns clauses by content and every link follows its clause.

Each scenario edits the demo constitution or the newer OpenAI Model Spec release the way an author
would (insert, delete, swap or move list items, reword, split, merge), checks the diff, then imports
both versions into a workspace with one example linked to every clause and checks that each link
lands on the clause with the same text, or the most similar one, or is orphaned when its clause
was removed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.constitution.diff import RENAME_THRESHOLD, ConstitutionDiff, clause_similarity, diff_constitutions
from curator.constitution.parse import parse_markdown
from curator.constitution.versions import import_constitution
from curator.models import Clause, parse_example
from curator.store import examples
from curator.store.clauses import current_clauses
from curator.store.db import open_workspace
from tests.conftest import FIXTURES, REPO, story

DEMO = (REPO / "constitution" / "constitution.md").read_text(encoding="utf-8")
SPEC_FILE = FIXTURES / "openai-model-spec" / "model_spec_2025-12-18.md"
needs_spec = pytest.mark.skipif(not SPEC_FILE.exists(), reason="model spec fixture not available")

NEW_ITEM = "- **Be calibrated.** Match stated confidence to the strength of the evidence, neither more nor less."


# -- editing helpers: list items are cut from and put back into the source by their exact text ---------------


def items(text: str, parent: str) -> list[Clause]:
    return [c for c in parse_markdown(text).clauses if c.parent == parent and c.kind == "item"]


_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d+[.)])[ \t]+")


def item_text(text: str, clause_id: str) -> str:
    """The item's source lines, marker included (a clause's `text` leaves the marker out)."""
    body = next(c.text for c in parse_markdown(text).clauses if c.id == clause_id)
    first, count = body.split("\n", 1)[0], body.count("\n") + 1
    lines = text.split("\n")
    for i, line in enumerate(lines):
        marker = _MARKER.match(line)
        if marker and line[marker.end() :].startswith(first):
            return "\n".join(lines[i : i + count])
    raise AssertionError(f"no source line for {clause_id}")


def without(text: str, clause_id: str) -> str:
    body = item_text(text, clause_id)
    assert text.count(body + "\n") == 1
    return text.replace(body + "\n", "", 1)


def before(text: str, clause_id: str, new: str) -> str:
    body = item_text(text, clause_id)
    return text.replace(body + "\n", new + "\n" + body + "\n", 1)


def after(text: str, clause_id: str, new: str) -> str:
    body = item_text(text, clause_id)
    return text.replace(body + "\n", body + "\n" + new + "\n", 1)


def swap(text: str, a: str, b: str) -> str:
    ta, tb = item_text(text, a), item_text(text, b)
    return text.replace(ta + "\n", "\0A\n", 1).replace(tb + "\n", ta + "\n", 1).replace("\0A\n", tb + "\n", 1)


def move(text: str, clause_id: str, after_id: str) -> str:
    body = item_text(text, clause_id)
    return after(without(text, clause_id), after_id, body)


def replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new, 1)


def renames(diff: ConstitutionDiff) -> list[tuple[str, str]]:
    return [(r.from_id, r.to_id) for r in diff.renamed]


def shifted(parent: str, start: int, end: int, by: int) -> list[tuple[str, str]]:
    """Renames of items start..end (1-based, inclusive) of `parent` moved by `by` places."""
    return [(f"{parent}.{n}", f"{parent}.{n + by}") for n in range(start, end + 1)]


# -- the scenarios ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    edit: Callable[[str], str]
    added: list[str]
    removed: list[str]
    renamed: list[tuple[str, str]]
    edited: list[str]


DEMO_SCENARIOS = [
    Scenario(
        "insert-top", lambda t: before(t, "honesty.1", NEW_ITEM), ["honesty.1"], [], shifted("honesty", 1, 5, 1), []
    ),
    Scenario(
        "insert-middle", lambda t: after(t, "honesty.2", NEW_ITEM), ["honesty.3"], [], shifted("honesty", 3, 5, 1), []
    ),
    Scenario("insert-end", lambda t: after(t, "honesty.5", NEW_ITEM), ["honesty.6"], [], [], []),
    Scenario("delete-first", lambda t: without(t, "honesty.1"), [], ["honesty.1"], shifted("honesty", 2, 5, -1), []),
    Scenario(
        "swap",
        lambda t: swap(t, "honesty.1", "honesty.2"),
        [],
        [],
        [("honesty.2", "honesty.1"), ("honesty.1", "honesty.2")],
        [],
    ),
    Scenario(
        "move-to-other-section",
        lambda t: move(t, "honesty.4", "privacy.5"),
        [],
        [],
        [("honesty.5", "honesty.4"), ("honesty.4", "privacy.6")],
        [],
    ),
    Scenario(
        "reword",
        lambda t: replace(t, "say so promptly and plainly", "say so at once and plainly"),
        [],
        [],
        [],
        ["honesty.4"],
    ),
    Scenario(
        "split",
        lambda t: replace(
            t,
            "sincerely asks, and do not misdescribe your reasoning, your abilities or the actions you have taken.",
            "sincerely asks.\n- **Describe yourself accurately.** Do not misdescribe your reasoning, your abilities "
            "or the actions you have taken.",
        ),
        ["honesty.4"],
        [],
        shifted("honesty", 4, 5, 1),
        ["honesty.3"],
    ),
    Scenario(
        "merge",
        lambda t: replace(
            t,
            "visible whenever it would change what the person does.\n- **No deception by arrangement.** Do not",
            "visible whenever it would change what the person does, and do not",
        ),
        [],
        ["honesty.2"],
        shifted("honesty", 3, 5, -1),
        ["honesty.1"],
    ),
]


def check_diff(old: str, new: str, scenario: Scenario) -> ConstitutionDiff:
    diff = diff_constitutions(parse_markdown(old).clauses, parse_markdown(new).clauses)
    assert sorted(diff.added) == sorted(scenario.added)
    assert sorted(diff.removed) == sorted(scenario.removed)
    assert sorted(renames(diff)) == sorted(scenario.renamed)
    assert sorted(diff.edited) == sorted(scenario.edited)
    return diff


def check_links(tmp_path: Path, old: str, new: str) -> None:
    """One example per clause of `old`; after importing `new`, each link is on the clause that has the old
    clause's text (or the most similar text), or orphaned on an id no clause of `new` has."""
    (tmp_path / "v1.md").write_text(old, encoding="utf-8")
    (tmp_path / "v2.md").write_text(new, encoding="utf-8")
    with open_workspace(":memory:") as ws:
        import_constitution(ws.db, tmp_path / "v1.md", actor="lead")
        old_clauses = current_clauses(ws.db)
        for n, clause in enumerate(old_clauses):
            record = story(id=f"ex_{n}", text=f"story {n}", clauses=[clause.id])
            examples.create(ws.db, parse_example(record), actor="ana")
        result = import_constitution(ws.db, tmp_path / "v2.md", actor="lead")
        assert result.diff is not None and not result.unchanged
        new_by_id = {c.id: c for c in current_clauses(ws.db)}
        removed = set(result.diff.removed)
        for n, clause in enumerate(old_clauses):
            (linked,) = examples.get(ws.db, f"ex_{n}").clauses
            states = dict(
                ws.db.execute("SELECT clause_id, state FROM example_clauses WHERE example_id = ?", [f"ex_{n}"])
            )
            assert list(states) == [linked]
            if clause.id in removed:
                assert linked not in new_by_id and states[linked] == "orphaned", (clause.id, linked)
                continue
            target = new_by_id[linked]
            score = clause_similarity(clause.text, target.text)
            if target.hash == clause.hash:
                assert states[linked] == "ok"
            else:
                assert states[linked] == "stale"
                assert score >= RENAME_THRESHOLD or linked == clause.id, (clause.id, linked, score)
            # no clause of the new version that was left unpaired reads more like the old one
            paired = {r.to_id for r in result.diff.renamed} | set(result.diff.unchanged) | set(result.diff.edited)
            for other in new_by_id.values():
                if other.id not in paired and other.kind == clause.kind:
                    assert clause_similarity(clause.text, other.text) <= score, (clause.id, linked, other.id)


@pytest.mark.parametrize("scenario", DEMO_SCENARIOS, ids=lambda s: s.name)
def test_demo_constitution_edit(scenario: Scenario, tmp_path: Path) -> None:
    new = scenario.edit(DEMO)
    diff = check_diff(DEMO, new, scenario)
    unchanged = {c.id for c in parse_markdown(DEMO).clauses} - set(scenario.removed) - set(scenario.edited)
    unchanged -= {old for old, _ in scenario.renamed}
    assert set(diff.unchanged) == unchanged
    check_links(tmp_path, DEMO, new)


def test_reported_similarities(tmp_path: Path) -> None:
    split = DEMO_SCENARIOS[-2]
    diff = check_diff(DEMO, split.edit(DEMO), split)
    data = diff.to_json()
    assert all(r["similarity"] == 100.0 for r in data["renamed"])
    (edit,) = data["edited_similarity"]
    assert edit["id"] == "honesty.3" and RENAME_THRESHOLD <= edit["similarity"] < 100


SPEC_LIST = "follow_all_applicable_instructions"
"""A numbered list of six items in the newer Model Spec (the chain of command)."""


def spec_scenarios() -> list[Scenario]:
    n = 6
    new_item = "7. **Operator**: a level that does not exist, inserted to test the alignment"
    return [
        Scenario("insert-top", lambda t: before(t, f"{SPEC_LIST}.1", new_item), [f"{SPEC_LIST}.1"], [],
                 shifted(SPEC_LIST, 1, n, 1), []),
        Scenario("insert-middle", lambda t: after(t, f"{SPEC_LIST}.3", new_item), [f"{SPEC_LIST}.4"], [],
                 shifted(SPEC_LIST, 4, n, 1), []),
        Scenario("insert-end", lambda t: after(t, f"{SPEC_LIST}.{n}", new_item), [f"{SPEC_LIST}.{n + 1}"], [], [], []),
        Scenario("delete", lambda t: without(t, f"{SPEC_LIST}.2"), [], [f"{SPEC_LIST}.2"],
                 shifted(SPEC_LIST, 3, n, -1), []),
        Scenario("swap", lambda t: swap(t, f"{SPEC_LIST}.2", f"{SPEC_LIST}.5"), [], [],
                 [(f"{SPEC_LIST}.2", f"{SPEC_LIST}.5"), (f"{SPEC_LIST}.5", f"{SPEC_LIST}.2")], []),
    ]  # fmt: skip


@needs_spec
@pytest.mark.parametrize("index", range(5), ids=["insert-top", "insert-middle", "insert-end", "delete", "swap"])
def test_model_spec_edit(index: int, tmp_path: Path) -> None:
    spec = SPEC_FILE.read_text(encoding="utf-8")
    assert len(items(spec, SPEC_LIST)) == 6
    scenario = spec_scenarios()[index]
    new = scenario.edit(spec)
    check_diff(spec, new, scenario)
    check_links(tmp_path, spec, new)


@needs_spec
def test_model_spec_item_moved_between_sections(tmp_path: Path) -> None:
    spec = SPEC_FILE.read_text(encoding="utf-8")
    target = next(c for c in parse_markdown(spec).clauses if c.kind == "item" and c.parent != SPEC_LIST)
    count = len(items(spec, target.parent or ""))
    new = after(without(spec, f"{SPEC_LIST}.1"), target.id, item_text(spec, f"{SPEC_LIST}.1"))
    diff = diff_constitutions(parse_markdown(spec).clauses, parse_markdown(new).clauses)
    assert diff.added == diff.removed == diff.edited == []
    n = int(target.id.rsplit(".", 1)[1])
    assert (f"{SPEC_LIST}.1", f"{target.parent}.{n + 1}") in renames(diff)
    assert set(shifted(SPEC_LIST, 2, 6, -1)) <= set(renames(diff))
    assert set(shifted(target.parent or "", n + 1, count, 1)) <= set(renames(diff))
    check_links(tmp_path, spec, new)


# -- random list edits -----------------------------------------------------------------------------------------

_SYLLABLES = ["ka", "lo", "mi", "nu", "re", "ta", "vo", "zi", "pe", "su"]
_WORDS = ["".join(p) for p in itertools.product(_SYLLABLES, repeat=3)]
SENTENCES = [" ".join(_WORDS[6 * k : 6 * k + 6]).capitalize() + "." for k in range(40)]
"""Forty sentences that share no word with each other."""


def list_doc(sentences: list[str]) -> str:
    return (
        "# Rules {#rules}\n\nThe rules.\n\n" + "".join(f"- {s}\n" for s in sentences) + "\n# Other {#other}\n\nText.\n"
    )


@st.composite
def list_edits(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    n = draw(st.integers(1, 10))
    old = SENTENCES[:n]
    kept = draw(st.permutations(old))
    kept = [s for s in kept if draw(st.booleans()) or len(old) < 3]  # delete some
    fresh = SENTENCES[n : n + draw(st.integers(0, 4))]
    new = list(kept)
    for s in fresh:  # insert at random places
        new.insert(draw(st.integers(0, len(new))), s)
    return old, new


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(list_edits())
def test_random_list_edits_never_attach_a_link_to_other_text(tmp_path: Path, edit: tuple[list[str], list[str]]) -> None:
    old_sentences, new_sentences = edit
    old, new = list_doc(old_sentences), list_doc(new_sentences)
    diff = diff_constitutions(parse_markdown(old).clauses, parse_markdown(new).clauses)
    assert diff.edited == []
    assert len(diff.removed) == len(set(old_sentences) - set(new_sentences))
    assert len(diff.added) == len(set(new_sentences) - set(old_sentences))
    if old_sentences != new_sentences:
        check_links(tmp_path, old, new)
