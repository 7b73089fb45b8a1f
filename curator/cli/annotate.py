"""Blind double annotation: `assign`, `queue`, `annotate`, `agreement`, `adjudicate`.

A lead assigns records to named users; each annotates blind (their queue never shows a record's
links); `agreement` measures how far they agree; `adjudicate` decides a record's final links
(`--list` shows the records in disagreement side by side, `--agreed` applies the sets every
annotator gave). The rules are in `curator.annotation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from curator.cli.options import (
    acting_user,
    common_options,
    exclusive,
    format_option,
    kind_option,
    pass_workspace,
    status_option,
)
from curator.cli.output import emit, lines, warn
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace

TEXT_OR_JSON = format_option("text", "json", default="text", help="json: the result's fixed keys (default: text)")


def _team() -> list[str]:
    from curator.config import load_settings

    return load_settings().team


@cli.command("assign")
@common_options
@click.argument("ids", nargs=-1, metavar="[IDS]...", help="record ids (or filters instead)")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="USER,USER",
    help="annotators, comma-separated: each links every selected record blind (known users only: the team "
    "setting or anyone who acted in this workspace)",
)
@kind_option("every record of this kind (with the other filters)")
@status_option("every record in this status")
@click.option("--tag", help="every record with this tag")
@click.option("--clause", metavar="ID", help="every record linked to this clause")
@click.option("--author", metavar="NAME", help="every record by this author")
@click.option("--search", "--text", "search", metavar="TEXT", help="every record this full-text search finds")
@click.option("--since", metavar="DATE", help="every record updated at or after this ISO date or date-time (UTC)")
@click.option("--yes", is_flag=True, help="with filters: write the assignments (without it nothing is written)")
@click.option("--dry-run", is_flag=True, help="print what would be assigned and exit 0, writing nothing")
@exclusive("yes", "dry_run")
@TEXT_OR_JSON
@pass_workspace
def assign(
    ws: Workspace,
    ids: tuple[str, ...],
    to: str,
    kind: str | None,
    status: str | None,
    tag: str | None,
    clause: str | None,
    author: str | None,
    search: str | None,
    since: str | None,
    yes: bool,
    dry_run: bool,
    fmt: str,
) -> None:
    """ask named users to link clauses to records, blind (by IDs, or every record the filters select)

    With IDs the assignments are written at once; with filters the plan is printed and written only
    with --yes (exit 1 without it). A user already assigned to a record is left as they are. An
    unknown user, a user's own record (author, or whoever brought it in) or a deleted record is
    refused: one line, nothing written.
    """
    from curator import annotation, records

    given = {"kind": kind, "status": status, "tag": tag, "clause": clause, "author": author, "text": search}
    given["since"] = since
    bulk = any(v is not None for v in given.values())
    ctx = click.get_current_context()
    if bulk and ids:
        raise click.UsageError("give IDs or filters, not both", ctx=ctx)
    if not bulk and not ids:
        raise click.UsageError("give record IDs, or filters (--kind, --status, --tag, --clause, ...)", ctx=ctx)
    actor = acting_user()
    team = _team()
    selected = list(ids) if ids else annotation.select(ws.db, records.Filters(**given))
    plan = annotation.plan_assign(ws.db, selected, to.split(","), actor=actor, team=team)
    if dry_run or (bulk and not yes) or plan.changes == 0:
        emit(fmt, json=plan.to_json, text=lambda: lines([plan.to_text()]))
        if not dry_run and plan.changes:
            warn(f"nothing written: pass --yes to write the {plan.changes} assignments above, or --dry-run to preview")
            raise click.exceptions.Exit(1)
        return
    done = annotation.apply_assign(ws.db, plan, team=team)
    emit(fmt, json=done.to_json, text=lambda: lines([done.to_text()]))


@cli.command("queue")
@common_options
@click.option("--all", "include_done", is_flag=True, help="also records you already annotated (with your set)")
@format_option("text", "json", default="text", help="json: the records as you may see them, without their links")
@pass_workspace
def queue(ws: Workspace, include_done: bool, fmt: str) -> None:
    """your blind annotation queue (--user): assigned records, their existing links hidden"""
    from curator import annotation

    user = acting_user()
    items = annotation.queue(ws.db, user, include_done=include_done)

    def text() -> str:
        if not items:
            return f"nothing assigned to {user} is waiting\n"
        rows = [
            f"{i.id}  {i.kind}  {i.title}  (assigned by {i.assigned_by})"
            + (f"  you linked: {', '.join(i.annotated)}" if i.annotated else "")
            for i in items
        ]
        return lines(rows)

    emit(fmt, json=lambda: [i.to_json() for i in items], text=text)


@cli.command("annotate")
@common_options
@click.argument("example_id", metavar="ID", help="a record assigned to you")
@click.argument("clauses", nargs=-1, required=True, metavar="CLAUSE...", help="the clause ids you link to it")
@click.option(
    "--confirm-changed",
    "confirm",
    multiple=True,
    metavar="CLAUSE",
    help="link this clause although its text changed since the assignment (you read it as it is now); repeatable",
)
@TEXT_OR_JSON
@pass_workspace
def annotate(ws: Workspace, example_id: str, clauses: tuple[str, ...], confirm: tuple[str, ...], fmt: str) -> None:
    """give your blind link set (--user) for a record assigned to you (replaces your earlier set)"""
    from curator import annotation

    result = annotation.annotate(ws.db, example_id, clauses, user=acting_user(), confirm_changed=confirm)
    emit(fmt, json=result.to_json, text=lambda: lines([result.summary()]))


@cli.command("agreement")
@common_options
@click.option("--clause", metavar="ID", help="only this clause's row and the confusions involving it")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the bootstrap resampling")
@click.option(
    "--replicates",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="bootstrap resamples for the 95% interval (0: no interval)",
)
@format_option("table", "json", "html", default="table")
@pass_workspace
def agreement(ws: Workspace, clause: str | None, seed: int, replicates: int, fmt: str) -> None:
    """agreement of the annotators: Krippendorff's alpha with MASI, per pair and per clause, confusions

    Over every annotation of a live record: records annotated by two or more count. JSON keys:
    alpha, interval, n_records, annotators, jaccard, pairs, clauses [{id, alpha, n, linked}],
    confusions [{clauses, count}] (docs/annotation.md).
    """
    from curator import annotation

    report = annotation.agreement_report(ws.db, clause=clause, replicates=replicates, seed=seed)
    emit(
        fmt,
        json=report.to_json,
        table=lambda: lines(annotation.report_lines(report)),
        html=lambda: annotation.report_html(report),
    )


@cli.command("adjudicate")
@common_options
@click.argument(
    "words", nargs=-1, metavar="[ID CLAUSE...]", help="a record id and the final clause ids (not with --list/--agreed)"
)
@click.option("--list", "listing", is_flag=True, help="list the records whose annotators disagree, side by side")
@click.option("--agreed", is_flag=True, help="make the set every annotator gave the links of each such record")
@exclusive("listing", "agreed")
@TEXT_OR_JSON
@pass_workspace
def adjudicate(ws: Workspace, words: tuple[str, ...], listing: bool, agreed: bool, fmt: str) -> None:
    """decide a record's links from its annotations: ID CLAUSE... is your final set (audited)"""
    from curator import annotation

    ctx = click.get_current_context()
    if listing or agreed:
        if words:
            raise click.UsageError(f"{'--list' if listing else '--agreed'} takes no ID or CLAUSE", ctx=ctx)
        if listing:
            found = annotation.disagreements(ws.db)
            emit(
                fmt,
                json=lambda: [d.to_json() for d in found],
                text=lambda: lines([d.to_text() for d in found] or ["no record in disagreement"]),
            )
            return
        result = annotation.apply_agreed(ws.db, actor=acting_user())
        emit(fmt, json=result.to_json, text=lambda: lines([result.to_text()]))
        return
    if len(words) < 2:
        raise click.UsageError("give an ID and at least one CLAUSE (or --list, or --agreed)", ctx=ctx)
    decided = annotation.adjudicate(ws.db, words[0], words[1:], actor=acting_user())
    emit(fmt, json=decided.to_json, text=lambda: lines([decided.summary()]))
