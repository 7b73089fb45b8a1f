"""`curator evalset`: held-out evaluation sets; `curator decontam`: training records that overlap them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from curator.cli.options import acting_user, common_options, engine_options, format_option, pass_workspace
from curator.cli.output import emit, lines, short, table, write
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.cli.options import EngineChoice
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
@click.option(
    "--min-words",
    type=int,
    help="distinctive shared words a flag needs (8 or more; default 8)",
)
@click.option(
    "--common-share",
    type=float,
    help="an eval 8-gram in more than this share of records is common and never makes a match (default 0.01)",
)
@click.option(
    "--common-min-records",
    type=int,
    help="...and in at least this many records (default 10)",
)
@engine_options
@format_option("json", "table", default="table")
@pass_workspace
def decontam(
    ws: Workspace,
    names: tuple[str, ...],
    min_words: int | None,
    common_share: float | None,
    common_min_records: int | None,
    engine: EngineChoice,
    fmt: str,
) -> None:
    """flag training records that share real text with registered eval sets, in every field an export
    can emit (title, system prompt, text, turns, tool calls and results, rationales, tool definitions):
    a run of at least --min-words distinctive words found verbatim in an eval item. Eval 8-grams held
    by many training records, and everyday stop phrases, never make a match; the summary says what
    was discounted"""
    from curator.dedup.decontam import DecontamConfig, scan_workspace
    from curator.store.examples import summaries

    default = DecontamConfig()
    config = DecontamConfig(
        default.min_words if min_words is None else min_words,
        default.common_share if common_share is None else common_share,
        default.common_min_records if common_min_records is None else common_min_records,
    )
    if engine.distributed:
        from curator.dedup.decontam import evalset_names, list_evalsets
        from curator.distributed.decontam import scan_snapshot
        from curator.distributed.runtime import snapshot_folder, start

        evalset_names([s["name"] for s in list_evalsets(ws.db)], list(names) or None)  # before Ray starts
        start(engine.address)
        with snapshot_folder(ws, engine.snapshot) as folder:
            result, _ = scan_snapshot(folder, list(names) or None, config, blocks=engine.blocks)
    else:
        result = scan_workspace(ws.db, list(names) or None, config=config, workers=None)
    flags = result.flags
    flagged = len({f.id for f in flags})
    discount = result.summary()
    about = summaries(ws.db, sorted({f.id for f in flags}))

    def text() -> str:
        rows = []
        for f in flags:
            title, kind, status = about.get(f.id, ("", "", ""))
            rows.append([f.id, short(title, 30), kind, status, f.evalset, f.item, f.rule, f.field, short(f.span, 50)])
        header = ["id", "title", "kind", "status", "evalset", "item", "rule", "field", "span"]
        return lines(
            [
                table(rows, header),
                f"{flagged} of {result.checked} records overlap an eval set",
                *discount_lines(discount),
            ]
        )

    emit(
        fmt,
        json=lambda: {
            "checked": result.checked,
            "flagged": flagged,
            "flags": [f.to_json() for f in flags],
            "discount": discount,
        },
        table=text,
    )


def discount_lines(discount: dict[str, Any]) -> list[str]:
    """What was discounted, in a line or two (nothing when nothing was)."""
    out = []
    if discount["common_ngrams"]:
        top = "; ".join(f'"{t["text"]}" ({t["records"]})' for t in discount["top_common"][:3])
        out.append(
            f"discounted {discount['common_ngrams']} eval 8-grams as common (held by >= "
            f"{discount['common_threshold_records']} of {discount['training_records']} records): {top}"
        )
    if discount["copied_stretches"]:
        out.append(
            f"note: {discount['copied_stretches']} eval stretches longer than {discount['common_max_words']} words "
            "are held by that many records: copied eval text, never discounted"
        )
    if discount["dismissed_overlaps"]:
        examples = "; ".join(f'"{short(e, 50)}"' for e in discount["dismissed_examples"][:3])
        out.append(
            f"dismissed {discount['dismissed_overlaps']} overlaps made of common text or stop phrases: {examples}"
        )
    return out
