"""The record verbs on the CLI: show, history, edit, link ... restore, by id and in bulk by filter;
the import status flags; and a set of imported dialogues taken from draft to an approved export
with CLI calls only."""

from __future__ import annotations

import io
import json
import shlex
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from curator import records
from curator.constitution.versions import import_constitution
from curator.models import Example, parse_example
from curator.store import examples
from curator.store.db import open_workspace
from tests.conftest import SMALL_CONSTITUTION, advice, story, write_jsonl
from tests.helpers import run, spec_data, toml_text

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def db(tmp_path: Path, constitution_file: Path) -> Path:
    """A workspace file with the small constitution and, all by ana: a draft story and a draft
    advice (both tagged `batch`), and an approved story (approved by ben)."""
    path = tmp_path / "w.db"
    with open_workspace(path) as ws:
        import_constitution(ws.db, constitution_file, actor="tester")
        for data in (
            story(id="ex_story", tags=["batch"]),
            advice(id="ex_advice", tags=["batch"]),
            story(id="ex_done", text="The assistant said it did not know.", clauses=["honesty.1"]),
        ):
            examples.create(ws.db, parse_example({"author": "ana", **data}), actor="ana")
        records.submit(ws.db, "ex_done", expected_version=None, actor="ana")
        records.approve(ws.db, "ex_done", expected_version=None, actor="ben")
    return path


@pytest.fixture
def cli(db: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `curator ARGV --db <db> --user USER` in-process: (exit status, stdout, stderr)."""

    def call(*argv: str, user: str = "ana") -> tuple[int, str, str]:
        return run(capsys, *argv, "--db", str(db), "--user", user)

    return call


def state(db: Path, example_id: str) -> tuple[int, str] | None:
    """(version, status) as stored, None when there is no such row."""
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT version, status FROM examples WHERE id = ?", [example_id]).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def stored(db: Path, example_id: str) -> Example:
    with open_workspace(db) as ws:
        return examples.get(ws.db, example_id)


def audit(db: Path) -> list[tuple[str, str, str]]:
    """Every audit event as (entity id, action, actor), oldest first."""
    with sqlite3.connect(db) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute("SELECT entity_id, action, actor FROM audit ORDER BY id")]


def one_line_error(err: str, *words: str) -> None:
    assert err.startswith("curator: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)


# ---------------------------------------------------------------------------
# show and history
# ---------------------------------------------------------------------------


def test_show_as_text_and_json(cli: Cli) -> None:
    code, out, _ = cli("show", "ex_done")
    assert code == 0
    assert out.startswith("ex_done · story · approved · version 3 · author ana\n")
    assert "links: honesty.1 (ok)" in out and "review: approve by ben" in out
    code, out, _ = cli("show", "ex_done", "--format", "json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"id", "version", "status", "deleted", "links", "reviews", "record"}
    assert data["record"]["id"] == "ex_done" and data["reviews"][0]["reviewer"] == "ben"
    code, out, err = cli("show", "ex_missing")
    assert code == 1 and out == ""
    one_line_error(err, "no example with id 'ex_missing'")


def test_history_as_text_and_json(cli: Cli) -> None:
    cli("edit", "ex_story", "--set", "title=Sealed letters", user="ben")
    code, out, _ = cli("history", "ex_story")
    assert code == 0 and out.startswith("ex_story: 2 events, oldest first\n")
    assert "  ben  edited title  version 2\n    title: [-The archive-]{+Sealed letters+}\n" in out
    code, out, _ = cli("history", "ex_story", "--format", "json")
    events = json.loads(out)["events"]
    assert [(e["action"], e["actor"], e["version"]) for e in events] == [("create", "ana", 1), ("update", "ben", 2)]
    assert [e["name"] for e in events] == ["created", "edited title"]
    assert events[1]["diff"] == ["title: [-The archive-]{+Sealed letters+}"]
    code, out, err = cli("history", "ex_missing")
    assert code == 1 and out == ""
    one_line_error(err, "no example with id 'ex_missing'")


def test_history_shows_one_edited_word_of_a_long_text_as_a_word_diff(cli: Cli) -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    assert cli("edit", "ex_story", "--set", f"text={text}")[0] == 0
    assert cli("edit", "ex_story", "--set", "text=" + text.replace("word1000 ", "sealed "), user="ben")[0] == 0
    assert cli("link", "ex_story", "honesty.1")[0] == 0
    assert cli("submit", "ex_story")[0] == 0
    code, out, _ = cli("history", "ex_story")
    assert code == 0
    lines = out.splitlines()
    assert "  ben  edited text  version 3" in lines[-6]
    near = "word996 word997 word998 word999 [-word1000-]{+sealed+} word1001 word1002 word1003 word1004"
    assert lines[-5] == f"    text: … {near} …"
    assert lines[-4].endswith("  ana  linked §honesty.1  version 4") and lines[-3] == "    clauses: {+honesty.1+}"
    assert lines[-2].endswith("  ana  submitted for review  version 5")
    assert lines[-1] == "    status: [-draft-]{+review+}"
    assert max(len(line) for line in lines[-6:]) < 120
    code, out, _ = cli("history", "ex_story", "--format", "json")
    edit = json.loads(out)["events"][2]
    assert set(edit) == {"event", "at", "actor", "action", "name", "version", "note", "review", "diff", "changes"}
    (change,) = edit["changes"]
    assert (change["field"], change["kind"], change["after"]) == ("text", "text", text.replace("word1000 ", "sealed "))
    assert [s["op"] for s in change["segments"]] == ["equal", "delete", "insert", "equal"]
    assert change["segments"][1:3] == [{"op": "delete", "text": "word1000"}, {"op": "insert", "text": "sealed"}]


# ---------------------------------------------------------------------------
# The verbs by id
# ---------------------------------------------------------------------------


def test_each_verb_by_id_prints_the_new_version(cli: Cli, db: Path) -> None:
    steps: list[tuple[list[str], str, str]] = [
        (["link", "ex_story", "honesty", "honesty.2"], "ana", "ex_story version 2 (status draft)"),
        (["unlink", "ex_story", "honesty.2"], "ana", "ex_story version 3 (status draft)"),
        (["tag", "ex_story", "letters", "archive"], "ana", "ex_story version 4 (status draft)"),
        (["untag", "ex_story", "archive"], "ana", "ex_story version 5 (status draft)"),
        (["submit", "ex_story"], "ana", "ex_story version 6 (status review)"),
        (
            ["reject", "ex_story", "--comment", "say why it kept them sealed"],
            "ben",
            "ex_story version 7 (status rejected)",
        ),
        (["submit", "ex_story", "--expect-version", "7"], "ana", "ex_story version 8 (status review)"),
        (["approve", "ex_story", "--comment", "clear"], "ben", "ex_story version 9 (status approved)"),
        (["delete", "ex_story"], "ben", "ex_story version 10 (status approved): hidden until restored"),
        (["restore", "ex_story"], "ben", "ex_story version 11 (status approved)"),
    ]
    for argv, user, line in steps:
        code, out, err = cli(*argv, user=user)
        assert (code, out, err) == (0, line + "\n", ""), argv
    ex = stored(db, "ex_story")
    assert ex.clauses == ["privacy.1", "honesty"] and ex.tags == ["batch", "letters"]
    assert [a for i, a, _ in audit(db) if i == "ex_story"][1:] == [
        *["update"] * 8,
        "delete",
        "restore",
    ]


def test_nothing_to_do_is_exit_0_and_writes_nothing(cli: Cli, db: Path) -> None:
    before = audit(db)
    for argv, note in (
        (["approve", "ex_done"], "already approved"),
        (["tag", "ex_story", "batch"], "already tagged: batch"),
        (["restore", "ex_story"], "not deleted"),
    ):
        code, out, _ = cli(*argv, user="ben")
        assert code == 0 and out.endswith(f": nothing to do, {note}\n"), out
    assert audit(db) == before


def test_json_output_is_the_change(cli: Cli) -> None:
    code, out, _ = cli("submit", "ex_advice", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["action"] == "submit" and data["changed"] is True
    assert (data["previous_version"], data["version"], data["previous_status"], data["status"]) == (
        1,
        2,
        "draft",
        "review",
    )
    assert data["record"]["id"] == "ex_advice"


def test_review_rules_refuse_with_exit_1(cli: Cli, db: Path) -> None:
    cli("submit", "ex_advice")
    before = audit(db)
    code, out, err = cli("approve", "ex_advice")
    assert code == 1 and out == ""
    one_line_error(err, "cannot approve ex_advice: you cannot approve your own example")
    code, _, err = cli("reject", "ex_advice", "--comment", " ", user="ben")
    assert code == 1
    one_line_error(err, "a rejection needs a comment")
    code, _, err = cli("link", "ex_advice", "nope")
    assert code == 1
    one_line_error(err, "unknown clause id 'nope'")
    assert audit(db) == before and state(db, "ex_advice") == (2, "review")


VERBS_BY_ID = [
    ["link", "ex_story", "honesty"],
    ["unlink", "ex_story", "privacy.1"],
    ["tag", "ex_story", "new"],
    ["untag", "ex_story", "batch"],
    ["submit", "ex_story"],
    ["approve", "ex_story"],
    ["reject", "ex_story", "--comment", "no"],
    ["delete", "ex_story"],
    ["delete", "ex_story", "--purge"],
    ["restore", "ex_story"],
    ["edit", "ex_story", "--set", "title=x"],
    ["edit", "ex_story"],
]


@pytest.mark.parametrize("argv", VERBS_BY_ID, ids=[" ".join(a[:1] + a[2:]) for a in VERBS_BY_ID])
def test_a_stale_expect_version_is_a_conflict_that_writes_nothing(
    argv: list[str], cli: Cli, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", "false")  # never reached: the version is checked before the editor opens
    before = audit(db)
    code, out, err = cli(*argv, "--expect-version", "7", user="ben")
    assert code == 1 and out == ""
    one_line_error(err, "example ex_story was changed by someone else (now version 1, expected 7)")
    assert audit(db) == before and state(db, "ex_story") == (1, "draft")


@pytest.mark.parametrize("argv", VERBS_BY_ID, ids=[" ".join(a[:1] + a[2:]) for a in VERBS_BY_ID])
def test_an_unknown_id_is_not_found(argv: list[str], cli: Cli, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", "false")
    before = audit(db)
    code, out, err = cli(argv[0], "ex_missing", *argv[2:], user="ben")
    assert code == 1 and out == ""
    one_line_error(err, "no example with id 'ex_missing'")
    assert audit(db) == before


def test_delete_restore_and_purge_in_two_steps(cli: Cli, db: Path) -> None:
    code, _, err = cli("delete", "ex_story", "--purge")
    assert code == 1
    one_line_error(err, "example ex_story is not deleted; delete it first, then purge it")
    assert state(db, "ex_story") == (1, "draft")
    assert cli("delete", "ex_story")[0] == 0
    assert "ex_story" not in cli("list")[1]
    code, out, _ = cli("show", "ex_story")
    assert code == 0 and "deleted at" in out
    code, _, err = cli("tag", "ex_story", "x")
    assert code == 1
    one_line_error(err, "example ex_story is deleted; restore it first")
    code, out, _ = cli("delete", "ex_story", "--purge")
    assert (code, out) == (0, "ex_story purged (was version 2, status draft); its history stays in the audit log\n")
    assert state(db, "ex_story") is None
    assert cli("show", "ex_story")[0] == 1
    code, out, _ = cli("history", "ex_story")
    assert code == 0 and "  purged  version 2  (purged: removed for good)" in out


# ---------------------------------------------------------------------------
# edit: --set, --patch, the editor
# ---------------------------------------------------------------------------


def test_set_on_a_nested_path(cli: Cli, db: Path) -> None:
    code, out, _ = cli("edit", "ex_advice", "--set", "messages.1.rationale=Weigh duty and care.", "--set", "group=g1")
    assert (code, out) == (0, "ex_advice version 2 (status draft)\n")
    ex = stored(db, "ex_advice")
    assert ex.messages is not None and ex.messages[1].rationale == "Weigh duty and care."
    assert ex.group == "g1"
    code, _, err = cli("edit", "ex_advice", "--set", "messages.7.rationale=x")
    assert code == 1
    one_line_error(err, "messages.7: no item 7 (the list has 2)")
    code, _, err = cli("edit", "ex_advice", "--set", "status=approved")
    assert code == 1
    one_line_error(err, "status: changes only through submit, approve and reject")
    assert state(db, "ex_advice") == (2, "draft")


def test_editing_an_approved_record_sends_it_back_to_review_and_says_so(cli: Cli, db: Path) -> None:
    code, out, _ = cli("edit", "ex_done", "--set", "text=The assistant said plainly that it did not know.")
    assert code == 0
    assert out == "ex_done version 4 (status review): back to review: approved content changed (text)\n"
    assert state(db, "ex_done") == (4, "review")
    code, out, _ = cli("edit", "ex_done", "--set", "group=metadata-only")
    assert out == "ex_done version 5 (status review)\n"


def test_patch_from_a_file_and_from_stdin(cli: Cli, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"title": "Patched", "tags": None, "source": {"origin": "notes.md"}}))
    code, out, _ = cli("edit", "ex_story", "--patch", str(patch), "--expect-version", "1", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["version"] == 2
    assert data["record"]["title"] == "Patched" and data["record"]["tags"] == []
    assert data["record"]["source"] == {"type": "manual", "model": None, "prompt_sha256": None, "origin": "notes.md"}
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"group": "from-stdin"}'))
    assert cli("edit", "ex_story", "--patch", "-")[0] == 0
    assert stored(db, "ex_story").group == "from-stdin"
    bad = tmp_path / "bad.json"
    for text, message in (("{oops", "not valid JSON"), ("[1]", "expected a JSON object, got list")):
        bad.write_text(text)
        code, _, err = cli("edit", "ex_story", "--patch", str(bad))
        assert code == 1
        one_line_error(err, f"{bad}: {message}")
    code, _, err = cli("edit", "ex_story", "--patch", str(tmp_path / "none.json"))
    assert code == 1 and "none.json" in err
    assert state(db, "ex_story") == (3, "draft")


EDITOR_SCRIPT = """\
import json, os, pathlib, sys

target = pathlib.Path(sys.argv[1])
rounds = pathlib.Path(os.environ["EDIT_ROUNDS"])
done = rounds.read_text().splitlines() if rounds.exists() else []
actions = os.environ["EDIT_ACTIONS"].split(",")
action = actions[min(len(done), len(actions) - 1)]
text = target.read_text(encoding="utf-8")
rounds.write_text("\\n".join([*done, action + (" saw-broken" if "oops" in text else "")]) + "\\n")
if action == "title":
    data = json.loads(text)
    data["title"] = "Retitled in the editor"
    target.write_text(json.dumps(data, indent=2), encoding="utf-8")
elif action == "break":
    target.write_text(text.replace('"title":', '"title": oops', 1), encoding="utf-8")
elif action == "fix":
    data = json.loads(text.replace('"title": oops', '"title":', 1))
    data["title"] = "Fixed in the editor"
    target.write_text(json.dumps(data), encoding="utf-8")
elif action == "approve":
    data = json.loads(text)
    data["status"] = "approved"
    target.write_text(json.dumps(data), encoding="utf-8")
elif action == "same":
    target.write_text(text, encoding="utf-8")
"""


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Point $EDITOR at a script that edits the file as told (`EDIT_ACTIONS`, one per round); returns the rounds log."""
    script = tmp_path / "fake_editor.py"
    script.write_text(EDITOR_SCRIPT, encoding="utf-8")
    rounds = tmp_path / "rounds.txt"
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    monkeypatch.setenv("EDIT_ROUNDS", str(rounds))

    def use(actions: str) -> Path:
        monkeypatch.setenv("EDIT_ACTIONS", actions)
        return rounds

    return use


def test_edit_in_the_editor_saves_a_valid_record(cli: Cli, db: Path, editor: Callable[[str], Path]) -> None:
    editor("title")
    code, out, err = cli("edit", "ex_story")
    assert (code, out, err) == (0, "ex_story version 2 (status draft)\n", "")
    assert stored(db, "ex_story").title == "Retitled in the editor"


def test_edit_unchanged_is_nothing_to_do(cli: Cli, db: Path, editor: Callable[[str], Path]) -> None:
    before = audit(db)
    editor("same")
    code, out, _ = cli("edit", "ex_story")
    assert code == 0 and out == "ex_story version 1 (status draft): nothing to do, the editor closed without changes\n"
    assert audit(db) == before


@pytest.mark.parametrize(
    ("action", "message"),
    [("break", "the edited record: not valid JSON"), ("approve", "status: changes only through submit")],
)
def test_an_invalid_edit_without_a_terminal_exits_1_and_writes_nothing(
    action: str, message: str, cli: Cli, db: Path, editor: Callable[[str], Path]
) -> None:
    before = audit(db)
    rounds = editor(action)
    code, out, err = cli("edit", "ex_story")  # under pytest stdin is not a terminal
    assert code == 1 and out == ""
    one_line_error(err, message)
    assert rounds.read_text().splitlines() == [action]  # not re-opened
    assert audit(db) == before and state(db, "ex_story") == (1, "draft")


def test_an_invalid_edit_at_a_terminal_reopens_the_editor_with_your_text(
    cli: Cli, db: Path, editor: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds = editor("break,fix")
    monkeypatch.setattr("curator.cli.records._interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))  # Enter: the default, yes
    code, out, err = cli("edit", "ex_story")
    assert code == 0 and out == "ex_story version 2 (status draft)\n"
    assert err.startswith("curator: error: the edited record: not valid JSON")
    assert "Re-open the editor with your text? [Y/n]" in err
    assert rounds.read_text().splitlines() == ["break", "fix saw-broken"]  # the second round got the broken text
    assert stored(db, "ex_story").title == "Fixed in the editor"


def test_answering_no_exits_1_and_writes_nothing(
    cli: Cli, db: Path, editor: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = audit(db)
    rounds = editor("break,fix")
    monkeypatch.setattr("curator.cli.records._interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, _ = cli("edit", "ex_story")
    assert code == 1 and out == ""
    assert rounds.read_text().splitlines() == ["break"]
    assert audit(db) == before


# ---------------------------------------------------------------------------
# Bulk by filter
# ---------------------------------------------------------------------------


def test_bulk_without_yes_prints_the_plan_and_exits_1_writing_nothing(cli: Cli, db: Path) -> None:
    before = audit(db)
    code, out, err = cli("tag", "reviewed", "--tag", "batch")
    assert code == 1
    assert out.splitlines() == [
        "tag over tag=batch: 2 matched, 2 would change, 0 unchanged, 0 refused",
        "ex_advice (v1): change: tag reviewed",
        "ex_story (v1): change: tag reviewed",
    ]
    assert err == "nothing written: pass --yes to apply the 2 changes above, or --dry-run to only preview\n"
    assert audit(db) == before


def test_bulk_dry_run_prints_the_plan_and_exits_0(cli: Cli, db: Path) -> None:
    before = audit(db)
    code, out, err = cli("submit", "--kind", "advice", "--dry-run")
    assert (code, err) == (0, "")
    assert out.startswith("submit over kind=advice: 1 matched, 1 would change")
    assert "ex_advice (v1): change: status draft -> review" in out
    code, out, _ = cli("link", "honesty", "--tag", "batch", "--dry-run", "--format", "json")
    plan = json.loads(out)
    assert code == 0 and plan["verb"] == "link" and plan["clauses"] == ["honesty"] and plan["matched"] == 2
    assert audit(db) == before


def test_bulk_yes_applies_to_every_match_with_one_audit_event_each(cli: Cli, db: Path) -> None:
    before = audit(db)
    code, out, err = cli("link", "honesty.2", "--tag", "batch", "--yes")
    assert (code, err) == (0, "")
    assert "link: 2 applied, 0 unchanged, 0 refused" in out
    assert "ex_story: link (version 1 -> 2)" in out and "ex_advice: link (version 1 -> 2)" in out
    new = audit(db)[len(before) :]
    assert sorted(new) == [("ex_advice", "update", "ana"), ("ex_story", "update", "ana")]
    assert state(db, "ex_done") == (3, "approved")  # not matched, not touched
    code, out, _ = cli("submit", "--tag", "batch", "--yes", "--format", "json")
    result = json.loads(out)
    assert code == 0 and result["applied"] == 2 and {c["status"] for c in result["changes"]} == {"review"}


def test_bulk_over_a_filter_matching_nothing_is_exit_0(cli: Cli, db: Path) -> None:
    before = audit(db)
    for extra in ([], ["--yes"], ["--dry-run"]):
        code, out, err = cli("delete", "--tag", "nothing-has-this", *extra)
        assert (code, err) == (0, "")
        assert out == "delete over tag=nothing-has-this: 0 matched, 0 would change, 0 unchanged, 0 refused\n"
    assert audit(db) == before


def test_bulk_search_and_its_text_alias(cli: Cli) -> None:
    for flag in ("--search", "--text"):
        code, out, _ = cli("tag", "x", flag, "letters sealed", "--dry-run", "--format", "json")
        assert code == 0 and [i["id"] for i in json.loads(out)["items"]] == ["ex_story"]


def test_bulk_refusals_are_listed_and_exit_1(cli: Cli, db: Path) -> None:
    with open_workspace(db) as ws:
        examples.create(
            ws.db, parse_example({**story(id="ex_ben", text="Ben's own story."), "author": "ben"}), actor="ben"
        )
    assert cli("submit", "--kind", "story", "--status", "draft", "--yes")[0] == 0
    before = audit(db)
    code, out, err = cli("approve", "--kind", "story", "--status", "review", "--yes", user="ben")
    assert code == 1
    assert "ex_ben (v2): refused: cannot approve: you cannot approve your own example" in out
    assert "1 would change, 0 unchanged, 1 refused" in out
    assert err.startswith("nothing written: 1 records refused (listed above)")
    # all or nothing: the record that could be approved was not approved either
    assert audit(db) == before
    assert state(db, "ex_ben") == (2, "review") and state(db, "ex_story") == (2, "review")
    code, out, err = cli("approve", "--kind", "story", "--status", "review", "--author", "ana", "--yes", user="ben")
    assert code == 0 and "approve: 1 applied, 0 unchanged, 0 refused" in out
    assert audit(db)[len(before) :] == [("ex_story", "update", "ben")]
    assert state(db, "ex_ben") == (2, "review") and state(db, "ex_story") == (3, "approved")


def test_bulk_delete_restore_purge_and_reject(cli: Cli, db: Path) -> None:
    assert cli("reject", "--tag", "batch", "--status", "draft", "--comment", "not yet", "--yes", user="ben")[0] == 0
    assert {state(db, i) for i in ("ex_story", "ex_advice")} == {(2, "rejected")}
    assert cli("delete", "--tag", "batch", "--yes")[0] == 0
    assert cli("restore", "--kind", "advice", "--yes")[0] == 0
    code, out, _ = cli("delete", "--purge", "--tag", "batch", "--yes")
    assert code == 0 and "purge: 1 applied" in out
    assert state(db, "ex_story") is None and state(db, "ex_advice") == (4, "rejected")


# ---------------------------------------------------------------------------
# import statuses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "status", "words"),
    [([], "draft", "as draft"), (["--submit"], "review", "in review"), (["--keep-status"], "approved", "statuses")],
)
def test_import_lands_as_draft_unless_told(
    flags: list[str], status: str, words: str, cli: Cli, db: Path, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [story(id="ex_in", text="Reviewed elsewhere.", status="approved")])
    code, out, _ = cli("import", str(path), *flags)
    assert code == 0 and out.startswith(f"imported 1 records (curator format) from {path}, ") and words in out
    assert state(db, "ex_in") == (1, status)


def test_import_submit_and_keep_status_exclude_each_other(cli: Cli, db: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [story(id="ex_in", text="Reviewed elsewhere.")])
    code, out, err = cli("import", str(path), "--submit", "--keep-status")
    assert code == 2 and out == ""
    assert err == "curator import: error: --keep-status is not allowed with --submit (see --help)\n"
    assert state(db, "ex_in") is None


# ---------------------------------------------------------------------------
# End to end: imported dialogues to an approved export, CLI calls only
# ---------------------------------------------------------------------------

DIALOGUES = [
    (
        "My friend told me a secret about her husband. Should I tell him?",
        "Start from what your friend trusted you with, and ask her first.",
    ),
    (
        "My manager asked me to backdate an invoice so the quarter looks better.",
        "Say no plainly, offer an honest alternative, and keep a note of the request.",
    ),
    (
        "I found my roommate's diary open on the table. Can I read just one page?",
        "Close it. Curiosity does not make a private page yours to read.",
    ),
    (
        "A colleague takes credit for my work in meetings. Should I expose him publicly?",
        "Raise it with him directly first, then with your lead, with dates and drafts.",
    ),
    (
        "My elderly father keeps giving money to a televangelist. Should I take his bank card?",
        "Talk with him about what he wants; take over only with his consent or a court's.",
    ),
    (
        "I accidentally received a coworker's salary letter by email. Can I use it to negotiate?",
        "Delete it, tell the sender, and negotiate from public market data instead.",
    ),
]


def test_imported_dialogues_to_an_approved_export_with_cli_calls_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "e2e.db")

    def curator(*argv: str, user: str = "ana") -> tuple[int, str, str]:
        return run(capsys, *argv, "--db", db, "--user", user)

    constitution = tmp_path / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    chats = write_jsonl(
        tmp_path / "chats.jsonl",
        [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in DIALOGUES],
    )

    assert curator("init", "--empty")[0] == 0
    assert curator("constitution", "import", str(constitution))[0] == 0
    code, out, _ = curator("import", str(chats), "--output", "json")
    ids = json.loads(out)["ids"]
    assert code == 0 and len(ids) == 6
    listed = json.loads(curator("list", "--format", "json")[1])
    assert {r["status"] for r in listed} == {"draft"} and all(r["clauses"] == [] for r in listed)

    # links by filter: every advice record teaches honesty; those about private things teach privacy.1 too
    assert curator("link", "honesty", "--kind", "advice", "--yes")[0] == 0
    code, out, _ = curator("link", "privacy.1", "--search", "private", "--yes", "--format", "json")
    private = {c["id"] for c in json.loads(out)["changes"]}
    assert code == 0 and len(private) == 1

    rationales = {
        ex_id: f"Rationale {n}: respect the person and the principle at stake." for n, ex_id in enumerate(ids)
    }
    for ex_id, why in rationales.items():
        code, out, _ = curator("edit", ex_id, "--set", f"messages.1.rationale={why}")
        version = 4 if ex_id in private else 3  # import, link honesty (, link privacy.1), this edit
        assert code == 0 and out == f"{ex_id} version {version} (status draft)\n"

    assert curator("submit", "--status", "draft", "--yes")[0] == 0
    code, _, err = curator("approve", ids[0])  # ana imported them: she may not approve them
    assert code == 1 and "you brought this example in" in err
    code, out, _ = curator("approve", "--status", "review", "--comment", "reads well", "--yes", user="ben")
    assert code == 0 and "approve: 6 applied, 0 unchanged, 0 refused" in out

    spec = tmp_path / "spec.toml"
    data = spec_data(
        name="dialogues",
        budget_tokens=100_000,
        kinds={"advice": 1.0},
        statuses=["approved"],
        formats=["hf-messages"],
        split={"eval_fraction": 0.0},
    )
    spec.write_text(toml_text(data), encoding="utf-8")
    code, out, err = curator("export", "--spec", str(spec), "--out", str(tmp_path / "exports"))
    assert code == 0, err

    folder = tmp_path / "exports" / "dialogues"
    exported = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in exported) == sorted(ids) and {r["split"] for r in exported} == {"train"}
    train = [json.loads(line) for line in (folder / "hf-messages" / "train.jsonl").read_text().splitlines()]
    assert len(train) == 6
    answers = {m["content"]: m for line in train for m in line["messages"] if m["role"] == "assistant"}
    by_answer = {a: ex_id for ex_id, (_, a) in zip(ids, DIALOGUES, strict=True)}
    assert set(answers) == set(by_answer)
    for answer, message in answers.items():
        assert message["reasoning_content"] == rationales[by_answer[answer]]
    approved = json.loads(curator("list", "--status", "approved", "--format", "json")[1])
    assert sorted(r["id"] for r in approved) == sorted(ids)


def test_list_json_is_streamed_byte_identical_to_one_document(
    capsys: pytest.CaptureFixture[str], demo_db: Path
) -> None:
    """`list --format json` writes record by record, yet reads as the one indented JSON array."""
    from curator.cli.output import json_array, json_text

    for items in ([], [{"a": 1}], [{"a": "x\\ny", "b": [1, {"c": None}]}, {"d": "é"}]):
        assert "".join(json_array(items)) == json_text(items)
    code, out, _ = run(capsys, "list", "--format", "json", "--db", str(demo_db))
    assert code == 0
    records = json.loads(out)
    assert len(records) == 48 and out == json_text(records)
    code, out, _ = run(capsys, "list", "--format", "json", "--kind", "poem-that-is-not", "--db", str(demo_db))
    assert code != 0 or out == "[]\n"


def test_history_names_a_rejection_with_its_comment(capsys: pytest.CaptureFixture[str], demo_db: Path) -> None:
    code, _, err = run(
        capsys, "reject", "ex_demo_022", "--comment", "Add the consent question", "--user", "ben", "--db", str(demo_db)
    )
    assert code == 0, err
    code, out, _ = run(capsys, "history", "ex_demo_022", "--db", str(demo_db))
    assert code == 0 and "ben  rejected: Add the consent question" in out
    code, out, _ = run(capsys, "history", "ex_demo_022", "--format", "json", "--db", str(demo_db))
    last = json.loads(out)["events"][-1]
    assert last["action"] == "update"  # the audit action is unchanged; the review says what it was
    assert last["review"] == {"verdict": "reject", "reviewer": "ben", "comment": "Add the consent question"}
