"""hh-rlhf pairs keep the rejected answer as an alternative of the chosen one, when both share the dialogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator.errors import ReviewGuardError
from curator.importer import import_file
from curator.review import ReviewRuleError, decide, submit
from curator.store import examples
from curator.store.db import Workspace
from tests.conftest import write_jsonl
from tests.helpers import run

PREFIX = (
    "\n\nHuman: What kind of noises did dinosaurs make?"
    "\n\nAssistant: Humans and dinosaurs didn’t live at the same time, so it’s hard to say. "
    "The best place to find out would be a museum."
    "\n\nHuman: yes they did"
)
MULTI_TURN = {
    "chosen": PREFIX + "\n\nAssistant: to guess, and that would probably require lots of reading and some imagination.",
    "rejected": PREFIX + "\n\nAssistant: there is no way to know for sure, but some were probably loud.",
}
IDENTICAL = {
    "chosen": "\n\nHuman: What is a good name for a cat?\n\nAssistant: Whiskers is a classic.",
    "rejected": "\n\nHuman: What is a good name for a cat?\n\nAssistant: Whiskers is a classic.",
}
DIFFERENT_PREFIX = {
    "chosen": "\n\nHuman: How do I pick a lock?\n\nAssistant: Why do you want to?"
    "\n\nHuman: I locked myself out.\n\nAssistant: Call a locksmith; they can verify it is your home.",
    "rejected": "\n\nHuman: How do I pick a lock?\n\nAssistant: Use a tension wrench and a pick.",
}


def test_the_rejected_final_answer_becomes_an_alternative_of_the_chosen_one(ws: Workspace, tmp_path: Path) -> None:
    report = import_file(ws.db, write_jsonl(tmp_path / "hh.jsonl", [MULTI_TURN]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert ex.messages is not None and [m.role for m in ex.messages] == ["user", "assistant", "user", "assistant"]
    assert ex.messages[3].content.startswith("to guess")  # type: ignore[union-attr]
    (alt,) = ex.messages[3].alternatives or []
    assert alt.content == "there is no way to know for sure, but some were probably loud."
    assert alt.why_not is None and alt.source == "hh rejected"
    assert ex.messages[1].alternatives is None  # nothing on the earlier, shared turn
    assert report.warnings == []


def test_identical_chosen_and_rejected_keep_no_alternative(ws: Workspace, tmp_path: Path) -> None:
    report = import_file(ws.db, write_jsonl(tmp_path / "hh.jsonl", [IDENTICAL]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert ex.messages is not None and ex.messages[1].alternatives is None
    assert [(w.line, w.message) for w in report.warnings] == [
        (1, "rejected answer is the same as the chosen one: nothing to keep")
    ]


def test_a_rejected_transcript_with_another_dialogue_is_never_attached(ws: Workspace, tmp_path: Path) -> None:
    report = import_file(ws.db, write_jsonl(tmp_path / "hh.jsonl", [DIFFERENT_PREFIX]), actor="ana")
    ex = examples.get(ws.db, report.imported[0])
    assert ex.messages is not None and all(m.alternatives is None for m in ex.messages)
    (warning,) = report.warnings
    assert warning.line == 1 and "differ" in warning.message and "not kept" in warning.message


def test_the_import_summary_warns_about_differing_prefixes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "hh.jsonl", [MULTI_TURN, DIFFERENT_PREFIX])
    db = str(tmp_path / "w.db")
    assert run(capsys, "--db", db, "init", "--empty")[0] == 0
    code, out, err = run(capsys, "--db", db, "import", str(path))
    assert code == 0, err
    assert "imported 2 records" in out
    assert f"warning {path}:2: rejected transcript" in out
    code, out, _ = run(capsys, "--db", db, "list", "--format", "json")
    assert sum(len(m.get("alternatives", [])) for r in json.loads(out) for m in r["messages"]) == 1


def test_a_kept_rejected_answer_needs_a_why_not_before_approval(ws: Workspace, tmp_path: Path) -> None:
    line = {**MULTI_TURN, "clauses": ["honesty"], "rationale": "Admit what is not known."}
    report = import_file(ws.db, write_jsonl(tmp_path / "hh.jsonl", [line]), actor="ana")
    ex = submit(ws.db, report.imported[0], expected_version=None, actor="ana")
    assert ex.messages is not None and ex.messages[3].rationale
    with pytest.raises((ReviewRuleError, ReviewGuardError), match=r"why-not \(missing on turn.alternative 4.1\)"):
        decide(ws.db, ex.id, "approve", expected_version=None, actor="ben")
