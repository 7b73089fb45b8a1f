"""Options every command shares, and the workspace a command works on.

- `common_options`: `--db PATH` and `--user NAME`, on the root and on every command (the
  command's value wins, so `curator --db X list` and `curator list --db X` both work);
- `format_option(...)`: `--format` with the command's own choices and default;
- `kind_option`, `status_option`, `limit_option` and `record_filters` (all seven list filters,
  handed to the command as one `filters` argument that `store.examples.query` takes as is);
- `exclusive(...)`: options that cannot be given together (or of which one is required);
- `record_target(...)`: what a record verb acts on, one record (`ID`, `--expect-version`) or
  every record the Examples screen's filters select (`--kind ... --since`, `--yes`, `--dry-run`),
  checked before anything is opened and handed to the command as one `target` argument;
- `pass_workspace`: opens the workspace named by `--db` (announcing a schema upgrade on stderr),
  passes it as the first argument and closes it afterwards.

Services are imported inside functions, never here, so `curator --help` loads none of them.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
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


def safe_text(text: str) -> str:
    """`text` as it can be written anywhere: bytes that were not UTF-8 shown as escapes (`\\xff`)."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be used as text (stored, written as JSON, passed to the OS), or None.

    Python decodes command-line arguments and environment variables that are not UTF-8 with
    `surrogateescape`; such a string cannot be encoded again, so it is refused where it enters.
    """
    if "\x00" in value:
        return "contains a NUL byte"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        try:
            shown = repr(value.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            shown = repr(safe_text(value))
        return f"is not valid UTF-8 text ({shown[:80]})"
    return None


INT64 = (-(2**63), 2**63 - 1)
"""The integers SQLite stores: a number option outside them is refused, not passed on."""


def number_problem(value: object) -> str | None:
    """Why a number option's value cannot be used (beyond SQLite's integers, NaN, infinite), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        return f"{value} is out of range (at most {INT64[1]} in size)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


def check_text_value(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """A usage error (exit 2) naming the option or argument when one of its values is not usable
    text (a NUL byte, not UTF-8) or not a usable number (see `number_problem`)."""
    values = value if isinstance(value, tuple | list) else (value,)
    for v in values:
        problem = text_problem(v) if isinstance(v, str) else number_problem(v)
        if problem is not None:
            raise click.BadParameter(problem, ctx=ctx, param=param)


def _remember(key: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    """Keep a given value in the context's `meta`, which the root and its commands share.

    The value is not a command argument, so the command's own text check (NUL bytes, text that
    is not UTF-8) does not see it: checked here.
    """

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            check_text_value(ctx, param, value)
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


# ---------------------------------------------------------------------------
# What a record verb acts on: one record, or every record the filters select
# ---------------------------------------------------------------------------


def expect_version_option(f: F) -> F:
    """`--expect-version N`, passed as `expect_version` (None: the stored version, whatever it is)."""
    return click.option(
        "--expect-version",
        type=click.IntRange(min=1),
        metavar="N",
        help="fail (exit 1, nothing written) unless the record is at this version (default: its current one)",
    )(f)


@dataclass(frozen=True)
class RecordTarget:
    """One record by id (`example_id`), or, when it is None, every record `filters` selects."""

    example_id: str | None
    filters: dict[str, str | None]
    """Named as `curator.records.Filters` names them (`--search` is `text`)."""
    values: tuple[str, ...]
    """The verb's own arguments after the id: clause ids (link, unlink) or tags (tag, untag)."""
    expected_version: int | None
    yes: bool
    dry_run: bool


_TARGET_FILTERS = ("kind", "status", "tag", "clause", "author", "search", "since")
_FILTER_FLAGS = ", ".join(f"--{name}" for name in _TARGET_FILTERS)


def record_target(values: str | None = None) -> Callable[[F], F]:
    """`[ID]` (or `[ID] VALUE...` when the verb takes `values`), the filters, `--expect-version`, `--yes`, `--dry-run`.

    Exactly one of an ID or at least one filter, else a usage error (exit 2). With filters, every
    argument is a VALUE; `--expect-version` needs an ID, `--dry-run` needs filters (`--yes` with
    an ID has nothing to confirm and is accepted). The handler receives one `target`.
    """

    def decorator(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            given = {name: kwargs.pop(name) for name in _TARGET_FILTERS}
            expected, yes, dry_run = kwargs.pop("expect_version"), kwargs.pop("yes"), kwargs.pop("dry_run")
            words: tuple[str, ...] = tuple(kwargs.pop("words")) if values else ()
            example_id: str | None = None if values else kwargs.pop("example_id")
            empty = [name for name, value in given.items() if value is not None and not value.strip()]
            if empty:
                raise click.UsageError(f"--{empty[0]} is empty", ctx=ctx)
            bulk = any(value is not None for value in given.values())
            if values and not bulk:
                example_id, words = words[0], words[1:]
                if not words:
                    raise click.UsageError(f"name at least one {values} after the ID", ctx=ctx)
            if bulk and example_id is not None:
                raise click.UsageError(f"give an ID or filters, not both ({example_id!r} and filters)", ctx=ctx)
            if not bulk and example_id is None:
                raise click.UsageError(f"give an ID, or filters ({_FILTER_FLAGS}) to act on every match", ctx=ctx)
            if bulk and expected is not None:
                raise click.UsageError("--expect-version needs an ID (a bulk plan checks every version)", ctx=ctx)
            if dry_run and yes:
                raise click.UsageError("--dry-run is not allowed with --yes", ctx=ctx)
            if dry_run and not bulk:
                raise click.UsageError("--dry-run needs filters (a verb on one ID writes at once)", ctx=ctx)
            filters = {("text" if name == "search" else name): value for name, value in given.items()}
            target = RecordTarget(example_id, filters, words, expected, yes, dry_run)
            return f(*args, target=target, **kwargs)

        if values:
            argument = click.argument(
                "words",
                nargs=-1,
                required=True,
                metavar=f"[ID] {values}...",
                help=f"an example id and the {values}s; with filters, only {values}s",
            )
        else:
            argument = click.argument(
                "example_id", required=False, metavar="[ID]", help="an example id (or filters instead)"
            )
        options = [
            argument,
            kind_option("every record of this kind (with the other filters)"),
            status_option("every record in this status"),
            click.option("--tag", help="every record with this tag"),
            click.option("--clause", metavar="ID", help="every record linked to this clause"),
            click.option("--author", metavar="NAME", help="every record by this author"),
            click.option(
                "--search", "--text", "search", metavar="TEXT", help="every record this full-text search finds"
            ),
            click.option(
                "--since", metavar="DATE", help="every record updated at or after this ISO date or date-time (UTC)"
            ),
            expect_version_option,
            click.option("--yes", is_flag=True, help="with filters: apply the plan (without it nothing is written)"),
            click.option("--dry-run", is_flag=True, help="with filters: print the plan and exit 0, writing nothing"),
        ]
        decorated = cast(F, wrapper)
        for option in reversed(options):  # the first listed is the first in --help
            decorated = option(decorated)
        return decorated

    return decorator


# ---------------------------------------------------------------------------
# --engine ray
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineChoice:
    """Where a corpus-wide command runs: `local` (this process and its worker pool) or `ray`."""

    name: str = "local"
    address: str | None = None
    """An existing Ray cluster (`ray://...` or `host:port`); None starts a local Ray."""
    blocks: int | None = None
    """Ray Data's `override_num_blocks` for the records (None: Ray decides)."""
    snapshot: Path | None = None
    """A Parquet snapshot to read (`curator snapshot --parquet`); None writes a temporary one."""

    @property
    def distributed(self) -> bool:
        return self.name == "ray"


def engine_options(f: F) -> F:
    """`--engine local|ray`, `--address`, `--blocks`, `--snapshot`, handed over as one `engine` argument."""

    @functools.wraps(f)
    def wrapper(
        *args: Any, engine: str, address: str | None, blocks: int | None, snapshot: str | None, **kwargs: Any
    ) -> Any:
        if engine != "ray" and (address or blocks or snapshot):
            given = [n for n, v in (("--address", address), ("--blocks", blocks), ("--snapshot", snapshot)) if v]
            raise click.UsageError(f"{', '.join(given)} only apply with --engine ray")
        choice = EngineChoice(engine, address, blocks, Path(snapshot) if snapshot else None)
        return f(*args, engine=choice, **kwargs)

    for option in reversed(
        [
            click.option(
                "--engine",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="run here, or on Ray Data (pip install 'curator[ray]'): same output, byte for byte",
            ),
            click.option(
                "--address",
                metavar="ADDR",
                help="with --engine ray: an existing Ray cluster (default: start a local one)",
            ),
            click.option(
                "--blocks",
                type=click.IntRange(1),
                help="with --engine ray: how many blocks to read the records into (default: Ray decides)",
            ),
            click.option(
                "--snapshot",
                metavar="DIR",
                type=click.Path(file_okay=False),
                help="with --engine ray: read this Parquet snapshot (`curator snapshot --parquet`), not a fresh one",
            ),
        ]
    ):
        wrapper = option(wrapper)
    return cast(F, wrapper)
