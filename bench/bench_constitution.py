"""Constitution parsing speed (MB/s): the newer model spec and a generated 5 MB constitution.

Peer, side by side: markdown-it-py's own tokenizer on the same text (what any parser built
on it must pay at least), so the ratio shows the cost of building the clause tree.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from bench.datagen import WORDS
from curator.constitution.parse import parse_markdown

ROOT = Path(__file__).resolve().parents[1]
MODEL_SPEC = ROOT / "tests" / "data" / "fixtures" / "openai-model-spec" / "model_spec_2025-12-18.md"


def generated_constitution(target_bytes: int = 5_000_000, seed: int = 7) -> str:
    """Sections, subsections, explanatory prose, bulleted clauses with nested items, fences and notes."""
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    parts = ["# Generated constitution\n\nA preamble paragraph.\n"]
    size = 0
    s = 0
    while size < target_bytes:
        s += 1
        block = [f"\n## Section {s} {{#s{s} authority=core}}\n\n{sentence(40)} {sentence(30)}\n"]
        for sub in range(1, 4):
            block.append(f"\n### Part {s}.{sub}\n\n{sentence(25)}\n\n!!! note\n    {sentence(15)}\n\n")
            for _ in range(5):
                block.append(f"- **{sentence(3)[:-1]}.** {sentence(25)}\n")
                if rng.random() < 0.3:
                    block.append(f"    - {sentence(12)}\n    - {sentence(12)}\n")
            block.append(f"\n```\n# not a heading\n{sentence(8)}\n```\n")
        text = "".join(block)
        parts.append(text)
        size += len(text.encode("utf-8"))
    return "".join(parts)


def _best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(name: str, text: str, repeat: int) -> dict[str, Any]:
    mb = len(text.encode("utf-8")) / 1e6
    md = MarkdownIt("commonmark").enable("table")
    ours = _best_of(lambda: parse_markdown(text), repeat)
    peer = _best_of(lambda: md.parse(text), repeat)
    return {
        "document": name,
        "mb": round(mb, 2),
        "clauses": len(parse_markdown(text).clauses),
        "curator_seconds": round(ours, 3),
        "curator_mb_per_s": round(mb / ours, 2),
        "peer": "markdown-it-py parse (tokens only)",
        "peer_seconds": round(peer, 3),
        "peer_mb_per_s": round(mb / peer, 2),
        "ratio_curator_over_peer_time": round(ours / peer, 2),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    size = 1_000_000 if quick else 5_000_000
    return [
        measure(MODEL_SPEC.name, MODEL_SPEC.read_text(encoding="utf-8"), 5),
        measure(f"generated {size // 1_000_000} MB", generated_constitution(size), 1 if quick else 3),
    ]


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
