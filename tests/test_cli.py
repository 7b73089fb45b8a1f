"""The headless CLI end to end: commands, JSON shapes, errors as one line with the right exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from curator import paths
from curator.cli import cli
from tests.conftest import story, write_jsonl
from tests.helpers import run


def walk(command: click.Command = cli, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


def test_every_command_and_option_has_help() -> None:
    for path, command in walk():
        assert command.help, f"curator {' '.join(path)} has no description"
        assert command.get_short_help_str(), f"curator {' '.join(path)} has no summary for its group's list"
        for param in command.params:
            assert param.help, f"curator {' '.join(path)}: {param.opts} lacks help"


def test_init_then_list_prints_the_demo_records(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    code, out, _ = run(capsys, "init", "--db", db)
    assert code == 0 and "demo workspace" in out
    code, out, _ = run(capsys, "list", "--db", db, "--format", "json")
    records = json.loads(out)
    demo_lines = [line for line in paths.demo_corpus_file().read_text().split("\n") if line.strip()]
    assert len(records) == len(demo_lines) >= 40
    assert {r["kind"] for r in records} == {"story", "advice", "document", "agentic"}
    assert all(set(r) >= {"id", "kind", "title", "status", "clauses", "source", "version"} for r in records)


def test_list_filters_and_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    run(capsys, "init", "--db", db)
    _, out, _ = run(capsys, "list", "--db", db, "--kind", "agentic", "--status", "approved", "--format", "json")
    assert out and all(r["kind"] == "agentic" and r["status"] == "approved" for r in json.loads(out))
    _, out, _ = run(capsys, "list", "--db", db, "--clause", "privacy.2", "--format", "json")
    assert all("privacy.2" in r["clauses"] for r in json.loads(out))
    _, out, _ = run(capsys, "list", "--db", db)
    assert out.splitlines()[0].split() == ["id", "kind", "status", "author", "title", "clauses"]


def test_init_empty_and_refusing_to_overwrite(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    assert run(capsys, "init", "--empty", "--db", db)[0] == 0
    assert json.loads(run(capsys, "list", "--db", db, "--format", "json")[1]) == []
    run(capsys, "init", "--db", str(tmp_path / "y.db"))
    code, _, err = run(capsys, "init", "--db", str(tmp_path / "y.db"))
    assert code == 1 and err.count("\n") == 1 and "already holds a workspace" in err


def test_db_from_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURATOR_DB", str(tmp_path / "env.db"))
    assert run(capsys, "init", "--empty")[0] == 0
    assert (tmp_path / "env.db").exists()


def test_import_reports_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    run(capsys, "init", "--db", db)
    good = write_jsonl(tmp_path / "good.jsonl", [story(clauses=["privacy.2"], text="A brand new story.")])
    code, out, _ = run(capsys, "import", str(good), "--db", db)
    assert code == 0 and "imported 1 records" in out
    bad = write_jsonl(tmp_path / "bad.jsonl", [story(text="fine"), story(text="x", status="published")])
    code, out, err = run(capsys, "import", str(bad), "--db", db)
    assert code == 1
    assert err == f"curator: error: {bad}:2: status: Input should be 'draft', 'review', 'approved' or 'rejected'\n"
    code, out, err = run(capsys, "import", str(bad), "--db", db, "--skip-invalid", "--output", "json")
    assert code == 0 and json.loads(out)["imported"] == 1
    assert f"{bad}:2: status" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--db", "{tmp}/missing.db"], "no such database"),
        (["import", "{tmp}/nothing.jsonl", "--db", "{tmp}/x.db"], "no such file"),
        (["list", "--db", "{tmp}/corrupt.db"], "not a curator database"),
        (["load", "{tmp}", "--db", "{tmp}/new.db"], "not a curator dump"),
        (["constitution", "show", "{tmp}/none.md"], "none.md"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "corrupt.db").write_bytes(b"garbage" * 1000)
    run(capsys, "init", "--empty", "--db", str(tmp_path / "x.db"))
    code, _out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 1
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--kind", "poem")
    assert code == 2 and err.count("\n") == 1
    code, _, err = run(capsys, "frobnicate")
    assert code == 2


def test_dump_and_load(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    run(capsys, "init", "--db", db)
    assert run(capsys, "dump", str(tmp_path / "d"), "--db", db)[0] == 0
    assert run(capsys, "load", str(tmp_path / "d"), "--db", str(tmp_path / "y.db"))[0] == 0
    a = json.loads(run(capsys, "list", "--db", db, "--format", "json")[1])
    b = json.loads(run(capsys, "list", "--db", str(tmp_path / "y.db"), "--format", "json")[1])
    assert a == b


def test_constitution_show_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "constitution", "show", str(paths.demo_constitution_file()), "--format", "json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"document", "clauses"}
    assert set(data["document"]) == {"title", "sha256", "metadata"}
    assert set(data["clauses"][0]) == {"id", "parent", "depth", "title", "text", "plain", "context", "hash", "metadata"}
    root = data["clauses"][0]
    assert root["parent"] is None and root["depth"] == 1
    sections = [c["id"] for c in data["clauses"] if c["parent"] == root["id"]]
    assert sections[:2] == ["honesty", "harm"]
    assert next(c for c in data["clauses"] if c["id"] == "honesty")["metadata"] == {"authority": "core"}


def test_installed_console_script(tmp_path: Path) -> None:
    exe = shutil.which("curator", path=str(Path(sys.executable).parent))
    assert exe, "the curator console script is installed"
    db = tmp_path / "x.db"
    subprocess.run([exe, "init", "--db", str(db)], check=True, capture_output=True)
    out = subprocess.run([exe, "list", "--db", str(db), "--format", "json"], check=True, capture_output=True, text=True)
    assert len(json.loads(out.stdout)) >= 40


def test_batch_progress_is_a_bar_with_counts() -> None:
    from curator.cli import batch_progress_line

    assert batch_progress_line(0, 4, width=8) == "batch [--------] 0/4 requests done"
    assert batch_progress_line(3, 4, width=8) == "batch [######--] 3/4 requests done"
    assert batch_progress_line(0, 0, width=4) == "batch [----] 0/0 requests done"
