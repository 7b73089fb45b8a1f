"""Assistance against servers that misbehave, over the real SDK with a mocked HTTP transport.

- a 200 whose body is HTML, `{}`, `[]` or broken JSON is one line naming the endpoint, for every
  assist command (no traceback);
- `assist batch --poll` is checked before anything is submitted;
- secrets never reach output: keys and auth values echoed in an error body or in response
  headers, credentials in `ANTHROPIC_BASE_URL`, exception text from the HTTP stack, and escape
  bytes from a server, on stderr, in logs, in batch reports and in TUI notifications;
- a server that trickles its answer cannot hold a request past `assist_timeout_s`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from curator.assist import client as assist_client
from curator.assist.batch import run_batch
from curator.assist.client import AssistError, make_client
from curator.config import Settings
from curator.redact import redact
from tests.conftest import advice, write_jsonl
from tests.fake_anthropic import BATCH_ID, batch_object, tool_message
from tests.helpers import run

SECRET = uuid.uuid4().hex
KEY = f"sk-ant-api03-{SECRET}-canary"
PASSWORD = f"pw{uuid.uuid4().hex[:16]}"
Handler = Callable[[httpx2.Request], httpx2.Response]

DRAFT = {"title": "The unread letters", "text": "The assistant left the letters sealed.", "rationale": "Privacy."}


BODIES: dict[str, tuple[bytes, str, str]] = {
    "html": (b"<!doctype html><html><body>Gateway login</body></html>", "text/html", "HTML"),
    "empty-object": (b"{}", "application/json", "an empty JSON object"),
    "array": (b"[]", "application/json", "a JSON array"),
    "broken-json": (b'{"id": "msg_1", "content": [', "application/json", "not JSON"),
}


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("anthropic._base_client.time.sleep", lambda _s: None)


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], constitution_file: Path
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """`cli(*argv)` over a workspace with the small constitution and one advice record (`ex_adv`).

    The API answers through `handler_box[0]`, replaced by each test.
    """
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setattr("anthropic._base_client.time.sleep", lambda _s: None)
    db = str(tmp_path / "ws.db")

    def cli(*argv: str) -> tuple[int, str, str]:
        return run(capsys, *argv, "--db", db)

    assert cli("init", "--empty")[0] == 0
    assert cli("constitution", "import", str(constitution_file))[0] == 0
    data = write_jsonl(tmp_path / "in.jsonl", [advice(id="ex_adv")])
    assert cli("import", str(data))[0] == 0
    yield cli


def _use(monkeypatch: pytest.MonkeyPatch, handler: Handler) -> None:
    real = assist_client.make_client

    def make(settings: Settings, *, http_client: Any = None) -> anthropic.Anthropic:
        return real(settings, http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))

    monkeypatch.setattr(assist_client, "make_client", make)


COMMANDS: dict[str, tuple[str, ...]] = {
    "draft": ("assist", "draft", "--clause", "honesty", "--kind", "story"),
    "critique": ("assist", "critique", "ex_adv"),
    "explain-why": ("assist", "explain-why", "ex_adv", "--apply"),
    "suggest-links": ("assist", "suggest-links", "ex_adv"),
    "batch": ("assist", "batch", "--clause", "honesty", "--kind", "story", "--poll", "0"),
}


# ---------------------------------------------------------------------------
# Malformed 200 answers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(BODIES))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_malformed_200_is_one_line_naming_the_endpoint(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, command: str, shape: str
) -> None:
    body, content_type, why = BODIES[shape]
    requests: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        return httpx2.Response(200, content=body, headers={"content-type": content_type})

    _use(monkeypatch, handler)
    code, _out, err = cli_env(*COMMANDS[command])
    assert code == 1, err
    assert "Traceback" not in err and err.count("\n") == 1
    if command == "batch":
        expected = f"POST /v1/messages/batches answered 200 with a body that is not a Message Batch ({why})"
    else:
        expected = f"POST /v1/messages answered 200 with a body that is not a Messages response ({why})"
    assert err == f"curator: error: {expected}\n"
    assert requests


@pytest.mark.parametrize("stage", ["retrieve", "results"])
@pytest.mark.parametrize("shape", sorted(BODIES))
def test_malformed_batch_poll_or_results_is_one_line_and_resumable(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, stage: str, shape: str
) -> None:
    body, content_type, _why = BODIES[shape]
    broken = {"on": True}

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/v1/messages/batches":
            return httpx2.Response(200, json=batch_object("in_progress"))
        bad = broken["on"] and (path.endswith("/results") if stage == "results" else path.endswith(BATCH_ID))
        if bad:
            return httpx2.Response(200, content=body, headers={"content-type": content_type})
        if path.endswith("/results"):
            message = tool_message("submit_draft", DRAFT)
            line = {"custom_id": "c0-0", "result": {"type": "succeeded", "message": message}}
            return httpx2.Response(200, content=(json.dumps(line) + "\n").encode())
        return httpx2.Response(200, json=batch_object("ended"))

    _use(monkeypatch, handler)
    code, _out, err = cli_env(*COMMANDS["batch"])
    assert code == 1 and "Traceback" not in err
    *progress, last = err.rstrip("\n").split("\n")
    assert len(progress) == (1 if stage == "results" else 0)  # the progress line ends before the error starts
    assert last.startswith("curator: error: ")
    if stage == "retrieve":
        assert f"GET /v1/messages/batches/{BATCH_ID} answered 200 with a body that is not a Message Batch" in last
    else:
        assert f"GET /v1/messages/batches/{BATCH_ID}/results answered 200 with a body that is not" in last
        assert last.endswith("(HTML)" if shape == "html" else "(line 1 is not a batch result)")
    broken["on"] = False
    code, out, err = cli_env(*COMMANDS["batch"])  # the state file was kept: the same batch resumes
    assert code == 0, err
    assert "(resumed): 1 drafts created" in out


def test_batch_result_lines_of_another_shape_are_failures_not_tracebacks(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        {"custom_id": "c0-0", "result": {"type": "succeeded", "message": {}}},
        {"custom_id": "c0-1", "result": {"type": "succeeded", "message": []}},
        {"custom_id": "c0-2", "result": {"type": f"\x1b[2Jerrored {KEY}"}},
    ]

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.endswith("/results"):
            return httpx2.Response(200, content="\n".join(json.dumps(x) for x in lines).encode())
        return httpx2.Response(200, json=batch_object("ended", requests=3))

    _use(monkeypatch, handler)
    code, out, err = cli_env(*COMMANDS["batch"], "--per-clause", "3", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert [f["custom_id"] for f in report["failed"]] == ["c0-0", "c0-1", "c0-2"]
    assert "no Messages response" in report["failed"][0]["error"]
    assert report["failed"][2]["error"] == "errored ***"
    assert SECRET not in out + err and "\x1b" not in out + err


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "1e308", "-inf"])
def test_poll_is_checked_before_anything_is_submitted(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    requests: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        return httpx2.Response(200, json=batch_object("in_progress"))

    _use(monkeypatch, handler)
    code, _out, err = cli_env("assist", "batch", "--clause", "honesty", "--kind", "story", "--poll", value)
    assert code == 2
    assert err.count("\n") == 1 and "--poll" in err and "from 0 to 3600" in err
    assert requests == []


def test_run_batch_checks_the_poll_interval_first(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from curator.errors import UsageError
    from curator.store.db import open_workspace

    requests: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(request)
        return httpx2.Response(200, json=batch_object("in_progress"))

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    client = make_client(Settings(), http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with open_workspace(demo_db, create=False) as ws:
        for bad in (float("nan"), -1.0, float("inf"), 1e308):
            with pytest.raises(UsageError, match="--poll"):
                run_batch(
                    ws.db,
                    client,
                    Settings(),
                    db_path=str(demo_db),
                    clauses=["privacy.1"],
                    kind="story",
                    per_clause=1,
                    actor="ana",
                    poll_interval=bad,
                )
    assert requests == []


# ---------------------------------------------------------------------------
# Secrets and control characters in what servers and the environment say
# ---------------------------------------------------------------------------


def _echo_auth(request: httpx2.Request) -> httpx2.Response:
    """A gateway that quotes the request's auth headers back, in the error body and in headers."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("x-api-key", "authorization")}
    message = f"bad request; got x-api-key: {request.headers.get('x-api-key')} Authorization: Bearer {KEY}"
    return httpx2.Response(
        400,
        json={"type": "error", "error": {"type": "invalid_request_error", "message": message, "headers": headers}},
        headers={"x-echo-auth": f"Bearer {KEY}", "x-echo-key": request.headers.get("x-api-key", "")},
    )


def _assert_clean(texts: list[str], *needles: str) -> None:
    for text in texts:
        for needle in (KEY, SECRET, SECRET[:12], SECRET[-12:], *needles):
            assert needle not in text, (needle, text)
        assert "\x1b" not in text


def test_echoed_auth_header_is_redacted_on_stderr_and_in_logs(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _use(monkeypatch, _echo_auth)
    caplog.set_level(logging.DEBUG)
    for argv in COMMANDS.values():
        code, out, err = cli_env(*argv)
        assert code == 1 and err.startswith("curator: error: API error 400: ") and err.count("\n") == 1, err
        assert "***" in err
        logs = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
        assert any("x-echo-auth" in t for t in logs)  # the SDK logged the response headers: redacted
        _assert_clean([out, err, *logs])


def test_configured_key_of_any_shape_is_masked(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_key = f"gw-{uuid.uuid4().hex}"
    monkeypatch.setenv("ANTHROPIC_API_KEY", odd_key)

    def handler(request: httpx2.Request) -> httpx2.Response:
        text = f"key {odd_key} is not valid for this gateway"
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": text}})

    _use(monkeypatch, handler)
    code, _out, err = cli_env(*COMMANDS["critique"])
    assert code == 1 and odd_key not in err and "key *** is not valid" in err


def test_base_url_credentials_and_http_exception_text_are_redacted(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://curator:{PASSWORD}@gateway.internal:8080/")
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(
            f"\x1b[31mcannot connect to http://curator:{PASSWORD}@gateway.internal with x-api-key={KEY}",
            request=request,
        )

    _use(monkeypatch, handler)
    for argv in COMMANDS.values():
        code, out, err = cli_env(*argv)
        assert code == 1, err
        assert err == "curator: error: cannot reach the API at http://***@gateway.internal:8080/ after 2 retries\n"
        logs = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
        assert any("cannot connect" in t for t in logs)  # the SDK logged the exception: redacted
        _assert_clean([out, err, *logs], PASSWORD)


def test_escape_bytes_from_a_server_never_reach_the_terminal(
    cli_env: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        text = "bad\x1b[2J\x1b]0;pwned\x07 request\x07\x9b\r\nsecond line\x00"
        return httpx2.Response(400, json={"type": "error", "error": {"type": "invalid_request_error", "message": text}})

    _use(monkeypatch, handler)
    code, _out, err = cli_env(*COMMANDS["draft"])
    assert code == 1
    assert err.count("\n") == 1 and "bad request" in err and "second line" in err
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in err)


def test_tui_failure_notifications_are_redacted() -> None:
    from curator.tui.widgets.assist_panel import AssistPanel

    failed = AssistPanel.Failed(1, "draft", f"boom \x1b[2J Authorization: Bearer {KEY} http://u:{PASSWORD}@h/")
    _assert_clean([failed.error], PASSWORD)
    assert failed.error == "boom Authorization: *** http://***@h/"


def test_redact_masks_each_kind_of_secret() -> None:
    assert redact(f"{KEY} and sk-ant-admin01-x") == "*** and ***"
    assert redact("x-api-key: abc123") == "x-api-key: ***"
    assert redact("{'authorization': 'Bearer tok.en'}") == "{'authorization': '***'}"
    assert redact("Proxy-Authorization: Basic dXNlcjpwYXNz") == "Proxy-Authorization: ***"
    assert redact("token Bearer abc.def") == "token Bearer ***"
    assert redact("https://user:pw@example.com/x and ftp://a@b") == "https://***@example.com/x and ftp://***@b"
    assert redact("opaque-credential-1234 here", secrets=["opaque-credential-1234"]) == "*** here"
    assert redact("a\x1b[1mb\nc\td") == "ab c d"
    assert redact("a\x1b[1mb\nc\td\x07", multiline=True) == "ab\nc\td"


# ---------------------------------------------------------------------------
# The deadline
# ---------------------------------------------------------------------------


def test_a_trickling_server_cannot_outlast_the_deadline(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch, no_backoff: None
) -> None:
    from curator.assist import actions
    from curator.store.db import open_workspace

    body = json.dumps(tool_message("submit_draft", DRAFT)).encode()
    served: list[int] = []

    def trickle() -> Iterator[bytes]:
        for i in range(len(body)):  # one byte every 0.05 s: about 20 s for the whole body
            served.append(i)
            threading.Event().wait(0.05)  # not time.sleep: the fixture turns the SDK's backoff sleeps off
            yield body[i : i + 1]

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=trickle(), headers={"content-type": "application/json"})

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    settings = Settings(assist_timeout_s=0.3)
    client = make_client(settings, http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with open_workspace(demo_db, create=False) as ws, pytest.raises(AssistError) as err:
        actions.draft(ws.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    message = str(err.value)
    assert message.startswith("request timed out (0.3s) after 2 retries") and "\n" not in message
    assert len(served) < len(body)  # the answer was never read to the end


def test_deadline_transport_passes_answers_through_and_raises_errors_in_the_caller() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/boom":
            raise httpx2.ConnectError("refused", request=request)
        return httpx2.Response(201, content=b"hello", headers={"x-a": "1"})

    transport = assist_client.DeadlineTransport(httpx2.MockTransport(handler), 5.0)
    with httpx2.Client(transport=transport) as http:
        response = http.get("http://h/ok")
        assert (response.status_code, response.content, response.headers["x-a"]) == (201, b"hello", "1")
        with pytest.raises(httpx2.ConnectError):
            http.get("http://h/boom")
