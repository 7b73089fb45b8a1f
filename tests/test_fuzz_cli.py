"""Every command, fed hostile arguments, options and environment, exits cleanly.

The click command tree is walked from the root, and each command is run in-process many times
(a fixed seed) on a fresh copy of the demo workspace with random values in every argument and
option: bytes that are not UTF-8 (as Python decodes them from argv), control characters, huge
and negative numbers, NaN, `/dev/null`, `/dev/zero`, a FIFO, a folder, `-`; and with hostile
`CURATOR_*`, `ANTHROPIC_BASE_URL` and `VISUAL`/`EDITOR` variables (the editor is `true`, so
nothing opens; there is no API key, so nothing reaches the network). A command must return
0, 1, 2 or 130, with exactly one `curator...: error: ...` line on stderr when it fails, within a
few seconds (a FIFO read would hang forever), and never raise.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click
import pytest

from curator.cli import cli, main
from tests.conftest import SMALL_CONSTITUTION
from tests.helpers import spec_data, toml_text

SEED = 20240611
RUNS_PER_COMMAND = 25
HANG_S = 10
SKIPPED = {("tui",)}  # opens the full-screen app (the TUI has its own tests)
ENV_NAMES = ("CURATOR_USER", "CURATOR_DB", "CURATOR_HOME", "CURATOR_MODEL", "ANTHROPIC_BASE_URL")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        elif (*path, name) not in SKIPPED:
            yield (*path, name), command


def _bad_text(rng: random.Random) -> str:
    raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
    return raw.decode("utf-8", "surrogateescape")


def _env_value(value: str) -> str:
    """`value` as the environment can hold it (bytes: no NUL, no surrogate that stands for no byte)."""
    try:
        return os.fsdecode(os.fsencode(value.replace("\x00", "")))
    except UnicodeEncodeError:
        return "\udcff"


class Values:
    """The pool each argument's value is drawn from: hostile, special files, and a few valid ones."""

    def __init__(self, tmp: Path, ids: list[str], clauses: list[str]) -> None:
        fifo = tmp / "fifo"
        os.mkfifo(fifo)
        folder = tmp / "folder"
        folder.mkdir()
        spec = tmp / "spec.toml"
        spec.write_text(toml_text(spec_data()), encoding="utf-8")
        constitution = tmp / "constitution.md"
        constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
        latin1 = tmp / "latin1.txt"
        latin1.write_bytes(b"caf\xe9 \xff\xfe\n")
        self.files = [str(fifo), str(folder), "/dev/null", "/dev/zero", str(spec), str(constitution), str(latin1), "-"]
        self.files.append(str(tmp / "missing" / "x.jsonl"))
        self.words = ["", " ", "\x00", "\x1b[31m", "\u202e", "\ud800", "a" * 5000, "..", "/", "../../etc/passwd"]
        self.numbers = ["0", "-1", "1", "9" * 30, "-" + "9" * 30, "nan", "inf", "-inf", "1e309", "0x10", "1.5"]
        self.ids = ids
        self.clauses = clauses

    def pick(self, rng: random.Random, param: click.Parameter | None = None) -> str:
        numeric = param is not None and isinstance(param.type, click.types._NumberParamTypeBase)
        if numeric and rng.random() < 0.7:
            return rng.choice(self.numbers)
        pools = [self.files, self.words, self.numbers, self.ids, self.clauses, [_bad_text(rng)]]
        pool = rng.choices(pools, weights=[4, 2, 1, 3, 3, 1])[0]
        return rng.choice(pool) if pool else _bad_text(rng)


def _argv(path: tuple[str, ...], command: click.Command, values: Values, rng: random.Random) -> list[str]:
    argv = list(path)
    for param in command.params:
        if param.name == "help":
            continue
        if isinstance(param, click.Argument):
            count = rng.randrange(1, 4) if param.nargs == -1 else param.nargs
            argv += [values.pick(rng, param) for _ in range(count)]
        elif isinstance(param, click.Option) and rng.random() < 0.4:
            flag = rng.choice(param.opts)
            if param.is_flag:
                argv.append(flag)
            elif isinstance(param.type, click.Choice) and rng.random() < 0.6:
                argv += [flag, str(rng.choice(list(param.type.choices)))]
            else:
                argv += [flag, values.pick(rng, param)]
    if rng.random() < 0.05:
        argv.insert(rng.randrange(len(argv) + 1), values.pick(rng))  # a stray word anywhere
    return argv


def _one_error_line(err: str) -> bool:
    """A failure's stderr: one `error:` line, last (a failed gate may list what failed above it)."""
    lines = err.splitlines()
    if ": error: " not in err:
        return bool(lines) and "Traceback" not in err
    return sum(": error: " in line for line in lines) == 1 and ": error: " in lines[-1]


class Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang()


@pytest.fixture
def workspace(demo_db: Path, tmp_path: Path) -> Path:
    fresh = tmp_path / "work" / "curator.db"
    fresh.parent.mkdir()
    shutil.copy(demo_db, fresh)
    return fresh


def test_every_command_exits_cleanly_on_hostile_input(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    with sqlite3.connect(workspace) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM examples LIMIT 3")]
        clauses = [row[0] for row in conn.execute("SELECT DISTINCT id FROM clauses LIMIT 3")]
    values = Values(tmp_path, ids, clauses)
    rng = random.Random(SEED)
    monkeypatch.chdir(workspace.parent)
    monkeypatch.setenv("CURATOR_DB", str(workspace))
    monkeypatch.setenv("VISUAL", "true")
    monkeypatch.setenv("EDITOR", "true")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    home = os.environ["CURATOR_HOME"]
    monkeypatch.setenv("CURATOR_USER", "tester")
    previous = signal.signal(signal.SIGALRM, _alarm)
    failures: list[str] = []
    try:
        for path, command in _commands(cli):
            for _ in range(RUNS_PER_COMMAND):
                argv = _argv(path, command, values, rng)
                if rng.random() < 0.15:
                    argv[len(path) : len(path)] = ["--db", values.pick(rng)]
                env = {"CURATOR_HOME": home, "CURATOR_DB": str(workspace), "CURATOR_USER": "tester"}
                if rng.random() < 0.2:
                    env[rng.choice(ENV_NAMES)] = _env_value(values.pick(rng))
                for name in ENV_NAMES:
                    if name in env:
                        monkeypatch.setenv(name, env[name])
                    else:
                        monkeypatch.delenv(name, raising=False)
                signal.alarm(HANG_S)
                try:
                    code = main(argv)
                except Hang:
                    failures.append(f"{argv!r} {env!r}: still running after {HANG_S} s")
                    continue
                except BaseException as exc:
                    failures.append(f"{argv!r} {env!r}: raised {type(exc).__name__}: {exc}")
                    continue
                finally:
                    signal.alarm(0)
                    sys.stdin = io.StringIO("")
                _, err = capsys.readouterr()
                if code not in (0, 1, 2, 130):
                    failures.append(f"{argv!r} {env!r}: exit {code}")
                elif code != 0 and not _one_error_line(err):
                    failures.append(f"{argv!r} {env!r}: exit {code} with stderr {err!r}")
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
