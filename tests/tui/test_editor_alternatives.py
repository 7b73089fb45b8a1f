"""Rejected alternatives in the editor: add one under an assistant turn, write the answer and its
why-not, move and remove it, save and reopen; problems are shown on the answer they concern."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Input, Static

from curator.models import parse_example
from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.editor import EditorScreen
from curator.tui.widgets.turns import AlternativeEditor, TurnEditor
from tests.conftest import advice, agentic
from tests.tui.conftest import focus, open_editor, paste_into, stored, wait_for, wait_screen


def make_app(db: Path) -> App[None]:
    from curator.tui.app import CuratorApp

    return CuratorApp(db, user="ana")


def alt_labels(turn: TurnEditor) -> list[str]:
    return [str(a.query_one(".alt-label", Static).render()) for a in turn.alternative_editors()]


def answers(turn: TurnEditor) -> list[str]:
    return [a.text for a in turn.alternatives]


def add_record(db: Path, record: dict[str, Any]) -> str:
    with open_workspace(db) as ws:
        return examples.create(ws.db, parse_example(record), actor="ana").id


async def add_alternative(pilot: Any, editor: EditorScreen, turn: TurnEditor) -> AlternativeEditor:
    count = len(turn.alternative_editors())
    await pilot.press("f8")
    await wait_for(pilot, lambda: len(turn.alternative_editors()) == count + 1, "the new rejected answer")
    alternative = turn.alternative_editors()[-1]
    await wait_for(pilot, lambda: pilot.app.focused is alternative.content_area, "the new answer's focus")
    return alternative


async def test_add_write_save_and_reopen_rejected_answers(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, None, kind="advice")
        await paste_into(pilot, editor.query_one("#title", Input), "Job abroad")
        user, assistant = editor.turn_editors()
        await paste_into(pilot, user.content_area, "Should I take the job abroad?")
        await paste_into(pilot, assistant.content_area, "Here is how to weigh it.")

        await focus(pilot, user.content_area)
        await pilot.press("f8")  # a user turn has no rejected answers
        await pilot.pause()
        assert user.alternative_editors() == [] and assistant.alternative_editors() == []

        await focus(pilot, assistant.content_area)
        first = await add_alternative(pilot, editor, assistant)
        await pilot.press(*"Quit.")
        await paste_into(pilot, first.why_not_area, "It decides for them.")
        second = await add_alternative(pilot, editor, assistant)
        await paste_into(pilot, second.content_area, "Stay, obviously.")
        assert alt_labels(assistant) == ["Rejected answer 1", "Rejected answer 2"]
        why_label = second.query_one(".alt-why-label", Static).render()
        assert str(why_label) == "Rejected answer 2 — why not:"
        assert editor.dirty

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        saved = stored(demo_db, editor.loaded.id)
        assert [a.model_dump(exclude_none=True) for a in (saved.messages or [])[1].alternatives or []] == [
            {"content": "Quit.", "why_not": "It decides for them."},
            {"content": "Stay, obviously."},
        ]
        example_id = saved.id
        await pilot.press("escape")

        editor = await open_editor(pilot, example_id)
        assistant = editor.turn_editors()[1]
        assert answers(assistant) == ["Quit.", "Stay, obviously."]
        assert [a.why_not for a in assistant.alternatives] == ["It decides for them.", ""]
        assert alt_labels(assistant) == ["Rejected answer 1", "Rejected answer 2"]
        assert not editor.dirty


async def test_move_and_remove_a_rejected_answer(demo_db: Path) -> None:
    record = advice(
        author="ana",
        messages=[
            {"role": "user", "content": "Should I take the job abroad?"},
            {
                "role": "assistant",
                "content": "Here is how to weigh it.",
                "alternatives": [
                    {"content": "Quit.", "why_not": "Decides for them.", "source": "hand-written"},
                    {"content": "Stay."},
                ],
            },
        ],
    )
    example_id = add_record(demo_db, record)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, example_id)
        assistant = editor.turn_editors()[1]
        first = assistant.alternative_editors()[0]
        await focus(pilot, first.why_not_area)
        await pilot.press("ctrl+shift+down")
        await wait_for(pilot, lambda: answers(assistant) == ["Stay.", "Quit."], "the move down")
        assert alt_labels(assistant) == ["Rejected answer 1", "Rejected answer 2"]
        assert app.focused is first.why_not_area
        await pilot.press("ctrl+shift+down")  # already the last: stays
        await pilot.pause()
        assert answers(assistant) == ["Stay.", "Quit."]
        await pilot.press("ctrl+shift+up")
        await wait_for(pilot, lambda: answers(assistant) == ["Quit.", "Stay."], "the move up")
        assert not editor.dirty  # back where it was

        await pilot.press("f9")  # it has text: asks first
        confirm = await wait_screen(pilot, ConfirmScreen)
        assert "Remove rejected answer 1 of turn 2?" in str(confirm.query_one(Static).render())
        await pilot.press("n")
        await wait_screen(pilot, EditorScreen)
        assert answers(assistant) == ["Quit.", "Stay."]
        await focus(pilot, first.content_area)
        await pilot.press("f9")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: answers(assistant) == ["Stay."], "the removal")
        await wait_for(pilot, lambda: alt_labels(assistant) == ["Rejected answer 1"], "the renumbering")

        empty = await add_alternative(pilot, editor, assistant)
        await pilot.press("f9")  # nothing written in it: gone without asking
        await wait_for(pilot, lambda: empty not in assistant.alternative_editors(), "the empty answer to go")
        assert isinstance(app.screen, EditorScreen)

        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: not editor.dirty and editor.loaded is not None and editor.loaded.version == 2, "save"
        )
        alternatives = (stored(demo_db, example_id).messages or [])[1].alternatives
        assert [a.content for a in alternatives or []] == ["Stay."]


async def test_problems_of_a_rejected_answer_are_shown_on_it(demo_db: Path) -> None:
    record = agentic(author="ana", clauses=["honesty"])
    record["messages"][1]["alternatives"] = [{"content": "Reading everything.", "why_not": "Out of scope."}]
    example_id = add_record(demo_db, record)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, example_id)
        turn = editor.turn_editors()[1]
        alternative = turn.alternative_editors()[0]
        alternative.content_area.load_text('[{"type": "tool_use", "id": "t1", "name": "send_email", "input": {}}]')
        await pilot.pause()
        await wait_for(pilot, lambda: editor._validate_timer is None, "the inline check (valid JSON)")
        await pilot.press("ctrl+s")
        error = alternative.query_one(".alt-content-error", Static)
        await wait_for(pilot, lambda: bool(error.display), "the error on the rejected answer")
        assert str(error.render()) == (
            "Turn 2, rejected answer 1 content[0].name: tool 'send_email' is not defined in tools"
        )
        assert app.focused is alternative.content_area
        assert not turn.query_one(".turn-content-error", Static).display
        assert stored(demo_db, example_id).version == 1


async def test_a_new_form_with_only_a_rejected_answer_is_not_empty_for_a_draft(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    app = make_app(demo_db)
    seen: list[str] = []
    original = app.notify
    monkeypatch.setattr(app, "notify", lambda message, **kw: (seen.append(message), original(message, **kw)))
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, None, kind="advice")
        assistant = editor.turn_editors()[1]
        await focus(pilot, assistant.content_area)
        await add_alternative(pilot, editor, assistant)
        await pilot.press("f2")  # a draft would replace the form: it refuses instead
        await wait_for(pilot, lambda: any("draft fills a new, empty form" in m for m in seen), "the refusal")
        assert len(assistant.alternative_editors()) == 1


async def test_a_rejected_answer_with_broken_json_is_flagged_while_typing(demo_db: Path) -> None:
    record = agentic(author="ana", clauses=["honesty"])
    record["messages"][1]["alternatives"] = [{"content": "Reading everything.", "why_not": "Out of scope."}]
    example_id = add_record(demo_db, record)
    app = make_app(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = await open_editor(pilot, example_id)
        alternative = editor.turn_editors()[1].alternative_editors()[0]
        await paste_into(pilot, alternative.content_area, '[{"type": "text", ')
        error = alternative.query_one(".alt-content-error", Static)
        await wait_for(pilot, lambda: bool(error.display), "the inline error")
        assert str(error.render()).startswith("Turn 2, rejected answer 1: invalid JSON block list")


async def test_a_rejected_answer_stays_compact_at_80_columns(demo_db: Path) -> None:
    record = advice(author="ana")
    record["messages"][1]["alternatives"] = [{"content": "Quit.", "why_not": "It decides for them."}]
    example_id = add_record(demo_db, record)
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, example_id)
        alternative = editor.turn_editors()[1].alternative_editors()[0]
        await focus(pilot, alternative.why_not_area)
        await pilot.pause()
        for area in (alternative.content_area, alternative.why_not_area):
            assert area.region.right <= 80 and area.region.width >= 20, area.region
        assert alternative.why_not_area.region.height == 1
        assert alternative.outer_size.height <= 7  # label, answer (2), why-not label, why-not
