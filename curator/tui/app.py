"""The Textual application: wiring only. Screens live in `screens/`, styles in `app.tcss`."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.driver import Driver

from curator.errors import CuratorError
from curator.gcpause import release_heap, settle_heap
from curator.identity import check_user_name
from curator.store.db import Workspace, open_workspace

if TYPE_CHECKING:
    from anthropic import Anthropic

    from curator.config import Settings
    from curator.dedup.engine import DedupEngine
from curator.tui.commands import CuratorCommands
from curator.tui.messages import ExampleSaved, WorkspaceChanged

SCREENS = Binding.Group("screens", compact=True)
"""The number keys of the main screens, shown together in the footer."""
NARROW_BELOW = 110
"""Terminal width (columns) under which screens use their narrow layout (the Examples filters take
two rows, the Coverage panes stack)."""
DEDUP_LOAD_FALLBACK_S = 0.5
"""The duplicate index loads once the clause tree is painted, or this long after mount if it is not."""


class CuratorApp(App[None]):
    """curator's terminal UI over one workspace database."""

    CSS_PATH = "app.tcss"
    TITLE = "curator"
    COMMANDS = App.COMMANDS | {CuratorCommands}
    DEFAULT_MODE = "constitution"
    """The first screen (`get_default_screen`) is the constitution mode's: one screen, read once at start."""
    # The footer must fit 80 columns beside each screen's own keys: the screen keys show as one
    # compact group ("123456 screens", each named on hover), and quit, like in every Textual app, is
    # ctrl+q without a footer entry (F1 and the palette list it).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
        Binding("f1", "show_help", "Help"),
        Binding("1", "switch_mode('constitution')", "Constitution", group=SCREENS),
        Binding("2", "switch_mode('examples')", "Examples", group=SCREENS),
        Binding("3", "switch_mode('review')", "Review", group=SCREENS),
        Binding("4", "switch_mode('coverage')", "Coverage", group=SCREENS),
        Binding("5", "switch_mode('export')", "Export", group=SCREENS),
        Binding("6", "switch_mode('evals')", "Evals", group=SCREENS),
        Binding("7", "open_annotation", "Annotation queue", show=False),
        Binding("8", "open_adjudication", "Adjudicate", show=False),
    ]
    # not a ClassVar to mypy: Textual annotates it `ClassVar[...] | None`, an instance variable
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW_BELOW, "-wide")]  # noqa: RUF012
    """Screens get `-narrow` below NARROW_BELOW columns: their styles stack or wrap panes there."""

    def __init__(self, db_path: Path | str, *, user: str) -> None:
        super().__init__()
        self.db_path = str(db_path)
        self.user = check_user_name(user)  # the CLI checked it already; a script calling run() too
        self.workspace: Workspace = open_workspace(self.db_path, create=False)
        self.dedup: DedupEngine | None = None  # imported lazily: numpy is not needed for the first paint
        """Loaded in a worker after the first paint; None until then."""
        self.sub_title = f"{Path(self.db_path).name} · {user}"
        self.assist_http_client: Any = None
        """The HTTP client handed to the anthropic SDK (tests set one over a mock transport); None: the SDK's."""
        self._assist: tuple[Anthropic, Settings] | None = None
        self._assist_lock = threading.Lock()
        self._dedup_started = False
        self._heap_lock = threading.Lock()
        self._heap_settled = False
        self._closing = False

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, except that its Linux/macOS driver becomes the one whose parser keeps a
        bracketed paste whole (`tui/terminal_input.py`)."""
        driver = super().get_driver_class()
        if driver.__module__ != "textual.drivers.linux_driver":  # Windows, or TEXTUAL_DRIVER names another
            return driver
        from textual.drivers.linux_driver import LinuxDriver

        from curator.tui.terminal_input import ExactLinuxDriver

        return ExactLinuxDriver if driver is LinuxDriver else driver

    def get_default_screen(self):  # type: ignore[no-untyped-def]
        from curator.tui.screens.constitution import ConstitutionScreen

        return ConstitutionScreen()

    def on_mount(self) -> None:
        # CPU-bound thread workers (duplicate checks) hold the GIL for up to the switch interval;
        # 5 ms (the default) per hand-back makes every key wait behind them. 1 ms keeps typing smooth.
        sys.setswitchinterval(0.001)
        from curator.tui.screens.constitution import ConstitutionScreen
        from curator.tui.screens.coverage import CoverageScreen
        from curator.tui.screens.evals import EvalsScreen
        from curator.tui.screens.examples import ExamplesScreen
        from curator.tui.screens.export import ExportScreen
        from curator.tui.screens.review import ReviewScreen

        self.add_mode("constitution", ConstitutionScreen)
        self.add_mode("examples", ExamplesScreen)
        self.add_mode("review", ReviewScreen)
        self.add_mode("coverage", CoverageScreen)
        self.add_mode("export", ExportScreen)
        self.add_mode("evals", EvalsScreen)
        self.switch_mode("constitution")
        # after the first paint: loading the index in parallel would compete for the GIL with it
        # (the clause tree shown starts it; the timer is the fallback should it never show)
        self.set_timer(DEDUP_LOAD_FALLBACK_S, self.start_dedup_load)

    def on_constitution_screen_loaded(self) -> None:
        """The clause tree is filled: once it is painted, the duplicate index can load."""
        self.call_after_refresh(self.start_dedup_load)

    def start_dedup_load(self) -> None:
        if not self._dedup_started:
            self._dedup_started = True
            self.load_dedup()

    @work(thread=True, exclusive=True, group="dedup-load")
    def load_dedup(self) -> None:
        from curator.dedup.engine import DedupEngine
        from curator.paths import dedup_index_file

        index_file = dedup_index_file(self.db_path)
        # usable at once: the file's checksums (~500 MB read a million records) are compared next
        engine = DedupEngine.load(lambda: self.workspace.db, index_file=index_file, verify_file=False)
        self.call_from_thread(setattr, self, "dedup", engine)
        # start-up is over: what is alive now lives as long as the app; full collections skip it
        with self._heap_lock:
            if not self._closing:  # an app closed meanwhile has released the heap already
                settle_heap()
                self._heap_settled = True
        if not engine.verify_file():
            self.call_from_thread(setattr, self, "dedup", None)  # checks say "index loading…" meanwhile
            engine = DedupEngine.load(lambda: self.workspace.db, index_file=index_file)  # rebuilds the file
            self.call_from_thread(self._dedup_rebuilt, engine)

    def _dedup_rebuilt(self, engine: DedupEngine) -> None:
        """The index file failed its later check (checksums, or the records it holds) after first use:
        never quietly keep what it answered."""
        from curator.tui.widgets.dup_panel import DupPanel

        self.dedup = engine
        self.notify(
            "The duplicate index file did not match its checksums or the stored records; it was rebuilt "
            "from the workspace and open duplicate checks were run again.",
            title="Duplicate index rebuilt",
            severity="warning",
            markup=False,
        )
        for panel in self.screen.query(DupPanel):
            panel.recheck()

    def assist_connection(self) -> tuple[Anthropic, Settings]:
        """The SDK client and the settings, made on first use only (from a worker: importing the SDK is slow).

        Without ANTHROPIC_API_KEY this raises AssistUnavailable and caches nothing; the key itself
        lives only inside the SDK client.
        """
        with self._assist_lock:
            if self._assist is None:
                from curator.assist.client import make_client
                from curator.config import load_settings

                settings = load_settings()
                self._assist = (make_client(settings, http_client=self.assist_http_client), settings)
            return self._assist

    # -- navigation used by every screen and by the command palette --------------------------

    def open_editor(self, example_id: str | None = None, *, kind: str = "story", clauses: tuple[str, ...] = ()) -> None:
        """Edit a stored example, or start a new one of `kind` linked to `clauses`."""
        from curator.tui.screens.editor import EditorScreen

        self.push_screen(EditorScreen(example_id=example_id, kind=kind, clauses=clauses))

    def open_history(self, example_id: str) -> None:
        from curator.tui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen(example_id))

    def action_open_annotation(self) -> None:
        """The acting user's blind annotation queue (on top of the current screen)."""
        from curator.tui.screens.annotate import AnnotateScreen

        if not isinstance(self.screen, AnnotateScreen):
            self.push_screen(AnnotateScreen())

    def action_open_adjudication(self) -> None:
        """The records whose annotators disagree, side by side (on top of the current screen)."""
        from curator.tui.screens.adjudicate import AdjudicateScreen

        if not isinstance(self.screen, AdjudicateScreen):
            self.push_screen(AdjudicateScreen())

    def open_clause(self, clause_id: str) -> None:
        self.switch_mode("constitution")
        screen = self.screen
        if hasattr(screen, "select_clause"):
            screen.select_clause(clause_id)

    def action_switch_user(self) -> None:
        """Act as another person (a lead reviewing after writing, a shared terminal); the header
        shows who is acting, and every later write and review rule uses the new name."""
        from curator.tui.screens.comment import CommentScreen

        def chosen(name: str | None) -> None:
            if name is None or not name.strip():
                return
            try:
                self.user = check_user_name(name)
            except CuratorError as err:
                self.notify(str(err), severity="error", markup=False)
                return
            self.sub_title = f"{Path(self.db_path).name} · {self.user}"
            self.notify(f"acting as {self.user}", markup=False)
            self._broadcast_change()  # review verdicts and queues depend on who is looking

        self.push_screen(
            CommentScreen("Switch user: the name to act as", ok_label="Switch", placeholder="name"), chosen
        )

    def action_show_help(self) -> None:
        from curator.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def on_example_saved(self, message: ExampleSaved) -> None:
        if self.dedup is not None:
            self.dedup.note_written(message.example)
        self._broadcast_change()

    def on_workspace_changed(self, _: WorkspaceChanged) -> None:
        self._broadcast_change()

    def _broadcast_change(self) -> None:
        # every mode keeps its own stack; screens in other modes must refresh too
        stacks = getattr(self, "_screen_stacks", {"_": self.screen_stack})
        for stack in list(stacks.values()):
            for screen in stack:
                if hasattr(screen, "refresh_data") and screen.is_mounted:
                    screen.refresh_data()

    async def action_quit(self) -> None:
        """Quit, unless an editor holds unsaved changes: then ask first (as Escape does)."""
        unsaved = [
            screen
            for stack in getattr(self, "_screen_stacks", {"_": self.screen_stack}).values()
            for screen in stack
            if getattr(screen, "dirty", False)
        ]
        if not unsaved:
            self.exit()
            return
        from curator.tui.screens.confirm import ConfirmScreen

        def answered(discard: bool | None) -> None:
            if discard:
                self.exit()

        what = "an example" if len(unsaved) == 1 else f"{len(unsaved)} examples"
        self.push_screen(
            ConfirmScreen(f"Unsaved changes in {what}. Quit and discard them?", yes="Quit", no="Keep editing"), answered
        )

    def on_unmount(self) -> None:
        with self._heap_lock:
            self._closing = True
            if self._heap_settled:
                release_heap()
        if self._assist is not None:
            self._assist[0].close()
        self.workspace.close()


def run(db_path: Path | str, *, user: str) -> None:
    """Open the TUI (called lazily by the CLI)."""
    CuratorApp(db_path, user=user).run()
