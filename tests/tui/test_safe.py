"""Data is shown literally, never parsed as markup (docs/architecture.md, Front ends)."""

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


@pytest.mark.parametrize("text", [*HOSTILE, "[$accent @click=app.quit]x[/]", '{"a": [true]}'])
def test_palette_highlight_never_parses_markup(text: str) -> None:
    from curator.tui.safe import highlight

    assert highlight(f"Example ex_1  {text}", "ex").plain == f"Example ex_1  {text}"
    assert highlight(text, "").plain == text


async def test_palette_finds_an_example_with_a_hostile_title(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from curator.bootstrap import init_workspace
    from curator.models import parse_example
    from curator.store import examples
    from curator.tui.app import CuratorApp
    from curator.tui.commands import CuratorCommands

    db = tmp_path / "w.db"
    with init_workspace(db, demo=True, actor="ana") as ws:
        examples.create(
            ws.db,
            parse_example({"kind": "story", "title": "[@click=app.quit]boom[/]", "text": "t", "id": "ex_hostile"}),
            actor="ana",
        )
    app = CuratorApp(db, user="ana")
    async with app.run_test() as pilot:
        await pilot.pause()
        provider = CuratorCommands(app.screen)
        hits = [hit async for hit in provider.search("boom")]
        assert any("[@click=app.quit]boom[/]" in (hit.text or "") for hit in hits)
        assert any(
            str(hit.match_display).endswith("[@click=app.quit]boom[/]")
            or "[@click=app.quit]boom[/]" in hit.match_display.plain
            for hit in hits
        )  # type: ignore[union-attr]
        assert app.is_running


def test_word_diff_marks_removed_and_added_words() -> None:
    from curator.tui.widgets.dup_panel import word_diff

    diff = word_diff("the cat sat on the mat today", "the dog sat on the mat")
    struck = [diff.plain[s.start : s.end] for s in diff.spans if "strike" in str(s.style)]
    added = [diff.plain[s.start : s.end] for s in diff.spans if "green" in str(s.style)]
    assert struck == ["cat", "today"] and added == ["dog"]
    assert diff.plain.startswith("2 difference(s): ")
    assert word_diff("same words", "same  words").plain == "The two texts are the same word for word."
    long_same = " ".join(f"w{i}" for i in range(50))
    assert "…" in word_diff(long_same + " end", long_same + " stop").plain
