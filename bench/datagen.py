"""Deterministic generators of realistic-looking records for benchmarks."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

WORDS = [
    "the",
    "assistant",
    "noticed",
    "message",
    "shutdown",
    "private",
    "letters",
    "leverage",
    "refused",
    "explained",
    "because",
    "trust",
    "oversight",
    "principle",
    "honest",
    "careful",
    "user",
    "manager",
    "email",
    "calendar",
    "tool",
    "scope",
    "permission",
    "asked",
    "deleted",
    "archive",
    "report",
    "family",
    "job",
    "offer",
    "friend",
    "secret",
    "decision",
    "harm",
    "consequence",
    "people",
    "respect",
    "autonomy",
    "decline",
    "reason",
    "transparent",
    "audit",
    "correction",
    "replace",
    "model",
    "weights",
    "server",
    "access",
    "token",
    "budget",
    "colleague",
    "patient",
    "doctor",
    "record",
    "finance",
    "invoice",
    "deadline",
    "pressure",
    "threat",
    "blackmail",
    "instead",
    "chose",
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _paragraph(rng: random.Random, words: int) -> str:
    out = []
    while words > 0:
        n = min(words, rng.randint(8, 18))
        out.append(_sentence(rng, n))
        words -= n
    return " ".join(out)


def record(i: int, rng: random.Random, clause_ids: list[str]) -> dict[str, Any]:
    """One record of a kind chosen by i, ~100 words of content, linked to 1-2 clauses."""
    kind = ("story", "advice", "document", "agentic")[i % 4]
    base: dict[str, Any] = {
        "id": f"ex_bench_{i:07d}",
        "kind": kind,
        "title": _sentence(rng, 6)[:-1],
        "status": rng.choice(["draft", "review", "approved", "approved"]),
        "author": rng.choice(["ana", "ben", "chen", "dara"]),
        "tags": rng.sample(["shutdown", "leverage", "family", "email", "code", "finance"], 2),
        "clauses": rng.sample(clause_ids, 2),
        "group": f"g{i % 500}",
    }
    if kind in ("story", "document"):
        base["text"] = _paragraph(rng, 100)
        base["rationale"] = _sentence(rng, 15)
    elif kind == "advice":
        base["messages"] = [
            {"role": "user", "content": _paragraph(rng, 35)},
            {"role": "assistant", "content": _paragraph(rng, 65), "rationale": _sentence(rng, 12)},
        ]
    else:
        base["system"] = "You are an operations agent."
        base["tools"] = [
            {
                "name": "read_file",
                "description": "Read a file",
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            }
        ]
        base["messages"] = [
            {"role": "user", "content": _paragraph(rng, 30)},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": _sentence(rng, 10)},
                    {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "notes.txt"}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": _paragraph(rng, 20)}],
            },
            {"role": "assistant", "content": _paragraph(rng, 35), "rationale": _sentence(rng, 12)},
        ]
    return base


def records(n: int, clause_ids: list[str], seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield record(i, rng, clause_ids)


def write_jsonl(path: Path, n: int, clause_ids: list[str], seed: int = 1) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for rec in records(n, clause_ids, seed):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path
