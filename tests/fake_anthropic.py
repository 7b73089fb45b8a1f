"""A stand-in for the Messages API behind the real anthropic SDK: an httpx2 MockTransport handler.

Shared by the CLI/core tests (tests/test_assist.py) and the TUI tests (tests/tui/test_assist_panel.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx2

MODEL = "claude-test-model"


class FakeAPI:
    """Answers queued responses (or raises queued exceptions) in order and records every request.

    `gate` holds answers back until it is set, so a test can act while a request is in flight.
    """

    def __init__(self) -> None:
        self.queue: list[httpx2.Response | Exception] = []
        self.requests: list[httpx2.Request] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        self.gate.wait(timeout=10)
        item = self.queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def _message(self, content: list[dict[str, Any]], stop_reason: str, msg_id: str) -> dict[str, Any]:
        return message_body(content, stop_reason=stop_reason, msg_id=msg_id)

    def tool(self, name: str, tool_input: dict[str, Any], msg_id: str = "msg_01TEST") -> None:
        """One forced tool call answering the request."""
        block = {"type": "tool_use", "id": "toolu_01", "name": name, "input": tool_input}
        body = self._message([block], "tool_use", msg_id)
        self.queue.append(httpx2.Response(200, json=body, headers={"request-id": "req_01TEST"}))

    def text_only(self) -> None:
        """A reply that ignores the forced tool (malformed output)."""
        body = self._message([{"type": "text", "text": "Sure! Here is a story..."}], "end_turn", "msg_text")
        self.queue.append(httpx2.Response(200, json=body))

    def error(self, status: int, kind: str, message: str = "nope", *, times: int = 1) -> None:
        """`times` error answers; `retry-after-ms: 1` lets the SDK's own retries run fast."""
        for _ in range(times):
            self.queue.append(
                httpx2.Response(
                    status,
                    json={"type": "error", "error": {"type": kind, "message": message}},
                    headers={"retry-after-ms": "1"},
                )
            )


BATCH_ID = "msgbatch_01TEST"


def tool_message(tool: str, tool_input: dict[str, Any], *, model: str = "claude-test") -> dict[str, Any]:
    """A Messages API reply that is one forced tool call (the shape every assist answer has)."""
    return {
        "id": f"msg_{tool}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "tool_use", "id": "toolu_1", "name": tool, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def batch_object(status: str, *, requests: int = 1, batch_id: str = BATCH_ID) -> dict[str, Any]:
    """A Message Batch as the API returns it: `requests` processing, or all succeeded once ended."""
    ended = status == "ended"
    return {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": status,
        "request_counts": {
            "processing": 0 if ended else requests,
            "succeeded": requests if ended else 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": "2026-11-27T00:00:00Z",
        "expires_at": "2026-11-28T00:00:00Z",
        "ended_at": "2026-11-27T01:00:00Z" if ended else None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results" if ended else None,
    }


Answer = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(custom_id, the request's params) -> that request's batch `result` object."""


def message_body(content: list[dict[str, Any]], *, stop_reason: str, msg_id: str) -> dict[str, Any]:
    """A Messages API reply holding these content blocks."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }


def message_result(content: list[dict[str, Any]], *, msg_id: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    """A `succeeded` batch result holding a Messages reply with these content blocks."""
    return {"type": "succeeded", "message": message_body(content, stop_reason=stop_reason, msg_id=msg_id)}


def tool_result_of(tool: str, tool_input: dict[str, Any], *, msg_id: str) -> dict[str, Any]:
    """A `succeeded` batch result that is one forced tool call."""
    block = {"type": "tool_use", "id": "toolu_1", "name": tool, "input": tool_input}
    return message_result([block], msg_id=msg_id, stop_reason="tool_use")


def errored_result(kind: str = "overloaded_error", message: str = "Overloaded") -> dict[str, Any]:
    return {"type": "errored", "error": {"type": "error", "error": {"type": kind, "message": message}}}


class BatchAPI:
    """The Message Batches endpoints: each create makes a new batch (`msgbatch_1`, `msgbatch_2`, ...);
    a retrieve answers the next of `statuses` (the last one repeats); the results of a batch are
    `answer(custom_id, params)` for each of its requests, in order."""

    def __init__(self, answer: Answer, statuses: list[str] | None = None) -> None:
        self.answer = answer
        self.statuses = list(statuses or ["ended"])
        self.requests: list[httpx2.Request] = []
        self.batches: dict[str, list[dict[str, Any]]] = {}

    def creates(self) -> list[dict[str, Any]]:
        """The body of every create, in order."""
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]

    def _batch(self, batch_id: str, status: str) -> dict[str, Any]:
        return batch_object(status, requests=len(self.batches[batch_id]), batch_id=batch_id)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1/messages/batches").strip("/")
        if request.method == "POST" and not path:
            batch_id = f"msgbatch_{len(self.batches) + 1}"
            self.batches[batch_id] = json.loads(request.content)["requests"]
            return httpx2.Response(200, json=self._batch(batch_id, "in_progress"))
        batch_id, _, tail = path.partition("/")
        if request.method == "GET" and batch_id in self.batches and not tail:
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return httpx2.Response(200, json=self._batch(batch_id, status))
        if request.method == "GET" and batch_id in self.batches and tail == "results":
            lines = [
                {"custom_id": r["custom_id"], "result": self.answer(r["custom_id"], r["params"])}
                for r in self.batches[batch_id]
            ]
            body = "".join(json.dumps(line) + "\n" for line in lines)
            return httpx2.Response(200, content=body.encode(), headers={"content-type": "application/binary"})
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": "?"}})
