"""Word-level differences between two texts, cut short enough to read at a glance.

One implementation for every place that shows what changed: the history of an example (CLI and
TUI) and the editor's compare view. A leaf module: it knows nothing of records or of Textual.

Words are runs of non-whitespace, so a change of spacing or line breaks is no change here. What is
shown is kept short whatever the texts are: unchanged runs keep `context` words each side of a
change, a long deleted or inserted run keeps its first `run_words` words, a very long "word" (a
5,000-character string without spaces) its first `word_chars` characters, and only the first
`limit` changes are listed. Control characters become their visible Unicode pictures (ESC is `␛`),
so no escape sequence ever reaches a terminal through a diff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

Op = Literal["equal", "delete", "insert"]

ELLIPSIS = "…"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    return "␡" if code == 0x7F else "\ufffd"


def visible(text: str) -> str:
    """`text` with every control character shown as a picture (`\\x1b` -> `␛`), never acted on."""
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of words that is the same in both texts, only in the first, or only in the second.

    `text` is the words joined by single spaces; `…` stands for words left out.
    """

    op: Op
    text: str

    def to_json(self) -> dict[str, str]:
        return {"op": self.op, "text": self.text}

    def plain(self) -> str:
        """git's --word-diff=plain form: `[-deleted-]`, `{+inserted+}`, unchanged words as they are."""
        if self.op == "delete":
            return f"[-{self.text}-]"
        if self.op == "insert":
            return f"{{+{self.text}+}}"
        return self.text


@dataclass(frozen=True, slots=True)
class WordDiff:
    """The shortened differences between two texts."""

    segments: tuple[Segment, ...]
    changes: int
    """How many separate changes the texts have (a replaced run counts once), shown or not."""
    limit: int
    """How many of them `segments` shows."""

    @property
    def truncated(self) -> bool:
        """True when there are more changes than `segments` shows."""
        return self.changes > self.limit

    def plain(self) -> str:
        """The differences on one line in git's --word-diff=plain form."""
        out = ""
        for prev, seg in zip((None, *self.segments), self.segments, strict=False):
            glue = "" if prev is None or (prev.op == "delete" and seg.op == "insert") else " "
            out += glue + seg.plain()
        if self.truncated:
            out += f" {ELLIPSIS} ({self.changes - self.limit} more changes)"
        return out


def _clip_word(word: str, word_chars: int | None) -> str:
    word = visible(word)
    return word if word_chars is None or len(word) <= word_chars else word[: word_chars - 1] + ELLIPSIS


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """SequenceMatcher's opcodes, with the common start and end matched first (one changed word in a
    long text then costs a scan, not a quadratic comparison)."""
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    out: list[tuple[str, int, int, int, int]] = []
    if start:
        out.append(("equal", 0, start, 0, start))
    middle = SequenceMatcher(None, a[start : len(a) - end], b[start : len(b) - end], autojunk=False)
    for tag, i1, i2, j1, j2 in middle.get_opcodes():
        out.append((tag, i1 + start, i2 + start, j1 + start, j2 + start))
    if end:
        out.append(("equal", len(a) - end, len(a), len(b) - end, len(b)))
    return out


def word_diff(
    before: str,
    after: str,
    *,
    context: int = 4,
    limit: int = 60,
    run_words: int | None = 24,
    word_chars: int | None = 40,
) -> WordDiff:
    """What differs between `before` and `after`, word by word, cut short (see the module docstring).

    `run_words=None` keeps changed runs whole and `word_chars=None` long words (the compare view,
    which shows both texts in full beside the diff, keeps every changed word)."""
    a, b = before.split(), after.split()
    opcodes = _opcodes(a, b)
    total = sum(1 for tag, *_ in opcodes if tag != "equal")
    segments: list[Segment] = []
    shown = 0

    def words(run: list[str]) -> str:
        return " ".join(_clip_word(w, word_chars) for w in run)

    def changed(op: Op, run: list[str]) -> None:
        if not run:
            return
        cut = run_words is not None and len(run) > run_words
        text = words(run[:run_words] if cut else run) + (f" {ELLIPSIS}" if cut else "")
        segments.append(Segment(op, text))

    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = a[i1:i2]
            first, last = not segments, index == len(opcodes) - 1 or shown >= limit
            if first and last:
                continue
            if first:
                text = (f"{ELLIPSIS} " if len(same) > context else "") + words(same[-context:])
            elif last:
                text = words(same[:context]) + (f" {ELLIPSIS}" if len(same) > context else "")
            elif len(same) > 2 * context:
                text = f"{words(same[:context])} {ELLIPSIS} {words(same[-context:])}"
            else:
                text = words(same)
            segments.append(Segment("equal", text))
            if shown >= limit:
                break
            continue
        if shown >= limit:
            break
        shown += 1
        changed("delete", a[i1:i2])
        changed("insert", b[j1:j2])
    return WordDiff(tuple(segments), total, limit)
