"""Chunks of work mapped in order over spawned worker processes, while the caller writes.

Both bulk writers (`curator import`, `curator load`) parse and prepare records in workers and
write them in the calling process, in one transaction: parsing (validation, MinHash rows, token
estimates) costs ~3x the SQLite writes per record. A leaf module (standard library only).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = max(1, min(2, (os.cpu_count() or 2)))
"""Two parse processes feed the writer (on 2 cores both stay busy; more would only wait on it)."""

PARALLEL_MIN_BYTES = 8_000_000
"""Files at least this big are parsed in worker processes (their start-up costs ~0.3 s)."""


def _exit_with_parent(parent: int) -> None:
    """Pool initializer: a worker ends itself once the process that started it is gone.

    A SIGKILLed writer cannot shut its pool down, and the workers would wait for work forever
    (each holds its queue's write end, so no EOF ever comes). A daemon thread notices the
    re-parenting and exits the worker.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="curator-parent-watch", daemon=True).start()


def ordered_map(fn: Callable[[T], R], chunks: Iterable[T], *, parallel: bool) -> Iterator[R]:
    """`fn` of each chunk, in order; with `parallel`, in `WORKERS` spawned processes (read-ahead
    bounded, so memory stays flat). `fn` must be a module-level function (or a partial of one).

    Spawned, not forked: the TUI calls bulk writers from a thread. Only entry points guarded by
    `if __name__ == "__main__"` (the CLI) may pass `parallel=True`.
    """
    with WorkerPool(parallel=parallel) as pool:
        yield from pool.map(fn, chunks)


class WorkerPool:
    """`ordered_map` over one set of worker processes, for a writer that maps several streams in
    turn (a load: the records, then each dumped table): the workers start once (~0.6 s each time,
    a fresh interpreter importing curator). Without `parallel`, `map` runs in this process."""

    def __init__(self, *, parallel: bool) -> None:
        self._parallel = parallel
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> WorkerPool:
        if self._parallel:
            self._pool = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def map(self, fn: Callable[[T], R], chunks: Iterable[T]) -> Iterator[R]:
        """`fn` of each chunk, in order (see `ordered_map`)."""
        pool = self._pool
        if pool is None:
            for chunk in chunks:
                yield fn(chunk)
            return
        pending: deque[Future[R]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(fn, chunk))
            if len(pending) >= 2 * WORKERS + 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
