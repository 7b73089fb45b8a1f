"""Pausing the cyclic garbage collector around allocation-heavy loops."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block; restored on exit.

    Reading, rendering and counting hundreds of thousands of records allocate millions of
    short-lived, acyclic tuples, dicts and strings; each automatic collection would rescan every
    object still held (the rows read so far), which made such loops several times slower. Nothing
    built inside these blocks is cyclic, so nothing is left for the collector to find later.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def settle_heap() -> None:
    """Move every object tracked now to the collector's permanent generation.

    A long-running process (the TUI) holds ~130k long-lived objects once it has started: modules,
    widgets, the duplicate engine. Every automatic full collection rescans all of them, ~35 ms each
    in the TUI, a stall the next key press or duplicate check waits behind. Frozen, they are skipped,
    and a full collection only scans what was made since. No collection first (it would be one such
    stall): start-up garbage frozen with the rest is only kept until `release_heap` undoes it.
    """
    gc.freeze()


def release_heap() -> None:
    """Return the objects `settle_heap` froze to the collector (at shutdown: an app closed inside a
    longer-lived process, a test run, must not stay uncollectable)."""
    gc.unfreeze()
