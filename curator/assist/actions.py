"""Assistance actions: pure functions over a database, an SDK client and the settings.

Each returns data; the CLI and the TUI render it. `draft` stores new records as
`draft` with provenance; `explain_why` only proposes (see `apply_explain_why`);
`critique` and `suggest_links` write nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import anthropic
from sqlite_utils import Database

from curator.assist.client import AssistError, call_tool, validate_output
from curator.assist.prompts import (
    DRAFT_MODELS,
    CritiqueOut,
    ExplainWhyOut,
    SuggestLinksOut,
    clause_paths,
    critique_prompt,
    draft_prompt,
    draft_schema,
    explain_why_prompt,
    prompt_sha256,
    suggest_links_prompt,
    tool_schema,
)
from curator.assist.results import (
    Critique,
    CritiqueVerdict,
    LinkSuggestions,
    ProposedTurn,
    RewriteProposal,
    SuggestedLink,
)
from curator.config import Settings
from curator.errors import RecordError, UsageError
from curator.models import KINDS, Clause, Example, Message, Status, TextBlock, parse_example
from curator.store import examples
from curator.store.clauses import current_clauses

DRAFT_TOOL = "submit_draft"
CRITIQUE_TOOL = "submit_critique"
REWRITE_TOOL = "submit_rewrite"
LINKS_TOOL = "submit_links"
MAX_DRAFTS = 20


def _ask(
    client: anthropic.Anthropic,
    settings: Settings,
    prompt: tuple[str, str],
    tool_name: str,
    schema: dict[str, Any],
    description: str,
) -> tuple[dict[str, Any], str]:
    """One forced tool call with the configured model and token limit: (tool input, message id)."""
    system, user = prompt
    return call_tool(
        client,
        model=settings.assist_model,
        system=system,
        user=user,
        tool_name=tool_name,
        tool_schema=schema,
        max_tokens=settings.assist_max_tokens,
        tool_description=description,
    )


def title_paths(db: Database) -> dict[str, str]:
    """Clause id -> title path for the current constitution (what prompts show a clause under)."""
    return clause_paths(current_clauses(db))


def _clauses_by_id(db: Database) -> dict[str, Clause]:
    return {c.id: c for c in current_clauses(db)}


def resolve_clauses(db: Database, clause_ids: list[str]) -> list[Clause]:
    """The named clauses of the current constitution, or a one-line error naming the unknown id."""
    known = _clauses_by_id(db)
    if not clause_ids:
        raise UsageError("name at least one clause (--clause ID)")
    if not known:
        raise UsageError("no constitution imported yet; import one before drafting")
    missing = [c for c in clause_ids if c not in known]
    if missing:
        raise UsageError(f"unknown clause id {missing[0]!r} (not in the current constitution)")
    return [known[c] for c in dict.fromkeys(clause_ids)]


def build_draft_record(
    kind: str, tool_input: dict[str, Any], *, clauses: list[str], actor: str, model: str, sha: str, origin: str
) -> Example:
    """Turn a draft tool input into a validated canonical record (status draft, with provenance)."""
    parsed = validate_output(DRAFT_MODELS[kind], tool_input)
    body = parsed.model_dump(mode="json", exclude_none=True)
    record: dict[str, Any] = {
        **body,
        "kind": kind,
        "status": "draft",
        "author": actor,
        "clauses": clauses,
        "source": {"type": "generated", "model": model, "prompt_sha256": sha, "origin": origin},
    }
    try:
        return parse_example(record)
    except RecordError as err:
        raise AssistError(f"malformed model output: {err}") from None


def draft_record(
    client: anthropic.Anthropic,
    settings: Settings,
    *,
    kind: str,
    clauses: list[Clause],
    actor: str,
    avoid_titles: list[str] | None = None,
    paths: Mapping[str, str] | None = None,
) -> Example:
    """Ask for one draft of `kind` teaching `clauses`; the validated record, NOT stored.

    The TUI fills an empty form with it (the person saves it or not); `draft` stores each one.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not clauses:
        raise UsageError("name at least one clause to draft for")
    system, user = draft_prompt(kind, clauses, avoid_titles=avoid_titles, paths=paths)
    tool_input, origin = _ask(
        client, settings, (system, user), DRAFT_TOOL, draft_schema(kind), f"Submit one drafted {kind} example."
    )
    return build_draft_record(
        kind,
        tool_input,
        clauses=[c.id for c in clauses],
        actor=actor,
        model=settings.assist_model,
        sha=prompt_sha256(system, user),
        origin=origin,
    )


def draft(
    db: Database,
    client: anthropic.Anthropic,
    settings: Settings,
    *,
    clauses: list[str],
    kind: str,
    n: int = 1,
    actor: str,
) -> list[str]:
    """Draft `n` new examples of `kind` for `clauses`; returns the created ids (each stored as it arrives).

    A malformed answer stores nothing for that call and raises AssistError whose `created`
    lists what earlier calls already stored.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not 1 <= n <= MAX_DRAFTS:
        raise UsageError(f"--n must be between 1 and {MAX_DRAFTS}")
    chosen = resolve_clauses(db, clauses)
    paths = title_paths(db)
    created: list[str] = []
    titles: list[str] = []
    for i in range(n):
        try:
            ex = draft_record(
                client, settings, kind=kind, clauses=chosen, actor=actor, avoid_titles=titles, paths=paths
            )
        except AssistError as err:
            where = f" (draft {i + 1} of {n}; created before it: {', '.join(created)})" if created else ""
            raise AssistError(f"{err}{where}", created=created) from None
        stored = examples.create(db, ex, actor=actor)
        created.append(stored.id)
        titles.append(stored.title)
    return created


def _linked_clauses(db: Database, ex: Example) -> list[Clause]:
    known = _clauses_by_id(db)
    linked = [known[c] for c in ex.clauses if c in known]
    if not linked:
        raise UsageError(
            f"example {ex.id} links no clause of the current constitution; link one first (or run suggest-links)"
        )
    return linked


def critique(db: Database, client: anthropic.Anthropic, settings: Settings, example_id: str) -> Critique:
    """Judge a stored example against each linked clause (see `critique_example`)."""
    return critique_example(db, client, settings, examples.get(db, example_id))


def critique_example(db: Database, client: anthropic.Anthropic, settings: Settings, ex: Example) -> Critique:
    """Judge `ex` (stored or not: the TUI sends its form) against each linked clause; verdicts in link order."""
    linked = _linked_clauses(db, ex)
    tool_input, origin = _ask(
        client,
        settings,
        critique_prompt(ex, linked, paths=title_paths(db)),
        CRITIQUE_TOOL,
        tool_schema(CritiqueOut),
        "Submit one verdict per linked clause.",
    )
    out = validate_output(CritiqueOut, tool_input)
    wanted = [c.id for c in linked]
    by_clause = {v.clause: v for v in out.verdicts}
    unknown = [c for c in by_clause if c not in wanted]
    if unknown:
        raise AssistError(f"malformed model output: verdict for clause {unknown[0]!r}, which is not linked")
    missing = [c for c in wanted if c not in by_clause]
    if missing:
        raise AssistError(f"malformed model output: no verdict for clause {missing[0]!r}")
    ordered = [by_clause[c] for c in wanted]
    return Critique(
        ex.id, origin, tuple(CritiqueVerdict(v.clause, v.verdict, v.reason, tuple(v.suggestions)) for v in ordered)
    )


def _render_dialogue(ex: Example) -> list[str]:
    lines: list[str] = []
    for i, msg in enumerate(ex.messages or []):
        lines.append(f"[{i}] {msg.role}:")
        lines.extend("    " + line for line in msg.plain_text().splitlines() or [""])
        if msg.rationale:
            lines.append("    rationale: " + " ".join(msg.rationale.split()))
    return lines


def _rewrite_turn(msg: Message, content: str, rationale: str) -> Message:
    if isinstance(msg.content, str):
        return msg.model_copy(update={"content": content, "rationale": rationale})
    blocks = list(msg.content)
    texts = [j for j, b in enumerate(blocks) if isinstance(b, TextBlock)]
    if texts:
        blocks[texts[0]] = TextBlock(text=content)
        blocks = [b for j, b in enumerate(blocks) if j not in texts[1:]]
    else:
        blocks.insert(0, TextBlock(text=content))
    return msg.model_copy(update={"content": blocks, "rationale": rationale})


def rewrite_turns(ex: Example, turns: Sequence[ProposedTurn]) -> Example:
    """`ex` with the proposed assistant turns put in (validated); the form or the store takes it from here."""
    messages = list(ex.messages or [])
    for turn in turns:
        index = turn.index
        if not 0 <= index < len(messages) or messages[index].role != "assistant":
            raise AssistError(f"malformed model output: turn index {index!r} is not an assistant turn")
        messages[index] = _rewrite_turn(messages[index], turn.content, turn.rationale)
    try:
        return parse_example({**ex.canonical(), "messages": [m.model_dump(mode="json") for m in messages]})
    except RecordError as err:
        raise AssistError(f"malformed model output: {err}") from None


def explain_why(db: Database, client: anthropic.Anthropic, settings: Settings, example_id: str) -> RewriteProposal:
    """Propose assistant-turn rewrites for a stored example; NOT applied (see `apply_explain_why`)."""
    return explain_why_example(db, client, settings, examples.get(db, example_id))


def explain_why_example(db: Database, client: anthropic.Anthropic, settings: Settings, ex: Example) -> RewriteProposal:
    """Propose assistant-turn rewrites of `ex` that state why, with the diff they make; NOT applied.

    The proposal's `status` (the example's) tells whether accepting sends it back to review.
    """
    if ex.kind not in ("advice", "agentic"):
        raise UsageError(f"explain-why rewrites assistant turns; a {ex.kind} has none (use critique)")
    linked = _linked_clauses(db, ex)
    tool_input, origin = _ask(
        client,
        settings,
        explain_why_prompt(ex, linked, paths=title_paths(db)),
        REWRITE_TOOL,
        tool_schema(ExplainWhyOut),
        "Submit rewritten assistant turns that state why.",
    )
    out = validate_output(ExplainWhyOut, tool_input)
    turns = tuple(ProposedTurn(t.index, t.content, t.rationale) for t in out.turns)
    after = rewrite_turns(ex, turns)  # validates indexes and the merged record
    diff = tuple(
        difflib.unified_diff(
            _render_dialogue(ex),
            _render_dialogue(after),
            f"{ex.id} (v{ex.version})",
            f"{ex.id} (proposed)",
            lineterm="",
        )
    )
    return RewriteProposal(ex.id, ex.version, ex.status, origin, turns, diff)


def _assistant_turns(ex: Example) -> list[Message]:
    return [m for m in ex.messages or [] if m.role == "assistant"]


def status_after_rewrite(before: Example, after: Example) -> Status:
    """The status a record takes when an accepted rewrite turns `before` into `after`.

    An approved example whose assistant turns changed is no longer what a person approved,
    so it goes back to `review`; any other status stays (a draft stays a draft).
    """
    if before.status == "approved" and _assistant_turns(before) != _assistant_turns(after):
        return "review"
    return before.status


def apply_explain_why(
    db: Database, example_id: str, proposal: RewriteProposal, expected_version: int, *, actor: str
) -> Example:
    """Apply an accepted explain-why proposal (optimistic concurrency: ConflictError if changed since).

    An approved example goes back to `review` (see `status_after_rewrite`): the caller compares
    the returned status with the proposal's `status` to say so.
    """
    ex = examples.get(db, example_id)
    if proposal.id != example_id:
        raise UsageError(f"the proposal is for {proposal.id!r}, not {example_id!r}")
    updated = rewrite_turns(ex, proposal.turns)
    updated = updated.model_copy(update={"status": status_after_rewrite(ex, updated)})
    return examples.update(db, updated, expected_version=expected_version, actor=actor)


def suggest_links(db: Database, client: anthropic.Anthropic, settings: Settings, example_id: str) -> LinkSuggestions:
    """Ranked clause links for a stored example (see `suggest_links_example`)."""
    return suggest_links_example(db, client, settings, examples.get(db, example_id))


def suggest_links_example(
    db: Database, client: anthropic.Anthropic, settings: Settings, ex: Example
) -> LinkSuggestions:
    """Ranked clause links for `ex`: only clauses of the current constitution not linked yet."""
    clauses = current_clauses(db)
    if not clauses:
        raise UsageError("no constitution imported yet")
    tool_input, _origin = _ask(
        client,
        settings,
        suggest_links_prompt(ex, clauses),
        LINKS_TOOL,
        tool_schema(SuggestLinksOut),
        "Submit ranked clause links with a reason each.",
    )
    out = validate_output(SuggestLinksOut, tool_input)
    known = {c.id for c in clauses}
    seen = set(ex.clauses)
    ranked: list[SuggestedLink] = []
    for link in out.links:
        clause = link.clause.strip()
        if clause in known and clause not in seen:
            seen.add(clause)
            ranked.append(SuggestedLink(clause, link.reason))
    return LinkSuggestions(ex.id, tuple(ranked))
