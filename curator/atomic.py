"""Writing aside and renaming into place: a crash never leaves a half-written file or folder.

One mechanism for dumps, exports and reports (a leaf module: it imports nothing of curator's).

Names beside a target `T` (all hidden, all carrying the writer's process id):

- `.T.<pid>.<random>.tmp`: a file or folder being written;
- `.T.old-<pid>`: the previous folder, moved aside for the moment between two renames.

A process killed mid-write (SIGKILL, power loss) leaves one of these behind, never a partial `T`.
The next write of `T` calls :func:`recover` first: leftovers of processes that are no longer
running are removed, and a previous folder that was moved aside but never replaced goes back to
`T`. Leftovers of running processes are left alone (they may be writing right now).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True unless process `pid` is known not to run (this process counts as running)."""
    if pid == os.getpid():
        return True  # another thread of this process may be writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    except OSError:
        return True  # cannot tell: leave it alone
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def recover(target: Path) -> list[Path]:
    """Clean up after writers of `target` that died mid-write; returns what was removed or restored."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return []
    prefix = f".{target.name}."
    tmp_name = re.compile(r"(\d+)\.[^./]+\.tmp")
    old_name = re.compile(r"old-(\d+)")
    touched: list[Path] = []
    try:
        entries = [e for e in parent.iterdir() if e.name.startswith(prefix)]
    except OSError:
        return []
    for entry in sorted(entries):
        rest = entry.name[len(prefix) :]
        tmp = tmp_name.fullmatch(rest)
        old = old_name.fullmatch(rest)
        if tmp and not pid_alive(int(tmp.group(1))):
            _remove(entry)
            touched.append(entry)
        elif old and not pid_alive(int(old.group(1))):
            if not target.exists() and not target.is_symlink() and entry.is_dir():
                os.rename(entry, target)  # killed between moving the old folder aside and renaming the new in
            else:
                _remove(entry)
            touched.append(entry)
    return touched


def aside_dir(target: Path) -> Path:
    """A new, empty hidden folder beside `target` to write into (after :func:`recover`)."""
    target = Path(target)
    recover(target)
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent))
    except OSError as err:  # name the folder the user asked for, not the hidden one
        raise OSError(err.errno, err.strerror, str(target)) from None


@contextlib.contextmanager
def naming(target: Path, aside: Path) -> Iterator[None]:
    """OS errors raised while writing into `aside` name `target`, the folder the user asked for.

    A full disk fails inside `write()`, whose error carries no file name at all, and an error
    naming the hidden folder points at something the user never saw.
    """
    try:
        yield
    except OSError as err:
        if err.filename is None or str(err.filename).startswith(str(aside)):
            raise OSError(err.errno, err.strerror, str(target)) from err
        raise


def replace_dir(new: Path, target: Path) -> None:
    """Rename the finished folder `new` to `target`; an old target is moved aside and removed only afterwards."""
    if not target.exists():
        os.rename(new, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if old.exists():
        shutil.rmtree(old)
    os.rename(target, old)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to a hidden file beside `path`, then rename it into place."""
    write_chunks(path, [data], mode=mode)


def write_chunks(path: Path, chunks: Iterable[bytes], *, mode: int = 0o644) -> None:
    """`write_bytes` of the chunks end to end, never all held at once."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for data in chunks:
                fh.write(data)
        os.chmod(tmp, mode)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8, LF) to a temporary file beside `path`, then rename it into place."""
    write_bytes(path, text.encode("utf-8"))
