"""Compare two versions of a constitution clause by clause, by content (so moved items keep their links).

Pure: takes two clause lists, returns which ids are unchanged, edited, renamed
(moved), added or removed. The store turns this into stale and orphaned links.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from curator.constitution.parse import normalize_clause_text
from curator.errors import ConstitutionError
from curator.models import Clause

__all__ = ["ConstitutionDiff", "RenamedClause", "diff_constitutions"]

_SUMMARY_IDS = 3
"""How many example ids one summary line names before eliding the rest."""


@dataclass(frozen=True)
class RenamedClause:
    """A clause whose id changed while its text stayed (nearly) the same."""

    from_id: str
    to_id: str
    score: float
    """rapidfuzz ``fuzz.ratio`` of the two normalised texts (0-100)."""


@dataclass
class ConstitutionDiff:
    """The clause-level difference between an old and a new constitution.

    ``unchanged``, ``edited``, ``added`` and ``renamed`` follow the new document's
    order; ``removed`` follows the old one's.
    """

    unchanged: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    renamed: list[RenamedClause] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        """Whether importing the new version changes anything at all."""
        return bool(self.edited or self.renamed or self.added or self.removed)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable form used by the CLI (a contract: keys and shapes fixed)."""
        return {
            "unchanged": list(self.unchanged),
            "edited": list(self.edited),
            "renamed": [{"from": r.from_id, "to": r.to_id} for r in self.renamed],
            "added": list(self.added),
            "removed": list(self.removed),
        }

    def summary(self) -> str:
        """One short line per category, with counts and the first few ids."""
        rows = [
            ("unchanged", self.unchanged),
            ("edited", self.edited),
            ("renamed", [f"{r.from_id} -> {r.to_id}" for r in self.renamed]),
            ("added", self.added),
            ("removed", self.removed),
        ]
        lines = []
        for name, ids in rows:
            line = f"{name}: {len(ids)}"
            if ids and name != "unchanged":
                shown = ", ".join(ids[:_SUMMARY_IDS])
                more = f", … (+{len(ids) - _SUMMARY_IDS})" if len(ids) > _SUMMARY_IDS else ""
                line += f" ({shown}{more})"
            lines.append(line)
        return "\n".join(lines)


_ATTR_ID = re.compile(r"(\{[^{}\n]*?)#[^\s{}]+\s*([^{}\n]*\}[ \t]*)$")


def _comparable(clause: Clause) -> str:
    """Normalised text with an explicit ``{#id}`` removed from the heading line, so that
    renaming only the id of a short section still matches its old text."""
    text = normalize_clause_text(clause.text)
    if clause.kind == "section":
        first, sep, rest = text.partition("\n")
        first = _ATTR_ID.sub(r"\1\2", first)
        text = first + sep + rest
    return text


def _check_unique(clauses: Sequence[Clause], which: str) -> None:
    seen: set[str] = set()
    for clause in clauses:
        if clause.id in seen:
            raise ConstitutionError(f"{which} constitution has the clause id {clause.id!r} twice")
        seen.add(clause.id)


def diff_constitutions(
    old: Sequence[Clause], new: Sequence[Clause], *, rename_threshold: float = 90.0
) -> ConstitutionDiff:
    """Classify every clause: same id and hash is unchanged, same id and new hash is
    edited; an id that vanished whose text reappears under a new id (similarity >=
    ``rename_threshold``, best match first, one-to-one) is renamed; the rest are
    added or removed."""
    _check_unique(old, "the old")
    _check_unique(new, "the new")
    old_by_id = {c.id: c for c in old}
    new_ids = {c.id for c in new}

    result = ConstitutionDiff()
    gone = [c for c in old if c.id not in new_ids]
    fresh = [c for c in new if c.id not in old_by_id]
    for clause in new:
        before = old_by_id.get(clause.id)
        if before is None:
            continue
        (result.unchanged if before.hash == clause.hash else result.edited).append(clause.id)

    # Candidate renames: every (gone, fresh) pair similar enough, best first.
    gone_text = [_comparable(c) for c in gone]
    fresh_text = [_comparable(c) for c in fresh]
    pairs: list[tuple[float, int, int]] = []
    for i, a in enumerate(gone_text):
        for j, b in enumerate(fresh_text):
            if gone[i].hash == fresh[j].hash:
                score = 100.0
            else:
                # ratio <= 200*min/(len_a+len_b): skip pairs whose lengths rule a match out.
                la, lb = len(a), len(b)
                if la + lb == 0 or 200.0 * min(la, lb) / (la + lb) < rename_threshold:
                    continue
                score = fuzz.ratio(a, b, score_cutoff=rename_threshold)
            if score >= rename_threshold and score > 0:
                pairs.append((score, i, j))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    matched_old: set[int] = set()
    matched_new: dict[int, RenamedClause] = {}
    for score, i, j in pairs:
        if i in matched_old or j in matched_new:
            continue
        matched_old.add(i)
        matched_new[j] = RenamedClause(from_id=gone[i].id, to_id=fresh[j].id, score=round(score, 2))

    for j, clause in enumerate(fresh):
        if j in matched_new:
            result.renamed.append(matched_new[j])
        else:
            result.added.append(clause.id)
    result.removed = [c.id for i, c in enumerate(gone) if i not in matched_old]
    return result
