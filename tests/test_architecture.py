"""The core never imports Textual; the CLI imports it only for the TUI command; the TUI has no SQL."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

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


TUI = Path(__file__).resolve().parents[1] / "curator" / "tui"
SQL = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b")
DB_CALLS = {"execute", "executemany", "executescript"}


def _database_access(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) for SQL text, statement calls and sqlite_utils imports in one module."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append((node.lineno, f"SQL text {node.value.strip()[:60]!r}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DB_CALLS:
            found.append((node.lineno, f"call to .{node.func.attr}()"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] == "sqlite_utils"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlite_utils":
            found.append((node.lineno, f"from {node.module} import ..."))
    return found


def test_tui_reaches_the_database_only_through_core_functions() -> None:
    modules = sorted(TUI.rglob("*.py"))
    assert modules, f"no modules found under {TUI}"
    problems = []
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = path.relative_to(TUI.parents[1])
        problems += [f"{rel}:{line}: {what}" for line, what in sorted(_database_access(tree))]
    assert not problems, (
        "the TUI must read and write the workspace through functions in curator.store (or another core "
        "module), never with its own SQL or sqlite_utils:\n  " + "\n  ".join(problems)
    )


def test_the_tui_sql_check_sees_what_it_forbids() -> None:
    source = (
        "from sqlite_utils import Database\n"
        "import sqlite_utils.db\n"
        "db.execute('SELECT id FROM examples')\n"
        "conn.executemany(f'INSERT INTO t VALUES ({marks})', rows)\n"
        "q = 'UPDATE examples SET title = ?'\n"
        "self.query('.error')\n"
        "label = 'Select a clause'\n"
    )
    assert [line for line, _ in sorted(_database_access(ast.parse(source)))] == [1, 2, 3, 3, 4, 4, 5]
