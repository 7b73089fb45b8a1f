"""The project's own error types.

Every failure a user can cause is one of these, so the CLI can print one clear
line and exit non-zero instead of showing a traceback.
"""

from __future__ import annotations


class CuratorError(Exception):
    """Base class: a failure with a message fit for one line on stderr."""

    exit_code = 1


class UsageError(CuratorError):
    """The command was called wrongly (bad option combination, bad argument)."""

    exit_code = 2


class RecordError(CuratorError):
    """A record failed validation; the message names the field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ImportFailed(CuratorError):
    """An input file could not be imported; the message names file and line."""


class ConflictError(CuratorError):
    """An update was based on a version that is no longer current.

    `pending_audit` holds audit rows describing the losing attempt; the store writes them in
    their own transaction after the rollback, so the audit log shows both attempts.
    """

    def __init__(self, message: str, *, pending_audit: list[tuple[str | int | None, ...]] | None = None) -> None:
        self.pending_audit: list[tuple[str | int | None, ...]] = list(pending_audit or [])
        super().__init__(message)


class ReviewGuardError(CuratorError):
    """A write the store refuses because it would let unreviewed content reach `approved`.

    Only the review workflow may make a record approved, and only a restore (dump/load) or an
    import that explicitly keeps the file's statuses may store one that arrives approved.
    """


class NotFoundError(CuratorError):
    """A record, clause or version that was asked for does not exist."""


class StoreError(CuratorError):
    """The database cannot be used (locked, corrupt, wrong schema version)."""


class ConstitutionError(CuratorError):
    """A constitution file could not be parsed."""
