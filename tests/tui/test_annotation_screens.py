"""Pilot: blind double annotation in the TUI. Two users annotate the demo blind through their queue
(7), a lead adjudicates a record side by side and applies the agreed sets (8), the Coverage screen
shows each clause's agreement and the Constitution screen marks a clause annotators disagree on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static, Tree

from curator import annotation
from curator.agreement import LOW_AGREEMENT
from curator.constitution.versions import import_constitution
from curator.paths import demo_constitution_file
from curator.store.clauses import current_clauses
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.commands import CuratorCommands
from curator.tui.screens.adjudicate import AdjudicateScreen
from curator.tui.screens.annotate import AnnotateScreen
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.constitution import ConstitutionScreen
from curator.tui.screens.coverage import CoverageScreen
from curator.tui.screens.help import HelpScreen, ScreenBindingCommands
from tests.tui.conftest import HOSTILE, stored, wait_for, wait_screen
from tests.tui.test_layout import footer_problems, scrolled_panes, settle

TEAM = ["eve", "finn", "lee"]
DISPUTED = "ex_demo_001"
"""A story by ana linked to coercion.1, privacy.2, oversight.2.2 (the annotators never see these)."""
AGREED = "ex_demo_004"


def assign(db: Path, ids: list[str], to: tuple[str, ...] = ("eve", "finn")) -> None:
    with open_workspace(db) as ws:
        annotation.assign(ws.db, ids, to, actor="lee", team=TEAM)


def annotate(db: Path, example_id: str, user: str, clauses: list[str]) -> None:
    with open_workspace(db) as ws:
        annotation.annotate(ws.db, example_id, clauses, user=user)


def rendered(screen: Any, widget_id: str) -> str:
    return str(screen.query_one(widget_id, Static).render())


def own_set(db: Path, user: str, example_id: str) -> tuple[str, ...] | None:
    with open_workspace(db) as ws:
        found = {i.id: i.annotated for i in annotation.queue(ws.db, user, include_done=True)}
    return found.get(example_id)


async def open_queue(pilot: Pilot[Any], rows: int) -> AnnotateScreen:
    await pilot.press("7")
    screen = await wait_screen(pilot, AnnotateScreen)
    await wait_for(pilot, lambda: screen.table.row_count == rows, f"{rows} queue rows")
    return screen


async def pick_and_submit(pilot: Pilot[Any], screen: AnnotateScreen, example_id: str, clauses: list[str]) -> None:
    """On the highlighted record: `l`, search and toggle each clause, Escape, `s`; wait until stored."""
    assert screen.highlighted_id() == example_id
    await pilot.press("l")
    picker = await wait_screen(pilot, ClausePicker)
    query = picker.query_one("#picker-query", Input)
    for clause_id in clauses:
        query.value = clause_id
        await wait_for(pilot, lambda c=clause_id: bool(picker.hits) and picker.hits[0].clause.id == c, clause_id)
        await pilot.press("enter")
    assert picker.chosen == clauses
    await pilot.press("escape")
    await wait_screen(pilot, AnnotateScreen)
    assert "Draft (not submitted): " + ", ".join(clauses) in rendered(screen, "#annotate-set")
    await pilot.press("s")
    await wait_for(pilot, lambda: screen.items[example_id].annotated == tuple(sorted(clauses)), "the stored set")


async def annotate_in_queue(db: Path, user: str, chosen: dict[str, list[str]], links: list[str]) -> None:
    """`user` opens their queue (7), reads each record blind and submits `chosen` through the picker."""
    app = CuratorApp(db, user=user)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_queue(pilot, 2)
        assert [str(r.key.value) for r in screen.table.ordered_rows] == [DISPUTED, AGREED]
        assert rendered(screen, "#annotate-status").startswith("0 of 2 annotated")
        # blind: the record is shown, its links are not
        detail = "".join(rendered(screen, w) for w in ("#annotate-heading", "#annotate-set", "#annotate-body"))
        assert "The archivist's last shift" in detail
        assert "Clauses" not in detail
        assert not [c for c in links if c in detail]
        assert "coercion.2" not in detail  # eve's set, when finn looks
        assert "Not annotated yet." in rendered(screen, "#annotate-set")
        await pick_and_submit(pilot, screen, DISPUTED, chosen[DISPUTED])
        # the cursor moved on to the next record not annotated yet
        await wait_for(pilot, lambda: screen.highlighted_id() == AGREED, "the next record")
        await pick_and_submit(pilot, screen, AGREED, chosen[AGREED])
        await wait_for(pilot, lambda: "2 of 2 annotated" in rendered(screen, "#annotate-status"), "the count")
        assert str(screen.table.get_row(DISPUTED)[0]) == "✓"
    assert stored(db, DISPUTED).clauses == links  # annotating does not touch the links


async def test_two_users_annotate_the_demo_blind(demo_db: Path) -> None:
    assign(demo_db, [DISPUTED, AGREED])
    links = stored(demo_db, DISPUTED).clauses
    assert links
    sets = {
        "eve": {DISPUTED: ["privacy.1", "coercion.2"], AGREED: ["care.1"]},
        "finn": {DISPUTED: ["privacy.1"], AGREED: ["care.1"]},
    }
    for user, chosen in sets.items():
        await annotate_in_queue(demo_db, user, chosen, links)
        for example_id, clauses in chosen.items():
            assert own_set(demo_db, user, example_id) == tuple(sorted(clauses))
    with open_workspace(demo_db) as ws:
        report = annotation.agreement_report(ws.db, replicates=0)
    assert report.n_records == 2 and report.disagreements == 1


async def test_a_user_not_assigned_sees_an_empty_queue_and_submitting_says_why(demo_db: Path) -> None:
    assign(demo_db, [DISPUTED])
    app = CuratorApp(demo_db, user="zoe")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_queue(pilot, 0)
        await wait_for(pilot, lambda: "Nothing is assigned" in rendered(screen, "#annotate-heading"), "the message")
        await pilot.press("s")
        await wait_for(pilot, lambda: bool(app._notifications), "a notification")
        assert "queue is empty" in list(app._notifications)[-1].message


async def test_a_clause_changed_since_the_assignment_is_confirmed_after_reading_it(
    demo_db: Path, tmp_path: Path
) -> None:
    assign(demo_db, [DISPUTED])
    with open_workspace(demo_db) as ws:
        clauses = current_clauses(ws.db)
    # a new constitution version where privacy.1 says something else
    old = next(c for c in clauses if c.id == "privacy.1").text
    source = demo_constitution_file().read_text(encoding="utf-8")
    assert source.count(old) == 1
    new_file = tmp_path / "v2.md"
    new_file.write_text(source.replace(old, old + " Even when asked nicely."), encoding="utf-8")
    with open_workspace(demo_db) as ws:
        import_constitution(ws.db, new_file, actor="lee")
    app = CuratorApp(demo_db, user="eve")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_queue(pilot, 1)
        screen.drafts[DISPUTED] = ["privacy.1"]
        await pilot.press("s")
        confirm = await wait_screen(pilot, ConfirmScreen)
        assert "privacy.1" in confirm.question and "Even when asked nicely." in confirm.question
        await pilot.press("n")  # nothing is written, the draft stays
        await wait_screen(pilot, AnnotateScreen)
        assert own_set(demo_db, "eve", DISPUTED) is None
        assert screen.drafts[DISPUTED] == ["privacy.1"]
        await pilot.press("s")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.items[DISPUTED].annotated == ("privacy.1",), "the confirmed set")
    assert own_set(demo_db, "eve", DISPUTED) == ("privacy.1",)


def grid_marks(screen: AdjudicateScreen) -> dict[str, list[str]]:
    """Clause -> the grid's cells after the clause id and title (annotators, now, final)."""
    grid = screen.grid
    return {str(row.key.value): [str(c) for c in grid.get_row(row.key)[2:]] for row in grid.ordered_rows}


async def test_a_lead_adjudicates_side_by_side_and_applies_the_agreed_sets(demo_db: Path) -> None:
    assign(demo_db, [DISPUTED, AGREED])
    annotate(demo_db, DISPUTED, "eve", ["privacy.1", "coercion.2"])
    annotate(demo_db, DISPUTED, "finn", ["privacy.1"])
    annotate(demo_db, AGREED, "eve", ["care.1"])
    annotate(demo_db, AGREED, "finn", ["care.1"])
    app = CuratorApp(demo_db, user="lee")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("8")
        screen = await wait_screen(pilot, AdjudicateScreen)
        await wait_for(pilot, lambda: screen.grid.row_count > 0, "the side-by-side grid")
        assert [str(r.key.value) for r in screen.list_table.ordered_rows] == [DISPUTED]
        columns = [str(c.label) for c in screen.grid.columns.values()]
        assert columns == ["Clause", "Title", "eve", "finn", "Now", "Final"]
        # who linked what: privacy.1 by both, coercion.2 by eve; the record's links; the majority as final
        assert grid_marks(screen) == {
            "oversight.2.2": ["·", "·", "●", ""],
            "privacy.1": ["●", "●", "·", "✓"],
            "privacy.2": ["·", "·", "●", ""],
            "coercion.1": ["·", "·", "●", ""],
            "coercion.2": ["●", "·", "·", ""],
        }
        await pilot.press("u")  # from the union
        assert sorted(screen.finals[DISPUTED]) == ["coercion.2", "privacy.1"]
        await pilot.press("m")  # back to the majority
        assert screen.finals[DISPUTED] == ["privacy.1"]
        screen.grid.move_cursor(row=screen.grid.get_row_index("privacy.2"))
        await pilot.press("space")  # keep one of the current links too
        assert grid_marks(screen)["privacy.2"][-1] == "✓"
        assert "Final set: privacy.1, privacy.2" in rendered(screen, "#adj-final")
        await pilot.press("d")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: sorted(stored(demo_db, DISPUTED).clauses) == ["privacy.1", "privacy.2"], "links")
        await wait_for(pilot, lambda: screen.list_table.row_count == 0, "the decided record to leave the list")
        assert "No record in disagreement" in rendered(screen, "#adj-heading")
        # the agreed set: one key, and how many
        await pilot.press("A")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: stored(demo_db, AGREED).clauses == ["care.1"], "the agreed links")
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("Agreed sets applied to 1 records") for m in messages), messages


async def test_adjudicating_ones_own_annotation_is_refused_in_one_line(demo_db: Path) -> None:
    assign(demo_db, [DISPUTED], ("eve", "finn"))
    annotate(demo_db, DISPUTED, "eve", ["privacy.1"])
    annotate(demo_db, DISPUTED, "finn", ["care.1"])
    app = CuratorApp(demo_db, user="eve")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        screen = await wait_screen(pilot, AdjudicateScreen)
        await wait_for(pilot, lambda: screen.grid.row_count > 0, "the grid")
        await pilot.press("d")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: any("another lead" in n.message for n in app._notifications), "the refusal")
        assert screen.list_table.row_count == 1 and screen.finals[DISPUTED]  # nothing lost
    assert stored(demo_db, DISPUTED).clauses == ["coercion.1", "privacy.2", "oversight.2.2"]


@pytest.fixture
def disputed(demo_db: Path) -> Path:
    """Two records annotated by eve and finn: they agree on privacy.1 once and disagree on it once,
    and agree on care.1 twice."""
    assign(demo_db, [DISPUTED, AGREED])
    annotate(demo_db, DISPUTED, "eve", ["privacy.1", "care.1"])
    annotate(demo_db, DISPUTED, "finn", ["care.1"])
    annotate(demo_db, AGREED, "eve", ["privacy.1", "care.1"])
    annotate(demo_db, AGREED, "finn", ["privacy.1", "care.1"])
    return demo_db


async def test_coverage_shows_agreement_per_clause(disputed: Path) -> None:
    app = CuratorApp(disputed, user="lee")
    async with app.run_test(size=(120, 36)) as pilot:
        await app.switch_mode("coverage")
        screen = app.screen
        assert isinstance(screen, CoverageScreen)
        heat: DataTable[Any] = screen.query_one("#heat", DataTable)
        await wait_for(pilot, lambda: heat.row_count > 0, "the heat map")
        column = heat.get_column_index("agree")
        report = screen.report
        assert report is not None
        rows = {r.id: r for r in report.clauses}
        privacy, care = rows["privacy.1"].agreement, rows["care.1"].agreement
        assert privacy is not None and privacy[0] < LOW_AGREEMENT and care == (1.0, 2)
        cell = heat.get_row("privacy.1")[column]
        assert cell.plain == f"{privacy[0]:.2f} n2"
        assert "red" in str(cell.style)  # low agreement is highlighted
        assert heat.get_row("care.1")[column].plain == "1.00 n2"
        assert "red" not in str(heat.get_row("care.1")[column].style)
        assert heat.get_row("honesty.1")[column].plain == ""  # no annotation links it


async def test_the_constitution_marks_a_clause_annotators_disagree_on(disputed: Path) -> None:
    app = CuratorApp(disputed, user="lee")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConstitutionScreen)
        await wait_for(pilot, lambda: "privacy.1" in screen.stats and screen.stats["privacy.1"].unclear, "agreement")
        tree: Tree[str] = screen.query_one("#clause-tree", Tree)
        assert "unclear?" in str(screen.nodes["privacy.1"].label)
        assert "unclear?" not in str(screen.nodes["care.1"].label)
        assert "unclear?" not in str(screen.nodes["honesty.1"].label)
        screen.select_clause("privacy.1")
        await wait_for(pilot, lambda: "unclear?" in rendered(screen, "#clause-heading"), "the heading's mark")
        assert "alpha 0.00 over 2 records" in rendered(screen, "#clause-heading")
        assert tree.cursor_node is screen.nodes["privacy.1"]
        # a new annotation elsewhere: the heading of the clause under the cursor follows on reload
        annotate(disputed, DISPUTED, "finn", ["privacy.1", "care.1"])
        screen.refresh_data()
        # wait for the new figure itself: while the tree reloads the heading briefly shows the title
        await wait_for(pilot, lambda: "alpha 1.00 over 2 records" in rendered(screen, "#clause-heading"), "agreement")
        assert "unclear?" not in rendered(screen, "#clause-heading")
        # the tree's labels come from the statistics worker, the heading from the clause's: either may land first
        await wait_for(pilot, lambda: "unclear?" not in str(screen.nodes["privacy.1"].label), "the tree's mark")


async def test_hostile_strings_show_literally_in_the_queue_and_the_adjudication(hostile_db: Path) -> None:
    """Hostile titles (the records), annotator names (queue user, grid columns) and a hostile lead (assigned by)."""
    ids = [f"hostile_{i}" for i in range(2, 6)]  # each record's author is its title: not an annotator here
    titles = HOSTILE[2:6]
    first, second, lead = HOSTILE[0], HOSTILE[1], HOSTILE[6]
    with open_workspace(hostile_db) as ws:
        annotation.assign(ws.db, ids, (first, second), actor=lead, team=[first, second])
    for example_id in ids:
        annotate(hostile_db, example_id, first, ["privacy.1"])
        annotate(hostile_db, example_id, second, ["care.1"])
    app = CuratorApp(hostile_db, user=first)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_queue(pilot, len(ids))
        for example_id, s in zip(ids, titles, strict=True):
            row = screen.table.get_row(example_id)
            assert row[1].plain == s and row[3].plain == lead
            screen.table.move_cursor(row=screen.table.get_row_index(example_id))
            await wait_for(pilot, lambda s=s: rendered(screen, "#annotate-heading").splitlines()[0] == s, s)
            assert f"assigned by {lead} on " in rendered(screen, "#annotate-heading")
            assert f"Text\n{s}\n" in rendered(screen, "#annotate-body")
            assert rendered(screen, "#annotate-set").startswith("Your set: privacy.1")
        assert rendered(screen, "#annotate-status").endswith(f"you are {first}")
        await pilot.press("escape")
        app.user = "lee"
        await pilot.press("8")
        adj = await wait_screen(pilot, AdjudicateScreen)
        await wait_for(pilot, lambda: adj.list_table.row_count == len(ids), "the disagreements")
        for example_id, s in zip(ids, titles, strict=True):
            assert adj.list_table.get_row(example_id)[0].plain == s
            adj.list_table.move_cursor(row=adj.list_table.get_row_index(example_id))
            await wait_for(pilot, lambda s=s: rendered(adj, "#adj-heading").splitlines()[0] == s, s)
            assert f"annotators: {second}, {first}" in rendered(adj, "#adj-heading")  # sorted by name
            assert [c.label.plain for c in adj.grid.columns.values()][2:4] == [second, first]
        await pilot.pause(0.1)
        assert app.is_running and app.return_code is None


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
async def test_the_annotation_screens_fit(disputed: Path, size: tuple[int, int]) -> None:
    """The footer's keys fit, the lists and the grid never scroll sideways."""
    problems: list[str] = []
    for user, key, panes in (("eve", "7", ("#annotate-table",)), ("lee", "8", ("#adj-list", "#adj-grid"))):
        app = CuratorApp(disputed, user=user)
        async with app.run_test(size=size) as pilot:
            await pilot.press(key)
            screen = await wait_screen(pilot, AnnotateScreen if key == "7" else AdjudicateScreen)
            await wait_for(pilot, lambda s=screen, p=panes[-1]: s.query_one(p, DataTable).row_count > 0, "the rows")
            await settle(pilot)
            problems += footer_problems(app) + scrolled_panes(app, panes)
    assert not problems, "\n".join(problems)


async def test_help_and_the_palette_name_the_annotation_screens(disputed: Path) -> None:
    app = CuratorApp(disputed, user="eve")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("7")
        await wait_screen(pilot, AnnotateScreen)
        await pilot.press("f1")
        help_screen = await wait_screen(pilot, HelpScreen)
        keys = dict(help_screen.sections())
        assert ("l", "Link clauses") in keys["On this screen (Annotate)"]
        assert ("s", "Submit") in keys["On this screen (Annotate)"]
        assert ("7", "Annotation queue") in keys["Everywhere"] and ("8", "Adjudicate") in keys["Everywhere"]
        await pilot.press("escape")
        await pilot.press("escape")  # back from the queue
        await wait_for(pilot, lambda: isinstance(app.screen, ConstitutionScreen), "the screen below")
        commands = {text: command for text, command, _ in CuratorCommands(app.screen)._static()}
        commands["Go to Adjudicate disagreements"]()
        adj = await wait_screen(pilot, AdjudicateScreen)
        assert "Adjudicate: Decide" in [text for text, _ in ScreenBindingCommands(adj)._commands()]
        assert "Go to Annotation queue (blind)" in commands


async def test_switching_user_shows_the_new_users_queue_and_drops_the_drafts(demo_db: Path) -> None:
    assign(demo_db, [DISPUTED], ("eve",))
    assign(demo_db, [DISPUTED, AGREED], ("finn",))
    app = CuratorApp(demo_db, user="eve")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_queue(pilot, 1)
        screen.drafts[DISPUTED] = ["care.1"]
        await pilot.press("ctrl+p")
        await pilot.press(*"Switch user")
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.press(*"finn", "enter")
        await wait_for(pilot, lambda: screen.table.row_count == 2, "finn's queue")
        assert rendered(screen, "#annotate-status").endswith("you are finn")
        assert screen.drafts == {}  # eve's draft is not finn's
