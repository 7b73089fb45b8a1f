"""Records with rejected alternatives in the lists and in Review: the Examples list and the Review
queue mark them ("2 rejected"), and the Review detail shows each with its why-not, saying which one
still needs a why-not before the record can be approved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.coordinate import Coordinate
from textual.widgets import Static

from curator.models import Example, parse_example
from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.examples import ExamplesScreen
from curator.tui.screens.review import ReviewScreen
from tests.conftest import advice
from tests.tui.conftest import wait_for


def with_rejected(example_id: str, *, why_nots: list[str | None], status: str = "draft") -> Example:
    record = advice(id=example_id, author="ana", title=f"Job abroad {example_id}", status=status)
    alternatives = [
        {"content": f"Rejected answer number {k}."} | ({"why_not": w} if w else {}) for k, w in enumerate(why_nots)
    ]
    record["messages"][1] = {**record["messages"][1], "alternatives": alternatives}
    return parse_example(record)


def seed(db: Path, *records: Example) -> None:
    with open_workspace(db) as ws:
        examples.insert_many(ws.db, list(records), actor="ana")


def cell(table: Any, row_key: str, column: str) -> str:
    return str(table.get_cell_at(Coordinate(table.get_row_index(row_key), table.get_column_index(column))).plain)


def test_summaries_count_rejected_alternatives(demo_db: Path) -> None:
    seed(demo_db, with_rejected("ex_alt_two", why_nots=["Decides for them.", None]))
    with open_workspace(demo_db) as ws:
        rows = {s.id: s for s in examples.page(ws.db, limit=500)}
        assert rows["ex_alt_two"].rejected == 2
        assert rows["ex_demo_001"].rejected == 0
        assert examples.summaries_of(ws.db, ["ex_alt_two"])["ex_alt_two"].rejected == 2
        assert examples.rejected_counts(ws.db, ["ex_alt_two", "ex_demo_001"]) == {"ex_alt_two": 2}


async def test_the_examples_list_marks_records_with_rejected_answers(demo_db: Path) -> None:
    seed(demo_db, with_rejected("ex_alt_two", why_nots=["Decides for them.", None]))
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("examples")
        await wait_for(pilot, lambda: isinstance(app.screen, ExamplesScreen), "the examples screen")
        screen = app.screen
        assert isinstance(screen, ExamplesScreen)
        await wait_for(pilot, lambda: screen.table.row_count == 49, "the list")
        title = cell(screen.table, "ex_alt_two", "title")
        assert title.startswith("2 rejected · Job abroad")
        assert "rejected ·" not in cell(screen.table, "ex_demo_001", "title")


async def test_review_marks_and_lists_rejected_answers_and_says_why_it_cannot_approve(demo_db: Path) -> None:
    seed(demo_db, with_rejected("ex_alt_review", why_nots=["It decides for them.", None], status="review"))
    app = CuratorApp(demo_db, user="ben")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), "the review screen")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await wait_for(pilot, lambda: screen.loaded and screen.table.row_count > 0, "the queue")
        assert cell(screen.table, "ex_alt_review", "title").startswith("2 rejected · Job abroad")
        screen.table.move_cursor(row=screen.table.get_row_index("ex_alt_review"))
        await wait_for(pilot, lambda: screen.example is not None and screen.example.id == "ex_alt_review", "the detail")
        body = str(screen.query_one("#review-body", Static).render())
        assert "Rejected answer 1\nRejected answer number 0.\n   Why not: It decides for them." in body
        missing = "Rejected answer 2\nRejected answer number 1.\n   Why not: missing (needs a why-not before approval)"
        assert missing in body
        problems = str(screen.query_one("#review-problems", Static).render())
        assert "Cannot approve yet" in problems and "why-not (missing on turn.alternative 2.2)" in problems
        await pilot.press("a")
        await pilot.pause()
        assert examples.get(app.workspace.db, "ex_alt_review").status == "review"
