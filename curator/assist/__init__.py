"""LLM assistance through the official anthropic SDK (DESIGN section 9).

Draft examples for clauses, critique an example against its linked clauses, rewrite
assistant turns so they explain why, suggest clause links, and draft in bulk through
the Message Batches API. Everything generated lands as a `draft` with provenance, and
nothing overwrites a person's text without an explicit accept.
"""

from __future__ import annotations

from curator.assist.client import AssistError, AssistUnavailable, call_tool, make_client

__all__ = ["AssistError", "AssistUnavailable", "call_tool", "make_client"]
