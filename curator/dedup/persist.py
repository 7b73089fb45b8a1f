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
import threading
import weakref
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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


class DeferredCheck:
    """The checksum comparison of a file opened without it, to run later (once) on the same file
    (its own descriptor, kept open until then): a file renamed over it meanwhile is not the one
    checked."""

    def __init__(self, fd: int, regions: list[tuple[int, int]], expected: list[int]) -> None:
        self._fd, self._regions, self._expected = fd, regions, expected
        self._result: bool | None = None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, os.close, fd)

    def __call__(self) -> bool:
        """True when every array matches its checksum (a read error counts as a mismatch)."""
        with self._lock:
            if self._result is None:
                try:
                    self._result = _checksums(self._fd, self._regions, threads=1) == self._expected
                except OSError:
                    self._result = False
                finally:
                    self._finalizer()
            return self._result


@dataclass(frozen=True)
class Opened:
    """A file's arrays (memory-mapped, read-only) and the state and schema it was written for."""

    arrays: dict[str, npt.NDArray[Any]]
    state: State
    schema: list[str]
    nbytes: int
    deferred: DeferredCheck | None = None
    """Opened with `verify="later"`: the checksum comparison still to run."""


def _padding(at: int) -> int:
    return (-at) % ALIGN


HEADER_BLOCK = 4096
"""The header (magic, length, JSON) is padded with spaces to whole blocks of this many bytes, so
where each array lies is known before any checksum is: a file can be written array by array."""
CRC_BLOCK = 16 << 20
"""Bytes of a region read back at a time to checksum it (`IndexWriter.finish`)."""


def _layout(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, dict[str, Any]]:
    """Each array's dtype, shape and offset from the data's start (every array aligned to ALIGN)."""
    layout: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, dtype in ARRAYS.items():
        layout[name] = {"dtype": dtype, "shape": [int(x) for x in shapes[name]], "offset": offset}
        nbytes = _nbytes(layout[name])
        offset += nbytes + _padding(nbytes)
    return layout


def _nbytes(info: Mapping[str, Any]) -> int:
    """Bytes of an array described by its dtype and shape."""
    return int(np.prod(info["shape"], dtype=np.int64)) * int(np.dtype(info["dtype"]).itemsize)


def _data_bytes(layout: Mapping[str, dict[str, Any]]) -> int:
    last = layout[list(ARRAYS)[-1]]
    return int(last["offset"]) + _nbytes(last) + _padding(_nbytes(last))


def _header_json(
    layout: Mapping[str, dict[str, Any]], crcs: Mapping[str, int], state: State, schema: list[str]
) -> bytes:
    described = {name: {**info, "crc32": int(crcs[name])} for name, info in layout.items()}
    return json.dumps(
        {"format": FORMAT, "params": PARAMS, "schema": sorted(schema), "state": state.to_json(), "arrays": described},
        sort_keys=True,
    ).encode()


def _data_start(layout: Mapping[str, dict[str, Any]], state: State, schema: list[str]) -> int:
    """Where the arrays start: after the header at its widest (every checksum ten digits long)."""
    widest = _header_json(layout, dict.fromkeys(layout, 0xFFFFFFFF), state, schema)
    need = len(MAGIC) + 8 + len(widest)
    return -(-need // HEADER_BLOCK) * HEADER_BLOCK


def _header(layout: Mapping[str, dict[str, Any]], crcs: Mapping[str, int], state: State, schema: list[str]) -> bytes:
    """Magic, length and JSON, padded with spaces (which JSON ignores) to end at `_data_start`."""
    start = _data_start(layout, state, schema)
    body = _header_json(layout, crcs, state, schema)
    body += b" " * (start - len(MAGIC) - 8 - len(body))
    return MAGIC + struct.pack("<Q", len(body)) + body


POSITIONAL_IO = hasattr(os, "pwrite") and hasattr(os, "pread")
"""Reads and writes at an offset without moving the descriptor's position (POSIX). Without them
(Windows) a descriptor is read and written by seeking, one thread at a time."""
_PREADV = hasattr(os, "preadv")


def _write_all(fd: int, data: memoryview, at: int) -> None:
    if not POSITIONAL_IO:
        os.lseek(fd, at, os.SEEK_SET)
    while data.nbytes:
        written = os.pwrite(fd, data, at) if POSITIONAL_IO else os.write(fd, data)
        data, at = data[written:], at + written


def _read_all(fd: int, into: memoryview, at: int) -> None:
    """Fill `into` from the file at `at` (straight into the buffer where the system can)."""
    if not POSITIONAL_IO:
        os.lseek(fd, at, os.SEEK_SET)
    done = 0
    while done < into.nbytes:
        if POSITIONAL_IO and _PREADV:
            got = os.preadv(fd, [into[done:]], at + done)
        else:
            chunk = os.pread(fd, into.nbytes - done, at + done) if POSITIONAL_IO else os.read(fd, into.nbytes - done)
            into[done : done + len(chunk)] = chunk
            got = len(chunk)
        if got <= 0:
            raise OSError(f"short read at byte {at + done}")
        done += got


def write_index(path: Path, arrays: dict[str, npt.NDArray[Any]], state: State, schema: list[str]) -> int:
    """Write the arrays to a hidden file beside `path`, then rename it into place; returns its size."""
    with IndexWriter(path, {name: arrays[name].shape for name in ARRAYS}, state, schema) as out:
        for name in ARRAYS:
            out.write(name, 0, arrays[name])
        return out.finish()


class IndexWriter:
    """An index file written array by array, piece by piece, at offsets known from the shapes alone,
    so a writer holds one piece at a time, never the whole file. Written aside (a hidden file beside
    `path`), checksummed from what it holds, then renamed into place by `finish`; left without
    `finish` (an error), the hidden file is removed.
    """

    def __init__(self, path: Path, shapes: Mapping[str, tuple[int, ...]], state: State, schema: list[str]) -> None:
        self.path = Path(path)
        self.layout = _layout(shapes)
        self.state, self.schema = state, list(schema)
        self.start = _data_start(self.layout, state, schema)
        self.size = self.start + _data_bytes(self.layout)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        recover(self.path)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.{os.getpid()}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "w+b")
        self.fh.truncate(self.size)  # padding and unwritten bytes read as zeros

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)  # renamed away by `finish`; an error leaves nothing behind

    def _region(self, name: str, at: int, count: int) -> tuple[np.dtype[Any], int]:
        info = self.layout[name]
        total = int(np.prod(info["shape"], dtype=np.int64))
        if at < 0 or at + count > total:
            raise ValueError(f"{name}: elements {at}..{at + count} outside its {total}")
        dtype = np.dtype(ARRAYS[name])
        return dtype, self.start + int(info["offset"]) + at * dtype.itemsize

    def write(self, name: str, at: int, values: npt.ArrayLike) -> None:
        """`values` (flattened) as elements `at`... of array `name`."""
        flat = np.ascontiguousarray(values, dtype=np.dtype(ARRAYS[name])).reshape(-1)
        _, offset = self._region(name, at, int(flat.size))
        _write_all(self.fh.fileno(), flat.view(np.uint8).data, offset)

    def read(self, name: str, at: int, count: int) -> npt.NDArray[Any]:
        """Elements `at`... of array `name`, as written so far."""
        dtype, offset = self._region(name, at, count)
        out = np.empty(count, dtype=dtype)
        _read_all(self.fh.fileno(), out.view(np.uint8).data, offset)
        return out

    def finish(self) -> int:
        """Checksum every array from the file, write the header, sync, rename into place; returns the size."""
        fd = self.fh.fileno()
        crcs = {
            name: _file_crc(fd, self.start + int(info["offset"]), _nbytes(info)) for name, info in self.layout.items()
        }
        _write_all(fd, memoryview(_header(self.layout, crcs, self.state, self.schema)), 0)
        self.fh.flush()
        os.fsync(fd)
        self.fh.close()
        os.chmod(self.tmp, 0o644)  # mkstemp makes it private
        os.replace(self.tmp, self.path)
        return self.size


def _file_crc(fd: int, at: int, nbytes: int) -> int:
    """CRC-32 of `nbytes` bytes of an open file from `at`, read a block at a time: read, not
    touched through the map, the pages stay the system's file cache and never count as this
    process's memory (~500 MB a million records, most of which a check never reads)."""
    block = memoryview(bytearray(min(CRC_BLOCK, nbytes)))
    crc = 0
    for lo in range(0, nbytes, CRC_BLOCK):
        piece = block[: min(CRC_BLOCK, nbytes - lo)]
        _read_all(fd, piece, at + lo)
        crc = zlib.crc32(piece, crc)
    return crc


def _checksums(fd: int, regions: list[tuple[int, int]], *, threads: int = 2) -> list[int]:
    """CRC-32 of each (offset, size) region, `threads` at a time: reads and zlib release the GIL, so
    two threads halve a check someone waits for; a check run behind a working screen takes one, and
    leaves the other core to the screen."""
    with ThreadPoolExecutor(max_workers=threads if POSITIONAL_IO else 1, thread_name_prefix="curator-crc") as pool:
        return list(pool.map(lambda region: _file_crc(fd, *region), regions))


def open_index(path: Path, schema: list[str], *, verify: bool | Literal["later"] = True) -> Opened | None:
    """The arrays of the index file at `path`, or None when it is missing, unreadable, of another
    format or layout, written for another schema, truncated or (with `verify`) corrupt.

    `verify="later"` maps the file at once and leaves the checksums to `Opened.deferred` (reading
    ~500 MB a million records is most of what opening costs)."""
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
            end = max(end, start + int(info["offset"]) + _nbytes(info))
        if end > size:
            return None
        regions = [(start + int(described[name]["offset"]), _nbytes(described[name])) for name in ARRAYS]
        expected = [described[name]["crc32"] for name in ARRAYS]
        deferred = None
        with open(path, "rb") as fh:  # the map outlives the file object; plain arrays over it, not np.memmap
            if verify is True and _checksums(fh.fileno(), regions) != expected:
                return None
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            if verify == "later":
                deferred = DeferredCheck(os.dup(fh.fileno()), regions, expected)
        base = np.frombuffer(mapped, dtype=np.uint8)
        raws = {name: base[at : at + nbytes] for name, (at, nbytes) in zip(ARRAYS, regions, strict=True)}
        arrays = {n: raw.view(np.dtype(ARRAYS[n])).reshape(described[n]["shape"]) for n, raw in raws.items()}
        state = header["state"]
        return Opened(
            arrays,
            State(int(state["audit_id"]), str(state["audit_at"]), int(state["live"])),
            list(header["schema"]),
            size,
            deferred,
        )
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return None
