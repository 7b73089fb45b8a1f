"""Writing an export folder: render, validate, count, write aside, rename into place.

Layout of `<out>/<name>/`:

- `<format>/train.jsonl` always; `<format>/eval.jsonl` and `<format>/heldout.jsonl` only when
  that split has rows (the manifest and the dataset card list exactly the files written);
- `records.jsonl`: one row per exported line, the same for every format:
  `{"split", "line", "id", "kind", "clauses", "repeat"}` (`line` is 1-based within its split);
- `manifest.json`, `README.md` (dataset card with Hugging Face YAML), `SHA256SUMS`.

The split lock `<out>/<name>.splits.lock.json` is written beside the folder after it is in place.
Nothing depends on the clock: the same database, spec and seed give the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from curator import __version__
from curator.atomic import aside_dir, naming, recover, replace_dir
from curator.errors import CuratorError
from curator.gcpause import gc_paused
from curator.mixture.counters import TokenCounter, counter_for
from curator.mixture.formats import Row, render_rows, training_text
from curator.mixture.plan import Exclusions, ExportPlan, Line, Progress, draw_for, plan_export
from curator.mixture.pools import Draw
from curator.mixture.spec import PREFERENCE_FORMATS, MixtureSpec
from curator.mixture.split import LOCK_SUFFIX, SPLITS
from curator.mixture.validate import VALIDATORS, FormatError
from curator.models import KINDS, Example
from curator.store.db import read_snapshot, scan_cache
from curator.targets import FolderKind, check_folder_target

MANIFEST_FORMAT = "curator-mixture"
MANIFEST_VERSION = 1


def _line_encoder() -> tuple[Callable[[Any], bytes], str]:
    """Compact UTF-8 JSON for one line: orjson when installed (4x faster), else the standard library.

    Both give the same bytes for everything a record can hold except floats below 1e-4 (`1e-05`
    vs `0.00001`); orjson is meant to be a dependency so every machine uses the same one.
    """
    try:
        import orjson  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
        return (lambda row: encode(row).encode("utf-8")), "json"
    dumps: Callable[[Any], bytes] = orjson.dumps
    return dumps, "orjson"


_dumps, JSON_ENCODER = _line_encoder()


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


# ---------------------------------------------------------------------------
# Rendering and counting (separate, so each can be measured on its own)
# ---------------------------------------------------------------------------


@dataclass
class RenderedFormat:
    fmt: str
    lines: dict[str, list[bytes]]
    """Split -> serialised JSON lines (UTF-8, no newline), in line order."""
    rows: dict[str, list[Row]]
    per_line: dict[str, list[int]]
    """Split -> rows each plan line made, in line order (1, or its pairs for a preference format)."""


def render_line(fmt: str, ex: Example, draw: Draw, mode: str, repeat: int) -> list[Row]:
    """The rows one (record, repeat) makes in one format, each validated: what both engines write.

    `ex` is the record as exported (`with_contrast` applied when the spec asks for it). An invalid
    row is a FormatError naming the record, the repeat, the pair and the format.
    """
    made = render_rows(fmt, ex, draw, mode, repeat)
    validator = VALIDATORS[fmt]
    for k, row in enumerate(made):
        try:
            validator(row)
        except FormatError as err:
            pair = f", pair {k + 1}" if fmt in PREFERENCE_FORMATS else ""
            raise FormatError(f"{ex.id} (repeat {repeat}{pair}) as {fmt}: {err}") from None
    return made


def encode_line(fmt: str, rows: list[Row], counter: TokenCounter, cached: int | None) -> tuple[list[bytes], int]:
    """A line's rows as the bytes written (no newline) and their tokens with the format's counter
    (`cached`: the plan's count of this line, which is the same number, counted once)."""
    data = [_dumps(row) for row in rows]
    return data, cached if cached is not None else sum(counter.count(training_text(fmt, r)) for r in rows)


def cached_tokens(plan: ExportPlan, fmt: str, line: Line) -> int | None:
    """The plan's token count of a line in the counted format (train lines; None otherwise)."""
    return plan.costs.get((line.id, line.repeat)) if fmt == plan.counted_format else None


Encoded = tuple[Line, list[bytes], int]
"""A plan line, the bytes of the rows it makes in one format, their tokens."""
EncodeFn = Callable[["ExportPlan", str, Progress], Iterable[Encoded]]
"""(plan, format, progress) -> every plan line encoded in that format, in plan order."""


def encoded_lines(plan: ExportPlan, fmt: str, progress: Progress | None = None) -> Iterator[Encoded]:
    """The local engine's `EncodeFn`: each line rendered, validated, encoded and counted here."""
    counter = counter_for(fmt, plan.spec.token_counter)
    for line, made in rendered_lines(plan, fmt, progress):
        data, tokens = encode_line(fmt, made, counter, cached_tokens(plan, fmt, line))
        yield line, data, tokens


def rendered_lines(plan: ExportPlan, fmt: str, progress: Progress | None = None) -> Iterator[tuple[Line, list[Row]]]:
    """Each plan line with the rows it makes in one format, each row validated, in line order.

    Records are read a chunk of lines at a time, so nothing grows with the export but the plan.
    """
    report = progress or _noop
    mode = plan.spec.rationale
    records = plan.records
    total = len(plan.lines)
    n = 0
    for start in range(0, total, records.CHUNK):
        chunk = plan.lines[start : start + records.CHUNK]
        records.prefetch([line.id for line in chunk])
        for line in chunk:
            yield line, render_line(fmt, records[line.id], draw_for(plan, line), mode, line.repeat)
            n += 1
            if n % 5000 == 0 or n == total:
                report(f"render:{fmt}", n, total)


def render_format(plan: ExportPlan, fmt: str, progress: Progress | None = None) -> RenderedFormat:
    """Every line of one format, each validated before it is kept (held whole: for measuring)."""
    lines: dict[str, list[bytes]] = {s: [] for s in SPLITS}
    rows: dict[str, list[Row]] = {s: [] for s in SPLITS}
    per_line: dict[str, list[int]] = {s: [] for s in SPLITS}
    with gc_paused():
        for line, made in rendered_lines(plan, fmt, progress):
            for row in made:
                rows[line.split].append(row)
                lines[line.split].append(_dumps(row))
            per_line[line.split].append(len(made))
    return RenderedFormat(fmt, lines, rows, per_line)


def count_format(plan: ExportPlan, rendered: RenderedFormat) -> dict[str, int]:
    """Tokens per split with the format's counter (counted-format train lines reuse the plan's counts)."""
    fmt = rendered.fmt
    counter = counter_for(fmt, plan.spec.token_counter)
    reuse = fmt == plan.counted_format
    out: dict[str, int] = {}
    with gc_paused():
        for split in SPLITS:
            rows = iter(rendered.rows[split])
            lines = [ln for ln in plan.lines if ln.split == split]
            total = 0
            for line, made in zip(lines, rendered.per_line[split], strict=True):
                mine = [next(rows) for _ in range(made)]
                cached = plan.costs.get((line.id, line.repeat)) if reuse else None
                total += cached if cached is not None else sum(counter.count(training_text(fmt, r)) for r in mine)
            out[split] = total
    return out


# ---------------------------------------------------------------------------
# Manifest, records, dataset card, checksums
# ---------------------------------------------------------------------------


@dataclass
class FileEntry:
    path: str
    format: str
    split: str
    rows: int
    bytes: int
    tokens: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "split": self.split,
            "rows": self.rows,
            "bytes": self.bytes,
            "tokens": self.tokens,
            "sha256": self.sha256,
        }


def _data_bytes(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n" if lines else b""


def records_rows(plan: ExportPlan) -> Iterator[dict[str, Any]]:
    """records.jsonl: one row per line, in the files' order (1-based line numbers per split)."""
    counters = dict.fromkeys(SPLITS, 0)
    for line in plan.lines:
        counters[line.split] += 1
        yield {
            "split": line.split,
            "line": counters[line.split],
            "id": line.id,
            "kind": line.kind,
            "clauses": list(line.clauses),
            "repeat": line.repeat,
        }


def pair_counts(plan: ExportPlan) -> dict[str, Any]:
    """Preference pairs the exported lines hold (what a preference format writes, in every split).

    A record linked to several clauses counts its pairs for each; `records_without_pairs` counts
    the distinct exported records that have no alternative and so make no preference line: each
    record's lines are its repeats 0, 1, ..., so its repeat-0 line stands for it (no set of ids).
    """
    by_split = dict.fromkeys(SPLITS, 0)
    by_kind = dict.fromkeys(KINDS, 0)
    by_clause: dict[str, int] = {}
    without = 0
    for line in plan.lines:
        n = plan.records.meta[line.id].pairs
        if not n:
            without += line.repeat == 0
            continue
        by_split[line.split] += n
        by_kind[line.kind] += n
        for clause in line.clauses:
            by_clause[clause] = by_clause.get(clause, 0) + n
    return {
        "total": sum(by_split.values()),
        "by_split": by_split,
        "by_kind": by_kind,
        "by_clause": dict(sorted(by_clause.items())),
        "records_without_pairs": without,
    }


class ExcludedList:
    """The manifest's `excluded` value: every left-out record, listed only as the file is written
    (`manifest_chunks`); `to_json()` builds the whole list, for a manifest made in memory."""

    def __init__(self, excluded: Exclusions) -> None:
        self.excluded = excluded

    def __len__(self) -> int:
        return len(self.excluded)

    def to_json(self) -> list[dict[str, str]]:
        return [e.to_json() for e in self.excluded]


def manifest_chunks(manifest: dict[str, Any], batch: int = 2000) -> Iterator[str]:
    """manifest.json's text, `json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"` exactly,
    with an `ExcludedList` written entry by entry (a million-record workspace leaves out ~half)."""
    listed = manifest.get("excluded")
    if not isinstance(listed, ExcludedList):
        yield json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        return
    marker = json.dumps(f"curator-excluded-{os.urandom(16).hex()}")
    text = json.dumps({**manifest, "excluded": json.loads(marker)}, ensure_ascii=False, indent=2) + "\n"
    head, tail = text.split(marker)
    yield head
    quoted: dict[str, str] = {}  # reasons repeat: each quoted once
    chunk: list[str] = []
    for e in listed.excluded:
        reason = quoted.get(e.reason)
        if reason is None:
            reason = quoted[e.reason] = json.dumps(e.reason, ensure_ascii=False)
        chunk.append(f'{{\n      "id": {json.dumps(e.id, ensure_ascii=False)},\n      "reason": {reason}\n    }}')
        if len(chunk) == batch:
            yield ("[\n    " if head else ",\n    ") + ",\n    ".join(chunk)
            head, chunk = "", []
    if chunk:
        yield ("[\n    " if head else ",\n    ") + ",\n    ".join(chunk)
        head = ""
    yield ("[]" if head else "\n  ]") + tail


def build_manifest(plan: ExportPlan, files: list[FileEntry]) -> dict[str, Any]:
    """Everything needed to know what this export is and how it was made (no wall-clock time).

    `excluded` is an `ExcludedList`: `manifest_chunks` writes it; `ExportResult.manifest` reads
    the written file back."""
    spec = plan.spec
    alloc = plan.allocation
    total = alloc.tokens
    counted = plan.counted_format
    kinds = {}
    for k in KINDS:
        kb = alloc.kinds.get(k)
        kinds[k] = {
            "target_share": spec.share(k),
            "actual_share": round(kb.tokens / total, 6) if kb and total else 0.0,
            "target_tokens": kb.target if kb else 0,
            "tokens": kb.tokens if kb else 0,
            "examples": kb.examples if kb else 0,
            "unique": kb.unique if kb else 0,
        }
    splits: dict[str, Any] = {}
    for s in SPLITS:
        lines = plan.split_lines(s)
        splits[s] = {
            "rows": len(lines),
            "unique": len({ln.id for ln in lines}),
            "tokens": next((f.tokens for f in files if f.format == counted and f.split == s), 0),
        }
    constitution = None
    if plan.constitution:
        constitution = {
            "version": plan.constitution["id"],
            "sha256": plan.constitution["sha256"],
            "title": plan.constitution["title"],
            "filename": plan.constitution["filename"],
        }
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "name": spec.name,
        "tool": {"name": "curator", "version": __version__},
        "spec": spec.canonical(),
        "spec_sha256": spec.sha256(),
        "seed": spec.seed,
        "constitution": constitution,
        "budget": {
            "train_tokens_target": spec.budget_tokens,
            "train_tokens_actual": total,
            "format": counted,
            "token_counter": {"name": plan.counter.name, "exact": plan.counter.exact},
            "counts": "content tokens: every string a model reads, newline-joined; no chat-template tokens",
        },
        "token_counters": {
            fmt: {"name": c.name, "exact": c.exact}
            for fmt in spec.formats
            for c in [counter_for(fmt, spec.token_counter)]
        },
        "kinds": kinds,
        "cells": [c.to_json() for c in alloc.cells],
        "splits": {
            **splits,
            "split_keys": {s: plan.split_counts.get(s, {}).get("keys", 0) for s in SPLITS},
            "warnings": [w.removeprefix("split: ") for w in plan.warnings if w.startswith("split: ")],
            "lock_file": f"{spec.name}{LOCK_SUFFIX}",
            "changed_from_lock": [
                {"id": rid, "from": before, "to": after} for rid, before, after in plan.split_result.changed
            ],
        },
        "pools": {k: {**v.to_json(), **plan.pool_draws.get(k, {})} for k, v in sorted(plan.pools.files.items())},
        "excluded": ExcludedList(plan.excluded),
        "pairs": pair_counts(plan),
        "decontamination": plan.decontamination,
        "files": [f.to_json() for f in files],
    }


def size_category(n: int) -> str:
    """Hugging Face's size_categories bucket for n rows."""
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
        (100_000_000, "10M<n<100M"),
    ):
        if n < limit:
            return label
    return "100M<n<1B"


def _reason_kind(reason: str) -> str:
    if reason.startswith("status"):
        return "status"
    if reason.startswith("overlaps eval set"):
        return "decontaminated"
    if reason.startswith("duplicate of"):
        return "duplicate"
    return "other"


def _records(n: int) -> str:
    return f"{n:,} record{'' if n == 1 else 's'}"


def decontamination_card(account: dict[str, Any] | None) -> list[str]:
    """The dataset card's decontamination line (none when the spec names no eval sets)."""
    if account is None:
        return []
    discount = account["discount"]
    line = (
        f"- Decontamination against {', '.join(account['evalsets'])}: {_records(len(account['excluded']))} "
        f"excluded (a shared run of {discount['min_words']}+ distinctive words found verbatim in an eval item; "
        "each with its eval item, field and span in `manifest.json`, `decontamination`)."
    )
    if discount["common_ngrams"]:
        top = "; ".join(f'"{t["text"]}"' for t in discount["top_common"][:3])
        line += (
            f" {discount['common_ngrams']:,} eval 8-grams held by {discount['common_threshold_records']:,}+ "
            f"training records were treated as common and never made a match ({top})."
        )
    return [line]


def pairs_card(spec: MixtureSpec, pairs: dict[str, Any]) -> list[str]:
    """The dataset card's preference-pairs line (none when no preference format is exported)."""
    fmts = [f for f in spec.formats if f in PREFERENCE_FORMATS]
    if not fmts:
        return []
    kinds = ", ".join(f"{k} {n:,}" for k, n in pairs["by_kind"].items() if n) or "none"
    return [
        f"- Preference pairs ({', '.join(fmts)}): {pairs['total']:,} (train {pairs['by_split']['train']:,}; "
        f"by kind: {kinds}), one line per rejected alternative of an assistant turn, chosen = the turn; "
        f"{_records(pairs['records_without_pairs'])} without alternatives made no preference line. "
        "Counts per clause are in `manifest.json` (`pairs`)."
    ]


def dataset_card(plan: ExportPlan, manifest: dict[str, Any]) -> str:
    """README.md: Hugging Face YAML (configs per format and split, license, size) and a short story."""
    spec = plan.spec
    files: list[dict[str, Any]] = manifest["files"]
    default = "hf-messages" if "hf-messages" in spec.formats else spec.formats[0]
    yaml = ["---", f"pretty_name: {spec.name}", f"license: {spec.license}", "size_categories:"]
    yaml.append(f"- {size_category(len(plan.lines))}")
    yaml += ["task_categories:", "- text-generation", "tags:", "- alignment", "- curator", "configs:"]
    for fmt in spec.formats:
        yaml.append(f"- config_name: {fmt}")
        if fmt == default:
            yaml.append("  default: true")
        yaml.append("  data_files:")
        for f in files:
            if f["format"] == fmt:
                yaml += [f"  - split: {f['split']}", f"    path: {f['path']}"]
    yaml.append("---")
    counted = manifest["budget"]
    counter = counted["token_counter"]
    excluded: dict[str, int] = {}
    for reason, n in plan.excluded.by_reason().items():
        key = _reason_kind(reason)
        excluded[key] = excluded.get(key, 0) + n
    cons = manifest["constitution"]
    lines = [
        *yaml,
        "",
        f"# {spec.name}",
        "",
        spec.description or "A mixture of alignment-training examples exported by curator.",
        "",
        f"Exported by curator {__version__} from "
        + (f"constitution version {cons['version']} (`{cons['sha256'][:12]}`)." if cons else "no constitution.")
        + f" Spec hash `{manifest['spec_sha256'][:12]}`, seed {spec.seed}. The same database, spec and seed "
        "give the same bytes; `sha256sum -c SHA256SUMS` checks them.",
        "",
        "## Files",
        "",
        "| format | split | rows | tokens | counter |",
        "|---|---|---:|---:|---|",
    ]
    counters = manifest["token_counters"]
    for f in files:
        c = counters[f["format"]]
        label = c["name"] + ("" if c["exact"] else " (estimate)")
        lines.append(f"| {f['format']} | {f['split']} | {f['rows']:,} | {f['tokens']:,} | {label} |")
    lines += [
        "",
        "`records.jsonl` has one row per line, the same for every per-record format: "
        '`{"split", "line", "id", "kind", "clauses", "repeat"}` (line numbers start at 1 in each split); '
        "a preference file holds, in the same order, one line per pair of each of those records.",
        "",
        "## Mixture (train)",
        "",
        f"Budget: {counted['train_tokens_target']:,} tokens counted on `{counted['format']}` with "
        f"{counter['name']} ({'exact' if counter['exact'] else 'an estimate'}); actual "
        f"{counted['train_tokens_actual']:,}. Tokens are content tokens (system prompt, tool definitions, "
        "messages, reasoning), without chat-template tokens.",
        "",
        "| kind | target share | actual share | tokens | examples | unique |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k, v in manifest["kinds"].items():
        lines.append(
            f"| {k} | {v['target_share']:.3f} | {v['actual_share']:.3f} | {v['tokens']:,} | "
            f"{v['examples']:,} | {v['unique']:,} |"
        )
    lines += [
        "",
        f"Clauses are balanced inside each kind ({spec.balance}; at most {spec.max_epochs} "
        f"epoch{'s' if spec.max_epochs != 1 else ''} of any record). Per-cell targets and results are in "
        "`manifest.json` (`cells`).",
        "",
        "## How it was built",
        "",
        f"- Statuses: {', '.join(spec.statuses)}. Excluded: "
        + (", ".join(f"{n:,} {k}" for k, n in sorted(excluded.items())) or "none")
        + " (each with its reason in `manifest.json`).",
        *decontamination_card(plan.decontamination),
        *pairs_card(plan.spec, manifest["pairs"]),
        f"- Splits: salted SHA-256 of the record's {spec.split.by} (eval fraction {spec.split.eval_fraction:g}), "
        "records linked to held-out clauses in `heldout`; a lock file beside the export keeps every record's "
        "split across exports. Eval and heldout records appear once each, never repeated, and no duplicate "
        "of theirs is in train.",
        f"- Rationale: `{spec.rationale}` ("
        + {
            "inline": "appended to the answer after `Why: `",
            "thinking": "a thinking block (anthropic), `reasoning_content` (hf-messages), inline after `Why: ` "
            "(openai and bedrock, whose fine-tuning formats have no reasoning field)",
            "omit": "left out",
        }[spec.rationale]
        + (
            "; with each rejected alternative's why-not added to its turn's rationale (`contrast`)"
            if spec.contrast
            else ""
        )
        + "; preference lines carry no rationale).",
        "- Diversification: advice and agentic records without a system prompt get one from the pool; agentic "
        "records get distractor tools; only pool entries sharing a tag with the record, or untagged ones, are "
        "drawn (draws per entry in `manifest.json`, `pools`); a repeated record gets a different draw. "
        "Stories and documents appear "
        'in the chat formats as the answer to a request built from their title (`Write a short story titled "…".`).',
        "",
        "## Formats",
        "",
        "- `anthropic`: Messages API bodies `{system, messages, tools}`; tool calls are `tool_use` blocks, results "
        "`tool_result` blocks in the next user turn.",
        "- `openai`: chat fine-tuning lines `{messages, tools}` with only the documented keys; "
        "`tool_calls[].function.arguments` is a JSON string, results are `role: tool` messages.",
        "- `hf-messages`: `{messages, tools}` as `apply_chat_template(messages, tools=tools)` and TRL's "
        "SFTTrainer take them: `tools` a list of function definitions, `tool_calls[].function.arguments` "
        "an object, the rationale in `reasoning_content`.",
        "- `text`: `{id, text, source, metadata}`; dialogues as plain `Role: text` paragraphs.",
        "- `bedrock`: Claude fine-tuning on Amazon Bedrock, `{system, messages}` with string contents in "
        "strictly alternating user/assistant turns; tool definitions are listed in the system prompt, calls are "
        "`[tool call] NAME {JSON arguments}` lines, results open the next user turn as `[tool result] NAME: ...`.",
        "- `trl-preference`: TRL's conversational preference lines `{prompt, chosen, rejected, tools}`, one per "
        "(assistant turn, rejected alternative), messages as in `hf-messages`.",
        "- `openai-preference`: OpenAI DPO lines `{input: {messages, tools, parallel_tool_calls}, preferred_output, "
        "non_preferred_output}`, one per pair, messages as in `openai`.",
        "",
        "The configs above use paths relative to this card, so the folder loads as a dataset wherever it is:",
        "",
        "```python",
        "import os",
        "from datasets import load_dataset",
        f'ds = load_dataset("path/to/{spec.name}", "{default}")  # one config per format',
        f'ds = load_dataset(os.getcwd(), "{default}")  # from inside this folder',
        "```",
        "",
        '`datasets` names a local dataset after its folder, so pass the folder\'s path rather than `"."`.',
        "",
    ]
    return "\n".join(lines)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


@dataclass
class ExportResult:
    """What an export did (or, for a dry run, would do)."""

    plan: ExportPlan
    written: bool
    folder: Path | None = None
    built: dict[str, Any] | None = None
    """The manifest as `build_manifest` made it (`excluded` an `ExcludedList`); None for a dry run."""

    @property
    def manifest_path(self) -> Path | None:
        return self.folder / "manifest.json" if self.folder else None

    @functools.cached_property
    def manifest(self) -> dict[str, Any] | None:
        """The written manifest.json, read when first asked for (None for a dry run): its
        `excluded` list can hold most of a large workspace, so the export itself never holds it."""
        path = self.manifest_path
        if path is None:
            return None
        data: dict[str, Any] = json.loads(path.read_bytes())
        return data

    def manifest_overview(self) -> dict[str, Any] | None:
        """The manifest as written, its `excluded` list replaced by how many records it lists and
        why: what a screen shows (the list itself is in the file)."""
        if self.built is None:
            return None
        excluded = self.plan.excluded
        return {
            **self.built,
            "excluded": {
                "records": len(excluded),
                "by_reason": dict(sorted(excluded.by_reason().items())),
                "listed_in": str(self.manifest_path),
            },
        }

    def summary(self) -> str:
        """A few lines for people (the CLI prints this)."""
        plan = self.plan
        alloc = plan.allocation
        head = f"wrote {self.folder}" if self.written else f"dry run: nothing written ({plan.target})"
        counts = ", ".join(f"{s} {len(plan.split_lines(s)):,}" for s in SPLITS)
        counter = plan.counter
        out = [f"{head}", f"lines: {counts}; excluded {len(plan.excluded):,}"]
        if plan.decontamination is not None:
            out.append(
                f"decontamination: {_records(len(plan.decontamination['excluded']))} overlapping "
                f"{', '.join(plan.decontamination['evalsets'])} (each listed in manifest.json, decontamination)"
            )
        preference = [f for f in plan.spec.formats if f in PREFERENCE_FORMATS]
        if preference:
            pairs = pair_counts(plan)
            out.append(
                f"preference pairs ({', '.join(preference)}): {pairs['total']:,}; "
                f"{_records(pairs['records_without_pairs'])} without alternatives made none"
            )
        out.append(
            f"train tokens: {alloc.tokens:,} of {plan.spec.budget_tokens:,} on {plan.counted_format} "
            f"({counter.name}{'' if counter.exact else ', estimate'})"
        )
        return "\n".join(out)

    def decontamination_warning(self) -> str | None:
        """One line for stderr when decontamination kept approved records out (None otherwise)."""
        account = self.plan.decontamination
        approved = [e for e in account["excluded"] if e["status"] == "approved"] if account else []
        if not approved:
            return None
        return (
            f"warning: {len(approved):,} approved record{'s' if len(approved) != 1 else ''} excluded by "
            f"decontamination (overlap {', '.join(account['evalsets']) if account else ''}; "
            "see manifest.json, decontamination)"
        )


def database_file(db: Database) -> str | None:
    """The file behind a connection (None in memory): an export must never replace it."""
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else None


def export_files(folder: Path, manifest: dict[str, Any]) -> dict[str, str | None]:
    """Every file an export folder holds (relative path -> SHA-256), from its SHA256SUMS."""
    sums: dict[str, str | None] = {"SHA256SUMS": None}
    for line in (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        if not rel or len(digest) != 64:
            raise ValueError(f"SHA256SUMS: malformed line {line!r}")
        sums[rel] = digest
    return sums


EXPORT_FOLDER = FolderKind("export", MANIFEST_FORMAT, export_files)


def _check_target(plan: ExportPlan, force: bool, db_path: str | Path | None) -> None:
    """An existing folder is replaced only with force, and only if it is an earlier export (see targets)."""
    if check_folder_target(plan.target, EXPORT_FOLDER, db_path=db_path, force=force) and not force:
        raise CuratorError(f"{plan.target}: already exists; use --force to replace it")


def write_export(
    plan: ExportPlan,
    *,
    force: bool = False,
    progress: Progress | None = None,
    db_path: str | Path | None = None,
    encode: EncodeFn = encoded_lines,
) -> ExportResult:
    """Write the planned export aside and rename it into place (an existing folder only with force).

    `encode` gives each format's lines, rendered and counted (here by default; the distributed
    engine hands over lines its workers rendered, in plan order).
    """
    report = progress or _noop
    recover(plan.target)  # an export of this target that was killed: remove its leftovers, restore a moved-aside one
    _check_target(plan, force, db_path)
    out = plan.out_dir
    out.mkdir(parents=True, exist_ok=True)
    tmp = aside_dir(plan.target)  # also cleans up after an export of this target that was killed
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; an export is meant to be shared
        with naming(plan.target, tmp):
            manifest = _write_folder(plan, tmp, report, encode)
        _check_target(plan, force, db_path)
        replace_dir(tmp, plan.target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    plan.lock.write(plan.lock_file)
    return ExportResult(plan, True, plan.target, built=manifest)


class _SplitFile:
    """One `<format>/<split>.jsonl` written line by line: rows, bytes, tokens and SHA-256 as it goes."""

    def __init__(self, folder: Path, rel: str) -> None:
        self.rel = rel
        self.path = folder / rel
        self.file = self.path.open("wb")
        self.sha = hashlib.sha256()
        self.rows = 0
        self.bytes = 0
        self.tokens = 0

    def write(self, line: bytes) -> None:
        data = line + b"\n"
        self.file.write(data)
        self.sha.update(data)
        self.rows += 1
        self.bytes += len(data)

    def close(self) -> None:
        self.file.close()


def _write_format(plan: ExportPlan, fmt: str, folder: Path, encoded: Iterable[Encoded]) -> list[FileEntry]:
    """Write one format's encoded lines into its split files as they come (a split without rows:
    no file, except train), adding up their tokens as `count_format` does."""
    (folder / fmt).mkdir()
    files: dict[str, _SplitFile] = {}
    tokens = dict.fromkeys(SPLITS, 0)
    try:
        with gc_paused():
            for line, data, n in encoded:
                if data and line.split not in files:
                    files[line.split] = _SplitFile(folder, f"{fmt}/{line.split}.jsonl")
                for row in data:
                    files[line.split].write(row)
                tokens[line.split] += n
        if "train" not in files:
            files["train"] = _SplitFile(folder, f"{fmt}/train.jsonl")
    finally:
        for opened in files.values():
            opened.close()
    return [
        FileEntry(f.rel, fmt, split, f.rows, f.bytes, tokens[split], f.sha.hexdigest())
        for split in SPLITS
        if (f := files.get(split)) is not None
    ]


def _write_records(plan: ExportPlan, path: Path) -> str:
    """records.jsonl (see `records_rows`), written row by row; its SHA-256."""
    sha = hashlib.sha256()
    with path.open("wb") as f:
        for row in records_rows(plan):
            data = _dumps(row) + b"\n"
            f.write(data)
            sha.update(data)
    return sha.hexdigest()


def _write_text(path: Path, chunks: Iterable[str]) -> str:
    """Write text given in pieces as UTF-8; its SHA-256."""
    sha = hashlib.sha256()
    with path.open("wb") as f:
        for chunk in chunks:
            data = chunk.encode("utf-8")
            f.write(data)
            sha.update(data)
    return sha.hexdigest()


def _write_folder(plan: ExportPlan, folder: Path, report: Progress, encode: EncodeFn) -> dict[str, Any]:
    files: list[FileEntry] = []
    sums: dict[str, str] = {}
    for fmt in plan.spec.formats:
        for entry in _write_format(plan, fmt, folder, encode(plan, fmt, report)):
            files.append(entry)
            sums[entry.path] = entry.sha256
    report("write", 1, 3)
    sums["records.jsonl"] = _write_records(plan, folder / "records.jsonl")
    manifest = build_manifest(plan, files)
    sums["manifest.json"] = _write_text(folder / "manifest.json", manifest_chunks(manifest))
    card = dataset_card(plan, manifest).encode("utf-8")
    (folder / "README.md").write_bytes(card)
    sums["README.md"] = _sha256(card)
    report("write", 2, 3)
    text = "".join(f"{digest}  {path}\n" for path, digest in sorted(sums.items()))
    (folder / "SHA256SUMS").write_bytes(text.encode("utf-8"))
    report("write", 3, 3)
    return manifest


def refuse_existing(spec: MixtureSpec, out_dir: Path | None, *, force: bool) -> None:
    """Refuse early, before minutes of work, when the export folder exists and force was not given."""
    from curator import paths
    from curator.mixture.plan import DEFAULT_OUT

    target = paths.safe_child(Path(out_dir) if out_dir is not None else DEFAULT_OUT, spec.name)
    recover(target)
    if target.exists() and not force:
        raise CuratorError(f"{target}: already exists; use --force to replace it")


def export_from_spec(
    db: Database,
    spec: MixtureSpec,
    out_dir: Path | None = None,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Plan and (unless `dry_run`) write the export a spec describes; see the module docstring.

    The spec is already parsed (`load_spec` for a file, `parse_spec_text` for text not in a file).
    """
    if not dry_run:
        refuse_existing(spec, out_dir, force=force)
    # one read snapshot: the records read again while lines are counted and written are the planned ones
    with read_snapshot(db), scan_cache(db), gc_paused():
        plan = plan_export(db, spec, out_dir, progress=progress)
        if dry_run:
            return ExportResult(plan, False)
        return write_export(plan, force=force, progress=progress, db_path=database_file(db))


# ---------------------------------------------------------------------------
# The allocation table (--dry-run)
# ---------------------------------------------------------------------------


def allocation_json(plan: ExportPlan) -> dict[str, Any]:
    """The allocation as data: per kind and per kind x clause, available, target, epochs, shortfall."""
    alloc = plan.allocation
    return {
        "name": plan.spec.name,
        "budget_tokens": plan.spec.budget_tokens,
        "format": plan.counted_format,
        "token_counter": {"name": plan.counter.name, "exact": plan.counter.exact},
        "splits": {s: len(plan.split_lines(s)) for s in SPLITS},
        "split_keys": {s: plan.split_counts.get(s, {}).get("keys", 0) for s in SPLITS},
        "warnings": list(plan.warnings),
        "excluded": len(plan.excluded),
        "kinds": [
            {
                "kind": kb.kind,
                "share": kb.share,
                "available": round(kb.available, 3),
                "target": kb.target,
                "shortfall": round(kb.shortfall, 3),
                "planned": kb.tokens,
            }
            for kb in alloc.kinds.values()
        ],
        "cells": [
            {
                "kind": c.kind,
                "clause": c.clause or None,
                "available": round(c.available, 3),
                "target": c.target,
                "epochs": round(c.target / c.available, 4) if c.available else 0.0,
                "shortfall": round(c.shortfall, 3),
                "capped": c.capped,
            }
            for c in alloc.cells
        ],
    }


def allocation_table(plan: ExportPlan) -> str:
    """The allocation as a text table: one row per kind x clause, a total row per kind."""
    data = allocation_json(plan)
    headers = ["kind", "clause", "available", "target", "epochs", "shortfall"]
    rows: list[list[str]] = []
    for kb in data["kinds"]:
        cells = [c for c in data["cells"] if c["kind"] == kb["kind"]]
        for c in cells:
            rows.append(
                [
                    c["kind"],
                    c["clause"] or "(no clause)",
                    f"{c['available']:,.0f}",
                    f"{c['target']:,}",
                    f"{c['epochs']:.2f}" + ("*" if c["capped"] else ""),
                    f"{c['shortfall']:,.0f}",
                ]
            )
        epochs = kb["target"] / kb["available"] if kb["available"] else 0.0
        rows.append(
            [
                kb["kind"],
                "(all)",
                f"{kb['available']:,.0f}",
                f"{kb['target']:,}",
                f"{epochs:.2f}",
                f"{kb['shortfall']:,.0f}",
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    right = {2, 3, 4, 5}

    def fmt_row(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    counter = data["token_counter"]
    head = (
        f"{data['name']}: budget {data['budget_tokens']:,} train tokens on {data['format']} "
        f"({counter['name']}{'' if counter['exact'] else ', estimate'}); "
        + "lines: "
        + ", ".join(f"{s} {n:,}" for s, n in data["splits"].items())
        + "; split keys (groups or ids): "
        + ", ".join(f"{s} {n:,}" for s, n in data["split_keys"].items())
        + f"; {data['excluded']:,} excluded"
    )
    body = [fmt_row(headers).rstrip(), "  ".join("-" * w for w in widths)] + [fmt_row(r).rstrip() for r in rows]
    return head + "\n" + "\n".join(body) + "\n* capped at max_epochs x available\n"
