"""Clause alignment speed: `diff_constitutions` between two versions of one constitution.

Two cases: the newer Model Spec release against itself with its list items edited the way authors
do (an item inserted at the top of every list, one deleted, one reworded), and a generated
5,000-clause constitution edited the same way plus whole sections moved. Best of several runs.
Peer, side by side: the position-only diff (same id: unchanged or edited), which is what the
content alignment replaced; it pairs nothing by text, so it is the floor.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.datagen import WORDS
from curator.constitution.diff import diff_constitutions
from curator.constitution.parse import parse_markdown
from curator.models import Clause

ROOT = Path(__file__).resolve().parents[1]
MODEL_SPEC = ROOT / "tests" / "data" / "fixtures" / "openai-model-spec" / "model_spec_2025-12-18.md"


def edit_lists(text: str, seed: int, reword: float = 0.2) -> str:
    """Insert a new first item into every list, delete one item in three lists out of four and
    reword one word in a fraction `reword` of the items: the shifts make most item ids change."""
    rng = random.Random(seed)
    out: list[str] = []
    in_list = False
    for line in text.split("\n"):
        is_item = line.startswith("- ")
        if is_item and not in_list:
            out.append(f"- {' '.join(rng.choice(WORDS) for _ in range(12)).capitalize()}.")
            if rng.random() < 0.75:
                in_list = True
                continue  # the list's first item is deleted
        in_list = is_item or (in_list and line.startswith(" "))
        if is_item and rng.random() < reword:
            words = line.split(" ")
            words[min(3, len(words) - 1)] = rng.choice(WORDS)
            line = " ".join(words)
        out.append(line)
    return "\n".join(out)


def generated(sections: int, seed: int) -> str:
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."

    parts = ["# Generated\n"]
    for s in range(sections):
        parts.append(f"\n## Section {s} {{#s{s}}}\n\n{sentence(30)}\n\n")
        parts.extend(f"- {sentence(rng.randint(8, 40))}\n" for _ in range(9))
    return "".join(parts)


def move_sections(text: str, seed: int) -> str:
    """Move one section in ten to the end under a new heading id (their items all change ids)."""
    rng = random.Random(seed)
    blocks = text.split("\n## ")
    head, rest = blocks[0], blocks[1:]
    moved = [b for b in rest if rng.random() < 0.1]
    kept = [b for b in rest if b not in moved]
    moved = [b.replace("{#s", "{#moved-s", 1) for b in moved]
    return "\n## ".join([head, *kept, *moved])


def by_position(old: list[Clause], new: list[Clause]) -> tuple[int, int]:
    before = {c.id: c.hash for c in old}
    same = sum(1 for c in new if before.get(c.id) == c.hash)
    return same, len(new) - same


def _best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(name: str, old_text: str, new_text: str, repeat: int) -> dict[str, Any]:
    old = parse_markdown(old_text).clauses
    new = parse_markdown(new_text).clauses
    diff = diff_constitutions(old, new)
    ours = _best_of(lambda: diff_constitutions(old, new), repeat)
    peer = _best_of(lambda: by_position(old, new), repeat)
    return {
        "document": name,
        "old_clauses": len(old),
        "new_clauses": len(new),
        "unchanged": len(diff.unchanged),
        "edited": len(diff.edited),
        "renamed": len(diff.renamed),
        "added": len(diff.added),
        "removed": len(diff.removed),
        "curator_seconds": round(ours, 4),
        "peer": "position-only diff (same id: unchanged or edited)",
        "peer_seconds": round(peer, 4),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    spec = MODEL_SPEC.read_text(encoding="utf-8")
    big = generated(100 if quick else 500, seed=11)
    return [
        measure(f"{MODEL_SPEC.name}, lists edited", spec, edit_lists(spec, seed=3), 5),
        measure("generated, lists edited, sections moved", big, move_sections(edit_lists(big, seed=5), seed=6), 3),
        measure("generated, every item reworded, sections moved", big, move_sections(edit_lists(big, 5, 1.0), 6), 3),
    ]


def markdown(results: list[dict[str, Any]]) -> str:
    rows = "\n".join(
        f"| {r['document']} | {r['old_clauses']:,} -> {r['new_clauses']:,} | {r['unchanged']:,} | {r['edited']:,} | "
        f"{r['renamed']:,} | {r['added']:,} | {r['removed']:,} | {r['curator_seconds']} | {r['peer_seconds']} |"
        for r in results
    )
    return f"""## Constitution alignment

`diff_constitutions` (explicit ids, identical text anywhere, then word-level similarity one to one)
between two versions: the newer Model Spec release with its lists edited (a new first item in every
list, the old first item deleted in three lists of four, a word changed in one item of five), and
a generated constitution of ten-item sections edited the same way with one section in ten moved to
the end under a new id; then the worst case, the same with a word changed in every item (nothing
pairs by identical text, so every item goes through the similarity pass). Best of several runs.
Peer, side by side: the position-only diff it replaced (same id: unchanged or edited), the floor.
Targets: <= 0.2 s (Model Spec), <= 5 s (5,000 clauses).

| document | clauses | unchanged | edited | renamed | added | removed | curator s | position-only s |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}"""


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
