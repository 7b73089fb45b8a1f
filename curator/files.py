"""Reading the files a person names (specs, constitutions, eval sets, targets, settings, pools).

One place for the one-line errors: the path (or the caller's label for it), what went wrong, in the
caller's own error type, never a traceback.
"""

from __future__ import annotations

import gzip
import tomllib
import zlib
from pathlib import Path
from typing import IO, Any, cast

from curator.errors import CuratorError


def is_gzip(path: Path) -> bool:
    return Path(path).name.lower().endswith(".gz")


def plain_suffix(path: Path) -> str:
    """The file's suffix, lower case, under a `.gz` (`items.csv.gz` -> `.csv`)."""
    path = Path(path)
    return (path.with_suffix("") if is_gzip(path) else path).suffix.lower()


def open_bytes(path: Path, error: type[CuratorError], *, what: str = "file", label: str | None = None) -> IO[bytes]:
    """`path` opened for binary reading (a `.gz` file decompressed as it is read), or
    `error("PATH: no such file")` and the like."""
    label = label or str(path)
    try:
        if is_gzip(path) and Path(path).is_file():
            return cast(IO[bytes], gzip.open(path, "rb"))
        return Path(path).open("rb")
    except FileNotFoundError:
        raise error(f"{label}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory, not a {what}") from None
    except OSError as err:
        raise error(f"{label}: cannot read ({err.strerror or err})") from None


def read_bytes(path: Path, error: type[CuratorError], *, what: str = "file", label: str | None = None) -> bytes:
    with open_bytes(path, error, what=what, label=label) as fh:
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


def read_text(path: Path, error: type[CuratorError], *, what: str = "file", label: str | None = None) -> str:
    return decode(read_bytes(path, error, what=what, label=label), label or str(path), error)


def parse_toml(text: str, label: str, error: type[CuratorError]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(f"{label}: invalid TOML ({err})") from None
    except RecursionError:
        raise error(f"{label}: invalid TOML (arrays or tables nested too deeply)") from None
    except ValueError:  # more digits than Python converts (sys.int_max_str_digits)
        raise error(f"{label}: invalid TOML (a number has too many digits)") from None


def read_toml(path: Path, error: type[CuratorError], *, what: str = "file") -> dict[str, Any]:
    return parse_toml(read_text(path, error, what=what), str(path), error)
