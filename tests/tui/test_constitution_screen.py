"""Pilot tests: the app opens on the constitution and shows its sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static, Tree

from curator.bootstrap import init_workspace
from curator.tui.app import CuratorApp


async def wait_loaded(pilot, tree: Tree) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        await pilot.pause(0.02)
        if not tree.loading and tree.root.children:
            return
    raise AssertionError("constitution did not load")


async def test_opens_on_the_demo_constitution(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        top = tree.root.children[0]
        sections = [str(n.label) for n in top.children]
        assert len(sections) == 7
        assert any("Honesty" in s for s in sections)
        assert any("Privacy" in s for s in sections)
        # badges: approved/all linked examples
        assert any(s.split()[0].count("/") == 1 for s in sections)
        await pilot.press("down", "down")
        heading = app.screen.query_one("#clause-heading", Static)
        assert "honesty" in str(heading.render())
        await pilot.press("q")
    assert app.return_code == 0 or app.return_code is None


async def test_empty_workspace_says_how_to_import(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    init_workspace(db, demo=False, actor="ana").close()
    app = CuratorApp(db, user="ana")
    async with app.run_test() as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        for _ in range(50):
            await pilot.pause(0.02)
            if not tree.loading:
                break
        assert "constitution import" in str(app.screen.query_one("#clause-heading", Static).render())


async def test_hostile_clause_text_is_not_markup(tmp_path: Path) -> None:
    from curator.constitution.versions import import_constitution
    from curator.store.db import open_workspace

    src = tmp_path / "c.md"
    src.write_text("# [@click=app.quit]x[/] {#evil}\n\n- [bold]y[/bold] [/] a\\\n")
    db = tmp_path / "h.db"
    with open_workspace(db) as ws:
        import_constitution(ws.db, src, actor="a")
    app = CuratorApp(db, user="ana")
    async with app.run_test() as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        labels = [str(n.label) for n in tree.root.children]
        assert any("[@click=app.quit]x[/]" in label for label in labels)
        await pilot.press("down")
        assert "evil" in str(app.screen.query_one("#clause-heading", Static).render())
        assert app.is_running


async def test_detail_pane_shows_context_then_plain_text(tmp_path: Path) -> None:
    from curator.constitution.versions import import_constitution
    from curator.store.db import open_workspace

    src = tmp_path / "c.md"
    src.write_text("# Rules {#rules}\n\nThe assistant should **never**:\n\n- Reveal [secrets](#rules).\n")
    db = tmp_path / "d.db"
    with open_workspace(db) as ws:
        import_constitution(ws.db, src, actor="a")
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        await pilot.pause(0.05)  # the cursor opens on the first clause: the section
        text = str(app.screen.query_one("#clause-text", Static).render())
        assert "The assistant should never:" in text
        assert "#" not in text and "**" not in text
        await pilot.press("down")  # its item
        await pilot.pause(0.05)
        assert str(app.screen.query_one("#clause-context", Static).render()) == "The assistant should never:"
        assert str(app.screen.query_one("#clause-text", Static).render()) == "Reveal secrets."


async def test_tab_leaves_the_tree_for_the_linked_examples(tmp_path: Path) -> None:
    from textual.widgets import DataTable

    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        tree.focus()
        await pilot.pause()
        seen = []
        for _ in range(3):  # the tree, the clause text (scrollable), the linked examples, round again
            await pilot.press("tab")
            await pilot.pause()
            seen.append(app.focused)
        assert seen[1] is app.screen.query_one("#clause-links", DataTable)
        assert seen[2] is tree


async def test_the_detail_pane_shows_the_first_clause_on_opening(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        await pilot.pause(0.1)
        first = tree.root.children[0].data
        assert first and first in str(app.screen.query_one("#clause-heading", Static).render())
        assert str(app.screen.query_one("#clause-text", Static).render()).strip()


async def test_a_long_constitution_opens_lazily_and_reveals_any_clause(tmp_path: Path) -> None:
    """3,000 clauses: only the first levels get tree nodes; a deep clause appears when selected."""
    from curator.constitution.versions import import_constitution
    from curator.store.db import open_workspace
    from curator.tui.screens.constitution import EXPANDED_NODES, ConstitutionScreen

    lines = ["# Long", ""]
    for s in range(30):
        lines += [f"## Part {s}", ""] + [f"- Rule {s}.{i} says something specific." for i in range(100)] + [""]
    source = tmp_path / "long.md"
    source.write_text("\n".join(lines), encoding="utf-8")
    db = tmp_path / "long.db"
    init_workspace(db, demo=False, actor="ana").close()
    with open_workspace(db) as ws:
        import_constitution(ws.db, source, actor="ana")
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConstitutionScreen)
        tree = screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        await pilot.pause(0.2)
        assert len(screen.clauses) > 3000
        assert len(screen.nodes) <= EXPANDED_NODES + 200
        deep = [c for c in screen.clauses if c not in screen.nodes][-1]
        screen.select_clause(deep)
        await pilot.pause(0.1)
        assert deep in screen.nodes and tree.cursor_node is screen.nodes[deep]
        assert deep in str(screen.query_one("#clause-heading", Static).render())


async def test_the_corpus_is_counted_once_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One constitution screen at start: a second, hidden one doubled every corpus-wide read."""
    from curator import coverage

    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    calls: list[int] = []
    real = coverage.compute

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage, "compute", counted)
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one("#clause-tree", Tree)
        await wait_loaded(pilot, tree)
        await pilot.pause(0.3)
        assert len(calls) == 1
        await pilot.press("2")
        await pilot.press("1")
        assert app.screen.query_one("#clause-tree", Tree) is tree
