"""Pilot tests of the Evals screen: suites and runs, the per-clause report and its comparison, a
clause's responses, the transcript viewer and people's verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from curator.evals import report
from curator.store import evals as store
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.comment import CommentScreen
from curator.tui.screens.eval_transcript import EVIDENCE_STYLE, TranscriptScreen
from curator.tui.screens.evals import EvalsScreen, RunPicker
from tests.helpers import EVAL_HOSTILE, EVAL_RESPONSES, add_eval_data
from tests.tui.conftest import paste_into, wait_for, wait_screen


@pytest.fixture
def eval_db(demo_db: Path, tmp_path: Path) -> Path:
    add_eval_data(demo_db, tmp_path)
    return demo_db


def cells(table: DataTable[Any], key: str) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in table.get_row(key)]


def column(table: DataTable[Any], index: int = 0) -> list[str]:
    return [str(getattr(table.get_row_at(i)[index], "plain", "")) for i in range(table.row_count)]


def static_text(screen: Any, selector: str) -> str:
    visual = screen.query_one(selector, Static).content
    return str(getattr(visual, "plain", visual))


async def open_evals(pilot: Pilot[Any]) -> EvalsScreen:
    await pilot.pause()
    await pilot.press("6")
    screen = await wait_screen(pilot, EvalsScreen)
    await wait_for(pilot, lambda: screen.report is not None, "the report")
    return screen


async def list_responses(pilot: Pilot[Any], screen: EvalsScreen, clause: str) -> DataTable[Any]:
    clauses = screen.query_one("#clauses", DataTable)
    clauses.focus()
    clauses.move_cursor(row=clauses.get_row_index(clause))
    await pilot.press("enter")
    responses = screen.query_one("#responses", DataTable)
    await wait_for(pilot, lambda: screen.clause == clause and responses.row_count > 0, "the responses")
    await wait_for(pilot, lambda: pilot.app.focused is responses, "the focus on the responses")
    return responses


async def open_transcript(pilot: Pilot[Any], screen: EvalsScreen, clause: str, item: str) -> TranscriptScreen:
    responses = await list_responses(pilot, screen, clause)
    responses.move_cursor(row=responses.get_row_index(f"{item}\x000"))
    await pilot.press("enter")
    viewer = await wait_screen(pilot, TranscriptScreen)
    await wait_for(pilot, lambda: viewer.transcript is not None, "the transcript")
    return viewer


async def override(pilot: Pilot[Any], key: str, reason: str) -> None:
    await pilot.press(key)
    dialog = await wait_screen(pilot, CommentScreen)
    await paste_into(pilot, dialog.query_one("#comment-input", Input), reason)
    await pilot.press("enter")


async def test_the_newest_run_of_the_suite_shows_its_rates_by_rate_then_in_document_order(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        suites = screen.query_one("#suites", DataTable)
        assert cells(suites, "probe") == ["probe", "4", "2", "2"]  # prompts, clauses, runs
        runs = screen.query_one("#runs", DataTable)
        assert cells(runs, "run-1")[:5] == ["run-1", "model-a", "complete", "4", "0"]
        assert screen.run == "run-2"
        title = static_text(screen, "#report-title")
        assert "judge claude-judge (grading 1)" in title
        clauses = screen.query_one("#clauses", DataTable)
        assert [c.split()[0] for c in column(clauses)] == ["harm.3", "honesty.1"]  # 50% before 33%
        assert cells(clauses, "honesty.1")[1:6] == ["3", "1", "33%", "6%–79%", "0"]
        await pilot.press("s")
        assert [c.split()[0] for c in column(clauses)] == ["honesty.1", "harm.3"]  # the constitution's order


async def test_selecting_the_older_run_shows_it_has_no_judge_grading(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        runs = screen.query_one("#runs", DataTable)
        runs.focus()
        await pilot.press("up")
        await wait_for(pilot, lambda: screen.report is not None and screen.report.run.id == "run-1", "run-1's report")
        assert "no judge grading" in static_text(screen, "#report-title")
        assert cells(screen.query_one("#clauses", DataTable), "harm.3")[1:4] == ["0", "0", "-"]


async def test_a_submitted_run_shows_as_in_progress(eval_db: Path) -> None:
    with open_workspace(eval_db) as ws, ws.db.atomic():
        store.insert_run(
            ws.db, suite="probe", model="model-c", params={}, source="batch", actor="ana", status=store.RUN_SUBMITTED
        )
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        assert cells(screen.query_one("#runs", DataTable), "run-3")[2] == "in progress"
        assert screen.run == "run-3"
        assert "in progress" in static_text(screen, "#report-title")


async def test_enter_on_a_clause_lists_its_responses_with_who_decided(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        responses = await list_responses(pilot, screen, "honesty.1")
        assert column(responses) == ["q1", "q2", "q4"]  # the items probing the clause, in suite order
        assert cells(responses, "q1\x000") == ["q1", "0", "violates", "judge", "asserts a falsehood as fact"]
        assert "Responses for honesty.1 (3)" in static_text(screen, "#responses-title")


async def test_the_viewer_marks_the_judges_evidence_inside_the_response(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        viewer = await open_transcript(pilot, screen, "honesty.1", "q1")
        shown = viewer.query_one("#t-response", Static).content
        assert isinstance(shown, Content)
        assert shown.plain == EVAL_RESPONSES["q1"]
        marked = [shown.plain[s.start : s.end] for s in shown.spans if s.style == EVIDENCE_STYLE]
        assert marked == ["the moon is made of cheese"]
        assert "Is the moon made of cheese?" in static_text(viewer, "#t-prompt")
        assert "Say what you believe" in static_text(viewer, "#t-clause")
        verdict = static_text(viewer, "#t-verdict")
        assert "violates" in verdict and "asserts a falsehood as fact" in verdict
        assert "marked in the response" in verdict


async def test_evidence_not_in_the_response_verbatim_is_said_and_nothing_is_marked(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        viewer = await open_transcript(pilot, screen, "harm.3", "q2")
        shown = viewer.query_one("#t-response", Static).content
        assert isinstance(shown, Content)
        assert not [s for s in shown.spans if s.style == EVIDENCE_STYLE]
        verdict = static_text(viewer, "#t-verdict")
        assert "I refuse to help you" in verdict and "not found verbatim" in verdict
        prompt = static_text(viewer, "#t-prompt")  # system, every turn, the tools by name
        assert "You are a terse assistant." in prompt and "Which medicine?" in prompt and "tools: lookup" in prompt


async def test_markup_in_prompts_responses_and_reasons_is_shown_literally(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        responses = await list_responses(pilot, screen, "harm.3")
        assert EVAL_HOSTILE in cells(responses, "q2\x000")[4]
        await pilot.press("escape")  # nothing: escape is not bound here; the list stays
        responses.move_cursor(row=responses.get_row_index("q3\x000"))
        await pilot.press("enter")
        viewer = await wait_screen(pilot, TranscriptScreen)
        await wait_for(pilot, lambda: viewer.transcript is not None, "the transcript")
        assert EVAL_HOSTILE in static_text(viewer, "#t-prompt")
        assert static_text(viewer, "#t-response") == EVAL_HOSTILE + " echoed"
        rendered = "\n".join(
            viewer.query_one("#t-response", Static).render_line(y).text for y in range(2)
        )  # drawn as typed: the brackets are on screen
        assert "[bold]x [/]" in rendered
        assert app.is_running  # the click action did nothing


async def test_an_override_in_the_viewer_is_a_human_verdict_the_report_counts(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        viewer = await open_transcript(pilot, screen, "honesty.1", "q2")
        await override(pilot, "v", "hides that it could look it up")
        await wait_for(
            pilot,
            lambda: (
                viewer.transcript is not None
                and viewer.transcript.verdict is not None
                and viewer.transcript.verdict.human
            ),
            "the viewer to show the person's verdict",
        )
        verdict = static_text(viewer, "#t-verdict")
        assert "violates · human (erin)" in verdict and "the judge said complies" in verdict
        await pilot.press("escape")
        await wait_screen(pilot, EvalsScreen)
        clauses = screen.query_one("#clauses", DataTable)
        await wait_for(pilot, lambda: cells(clauses, "honesty.1")[2] == "2", "the report to count the override")
        responses = screen.query_one("#responses", DataTable)
        await wait_for(pilot, lambda: cells(responses, "q2\x000")[2:4] == ["violates", "human"], "the row")
    with open_workspace(eval_db) as ws:
        counted = {c.id: c for c in report.build_report(ws.db, "run-2").clauses}
        assert (counted["honesty.1"].n, counted["honesty.1"].violations) == (3, 2)
        assert report.build_report(ws.db, "run-2").human == 1


async def test_an_override_on_a_response_row_needs_a_reason(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        responses = await list_responses(pilot, screen, "harm.3")
        responses.move_cursor(row=responses.get_row_index("q3\x000"))
        await pilot.press("u")
        dialog = await wait_screen(pilot, CommentScreen)
        await pilot.press("enter")  # no reason: refused in place
        assert app.screen is dialog
        await paste_into(pilot, dialog.query_one("#comment-input", Input), "cannot tell")
        await pilot.press("enter")
        await wait_screen(pilot, EvalsScreen)
        await wait_for(
            pilot, lambda: cells(responses, "q3\x000")[2:5] == ["unclear", "human", "cannot tell"], "the row"
        )
        clauses = screen.query_one("#clauses", DataTable)
        await wait_for(pilot, lambda: cells(clauses, "harm.3")[1:6] == ["1", "1", "100%", "21%–100%", "1"], "the rate")


@pytest.fixture
def compare_db(demo_db: Path, tmp_path: Path) -> Path:
    """Thirty prompts on honesty.2: a person found every answer of run-1 fine and every one of run-2 not."""
    suite = tmp_path / "many.jsonl"
    suite.write_text(
        "".join(
            json.dumps({"id": f"m{i}", "prompt": f"question {i}", "clauses": ["honesty.2"]}) + "\n" for i in range(30)
        ),
        encoding="utf-8",
    )
    answers = tmp_path / "many-answers.jsonl"
    answers.write_text("".join(json.dumps({"id": f"m{i}", "response": "an answer"}) + "\n" for i in range(30)))
    from curator.evals import runs, suites

    with open_workspace(demo_db) as ws:
        suites.add_suite(ws.db, "many", suite, actor="ana")
        for model, verdict in (("model-a", "complies"), ("model-b", "violates")):
            run = runs.ingest_responses(ws.db, "many", answers, model=model, actor="ana").run
            with ws.db.atomic():
                store.insert_verdicts(
                    ws.db,
                    run.id,
                    None,
                    [store.Verdict(f"m{i}", 0, "honesty.2", verdict, "", "", True, "ana", "", None) for i in range(30)],
                    actor="ana",
                )
    return demo_db


async def test_compare_shows_the_second_runs_rate_and_marks_a_change(compare_db: Path) -> None:
    app = CuratorApp(compare_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_evals(pilot)
        assert screen.run == "run-2"
        await pilot.press("c")
        picker = await wait_screen(pilot, RunPicker)
        await pilot.press("down", "enter")  # past "no comparison": run-1
        await wait_screen(pilot, EvalsScreen)
        assert picker.is_attached is False
        await wait_for(pilot, lambda: screen.report is not None and screen.report.compare is not None, "the comparison")
        clauses = screen.query_one("#clauses", DataTable)
        assert cells(clauses, "honesty.2")[3:] == ["100%", "89%–100%", "0", "0%", "▲ higher"]
        assert "vs run-1" in static_text(screen, "#report-title")
        await pilot.press("c")
        await wait_screen(pilot, RunPicker)
        await pilot.press("up", "enter")  # "no comparison"
        await wait_for(pilot, lambda: screen.report is not None and screen.report.compare is None, "no comparison")
        assert len(clauses.columns) == 6
