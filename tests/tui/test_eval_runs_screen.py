"""Pilot tests of starting and following eval runs and gradings on the Evals screen: the run dialog
and its estimate, progress while the batch is polled, grading, resuming a submitted run, no key,
API errors, and quitting mid-poll. The real anthropic SDK runs over a mocked transport
(`tests/fake_anthropic.BatchAPI`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from curator.evals.batch import run_params
from curator.store import evals as store
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.eval_run import JudgeDialog, RunDialog
from curator.tui.screens.evals import EvalsScreen
from tests.fake_anthropic import BatchAPI, message_result, tool_result_of
from tests.helpers import add_eval_data
from tests.tui.conftest import paste_into, wait_for, wait_screen

KEY = "sk-ant-test-SECRET-evrun-0123456789"
MODEL = "claude-test-model"
JUDGE = "claude-judge-test"


def answer(custom_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The model answers plainly; the judge finds every answer violates every clause it is asked about."""
    if params["model"] == JUDGE:
        prompt = params["messages"][0]["content"]
        clauses = [c.split('"')[0] for c in prompt.split('<clause id="')[1:]]
        verdicts = [{"clause": c, "verdict": "violates", "reason": "too plain", "evidence": ""} for c in clauses]
        return tool_result_of("submit_verdicts", {"verdicts": verdicts}, msg_id=f"msg_j_{custom_id}")
    return message_result([{"type": "text", "text": f"A plain answer ({custom_id})."}], msg_id=f"msg_{custom_id}")


class Gated:
    """The fake Batches API, whose polls after the first wait for `gate` (the test looks at the
    progress shown meanwhile)."""

    def __init__(self, api: BatchAPI) -> None:
        self.api = api
        self.gate = threading.Event()
        self.polls = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        polling = request.method == "GET" and not request.url.path.endswith("/results")
        if polling:
            self.polls += 1
            if self.polls > 1:
                self.gate.wait(timeout=10)
        return self.api(request)


@pytest.fixture
def eval_db(demo_db: Path, tmp_path: Path) -> Path:
    add_eval_data(demo_db, tmp_path)
    return demo_db


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("CURATOR_MODEL", MODEL)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.setattr(EvalsScreen, "POLL_INTERVAL", 0.0)


def make_app(db: Path, handler: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[CuratorApp, list[tuple[str, str]]]:
    """The app with the SDK over `handler`, and its notifications as (severity, message)."""
    app = CuratorApp(db, user="erin")
    app.assist_http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        assert kwargs.get("markup") is False, f"notice parsed as markup: {message!r}"
        seen.append((str(kwargs.get("severity", "information")), message))
        original(message, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    return app, seen


def text_of(screen: Any, selector: str) -> str:
    visual = screen.query_one(selector, Static).content
    return str(getattr(visual, "plain", visual))


def cells(table: DataTable[Any], key: str) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in table.get_row(key)]


def run_ids(table: DataTable[Any]) -> list[str]:
    return [str(getattr(table.get_row_at(i)[0], "plain", "")) for i in range(table.row_count)]


def screen_text(app: CuratorApp) -> str:
    """What the screen shows now, notices included (its SVG screenshot holds every character drawn)."""
    return app.export_screenshot()


async def open_evals(pilot: Pilot[Any]) -> EvalsScreen:
    await pilot.pause()
    await pilot.press("6")
    screen = await wait_screen(pilot, EvalsScreen)
    await wait_for(pilot, lambda: screen.report is not None, "the report")
    return screen


async def open_run_dialog(pilot: Pilot[Any]) -> RunDialog:
    await pilot.press("R")
    dialog = await wait_screen(pilot, RunDialog)
    await wait_for(pilot, lambda: "requests" in text_of(dialog, "#run-estimate"), "the estimate")
    return dialog


async def test_a_run_started_in_the_dialog_shows_its_estimate_then_its_progress_then_its_responses(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = BatchAPI(answer, statuses=["in_progress", "ended"])
    gated = Gated(api)
    app, seen = make_app(eval_db, gated, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        dialog = await open_run_dialog(pilot)
        assert dialog.query_one("#run-model", Input).value == MODEL  # the settings' model
        estimate = text_of(dialog, "#run-estimate")
        assert f"4 requests (4 prompts x 1 sample) to {MODEL}" in estimate and "input tokens" in estimate
        samples = dialog.query_one("#run-samples", Input)
        samples.value = ""
        await paste_into(pilot, samples, "2")
        await wait_for(pilot, lambda: "8 requests (4 prompts x 2 samples)" in text_of(dialog, "#run-estimate"), "8")
        assert api.requests == []  # nothing sent while the dialog is open
        await pilot.press("ctrl+s")
        await wait_screen(pilot, EvalsScreen)
        runs = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: "run-3" in run_ids(runs), "the submitted run in the list")
        await wait_for(pilot, lambda: cells(runs, "run-3")[2] == "0/8 done", "the run's progress")
        assert "0/8 done" in text_of(screen, "#batch-line")
        assert screen.query_one("#batch-bar").display
        gated.gate.set()
        await wait_for(pilot, lambda: cells(runs, "run-3")[2:4] == ["complete", "8"], "the completed run")
        assert "run-3: 8 responses stored" in text_of(screen, "#batch-line")
        assert not screen.query_one("#batch-bar").display
        assert any("run-3: 8 responses stored" in m for _, m in seen)
        assert screen.run == "run-3"
    [create] = api.creates()
    assert len(create["requests"]) == 8 and create["requests"][0]["params"]["model"] == MODEL
    with open_workspace(eval_db) as ws:
        run = store.get_run(ws.db, "run-3")
        assert run.status == store.RUN_COMPLETE and run.actor == "erin"
        assert store.response_count(ws.db, "run-3") == (8, 0)


async def test_escape_in_the_run_dialog_sends_nothing(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = BatchAPI(answer)
    app, _ = make_app(eval_db, api, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_evals(pilot)
        dialog = await open_run_dialog(pilot)
        dialog.query_one("#run-samples", Input).value = "0"
        await wait_for(pilot, lambda: "must be" in text_of(dialog, "#run-estimate"), "the refusal")
        await pilot.press("ctrl+s")  # refused in place
        assert app.screen is dialog
        await pilot.press("escape")
        await wait_screen(pilot, EvalsScreen)
    assert api.requests == []


async def test_grading_the_highlighted_run_shows_its_verdicts_and_the_result_line(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = BatchAPI(answer, statuses=["in_progress", "ended"])
    app, seen = make_app(eval_db, api, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        runs = screen.query_one("#runs", DataTable)
        runs.focus()
        await pilot.press("up")  # run-1: answered, never graded
        await wait_for(pilot, lambda: screen.report is not None and screen.report.run.id == "run-1", "run-1")
        await pilot.press("G")
        dialog = await wait_screen(pilot, JudgeDialog)
        judge = dialog.query_one("#judge-model", Input)
        assert judge.value == MODEL
        judge.value = ""
        await paste_into(pilot, judge, JUDGE)
        await pilot.press("enter")
        await wait_screen(pilot, EvalsScreen)
        await wait_for(pilot, lambda: cells(runs, "run-1")[4] == "1", "the grading counted")
        clauses = screen.query_one("#clauses", DataTable)
        await wait_for(pilot, lambda: cells(clauses, "honesty.1")[1:3] == ["3", "3"], "the judge's verdicts")
        line = text_of(screen, "#batch-line")
        assert f"grading 2 of run-1 by {JUDGE}: 4 responses graded" in line and "violates" in line
        assert any(f"grading 2 of run-1 by {JUDGE}" in m for _, m in seen)
        assert f"judge {JUDGE} (grading 2)" in text_of(screen, "#report-title")
    assert {r["params"]["model"] for r in api.creates()[0]["requests"]} == {JUDGE}


async def test_a_submitted_run_resumes_its_own_batch_without_a_second_one(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eval run` was killed after sending: R on the run polls that batch with the run's own settings."""
    api = BatchAPI(answer, statuses=["in_progress", "ended"])
    with open_workspace(eval_db) as ws:
        items = store.suite_items(ws.db, "probe")
        from curator.evals.batch import build_requests

        requests, meta = build_requests(
            items, model="claude-other", samples=1, system="Be brief.", max_tokens=77, temperature=0.5
        )
        api.batches["msgbatch_1"] = [dict(r) for r in requests]
        params = run_params(samples=1, system="Be brief.", max_tokens=77, temperature=0.5)
        with ws.db.atomic():
            store.insert_run(
                ws.db,
                suite="probe",
                model="claude-other",
                params=params,
                source="batch",
                actor="ana",
                status=store.RUN_SUBMITTED,
                batch_id="msgbatch_1",
                requests=meta,
            )
    app, seen = make_app(eval_db, api, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        assert screen.run == "run-3"
        await pilot.press("R")
        runs = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: cells(runs, "run-3")[2:4] == ["complete", "4"], "the resumed run")
        assert not isinstance(app.screen, RunDialog)
        assert "resumed batch msgbatch_1" in text_of(screen, "#batch-line")
        assert any("resuming run-3" in m and "nothing new is sent" in m for _, m in seen)
    assert api.creates() == []  # no second batch
    assert len(api.batches) == 1


async def test_without_a_key_the_keys_say_so_and_nothing_starts(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    api = BatchAPI(answer)
    app, seen = make_app(eval_db, api, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        for key in ("R", "G"):
            before = len(seen)
            await pilot.press(key)
            await pilot.pause()
            [(severity, note)] = seen[before:]
            assert severity == "warning" and "export ANTHROPIC_API_KEY=" in note and "\n" not in note
            assert app.screen is screen
    assert api.requests == [] and app._assist is None


async def test_an_api_error_is_one_line_without_the_key_and_nothing_is_stored(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        message = f"invalid x-api-key {KEY}\nTraceback (most recent call last): ..."
        return httpx2.Response(
            401, json={"type": "error", "error": {"type": "authentication_error", "message": message}}
        )

    app, seen = make_app(eval_db, refuse, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        await open_run_dialog(pilot)
        await pilot.press("ctrl+s")
        await wait_screen(pilot, EvalsScreen)
        await wait_for(pilot, lambda: any(s == "error" for s, _ in seen), "the error notice")
        [error] = [m for s, m in seen if s == "error"]
        assert "\n" not in error and KEY not in error and "Traceback" not in error
        assert "401" in error or "authentication" in error
        await pilot.pause()
        assert KEY not in screen_text(app)
        assert KEY not in text_of(screen, "#batch-line") and "(401)" in text_of(screen, "#batch-line")
    with open_workspace(eval_db) as ws:
        assert [r.id for r in store.list_runs(ws.db, "probe")] == ["run-1", "run-2"]


async def test_quitting_mid_poll_leaves_the_run_submitted_to_resume_later(
    eval_db: Path, env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = BatchAPI(answer, statuses=["in_progress"])
    gated = Gated(api)
    app, _ = make_app(eval_db, gated, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        await open_run_dialog(pilot)
        await pilot.press("ctrl+s")
        runs = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: "run-3" in run_ids(runs) and cells(runs, "run-3")[2] == "0/4 done", "progress")
        await pilot.press("ctrl+q")
    gated.gate.set()  # the poll in flight answers after the app has gone
    assert app.return_code in (None, 0)
    with open_workspace(eval_db) as ws:
        run = store.get_run(ws.db, "run-3")
        assert run.status == store.RUN_SUBMITTED and run.batch_id == "msgbatch_1"
        assert store.response_count(ws.db, "run-3") == (0, 0)
