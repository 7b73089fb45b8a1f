"""The Export screen: choose or edit a spec, preview the allocation, export with a progress bar."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Label, ProgressBar, Static, TextArea
from textual.worker import get_current_worker

from curator import paths
from curator.errors import CuratorError
from curator.files import read_text
from curator.tui.safe import content
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.footer import KeyFooter


class ExportScreen(Screen[None]):
    """Build a mixture from a spec file without leaving the TUI."""

    HELP_NAME = "Export"

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+o", "open_spec", "Open spec", tooltip="Re-read the spec file named above", show=False),
        Binding("ctrl+s", "save_spec", "Save", tooltip="Save the spec to the path above"),
        Binding("f5", "preview", "Preview", tooltip="Preview the allocation (writes nothing)"),
        # priority: TextArea binds f6/f7 (select line/all), which would swallow them in the spec editor
        Binding("f6", "export", "Export", priority=True),
        Binding(
            "f7",
            "export(True)",
            "Replace",
            tooltip="Export, replacing an earlier export of the same name",
            priority=True,
        ),
        # leaves the spec editor or an input, so that 1-5 switch screens again instead of typing
        Binding("escape", "leave_field", "Leave the field", show=False),
    ]

    class Progressed(Message):
        def __init__(self, phase: str, done: int, total: int) -> None:
            super().__init__()
            self.phase, self.done, self.total = phase, done, total

    class Finished(Message):
        def __init__(self, text: str, ok: bool, warnings: list[str] | None = None) -> None:
            super().__init__()
            self.text, self.ok = text, ok
            self.warnings = warnings or []
            """What the trainer must know about the export (shown as warning toasts)."""

    def compose(self) -> ComposeResult:
        yield Header()
        # one row, each input named on its left (a placeholder is gone once there is a value)
        with Horizontal(id="export-top"):
            yield Label(content("Spec"), classes="row-label")
            yield Input(str(self._default_spec()), id="spec-path", placeholder="spec file (TOML)")
            yield Label(content("Output"), classes="row-label")
            yield Input("exports", id="out-dir", placeholder="output folder")
        with Horizontal():
            with Vertical(id="spec-side"):
                yield Static(content("Spec (ctrl+s saves to the path above)"), classes="pane-title")
                yield TextArea(id="spec-text", language="toml" if "toml" in TextArea().available_languages else None)
            with Vertical(id="result-side"):
                yield Static(content("Allocation / manifest"), classes="pane-title", id="result-title")
                yield ProgressBar(total=1, id="export-progress", show_eta=False)  # a total: idle, not pulsing
                yield Static(id="export-phase")
                yield TextArea(id="result-text", read_only=True, soft_wrap=False)
        yield KeyFooter()

    @staticmethod
    def _default_spec() -> Path:
        demo = paths.REPO_DIR / "corpora" / "specs" / "demo.toml"
        return demo if demo.exists() else Path("spec.toml")

    def on_mount(self) -> None:
        self.action_open_spec()

    def _spec_path(self) -> Path:
        return Path(self.query_one("#spec-path", Input).value).expanduser()

    def action_leave_field(self) -> None:
        self.set_focus(None)

    def action_open_spec(self) -> None:
        path = self._spec_path()
        try:
            text = read_text(path, CuratorError, what="spec file", kind="spec")
        except CuratorError as err:
            self.notify(str(err), severity="error", markup=False)
        else:
            self.query_one("#spec-text", TextArea).load_text(text)

    @on(Input.Submitted, "#spec-path")
    def _reopen(self) -> None:
        self.action_open_spec()

    def action_save_spec(self) -> None:
        """Write the editor's text to the spec path (aside, then renamed into place)."""
        from curator.atomic import write_text

        path = self._spec_path()
        try:
            write_text(path, self.query_one("#spec-text", TextArea).text)
        except OSError as err:
            self.notify(f"{path}: cannot write ({err})", severity="error", markup=False)
            return
        self.notify(f"saved {path}", markup=False)

    def action_preview(self) -> None:
        self._start(dry_run=True, force=False)

    def action_export(self, force: bool = False) -> None:
        self._start(dry_run=False, force=force)

    def _start(self, dry_run: bool, force: bool) -> None:
        """Preview or export the spec as it is in the editor: nothing is saved for it.

        Relative paths in the text resolve against the folder of the spec path above, as they
        would once the text is saved there.
        """
        path = self._spec_path()
        text = self.query_one("#spec-text", TextArea).text
        out = Path(self.query_one("#out-dir", Input).value or "exports")
        self._run(text, path, out, dry_run=dry_run, force=force)

    @work(thread=True, exclusive=True, group="export")
    def _run(self, spec_text: str, path: Path, out: Path, *, dry_run: bool, force: bool) -> None:
        from curator.mixture import allocation_table, export_from_spec, parse_spec_text

        worker = get_current_worker()

        def progress(phase: str, done: int, total: int) -> None:
            if not worker.is_cancelled:
                self.post_message(self.Progressed(phase, done, total))

        try:
            spec = parse_spec_text(spec_text, f"<editor: {path}>", path.parent)
            result = export_from_spec(
                self.app.workspace.db,  # type: ignore[attr-defined]
                spec,
                out,
                dry_run=dry_run,
                force=force,
                progress=progress,
            )
        except CuratorError as err:
            self.post_message(self.Finished(str(err), ok=False))
            return
        # the manifest as written, its list of left-out records counted: at a million records that
        # list is tens of megabytes, and it is in manifest.json
        shown = result.manifest_overview()
        text = allocation_table(result.plan) if dry_run else json.dumps(shown, ensure_ascii=False, indent=2)
        self.post_message(self.Finished(text, ok=True, warnings=list(result.plan.warnings)))

    def on_export_screen_progressed(self, message: Progressed) -> None:
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)
        self.query_one("#export-phase", Static).update(content(f"{message.phase}: {message.done}/{message.total}"))

    def on_export_screen_finished(self, message: Finished) -> None:
        if not message.ok:  # the core speaks the CLI's language; here the flag is a key
            message.text = message.text.replace("use --force", "press F7")
        self.query_one("#result-text", TextArea).load_text(message.text)
        for warning in message.warnings:
            self.notify(warning, title="Warning", severity="warning", markup=False, timeout=15)
        if message.ok:
            self.notify("done", markup=False)
        else:
            self.query_one("#export-phase", Static).update(content(message.text))
            self.notify(message.text, severity="error", markup=False)
