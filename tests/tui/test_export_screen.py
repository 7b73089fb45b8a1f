"""Pilot: preview the allocation and export the demo spec from the Export screen."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, TextArea

from curator import paths
from curator.tui.app import CuratorApp
from curator.tui.screens.export import ExportScreen
from curator.workspace import init_workspace


async def test_preview_then_export(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    spec = tmp_path / "spec.toml"
    spec.write_text((paths.REPO_DIR / "corpora" / "specs" / "demo.toml").read_text())
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.switch_mode("export")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#spec-path", Input).value = str(spec)
        screen.query_one("#out-dir", Input).value = str(tmp_path / "out")
        screen.action_open_spec()
        result = screen.query_one("#result-text", TextArea)
        await pilot.press("f5")
        for _ in range(300):
            await pilot.pause(0.05)
            if result.text:
                break
        assert "shortfall" in result.text
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        result.load_text("")
        await pilot.press("f6")
        for _ in range(300):
            await pilot.pause(0.05)
            if result.text:
                break
        manifest = json.loads(result.text)
        assert manifest["seed"] is not None
        folders = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
        assert len(folders) == 1 and (folders[0] / "manifest.json").exists()


async def test_f6_exports_while_the_spec_editor_has_focus(tmp_path: Path) -> None:
    # TextArea binds f6/f7 itself (select line / select all); the screen's export keys must win
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    spec = tmp_path / "spec.toml"
    spec.write_text((paths.REPO_DIR / "corpora" / "specs" / "demo.toml").read_text())
    app = CuratorApp(db, user="ana")
    async with app.run_test(size=(120, 36)) as pilot:
        await app.switch_mode("export")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#spec-path", Input).value = str(spec)
        screen.query_one("#out-dir", Input).value = str(tmp_path / "out")
        screen.action_open_spec()
        screen.query_one("#spec-text", TextArea).focus()
        assert screen.query_one("#out-dir", Input).region.right <= 120  # both inputs on screen
        await pilot.press("f6")
        result = screen.query_one("#result-text", TextArea)
        for _ in range(300):
            await pilot.pause(0.05)
            if result.text:
                break
        assert json.loads(result.text)["name"] == "demo-mix"
