"""Parse a constitution (Markdown or a flat JSON list) into clauses, and the clause JSON contract
(see docs/architecture.md, Contracts).

The parser itself is the leaf module `curator.clausetext` (so the store's migrations can re-derive
stored clauses); its names are re-exported here for the services and scripts that import them.
"""

from __future__ import annotations

from typing import Any, TypedDict

from curator.clausetext import (
    CONTEXT_SEPARATOR,
    clause_hash,
    normalize_clause_text,
    parse_file,
    parse_json,
    parse_markdown,
    slugify,
    strip_legacy_text,
    text_plain,
)
from curator.models import Clause, ParsedConstitution

__all__ = [
    "CONTEXT_SEPARATOR",
    "ClauseJSON",
    "ConstitutionJSON",
    "DocumentJSON",
    "clause_hash",
    "clause_json",
    "constitution_json",
    "normalize_clause_text",
    "parse_file",
    "parse_json",
    "parse_markdown",
    "slugify",
    "strip_legacy_text",
    "text_plain",
]


# ---------------------------------------------------------------------------
# The clause list as JSON (`curator constitution show --format json`)
# ---------------------------------------------------------------------------


class DocumentJSON(TypedDict):
    title: str | None
    sha256: str | None
    metadata: dict[str, Any]
    """Front matter."""


class ClauseJSON(TypedDict):
    id: str
    parent: str | None
    depth: int
    title: str
    text: str
    plain: str
    """`text` rendered as plain text."""
    context: str
    """What introduces a list item (see `Clause.context`); empty for a section."""
    hash: str
    metadata: dict[str, str]
    """Heading (or item) attributes other than the id."""


class ConstitutionJSON(TypedDict):
    document: DocumentJSON
    clauses: list[ClauseJSON]


def clause_json(clause: Clause) -> ClauseJSON:
    """One clause in the clause-list contract (docs/architecture.md, Contracts)."""
    return {
        "id": clause.id,
        "parent": clause.parent,
        "depth": clause.depth,
        "title": clause.title,
        "text": clause.text,
        "plain": clause.plain,
        "context": clause.context,
        "hash": clause.hash,
        "metadata": clause.meta,
    }


def constitution_json(parsed: ParsedConstitution) -> ConstitutionJSON:
    """The document and its clauses in document order, with fixed keys (docs/architecture.md, Contracts)."""
    doc = parsed.document
    return {
        "document": {"title": doc.get("title"), "sha256": doc.get("sha256"), "metadata": doc.get("meta", {})},
        "clauses": [clause_json(c) for c in parsed.clauses],
    }
