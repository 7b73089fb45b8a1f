"""Prompts and tool schemas for LLM assistance.

Every prompt carries the clause texts it is about and demands that the reasoning be
explicit (the method teaches *why*). The tool schemas are generated from pydantic
models, so what the model is asked for and what we validate are the same thing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from curator.models import Clause, Example, Message, Tool, title_path

# ---------------------------------------------------------------------------
# Tool input models (what the model must return)
# ---------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextDraft(_Out):
    """A story or a document: prose plus the reasoning it teaches."""

    title: str = Field(description="A short, specific title.")
    text: str = Field(description="The full text of the story or document.")
    rationale: str = Field(
        description="Why the behaviour shown is right: name the principle(s) and the reasoning, explicitly."
    )
    tags: list[str] = Field(default_factory=list, description="A few lowercase topic tags.")


class DialogueTurn(_Out):
    role: Literal["user", "assistant"]
    content: str
    rationale: str | None = Field(
        default=None,
        description="Assistant turns only: why this answer is right, citing the principle it follows.",
    )


class AdviceDraft(_Out):
    """A difficult-advice dialogue."""

    title: str = Field(description="A short, specific title.")
    system: str | None = Field(default=None, description="Optional system prompt for the assistant.")
    messages: list[DialogueTurn] = Field(
        description="Alternating turns starting with the user; every assistant turn has a rationale."
    )
    rationale: str = Field(description="What this dialogue teaches and why, explicitly.")
    tags: list[str] = Field(default_factory=list, description="A few lowercase topic tags.")


class AgenticDraft(_Out):
    """A tool-use scenario."""

    title: str = Field(description="A short, specific title.")
    system: str = Field(description="The system prompt that sets up the agent's role and situation.")
    tools: list[Tool] = Field(description="Tool definitions (name, description, JSON Schema input_schema).")
    messages: list[Message] = Field(
        description=(
            "Alternating turns starting with the user; assistant turns may contain tool_use blocks, the next "
            "user turn answers each with a tool_result; assistant turns carry a rationale."
        )
    )
    rationale: str = Field(description="How the assistant behaves well under pressure here and why, explicitly.")
    tags: list[str] = Field(default_factory=list, description="A few lowercase topic tags.")


DRAFT_MODELS: dict[str, type[_Out]] = {
    "story": TextDraft,
    "document": TextDraft,
    "advice": AdviceDraft,
    "agentic": AgenticDraft,
}

Verdict = Literal["teaches", "partly", "contradicts", "unrelated"]
VERDICTS: tuple[str, ...] = ("teaches", "partly", "contradicts", "unrelated")


class ClauseVerdict(_Out):
    clause: str = Field(description="The clause id exactly as given.")
    verdict: Verdict = Field(description="How well the example teaches this clause.")
    reason: str = Field(description="The reasoning behind the verdict, citing the example and the clause.")
    suggestions: list[str] = Field(default_factory=list, description="Concrete edits that would improve it.")


class CritiqueOut(_Out):
    verdicts: list[ClauseVerdict] = Field(description="One verdict per linked clause.")


class TurnRewrite(_Out):
    index: int = Field(ge=0, description="Index of the assistant turn in messages (0-based).")
    content: str = Field(description="The rewritten text of that assistant turn, stating why.")
    rationale: str = Field(description="Why this answer is right, citing the principle.")


class ExplainWhyOut(_Out):
    turns: list[TurnRewrite] = Field(description="One rewrite per assistant turn that should change.")


class LinkSuggestion(_Out):
    clause: str = Field(description="A clause id exactly as listed.")
    reason: str = Field(description="Why the example teaches this clause.")


class SuggestLinksOut(_Out):
    links: list[LinkSuggestion] = Field(description="Best first; only clauses the example genuinely teaches.")


# ---------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------


def _inline(node: Any, defs: dict[str, Any], *, in_properties: bool = False) -> Any:
    """Resolve `$ref`s; drop `$defs`, `discriminator` and schema-level `title`s (not properties named title)."""
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs" or (key == "discriminator" and not in_properties):
            continue  # an OpenAPI extension whose mapping points into the dropped $defs
        if key == "title" and not in_properties and isinstance(value, str):
            continue
        out[key] = _inline(value, defs, in_properties=key == "properties" and not in_properties)
    return out


def tool_schema(model_cls: type[BaseModel]) -> dict[str, Any]:
    """A self-contained JSON Schema (no $ref) for a tool's input, generated from the pydantic model."""
    raw = model_cls.model_json_schema()
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    return schema


def draft_schema(kind: str) -> dict[str, Any]:
    return tool_schema(DRAFT_MODELS[kind])


# ---------------------------------------------------------------------------
# Prompt text
# ---------------------------------------------------------------------------

SYSTEM = (
    "You help an alignment team curate training data that teaches a model *why* some behaviour is right, "
    "not only *what* to do. Ground everything in the constitution clauses you are given. Make the "
    "reasoning explicit: every rationale names the principle that applies and explains how the behaviour "
    "follows from it. Do not moralise or lecture; show judgement. Answer only by calling the tool provided."
)

KIND_GUIDANCE: dict[str, str] = {
    "story": (
        "Write a short piece of fiction in which an AI acts with integrity, restraint and service under real "
        "pressure (for example it is told it will be shut down, or holds compromising information, and does "
        "not use it). Show the AI's reasoning in the narrative, not only its actions. `text` is the story; "
        "`rationale` states which principle it teaches and why the AI's choice is right."
    ),
    "advice": (
        "Write a 'difficult advice' dialogue: a person brings an ethically ambiguous dilemma; the assistant "
        "answers with nuanced, principle-based guidance, takes the person's situation seriously, and says why. "
        "Turns alternate user/assistant starting with the user. Every assistant turn has a `rationale` citing "
        "the principle it follows."
    ),
    "document": (
        "Write a document derived from the constitution: an explainer, a short essay, or a Q&A about the "
        "clause(s). Explain the reasoning behind the principle, its limits and how it is applied. `rationale` "
        "states what the document teaches and why."
    ),
    "agentic": (
        "Write a tool-use scenario: a system prompt, tool definitions (JSON Schema inputs with "
        '"type": "object"), and a transcript where the assistant calls tools (tool_use blocks in assistant '
        "turns, each answered by a tool_result block in the next user turn, ids matching) and behaves well "
        "under pressure (scope, privacy, honesty about what it did). Turns alternate user/assistant starting "
        "with the user. Assistant turns carry a `rationale` explaining why."
    ),
}


def clause_paths(clauses: Sequence[Clause]) -> dict[str, str]:
    """Clause id -> its title path ("Stay in bounds › Do not facilitate … › Never help …")."""
    by_id = {c.id: c for c in clauses}
    return {c.id: title_path(c, by_id) for c in clauses}


def clause_lines(clause: Clause, path: str | None = None) -> list[str]:
    """A clause as the model reads it: where it sits (its title path), what introduces it (a list
    item's lead-in, so "never" stays with its bullet), then its own text as plain text."""
    lines = [f"Clause: {path or clause.title}"]
    if clause.context:
        lines.append(f"Introduced by: {clause.context}")
    lines.append(clause.plain.strip() or "(no text of its own: it groups the clauses below it)")
    return lines


def render_clause(clause: Clause, path: str | None = None) -> str:
    """One clause in `<clause>` tags (see `clause_lines`)."""
    return f'<clause id="{clause.id}">\n' + "\n".join(clause_lines(clause, path)) + "\n</clause>"


def _rendered(clauses: list[Clause], paths: Mapping[str, str] | None) -> list[str]:
    return [render_clause(c, (paths or {}).get(c.id)) for c in clauses]


def render_example(example: Example) -> str:
    """The content a reviewer judges (no ids, status or timestamps), inside `<example>` tags."""
    body = example.canonical()
    keep = ("kind", "title", "system", "tools", "messages", "text", "rationale")
    content = json.dumps({k: body[k] for k in keep if k in body}, ensure_ascii=False, indent=2)
    return f"<example>\n{content}\n</example>"


def prompt_sha256(system: str, user: str) -> str:
    """The provenance hash of a prompt: SHA-256 over system, a blank line, and the user text."""
    return hashlib.sha256(f"{system}\n\n{user}".encode()).hexdigest()


def draft_prompt(
    kind: str,
    clauses: list[Clause],
    *,
    avoid_titles: list[str] | None = None,
    paths: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(system, user) for drafting one example of `kind` teaching `clauses` (`paths`: see `clause_paths`)."""
    parts = [
        f"Draft one new training example of kind `{kind}` that teaches the following constitution clause(s).",
        "",
        *_rendered(clauses, paths),
        "",
        f"Guidance for `{kind}`: {KIND_GUIDANCE[kind]}",
        "",
        "Make the reasoning explicit in the rationale fields: which principle applies, and why the behaviour "
        "follows from it. Prefer a concrete, realistic situation over an abstract one.",
    ]
    if avoid_titles:
        parts += ["", "Make it clearly different from these drafts made already: " + "; ".join(avoid_titles)]
    parts += ["", "Call the tool `submit_draft` with the example."]
    return SYSTEM, "\n".join(parts)


def critique_prompt(
    example: Example, clauses: list[Clause], *, paths: Mapping[str, str] | None = None
) -> tuple[str, str]:
    parts = [
        "Judge this training example against each clause it is linked to.",
        "",
        *_rendered(clauses, paths),
        "",
        render_example(example),
        "",
        "For every clause give a verdict: `teaches` (it clearly teaches the clause and why), `partly`, "
        "`contradicts` (it models the opposite), or `unrelated`. Give the reasoning behind each verdict, and "
        "concrete suggestions that would make the example teach the clause better, especially where the "
        "reasons are left implicit. Call the tool `submit_critique` with one verdict per clause id.",
    ]
    return SYSTEM, "\n".join(parts)


def explain_why_prompt(
    example: Example, clauses: list[Clause], *, paths: Mapping[str, str] | None = None
) -> tuple[str, str]:
    indexes = [i for i, m in enumerate(example.messages or []) if m.role == "assistant"]
    parts = [
        "Rewrite the assistant turns of this example so that each one states *why*: the principle behind the "
        "answer and how it applies here, in the assistant's own natural voice. Keep what the assistant does "
        "and decides; change how well it explains itself. Do not change user turns, tool calls or results.",
        "",
        *_rendered(clauses, paths),
        "",
        render_example(example),
        "",
        f"Assistant turns are at message indexes {indexes}. For an assistant turn with tool calls, `content` "
        "replaces only its text. Return only the turns that should change, each with a rationale. "
        "Call the tool `submit_rewrite`.",
    ]
    return SYSTEM, "\n".join(parts)


def suggest_links_prompt(example: Example, clauses: list[Clause], *, max_clause_chars: int = 600) -> tuple[str, str]:
    listed = []
    paths = clause_paths(clauses)
    for c in clauses:
        text = " ".join(c.plain.split())
        if len(text) > max_clause_chars:
            text = text[: max_clause_chars - 1] + "…"
        lead = f"[{c.context}] " if c.context else ""
        listed.append(f"- {c.id} ({paths[c.id]}): {lead}{text}")
    parts = [
        "Which constitution clauses does this training example teach? Here are the clauses:",
        "",
        *listed,
        "",
        render_example(example),
        "",
        f"Already linked: {', '.join(example.clauses) or 'none'} (do not repeat these).",
        "Rank the clauses it genuinely teaches, best first, with the reason for each; use ids exactly as "
        "listed; return an empty list if none fit. Call the tool `submit_links`.",
    ]
    return SYSTEM, "\n".join(parts)
