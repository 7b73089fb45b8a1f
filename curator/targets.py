"""What curator may write over: only files and folders it wrote itself, never the workspace.

Every command that writes a file or folder the user named (dump, export, reports) asks this module
first. The rules, which `--force` never widens:

- A target that is, or contains, the workspace database (or its `-wal`, `-shm`, `-journal`
  files), the app home, the current folder, the user's home or a filesystem root is refused.
- A missing target, or an empty folder, may be written.
- An existing folder is replaced only when curator wrote it: its `manifest.json` carries the
  writer's format, and the folder holds exactly the files that writer lists (nothing the user
  added). When the files no longer match the checksums curator wrote, replacing it needs
  `force` (and the refusal names the changed file).
- An existing file is replaced only when the ledger in the app home says curator wrote it there
  with those exact bytes (a user's edit, or a file of the same name that curator never wrote, is
  refused whatever the flags).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curator.errors import CuratorError
from curator.files import open_bytes, read_bytes, read_text
from curator.paths import home_dir

LEDGER_NAME = "written.jsonl"
"""Files curator wrote (path and SHA-256), one JSON object per line, in the app home."""


class TargetRefused(CuratorError):
    """A write that would replace or remove something curator must not touch."""


def sha256_file(path: Path, error: type[CuratorError] = CuratorError) -> str:
    digest = hashlib.sha256()
    with open_bytes(path, error, kind="dump", decompress=False) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _resolved(path: Path | str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(str(path))))


def protected_paths(db_path: str | Path | None) -> list[tuple[Path, str]]:
    """(path, what it is) for everything a write must neither be nor contain."""
    out: list[tuple[Path, str]] = []
    if db_path is not None and str(db_path) != ":memory:":
        db = _resolved(db_path)
        out.append((db, "the workspace database"))
        out += [
            (db.with_name(db.name + s), "the workspace database's " + s[1:] + " file")
            for s in ("-wal", "-shm", "-journal")
        ]
    out.append((_resolved(home_dir()), "curator's app home"))
    out.append((_resolved(Path.cwd()), "the current folder"))
    out.append((_resolved(Path.home()), "your home folder"))
    return out


def _check_not_protected(target: Path, db_path: str | Path | None) -> None:
    t = _resolved(target)
    if t.parent == t:
        raise TargetRefused(f"{target}: a filesystem root; choose a folder of its own")
    for path, what in protected_paths(db_path):
        if t == path:
            raise TargetRefused(f"{target}: is {what}; choose another name")
        if path.is_relative_to(t):
            raise TargetRefused(f"{target}: contains {what} ({path}); choose another folder")


# ---------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderKind:
    """How to recognise a folder one of curator's writers made."""

    what: str
    """`dump`, `export`: named in messages."""
    format: str
    """The `format` its manifest.json carries."""
    files: Callable[[Path, dict[str, Any]], dict[str, str | None]]
    """Given the folder and its manifest: every file it should hold (relative, `/`-separated) and
    its SHA-256 (None when the writer recorded none)."""


def _relative_files(folder: Path) -> Iterable[str]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root).relative_to(folder)
        for name in files + [d for d in dirs if Path(root, d).is_symlink()]:
            yield (base / name).as_posix()


def check_folder_target(target: Path, kind: FolderKind, *, db_path: str | Path | None, force: bool) -> bool:
    """Refuse (TargetRefused) unless `target` may be written; True when an earlier folder will be replaced."""
    target = Path(target)
    _check_not_protected(target, db_path)
    if target.is_symlink():
        raise TargetRefused(f"{target}: is a symbolic link; curator writes only real folders")
    if not target.exists():
        return False
    if not target.is_dir():
        raise TargetRefused(f"{target}: exists and is not a folder; refusing to replace it")
    try:
        present = sorted(_relative_files(target))
        has_any = any(target.iterdir())
    except OSError as err:
        raise TargetRefused(f"{target}: cannot read the folder ({err.strerror})") from None
    if not has_any:
        return False
    not_ours = f"{target}: not a curator {kind.what} folder"
    manifest_path = target / "manifest.json"
    try:
        if not manifest_path.exists():
            raise FileNotFoundError(manifest_path)
        manifest = json.loads(read_text(manifest_path, CuratorError))
    except FileNotFoundError:
        raise TargetRefused(f"{not_ours} (no manifest.json); refusing to replace it") from None
    except (OSError, CuratorError, ValueError, RecursionError):
        raise TargetRefused(f"{not_ours} (unreadable manifest.json); refusing to replace it") from None
    if not isinstance(manifest, dict) or manifest.get("format") != kind.format:
        raise TargetRefused(f"{not_ours} (manifest.json is not a {kind.format} manifest); refusing to replace it")
    try:
        expected = kind.files(target, manifest)
    except (OSError, ValueError, KeyError, TypeError):
        raise TargetRefused(f"{not_ours} (its manifest does not list its files); refusing to replace it") from None
    extra = [p for p in present if p not in expected]
    if extra:
        raise TargetRefused(
            f"{target}: holds {extra[0]!r}, which curator did not write ({len(extra)} such file(s)); "
            "refusing to replace the folder"
        )
    changed = [
        p
        for p, digest in sorted(expected.items())
        if digest is not None and p in present and sha256_file(target / p) != digest
    ]
    missing = [p for p in expected if p not in present]
    if (changed or missing) and not force:
        which = changed[0] if changed else missing[0]
        how = "changed" if changed else "removed"
        raise TargetRefused(
            f"{target}: {which} was {how} since curator wrote this {kind.what}; use --force to replace it anyway"
        )
    return True


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def ledger_path() -> Path:
    return home_dir() / LEDGER_NAME


def _ledger_entries() -> dict[str, str]:
    """Path -> SHA-256 of the last write curator recorded there."""
    out: dict[str, str] = {}
    try:
        if not ledger_path().exists():
            return out
        text = read_bytes(ledger_path(), CuratorError).decode("utf-8", errors="replace")
    except (OSError, CuratorError):
        return out
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a torn line from a crash: the entries around it still count
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str):
            out[entry["path"]] = entry["sha256"]
    return out


def check_file_target(target: Path, *, db_path: str | Path | None) -> None:
    """Refuse (TargetRefused) unless `target` may be written: missing, or curator's own unchanged output."""
    target = Path(target)
    _check_not_protected(target, db_path)
    if target.is_symlink():
        raise TargetRefused(f"{target}: is a symbolic link; curator writes only real files")
    if not target.exists():
        return
    if not target.is_file():
        raise TargetRefused(f"{target}: exists and is not a regular file; refusing to replace it")
    recorded = _ledger_entries().get(str(_resolved(target)))
    if recorded is None:
        raise TargetRefused(f"{target}: exists and curator did not write it; choose another name or move it away")
    if sha256_file(target) != recorded:
        raise TargetRefused(f"{target}: changed since curator wrote it; choose another name or move it away")


def record_written(target: Path, data: bytes) -> None:
    """Note in the ledger that curator wrote `data` at `target` (so it may replace it later)."""
    entry = {"path": str(_resolved(target)), "sha256": hashlib.sha256(data).hexdigest(), "at": time.time()}
    home = home_dir()
    try:
        home.mkdir(parents=True, exist_ok=True)
        # one short line appended with O_APPEND: concurrent writers never interleave inside it
        fd = os.open(ledger_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    except OSError:
        pass  # without the note the file is only refused later, never lost


def write_file(target: Path, data: bytes, *, db_path: str | Path | None) -> None:
    """Check `target`, write `data` aside and rename it into place, and note it in the ledger."""
    from curator.atomic import write_bytes

    check_file_target(target, db_path=db_path)
    write_bytes(target, data)
    record_written(target, data)
