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
        # the list of left-out records stays in the file; the screen shows how many and why
        written = json.loads((folders[0] / "manifest.json").read_text(encoding="utf-8"))
        shown = manifest.pop("excluded")
        assert shown["records"] == len(written.pop("excluded")) > 0
        assert shown["listed_in"] == str(folders[0] / "manifest.json")
        assert manifest == written


async def test_f6_exports_while_the_spec_editor_has_focus(tmp_path: Path) -> None:
    # TextArea binds f6/f7 itself (select line / select all); the screen's export keys must win
    app, spec = demo_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        screen.query_one("#spec-text", TextArea).focus()
        assert screen.query_one("#out-dir", Input).region.right <= 120  # both inputs on screen
        result = screen.query_one("#result-text", TextArea)
        assert json.loads(await result_after(pilot, "f6", result))["name"] == "demo-mix"


async def dedup_index_landed(app: CuratorApp, pilot: Pilot[None]) -> None:
    """Wait (up to 15 s) for the app's duplicate index: a worker writes its file (curator's own) aside
    beside the workspace, and a test looking for leftovers of a spec write must not see it half-way."""
    for _ in range(300):
        if app.dedup is not None:
            return
        await pilot.pause(0.05)


def hidden_files(folder: Path) -> list[str]:
    """Leftovers of a write aside (`.spec.toml.<pid>.<random>.tmp`) and the like."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


async def test_preview_shows_the_edited_text_and_writes_no_file(tmp_path: Path) -> None:
    app, spec = demo_app(tmp_path)
    saved = spec.read_bytes()
    saved_stat = spec.stat()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        editor = screen.query_one("#spec-text", TextArea)
        edited = editor.text.replace('name = "demo-mix"', 'name = "edited-mix"')
        edited = edited.replace("budget_tokens = 12000", "budget_tokens = 7000")
        assert edited != editor.text
        editor.load_text(edited)
        result = screen.query_one("#result-text", TextArea)
        assert (await result_after(pilot, "f5", result)).startswith("edited-mix: budget 7,000 train tokens")
        assert editor.text == edited
        await dedup_index_landed(app, pilot)
    assert spec.read_bytes() == saved
    assert spec.stat().st_mtime_ns == saved_stat.st_mtime_ns and spec.stat().st_ino == saved_stat.st_ino
    assert hidden_files(tmp_path) == [] and not (tmp_path / "out").exists()


async def test_an_invalid_edit_names_the_editor_and_the_key(tmp_path: Path) -> None:
    app, spec = demo_app(tmp_path)
    saved = spec.read_bytes()
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        editor = screen.query_one("#spec-text", TextArea)
        editor.load_text(editor.text.replace("story = 0.25", "story = 0.5"))
        result = screen.query_one("#result-text", TextArea)
        shown = await result_after(pilot, "f5", result)
        assert shown == f"<editor: {spec}>: kinds: shares must sum to 1 (got 1.25)"
    assert spec.read_bytes() == saved


async def test_relative_paths_in_the_editor_resolve_against_the_spec_path_folder(tmp_path: Path) -> None:
    app, demo_spec = demo_app(tmp_path)
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "prompts.jsonl").write_text('{"id": "p1", "text": "You are a careful assistant."}\n')
    text = demo_spec.read_text().replace("corpora/pools/system_prompts.jsonl", "prompts.jsonl")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, demo_spec, tmp_path / "out")
        editor = screen.query_one("#spec-text", TextArea)
        result = screen.query_one("#result-text", TextArea)
        editor.load_text(text)
        path_input = screen.query_one("#spec-path", Input)
        path_input.value = str(folder / "unsaved.toml")  # the spec file need not exist to preview
        assert "shortfall" in await result_after(pilot, "f5", result)
        result.load_text("")
        path_input.value = str(tmp_path / "unsaved.toml")
        shown = await result_after(pilot, "f5", result)
        assert shown.startswith(f"<editor: {tmp_path / 'unsaved.toml'}>: diversify.system_prompts: 'prompts.jsonl'")
        assert "not found" in shown
    assert not (folder / "unsaved.toml").exists() and not (tmp_path / "unsaved.toml").exists()


async def test_ctrl_s_saves_the_edited_text_by_renaming_it_into_place(tmp_path: Path) -> None:
    app, spec = demo_app(tmp_path)
    inode = spec.stat().st_ino
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        editor = screen.query_one("#spec-text", TextArea)
        edited = editor.text.replace("seed = 42", "seed = 43")
        editor.load_text(edited)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await dedup_index_landed(app, pilot)
    assert spec.read_text(encoding="utf-8") == edited
    assert spec.stat().st_ino != inode  # a new file renamed over the old one, never a half-written one
    assert hidden_files(tmp_path) == []


async def test_exporting_over_an_earlier_export_names_the_key(tmp_path: Path) -> None:
    app, spec = demo_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        result = screen.query_one("#result-text", TextArea)
        assert json.loads(await result_after(pilot, "f6", result))["name"] == "demo-mix"
        result.load_text("")
        text = await result_after(pilot, "f6", result)
        assert "already exists; press F7" in text and "--force" not in text
        result.load_text("")
        assert json.loads(await result_after(pilot, "f7", result))["name"] == "demo-mix"


async def test_escape_leaves_the_spec_editor_so_screen_keys_work(tmp_path: Path) -> None:
    app, spec = demo_app(tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await export_screen(app, pilot, spec, tmp_path / "out")
        editor = screen.query_one("#spec-text", TextArea)
        editor.focus()
        await pilot.pause()
        before = editor.text
        await pilot.press("escape", "2")
        await pilot.pause()
        assert editor.text == before  # the digit was not typed into the spec
        assert type(app.screen).__name__ == "ExamplesScreen"
