"""Opening a workspace database: WAL, foreign keys, busy timeout, one connection per thread.

sqlite3 connections cannot cross threads, so a :class:`Workspace` hands each
thread its own `sqlite_utils.Database` on first use.

Concurrency: every write transaction (`db.atomic()`) starts with `BEGIN IMMEDIATE`, so it
takes the write lock before it reads anything. A deferred `BEGIN` that reads and then writes
fails at once with SQLITE_BUSY in WAL mode when another process committed meanwhile (SQLite
cannot call the busy handler there); with IMMEDIATE the only wait is for the lock itself,
which SQLite's busy handler covers for `BUSY_TIMEOUT_MS` and this module retries with
backoff until `LOCK_WAIT_S`. Read-only transactions use :func:`read_snapshot` (readers never
block writers in WAL). An update that loses a race raises ConflictError; the attempt it
carries (`pending_audit`) is written to the audit log in its own transaction after the
rollback (see :meth:`CuratorDatabase.atomic`).
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeAlias

from sqlite_utils import Database

from curator.errors import ConflictError, StoreError
from curator.files import check_regular
from curator.store.audit import INSERT_SQL as AUDIT_INSERT
from curator.store.migrations import SCHEMA_MIGRATIONS, migrations

WorkspaceDB: TypeAlias = Database
"""What :attr:`Workspace.db` hands out: faces pass it to store functions and never query it themselves."""

BUSY_TIMEOUT_MS = 10_000
"""How long SQLite's own busy handler waits for a lock in one attempt."""

LOCK_SLICE_MS = 250
"""How long one attempt at the write lock lets SQLite's busy handler wait before Python retries."""

PAGE_SIZE = 16384
"""Page size of a new workspace. A record row (~1.5 KB of JSON) fits twice in SQLite's default
4 KB page with a quarter left empty; 16 KB pages hold ten, and the file is ~15% smaller."""

LOCK_WAIT_S = 60.0
"""How long a write transaction keeps retrying for the write lock before 'database is locked' reaches a user."""


def is_locked(err: sqlite3.Error) -> bool:
    """True for SQLITE_BUSY / SQLITE_LOCKED (another connection holds the lock)."""
    text = str(err)
    return isinstance(err, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def begin_immediate(
    conn: sqlite3.Connection,
    *,
    wait_s: float = LOCK_WAIT_S,
    where: str = "database",
    stop: threading.Event | None = None,
) -> None:
    """`BEGIN IMMEDIATE`, retried with jittered exponential backoff while another writer holds the lock.

    Gives up after `wait_s` with a StoreError naming `where` (one line for the CLI and the TUI), or
    as soon as `stop` is set (the workspace is closing: nothing is written).
    """
    deadline = time.monotonic() + wait_s
    delay = 0.005
    # SQLite's busy handler cannot be interrupted: wait in slices, so `stop` is seen within one
    (previous,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute(f"PRAGMA busy_timeout = {min(int(previous), LOCK_SLICE_MS)}")
    try:
        while True:
            if stop is not None and stop.is_set():
                raise StoreError(f"{where}: closed while waiting for the write lock; nothing was written")
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if not is_locked(err):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreError(
                        f"{where}: database is locked: another process kept writing for {wait_s:g} s; try again"
                    ) from err
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(previous)}")


def sql_statements(script: str) -> Iterator[str]:
    """The complete statements of an SQL script, in order (a `;` inside a string, comment or
    trigger body does not end one: `sqlite3.complete_statement` decides)."""
    start = 0
    end = script.find(";")
    while end != -1:
        candidate = script[start : end + 1]
        if sqlite3.complete_statement(candidate):
            if candidate.strip():
                yield candidate.strip()
            start = end + 1
        end = script.find(";", end + 1)
    rest = script[start:].strip()
    if rest:
        yield rest


class CuratorDatabase(Database):
    """sqlite-utils' Database whose write transactions take the write lock first (BEGIN IMMEDIATE)."""

    where: str = "database"
    """The database's path, for error messages."""
    closing: threading.Event | None = None
    """Set when its workspace closes: a write still waiting for the lock gives up."""

    def _executescript(self, sql: str) -> sqlite3.Cursor:
        """sqlite-utils' script runner without its per-character statement splitting.

        Inside a transaction a script must run statement by statement (the driver's `executescript`
        would commit first); sqlite-utils finds the statements by testing every prefix, quadratic
        in a statement's length, which made the trigger-heavy migrations most of a new
        workspace's creation time. Here only the text up to each `;` is tested.
        """
        if not self.conn.in_transaction:
            return self.conn.executescript(sql)
        cursor = self.conn.cursor()
        for statement in sql_statements(sql):
            cursor.execute(statement)
        return cursor

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """A write transaction (nested blocks are savepoints); see the module docstring."""
        if self.conn.in_transaction:
            savepoint = f"curator_{secrets.token_hex(8)}"
            self.conn.execute(f"SAVEPOINT {savepoint}")
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
                raise
            else:
                self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            return
        begin_immediate(self.conn, where=self.where, stop=self.closing)
        try:
            yield self
        except BaseException as err:
            self.rollback()
            if isinstance(err, ConflictError) and err.pending_audit:
                self._write_conflict_audit(err)
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise

    def _write_conflict_audit(self, err: ConflictError) -> None:
        """The losing attempt of a conflict, kept in the audit log (its own transaction, after the rollback)."""
        rows, err.pending_audit = err.pending_audit, []
        try:
            begin_immediate(self.conn, where=self.where)
            try:
                self.conn.executemany(AUDIT_INSERT, rows)
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise
        except (sqlite3.Error, StoreError) as audit_err:  # the conflict stays the error the user sees
            err.add_note(f"the conflicting attempt could not be written to the audit log: {audit_err}")


CACHE_KIB = 65536
"""A connection's page cache: 64 MiB, so index updates on big imports stay in memory."""
SCAN_CACHE_KIB = 8192
"""The page cache of a pass that reads the whole corpus once (see `scan_cache`)."""


@contextlib.contextmanager
def scan_cache(db: Database) -> Iterator[Database]:
    """A smaller page cache while one pass reads the whole corpus.

    Such a pass reads each page about once, so a cache sized for imports only fills with pages it
    will not read again: at a million records that is 64 MiB of the pass's peak memory for nothing
    (the operating system keeps the file's pages anyway). The connection's cache is restored after.
    """
    before = db.conn.execute("PRAGMA cache_size").fetchone()[0]
    db.conn.execute(f"PRAGMA cache_size = -{SCAN_CACHE_KIB}")
    try:
        yield db
    finally:
        db.conn.execute(f"PRAGMA cache_size = {int(before)}")


@contextlib.contextmanager
def read_snapshot(db: Database) -> Iterator[Database]:
    """A read-only transaction: every query inside sees one consistent state; writers are not blocked."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")


class BackgroundCheckpoint:
    """Copy a big write's log into the database file on another thread while this one goes on.

    After a commit that leaves the write-ahead log long, SQLite copies the log into the database
    file right there (its automatic checkpoint): after an import of a million records that is
    ~3 GB, ~9 s with one core idle. Inside this block the commits of the calling thread's
    connection leave the log as it is; `start` copies it on a connection of its own (readers, and
    this connection, go on meanwhile: WAL lets a checkpoint run beside them) and the end of the
    block waits for the copy and restores the automatic checkpoint.

    A copy that fails (the disk full as the database file grows) loses nothing: the log holds the
    committed data, and SQLite copies it at the next checkpoint, as after a failed automatic one.
    """

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._db: Database | None = None
        self._before = 1000
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BackgroundCheckpoint:
        if not self._ws.readonly and self._ws.path != ":memory:":
            self._db = self._ws.db
            self._before = int(self._db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
            self._db.conn.execute("PRAGMA wal_autocheckpoint = 0")
        return self

    def start(self) -> None:
        """Copy the log on another thread (once; nothing to do in a database without one)."""
        if self._db is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._copy, name="curator-checkpoint", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(self._ws.path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._db is not None:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the connection was closed meanwhile
                self._db.conn.execute(f"PRAGMA wal_autocheckpoint = {self._before}")


def describe(err: sqlite3.Error | OSError, path: str) -> str:
    """One line for a failure on the database at `path`: what happened and what the person can do."""
    text = str(err.strerror or err) if isinstance(err, OSError) else str(err)
    low = text.lower()
    if "file is not a database" in low or "malformed" in low:
        return (
            f"{path}: not a curator database or corrupt ({text}); restore it from a dump (`curator load`) or a backup"
        )
    if "locked" in low or "busy" in low:
        return f"{path}: database is locked by another process; try again"
    if "readonly" in low or "read-only" in low or "permission denied" in low:
        return (
            f"{path}: cannot write ({text}): the database, or its folder, is read-only; nothing was changed. "
            "Make both writable (chmod u+w), or copy the database to a writable folder and pass --db"
        )
    if "disk is full" in low or "no space left" in low or "quota" in low:
        return (
            f"{path}: cannot write ({text}); nothing was changed. "
            "Free some space on that disk (or move the database elsewhere and pass --db), then retry"
        )
    if "unable to open" in low:
        return (
            f"{path}: cannot open database ({text}); check that its folder exists and that you may read "
            "(and, to change it, write) the file and its folder"
        )
    if "disk i/o error" in low:
        return (
            f"{path}: cannot read or write ({text}): the disk may be full, failing or gone, or the file's "
            "permissions changed; nothing was changed. Free some space or check the disk, then retry"
        )
    return f"{path}: {text}"


@contextlib.contextmanager
def sqlite_errors(path: str) -> Iterator[None]:
    """Turn sqlite3 errors into one-line StoreErrors naming the database."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as err:
        raise StoreError(describe(err, path)) from err


def _use_wal(conn: sqlite3.Connection, memory: bool) -> None:
    """WAL and normal syncing for a file database (a workspace's readers never block its writer)."""
    if not memory:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")


REPACKING_MIGRATIONS = frozenset({"m012_compact_storage", "m015_narrow_signatures"})
"""After these upgrades much of an old workspace is free pages: it is rewritten once."""


def _repack(db: Database) -> None:
    """Rewrite the file compactly (VACUUM), with the page size of a new workspace when no other
    connection has it open (a page size change needs the rollback journal for a moment).

    Only the file's size depends on it: when it cannot run (another process holds the database,
    or the disk has no room for the copy) the free pages are reused by later writes.
    """
    try:
        if db.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete":
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        db.execute("VACUUM")
    except sqlite3.OperationalError:
        pass
    finally:
        db.execute("PRAGMA journal_mode = WAL")


class Workspace:
    """A curator database on disk (or in memory), with one connection per thread."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        """Opened read-only (the file or its folder cannot be written): reads work, a write is a one-line error."""
        self._memory_uri: str | None = None
        self._keepalive: sqlite3.Connection | None = None
        if self.path == ":memory:":
            self._memory_uri = f"file:curator-{uuid.uuid4().hex}?mode=memory&cache=shared"
            self._keepalive = sqlite3.connect(self._memory_uri, uri=True)
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, Database]] = []
        """Every open connection with the thread that uses it."""
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._verified = False
        """Known to be a curator workspace (or a new one): only then may a connection switch it to WAL."""

    @property
    def db(self) -> Database:
        """This thread's connection, opened (and configured) on first use."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
            with self._lock:
                self._all.append((threading.current_thread(), db))
        return db

    def _connect(self) -> Database:
        with sqlite_errors(self.path):
            if self._memory_uri:
                conn = sqlite3.connect(self._memory_uri, uri=True, check_same_thread=False)
            elif self.readonly:
                conn = sqlite3.connect(_readonly_uri(self.path), uri=True, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if self._verified:
                _use_wal(conn, self._memory_uri is not None or self.readonly)
            db = CuratorDatabase(conn)
            db.where = self.path
            db.closing = self._closing
            return db

    def migrate(self, on_upgrade: Callable[[list[str]], None] | None = None) -> None:
        """Bring the schema up to date; refuse databases from elsewhere or from a newer curator.

        `on_upgrade` hears the pending migrations' names before an existing workspace is upgraded
        (some backfill every record once), so a caller can tell the person why it waits.
        """
        db = self.db
        pending: list[str] = []
        with sqlite_errors(self.path):
            tables = set(db.table_names())
            if tables and "_sqlite_migrations" not in tables:
                raise StoreError(f"{self.path}: not a curator database (unknown tables)")
            if "_sqlite_migrations" in tables:
                applied = {m.name for m in migrations.applied(db)}
                if not applied and tables - {"_sqlite_migrations"}:
                    # another application's sqlite-utils migrations: its tables are not ours to extend
                    raise StoreError(f"{self.path}: not a curator database (another application's migrations)")
                unknown = applied - SCHEMA_MIGRATIONS
                if unknown:
                    raise StoreError(
                        f"{self.path}: schema version is newer than this curator "
                        f"(unknown migration {sorted(unknown)[0]}); upgrade curator"
                    )
                pending = [m.name for m in migrations.pending(db)]
                if pending and self.readonly:
                    raise StoreError(
                        f"{self.path}: needs a one-off schema upgrade, but the file or its folder is read-only; "
                        "make both writable (chmod u+w) and run the command again"
                    )
                if pending and on_upgrade is not None:
                    on_upgrade(pending)
            elif self.readonly:
                raise StoreError(f"{self.path}: not a curator database (no curator tables), and read-only")
            self._verified = True
            if self.readonly:
                return
            if not tables and self._memory_uri is None:
                db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes on a new file (before WAL)
            with self._lock:
                for _, conn in self._all:  # connections opened while checking: switch them now
                    _use_wal(conn.conn, self._memory_uri is not None)
            migrations.apply(db)
            if REPACKING_MIGRATIONS.intersection(pending) and self._memory_uri is None:
                _repack(db)

    def is_empty(self) -> bool:
        """True when the workspace holds no constitution and no examples."""
        db = self.db
        with sqlite_errors(self.path):
            n = db.execute(
                "SELECT (SELECT count(*) FROM examples) + (SELECT count(*) FROM constitution_versions)"
            ).fetchone()[0]
        return bool(n == 0)

    def close(self) -> None:
        """Close this thread's connection and those of threads that have ended; stop the others.

        A connection closed while another thread runs a statement on it crashes the process
        (SQLite frees what the statement uses), and the TUI closes its workspace while thread
        workers may still be running (a save waiting for the lock). Those connections are let go
        of: each closes when its thread drops it (a running read finishes first), and a write
        still waiting for the lock gives up without writing (`closing`).
        """
        self._closing.set()
        me = threading.current_thread()
        with self._lock:
            for owner, db in self._all:
                if owner is me or not owner.is_alive():
                    with contextlib.suppress(sqlite3.Error):
                        db.conn.close()
            self._all.clear()
        self._closing = threading.Event()  # connections opened after this (a reopen) start afresh
        self._local = threading.local()
        if self._keepalive is not None:
            self._keepalive.close()
            self._keepalive = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _readonly_uri(path: str) -> str:
    """A read-only URI for `path`: `immutable` when its folder cannot hold the WAL's `-shm` file.

    A read-only folder holds no `-wal` file a writer could be adding to, unless one is there already.
    """
    from urllib.parse import quote

    folder = os.path.dirname(os.path.abspath(path))
    has_wal = os.path.exists(f"{path}-wal") and os.path.exists(f"{path}-shm")
    immutable = not os.access(folder, os.W_OK) and not has_wal
    return f"file:{quote(os.path.abspath(path))}?mode=ro" + ("&immutable=1" if immutable else "")


def is_writable(path: str) -> bool:
    """Whether curator can write the database at `path` and the WAL files beside it."""
    folder = os.path.dirname(os.path.abspath(path))
    return os.access(folder, os.W_OK) and (not os.path.exists(path) or os.access(path, os.W_OK))


def open_workspace(
    path: str | Path, *, create: bool = True, on_upgrade: Callable[[list[str]], None] | None = None
) -> Workspace:
    """Open (and migrate) a workspace; with create=False a missing file is an error.

    A database that cannot be written (the file, or the folder its WAL files go in, is read-only)
    is opened read-only: commands that only read work, and a write fails with one line saying why.

    `on_upgrade`: see :meth:`Workspace.migrate`.
    """
    p = str(path)
    if p != ":memory:":
        fp = Path(p)
        if not fp.exists() and not create:
            raise StoreError(f"{p}: no such database (run `curator init --db {p}`)")
        if fp.exists() and fp.is_dir():
            raise StoreError(f"{p}: is a folder, not a database file")
        if not fp.parent.exists():
            raise StoreError(f"{p}: folder {fp.parent} does not exist")
        if fp.exists():
            check_regular(fp, StoreError, what="database file")
    readonly = p != ":memory:" and Path(p).exists() and not is_writable(p)
    ws = Workspace(p, readonly=readonly)
    try:
        ws.migrate(on_upgrade)
    except BaseException:
        ws.close()
        raise
    return ws
