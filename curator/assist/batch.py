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
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from anthropic.types.messages.batch_create_params import Request
from sqlite_utils import Database

from curator import paths
from curator.assist.actions import DRAFT_TOOL, MAX_DRAFTS, build_draft_record, resolve_clauses, title_paths
from curator.assist.client import (
    AssistError,
    MalformedResponse,
    assist_error_from,
    decode_body,
    expect,
    is_message,
    tool_input_of,
)
from curator.assist.prompts import draft_prompt, draft_schema, prompt_sha256
from curator.assist.results import BatchDuplicate, BatchFailure, BatchReport, NearDuplicate
from curator.config import Settings
from curator.errors import UsageError
from curator.models import KINDS
from curator.redact import redact
from curator.store import examples
from curator.textnorm import exact_hash

Progress = Callable[[dict[str, int]], None]
"""Called after each poll with the batch's request counts (processing, succeeded, errored, ...)."""


MAX_POLL_S = 3600.0
"""The longest wait between two polls of a batch (an hour)."""

BATCH = "a Message Batch"


def check_poll_interval(seconds: float) -> float:
    """`seconds` when it is a finite number from 0 to `MAX_POLL_S`, else a `UsageError` (exit 2)."""
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_POLL_S):
        raise UsageError(f"--poll must be a number of seconds from 0 to {MAX_POLL_S:g}, not {seconds!r}")
    return seconds


def is_batch(data: dict[str, Any]) -> bool:
    """A Message Batch as far as we read it: id, processing status, counts, and results once ended."""
    counts = data.get("request_counts")
    return (
        data.get("type") == "message_batch"
        and isinstance(data.get("id"), str)
        and isinstance(data.get("processing_status"), str)
        and isinstance(counts, dict)
        and all(isinstance(k, str) and type(v) is int for k, v in counts.items())
        and (data.get("processing_status") != "ended" or isinstance(data.get("results_url"), str))
    )


def batch_json(raw: Any) -> dict[str, Any]:
    """The Message Batch of a raw SDK answer, checked (`MalformedResponse` when it is not one)."""
    response: httpx2.Response = raw.http_response
    return expect(decode_body(response, BATCH), is_batch, response, BATCH)


def batch_results(client: anthropic.Anthropic, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The result lines of an ended batch (JSONL), each an object with a `custom_id` and a `result` object.

    A body of anything else is `MalformedResponse` (the state file stays: running again resumes).
    """
    response = client.get(
        batch["results_url"], cast_to=httpx2.Response, options={"headers": {"Accept": "application/binary"}}
    )
    what = "Message Batch results (JSON lines)"
    endpoint = f"{response.request.method} {response.request.url.path}"
    text = response.read().decode("utf-8", errors="replace")
    lines: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not (
            isinstance(item, dict) and isinstance(item.get("custom_id"), str) and isinstance(item.get("result"), dict)
        ):
            why = "HTML" if line.lstrip().startswith("<") else f"line {n} is not a batch result"
            raise MalformedResponse(
                f"{endpoint} answered {response.status_code} with a body that is not {what} ({why})"
            )
        lines.append(item)
    return lines


MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256_000_000
"""The Message Batches API's limits on one batch: requests, and the size of its JSON body."""


def check_batch_size(requests: list[Request]) -> None:
    """Refuse, before anything is sent, a batch the API would refuse (a `UsageError` saying what to do)."""
    if len(requests) > MAX_BATCH_REQUESTS:
        raise UsageError(
            f"{len(requests):,} requests: a Message Batch holds at most {MAX_BATCH_REQUESTS:,}; "
            "split the suite or ask for fewer samples"
        )
    size = len(json.dumps({"requests": requests}, ensure_ascii=False).encode("utf-8"))
    if size > MAX_BATCH_BYTES:
        raise UsageError(
            f"the batch would be {size / 1e6:,.0f} MB: a Message Batch holds at most {MAX_BATCH_BYTES / 1e6:,.0f} MB; "
            "split the suite or ask for fewer samples"
        )


def create_batch(client: anthropic.Anthropic, requests: list[Request]) -> dict[str, Any]:
    """Submit `requests` as one Message Batch; the checked batch (SDK errors are left to the caller)."""
    check_batch_size(requests)
    return batch_json(client.messages.batches.with_raw_response.create(requests=requests))


def wait_for_batch(
    client: anthropic.Anthropic,
    batch_id: str,
    progress: Progress | None,
    poll_interval: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """Poll a batch until it has ended, reporting its request counts after each poll; the ended batch."""
    while True:
        batch = batch_json(client.messages.batches.with_raw_response.retrieve(batch_id))
        if progress is not None:
            progress(dict(batch["request_counts"]))
        if batch["processing_status"] == "ended":
            return batch
        sleep(poll_interval)


def ended_results(
    client: anthropic.Anthropic,
    batch_id: str,
    progress: Progress | None,
    poll_interval: float,
    sleep: Callable[[float], None],
) -> list[dict[str, Any]]:
    """Wait for a batch to end (`wait_for_batch`), then its result lines (`batch_results`)."""
    return batch_results(client, wait_for_batch(client, batch_id, progress, poll_interval, sleep))


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
    check_poll_interval(poll_interval)
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
            created_batch = create_batch(client, requests)
            state = {
                "batch_id": created_batch["id"],
                "kind": kind,
                "model": settings.assist_model,
                "clauses": ids,
                "per_clause": per_clause,
                "requests": meta,
            }
            _write_state(state_path, state)
        results = ended_results(client, state["batch_id"], progress, poll_interval, sleep)
    except anthropic.AnthropicError as err:
        raise assist_error_from(client, err) from None
    report = _import_results(db, settings, state, results, resumed=resumed, actor=actor)
    state_path.unlink(missing_ok=True)
    return report


def _import_results(
    db: Database,
    settings: Settings,
    state: dict[str, Any],
    results: list[dict[str, Any]],
    *,
    resumed: bool,
    actor: str,
) -> BatchReport:
    from curator.dedup.engine import DedupEngine

    created: list[str] = []
    duplicates: list[BatchDuplicate] = []
    near: list[NearDuplicate] = []
    failed: list[BatchFailure] = []
    meta: dict[str, dict[str, str]] = state["requests"]
    seen_hashes: dict[str, str] = {}
    engine = DedupEngine.load(db)  # near-duplicates of what was stored before this import
    for item in sorted(results, key=lambda r: str(r.get("custom_id"))):
        custom_id: str = item["custom_id"]  # `batch_results` checked the shape of each line
        result: dict[str, Any] = item["result"]
        info = meta.get(custom_id)
        if info is None:
            failed.append(BatchFailure(redact(custom_id), "unknown custom_id"))
            continue
        if result.get("type") != "succeeded":
            failed.append(BatchFailure(custom_id, redact(result.get("type"))))
            continue
        try:
            message = result.get("message")
            if not isinstance(message, dict) or not is_message(message):
                raise AssistError("malformed result: the succeeded result holds no Messages response")
            ex = build_draft_record(
                state["kind"],
                tool_input_of(message, DRAFT_TOOL),
                clauses=[info["clause"]],
                actor=actor,
                model=state["model"],
                sha=info["prompt_sha256"],
                origin=f"{state['batch_id']}/{custom_id}",
            )
        except AssistError as err:
            failed.append(BatchFailure(custom_id, str(err)))
            continue
        text = ex.searchable_text()
        h = exact_hash(text)
        dup = seen_hashes.get(h) or examples.existing_hashes(db, [h]).get(h)
        if dup:
            duplicates.append(BatchDuplicate(custom_id, dup))
            continue
        matches = tuple(engine.check(text, limit=3))
        stored = examples.create(db, ex, actor=actor)
        seen_hashes[h] = stored.id
        created.append(stored.id)
        if matches:
            near.append(NearDuplicate(stored.id, matches))
    return BatchReport(state["batch_id"], resumed, tuple(created), tuple(duplicates), tuple(near), tuple(failed))
