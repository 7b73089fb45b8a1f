"""Coverage speed: the whole report for 100k examples over a 1,000-clause constitution.

Peer, side by side: the same rolled-up distinct counts computed in Python from all links
(the obvious implementation: load every link, walk each clause's ancestors with sets).
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.workspaces import insert_in_batches, linked_records
from curator import coverage
from curator.constitution.versions import import_constitution
from curator.store.db import open_workspace


def constitution(sections: int = 40, items: int = 24) -> str:
    """sections x (1 + items) clauses: ~1,000."""
    out = ["# Generated\n"]
    for s in range(1, sections + 1):
        out.append(f"\n## Section {s} {{#s{s}}}\n\nWhy section {s} matters.\n\n")
        out.extend(f"- Principle {s}.{i}: keep promise number {i} of section {s}.\n" for i in range(1, items + 1))
    return "".join(out)


def python_peer(db: Any) -> dict[str, int]:
    parent = dict(
        db.execute(
            "SELECT c.id, c.parent FROM clauses c JOIN constitution_versions v ON v.id = c.version_id "
            "WHERE v.is_current = 1"
        ).fetchall()
    )
    seen: dict[str, set[str]] = {}
    for clause_id, example_id in db.execute("SELECT clause_id, example_id FROM example_clauses"):
        cur = clause_id
        while cur is not None:
            seen.setdefault(cur, set()).add(example_id)
            cur = parent.get(cur)
    return {k: len(v) for k, v in seen.items()}


def run(quick: bool = False) -> dict[str, Any]:
    n = 10_000 if quick else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.md"
        path.write_text(constitution(), encoding="utf-8")
        with open_workspace(Path(tmp) / "w.db") as ws:
            import_constitution(ws.db, path, actor="bench")
            clause_ids = [r[0] for r in ws.db.execute("SELECT id FROM clauses")]
            start = time.perf_counter()
            insert_in_batches(ws.db, linked_records(n, clause_ids, random.Random(5), seed=3))
            build = time.perf_counter() - start
            times = []
            for _ in range(3):
                t = time.perf_counter()
                report = coverage.compute(ws.db)
                times.append(time.perf_counter() - t)
            peer = []
            for _ in range(3):
                t = time.perf_counter()
                python_peer(ws.db)
                peer.append(time.perf_counter() - t)
    return {
        "examples": n,
        "clauses": len(report.clauses),
        "build_seconds": round(build, 1),
        "coverage_seconds": round(min(times), 3),
        "peer": "Python roll-up from all links (distinct sets), counts only",
        "peer_seconds": round(min(peer), 3),
        "ratio_curator_over_peer_time": round(min(times) / min(peer), 2),
        "gaps": len(report.gaps),
    }


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
