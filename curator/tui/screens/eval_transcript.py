"""One eval response read for one clause: the prompt, the answer with the judge's evidence marked in
it, the clause and the verdicts; keys that let a person override the judge."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from curator.errors import CuratorError
from curator.evals import browse
from curator.tui.safe import content
from curator.tui.screens.evals import (
    VERDICT_STYLES,
    VerdictWritten,
    ask_override,
    grading_label,
    verdict_written,
    write_verdict,
)
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.footer import KeyFooter

EVIDENCE_STYLE = "black on yellow"


def turn_text(turn: dict[str, Any]) -> str:
    """A prompt turn's words: text blocks, tool calls by name with their input, tool results."""
    body = turn.get("content")
    if isinstance(body, str):
        return body
    parts: list[str] = []
    for block in body or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            call = json.dumps(block.get("input", {}), ensure_ascii=False, sort_keys=True)
            parts.append(f"→ tool call {block.get('name')}: {call}")
        elif kind == "tool_result":
            inner = block.get("content")
            text = inner if isinstance(inner, str) else "\n".join(str(b.get("text", "")) for b in inner or [])
            parts.append(f"← tool result: {text}")
    return "\n".join(parts)


def prompt_content(prompt: dict[str, Any]) -> Content:
    """The prompt as a person reads it: system, each turn under its role, the tools' names."""
    out = Content("")
    if prompt.get("system"):
        out += Content.styled("system\n", "bold $accent") + Content(str(prompt["system"]) + "\n\n")
    for turn in prompt.get("messages") or []:
        out += Content.styled(f"{turn.get('role', '?')}\n", "bold $accent") + Content(turn_text(turn) + "\n\n")
    tools = [str(t.get("name", "?")) for t in prompt.get("tools") or []]
    if tools:
        out += Content.styled("tools: ", "bold") + Content(", ".join(tools))
    return out.rstrip()


def response_content(text: str, span: tuple[int, int] | None) -> Content:
    """The answer, literally, with the located evidence marked (nothing marked when it was not found)."""
    out = Content(text)
    return out.stylize(EVIDENCE_STYLE, *span) if span else out


def verdict_content(t: browse.Transcript) -> Content:
    """The effective verdict and its reason, then the judge's when a person overrode it, then the evidence."""
    out = Content("")
    v = t.verdict
    if v is None:
        out += Content.styled("not graded", "dim")
    else:
        who = f"human ({v.actor})" if v.human else f"judge {t.grading.judge if t.grading else ''}".rstrip()
        out += Content.styled(v.verdict, VERDICT_STYLES[v.verdict]) + Content(f" · {who}")
        if v.reason:
            out += Content("\n") + Content(v.reason)
    if t.judge is not None and v is not None and v.human:
        out += Content("\n\nthe judge said ") + Content.styled(t.judge.verdict, VERDICT_STYLES[t.judge.verdict])
        if t.judge.reason:
            out += Content(": ") + Content(t.judge.reason)
    if t.evidence:
        out += Content.styled("\n\nevidence: ", "bold") + Content(t.evidence)
        if t.evidence_span is None:
            out += Content.styled("\n(not found verbatim in the response: nothing is marked)", "bold yellow")
        else:
            out += Content.styled("\n(marked in the response)", "dim")
    return out


class TranscriptScreen(Screen[None]):
    """What the model was asked and answered, and why it was judged as it was."""

    HELP_NAME = "Transcript"
    CSS_PATH = "evals.tcss"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("o", "override('complies')", "Complies"),
        Binding("v", "override('violates')", "Violates"),
        Binding("u", "override('unclear')", "Unclear"),
    ]

    class Loaded(Message):
        def __init__(self, transcript: browse.Transcript | None, error: str | None) -> None:
            super().__init__()
            self.transcript, self.error = transcript, error

    def __init__(self, run: str, item: str, sample: int, clause: str, grading: int | None) -> None:
        super().__init__()
        self.run, self.item, self.sample, self.clause, self.grading = run, item, sample, clause, grading
        self.transcript: browse.Transcript | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="transcript"):
            for key, title in (
                ("heading", ""),
                ("prompt", "Prompt"),
                ("response", "Response"),
                ("clause", "Clause"),
                ("verdict", "Verdict"),
            ):
                if title:
                    yield Static(content(title), classes="section-title", id=f"{key}-title")
                yield Static(id=f"t-{key}", classes="section")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#transcript").loading = True
        self.load()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="eval-transcript")
    def load(self) -> None:
        try:
            found = browse.transcript(
                self.app.workspace.db,  # type: ignore[attr-defined]
                self.run,
                self.item,
                self.sample,
                self.clause,
                self.grading,
            )
            error = None
        except CuratorError as err:
            found, error = None, str(err)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(found, error))

    def on_transcript_screen_loaded(self, message: Loaded) -> None:
        self.query_one("#transcript").loading = False
        if message.error is not None or message.transcript is None:
            self.notify(message.error or "not found", severity="error", markup=False)
            return
        t = self.transcript = message.transcript
        heading = Content.styled(f"{t.run.id} · {t.run.model}", "bold") + Content(
            f" · item {t.item.id} sample {t.response.sample} · {t.clause} · {grading_label(t.grading)}"
        )
        self.query_one("#t-heading", Static).update(heading)
        self.query_one("#t-prompt", Static).update(prompt_content(t.item.prompt))
        text = t.text if t.response.error is None else f"(failed: {t.response.error})"
        self.query_one("#t-response", Static).update(response_content(text, t.evidence_span))
        self.query_one("#t-clause", Static).update(Content.styled(t.clause, "bold") + Content("\n" + t.clause_text))
        self.query_one("#t-verdict", Static).update(verdict_content(t))

    def action_override(self, verdict: str) -> None:
        ask_override(self, self.item, self.sample, self.clause, verdict)

    @work(thread=True, group="evals-verdict")
    def write_verdict(self, item: str, sample: int, clause: str, verdict: str, reason: str) -> None:
        write_verdict(self, item, sample, clause, verdict, reason, run_id=self.run)

    def on_verdict_written(self, message: VerdictWritten) -> None:
        verdict_written(self, message)
