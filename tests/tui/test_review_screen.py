"""Pilot tests: the Review screen approves and rejects under the review rules; data is never markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from curator.bootstrap import open_workspace
from curator.dedup.decontam import add_evalset
from curator.models import Example
from curator.review import decide, reviews_of, submit
from curator.store import examples
from curator.tui.app import CuratorApp
from curator.tui.screens.comment import CommentScreen
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.review import ReviewScreen
from tests.tui.conftest import HOSTILE, wait_for, wait_screen

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
    """Move to `example_id` and wait for its detail and its overlap check."""
    table = screen.table
    table.move_cursor(row=table.get_row_index(example_id))
    await wait_for(pilot, lambda: screen.example is not None and screen.example.id == example_id, "the detail")
    panel = screen.overlaps
    await wait_for(pilot, lambda: panel.done and panel.checked_id == example_id, "the overlap check", timeout=20.0)
    # the panel's Updated message re-renders the verdict a moment after the panel itself is done
    await wait_for(pilot, lambda: "Checking for" not in rendered(screen, "#review-problems"), "the verdict")


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


def row_ids(screen: ReviewScreen) -> list[str]:
    """The queue's rows as shown, top to bottom."""
    return [str(row.key.value) for row in screen.table.ordered_rows]


def status_cell(screen: ReviewScreen, example_id: str) -> str:
    table = screen.table
    return str(table.get_cell(example_id, "status").plain)


def queue_ids(app: CuratorApp) -> list[str]:
    """The examples waiting for review, longest waiting first (the queue's order)."""
    rows = app.workspace.db.execute("SELECT id FROM examples WHERE status = 'review' ORDER BY updated_at, id")
    return [r[0] for r in rows]


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
        await pilot.press("A")  # shift+a: approve with a comment
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommentScreen", "the comment dialog")
        await pilot.press(*"clear and kind", "enter")
        await wait_for(pilot, lambda: status_of(app, ANAS_IN_REVIEW)[0] == "approved", "the approval")
        assert status_of(app, ANAS_IN_REVIEW)[1] == before[1] + 1
        review = reviews_of(app.workspace.db, ANAS_IN_REVIEW)[-1]
        assert (review.reviewer, review.verdict, review.comment) == ("ben", "approve", "clear and kind")
        await wait_for(pilot, lambda: status_cell(screen, ANAS_IN_REVIEW) == "✓", "the row marked")
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
        await wait_for(pilot, lambda: any(sev == "error" for sev, _ in seen), "the conflict")
        assert status_of(app, ANAS_IN_REVIEW)[0] == "review"
        assert screen.highlighted_id() == ANAS_IN_REVIEW  # a refused decision does not move on
        assert status_cell(screen, ANAS_IN_REVIEW) == ""


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


def copy_of(demo_db: Path, example_id: str, copy_id: str) -> Example:
    """Store an approved story whose text is the example's text: an exact near-duplicate."""
    with open_workspace(demo_db) as ws:
        original = examples.get(ws.db, example_id)
        text = original.searchable_text()
        copy = Example(id=copy_id, kind="story", title="An earlier copy", text=text, author="cai")
        examples.insert_many(ws.db, [copy], actor="cai")
        return original


async def test_a_near_copy_is_shown_and_approving_it_asks_first(demo_db: Path) -> None:
    copy_of(demo_db, ANAS_IN_REVIEW, "ex_copy")
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        assert [r.id for r in screen.overlaps.rows] == ["ex_copy"]
        problems = rendered(screen, "#review-problems")
        assert "Ready to approve" not in problems
        assert "near-copy of ex_copy" in problems and "An earlier copy" in problems
        before = status_of(app, ANAS_IN_REVIEW)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "ex_copy" in confirm.question and "Approve it anyway?" in confirm.question
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, "the confirmation to close")
        assert status_of(app, ANAS_IN_REVIEW) == before
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation again")
        await pilot.press("y")  # confirmed: approved at once, no comment asked
        await wait_for(pilot, lambda: status_of(app, ANAS_IN_REVIEW)[0] == "approved", "the approval")
        assert reviews_of(app.workspace.db, ANAS_IN_REVIEW)[-1].comment == ""


async def test_an_eval_overlap_is_shown_with_its_field(demo_db: Path, tmp_path: Path) -> None:
    with open_workspace(demo_db) as ws:
        ex = examples.get(ws.db, ANAS_IN_REVIEW)
        rationale = next(m.rationale for m in ex.messages or [] if m.rationale)
        assert rationale is not None and len(rationale.split()) >= 15
        held_out = tmp_path / "held.jsonl"
        held_out.write_text(
            json.dumps({"prompt": "A held-out item. " + rationale}) + "\n" + json.dumps({"prompt": "other"}) + "\n",
            encoding="utf-8",
        )
        add_evalset(ws.db, "held", held_out, actor="ana")
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        assert [(w.evalset, w.field.endswith(".rationale")) for w in screen.overlaps.warnings] == [("held", True)]
        assert "overlaps eval set held" in rendered(screen, "#review-problems")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "eval set held" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "the confirmation to close")
        assert status_of(app, ANAS_IN_REVIEW)[0] == "review"


async def test_approving_before_the_overlap_check_ends_asks_first(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        screen.overlaps.done = False  # as if the check of this example were still running
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "has not finished" in app.screen.question  # type: ignore[attr-defined]


async def test_a_approves_at_once_and_moves_to_the_next_row(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        order = row_ids(screen)
        assert order == queue_ids(app)
        assert f"0 of {len(order)} decided" in rendered(screen, "#review-status")
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        following = order[order.index(ANAS_IN_REVIEW) + 1]
        await pilot.press("a")
        await wait_for(pilot, lambda: status_of(app, ANAS_IN_REVIEW)[0] == "approved", "the approval")
        assert app.screen is screen  # no dialog
        review = reviews_of(app.workspace.db, ANAS_IN_REVIEW)[-1]
        assert (review.reviewer, review.verdict, review.comment) == ("ben", "approve", "")
        await wait_for(pilot, lambda: screen.highlighted_id() == following, "the cursor on the next row")
        await wait_for(pilot, lambda: screen.example is not None and screen.example.id == following, "its detail")
        assert status_cell(screen, ANAS_IN_REVIEW) == "✓"
        assert "dim" in str(screen.table.get_cell(ANAS_IN_REVIEW, "title").style)
        assert row_ids(screen) == order
        assert f"1 of {len(order)} decided" in rendered(screen, "#review-status")


async def test_x_rejects_with_the_comment_typed_and_moves_on(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        order = row_ids(screen)
        await highlight(pilot, screen, ANAS_IN_REVIEW)
        following = order[order.index(ANAS_IN_REVIEW) + 1]
        await pilot.press("x")
        dialog = await wait_screen(pilot, CommentScreen)
        box = dialog.query_one("#comment-input", Input)
        await wait_for(pilot, lambda: app.focused is box, "the comment box focused")
        await pilot.press(*"overstates the tenure", "enter")
        await wait_for(pilot, lambda: status_of(app, ANAS_IN_REVIEW)[0] == "rejected", "the rejection")
        review = reviews_of(app.workspace.db, ANAS_IN_REVIEW)[-1]
        assert (review.verdict, review.comment) == ("reject", "overstates the tenure")
        await wait_for(pilot, lambda: screen.highlighted_id() == following, "the cursor on the next row")
        assert app.screen is screen
        assert status_cell(screen, ANAS_IN_REVIEW) == "✗"
        assert row_ids(screen) == order

        # escape in the dialog decides nothing and stays on the row
        await highlight(pilot, screen, following)
        await pilot.press("x")
        await wait_screen(pilot, CommentScreen)
        await pilot.press(*"never mind", "escape")
        await wait_for(pilot, lambda: app.screen is screen, "the dialog to close")
        assert screen.highlighted_id() == following
        assert status_of(app, following)[0] == "review"
        assert status_cell(screen, following) == ""


async def test_s_and_space_skip_without_deciding(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        order = row_ids(screen)
        await highlight(pilot, screen, order[0])
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.highlighted_id() == order[1], "the second row")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.highlighted_id() == order[2], "the third row")
        await wait_for(pilot, lambda: screen.example is not None and screen.example.id == order[2], "its detail")
        assert [status_of(app, i)[0] for i in order[:3]] == ["review"] * 3
        assert all(reviews_of(app.workspace.db, i) == [] for i in order[:3])
        assert f"0 of {len(order)} decided" in rendered(screen, "#review-status")


async def test_decided_rows_stay_in_place_until_reload(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        order = row_ids(screen)
        first, second, last = order[1], order[2], order[-1]
        await highlight(pilot, screen, first)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.highlighted_id() == second, "the cursor on the next row")
        await highlight(pilot, screen, second)
        await pilot.press("x")
        await wait_screen(pilot, CommentScreen)
        await pilot.press(*"too vague", "enter")
        await wait_for(pilot, lambda: status_cell(screen, second) == "✗", "the rejection")
        # deciding the last row wraps round to the first undecided one (above the decided ones)
        await highlight(pilot, screen, last)
        await pilot.press("a")
        await wait_for(pilot, lambda: status_cell(screen, last) == "✓", "the last approval")
        await wait_for(pilot, lambda: screen.highlighted_id() == order[0], "the cursor on the first undecided row")
        assert row_ids(screen) == order
        assert f"3 of {len(order)} decided" in rendered(screen, "#review-status")

        # a change elsewhere (a new submission) refreshes the queue without dropping or moving rows
        with open_workspace(demo_db) as ws:
            draft = ws.db.execute("SELECT id FROM examples WHERE status = 'draft' ORDER BY id LIMIT 1").fetchone()[0]
            submit(ws.db, draft, expected_version=None, actor="dara")
        screen.refresh_data()
        await wait_for(pilot, lambda: draft in screen.table.rows, "the new submission")
        assert row_ids(screen) == [*order, draft]
        assert [status_cell(screen, i) for i in (first, second, last)] == ["✓", "✗", "✓"]
        assert screen.highlighted_id() == order[0]
        assert f"3 of {len(order) + 1} decided" in rendered(screen, "#review-status")

        # r reloads: only then are the decided rows dropped
        await pilot.press("r")
        await wait_for(pilot, lambda: first not in screen.table.rows, "the reload")
        assert row_ids(screen) == queue_ids(app)
        assert {first, second, last}.isdisjoint(row_ids(screen))
        assert f"0 of {len(order) - 2} decided" in rendered(screen, "#review-status")


async def test_a_row_decided_elsewhere_is_marked_and_skipped(demo_db: Path) -> None:
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_review(pilot)
        order = row_ids(screen)
        await highlight(pilot, screen, order[3])
        with open_workspace(demo_db) as ws:  # another reviewer, in another process, rejects the next one
            decide(ws.db, order[4], "reject", comment="no", expected_version=None, actor="chen")
        screen.refresh_data()
        await wait_for(pilot, lambda: status_cell(screen, order[4]) == "✗", "the row marked")
        assert row_ids(screen) == order
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.highlighted_id() == order[5], "the next undecided row")
