"""Nothing the user owns is destroyed: each case a real user hit, through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from curator.bootstrap import open_workspace
from curator.targets import TargetRefused, check_file_target, record_written
from tests.helpers import run


def listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dump_never_deletes_a_folder_that_merely_holds_a_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    (folder / "thesis.tex").write_text("\\chapter{mine}")
    for extra in ([], ["--force"]):
        code, _, err = run(capsys, "dump", str(folder), *extra, "--db", str(demo_db))
        assert code == 1 and err.count("\n") == 1 and "not a curator dump folder" in err, err
    assert listing(folder) == {"manifest.json": b"{}", "thesis.tex": b"\\chapter{mine}"}


def test_dump_never_replaces_an_export_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    from tests.conftest import REPO

    spec = REPO / "corpora" / "specs" / "demo.toml"
    assert run(capsys, "export", "--spec", str(spec), "--out", str(tmp_path), "--db", str(demo_db))[0] == 0
    [export] = [p for p in tmp_path.iterdir() if p.is_dir()]
    before = listing(export)
    code, _, err = run(capsys, "dump", str(export), "--force", "--db", str(demo_db))
    assert code == 1 and "not a curator dump folder" in err
    assert listing(export) == before


def test_dump_replaces_its_own_dump_but_not_one_with_a_file_added_or_changed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    folder = tmp_path / "dump"
    assert run(capsys, "dump", str(folder), "--db", str(demo_db))[0] == 0
    assert run(capsys, "dump", str(folder), "--db", str(demo_db))[0] == 0  # its own, unchanged: replaced
    (folder / "examples.jsonl").write_text("edited by hand\n")
    code, _, err = run(capsys, "dump", str(folder), "--db", str(demo_db))
    assert code == 1 and "examples.jsonl was changed since curator wrote this dump; use --force" in err
    assert (folder / "examples.jsonl").read_text() == "edited by hand\n"
    assert run(capsys, "dump", str(folder), "--force", "--db", str(demo_db))[0] == 0
    (folder / "notes.md").write_text("mine")
    code, _, err = run(capsys, "dump", str(folder), "--force", "--db", str(demo_db))
    assert code == 1 and "holds 'notes.md', which curator did not write" in err
    assert (folder / "notes.md").read_text() == "mine"


def test_coverage_out_never_replaces_the_workspace_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    before = demo_db.read_bytes()
    for target in (demo_db, Path(f"{demo_db}-wal"), Path(f"{demo_db}-shm")):
        code, _, err = run(capsys, "coverage", "--out", str(target), "--db", str(demo_db))
        assert code == 1 and err.count("\n") == 1 and "the workspace database" in err, err
    with open_workspace(demo_db) as ws:  # still the workspace
        assert ws.db.execute("SELECT count(*) FROM examples").fetchone()[0] == 48
    assert len(demo_db.read_bytes()) >= len(before) // 2


def test_coverage_out_replaces_its_own_report_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    report = tmp_path / "coverage.csv"
    args = ("coverage", "--format", "csv", "--out", str(report), "--db", str(demo_db))
    assert run(capsys, *args)[0] == 0
    assert run(capsys, *args)[0] == 0  # curator's own report, unchanged: regenerated
    report.write_text(report.read_text() + "my note\n")
    code, _, err = run(capsys, *args)
    assert code == 1 and "changed since curator wrote it" in err
    assert report.read_text().endswith("my note\n")
    other = tmp_path / "budget.csv"
    other.write_text("a,b\n")
    code, _, err = run(capsys, "coverage", "--format", "csv", "--out", str(other), "--db", str(demo_db))
    assert code == 1 and "curator did not write it" in err
    assert other.read_text() == "a,b\n"


def test_export_force_never_removes_the_folder_holding_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    """A spec named after the folder that holds the database: the database stays."""
    home = tmp_path / "work"
    home.mkdir()
    db = home / "curator.db"
    db.write_bytes(demo_db.read_bytes())
    spec = tmp_path / "work.toml"
    from tests.helpers import spec_data, toml_text

    spec.write_text(toml_text(spec_data(name="work")), encoding="utf-8")
    code, _, err = run(capsys, "export", "--spec", str(spec), "--out", str(tmp_path), "--force", "--db", str(db))
    assert code == 1 and "contains the workspace database" in err, err
    assert db.exists() and sorted(p.name for p in home.iterdir()) == ["curator.db"]


def test_nothing_replaces_the_current_folder_or_the_app_home(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    for target, what in ((here, "is the current folder"), (tmp_path / "a", "contains the current folder")):
        code, _, err = run(capsys, "dump", str(target), "--db", str(demo_db))
        assert code == 1 and what in err, err
    with pytest.raises(TargetRefused, match="curator's app home"):
        check_file_target(Path(os.environ["CURATOR_HOME"]), db_path=None)


def test_the_ledger_is_what_makes_a_file_curators(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    target.write_bytes(b"report")
    with pytest.raises(TargetRefused, match="curator did not write it"):
        check_file_target(target, db_path=None)
    record_written(target, b"report")
    check_file_target(target, db_path=None)
    target.write_bytes(b"report, edited")
    with pytest.raises(TargetRefused, match="changed since curator wrote it"):
        check_file_target(target, db_path=None)


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------


@pytest.fixture
def dump_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path) -> Path:
    folder = tmp_path / "dump"
    assert run(capsys, "dump", str(folder), "--db", str(demo_db))[0] == 0
    return folder


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "audit.jsonl").unlink(), "audit.jsonl: missing"),
        (lambda d: [p.unlink() for p in (d / "constitution").iterdir()], "dump/constitution/clauses.jsonl: missing"),
        (
            lambda d: (d / "examples.jsonl").write_text(
                "".join((d / "examples.jsonl").read_text().splitlines(keepends=True)[:10])
            ),
            "examples.jsonl: changed since the dump was written",
        ),
    ],
    ids=["audit-removed", "constitution-removed", "examples-cut"],
)
def test_load_refuses_a_damaged_dump_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump_dir: Path, damage: object, message: str
) -> None:
    damage(dump_dir)  # type: ignore[operator]
    target = tmp_path / "new.db"
    code, _, err = run(capsys, "load", str(dump_dir), "--db", str(target))
    assert code == 1 and err.count("\n") == 1 and message in err, err
    assert not list(tmp_path.glob("*new.db*"))


def test_load_of_an_older_dump_checks_its_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump_dir: Path
) -> None:
    manifest = json.loads((dump_dir / "manifest.json").read_text())
    manifest["format_version"] = 2
    del manifest["files"]
    (dump_dir / "manifest.json").write_text(json.dumps(manifest))
    lines = (dump_dir / "examples.jsonl").read_text().splitlines(keepends=True)
    (dump_dir / "examples.jsonl").write_text("".join(lines[:10]))
    code, _, err = run(capsys, "load", str(dump_dir), "--db", str(tmp_path / "new.db"))
    assert code == 1 and "examples.jsonl: holds 10 examples, the manifest counts 48" in err, err
    assert not list(tmp_path.glob("*new.db*"))
    (dump_dir / "audit.jsonl").unlink()
    code, _, err = run(capsys, "load", str(dump_dir), "--db", str(tmp_path / "new.db"))
    assert code == 1 and "audit.jsonl: missing (the manifest counts" in err, err


def test_load_refuses_an_empty_database_another_process_has_open(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump_dir: Path
) -> None:
    target = tmp_path / "open.db"
    holder = open_workspace(target)  # another process's TUI, say: WAL files exist while it is open
    try:
        code, _, err = run(capsys, "load", str(dump_dir), "--db", str(target))
        assert code == 1 and "is open in another process" in err, err
        assert holder.is_empty()
    finally:
        holder.close()


def test_load_into_an_empty_closed_database_is_in_place(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump_dir: Path
) -> None:
    target = tmp_path / "empty.db"
    open_workspace(target).close()
    inode = target.stat().st_ino
    code, _, err = run(capsys, "load", str(dump_dir), "--db", str(target))
    assert code == 0, err
    assert target.stat().st_ino == inode  # the same file: nobody's handle goes stale
    with open_workspace(target) as ws:
        assert ws.db.execute("SELECT count(*) FROM examples").fetchone()[0] == 48


def test_load_names_the_line_of_a_broken_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dump_dir: Path
) -> None:
    from tests.helpers import reseal_dump

    links = (dump_dir / "links.jsonl").read_text().splitlines()
    row = json.loads(links[2])
    row["example_id"] = "ex_nowhere"
    links[2] = json.dumps(row)
    (dump_dir / "links.jsonl").write_text("\n".join(links) + "\n")
    reseal_dump(dump_dir)
    code, _, err = run(capsys, "load", str(dump_dir), "--db", str(tmp_path / "new.db"))
    assert code == 1 and err.count("\n") == 1 and "links.jsonl:3: refers to something the dump does not hold" in err, (
        err
    )
    assert not list(tmp_path.glob("*new.db*"))
