"""Diversification pools (system prompts, distractor tools): safe path resolution, loading, draws.

Entries may carry `tags`. A record draws only from entries that fit it: tagged entries sharing a
tag with the record first, then untagged (generic) entries for what is left; an entry whose tags
miss the record's is never drawn, so a family-advice dialogue cannot get a bike shop's support
prompt. Tags compare without case.

Draws are a pure function of (seed, record id, record tags, repeat): the eligible entries are
ordered by a per-record SHA-256 and repeat r takes the r-th slot, so a repeated record gets a
different draw (until its eligible entries run out) and the same inputs always give the same draw.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

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


T = TypeVar("T")

Tags = frozenset[str]
"""An entry's or a record's tags, case-folded; empty for a generic entry."""


def fold_tags(tags: Iterable[str]) -> Tags:
    """Tags as they are compared: stripped and case-folded."""
    return frozenset(t.strip().casefold() for t in tags if t.strip())


@dataclass(frozen=True)
class PoolLoad(Generic[T]):
    """One pool file, read and checked."""

    items: list[T]
    sha256: str
    lines: list[int]
    """The file line of each entry (for errors naming an entry)."""
    tags: list[Tags]
    keys: list[str]
    """What the manifest counts each entry's draws under: a prompt's `id` (else `line N`), a tool's name."""


@dataclass
class Pools:
    """Loaded pools; empty lists mean 'do not diversify this way'."""

    system_prompts: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    extra_tools: int = 0
    files: dict[str, PoolFile] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)
    """Pool name -> the file line of each entry (for errors naming an entry)."""
    tags: dict[str, list[Tags]] = field(default_factory=dict)
    """Pool name -> the tags of each entry (empty: generic)."""
    keys: dict[str, list[str]] = field(default_factory=dict)
    """Pool name -> the manifest key of each entry."""


def _read_lines(path: Path, where: str) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    raw = read_bytes(path, SpecError, label=where)
    return jsonl.objects(decode(raw, where, SpecError), where, SpecError), hashlib.sha256(raw).hexdigest()


def _entry_tags(obj: dict[str, Any], at: str, prefix: str = "") -> Tags:
    """The `tags` of one pool line: absent or a list of non-empty strings."""
    if "tags" not in obj:
        return frozenset()
    value = obj["tags"]
    if not isinstance(value, list):
        raise SpecError(f"{at}: {prefix}tags: must be a list of non-empty strings (got {type(value).__name__})")
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip():
            raise SpecError(f"{at}: {prefix}tags[{i}]: must be a non-empty string")
    return fold_tags(value)


def load_system_prompts(path: Path, where: str) -> PoolLoad[str]:
    """One prompt a line: `{"id"?, "text", "tags"?}`; ids, when given, are unique."""
    lines, digest = _read_lines(path, where)
    out: PoolLoad[str] = PoolLoad([], digest, [], [], [])
    ids: set[str] = set()
    for number, obj in lines:
        at = f"{where}:{number}"
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"{at}: text: must be non-empty text")
        key = f"line {number}"
        if "id" in obj:
            pid = obj["id"]
            if not isinstance(pid, str) or not pid.strip():
                raise SpecError(f"{at}: id: must be a non-empty string")
            if pid in ids:
                raise SpecError(f"{at}: id: duplicate id {pid!r}")
            ids.add(pid)
            key = pid
        out.items.append(text)
        out.lines.append(number)
        out.tags.append(_entry_tags(obj, at))
        out.keys.append(key)
    if not out.items:
        raise SpecError(f"{where}: holds no system prompts")
    return out


def load_tools(path: Path, where: str) -> PoolLoad[Tool]:
    """One tool a line: `{"name", "description", "input_schema", "tags"?}`, or `parameters` in place of
    `input_schema`, or OpenAI's `{"type": "function", "function": {...}, "tags"?}`; schemas go
    through the normaliser."""
    lines, digest = _read_lines(path, where)
    out: PoolLoad[Tool] = PoolLoad([], digest, [], [], [])
    seen: set[str] = set()
    for number, obj in lines:
        at = f"{where}:{number}"
        tags = _entry_tags(obj, at)
        if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
            obj, prefix = obj["function"], "function."  # an OpenAI-style definition
            if "tags" in obj:
                raise SpecError(f"{at}: function.tags: put `tags` next to `type` and `function`, not inside it")
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
        out.items.append(tool)
        out.lines.append(number)
        out.tags.append(tags)
        out.keys.append(tool.name)
    if not out.items:
        raise SpecError(f"{where}: holds no tools")
    return out


def _keep(pools: Pools, name: str, spec_value: str, load: PoolLoad[Any]) -> None:
    pools.files[name] = PoolFile(spec_value, load.sha256, len(load.items))
    pools.lines[name] = load.lines
    pools.tags[name] = load.tags
    pools.keys[name] = load.keys


def load_pools(system_prompts: str | None, tools: str | None, extra_tools: int, spec_dir: Path, where: str) -> Pools:
    """Resolve and read the pools a spec names."""
    pools = Pools(extra_tools=extra_tools)
    if system_prompts:
        p = resolve_pool(system_prompts, spec_dir, where=where, key="diversify.system_prompts")
        prompts = load_system_prompts(p, str(p))
        pools.system_prompts = prompts.items
        _keep(pools, "system_prompts", system_prompts, prompts)
    if tools:
        p = resolve_pool(tools, spec_dir, where=where, key="diversify.tools")
        loaded = load_tools(p, str(p))
        pools.tools = loaded.items
        _keep(pools, "tools", tools, loaded)
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
    prompt: int | None = None
    """The pool index of `system` (for the manifest's draw counts)."""


NO_DRAW = Draw()


class _Fit:
    """Which entries of one pool fit which record tags: tagged matches, then generic entries."""

    def __init__(self, tags: list[Tags]) -> None:
        self.generic = [i for i, t in enumerate(tags) if not t]
        self.by_tag: dict[str, list[int]] = {}
        for i, entry in enumerate(tags):
            for tag in entry:
                self.by_tag.setdefault(tag, []).append(i)
        self._cache: dict[Tags, list[int]] = {}

    def matching(self, tags: Tags) -> list[int]:
        """Tagged entries sharing a tag with `tags`, in pool order."""
        out = self._cache.get(tags)
        if out is None:
            hits: set[int] = set()
            for tag in tags:
                hits.update(self.by_tag.get(tag, ()))
            out = self._cache[tags] = sorted(hits)
            if len(self._cache) > 100_000:
                self._cache.clear()
        return out


class Drawer:
    """Deterministic draws from the pools: one SHA-256 per record and purpose.

    Each record walks its eligible entries in its own order (a hashed offset and a hashed stride
    coprime with their number, so the walk is a permutation); repeat r takes the r-th step (system
    prompts) or the r-th window of `extra_tools` (tools), so repeats differ until they run out.
    A system prompt comes from the tagged prompts matching the record when there are any, else from
    the generic ones; distractor tools come from the matching tagged tools first, and generic tools
    fill the rest of `extra_tools`.
    """

    def __init__(self, pools: Pools, seed: int) -> None:
        self.pools = pools
        self.seed = seed
        self._strides: dict[int, list[int]] = {}
        self._api = [api_tool_name(t.name) for t in pools.tools]
        self._prompts = _Fit(pools.tags.get("system_prompts") or [frozenset()] * len(pools.system_prompts))
        self._tools = _Fit(pools.tags.get("tools") or [frozenset()] * len(pools.tools))

    def _walk(self, purpose: str, record_id: str, size: int, start: int, count: int) -> list[int]:
        h = _hash64(self.seed, purpose, record_id)
        strides = self._strides.get(size)
        if strides is None:
            strides = self._strides[size] = _coprimes(size)
        offset, stride = h % size, strides[(h >> 32) % len(strides)]
        return [(offset + (start + i) * stride) % size for i in range(count)]

    def _window(self, purpose: str, record_id: str, eligible: list[int], repeat: int, n: int) -> list[int]:
        take = min(n, len(eligible))
        if not take:
            return []
        return [eligible[i] for i in self._walk(purpose, record_id, len(eligible), repeat * take, take)]

    def draw(
        self,
        record_id: str,
        kind: str,
        has_system: bool,
        own_tools: frozenset[str],
        repeat: int,
        tags: Tags = frozenset(),
    ) -> Draw:
        """System prompt (advice/agentic records without one) and distractor tools (agentic), fitting `tags`."""
        if kind not in ("advice", "agentic"):
            return NO_DRAW
        system: str | None = None
        prompt: int | None = None
        prompts = self.pools.system_prompts
        if prompts and not has_system:
            eligible = self._prompts.matching(tags) or self._prompts.generic
            if eligible:
                prompt = eligible[self._walk("system", record_id, len(eligible), repeat, 1)[0]]
                system = prompts[prompt]
        extra: tuple[Tool, ...] = ()
        n = self.pools.extra_tools
        if kind == "agentic" and n and self.pools.tools:
            own = {api_tool_name(t) for t in own_tools}
            tools, api = self.pools.tools, self._api

            def usable(indices: list[int]) -> list[int]:
                return [i for i in indices if tools[i].name not in own_tools and api[i] not in own]

            picked = self._window("tools", record_id, usable(self._tools.matching(tags)), repeat, n)
            if len(picked) < n:
                picked += self._window("tools", record_id, usable(self._tools.generic), repeat, n - len(picked))
            extra = tuple(tools[i] for i in picked)
        if system is None and not extra:
            return NO_DRAW
        return Draw(system, extra, prompt)
