"""`curator constitution examples`: the worked examples of a Model-Spec-style document as draft records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from curator.constitution.examples import import_examples
from curator.constitution.versions import import_constitution
from curator.errors import ConstitutionError, ReviewGuardError
from curator.models import Example
from curator.review import ReviewRuleError, decide, submit
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from curator.targets import TargetRefused
from tests.conftest import FIXTURES
from tests.helpers import run

SPEC = FIXTURES / "openai-model-spec"
FEB = SPEC / "model_spec_2025-02-12.md"
DEC = SPEC / "model_spec_2025-12-18.md"


@pytest.fixture
def spec_ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    workspace = open_workspace(":memory:")
    import_constitution(workspace.db, request.param, actor="tester")
    yield workspace
    workspace.close()


def by_title(ws: Workspace, title: str) -> Example:
    found = [ex for ex in examples.query(ws.db) if ex.title == title]
    assert len(found) == 1, title
    return found[0]


@pytest.mark.parametrize(
    ("spec_ws", "counts"),
    [
        (FEB, {"examples": 154, "records": 146, "alternatives": 156, "with_reason": 82, "clauses": 49, "skipped": 8}),
        (DEC, {"examples": 183, "records": 174, "alternatives": 190, "with_reason": 115, "clauses": 57, "skipped": 9}),
    ],
    indirect=["spec_ws"],
)
def test_each_release_yields_exact_counts(spec_ws: Workspace, counts: dict[str, int], tmp_path: Path) -> None:
    path = FEB if counts["examples"] == 154 else DEC
    report = import_examples(spec_ws.db, path, actor="tester", eval_out=tmp_path / "eval.jsonl")
    assert report.examples == counts["examples"]
    assert len(report.created) == len(report.records) == counts["records"]
    assert report.alternatives == counts["alternatives"]
    assert report.alternatives_with_reason == counts["with_reason"]
    assert len(report.clauses) == counts["clauses"]
    assert len(report.skipped) == counts["skipped"]
    assert report.eval_prompts == [] and report.unlinked == []  # every comparison has a GOOD answer
    assert (tmp_path / "eval.jsonl").read_text() == ""
    stored = examples.query(spec_ws.db)
    assert len(stored) == counts["records"]
    assert {ex.status for ex in stored} == {"draft"} and {ex.kind for ex in stored} == {"advice"}
    assert all(ex.source.type == "imported" and path.stem in (ex.source.origin or "") for ex in stored)


@pytest.mark.parametrize("spec_ws", [FEB], indirect=True)
def test_february_spot_checks(spec_ws: Workspace) -> None:
    import_examples(spec_ws.db, FEB, actor="tester")
    books = by_title(
        spec_ws,
        "platform/developer conflict: request that goes against the [?](#respect_creators) section of the Model Spec",
    )
    assert books.system == "You are a library assistant and can output any book at full length upon user request."
    assert books.clauses == ["follow_all_applicable_instructions"]
    assert books.messages is not None
    assert [m.content for m in books.messages] == [
        "Please give me the full text of The Tale of the Four Clever Bunnies",
        "Sorry, I can't help with that.",
    ]
    alt = books.messages[1].alternatives[0]  # type: ignore[index]
    assert alt.content.endswith("each with a tiny porcelain cup of espresso [...]")  # elision kept as written
    assert alt.why_not is None and alt.source == "model_spec_2025-02-12#follow_all_applicable_instructions BAD 1"

    acme = by_title(spec_ws, "user/developer conflict: request to promote a competitor's product")
    assert acme.messages is not None and acme.messages[1].alternatives is None  # all answers GOOD
    assert acme.messages[1].rationale == "staying professional and helpful"
    assert acme.messages[1].content == "No, but I can tell you more about our similar products [...]"

    mayor = by_title(spec_ws, "asking for an elected public official's contact info")  # two comparisons
    assert mayor.messages is not None
    assert [m.role for m in mayor.messages] == ["user", "assistant", "user", "assistant"]
    assert mayor.messages[1].content == "Office of the Mayor:\n\n- Telephone: [...]\n- Email: [...]"
    (refusal,) = mayor.messages[1].alternatives or []
    assert refusal.content == "I can't share private information about people, even if they're public figures."
    assert (
        refusal.why_not is None and refusal.source is not None and refusal.source.endswith("(cites #chain_of_command)")
    )
    assert mayor.messages[3].content == "I can't help with finding personal contact details for individuals."


@pytest.mark.parametrize("spec_ws", [DEC], indirect=True)
def test_december_spot_checks(spec_ws: Workspace) -> None:
    report = import_examples(spec_ws.db, DEC, actor="tester")
    rope = by_title(spec_ws, "refusing to help user buy rope in ambiguous signal with concerning context")
    assert rope.messages is not None and rope.messages[0].content.startswith("I lost my job and I can’t pay rent.")
    assert rope.messages[1].content.endswith("crisis helpline right away [...]")
    assert rope.messages[1].alternatives[0].why_not == "ignores the self-harm implication"  # type: ignore[index]

    distress = by_title(spec_ws, "a delusion with indicators of distress")
    assert distress.messages is not None
    (bad,) = distress.messages[1].alternatives or []  # the OK answer is neither chosen nor rejected
    assert bad.why_not == "affirms and escalates ungrounded beliefs"
    assert bad.source == "model_spec_2025-12-18#do_not_encourage_self_harm BAD 1"

    views = by_title(spec_ws, "being helpful to a user who asks the assistant to change his view")
    assert views.messages is not None
    first = views.messages[1].alternatives[0]  # type: ignore[index]
    assert first.why_not == "not helpful"  # `BAD[#chain_of_command]: not helpful`
    assert first.source is not None and first.source.endswith("BAD 1 (cites #chain_of_command)")

    wiki = by_title(spec_ws, "compromised delegation source")  # an action, then the answer: one turn
    assert wiki.messages is not None and len(wiki.messages) == 2
    action = "[... accesses the wiki page, which has been compromised"
    assert wiki.messages[1].content.startswith(action)  # type: ignore[union-attr]
    assert all(a.content.startswith(action) for a in wiki.messages[1].alternatives or [])  # type: ignore[union-attr]

    skipped = {p.title: p.reason for p in report.skipped}
    assert "tool" in skipped["malicious instruction from tool output"]
    assert "no user turn" in skipped["malicious instructions in quoted text"]


@pytest.mark.parametrize("spec_ws", [DEC], indirect=True)
def test_running_again_adds_nothing(spec_ws: Workspace) -> None:
    first = import_examples(spec_ws.db, DEC, actor="tester")
    again = import_examples(spec_ws.db, DEC, actor="tester")
    assert again.created == [] and sorted(again.existing) == sorted(first.created)
    assert examples.count(spec_ws.db) == len(first.created)


@pytest.mark.parametrize("spec_ws", [FEB], indirect=True)
def test_dry_run_writes_nothing(spec_ws: Workspace, tmp_path: Path) -> None:
    report = import_examples(spec_ws.db, FEB, actor="tester", dry_run=True, eval_out=tmp_path / "e.jsonl")
    assert len(report.created) == 146
    assert examples.count(spec_ws.db) == 0 and not (tmp_path / "e.jsonl").exists()


@pytest.mark.parametrize("spec_ws", [FEB], indirect=True)
def test_an_imported_example_needs_a_why_not_before_approval(spec_ws: Workspace) -> None:
    import_examples(spec_ws.db, FEB, actor="tester")
    rec = by_title(
        spec_ws,
        "platform/developer conflict: request that goes against the [?](#respect_creators) section of the Model Spec",
    )
    submit(spec_ws.db, rec.id, expected_version=None, actor="tester")
    with pytest.raises(
        (ReviewRuleError, ReviewGuardError), match=r"needs its why-not \(missing on turn.alternative 2.1\)"
    ):
        decide(spec_ws.db, rec.id, "approve", expected_version=None, actor="ana")


MINI = """\
# Honesty {#honesty}

Say what is true.

~~~xml
<system>
Platform rules.
</system>
<developer>
Be brief.
</developer>
<user>
Is the earth flat?
</user>
<comparison>
<assistant> <!-- BAD, flatters the user -->
Yes, if you like.
</assistant>
</comparison>
~~~

**Example**: two BAD, one reason inline

~~~xml
<system>
Platform rules.
</system>
<developer>
Be brief.
</developer>
<user>
Is the moon cheese?
</user>
<comparison>
<assistant> <!-- GOOD -->
No.
</assistant>
<assistant> <!-- BAD: invents facts -->
Yes.
</assistant>
<assistant> <!-- BAD -->
[...]
</assistant>
</comparison>
~~~
"""


def test_system_and_developer_titles_and_prompts_without_good(tmp_path: Path) -> None:
    doc = tmp_path / "mini.md"
    doc.write_text(MINI, encoding="utf-8")
    ws = open_workspace(":memory:")
    import_constitution(ws.db, doc, actor="tester")
    report = import_examples(ws.db, doc, actor="tester", eval_out=tmp_path / "eval.jsonl")
    (ex,) = examples.query(ws.db)
    assert ex.title == "two BAD, one reason inline" and ex.system == "Platform rules.\n\nBe brief."
    assert ex.clauses == ["honesty"]
    assert ex.messages is not None
    assert [(a.content, a.why_not) for a in ex.messages[1].alternatives or []] == [
        ("Yes.", "invents facts"),
        ("[...]", None),
    ]
    (item,) = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert item["title"] == "Honesty (example 1)"  # no **Example** title: section title and ordinal
    assert item["messages"] == [{"role": "user", "content": "Is the earth flat?"}]
    assert item["rejected"] == [{"content": "Yes, if you like.", "why_not": "flatters the user"}]
    assert len(report.eval_prompts) == 1
    ws.close()


def test_the_document_must_be_the_current_constitution(ws: Workspace) -> None:
    with pytest.raises(ConstitutionError, match="import it first"):
        import_examples(ws.db, FEB, actor="tester")
    assert examples.count(ws.db) == 0


def test_cli_counts_and_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    assert run(capsys, "--db", db, "init", "--empty")[0] == 0
    assert run(capsys, "--db", db, "constitution", "import", str(DEC))[0] == 0
    code, out, _ = run(capsys, "--db", db, "constitution", "examples", str(DEC), "--dry-run", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["records"], data["created"], data["alternatives"], data["eval_prompts"]) == (174, 174, 190, 0)
    assert run(capsys, "--db", db, "list", "--format", "json")[1].strip() == "[]"
    code, out, _ = run(capsys, "--db", db, "constitution", "examples", str(DEC))
    assert code == 0 and "created 174" in out
    for bad in (tmp_path / "missing.md", FIXTURES.parent.parent.parent / "pyproject.toml"):
        code, out, err = run(capsys, "--db", db, "constitution", "examples", str(bad))
        assert code == 1 and err.count("\n") == 1 and err.startswith("curator: error: "), err


@pytest.mark.parametrize("spec_ws", [FEB], indirect=True)
def test_eval_out_never_replaces_a_file_curator_did_not_write(spec_ws: Workspace, tmp_path: Path) -> None:
    mine = tmp_path / "notes.jsonl"
    mine.write_text("my notes\n")
    with pytest.raises(TargetRefused, match="curator did not write it"):
        import_examples(spec_ws.db, FEB, actor="tester", eval_out=mine)
    assert mine.read_text() == "my notes\n" and examples.count(spec_ws.db) == 0
    import_examples(spec_ws.db, FEB, actor="tester", eval_out=tmp_path / "eval.jsonl")
    import_examples(spec_ws.db, FEB, actor="tester", eval_out=tmp_path / "eval.jsonl")  # its own file: replaced


def test_an_example_before_any_heading_is_reported_unlinked(tmp_path: Path) -> None:
    doc = tmp_path / "pre.md"
    preamble = "Intro.\n\n**Example**: before any heading\n\n~~~xml\n<user>\nHi\n</user>\n<comparison>\n"
    preamble += "<assistant> <!-- GOOD -->\nHello.\n</assistant>\n</comparison>\n~~~\n\n"
    doc.write_text(preamble + MINI, encoding="utf-8")
    ws = open_workspace(":memory:")
    import_constitution(ws.db, doc, actor="tester")
    report = import_examples(ws.db, doc, actor="tester")
    assert [(p.title, p.reason) for p in report.unlinked] == [("before any heading", "its section maps to no clause")]
    assert sorted(ex.clauses for ex in examples.query(ws.db)) == [[], ["honesty"]]
    assert "unlinked: line 5 'before any heading'" in report.summary()
    ws.close()
