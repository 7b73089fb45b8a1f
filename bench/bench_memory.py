"""Memory of the commands that read a whole workspace: `list --format json/jsonl`, `dump`, `load`.

Each runs as its own process on workspaces of two sizes (10x apart); peak RSS (wait4's rusage)
that stays the same at 10x the records is what "flat" means here. The peer, side by side:
`sqlite-utils rows --nl`, which streams rows without validating them.
"""

from __future__ import annotations

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


def _measure(db: Path, tmp: Path) -> dict[str, Any]:
    curator = str(BIN / "curator")
    out: dict[str, Any] = {}
    for name, cmd in (
        ("list_jsonl", [curator, "list", "--format", "jsonl", "--db", str(db)]),
        ("list_json", [curator, "list", "--format", "json", "--db", str(db)]),
        ("dump", [curator, "dump", str(tmp / "dump"), "--db", str(db)]),
        ("load", [curator, "load", str(tmp / "dump"), "--db", str(tmp / "loaded.db")]),
        ("peer_rows_nl", [str(BIN / "sqlite-utils"), "rows", str(db), "examples", "--nl"]),
    ):
        seconds, rss = _timed(cmd, env={"CURATOR_HOME": str(tmp / "home"), "PATH": str(BIN)})
        out[name] = {"seconds": round(seconds, 2), "peak_rss_mib": round(rss, 1)}
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
    """The runs of every size measured so far, the latest run of each size winning."""
    return _with_growth({**earlier.get("runs", {}), **latest["runs"]})


def _with_growth(runs: dict[str, Any]) -> dict[str, Any]:
    """Sizes in order and each command's peak growth from the smallest to the largest size."""
    sizes = sorted(int(n) for n in runs)
    small, large = runs[str(sizes[0])], runs[str(sizes[-1])]
    growth = {name: round(large[name]["peak_rss_mib"] / small[name]["peak_rss_mib"], 2) for name in small}
    return {"sizes": sizes, "runs": {str(n): runs[str(n)] for n in sizes}, "growth": growth}


def markdown(r: dict[str, Any]) -> str:
    sizes = r["sizes"]
    small, large = sizes[0], sizes[-1]
    names = {
        "list_jsonl": "`curator list --format jsonl`",
        "list_json": "`curator list --format json`",
        "dump": "`curator dump`",
        "load": "`curator load` (into a new file)",
        "peer_rows_nl": "`sqlite-utils rows --nl` (peer)",
    }
    rows = "\n".join(
        f"| {label} | "
        + " | ".join(str(r["runs"][str(n)][k]["peak_rss_mib"]) for n in sizes)
        + f" | {r['growth'][k]}x | {r['runs'][str(large)][k]['seconds']} |"
        for k, label in names.items()
    )
    size_columns = " | ".join(f"{n:,} records" for n in sizes)
    rules = "|".join("---:" for _ in sizes)
    return f"""## Memory of whole-workspace commands

Peak resident memory (MiB, the process's own rusage) of each command as its own process, on
workspaces of {", ".join(f"{n:,}" for n in sizes)} generated records (the demo constitution, 1-3 links each).
`list` streams record by record and `load` reads and inserts 2,000 rows at a time, so their
peak should not grow with the workspace; the peer streams rows without validating them.
Target: flat (growth near 1x from the smallest to the largest size). What growth remains is
SQLite's page cache, which curator caps at 64 MiB per connection, not records held. `make bench`
measures 10k and 100k; the 1M column comes from `python -m bench memory --size 1000000` (building
that workspace takes ~15 minutes, beyond `make bench`'s budget). Before streaming, `load` of
100,000 records peaked at 857 MiB.

| command | {size_columns} | growth {small:,} to {large:,} | seconds at {large:,} |
|---|{rules}|---:|---:|
{rows}
"""
