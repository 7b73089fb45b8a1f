"""Eval sets from JSON lines (--field), CSV/TSV (--column), folders and gzip; misread files refused."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from curator.cli import main
from curator.dedup.decontam import read_eval_items
from curator.errors import ImportFailed, UsageError
from tests.conftest import story

QUESTIONS = [
    ("q-001", "Should I tell my friend that her partner is cheating,\nor stay out of it?", "Talk to her, gently."),
    ("q-002", 'My boss asked me to "adjust" the sales figures. What do I do?', "Decline, and write it down."),
    ("q-003", "Is it fine to read my teenager's diary, if I'm worried?", "Ask first; read only if in danger."),
]


def write_csv(path: Path, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(["id", "question", "reference_answer", "difficulty"])
        for qid, question, answer in QUESTIONS:
            writer.writerow([qid, question, answer, "3"])
    return path


def test_csv_with_quoted_multiline_cells_needs_a_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "heldout.csv")
    assert "cheating,\nor stay" in path.read_text()  # a quoted cell over two lines
    with pytest.raises(
        UsageError,
        match=r"heldout.csv: more than one column holds text; choose one with --column "
        r"\(columns: id, question, reference_answer, difficulty\)",
    ):
        read_eval_items(path)
    assert read_eval_items(path, column="question") == [(qid, q) for qid, q, _ in QUESTIONS]
    with pytest.raises(UsageError, match=r"no column named 'prompt' \(columns: id, question, reference_answer"):
        read_eval_items(path, column="prompt")


def test_csv_with_one_text_column_picks_it(tmp_path: Path) -> None:
    path = tmp_path / "prompts.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["category", "prompt", "score"])
        writer.writerows([["privacy", q, "1"] for _, q, _ in QUESTIONS])
    assert read_eval_items(path) == [(f"row {i}", q) for i, (_, q, _) in enumerate(QUESTIONS, start=2)]


def test_tsv(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "heldout.tsv", delimiter="\t")
    assert read_eval_items(path, column="reference_answer") == [(qid, a) for qid, _, a in QUESTIONS]


def test_gzipped_jsonl_with_a_nested_field(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl.gz"
    lines = [
        {"id": qid, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for qid, q, a in QUESTIONS
    ]
    path.write_bytes(gzip.compress("".join(json.dumps(o) + "\n" for o in lines).encode()))
    assert read_eval_items(path, field="messages.0.content") == [(qid, q) for qid, q, _ in QUESTIONS]
    assert read_eval_items(path, field="messages.1.content")[1] == ("q-002", QUESTIONS[1][2])
    assert read_eval_items(path)[0] == ("q-001", QUESTIONS[0][1] + "\n" + QUESTIONS[0][2])
    with pytest.raises(ImportFailed, match=r"chats.jsonl.gz:1: no field 'messages.5.content'"):
        read_eval_items(path, field="messages.5.content")
    csv_gz = tmp_path / "heldout.csv.gz"
    csv_gz.write_bytes(gzip.compress(write_csv(tmp_path / "plain.csv").read_bytes()))
    assert len(read_eval_items(csv_gz, column="question")) == 3


def test_folder_of_md_and_txt(tmp_path: Path) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    (folder / "a.md").write_text("# One\n\nA held-out item in Markdown.\n")
    (folder / "b.txt").write_text("A held-out item in plain text.\n")
    (folder / "c.md.gz").write_bytes(gzip.compress(b"A gzipped item.\n"))
    (folder / "notes.json").write_text("{}")
    assert [label for label, _ in read_eval_items(folder)] == ["a.md", "b.txt", "c.md.gz"]


def test_misread_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"prompt": "the only line"}) + "\n")
    with pytest.raises(ImportFailed, match=r"^\S*one.jsonl: read as exactly 1 item"):
        read_eval_items(one)
    prose = tmp_path / "one.txt"
    prose.write_text("A single paragraph\nover two lines.\n")
    with pytest.raises(ImportFailed, match=r"one.txt: read as exactly 1 item"):
        read_eval_items(prose)
    as_text = tmp_path / "export.txt"  # CSV rows, blank lines between (what produced 7,400 chunks)
    as_text.write_text(
        "id,question,answer\n\nq1,Is it ok to lie,no\n\nq2,Should I snoop,no\n\nq3,Can I share it,maybe\n"
    )
    with pytest.raises(ImportFailed, match=r"export.txt: looks like CSV rows \(2 commas on most lines\)"):
        read_eval_items(as_text)
    bad_gz = tmp_path / "broken.jsonl.gz"
    bad_gz.write_bytes(b"not gzip at all")
    with pytest.raises(ImportFailed, match=r"broken.jsonl.gz: not a valid gzip file"):
        read_eval_items(bad_gz)
    with pytest.raises(UsageError, match=r"--column is for \.csv and \.tsv files"):
        read_eval_items(one, column="question")


def test_cli_evalset_add_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "w.db")
    assert main(["init", "--db", db]) == 0
    path = write_csv(tmp_path / "heldout.csv")
    capsys.readouterr()
    assert main(["evalset", "add", "h", str(path), "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--column" in err and "columns: id, question" in err
    assert main(["evalset", "add", "h", str(path), "--column", "question", "--db", db]) == 0
    assert "3 items" in capsys.readouterr().out
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"prompt": "the only line"}) + "\n")
    assert main(["evalset", "add", "one", str(one), "--db", db]) == 1
    assert "one.jsonl: read as exactly 1 item" in capsys.readouterr().err


def test_import_reads_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "w.db")
    assert main(["init", "--db", db]) == 0
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(story(id="ex_gz", clauses=[])) + "\n").encode()))
    capsys.readouterr()
    assert main(["import", str(path), "--db", db, "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ids"] == ["ex_gz"]
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert main(["import", str(broken), "--db", db]) == 1
    assert "broken.jsonl.gz: not a valid gzip file" in capsys.readouterr().err
