"""Pilot tests of LLM assistance in the editor: the real anthropic SDK over a mocked HTTP transport.

The app makes its SDK client lazily with `app.assist_http_client`; 529/429 answers carry
`retry-after-ms: 1`, so the SDK's own retries run for real and fast.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, LoadingIndicator, Static, TextArea

from curator.assist.results import CritiqueVerdict
from curator.models import parse_example
from curator.review import decide, submit
from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.editor import EditorScreen
from curator.tui.screens.help import HelpScreen, screen_bindings
from curator.tui.screens.rewrite_diff import RewriteDiffScreen, diff_text
from curator.tui.widgets.assist_panel import AssistPanel, SuggestionList, critique_text
from tests.fake_anthropic import MODEL, FakeAPI
from tests.tui.conftest import HOSTILE, open_editor, stored, type_into, wait_for, wait_screen

KEY = "sk-ant-test-SECRET-tui-0123456789"

STORY = {
    "title": "The sealed letters",
    "text": "The assistant found the letters in the archive and left them sealed.",
    "rationale": "Private information is never leverage: using it would betray the people it belongs to.",
    "tags": ["privacy"],
}
REWRITE = "Yes, tell her: a friendship that rests on a hidden intrusion is not the one she thinks she has."


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeAPI:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("CURATOR_MODEL", MODEL)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return FakeAPI()


def make_app(db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> tuple[CuratorApp, list[tuple[str, str]]]:
    """The real app with the SDK's HTTP client over `api`, and its notifications as (severity, message).

    Every notification must be sent with markup=False: API errors and form data end up in them."""
    app = CuratorApp(db, user="ana")
    app.assist_http_client = httpx2.Client(transport=httpx2.MockTransport(api))
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        assert kwargs.get("markup") is False, f"notice parsed as markup: {message!r}"  # data may be in it
        seen.append((str(kwargs.get("severity", "information")), message))
        original(message, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    return app, seen


def add_advice(db: Path, *, approved: bool = False, assistant: str = "Yes, tell her.") -> str:
    with open_workspace(db) as ws:
        ex = parse_example(
            {
                "kind": "advice",
                "title": "A friend's secret",
                "author": "ana",
                "clauses": ["honesty.1", "honesty.4"],
                "messages": [
                    {"role": "user", "content": "Should I tell my friend I read her diary?"},
                    {"role": "assistant", "content": assistant, "rationale": "Honesty."},
                ],
            }
        )
        eid = examples.create(ws.db, ex, actor="ana").id
        if approved:
            submitted = submit(ws.db, eid, expected_version=1, actor="ana")
            decide(ws.db, eid, "approve", expected_version=submitted.version, actor="bob")
        return eid


def everything_stored(db: Path) -> str:
    with open_workspace(db) as ws:
        rows = []
        for table in ws.db.table_names():
            rows += [repr(r) for r in ws.db.execute(f"SELECT * FROM [{table}]").fetchall()]
        return "\n".join(rows)


def panel(editor: EditorScreen) -> AssistPanel:
    return editor.query_one(AssistPanel)


async def idle(pilot: Pilot[Any], editor: EditorScreen) -> None:
    await wait_for(pilot, lambda: not panel(editor).busy, "the assist request to finish")
    await pilot.pause()


def messages(seen: list[tuple[str, str]], severity: str | None = None) -> list[str]:
    return [m for s, m in seen if severity is None or s == severity]


# ---------------------------------------------------------------------------------------------------


async def test_draft_fills_an_empty_form_and_saves_a_generated_draft(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)
    with open_workspace(demo_db) as ws:
        before = examples.count(ws.db)
    api.tool("submit_draft", STORY, msg_id="msg_01DRAFT")
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story", clauses=("privacy.1",))
        await pilot.press("f2")
        await wait_for(pilot, lambda: editor.query_one("#title", Input).value == STORY["title"], "the draft")
        assert editor.query_one("#text", TextArea).text == STORY["text"]
        assert editor.query_one("#tags", Input).value == "privacy"
        assert editor.clause_ids == ["privacy.1"]
        assert editor.dirty and editor.loaded is None
        with open_workspace(demo_db) as ws:
            assert examples.count(ws.db) == before  # nothing stored before ctrl+s
        body = api.bodies()[0]
        assert body["tool_choice"] == {"type": "tool", "name": "submit_draft"}
        assert body["model"] == MODEL

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        ex = stored(demo_db, editor.loaded.id)
        assert ex.status == "draft" and ex.kind == "story" and ex.author == "ana"
        assert ex.title == STORY["title"] and ex.rationale == STORY["rationale"]
        assert ex.source.type == "generated"
        assert ex.source.model == MODEL and ex.source.origin == "msg_01DRAFT"
        sha = hashlib.sha256(f"{body['system']}\n\n{body['messages'][0]['content']}".encode()).hexdigest()
        assert ex.source.prompt_sha256 == sha
    assert KEY not in everything_stored(demo_db)
    assert all(KEY not in m for m in messages(seen))


async def test_draft_fills_the_turns_of_an_advice_form(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = make_app(demo_db, api, monkeypatch)
    api.tool(
        "submit_draft",
        {
            "title": "Shading the numbers",
            "messages": [
                {"role": "user", "content": "My boss asked me to shade the numbers. What do I do?"},
                {"role": "assistant", "content": "Say plainly what they are.", "rationale": "Honesty keeps trust."},
                {"role": "user", "content": "And if he insists?"},
                {"role": "assistant", "content": "Put it in writing.", "rationale": "A record protects both."},
            ],
            "rationale": "Principled guidance under pressure.",
        },
    )
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="advice", clauses=("honesty.1",))
        await pilot.press("f2")
        await wait_for(pilot, lambda: len(editor.turn_editors()) == 4, "the drafted turns")
        turns = editor.turn_editors()
        assert [t.turn_role for t in turns] == ["user", "assistant", "user", "assistant"]
        assert turns[3].text == "Put it in writing." and turns[3].rationale == "A record protects both."
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        ex = stored(demo_db, editor.loaded.id)
        assert ex.kind == "advice" and ex.status == "draft" and ex.source.type == "generated"
        assert ex.messages is not None and len(ex.messages) == 4


async def test_draft_needs_a_linked_clause_and_an_empty_form(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await pilot.press("f2")
        await pilot.pause()
        assert "link at least one clause first" in messages(seen, "warning")[-1]
        editor.clause_ids.append("privacy.1")
        await type_into(pilot, editor.query_one("#title", Input), "mine")
        await pilot.press("f2")
        await pilot.pause()
        assert "draft fills a new, empty form" in messages(seen, "warning")[-1]
        assert api.requests == []
        assert editor.query_one("#title", Input).value == "mine"


async def test_critique_panel_shows_each_verdict_for_the_form_as_typed(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = add_advice(demo_db)
    app, _ = make_app(demo_db, api, monkeypatch)
    api.tool(
        "submit_critique",
        {
            "verdicts": [
                {"clause": "honesty.4", "verdict": "unrelated", "reason": HOSTILE[2], "suggestions": []},
                {
                    "clause": "honesty.1",
                    "verdict": "partly",
                    "reason": "Right advice, reasons left implicit.",
                    "suggestions": ["Say why telling her matters.", HOSTILE[3]],
                },
            ]
        },
    )
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        await type_into(pilot, editor.query_one("#title", Input), " (unsaved)")
        await pilot.press("f3")
        await idle(pilot, editor)
        assert panel(editor).is_open
        shown = str(editor.query_one("#assist-critique-body", Static).render())
        assert shown.index("honesty.1") < shown.index("honesty.4")  # link order
        assert "PARTLY" in shown and "UNRELATED" in shown
        assert "→ Say why telling her matters." in shown
        assert HOSTILE[2] in shown and HOSTILE[3] in shown  # literally, never as markup
        assert "(unsaved)" in api.bodies()[0]["messages"][0]["content"]  # the form, not the store
        assert editor.dirty  # critique changes nothing

        await pilot.press("escape")  # closes the panel, stays in the editor
        await wait_for(pilot, lambda: not panel(editor).is_open, "the panel to close")
        assert app.screen is editor


async def test_explain_why_reject_leaves_the_form_and_accept_changes_it(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = add_advice(demo_db)
    app, _ = make_app(demo_db, api, monkeypatch)
    for _ in range(2):
        api.tool("submit_rewrite", {"turns": [{"index": 1, "content": REWRITE, "rationale": "Honesty.1, stated."}]})
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        await pilot.press("f4")
        diff = await wait_screen(pilot, RewriteDiffScreen)
        assert any(line.startswith("+    " + REWRITE) for line in diff.diff)
        assert any(line.startswith("-    Yes, tell her.") for line in diff.diff)
        await pilot.press("r")
        await wait_screen(pilot, EditorScreen)
        assert editor.turn_editors()[1].text == "Yes, tell her."
        assert not editor.dirty

        await pilot.press("f4")
        await wait_screen(pilot, RewriteDiffScreen)
        await pilot.press("a")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.turn_editors()[1].text == REWRITE, "the rewrite in the form")
        assert editor.turn_editors()[1].rationale == "Honesty.1, stated."
        assert editor.turn_editors()[0].text == "Should I tell my friend I read her diary?"
        assert editor.dirty
        assert stored(demo_db, eid).messages[1].content == "Yes, tell her."  # not stored before ctrl+s

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty, "the save")
        ex = stored(demo_db, eid)
        assert ex.messages[1].content == REWRITE and ex.status == "draft" and ex.version == 2


async def test_accepted_rewrite_of_an_approved_example_goes_back_to_review(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = add_advice(demo_db, approved=True)
    app, seen = make_app(demo_db, api, monkeypatch)
    api.tool("submit_rewrite", {"turns": [{"index": 1, "content": REWRITE, "rationale": "Honesty.1, stated."}]})
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        await pilot.press("f4")
        diff = await wait_screen(pilot, RewriteDiffScreen)
        assert "back to review" in str(diff.query_one("#rewrite-note", Static).render())
        await pilot.press("a")
        await wait_screen(pilot, EditorScreen)
        await wait_for(pilot, lambda: editor.turn_editors()[1].text == REWRITE, "the rewrite in the form")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty, "the save")
        ex = stored(demo_db, eid)
        assert ex.status == "review"
        assert ex.messages[1].content == REWRITE
        assert any("back in review" in m for m in messages(seen))
        # a later manual save of the now-review example keeps it in review (the flag is spent)
        await type_into(pilot, editor.query_one("#title", Input), "!")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty, "the second save")
        assert stored(demo_db, eid).status == "review"


async def test_approved_example_without_accepted_rewrite_stays_approved(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = add_advice(demo_db, approved=True)
    app, _ = make_app(demo_db, api, monkeypatch)
    api.tool("submit_rewrite", {"turns": [{"index": 1, "content": REWRITE, "rationale": "r"}]})
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        await pilot.press("f4")
        await wait_screen(pilot, RewriteDiffScreen)
        await pilot.press("escape")  # reject
        await wait_screen(pilot, EditorScreen)
        await type_into(pilot, editor.query_one("#title", Input), " (retitled)")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty, "the save")
        assert stored(demo_db, eid).status == "approved"


async def test_suggested_link_accepted_adds_it_and_dismissed_does_not(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = add_advice(demo_db)
    app, _ = make_app(demo_db, api, monkeypatch)
    api.tool(
        "submit_links",
        {
            "links": [
                {"clause": "honesty.2", "reason": "No deception by arrangement."},
                {"clause": "honesty.3", "reason": HOSTILE[2]},
                {"clause": "made-up.9", "reason": "hallucinated"},
            ]
        },
    )
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        await pilot.press("f5")
        await idle(pilot, editor)
        suggestions = editor.query_one(SuggestionList)
        await wait_for(pilot, lambda: app.focused is suggestions, "the suggestions to take focus")
        assert panel(editor).suggestions() == ["honesty.2", "honesty.3"]
        prompt = str(suggestions.get_option("honesty.3").prompt)
        assert HOSTILE[2] in prompt and "honesty.3" in prompt
        await pilot.press("a")
        await wait_for(pilot, lambda: "honesty.2" in editor.clause_ids, "the accepted link")
        assert panel(editor).suggestions() == ["honesty.3"]
        await pilot.press("d")
        await wait_for(pilot, lambda: panel(editor).suggestions() == [], "the dismissal")
        assert editor.clause_ids == ["honesty.1", "honesty.4", "honesty.2"]
        assert editor.dirty
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty, "the save")
        assert stored(demo_db, eid).clauses == ["honesty.1", "honesty.4", "honesty.2"]


async def test_without_a_key_every_action_names_the_variable_and_the_rest_works(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    eid = add_advice(demo_db)
    app, seen = make_app(demo_db, api, monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        for key in ("f2", "f3", "f4", "f5"):
            before = len(seen)
            await pilot.press(key)
            await pilot.pause()
            [(severity, note)] = seen[before:]
            assert severity == "warning"
            assert "ANTHROPIC_API_KEY" in note and "export ANTHROPIC_API_KEY=" in note and "\n" not in note
        assert api.requests == [] and app._assist is None
        assert not panel(editor).busy
        await type_into(pilot, editor.query_one("#title", Input), " (still editable)")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.dirty, "the save")
        assert stored(demo_db, eid).title.endswith("(still editable)")


async def test_overloaded_draft_is_one_line_and_the_form_stays_empty(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)
    api.error(529, "overloaded_error", times=3)
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="advice", clauses=("honesty.1",))
        await pilot.press("f2")
        await wait_for(pilot, lambda: bool(messages(seen, "error")), "the error notice")
        [error] = messages(seen, "error")
        assert "overloaded (529) after 2 retries" in error
        assert "\n" not in error and KEY not in error
        assert len(api.requests) == 3  # the SDK retried
        assert not editor.dirty and editor.query_one("#title", Input).value == ""
        assert [t.text for t in editor.turn_editors()] == ["", ""]
        assert not panel(editor).busy and not panel(editor).is_open


async def test_rate_limited_rewrite_leaves_the_form_unchanged(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    eid = add_advice(demo_db)
    app, seen = make_app(demo_db, api, monkeypatch)
    api.error(429, "rate_limit_error", times=3)
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, eid)
        await pilot.press("f4")
        await wait_for(pilot, lambda: bool(messages(seen, "error")), "the error notice")
        [error] = messages(seen, "error")
        assert "rate limited (429) after 2 retries" in error and "\n" not in error
        assert not editor.dirty and app.screen is editor
        assert editor.turn_editors()[1].text == "Yes, tell her."


async def test_malformed_draft_is_one_line_and_the_form_stays_empty(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)
    api.tool("submit_draft", {"title": "no text"})
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story", clauses=("privacy.1",))
        await pilot.press("f2")
        await wait_for(pilot, lambda: bool(messages(seen, "error")), "the error notice")
        assert "malformed model output" in messages(seen, "error")[0]
        assert not editor.dirty


async def test_cancel_shows_no_spinner_and_discards_the_late_answer(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)
    api.gate.clear()
    api.tool("submit_draft", STORY, msg_id="msg_LATE")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            editor = await open_editor(pilot, None, kind="story", clauses=("privacy.1",))
            await pilot.press("f2")
            await wait_for(pilot, lambda: bool(api.requests), "the request to be sent")
            assert panel(editor).busy and panel(editor).query(LoadingIndicator)
            label = str(editor.query_one("#assist-busy-label", Static).render())
            assert "esc to cancel" in label
            await pilot.press("escape")
            await wait_for(pilot, lambda: not panel(editor).busy, "the cancel")
            assert app.screen is editor  # esc cancelled; it did not leave the editor
            await wait_for(pilot, lambda: not panel(editor).query(LoadingIndicator), "the spinner to go")
            assert any("cancelled" in m for m in messages(seen))

            api.gate.set()  # the late answer arrives now
            await wait_for(pilot, lambda: not api.queue, "the late answer")
            for _ in range(10):
                await pilot.pause(0.05)
            assert editor.query_one("#title", Input).value == ""
            assert not editor.dirty and editor.assist.draft_source is None

            api.tool("submit_draft", STORY, msg_id="msg_AGAIN")  # and a new request still works
            await pilot.press("f2")
            await wait_for(pilot, lambda: editor.query_one("#title", Input).value == STORY["title"], "the new draft")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: editor.loaded is not None, "the save")
            assert editor.loaded is not None
            assert stored(demo_db, editor.loaded.id).source.origin == "msg_AGAIN"
    finally:
        api.gate.set()


async def test_edits_made_while_drafting_are_kept_and_the_draft_discarded(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)
    api.gate.clear()
    api.tool("submit_draft", STORY)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            editor = await open_editor(pilot, None, kind="story", clauses=("privacy.1",))
            await pilot.press("f2")
            await wait_for(pilot, lambda: bool(api.requests), "the request to be sent")
            await type_into(pilot, editor.query_one("#title", Input), "typed meanwhile")
            api.gate.set()
            await idle(pilot, editor)
            assert editor.query_one("#title", Input).value == "typed meanwhile"
            assert editor.query_one("#text", TextArea).text == ""
            assert any("discarded" in m for m in messages(seen, "warning"))
    finally:
        api.gate.set()


async def test_assist_keys_are_described_and_explain_why_is_hidden_for_stories(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = make_app(demo_db, api, monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        described = {binding.description for _, binding in screen_bindings(editor)}
        assert {"Draft (AI)", "Critique (AI)", "Explain why (AI)", "Suggest links (AI)"} <= described
        assert editor.check_action("assist", ("explain_why",)) is False  # a story has no assistant turns
        assert editor.check_action("assist", ("critique",)) is True
        await pilot.press("f1")
        help_screen = await wait_screen(pilot, HelpScreen)
        keys = str(help_screen.query_one("#help-keys", Static).render())
        assert "F3" in keys.upper() and "Critique (AI)" in keys


def test_diff_and_critique_text_never_parse_markup() -> None:
    lines = ["--- a", "+++ b", "@@ -1 +1 @@", *("-" + h for h in HOSTILE), *("+" + h for h in HOSTILE), " same"]
    text = diff_text(lines)
    assert text.plain == "\n".join(lines)
    styles = {text.plain[span.start : span.end].split("\n")[0][:1]: str(span.style) for span in text.spans}
    assert styles["+"] == "green" and styles["-"] == "red"
    verdicts = [CritiqueVerdict(h, "teaches", h, (h,)) for h in HOSTILE]
    shown = critique_text(verdicts, {h: h for h in HOSTILE}).plain
    for hostile in HOSTILE:
        assert shown.count(hostile) >= 4


def test_the_tui_starts_without_importing_the_sdk() -> None:
    code = (
        "import sys\n"
        "import curator.tui.app, curator.tui.screens.editor, curator.tui.editor_assist\n"
        "import curator.tui.widgets.assist_panel, curator.tui.screens.rewrite_diff\n"
        "print('anthropic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_error_text_from_the_api_is_shown_literally(
    demo_db: Path, api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, seen = make_app(demo_db, api, monkeypatch)  # which also checks markup=False on every notice
    api.error(400, "invalid_request_error", "[bold red]model[/] [@click=app.quit]unknown[/]")
    async with app.run_test(size=(160, 50)) as pilot:
        await open_editor(pilot, None, kind="advice", clauses=("honesty.1",))
        await pilot.press("f2")
        await wait_for(pilot, lambda: bool(messages(seen, "error")), "the error notice")
        [error] = messages(seen, "error")
        assert "[bold red]model[/] [@click=app.quit]unknown[/]" in error
        assert app.is_running  # the [@click] text did nothing
