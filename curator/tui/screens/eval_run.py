"""Starting and following eval runs and gradings from the Evals screen.

`RunDialog` asks for the model, samples and max tokens and shows the estimate as they change;
`JudgeDialog` asks for the judge model. `follow_job` is what the Evals screen's thread worker runs:
`evals/batch.run_suite` or `evals/judge.grade_run`, which poll the batch and post `JobProgress`
back after each poll and `JobEnded` once the results are stored (or the one-line error). The
anthropic SDK is imported by those modules, so only inside the workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Static
from textual.worker import get_current_worker

from curator.errors import CuratorError
from curator.redact import redact
from curator.tui.safe import content, plain
from curator.tui.widgets.assist_panel import one_line
from curator.tui.widgets.exact_text import ExactInput

if TYPE_CHECKING:
    from curator.evals.batch import BatchRun
    from curator.store import evals as store

MAX_SAMPLES = 100
MAX_TOKENS = 200_000
"""The limits `curator eval run` takes for --samples and --max-tokens."""


@dataclass(frozen=True)
class BatchJob:
    """What a worker sends and follows: a new run, a submitted run resumed, or a grading."""

    kind: Literal["run", "resume", "grade"]
    suite: str
    model: str
    """The model run over the suite, or the judge."""
    samples: int = 1
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    run_id: str | None = None
    """The run resumed or graded; None for a new run until its batch exists."""

    def label(self) -> str:
        if self.kind == "grade":
            return f"grading {self.run_id} with {self.model}"
        if self.kind == "resume":
            return f"{self.run_id} {self.model} (resumed)"
        return f"{self.run_id or 'new run'} {self.model}"


def resume_job(run: store.Run) -> BatchJob | str:
    """The job that polls a submitted run's own batch with its own settings, or why there is none."""
    if run.source != "batch" or not run.batch_id:
        return f"{run.id} was not sent through the Message Batches API: nothing to resume"
    p = run.params
    return BatchJob(
        "resume",
        run.suite,
        run.model,
        samples=int(p.get("samples") or 1),
        system=p.get("system"),
        max_tokens=p.get("max_tokens"),
        temperature=p.get("temperature"),
        run_id=run.id,
    )


def notice_line(text: str) -> str:
    """One line for a notice or the screen: no newline, no key, no escape sequence."""
    return one_line(redact(text))


def run_line(ran: BatchRun) -> str:
    """What a finished run stored, as one line."""
    parts = [f"{ran.run_id}: {ran.responses} responses stored"]
    if ran.resumed:
        parts.append(f"resumed batch {ran.batch_id}")
    if ran.failed:
        first = ran.failed[0]
        parts.append(f"{len(ran.failed)} requests failed (first: {first.where()}: {first.error})")
    return "; ".join(parts)


class JobProgress(Message):
    """After a poll: the batch's requests done of all (`run_id` once the run row exists)."""

    def __init__(self, job: BatchJob, run_id: str | None, done: int, total: int) -> None:
        super().__init__()
        self.job, self.run_id, self.done, self.total = job, run_id, done, total


class JobEnded(Message):
    """The results are stored (`line` says what), or the job failed (`error`, one line)."""

    def __init__(self, job: BatchJob, run_id: str | None, line: str, error: bool, warn: bool = False) -> None:
        super().__init__()
        self.job, self.run_id, self.line, self.error, self.warn = job, run_id, line, error, warn


class _Cancelled(Exception):
    """The worker was cancelled (the screen or the app closed): stop; a run stays submitted."""


def follow_job(screen: Screen[Any], job: BatchJob, poll_interval: float) -> None:
    """In a thread worker: send (or resume) the batch, poll it, store its results, post the outcome."""
    worker = get_current_worker()
    app: Any = screen.app
    run_id = job.run_id

    def check() -> None:
        if worker.is_cancelled:
            raise _Cancelled

    def sleep(seconds: float) -> None:
        """Wait between polls, a little at a time, so a cancelled worker stops at once."""
        end = time.monotonic() + seconds
        while True:
            check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.2))

    try:
        client, settings = app.assist_connection()
        check()
        db = app.workspace.db
        from curator.evals.batch import run_params, run_suite
        from curator.store import evals as store

        def progress(counts: dict[str, int]) -> None:
            nonlocal run_id
            check()
            if run_id is None:  # the run row was written with the batch: its id, for the list
                params = run_params(
                    samples=job.samples,
                    system=job.system,
                    max_tokens=job.max_tokens or settings.assist_max_tokens,
                    temperature=job.temperature,
                )
                found = store.find_open_run(db, job.suite, job.model, params)
                run_id = found.id if found else None
            done = sum(v for k, v in counts.items() if k != "processing")
            screen.post_message(JobProgress(job, run_id, done, done + counts.get("processing", 0)))

        if job.kind == "grade":
            from curator.evals.judge import grade_run

            graded = grade_run(
                db,
                client,
                settings,
                run_id=str(job.run_id),
                judge_model=job.model,
                actor=app.user,
                progress=progress,
                poll_interval=poll_interval,
                sleep=sleep,
            )
            unsure = bool(graded.failed or graded.dropped or graded.missing or graded.evidence_not_found)
            outcome = JobEnded(job, run_id, notice_line(graded.line()), error=False, warn=unsure)
        else:
            ran = run_suite(
                db,
                client,
                settings,
                db_path=app.db_path,
                suite=job.suite,
                model=job.model,
                samples=job.samples,
                system=job.system,
                max_tokens=job.max_tokens,
                temperature=job.temperature,
                actor=app.user,
                progress=progress,
                poll_interval=poll_interval,
                sleep=sleep,
                # the person confirmed the estimate in the dialog; a resume must never send a new batch
                confirm=lambda _: job.kind == "run",
            )
            if ran is None:
                line = f"{job.run_id}: no submitted run with its model and settings was found; nothing sent"
                outcome = JobEnded(job, run_id, line, error=True)
            else:
                outcome = JobEnded(job, ran.run_id, notice_line(run_line(ran)), error=False, warn=bool(ran.failed))
    except _Cancelled:
        return
    except CuratorError as err:
        outcome = JobEnded(job, run_id, notice_line(str(err)), error=True)
    except Exception as err:  # an SDK surprise (or the app closing under the worker) must not crash the screen
        outcome = JobEnded(job, run_id, notice_line(f"{type(err).__name__}: {err}"), error=True)
    if not worker.is_cancelled:
        screen.post_message(outcome)


# -- the dialogs ---------------------------------------------------------------------------------


def parse_run_fields(model: str, samples: str, max_tokens: str) -> tuple[str, int, int | None] | str:
    """(model, samples, max tokens or None for the settings') from the fields, or what is wrong."""
    model = model.strip()
    if not model:
        return "give the model to run"
    try:
        count = int(samples.strip())
    except ValueError:
        return f"samples must be a whole number from 1 to {MAX_SAMPLES}"
    if not 1 <= count <= MAX_SAMPLES:
        return f"samples must be a whole number from 1 to {MAX_SAMPLES}"
    if not max_tokens.strip():
        return model, count, None
    try:
        limit = int(max_tokens.strip())
    except ValueError:
        return f"max tokens must be a whole number from 1 to {MAX_TOKENS:,}"
    if not 1 <= limit <= MAX_TOKENS:
        return f"max tokens must be a whole number from 1 to {MAX_TOKENS:,}"
    return model, count, limit


class RunDialog(ModalScreen[BatchJob | None]):
    """Model, samples and max tokens of a new run, with its estimate; only Send sends."""

    HELP_NAME = "Run suite"
    CSS_PATH = "evals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send"),
        Binding("escape", "cancel", "Cancel"),
    ]

    class Estimated(Message):
        def __init__(self, fields: tuple[str, int, int | None], line: str, error: bool) -> None:
            super().__init__()
            self.fields, self.line, self.error = fields, line, error

    def __init__(self, suite: str, model: str, default_max_tokens: int) -> None:
        super().__init__()
        self.suite = suite
        self.model = model
        self.default_max_tokens = default_max_tokens
        self.estimated: tuple[str, int, int | None] | None = None
        """The fields the estimate on show was made for (Send sends only those)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="run-dialog"):
            yield Static(content(f"Run a model over suite {self.suite} (Message Batches)"), id="run-heading")
            yield Static(content("Model"), classes="field-label")
            yield ExactInput(value=self.model, id="run-model")
            with Horizontal(id="run-numbers"):
                with Vertical():
                    yield Static(content("Samples per prompt"), classes="field-label")
                    yield Input(value="1", id="run-samples")
                with Vertical():
                    yield Static(content(f"Max tokens (empty: {self.default_max_tokens:,})"), classes="field-label")
                    yield Input(id="run-max-tokens")
            yield Static(content("estimating…"), id="run-estimate")
            with Horizontal(id="run-buttons"):
                yield Button("Send", id="run-send", variant="primary")
                yield Button("Cancel", id="run-cancel")

    def on_mount(self) -> None:
        self.query_one("#run-model", Input).focus()
        self._changed()

    def _fields(self) -> tuple[str, int, int | None] | str:
        return parse_run_fields(
            self.query_one("#run-model", Input).value,
            self.query_one("#run-samples", Input).value,
            self.query_one("#run-max-tokens", Input).value,
        )

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed()

    def _changed(self) -> None:
        self.estimated = None
        fields = self._fields()
        if isinstance(fields, str):
            self.workers.cancel_group(self, "run-estimate")
            self._show(fields, error=True)
            return
        self.estimate(fields)

    @work(thread=True, exclusive=True, group="run-estimate", exit_on_error=False)
    def estimate(self, fields: tuple[str, int, int | None]) -> None:
        app: Any = self.app
        try:
            from curator.config import load_settings
            from curator.evals.batch import estimate_suite

            model, samples, max_tokens = fields
            found = estimate_suite(
                app.workspace.db,
                load_settings(),
                suite=self.suite,
                model=model,
                samples=samples,
                system=None,
                max_tokens=max_tokens,
            )
            line, error = found.line(), False
            if found.requests == 0:
                line, error = f"suite {self.suite} has no prompts: p adds some", True
        except CuratorError as err:
            line, error = notice_line(str(err)), True
        if not get_current_worker().is_cancelled:
            self.post_message(self.Estimated(fields, line, error))

    def on_run_dialog_estimated(self, message: Estimated) -> None:
        if message.fields != self._fields():
            return  # made for values typed over since
        self.estimated = None if message.error else message.fields
        self._show(message.line, error=message.error)

    def _show(self, line: str, *, error: bool) -> None:
        self.query_one("#run-estimate", Static).update(plain(line, "bold red" if error else "bold"))

    def action_send(self) -> None:
        fields = self._fields()
        if isinstance(fields, str):
            self._show(fields, error=True)
            return
        if self.estimated != fields:
            self.notify("wait for the estimate of these values, then send", severity="warning", markup=False)
            return
        model, samples, max_tokens = fields
        self.dismiss(BatchJob("run", self.suite, model, samples=samples, max_tokens=max_tokens))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#run-send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#run-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


class JudgeDialog(ModalScreen[str | None]):
    """The judge model that grades a run (the settings' model to start with)."""

    HELP_NAME = "Grade run"
    CSS_PATH = "evals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "grade", "Grade"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, run_id: str, model: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.model = model

    def compose(self) -> ComposeResult:
        with Vertical(id="judge-dialog"):
            yield Static(
                content(f"Grade {self.run_id}: one judge request per response (Message Batches)"), id="judge-heading"
            )
            yield Static(content("Judge model"), classes="field-label")
            yield ExactInput(value=self.model, id="judge-model")
            yield Static(content(""), id="judge-error")
            with Horizontal(id="judge-buttons"):
                yield Button("Grade", id="judge-grade", variant="primary")
                yield Button("Cancel", id="judge-cancel")

    def on_mount(self) -> None:
        self.query_one("#judge-model", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_grade()

    def action_grade(self) -> None:
        model = self.query_one("#judge-model", Input).value.strip()
        if not model:
            self.query_one("#judge-error", Static).update(plain("give the judge model", "bold red"))
            return
        self.dismiss(model)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#judge-grade")
    def _grade_pressed(self) -> None:
        self.action_grade()

    @on(Button.Pressed, "#judge-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
