"""Text arrives as the terminal sent it: pastes holding ESC bytes and zero-width characters, typed
zero-width joiners, line separators in a text area. The bytes go through the parser the app's
terminal driver uses, and the record is read back through the store."""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
import threading
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from curator.tui.screens.comment import CommentScreen
from curator.tui.terminal_input import ExactLinuxDriver, ExactXTermParser
from curator.tui.widgets.exact_text import ExactInput, ExactTextArea
from tests.tui.conftest import focus, open_editor, stored, wait_for, wait_screen

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"

ZWJ_EMOJI = "👩\u200d💻"  # woman + zero-width joiner + personal computer: one glyph, three code points
PASTED = (
    f"a\x1bb: {ZWJ_EMOJI} zero\u200bwidth, cafe\u0301, \u0645\u06cc\u200c\u0631\u0648\u0645,"
    " \x1b[31mred\x1b[0m \x1b[I word\u2060joiner \u2764\ufe0f end"
)
"""One line a terminal can deliver inside a bracketed paste: a lone ESC before a letter, an emoji
joined by ZWJ, a zero-width space, a combining accent, a Persian word with its ZWNJ, a colour escape
sequence, the terminal's own focus-in sequence, a word joiner and a variation selector."""

STORED_LINE = PASTED.replace("\x1b", "")
"""What the record keeps of PASTED: record hygiene drops control characters (README, Hostile input);
every other code point stays, in order."""


def make_app(db: Path) -> App[None]:
    from curator.tui.app import CuratorApp

    return CuratorApp(db, user="ana")


def parse(*chunks: str) -> list[Message]:
    """What the terminal driver's parser makes of `chunks`, fed one read at a time."""
    parser = ExactXTermParser()
    out: list[Message] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def described(messages: list[Message]) -> list[tuple[str, str | None]]:
    """Messages as comparable pairs: ("paste", text), (key, character), (event name, None)."""
    out: list[tuple[str, str | None]] = []
    for message in messages:
        if isinstance(message, events.Paste):
            out.append(("paste", message.text))
        elif isinstance(message, events.Key):
            out.append((message.key, message.character))
        else:
            out.append((type(message).__name__, None))
    return out


async def from_terminal(pilot: Pilot[Any], data: str) -> None:
    """Deliver `data` as a terminal sends it: through the parser, each message handed to the driver
    as the driver's input thread hands it (`process_message`)."""
    driver = pilot.app._driver
    assert driver is not None
    for message in parse(data):
        driver.process_message(message)
        await pilot.pause()
    await pilot.pause()


# -- the parser ------------------------------------------------------------------------------------


def test_a_paste_holding_escape_bytes_arrives_whole_and_in_order() -> None:
    """Textual's parser ends the paste at the first ESC inside it, reissues what follows as keys
    before the truncated paste (ESC as "^") and takes ESC[I for the terminal's focus-in."""
    data = "\x1b[A" + PASTE_START + PASTED + PASTE_END + "x"
    expected = [("up", None), ("paste", PASTED), ("x", "x")]
    assert described(parse(data)) == expected
    assert described(parse(*data)) == expected  # one character per read: the sequences split anywhere


def test_a_paste_may_hold_the_start_sequence_and_nul_and_be_empty() -> None:
    assert described(parse(PASTE_START + "x\x1b[200~y\x00z" + PASTE_END)) == [("paste", "x\x1b[200~y\x00z")]
    assert described(parse(PASTE_START + PASTE_END, "q")) == [("paste", ""), ("q", "q")]


def test_keys_and_escape_sequences_outside_a_paste_are_parsed_as_before() -> None:
    # a half start sequence that turns into another key, the escape key, alt+letter, F1
    data = "\x1b[2~" + "\x1b\x1b" + "\x1bb" + "\x1bOP"
    ours = described(parse(data))
    from textual._xterm_parser import XTermParser

    theirs = described(list(XTermParser().feed(data)))
    assert ours == theirs
    assert ("insert", None) in ours and ("f1", None) in ours


def test_typed_zwj_emoji_arrives_as_one_key_per_code_point() -> None:
    assert described(parse(ZWJ_EMOJI)) == [
        ("woman", "👩"),
        ("zero_width_joiner", "\u200d"),
        ("personal_computer", "💻"),
    ]


def test_the_app_reads_the_terminal_with_the_exact_driver(demo_db: Path) -> None:
    assert make_app(demo_db).get_driver_class() is ExactLinuxDriver


def test_the_driver_turns_terminal_bytes_into_one_paste() -> None:
    """The driver's input thread, reading the bytes a terminal writes (UTF-8, split mid-character)."""
    received: list[Message] = []
    got_paste = threading.Event()

    class Recording(ExactLinuxDriver):
        def process_message(self, message: Message) -> None:
            received.append(message)
            if isinstance(message, events.Paste):
                got_paste.set()

    # only what the input loop uses: no terminal, no signal handlers (stdin may be closed under CI)
    driver = Recording.__new__(Recording)
    driver._debug = False
    driver.exit_event = threading.Event()
    read_end, write_end = os.pipe()
    driver.fileno = read_end
    reader = threading.Thread(target=driver.run_input_thread)
    reader.start()
    try:
        data = (PASTE_START + PASTED + PASTE_END).encode("utf-8")
        cut = data.index("👩".encode()) + 2  # inside the emoji's four bytes
        os.write(write_end, data[:cut])
        os.write(write_end, data[cut:])
        assert got_paste.wait(10), "no paste arrived"
    finally:
        driver.exit_event.set()
        reader.join()
        os.close(write_end)
        os.close(read_end)
    assert described(received) == [("paste", PASTED)]


def _body(function: Any) -> str:
    """A method's code without its docstring, formatting-independent."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
        node.body = node.body[1:]
    return ast.dump(node)


def test_the_driver_input_loop_is_textuals_with_the_exact_parser() -> None:
    """The input loop is copied from Textual's LinuxDriver to swap the parser; when an upgrade
    changes Textual's loop this fails, and the copy must be brought up to date."""
    textual_loop = _body(LinuxDriver.run_input_thread).replace("'XTermParser'", "'ExactXTermParser'")
    assert _body(ExactLinuxDriver.run_input_thread) == textual_loop


# -- the editor ------------------------------------------------------------------------------------


async def test_a_terminal_paste_into_the_title_and_text_is_saved_in_order(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        title = editor.query_one("#title", Input)
        await focus(pilot, title)
        await from_terminal(pilot, PASTE_START + PASTED + PASTE_END)
        assert title.value == PASTED  # the field holds the paste as sent, ESC bytes included
        assert any("control character" in n.message for n in app._notifications)

        text = editor.query_one("#text", TextArea)
        await focus(pilot, text)
        lines = "first\r\nsecond\rthird\n" + PASTED + "\n\u2028after a line separator"
        await from_terminal(pilot, PASTE_START + lines + PASTE_END)
        assert text.text == "first\nsecond\nthird\n" + PASTED + "\n\u2028after a line separator"

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        saved = stored(demo_db, editor.loaded.id)
    assert saved.title == STORED_LINE
    assert saved.text == "first\nsecond\nthird\n" + STORED_LINE + "\n\u2028after a line separator"


async def test_a_multi_line_paste_into_a_one_line_field_keeps_every_line(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        title = editor.query_one("#title", Input)
        await focus(pilot, title)
        await from_terminal(pilot, PASTE_START + "one\r\ntwo\nthree\rfour\u2028five" + PASTE_END)
        assert title.value == "one two three four\u2028five"


async def test_typed_zwj_emoji_reaches_the_title_and_the_text(demo_db: Path) -> None:
    """Typed outside a paste, 👩‍💻 arrives as three keys; the joiner is not printable (Cf) and
    Textual's Input and TextArea drop it, leaving 👩💻."""
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="story")
        await focus(pilot, editor.query_one("#title", Input))
        await from_terminal(pilot, f"Dev {ZWJ_EMOJI} at\u00a0work")
        await focus(pilot, editor.query_one("#text", TextArea))
        await from_terminal(pilot, f"\u0645\u06cc\u200c\u0631\u0648\u0645 {ZWJ_EMOJI}\u200b.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: editor.loaded is not None, "the save")
        assert editor.loaded is not None
        saved = stored(demo_db, editor.loaded.id)
    assert saved.title == f"Dev {ZWJ_EMOJI} at\u00a0work"
    assert saved.text == f"\u0645\u06cc\u200c\u0631\u0648\u0645 {ZWJ_EMOJI}\u200b."


async def test_a_zwj_typed_into_a_dialogue_turn_is_kept(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, None, kind="advice")
        user, _ = editor.turn_editors()
        await focus(pilot, user.content_area)
        await from_terminal(pilot, ZWJ_EMOJI)
        assert user.content_area.text == ZWJ_EMOJI


# -- the widgets -----------------------------------------------------------------------------------


class Fields(App[None]):
    def compose(self) -> ComposeResult:
        yield ExactInput(id="line")
        yield ExactTextArea(id="area")


async def test_line_separators_and_form_feeds_stay_inside_a_text_area_line() -> None:
    """Textual's document splits lines with str.splitlines, which also breaks at U+2028, U+2029,
    form feed and friends and gives them back as newlines."""
    async with Fields().run_test() as pilot:
        area = pilot.app.query_one("#area", ExactTextArea)
        area.load_text("a\u2028b\u2029c\x0cd\x1ce\x85f")
        assert area.text == "a\u2028b\u2029c\x0cd\x1ce\x85f"
        assert area.document.line_count == 1
        assert area.render_line(0).text.startswith("a\u2028b\u2029c␌d␜e\ufffdf")
        area.load_text("")
        await focus(pilot, area)
        await from_terminal(pilot, PASTE_START + "x\u2029y\r\nz" + PASTE_END)
        assert area.text == "x\u2029y\nz"
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: area.text == "", "the undo")
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: area.text == "x\u2029y\nz", "the redo")


async def test_control_characters_are_drawn_as_pictures_and_kept() -> None:
    """A raw ESC written to the terminal would start an escape sequence there: it is drawn as ␛."""
    async with Fields().run_test() as pilot:
        line = pilot.app.query_one("#line", ExactInput)
        line.value = "a\x1bb\x00c\x7fd\x9be"
        await pilot.pause()
        assert line.value == "a\x1bb\x00c\x7fd\x9be"
        assert line.render_line(0).text.startswith("a␛b␀c␡d\ufffde")
        line.cursor_position = 2  # after the ESC: the terminal cursor sits after its picture
        assert line.cursor_screen_offset.x - line.content_region.x == 2
        area = pilot.app.query_one("#area", ExactTextArea)
        area.load_text("x\x1by\tz")
        await pilot.pause()
        assert area.text == "x\x1by\tz"
        assert area.get_line(0).plain == "x␛y\tz"
        assert "\x1b" not in area.render_line(0).text


async def test_only_a_paste_with_control_characters_is_announced() -> None:
    async with Fields().run_test() as pilot:
        area = pilot.app.query_one("#area", ExactTextArea)
        await focus(pilot, area)
        await from_terminal(pilot, PASTE_START + "windows\r\nline\tends\rhere" + PASTE_END)
        assert area.text == "windows\nline\tends\nhere"
        assert not pilot.app._notifications
        await from_terminal(pilot, PASTE_START + "\x1b[1m" + PASTE_END)
        assert [n.message for n in pilot.app._notifications] == [
            "The paste holds control characters (ESC), drawn as ␛. "
            "Records drop control characters when saved; everything else is kept as pasted."
        ]


async def test_typed_control_keys_still_act_and_insert_nothing() -> None:
    async with Fields().run_test() as pilot:
        line = pilot.app.query_one("#line", ExactInput)
        await focus(pilot, line)
        await from_terminal(pilot, "ab\x7f\x01c")  # backspace, ctrl+a (home), c
        assert line.value == "ca"


async def test_the_comment_dialog_keeps_a_typed_zwnj(demo_db: Path) -> None:
    app = make_app(demo_db)
    answers: list[str | None] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(CommentScreen("Why?"), answers.append)
        await wait_screen(pilot, CommentScreen)
        await from_terminal(pilot, "\u0645\u06cc\u200c\u0631\u0648\u0645")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(answers), "the answer")
    assert answers == ["\u0645\u06cc\u200c\u0631\u0648\u0645"]


async def test_the_examples_search_keeps_a_typed_zwj(demo_db: Path) -> None:
    app = make_app(demo_db)
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.pause()
        await pilot.press("2")
        search = await wait_for_widget(pilot, "#f-text")
        await focus(pilot, search)
        await from_terminal(pilot, ZWJ_EMOJI)
        assert search.value == ZWJ_EMOJI


async def wait_for_widget(pilot: Pilot[Any], selector: str) -> Input:
    await wait_for(pilot, lambda: bool(pilot.app.screen.query(selector)), selector)
    return pilot.app.screen.query_one(selector, Input)
