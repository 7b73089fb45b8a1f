"""The headless face: every non-interactive job is a command of the click group `cli`.

`curator` with no command opens the TUI; Textual is imported only then, so scripts and CI never
pay for it, and each command imports the services it uses when it runs. Reference: docs/cli.md
(generated from this tree by docs/gen_cli.py); exit codes and JSON output shapes:
docs/architecture.md, Contracts.

Layout: `root.py` (the group, exit statuses, one-line errors), `options.py` (shared options and
the workspace a command opens), `output.py` (JSON and text output), then one module per group
of commands. Importing a command module registers its commands, in the order `--help` lists them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from curator.cli.root import cli

COMMAND_MODULES = (
    "workspace",
    "records",
    "annotate",
    "constitution",
    "dedup",
    "evalset",
    "evals",
    "coverage",
    "export",
    "assist",
)
"""Imported in this order, which is the order of `curator --help` (a new module goes here too)."""

for _name in COMMAND_MODULES:
    importlib.import_module(f"curator.cli.{_name}")

from curator.cli.assist import batch_progress_line  # noqa: E402

__all__ = ["batch_progress_line", "cli", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line (default: `sys.argv[1:]`) and return its exit status."""
    return cli.main(list(sys.argv[1:] if argv is None else argv), prog_name="curator", standalone_mode=False)
