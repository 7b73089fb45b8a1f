"""`curator evalset`: held-out evaluation sets; `curator decontam`: training records that overlap them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from curator.cli.options import acting_user, common_options, format_option, pass_workspace
from curator.cli.output import emit, lines, short, table, write
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace


@cli.group("evalset", short_help="register held-out evaluation sets for decontamination")
def evalset() -> None:
    """Register held-out evaluation sets for decontamination."""


@evalset.command("add")
@common_options
@click.argument("name", help="the eval set's name")
@click.argument("file", help="file or folder of eval items")
@click.option(
    "--field", metavar="PATH", help="JSON lines: the item's text at this dotted path (e.g. messages.0.content)"
)
@click.option("--column", metavar="NAME", help="CSV/TSV: the column holding the text (needed when several do)")
@pass_workspace
def add(ws: Workspace, name: str, file: str, field: str | None, column: str | None) -> None:
    """register (or replace) an eval set: JSON lines with prompt/text/question/messages (or --field),
    CSV/TSV with a header (--column), a text file of blank-line-separated items, or a folder of .md/.txt
    files; any file may be gzipped (.gz). A file read as a single item, or text that looks like CSV
    rows, is refused"""
    from curator.dedup.decontam import add_evalset

    n = add_evalset(ws.db, name, Path(file), actor=acting_user(), field=field, column=column)
    write(f"eval set {name}: {n} items from {file}\n")


@evalset.command("list")
@common_options
@format_option("json", "table", default="table")
@pass_workspace
def list_evalsets(ws: Workspace, fmt: str) -> None:
    """list registered eval sets"""
    from curator.dedup.decontam import list_evalsets

    sets = list_evalsets(ws.db)
    emit(
        fmt,
        json=lambda: {"evalsets": sets},
        table=lambda: lines(
            [
                table(
                    [[s["name"], str(s["items"]), s["source"], s["created_at"]] for s in sets],
                    ["name", "items", "source", "added"],
                )
            ]
        ),
    )


@evalset.command("remove")
@common_options
@click.argument("name", help="the eval set's name")
@pass_workspace
def remove(ws: Workspace, name: str) -> None:
    """unregister an eval set"""
    from curator.dedup.decontam import remove_evalset

    remove_evalset(ws.db, name, actor=acting_user())
    write(f"eval set {name} removed\n")


@cli.command("decontam")
@common_options
@click.option("--evalset", "names", multiple=True, metavar="NAME", help="only this eval set (repeatable; default all)")
@format_option("json", "table", default="table")
@pass_workspace
def decontam(ws: Workspace, names: tuple[str, ...], fmt: str) -> None:
    """flag training records that overlap registered eval sets, in every field an export can
    emit (title, system prompt, text, turns, tool calls and results, rationales, tool definitions);
    each flag names the field"""
    from curator.dedup.decontam import decontaminate

    checked, flags = decontaminate(ws.db, list(names) or None, workers=None)
    flagged = len({f.id for f in flags})
    emit(
        fmt,
        json=lambda: {"checked": checked, "flagged": flagged, "flags": [f.to_json() for f in flags]},
        table=lambda: lines(
            [
                table(
                    [[f.id, f.field, f.evalset, f.item, f.rule, f"{f.score:.2f}", short(f.span, 50)] for f in flags],
                    ["id", "field", "evalset", "item", "rule", "score", "span"],
                ),
                f"{flagged} of {checked} records overlap an eval set",
            ]
        ),
    )
