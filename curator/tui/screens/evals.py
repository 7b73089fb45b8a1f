"""The Evals screen: suites and their runs, a run's per-clause violation rates (beside a second run's),
a clause's responses, and people's verdicts that override the judge; runs and gradings started and
followed here (`eval_run.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Header, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from curator.errors import CuratorError
from curator.evals import browse, report
from curator.store import evals as store
from curator.tui.messages import WorkspaceChanged
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.eval_run import BatchJob, JobEnded, JobProgress, follow_job, resume_job
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter

if TYPE_CHECKING:
    from curator.config import Settings

VERDICT_STYLES = {"complies": "green", "violates": "bold red", "unclear": "yellow"}
VERDICT_KEYS = {"o": "complies", "v": "violates", "u": "unclear"}
"""The override keys, on a response row and in the transcript viewer."""


def verdict_cell(verdict: str | None) -> Text:
    return plain(verdict or "-", VERDICT_STYLES.get(verdict or "", "dim"))


def grading_label(grading: store.Grading | None) -> str:
    """The grading a report counts, as the CLI's report names it."""
    return f"judge {grading.judge} (grading {grading.id})" if grading else "no judge grading"


def run_status(summary: browse.RunSummary) -> Text:
    if summary.in_progress:
        return plain("in progress", "bold yellow")
    return plain(summary.run.status, "green" if summary.run.status == store.RUN_COMPLETE else "")


def change_cell(direction: str | None) -> Text:
    """A comparison's mark: only where the two runs' intervals do not overlap."""
    if direction == "higher":
        return plain("▲ higher", "bold red")
    if direction == "lower":
        return plain("▼ lower", "bold green")
    return plain("")


def ask_override(screen: Screen[Any], item: str, sample: int, clause: str, verdict: str) -> None:
    """Ask for the reason of a person's verdict, then write it (the screen's `write_verdict` worker)."""
    from curator.tui.screens.comment import CommentScreen

    def given(reason: str | None) -> None:
        if reason is not None:
            screen.write_verdict(item, sample, clause, verdict, reason)  # type: ignore[attr-defined]

    screen.app.push_screen(
        CommentScreen(
            f"{item} sample {sample}, {clause}: {verdict}. Why?",
            require_comment=True,
            ok_label=f"Mark {verdict}",
            placeholder="reason",
        ),
        given,
    )


class VerdictWritten(Message):
    """A person's verdict was stored (or refused: `error`)."""

    def __init__(self, item: str, sample: int, clause: str, verdict: str, error: str | None) -> None:
        super().__init__()
        self.item, self.sample, self.clause, self.verdict, self.error = item, sample, clause, verdict, error


class RunPicker(ModalScreen[str | None]):
    """Pick the run to compare with (or none)."""

    HELP_NAME = "Pick a run"
    CSS_PATH = "evals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    NONE = "\x00none"

    def __init__(self, runs: list[browse.RunSummary], current: str | None) -> None:
        super().__init__()
        self.runs = runs
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Static(content("Compare with which run?"), id="picker-heading")
            options = [Option(content("no comparison"), id=self.NONE)]
            options += [
                Option(join((s.run.id, "bold"), f"  {s.run.model}  ", (s.run.status, "dim")), id=s.run.id)
                for s in self.runs
            ]
            yield OptionList(*options, id="picker-list")

    def on_mount(self) -> None:
        picker = self.query_one(OptionList)
        if self.current is not None:
            picker.highlighted = picker.get_option_index(self.current)
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(None if event.option_id == self.NONE else event.option_id)

    def action_cancel(self) -> None:
        self.dismiss(self.current)


class EvalsScreen(Screen[None]):
    """How often each model's answers break each clause, and why, down to one response."""

    HELP_NAME = "Evals"
    CSS_PATH = "evals.tcss"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_suite", "New suite", tooltip="Create an empty suite and write its prompts here"),
        Binding("p", "open_suite", "Prompts", tooltip="The highlighted suite's prompts: add, edit, delete"),
        Binding("s", "toggle_sort", "Sort", tooltip="Clauses by violation rate, or in document order"),
        Binding("c", "compare", "Compare", tooltip="Show a second run's rates beside this run's"),
        Binding(
            "R",
            "run_suite",
            "Run suite…",
            show=False,
            tooltip="Run a model over the suite (asks model, samples, max tokens; shows the estimate); "
            "on a run in progress: resume polling its batch",
        ),
        Binding("G", "grade_run", "Grade run", show=False, tooltip="Grade the highlighted run with a judge model"),
        Binding("o", "override('complies')", "Complies", show=False),
        Binding("v", "override('violates')", "Violates", show=False),
        Binding("u", "override('unclear')", "Unclear", show=False),
        Binding("r", "reload", "Reload", show=False),
    ]

    class SuitesLoaded(Message):
        def __init__(self, suites: list[dict[str, Any]]) -> None:
            super().__init__()
            self.suites = suites

    class RunsLoaded(Message):
        def __init__(self, suite: str, runs: list[browse.RunSummary]) -> None:
            super().__init__()
            self.suite, self.runs = suite, runs

    class ReportLoaded(Message):
        def __init__(self, run: str, compare: str | None, report: report.RunReport | None, error: str | None) -> None:
            super().__init__()
            self.run, self.compare, self.report, self.error = run, compare, report, error

    class ResponsesLoaded(Message):
        def __init__(self, run: str, clause: str, rows: list[browse.ResponseRow]) -> None:
            super().__init__()
            self.run, self.clause, self.rows = run, clause, rows

    def __init__(self) -> None:
        super().__init__()
        self.suite: str | None = None
        self.runs: list[browse.RunSummary] = []
        self.run: str | None = None
        self.compare: str | None = None
        self.report: report.RunReport | None = None
        self.by_rate = True
        self.clause: str | None = None
        """The clause whose responses are listed (Enter on a clause row)."""
        self.responses: list[browse.ResponseRow] = []
        self._focus_responses = False
        """Enter on a clause moves to its responses once they arrive (a refresh leaves the focus alone)."""
        self.job: BatchJob | None = None
        """The run or grading a worker is sending and polling (one at a time)."""
        self.job_run: str | None = None
        self.job_done: tuple[int, int] | None = None
        """(requests done, all requests) after the last poll."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="evals-main"):
            with Vertical(id="evals-left"):
                yield Static(content("Suites"), id="suites-title", classes="pane-title")
                yield FitTable(id="suites", cursor_type="row", flex="suite", flex_min=8)
                yield Static(content("Runs"), id="runs-title", classes="pane-title")
                yield FitTable(id="runs", cursor_type="row", flex="model", flex_min=8)
                with Vertical(id="batch"):
                    yield Static(content(""), id="batch-line")
                    yield ProgressBar(id="batch-bar", show_eta=False)
            with Vertical(id="evals-right"):
                yield Static(content("No run selected"), id="report-title", classes="pane-title")
                yield FitTable(id="clauses", cursor_type="row", flex="clause", flex_min=12)
                yield Static(
                    content("Enter on a clause lists its responses"), id="responses-title", classes="pane-title"
                )
                yield FitTable(id="responses", cursor_type="row", flex="reason", flex_min=10)
        yield KeyFooter()

    def on_mount(self) -> None:
        suites = self.query_one("#suites", DataTable)
        for name in ("suite", "prompts", "clauses", "runs"):
            suites.add_column(name, key=name)
        runs = self.query_one("#runs", DataTable)
        # short labels: the left pane is narrow and the report beside it needs the room
        for name, label in (
            ("run", "run"),
            ("model", "model"),
            ("status", "status"),
            ("responses", "answers"),
            ("gradings", "graded"),
        ):
            runs.add_column(label, key=name)
        responses = self.query_one("#responses", DataTable)
        for name in ("item", "sample", "verdict", "by", "reason"):
            responses.add_column(name, key=name)
        self._clause_columns()
        self.query_one("#batch").display = False
        self.query_one("#batch-bar").display = False
        suites.loading = True
        self.load_suites()

    def refresh_data(self) -> None:
        self.load_suites()

    def action_reload(self) -> None:
        self.load_suites()

    # -- suites and runs ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="evals-suites")
    def load_suites(self) -> None:
        suites = store.list_suites(self.app.workspace.db)  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:
            self.post_message(self.SuitesLoaded(suites))

    def on_evals_screen_suites_loaded(self, message: SuitesLoaded) -> None:
        table = self.query_one("#suites", DataTable)
        table.loading = False
        table.clear()
        for s in message.suites:
            table.add_row(
                clipped(s["name"]),
                plain(str(s["items"])),
                plain(str(s["clauses"])),
                plain(str(s["runs"])),
                key=s["name"],
            )
        names = [s["name"] for s in message.suites]
        if not names:
            self.suite = None
            self.query_one("#suites-title", Static).update(content("Suites: none (n: new suite)"))
            self.query_one("#runs", DataTable).clear()
            self._select_run(None, force=True)
            return
        self.query_one("#suites-title", Static).update(content(f"Suites ({len(names)})"))
        keep = self.suite if self.suite in names else names[0]
        table.move_cursor(row=names.index(keep))
        self.suite = keep
        self.load_runs(keep)

    @on(DataTable.RowHighlighted, "#suites")
    def _suite_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value
        if event.cursor_row != event.data_table.cursor_row:
            return  # posted before a refill moved the cursor back to the selection
        if name and name != self.suite:
            self.suite = name
            self.run = None
            self.load_runs(name)

    @on(DataTable.RowSelected, "#suites")
    def _suite_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_suite()

    def action_open_suite(self) -> None:
        """The highlighted suite's prompts, to add, edit and delete."""
        from curator.tui.screens.eval_suite import SuiteScreen

        if self.suite is None:
            self.notify("no suite yet: n creates one", markup=False)
            return
        self.app.push_screen(SuiteScreen(self.suite))

    def action_new_suite(self) -> None:
        from curator.tui.screens.eval_suite import NewSuiteDialog

        def created(name: str | None) -> None:
            if name is not None:
                self.suite = name
                self.notify(f"created suite {name}: p adds its prompts", markup=False)
                self.app.post_message(WorkspaceChanged())

        self.app.push_screen(NewSuiteDialog(), created)

    @work(thread=True, exclusive=True, group="evals-runs")
    def load_runs(self, suite: str) -> None:
        runs = browse.run_summaries(self.app.workspace.db, suite)  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:
            self.post_message(self.RunsLoaded(suite, runs))

    def on_evals_screen_runs_loaded(self, message: RunsLoaded) -> None:
        if message.suite != self.suite:
            return
        self.runs = message.runs
        table = self.query_one("#runs", DataTable)
        table.clear()
        for s in message.runs:
            table.add_row(
                plain(s.run.id),
                clipped(s.run.model),
                self._job_status(s.run.id) or run_status(s),
                plain(str(s.responses)),
                plain(str(s.gradings)),
                key=s.run.id,
            )
        self.query_one("#runs-title", Static).update(content(f"Runs of {message.suite} ({len(message.runs)})"))
        ids = [s.run.id for s in message.runs]
        if not ids:
            self._select_run(None, force=True)
            return
        keep = self.run if self.run in ids else ids[-1]  # the newest run first
        table.move_cursor(row=ids.index(keep))
        self._select_run(keep, force=True)

    @on(DataTable.RowHighlighted, "#runs")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return  # posted before a refill moved the cursor back to the selection
        if event.row_key.value and event.row_key.value != self.run:
            self._select_run(event.row_key.value)

    def _select_run(self, run_id: str | None, *, force: bool = False) -> None:
        if run_id == self.run and not force:
            return
        if run_id != self.run:
            self.clause = None
            self._show_responses(None, [])
        self.run = run_id
        if run_id is None:
            self.report = None
            self.query_one("#clauses", DataTable).clear()
            self.query_one("#report-title", Static).update(content("No runs of this suite yet"))
            return
        if self.compare == run_id:
            self.compare = None
        self.query_one("#clauses", DataTable).loading = True
        self.load_report(run_id, self.compare)

    # -- the report --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="evals-report")
    def load_report(self, run_id: str, compare: str | None) -> None:
        try:
            found = report.build_report(self.app.workspace.db, run_id, compare=compare)  # type: ignore[attr-defined]
            error = None
        except CuratorError as err:
            found, error = None, str(err)
        if not get_current_worker().is_cancelled:
            self.post_message(self.ReportLoaded(run_id, compare, found, error))

    def on_evals_screen_report_loaded(self, message: ReportLoaded) -> None:
        if message.run != self.run or message.compare != self.compare:
            return
        table = self.query_one("#clauses", DataTable)
        table.loading = False
        if message.error is not None:
            self.notify(message.error, severity="error", markup=False)
            return
        self.report = message.report
        self._fill_clauses()
        if self.clause is not None:
            self.load_responses(message.run, self.clause, self._grading_id())

    def _grading_id(self) -> int | None:
        return self.report.grading.id if self.report is not None and self.report.grading else None

    def _clause_columns(self) -> None:
        table = self.query_one("#clauses", DataTable)
        table.clear(columns=True)
        for name in ("clause", "n", "viol", "rate", "95% interval", "unclear"):
            table.add_column(name, key=name)
        if self.compare is not None:
            table.add_column(f"{self.compare} rate", key="compare")
            table.add_column("change", key="change")

    def _fill_clauses(self) -> None:
        table = self.query_one("#clauses", DataTable)
        keep = self.highlighted_clause()
        self._clause_columns()
        r = self.report
        if r is None:
            return
        rows = list(r.clauses)
        if self.by_rate:
            rows.sort(key=lambda c: (c.rate is None, -(c.rate or 0.0), c.id))
        changes = {c.id: c for c in r.changes}
        for c in rows:
            low, high = c.interval
            label = join(c.id, (f"  {c.title}", "dim"))
            label.no_wrap, label.overflow = True, "ellipsis"
            rate_style = "bold red" if c.n and low > 0 else ""
            cells: list[Text] = [
                label,
                plain(str(c.n)),
                plain(str(c.violations)),
                plain(report.percent(c.rate), rate_style),
                plain(f"{report.percent(low)}–{report.percent(high)}" if c.n else "-"),
                plain(str(c.unclear)),
            ]
            if self.compare is not None:
                change = changes.get(c.id)
                before = change.before if change else None
                cells.append(plain(report.percent(before.rate) if before else "-"))
                cells.append(change_cell(change.direction if change else None))
            table.add_row(*cells, key=c.id)
        ids = [c.id for c in rows]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        title: list[tuple[str, str] | str] = [
            (r.run.id, "bold"),
            f" {r.run.model} · {grading_label(r.grading)} · {r.human} human",
            (" · by rate" if self.by_rate else " · document order", "dim"),
        ]
        if r.run.status == store.RUN_SUBMITTED:
            title.append((" · in progress", "bold yellow"))
        if r.compare is not None:
            title.append(f" · vs {r.compare.run.id} ({grading_label(r.compare.grading)})")
        self.query_one("#report-title", Static).update(join(*title))

    def highlighted_clause(self) -> str | None:
        table = self.query_one("#clauses", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_toggle_sort(self) -> None:
        self.by_rate = not self.by_rate
        self._fill_clauses()

    def action_compare(self) -> None:
        if self.run is None:
            return

        def chosen(run_id: str | None) -> None:
            if run_id == self.compare or self.run is None:
                return
            if run_id == self.run:
                self.notify("that is the run shown; pick another to compare with", markup=False)
                return
            self.compare = run_id
            self.query_one("#clauses", DataTable).loading = True
            self.load_report(self.run, run_id)

        others = [s for s in self.runs if s.run.id != self.run]
        self.app.push_screen(RunPicker(others, self.compare), chosen)

    # -- one clause's responses --------------------------------------------------------------------

    @on(DataTable.RowSelected, "#clauses")
    def _clause_selected(self, event: DataTable.RowSelected) -> None:
        clause = event.row_key.value
        if clause and self.run is not None:
            self.clause = clause
            self._focus_responses = True
            self.query_one("#responses", DataTable).loading = True
            self.load_responses(self.run, clause, self._grading_id())

    @work(thread=True, exclusive=True, group="evals-responses")
    def load_responses(self, run_id: str, clause: str, grading_id: int | None) -> None:
        rows = browse.clause_responses(self.app.workspace.db, run_id, clause, grading_id)  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:
            self.post_message(self.ResponsesLoaded(run_id, clause, rows))

    def on_evals_screen_responses_loaded(self, message: ResponsesLoaded) -> None:
        if message.run != self.run or message.clause != self.clause:
            return
        self._show_responses(message.clause, message.rows)
        if self._focus_responses:
            self._focus_responses = False
            self.query_one("#responses", DataTable).focus()

    def _show_responses(self, clause: str | None, rows: list[browse.ResponseRow]) -> None:
        table = self.query_one("#responses", DataTable)
        table.loading = False
        keep = self.highlighted_response()
        self.responses = rows
        table.clear()
        for row in rows:
            by = "" if row.verdict is None else ("human" if row.human else "judge")
            table.add_row(
                clipped(row.item),
                plain(str(row.sample)),
                verdict_cell(row.verdict) if row.error is None else plain("failed", "dim"),
                plain(by, "bold" if row.human else "dim"),
                clipped(row.error or row.reason),
                key=f"{row.item}\x00{row.sample}",
            )
        keys = [(r.item, r.sample) for r in rows]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        title = "Enter on a clause lists its responses" if clause is None else f"Responses for {clause} ({len(rows)})"
        self.query_one("#responses-title", Static).update(content(title))

    def highlighted_response(self) -> tuple[str, int] | None:
        table = self.query_one("#responses", DataTable)
        if not table.row_count or not self.responses:
            return None
        row = self.responses[table.cursor_row] if table.cursor_row < len(self.responses) else None
        return (row.item, row.sample) if row else None

    @on(DataTable.RowSelected, "#responses")
    def _response_selected(self, event: DataTable.RowSelected) -> None:
        chosen = self.highlighted_response()
        if chosen is None or self.run is None or self.clause is None:
            return
        from curator.tui.screens.eval_transcript import TranscriptScreen

        self.app.push_screen(TranscriptScreen(self.run, chosen[0], chosen[1], self.clause, self._grading_id()))

    # -- people's verdicts -------------------------------------------------------------------------

    def action_override(self, verdict: str) -> None:
        chosen = self.highlighted_response()
        if chosen is None or self.clause is None or self.focused is not self.query_one("#responses"):
            self.notify("highlight a response first (Enter on a clause lists them)", markup=False)
            return
        ask_override(self, chosen[0], chosen[1], self.clause, verdict)

    @work(thread=True, group="evals-verdict")
    def write_verdict(self, item: str, sample: int, clause: str, verdict: str, reason: str) -> None:
        write_verdict(self, item, sample, clause, verdict, reason, run_id=self.run)

    def on_verdict_written(self, message: VerdictWritten) -> None:
        verdict_written(self, message)

    # -- runs and gradings through the Message Batches API -----------------------------------------

    POLL_INTERVAL: ClassVar[float] = 15.0
    """Seconds between polls of a batch (as `eval run --poll`'s default)."""

    def _api_ready(self) -> bool:
        """No key: the editor's notice; a batch already followed here: say so. True when one may start."""
        from curator.assist.env import KEY_VAR, api_key_from_env
        from curator.tui.editor_assist import NO_KEY

        try:
            api_key_from_env()
        except CuratorError:
            self.notify(NO_KEY, title=f"{KEY_VAR} is not set", severity="warning", markup=False, timeout=12)
            return False
        if self.job is not None:
            self.notify(f"{self.job.label()} is being followed: wait for it to end", severity="warning", markup=False)
            return False
        return True

    def _settings(self) -> Settings | None:
        """The settings (default models, max tokens); a broken config file is one notice and None."""
        from curator.config import load_settings

        try:
            return load_settings()
        except CuratorError as err:
            self.notify(str(err), severity="error", markup=False)
            return None

    def _summary(self) -> browse.RunSummary | None:
        return next((s for s in self.runs if s.run.id == self.run), None)

    def action_run_suite(self) -> None:
        """A new run of the highlighted suite (the dialog), or the highlighted run in progress resumed."""
        from curator.tui.screens.eval_run import RunDialog

        if self.suite is None:
            self.notify("no suite yet: n creates one", markup=False)
            return
        if not self._api_ready():
            return
        summary = self._summary()
        if summary is not None and summary.in_progress:
            job = resume_job(summary.run)
            if isinstance(job, str):
                self.notify(job, severity="warning", markup=False)
                return
            self.notify(f"resuming {job.run_id}: polling its batch, nothing new is sent", markup=False)
            self._start(job)
            return
        settings = self._settings()
        if settings is None:
            return

        def chosen(job: BatchJob | None) -> None:
            if job is not None:
                self._start(job)

        self.app.push_screen(RunDialog(self.suite, settings.assist_model, settings.assist_max_tokens), chosen)

    def action_grade_run(self) -> None:
        """Grade the highlighted run with a judge model (asked, the settings' model to start with)."""
        from curator.tui.screens.eval_run import JudgeDialog

        summary = self._summary()
        if summary is None or self.suite is None:
            self.notify("highlight a run to grade", markup=False)
            return
        if summary.in_progress:
            self.notify(f"{summary.run.id} has no results yet: R resumes it", severity="warning", markup=False)
            return
        if not self._api_ready():
            return
        settings = self._settings()
        if settings is None:
            return
        run, suite = summary.run, self.suite

        def chosen(judge: str | None) -> None:
            if judge is not None:
                self._start(BatchJob("grade", suite, judge, run_id=run.id))

        self.app.push_screen(JudgeDialog(run.id, settings.assist_model), chosen)

    def _start(self, job: BatchJob) -> None:
        if self.job is not None:  # a second dialog answered while the first job runs
            self.notify(f"{self.job.label()} is being followed: wait for it to end", severity="warning", markup=False)
            return
        self.job, self.job_run, self.job_done = job, job.run_id if job.kind != "grade" else None, None
        self.query_one("#batch").display = True
        bar = self.query_one("#batch-bar", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one("#batch-line", Static).update(join((job.label(), "bold"), ": sending…"))
        self.follow(job, self.POLL_INTERVAL)

    @work(thread=True, group="evals-batch", exit_on_error=False)
    def follow(self, job: BatchJob, poll_interval: float) -> None:
        follow_job(self, job, poll_interval)

    def _job_status(self, run_id: str) -> Text | None:
        """A run followed here: `12/264 done` in its status cell."""
        if self.job is None or self.job.kind == "grade" or run_id != self.job_run or self.job_done is None:
            return None
        done, total = self.job_done
        return plain(f"{done}/{total} done", "bold yellow")

    def on_job_progress(self, message: JobProgress) -> None:
        if message.job is not self.job:
            return
        first_sight = message.run_id is not None and self.job_run is None
        self.job_run = message.run_id if self.job.kind != "grade" else None
        self.job_done = (message.done, message.total)
        self.query_one("#batch-bar", ProgressBar).update(total=message.total or None, progress=message.done)
        label = self.job.label() if self.job.kind == "grade" else f"{message.run_id or 'new run'} {self.job.model}"
        self.query_one("#batch-line", Static).update(join((label, "bold"), f": {message.done}/{message.total} done"))
        if first_sight:
            self.app.post_message(WorkspaceChanged())  # the new submitted run appears in the list
            return
        status = self._job_status(message.run_id or "")
        table = self.query_one("#runs", DataTable)
        if status is not None and message.run_id is not None and message.run_id in table.rows:
            table.update_cell(message.run_id, "status", status)

    def on_job_ended(self, message: JobEnded) -> None:
        if message.job is not self.job:
            return
        self.job, self.job_run, self.job_done = None, None, None
        self.query_one("#batch-bar").display = False
        style = "bold red" if message.error else ("yellow" if message.warn else "green")
        self.query_one("#batch-line", Static).update(plain(message.line, style))
        severity: Literal["information", "warning", "error"] = (
            "error" if message.error else ("warning" if message.warn else "information")
        )
        self.notify(message.line, severity=severity, markup=False, timeout=15 if message.error else 10)
        if not message.error and message.run_id is not None:
            self.run = message.run_id  # the run just stored or graded is the one shown
        self.app.post_message(WorkspaceChanged())


def write_verdict(
    screen: Screen[Any], item: str, sample: int, clause: str, verdict: str, reason: str, *, run_id: str | None
) -> None:
    """In a worker: store a person's verdict through the service and post the outcome back."""
    from curator.evals.runs import set_verdict

    if run_id is None:
        return
    app: Any = screen.app
    try:
        set_verdict(app.workspace.db, run_id, item, clause, verdict, actor=app.user, reason=reason, sample=sample)
        error = None
    except CuratorError as err:
        error = str(err)
    screen.post_message(VerdictWritten(item, sample, clause, verdict, error))


def verdict_written(screen: Screen[Any], message: VerdictWritten) -> None:
    """Say what happened; on success every screen reloads (rates, lists, coverage) through WorkspaceChanged."""
    if message.error is not None:
        screen.notify(message.error, severity="error", markup=False)
        return
    screen.notify(f"{message.item} sample {message.sample}: {message.verdict} (human)", markup=False)
    screen.app.post_message(WorkspaceChanged())
