"""Every command of the click tree, driven with --help and with usage mistakes, in-process.

A usage mistake is exit 2, one line on stderr naming the problem, nothing on stdout and no
traceback; nothing runs (no workspace is opened or created). The root group owns that policy,
so `CliRunner().invoke(cli, ...)` sees the same as a user at a terminal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from curator.cli import cli, main
from curator.cli import workspace as workspace_module


def walk(command: click.Command = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


COMMANDS = [(path, command) for path, command in walk() if path]
LEAVES = [(path, command) for path, command in COMMANDS if not isinstance(command, click.Group)]
GROUPS = [(path, command) for path, command in COMMANDS if isinstance(command, click.Group)]


def name(path: tuple[str, ...]) -> str:
    return " ".join(path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_usage_error(result: Result, *words: str) -> None:
    """Exit 2, one line on stderr naming the problem and pointing at --help, nothing on stdout."""
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith(" (see --help)\n"), result.stderr
    assert ": error: " in result.stderr and "Traceback" not in result.stderr and "Usage:" not in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def valid_value(param: click.Parameter) -> str:
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    return "x"


def required_args(command: click.Command, *, leave_out: str | None = None) -> list[str]:
    """Valid values for every required parameter of `command` but `leave_out` (and the arguments after it)."""
    args: list[str] = []
    positional_left_out = False
    for param in command.params:
        if param.name == leave_out:
            positional_left_out = isinstance(param, click.Argument)
            continue
        if not param.required:
            continue
        if isinstance(param, click.Argument):
            if not positional_left_out:
                args.append(valid_value(param))
        elif isinstance(param, click.Option):
            args += [param.opts[0], valid_value(param)]
    return args


@pytest.fixture(autouse=True)
def no_workspace_is_touched(hermetic_env: Path) -> Iterator[None]:
    yield
    assert not (hermetic_env / "default.db").exists(), "a usage mistake opened or created the workspace"


# ---------------------------------------------------------------------------
# The tree itself
# ---------------------------------------------------------------------------


def test_the_tree_is_what_the_docs_list() -> None:
    assert len(LEAVES) >= 26
    assert {name(p) for p, _ in GROUPS} == {"constitution", "dedup", "evalset", "eval", "eval suite", "assist"}
    assert [p[0] for p, _ in COMMANDS if len(p) == 1][:6] == ["tui", "init", "import", "dump", "load", "snapshot"]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[name(p) for p, _ in COMMANDS])
def test_every_command_and_group_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help and command.help.strip(), f"curator {name(path)} has no help"
    assert command.get_short_help_str(), f"curator {name(path)} has no summary in its group's list"
    for param in command.params:
        assert param.help, f"curator {name(path)}: {param.opts} lacks help"


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[name(p) for p, _ in LEAVES])
def test_every_command_takes_db_and_user(path: tuple[str, ...], command: click.Command) -> None:
    options = {opt for param in command.params for opt in param.opts}
    assert {"--db", "--user"} <= options, f"curator {name(path)}: add @common_options"


# ---------------------------------------------------------------------------
# Every command: --help, a missing argument, a wrong value, an unknown option
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[name(p) for p, _ in COMMANDS])
def test_help_of_every_command(path: tuple[str, ...], command: click.Command) -> None:
    for flag in ("--help", "-h"):
        result = invoke(*path, flag)
        assert result.exit_code == 0 and result.stderr == ""
        assert result.stdout.startswith(f"Usage: curator {name(path)} ")
        assert " ".join((command.help or "").split())[:40] in " ".join(result.stdout.split())


WITH_REQUIRED = [(p, c) for p, c in LEAVES if any(param.required for param in c.params)]


@pytest.mark.parametrize(("path", "command"), WITH_REQUIRED, ids=[name(p) for p, _ in WITH_REQUIRED])
def test_missing_required_parameters(path: tuple[str, ...], command: click.Command) -> None:
    for param in [p for p in command.params if p.required]:
        result = invoke(*path, *required_args(command, leave_out=param.name))
        hint = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
        assert_usage_error(result, "Missing", hint)


def _checked_options(command: click.Command) -> list[click.Option]:
    return [
        p
        for p in command.params
        if isinstance(p, click.Option)
        and isinstance(p.type, click.Choice | click.types.IntParamType | click.types.FloatParamType)
    ]


WITH_TYPED = [(p, c) for p, c in LEAVES if _checked_options(c)]


@pytest.mark.parametrize(("path", "command"), WITH_TYPED, ids=[name(p) for p, _ in WITH_TYPED])
def test_wrong_values(path: tuple[str, ...], command: click.Command) -> None:
    for option in _checked_options(command):
        rest = required_args(command, leave_out=option.name)
        result = invoke(*path, *rest, option.opts[0], "x-not-valid")
        assert_usage_error(result, f"Invalid value for '{option.opts[0]}'", "x-not-valid")


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[name(p) for p, _ in COMMANDS])
def test_unknown_option(path: tuple[str, ...], command: click.Command) -> None:
    result = invoke(*path, *required_args(command), "--no-such-option")
    assert_usage_error(result, "No such option", "--no-such-option", f"curator {name(path)}: error: ")


def test_the_typed_options_are_all_checked() -> None:
    """--limit, --min, --n, --per-clause, --poll, --kind, --status and every --format are among them."""
    checked = {opt for _, command in WITH_TYPED for p in _checked_options(command) for opt in p.opts}
    assert checked >= {"--limit", "--min", "--n", "--per-clause", "--poll", "--kind", "--status", "--format"}
    assert len(WITH_REQUIRED) >= 15


# ---------------------------------------------------------------------------
# Other usage mistakes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["frobnicate"], ["curator: error: ", "No such command 'frobnicate'"]),
        (["--no-such-option"], ["curator: error: ", "No such option"]),
        (["list", "--limit", "x"], ["curator list: error: ", "'x' is not a valid integer"]),
        (["list", "--kind", "poem"], ["'poem' is not one of"]),
        (["constitution"], ["curator constitution: error: Missing command"]),
        (["dedup", "frob"], ["curator dedup: error: No such command 'frob'"]),
        (["init", "--demo", "--empty"], ["--empty is not allowed with --demo"]),
        (["dedup", "check"], ["one of --text, --file, --id is required"]),
        (["dedup", "check", "--text", "a", "--id", "b"], ["--id is not allowed with --text"]),
        (["constitution", "relink", "ex_1", "--to", "a", "--drop"], ["--drop is not allowed with --to"]),
        (["submit"], ["curator submit: error: give an ID, or filters (--kind,"]),
        (["submit", "ex_1", "--tag", "t"], ["give an ID or filters, not both"]),
        (["link", "ex_1"], ["name at least one CLAUSE after the ID"]),
        (["link", "honesty", "--tag", "t", "--expect-version", "2"], ["--expect-version needs an ID"]),
        (["delete", "ex_1", "--dry-run"], ["--dry-run needs filters"]),
        (["restore", "--tag", "t", "--yes", "--dry-run"], ["--dry-run is not allowed with --yes"]),
        (["untag", "x", "--author", " "], ["--author is empty"]),
        (["approve", "ex_1", "--expect-version", "0"], ["Invalid value for '--expect-version'"]),
        (["reject", "ex_1"], ["Missing option '--comment'"]),
        (["edit", "ex_1", "--set", "title=x", "--patch", "p.json"], ["--patch is not allowed with --set"]),
        (["import", "f.jsonl", "--submit", "--keep-status"], ["--keep-status is not allowed with --submit"]),
        (["dump", "a\x00b"], ["'DIR': contains a NUL byte"]),
        (["--db", "a\x00b", "list"], ["'--db': contains a NUL byte"]),
        (["list", "--user", "a\x00b"], ["'--user': contains a NUL byte"]),
        (["decontam", "--evalset", "a\x00b"], ["'--evalset': contains a NUL byte"]),
    ],
)
def test_usage_mistakes_are_one_line(argv: list[str], words: list[str]) -> None:
    assert_usage_error(invoke(*argv), *words)


def test_main_returns_the_same_as_the_runner(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--limit", "x"]) == 2
    out, err = capsys.readouterr()
    assert (
        out == ""
        and err == "curator list: error: Invalid value for '--limit': 'x' is not a valid integer (see --help)\n"
    )
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("curator ")


def test_a_failure_inside_a_command_is_one_line_with_its_exit_code(tmp_path: Path) -> None:
    result = invoke("list", "--db", str(tmp_path / "missing.db"))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("curator: error: ") and result.stderr.count("\n") == 1
    result = invoke("constitution", "relink", "ex_1", "--to", "a", "--db", str(tmp_path / "missing.db"))
    assert result.exit_code == 1  # the workspace is opened (and missing) before the options are weighed


def test_interrupted_is_130(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupted(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("curator.constitution.parse.parse_file", interrupted)
    result = invoke("constitution", "show", str(tmp_path / "c.md"))
    assert result.exit_code == 130 and result.stderr == "curator: interrupted\n"


# ---------------------------------------------------------------------------
# No command: the TUI
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["--db", "{tmp}/w.db"], ["--db", "{tmp}/w.db", "--user", "zoe"], ["tui"]])
def test_no_command_opens_the_tui(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hermetic_env: Path
) -> None:
    opened: list[tuple[Path, str]] = []

    def open_tui() -> None:
        from curator.cli.options import acting_user, workspace_path

        opened.append((workspace_path(), acting_user()))

    monkeypatch.setattr(workspace_module, "open_tui", open_tui)
    result = invoke(*[a.format(tmp=tmp_path) for a in argv])
    assert result.exit_code == 0 and result.stdout == result.stderr == ""
    expected_db = tmp_path / "w.db" if "--db" in argv else hermetic_env / "default.db"
    assert opened == [(expected_db, "zoe" if "zoe" in argv else "tester")]


def test_the_option_of_the_command_wins_over_the_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Path] = []

    def open_tui() -> None:
        from curator.cli.options import workspace_path

        seen.append(workspace_path())

    monkeypatch.setattr(workspace_module, "open_tui", open_tui)
    assert invoke("--db", str(tmp_path / "a.db"), "tui", "--db", str(tmp_path / "b.db")).exit_code == 0
    assert invoke("--db", str(tmp_path / "a.db"), "tui").exit_code == 0
    assert seen == [tmp_path / "b.db", tmp_path / "a.db"]


# ---------------------------------------------------------------------------
# Start-up cost and shell completion
# ---------------------------------------------------------------------------


def test_help_loads_no_heavy_package() -> None:
    """`curator --help` (and a command's) imports no Textual, Rich, SDK, numpy or service module."""
    code = (
        "import contextlib, io, json, sys\n"
        "from curator.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    argvs = (['--help'], ['list', '--help'], ['assist', 'draft', '--help'], ['tui', '-h'])\n"
        "    codes = [main(a) for a in argvs]\n"
        "heavy = ('textual', 'rich', 'anthropic', 'numpy', 'sqlite_utils', 'curator.tui', 'curator.store',\n"
        "         'curator.assist', 'curator.dedup', 'curator.mixture', 'curator.coverage')\n"
        "loaded = sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h in heavy)))\n"
        "print(json.dumps({'codes': codes, 'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"codes": [0, 0, 0, 0], "loaded": []}


def test_shell_completion_completes_commands_and_choices() -> None:
    def complete(words: str) -> list[str]:
        env = {"_CURATOR_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        result = CliRunner().invoke(cli, [], env=env, prog_name="curator")
        assert result.exit_code == 0, result.output
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert complete("curator const") == ["constitution"]
    assert complete("curator constitution s") == ["show", "stale"]
    assert complete("curator list --kind a") == ["advice", "agentic"]
    script = CliRunner().invoke(cli, [], env={"_CURATOR_COMPLETE": "bash_source"}, prog_name="curator")
    assert script.exit_code == 0 and "_CURATOR_COMPLETE=bash_complete" in script.stdout
