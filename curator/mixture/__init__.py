"""Balanced, token-budgeted, reproducible mixture export (docs/spec.md; docs/architecture.md, Rows to an export).

Pipeline: spec.py (TOML, validated) -> plan.py (exclusions, split.py, counters.py, allocate.py)
-> write.py (formats.py renders, validate.py checks every line, files written aside and renamed
into place). The core never prints; progress goes through a `(phase, done, total)` callback.

Choices made here (also in each module's docstring):

- Budget format: tokens are counted on `budget_format` (default: the first of `formats`); every
  file's tokens are reported with its own format's counter. Counts are content tokens (system
  prompt, tool definitions, messages, reasoning), not chat-template tokens.
- Counters (`token_counter = "auto"`): o200k_base, exact and offline, for openai, hf-messages and
  text; the curator estimate for anthropic and bedrock (Anthropic publishes no tokenizer), marked
  not exact.
- Splits: `heldout_clauses` also hold out the clauses below them. The lock file
  `<out>/<name>.splits.lock.json` sits beside the export folder (not in it, so the folder's bytes
  do not depend on history); splits only ever move towards eval/heldout, and such moves are listed
  in the manifest (`splits.changed_from_lock`).
- Duplicates: the kept record of a cluster comes from its strongest split (heldout > eval >
  train), so train never holds a duplicate of an eval record. `dedup = "exact"` or `"off"` skip
  the near-duplicate clustering for very large or synthetic corpora.
- Diversification: a pool system prompt only for advice/agentic records without their own (a
  record's system prompt is part of its scenario); distractor tools only for agentic records,
  never clashing with their tools; tools are then listed by name so position gives nothing away.
  Pool entries with `tags` are drawn only for records sharing a tag (generic entries otherwise);
  the manifest counts draws per entry and the records no entry fitted.
- bedrock: string turns only, so tools are listed in the system prompt and calls and results are
  `[tool call]` / `[tool result]` lines; the rationale is inline in thinking mode.
- Stories and documents in chat formats: one exchange, a request built from the title and the
  text as the answer. Tool names are rewritten to `[A-Za-z0-9_-]{1,64}` in every format.
- hf-messages: `tools` is always a JSON string (`"[]"` when none), `arguments` always a JSON
  string, `content` always a string: one JSON type per field across rows.
- Files: `<format>/eval.jsonl` and `heldout.jsonl` only when non-empty; `train.jsonl` always.
  `records.jsonl` line numbers start at 1 in each split. Text-format ids of repeats get `#<n>`.
- Records that cannot make a valid line (a dialogue ending with a user turn, an empty turn) are
  excluded with a reason instead of failing the export; any other invalid line is an error.
"""

from curator.mixture.plan import ExportPlan, Line, plan_export
from curator.mixture.spec import FORMATS, MixtureSpec, SpecError, load_spec, parse_spec, parse_spec_text
from curator.mixture.validate import FormatError, validate_line, validate_row
from curator.mixture.write import (
    ExportResult,
    allocation_json,
    allocation_table,
    export_from_spec,
    write_export,
)

__all__ = [
    "FORMATS",
    "ExportPlan",
    "ExportResult",
    "FormatError",
    "Line",
    "MixtureSpec",
    "SpecError",
    "allocation_json",
    "allocation_table",
    "export_from_spec",
    "load_spec",
    "parse_spec",
    "parse_spec_text",
    "plan_export",
    "validate_line",
    "validate_row",
    "write_export",
]
