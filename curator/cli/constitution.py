"""`curator constitution`: parse, compare and import constitution versions; stale links."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from curator.cli.options import acting_user, common_options, exclusive, format_option, pass_workspace
from curator.cli.output import emit, lines, short, table, write
from curator.cli.root import cli
from curator.errors import UsageError

if TYPE_CHECKING:
    from curator.models import Clause
    from curator.store.db import Workspace

CONSTITUTION_FILE = "Markdown (or a JSON list of principles)"


@cli.group("constitution", short_help="parse and import constitution versions")
def constitution() -> None:
    """Parse and import constitution versions."""


def _tree_line(c: Clause) -> str:
    meta = "".join(f" {k}={v}" for k, v in sorted(c.meta.items()))
    return f"{'  ' * (c.depth - 1)}{c.id}  {short(c.title, 70)}{meta}"


@constitution.command("show")
@common_options
@click.argument("file", help=CONSTITUTION_FILE)
@format_option(
    "json", "tree", default="tree", help="json: the clause list contract; tree: indented, for people (default)"
)
def show(file: str, fmt: str) -> None:
    """parse a constitution file (no database) and print its clauses"""
    from curator.constitution.parse import constitution_json, parse_file

    parsed = parse_file(Path(file))
    emit(
        fmt,
        json=lambda: constitution_json(parsed),
        tree=lambda: lines(_tree_line(c) for c in parsed.clauses),
    )


@constitution.command("diff")
@common_options
@click.argument("old", help="the earlier version")
@click.argument("new", help="the later version")
@format_option("json", "text", default="text")
def diff(old: str, new: str, fmt: str) -> None:
    """compare two constitution files (no database)"""
    from curator.constitution.diff import diff_constitutions
    from curator.constitution.parse import parse_file

    result = diff_constitutions(parse_file(Path(old)).clauses, parse_file(Path(new)).clauses)
    emit(fmt, json=result.to_json, text=lambda: lines([result.summary()]))


@constitution.command("import")
@common_options
@click.argument("file", help=CONSTITUTION_FILE)
@format_option("json", "text", default="text")
@pass_workspace
def import_(ws: Workspace, file: str, fmt: str) -> None:
    """import a constitution file as the new current version; links follow renames, turn stale or orphaned"""
    from curator.constitution.versions import import_constitution

    result = import_constitution(ws.db, Path(file), actor=acting_user())
    emit(fmt, json=result.to_json, text=lambda: lines([result.summary()]))


@constitution.command("stale")
@common_options
@format_option("json", "table", default="table")
@pass_workspace
def stale(ws: Workspace, fmt: str) -> None:
    """list stale links (clause edited) and orphaned links (clause removed)"""
    from curator.store.links import problem_links

    problems = problem_links(ws.db)
    rows = [
        [state, p["example_id"], p["clause_id"], p["status"], short(p["example_title"], 50)]
        for state in ("stale", "orphaned")
        for p in problems[state]
    ]
    emit(
        fmt,
        json=lambda: problems,
        table=lambda: lines(
            [
                table(rows, ["state", "example", "clause", "status", "title"]),
                f"{len(problems['stale'])} stale, {len(problems['orphaned'])} orphaned",
            ]
        ),
    )


@constitution.command("relink")
@common_options
@click.argument("example", help="example id")
@click.option("--clause", metavar="ID", help="only this link (default: every stale link of the example)")
@click.option("--to", metavar="NEW_ID", help="move the link to this clause instead")
@click.option("--drop", is_flag=True, help="remove the link from the example")
@exclusive("to", "drop")
@pass_workspace
def relink(ws: Workspace, example: str, clause: str | None, to: str | None, drop: bool) -> None:
    """confirm an example's stale links against the current text, or move/drop a link"""
    from curator.store.links import confirm_stale_links, move_link

    if to or drop:
        if not clause:
            raise UsageError("--to and --drop need --clause (the link to move or drop)")
        moved = move_link(ws.db, example, clause, to=to, actor=acting_user())
        write(f"{moved.id}: link to {clause} " + (f"moved to {to}" if to else "removed") + "\n")
        return
    done = confirm_stale_links(ws.db, example, actor=acting_user(), clause_id=clause)
    confirmed = f": {', '.join(done.confirmed)}" if done.confirmed else ""
    write(f"{example}: confirmed {len(done.confirmed)} stale link(s){confirmed}\n")
    if done.orphaned:
        write(f"still orphaned: {', '.join(done.orphaned)} (use --clause ID --to NEW or --drop)\n")


@constitution.command("examples")
@common_options
@click.argument("file", help="a Model-Spec-style Markdown document, already imported as the current constitution")
@click.option("--dry-run", is_flag=True, help="count what would be imported; write nothing")
@click.option(
    "--eval-out",
    metavar="FILE",
    help="write the examples without a GOOD answer as eval-set JSON lines (for curator evalset add)",
)
@format_option("json", "text", default="text")
@pass_workspace
def examples(ws: Workspace, file: str, dry_run: bool, eval_out: str | None, fmt: str) -> None:
    """import a document's worked examples as draft advice records: GOOD answer as the turn, BAD as alternatives"""
    from curator.constitution.examples import import_examples

    result = import_examples(
        ws.db,
        Path(file),
        actor=acting_user(),
        dry_run=dry_run,
        eval_out=Path(eval_out) if eval_out else None,
        db_path=ws.path,
    )
    emit(fmt, json=result.to_json, text=lambda: lines([result.summary()]))
