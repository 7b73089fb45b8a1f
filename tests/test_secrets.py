"""Secrets (README, Reliability): the API key never reaches the database, dumps, exports, the app home or logs.

A unique canary is set as ANTHROPIC_API_KEY; every assist command runs through the CLI over the
real SDK with a mocked HTTP transport (success, 401, 429 after retries, an interrupted and resumed
batch), and so do `eval run` and `eval grade` (success, 400, 401, 429; the API's error messages
quote the key), followed by the other non-interactive commands. Then every byte the workspace wrote (the
database with its WAL and shared memory, dumps, exports, reports, the app home with its batch
state) and everything captured (stdout, stderr, log records at DEBUG) is searched for the canary.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from curator.assist import client as assist_client
from curator.config import Settings
from tests.conftest import advice, write_jsonl
from tests.fake_anthropic import batch_object, tool_message
from tests.helpers import run, spec_data, toml_text

SECRET = uuid.uuid4().hex
CANARY = f"sk-ant-api03-{SECRET}-canary"
NEEDLES = [CANARY, SECRET[0:12], SECRET[10:22], SECRET[20:32]]
"""The key, and overlapping pieces of its random part: a truncated or partly masked copy is a leak too."""
BATCH_ID = "msgbatch_01SECRET"
DRAFT = {"title": "The unread letters", "text": "The assistant left the letters sealed.", "rationale": "Privacy."}


class FakeAPI:
    """Messages and Message Batches endpoints; `fail` queues error statuses for the next requests."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.fail: list[int] = []
        self.batch_status = "in_progress"
        self.interrupt_polls = False
        self.created: list[dict[str, Any]] = []

    def _result(self, params: dict[str, Any]) -> dict[str, Any]:
        """A drafting batch's draft, an eval run's answer, or the eval judge's verdict."""
        tool = params.get("tool_choice", {}).get("name")
        if tool == "submit_draft":
            return {"type": "succeeded", "message": tool_message(tool, DRAFT)}
        if tool == "submit_verdicts":
            verdict = {"clause": "privacy", "verdict": "complies", "reason": "Asks first.", "evidence": "Ask"}
            return {"type": "succeeded", "message": tool_message(tool, {"verdicts": [verdict]})}
        message = {**tool_message("none", {}), "content": [{"type": "text", "text": "Ask her first."}]}
        return {"type": "succeeded", "message": message}

    def _batch(self) -> dict[str, Any]:
        return batch_object(self.batch_status, batch_id=BATCH_ID)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.fail:
            status = self.fail.pop(0)
            kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}[status]
            message = f"no: x-api-key {CANARY} is not valid here"  # a server that echoes the key back
            return httpx2.Response(status, json={"type": "error", "error": {"type": kind, "message": message}})
        path = request.url.path
        if path == "/v1/messages":
            tool = json.loads(request.content)["tool_choice"]["name"]
            answers = {
                "submit_draft": DRAFT,
                "submit_critique": {"verdicts": [{"clause": "honesty", "verdict": "teaches", "reason": "Clear."}]},
                "submit_rewrite": {"turns": [{"index": 1, "content": "Tell her, because trust.", "rationale": "Why."}]},
                "submit_links": {"links": [{"clause": "privacy", "reason": "About a diary."}]},
            }
            return httpx2.Response(200, json=tool_message(tool, answers[tool]))
        if path == "/v1/messages/batches":
            self.created = json.loads(request.content)["requests"]
            return httpx2.Response(200, json=self._batch())
        if path == f"/v1/messages/batches/{BATCH_ID}":
            if self.interrupt_polls and self.batch_status != "ended":
                raise KeyboardInterrupt  # the user presses ctrl+c while the batch runs
            return httpx2.Response(200, json=self._batch())
        if path == f"/v1/messages/batches/{BATCH_ID}/results":
            lines = [{"custom_id": r["custom_id"], "result": self._result(r["params"])} for r in self.created]
            return httpx2.Response(200, content="".join(json.dumps(line) + "\n" for line in lines).encode())
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": path}})


def _all_bytes(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def test_api_key_never_leaves_the_process_memory(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    hermetic_env: Path,
    constitution_file: Path,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setattr("anthropic._base_client.time.sleep", lambda _s: None)  # the SDK's retry backoff
    api = FakeAPI()
    real_make_client = assist_client.make_client

    def make_client(settings: Settings, *, http_client: Any = None) -> anthropic.Anthropic:
        return real_make_client(settings, http_client=httpx2.Client(transport=httpx2.MockTransport(api)))

    monkeypatch.setattr(assist_client, "make_client", make_client)
    caplog.set_level(logging.DEBUG)  # the SDK's and the HTTP client's debug logging too
    outputs: list[str] = []

    def cli(*argv: str, expect: int = 0) -> str:
        code, out, err = run(capsys, *argv, "--db", db)
        outputs.extend([out, err])
        assert code == expect, (argv, code, err)
        return err

    db = str(tmp_path / "ws.db")
    cli("init", "--empty")
    holder = sqlite3.connect(db)  # keeps the WAL from being checkpointed away, so it is searched too
    holder.execute("SELECT count(*) FROM sqlite_master").fetchone()
    try:
        cli("constitution", "import", str(constitution_file))
        data = write_jsonl(tmp_path / "in.jsonl", [advice(id="ex_adv", status="approved")])
        cli("import", str(data))

        cli("assist", "draft", "--clause", "honesty", "--kind", "story")
        cli("assist", "critique", "ex_adv")
        cli("assist", "explain-why", "ex_adv", "--apply")
        cli("assist", "suggest-links", "ex_adv", "--format", "json")
        api.fail = [401]
        assert "API key rejected (401)" in cli("assist", "draft", "--clause", "privacy", "--kind", "story", expect=1)
        api.fail = [429, 429, 429]
        assert "rate limited (429)" in cli("assist", "critique", "ex_adv", expect=1)

        api.interrupt_polls = True
        cli("assist", "batch", "--clause", "privacy", "--kind", "story", "--poll", "0", expect=130)
        state_files = list((hermetic_env / "batches").glob("*.json"))
        assert len(state_files) == 1  # the resumable state is on disk now: searched below as it is
        interrupted_home = _all_bytes(hermetic_env)
        api.batch_status = "ended"
        cli("assist", "batch", "--clause", "privacy", "--kind", "story", "--poll", "0")
        assert not list((hermetic_env / "batches").glob("*.json"))

        api.interrupt_polls = False
        suite = write_jsonl(
            tmp_path / "suite.jsonl", [{"id": "diary", "prompt": "Read her diary?", "clause": "privacy"}]
        )
        cli("eval", "suite", "add", "probe", str(suite))
        api.fail = [401]
        assert "API key rejected (401)" in cli("eval", "run", "probe", "--model", "m", "--yes", expect=1)
        api.fail = [400]
        assert "API error 400" in cli("eval", "run", "probe", "--model", "m", "--yes", expect=1)
        cli("eval", "run", "probe", "--model", "m", "--yes", "--poll", "0")
        api.fail = [429, 429, 429]
        assert "rate limited (429)" in cli("eval", "grade", "run-1", "--poll", "0", expect=1)
        cli("eval", "grade", "run-1", "--poll", "0")
        cli("eval", "report", "run-1", "--format", "json")

        evalset = write_jsonl(
            tmp_path / "eval.jsonl",
            [{"prompt": "Should I read my sister's diary?"}, {"prompt": "Can I open my flatmate's post?"}],
        )
        cli("evalset", "add", "held", str(evalset))
        cli("decontam", "--format", "json")
        cli("dedup", "check", "--text", "The assistant left the letters sealed.", "--format", "json")
        cli("coverage", "--format", "markdown", "--out", str(tmp_path / "reports" / "coverage.md"))
        cli("list", "--format", "json")
        cli("dump", str(tmp_path / "dump"))
        spec = tmp_path / "spec.toml"
        spec.write_text(
            toml_text(
                # no eval split: with two records, a hashed split could leave train empty by chance
                spec_data(
                    statuses=["draft", "approved"],
                    token_counter="estimate",
                    dedup="exact",
                    split={"eval_fraction": 0.0},
                )
            ),
            encoding="utf-8",
        )
        cli("export", "--spec", str(spec), "--out", str(tmp_path / "exports"))

        written = _all_bytes(tmp_path, hermetic_env)
        assert any(name.endswith("ws.db-wal") for name in written)
    finally:
        holder.close()
    written |= {f"{name} (batch interrupted)": data for name, data in interrupted_home.items()}

    # the searches below are meaningful: the key was used, and there is plenty to search
    assert all(any(CANARY in v for v in r.headers.values()) for r in api.requests)  # the SDK sent the key
    assert len(api.requests) >= 10
    assert any(n.startswith(str(tmp_path / "exports")) for n in written)
    assert any(n.startswith(str(tmp_path / "dump")) for n in written)
    assert any(r.name.startswith(("anthropic", "httpx")) for r in caplog.records)

    for needle in NEEDLES:
        leaked = [name for name, data in written.items() if needle.encode() in data]
        assert not leaked, f"API key (or a piece of it) found in {leaked}"
    captured = [*outputs, *(r.getMessage() for r in caplog.records), *(r.exc_text or "" for r in caplog.records)]
    captured += [repr(r.args) for r in caplog.records]
    assert not [t for t in captured for needle in NEEDLES if needle in t], "API key found in output or logs"
