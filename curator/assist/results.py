"""What the assist actions return: immutable, typed results.

Each `to_json()` gives the shape `curator assist ... --format json` prints, keys in the same
order; scripts read that output, so it does not change when these types do. This module imports
neither the SDK nor Textual: the TUI uses these types without paying for either at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from curator.assist.prompts import Verdict
from curator.models import Status

if TYPE_CHECKING:
    from curator.dedup.engine import Match


@dataclass(frozen=True)
class CritiqueVerdict:
    """How well an example teaches one linked clause, and how to make it teach it better."""

    clause: str
    verdict: Verdict
    reason: str
    suggestions: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "verdict": self.verdict,
            "reason": self.reason,
            "suggestions": [*self.suggestions],
        }


@dataclass(frozen=True)
class Critique:
    """One verdict per linked clause, in link order."""

    id: str
    origin: str
    """The id of the API message that answered."""
    verdicts: tuple[CritiqueVerdict, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "origin": self.origin, "verdicts": [v.to_json() for v in self.verdicts]}


@dataclass(frozen=True)
class ProposedTurn:
    """A rewrite of one assistant turn (its index in `messages`) that states why."""

    index: int
    content: str
    rationale: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "content": self.content, "rationale": self.rationale}


@dataclass(frozen=True)
class RewriteProposal:
    """An explain-why proposal: not applied until accepted (see `actions.apply_explain_why`)."""

    id: str
    version: int
    """The version of the example the proposal was made from."""
    status: Status
    """The example's status then: accepting a rewrite of approved text sends it back to review."""
    origin: str
    turns: tuple[ProposedTurn, ...]
    diff: tuple[str, ...]
    """Unified diff lines of the dialogue, before and after."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "origin": self.origin,
            "turns": [t.to_json() for t in self.turns],
            "diff": [*self.diff],
        }


@dataclass(frozen=True)
class SuggestedLink:
    clause: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"clause": self.clause, "reason": self.reason}


@dataclass(frozen=True)
class LinkSuggestions:
    """Clauses of the current constitution the example is not linked to yet, best first."""

    id: str
    links: tuple[SuggestedLink, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "links": [link.to_json() for link in self.links]}


@dataclass(frozen=True)
class BatchDuplicate:
    """A batch result skipped because its text is already stored as `id`."""

    custom_id: str
    id: str

    def to_json(self) -> dict[str, str]:
        return {"custom_id": self.custom_id, "id": self.id}


@dataclass(frozen=True)
class NearDuplicate:
    """A draft stored from the batch, and the records stored before it that it nearly repeats."""

    id: str
    matches: tuple[Match, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "matches": [m.to_json() for m in self.matches]}


@dataclass(frozen=True)
class BatchFailure:
    custom_id: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"custom_id": self.custom_id, "error": self.error}


@dataclass(frozen=True)
class BatchReport:
    """What a drafting batch stored, skipped and could not use."""

    batch_id: str
    resumed: bool
    """True when an interrupted run's batch was picked up instead of submitting a new one."""
    created: tuple[str, ...]
    duplicates: tuple[BatchDuplicate, ...]
    near_duplicates: tuple[NearDuplicate, ...]
    failed: tuple[BatchFailure, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "resumed": self.resumed,
            "created": [*self.created],
            "duplicates": [d.to_json() for d in self.duplicates],
            "near_duplicates": [n.to_json() for n in self.near_duplicates],
            "failed": [f.to_json() for f in self.failed],
        }
