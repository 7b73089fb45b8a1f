"""Diversification pools (system prompts, distractor tools): safe path resolution, loading, draws.

Draws are a pure function of (seed, record id, repeat): the pool is ordered by a per-record
SHA-256 and repeat r takes the r-th slot, so a repeated record gets a different draw (until the
pool is exhausted) and the same inputs always give the same draw.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from curator import jsonl, paths
from curator.files import decode, read_bytes
from curator.jsonschema_norm import SchemaError, normalize_schema
from curator.mixture.spec import SpecError
from curator.models import Tool, record_error_from

_BAD_TOOL_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def api_tool_name(name: str) -> str:
    """A tool name both APIs accept: `[A-Za-z0-9_-]{1,64}` (the shipped pool has dotted names)."""
    clean = _BAD_TOOL_CHARS.sub("_", name)[:64]
    return clean or "tool"


def project_root() -> Path:
    """The folder that holds `corpora/` (the source tree, or the wheel's data copy)."""
    return paths.pools_dir().parents[1]


def resolve_pool(value: str, spec_dir: Path, *, where: str, key: str) -> Path:
    """A pool path, relative to the spec's folder or the project; refuses anything that escapes both."""
    if not value.strip():
        raise SpecError(f"{where}: {key}: empty path")
    rel = Path(value)
    if rel.is_absolute():
        raise SpecError(f"{where}: {key}: must be relative to the spec's folder or the project (got {value!r})")
    bases = [spec_dir.resolve(), project_root().resolve()]
    looked: list[str] = []
    for base in bases:
        candidate = (base / rel).resolve()
        looked.append(str(base))
        inside = any(candidate == b or b in candidate.parents for b in bases)
        if not inside:
            raise SpecError(f"{where}: {key}: {value!r} escapes the spec's folder and the project")
        if candidate.is_file():
            return candidate
    raise SpecError(f"{where}: {key}: {value!r} not found (looked in {' and '.join(looked)})")


@dataclass(frozen=True)
class PoolFile:
    """Where a pool came from, for the manifest."""

    path: str
    """As written in the spec (so the manifest does not depend on where the project lives)."""
    sha256: str
    items: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "items": self.items}


@dataclass
class Pools:
    """Loaded pools; empty lists mean 'do not diversify this way'."""

    system_prompts: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    extra_tools: int = 0
    files: dict[str, PoolFile] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    """Pool name -> the file line of each entry (for errors naming an entry)."""


def _read_lines(path: Path, where: str) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    raw = read_bytes(path, SpecError, label=where)
    return jsonl.objects(decode(raw, where, SpecError), where, SpecError), hashlib.sha256(raw).hexdigest()


def load_system_prompts(path: Path, where: str) -> tuple[list[str], str, list[int]]:
    """(prompts, file sha256, line of each prompt)."""
    lines, digest = _read_lines(path, where)
    prompts: list[str] = []
    numbers: list[int] = []
    for number, obj in lines:
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"{where}:{number}: text: must be non-empty text")
        prompts.append(text)
        numbers.append(number)
    if not prompts:
        raise SpecError(f"{where}: holds no system prompts")
    return prompts, digest, numbers


def load_tools(path: Path, where: str) -> tuple[list[Tool], str, list[int]]:
    """(tools, file sha256, line of each tool), one a line: `{"name", "description", "input_schema"}`,
    or `parameters` in its place, or OpenAI's `{"type": "function", "function": {...}}`; schemas go
    through the normaliser."""
    lines, digest = _read_lines(path, where)
    tools: list[Tool] = []
    numbers: list[int] = []
    seen: set[str] = set()
    for number, obj in lines:
        if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
            obj, prefix = obj["function"], "function."  # an OpenAI-style definition
        else:
            prefix = ""
        body = {k: v for k, v in obj.items() if k in ("name", "description")}
        key = "input_schema" if "input_schema" in obj else "parameters"
        if key not in obj:
            raise SpecError(f"{where}:{number}: {prefix}input_schema: missing (or `parameters`)")
        try:
            body["input_schema"] = normalize_schema(obj[key], prefix + key)
        except SchemaError as err:
            raise SpecError(f"{where}:{number}: {err}") from None
        try:
            tool = Tool.model_validate(body)
        except ValidationError as err:
            raise SpecError(f"{where}:{number}: {record_error_from(err)}") from None
        if tool.name in seen:
            raise SpecError(f"{where}:{number}: name: duplicate tool name {tool.name!r}")
        seen.add(tool.name)
        tools.append(tool)
        numbers.append(number)
    if not tools:
        raise SpecError(f"{where}: holds no tools")
    return tools, digest, numbers


def load_pools(system_prompts: str | None, tools: str | None, extra_tools: int, spec_dir: Path, where: str) -> Pools:
    """Resolve and read the pools a spec names."""
    pools = Pools(extra_tools=extra_tools)
    if system_prompts:
        p = resolve_pool(system_prompts, spec_dir, where=where, key="diversify.system_prompts")
        pools.system_prompts, digest, pools.lines["system_prompts"] = load_system_prompts(p, str(p))
        pools.files["system_prompts"] = PoolFile(system_prompts, digest, len(pools.system_prompts))
    if tools:
        p = resolve_pool(tools, spec_dir, where=where, key="diversify.tools")
        pools.tools, digest, pools.lines["tools"] = load_tools(p, str(p))
        pools.files["tools"] = PoolFile(tools, digest, len(pools.tools))
    return pools


def _hash64(seed: int, purpose: str, record_id: str) -> int:
    digest = hashlib.sha256(f"{seed}\x1f{purpose}\x1f{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _coprimes(n: int) -> list[int]:
    return [s for s in range(1, n) if math.gcd(s, n) == 1] or [1]


@dataclass(frozen=True)
class Draw:
    """What diversification adds to one (record, repeat)."""

    system: str | None = None
    extra_tools: tuple[Tool, ...] = ()


NO_DRAW = Draw()


class Drawer:
    """Deterministic draws from the pools: one SHA-256 per record and purpose.

    Each record walks the pool in its own order (a hashed offset and a hashed stride coprime with
    the pool size, so the walk is a permutation); repeat r takes the r-th step (system prompts) or
    the r-th window of `extra_tools` (tools), so repeats differ until the pool runs out.
    """

    def __init__(self, pools: Pools, seed: int) -> None:
        self.pools = pools
        self.seed = seed
        self._strides: dict[int, list[int]] = {}
        self._api = [api_tool_name(t.name) for t in pools.tools]

    def _walk(self, purpose: str, record_id: str, size: int, start: int, count: int) -> list[int]:
        h = _hash64(self.seed, purpose, record_id)
        strides = self._strides.get(size)
        if strides is None:
            strides = self._strides[size] = _coprimes(size)
        offset, stride = h % size, strides[(h >> 32) % len(strides)]
        return [(offset + (start + i) * stride) % size for i in range(count)]

    def draw(self, record_id: str, kind: str, has_system: bool, own_tools: frozenset[str], repeat: int) -> Draw:
        """System prompt (advice/agentic records without one) and distractor tools (agentic)."""
        if kind not in ("advice", "agentic"):
            return NO_DRAW
        system = None
        prompts = self.pools.system_prompts
        if prompts and not has_system:
            system = prompts[self._walk("system", record_id, len(prompts), repeat, 1)[0]]
        extra: tuple[Tool, ...] = ()
        n = self.pools.extra_tools
        if kind == "agentic" and n and self.pools.tools:
            own = {api_tool_name(t) for t in own_tools}
            usable = [
                t
                for t, api in zip(self.pools.tools, self._api, strict=True)
                if t.name not in own_tools and api not in own
            ]
            if usable:
                take = min(n, len(usable))
                extra = tuple(usable[i] for i in self._walk("tools", record_id, len(usable), repeat * take, take))
        if system is None and not extra:
            return NO_DRAW
        return Draw(system, extra)
