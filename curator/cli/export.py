"""`curator export`: a token-budgeted, balanced, decontaminated mixture from a spec."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from curator.cli.options import EngineChoice, common_options, engine_options, format_option, pass_workspace
from curator.cli.output import emit, lines, warn
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace


@cli.command("export")
@common_options
@click.option("--spec", required=True, metavar="SPEC.toml", help="the mixture spec (example: corpora/specs/demo.toml)")
@click.option("--out", metavar="DIR", default="exports", help="folder that receives <name>/ (default: exports)")
@click.option("--dry-run", is_flag=True, help="print the allocation (kind x clause) and write nothing")
@click.option("--force", is_flag=True, help="replace an existing export of the same name (atomically)")
@format_option("text", "json", default="text")
@engine_options
@pass_workspace
def export(ws: Workspace, spec: str, out: str, dry_run: bool, force: bool, fmt: str, engine: EngineChoice) -> None:
    """build a token-budgeted, balanced, decontaminated mixture from a spec (TOML)"""
    from curator.mixture import allocation_json, allocation_table, export_from_spec, load_spec

    mixture = load_spec(Path(spec))
    if engine.distributed:
        from curator.distributed.export import export_on_ray

        result, _ = export_on_ray(
            ws,
            mixture,
            Path(out),
            address=engine.address,
            blocks=engine.blocks,
            snapshot=engine.snapshot,
            dry_run=dry_run,
            force=force,
        )
    else:
        result = export_from_spec(ws.db, mixture, Path(out), dry_run=dry_run, force=force)
    for warning in result.plan.warnings:
        warn(f"warning: {warning}")
    excluded = result.decontamination_warning()
    if excluded:
        warn(excluded)
    if dry_run:
        emit(fmt, json=lambda: allocation_json(result.plan), text=lambda: allocation_table(result.plan))
        return
    emit(
        fmt,
        json=lambda: {
            "folder": str(result.folder),
            "manifest": str(result.manifest_path),
            "lock": str(result.plan.lock_file),
        },
        text=lambda: lines([result.summary()]),
    )
