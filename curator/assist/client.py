"""The one place that talks to the API: building the client, forcing one tool call, reading answers.

The SDK's own retry with backoff handles rate limits, overload, timeouts and 5xx; what is left
after its retries becomes one line (`AssistError`). The API key is read from `ANTHROPIC_API_KEY`,
handed to the SDK and never logged, stored or echoed. `ANTHROPIC_BASE_URL` stays the SDK's
business (gateways keep working).

Hardening against servers that misbehave:

- **Deadline.** Every HTTP request (each attempt the SDK makes) has a total deadline of
  `assist_timeout_s`, on top of the socket timeouts (connect, read, write, pool): the answer is
  received by a watchdog thread (`DeadlineTransport`), and when the deadline passes the request
  fails as a timeout (the SDK then retries) and the watchdog stops reading. A server sending one
  byte a second cannot hold a request open past the deadline.
- **Shape.** Answers are read as raw bytes and checked before use: a 200 that is HTML, not JSON,
  `{}`, `[]` or another object is one line naming the endpoint (`MalformedResponse`), never a
  traceback.
- **Redaction.** Every text that comes from a server, the environment or the HTTP stack goes
  through `curator.redact.redact` before it becomes an error message or a log record.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anthropic
import httpx2
from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam
from pydantic import BaseModel, ValidationError

from curator.assist.env import KEY_VAR, AssistError, AssistUnavailable, api_key_from_env
from curator.config import Settings
from curator.redact import redact

MAX_RETRIES = 2
"""Retries the SDK makes (with exponential backoff, honouring retry-after) before we report."""

CONNECT_TIMEOUT_S = 10.0
"""Upper bound on opening a connection (the other socket phases use `assist_timeout_s`)."""

LOGGERS = ("anthropic", "httpx2", "httpcore2")
"""Loggers of the SDK and its HTTP stack whose records are redacted (`install_log_redaction`)."""

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "KEY_VAR",
    "AssistError",
    "AssistUnavailable",
    "DeadlineTransport",
    "MalformedResponse",
    "api_key_from_env",
    "call_tool",
    "make_client",
]


class MalformedResponse(AssistError):
    """A successful status whose body is not what the endpoint answers (HTML, broken JSON, `{}`...)."""


# ---------------------------------------------------------------------------
# The client: timeouts, deadline, log redaction
# ---------------------------------------------------------------------------


class DeadlineTransport(httpx2.BaseTransport):
    """Wraps a transport so that one request, headers and body, completes within `deadline` seconds.

    The inner transport runs in a daemon thread that reads the whole body; the caller waits at
    most `deadline`. Past it, the caller gets `httpx2.ReadTimeout` (the SDK retries or reports a
    timeout) and the thread stops at the next chunk and closes the response. Bodies are read in
    full before they are handed on, which suits the JSON and JSONL answers assistance uses.
    """

    def __init__(self, inner: httpx2.BaseTransport, deadline: float) -> None:
        self.inner = inner
        self.deadline = deadline

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        outcome: dict[str, Any] = {}
        done = threading.Event()
        cancelled = threading.Event()

        def receive() -> None:
            response: httpx2.Response | None = None
            try:
                response = self.inner.handle_request(request)
                chunks: list[bytes] = []
                for chunk in response.stream:  # type: ignore[union-attr]  # a sync transport's stream
                    if cancelled.is_set():
                        return
                    chunks.append(chunk)
                outcome["response"] = httpx2.Response(
                    response.status_code,
                    headers=response.headers,
                    stream=httpx2.ByteStream(b"".join(chunks)),
                    extensions=response.extensions,
                )
            except BaseException as err:  # handed to the caller's thread, KeyboardInterrupt included
                outcome["error"] = err
            finally:
                if response is not None:
                    response.close()
                done.set()

        threading.Thread(target=receive, name="curator-assist-request", daemon=True).start()
        if not done.wait(self.deadline):
            cancelled.set()
            raise httpx2.ReadTimeout(f"no complete answer within {self.deadline:g}s", request=request)
        if "error" in outcome:
            raise outcome["error"]
        response: httpx2.Response = outcome["response"]
        return response

    def close(self) -> None:
        self.inner.close()


def _with_deadline(http_client: httpx2.Client, deadline: float) -> httpx2.Client:
    """Put every transport of `http_client` (the default one and any proxy mounts) behind the deadline."""
    transport = http_client._transport
    if not isinstance(transport, DeadlineTransport):
        http_client._transport = DeadlineTransport(transport, deadline)
    for pattern, mounted in list(http_client._mounts.items()):
        if mounted is not None and not isinstance(mounted, DeadlineTransport):
            http_client._mounts[pattern] = DeadlineTransport(mounted, deadline)
    return http_client


def timeout_of(settings: Settings) -> httpx2.Timeout:
    """The socket timeouts: each read, write and pool wait within `assist_timeout_s`, connect within 10 s."""
    t = settings.assist_timeout_s
    return httpx2.Timeout(t, connect=min(t, CONNECT_TIMEOUT_S))


class RedactingFilter(logging.Filter):
    """Redacts a log record's message, arguments and traceback text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), multiline=True)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, multiline=True)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Add the redacting filter to the SDK's and the HTTP stack's loggers (idempotent).

    A logger's filters see only its own records, so every logger under `LOGGERS` gets one.
    """
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] in LOGGERS]
    for name in {*LOGGERS, *names}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def make_client(settings: Settings, *, http_client: Any = None) -> anthropic.Anthropic:
    """An SDK client with our timeouts, deadline and retry policy; `base_url` is left to the SDK.

    `http_client` is the SDK's own HTTP client type (tests pass one over a mock transport); its
    transports are put behind the deadline too.
    """
    key = api_key_from_env()
    install_log_redaction()
    client = http_client if http_client is not None else anthropic.DefaultHttpxClient()
    return anthropic.Anthropic(
        api_key=key,
        max_retries=MAX_RETRIES,
        timeout=timeout_of(settings),
        http_client=_with_deadline(client, settings.assist_timeout_s),
    )


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def _retries(client: anthropic.Anthropic) -> str:
    n = client.max_retries
    return f"after {n} {'retry' if n == 1 else 'retries'}"


def _seconds(client: anthropic.Anthropic) -> str:
    timeout = client.timeout
    value = timeout.read if isinstance(timeout, httpx2.Timeout) else timeout
    return f"{value}s"


def _first_line(text: str, limit: int = 200) -> str:
    line = redact(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def assist_error_from(client: anthropic.Anthropic, err: anthropic.AnthropicError) -> AssistError:
    """One clear line for an SDK error that survived the SDK's own retries (redacted: no key, no password)."""
    if isinstance(err, anthropic.APITimeoutError):
        return AssistError(
            f"request timed out ({_seconds(client)}) {_retries(client)}; try again or raise assist_timeout_s"
        )
    if isinstance(err, anthropic.APIConnectionError):
        return AssistError(f"cannot reach the API at {redact(client.base_url)} {_retries(client)}")
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


# ---------------------------------------------------------------------------
# Reading answers
# ---------------------------------------------------------------------------


def _kind_of(value: object) -> str:
    if isinstance(value, dict):
        return "an empty JSON object" if not value else "a JSON object of another shape"
    if isinstance(value, list):
        return "a JSON array"
    return f"a JSON {type(value).__name__}" if value is not None else "JSON null"


def decode_body(response: httpx2.Response, what: str) -> Any:
    """The JSON of a successful answer, or `MalformedResponse` naming the endpoint and what came instead."""
    endpoint = f"{response.request.method} {response.request.url.path}"

    def malformed(why: str) -> MalformedResponse:
        return MalformedResponse(f"{endpoint} answered {response.status_code} with a body that is not {what} ({why})")

    body = response.read()
    content_type = response.headers.get("content-type", "").lower()
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        raise malformed("empty body")
    if "html" in content_type or text.startswith("<"):
        raise malformed("HTML")
    try:
        return json.loads(text)
    except ValueError:
        raise malformed("not JSON") from None


def expect(data: Any, check: Callable[[Any], bool], response: httpx2.Response, what: str) -> dict[str, Any]:
    """`data` when `check` accepts it (it must be a JSON object), else `MalformedResponse` for `what`."""
    if isinstance(data, dict) and check(data):
        return data
    endpoint = f"{response.request.method} {response.request.url.path}"
    raise MalformedResponse(
        f"{endpoint} answered {response.status_code} with a body that is not {what} ({_kind_of(data)})"
    )


def is_message(data: dict[str, Any]) -> bool:
    """A Messages response as far as assistance reads it: id, content blocks with a type, stop reason."""
    content = data.get("content")
    return (
        data.get("type") == "message"
        and isinstance(data.get("id"), str)
        and isinstance(content, list)
        and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in content)
        and (data.get("stop_reason") is None or isinstance(data.get("stop_reason"), str))
    )


def tool_input_of(message: dict[str, Any], tool_name: str) -> dict[str, Any]:
    """The input of the `tool_name` call in a checked message, or a malformed-output `AssistError`."""
    if message.get("stop_reason") == "max_tokens":
        raise AssistError("malformed model output: cut off at max_tokens (raise assist_max_tokens)")
    for block in message["content"]:
        if block["type"] == "tool_use" and block.get("name") == tool_name:
            tool_input = block.get("input")
            if not isinstance(tool_input, dict):
                raise AssistError(f"malformed model output: {tool_name} input is not a JSON object")
            return dict(tool_input)
    raise AssistError(f"malformed model output: the response has no {tool_name} tool call")


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
        raw = client.messages.with_raw_response.create(
            model=model,
            max_tokens=max_tokens,
            system=system,
            messages=messages,
            tools=[tool],
            tool_choice=choice,
        )
        response = raw.http_response
        message = expect(decode_body(response, "a Messages response"), is_message, response, "a Messages response")
    except anthropic.AnthropicError as err:
        raise assist_error_from(client, err) from None
    return tool_input_of(message, tool_name), str(message["id"])


def validate_output(model_cls: type[M], data: dict[str, Any]) -> M:
    """Parse a tool input with its pydantic model; failures name the field as malformed output."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        raise AssistError(f"malformed model output: {where}: {first['msg']}") from None
