"""The assist panel beside the editor's form: a spinner while a request runs, then the critique
(a verdict and suggestions per linked clause) and the suggested links (accepted one by one).

One request at a time runs in a thread worker and its outcome comes back as a message tagged
with a ticket. An HTTP request cannot be interrupted from another thread, so cancelling (esc)
cancels the worker and moves the ticket on: a late answer is dropped here and never reaches the
editor. Everything shown is data and goes into `Text`/`Content` objects, never markup.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import LoadingIndicator, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from curator.assist.env import KEY_VAR
from curator.errors import CuratorError
from curator.redact import redact
from curator.tui.safe import content

if TYPE_CHECKING:
    from anthropic import Anthropic

    from curator.assist.results import CritiqueVerdict, SuggestedLink
    from curator.config import Settings

AssistJob = Callable[["Anthropic", "Settings"], object]
"""The request itself, run in the worker thread with the SDK client and the settings."""

Connect = Callable[[], "tuple[Anthropic, Settings]"]
"""Makes (or returns) the SDK client, in the worker thread: the SDK import is not paid at start-up."""

VERDICT_STYLES = {
    "teaches": "bold green",
    "partly": "bold yellow",
    "contradicts": "bold red",
    "unrelated": "bold bright_black",
}


def one_line(text: str, limit: int = 300) -> str:
    """A notification-sized single line; the API key never appears in it."""
    line = " ".join(str(text).split())
    key = os.environ.get(KEY_VAR, "").strip()
    if key:
        line = line.replace(key, "***")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def critique_text(verdicts: Sequence[CritiqueVerdict], titles: dict[str, str]) -> Text:
    """Per clause: id and title, the verdict, the reason, then the suggestions (all literal text)."""
    out = Text(end="")
    for i, verdict in enumerate(verdicts):
        clause = verdict.clause
        if i:
            out.append("\n")
        out.append(clause, style="bold")
        if titles.get(clause):
            out.append("  " + titles[clause], style="italic")
        word = verdict.verdict
        out.append("\n  ")
        out.append(word.upper(), style=VERDICT_STYLES.get(word, "bold"))
        out.append("  " + verdict.reason + "\n")
        for suggestion in verdict.suggestions:
            out.append("  → ", style="cyan")
            out.append(suggestion + "\n")
    return out


class SuggestionList(OptionList):
    """Suggested clause links, best first; each is accepted (linked in the form) or dismissed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept link"),
        Binding("d,delete", "dismiss", "Dismiss link"),
    ]

    def action_accept(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id:
            self.post_message(AssistPanel.LinkAccepted(option.id))

    def action_dismiss(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id:
            self.post_message(AssistPanel.LinkDismissed(option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_accept()


class AssistPanel(Vertical):
    """Spinner, critique and suggested links; hidden while it has nothing to show."""

    DEFAULT_CSS = """
    AssistPanel {
        width: 1fr;
        min-width: 30;
        height: 1fr;
        border-left: solid $accent-darken-2;
        display: none;
    }
    AssistPanel.-open {
        display: block;
    }
    AssistPanel .assist-heading {
        text-style: bold;
        padding: 0 1;
    }
    AssistPanel #assist-busy {
        height: auto;
        display: none;
    }
    AssistPanel #assist-busy.-busy {
        display: block;
    }
    AssistPanel #assist-spinner {
        width: 6;
        height: 1;
        min-height: 1;
    }
    AssistPanel #assist-busy-label {
        width: 1fr;
        color: $text-muted;
    }
    AssistPanel #assist-critique {
        height: 1fr;
        padding: 0 1;
    }
    AssistPanel #assist-links {
        height: auto;
        max-height: 60%;
    }
    AssistPanel .assist-section {
        display: none;
    }
    AssistPanel .assist-section.-shown {
        display: block;
    }
    """

    class Done(Message):
        """A request finished; `result` is what its job returned."""

        def __init__(self, ticket: int, action: str, result: object) -> None:
            super().__init__()
            self.ticket = ticket
            self.action = action
            self.result = result

    class Failed(Message):
        """A request failed; `error` is one line (AssistError, no key, a usage problem), redacted."""

        def __init__(self, ticket: int, action: str, error: str) -> None:
            super().__init__()
            self.ticket = ticket
            self.action = action
            self.error = redact(error)

    class LinkAccepted(Message):
        """The annotator accepted a suggested clause link: the editor links it in the form."""

        def __init__(self, clause_id: str) -> None:
            super().__init__()
            self.clause_id = clause_id

    class LinkDismissed(Message):
        """The annotator dismissed a suggested clause link (handled by the panel)."""

        def __init__(self, clause_id: str) -> None:
            super().__init__()
            self.clause_id = clause_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._ticket = 0
        self._current: str | None = None
        self._reasons: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(content("Assist  (esc closes)"), classes="assist-heading")
        with Horizontal(id="assist-busy"):
            yield Static(content(""), id="assist-busy-label")
        with VerticalScroll(id="assist-critique", classes="assist-section"):
            yield Static(content(""), id="assist-critique-body")
        yield Static(content(""), id="assist-links-heading", classes="assist-heading assist-section")
        yield SuggestionList(id="assist-links", markup=False, classes="assist-section")

    # -- running one request ----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A request is running (and has not been cancelled)."""
        return self._current is not None

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def start(self, action: str, label: str, job: AssistJob, connect: Connect) -> int:
        """Show the spinner and run `job` in the worker; returns the ticket its outcome will carry."""
        self._ticket += 1
        self._current = action
        self.query_one("#assist-busy-label", Static).update(content(f"{label}… esc to cancel"))
        busy = self.query_one("#assist-busy", Horizontal)
        if not busy.query(LoadingIndicator):
            busy.mount(LoadingIndicator(id="assist-spinner"), before=0)
        busy.add_class("-busy")
        self.add_class("-open")
        self._run(self._ticket, action, job, connect)
        return self._ticket

    def cancel(self) -> bool:
        """Cancel the running request (its late answer is dropped); False when none runs."""
        if self._current is None:
            return False
        self._ticket += 1
        self.workers.cancel_group(self, "assist")
        self._stop_spinner()
        return True

    def _stop_spinner(self) -> None:
        self._current = None
        busy = self.query_one("#assist-busy", Horizontal)
        busy.remove_class("-busy")
        busy.query(LoadingIndicator).remove()
        self._update_open()

    @work(thread=True, exclusive=True, group="assist", exit_on_error=False)
    def _run(self, ticket: int, action: str, job: AssistJob, connect: Connect) -> None:
        worker = get_current_worker()
        try:
            client, settings = connect()
            if worker.is_cancelled:
                return
            result = job(client, settings)
        except CuratorError as err:
            self._post_unless_cancelled(worker, self.Failed(ticket, action, one_line(str(err))))
            return
        except Exception as err:  # a bug or an SDK surprise must not take the editor down
            self._post_unless_cancelled(worker, self.Failed(ticket, action, one_line(f"{type(err).__name__}: {err}")))
            return
        self._post_unless_cancelled(worker, self.Done(ticket, action, result))

    def _post_unless_cancelled(self, worker: Worker[None], message: Message) -> None:
        if not worker.is_cancelled:
            self.post_message(message)

    def on_assist_panel_done(self, message: Done) -> None:
        self._settle(message, message.ticket)

    def on_assist_panel_failed(self, message: Failed) -> None:
        self._settle(message, message.ticket)

    def _settle(self, message: Message, ticket: int) -> None:
        """Drop an outcome that is not the current request's; else stop the spinner and let it bubble."""
        if ticket != self._ticket or self._current is None:
            message.stop()
            return
        self._stop_spinner()

    # -- showing results ---------------------------------------------------------------------------

    def show_critique(self, verdicts: Sequence[CritiqueVerdict], titles: dict[str, str]) -> None:
        self.query_one("#assist-critique-body", Static).update(critique_text(verdicts, titles))
        self.query_one("#assist-critique", VerticalScroll).add_class("-shown")
        self._update_open()

    def show_links(self, links: Sequence[SuggestedLink], titles: dict[str, str]) -> None:
        """Replace the suggestions with `links` (ranked) and focus the list."""
        self._reasons = {link.clause: link.reason for link in links}
        options = self.query_one("#assist-links", SuggestionList)
        options.clear_options()
        options.add_options(
            [Option(self._link_prompt(i, link.clause, titles), id=link.clause) for i, link in enumerate(links)]
        )
        for widget in (options, self.query_one("#assist-links-heading", Static)):
            widget.add_class("-shown")
        self._links_heading()
        self._update_open()
        if links:
            options.highlighted = 0
            options.focus()

    def _link_prompt(self, rank: int, clause: str, titles: dict[str, str]) -> Content:
        return Content.assemble(
            (f"{rank + 1}. ", "dim"),
            (clause, "bold"),
            "  ",
            (titles.get(clause, "(not in the current constitution)"), "italic"),
            "\n   ",
            self._reasons.get(clause, ""),
        )

    def suggestions(self) -> list[str]:
        """The clause ids still on offer, best first."""
        options = self.query_one("#assist-links", SuggestionList)
        return [o.id for o in options.options if o.id]

    def drop_suggestion(self, clause_id: str) -> None:
        """Take one suggestion off the list (accepted or dismissed), keeping the place in the list."""
        options = self.query_one("#assist-links", SuggestionList)
        if clause_id not in self.suggestions():
            return
        index = options.get_option_index(clause_id)
        options.remove_option(clause_id)
        if options.option_count:
            options.highlighted = min(index, options.option_count - 1)
        self._links_heading()

    def _links_heading(self) -> None:
        left = len(self.suggestions())
        text = (
            f"Suggested links: {left} (a or enter accepts, d dismisses)"
            if left
            else "Suggested links: none left to decide"
        )
        self.query_one("#assist-links-heading", Static).update(content(text))

    def on_assist_panel_link_dismissed(self, message: LinkDismissed) -> None:
        message.stop()
        self.drop_suggestion(message.clause_id)

    def close(self) -> bool:
        """Hide the results (not a running request: cancel that first); False when nothing was shown."""
        if not self.is_open or self.busy:
            return False
        for section in self.query(".assist-section"):
            section.remove_class("-shown")
        self.query_one("#assist-links", SuggestionList).clear_options()
        self._reasons = {}
        self._update_open()
        return True

    def _update_open(self) -> None:
        shown = bool(self.query(".assist-section.-shown"))
        self.set_class(self.busy or shown, "-open")
