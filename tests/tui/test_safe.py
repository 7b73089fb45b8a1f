"""Data is shown literally, never parsed as markup (DESIGN section 10)."""

from __future__ import annotations

import pytest

from curator.tui.safe import content, join, plain

HOSTILE = ["[@click=app.quit]", "[ @click=app.quit]x[/]", "[/]", "a\\", "[bold red]x", "[link=file:///etc]y[/link]"]


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_and_content_keep_text_literally(text: str) -> None:
    assert plain(text).plain == text
    assert content(text).plain == text
    assert not plain(text).spans


@pytest.mark.parametrize("text", HOSTILE)
def test_join_keeps_every_piece_literally(text: str) -> None:
    joined = join((text, "bold"), " ", text)
    assert joined.plain == f"{text} {text}"
