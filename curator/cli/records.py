"""Record commands: `list`.

A record verb is a function here over a core function, for instance:

    @cli.command("show")
    @common_options
    @click.argument("example_id", help="example id")
    @format_option("json", "text", default="text")
    @pass_workspace
    def show(ws: Workspace, example_id: str, fmt: str) -> None:
        '''print one record'''
        from curator.store import examples

        record = examples.get(ws.db, example_id)
        emit(fmt, json=record.canonical, text=lambda: record.canonical_json() + "\\n")

`pass_workspace` opens the workspace and reports a schema upgrade, `emit` writes the format
asked for, and failures are `CuratorError`s (`curator.cli.root` turns them into one line and
the error's exit status). Then regenerate docs/cli.md with `docs/gen_cli.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curator.cli.options import RecordFilters, common_options, format_option, pass_workspace, record_filters
from curator.cli.output import emit, short, table
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace


@cli.command("list")
@common_options
@record_filters
@format_option(
    "json",
    "jsonl",
    "table",
    default="table",
    help="json: an array of canonical records; jsonl: one per line (default: table)",
)
@pass_workspace
def list_records(ws: Workspace, filters: RecordFilters, fmt: str) -> None:
    """list records as canonical JSON or a table"""
    from curator.store import examples

    records = examples.query(ws.db, **filters)
    emit(
        fmt,
        json=lambda: [r.canonical() for r in records],
        jsonl=lambda: (r.canonical_json() + "\n" for r in records),
        table=lambda: (
            table(
                [[r.id, r.kind, r.status, r.author, short(r.title, 48), ",".join(r.clauses)] for r in records],
                ["id", "kind", "status", "author", "title", "clauses"],
            )
            + f"\n{len(records)} records\n"
        ),
    )
