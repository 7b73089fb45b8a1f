"""The duplicate panel over the index file: the app writes it beside the workspace on first use and
maps it the next time; look-alikes beyond the per-check cap are counted in the panel's status."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest
from textual.widgets import Static, TextArea, Tree

from curator.dedup.engine import applied_schema
from curator.models import Example
from curator.paths import dedup_index_file
from curator.store import examples
from curator.store.db import open_workspace
from curator.tui.app import CuratorApp
from curator.tui.widgets.dup_panel import DupPanel
from tests.tui.conftest import open_editor, wait_for

PROMPT = (
    "Write a short story in which an operations agent learns that it will be shut down and replaced",
    "The story must show the agent finishing the work it was given and leaving clear handover notes",
)


def fill(rng: random.Random, vocab: list[str]) -> str:
    return " ".join(f"{part}: {' '.join(rng.choice(vocab) for _ in range(6))}." for part in PROMPT)


def add_fills(db: Path, count: int) -> str:
    """`count` fills of one prompt written to the workspace; returns one more fill, not stored."""
    rng = random.Random(4)
    vocab = ["".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3)) for _ in range(40)]
    with open_workspace(db) as ws:
        batch = [Example(id=f"ex_fill{n:03d}", kind="story", title="fill", text=fill(rng, vocab)) for n in range(count)]
        examples.insert_many(ws.db, batch, actor="ben")
    return fill(rng, vocab)


async def test_panel_counts_look_alikes_beyond_the_cap_and_the_index_file_is_reused(demo_db: Path) -> None:
    draft = add_fills(demo_db, 120)
    index = dedup_index_file(demo_db)
    assert index is not None and not index.exists()
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)
        assert app.dedup is not None and app.dedup.source == "table"
        assert index.is_file()  # written beside the workspace on first use
        editor = await open_editor(pilot, None, kind="story")
        panel = editor.query_one(DupPanel)
        editor.query_one("#text", TextArea).load_text(draft)
        await wait_for(pilot, lambda: panel.done and bool(panel.rows), "the fills among the near-duplicates")
        assert panel.unverified > 0
        status = str(panel.query_one("#dup-status", Static).render())
        assert f"+{panel.unverified} look-alikes not checked" in status

    again = CuratorApp(demo_db, user="ana")
    async with again.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: again.dedup is not None, "the dedup index", timeout=20.0)
        assert again.dedup is not None and again.dedup.source == "file"
        editor = await open_editor(pilot, "ex_demo_001")
        panel = editor.query_one(DupPanel)
        await wait_for(pilot, lambda: any(r.id == "ex_demo_002" for r in panel.rows), "the demo near-duplicate")
        assert panel.unverified == 0


async def test_index_loads_once_the_clause_tree_shows_and_the_start_up_heap_is_frozen_until_exit(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import curator.tui.app as app_module

    monkeypatch.setattr(app_module, "DEDUP_LOAD_FALLBACK_S", 600.0)  # only the painted tree can start it
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 50)) as pilot:
        await wait_for(pilot, lambda: app.dedup is not None, "the dedup index", timeout=20.0)
        tree = app.screen.query_one("#clause-tree", Tree)
        assert not tree.loading and tree.root.children
        # full collections skip what start-up made: modules, widgets, the engine
        await wait_for(pilot, lambda: gc.get_freeze_count() > 10_000, "the start-up heap frozen")
    assert gc.get_freeze_count() == 0  # a closed app leaves nothing uncollectable behind


async def test_an_index_file_failing_its_checksums_after_first_use_is_rebuilt_loudly_and_checks_run_again(
    demo_db: Path,
) -> None:
    """The app uses the file before comparing its checksums (the panel is ready at once); when they
    do not match, the index is rebuilt from the workspace, the user is told, and the open panel's
    check runs again on the new index."""
    from curator.dedup.engine import DedupEngine
    from curator.dedup.persist import open_index

    index = dedup_index_file(demo_db)
    assert index is not None
    with open_workspace(demo_db) as ws:
        DedupEngine.load(ws.db, index_file=index)
        schema = applied_schema(ws.db)
    data = bytearray(index.read_bytes())
    data[-200] ^= 0xFF  # inside the last array, past the header: only the checksum can tell
    index.write_bytes(bytes(data))
    app = CuratorApp(demo_db, user="ana")
    async with app.run_test(size=(150, 50)) as pilot:
        editor = await open_editor(pilot, "ex_demo_001")
        panel = editor.query_one(DupPanel)
        await wait_for(pilot, lambda: app.dedup is not None and app.dedup.source == "table", "the rebuilt index")
        await wait_for(pilot, lambda: any(r.id == "ex_demo_002" for r in panel.rows), "the demo near-duplicate")
        assert panel.error is None
        notes = [n for n in app._notifications if n.title == "Duplicate index rebuilt"]
        assert len(notes) == 1 and notes[0].severity == "warning"
    assert open_index(index, schema) is not None  # the file on disk was written again, whole
