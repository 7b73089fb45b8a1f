"""Options every command shares, and the workspace a command works on.

- `common_options`: `--db PATH` and `--user NAME`, on the root and on every command (the
  command's value wins, so `curator --db X list` and `curator list --db X` both work);
- `format_option(...)`: `--format` with the command's own choices and default;
- `kind_option`, `status_option`, `limit_option` and `record_filters` (all seven list filters,
  handed to the command as one `filters` argument that `store.examples.query` takes as is);
- `exclusive(...)`: options that cannot be given together (or of which one is required);
- `pass_workspace`: opens the workspace named by `--db` (announcing a schema upgrade on stderr),
  passes it as the first argument and closes it afterwards.

Services are imported inside functions, never here, so `curator --help` loads none of them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypedDict, TypeVar, cast

import click
from click.core import ParameterSource

from curator.models import KINDS, STATUSES

if TYPE_CHECKING:
    from curator.store.db import Workspace

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

_DB = "curator.db"
_USER = "curator.user"


# ---------------------------------------------------------------------------
# --db and --user
# ---------------------------------------------------------------------------


def _remember(key: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    """Keep a given value in the context's `meta`, which the root and its commands share.

    The value is not a command argument, so the command's own NUL-byte check does not see it: checked here.
    """

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            if "\x00" in value:
                raise click.BadParameter("contains a NUL byte", ctx=ctx, param=param)
            ctx.meta[key] = value

    return callback


def common_options(f: F) -> F:
    """`--db PATH` and `--user NAME` (every command takes both; a test checks)."""
    f = click.option(
        "--user",
        metavar="NAME",
        expose_value=False,
        callback=_remember(_USER),
        help="acting user (default: $CURATOR_USER, else the OS login)",
    )(f)
    return click.option(
        "--db",
        metavar="PATH",
        expose_value=False,
        callback=_remember(_DB),
        help="workspace database (default: $CURATOR_DB, else ./curator.db)",
    )(f)


def workspace_path() -> Path:
    """The database `--db` names, else `$CURATOR_DB`, else `./curator.db`."""
    from curator import paths

    given = click.get_current_context().meta.get(_DB)
    return Path(given).expanduser() if given else paths.default_db_path()


def acting_user() -> str:
    """`--user`, else `$CURATOR_USER`, else the config file, else the OS login."""
    from curator.config import load_settings, resolve_user

    return resolve_user(click.get_current_context().meta.get(_USER), load_settings())


def announce_upgrade(path: Path) -> Callable[[list[str]], None]:
    """What `open_workspace` calls before it upgrades an older database: one line on stderr."""

    def announce(pending: list[str]) -> None:
        sys.stderr.write(
            f"curator: upgrading {path} to the current schema ({', '.join(pending)}); "
            "one-off, about 15 s per 100k records\n"
        )
        sys.stderr.flush()

    return announce


def pass_workspace(f: Callable[Concatenate[Workspace, P], R]) -> Callable[P, R]:
    """Open the existing workspace (`--db`) for the command, pass it first, close it afterwards."""

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from curator.store.db import open_workspace

        path = workspace_path()
        with open_workspace(path, create=False, on_upgrade=announce_upgrade(path)) as ws:
            return f(ws, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------
# --format
# ---------------------------------------------------------------------------


def format_option(*choices: str, default: str, help: str | None = None, flag: str = "--format") -> Callable[[F], F]:
    """`--format` (or `flag`) limited to `choices`; the handler receives it as `fmt`."""
    return click.option(
        flag,
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_choices=True,
        help=help or f"output format (default: {default})",
    )


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------


def kind_option(help: str = "only this kind", *, required: bool = False) -> Callable[[F], F]:
    return click.option("--kind", type=click.Choice(KINDS), required=required, help=help)


def status_option(help: str = "only this status") -> Callable[[F], F]:
    return click.option("--status", type=click.Choice(STATUSES), help=help)


def limit_option(help: str = "at most this many records", *, default: int | None = None) -> Callable[[F], F]:
    return click.option("--limit", type=int, default=default, help=help)


class RecordFilters(TypedDict):
    """The list filters, named as `store.examples.query` names them."""

    kind: str | None
    status: str | None
    clause: str | None
    tag: str | None
    author: str | None
    text: str | None
    limit: int | None


_FILTERS = tuple(RecordFilters.__annotations__)


def record_filters(f: F) -> F:
    """`--kind --status --clause --tag --author --text --limit`, passed to the handler as `filters`."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        filters = cast(RecordFilters, {name: kwargs.pop(name) for name in _FILTERS})
        return f(*args, filters=filters, **kwargs)

    options = [
        kind_option(),
        status_option(),
        click.option("--clause", metavar="ID", help="only records linked to this clause"),
        click.option("--tag", help="only records with this tag"),
        click.option("--author", help="only records by this author"),
        click.option("--text", help="full-text search over titles and content"),
        limit_option(),
    ]
    decorated = cast(F, wrapper)
    for option in reversed(options):  # the first listed is the first in --help
        decorated = option(decorated)
    return decorated


# ---------------------------------------------------------------------------
# Options that exclude each other
# ---------------------------------------------------------------------------


def exclusive(*names: str, required: bool = False) -> Callable[[F], F]:
    """At most one of these parameters on the command line (exactly one with `required`): exit 2 otherwise.

    Checked before the command runs, so nothing is opened or written on a mistake.
    """

    def decorator(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            opts = {p.name: p.opts[0] for p in ctx.command.params if p.name in names}
            given = [n for n in names if ctx.get_parameter_source(n) is ParameterSource.COMMANDLINE]
            if len(given) > 1:
                raise click.UsageError(f"{opts[given[1]]} is not allowed with {opts[given[0]]}", ctx=ctx)
            if required and not given:
                raise click.UsageError(f"one of {', '.join(opts[n] for n in names)} is required", ctx=ctx)
            return f(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
