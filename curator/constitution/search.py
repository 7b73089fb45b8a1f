"""Fuzzy clause search for the link picker and the command palette (rapidfuzz over id, title, plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from curator.models import Clause


@dataclass(frozen=True)
class ClauseHit:
    clause: Clause
    score: float
    path: str
    """Titles from the top of the document down to the clause, joined by ' › '."""


def clause_paths(clauses: Sequence[Clause]) -> dict[str, str]:
    by_id = {c.id: c for c in clauses}
    out: dict[str, str] = {}
    for c in clauses:
        parts = []
        cur: Clause | None = c
        while cur is not None:
            parts.append(cur.title)
            cur = by_id.get(cur.parent or "")
        out[c.id] = " › ".join(reversed(parts))
    return out


def search_clauses(clauses: Sequence[Clause], query: str, *, limit: int = 30) -> list[ClauseHit]:
    """Best matches for `query`; an exact id wins; an empty query lists clauses in document order."""
    paths = clause_paths(clauses)
    if not query.strip():
        return [ClauseHit(c, 0.0, paths[c.id]) for c in clauses[:limit]]
    choices = [f"{c.id} {c.title} {(c.plain or c.text)[:400]}" for c in clauses]
    results = process.extract(query, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit)
    hits = [ClauseHit(clauses[i], float(score), paths[clauses[i].id]) for _, score, i in results]
    exact = [h for h in hits if h.clause.id == query.strip()]
    rest = [h for h in hits if h.clause.id != query.strip()]
    return exact + rest
