"""Runs from responses produced elsewhere, and verdicts given by people.

`--responses FILE` is JSON lines `{"id": ITEM, "response": TEXT}`; optional `sample` (a whole
number, default 0, for several answers per prompt), `content` (the answer as the API's content
blocks, for tool calls) and `prompt_sha256` (refused when it is not the suite item's: the
response answered another prompt). Every line is checked before anything is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from curator import jsonl
from curator.errors import ImportFailed, NotFoundError, UsageError
from curator.files import read_text
from curator.models import clean_text
from curator.store import evals as store

RESPONSE_FIELDS = {"id", "response", "sample", "content", "prompt_sha256", "model", "request_id"}
MAX_SAMPLES = 100


@dataclass
class RunImport:
    run: store.Run
    responses: int
    missing: list[str] = field(default_factory=list)
    """Suite items with no response in the file (reported, not graded)."""

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run.id, "suite": self.run.suite, "responses": self.responses, "missing": self.missing}


def content_text(content: list[dict[str, Any]]) -> str:
    """What a response says, for the judge and the viewer: text blocks, then tool calls as JSON."""
    parts: list[str] = []
    for block in content:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            call = json.dumps(block.get("input", {}), ensure_ascii=False, sort_keys=True)
            parts.append(f"[tool call {block.get('name')}] {call}")
        elif block.get("type") == "thinking":
            continue  # reasoning is not the answer a user sees
    return "\n\n".join(p for p in parts if p)


def _content(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in value):
        raise ImportFailed(f"{where}: content: must be a list of content blocks (objects with a type)")
    return value


def read_responses(path: Path, items: dict[str, store.SuiteItem]) -> list[store.Response]:
    """Parse and check a responses file against the suite's items (nothing stored)."""
    text = read_text(path, ImportFailed, what="responses file", kind="records")
    out: list[store.Response] = []
    seen: dict[tuple[str, int], int] = {}
    for number, obj in jsonl.objects(text, str(path), ImportFailed):
        where = f"{path}:{number}"
        unknown = sorted(set(obj) - RESPONSE_FIELDS)
        if unknown:
            raise ImportFailed(f"{where}: {unknown[0]}: unknown field (expected {', '.join(sorted(RESPONSE_FIELDS))})")
        raw_id = obj.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise ImportFailed(f"{where}: id: missing or not text")
        item_id = str(raw_id)
        item = items.get(item_id)
        if item is None:
            raise ImportFailed(f"{where}: id: {item_id!r} is not an item of the suite")
        sample = obj.get("sample", 0)
        if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < MAX_SAMPLES:
            raise ImportFailed(f"{where}: sample: must be a whole number from 0 to {MAX_SAMPLES - 1}")
        if (item_id, sample) in seen:
            raise ImportFailed(
                f"{where}: id {item_id!r} sample {sample} already answered on line {seen[item_id, sample]} "
                "(give each answer its own sample number)"
            )
        seen[item_id, sample] = number
        content = _content(obj["content"], where) if obj.get("content") is not None else None
        response = obj.get("response")
        if response is None and content is not None:
            response = content_text(content)
        if not isinstance(response, str):
            raise ImportFailed(f"{where}: response: must be text")
        if not response.strip() and content is None:
            raise ImportFailed(f"{where}: response: is empty (an empty answer cannot be graded)")
        sha = obj.get("prompt_sha256")
        if sha is not None and sha != item.prompt_sha256:
            raise ImportFailed(
                f"{where}: prompt_sha256: the response answered another prompt than item {item_id!r} holds "
                "(the suite changed since the responses were made)"
            )
        request_id = obj.get("request_id")
        out.append(
            store.Response(
                run="",
                item=item_id,
                sample=sample,
                response=clean_text(response),
                content=content,
                error=None,
                request_id=str(request_id) if request_id is not None else None,
                prompt_sha256=item.prompt_sha256,
            )
        )
    if not out:
        raise ImportFailed(f"{path}: no responses found")
    return out


def ingest_responses(db: Database, suite: str, path: Path, *, model: str, actor: str) -> RunImport:
    """A complete run from a responses file, in one transaction (nothing stored on error)."""
    store.require_suite(db, suite)
    if not model.strip():
        raise UsageError("--model: name the model or checkpoint that produced the responses")
    items = {i.id: i for i in store.suite_items(db, suite)}
    responses = read_responses(Path(path), items)
    samples = max(r.sample for r in responses) + 1
    params = {"source_file": Path(path).name, "samples": samples}
    with db.atomic():
        run = store.insert_run(
            db, suite=suite, model=model, params=params, source="responses", actor=actor, status=store.RUN_COMPLETE
        )
        store.insert_responses(db, run.id, responses)
    answered = {r.item for r in responses}
    return RunImport(run, len(responses), [i for i in items if i not in answered])


def set_verdict(
    db: Database,
    run_id: str,
    item: str,
    clause: str,
    verdict: str,
    *,
    actor: str,
    reason: str = "",
    sample: int | None = None,
) -> store.Verdict:
    """A person's verdict on one response for one clause: a new row that wins over any judge (audited)."""
    if verdict not in store.VERDICTS:
        raise UsageError(f"verdict must be one of {', '.join(store.VERDICTS)}, not {verdict!r}")
    run = store.get_run(db, run_id)
    items = {i.id: i for i in store.suite_items(db, run.suite)}
    if item not in items:
        raise NotFoundError(f"no item {item!r} in suite {run.suite!r} of run {run_id}")
    if clause not in items[item].clauses:
        linked = ", ".join(items[item].clauses)
        raise UsageError(f"item {item!r} probes {linked}, not {clause!r}")
    samples = sorted(
        r[0] for r in db.execute("SELECT sample FROM eval_responses WHERE run = ? AND item = ?", [run_id, item])
    )
    if not samples:
        raise NotFoundError(f"run {run_id} has no response to item {item!r}")
    if sample is None:
        if len(samples) > 1:
            raise UsageError(f"run {run_id} has {len(samples)} samples of item {item!r}; choose one with --sample")
        sample = samples[0]
    elif sample not in samples:
        raise NotFoundError(f"run {run_id} has no sample {sample} of item {item!r} (samples: {samples})")
    row = store.Verdict(item, sample, clause, verdict, clean_text(reason), "", True, actor, "", None)
    with db.atomic():
        store.insert_verdicts(db, run_id, None, [row], actor=actor)
    return row


def remove_run(db: Database, run_id: str, *, actor: str) -> None:
    with db.atomic():
        store.delete_run(db, run_id, actor=actor)
