"""`dump` and `load`: the whole workspace as canonical, git-friendly files, and back.

dump -> load -> dump is byte-identical: every file is sorted, keys keep a fixed
order, and nothing time-dependent is written that was not already in the data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from curator import jsonl
from curator.atomic import aside_dir, pid_alive, recover, replace_dir
from curator.errors import CuratorError, ImportFailed, RecordError, StoreError, UsageError
from curator.models import parse_example
from curator.store import snapshot
from curator.store.clauses import rederive_clause_texts
from curator.store.db import Workspace, open_workspace, read_snapshot
from curator.store.examples import all_records_json
from curator.store.links import recompute_states

DUMP_FORMAT = "curator-dump"
DUMP_FORMAT_VERSION = 2
"""2 added `deleted.jsonl` (soft-deleted records) and audit notes. Version 1 dumps still load; a
curator that knows only version 1 refuses a version 2 dump rather than bring deleted records back."""
READABLE_FORMAT_VERSIONS = (1, 2)
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


def dump(ws: Workspace, target: Path) -> dict[str, int]:
    """Write the workspace to `target` (written aside, then renamed into place); returns counts."""
    target = Path(target)
    if "\x00" in str(target) or target.name in ("", ".."):
        raise UsageError(f"{str(target)!r}: not a usable dump folder (name a folder, not '.', '..' or a root)")
    recover(target)  # a dump of this target that was killed: remove its leftovers, restore a moved-aside dump
    if target.exists() and not target.is_dir():
        raise CuratorError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / "manifest.json").exists():
        raise CuratorError(f"{target}: folder is not empty and is not a curator dump; refusing to overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = aside_dir(target)  # also cleans up after a dump of this target that was killed
    try:
        counts = _write_dump(ws, tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


def _write_dump(ws: Workspace, folder: Path) -> dict[str, int]:
    db = ws.db
    counts: dict[str, int] = {}
    with read_snapshot(db):  # one consistent read snapshot; writers are not blocked
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
    manifest = {"format": DUMP_FORMAT, "format_version": DUMP_FORMAT_VERSION, "counts": counts}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return counts


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [obj for _, obj in jsonl.objects(path.read_text(encoding="utf-8"), str(path), ImportFailed)]


def load(source: Path, db_path: Path) -> dict[str, int]:
    """Rebuild a workspace from a dump into a new database file (all or nothing)."""
    source = Path(source)
    if "\x00" in str(source) or "\x00" in str(db_path):
        raise UsageError("a path contains a NUL byte")
    manifest_path = source / "manifest.json"
    if not manifest_path.exists():
        raise ImportFailed(f"{source}: not a curator dump (no manifest.json)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
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
    db_path = Path(db_path)
    if db_path.exists() and db_path.stat().st_size > 0:
        with open_workspace(db_path) as existing:
            if not existing.is_empty():
                raise StoreError(f"{db_path}: database is not empty; load into a new file")
    for leftover in db_path.parent.glob(f".{db_path.name}.loading-*"):  # loads that were killed
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            _remove_db(leftover)
    tmp = db_path.with_name(f".{db_path.name}.loading-{os.getpid()}")
    _remove_db(tmp)
    try:
        with open_workspace(tmp) as ws:
            counts = _load_into(ws, source)
            ws.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _remove_db(db_path)
        os.replace(tmp, db_path)
    finally:
        _remove_db(tmp)
    return counts


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


def _load_into(ws: Workspace, source: Path) -> dict[str, int]:
    db = ws.db
    counts: dict[str, int] = {}
    with db.atomic():
        versions = _read_jsonl(source / "constitution" / "versions.jsonl")
        for v in versions:
            name = str(v.get("source_file", ""))
            if not name or "/" in name or "\\" in name or "\x00" in name or name.startswith("."):
                raise ImportFailed(f"{source}/constitution/versions.jsonl: unsafe source_file {name!r}")
            path = source / "constitution" / name
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ImportFailed(f"{path}: missing constitution source") from None
            snapshot.insert_version(db, v, text)
        counts["constitution_versions"] = len(versions)
        records = []
        examples_path = source / "examples.jsonl"
        for number, obj in enumerate(_read_jsonl(examples_path), start=1):
            try:
                records.append(parse_example(obj))
            except RecordError as err:
                raise ImportFailed(f"{examples_path}:{number}: {err}") from None
        snapshot.restore_examples(db, records)
        counts["examples"] = len(records)
        legacy_clauses = False
        for spec in snapshot.DUMPED_TABLES:
            rows = _read_jsonl(source / f"{spec.file}.jsonl")
            if spec.table == "clauses" and rows and "plain" not in rows[0]:
                legacy_clauses = True  # dumped before the clause model: texts and hashes are re-derived
            snapshot.insert_table_rows(db, spec, rows)
            counts[spec.table] = len(rows)
        if legacy_clauses:
            rederive_clause_texts(db)
            recompute_states(db)
    return counts
