"""Every main screen offers its own keys in the command palette (keyboard first: every key is also in ctrl+p)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curator.bootstrap import init_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.help import ScreenBindingCommands


@pytest.mark.parametrize("mode", ["constitution", "examples", "review", "coverage", "export"])
async def test_each_main_screen_lists_its_described_keys_in_the_palette(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 36)) as pilot:
        await app.switch_mode(mode)
        await pilot.pause()
        screen = app.screen
        assert ScreenBindingCommands in type(screen).COMMANDS
        provider = ScreenBindingCommands(screen)
        texts = [hit.text async for hit in provider.discover()]
        described = [b.description for b in screen.BINDINGS if not isinstance(b, tuple) and b.description]
        assert described and all(any(d in t for t in texts) for d in described)


def test_every_screen_has_a_help_name() -> None:
    """The help title names the screen as the footer does, never the Python class."""
    import importlib
    import inspect
    import pkgutil

    from textual.screen import Screen

    import curator.tui.screens as screens_pkg

    modules = [
        importlib.import_module(f"{screens_pkg.__name__}.{m.name}") for m in pkgutil.iter_modules(screens_pkg.__path__)
    ]
    classes = [
        obj
        for module in modules
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Screen) and obj.__module__ == module.__name__
    ]
    assert len(classes) >= 10
    assert [c.__name__ for c in classes if "HELP_NAME" not in c.__dict__] == []


async def test_the_palette_lists_each_screen_command_once(demo_db: Path) -> None:
    from curator.tui.app import CuratorApp
    from curator.tui.screens.help import ScreenBindingCommands

    app = CuratorApp(demo_db, user="erin")
    async with app.run_test(size=(120, 40)) as pilot:
        for mode in ("constitution", "examples", "review", "coverage", "export"):
            await app.switch_mode(mode)
            await pilot.pause()
            texts = [text for text, _ in ScreenBindingCommands(app.screen)._commands()]
            assert texts and len(texts) == len(set(texts)), (mode, texts)


async def test_switch_user_from_the_palette(demo_db: Path) -> None:
    from textual.widgets import Input

    from curator.review import approval_problems
    from curator.store import examples
    from curator.tui.commands import CuratorCommands
    from curator.tui.screens.comment import CommentScreen
    from tests.tui.conftest import paste_into, wait_for, wait_screen

    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        provider = CuratorCommands(app.screen)
        hits = {hit.text: hit.command async for hit in provider.discover()}
        assert "Switch user" in hits
        ex = examples.get(app.workspace.db, "ex_demo_022")  # ana's own: she cannot approve it
        assert approval_problems(ex, app.user, None)
        for name, acting in (("b\u0435n", "ana"), ("ben", "ben")):  # a Cyrillic е is refused
            hits["Switch user"]()
            dialog = await wait_screen(pilot, CommentScreen)
            await paste_into(pilot, dialog.query_one(Input), name)
            await pilot.press("enter")
            await wait_for(pilot, lambda: not isinstance(app.screen, CommentScreen), "the dialog to close")
            await pilot.pause()
            assert app.user == acting
        assert app.sub_title.endswith("· ben")
        assert not approval_problems(ex, app.user, None)
