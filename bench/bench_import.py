"""Import throughput and peak memory: `curator import` of N generated records vs `sqlite-utils insert`.

The peer inserts the same JSON lines with no validation, no links and no audit:
it is the floor for "get these rows into SQLite", so the ratio shows what
validation, dedup hashing, links, FTS and the audit log cost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.datagen import write_jsonl

BIN = Path(sys.executable).parent


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process (wait4 gives that child's own rusage)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, rusage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd}: exit {proc.returncode}: {err.read().decode()[-500:]}")
    return elapsed, rusage.ru_maxrss / 1024


def run(n: int = 100_000) -> dict[str, Any]:
    from curator import paths
    from curator.constitution.parse import parse_file

    clause_ids = [c.id for c in parse_file(paths.demo_constitution_file()).clauses]
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        data = write_jsonl(tmp / "records.jsonl", n, clause_ids)
        env = {**os.environ, "CURATOR_HOME": str(tmp / "home"), "CURATOR_USER": "bench"}
        db = tmp / "curator.db"
        subprocess.run(
            [str(BIN / "curator"), "init", "--empty", "--db", str(db)], check=True, env=env, capture_output=True
        )
        subprocess.run(
            [str(BIN / "curator"), "constitution", "import", str(paths.demo_constitution_file()), "--db", str(db)],
            check=True,
            env=env,
            capture_output=True,
        )
        secs, rss = _timed([str(BIN / "curator"), "import", str(data), "--db", str(db)], env)
        peer_db = tmp / "peer.db"
        peer_secs, peer_rss = _timed(
            [str(BIN / "sqlite-utils"), "insert", str(peer_db), "examples", str(data), "--nl", "--pk", "id"]
        )
        size_mb = data.stat().st_size / 1e6
        shutil.rmtree(tmp / "home", ignore_errors=True)
    return {
        "records": n,
        "input_mb": round(size_mb, 1),
        "curator_seconds": round(secs, 2),
        "curator_records_per_s": round(n / secs),
        "curator_peak_rss_mib": round(rss),
        "peer": "sqlite-utils insert --nl (no validation, no links, no FTS, no audit)",
        "peer_seconds": round(peer_secs, 2),
        "peer_records_per_s": round(n / peer_secs),
        "peer_peak_rss_mib": round(peer_rss),
        "ratio_curator_over_peer_time": round(secs / peer_secs, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
