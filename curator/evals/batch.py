"""Running a model over an eval suite through the Message Batches API: estimate, submit, poll, store.

One request per (item, sample), `custom_id` `i{position}-s{sample}` (the API allows only
`[a-zA-Z0-9_-]{1,64}`, item ids may hold anything); the map from custom id to item is the run
row's `requests` column. The run row is written in the transaction right after the batch is
created, with status `submitted`: the same command again (same suite, model and parameters)
finds it and polls the same batch instead of paying for a second one. Every result is stored in
one transaction, a failed one with its error and no text (never graded), then the run is complete.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anthropic
from anthropic.types.messages.batch_create_params import Request
from sqlite_utils import Database

from curator.assist.batch import Progress, check_batch_size, check_poll_interval, create_batch, ended_results
from curator.assist.client import assist_error_from, is_message
from curator.config import Settings
from curator.evals.runs import content_text
from curator.models import clean_text
from curator.redact import redact
from curator.store import evals as store
from curator.token_estimate import COUNTER_NAME, estimate_tokens

BATCH_DISCOUNT = 0.5
"""Message Batches cost half the list price, input and output."""

PRICES: dict[str, tuple[float, float]] = {
    # USD per million (input, output) tokens at list price, from Anthropic's "Models & pricing"
    # pages (platform.claude.com/docs/about-claude/models, read 2026-12). Haiku 5.5 is left out:
    # its price is given as "from", so no bound can be promised for it.
    "claude-fable-5-1": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-sonnet-5-5": (2.0, 10.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-0": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4-0": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}
_DATED = re.compile(r"-(\d{8}|latest)$")


def price_of(model: str) -> tuple[float, float] | None:
    """List price (input, output per million tokens) of a model id or alias, dated or not; None if unknown."""
    return PRICES.get(_DATED.sub("", model.strip()))


@dataclass(frozen=True)
class Estimate:
    """What a run will send and an upper bound on what it costs (the output bound assumes every
    answer uses all of max_tokens; input tokens are curator's estimate, not the API's count)."""

    suite: str
    model: str
    items: int
    samples: int
    requests: int
    input_tokens: int
    max_output_tokens: int
    cost_usd: float | None

    def line(self) -> str:
        cost = (
            f"at most ${self.cost_usd:,.2f} (Message Batches, half the list price)"
            if self.cost_usd is not None
            else f"cost unknown for model {self.model}"
        )
        samples = f"{self.samples} sample" + ("s" if self.samples != 1 else "")
        return (
            f"{self.requests:,} requests ({self.items:,} prompts x {samples}) to {self.model}: "
            f"~{self.input_tokens:,} input tokens (estimated), at most {self.max_output_tokens:,} output tokens; "
            + cost
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "model": self.model,
            "items": self.items,
            "samples": self.samples,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "token_counter": COUNTER_NAME,
            "max_output_tokens": self.max_output_tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass(frozen=True)
class Failure:
    """A request whose answer was not stored as text: errored, expired, canceled, unusable, missing."""

    custom_id: str
    item: str
    sample: int
    error: str

    def where(self) -> str:
        """`i1-s0 (item ID, sample 0)`: the request and what it asked."""
        return f"{self.custom_id} (item {self.item}, sample {self.sample})" if self.item else self.custom_id

    def to_json(self) -> dict[str, Any]:
        return {"custom_id": self.custom_id, "item": self.item, "sample": self.sample, "error": self.error}


@dataclass(frozen=True)
class BatchRun:
    run_id: str
    batch_id: str
    resumed: bool
    """True when a submitted run's batch was picked up instead of sending a new one."""
    responses: int
    """Responses stored with text (failed ones not counted)."""
    failed: list[Failure] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "batch_id": self.batch_id,
            "resumed": self.resumed,
            "responses": self.responses,
            "failed": [f.to_json() for f in self.failed],
        }


def system_of(system: str | None, item: store.SuiteItem) -> str:
    """The system prompt one request carries: the run's, then the item's own, joined by a blank line."""
    return "\n\n".join(p for p in (system, item.prompt.get("system")) if p)


def custom_id(item: store.SuiteItem, sample: int) -> str:
    return f"i{item.position}-s{sample}"


def build_requests(
    items: list[store.SuiteItem],
    *,
    model: str,
    samples: int,
    system: str | None,
    max_tokens: int,
    temperature: float | None,
) -> tuple[list[Request], dict[str, dict[str, Any]]]:
    """The batch requests and the map custom id -> {item, sample, prompt_sha256}."""
    requests: list[Request] = []
    meta: dict[str, dict[str, Any]] = {}
    for item in items:
        params: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
        joined = system_of(system, item)
        if joined:
            params["system"] = joined
        params["messages"] = item.prompt["messages"]
        if item.prompt.get("tools"):
            params["tools"] = item.prompt["tools"]
        if temperature is not None:
            params["temperature"] = temperature
        for sample in range(samples):
            cid = custom_id(item, sample)
            requests.append({"custom_id": cid, "params": params})  # type: ignore[typeddict-item]
            meta[cid] = {"item": item.id, "sample": sample, "prompt_sha256": item.prompt_sha256}
    return requests, meta


def _input_tokens(item: store.SuiteItem, system: str | None) -> int:
    tools = item.prompt.get("tools") or []
    text = "\n".join(
        [system or "", store.prompt_text(item.prompt), *(json.dumps(t, ensure_ascii=False) for t in tools)]
    )
    return estimate_tokens(text)


def _estimate(
    suite: str, items: list[store.SuiteItem], model: str, samples: int, system: str | None, max_tokens: int
) -> Estimate:
    requests = len(items) * samples
    tokens = samples * sum(_input_tokens(i, system) for i in items)
    output = max_tokens * requests
    price = price_of(model)
    cost = None if price is None else (tokens * price[0] + output * price[1]) / 1e6 * BATCH_DISCOUNT
    return Estimate(suite, model, len(items), samples, requests, tokens, output, cost)


def estimate_suite(
    db: Database,
    settings: Settings,
    *,
    suite: str,
    model: str,
    samples: int,
    system: str | None,
    max_tokens: int | None,
) -> Estimate:
    """Request count, estimated input tokens, output bound and cost of running `model` over `suite`."""
    store.require_suite(db, suite)
    items = store.suite_items(db, suite)
    return _estimate(suite, items, model, samples, system, max_tokens or settings.assist_max_tokens)


def run_params(*, samples: int, system: str | None, max_tokens: int, temperature: float | None) -> dict[str, Any]:
    """What makes two runs of one suite and model the same run (and what the judge reads back)."""
    return {
        "samples": samples,
        "system_sha256": hashlib.sha256(system.encode("utf-8")).hexdigest() if system else None,
        "system": system,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }


def run_suite(
    db: Database,
    client: anthropic.Anthropic,
    settings: Settings,
    *,
    db_path: str,
    suite: str,
    model: str,
    samples: int,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    actor: str,
    progress: Progress | None,
    poll_interval: float,
    sleep: Callable[[float], None] = time.sleep,
    confirm: Callable[[Estimate], bool],
) -> BatchRun | None:
    """Submit (or resume) a run of `model` over `suite`, wait for it, store every response.

    None when `confirm` declines the estimate (nothing sent, nothing stored). `db_path` is not
    read: unlike a drafting batch's state file, the resumable state is the run row in the database.
    """
    del db_path
    check_poll_interval(poll_interval)
    store.require_suite(db, suite)
    tokens = max_tokens or settings.assist_max_tokens
    params = run_params(samples=samples, system=system, max_tokens=tokens, temperature=temperature)
    run = store.find_open_run(db, suite, model, params)
    resumed = run is not None
    try:
        if run is None:
            items = store.suite_items(db, suite)
            requests, meta = build_requests(
                items, model=model, samples=samples, system=system, max_tokens=tokens, temperature=temperature
            )
            check_batch_size(requests)  # before anyone is asked to pay for a batch the API would refuse
            if not confirm(_estimate(suite, items, model, samples, system, tokens)):
                return None
            batch = create_batch(client, requests)
            with db.atomic():
                run = store.insert_run(
                    db,
                    suite=suite,
                    model=model,
                    params=params,
                    source="batch",
                    actor=actor,
                    status=store.RUN_SUBMITTED,
                    batch_id=batch["id"],
                    requests=meta,
                )
        results = ended_results(client, str(run.batch_id), progress, poll_interval, sleep)
    except anthropic.AnthropicError as err:
        raise assist_error_from(client, err) from None
    rows, failed = responses_from_results(run.requests or {}, results)
    with db.atomic():
        store.insert_responses(db, run.id, rows)
        store.complete_run(db, run.id, actor=actor)
    return BatchRun(run.id, str(run.batch_id), resumed, sum(r.error is None for r in rows), failed)


def result_error(result: dict[str, Any]) -> str:
    """`errored: overloaded_error: Overloaded`, `expired`, ...: the result's type and, when given, why."""
    kind = str(result.get("type"))
    error = result.get("error")
    inner = error.get("error") if isinstance(error, dict) else None
    if isinstance(inner, dict):
        detail = ": ".join(str(inner[k]) for k in ("type", "message") if inner.get(k))
        if detail:
            return redact(f"{kind}: {detail}")
    return redact(kind)


def responses_from_results(
    meta: dict[str, dict[str, Any]], results: list[dict[str, Any]]
) -> tuple[list[store.Response], list[Failure]]:
    """One response row per request of the run (a failed or missing result stored with its error)."""
    rows: list[store.Response] = []
    failed: list[Failure] = []
    by_id = {r["custom_id"]: r["result"] for r in results}  # `batch_results` checked each line's shape

    def fail(cid: str, info: dict[str, Any], error: str) -> None:
        failed.append(Failure(cid, info["item"], info["sample"], error))
        rows.append(store.Response("", info["item"], info["sample"], "", None, error, None, info["prompt_sha256"]))

    failed.extend(Failure(redact(cid), "", -1, "unknown custom_id") for cid in by_id if cid not in meta)
    for cid, info in meta.items():
        result = by_id.get(cid)
        if result is None:
            fail(cid, info, "no result for this request in the batch")
            continue
        if result.get("type") != "succeeded":
            fail(cid, info, result_error(result))
            continue
        message = result.get("message")
        if not isinstance(message, dict) or not is_message(message):
            fail(cid, info, "malformed result: the succeeded result holds no Messages response")
            continue
        try:
            text = clean_text(content_text(message["content"]))
        except ValueError as err:
            fail(cid, info, f"unusable answer: {err}")
            continue
        rows.append(
            store.Response(
                "",
                info["item"],
                info["sample"],
                text,
                message["content"],
                None,
                str(message["id"]),
                info["prompt_sha256"],
            )
        )
    return rows, failed
