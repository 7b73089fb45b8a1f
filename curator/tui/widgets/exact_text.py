"""Text fields that keep what is typed or pasted exactly, and never write a control character to
the terminal.

Textual's Input and TextArea insert a typed key only when `str.isprintable()` holds for it, which
drops format characters (zero-width joiner and non-joiner, zero-width space, word joiner, bidi
marks), spaces other than U+0020 (no-break, ideographic), line and paragraph separators, private
use characters and anything newer than Python's Unicode tables (new emoji): 👩‍💻, typed as three
keys, becomes 👩💻. Input keeps only the first line of a paste (split at form feeds, U+2028 and
more), and TextArea's document splits lines with `str.splitlines`, so a U+2028 or a form feed in a
paste or a loaded record comes back as a newline. Both put a raw ESC into the lines they draw,
and the terminal takes it for the start of an escape sequence.

`ExactInput` and `ExactTextArea` fix that:

- a typed key inserts its character unless it is a control character (Cc: those are keys such as
  Enter, Tab, Escape, Backspace and ctrl+letter, which keep their bindings);
- a paste goes in verbatim. TextArea turns CRLF and CR into LF (what the record stores) and breaks
  lines there only; a one-line Input turns each line break into one space, so no pasted text is
  lost, and says so;
- control characters other than tab and newline stay in the value and are drawn as their Unicode
  control pictures (␛ for ESC, ␀, ␡; C1 controls, which have none, as U+FFFD), one cell each,
  without changing the value. Records drop control characters when validated (README, Hostile
  input), so a paste that holds some is announced with a notice.

In the TextArea the picture is drawn through `get_line`, Textual's hook for styling a line; its
wrapping, mouse and terminal-cursor arithmetic still count a control character as zero cells, so
on a line holding control characters a click can land a cell off and a soft-wrapped row can be a
cell wider per control character. Drawing them invisibly instead would hide them; the text is
right either way.
"""

from __future__ import annotations

import re
import unicodedata

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.document._document import Document, EditResult, Location
from textual.document._document_navigator import DocumentNavigator
from textual.document._syntax_aware_document import SyntaxAwareDocument
from textual.document._wrapped_document import WrappedDocument
from textual.expand_tabs import expand_tabs_inline
from textual.widgets import Input, TextArea

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline: what records drop and the fields draw as pictures."""

_PICTURES = (
    {code: 0x2400 + code for code in range(0x20) if code not in (0x09, 0x0A)}
    | {0x7F: 0x2421}
    | dict.fromkeys(range(0x80, 0xA0), 0xFFFD)
)
"""C0 controls as their control pictures (U+2400-241F), DEL as ␡, C1 controls (which have no
picture) as U+FFFD. Tab keeps its own rendering (expanded to the next tab stop)."""

CONTROL_NOTICE = (
    "The paste holds control characters ({names}), drawn as {pictures}. "
    "Records drop control characters when saved; everything else is kept as pasted."
)
LINE_BREAK_NOTICE = "Line breaks in the paste became spaces: this field holds one line."


def visible(text: str) -> str:
    """`text` with every control character but tab and newline replaced by a visible picture of
    the same length (one character, one cell), so indexes into `text` still apply."""
    return text.translate(_PICTURES) if _CONTROL.search(text) else text


def insertable(character: str | None) -> bool:
    """A typed key's character goes into the text unless it is a control character (the key is
    Enter, Tab, Backspace, Escape or a ctrl combination then, and acts as one)."""
    return character is not None and len(character) == 1 and unicodedata.category(character) not in ("Cc", "Cs")


def one_line(text: str) -> str:
    """A paste for a one-line field: each line break (CRLF, CR or LF) becomes one space."""
    return _LINE_BREAK.sub(" ", text)


def control_notice(text: str) -> str | None:
    """What to tell the person when a paste holds control characters (None when it holds none)."""
    found = sorted(set(_CONTROL.findall(text)))
    if not found:
        return None
    names = ", ".join(_control_name(c) for c in found[:4]) + (", …" if len(found) > 4 else "")
    pictures = " ".join(dict.fromkeys(visible(c) for c in found[:4]))
    return CONTROL_NOTICE.format(names=names, pictures=pictures)


def _control_name(character: str) -> str:
    code = ord(character)
    return "ESC" if code == 0x1B else "DEL" if code == 0x7F else "NUL" if code == 0 else f"U+{code:04X}"


class ExactInput(Input):
    """A one-line Input that keeps every typed or pasted character (see the module docstring)."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return super().check_consume_key(key, character) or insertable(character)

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable or not insertable(event.character):
            return  # Input's own handler (next in the MRO) inserts printable keys and lets the rest act
        assert event.character is not None
        self._restart_blink()
        event.stop()
        event.prevent_default()
        self._insert(event.character)

    def _on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        if not event.text:
            return
        line = one_line(event.text)
        self._insert(line)
        notices = [n for n in (control_notice(line), LINE_BREAK_NOTICE if line != event.text else None) if n]
        if notices:
            self.notify(" ".join(notices), markup=False)

    def _insert(self, text: str) -> None:
        selection = self.selection
        if selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *selection)

    @property
    def _value(self) -> Text:
        """The value as drawn: control characters as pictures (Textual draws the value itself)."""
        if self.password:
            return Text("•" * len(self.value), no_wrap=True, overflow="ignore", end="")
        text = Text(visible(self.value), no_wrap=True, overflow="ignore", end="")
        if self.highlighter is not None:
            text = self.highlighter(text)
        return text

    def _position_to_cell(self, position: int) -> int:
        return cell_len(expand_tabs_inline(visible(self.value[:position]), 4))

    def _cell_offset_to_index(self, offset: int) -> int:
        return super()._cell_offset_to_index(offset) if not _CONTROL.search(self.value) else self._shown_index(offset)

    def _shown_index(self, offset: int) -> int:
        """`_cell_offset_to_index` over the value as drawn (a picture is one cell, the control zero)."""
        scroll_x, _ = self.scroll_offset
        offset += scroll_x
        cells = 0
        for index, char in enumerate(visible(self.value)):
            width = cell_len(char)
            if cells <= offset < cells + width:
                return index
            cells += width
        return max(0, min(offset, len(self.value)))


class ExactDocument(Document):
    """Textual's document with lines broken at CRLF, CR and LF only, and always joined with LF.

    Textual's uses `str.splitlines`, which also breaks at VT, FF, FS, GS, RS, NEL, U+2028 and
    U+2029, and gives each back as a newline."""

    def __init__(self, text: str) -> None:
        self._newline = "\n"
        self._lines = _LINE_BREAK.split(text)

    def replace_range(self, start: Location, end: Location, text: str) -> EditResult:
        top, bottom = sorted((start, end))
        top_row, top_column = top
        bottom_row, bottom_column = bottom
        lines = self._lines
        replaced_text = self.get_text_range(top, bottom)
        before = lines[top_row][:top_column] if top_row < len(lines) else ""
        after = lines[bottom_row][bottom_column:] if bottom_row < len(lines) else ""
        insert_lines = _LINE_BREAK.split(text)
        insert_lines[0] = before + insert_lines[0]
        destination_column = len(insert_lines[-1])
        insert_lines[-1] += after
        lines[top_row : bottom_row + 1] = insert_lines
        return EditResult((top_row + len(insert_lines) - 1, destination_column), replaced_text)


class ExactSyntaxAwareDocument(SyntaxAwareDocument, ExactDocument):
    """The highlighted document (tree-sitter installed), with `ExactDocument`'s lines."""


class ExactTextArea(TextArea):
    """A TextArea that keeps every typed or pasted character (see the module docstring)."""

    def _set_document(self, text: str, language: str | None) -> None:
        super()._set_document(text, language)  # picks the document kind (plain, or highlighted)
        if isinstance(self.document, SyntaxAwareDocument):
            self.document = ExactSyntaxAwareDocument(text, self.document.language)
        else:
            self.document = ExactDocument(text)
        self.wrapped_document = WrappedDocument(self.document, tab_width=self.indent_width)
        self.navigator = DocumentNavigator(self.wrapped_document)
        self._build_highlight_map()
        self.move_cursor((0, 0))
        self._rewrap_and_refresh_virtual_size()

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        return super().check_consume_key(key, character) or (not self.read_only and insertable(character))

    async def _on_key(self, event: events.Key) -> None:
        if self.read_only or event.is_printable or not insertable(event.character):
            return  # TextArea's own handler (next in the MRO)
        assert event.character is not None
        self._restart_blink()
        event.stop()
        event.prevent_default()
        self._replace_via_keyboard(event.character, *self.selection)

    async def _on_paste(self, event: events.Paste) -> None:
        # TextArea's own handler (next in the MRO) inserts the text; the document breaks its lines
        if not self.read_only and (notice := control_notice(_LINE_BREAK.sub("\n", event.text))):
            self.notify(notice, markup=False)

    def get_line(self, line_index: int) -> Text:
        """The line as drawn: control characters as pictures (the document keeps them). Built from
        the document line, not Textual's Text of it: Rich drops BEL, BS, VT, FF and CR from a Text,
        which would shift every column after them."""
        return Text(visible(self.document.get_line(line_index)), end="", no_wrap=True)
