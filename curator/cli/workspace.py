"""Workspace commands: `tui`, `init`, `import`, `dump`, `load`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from curator.cli.options import (
    acting_user,
    announce_upgrade,
    common_options,
    exclusive,
    format_option,
    pass_workspace,
    workspace_path,
)
from curator.cli.output import emit, lines, warn, write
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace


def open_tui() -> None:
    """Open the TUI on the workspace, creating it with the demo when it does not exist."""
    from curator.bootstrap import open_or_create_default
    from curator.tui.app import run

    path = workspace_path()
    open_or_create_default(path, actor=acting_user(), on_upgrade=announce_upgrade(path)).close()
    run(path, user=acting_user())


@cli.command("tui")
@common_options
def tui() -> None:
    """open the terminal UI (the default with no command)"""
    open_tui()


@cli.command("init")
@common_options
@click.option("--demo", is_flag=True, help="fill it with the demo constitution and examples (default)")
@click.option("--empty", is_flag=True, help="create it empty")
@exclusive("demo", "empty")
def init(demo: bool, empty: bool) -> None:
    """create a workspace database (with the demo data unless --empty)"""
    from curator.bootstrap import init_workspace
    from curator.store import examples

    path = workspace_path()
    with init_workspace(path, demo=not empty, actor=acting_user()) as ws:
        n = examples.count(ws.db)
    what = "empty workspace" if empty else f"demo workspace with {n} examples"
    write(f"created {what} in {path}\n")


@cli.command("import")
@common_options
@click.argument("file", help="JSON lines (or a JSON array) of records; .gz is read decompressed")
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["auto", "curator", "messages", "hh"]),
    default="auto",
    help="input format (default: detected from the first record)",
)
@click.option(
    "--skip-invalid", is_flag=True, help="import the valid lines and list the invalid ones instead of failing"
)
@click.option("--submit", is_flag=True, help="land the records in review instead of draft")
@click.option(
    "--keep-status",
    is_flag=True,
    help="keep the file's statuses, approved included (records reviewed elsewhere; the audit log notes who asked)",
)
@format_option("text", "json", default="text", flag="--output", help="report format (default: text)")
@exclusive("submit", "keep_status")
@pass_workspace
def import_(
    ws: Workspace, file: str, input_format: str, skip_invalid: bool, submit: bool, keep_status: bool, fmt: str
) -> None:
    """import records from a JSON-lines file, all or nothing; they land as draft

    An import is not a review: records land as `draft` whatever status the file gives, or in
    `review` with --submit. --keep-status keeps the file's statuses instead (for records reviewed
    elsewhere); each import event in the audit log notes it and who asked.
    """
    from curator.importer import import_file
    from curator.store.db import BackgroundCheckpoint

    with BackgroundCheckpoint(ws) as checkpoint:
        report = import_file(
            ws.db,
            Path(file),
            input_format,
            actor=acting_user(),
            skip_invalid=skip_invalid,
            parallel=None,
            submit=submit,
            keep_status=keep_status,
        )
        checkpoint.start()  # the log of a big import is copied into the database meanwhile
        _refresh_dedup_index(ws, len(report.imported))
    landed = {"draft": "as draft", "review": "in review", "kept": "with the file's statuses"}.get(
        report.statuses, report.statuses
    )
    emit(
        fmt,
        json=lambda: report.to_json(file),
        text=lambda: lines(
            [
                f"imported {len(report.imported)} records ({report.format} format) from {file}, {landed}",
                *(f"skipped {file}:{d['line']}: exact duplicate of {d['duplicate_of']}" for d in report.duplicates),
                *(f"warning {w.describe(file)}" for w in report.warnings),
            ]
        ),
    )
    for problem in report.invalid:
        warn(f"skipped {problem.describe(file)}")


def _refresh_dedup_index(ws: Workspace, imported: int) -> None:
    """Write the near-duplicate index file again after an import (or a load) too big to catch up
    with at the next open, so the TUI's duplicate panel is ready at once (~9 s per million records,
    here).

    Written straight from the stored signatures, chunk by chunk (no engine in memory). A folder
    that cannot take it (read-only, full) only means the next open builds it."""
    from curator.dedup.engine import CATCH_UP_LIMIT, write_index_from_table
    from curator.paths import dedup_index_file

    index_file = dedup_index_file(ws.path)
    if imported > CATCH_UP_LIMIT and index_file is not None:
        with contextlib.suppress(OSError):
            write_index_from_table(ws.db, index_file)


@cli.command("dump")
@common_options
@click.argument("dir", help="target folder (replaced atomically if it holds an earlier dump and nothing else)")
@click.option("--force", is_flag=True, help="replace an earlier dump even if its files were changed since")
@pass_workspace
def dump(ws: Workspace, dir: str, force: bool) -> None:
    """write the whole workspace as canonical, git-friendly files"""
    from curator.dumpload import dump

    counts = dump(ws, Path(dir), force=force)
    write(f"dumped to {dir}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "\n")


@cli.command("load")
@common_options
@click.argument("dir", help="a folder written by `curator dump`")
def load(dir: str) -> None:
    """rebuild a workspace from a dump into a new database (--db)"""
    from curator.dumpload import load
    from curator.store.db import open_workspace

    path = workspace_path()
    counts = load(Path(dir), path, parallel=None)  # a big dump is prepared in worker processes
    with open_workspace(path, create=False) as ws:
        _refresh_dedup_index(ws, counts["examples"])
    write(f"loaded {dir} into {path}: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "\n")


@cli.command("snapshot")
@common_options
@click.option(
    "--parquet",
    "parquet",
    metavar="DIR",
    required=True,
    help="target folder for the Parquet shards (replaced atomically if it holds an earlier snapshot and nothing else)",
)
@click.option("--force", is_flag=True, help="replace an earlier snapshot even if its files were changed since")
@pass_workspace
def snapshot(ws: Workspace, parquet: str, force: bool) -> None:
    """write records, constitution and eval sets as Parquet shards (what the Ray engine reads)"""
    from curator.columnar import write_snapshot

    manifest = write_snapshot(ws, Path(parquet), force=force)
    counts = manifest["counts"]
    write(
        f"snapshot in {parquet}: {counts['records']} records in {len(manifest['record_shards'])} shards, "
        f"{counts['clauses']} clauses, {counts['eval_items']} eval items\n"
    )
