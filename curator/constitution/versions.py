"""Importing a constitution file as the workspace's new current version.

The new version is aligned with the current one by content (`diff_constitutions`); renamed
clauses (moved, or list items shifted by an insertion or deletion) carry their links along,
links to edited clauses turn stale and links to removed clauses turn orphaned. A removed clause
whose id the new version gives to another clause has its links moved to a retired id
(`<id>@v<version>`), so they show as orphaned rather than as links to the wrong clause. A file
whose clauses are all the same as the current version's creates nothing. Everything happens in
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from curator.constitution.diff import ConstitutionDiff, diff_constitutions
from curator.constitution.parse import parse_file
from curator.errors import ConstitutionError
from curator.files import read_text
from curator.models import Clause
from curator.store import coverage_counts
from curator.store.clauses import add_version, current_clauses, current_version
from curator.store.links import follow_renames, link_state_counts, recompute_states


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
    """Examples whose links followed a renamed clause (or a removed one to its retired id)."""
    unchanged: bool = False
    """True when every clause was the same as in the current version: nothing was created and
    `version_id` is the current version's."""
    retired: dict[str, str] = field(default_factory=dict)
    """Removed clause id -> the retired id its links moved to, for removed ids the new version reuses."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version_id,
            "clauses": self.clauses,
            "diff": self.diff.to_json() if self.diff else None,
            "links": self.links,
            "moved": self.moved,
            "unchanged": self.unchanged,
            "retired": self.retired,
        }

    def summary(self) -> str:
        if self.unchanged:
            return f"unchanged (version {self.version_id}): {self.clauses} clauses, nothing imported"
        lines = [f"constitution version {self.version_id}: {self.clauses} clauses"]
        if self.diff is None:
            lines.append("first version of this workspace")
        else:
            lines.append(self.diff.summary())
        if self.moved:
            lines.append(f"links followed renamed clauses in {len(self.moved)} examples")
        if self.retired:
            shown = ", ".join(f"{o} -> {n}" for o, n in list(self.retired.items())[:3])
            more = f", … (+{len(self.retired) - 3})" if len(self.retired) > 3 else ""
            lines.append(f"removed clauses whose id now names another clause, links kept as: {shown}{more}")
        if self.links:
            lines.append(
                f"links: {self.links.get('ok', 0)} ok, {self.links.get('stale', 0)} stale (need re-review), "
                f"{self.links.get('orphaned', 0)} orphaned (clause removed)"
            )
        return "\n".join(lines)


def _shape(clauses: list[Clause]) -> list[tuple[Any, ...]]:
    """What a version must repeat exactly to count as unchanged: ids, order, tree, titles, hashes, metadata."""
    return [(c.id, c.parent, c.depth, c.kind, c.title, c.hash, sorted(c.meta.items())) for c in clauses]


def _retired_id(clause_id: str, version_id: int, taken: set[str]) -> str:
    """An id no clause has, saying which clause of which version a link was made to."""
    candidate = f"{clause_id}@v{version_id}"
    n = 1
    while candidate in taken:
        n += 1
        candidate = f"{clause_id}@v{version_id}-{n}"
    return candidate


def import_constitution(db: Database, path: Path, *, actor: str) -> VersionImport:
    """Parse `path`, store it as the current version and update the links; nothing written on error.

    A file whose clauses are the current version's (same ids in the same order, same hashes,
    titles, tree and metadata) writes nothing and returns `unchanged=True`.
    """
    path = Path(path)
    parsed = parse_file(path)
    source = read_text(path, ConstitutionError, what="constitution file", kind="constitution")
    fmt = "json" if path.suffix.lower() == ".json" else "markdown"
    old = current_clauses(db)
    current = current_version(db)
    if old and current is not None and _shape(old) == _shape(parsed.clauses):
        same = diff_constitutions([], [])
        same.unchanged = [c.id for c in parsed.clauses]
        return VersionImport(int(current["id"]), len(parsed.clauses), same, link_state_counts(db), [], unchanged=True)
    diff = diff_constitutions(old, parsed.clauses) if old else None
    retired: dict[str, str] = {}
    if diff is not None and current is not None:
        new_ids = {c.id for c in parsed.clauses}
        taken = new_ids | {c.id for c in old}
        for clause_id in diff.removed:
            if clause_id in new_ids:
                retired[clause_id] = _retired_id(clause_id, int(current["id"]), taken)
                taken.add(retired[clause_id])
    with db.atomic():
        version_id = add_version(db, parsed, source=source, fmt=fmt, actor=actor, filename=path.name)
        moved = (
            follow_renames(db, [(r.from_id, r.to_id) for r in diff.renamed], actor=actor, retired=retired)
            if diff
            else []
        )
        links = recompute_states(db)
        coverage_counts.rebuild(db)  # once per version: the closure and every count against the new tree
    return VersionImport(version_id, len(parsed.clauses), diff, links, moved, retired=retired)
