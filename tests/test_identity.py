"""User names are stored as typed and compared as identities: no review bypass by spelling.

`Ana`, `ana ` and a Latin/Cyrillic `аna` are the same person as `ana` for every identity check
(the review rules, the store's review guard, the review queue, coverage's reviewer counts), and
where a name is set (`--user`, `CURATOR_USER`, the config file, the TUI) an empty, control-character
or mixed-script name is refused with one line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from curator import records
from curator.config import Settings, load_settings, resolve_user
from curator.constitution.versions import import_constitution
from curator.errors import CuratorError, ReviewGuardError, UsageError
from curator.identity import check_user_name, identity_key, same_user
from curator.models import parse_example
from curator.review import ReviewRuleError, approval_problems, decide, queue, submit
from curator.store import examples
from curator.store.db import Workspace, open_workspace
from tests.conftest import advice, story
from tests.helpers import run

CYRILLIC_A = "\u0430"  # looks like Latin a
BYPASSES = ["Ana", "ana ", " ANA", f"{CYRILLIC_A}na", "\uff41na", "a\u200bna", "ANA\t"]
"""Spellings of `ana` that once approved ana's own example: case, spaces, a Cyrillic а, a full-width
ａ, a zero-width space, a tab."""


def _in_review(ws: Workspace, *, author: str = "ana", actor: str = "ana", example_id: str = "ex_s") -> str:
    ex = examples.create(ws.db, parse_example(story(id=example_id, author=author)), actor=actor)
    return submit(ws.db, ex.id, expected_version=None, actor=actor).id


@pytest.mark.parametrize("reviewer", BYPASSES)
def test_author_spelled_differently_cannot_approve(ws: Workspace, reviewer: str) -> None:
    eid = _in_review(ws)
    assert approval_problems(examples.get(ws.db, eid), reviewer) == ["you cannot approve your own example"]
    with pytest.raises(ReviewRuleError, match="you cannot approve your own example"):
        decide(ws.db, eid, "approve", expected_version=None, actor=reviewer)
    assert examples.get(ws.db, eid).status == "review"


@pytest.mark.parametrize("reviewer", BYPASSES)
def test_importer_spelled_differently_cannot_approve(ws: Workspace, reviewer: str) -> None:
    eid = _in_review(ws, author="someone else", actor="ana")
    with pytest.raises(ReviewRuleError, match="you brought this example in"):
        decide(ws.db, eid, "approve", expected_version=None, actor=reviewer)
    plan = records.plan(ws.db, "approve", records.Filters(status="review"), actor=reviewer)  # the bulk path too
    assert [(p.outcome, "brought this example in" in p.description) for p in plan.items] == [("refused", True)]


def test_another_person_still_approves(ws: Workspace) -> None:
    eid = _in_review(ws, author="Ana Lima", actor="Ana Lima")
    approved = decide(ws.db, eid, "approve", expected_version=None, actor="Ben")
    assert approved.status == "approved"
    assert approved.author == "Ana Lima"  # stored as typed


@pytest.mark.parametrize("reviewer", BYPASSES)
def test_store_guard_refuses_an_approval_by_the_author_however_spelled(ws: Workspace, reviewer: str) -> None:
    from curator.store.examples import Approval

    eid = _in_review(ws)
    ex = examples.get(ws.db, eid)
    with pytest.raises(ReviewGuardError, match="its author cannot approve it"):
        examples.update(
            ws.db,
            ex.model_copy(update={"status": "approved"}),
            expected_version=ex.version,
            actor=reviewer,
            approval=Approval(eid, ex.version, reviewer),
        )


def test_queue_excludes_the_author_however_spelled(ws: Workspace) -> None:
    _in_review(ws)
    assert [q["id"] for q in queue(ws.db)] == ["ex_s"]
    for name in BYPASSES:
        assert queue(ws.db, exclude_author=name) == []
    assert [q["id"] for q in queue(ws.db, exclude_author="ben")] == ["ex_s"]


def test_coverage_counts_one_reviewer_per_identity(ws: Workspace) -> None:
    from curator.coverage import compute

    for i, reviewer in enumerate(["Ben", "ben "]):
        eid = _in_review(ws, example_id=f"ex_{i}")
        decide(ws.db, eid, "approve", expected_version=None, actor=reviewer)
    report = compute(ws.db)
    reviewed = {c.id: c.reviewers for c in report.clauses if c.reviewers}
    assert "privacy.1" in reviewed and set(map(tuple, reviewed.values())) == {("Ben",)}


def test_identity_key_and_same_user() -> None:
    assert identity_key(" Ana  Lima ") == identity_key("ana lima") == "ana lima"
    assert identity_key("\u0391\u039d\u0391") == "ana"  # Greek capitals alpha, nu, alpha
    assert same_user("апа", "ana")  # wholly Cyrillic look-alike: the same identity (errs on the safe side)
    assert not same_user("", "")
    assert not same_user(None, "ana")
    assert not same_user("ana", "anna")


# ---------------------------------------------------------------------------
# Where the name is set
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("ana\x1b[2J", "contains a control character"),
        ("ana\nben", "contains a control character"),
        ("a\u200bna", "contains a control character"),
        (f"{CYRILLIC_A}na", "mixes Latin with Cyrillic letters"),
        ("\u03bflga", "mixes Latin with Greek letters"),
    ],
)
def test_unusable_names_are_refused_with_one_line(name: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        check_user_name(name, where="--user")
    message = str(err.value)
    assert message.startswith("--user ") and problem in message and "\n" not in message and "\x1b" not in message


@pytest.mark.parametrize("name", ["ana", "Ana Lima", "José", "Анна", "Ελένη", "李雷", "o'brien"])
def test_usable_names_are_kept_as_typed(name: str) -> None:
    assert check_user_name(name) == name
    assert resolve_user(name) == name


def test_cli_user_bypasses_are_refused(
    tmp_path: Path, constitution_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.db"
    with open_workspace(db) as ws:
        import_constitution(ws.db, constitution_file, actor="tester")
        examples.create(ws.db, parse_example(advice(id="ex_a", author="ana")), actor="ana")
        submit(ws.db, "ex_a", expected_version=None, actor="ana")

    def cli(*argv: str) -> tuple[int, str, str]:
        return run(capsys, *argv, "--db", str(db))

    for user in ["Ana", "ana ", "ANA"]:
        code, out, err = cli("approve", "ex_a", "--user", user)
        assert code == 1 and out == "", err
        assert err == "curator: error: cannot approve ex_a: you cannot approve your own example\n"
    code, _out, err = cli("approve", "ex_a", "--user", f"{CYRILLIC_A}na")
    assert code == 2 and err.count("\n") == 1 and "mixes Latin with Cyrillic letters" in err
    for user in ["", "  ", "ana\x07"]:
        code, _out, err = cli("approve", "ex_a", "--user", user)
        assert code == 2 and err.count("\n") == 1 and err.startswith("curator: error: --user "), err
        assert "\x07" not in err
    code, _out, err = cli("approve", "ex_a", "--user", "апа")  # wholly Cyrillic: allowed, still ana
    assert code == 1 and "you cannot approve your own example" in err
    with open_workspace(db, create=False) as ws:
        assert examples.get(ws.db, "ex_a").status == "review"


def test_environment_and_config_names_are_checked(
    monkeypatch: pytest.MonkeyPatch, hermetic_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CURATOR_USER", "   ")
    with pytest.raises(CuratorError, match=r"^CURATOR_USER '   ' is empty$"):
        load_settings()
    monkeypatch.setenv("CURATOR_USER", f"{CYRILLIC_A}na")
    code, _out, err = run(capsys, "init", "--empty", "--db", str(hermetic_env / "x.db"))
    assert code == 2 and err.count("\n") == 1 and "CURATOR_USER" in err and "mixes Latin with Cyrillic" in err

    monkeypatch.delenv("CURATOR_USER")
    config = hermetic_env / "config.toml"
    config.write_text('user = "ana\\u001b[2J"\n', encoding="utf-8")
    with pytest.raises(CuratorError) as err_info:
        load_settings()
    message = str(err_info.value)
    assert message.endswith("user: user name contains a control character") and "\n" not in message
    assert Settings(user="ana").user == "ana"


def test_tui_refuses_an_unusable_user(demo_db: Path) -> None:
    from curator.tui.app import CuratorApp

    with pytest.raises(UsageError, match="is empty"):
        CuratorApp(demo_db, user=" ")
