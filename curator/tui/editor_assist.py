"""The editor's LLM assistance (`curator.assist`): draft into an empty form, critique, explain-why
with an accept/reject diff, and suggested links. Kept out of editor.py: the editor owns the form,
this module owns what assistance does to it.

Each action reads the form on the UI thread, runs its request in the AssistPanel's worker, and
changes the form only when the answer arrives and the form is still what was asked about; a
failure, a cancel or a late answer leaves the form exactly as it was. Nothing is stored here:
the annotator saves (ctrl+s) as usual.

The SDK is imported inside the worker only (`curator.assist.env` is light): the TUI starts
without it and without a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.widgets import TextArea

from curator.assist.env import KEY_VAR, api_key_from_env
from curator.assist.results import Critique, LinkSuggestions, ProposedTurn, RewriteProposal
from curator.errors import CuratorError
from curator.models import Example
from curator.tui.screens.rewrite_diff import RewriteDiffScreen
from curator.tui.widgets.assist_panel import AssistJob, AssistPanel

if TYPE_CHECKING:
    from anthropic import Anthropic

    from curator.config import Settings
    from curator.tui.screens.editor import EditorScreen

LABELS = {
    "draft": "Drafting",
    "critique": "Critiquing",
    "explain_why": "Rewriting the assistant turns",
    "suggest_links": "Suggesting links",
}
NO_KEY = (
    f"LLM assistance needs an API key: quit, run `export {KEY_VAR}=...` in your shell and start curator "
    "again; everything else works without it"
)
NO_CLAUSE = "link at least one clause first (ctrl+l; f5 suggests some): {why}"


@dataclass(frozen=True)
class Pending:
    """The request in flight and the form it was made from."""

    action: str
    form: dict[str, Any]
    example: Example | None


def _replace_text(area: TextArea, text: str) -> None:
    """Set a TextArea's text as one edit, so ctrl+z takes an accepted rewrite back."""
    if area.text != text:
        area.replace(text, area.document.start, area.document.end)


class EditorAssist:
    """Assist actions over one EditorScreen's form."""

    def __init__(self, editor: EditorScreen) -> None:
        self.editor = editor
        self.pending: Pending | None = None
        self.draft_source: dict[str, Any] | None = None
        """Provenance of a generated draft filled into a new form; saved as the record's `source`."""
        self.rewrite_accepted = False
        """An accepted explain-why rewrite is in the form, not saved yet (saving may reopen review)."""

    @property
    def panel(self) -> AssistPanel:
        return self.editor.query_one(AssistPanel)

    # -- starting a request -----------------------------------------------------------------------

    def _ready(self) -> bool:
        """No key: the notice; a request running: say so. True when a new request may start."""
        try:
            api_key_from_env()
        except CuratorError:
            self.editor.notify(NO_KEY, title=f"{KEY_VAR} is not set", severity="warning", markup=False, timeout=12)
            return False
        if self.panel.busy:
            self.editor.notify("an assist request is running (esc cancels it)", severity="warning", markup=False)
            return False
        return True

    def _begin(self, action: str, example: Example | None, job: AssistJob) -> None:
        self.pending = Pending(action, self.editor.form_state(), example)
        self.panel.start(action, LABELS[action], job, self.editor.curator.assist_connection)

    def _form_example(self, what: str, why: str) -> Example | None:
        """The form as a record with a clause link (else the problems are shown and None returned)."""
        if not self.editor.clause_ids:
            self.editor.notify(NO_CLAUSE.format(why=why), severity="warning", markup=False)
            return None
        return self.editor.validated(failure=f"cannot {what}")

    def form_is_empty(self) -> bool:
        """A new form with nothing typed (linked clauses allowed: the draft is for them)."""
        if self.editor.loaded is not None:
            return False
        for key, value in self.editor.form_state().items():
            if key == "clauses":
                continue
            if key == "turns":
                # (role, text, rationale), then the rejected answers when the turn has any
                if any(turn[1].strip() or turn[2].strip() or len(turn) > 3 for turn in value):
                    return False
            elif str(value).strip():
                return False
        return True

    def draft(self) -> None:
        if not self._ready():
            return
        editor = self.editor
        if not self.form_is_empty():
            self.editor.notify(
                "draft fills a new, empty form: start a new example (n on the Examples screen)",
                severity="warning",
                markup=False,
            )
            return
        if not editor.clause_ids:
            self.editor.notify(
                NO_CLAUSE.format(why="the draft teaches the linked clauses"), severity="warning", markup=False
            )
            return
        kind, clause_ids, user, app = editor.kind, list(editor.clause_ids), editor.curator.user, editor.curator

        def job(client: Anthropic, settings: Settings) -> object:
            from curator.assist.actions import draft_record, resolve_clauses, title_paths

            db = app.workspace.db  # this worker thread's connection
            clauses = resolve_clauses(db, clause_ids)
            return draft_record(client, settings, kind=kind, clauses=clauses, actor=user, paths=title_paths(db))

        self._begin("draft", None, job)

    def critique(self) -> None:
        if not self._ready():
            return
        example = self._form_example("critique", "critique judges the example against its linked clauses")
        if example is None:
            return
        app = self.editor.curator

        def job(client: Anthropic, settings: Settings) -> object:
            from curator.assist.actions import critique_example

            return critique_example(app.workspace.db, client, settings, example)

        self._begin("critique", example, job)

    def explain_why(self) -> None:
        if not self._ready():
            return
        editor = self.editor
        if not editor.is_dialogue:
            self.editor.notify(
                f"explain-why rewrites assistant turns; a {editor.kind} has none (f3 critiques it)",
                severity="warning",
                markup=False,
            )
            return
        example = self._form_example("rewrite", "explain-why grounds the rewrite in the linked clauses")
        if example is None:
            return
        if not any(m.role == "assistant" for m in example.messages or []):
            self.editor.notify(
                "explain-why rewrites assistant turns: add one first (ctrl+t)", severity="warning", markup=False
            )
            return
        app = editor.curator

        def job(client: Anthropic, settings: Settings) -> object:
            from curator.assist.actions import explain_why_example

            return explain_why_example(app.workspace.db, client, settings, example)

        self._begin("explain_why", example, job)

    def suggest_links(self) -> None:
        if not self._ready():
            return
        example = self.editor.validated(failure="cannot suggest links")
        if example is None:
            return
        app = self.editor.curator

        def job(client: Anthropic, settings: Settings) -> object:
            from curator.assist.actions import suggest_links_example

            return suggest_links_example(app.workspace.db, client, settings, example)

        self._begin("suggest_links", example, job)

    def cancel_or_close(self) -> bool:
        """esc: cancel a running request, else close the panel; False when there was neither."""
        if self.panel.cancel():
            self.pending = None
            self.editor.notify("cancelled; the form is unchanged", markup=False)
            return True
        had_focus = self.panel.has_focus_within
        if self.panel.close():
            if had_focus:
                self.editor.focus_links()
            return True
        return False

    # -- answers ------------------------------------------------------------------------------------

    def failed(self, message: AssistPanel.Failed) -> None:
        self.pending = None
        what = LABELS.get(message.action, message.action).lower()
        self.editor.notify(f"{what} failed: {message.error}", severity="error", markup=False)

    async def done(self, message: AssistPanel.Done) -> None:
        pending, self.pending = self.pending, None
        if pending is None or pending.action != message.action:
            return
        if message.action == "critique":
            assert isinstance(message.result, Critique)
            self.panel.show_critique(message.result.verdicts, self.editor.clause_titles())
            return
        if message.action == "suggest_links":
            assert isinstance(message.result, LinkSuggestions)
            links = [link for link in message.result.links if link.clause not in self.editor.clause_ids]
            self.panel.show_links(links, self.editor.clause_titles())
            if not links:
                self.editor.notify("no further clause to suggest for this example", markup=False)
            return
        if self.editor.form_state() != pending.form:
            self.editor.notify(
                "discarded: the form changed while the request ran; run it again", severity="warning", markup=False
            )
            return
        if message.action == "draft":
            assert isinstance(message.result, Example)
            await self._fill_draft(message.result)
        elif message.action == "explain_why" and pending.example is not None:
            assert isinstance(message.result, RewriteProposal)
            self._offer_rewrite(pending, message.result)

    async def _fill_draft(self, drafted: Example) -> None:
        if self.editor.loaded is not None:
            return
        self.draft_source = drafted.source.model_dump(mode="json")
        await self.editor.show_draft(drafted)
        self.editor.notify(
            "draft filled in from the model: review and edit it; ctrl+s saves it as a draft", markup=False
        )

    def _offer_rewrite(self, pending: Pending, proposal: RewriteProposal) -> None:
        if not proposal.turns:
            self.editor.notify("no change proposed: the assistant turns already say why", markup=False)
            return
        loaded = self.editor.loaded
        note = ""
        if loaded is not None and loaded.status == "approved":
            note = "This example is approved: once you save the accepted rewrite it goes back to review."
        example = pending.example
        assert example is not None

        def decided(accept: bool | None) -> None:
            if not accept:
                self.editor.notify("rewrite rejected; the form is unchanged", markup=False)
                return
            if self.editor.form_state() != pending.form:
                self.editor.notify("discarded: the form changed meanwhile", severity="warning", markup=False)
                return
            self._accept_rewrite(example, proposal.turns)

        self.editor.app.push_screen(RewriteDiffScreen(list(proposal.diff), note=note), decided)

    def _accept_rewrite(self, example: Example, turns: Sequence[ProposedTurn]) -> None:
        from curator.assist.actions import rewrite_turns
        from curator.tui.form import turn_display_text

        try:
            after = rewrite_turns(example, turns)
        except CuratorError as err:
            self.editor.notify(f"rewrite not applied: {err}", severity="error", markup=False)
            return
        editors = self.editor.turn_editors()
        messages = after.messages or []
        for turn in turns:
            index = turn.index
            text, _ = turn_display_text(messages[index])
            _replace_text(editors[index].content_area, text)
            area = editors[index].rationale_area
            if area is not None:
                _replace_text(area, messages[index].rationale or "")
        self.rewrite_accepted = True
        reopen = self.editor.loaded is not None and self.editor.loaded.status == "approved"
        tail = " (approved: it goes back to review)" if reopen else ""
        self.editor.notify(f"rewrite accepted into the form; ctrl+s saves it{tail}", markup=False)

    # -- saving -------------------------------------------------------------------------------------

    def before_save(self, mine: Example) -> Example:
        """The record to store: after an accepted rewrite, approved text goes back to review."""
        loaded = self.editor.loaded
        if not self.rewrite_accepted or loaded is None:
            return mine
        from curator.assist.actions import status_after_rewrite

        return mine.model_copy(update={"status": status_after_rewrite(loaded, mine)})

    def after_save(self, before: Example | None, saved: Example) -> str:
        """Forget what the save consumed; the note to show ('saved', or why the status moved)."""
        rewrote, self.rewrite_accepted = self.rewrite_accepted, False
        self.draft_source = None
        if before is not None and before.status == "approved" and saved.status == "review":
            what = "the rewrite" if rewrote else "the edit"
            return f"saved; {what} changed approved content, so it is back in review"
        return "saved"
