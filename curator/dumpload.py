"""`dump` and `load`: the whole workspace as canonical, git-friendly files, and back.

dump -> load -> dump is byte-identical: every file is sorted, keys keep a fixed
order, and nothing time-dependent is written that was not already in the data.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curator import jsonl
from curator.atomic import aside_dir, naming, pid_alive, recover, replace_dir
from curator.errors import ImportFailed, RecordError, StoreError, UsageError
from curator.files import open_bytes, read_text
from curator.models import parse_example
from curator.store import bulk, coverage_counts, snapshot
from curator.store.audit import compact_example_after_images
from curator.store.clauses import rederive_clause_texts
from curator.store.db import Workspace, open_workspace, read_snapshot, scan_cache
from curator.store.examples import PreparedRecord, all_records_json, prepare_many
from curator.store.links import recompute_states
from curator.targets import FolderKind, check_folder_target, sha256_file
from curator.workers import PARALLEL_MIN_BYTES, WorkerPool

DUMP_FORMAT = "curator-dump"
DUMP_FORMAT_VERSION = 4
"""2 added `deleted.jsonl` (soft-deleted records) and audit notes; 3 added `files` to the manifest
(the SHA-256 of every file), which `load` verifies; 4 added `evals/` (suites, runs, responses,
gradings, verdicts). Versions 1 to 3 still load (counts verified);
a curator that knows an older version refuses a newer dump rather than half-read it."""
READABLE_FORMAT_VERSIONS = (1, 2, 3, 4)
_SOURCE_SUFFIX = {"markdown": ".md", "json": ".json"}


def _line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _write_jsonl(path: Path, lines: Any) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for line in lines:
            fh.write(line if isinstance(line, str) else _line(line))
            fh.write("\n")
            n += 1
    return n


def dump_files(folder: Path, manifest: dict[str, Any]) -> dict[str, str | None]:
    """Every file a dump holds (relative path -> SHA-256, None for dumps that recorded none)."""
    listed = manifest.get("files")
    if isinstance(listed, dict):
        return {"manifest.json": None, **{str(k): str(v) for k, v in listed.items()}}
    names = {"manifest.json", "examples.jsonl", "constitution/versions.jsonl"}
    names |= {f"{spec.file}.jsonl" for spec in snapshot.DUMPED_TABLES}
    versions = folder / "constitution" / "versions.jsonl"
    if versions.is_file():
        for _, obj in jsonl.objects(read_text(versions, ImportFailed, kind="dump"), str(versions), ImportFailed):
            names.add(f"constitution/{obj.get('source_file', '')}")
    return dict.fromkeys(names)


DUMP_FOLDER = FolderKind("dump", DUMP_FORMAT, dump_files)


def dump(ws: Workspace, target: Path, *, force: bool = False) -> dict[str, int]:
    """Write the workspace to `target` (written aside, then renamed into place); returns counts.

    An existing `target` is replaced only when it is an earlier dump, unchanged since curator wrote
    it (or changed, with `force`); see `curator.targets`.
    """
    target = Path(target)
    if "\x00" in str(target) or target.name in ("", ".."):
        raise UsageError(f"{str(target)!r}: not a usable dump folder (name a folder, not '.', '..' or a root)")
    recover(target)  # a dump of this target that was killed: remove its leftovers, restore a moved-aside dump
    check_folder_target(target, DUMP_FOLDER, db_path=ws.path, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = aside_dir(target)  # also cleans up after a dump of this target that was killed
    try:
        with naming(target, tmp):
            counts = _write_dump(ws, tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def _write_dump(ws: Workspace, folder: Path) -> dict[str, int]:
    db = ws.db
    counts: dict[str, int] = {}
    with read_snapshot(db), scan_cache(db):  # one consistent read snapshot; writers are not blocked
        versions = snapshot.versions(db)
        meta_lines = []
        for v in versions:
            name = f"v{v['id']:04d}{_SOURCE_SUFFIX.get(v['format'], '.txt')}"
            (folder / "constitution").mkdir(parents=True, exist_ok=True)
            (folder / "constitution" / name).write_text(v.pop("source"), encoding="utf-8", newline="")
            v["source_file"] = name
            meta_lines.append(v)
        counts["constitution_versions"] = _write_jsonl(folder / "constitution" / "versions.jsonl", meta_lines)
        counts["examples"] = _write_jsonl(folder / "examples.jsonl", all_records_json(db))
        for spec in snapshot.DUMPED_TABLES:
            counts[spec.table] = _write_jsonl(folder / f"{spec.file}.jsonl", snapshot.table_rows(db, spec))
    files = {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    manifest = {"format": DUMP_FORMAT, "format_version": DUMP_FORMAT_VERSION, "counts": counts, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return counts


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    text = read_text(path, ImportFailed, kind="dump")
    return [obj for _, obj in jsonl.objects(text, str(path), ImportFailed)]


def read_manifest(source: Path) -> dict[str, Any]:
    """The dump's manifest, checked for format and version."""
    manifest_path = source / "manifest.json"
    if not manifest_path.is_file():
        raise ImportFailed(f"{source}: not a curator dump (no manifest.json)")
    try:
        manifest = json.loads(read_text(manifest_path, ImportFailed, kind="dump"))
    except json.JSONDecodeError as err:
        raise ImportFailed(f"{manifest_path}:{err.lineno}: invalid JSON ({err.msg})") from None
    except (ValueError, RecursionError):
        raise ImportFailed(f"{manifest_path}: invalid JSON (too deep, or a number too long)") from None
    if not isinstance(manifest, dict):
        raise ImportFailed(f"{manifest_path}: expected a JSON object")
    if manifest.get("format") != DUMP_FORMAT or manifest.get("format_version") not in READABLE_FORMAT_VERSIONS:
        raise ImportFailed(
            f"{manifest_path}: unsupported dump format {manifest.get('format')!r} "
            f"version {manifest.get('format_version')!r}"
        )
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or not all(isinstance(v, int) and v >= 0 for v in counts.values()):
        raise ImportFailed(f"{manifest_path}: counts: expected an object of record counts")
    files = manifest.get("files")
    if manifest["format_version"] >= 3 and not (
        isinstance(files, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise ImportFailed(f"{manifest_path}: files: expected an object of file checksums")
    return manifest


_COUNT_FILES = {"constitution_versions": "constitution/versions.jsonl", "examples": "examples.jsonl"}
_COUNT_FILES.update({spec.table: f"{spec.file}.jsonl" for spec in snapshot.DUMPED_TABLES})


def verify_dump(source: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists is there, unchanged; nothing it counts is missing.

    A dump is a backup: one that lost a file or was cut short must not load as a smaller,
    consistent-looking workspace.
    """
    for rel, digest in sorted((manifest.get("files") or {}).items()):
        path = source / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise ImportFailed(f"{source}/manifest.json: files: unsafe path {rel!r}")
        if not path.is_file():
            raise ImportFailed(f"{path}: missing (the manifest lists it)")
        if sha256_file(path, ImportFailed) != digest:
            raise ImportFailed(f"{path}: changed since the dump was written (SHA-256 differs from the manifest)")
    for key, count in sorted(manifest["counts"].items()):
        rel = _COUNT_FILES.get(key)
        if rel is not None and count > 0 and not (source / rel).is_file():
            raise ImportFailed(f"{source / rel}: missing (the manifest counts {count} {key})")


def load(source: Path, db_path: Path, *, parallel: bool | None = False) -> dict[str, int]:
    """Rebuild a workspace from a dump (all or nothing); returns the counts loaded.

    `parallel=None` parses and prepares the records of a big dump (examples.jsonl of 8 MB or
    more) in worker processes while this one writes; only entry points guarded by
    `if __name__ == "__main__"` may pass it (the CLI does).

    The dump is verified first (files, checksums, counts). A new database is written aside and
    linked into place (never over a file that appeared meanwhile). An existing file is loaded into
    in place, in one transaction, only when it is an empty workspace that no other process has
    open: nothing is replaced under another process's feet.
    """
    source = Path(source)
    if "\x00" in str(source) or "\x00" in str(db_path):
        raise UsageError("a path contains a NUL byte")
    manifest = read_manifest(source)
    verify_dump(source, manifest)
    if parallel is None:
        examples = source / "examples.jsonl"
        parallel = examples.exists() and examples.stat().st_size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1
    db_path = Path(db_path)
    if db_path.exists() or db_path.is_symlink():
        for suffix in ("-wal", "-shm"):
            if Path(f"{db_path}{suffix}").exists():
                raise StoreError(
                    f"{db_path}: is open in another process ({db_path.name}{suffix} exists); close it, "
                    "or load into a new file"
                )
        if not db_path.is_file():
            raise StoreError(f"{db_path}: exists and is not a database file")
        with open_workspace(db_path) as existing:
            if not existing.is_empty():
                raise StoreError(f"{db_path}: database is not empty; load into a new file")
            return _load_into(existing, source, manifest, parallel=parallel)
    for leftover in db_path.parent.glob(f".{db_path.name}.loading-*"):  # loads that were killed
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            _remove_db(leftover)
    tmp = db_path.with_name(f".{db_path.name}.loading-{os.getpid()}")
    _remove_db(tmp)
    try:
        with open_workspace(tmp) as ws:
            counts = _load_into(ws, source, manifest, parallel=parallel)
            ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            os.link(tmp, db_path)  # fails if a file appeared there meanwhile: never replaced
        except FileExistsError:
            raise StoreError(f"{db_path}: appeared while loading; nothing was written") from None
    finally:
        _remove_db(tmp)
    return counts


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


def _insert_rows(db: Any, spec: snapshot.DumpedTable, rows: list[tuple[int, dict[str, Any]]], path: Path) -> None:
    """Insert (line, row) pairs of a dumped table; a constraint error names the file and the line."""
    db.execute("SAVEPOINT rows")
    try:
        snapshot.insert_encoded_rows(db, spec, [r for _, r in rows])
    except sqlite3.IntegrityError as err:
        db.execute("ROLLBACK TO rows")
        for number, row in rows:  # find the first line that fails on its own
            try:
                snapshot.insert_encoded_rows(db, spec, [row])
            except sqlite3.IntegrityError as line_err:
                raise ImportFailed(f"{path}:{number}: {_constraint(line_err)}") from None
        raise ImportFailed(f"{path}: {_constraint(err)}") from None
    finally:
        db.execute("RELEASE rows")


LOAD_BATCH = 2000
"""Records parsed and inserted at a time: a load's memory stays flat whatever the dump's size.
The other tables go a quarter of that at a time: their lines (an audit event carries a whole
record) are parsed in the workers, and six batches are in flight at once."""


def _raw_batches(path: Path, size: int | None = None) -> Iterator[list[tuple[int, bytes]]]:
    """(line number, bytes) of a dump file, `size` (`LOAD_BATCH`) lines at a time (a missing file has none)."""
    size = size or LOAD_BATCH
    if not path.exists():
        return
    with open_bytes(path, ImportFailed, kind="dump") as fh:
        batch: list[tuple[int, bytes]] = []
        for number, raw in enumerate(fh, start=1):
            batch.append((number, raw))
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def _objects(where: str, number: int, raw: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The object on one line of a dump file (none on a blank line); errors name file and line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        at = f"byte 0x{raw[err.start]:02x} at column {err.start + 1}"
        raise ImportFailed(f"{where}:{number}: not valid UTF-8 ({at})") from None
    return [(number, obj) for _, obj in jsonl.objects(line.rstrip("\n"), f"{where}:{number}", ImportFailed)]


def prepare_rows(batch: list[tuple[int, bytes]], *, where: str, table: str) -> list[tuple[int, dict[str, Any]]] | str:
    """A batch of a dumped table's lines parsed, as (line number, row its table stores) pairs (in a
    worker process for a big dump), or the one line naming the first bad line (file and line)."""
    spec = snapshot.dumped_table(table)
    try:
        return [
            (n, snapshot.encoded_row(spec, obj)) for number, raw in batch for n, obj in _objects(where, number, raw)
        ]
    except ImportFailed as err:
        return str(err)


def prepare_examples(batch: list[tuple[int, bytes]], *, where: str) -> list[PreparedRecord] | str:
    """A batch of examples.jsonl lines parsed, validated and prepared for the store (in a worker
    process for a big dump), or the one line naming the first bad line (file and line)."""
    records = []
    try:
        for number, raw in batch:
            for _, obj in _objects(where, number, raw):
                try:
                    records.append(parse_example(obj))
                except RecordError as err:
                    return f"{where}:{number}: {err}"
    except ImportFailed as err:
        return str(err)
    return prepare_many(records)


def _constraint(err: sqlite3.IntegrityError) -> str:
    text = str(err)
    if "FOREIGN KEY" in text:
        return "refers to something the dump does not hold (a missing clause, example or version)"
    return f"breaks a database rule ({text})"


def _expect_count(manifest: dict[str, Any], counts: dict[str, int], source: Path) -> None:
    """The file just read holds as many rows as the manifest counts (a cut file is not a smaller dump)."""
    key, n = next(reversed(counts.items()))
    expected = manifest["counts"].get(key)
    if expected is not None and n != expected:
        where = source / _COUNT_FILES.get(key, key)
        raise ImportFailed(f"{where}: holds {n} {key}, the manifest counts {expected} (cut short?)")


def _load_into(ws: Workspace, source: Path, manifest: dict[str, Any], *, parallel: bool) -> dict[str, int]:
    db = ws.db
    counts: dict[str, int] = {}
    # the records arrive in id order and the bulk indexes are built once at the end: a big cache
    # would only hold pages written once (a million-record load: 439 -> 174 MiB at its peak, same time)
    with scan_cache(db), db.atomic():
        coverage_counts.pause(db)  # derived: counted once at the end, not per restored link
        versions = _read_jsonl(source / "constitution" / "versions.jsonl")
        for v in versions:
            name = str(v.get("source_file", ""))
            if not name or "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
                raise ImportFailed(f"{source}/constitution/versions.jsonl: unsafe source_file {name!r}")
            path = source / "constitution" / name
            text = read_text(path, ImportFailed, what="constitution source", kind="dump")
            snapshot.insert_version(db, v, text)
        counts["constitution_versions"] = len(versions)
        _expect_count(manifest, counts, source)
        examples_path = source / "examples.jsonl"
        counts["examples"] = 0
        prepare = functools.partial(prepare_examples, where=str(examples_path))
        legacy_clauses = False
        with WorkerPool(parallel=parallel) as pool:  # the records, then each table: lines parsed in workers
            with bulk.indexes_set_aside(db):  # a new workspace: its indexes are built once, sorted
                for prepared in pool.map(prepare, _raw_batches(examples_path)):
                    if isinstance(prepared, str):
                        raise ImportFailed(prepared)
                    try:
                        snapshot.restore_prepared(db, prepared)
                    except sqlite3.IntegrityError as err:
                        raise ImportFailed(f"{examples_path}: {_constraint(err)}") from None
                    counts["examples"] += len(prepared)
            _expect_count(manifest, counts, source)
            for spec in snapshot.DUMPED_TABLES:
                path = source / f"{spec.file}.jsonl"
                counts[spec.table] = 0
                parse = functools.partial(prepare_rows, where=str(path), table=spec.table)
                for rows in pool.map(parse, _raw_batches(path, max(1, LOAD_BATCH // 4))):
                    if isinstance(rows, str):
                        raise ImportFailed(rows)
                    if not rows:
                        continue
                    if spec.table == "clauses" and counts[spec.table] == 0 and "plain" not in rows[0][1]:
                        legacy_clauses = True  # dumped before the clause model: texts and hashes are re-derived
                    _insert_rows(db, spec, rows, path)
                    counts[spec.table] += len(rows)
                _expect_count(manifest, counts, source)
        if legacy_clauses:
            rederive_clause_texts(db)
            recompute_states(db)
        compact_example_after_images(db)
        coverage_counts.rebuild(db)
    return counts
