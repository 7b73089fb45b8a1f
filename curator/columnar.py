"""A workspace as Parquet shards: what a distributed engine reads instead of the SQLite file.

`write_snapshot` reads one consistent read snapshot of the workspace and writes, into a folder
written aside and renamed into place:

- `records-00000.parquet`, ...: every record (deleted ones marked, never dropped, so a reader
  applies the same rules as the local engine), sorted by id, `SHARD_ROWS` rows per shard; each
  row carries its signature's row number in the store (`signature_row`, 0 for none): the order
  the local dedup engine numbers records in, which decides its ties;
- `clauses.parquet`: the current constitution version's clauses in document order;
- `eval_items.parquet`: every registered decontamination set's items;
- `evalsets.parquet`: every registered decontamination set's name (a set may hold no items: an
  eval suite's before its first prompt);
- `dedup_ignored.parquet`: the pairs people marked "not a duplicate";
- `manifest.json`: format, counts, the state it was read at (newest audit event, constitution
  version) and the SHA-256 of every file.

The same workspace state always gives the same bytes (no time stamps, fixed shard sizes and
order), so a snapshot can be compared and cached. pyarrow is imported only here and only when a
snapshot is written or read: the core runs without it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curator.atomic import aside_dir, naming, recover, replace_dir
from curator.errors import CuratorError, UsageError
from curator.store.db import Workspace, read_snapshot
from curator.targets import FolderKind, check_folder_target, sha256_file

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlite_utils import Database

SNAPSHOT_FORMAT = "curator-snapshot"
SNAPSHOT_FORMAT_VERSION = 2
"""2: signatures at 16 bits a value (256 bytes), as the store keeps them since `m015`."""
SHARD_ROWS = 50_000
"""Records per shard: small enough for a worker's memory, large enough that Parquet's per-file
overhead does not matter. Fixed, so the same workspace always gives the same files."""
_READ_ROWS = 5_000


class SnapshotFailed(CuratorError):
    """A snapshot that cannot be written or read as asked."""


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("Parquet snapshots need pyarrow, which is not installed: pip install 'curator[ray]'") from None
    return pa, pq


def snapshot_files(folder: Path, manifest: dict[str, Any]) -> dict[str, str | None]:
    """Every file a snapshot holds (relative path -> SHA-256)."""
    listed = manifest.get("files")
    files = {str(k): str(v) for k, v in listed.items()} if isinstance(listed, dict) else {}
    return {"manifest.json": None, **files}


SNAPSHOT_FOLDER = FolderKind("snapshot", SNAPSHOT_FORMAT, snapshot_files)


def record_schema() -> pa.Schema:
    pa, _ = _pyarrow()
    return pa.schema(
        [
            ("id", pa.string()),
            ("kind", pa.string()),
            ("status", pa.string()),
            ("title", pa.string()),
            ("author", pa.string()),
            ("group", pa.string()),
            ("created_at", pa.string()),
            ("updated_at", pa.string()),
            ("version", pa.int64()),
            ("deleted", pa.bool_()),
            ("norm_hash", pa.string()),
            ("tokens", pa.int64()),
            ("clauses", pa.list_(pa.string())),
            ("clause_states", pa.list_(pa.string())),
            ("tags", pa.list_(pa.string())),
            ("record", pa.string()),
            ("signature", pa.binary()),
            ("shingles", pa.int64()),
            ("fingerprints", pa.binary()),
            ("signature_row", pa.int64()),
        ]
    )


_RECORD_SQL = """
SELECT e.id, e.kind, e.status, e.title, e.author, e.group_name, e.created_at, e.updated_at, e.version,
       d.example_id IS NOT NULL, e.norm_hash, e.tokens,
       (SELECT json_group_array(json_array(l.clause_id, l.state))
          FROM (SELECT clause_id, state FROM example_clauses WHERE example_id = e.id ORDER BY clause_id) l),
       (SELECT json_group_array(t.tag) FROM (SELECT tag FROM example_tags WHERE example_id = e.id ORDER BY tag) t),
       e.record, s.sig, s.shingles, s.fingerprints, s.rowid
FROM examples e
LEFT JOIN deleted_examples d ON d.example_id = e.id
LEFT JOIN signatures s ON s.example_id = e.id
WHERE e.id > ?
ORDER BY e.id
LIMIT ?
"""


def _record_chunks(db: Database) -> Iterator[dict[str, list[Any]]]:
    """Records in id order, a column dict per chunk (keyset pages: memory stays flat)."""
    after = ""
    names = record_schema().names
    while True:
        rows = db.execute(_RECORD_SQL, [after, _READ_ROWS]).fetchall()
        if not rows:
            return
        cols: dict[str, list[Any]] = {name: [] for name in names}
        for row in rows:
            links = json.loads(row[12])
            values = [
                *row[:9],
                bool(row[9]),
                row[10],
                row[11],
                [c for c, _ in links],
                [s for _, s in links],
                json.loads(row[13]),
                row[14],
                row[15] or b"",
                row[16] or 0,
                row[17] or b"",
                row[18] or 0,
            ]
            for name, value in zip(names, values, strict=True):
                cols[name].append(value)
        yield cols
        after = rows[-1][0]


def _write_records(db: Database, folder: Path) -> tuple[int, list[str]]:
    pa, pq = _pyarrow()
    schema = record_schema()
    shards: list[str] = []
    writer: Any = None
    in_shard = 0
    total = 0

    def open_shard() -> Any:
        name = f"records-{len(shards):05d}.parquet"
        shards.append(name)
        return pq.ParquetWriter(folder / name, schema, compression="zstd")

    try:
        for cols in _record_chunks(db):
            table = pa.Table.from_pydict(cols, schema=schema)
            start = 0
            while start < table.num_rows:
                if writer is None or in_shard == SHARD_ROWS:
                    if writer is not None:
                        writer.close()
                    writer, in_shard = open_shard(), 0
                take = min(SHARD_ROWS - in_shard, table.num_rows - start)
                writer.write_table(table.slice(start, take))
                in_shard += take
                start += take
            total += table.num_rows
        if writer is None:  # an empty workspace still has one (empty) shard: readers need the schema
            writer = open_shard()
    finally:
        if writer is not None:
            writer.close()
    return total, shards


def _write_table(folder: Path, name: str, db: Database, sql: str, schema: pa.Schema) -> int:
    pa, pq = _pyarrow()
    rows = db.execute(sql).fetchall()
    cols = {field: [r[i] for r in rows] for i, field in enumerate(schema.names)}
    pq.write_table(pa.Table.from_pydict(cols, schema=schema), folder / name, compression="zstd")
    return len(rows)


def _write_snapshot(ws: Workspace, folder: Path) -> dict[str, Any]:
    pa, _ = _pyarrow()
    db = ws.db
    with read_snapshot(db):
        version = db.execute("SELECT id FROM constitution_versions WHERE is_current = 1").fetchone()
        version_id = int(version[0]) if version else None
        high_water = db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]
        records, shards = _write_records(db, folder)
        clause_schema = pa.schema(
            [
                ("id", pa.string()),
                ("position", pa.int64()),
                ("parent", pa.string()),
                ("depth", pa.int64()),
                ("kind", pa.string()),
                ("title", pa.string()),
                ("text", pa.string()),
                ("plain", pa.string()),
                ("context", pa.string()),
                ("hash", pa.string()),
            ]
        )
        clauses = _write_table(
            folder,
            "clauses.parquet",
            db,
            "SELECT id, position, parent, depth, kind, title, text, plain, context, hash FROM clauses"
            f" WHERE version_id = {version_id or 0} ORDER BY position",
            clause_schema,
        )
        item_schema = pa.schema(
            [("evalset", pa.string()), ("idx", pa.int64()), ("label", pa.string()), ("text", pa.string())]
        )
        items = _write_table(
            folder,
            "eval_items.parquet",
            db,
            "SELECT evalset, idx, label, text FROM eval_items ORDER BY evalset, idx",
            item_schema,
        )
        evalsets = _write_table(
            folder,
            "evalsets.parquet",
            db,
            "SELECT name FROM evalsets ORDER BY name",
            pa.schema([("name", pa.string())]),
        )
        ignored = _write_table(
            folder,
            "dedup_ignored.parquet",
            db,
            "SELECT a, b FROM dedup_ignored ORDER BY a, b",
            pa.schema([("a", pa.string()), ("b", pa.string())]),
        )
    files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}
    manifest = {
        "format": SNAPSHOT_FORMAT,
        "format_version": SNAPSHOT_FORMAT_VERSION,
        "constitution_version": version_id,
        "audit_event": high_water,
        "shard_rows": SHARD_ROWS,
        "record_shards": shards,
        "counts": {
            "records": records,
            "clauses": clauses,
            "eval_items": items,
            "evalsets": evalsets,
            "dedup_ignored": ignored,
        },
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def write_snapshot(ws: Workspace, target: Path, *, force: bool = False) -> dict[str, Any]:
    """Write the workspace's Parquet snapshot to `target` (aside, then renamed); returns the manifest.

    An existing `target` is replaced only when it is an earlier snapshot curator wrote, unchanged
    (or changed, with `force`); see `curator.targets`.
    """
    target = Path(target)
    if "\x00" in str(target) or target.name in ("", ".."):
        raise UsageError(f"{str(target)!r}: not a usable snapshot folder (name a folder, not '.', '..' or a root)")
    _pyarrow()
    recover(target)
    check_folder_target(target, SNAPSHOT_FOLDER, db_path=ws.path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = aside_dir(target)
    try:
        with naming(target, tmp):
            manifest = _write_snapshot(ws, tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """A snapshot's manifest, checked for format, version and every file's checksum."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise SnapshotFailed(f"{folder}: not a curator snapshot (no manifest.json)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SnapshotFailed(f"{path}: not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotFailed(f"{path}: format is not {SNAPSHOT_FORMAT!r}")
    if manifest.get("format_version") != SNAPSHOT_FORMAT_VERSION:
        raise SnapshotFailed(
            f"{path}: format_version {manifest.get('format_version')!r}; this curator reads {SNAPSHOT_FORMAT_VERSION}: "
            f"write a new one (curator snapshot --parquet {folder})"
        )
    for name, digest in sorted(manifest.get("files", {}).items()):
        file = Path(folder) / name
        if "/" in name or name.startswith(".") or not file.is_file():
            raise SnapshotFailed(f"{folder}: {name} is listed in the manifest but missing")
        if sha256_file(file, SnapshotFailed) != digest:
            raise SnapshotFailed(f"{file}: checksum does not match the manifest (changed since it was written)")
    return manifest


def record_paths(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """The record shards' paths, in id order."""
    return [str(Path(folder) / name) for name in manifest["record_shards"]]
