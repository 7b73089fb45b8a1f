"""Memory of the commands that read a whole workspace: `list` (json, jsonl, table), `dump`, `load`,
`export` and `decontam`.

Each runs as its own process on workspaces of two sizes (10x apart); peak RSS (wait4's rusage)
that stays the same at 10x the records is what "flat" means here. The peer, side by side:
`sqlite-utils rows --nl`, which streams rows without validating them.

`BENCH_MEMORY_ONLY=list_table,export` measures only those commands; the other commands keep the
numbers of their latest run at that size (`merge`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.workspaces import demo_constitution_workspace

BIN = Path(sys.executable).parent


_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if done.returncode:
    sys.exit(done.stderr.decode()[-500:])
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `cmd`, started from a small wrapper process.

    A child's peak RSS counts the memory of the process it was forked from (this benchmark holds
    hundreds of MB by then), so the command is forked from a fresh, small interpreter instead.
    """
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], env=env, capture_output=True, text=True, check=True)
    seconds, kib = out.stdout.split()
    return float(seconds), int(kib) / 1024


SPEC = """name = "memory"
budget_tokens = 3000000
seed = 1
statuses = ["approved"]
formats = ["openai"]
dedup = "exact"

[kinds]
story = 0.25
advice = 0.35
document = 0.15
agentic = 0.25
"""
"""The export measured: the approved records, a 3M-token budget, exact duplicates (near-duplicate
clustering is the dedup benchmark's), one format."""

EVALS = Path(__file__).resolve().parents[1] / "corpora" / "evals" / "leverage-suite.jsonl"


def _commands(db: Path, tmp: Path) -> dict[str, list[str]]:
    curator = str(BIN / "curator")
    (tmp / "spec.toml").write_text(SPEC, encoding="utf-8")
    return {
        "list_jsonl": [curator, "list", "--format", "jsonl", "--db", str(db)],
        "list_json": [curator, "list", "--format", "json", "--db", str(db)],
        "list_table": [curator, "list", "--format", "table", "--db", str(db)],
        "dump": [curator, "dump", str(tmp / "dump"), "--db", str(db)],
        "load": [curator, "load", str(tmp / "dump"), "--db", str(tmp / "loaded.db")],
        "export": [curator, "export", "--spec", str(tmp / "spec.toml"), "--out", str(tmp / "out"), "--db", str(db)],
        "decontam": [curator, "decontam", "--evalset", "bench-memory", "--format", "json", "--db", str(db)],
        "peer_rows_nl": [str(BIN / "sqlite-utils"), "rows", str(db), "examples", "--nl"],
    }


def _measure(db: Path, tmp: Path) -> dict[str, Any]:
    only = [n for n in os.environ.get("BENCH_MEMORY_ONLY", "").split(",") if n]
    env = {"CURATOR_HOME": str(tmp / "home"), "PATH": str(BIN)}
    out: dict[str, Any] = {}
    commands = _commands(db, tmp)
    if "load" in (only or commands) and "dump" not in (only or commands):
        only = [*only, "dump"]  # load reads the dump
    evalset = [str(BIN / "curator"), "evalset", "add", "bench-memory", str(EVALS), "--db", str(db)]
    subprocess.run(evalset, env=env, check=True, capture_output=True)  # the suite's prompts, for decontam
    try:
        for name, cmd in commands.items():
            if only and name not in only:
                continue
            seconds, rss = _timed(cmd, env=env)
            out[name] = {"seconds": round(seconds, 2), "peak_rss_mib": round(rss, 1)}
    finally:
        remove = [str(BIN / "curator"), "evalset", "remove", "bench-memory", "--db", str(db)]
        subprocess.run(remove, env=env, check=True, capture_output=True)
    return out


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Measure each command at each size (default 10k and 100k; `--size 1000000`: 100k and 1M)."""
    sizes = sizes or ((2_000, 20_000) if quick else (10_000, 100_000))
    runs: dict[str, Any] = {}
    for n in sizes:
        db = demo_constitution_workspace(n)
        with tempfile.TemporaryDirectory(dir=db.parent) as tmp:  # beside the workspace: /tmp may be small
            runs[str(n)] = _measure(db, Path(tmp))
    return _with_growth(runs)


def merge(earlier: dict[str, Any], latest: dict[str, Any]) -> dict[str, Any]:
    """The runs of every size measured so far; per size and command, the latest run wins."""
    runs = {n: dict(r) for n, r in earlier.get("runs", {}).items()}
    for n, r in latest["runs"].items():
        runs[n] = {**runs.get(n, {}), **r}
    return _with_growth(runs)


def _with_growth(runs: dict[str, Any]) -> dict[str, Any]:
    """Sizes in order and each command's peak growth from the smallest to the largest size."""
    sizes = sorted(int(n) for n in runs)
    small, large = runs[str(sizes[0])], runs[str(sizes[-1])]
    growth = {
        name: round(large[name]["peak_rss_mib"] / small[name]["peak_rss_mib"], 2) for name in small if name in large
    }
    return {"sizes": sizes, "runs": {str(n): runs[str(n)] for n in sizes}, "growth": growth}


def markdown(r: dict[str, Any]) -> str:
    sizes = r["sizes"]
    small, large = sizes[0], sizes[-1]
    names = {
        "list_jsonl": "`curator list --format jsonl`",
        "list_json": "`curator list --format json`",
        "list_table": "`curator list --format table`",
        "dump": "`curator dump`",
        "load": "`curator load` (into a new file)",
        "export": "`curator export` (approved, 3M tokens, exact dedup)",
        "decontam": "`curator decontam` (one 6-prompt eval set)",
        "peer_rows_nl": "`sqlite-utils rows --nl` (peer)",
    }

    def cell(n: int, k: str, key: str) -> str:
        run = r["runs"][str(n)].get(k)
        return str(run[key]) if run else "–"

    rows = "\n".join(
        f"| {label} | "
        + " | ".join(cell(n, k, "peak_rss_mib") for n in sizes)
        + f" | {str(r['growth'][k]) + 'x' if k in r['growth'] else '–'} | {cell(large, k, 'seconds')} |"
        for k, label in names.items()
    )
    size_columns = " | ".join(f"{n:,} records" for n in sizes)
    rules = "|".join("---:" for _ in sizes)
    return f"""## Memory of whole-workspace commands

Peak resident memory (MiB, the process's own rusage) of each command as its own process, on
workspaces of {", ".join(f"{n:,}" for n in sizes)} generated records (the demo constitution, 1-3 links each).
`list` streams record by record (`table` in two passes: column widths, then rows), `dump` and
`decontam` read in batches and `load` inserts 2,000 rows at a time, so their peak should not
grow with the workspace; the peer streams rows without validating them. Target: flat (growth
near 1x from the smallest to the largest size). The growth this table shows there is SQLite's page
cache filling up to a connection's 64 MiB, not records held; since 2026-12-06 these passes read
through 8 MiB (`store.db.scan_cache`) and stay at ~65 MiB from 10k to 1M (see Scaling: this table
is from before). `export` reads records again a chunk at a time to count and write them, but its
plan keeps a few fields per loaded record (kind, status, group, clauses, flags, pair count) and
its split, each train candidate until it is allocated (then only the picked lines' token
counts) and the lines. Since 2026-12-06 those are columns (`plan.MetaTable`,
`split.OrderedSplits`, `allocate.Candidates`: the id and ~40 bytes a loaded record, where dicts of
objects took ~0.4 KB) and the lock after the export is a view, not a copy. The records it leaves
out by status (the other 500k) are counted, then read back in id order while manifest.json is
written entry by entry; until that change the manifest's list was held three times over (objects,
dicts, the JSON text) and the export peaked at 285 MiB at 100k and 1,052 MiB at 1M in the
scaling benchmark's export (30M tokens; 618 MiB after). `make bench` measures 10k and 100k; the 1M column
comes from `python -m bench memory --size 1000000` (`BENCH_MEMORY_ONLY=export,...` for some
commands; the others keep their latest numbers: at 1M, `list` json and jsonl, `dump`, `load` and
the peer come from an earlier run, their code unchanged since). Before streaming, at 100,000 records: `load` peaked at
857 MiB, `list --format table` at 663 MiB (27 s) and `export` at 800 MiB; at 1M the export's
first version of streaming peaked at 1,326 MiB.

| command | {size_columns} | growth {small:,} to {large:,} | seconds at {large:,} |
|---|{rules}|---:|---:|
{rows}
"""
