"""The one place that talks to the API: building the client and forcing one tool call.

The SDK's own retry with backoff handles rate limits, overload, timeouts and 5xx; what
is left after its retries becomes one line (`AssistError`). The API key is read from
`ANTHROPIC_API_KEY`, handed to the SDK and never logged, stored or echoed.
`ANTHROPIC_BASE_URL` stays the SDK's business (gateways keep working).
"""

from __future__ import annotations

from typing import Any, TypeVar

import anthropic
from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam
from pydantic import BaseModel, ValidationError

from curator.assist.env import KEY_VAR, AssistError, AssistUnavailable, api_key_from_env
from curator.config import Settings

MAX_RETRIES = 2
"""Retries the SDK makes (with exponential backoff, honouring retry-after) before we report."""

M = TypeVar("M", bound=BaseModel)

__all__ = ["KEY_VAR", "AssistError", "AssistUnavailable", "api_key_from_env", "call_tool", "make_client"]


def make_client(settings: Settings, *, http_client: Any = None) -> anthropic.Anthropic:
    """An SDK client with our timeout and retry policy; `base_url` is left to the SDK (ANTHROPIC_BASE_URL).

    `http_client` is the SDK's own HTTP client type (tests pass one over a mock transport).
    """
    key = api_key_from_env()
    if http_client is not None:
        return anthropic.Anthropic(
            api_key=key, max_retries=MAX_RETRIES, timeout=settings.assist_timeout_s, http_client=http_client
        )
    return anthropic.Anthropic(api_key=key, max_retries=MAX_RETRIES, timeout=settings.assist_timeout_s)


def _retries(client: anthropic.Anthropic) -> str:
    n = client.max_retries
    return f"after {n} {'retry' if n == 1 else 'retries'}"


def _first_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def assist_error_from(client: anthropic.Anthropic, err: anthropic.APIError) -> AssistError:
    """One clear line for an SDK error that survived the SDK's own retries (never includes the key)."""
    if isinstance(err, anthropic.APITimeoutError):
        return AssistError(f"request timed out ({client.timeout}s) {_retries(client)}; try again or raise the timeout")
    if isinstance(err, anthropic.APIConnectionError):
        return AssistError(f"cannot reach the API at {client.base_url} {_retries(client)}")
    if isinstance(err, anthropic.APIStatusError):
        status = err.status_code
        if status == 429:
            return AssistError(f"rate limited (429) {_retries(client)}; wait a moment and try again")
        if status == 529:
            return AssistError(f"API overloaded (529) {_retries(client)}; try again later")
        if status == 401:
            return AssistError(f"API key rejected (401): check {KEY_VAR}")
        if status == 403:
            return AssistError("permission denied (403): the key cannot use this model or endpoint")
        if status >= 500:
            return AssistError(f"server error {status} {_retries(client)}; try again later")
        return AssistError(f"API error {status}: {_first_line(err.message)}")
    return AssistError(f"API error: {_first_line(str(err))}")


def call_tool(
    client: anthropic.Anthropic,
    *,
    model: str,
    system: str,
    user: str,
    tool_name: str,
    tool_schema: dict[str, Any],
    max_tokens: int,
    tool_description: str = "",
) -> tuple[dict[str, Any], str]:
    """Send one prompt that must be answered by calling `tool_name`; returns (tool input, message id)."""
    tool: ToolParam = {"name": tool_name, "input_schema": tool_schema}
    if tool_description:
        tool["description"] = tool_description
    messages: list[MessageParam] = [{"role": "user", "content": user}]
    choice: ToolChoiceToolParam = {"type": "tool", "name": tool_name}
    try:
        response = client.messages.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=messages,
            tools=[tool],
            tool_choice=choice,
        )
    except anthropic.APIError as err:
        raise assist_error_from(client, err) from None
    if response.stop_reason == "max_tokens":
        raise AssistError("malformed model output: cut off at max_tokens (raise assist_max_tokens)")
    for block in response.content:
        if block.type == "tool_use" and block.name == tool_name:
            if not isinstance(block.input, dict):
                raise AssistError(f"malformed model output: {tool_name} input is not a JSON object")
            return dict(block.input), response.id
    raise AssistError(f"malformed model output: the response has no {tool_name} tool call")


def validate_output(model_cls: type[M], data: dict[str, Any]) -> M:
    """Parse a tool input with its pydantic model; failures name the field as malformed output."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        raise AssistError(f"malformed model output: {where}: {first['msg']}") from None
