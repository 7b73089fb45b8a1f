"""Batch drafting through the Message Batches API: submit, poll, import; resumable.

The batch id and what each request was for are written to a JSON file in the app home
(`batches/<key>.json`) right after submission, so an interrupted run resumes the same
batch when the same command is run again. Results land as drafts with provenance
(`origin` = "<batch id>/<custom id>"); exact duplicates are skipped and near-duplicates
reported. The state file is removed once the results are imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
from anthropic.types.messages.batch_create_params import Request
from sqlite_utils import Database

from curator import paths
from curator.assist.actions import DRAFT_TOOL, MAX_DRAFTS, build_draft_record, resolve_clauses, title_paths
from curator.assist.client import AssistError, assist_error_from
from curator.assist.prompts import draft_prompt, draft_schema, prompt_sha256
from curator.assist.results import BatchDuplicate, BatchFailure, BatchReport, NearDuplicate
from curator.config import Settings
from curator.errors import UsageError
from curator.models import KINDS
from curator.store import examples
from curator.textnorm import exact_hash

Progress = Callable[[dict[str, int]], None]
"""Called after each poll with the batch's request counts (processing, succeeded, errored, ...)."""


def batches_dir() -> Path:
    return paths.home_dir() / "batches"


def batch_key(db_path: str, *, model: str, kind: str, clauses: list[str], per_clause: int) -> str:
    """Same command on the same database -> same key -> the same state file (resume)."""
    ident = json.dumps([str(Path(db_path).resolve()), model, kind, clauses, per_clause])
    return hashlib.sha256(ident.encode()).hexdigest()[:20]


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _build_requests(
    settings: Settings, kind: str, clauses: list[Any], per_clause: int, titles: dict[str, str] | None = None
) -> tuple[list[Request], dict[str, dict[str, str]]]:
    requests: list[Request] = []
    meta: dict[str, dict[str, str]] = {}
    for ci, clause in enumerate(clauses):
        for j in range(per_clause):
            system, user = draft_prompt(kind, [clause], paths=titles)
            if per_clause > 1:
                user += f"\n\nThis is variant {j + 1} of {per_clause} for this clause: pick a distinct situation."
            custom_id = f"c{ci}-{j}"
            requests.append(
                {
                    "custom_id": custom_id,
                    "params": {
                        "model": settings.assist_model,
                        "max_tokens": settings.assist_max_tokens,
                        "system": system,
                        "messages": [{"role": "user", "content": user}],
                        "tools": [
                            {
                                "name": DRAFT_TOOL,
                                "description": f"Submit one drafted {kind} example.",
                                "input_schema": draft_schema(kind),
                            }
                        ],
                        "tool_choice": {"type": "tool", "name": DRAFT_TOOL},
                    },
                }
            )
            meta[custom_id] = {"clause": clause.id, "prompt_sha256": prompt_sha256(system, user)}
    return requests, meta


def run_batch(
    db: Database,
    client: anthropic.Anthropic,
    settings: Settings,
    *,
    db_path: str,
    clauses: list[str],
    kind: str,
    per_clause: int,
    actor: str,
    progress: Progress | None = None,
    poll_interval: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchReport:
    """Submit (or resume) a drafting batch, wait for it, import the results; what was created and skipped."""
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not 1 <= per_clause <= MAX_DRAFTS:
        raise UsageError(f"--per-clause must be between 1 and {MAX_DRAFTS}")
    chosen = resolve_clauses(db, clauses)
    ids = [c.id for c in chosen]
    key = batch_key(db_path, model=settings.assist_model, kind=kind, clauses=ids, per_clause=per_clause)
    state_path = batches_dir() / f"{key}.json"
    resumed = state_path.exists()
    try:
        if resumed:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        else:
            requests, meta = _build_requests(settings, kind, chosen, per_clause, title_paths(db))
            created_batch = client.messages.batches.create(requests=requests)
            state = {
                "batch_id": created_batch.id,
                "kind": kind,
                "model": settings.assist_model,
                "clauses": ids,
                "per_clause": per_clause,
                "requests": meta,
            }
            _write_state(state_path, state)
        batch_id: str = state["batch_id"]
        while True:
            batch = client.messages.batches.retrieve(batch_id)
            if progress is not None:
                progress(batch.request_counts.model_dump())
            if batch.processing_status == "ended":
                break
            sleep(poll_interval)
        results = list(client.messages.batches.results(batch_id))
    except anthropic.APIError as err:
        raise assist_error_from(client, err) from None
    report = _import_results(db, settings, state, results, resumed=resumed, actor=actor)
    state_path.unlink(missing_ok=True)
    return report


def _import_results(
    db: Database, settings: Settings, state: dict[str, Any], results: list[Any], *, resumed: bool, actor: str
) -> BatchReport:
    from curator.dedup.engine import DedupEngine

    created: list[str] = []
    duplicates: list[BatchDuplicate] = []
    near: list[NearDuplicate] = []
    failed: list[BatchFailure] = []
    meta: dict[str, dict[str, str]] = state["requests"]
    seen_hashes: dict[str, str] = {}
    engine = DedupEngine.load(db)  # near-duplicates of what was stored before this import
    for item in sorted(results, key=lambda r: r.custom_id):
        info = meta.get(item.custom_id)
        if info is None:
            failed.append(BatchFailure(item.custom_id, "unknown custom_id"))
            continue
        if item.result.type != "succeeded":
            failed.append(BatchFailure(item.custom_id, item.result.type))
            continue
        message = item.result.message
        tool_input = next(
            (b.input for b in message.content if b.type == "tool_use" and b.name == DRAFT_TOOL),
            None,
        )
        try:
            if not isinstance(tool_input, dict):
                raise AssistError(f"malformed model output: the response has no {DRAFT_TOOL} tool call")
            ex = build_draft_record(
                state["kind"],
                tool_input,
                clauses=[info["clause"]],
                actor=actor,
                model=state["model"],
                sha=info["prompt_sha256"],
                origin=f"{state['batch_id']}/{item.custom_id}",
            )
        except AssistError as err:
            failed.append(BatchFailure(item.custom_id, str(err)))
            continue
        text = ex.searchable_text()
        h = exact_hash(text)
        dup = seen_hashes.get(h) or examples.existing_hashes(db, [h]).get(h)
        if dup:
            duplicates.append(BatchDuplicate(item.custom_id, dup))
            continue
        matches = tuple(engine.check(text, limit=3))
        stored = examples.create(db, ex, actor=actor)
        seen_hashes[h] = stored.id
        created.append(stored.id)
        if matches:
            near.append(NearDuplicate(stored.id, matches))
    return BatchReport(state["batch_id"], resumed, tuple(created), tuple(duplicates), tuple(near), tuple(failed))
