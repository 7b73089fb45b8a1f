"""What assistance needs from the environment (the API key), and its errors, without the SDK.

Kept apart from `client.py` so the TUI can say "no key" at once and catch `AssistError`
without importing anthropic (start-up time: the SDK is imported only when a request runs).
"""

from __future__ import annotations

import os

from curator.errors import CuratorError
from curator.redact import redact

KEY_VAR = "ANTHROPIC_API_KEY"


class AssistUnavailable(CuratorError):
    """LLM assistance cannot run (no API key); everything else keeps working."""


class AssistError(CuratorError):
    """An assistance request failed after the SDK's retries, or the model's output was unusable.

    The message is redacted (`curator.redact`): it often quotes a server or the environment.
    """

    def __init__(self, message: str, *, created: list[str] | None = None) -> None:
        self.created = list(created or [])
        """Ids already stored before the failure (batch-like actions); empty for single calls."""
        super().__init__(redact(message))


def api_key_from_env() -> str:
    """The key from the environment, or AssistUnavailable naming the variable and how to set it."""
    key = os.environ.get(KEY_VAR, "").strip()
    if not key:
        raise AssistUnavailable(
            f"LLM assistance needs an API key: set {KEY_VAR} (export {KEY_VAR}=...) and retry; "
            "everything else works without it"
        )
    return key
