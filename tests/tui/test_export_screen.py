"""Pilot: preview the allocation and export the demo spec from the Export screen."""

from __future__ import annotations

import json
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from curator import paths
from curator.bootstrap import init_workspace
from curator.tui.app import CuratorApp
from curator.tui.screens.export import ExportScreen


def demo_app(tmp_path: Path) -> tuple[CuratorApp, Path]:
    """The app on a demo workspace, and a copy of the demo spec to edit."""
    db = tmp_path / "demo.db"
    init_workspace(db, demo=True, actor="ana").close()
    spec = tmp_path / "spec.toml"
    spec.write_text((paths.REPO_DIR / "corpora" / "specs" / "demo.toml").read_text())
    return CuratorApp(db, user="ana"), spec


async def export_screen(app: CuratorApp, pilot: Pilot[None], spec: Path, out: Path) -> ExportScreen:
    """The Export screen with `spec` opened and `out` as the output folder."""
    await app.switch_mode("export")
    screen = app.screen
    assert isinstance(screen, ExportScreen)
    screen.query_one("#spec-path", Input).value = str(spec)
    screen.query_one("#out-dir", Input).value = str(out)
    screen.action_open_spec()
    return screen


async def result_after(pilot: Pilot[None], key: str, result: TextArea) -> str:
    """Press `key` and wait (up to 15 s) for the result pane to fill."""
    await pilot.press(key)
    for _ in range(300):
        await pilot.pause(0.05)
        if result.text:
            break
    return result.text


async def test_preview_then_export(tmp_path: Path) -> None:
    app, spec = demo_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        result = screen.query_one("#result-text", TextArea)
        assert "shortfall" in await result_after(pilot, "f5", result)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        result.load_text("")
        manifest = json.loads(await result_after(pilot, "f6", result))
        assert manifest["seed"] is not None
        folders = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
        assert len(folders) == 1 and (folders[0] / "manifest.json").exists()


async def test_f6_exports_while_the_spec_editor_has_focus(tmp_path: Path) -> None:
    # TextArea binds f6/f7 itself (select line / select all); the screen's export keys must win
    app, spec = demo_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        screen.query_one("#spec-text", TextArea).focus()
        assert screen.query_one("#out-dir", Input).region.right <= 120  # both inputs on screen
        result = screen.query_one("#result-text", TextArea)
        assert json.loads(await result_after(pilot, "f6", result))["name"] == "demo-mix"
