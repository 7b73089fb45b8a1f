"""Chunks mapped in order over worker processes: the order, and how far ahead chunks are read."""

from __future__ import annotations

import os
from collections.abc import Iterator

from curator.workers import WORKERS, ordered_map


def _tagged(chunk: list[int]) -> tuple[list[int], int]:
    """The chunk squared, and the process that did it."""
    return [n * n for n in chunk], os.getpid()


def test_results_come_in_chunk_order_from_the_workers() -> None:
    chunks = [list(range(k, k + 3)) for k in range(0, 60, 3)]
    results = list(ordered_map(_tagged, iter(chunks), parallel=True))
    assert [values for values, _ in results] == [[n * n for n in c] for c in chunks]
    assert os.getpid() not in {pid for _, pid in results}
    assert list(ordered_map(_tagged, iter(chunks), parallel=False)) == [(v, os.getpid()) for v, _ in results]


def test_no_chunk_or_one_chunk() -> None:
    assert list(ordered_map(_tagged, iter([]), parallel=True)) == []
    assert [values for values, _ in ordered_map(_tagged, iter([[2]]), parallel=True)] == [[4]]


def test_chunks_are_read_only_a_bounded_way_ahead_of_the_caller() -> None:
    """Memory stays flat: while the caller holds result k, at most 2 x WORKERS + 2 more were read."""

    read: list[int] = []

    def chunks() -> Iterator[list[int]]:
        for k in range(40):
            read.append(k)
            yield [k]

    for k, _ in enumerate(ordered_map(_tagged, chunks(), parallel=True)):
        assert len(read) <= k + 2 * WORKERS + 2
