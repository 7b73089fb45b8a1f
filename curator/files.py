"""Reading the files a person names (records, dumps, specs, constitutions, eval sets, targets, settings, pools).

Every read of a named file goes through here, so every one gets the same checks and the same
one-line errors (the path, or the caller's label for it, what went wrong, in the caller's own
error type, never a traceback):

- only a regular file is read: a directory, a FIFO, a device or a socket is refused before
  anything is read from it (a FIFO is opened without blocking, so a pipe nobody writes to
  never hangs a command, and `/dev/zero` never fills memory);
- each kind of file has a size limit (`LIMITS_MB`, changed by `[input_limits_mb]` in
  `config.toml`): a larger file is refused from its size, and a file that grows (or a `.gz`
  that expands) past the limit while it is read is refused when it does;
- `-` means standard input where a command says so (`open_input`, `read_input_text`), read
  under the same limit.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import tomllib
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal, cast

from curator.errors import CuratorError

FileKind = Literal["records", "dump", "constitution", "evalset", "text", "spec", "targets", "patch", "config", "file"]

LIMITS_MB: dict[str, int] = {
    "records": 65_536,  # import files are streamed line by line: GBs are fine
    "dump": 8_192,  # one file of a dump folder (`load`)
    "constitution": 64,
    "evalset": 512,  # read whole, then fingerprinted
    "text": 64,  # `dedup check --file`
    "spec": 10,
    "targets": 10,
    "patch": 10,  # `edit --patch`
    "config": 10,
    "file": 64,  # anything else (pools, manifests)
}
"""Default size limits in MB (10^6 bytes) per kind of file; `Settings.input_limits_mb` mirrors them."""

_limits: dict[str, int] = {kind: mb * 1_000_000 for kind, mb in LIMITS_MB.items()}


def set_limits(limits_mb: Mapping[str, float]) -> None:
    """Use these limits (MB per kind; kinds not named keep theirs), e.g. from `config.toml`."""
    for kind, mb in limits_mb.items():
        if kind in _limits:
            _limits[kind] = int(mb * 1_000_000)


def limit(kind: FileKind) -> int:
    """The size limit in bytes for this kind of file."""
    return _limits[kind]


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n} bytes"


def _too_big(label: str, kind: FileKind, size: int | None = None) -> str:
    what = f" ({_size(size)})" if size is not None else ""
    return (
        f"{label}: larger than the {_size(limit(kind))} limit for {kind} files{what}; "
        f"raise input_limits_mb.{kind} in config.toml if it is meant to be this big"
    )


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def is_gzip(path: Path) -> bool:
    return Path(path).name.lower().endswith(".gz")


def plain_suffix(path: Path) -> str:
    """The file's suffix, lower case, under a `.gz` (`items.csv.gz` -> `.csv`)."""
    path = Path(path)
    return (path.with_suffix("") if is_gzip(path) else path).suffix.lower()


def check_regular(path: Path, error: type[CuratorError], *, what: str = "file", label: str | None = None) -> None:
    """`error` unless `path` is an existing regular file (symlinks followed); nothing is opened."""
    label = label or str(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{label}: no such {what}") from None
    except (OSError, ValueError) as err:
        raise error(f"{label}: cannot read ({getattr(err, 'strerror', None) or err})") from None
    kind = _not_regular(mode)
    if kind is not None:
        raise error(f"{label}: is {kind}, not {_a(what)}")


class _Bounded(io.RawIOBase):
    """A binary reader that fails once more than `limit` bytes came through it (seeking back allows them again)."""

    def __init__(self, inner: IO[bytes], limit: int, on_over: CuratorError, *, under: IO[bytes] | None = None) -> None:
        super().__init__()
        self._inner = inner
        self._under = under
        self._limit = limit
        self._pos = 0
        self._on_over = on_over

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._inner.seek(offset, whence)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._limit - self._pos + 1)
        data = self._inner.read(want)
        n = len(data)
        if self._pos + n > self._limit:
            raise self._on_over
        self._pos += n
        view[:n] = data
        return n

    def close(self) -> None:
        try:
            self._inner.close()
            if self._under is not None:
                self._under.close()
        finally:
            super().close()


def open_bytes(
    path: Path,
    error: type[CuratorError],
    *,
    what: str = "file",
    label: str | None = None,
    kind: FileKind = "file",
    decompress: bool = True,
) -> IO[bytes]:
    """`path` opened for binary reading (a `.gz` file decompressed as it is read), or
    `error("PATH: no such file")` and the like: see the module docstring. `decompress=False`
    reads a `.gz` file's own bytes."""
    label = label or str(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{label}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory, not {_a(what)}") from None
    except OSError as err:
        raise error(f"{label}: cannot read ({err.strerror or err})") from None
    except ValueError as err:  # an embedded NUL byte
        raise error(f"{label}: cannot read ({err})") from None
    try:
        info = os.fstat(fd)
        not_regular = _not_regular(info.st_mode)
        if not_regular is not None:
            raise error(f"{label}: is {not_regular}, not {_a(what)}")
        if info.st_size > limit(kind):
            raise error(_too_big(label, kind, info.st_size))
        os.set_blocking(fd, True)
        raw = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    over = error(_too_big(label, kind))
    if decompress and is_gzip(path):
        inner = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        return cast(IO[bytes], io.BufferedReader(_Bounded(inner, limit(kind), over, under=raw)))
    return cast(IO[bytes], io.BufferedReader(_Bounded(raw, limit(kind), over)))


def read_bytes(
    path: Path,
    error: type[CuratorError],
    *,
    what: str = "file",
    label: str | None = None,
    kind: FileKind = "file",
) -> bytes:
    with open_bytes(path, error, what=what, label=label, kind=kind) as fh:
        try:
            return fh.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as err:
            raise error(f"{label or path}: not a valid gzip file ({err})") from None
        except OSError as err:
            raise error(f"{label or path}: cannot read ({err.strerror or err})") from None


def decode(raw: bytes, label: str, error: type[CuratorError]) -> str:
    """UTF-8 text (a byte-order mark dropped), or an error naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error(f"{label}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start})") from None


def read_text(
    path: Path,
    error: type[CuratorError],
    *,
    what: str = "file",
    label: str | None = None,
    kind: FileKind = "file",
) -> str:
    return decode(read_bytes(path, error, what=what, label=label, kind=kind), label or str(path), error)


def read_input_text(name: str, error: type[CuratorError], *, what: str = "file", kind: FileKind = "file") -> str:
    """The text of the file `name`, or of standard input for `-`, under the same size limit."""
    if name != "-":
        return read_text(Path(name), error, what=what, kind=kind)
    stdin = sys.stdin.buffer if sys.stdin is not None and hasattr(sys.stdin, "buffer") else None
    if stdin is None:
        raw = (sys.stdin.read(limit(kind) + 1) if sys.stdin is not None else "").encode("utf-8", "surrogateescape")
    else:
        raw = stdin.read(limit(kind) + 1)
    if len(raw) > limit(kind):
        raise error(_too_big("standard input", kind))
    return decode(raw, "standard input", error)


def parse_toml(text: str, label: str, error: type[CuratorError]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{label}: invalid TOML ({err})") from None
    except RecursionError:
        raise error(f"{label}: invalid TOML (arrays or tables nested too deeply)") from None
    except ValueError:  # more digits than Python converts (sys.int_max_str_digits)
        raise error(f"{label}: invalid TOML (a number has too many digits)") from None


def read_toml(path: Path, error: type[CuratorError], *, what: str = "file", kind: FileKind = "file") -> dict[str, Any]:
    return parse_toml(read_text(path, error, what=what, kind=kind), str(path), error)
