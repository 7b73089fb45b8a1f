"""`curator assist`: LLM assistance through the Anthropic API (needs ANTHROPIC_API_KEY).

The SDK is imported only when one of these commands runs (through `curator.assist.client`).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from curator.cli.options import acting_user, common_options, format_option, kind_option, pass_workspace
from curator.cli.output import emit, lines, short, table
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.config import Settings
    from curator.store.db import Workspace


P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Api:
    client: Any
    """An `anthropic.Anthropic` (typed loosely so that this module does not import the SDK)."""
    settings: Settings


def pass_api(f: Callable[Concatenate[Api, P], R]) -> Callable[P, R]:
    """Build the API client first (before the workspace opens) and pass it to the command.

    Without ANTHROPIC_API_KEY this raises AssistUnavailable: one line, exit 1, nothing opened.
    """

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from curator.assist.client import make_client
        from curator.config import load_settings

        settings = load_settings()
        return f(Api(make_client(settings), settings), *args, **kwargs)

    return wrapper


clause_option = click.option(
    "--clause", multiple=True, required=True, metavar="ID", help="clause to teach (repeatable)"
)


@cli.group(
    "assist",
    short_help="LLM assistance (needs ANTHROPIC_API_KEY): draft, critique, explain-why, suggest-links, batch",
)
def assist() -> None:
    """LLM assistance through the Anthropic API (needs ANTHROPIC_API_KEY). Generated text lands as drafts
    with provenance; nothing overwrites a person's text without --apply."""


@assist.command("draft")
@common_options
@clause_option
@kind_option("kind of example", required=True)
@click.option("--n", type=int, default=1, help="how many drafts (default 1, at most 20)")
@format_option("json", "text", default="text")
@pass_api
@pass_workspace
def draft(ws: Workspace, api: Api, clause: tuple[str, ...], kind: str, n: int, fmt: str) -> None:
    """draft new examples of a kind for one or more clauses"""
    from curator.assist.actions import draft

    created = draft(ws.db, api.client, api.settings, clauses=list(clause), kind=kind, n=n, actor=acting_user())
    emit(
        fmt,
        json=lambda: {"created": created},
        text=lambda: lines([*created, f"{len(created)} draft(s) created; review them before approving"]),
    )


@assist.command("critique")
@common_options
@click.argument("example_id", metavar="ID", help="example id")
@format_option("json", "text", default="text")
@pass_api
@pass_workspace
def critique(ws: Workspace, api: Api, example_id: str, fmt: str) -> None:
    """judge an example against each linked clause (writes nothing)"""
    from curator.assist.actions import critique

    result = critique(ws.db, api.client, api.settings, example_id)
    emit(
        fmt,
        json=result.to_json,
        text=lambda: lines(
            line
            for v in result.verdicts
            for line in [f"{v.clause}: {v.verdict} - {v.reason}", *(f"  - {s}" for s in v.suggestions)]
        ),
    )


@assist.command("explain-why")
@common_options
@click.argument("example_id", metavar="ID", help="example id (advice or agentic)")
@click.option("--apply", is_flag=True, help="accept the proposal and save it as a new version")
@format_option("json", "text", default="text")
@pass_api
@pass_workspace
def explain_why(ws: Workspace, api: Api, example_id: str, apply: bool, fmt: str) -> None:
    """propose assistant turns that state why, as a diff; applied only with --apply"""
    from curator.assist.actions import apply_explain_why, explain_why

    proposal = explain_why(ws.db, api.client, api.settings, example_id)
    applied = None
    if apply and proposal.turns:
        applied = apply_explain_why(ws.db, example_id, proposal, proposal.version, actor=acting_user())
    # an accepted rewrite of approved text is no longer what a person approved (see status_after_rewrite)
    back_to_review = applied is not None and proposal.status == "approved" and applied.status == "review"

    def text() -> str:
        out = ["\n".join(proposal.diff) or "no change proposed"]
        if applied is not None:
            out.append(f"applied: {example_id} is now version {applied.version}")
            if back_to_review:
                out.append(f"{example_id} was approved; the rewrite changed what was approved, so it is back in review")
        elif proposal.turns:
            out.append("not applied (run again with --apply to accept)")
        return lines(out)

    emit(
        fmt,
        json=lambda: {**proposal.to_json(), "applied": applied is not None, "back_to_review": back_to_review},
        text=text,
    )


@assist.command("suggest-links")
@common_options
@click.argument("example_id", metavar="ID", help="example id")
@format_option("json", "table", default="table")
@pass_api
@pass_workspace
def suggest_links(ws: Workspace, api: Api, example_id: str, fmt: str) -> None:
    """ranked clause links with a reason each (writes nothing)"""
    from curator.assist.actions import suggest_links

    suggested = suggest_links(ws.db, api.client, api.settings, example_id)
    emit(
        fmt,
        json=suggested.to_json,
        table=lambda: lines(
            [table([[link.clause, short(link.reason, 90)] for link in suggested.links], ["clause", "reason"])]
        ),
    )


def batch_progress_line(done: int, total: int, width: int = 30, label: str = "batch") -> str:
    """`batch [########------] 12/30 requests done`: one line, rewritten in place after each poll."""
    filled = round(width * done / total) if total else 0
    return f"{label} [{'#' * filled}{'-' * (width - filled)}] {done}/{total} requests done"


@contextlib.contextmanager
def batch_progress(label: str = "batch") -> Iterator[Callable[[dict[str, int]], None]]:
    """The progress callback of a Message Batch command (assist batch, eval run, eval grade): one line on
    stderr rewritten after each poll, ended when the block ends, so that what follows (the report or
    an error) starts its own line."""
    shown: list[bool] = []

    def progress(counts: dict[str, int]) -> None:
        done = sum(v for k, v in counts.items() if k != "processing")
        sys.stderr.write("\r" + batch_progress_line(done, done + counts.get("processing", 0), label=label))
        sys.stderr.flush()
        shown.append(True)

    try:
        yield progress
    finally:
        if shown:
            sys.stderr.write("\n")


def _poll_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """`--poll` checked before anything is opened or submitted: finite, from 0 to an hour (exit 2)."""
    from curator.assist.batch import check_poll_interval
    from curator.errors import UsageError

    try:
        return check_poll_interval(value)
    except UsageError as err:
        raise click.BadParameter(str(err).removeprefix("--poll must be "), ctx=ctx, param=param) from None


poll_option = click.option(
    "--poll",
    type=float,
    default=15.0,
    metavar="SECONDS",
    callback=_poll_seconds,
    help="seconds between polls of the batch (default 15, from 0 to 3600)",
)
"""`--poll` of every command that waits for a Message Batch."""


@assist.command("batch")
@common_options
@clause_option
@kind_option("kind of example", required=True)
@click.option("--per-clause", type=int, default=1, metavar="N", help="drafts per clause (default 1, at most 20)")
@poll_option
@format_option("json", "text", default="text")
@pass_api
@pass_workspace
def batch(ws: Workspace, api: Api, clause: tuple[str, ...], kind: str, per_clause: int, poll: float, fmt: str) -> None:
    """draft in bulk through the Message Batches API; run the same command again to resume"""
    from curator.assist.batch import run_batch

    with batch_progress() as progress:
        report = run_batch(
            ws.db,
            api.client,
            api.settings,
            db_path=ws.path,
            clauses=list(clause),
            kind=kind,
            per_clause=per_clause,
            actor=acting_user(),
            progress=progress,
            poll_interval=poll,
        )
    emit(
        fmt,
        json=report.to_json,
        text=lambda: lines(
            [
                f"batch {report.batch_id}{' (resumed)' if report.resumed else ''}: "
                f"{len(report.created)} drafts created, {len(report.duplicates)} exact duplicates skipped, "
                f"{len(report.failed)} failed",
                *(f"near-duplicate: {n.id} ~ {', '.join(m.id for m in n.matches)}" for n in report.near_duplicates),
                *(f"failed: {f.custom_id}: {f.error}" for f in report.failed),
            ]
        ),
    )
