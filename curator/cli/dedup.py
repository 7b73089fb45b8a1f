"""`curator dedup`: near-duplicates of a text, clusters of the corpus, pairs that are not duplicates."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from curator.cli.options import (
    EngineChoice,
    acting_user,
    common_options,
    engine_options,
    exclusive,
    format_option,
    limit_option,
    pass_workspace,
)
from curator.cli.output import emit, lines, short, table, write
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.dedup.engine import Cluster
    from curator.store.db import Workspace


@cli.group("dedup", short_help="near-duplicates: check a text, cluster the corpus, mark false positives")
def dedup() -> None:
    """Near-duplicates: check a text, cluster the corpus, mark false positives."""


@dedup.command("check")
@common_options
@click.option("--text", help="the text to check")
@click.option("--file", help="a UTF-8 file whose content is checked")
@click.option("--id", "example_id", help="a stored record (itself excluded)")
@exclusive("text", "file", "example_id", required=True)
@limit_option("at most this many matches (default 10)", default=10)
@format_option("json", "table", default="table")
@pass_workspace
def check(ws: Workspace, text: str | None, file: str | None, example_id: str | None, limit: int, fmt: str) -> None:
    """verified near-duplicates of a text, a file or a stored record, best first"""
    from curator.dedup.engine import DedupEngine
    from curator.errors import CuratorError
    from curator.files import read_text
    from curator.paths import dedup_index_file

    engine = DedupEngine.load(ws.db, index_file=dedup_index_file(ws.path))
    if example_id:
        result = engine.check_example_result(example_id, limit=limit)
    else:
        result = engine.check_result(
            text if text is not None else read_text(Path(str(file)), CuratorError, kind="text"), limit=limit
        )
    matches = result.matches
    unverified = [f"{result.unverified} more look-alikes not verified"] if result.unverified else []
    emit(
        fmt,
        json=lambda: {
            "matches": [m.to_json() for m in matches],
            **({"unverified": result.unverified} if result.unverified else {}),
        },
        table=lambda: lines(
            [
                table(
                    [[m.id, f"{m.score:.3f}", m.reason, m.kind, m.status, short(m.title, 40)] for m in matches],
                    ["id", "score", "reason", "kind", "status", "title"],
                ),
                *(f"{m.id}{_where(m.field)}: {short(m.span, 150)}" for m in matches if m.span),
                *unverified,
            ]
            if matches
            else ["no near-duplicates", *unverified]
        ),
    )


def _where(field: str) -> str:
    return f" ({field})" if field else ""


@dedup.command("clusters")
@common_options
@format_option("json", "text", default="text")
@engine_options
@pass_workspace
def clusters(ws: Workspace, fmt: str, engine: EngineChoice) -> None:
    """cluster the whole corpus over verified near-duplicate pairs

    Records joined through LSH buckets of more than 200 are one template, listed once and not
    paired with each other (unless nearly identical, or few of them look alike). On a terminal,
    a progress line on stderr shows the bands being paired, then the pairs being verified (with
    --engine ray: the stages done).
    """
    from curator.dedup.engine import DedupEngine

    progress, shown = _progress_on_terminal()
    try:
        if engine.distributed:
            from curator.distributed.clusters import clusters_report
            from curator.distributed.runtime import snapshot_folder, start

            start(engine.address)  # before any snapshot is written: a missing Ray fails first
            staged = None if progress is None else lambda stage, done, total: progress(done, total, stage)
            with snapshot_folder(ws, engine.snapshot) as folder:
                report, _ = clusters_report(folder, blocks=engine.blocks, address=engine.address, progress=staged)
        else:
            report = DedupEngine.load(ws.db).clusters(progress=progress)
    finally:
        if shown:  # end the progress line, so that the report starts its own
            sys.stderr.write("\n")
    emit(
        fmt,
        json=report.to_json,
        text=lambda: lines(
            [
                *(line for c in report.clusters for line in _cluster_lines(c)),
                *(
                    f"template bucket of {len(t)} records (skipped): {' '.join(t[:10])}{' …' if len(t) > 10 else ''}"
                    for t in report.templates
                ),
                f"{len(report.clusters)} clusters, {len(report.templates)} template buckets",
            ]
        ),
    )


def clusters_progress_line(done: int, total: int, width: int = 30, stage: str = "") -> str:
    """`clusters [#####-----] 12/32`: LSH bands paired, then candidate pairs verified (on Ray: the
    stages done, and the last one's name)."""
    filled = round(width * done / total) if total else width
    named = f" {stage}" if stage else ""
    return f"clusters [{'#' * filled}{'-' * (width - filled)}] {done:,}/{total:,}{named}"


def _progress_on_terminal() -> tuple[Callable[..., None] | None, list[bool]]:
    """A progress callback rewriting one line of stderr, only when stderr is a terminal (logs stay clean)."""
    shown: list[bool] = []
    if not sys.stderr.isatty():
        return None, shown

    def progress(done: int, total: int, stage: str = "") -> None:
        line = clusters_progress_line(done, total, stage=stage)
        sys.stderr.write("\r" + (line.ljust(60) if stage else line))  # stage names differ in length: pad
        sys.stderr.flush()
        shown[:] = [True]

    return progress, shown


def _cluster_lines(cluster: Cluster) -> list[str]:
    """A cluster's heading, then two lines per member: who it is, and the text it shares."""
    out = [f"{len(cluster.ids)} records, max score {cluster.max_score:.3f}, keep {cluster.representative}"]
    for m in cluster.members:
        keep = "*" if m.id == cluster.representative else " "
        out.append(f" {keep} {m.id}  {m.kind}  {m.status}  {m.reason} {m.score:.3f}  {short(m.title, 50)}")
        out.append(f"      {_where(m.field).strip()} {short(m.span, 110)}".rstrip() if m.span else "")
    return [line for line in out if line]


@dedup.command("ignore")
@common_options
@click.argument("a", help="one record id")
@click.argument("b", help="the other record id")
@pass_workspace
def ignore(ws: Workspace, a: str, b: str) -> None:
    """mark two records as not duplicates; the pair is never reported again"""
    from curator.dedup.engine import DedupEngine

    DedupEngine.load(ws.db).ignore(a, b, actor=acting_user())
    write(f"{a} and {b} are marked as not duplicates\n")


@dedup.command("reindex")
@common_options
@pass_workspace
def reindex(ws: Workspace) -> None:
    """recompute every record's stored near-duplicate signature (after a damaged or hand-edited database)"""
    from curator.paths import dedup_index_file
    from curator.store.examples import rebuild_signatures

    with ws.db.atomic():
        count = rebuild_signatures(ws.db)
    index = dedup_index_file(ws.path)
    if index is not None:  # signatures rewritten without audit events: the index file is rebuilt on next use
        index.unlink(missing_ok=True)
    write(f"recomputed the near-duplicate signatures of {count} records\n")
