"""The distributed engine's runtime: blocks as asked, snapshots checked against the workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curator.bootstrap import init_workspace
from curator.errors import UsageError
from curator.store import examples

pytestmark = pytest.mark.ray


def test_records_come_in_exactly_the_blocks_asked_in_id_order(ray_local: Any, tmp_path: Path) -> None:
    from curator.distributed.runtime import read_records, snapshot_folder

    ws = init_workspace(tmp_path / "ws.db", demo=True, actor="ana")
    with snapshot_folder(ws, None) as folder:
        for blocks in (1, 7):
            ds = read_records(folder, blocks=blocks).select_columns(["id"]).materialize()
            assert ds.num_blocks() == blocks
            ids = [row["id"] for row in ds.iter_rows()]
            assert ids == sorted(ids) and len(ids) == 48
    ws.close()


def test_a_snapshot_of_an_earlier_state_is_refused(tmp_path: Path) -> None:
    from curator.columnar import write_snapshot
    from curator.distributed.runtime import snapshot_folder

    ws = init_workspace(tmp_path / "ws.db", demo=True, actor="ana")
    write_snapshot(ws, tmp_path / "snap")
    first = ws.db.execute("SELECT id FROM examples ORDER BY id").fetchone()[0]
    examples.delete(ws.db, first, expected_version=None, actor="ana")
    with pytest.raises(UsageError, match="snapshot was read at audit event"), snapshot_folder(ws, tmp_path / "snap"):
        pass
    ws.close()


def test_a_snapshot_of_many_shards_reads_whole_and_in_order(
    ray_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curator import columnar
    from curator.distributed.runtime import read_records

    monkeypatch.setattr(columnar, "SHARD_ROWS", 5)
    ws = init_workspace(tmp_path / "ws.db", demo=True, actor="ana")
    manifest = columnar.write_snapshot(ws, tmp_path / "snap")
    assert len(manifest["record_shards"]) == 10
    ids = [row["id"] for row in read_records(tmp_path / "snap").select_columns(["id"]).iter_rows()]
    assert ids == sorted(ids) and len(ids) == 48
    ws.close()


def test_what_ray_prints_on_the_driver_goes_to_stderr_never_into_the_output(
    ray_local: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The raylet's warnings (one seen under load broke a CLI test's expected stdout) are printed
    by Ray's driver on stdout; a command's stdout is its JSON or its dry run."""
    from ray._private import worker

    from curator.distributed.runtime import start

    start()  # again: the rerouting is installed once
    capsys.readouterr()
    warning = "WARNING: 8 PYTHON worker processes have been started on node: x"
    worker.print_to_stdstream({"lines": [warning], "pid": "raylet", "is_err": False}, ignore_prefix=False)
    out, err = capsys.readouterr()
    assert out == ""
    assert warning in err
