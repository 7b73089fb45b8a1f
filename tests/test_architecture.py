"""The architecture holds itself: layer contracts, no package cycles, a core without Textual.

The contracts live in pyproject.toml ([tool.importlinter]); docs/architecture.md explains them.
"""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import curator

PACKAGE_DIR = Path(curator.__file__).resolve().parent
FRONT_ENDS = ("curator.tui", "curator.cli", "curator.__main__")


def all_modules() -> list[str]:
    """Every module of the curator package, found on disk (so a new one is checked without listing it)."""
    found = ["curator"]
    found += [m.name for m in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="curator.")]
    return sorted(found)


def core_modules() -> list[str]:
    return [m for m in all_modules() if not m.startswith(FRONT_ENDS)]


def unit_of(module: str) -> str:
    """The unit the layer contracts speak of: `curator.store.db` -> `curator.store`."""
    return ".".join(module.split(".")[:2])


def imported_modules(path: Path, module: str) -> set[str]:
    """The curator modules one source file imports, at any depth in the file (lazy imports too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from curator import paths`
    return {m for m in found if m == "curator" or m.startswith("curator.")}


def package_graph() -> dict[str, set[str]]:
    """Which top-level unit of curator imports which other one (`curator` itself excluded)."""
    known = set(all_modules())
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module == "curator":
            continue
        for target in imported_modules(path, module):
            if target in known and target != "curator" and unit_of(target) != unit_of(module):
                graph[unit_of(module)].add(unit_of(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that starts and ends at the same node, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle_between_packages() -> None:
    graph = package_graph()
    assert graph["curator.store"] >= {"curator.models", "curator.minhash"}  # the graph is really built
    assert "curator.dedup" in graph["curator.mixture"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_relative_and_lazy_imports_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from curator.dedup import engine\nfrom .. import models\n", encoding="utf-8")
    assert imported_modules(source, "curator.store.x") >= {"curator.dedup.engine", "curator.models"}


def test_the_layer_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint_imports), "--no-cache"], capture_output=True, text=True, cwd=PACKAGE_DIR.parent, check=False
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "4 kept" in out.stdout, out.stdout[-2000:]


def test_every_package_is_under_a_layer_contract() -> None:
    """A new top-level module or package must be placed in a layer (pyproject.toml) to be checked."""
    config = tomllib.loads((PACKAGE_DIR.parent / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}
    units = {unit_of(m) for m in all_modules() if m not in ("curator", "curator.__main__")}
    assert units - placed == set(), "not in any layer of [tool.importlinter]"
    assert placed - units == set(), "layers name modules that do not exist"
    (core,) = [c["source_modules"] for c in contracts if c.get("id") == "core-without-ui"]
    front_ends = {unit_of(m) for m in FRONT_ENDS}
    assert set(core) == units - front_ends, "core-without-ui must list every module below the front ends"


def test_the_core_does_not_import_textual_at_run_time() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {core_modules()!r}:\n"
        "    importlib.import_module(m)\n"
        "ui = ('textual', 'rich', 'curator.tui', 'curator.cli')\n"
        "bad = sorted(m for m in sys.modules if m in ui or m.startswith(tuple(u + '.' for u in ui)))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_cli_starts_without_textual() -> None:
    code = "import sys, curator.cli\nprint(','.join(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_store_never_imports_a_service_at_run_time() -> None:
    store = [m for m in all_modules() if m.startswith("curator.store")]
    services = ["dedup", "mixture", "assist", "constitution", "coverage", "review", "history", "importer", "dumpload"]
    code = (
        "import importlib, sys\n"
        f"for m in {store!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(','.join(s for s in {services!r} if any(k == 'curator.' + s or k.startswith('curator.' + s + '.')"
        " for k in sys.modules)))\n"
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


def test_the_documented_layers_are_the_contract() -> None:
    """docs/architecture.md names the layers of pyproject.toml, in order, module for module."""
    import re
    import tomllib

    from tests.helpers import REPO

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c.get("type") == "layers")
    expected = [{m.strip().removeprefix("curator.") for m in layer.split("|")} for layer in contract["layers"]]
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    line = doc[doc.index("- `layers`: ") : doc.index("A module may import any layer below")]
    names = re.findall(r"`([^`]+)`", " ".join(line.split()))[1:]
    documented = [{m.strip() for m in layer.split("|")} for layer in names]
    assert documented == expected
