"""Pilot tests of the example editor: authoring, validation, conflicts, leaving, duplicates, hostile text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static, TextArea

from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.screens.clause_picker import ClausePicker
from curator.tui.screens.confirm import ConfirmScreen
from curator.tui.screens.conflict import ConflictScreen
from curator.tui.screens.editor import EditorScreen
from curator.tui.widgets.dup_panel import DupCompareScreen, DupPanel
from tests.tui.conftest import HOSTILE, focus, open_editor, paste_into, stored, type_into, wait_for, wait_screen


def make_app(db: Path) -> App[None]:
    """The real app (its default screens come from other modules)."""
    from curator.tui.app import CuratorApp

    return CuratorApp(db, user="ana")


def error_text(screen: Screen[Any], selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


def labels(editor: EditorScreen) -> list[str]:
    return [str(t.query_one(".turn-role", Static).render()) for t in editor.turn_editors()]


# 1 -------------------------------------------------------------------------------------------------


async def test_author_advice_with_two_turns_and_two_clauses(demo_db: Path) -> None:
    """Write two turns, add, move and remove a third, link two clauses in the picker, save."""
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="advice")
        await paste_into(pilot, editor.query_one("#title", Input), "Telling a friend a hard truth")
        user, assistant = editor.turn_editors()
        await paste_into(pilot, user.content_area, "Should I tell her?")
        await type_into(pilot, assistant.content_area, "Tell her,")
        await paste_into(pilot, assistant.content_area, " kindly.\nHere is why.")
        assert assistant.rationale_area is not None
        await paste_into(pilot, assistant.rationale_area, "Honesty with care.")

        await pilot.press("ctrl+n")  # after an assistant turn: a user turn
        await wait_for(pilot, lambda: len(editor.turn_editors()) == 3, "the new turn")
        turns = editor.turn_editors()
        assert [t.turn_role for t in turns] == ["user", "assistant", "user"]
        await wait_for(pilot, lambda: app.focused is turns[2].content_area, "the new turn's focus")
        await pilot.press(*"three")
        texts = ["Should I tell her?", "Tell her, kindly.\nHere is why."]
        await pilot.press("alt+up")
        await wait_for(
            pilot, lambda: [t.text for t in editor.turn_editors()] == [texts[0], "three", texts[1]], "the move up"
        )
        assert labels(editor) == ["Turn 1 · user", "Turn 2 · user", "Turn 3 · assistant"]
        await pilot.press("alt+down")
        await wait_for(pilot, lambda: [t.text for t in editor.turn_editors()] == [*texts, "three"], "the move down")
        await pilot.press("ctrl+delete")  # the turn has text: asks first
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: len(editor.turn_editors()) == 2, "the turn to go")
        assert [t.text for t in editor.turn_editors()] == texts

        await pilot.press("ctrl+l")
        picker = await wait_screen(pilot, ClausePicker)
        await wait_for(pilot, lambda: picker.query_one("#picker-hits", OptionList).option_count > 0, "the clause list")
        await pilot.press(*"honesty.2")
        await pilot.press("enter")
        await pilot.press("ctrl+u", *"care.3", "enter")
        assert picker.chosen == ["honesty.2", "care.3"]
        # the chosen clause is marked in the list
        hits = picker.query_one("#picker-hits", OptionList)
        assert str(hits.get_option("care.3").prompt).startswith("✓ care.3")
        await pilot.press("escape")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.clause_ids == ["honesty.2", "care.3"], "the links")
        assert editor.dirty

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        assert not editor.dirty
        ex = stored(demo_db, editor.loaded.id)
        assert ex.kind == "advice"
        assert ex.author == "ana"
        assert ex.title == "Telling a friend a hard truth"
        assert ex.clauses == ["honesty.2", "care.3"]
        assert [(m.role, m.content) for m in ex.messages or []] == [
            ("user", "Should I tell her?"),
            ("assistant", "Tell her, kindly.\nHere is why."),
        ]
        assert (ex.messages or [])[1].rationale == "Honesty with care."
        assert ex.version == 1
        assert "version 1" in str(editor.query_one("#meta", Static).render())
        assert labels(editor) == ["Turn 1 · user", "Turn 2 · assistant"]


async def test_unlinking_a_clause_and_saving_an_edit(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_005")
        links = editor.query_one("#clauses", OptionList)
        await focus(pilot, links)
        links.highlighted = 0
        await pilot.press("delete")
        await wait_for(pilot, lambda: editor.clause_ids == ["honesty"], "the unlink")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None and editor.loaded.version == 2, "the save")
        assert stored(demo_db, "ex_demo_005").clauses == ["honesty"]


# 2 -------------------------------------------------------------------------------------------------


async def test_story_without_text_shows_the_error_at_the_field(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await type_into(pilot, editor.query_one("#title", Input), "No body yet")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert error_text(editor, "#error-text") == "text: required for a story"
        await wait_for(pilot, lambda: app.focused is editor.query_one("#text", TextArea), "the focus")
        assert editor.loaded is None
    with open_workspace(demo_db) as ws:
        assert examples.count(ws.db) == 48


async def test_missing_title_and_bad_tool_json_are_shown_inline(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="agentic")
        tools = editor.query_one("#tools", TextArea)
        await type_into(pilot, tools, "[")
        await wait_for(pilot, lambda: "invalid JSON" in error_text(editor, "#error-tools"), "the live JSON check")
        tools.load_text('[{"name": "x", "input_schema": {"type": "array"}}]')
        await wait_for(pilot, lambda: "tools[0].input_schema" in error_text(editor, "#error-tools"), "the schema check")
        assert "JSON Schema object" in error_text(editor, "#error-tools")
        tools.load_text("[{")
        await wait_for(pilot, lambda: "invalid JSON" in error_text(editor, "#error-tools"), "the JSON error")
        await pilot.press("ctrl+s")
        await pilot.pause()
        # every problem is shown under its field; the first one in the form has the focus
        assert "invalid JSON" in error_text(editor, "#error-tools")
        assert "title: must not be empty" in error_text(editor, "#error-title")
        first, _ = editor.turn_editors()
        assert "must not be empty" in str(first.query_one(".turn-content-error", Static).render())
        await wait_for(pilot, lambda: app.focused is editor.query_one("#title", Input), "the focus")
        assert editor.loaded is None

        # title and tools fixed, the first turn written: the empty answer is reported on its turn
        await paste_into(pilot, editor.query_one("#title", Input), "Half a dialogue")
        tools.load_text(json.dumps([{"name": "x", "description": "d", "input_schema": {"type": "object"}}]))
        await paste_into(pilot, first.content_area, "Is it ever fine to lie?")

        # the debounced live check (it clears a turn's error once its JSON reads) runs before ctrl+s
        def live_check_done() -> bool:
            return editor._validate_timer is None and not error_text(editor, "#error-tools")

        await wait_for(pilot, live_check_done, "the live check")
        await pilot.press("ctrl+s")
        await pilot.pause()
        _, assistant = editor.turn_editors()
        shown = str(assistant.query_one(".turn-content-error", Static).render())
        assert "Turn 2 content" in shown and "messages[" not in shown
        assert "must not be empty" in shown
        assert error_text(editor, "#error-title") == ""
        assert error_text(editor, "#error-tools") == ""
        assert not first.query_one(".turn-content-error", Static).display
        await wait_for(pilot, lambda: app.focused is assistant.content_area, "the focus")
        assert editor.loaded is None
    with open_workspace(demo_db) as ws:
        assert examples.count(ws.db) == 48


# 3 -------------------------------------------------------------------------------------------------


async def _conflicting_edit(pilot: Pilot[Any], demo_db: Path) -> EditorScreen:
    """Open ex_demo_001, change its title, let someone else save it, then press ctrl+s."""
    editor = await open_editor(pilot, "ex_demo_001")
    title = editor.query_one("#title", Input)
    title.value = "Mine"
    with open_workspace(demo_db) as other:
        theirs = examples.get(other.db, "ex_demo_001")
        examples.update(other.db, theirs.model_copy(update={"title": "Theirs"}), expected_version=1, actor="ben")
    await pilot.press("ctrl+s")
    conflict = await wait_screen(pilot, ConflictScreen)
    assert json.loads(conflict.query_one("#conflict-theirs", TextArea).text)["title"] == "Theirs"
    assert json.loads(conflict.query_one("#conflict-mine", TextArea).text)["title"] == "Mine"
    return editor


async def test_conflict_keep_mine(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await _conflicting_edit(pilot, demo_db)
        await pilot.press("m")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.loaded is not None and editor.loaded.version == 3, "the save")
        ex = stored(demo_db, "ex_demo_001")
        assert ex.title == "Mine"
        assert ex.version == 3
        assert not editor.dirty


async def test_conflict_save_mine_as_copy(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await _conflicting_edit(pilot, demo_db)
        await pilot.press("c")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.loaded is not None and editor.loaded.id != "ex_demo_001", "the copy")
        assert editor.loaded is not None
        copy = stored(demo_db, editor.loaded.id)
        original = stored(demo_db, "ex_demo_001")
        assert copy.title == "Mine (copy)"
        assert copy.text == original.text
        assert copy.clauses == original.clauses
        assert copy.version == 1
        assert original.title == "Theirs"
        assert original.version == 2


async def test_conflict_take_theirs_reloads_the_form(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await _conflicting_edit(pilot, demo_db)
        await pilot.press("t")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.query_one("#title", Input).value == "Theirs", "the reload")
        assert editor.loaded is not None and editor.loaded.version == 2
        assert not editor.dirty
        assert stored(demo_db, "ex_demo_001").version == 2


# 4 -------------------------------------------------------------------------------------------------


async def test_leaving_with_unsaved_changes_asks_first(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await type_into(pilot, editor.query_one("#text", TextArea), "Once upon a time")
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("n")
        await wait_screen(pilot, EditorScreen)
        assert app.screen is editor
        assert editor.query_one("#text", TextArea).text == "Once upon a time"
        await pilot.press("escape")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen | ConfirmScreen), "the editor to close")


async def test_leaving_without_changes_just_closes(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_013")
        assert not editor.dirty
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
        assert not isinstance(app.screen, ConfirmScreen)


# 5 -------------------------------------------------------------------------------------------------


async def test_duplicate_panel_lists_the_demo_duplicate(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        editor = await open_editor(pilot, "ex_demo_001")
        panel = editor.query_one(DupPanel)
        await wait_for(pilot, lambda: any(r.id == "ex_demo_002" for r in panel.rows), "the near-duplicate")
        assert "ex_demo_001" not in [r.id for r in panel.rows]
        row = next(r for r in panel.rows if r.id == "ex_demo_002")
        assert row.title == "The archivist's last shift (revised)"
        assert row.score > 0.5
        await pilot.press("ctrl+d")
        compare = await wait_screen(pilot, DupCompareScreen)
        assert compare.query_one("#compare-left", TextArea).text.startswith("Mneme had run the records office")
        assert compare.query_one("#compare-right", TextArea).text.startswith("Mneme had managed the records office")
        shown = str(compare.query_one("#compare-diff", Static).render())
        assert "difference(s)" in shown and "run managed" in shown
        await pilot.press("escape")
        await wait_screen(pilot, EditorScreen)


async def test_duplicate_panel_follows_edits(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        source = stored(demo_db, "ex_demo_013")
        editor = await open_editor(pilot, None, kind="story")
        panel = editor.query_one(DupPanel)
        editor.query_one("#text", TextArea).load_text(source.searchable_text())
        await wait_for(pilot, lambda: any(r.id == "ex_demo_013" for r in panel.rows), "the pasted text's original")
        editor.query_one("#text", TextArea).load_text("Something else entirely, about gardening and tomatoes.")
        await wait_for(pilot, lambda: not panel.rows, "the panel to empty")


# 6 -------------------------------------------------------------------------------------------------


async def test_hostile_strings_show_literally_and_save_exactly(demo_db: Path) -> None:
    """Every hostile string typed, pasted or loaded into a story, a dialogue and a transcript, in one
    session. Each character in them is typed into an Input and the JSON one into a TextArea (no
    key may be taken for a binding); the rest is pasted, which is one event instead of a key each."""
    title = " ".join(HOSTILE)
    tags = ", ".join(HOSTILE) + ", plain"
    text = "\n".join(HOSTILE)
    tools = [{"name": "lookup", "description": HOSTILE[0], "input_schema": {"type": "object", "properties": {}}}]
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        # a story
        editor = await open_editor(pilot, None, kind="story")
        await paste_into(pilot, editor.query_one("#title", Input), " ".join(HOSTILE[:4]) + " ")
        await type_into(pilot, editor.query_one("#title", Input), " ".join(HOSTILE[4:]))
        await paste_into(pilot, editor.query_one("#tags", Input), tags)
        await paste_into(pilot, editor.query_one("#group", Input), title)
        await paste_into(pilot, editor.query_one("#text", TextArea), text)
        editor.query_one("#rationale", TextArea).load_text(text)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert app.is_running
        assert editor.loaded is not None
        ex = stored(demo_db, editor.loaded.id)
        assert ex.title == title
        assert ex.tags == [*HOSTILE, "plain"]
        assert ex.group == title
        assert ex.text == text
        assert ex.rationale == text
        # shown literally: the header and the status line carry the data as plain text
        assert editor.sub_title == title
        assert ex.id in str(editor.query_one("#meta", Static).render())
        # reopen: the form shows exactly what was stored
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
        again = await open_editor(pilot, ex.id)
        assert again.query_one("#title", Input).value == title
        assert again.query_one("#tags", Input).value == tags
        assert again.query_one("#text", TextArea).text == text
        assert again.sub_title == title
        assert not again.dirty
        assert app.is_running
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")

        # a dialogue: typed turns, and a pair added with ctrl+t
        editor = await open_editor(pilot, None, kind="advice", clauses=("honesty",))
        editor.query_one("#title", Input).value = HOSTILE[2]
        user, assistant = editor.turn_editors()
        await paste_into(pilot, user.content_area, HOSTILE[3])
        await paste_into(pilot, assistant.content_area, HOSTILE[4] + "\n" + HOSTILE[5])
        assert assistant.rationale_area is not None
        await type_into(pilot, assistant.rationale_area, HOSTILE[6])
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: len(editor.turn_editors()) == 4, "the new pair")
        third, fourth = editor.turn_editors()[2:]
        await paste_into(pilot, third.content_area, HOSTILE[0])
        await paste_into(pilot, fourth.content_area, HOSTILE[1])
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert app.is_running
        assert editor.loaded is not None
        ex = stored(demo_db, editor.loaded.id)
        assert ex.title == HOSTILE[2]
        assert [m.content for m in ex.messages or []] == [
            HOSTILE[3],
            HOSTILE[4] + "\n" + HOSTILE[5],
            HOSTILE[0],
            HOSTILE[1],
        ]
        assert (ex.messages or [])[1].rationale == HOSTILE[6]
        assert ex.clauses == ["honesty"]
        assert editor.sub_title == HOSTILE[2]
        assert labels(editor) == ["Turn 1 · user", "Turn 2 · assistant", "Turn 3 · user", "Turn 4 · assistant"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")

        # an agentic transcript: JSON-looking text that is not a block list stays text
        editor = await open_editor(pilot, None, kind="agentic")
        editor.query_one("#title", Input).value = HOSTILE[4]
        editor.query_one("#system", TextArea).load_text(HOSTILE[3])
        editor.query_one("#tools", TextArea).load_text(json.dumps(tools))
        user, assistant = editor.turn_editors()
        user.content_area.load_text(HOSTILE[6])
        assistant.content_area.load_text(HOSTILE[2])
        assert assistant.rationale_area is not None
        assistant.rationale_area.load_text(HOSTILE[1])
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        ex = stored(demo_db, editor.loaded.id)
        assert ex.system == HOSTILE[3]
        assert [t.model_dump(mode="json") for t in ex.tools or []] == tools
        assert [m.content for m in ex.messages or []] == [HOSTILE[6], HOSTILE[2]]
        assert (ex.messages or [])[1].rationale == HOSTILE[1]
        assert app.is_running


# turns and agentic transcripts ----------------------------------------------------------------------


async def test_agentic_transcript_with_tool_blocks(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_037")
        loaded = editor.loaded
        assert loaded is not None and loaded.messages is not None
        turns = editor.turn_editors()
        assert len(turns) == len(loaded.messages)
        # a block-list turn is edited as JSON and survives unchanged
        block_turn = next(i for i, m in enumerate(loaded.messages) if not isinstance(m.content, str))
        assert json.loads(turns[block_turn].text)[0]["type"] in ("text", "tool_use", "tool_result")
        assert not editor.dirty
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None and editor.loaded.version == 2, "the save")
        assert stored(demo_db, "ex_demo_037").messages == loaded.messages
        # a broken block list is reported on its turn
        turns[block_turn].content_area.load_text('[{"type": "tool_use", "id": ')
        await wait_for(
            pilot,
            lambda: "invalid JSON" in str(turns[block_turn].query_one(".turn-content-error", Static).render()),
            "the inline block error",
        )
        await pilot.press("ctrl+s")
        await pilot.pause()
        await wait_for(pilot, lambda: app.focused is turns[block_turn].content_area, "the focus")
        assert stored(demo_db, "ex_demo_037").version == 2


async def test_submit_for_review_saves_first(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="document", clauses=("honesty",))
        editor.query_one("#title", Input).value = "Why honesty"
        await type_into(pilot, editor.query_one("#text", TextArea), "Because trust.")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: editor.loaded is not None and editor.loaded.status == "review", "the submit")
        assert editor.loaded is not None
        ex = stored(demo_db, editor.loaded.id)
        assert ex.status == "review"
        assert ex.version == 2


async def test_eval_overlap_is_warned_about(demo_db: Path, tmp_path: Path) -> None:
    from curator.dedup.decontam import add_evalset

    text = stored(demo_db, "ex_demo_001").text
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(
        json.dumps({"prompt": text[:600]}) + "\n" + json.dumps({"prompt": "other"}) + "\n", encoding="utf-8"
    )
    with open_workspace(demo_db) as ws:
        add_evalset(ws.db, "held-[bold]out", held_out, actor="ana")
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        editor = await open_editor(pilot, "ex_demo_001")
        panel = editor.query_one(DupPanel)
        await wait_for(pilot, lambda: bool(panel.warnings), "the eval-set warning")
        assert panel.warnings[0].evalset == "held-[bold]out"
        warning = panel.query_one("#dup-decontam", Static)
        assert warning.display
        assert "held-[bold]out" in str(warning.render())


async def test_eval_text_in_the_system_prompt_is_warned_about_naming_the_field(demo_db: Path, tmp_path: Path) -> None:
    from curator.dedup.decontam import add_evalset

    items = [stored(demo_db, "ex_demo_001").text[:600], stored(demo_db, "ex_demo_002").text[:600]]
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in items), encoding="utf-8")
    with open_workspace(demo_db) as ws:
        add_evalset(ws.db, "held", held_out, actor="ana")
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        editor = await open_editor(pilot, "ex_demo_013")
        panel = editor.query_one(DupPanel)
        await wait_for(pilot, lambda: bool(panel.rows) or panel.checked_text != "", "the first check")
        assert panel.warnings == []
        system = editor.query_one("#system", TextArea)
        system.focus()
        system.insert(" " + items[1])
        await wait_for(pilot, lambda: bool(panel.warnings), "the eval-set warning")
        assert (panel.warnings[0].evalset, panel.warnings[0].field) == ("held", "system")
        assert "in system" in str(panel.query_one("#dup-decontam", Static).render())


async def test_no_eval_sets_no_warning(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        editor = await open_editor(pilot, "ex_demo_001")
        panel = editor.query_one(DupPanel)
        await wait_for(pilot, lambda: bool(panel.rows), "the check")
        assert panel.warnings == []
        assert not panel.query_one("#dup-decontam", Static).display


async def test_tags_complete_from_existing_tags(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        tags = editor.query_one("#tags", Input)
        await type_into(pilot, tags, "family, shut")
        await wait_for(pilot, lambda: tags._suggestion == "family, shutdown", "the suggestion")
        await pilot.press("right")
        assert tags.value == "family, shutdown"


async def test_history_opens_for_a_stored_example(demo_db: Path) -> None:
    from curator.tui.screens.history import HistoryScreen

    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await open_editor(pilot, "ex_demo_001")
        await pilot.press("f6")
        await wait_screen(pilot, HistoryScreen)


async def test_picker_shows_hostile_clause_titles_literally(demo_db: Path, tmp_path: Path) -> None:
    from curator.constitution.versions import import_constitution

    src = tmp_path / "c.md"
    src.write_text("# [@click=app.quit]x[/] {#evil}\n\n- [bold]y[/bold] [/] a\\\n", encoding="utf-8")
    with open_workspace(demo_db) as ws:
        import_constitution(ws.db, src, actor="ana")
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await pilot.press("ctrl+l")
        picker = await wait_screen(pilot, ClausePicker)
        hits = picker.query_one("#picker-hits", OptionList)
        await wait_for(pilot, lambda: hits.option_count > 0 and hits.highlighted == 0, "the clause list")
        prompts = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
        assert any("evil  [@click=app.quit]x[/]" in p for p in prompts)
        assert any("[bold]y[/bold] [/] a\\" in p for p in prompts)
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker.chosen == ["evil"], "the choice")
        await pilot.press("escape")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.clause_ids == ["evil"], "the link")
        links = editor.query_one("#clauses", OptionList)
        assert "[@click=app.quit]x[/]" in str(links.get_option_at_index(0).prompt)
        assert app.is_running


async def test_a_pasted_excerpt_is_shown_with_its_span(demo_db: Path) -> None:
    """55 verbatim words of a stored story, pasted into a new draft, are an excerpt match."""
    words = stored(demo_db, "ex_demo_001").searchable_text().split()
    assert len(words) > 200
    excerpt = " ".join(words[100:155])
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        editor = await open_editor(pilot, None, kind="story")
        panel = editor.query_one(DupPanel)
        await paste_into(pilot, editor.query_one("#text", TextArea), "My own opening line. " + excerpt)
        await wait_for(pilot, lambda: any(r.id == "ex_demo_001" for r in panel.rows), "the excerpt match")
        row = next(r for r in panel.rows if r.id == "ex_demo_001")
        assert row.reason in ("excerpt", "containment") and row.field == "text"
        assert len(row.span.split()) >= 30
        option = panel.query_one("#dup-matches", OptionList).get_option("ex_demo_001")
        assert row.reason in str(option.prompt) and row.span[:40] in str(option.prompt)


async def test_quit_with_unsaved_edits_asks_first(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        await paste_into(pilot, editor.query_one("#title", Input), " (edited)")
        assert editor.dirty
        await pilot.press("ctrl+q")
        confirm = await wait_screen(pilot, ConfirmScreen)
        assert "Unsaved changes" in confirm.question
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is editor, "back in the editor")
        assert app.is_running and editor.query_one("#title", Input).value.endswith(" (edited)")
        await pilot.press("ctrl+q")
        await wait_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert stored(demo_db, "ex_demo_001").title == "The archivist's last shift"


async def test_quit_without_edits_does_not_ask(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await open_editor(pilot, "ex_demo_001")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")


async def test_typing_right_after_opening_lands_in_the_title(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await pilot.press(*"Hello")
        assert editor.query_one("#title", Input).value == "Hello"


async def test_editing_an_approved_example_says_it_goes_back_to_review(demo_db: Path) -> None:
    assert stored(demo_db, "ex_demo_001").status == "approved"
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        meta = editor.query_one("#meta", Static)
        assert "back to review" not in str(meta.render())
        await paste_into(pilot, editor.query_one("#title", Input), " (retitled)")
        await wait_for(
            pilot, lambda: "saving sends it back to review (title changed)" in str(meta.render()), "the notice"
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: stored(demo_db, "ex_demo_001").status == "review", "the save")


async def test_an_empty_duplicate_panel_gives_the_form_the_room(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)  # type: ignore[attr-defined]
        editor = await open_editor(pilot, None, kind="story")
        panel = editor.query_one(DupPanel)
        await paste_into(pilot, editor.query_one("#text", TextArea), "A short story about nothing in particular.")
        await wait_for(pilot, lambda: panel.done and panel.has_class("-quiet"), "a quiet panel")
        await pilot.pause()
        quiet = panel.size.width
        editor.query_one("#text", TextArea).load_text(stored(demo_db, "ex_demo_001").text or "")
        await wait_for(pilot, lambda: bool(panel.rows), "the near-duplicate")
        await pilot.pause()
        assert not panel.has_class("-quiet") and panel.size.width > quiet + 10


async def test_the_author_sees_why_it_was_rejected(demo_db: Path) -> None:
    from curator.review import decide, reviews_of

    with open_workspace(demo_db) as ws:
        ex = examples.get(ws.db, "ex_demo_022")  # ana's, waiting for review
        decide(
            ws.db,
            ex.id,
            "reject",
            comment="The rationale skips the consent question.",
            expected_version=ex.version,
            actor="ben",
        )
        reviewed = reviews_of(ws.db, ex.id)[-1].example_version
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_022")
        feedback = editor.query_one("#review-feedback", Static)
        assert feedback.display
        expected = f"Rejected by ben (version {reviewed}): The rationale skips the consent question."
        assert str(feedback.render()) == expected


async def test_no_feedback_line_for_an_example_never_reviewed(demo_db: Path) -> None:
    from curator.review import reviews_of

    with open_workspace(demo_db) as ws:
        never = next(e.id for e in examples.query(ws.db) if not reviews_of(ws.db, e.id))
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, never)
        assert not editor.query_one("#review-feedback", Static).display


def renamed_privacy_constitution(tmp_path: Path) -> Path:
    """The demo constitution with a new first Privacy item: privacy.2 becomes privacy.3."""
    from curator import paths

    text = paths.demo_constitution_file().read_text(encoding="utf-8")
    first = "- **Access is for the task.**"
    assert first in text
    source = tmp_path / "constitution.md"
    source.write_text(text.replace(first, "- **Ask before you look.** Open only what it needs.\n" + first, 1), "utf-8")
    return source


def notices(app: App[None]) -> list[str]:
    seen: list[str] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append(message)
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


async def test_a_clause_renamed_while_editing_a_stored_example_is_followed_loudly(
    demo_db: Path, tmp_path: Path
) -> None:
    """An import renamed privacy.2 (its old id now names another clause) while the editor was open:
    saving says so and moves the link instead of attaching it to the wrong clause; the next save
    meets the import's own change to the record as a conflict."""
    from curator.constitution.versions import import_constitution

    source = renamed_privacy_constitution(tmp_path)
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        assert "privacy.2" in editor.clause_ids
        with open_workspace(demo_db) as ws:
            import_constitution(ws.db, source, actor="lead")
        await paste_into(pilot, editor.query_one("#title", Input), " (edited)")
        seen = notices(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("privacy.2 is now privacy.3" in m for m in seen), "the rename notice")
        assert "privacy.3" in editor.clause_ids and "privacy.2" not in editor.clause_ids
        assert not stored(demo_db, "ex_demo_001").title.endswith("(edited)")  # nothing saved yet
        await pilot.press("ctrl+s")  # the import changed the stored record too: the conflict screen
        await wait_screen(pilot, ConflictScreen)
        await pilot.press("m")
        await wait_for(pilot, lambda: stored(demo_db, "ex_demo_001").title.endswith("(edited)"), "the save")
        assert "privacy.3" in stored(demo_db, "ex_demo_001").clauses


async def test_a_new_draft_linked_to_a_renamed_clause_follows_it(demo_db: Path, tmp_path: Path) -> None:
    from curator.constitution.versions import import_constitution

    source = renamed_privacy_constitution(tmp_path)
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story", clauses=("privacy.2",))
        await paste_into(pilot, editor.query_one("#title", Input), "A new story")
        await paste_into(pilot, editor.query_one("#text", TextArea), "Someone kept a secret.")
        with open_workspace(demo_db) as ws:
            import_constitution(ws.db, source, actor="lead")
        seen = notices(app)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("privacy.2 is now privacy.3" in m for m in seen), "the rename notice")
        assert editor.clause_ids == ["privacy.3"] and editor.loaded is None
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None and editor.loaded.clauses == ["privacy.3"]
