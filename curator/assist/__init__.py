"""LLM assistance through the official anthropic SDK.

Draft examples for clauses, critique an example against its linked clauses, rewrite
assistant turns so they explain why, suggest clause links, and draft in bulk through
the Message Batches API. Everything generated lands as a `draft` with provenance, and
nothing overwrites a person's text without an explicit accept.

Importing the package does not import the SDK (`client.py` does): the TUI stays quick to start.
"""

from __future__ import annotations

from curator.assist.env import KEY_VAR, AssistError, AssistUnavailable, api_key_from_env

__all__ = ["KEY_VAR", "AssistError", "AssistUnavailable", "api_key_from_env"]
