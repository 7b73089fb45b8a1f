"""A stand-in for the Messages API behind the real anthropic SDK: an httpx2 MockTransport handler.

Shared by the CLI/core tests (tests/test_assist.py) and the TUI tests (tests/tui/test_assist_panel.py).
"""

from __future__ import annotations

import json
import threading
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
