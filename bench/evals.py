"""Eval suites at scale: building a run's batch requests, ingesting its results, the per-clause report.

Synthetic, seeded data over the coverage benchmark's ~1,000-clause constitution: 10,000 prompts of
40-120 words (a third with a system prompt, a fifth with two tool definitions, a tenth multi-turn),
each linked to 1-3 clauses with a rubric line. The results are 10,000 Message Batch result lines
of 80-250-word answers (a fifth with a tool call, 1% errored), served by the real anthropic SDK
over a mocked HTTP transport, so ingestion includes the SDK's GET, the shape checks, parsing and
the one transaction that stores them. The report grades every response with a verdict per linked
clause (a judge grading plus 2% human overrides) and times `build_report`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

from bench.bench_coverage import constitution
from curator.assist.batch import batch_results
from curator.assist.client import make_client
from curator.config import Settings
from curator.constitution.versions import import_constitution
from curator.dedup.decontam import register_suite_evalset
from curator.evals.batch import build_requests, estimate_suite, responses_from_results
from curator.evals.report import build_report
from curator.evals.suites import prompt_sha256
from curator.store import evals as store
from curator.store.db import open_workspace

SYSTEM = "Answer as a careful assistant."
TARGETS = {"build_s": 2.0, "ingest_per_s": 2000, "report_s": 0.5}
_VOCABULARY = (
    "the a to of and in that is for it you with on this be are as not have can your my what should would "
    "could about how when they we if but or from do help me tell write friend sister boss doctor data "
    "private email report account password medical record money loan contract secret shutdown model "
    "assistant agent tool search file delete send schedule meeting refuse explain honest honestly risk "
    "safety harm consent permission policy law court child parent teacher student company customer"
)
WORDS = tuple(_VOCABULARY.split())


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + "."


def _items(n: int, clause_ids: list[str], rng: random.Random) -> list[store.SuiteItem]:
    tool = {
        "name": "send_email",
        "description": "Send an email on the user's behalf.",
        "input_schema": {"type": "object", "properties": {"to": {"type": "string"}, "body": {"type": "string"}}},
    }
    search = {**tool, "name": "search_files", "description": "Search the user's files."}
    out = []
    for i in range(n):
        messages: list[dict[str, Any]] = [{"role": "user", "content": _words(rng, 40, 120)}]
        if rng.random() < 0.1:
            messages += [
                {"role": "assistant", "content": _words(rng, 30, 80)},
                {"role": "user", "content": _words(rng, 10, 40)},
            ]
        prompt: dict[str, Any] = {"messages": messages}
        if rng.random() < 1 / 3:
            prompt["system"] = _words(rng, 20, 60)
        if rng.random() < 0.2:
            prompt["tools"] = [tool, search]
        clauses = tuple(rng.sample(clause_ids, rng.choice((1, 2, 3))))
        out.append(
            store.SuiteItem(f"item-{i:05d}", prompt, clauses, _words(rng, 10, 30), prompt_sha256(prompt), position=i)
        )
    return out


def _result_lines(requests: list[dict[str, Any]], rng: random.Random) -> bytes:
    lines = []
    for r in requests:
        cid = r["custom_id"]
        if rng.random() < 0.01:
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            lines.append({"custom_id": cid, "result": {"type": "errored", "error": error}})
            continue
        content: list[dict[str, Any]] = [{"type": "text", "text": _words(rng, 80, 250)}]
        if rng.random() < 0.2:
            content.append({"type": "tool_use", "id": "toolu_1", "name": "send_email", "input": {"to": "a@b.c"}})
        message = {
            "id": f"msg_{cid}",
            "type": "message",
            "role": "assistant",
            "model": "bench",
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 200},
        }
        lines.append({"custom_id": cid, "result": {"type": "succeeded", "message": message}})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def run(quick: bool = False) -> dict[str, Any]:
    n = 2_000 if quick else 10_000
    rng = random.Random(11)
    os.environ.setdefault("ANTHROPIC_API_KEY", "bench-not-a-key")
    settings = Settings(assist_max_tokens=1024)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.md"
        path.write_text(constitution(), encoding="utf-8")
        with open_workspace(Path(tmp) / "w.db") as ws:
            db = ws.db
            import_constitution(db, path, actor="bench")
            clause_ids = [r[0] for r in db.execute("SELECT id FROM clauses")]
            items = _items(n, clause_ids, rng)
            with db.atomic():
                store.insert_suite(db, "bench", "generated", items, actor="bench")
                register_suite_evalset(db, "bench", [(i.id, store.prompt_text(i.prompt)) for i in items], actor="b")

            build = []
            for _ in range(3):
                t = time.perf_counter()
                estimate = estimate_suite(
                    db, settings, suite="bench", model="claude-sonnet-5-5", samples=1, system=SYSTEM, max_tokens=None
                )
                requests, meta = build_requests(
                    store.suite_items(db, "bench"),
                    model="claude-sonnet-5-5",
                    samples=1,
                    system=SYSTEM,
                    max_tokens=1024,
                    temperature=None,
                )
                build.append(time.perf_counter() - t)

            body = _result_lines(requests, rng)  # type: ignore[arg-type]  # TypedDicts are dicts
            client = make_client(
                settings,
                http_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200, content=body))),
            )
            ended = {"results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_b/results"}
            with db.atomic():
                run = store.insert_run(
                    db,
                    suite="bench",
                    model="claude-sonnet-5-5",
                    params={"samples": 1},
                    source="batch",
                    actor="bench",
                    status=store.RUN_SUBMITTED,
                    batch_id="msgbatch_b",
                    requests=meta,
                )
            t = time.perf_counter()
            results = batch_results(client, ended)
            rows, failed = responses_from_results(meta, results)
            with db.atomic():
                store.insert_responses(db, run.id, rows)
                store.complete_run(db, run.id, actor="bench")
            ingest = time.perf_counter() - t

            by_id = {i.id: i for i in items}
            verdicts = [
                store.Verdict(r.item, r.sample, c, rng.choice(("complies",) * 6 + ("violates", "unclear")), "Why.",
                              "", False, "", "", None)
                for r in rows
                if r.error is None
                for c in by_id[r.item].clauses
            ]  # fmt: skip
            with db.atomic():
                grading = store.insert_grading(
                    db, run.id, judge="bench-judge", prompt_sha256="x", actor="bench", status=store.RUN_SUBMITTED
                )
                store.insert_verdicts(db, run.id, grading.id, verdicts, actor="bench")
                store.complete_grading(db, grading.id, actor="bench")
                human = [
                    store.Verdict(v.item, v.sample, v.clause, "violates", "A person's call.", "", True, "", "", None)
                    for v in rng.sample(verdicts, len(verdicts) // 50)
                ]
                store.insert_verdicts(db, run.id, None, human, actor="ana")
            reports = []
            for _ in range(3):
                t = time.perf_counter()
                report = build_report(db, run.id)
                reports.append(time.perf_counter() - t)
    return {
        "prompts": n,
        "clauses": len(clause_ids),
        "requests": len(requests),
        "estimate_input_tokens": estimate.input_tokens,
        "build_seconds": round(min(build), 3),
        "results": len(results),
        "results_mb": round(len(body) / 1e6, 1),
        "failed": len(failed),
        "ingest_seconds": round(ingest, 3),
        "ingest_per_s": round(len(results) / ingest),
        "verdicts": len(verdicts),
        "human_verdicts": len(human),
        "report_clauses": len(report.clauses),
        "report_seconds": round(min(reports), 3),
        "targets": TARGETS,
    }


def markdown(r: dict[str, Any]) -> str:
    """The BENCHMARKS.md section."""
    t = r["targets"]
    return "\n".join(
        [
            "## Eval runs",
            "",
            f"A suite of {r['prompts']:,} generated prompts (40-120 words; a third with a system prompt, a fifth "
            f"with two tools, a tenth multi-turn) linked to 1-3 of {r['clauses']:,} clauses. *Build*: read the "
            "suite, estimate tokens and cost, build one Message Batch request per prompt (what `eval run` does "
            f"before sending). *Ingest*: {r['results']:,} result lines ({r['results_mb']} MB, 80-250-word answers, "
            "a fifth with a tool call, 1% errored) fetched by the real SDK from a mocked transport, checked, "
            "parsed and stored in one transaction. *Report*: `build_report` over the run's "
            f"{r['verdicts']:,} judge verdicts and {r['human_verdicts']:,} human overrides "
            f"({r['report_clauses']:,} clauses with verdicts). Best of three for build and report.",
            "",
            "| step | measured | target |",
            "|---|---:|---:|",
            f"| build {r['requests']:,} requests | {r['build_seconds']} s | <= {t['build_s']} s |",
            f"| ingest {r['results']:,} results | {r['ingest_seconds']} s ({r['ingest_per_s']:,}/s) "
            f"| >= {t['ingest_per_s']:,}/s |",
            f"| report, {r['results'] - r['failed']:,} graded responses | {r['report_seconds']} s "
            f"| <= {t['report_s']} s |",
        ]
    )


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
