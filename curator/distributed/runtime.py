"""Starting Ray, and reading a workspace's snapshot as a Ray Dataset.

Determinism rules every stage of the distributed engine follows (the local engine's output is the
contract, byte for byte):

- rows carry their record id and anything that decides an order is sorted by an explicit key on
  the driver or inside a group, never taken in arrival order;
- per-record work calls the same functions as the local engine (imported from the core), so a row
  computed on a worker is the row the laptop computes;
- decisions that need the whole corpus (union-find, allocation) run on the driver.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curator.columnar import read_manifest, record_paths, write_snapshot
from curator.errors import UsageError

if TYPE_CHECKING:
    import ray.data

    from curator.store.db import Workspace

ADDRESS_ENV = "CURATOR_RAY_ADDRESS"
"""An existing cluster to join when `--address` is not given (Ray's own `RAY_ADDRESS` works too)."""


class _QuietAuthNotice(logging.Filter):
    """Ray turns token authentication on for a new local cluster (good) and says so on stderr on
    every run; the command's stderr is for the command's own messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Token authentication is enabled for this Ray cluster" not in record.getMessage()


_QUIET_AUTH = _QuietAuthNotice()


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise UsageError("--engine ray needs Ray, which is not installed: pip install 'curator[ray]'") from None
    _ray_messages_to_stderr()
    return ray


def _ray_messages_to_stderr() -> None:
    """Send what Ray prints on the driver to stderr, never into the command's output.

    Ray's driver prints the cluster's warnings (the raylet's "8 PYTHON worker processes have been
    started ...", seen under load) on stdout, whatever `log_to_driver` says; on a command's stdout
    they would corrupt its JSON or its dry run. Ray looks the printer up by name on every message,
    so replacing it in Ray's module reroutes them all. Idempotent.
    """
    from ray._private import worker

    if worker.print_to_stdstream is _INSTALLED.get("printer"):
        return
    ray_printer = worker.print_to_stdstream

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        ray_printer({**data, "is_err": True}, ignore_prefix=ignore_prefix)

    _INSTALLED["printer"] = to_stderr
    worker.print_to_stdstream = to_stderr


_INSTALLED: dict[str, Any] = {}
"""The printer `_ray_messages_to_stderr` put in Ray's place (how it knows it already did)."""


def start(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Join the cluster at `address` (or `CURATOR_RAY_ADDRESS`), else start a local Ray; returns `ray`.

    An already started Ray (a test's, a notebook's) is reused as it is.
    """
    ray = _ray()
    if not ray.is_initialized():
        address = address or os.environ.get(ADDRESS_ENV) or None
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address is None:
            kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
            logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(_QUIET_AUTH)
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            detail = " ".join(str(err).split())
            detail = detail if len(detail) <= 300 else detail[:300] + "..."
            raise UsageError(f"cannot start or join Ray at {address or 'a new local cluster'}: {detail}") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    from ray.util.debug import log_once

    log_once("ray_data_progress_manager_disabled")  # Ray Data's warning that they are off: they are, on purpose
    ctx.execution_options.preserve_order = True
    return ray


@contextmanager
def snapshot_folder(ws: Workspace, snapshot: Path | None) -> Iterator[Path]:
    """The snapshot to read: `snapshot` when given (checked: format, checksums, and that it was read
    at the workspace's current state), else a fresh one in a temporary folder removed afterwards.
    """
    if snapshot is not None:
        manifest = read_manifest(snapshot)
        newest = ws.db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]
        if manifest.get("audit_event") != newest:
            raise UsageError(
                f"{snapshot}: snapshot was read at audit event {manifest.get('audit_event')}, the workspace is at "
                f"{newest}; write a new one (curator snapshot --parquet {snapshot}) so the result matches the workspace"
            )
        yield Path(snapshot)
        return
    parent = Path(tempfile.mkdtemp(prefix="curator-snapshot-"))
    try:
        folder = parent / "snapshot"
        write_snapshot(ws, folder)
        yield folder
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def read_records(folder: Path, *, blocks: int | None = None) -> ray.data.Dataset:
    """The snapshot's records as a Dataset in exactly `blocks` blocks when given.

    Ray reads a snapshot of fewer shards than `blocks` into fewer blocks (`override_num_blocks`
    is a hint), so the records are then split, in order and without a shuffle, into `blocks`.
    """
    _ray()
    import ray.data

    manifest = read_manifest(folder)
    kwargs: dict[str, Any] = {}
    if blocks is not None:
        kwargs["override_num_blocks"] = blocks
    ds = ray.data.read_parquet(record_paths(folder, manifest), **kwargs)
    return ds if blocks is None else ds.repartition(blocks)


_FETCHED_KEPT = 4
"""Broadcast objects a worker process keeps (one run's: its spec, its id set, its index...)."""
_fetched: dict[str, Any] = {}


def fetched(ref: Any) -> Any:
    """A driver object put in Ray's object store, fetched once per worker process and reused by
    every batch of that process: a big eval index or plan takes most of a second to unpickle, as
    long as a batch's work. A worker outlives many runs, so only the newest few are kept."""
    ray = _ray()
    key = ref.hex()
    if key not in _fetched:
        while len(_fetched) >= _FETCHED_KEPT:
            del _fetched[next(iter(_fetched))]
        _fetched[key] = ray.get(ref)
    return _fetched[key]
