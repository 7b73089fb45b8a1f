"""Importing a constitution file as the workspace's new current version."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from curator.constitution.parse import parse_file
from curator.errors import ConstitutionError
from curator.store.clauses import add_version


def import_constitution(db: Database, path: Path, *, actor: str) -> int:
    """Parse `path` and store it as the current version; returns the version id."""
    parsed = parse_file(Path(path))
    try:
        source = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConstitutionError(f"{path}: cannot read ({err})") from None
    fmt = "json" if Path(path).suffix.lower() == ".json" else "markdown"
    return add_version(db, parsed, source=source, fmt=fmt, actor=actor, filename=Path(path).name)
