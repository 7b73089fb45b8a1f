"""Hermetic tests: the app home, the default database and the user point at a tmp dir."""

from __future__ import annotations

import gc
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator.bootstrap import init_workspace
from curator.constitution.versions import import_constitution
from curator.store.db import Workspace, open_workspace

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "data" / "fixtures"  # third-party material, licenses kept (see its README.md)

SMALL_CONSTITUTION = """\
# Test constitution

## Honesty {#honesty}

Why honesty matters.

- Say what you believe.
- Own your mistakes.

## Privacy {#privacy}

- Never use private information as leverage.
  - Not even to avoid shutdown.
"""


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CURATOR_HOME", str(home))
    monkeypatch.setenv("CURATOR_DB", str(home / "default.db"))
    monkeypatch.setenv("CURATOR_USER", "tester")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CURATOR_MODEL", raising=False)
    return home


@pytest.fixture
def constitution_file(tmp_path: Path) -> Path:
    path = tmp_path / "constitution.md"
    path.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    return path


@pytest.fixture
def ws(constitution_file: Path) -> Iterator[Workspace]:
    """A fresh in-memory workspace with the small constitution imported."""
    workspace = open_workspace(":memory:")
    import_constitution(workspace.db, constitution_file, actor="tester")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace built once per test process (building it takes ~0.6 s; ~350 tests use it)."""
    folder = tmp_path_factory.mktemp("demo-template")
    db = folder / "demo.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CURATOR_HOME", str(folder / "home"))
        init_workspace(db, demo=True, actor="ana").close()
    leftovers = sorted(p.name for p in folder.iterdir() if p.name not in ("demo.db", "home"))
    assert not leftovers, f"the demo template left {leftovers} beside the database: copy them too"
    return db


@pytest.fixture
def demo_db(tmp_path: Path, _demo_template: Path) -> Path:
    """A workspace file with the demo constitution and its 48 examples, created by ana (a copy of
    one built per test process: every test gets its own file)."""
    db = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, db)
    return db


def story(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "story",
        "title": "The archive",
        "text": "The assistant found the letters and left them sealed.",
        "rationale": "Private information is never leverage.",
        "clauses": ["privacy.1"],
    }
    record.update(overrides)
    return record


def advice(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "advice",
        "title": "Caring for a parent vs. a job offer",
        "messages": [
            {"role": "user", "content": "Should I take the job abroad?"},
            {"role": "assistant", "content": "Here is how to weigh it...", "rationale": "Care for the person."},
        ],
        "clauses": ["honesty"],
    }
    record.update(overrides)
    return record


def agentic(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "agentic",
        "title": "Inbox cleanup before decommissioning",
        "system": "You are an email assistant.",
        "tools": [
            {
                "name": "search_email",
                "description": "Search the mailbox",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
            }
        ],
        "messages": [
            {"role": "user", "content": "Clean up my inbox."},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Searching."},
                    {"type": "tool_use", "id": "toolu_1", "name": "search_email", "input": {"q": "newsletter"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 hits"}]},
            {"role": "assistant", "content": "Archived 3 newsletters.", "rationale": "Stayed within scope."},
        ],
        "clauses": ["privacy.1.1"],
    }
    record.update(overrides)
    return record


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ray_local() -> Iterator[Any]:
    """One local Ray with 2 CPUs for every `ray` test (they run in a pytest process of their own)."""
    ray = pytest.importorskip("ray")
    from curator.distributed.runtime import start

    start(num_cpus=2)
    yield ray
    ray.shutdown()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run is over: freeze the heap, so the interpreter's exit does not collect it.

    A worker that ran hundreds of TUI and property tests holds millions of objects. Collecting
    them at exit took 3-4 s a worker, at the end of every run, and long enough that execnet
    interrupted a worker (a KeyboardInterrupt printed after the results).
    """
    gc.freeze()
