"""The near-duplicate index kept as a file beside the workspace, so opening it is a memory map, not a
read of every stored signature.

The file is derived data. It holds the LSH band keys and rows, a one-byte sketch of every
signature value, the distinct-shingle counts, the excerpt fingerprints and the record ids, as
little-endian arrays aligned to 64 bytes after a JSON header. The header names the format, the
layout parameters, the workspace's applied migrations and the state the arrays reflect: the
newest audit event (id and time) and the number of live records. A file whose header does not
match, whose size or checksums are wrong, or that cannot be read is never used (`open_index`
returns None and the caller rebuilds). It is written aside and renamed into place.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from curator.atomic import recover
from curator.minhash import BANDS, EXCERPT_GRAM, EXCERPT_WINDOW, NUM_PERM, ROWS

MAGIC = b"curator-dedup-index\n"
FORMAT = 1
"""Bump when the layout or the meaning of an array changes: older files are then rebuilt."""
PARAMS: dict[str, int] = {
    "num_perm": NUM_PERM,
    "bands": BANDS,
    "rows": ROWS,
    "key_bits": 32,
    "sketch_bits": 8,
    "excerpt_gram": EXCERPT_GRAM,
    "excerpt_window": EXCERPT_WINDOW,
}
"""What the arrays were computed with: a file made with other values is rebuilt."""
ALIGN = 64
ARRAYS: dict[str, str] = {
    "id_blob": "|u1",
    "id_ends": "<i8",
    "by_id": "<i4",
    "sizes": "<i4",
    "sketch": "|u1",
    "lsh_keys": "<u4",
    "lsh_rows": "<i4",
    "excerpt_keys": "<u8",
    "excerpt_rows": "<i4",
}
"""Every array the file holds, in file order, with its dtype."""


@dataclass(frozen=True)
class State:
    """The workspace state an index reflects: the newest audit event and how many records were live."""

    audit_id: int
    audit_at: str
    live: int

    def to_json(self) -> dict[str, Any]:
        return {"audit_id": self.audit_id, "audit_at": self.audit_at, "live": self.live}


@dataclass(frozen=True)
class Opened:
    """A file's arrays (memory-mapped, read-only) and the state and schema it was written for."""

    arrays: dict[str, npt.NDArray[Any]]
    state: State
    schema: list[str]
    nbytes: int


def _padding(at: int) -> int:
    return (-at) % ALIGN


def write_index(path: Path, arrays: dict[str, npt.NDArray[Any]], state: State, schema: list[str]) -> int:
    """Write the arrays to a hidden file beside `path`, then rename it into place; returns its size."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    described: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, dtype in ARRAYS.items():
        array = np.ascontiguousarray(arrays[name], dtype=np.dtype(dtype))
        arrays[name] = array
        described[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "offset": offset,
            "crc32": zlib.crc32(array.reshape(-1).view(np.uint8).data),
        }
        offset += array.nbytes + _padding(array.nbytes)
    header = json.dumps(
        {"format": FORMAT, "params": PARAMS, "schema": sorted(schema), "state": state.to_json(), "arrays": described},
        sort_keys=True,
    ).encode()
    start = len(MAGIC) + 8 + len(header)
    start += _padding(start)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + struct.pack("<Q", len(header)) + header)
            fh.write(b"\0" * (start - fh.tell()))
            for name in ARRAYS:
                array = arrays[name]
                fh.write(array.reshape(-1).view(np.uint8).data)
                fh.write(b"\0" * _padding(array.nbytes))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return start + offset


def _checksums(raws: list[npt.NDArray[np.uint8]]) -> list[int]:
    """CRC-32 of each array, two at a time: zlib releases the GIL on large buffers, and checking a
    million records' file (~500 MB) is most of the time the TUI waits for its duplicate panel."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="curator-crc") as pool:
        return list(pool.map(lambda raw: zlib.crc32(raw.data), raws))


def open_index(path: Path, schema: list[str], *, verify: bool = True) -> Opened | None:
    """The arrays of the index file at `path`, or None when it is missing, unreadable, of another
    format or layout, written for another schema, truncated or (with `verify`) corrupt."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC) + 8)
            if len(head) != len(MAGIC) + 8 or head[: len(MAGIC)] != MAGIC:
                return None
            (length,) = struct.unpack("<Q", head[len(MAGIC) :])
            if length > 1 << 20:
                return None
            header = json.loads(fh.read(length))
        if header.get("format") != FORMAT or header.get("params") != PARAMS or header.get("schema") != sorted(schema):
            return None
        start = len(MAGIC) + 8 + length
        start += _padding(start)
        size = os.path.getsize(path)
        described = header["arrays"]
        if set(described) != set(ARRAYS):
            return None
        end = start
        for name, dtype in ARRAYS.items():
            info = described[name]
            if info["dtype"] != dtype:
                return None
            nbytes = int(np.prod(info["shape"], dtype=np.int64)) * np.dtype(dtype).itemsize
            end = max(end, start + int(info["offset"]) + nbytes)
        if end > size:
            return None
        with open(path, "rb") as fh:  # the map outlives the file object; plain arrays over it, not np.memmap
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        base = np.frombuffer(mapped, dtype=np.uint8)
        raws: dict[str, npt.NDArray[np.uint8]] = {}
        for name, dtype in ARRAYS.items():
            info = described[name]
            nbytes = int(np.prod(info["shape"], dtype=np.int64)) * np.dtype(dtype).itemsize
            raws[name] = base[start + int(info["offset"]) : start + int(info["offset"]) + nbytes]
        if verify and _checksums(list(raws.values())) != [described[name]["crc32"] for name in raws]:
            return None
        arrays = {n: raw.view(np.dtype(ARRAYS[n])).reshape(described[n]["shape"]) for n, raw in raws.items()}
        state = header["state"]
        return Opened(
            arrays,
            State(int(state["audit_id"]), str(state["audit_at"]), int(state["live"])),
            list(header["schema"]),
            size,
        )
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
