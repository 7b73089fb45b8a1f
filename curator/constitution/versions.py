"""Importing a constitution file as the workspace's new current version.

The new version is diffed against the current one; renamed clauses carry their
links along, links to edited clauses turn stale and links to removed clauses
turn orphaned. Everything happens in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from curator.constitution.diff import ConstitutionDiff, diff_constitutions
from curator.constitution.parse import parse_file
from curator.errors import ConstitutionError
from curator.store.clauses import add_version, current_clauses
from curator.store.links import follow_renames, recompute_states


@dataclass
class VersionImport:
    """What importing a constitution version did."""

    version_id: int
    clauses: int
    diff: ConstitutionDiff | None
    """None for the first version of a workspace."""
    links: dict[str, int] = field(default_factory=dict)
    """Link counts per state afterwards: ok, stale, orphaned."""
    moved: list[str] = field(default_factory=list)
    """Examples whose links followed a renamed clause."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version_id,
            "clauses": self.clauses,
            "diff": self.diff.to_json() if self.diff else None,
            "links": self.links,
            "moved": self.moved,
        }

    def summary(self) -> str:
        lines = [f"constitution version {self.version_id}: {self.clauses} clauses"]
        if self.diff is None:
            lines.append("first version of this workspace")
        else:
            lines.append(self.diff.summary())
        if self.moved:
            lines.append(f"links followed renamed clauses in {len(self.moved)} examples")
        if self.links:
            lines.append(
                f"links: {self.links.get('ok', 0)} ok, {self.links.get('stale', 0)} stale (need re-review), "
                f"{self.links.get('orphaned', 0)} orphaned (clause removed)"
            )
        return "\n".join(lines)


def import_constitution(db: Database, path: Path, *, actor: str) -> VersionImport:
    """Parse `path`, store it as the current version and update the links; nothing written on error."""
    path = Path(path)
    parsed = parse_file(path)
    try:
        source = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConstitutionError(f"{path}: cannot read ({err})") from None
    fmt = "json" if path.suffix.lower() == ".json" else "markdown"
    old = current_clauses(db)
    diff = diff_constitutions(old, parsed.clauses) if old else None
    with db.atomic():
        version_id = add_version(db, parsed, source=source, fmt=fmt, actor=actor, filename=path.name)
        moved = follow_renames(db, [(r.from_id, r.to_id) for r in diff.renamed], actor=actor) if diff else []
        links = recompute_states(db)
    return VersionImport(version_id, len(parsed.clauses), diff, links, moved)
