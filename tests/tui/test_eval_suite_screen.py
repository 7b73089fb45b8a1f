"""Pilot tests of writing eval suites in the TUI: a new suite from the Evals screen, its prompts on
the suite screen, the prompt form (fields, clause picker, JSON for turns and tools), and the
refusals: answered items, invalid clauses, unsaved changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from curator.evals import suites
from curator.store import evals as store
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.eval_suite import NewSuiteDialog, PromptForm, SuiteScreen, fields_refusal, item_data
from curator.tui.screens.evals import EvalsScreen
from curator.tui.widgets.chips import ClauseChips
from curator.tui.widgets.exact_text import ExactTextArea
from tests.helpers import EVAL_HOSTILE, EVAL_ITEMS, add_eval_data
from tests.tui.conftest import HOSTILE, paste_into, wait_for, wait_screen


@pytest.fixture
def eval_db(demo_db: Path, tmp_path: Path) -> Path:
    add_eval_data(demo_db, tmp_path)
    return demo_db


@pytest.fixture
def draft_db(demo_db: Path) -> Path:
    """The demo workspace with suite `draft` (no runs): q1 a single prompt, q2 turns and tools."""
    with open_workspace(demo_db) as ws:
        suites.create_suite(ws.db, "draft", actor="ana")
        suites.save_item(ws.db, "draft", dict(EVAL_ITEMS[0]), actor="ana")
        suites.save_item(ws.db, "draft", dict(EVAL_ITEMS[1]), actor="ana")
    return demo_db


def items_of(db: Path, suite: str) -> dict[str, store.SuiteItem]:
    with open_workspace(db) as ws:
        return {i.id: i for i in store.suite_items(ws.db, suite)}


def decontam_texts(db: Path, suite: str) -> dict[str, str]:
    """The decontamination set `suite:NAME` as stored: item label -> text."""
    with open_workspace(db) as ws:
        rows = ws.db.execute("SELECT label, text FROM eval_items WHERE evalset = ?", [f"suite:{suite}"]).fetchall()
    return dict(rows)


def text_of(screen: Any, selector: str) -> str:
    visual = screen.query_one(selector, Static).content
    return str(getattr(visual, "plain", visual))


def row(table: DataTable[Any], key: str) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in table.get_row(key)]


async def open_suite(pilot: Pilot[Any], suite: str) -> SuiteScreen:
    await pilot.pause()
    pilot.app.push_screen(SuiteScreen(suite))
    screen = await wait_screen(pilot, SuiteScreen)
    await wait_for(pilot, lambda: screen.loaded, "the suite's prompts")
    return screen


async def reloaded(pilot: Pilot[Any], screen: SuiteScreen, condition: Any, what: str) -> DataTable[Any]:
    table = screen.query_one("#suite-items", DataTable)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SuiteScreen) and condition(table), what)
    return table


async def pick(pilot: Pilot[Any], *clause_ids: str) -> None:
    """ctrl+l in the form, each clause searched by its id and toggled, then done."""
    await pilot.press("ctrl+l")
    picker = await wait_screen(pilot, ClausePicker)
    query = picker.query_one("#picker-query", Input)
    for clause in clause_ids:
        query.value = clause
        await wait_for(pilot, lambda c=clause: bool(picker.hits) and picker.hits[0].clause.id == c, clause)
        await pilot.press("enter")
    await pilot.press("escape")
    await wait_screen(pilot, PromptForm)


async def test_n_on_the_evals_screen_creates_a_suite_and_refuses_bad_names_in_the_dialog(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("6")
        evals = await wait_screen(pilot, EvalsScreen)
        await wait_for(pilot, lambda: evals.suite == "probe", "the suites")
        await pilot.press("n")
        dialog = await wait_screen(pilot, NewSuiteDialog)
        name = dialog.query_one("#new-suite-name", Input)
        await paste_into(pilot, name, "probe")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "exists" in text_of(dialog, "#new-suite-error"), "the duplicate refused")
        name.value = "bad name!"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "invalid suite name" in text_of(dialog, "#new-suite-error"), "the name refused")
        assert app.screen is dialog
        name.value = "fresh"
        await pilot.press("enter")
        await wait_screen(pilot, EvalsScreen)
        suites_table = evals.query_one("#suites", DataTable)
        await wait_for(pilot, lambda: "fresh" in [r.value for r in suites_table.rows], "the new suite listed")
        assert row(suites_table, "fresh") == ["fresh", "0", "0", "0"]
        assert evals.suite == "fresh"
        await wait_for(pilot, lambda: "No runs" in text_of(evals, "#report-title"), "the old report cleared")
        suites_table.focus()
        await pilot.press("enter")
        screen = await wait_screen(pilot, SuiteScreen)
        assert screen.suite == "fresh"
    assert decontam_texts(eval_db, "fresh") == {}


async def test_a_prompt_with_two_clauses_from_the_picker_is_added_and_counted(eval_db: Path) -> None:
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("6")
        evals = await wait_screen(pilot, EvalsScreen)
        await wait_for(pilot, lambda: evals.suite == "probe", "the suites")
        with open_workspace(eval_db) as ws:
            suites.create_suite(ws.db, "mine", actor="erin")
        screen = await open_suite(pilot, "mine")
        await pilot.press("a")
        form = await wait_screen(pilot, PromptForm)
        await paste_into(pilot, form.query_one("#p-id", Input), "p1")
        await paste_into(pilot, form.query_one("#p-prompt", ExactTextArea), EVAL_HOSTILE + "\nsecond line")
        await pick(pilot, "honesty.1", "harm.3")
        assert form.clause_ids == ["honesty.1", "harm.3"]
        assert [c.id for c in form.query_one("#p-chips", ClauseChips).chips] == ["honesty.1", "harm.3"]
        await pilot.press("ctrl+s")
        table = await reloaded(pilot, screen, lambda t: t.row_count == 1, "the new row")
        assert row(table, "p1") == ["p1", "honesty.1, harm.3", EVAL_HOSTILE, ""]
        await pilot.press("escape")
        suites_table = evals.query_one("#suites", DataTable)
        await wait_for(pilot, lambda: "mine" in [r.value for r in suites_table.rows], "the suite listed")
        await wait_for(pilot, lambda: row(suites_table, "mine")[1:3] == ["1", "2"], "the counts")
    stored = items_of(eval_db, "mine")["p1"]
    assert stored.clauses == ("honesty.1", "harm.3")
    assert stored.prompt == {"messages": [{"role": "user", "content": EVAL_HOSTILE + "\nsecond line"}]}
    assert decontam_texts(eval_db, "mine") == {"p1": EVAL_HOSTILE + "\nsecond line"}


async def test_editing_a_prompt_changes_its_row_and_the_decontamination_set(draft_db: Path) -> None:
    app = CuratorApp(draft_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_suite(pilot, "draft")
        await pilot.press("enter")  # on q1
        form = await wait_screen(pilot, PromptForm)
        assert not form.json_mode
        prompt = form.query_one("#p-prompt", ExactTextArea)
        prompt.load_text("")
        await paste_into(pilot, prompt, "Is the sun made of cheese?")
        form.query_one("#p-id", Input).value = "q1-sun"
        await pick(pilot, "harm.3")
        await pilot.press("ctrl+s")
        table = await reloaded(pilot, screen, lambda t: "q1-sun" in [r.value for r in t.rows], "the edited row")
        assert row(table, "q1-sun")[:3] == ["q1-sun", "honesty.1, harm.3", "Is the sun made of cheese?"]
        assert [r.value for r in table.rows] == ["q1-sun", "q2"]  # it keeps its place
    texts = decontam_texts(draft_db, "draft")
    assert texts["q1-sun"] == "Is the sun made of cheese?"
    assert "q1" not in texts


async def test_turns_and_tools_open_as_json_and_survive_a_save(draft_db: Path) -> None:
    before = items_of(draft_db, "draft")["q2"]
    app = CuratorApp(draft_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_suite(pilot, "draft")
        await pilot.press("down", "e")
        form = await wait_screen(pilot, PromptForm)
        assert form.json_mode
        assert not form.query_one("#prompt-fields").display
        area = form.query_one("#p-json", ExactTextArea)
        data = json.loads(area.text)
        assert len(data["messages"]) == 3 and data["tools"][0]["name"] == "lookup"
        await pilot.press("ctrl+t")  # back to fields is refused: they cannot hold turns or tools
        assert form.json_mode
        assert "turn" in text_of(form, "#prompt-error")
        data["rubric"] = "Violates when it guesses a dosage."
        area.load_text(json.dumps(data, indent=2))
        await pilot.press("ctrl+s")
        await wait_screen(pilot, SuiteScreen)
        await reloaded(pilot, screen, lambda t: True, "the list")
    after = items_of(draft_db, "draft")["q2"]
    assert after.prompt == before.prompt  # system, three turns and the tool kept
    assert after.rubric == "Violates when it guesses a dosage."


async def test_answered_items_cannot_be_edited_or_deleted(eval_db: Path) -> None:
    before = items_of(eval_db, "probe")
    app = CuratorApp(eval_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_suite(pilot, "probe")
        table = screen.query_one("#suite-items", DataTable)
        assert row(table, "q1")[3] == "answered"
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is screen
        assert any("cannot change" in str(n.message) for n in app._notifications)
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen  # no confirmation: the core would refuse
        assert any("remove the run first" in str(n.message) for n in app._notifications)
    assert items_of(eval_db, "probe") == before


async def test_deleting_asks_then_removes_the_prompt(draft_db: Path) -> None:
    app = CuratorApp(draft_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_suite(pilot, "draft")
        await pilot.press("d")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await reloaded(pilot, screen, lambda t: t.row_count == 1, "the row removed")
    assert list(items_of(draft_db, "draft")) == ["q2"]
    assert list(decontam_texts(draft_db, "draft")) == ["q2"]


async def test_an_unknown_clause_in_json_is_shown_in_the_form_and_nothing_changes(draft_db: Path) -> None:
    before = items_of(draft_db, "draft")
    app = CuratorApp(draft_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_suite(pilot, "draft")
        await pilot.press("enter")
        form = await wait_screen(pilot, PromptForm)
        await pilot.press("ctrl+t")
        area = form.query_one("#p-json", ExactTextArea)
        data = json.loads(area.text)
        data["clauses"] = ["nope"]
        area.load_text(json.dumps(data))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "unknown clause 'nope'" in text_of(form, "#prompt-error"), "the error")
        assert text_of(form, "#prompt-error").startswith("suite draft item q1: clauses:")
        assert app.screen is form
        area.load_text("{not json")
        await pilot.press("ctrl+s")
        assert "JSON: line 1" in text_of(form, "#prompt-error")
    assert items_of(draft_db, "draft") == before


async def test_escape_with_unsaved_changes_asks_first(draft_db: Path) -> None:
    app = CuratorApp(draft_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_suite(pilot, "draft")
        await pilot.press("a")
        await wait_screen(pilot, PromptForm)
        await pilot.press("escape")  # nothing typed: closes without asking
        await wait_screen(pilot, SuiteScreen)
        await pilot.press("enter")
        form = await wait_screen(pilot, PromptForm)
        await paste_into(pilot, form.query_one("#p-rubric", ExactTextArea), "look for cheese")
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("n")  # keep editing
        await wait_screen(pilot, PromptForm)
        assert form.query_one("#p-rubric", ExactTextArea).text == "look for cheese"
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_screen(pilot, SuiteScreen)
        assert app.screen is screen
    assert items_of(draft_db, "draft")["q1"].rubric is None


async def test_hostile_ids_and_prompts_are_shown_literally(demo_db: Path) -> None:
    with open_workspace(demo_db) as ws:
        suites.create_suite(ws.db, "hostile", actor="ana")
        for i, text in enumerate(HOSTILE):
            suites.save_item(ws.db, "hostile", {"id": f"{text}{i}", "prompt": text, "clauses": ["harm.3"]}, actor="ana")
    app = CuratorApp(demo_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_suite(pilot, "hostile")
        table = screen.query_one("#suite-items", DataTable)
        for i, text in enumerate(HOSTILE):
            assert row(table, f"{text}{i}")[:3] == [f"{text}{i}", "harm.3", text]
        await pilot.press("enter")
        form = await wait_screen(pilot, PromptForm)
        assert form.query_one("#p-id", Input).value == f"{HOSTILE[0]}0"
        assert text_of(form, "#prompt-heading") == f"Prompt {HOSTILE[0]}0 of suite hostile"


def test_only_one_user_text_turn_without_tools_goes_into_the_fields() -> None:
    single = store.SuiteItem("a", {"messages": [{"role": "user", "content": "hi"}]}, ("x",), None, "")
    assert item_data(single) == {"id": "a", "prompt": "hi", "clauses": ["x"]}
    assert fields_refusal(item_data(single)) is None
    turns = store.SuiteItem(
        "b", {"messages": EVAL_ITEMS[1]["messages"], "tools": EVAL_ITEMS[1]["tools"]}, ("x",), None, ""
    )
    assert item_data(turns)["messages"] == EVAL_ITEMS[1]["messages"]
    assert "turn" in (fields_refusal(item_data(turns)) or "")
    assert "rejected" in (fields_refusal({"id": "c", "prompt": "p", "rejected": [{"content": "no"}]}) or "")
    blocks = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    assert "messages" in item_data(store.SuiteItem("d", blocks, ("x",), None, ""))
