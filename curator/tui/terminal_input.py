"""Reading the terminal so that a bracketed paste arrives whole, exactly as the terminal sent it.

Textual 8's `XTermParser` collects a paste between ESC[200~ and ESC[201~, but an ESC inside the
paste starts an escape sequence of its own: what follows it is taken out of the paste and reissued
as key presses *before* the paste (the ESC itself as a "^" key), the paste is cut at that ESC, and
sequences such as ESC[I inside it become focus events. Keys typed into an Input that way also lose
every character that is not printable (zero-width spaces and joiners).

`ExactXTermParser` runs Textual's parser for everything else and takes the paste away from it: it
forwards every character unchanged, watches for the paste start sequence exactly where Textual's
parser would see one (an ESC starts a fresh sequence there too, and a timeout ends it), and from
then on collects the characters itself until ESC[201~. The only paste it cannot carry is one that
holds ESC[201~ itself: the protocol ends the paste there (terminals are meant to filter it out).

Textual builds the parser inside `LinuxDriver.run_input_thread`, so `ExactLinuxDriver` repeats
that loop with the exact parser; `CuratorApp.get_driver_class` picks it wherever Textual would pick
`LinuxDriver` (Linux and macOS). Windows, the inline driver and the web driver keep Textual's.
"""

from __future__ import annotations

import contextlib
import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Generator

from textual import events
from textual._loop import loop_last
from textual._parser import ParseEOF, ParseError, ParseTimeout, Peek1, Read1, TokenCallback
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

ESC = "\x1b"


class ExactXTermParser(XTermParser):
    """Textual's terminal parser, with bracketed pastes kept whole and in order."""

    def parse(self, token_callback: TokenCallback[Message]) -> Generator[Read1 | Peek1, str, None]:
        keys = XTermParser.parse(self, token_callback)
        awaiting = next(keys)
        recent = ""  # what Textual's parser holds of a possible paste start: ESC and what followed
        while True:
            try:
                character = yield awaiting
            except ParseEOF:
                with contextlib.suppress(StopIteration):
                    keys.throw(ParseEOF())
                return
            except ParseTimeout:  # Textual's parser ends its pending sequence: no paste start
                recent = ""
                try:
                    awaiting = keys.throw(ParseTimeout())
                except StopIteration:
                    return
                continue
            try:
                awaiting = keys.send(character)
            except StopIteration:
                return
            if character == ESC:
                recent = ESC
            elif recent and BRACKETED_PASTE_START.startswith(recent + character):
                recent += character
            else:
                recent = ""
            if recent != BRACKETED_PASTE_START:
                continue
            # Textual's parser would now collect the paste: start a fresh one (it has nothing
            # pending at this point) and collect it here instead
            keys.close()
            pasted = yield from self._paste()
            if pasted is None:
                return
            token_callback(events.Paste(pasted))
            keys = XTermParser.parse(self, token_callback)
            awaiting = next(keys)
            recent = ""

    def _paste(self) -> Generator[Read1 | Peek1, str, str | None]:
        """Every character up to the paste end sequence (None when the input ends first)."""
        characters: list[str] = []
        end = len(BRACKETED_PASTE_END)
        while True:
            try:
                character = yield self.read1()
            except ParseEOF:
                return None
            characters.append(character)
            if character == BRACKETED_PASTE_END[-1] and "".join(characters[-end:]) == BRACKETED_PASTE_END:
                return "".join(characters[:-end])


class ExactLinuxDriver(LinuxDriver):
    """Textual's Linux/macOS driver reading the terminal with `ExactXTermParser`."""

    def run_input_thread(self) -> None:
        """Textual's `LinuxDriver.run_input_thread` (8.2.8) with the parser swapped; a test compares
        the two, so a Textual upgrade that changes the loop is noticed."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)

        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ

        parser = ExactXTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick

        utf8_decoder = getincrementaldecoder("utf-8")().decode
        decode = utf8_decoder
        read = os.read

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]],
            final: bool = False,
        ) -> None:
            """Process events from selector.

            Args:
                selector_events: List of selector events.
                final: True if this is the last call.

            """
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        # This can occur if the stdin is piped
                        break
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process_selector_events(selector.select(0.1))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(0.1), final=True)

        finally:
            selector.close()
            try:
                for event in feed(""):  # noqa: B007 (Textual's code, kept as it is)
                    pass
            except (EOFError, ParseError):
                pass
