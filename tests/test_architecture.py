"""The core never imports Textual; the CLI imports it only for the TUI command."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "curator.models",
    "curator.store",
    "curator.store.examples",
    "curator.store.snapshot",
    "curator.constitution.parse",
    "curator.constitution.diff",
    "curator.constitution.versions",
    "curator.importer",
    "curator.dumpload",
    "curator.bootstrap",
    "curator.config",
    "curator.paths",
    "curator.cli",
]


def test_core_and_cli_do_not_import_textual() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_store_never_imports_a_service() -> None:
    code = (
        "import sys\nimport curator.store.examples, curator.store.snapshot, curator.store.clauses\n"
        "services = ['curator.importer', 'curator.dumpload', 'curator.bootstrap', 'curator.cli']\n"
        "print(','.join(s for s in services if s in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
