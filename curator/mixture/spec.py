"""The mixture spec (TOML, validated by pydantic): every error names the file and the key.

A spec is the whole recipe of an export: budget, kind shares, clause balancing, statuses, split
rule, eval sets to decontaminate against, output formats, rationale rendering and the
diversification pools. The same spec, database and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from curator.errors import UsageError
from curator.files import parse_toml, read_text
from curator.models import KINDS, STATUSES, Kind, Status

Format = Literal["anthropic", "openai", "hf-messages", "text", "bedrock", "trl-preference", "openai-preference"]
LINE_FORMATS: tuple[str, ...] = ("anthropic", "openai", "hf-messages", "text", "bedrock")
"""Formats with one line per record (and repeat)."""
PREFERENCE_FORMATS: tuple[str, ...] = ("trl-preference", "openai-preference")
"""Formats with one line per (turn, rejected alternative) pair."""
FORMATS: tuple[str, ...] = LINE_FORMATS + PREFERENCE_FORMATS
RationaleMode = Literal["inline", "thinking", "omit"]
Balance = Literal["unimax", "proportional"]
CounterChoice = Literal["auto", "o200k_base", "cl100k_base", "estimate"]
DedupMode = Literal["near", "exact", "off"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
"""Export names become folder names: no separators, no leading dot, nothing that could climb out."""

LICENSE_PATTERN = r"^[a-z0-9][a-z0-9.+-]{0,63}$"
"""Hugging Face license identifiers (`mit`, `cc-by-4.0`, `apache-2.0`, `other`)."""

SHARE_TOLERANCE = 1e-6


class SpecError(UsageError):
    """A spec file is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(_Strict):
    """How records are split before mixing (eval and heldout never reach train)."""

    eval_fraction: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Share of split keys (groups, or ids) hashed into the eval split."""
    by: Literal["group", "id"] = "group"
    """`group`: a whole scenario family lands in one split (records without a group use their id)."""
    salt: str = Field(default="v1", max_length=200)
    """Changing the salt re-deals the hash split (locked records keep theirs)."""
    heldout_clauses: list[str] = Field(default_factory=list)
    """Every record linked to one of these clauses (or a clause below one) goes to `heldout`."""


class DiversifySpec(_Strict):
    """Pools sampled deterministically per record and repeat (paths relative to the spec or the project)."""

    system_prompts: str | None = None
    """JSON lines `{"id", "text"}`: a system prompt for advice/agentic records that have none."""
    tools: str | None = None
    """JSON lines of tool definitions `{"name", "description", "input_schema"}`: agentic distractors."""
    extra_tools: int = Field(default=0, ge=0, le=32)
    """How many distractor tools each agentic record gets (never clashing with its own tools)."""

    @model_validator(mode="after")
    def _tools_pool_for_extra_tools(self) -> DiversifySpec:
        if self.extra_tools and not self.tools:
            raise _KeyError("extra_tools", "needs a `tools` pool to draw from")
        return self


def _default_statuses() -> list[Status]:
    return ["approved"]


def _default_formats() -> list[Format]:
    return ["anthropic", "openai", "hf-messages", "text"]


class MixtureSpec(_Strict):
    """A validated mixture spec, and where it came from.

    Besides the keys of the TOML it knows its `source` (the name errors give: the spec file, or
    `<editor: ...>` for text not written anywhere) and its `base_dir` (the folder relative paths in
    it, such as the diversification pools, resolve against). Both are set by the parse functions
    below and are not part of what the spec means: `canonical()` and `sha256()` leave them out.
    """

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    """Folder name of the export (`<out>/<name>/`)."""
    description: str = Field(default="", max_length=5000)
    """One paragraph for the dataset card."""
    license: Annotated[str, Field(pattern=LICENSE_PATTERN)] = "other"
    """License identifier written into the dataset card's YAML."""
    budget_tokens: int = Field(gt=0, le=10**12)
    """Train tokens, counted on the rendered `budget_format`."""
    seed: int = 0
    max_epochs: int = Field(default=1, ge=1, le=1000)
    """1: no record is repeated; more lets scarce cells repeat records up to this many times."""
    balance: Balance = "unimax"
    statuses: list[Status] = Field(default_factory=_default_statuses, min_length=1)
    formats: list[Format] = Field(default_factory=_default_formats, min_length=1)
    budget_format: Format | None = None
    """The format whose token counts the budget uses (default: the first of `formats`)."""
    token_counter: CounterChoice = "auto"
    """auto: exact o200k_base for openai/hf-messages/text, the curator estimate for anthropic and bedrock."""
    rationale: RationaleMode = "thinking"
    contrast: bool = False
    """true: each rejected alternative with a why-not is added to its turn's rendered rationale."""
    strict: bool = False
    """true: fail when a kind cannot reach its share instead of giving its surplus to the others, and
    when the split is not what was asked (an empty eval or heldout split, eval far off its fraction)."""
    decontaminate: list[str] = Field(default_factory=list)
    """Registered eval sets; records overlapping them are excluded."""
    dedup: DedupMode = "near"
    """near: exact and near-duplicate clusters; exact: identical normalised text only; off: none."""
    kinds: dict[Kind, float]
    """Target shares of train tokens per kind; must sum to 1 (a kind left out gets 0)."""
    split: SplitSpec = Field(default_factory=SplitSpec)
    diversify: DiversifySpec = Field(default_factory=DiversifySpec)

    _source: str = PrivateAttr(default="spec")
    _base_dir: Path = PrivateAttr(default_factory=Path)

    @field_validator("name")
    @classmethod
    def _no_climbing(cls, value: str) -> str:
        if ".." in value:
            raise ValueError("must not contain '..'")
        return value

    @field_validator("statuses", "formats", "decontaminate")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        seen: set[str] = set()
        for v in values:
            if v in seen:
                raise ValueError(f"{v!r} is listed twice")
            seen.add(v)
        return values

    @field_validator("kinds")
    @classmethod
    def _shares(cls, shares: dict[str, float]) -> dict[str, float]:
        for kind, share in shares.items():
            if not math.isfinite(share) or share < 0 or share > 1:
                raise _KeyError(f"kinds.{kind}", f"a share must be between 0 and 1 (got {share:g})")
        total = sum(shares.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise ValueError(f"shares must sum to 1 (got {round(total, 6):g})")
        return shares

    @model_validator(mode="after")
    def _contrast_needs_a_rationale(self) -> MixtureSpec:
        if self.contrast and self.rationale == "omit":
            raise _KeyError("contrast", 'adds to the rendered rationale; it needs rationale = "inline" or "thinking"')
        return self

    @model_validator(mode="after")
    def _budget_format_is_exported(self) -> MixtureSpec:
        if self.budget_format is not None and self.budget_format not in self.formats:
            raise _KeyError("budget_format", f"{self.budget_format!r} is not one of the exported formats")
        return self

    # -- where it came from -------------------------------------------------------------------

    @property
    def source(self) -> str:
        """What errors about this spec name: the spec file, or e.g. `<editor: spec.toml>`."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the spec resolve against (the spec file's folder)."""
        return self._base_dir

    # -- derived ------------------------------------------------------------------------------

    @property
    def counted_format(self) -> str:
        """The format the budget is counted on."""
        return self.budget_format or self.formats[0]

    def share(self, kind: str) -> float:
        return float(self.kinds.get(kind, 0.0))  # type: ignore[call-overload]

    def canonical(self) -> dict[str, Any]:
        """The spec with every default filled in, in a stable order (goes into the manifest)."""
        data = self.model_dump(mode="json")
        data["kinds"] = {k: self.share(k) for k in KINDS}
        data["budget_format"] = self.counted_format
        return data

    def sha256(self) -> str:
        """Hash of the canonical spec: two files that mean the same thing hash the same."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _KeyError(ValueError):
    """A validation error that knows its full key (raised inside nested validators)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def _key_of(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "spec"


def spec_error_from(err: ValidationError, where: str) -> SpecError:
    """One line naming the file and the first bad key."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    ctx = first.get("ctx", {}).get("error")
    msg = str(first["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if isinstance(ctx, _KeyError):
        # the key is relative to the model that raised it; a field validator's key repeats its field
        base = loc[:-1] if loc and str(ctx.key).startswith(f"{loc[-1]}.") else loc
        prefix = _key_of(base) if base else ""
        return SpecError(f"{where}: {prefix + '.' if prefix else ''}{ctx.key}: {ctx}")
    key = _key_of(loc)
    kind = first["type"]
    if kind == "missing":
        msg = "required key is missing"
    elif kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        msg = f"unknown value {first.get('input')!r}; expected {expected}"
    elif kind == "string_pattern_mismatch" and loc[:1] == ("name",):
        msg = f"unsafe name {first.get('input')!r}: letters, digits, '.', '_' and '-' only, no path separators"
    elif kind == "string_pattern_mismatch" and loc[:1] == ("license",):
        msg = f"{first.get('input')!r} is not a license identifier (e.g. mit, cc-by-4.0, other)"
    elif kind in ("enum", "literal_error") and loc[:1] == ("kinds",):
        msg = f"unknown kind; expected one of {', '.join(KINDS)}"
    return SpecError(f"{where}: {key}: {msg}")


def parse_spec(data: Any, where: str = "spec", base_dir: Path | None = None) -> MixtureSpec:
    """Validate decoded TOML (a dict) as a MixtureSpec.

    `where` names the source in errors; `base_dir` is the folder relative paths in the spec resolve
    against (default: the current folder).
    """
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a TOML table")
    kinds = data.get("kinds")
    if isinstance(kinds, dict):
        for k in kinds:
            if k not in KINDS:
                raise SpecError(f"{where}: kinds.{k}: unknown kind; expected one of {', '.join(KINDS)}")
    statuses = data.get("statuses")
    if isinstance(statuses, list):
        for i, s in enumerate(statuses):
            if isinstance(s, str) and s not in STATUSES:
                raise SpecError(f"{where}: statuses[{i}]: unknown status {s!r}; expected one of {', '.join(STATUSES)}")
    try:
        spec = MixtureSpec.model_validate(data)
    except ValidationError as err:
        raise spec_error_from(err, where) from None
    spec._source = where
    spec._base_dir = Path(base_dir) if base_dir is not None else Path()
    return spec


def parse_spec_text(text: str, where: str, base_dir: Path | None = None) -> MixtureSpec:
    """Parse and validate spec text (TOML) that need not be in any file, such as an editor's buffer.

    `where` names the source in errors; relative paths resolve against `base_dir` (default: the
    current folder).
    """
    return parse_spec(parse_toml(text, where, SpecError), where, base_dir)


def load_spec(path: Path) -> MixtureSpec:
    """Read and validate a spec file (TOML); relative paths in it resolve against its folder."""
    path = Path(path)
    return parse_spec_text(read_text(path, SpecError, what="spec file", kind="spec"), str(path), path.parent)


_SAFE_NAME = re.compile(NAME_PATTERN)


def is_safe_name(name: str) -> bool:
    """True when `name` may be used as an export folder name."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name
