"""Input files and command-line text: only regular files, read under a size limit per kind of
file; text that is not UTF-8 refused where it enters; database errors that say where and what to do.
"""

from __future__ import annotations

import gzip
import io
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from curator import files
from curator.config import load_settings
from curator.errors import CuratorError, StoreError
from curator.store.db import describe, open_workspace
from tests.helpers import reseal_dump, run


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    yield
    files.set_limits(files.LIMITS_MB)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


# -- the helper ------------------------------------------------------------------------------------


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "folder"])
def test_only_regular_files_are_read(special: str, fifo: Path, tmp_path: Path) -> None:
    path = {"fifo": fifo, "folder": tmp_path}.get(special, Path(special))
    with pytest.raises(CuratorError) as err:  # a FIFO nobody writes to would block forever
        files.read_text(path, CuratorError, what="spec file", kind="spec")
    assert str(err.value).startswith(f"{path}: is a ")
    assert str(err.value).endswith("not a spec file")


def test_a_file_over_its_limit_is_refused_from_its_size(tmp_path: Path) -> None:
    files.set_limits({"spec": 0.001})
    path = tmp_path / "spec.toml"
    path.write_bytes(b"#" * 2000)
    with pytest.raises(
        CuratorError, match=r"spec.toml: larger than the 1000 bytes limit for spec files.*input_limits_mb"
    ):
        files.read_text(path, CuratorError, kind="spec")
    files.read_text(path, CuratorError, kind="constitution")  # another kind, another limit


def test_a_gzip_file_is_limited_by_what_it_expands_to(tmp_path: Path) -> None:
    files.set_limits({"records": 1})
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n" * 2_000_000))
    with files.open_bytes(path, CuratorError, kind="records") as fh, pytest.raises(CuratorError, match="larger than"):
        while fh.read(1 << 16):
            pass


def test_standard_input_is_read_under_the_same_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    files.set_limits({"patch": 0.00001})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{" + b" " * 100 + b"}")))
    with pytest.raises(CuratorError, match="standard input: larger than the 10 bytes limit for patch files"):
        files.read_input_text("-", CuratorError, kind="patch")


def test_config_sets_the_limits(hermetic_env: Path) -> None:
    (Path(os.environ["CURATOR_HOME"]) / "config.toml").write_text("[input_limits_mb]\nspec = 2\n", encoding="utf-8")
    load_settings()
    assert files.limit("spec") == 2_000_000
    assert files.limit("records") == files.LIMITS_MB["records"] * 1_000_000


def test_a_fifo_as_config_file_is_refused(hermetic_env: Path) -> None:
    os.mkfifo(Path(os.environ["CURATOR_HOME"]) / "config.toml")
    with pytest.raises(CuratorError, match=r"config.toml: is a named pipe \(FIFO\), not a settings file"):
        load_settings()


# -- every command that reads a named file ---------------------------------------------------------

COMMANDS = [
    ["import", "{}"],
    ["export", "--spec", "{}", "--dry-run"],
    ["coverage", "--targets", "{}"],
    ["constitution", "import", "{}"],
    ["constitution", "show", "{}"],
    ["evalset", "add", "bench", "{}"],
    ["dedup", "check", "--file", "{}"],
    ["edit", "ex_demo_001", "--patch", "{}"],
]


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_commands_refuse_fifos_and_devices_in_one_line(
    argv: list[str], special: str, fifo: Path, demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(fifo) if special == "fifo" else special
    code, _, err = run(capsys, *[a.replace("{}", path) for a in argv], "--db", str(demo_db))
    assert code in (1, 2)
    assert err.count("\n") == 1 and err.startswith("curator: error: ") and f"{path}: is a " in err


def test_load_names_the_file_with_a_byte_that_is_not_utf8(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "dump", str(tmp_path / "d"), "--db", str(demo_db))[0] == 0
    examples = tmp_path / "d" / "examples.jsonl"
    examples.write_bytes(examples.read_bytes() + b"\xff\n")
    reseal_dump(tmp_path / "d")
    code, _, err = run(capsys, "load", str(tmp_path / "d"), "--db", str(tmp_path / "new.db"))
    assert code == 1
    line = len(examples.read_bytes().splitlines())
    assert err == f"curator: error: {examples}:{line}: not valid UTF-8 (byte 0xff at column 1)\n"
    assert not (tmp_path / "new.db").exists()


# -- text and numbers on the command line ----------------------------------------------------------


def test_an_argument_that_is_not_utf8_is_a_usage_error(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")  # as Python decodes argv
    code, _, err = run(capsys, "list", "--tag", bad, "--db", str(demo_db))
    assert (code, err) == (
        2,
        "curator list: error: Invalid value for '--tag': is not valid UTF-8 text (b'caf\\xe9') (see --help)\n",
    )
    code, _, err = run(capsys, "show", bad, "--db", str(demo_db))
    assert code == 2 and "'ID': is not valid UTF-8" in err


@pytest.mark.parametrize("name", ["CURATOR_USER", "CURATOR_DB", "CURATOR_HOME"])
def test_an_environment_variable_that_is_not_utf8_is_named(
    name: str, demo_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, b"\xff".decode("utf-8", "surrogateescape"))
    code, _, err = run(capsys, "list", "--db", str(demo_db))
    assert (code, err) == (2, f"curator: error: environment variable {name} is not valid UTF-8 text (b'\\xff')\n")


@pytest.mark.parametrize("value", ["9" * 30, "-" + "9" * 30])
def test_a_number_beyond_sqlite_is_a_usage_error(value: str, demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--limit", value, "--db", str(demo_db))
    assert code == 2 and "'--limit': " in err and "out of range" in err


# -- the database ----------------------------------------------------------------------------------


def test_a_database_that_cannot_be_written_opens_read_only(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_access = os.access
    # the folder and the file read-only, as for a user without write permission (tests may run as root)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real_access(p, mode, **kw))
    with sqlite3.connect(demo_db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    code, out, _ = run(capsys, "list", "--limit", "1", "--db", str(demo_db))
    assert code == 0 and "1 records" in out
    code, _, err = run(capsys, "tag", "ex_demo_001", "new-tag", "--db", str(demo_db))
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"curator: error: {demo_db}: cannot write (attempt to write a readonly database)")
    assert "chmod u+w" in err and "--db" in err
    with open_workspace(demo_db) as ws:
        assert ws.readonly


def test_database_errors_name_the_path_and_what_to_do() -> None:
    full = describe(sqlite3.OperationalError("database or disk is full"), "w/c.db")
    assert full.startswith("w/c.db: cannot write (database or disk is full)") and "Free some space" in full
    nospace = describe(OSError(28, "No space left on device"), "w/c.db")
    assert nospace.startswith("w/c.db: cannot write (No space left on device)")
    readonly = describe(sqlite3.OperationalError("attempt to write a readonly database"), "w/c.db")
    assert "read-only" in readonly and "chmod u+w" in readonly


def test_a_fifo_as_database_is_refused(fifo: Path) -> None:
    with pytest.raises(StoreError, match=r"pipe: is a named pipe \(FIFO\), not a database file"):
        open_workspace(fifo)
