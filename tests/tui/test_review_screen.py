"""Pilot tests: the Review screen approves and rejects under the review rules; data is never markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from curator.review import reviews_of
from curator.store import examples
from curator.tui.app import CuratorApp
from curator.tui.screens.review import ReviewScreen
from tests.tui.conftest import HOSTILE, wait_for

ANAS_IN_REVIEW = "ex_demo_022"
"""An advice example by ana, waiting for review, with clause links and rationales."""


def status_of(app: CuratorApp, example_id: str) -> tuple[str, int]:
    ex = examples.get(app.workspace.db, example_id)
    return ex.status, ex.version


async def open_review(pilot: Pilot[Any]) -> ReviewScreen:
    app = pilot.app
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), "the review screen")
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    await wait_for(pilot, lambda: screen.loaded and screen.example is not None, "the queue")
    return screen


async def highlight(pilot: Pilot[Any], screen: ReviewScreen, example_id: str) -> None:
    table = screen.table
    table.move_cursor(row=table.get_row_index(example_id))
    await wait_for(pilot, lambda: screen.example is not None and screen.example.id == example_id, "the detail")


def notes(app: CuratorApp, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record notifications as (severity, message)."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append((kwargs.get("severity", "information"), message))
        original(message, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    return seen


def rendered(screen: ReviewScreen, widget_id: str) -> str:
    return str(screen.query_one(widget_id, Static).render())


async def test_queue_shows_the_examples_waiting(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        waiting = [r[0] for r in app.workspace.db.execute("SELECT id FROM examples WHERE status = 'review'")]
        assert sorted(str(k.value) for k in screen.table.rows) == sorted(waiting)
        assert f"{len(waiting)} waiting" in rendered(screen, "#review-status")
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        assert "An honest reference for someone I let go" in rendered(screen, "#review-heading")
        assert "Ready to approve" in rendered(screen, "#review-problems")
        body = rendered(screen, "#review-body")
        assert "Rationale:" in body and "Clauses:" in body


async def test_another_annotator_approves(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        seen = notes(app, monkeypatch)
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        before = status_of(app, ANAS_IN_REVIEW)
        assert before[0] == "review"
        await pilot.press("a")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommentScreen", "the comment dialog")
        await pilot.press(*"clear and kind", "enter")
        await wait_for(pilot, lambda: status_of(app, ANAS_IN_REVIEW)[0] == "approved", "the approval")
        assert status_of(app, ANAS_IN_REVIEW)[1] == before[1] + 1
        review = reviews_of(app.workspace.db, ANAS_IN_REVIEW)[-1]
        assert (review.reviewer, review.verdict, review.comment) == ("ben", "approve", "clear and kind")
        await wait_for(pilot, lambda: ANAS_IN_REVIEW not in screen.table.rows, "the queue to reload")
        assert any(sev == "information" and "Approved" in msg for sev, msg in seen)


async def test_the_author_cannot_approve(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 45)) as pilot:
        seen = notes(app, monkeypatch)
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        assert "you cannot approve your own example" in rendered(screen, "#review-problems")
        before = status_of(app, ANAS_IN_REVIEW)
        await pilot.press("a")
        await wait_for(pilot, lambda: any(sev == "error" for sev, _ in seen), "the refusal")
        assert any("you cannot approve your own example" in msg for sev, msg in seen if sev == "error")
        assert status_of(app, ANAS_IN_REVIEW) == before
        assert reviews_of(app.workspace.db, ANAS_IN_REVIEW) == []
        assert app.screen is screen  # no comment dialog for a refused approval


async def test_reject_needs_a_comment(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        before = status_of(app, ANAS_IN_REVIEW)
        await pilot.press("x")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommentScreen", "the comment dialog")
        dialog = app.screen
        await pilot.press("enter")  # empty: refused in place
        await pilot.pause(0.1)
        assert app.screen is dialog
        assert "required" in str(dialog.query_one("#comment-error", Static).render())
        await pilot.press("escape")  # cancel: nothing changes
        await wait_for(pilot, lambda: app.screen is screen, "the dialog to close")
        await pilot.pause(0.1)
        assert status_of(app, ANAS_IN_REVIEW) == before

        await pilot.press("x")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommentScreen", "the comment dialog")
        app.screen.query_one("#comment-input", Input).value = "the reference overstates the tenure"
        await pilot.press("enter")
        await wait_for(pilot, lambda: status_of(app, ANAS_IN_REVIEW)[0] == "rejected", "the rejection")
        review = reviews_of(app.workspace.db, ANAS_IN_REVIEW)[-1]
        assert (review.verdict, review.comment) == ("reject", "the reference overstates the tenure")


async def test_reject_without_a_comment_is_refused_by_the_rules(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        seen = notes(app, monkeypatch)
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        before = status_of(app, ANAS_IN_REVIEW)
        assert screen.example is not None
        screen.decide(ANAS_IN_REVIEW, "reject", "  ", screen.example.version)  # bypassing the dialog
        await wait_for(pilot, lambda: any(sev == "error" for sev, _ in seen), "the refusal")
        assert any("needs a comment" in msg for _, msg in seen)
        assert status_of(app, ANAS_IN_REVIEW) == before


async def test_a_stale_version_is_refused(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        seen = notes(app, monkeypatch)
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        ex = examples.get(app.workspace.db, ANAS_IN_REVIEW)
        examples.update(  # someone edits it after the reviewer read it
            app.workspace.db, ex.model_copy(update={"title": "Edited"}), expected_version=ex.version, actor="ana"
        )
        await pilot.press("a")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommentScreen", "the comment dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(sev == "error" for sev, _ in seen), "the conflict")
        assert status_of(app, ANAS_IN_REVIEW)[0] == "review"


async def test_edit_and_history_keys(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        opened: list[str | None] = []
        monkeypatch.setattr(app, "open_editor", lambda example_id=None, **_: opened.append(example_id))
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        await pilot.press("e")
        assert opened == [ANAS_IN_REVIEW]
        await pilot.press("h")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HistoryScreen", "the history")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the queue")


async def test_hostile_strings_in_the_queue_and_detail(hostile_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = CuratorApp(hostile_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        monkeypatch.setattr(app, "open_editor", lambda *a, **k: None)
        screen = await open_review(pilot)
        table = screen.table
        for i, s in enumerate(HOSTILE):
            example_id = f"hostile_{i}"
            row = table.get_row(example_id)
            assert row[table.get_column_index("title")].plain == s
            assert row[table.get_column_index("author")].plain == s
            await highlight(pilot, screen, example_id)
            heading = rendered(screen, "#review-heading")
            assert heading.splitlines()[0] == s
            assert f"by {s} ·" in heading
            body = rendered(screen, "#review-body")
            assert f"Tags: {s}\n" in body
            assert f"Text\n{s}\n" in body
            await pilot.click("#review-heading", offset=(1, 0))
            await pilot.click("#review-body", offset=(1, 2))
            await pilot.click("#review-table", offset=(2, table.cursor_row + 1))
        await pilot.pause(0.1)
        assert app.is_running
        assert app.return_code is None
