"""`curator coverage`: clause x kind x status coverage beside eval violations, and the `--min` and
`--min-pairs` gates for CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from curator.cli.options import common_options, format_option, kind_option, pass_workspace, status_option
from curator.cli.output import deliver, render, table, warn
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace


@cli.command("coverage")
@common_options
@kind_option("count only this kind")
@status_option("count only this status")
@click.option(
    "--min",
    "minimum",
    type=int,
    metavar="N",
    help="exit 1 and list every clause whose approved total is below N (a CI gate)",
)
@click.option(
    "--min-pairs",
    "min_pairs",
    type=int,
    metavar="N",
    help="exit 1 and list every clause with fewer than N approved examples holding rejected alternatives",
)
@click.option("--targets", metavar="FILE", help="TOML with `default = N` and a [targets] table per clause id")
@click.option(
    "--eval-run",
    "eval_run",
    metavar="RUN|latest|none",
    default="latest",
    help="add each clause's own violation rate in this eval run (default: latest, the newest run with "
    "verdicts, if any; none: no violations column)",
)
@click.option(
    "--sort",
    "order",
    type=click.Choice(["document", "gap", "priority"]),
    default="document",
    help="clause order (default: document): largest gap first, or priority (violated most by the Wilson "
    "lower bound, then fewest approved; clauses without eval data after, by gap)",
)
@click.option(
    "--recount",
    is_flag=True,
    help="count again from every record and link, and keep those counts (the counts are kept on every write; "
    "this repairs counts changed by hand)",
)
@format_option("table", "json", "csv", "markdown", "html", default="table")
@click.option(
    "--out",
    metavar="FILE",
    help="write to FILE (atomically) instead of stdout; an existing FILE only if curator wrote it, unchanged",
)
@pass_workspace
def coverage_report(
    ws: Workspace,
    kind: str | None,
    status: str | None,
    minimum: int | None,
    min_pairs: int | None,
    targets: str | None,
    eval_run: str,
    order: str,
    recount: bool,
    fmt: str,
    out: str | None,
) -> None:
    """clause x kind coverage of the current constitution, beside eval violations (for leads and CI gates)"""
    from dataclasses import replace

    from curator import coverage

    if recount:
        coverage.recount(ws.db)
    full = coverage.compute(
        ws.db,
        kind=kind,
        status=status,
        targets_file=Path(targets) if targets else None,
        pairs=True,
        eval_run=None if eval_run == "none" else eval_run,
    )
    report = replace(full, clauses=coverage.sort_clauses(full.clauses, order))

    def as_table() -> str:
        headers, body = coverage.table_rows(report)
        footer = f"\ngaps (approved below target): {len(report.gaps)}\n"
        if report.eval_run is not None:
            footer += f"violations: eval run {report.eval_run.label()}, of each clause's own prompts\n"
        return table(body, headers) + footer

    text = render(
        fmt,
        json=report.to_json,
        csv=lambda: coverage.to_csv(report),
        markdown=lambda: coverage.to_markdown(report),
        html=lambda: coverage.to_html(report),
        table=as_table,
    )
    deliver(text, out, db_path=ws.path)
    failed = False
    if minimum is not None:
        below = coverage.below_minimum(full, minimum)
        for c in below:
            warn(f"below --min {minimum}: {c.id} has {c.approved_total} approved")
        failed = bool(below)
    if min_pairs is not None:
        short = coverage.below_minimum_pairs(full, min_pairs)
        for c in short:
            warn(f"below --min-pairs {min_pairs}: {c.id} has {c.pairs} approved with rejected alternatives")
        failed = failed or bool(short)
    if failed:
        raise click.exceptions.Exit(1)
