"""The root command group, and how every failure becomes one line on stderr and an exit status.

`curator` with no command opens the TUI (so does `curator --db X`). Exit status: 0 success;
1 a failure (every `CuratorError` carries its own code, SQLite and OS errors are 1); 2 a usage
mistake (click's parse errors, `UsageError`); 130 interrupted. No usage dump and no traceback:
a usage mistake prints `curator COMMAND: error: <what> (see --help)`, any other failure
`curator: error: <what>`.
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import click

from curator import __version__
from curator.cli.options import check_text_value, common_options, safe_text, text_problem
from curator.errors import CuratorError


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _say(line: str) -> None:
    """One line on stderr, whatever bytes it carries."""
    sys.stderr.write(safe_text(line) + "\n")


def _summary(command: click.Command) -> str:
    """The first paragraph of the help, whole: the command lists wrap it rather than cut it."""
    if command.short_help:
        return _one_line(command.short_help)
    return _one_line((command.help or "").split("\n\n", 1)[0])


ENV_TEXT = (
    "CURATOR_USER",
    "CURATOR_DB",
    "CURATOR_HOME",
    "CURATOR_MODEL",
    "XDG_CONFIG_HOME",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "VISUAL",
    "EDITOR",
)
"""Environment variables curator reads as text: each must be valid UTF-8."""


def environment_problem() -> str | None:
    """What is wrong with the first variable of `ENV_TEXT` that is not usable text, or None."""
    import os

    for name in ENV_TEXT:
        value = os.environ.get(name)
        problem = text_problem(value) if value else None
        if problem is not None:
            return f"environment variable {name} {problem}"
    return None


def _refuse_nul(ctx: click.Context) -> None:
    """No OS call accepts a NUL byte, and text that is not UTF-8 cannot be stored or written:
    say so as a usage error rather than fail later with a traceback."""
    for param in ctx.command.params:
        check_text_value(ctx, param, ctx.params.get(param.name or ""))


class CuratorCommand(click.Command):
    """A command whose list entry is its whole summary and which refuses NUL bytes in its arguments."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return _summary(self)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        _refuse_nul(ctx)
        return rest


class CuratorGroup(click.Group):
    """A group that lists its commands in the order they were added, and whose subgroups are alike.

    A group called without a command is a one-line usage error ("Missing command"), not a help dump.
    """

    command_class = CuratorCommand
    group_class = type

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", False)
        super().__init__(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_short_help_str(self, limit: int = 45) -> str:
        return _summary(self)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        _refuse_nul(ctx)
        return rest


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Turn a failure inside a command into one line on stderr and `click.exceptions.Exit(code)`."""
    try:
        yield
    except CuratorError as err:  # UsageError (exit 2) included
        _error(str(err), err.exit_code)
    except sqlite3.Error as err:
        _error(_database_error(err), 1)
    except KeyboardInterrupt:
        _say("curator: interrupted")
        raise click.exceptions.Exit(130) from None
    except BrokenPipeError:  # the reader went away (`curator list | head`): nothing left to say
        raise click.exceptions.Exit(1) from None
    except OSError as err:  # a path the user gave cannot be read or written (permissions, missing folder, full disk)
        _error(os_error(err), 1)


def _database_error(err: sqlite3.Error) -> str:
    """A SQLite error that escaped the store's own handling, with the workspace's path and what to do."""
    from curator.cli.options import workspace_path
    from curator.store.db import describe

    try:
        path = str(workspace_path())
    except RuntimeError:  # no click context
        path = "database"
    return describe(err, path)


_OS_ADVICE = {
    errno.ENOSPC: "the disk is full; free some space (or choose another folder) and retry",
    errno.EDQUOT: "the disk quota is used up; free some space (or choose another folder) and retry",
    errno.EFBIG: "the file outgrew what this system allows (a file-size limit or a full disk); free some space "
    "or choose another folder, and retry",
    errno.EROFS: "the file system is read-only; choose a folder you can write to",
    errno.EACCES: "check the permissions of the file and its folder",
    errno.EPERM: "check the permissions of the file and its folder",
}


def os_error(err: OSError) -> str:
    """An OS error as one line: the path it concerns, what happened and, where it helps, what to do."""
    where = f"{err.filename}: " if err.filename else ""
    what = err.strerror or str(err)
    advice = _OS_ADVICE.get(err.errno or 0)
    return f"{where}{what}" + (f" ({advice})" if advice else "")


def _error(message: str, code: int) -> NoReturn:
    from curator.redact import redact

    _say(f"curator: error: {_one_line(redact(message))}")
    raise click.exceptions.Exit(code)


class Root(CuratorGroup):
    """The `curator` group: runs a command, or the TUI when none is given, and owns the exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        problem = environment_problem()
        if problem is not None:
            _error(problem, 2)
        with _reported():
            from curator.config import load_settings

            load_settings()  # a malformed config.toml is reported before anything runs; its input limits apply
            return super().invoke(ctx)

    def main(  # type: ignore[override]  # click's overloads say it never returns when standalone; it returns here
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        """Run one command line and return its exit status (exit with it when `standalone_mode`).

        Shell completion (`_CURATOR_COMPLETE=...`) is answered by click before anything runs.
        """
        try:
            result = super().main(args, prog_name or "curator", complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except click.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else "curator"
            _say(f"{where}: error: {_one_line(err.format_message()).rstrip('.')} (see --help)")
            code = err.exit_code
        except click.ClickException as err:
            _say(f"curator: error: {_one_line(err.format_message())}")
            code = err.exit_code
        except click.Abort:
            _say("curator: interrupted")
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(
    "curator",
    cls=Root,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nShell completion (bash; zsh and fish alike, see docs/cli.md):\n"
    '  eval "$(_CURATOR_COMPLETE=bash_source curator)"',
)
@common_options
@click.version_option(__version__, "--version", prog_name="curator", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A workbench for curating alignment-training data. With no command, opens the TUI."""
    if ctx.invoked_subcommand is None:
        from curator.cli.workspace import open_tui

        open_tui()
