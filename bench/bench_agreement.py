"""Agreement speed: the whole report over 100k records x 3 annotators. Target: <= 1 s.

Generated annotations shaped like real ones: a 72-clause constitution (12 sections of 6), each
record's "true" set of 1 to 3 clauses, and each annotator giving it with one clause added or
dropped three times in ten (~70k distinct sets: harder than real data, whose sets repeat more).
Measured in this process: on rows already in memory, `encode` (rows into arrays), the report
without the bootstrap interval, and the whole report with the default 200 bootstrap replicates;
then `curator agreement` as the CLI runs it (`annotation.agreement_report`: the annotations read
from a workspace of the same size, the cached `workspaces.demo_constitution_workspace`, with the
generated annotations written into a copy as the store writes them), and the command itself in a
process of its own. Best of three runs each.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.workspaces import demo_constitution_workspace
from curator import agreement, annotation
from curator.identity import identity_key
from curator.store.annotations import clause_text
from curator.store.db import open_workspace


def rows(records: int, seed: int = 1) -> list[tuple[str, str, list[str]]]:
    rng = np.random.default_rng(seed)
    clauses = [f"sec{i}.{j}" for i in range(12) for j in range(6)]
    out: list[tuple[str, str, list[str]]] = []
    for r in range(records):
        truth = {int(x) for x in rng.choice(len(clauses), int(rng.integers(1, 4)), replace=False)}
        for annotator in ("ana", "ben", "cy"):
            labels = set(truth)
            if rng.random() < 0.3:
                labels ^= {int(rng.integers(len(clauses)))}
            out.append((f"ex_{r:06d}", annotator, [clauses[i] for i in sorted(labels or {0})]))
    return out


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def run(quick: bool) -> dict[str, Any]:
    records = 10_000 if quick else 100_000
    data = rows(records)
    enc = agreement.encode(data)
    repeat = 3
    encode_s = best(lambda: agreement.encode(data), repeat)
    report_s = best(lambda: agreement.compute(enc, replicates=0), repeat)
    bootstrap_s = best(lambda: agreement.compute(enc), repeat)
    report = agreement.compute(enc)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "ws.db"
        shutil.copyfile(demo_constitution_workspace(records), db_path)
        with open_workspace(db_path) as ws:
            ids = [r[0] for r in ws.db.execute("SELECT id FROM examples ORDER BY id")]
            version = ws.db.execute("SELECT id FROM constitution_versions WHERE is_current = 1").fetchone()[0]
            with ws.db.atomic():
                ws.db.conn.executemany(
                    "INSERT INTO annotations (example_id, annotator_key, annotator, clauses, clause_hashes, "
                    "constitution_version, annotated_at) VALUES (?, ?, ?, ?, '{}', ?, '2026-01-01T00:00:00.000Z')",
                    [
                        (ids[int(record[3:])], identity_key(user), user, clause_text(labels), version)
                        for record, user, labels in data
                    ],
                )
            store_s = best(lambda: annotation.agreement_report(ws.db), repeat)
        command = [sys.executable, "-m", "curator", "agreement", "--db", str(db_path), "--format", "json"]
        command_s = best(lambda: subprocess.run(command, check=True, capture_output=True), repeat)
    return {
        "records": records,
        "annotators": 3,
        "distinct_sets": enc.n_values,
        "encode_seconds": encode_s,
        "report_seconds": report_s,
        "report_with_interval_seconds": bootstrap_s,
        "replicates": agreement.BOOTSTRAP_REPLICATES,
        "through_store_seconds": store_s,
        "command_seconds": command_s,
        "alpha": round(report.alpha or 0.0, 4),
    }


def markdown(r: dict[str, Any]) -> str:
    headers = [
        "rows -> arrays (s)",
        "report, no interval (s)",
        f"with {r['replicates']} replicates (s)",
        "from the workspace (s)",
        "`curator agreement` (s)",
    ]
    keys = ["encode_seconds", "report_seconds", "report_with_interval_seconds", "through_store_seconds"]
    cells = [str(r[k]) for k in keys] + [str(r.get("command_seconds", "-"))]
    table = "\n".join(
        ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers), "| " + " | ".join(cells) + " |"]
    )
    return f"""## Agreement

`curator.agreement.compute` (Krippendorff's alpha with MASI overall and per annotator pair, per-clause
binary alpha, confusions, mean Jaccard) over {r["records"]:,} generated records x {r["annotators"]}
annotators ({r["distinct_sets"]:,} distinct link sets), rows already in memory, best of three.
Target: <= 1 s.

{table}

"From the workspace" is `annotation.agreement_report`, what `curator agreement` runs (with the
interval): the target. The last column is the whole command as a user runs it, process start to
exit, `--format json` (Python's start and the imports, about 0.4 s of it, included).
"""


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
