"""Every path the app uses, in one place.

`CURATOR_HOME` moves the app home (config, logs) and `CURATOR_DB` picks the
database; tests point both at a tmp dir so no test touches a real home.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def home_dir() -> Path:
    """The app home: `$CURATOR_HOME`, else `$XDG_CONFIG_HOME/curator`, else `~/.config/curator`."""
    env = os.environ.get("CURATOR_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "curator"


def config_file() -> Path:
    """The optional TOML settings file inside the app home."""
    return home_dir() / "config.toml"


def default_db_path() -> Path:
    """The database used when no `--db` is given: `$CURATOR_DB`, else `./curator.db`."""
    env = os.environ.get("CURATOR_DB")
    return Path(env).expanduser() if env else Path.cwd() / "curator.db"


def dedup_index_file(db_path: Path | str) -> Path | None:
    """The near-duplicate index file of a workspace (derived data, rebuilt when missing or stale):
    `<database>.dedup-index` beside it, or in `$CURATOR_DEDUP_INDEX_DIR`; None for an in-memory one."""
    if str(db_path) == ":memory:":
        return None
    path = Path(db_path)
    folder = os.environ.get("CURATOR_DEDUP_INDEX_DIR")
    return (Path(folder).expanduser() if folder else path.parent) / f"{path.name}.dedup-index"


def _data_dir(name: str) -> Path:
    """A top-level data folder: from the source tree, or from the wheel's copy."""
    in_repo = REPO_DIR / name
    if in_repo.is_dir():
        return in_repo
    return PACKAGE_DIR / "_data" / name


def demo_constitution_file() -> Path:
    """The demo constitution shipped with the project."""
    return _data_dir("constitution") / "constitution.md"


def demo_corpus_file() -> Path:
    """The demo examples shipped with the project."""
    return _data_dir("corpora") / "demo.jsonl"


def pools_dir() -> Path:
    """System prompts and tool definitions used to diversify exports."""
    return _data_dir("corpora") / "pools"


def safe_child(folder: Path, name: str) -> Path:
    """`folder / name`, refusing names that would escape the folder (separators, '..')."""
    from curator.errors import UsageError

    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise UsageError(f"unsafe name {name!r}: no path separators or '..' allowed")
    child = (folder / name).resolve()
    if child.parent != folder.resolve():
        raise UsageError(f"unsafe name {name!r}: escapes {folder}")
    return child
