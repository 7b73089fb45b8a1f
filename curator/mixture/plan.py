"""Planning an export: which records, which split, which (record, repeat) lines, in which order.

Everything here reads the database and the spec and decides; nothing is written. The plan is
what `--dry-run` shows and what `write` renders, so a dry run and a real export always agree.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
from array import array
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from curator import paths
from curator.errors import CuratorError
from curator.gcpause import gc_paused
from curator.mixture.allocate import Allocation, Candidate, Candidates, CostFn, ShortfallError, allocate
from curator.mixture.counters import TokenCounter, counter_for
from curator.mixture.formats import pair_count, render_rows, training_text, with_contrast
from curator.mixture.pools import NO_DRAW, Draw, Drawer, Pools, fold_tags, load_pools
from curator.mixture.spec import PREFERENCE_FORMATS, MixtureSpec, SpecError
from curator.mixture.split import (
    SplitInput,
    SplitLock,
    SplitResult,
    assign_splits,
    expand_heldout,
    lock_path,
    sorted_position,
    split_counts,
    split_key,
    split_warnings,
    updated_lock,
)
from curator.models import KINDS, Example, TextBlock
from curator.store.clauses import current_clauses, current_version
from curator.store.examples import created_times, get_many, iter_query, live_sql

if TYPE_CHECKING:
    from curator.dedup.decontam import ScanResult
    from curator.dedup.engine import ClusterReport

Progress = Callable[[str, int, int], None]
"""(phase, done, total): phases are load, decontaminate, dedup, count, allocate, render:<format>, write."""

DEFAULT_OUT = Path("exports")

ScanFn = Callable[[Database, list[str], Callable[[int], None]], "ScanResult"]
"""(db, eval set names, progress(records done)) -> the decontamination pass over the live corpus."""
ClustersFn = Callable[[Database, Callable[[int, int], None]], "ClusterReport"]
"""(db, progress(done, total)) -> the near-duplicate clusters of the live corpus."""
LoadFn = Callable[[Database, list[str], Progress], "tuple[MetaTable, dict[str, str]]"]


@dataclass(frozen=True, slots=True)
class Excluded:
    id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason}


def status_reason(status: str) -> str:
    return f"status {status} is not in statuses"


@dataclass(frozen=True)
class StatusExclusions:
    """The live records whose status a spec does not export: counted when planned, listed (id order)
    only when the manifest is written, so a workspace of a million drafts is never held."""

    counts: dict[str, int]
    """Records per left-out status."""
    rows: Callable[[], Iterable[tuple[str, str]]]
    """(id, status) of each such record, in id order; read again on each call."""


class Exclusions:
    """Every live record an export leaves out, with why, in id order.

    Those left out by status are most of a large workspace, so they are listed from
    `StatusExclusions.rows` when asked for, never held; the others (unusable, contaminated,
    duplicates, no pairs: few) are held by id. A listing that no longer matches the planned counts
    (the workspace changed under an export not run in one read snapshot) is an error, not a
    different manifest.
    """

    def __init__(self, by_status: StatusExclusions, reasons: Mapping[str, str] | None = None) -> None:
        self.by_status = by_status
        self.reasons: dict[str, str] = dict(reasons or {})

    def __len__(self) -> int:
        return sum(self.by_status.counts.values()) + len(self.reasons)

    def __iter__(self) -> Iterator[Excluded]:
        return heapq.merge(self._by_status(), (Excluded(k, v) for k, v in sorted(self.reasons.items())), key=_id_of)

    def _by_status(self) -> Iterator[Excluded]:
        reasons: dict[str, str] = {}  # one reason string per status, not per record
        seen = dict.fromkeys(self.by_status.counts, 0)
        for eid, status in self.by_status.rows():
            if status not in seen:
                raise CuratorError(f"{eid}: status changed to {status} while the export was written")
            seen[status] += 1
            yield Excluded(eid, reasons.setdefault(status, status_reason(status)))
        if seen != self.by_status.counts:
            raise CuratorError("records changed status while the export was written; export again")

    def by_reason(self) -> dict[str, int]:
        """How many records each reason (the status ones by status) left out."""
        out = {status_reason(s): n for s, n in self.by_status.counts.items() if n}
        for reason in self.reasons.values():
            out[reason] = out.get(reason, 0) + 1
        return out


def _id_of(e: Excluded) -> str:
    return e.id


@dataclass(frozen=True, slots=True)
class Line:
    """One exported example: the same line number in every format's file of its split."""

    split: str
    id: str
    kind: str
    clauses: tuple[str, ...]
    repeat: int


@dataclass(frozen=True, slots=True)
class Meta:
    """What planning needs of a record; the record itself is read again when a line is counted or
    rendered, so an export of a million records holds these, not the records."""

    kind: str
    status: str
    group: str | None
    clauses: tuple[str, ...]
    system: bool
    tools: frozenset[str]
    tags: frozenset[str]
    pairs: int


class MetaTable(Mapping[str, Meta]):
    """Each loaded record's `Meta` by id, as columns in id order: ~33 bytes a record where a dict
    of `Meta` objects took ~136 (a million records' export held it from load to the last line).

    Rows are added in strictly increasing id order (anything else is an error: lookups bisect the
    ids); a `Meta` is made when one is asked for. Equal groups, clause tuples and tool and tag
    sets are stored once and referred to by number. `drop` removes records in place, as the plan
    excludes them.
    """

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._live = bytearray()
        self._count = 0
        self._kinds = bytearray()
        self._statuses = bytearray()
        self._system = bytearray()
        self._groups = array("I")
        self._clauses = array("I")
        self._tools = array("I")
        self._tags = array("I")
        self._pairs = array("I")
        self._values: list[Any] = []
        self._numbers: dict[Any, int] = {}
        self._words: list[str] = []  # kinds and statuses: a few, numbered apart so a byte holds them
        self._word_numbers: dict[str, int] = {}

    @classmethod
    def of(cls, items: Iterable[tuple[str, Meta]]) -> MetaTable:
        """A table of these (id, Meta) pairs, in id order."""
        table = cls()
        for rid, m in items:
            table.add(rid, m)
        return table

    def _number(self, value: Any) -> int:
        n = self._numbers.get(value)
        if n is None:
            n = self._numbers[value] = len(self._values)
            self._values.append(value)
        return n

    def _word(self, value: str) -> int:
        n = self._word_numbers.get(value)
        if n is None:
            if len(self._words) == 256:
                raise CuratorError(f"more than 256 kinds and statuses among the loaded records ({value!r})")
            n = self._word_numbers[value] = len(self._words)
            self._words.append(value)
        return n

    def add(self, record_id: str, m: Meta) -> None:
        if self._ids and record_id <= self._ids[-1]:
            raise CuratorError(f"{record_id}: records were not read in id order (after {self._ids[-1]})")
        number = self._number
        self._ids.append(record_id)
        self._live.append(1)
        self._count += 1
        self._kinds.append(self._word(m.kind))
        self._statuses.append(self._word(m.status))
        self._system.append(m.system)
        self._groups.append(number(m.group))
        self._clauses.append(number(m.clauses))
        self._tools.append(number(m.tools))
        self._tags.append(number(m.tags))
        self._pairs.append(m.pairs)

    def _row(self, record_id: object) -> int:
        """The live row of `record_id`, or -1."""
        at = sorted_position(self._ids, record_id)
        return at if at >= 0 and self._live[at] else -1

    def _meta(self, at: int) -> Meta:
        v, words = self._values, self._words
        return Meta(
            words[self._kinds[at]],
            words[self._statuses[at]],
            v[self._groups[at]],
            v[self._clauses[at]],
            bool(self._system[at]),
            v[self._tools[at]],
            v[self._tags[at]],
            self._pairs[at],
        )

    def __getitem__(self, record_id: str) -> Meta:
        at = self._row(record_id)
        if at < 0:
            raise KeyError(record_id)
        return self._meta(at)

    def __contains__(self, record_id: object) -> bool:
        return self._row(record_id) >= 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        live = self._live
        return (rid for at, rid in enumerate(self._ids) if live[at])

    def items(self) -> ItemsView[str, Meta]:
        return _TableItems(self)

    def rows(self) -> Iterator[tuple[str, Meta]]:
        """(id, Meta) of each live record, in id order, without a lookup each."""
        live = self._live
        for at, rid in enumerate(self._ids):
            if live[at]:
                yield rid, self._meta(at)

    def split_inputs(self) -> Iterator[SplitInput]:
        """What the split needs of each live record, in id order, without making its `Meta`."""
        live, v, groups, clauses = self._live, self._values, self._groups, self._clauses
        for at, rid in enumerate(self._ids):
            if live[at]:
                yield SplitInput(rid, v[groups[at]], v[clauses[at]])

    def drop(self, record_ids: Iterable[str]) -> None:
        """Remove these records (ids not in the table are ignored)."""
        for rid in record_ids:
            at = self._row(rid)
            if at >= 0:
                self._live[at] = 0
                self._count -= 1


class _TableItems(ItemsView[str, Meta]):
    _mapping: MetaTable

    def __iter__(self) -> Iterator[tuple[str, Meta]]:
        return self._mapping.rows()


def record_meta(ex: Example, shared: dict[Any, Any]) -> Meta:
    """`ex`'s Meta; equal clause tuples, tag and tool sets are one object in `shared` (a million
    records hold a few thousand distinct ones). Both engines call it on every loaded record."""
    intern = sys.intern
    clauses = tuple(intern(c) for c in ex.clauses)
    tools = frozenset(t.name for t in ex.tools or [])
    tags = fold_tags(ex.tags)
    return Meta(
        intern(ex.kind),
        intern(ex.status),
        intern(ex.group) if ex.group else ex.group,
        shared.setdefault(clauses, clauses),
        bool(ex.system),
        shared.setdefault(tools, tools),
        shared.setdefault(tags, tags),
        pair_count(ex),
    )


def meta_draw(drawer: Drawer, record_id: str, meta: Meta, repeat: int) -> Draw:
    """The diversification of one (record, repeat) from what the plan holds of the record."""
    return drawer.draw(record_id, meta.kind, meta.system, meta.tools, repeat, meta.tags)


def line_cost(fmt: str, ex: Example, draw: Draw, mode: str, repeat: int, counter: TokenCounter) -> int:
    """Tokens one (record, repeat) takes in the counted format: what the budget is counted on.

    `ex` is the record as exported (`with_contrast` applied when the spec asks for contrast).
    """
    return sum(counter.count(training_text(fmt, row)) for row in render_rows(fmt, ex, draw, mode, repeat))


def repeat_costs(
    fmt: str, ex: Example, meta: Meta, drawer: Drawer, mode: str, counter: TokenCounter, repeats: int
) -> list[int]:
    """`line_cost` at repeats 0 .. repeats-1, for an engine that counts before allocating.

    A repeat only changes what is counted through its draw (the text format's `#<repeat>` id and
    metadata are not training text), so a repeat whose draw equals an earlier one's is not
    rendered again; records that are not diversified are rendered once.
    """
    out: list[int] = []
    seen: list[tuple[Draw, int]] = []  # a Draw holds pydantic tools: compared, not hashed
    for repeat in range(repeats):
        draw = meta_draw(drawer, ex.id, meta, repeat)
        n = next((cost for earlier, cost in seen if earlier == draw), None)
        if n is None:
            n = line_cost(fmt, ex, draw, mode, repeat, counter)
            seen.append((draw, n))
        out.append(n)
    return out


class LineCosts:
    """Counted-format tokens by (record id, repeat). Repeat 0 of every train candidate is kept by
    id alone: a million `(id, 0)` keys cost ~100 bytes each, the plan's largest per-record item."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}
        self._more: dict[tuple[str, int], int] = {}

    def get(self, key: tuple[str, int]) -> int | None:
        record_id, repeat = key
        return self._first.get(record_id) if repeat == 0 else self._more.get(key)

    def __setitem__(self, key: tuple[str, int], tokens: int) -> None:
        record_id, repeat = key
        if repeat == 0:
            self._first[record_id] = tokens
        else:
            self._more[key] = tokens

    def __len__(self) -> int:
        return len(self._first) + len(self._more)

    @classmethod
    def of(cls, keys: Iterable[tuple[str, int]], tokens: Iterable[int]) -> LineCosts:
        """The counts of these lines (an allocation's picks and their tokens)."""
        out = cls()
        for key, n in zip(keys, tokens, strict=True):
            out[key] = n
        return out


class Records(Mapping[str, Example]):
    """The exported records by id, in id order: each one's `Meta` held, the record read from the
    database when asked for (`with_contrast` applied when the spec asks for contrast).

    Callers that go through many records in a known order `prefetch` them a chunk at a time; the
    cache holds one chunk. The export runs inside one read snapshot, so what is read here is what
    was planned.
    """

    CHUNK = 500

    def __init__(self, db: Database, meta: Mapping[str, Meta], *, contrast: bool) -> None:
        self.db = db
        self.meta = meta
        self.contrast = contrast
        self._cache: dict[str, Example] = {}

    def __getitem__(self, record_id: str) -> Example:
        ex = self._cache.get(record_id)
        if ex is None:
            if record_id not in self.meta:
                raise KeyError(record_id)
            self.prefetch([record_id])
            ex = self._cache[record_id]
        return ex

    def __iter__(self) -> Iterator[str]:
        return iter(self.meta)

    def __len__(self) -> int:
        return len(self.meta)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self.meta

    def prefetch(self, record_ids: Sequence[str]) -> None:
        """Read these records (one chunk: the previous one is dropped)."""
        wanted = list(dict.fromkeys(record_ids))
        found = get_many(self.db, wanted)
        if len(found) != len(wanted):
            missing = sorted(set(wanted) - {ex.id for ex in found})
            raise CuratorError(f"{missing[0]}: removed from the database while the export was written")
        self._cache = {ex.id: with_contrast(ex) if self.contrast else ex for ex in found}

    def chunks(self, record_ids: Sequence[str]) -> Iterator[Sequence[str]]:
        """`record_ids` a chunk at a time, each chunk read before it is yielded."""
        for start in range(0, len(record_ids), self.CHUNK):
            chunk = record_ids[start : start + self.CHUNK]
            self.prefetch(chunk)
            yield chunk


@dataclass
class ExportPlan:
    spec: MixtureSpec
    out_dir: Path
    target: Path
    """The export folder `<out>/<name>`."""
    lock_file: Path
    constitution: dict[str, Any] | None
    pools: Pools
    records: Records
    """Every exported record (all splits), by id (read when asked for; `records.meta` is held)."""
    split_result: SplitResult
    excluded: Exclusions
    allocation: Allocation
    lines: list[Line]
    """Train lines (shuffled), then eval, then heldout."""
    counter: TokenCounter
    """The counter of the counted format (the budget's)."""
    costs: LineCosts
    lock: SplitLock
    """The lock to write after the export."""
    drawer: Drawer
    draws: dict[tuple[str, int], Draw] = field(default_factory=dict)
    split_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Exported records and split keys per split."""
    warnings: list[str] = field(default_factory=list)
    """What the trainer must know (the CLI prints them; the manifest keeps them)."""
    pool_draws: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per pool: draws of each entry, records no entry fitted (see `pool_draws`)."""
    decontamination: dict[str, Any] | None = None
    """What decontamination excluded (id, eval set, item, rule, field, span) and discounted; None
    when the spec names no eval sets."""

    def draw(self, record_id: str, repeat: int) -> Draw:
        """The diversification of one (record, repeat), computed once and shared by every format."""
        key = (record_id, repeat)
        d = self.draws.get(key)
        if d is None:
            d = self.draws[key] = meta_draw(self.drawer, record_id, self.records.meta[record_id], repeat)
        return d

    def split_lines(self, split: str) -> list[Line]:
        return [line for line in self.lines if line.split == split]

    @property
    def counted_format(self) -> str:
        return self.spec.counted_format


def _sha(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


def _load_records(db: Database, statuses: list[str], progress: Progress) -> tuple[MetaTable, dict[str, str]]:
    """Each record's `Meta` by id (sorted), and why those that cannot make a valid line are excluded.

    Records are read one at a time and not kept, each status's in id order and the statuses merged,
    so the table and the dict are made in order (sorting a million records afterwards held them twice).
    """
    meta = MetaTable()
    unusable: dict[str, str] = {}
    shared: dict[Any, Any] = {}
    marks = ",".join("?" * len(statuses))
    where = f"FROM examples e WHERE status IN ({marks}) AND {live_sql()}"
    total: int = db.execute(f"SELECT count(*) {where}", statuses).fetchone()[0]
    reads = [iter_query(db, status=status) for status in dict.fromkeys(statuses)]
    merged = reads[0] if len(reads) == 1 else heapq.merge(*reads, key=_example_id)
    for done, ex in enumerate(merged, 1):
        meta.add(ex.id, record_meta(ex, shared))  # an id out of order is an error
        why = unusable_reason(ex)
        if why:
            unusable[ex.id] = why
        if done % 10_000 == 0:
            progress("load", done, total)
    progress("load", len(meta), len(meta))
    return meta, unusable


def _example_id(ex: Example) -> str:
    return ex.id


class _SplitInputs:
    """What the split needs of each record, made as it is gone through (see `assign_splits`)."""

    def __init__(self, records: MetaTable) -> None:
        self.records = records

    def __iter__(self) -> Iterator[SplitInput]:
        return self.records.split_inputs()


def _status_exclusions(db: Database, statuses: list[str]) -> StatusExclusions:
    marks = ",".join("?" * len(statuses))
    where = f"FROM examples e WHERE status NOT IN ({marks}) AND {live_sql()}"
    counts = dict(db.execute(f"SELECT status, count(*) {where} GROUP BY status ORDER BY status", statuses).fetchall())

    def rows() -> Iterator[tuple[str, str]]:
        yield from db.execute(f"SELECT id, status {where} ORDER BY id", statuses)

    return StatusExclusions(counts, rows)


def status_exclusions(rows: Iterable[tuple[str, str]], statuses: Sequence[str]) -> StatusExclusions:
    """The live records (id, status) whose status the spec does not export (`rows` in any order)."""
    left = sorted((eid, status) for eid, status in rows if status not in statuses)
    counts: dict[str, int] = {}
    for _, status in left:
        counts[status] = counts.get(status, 0) + 1
    return StatusExclusions(dict(sorted(counts.items())), lambda: iter(left))


def _decontaminate(
    db: Database,
    spec: MixtureSpec,
    where: str,
    records: Mapping[str, Meta],
    pools: Pools,
    progress: Progress,
    scan: ScanFn,
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Record id -> reason for records overlapping the spec's eval sets, and the manifest's account.

    The whole live corpus is scanned, as `curator decontam` scans it (the training counts that make
    an 8-gram common are the corpus's, so both flag the same records); the records of this export
    are kept from its flags. Pool entries are scanned once each: one that overlaps an eval item
    would be emitted into train lines, so it is refused (SpecError naming the pool entry).

    The prompts of every eval suite are checked whether or not the spec names them: a suite's
    prompts are what a model is measured on, so training on them would void its measurements.
    """
    from curator.dedup.decontam import ScanText, suite_evalsets
    from curator.models import record_text_fields

    names = list(dict.fromkeys([*spec.decontaminate, *suite_evalsets(db)]))
    if not names:
        return {}, None
    known = {r[0] for r in db.execute("SELECT name FROM evalsets")}
    for i, name in enumerate(spec.decontaminate):
        if name not in known:
            raise SpecError(f"{where}: decontaminate[{i}]: no eval set named {name!r} (see `curator evalset list`)")
    total = db.execute(f"SELECT count(*) FROM examples e WHERE {live_sql()}").fetchone()[0]
    result = scan(db, names, lambda done: progress("decontaminate", done, total))
    entries: list[tuple[str, int, list[tuple[str, str]]]] = []
    for i, text in enumerate(pools.system_prompts):
        entries.append(("system_prompts", i, [("system", text)]))
    for i, tool in enumerate(pools.tools):
        entries.append(("tools", i, record_text_fields({"tools": [tool.model_dump(mode="json")]})))
    if entries:
        scanned: list[tuple[str, ScanText]] = [(str(n), fields) for n, (_, _, fields) in enumerate(entries)]
        for flag in result.index.scan(scanned, result.common):
            pool, at, _ = entries[int(flag.id)]
            file = pools.files[pool].path
            numbers = pools.lines.get(pool, [])
            line = numbers[at] if at < len(numbers) else at + 1
            what = "system prompt" if pool == "system_prompts" else f"tool ({flag.field.split('.', 1)[-1]})"
            raise SpecError(
                f"{where}: diversify.{pool}: {file}:{line}: {what} overlaps eval set {flag.evalset} item "
                f'{flag.item} ({flag.rule}): "{flag.span[:80]}"; remove the entry from the pool'
            )
    out: dict[str, str] = {}
    excluded: list[dict[str, Any]] = []
    for f in result.flags:
        if f.id not in records or f.id in out:
            continue
        out[f.id] = f"overlaps eval set {f.evalset} item {f.item} in {f.field} ({f.rule}, score {f.score:g})"
        excluded.append({**f.to_json(), "status": records[f.id].status})
    account = {
        "evalsets": names,
        "checked": result.checked,
        "excluded": excluded,
        "pool_entries_checked": len(entries),
        "discount": result.summary(),
    }
    return out, account


def _clusters(db: Database, mode: str, progress: Progress, near: ClustersFn) -> list[tuple[list[str], str | None]]:
    """Duplicate clusters as (member ids, representative or None)."""
    if mode == "off":
        return []
    if mode == "exact":
        rows = db.execute(
            f"SELECT group_concat(id, char(31)) FROM examples e WHERE {live_sql()} "
            "GROUP BY norm_hash HAVING count(*) > 1"
        ).fetchall()
        return [(sorted(r[0].split("\x1f")), None) for r in rows]
    report = near(db, lambda done, total: progress("dedup", done, total))
    return [(list(c.ids), c.representative) for c in report.clusters]


def _dedup(
    clusters: list[tuple[list[str], str | None]],
    splits: Mapping[str, str],
    records: Mapping[str, Meta],
    created_at: Callable[[Sequence[str]], dict[str, str]],
) -> dict[str, str]:
    """Record id -> reason for all but one record of each cluster.

    The kept record comes from the cluster's strongest split, so a train record is never the
    duplicate of an eval or heldout one: the train copies are the ones dropped. Within it, the
    cluster's representative, else an approved record before others, then the oldest, then the
    smallest id (`created_at` gives the dates of the records that need them).
    """
    from curator.mixture.split import STRENGTH

    chosen: list[tuple[list[str], str | list[str]]] = []  # (members here, kept id or the pool to pick from)
    for members, rep in clusters:
        mine = [m for m in members if m in splits]
        if len(mine) < 2:
            continue
        strongest = max(STRENGTH[splits[m]] for m in mine)
        pool = [m for m in mine if STRENGTH[splits[m]] == strongest]
        chosen.append((mine, rep if rep in pool else pool))
    dated = created_at(sorted({m for _, keep in chosen if isinstance(keep, list) for m in keep}))
    out: dict[str, str] = {}
    for mine, pick in chosen:
        if isinstance(pick, str):
            keep = pick
        else:
            keep = min(pick, key=lambda m: (records[m].status != "approved", dated[m], m))
        for m in mine:
            if m != keep:
                where = "" if splits[keep] == "train" else f" ({splits[keep]} record)"
                out[m] = f"duplicate of {keep}{where}"
    return out


def unusable_reason(ex: Example) -> str | None:
    """Why a stored record cannot become a valid line in every format (None when it can)."""
    if ex.messages is None:
        return None
    if ex.messages[-1].role != "assistant":
        return "dialogue ends with a user turn (nothing to train on)"
    for i, msg in enumerate(ex.messages):
        if isinstance(msg.content, str):
            empty = not msg.content.strip()
        else:
            empty = not any(not isinstance(b, TextBlock) or b.text.strip() for b in msg.content)
        if empty:
            return f"messages[{i}] is empty"
    return None


def local_scan(db: Database, evalsets: list[str], progress: Callable[[int], None]) -> ScanResult:
    """The local decontamination pass over the whole live corpus (`curator decontam`'s)."""
    from curator.dedup.decontam import scan_workspace

    return scan_workspace(db, evalsets, workers=None, progress=progress)


def local_clusters(db: Database, progress: Callable[[int, int], None]) -> ClusterReport:
    """The local near-duplicate clusters (`curator dedup clusters`')."""
    from curator.dedup.engine import DedupEngine

    return DedupEngine.load(db).clusters(progress=progress)


@dataclass(frozen=True)
class PlanSteps:
    """Where the plan's corpus-wide steps run: the local engine's by default.

    Another engine (the distributed one) passes its own steps, each returning exactly what the
    local one returns, so the decisions made from them on this side are the same code.
    """

    load: LoadFn = _load_records
    """(db, statuses, progress) -> each loaded record's Meta by id (sorted), unusable ones' reasons.
    The plan owns both dicts: it removes the records it excludes from the first."""
    excluded_by_status: Callable[[Database, list[str]], StatusExclusions] = _status_exclusions
    """(db, statuses) -> the live records whose status is not exported (counted; listed on demand)."""
    scan: ScanFn = local_scan
    """The decontamination pass (`ScanResult`) over the live corpus for the named eval sets."""
    clusters: ClustersFn = local_clusters
    """The near-duplicate clusters (`ClusterReport`) of `dedup = "near"`."""
    cost: CostFn | None = None
    """Counted-format tokens of (record, repeat), counted beforehand; None: rendered and counted
    here, from records read from the database."""
    cell_available: Callable[[Sequence[Candidate]], dict[tuple[str, str], float]] | None = None
    """Each kind x clause cell's available tokens over the train candidates; None: summed by
    `allocate` itself."""


LOCAL = PlanSteps()


def plan_export(
    db: Database,
    spec: MixtureSpec,
    out_dir: Path | None = None,
    *,
    progress: Progress | None = None,
    steps: PlanSteps = LOCAL,
) -> ExportPlan:
    """Decide everything about an export (reads only).

    Pool paths resolve against `spec.base_dir`; errors name `spec.source` and the key. `steps`
    says where the corpus-wide steps run (see `PlanSteps`).
    """
    report = progress or _noop
    where = spec.source
    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    target = paths.safe_child(out, spec.name)
    pools = load_pools(
        spec.diversify.system_prompts, spec.diversify.tools, spec.diversify.extra_tools, spec.base_dir, where
    )
    version = current_version(db)
    clauses = current_clauses(db)
    parents = {c.id: c.parent for c in clauses}
    for i, clause in enumerate(spec.split.heldout_clauses):
        if clause not in parents:
            raise SpecError(
                f"{where}: split.heldout_clauses[{i}]: unknown clause {clause!r} (not in the current constitution)"
            )
    heldout = expand_heldout(spec.split.heldout_clauses, parents)

    # `eligible` starts as every loaded record and loses the excluded ones in place as each step
    # excludes them: a million records' Metas are never held in two dicts
    eligible, reasons = steps.load(db, list(spec.statuses), report)
    by_status = steps.excluded_by_status(db, list(spec.statuses))
    eligible.drop(reasons)  # what is left is usable
    contaminated, decontamination = _decontaminate(db, spec, where, eligible, pools, report, steps.scan)
    reasons.update(contaminated)
    eligible.drop(contaminated)

    lock_file = lock_path(target.parent, spec.name)
    lock = SplitLock.read(lock_file)
    split_result = assign_splits(
        _SplitInputs(eligible),
        by=spec.split.by,
        salt=spec.split.salt,
        eval_fraction=spec.split.eval_fraction,
        heldout=heldout,
        lock=lock,
    )
    clusters = _clusters(db, spec.dedup, report, steps.clusters)
    dupes = _dedup(clusters, split_result.splits, eligible, lambda ids: created_times(db, ids))
    del clusters
    reasons.update(dupes)
    if spec.counted_format in PREFERENCE_FORMATS:
        # the budget counts pair tokens: a record without pairs would cost nothing and fill no budget
        reasons.update(
            {
                k: f"no preference pairs (the budget is counted on {spec.counted_format})"
                for k, v in eligible.items()
                if k not in dupes and not v.pairs
            }
        )
    eligible.drop(reasons)
    exported = Records(db, eligible, contrast=spec.contrast)
    counts = split_counts(
        (split_result.splits[r.id], split_key(r.id, r.group, spec.split.by)) for r in eligible.split_inputs()
    )
    warnings = split_warnings(
        counts, eval_fraction=spec.split.eval_fraction, heldout_requested=bool(spec.split.heldout_clauses)
    )
    if warnings and spec.strict:
        raise SpecError(f"{where}: split: {warnings[0]} (strict = true)")
    excluded = Exclusions(by_status, reasons)

    fmt = spec.counted_format
    counter = counter_for(fmt, spec.token_counter)
    drawer = Drawer(pools, spec.seed)
    plan = ExportPlan(
        spec=spec,
        out_dir=out,
        target=target,
        lock_file=lock_file,
        constitution=version,
        pools=pools,
        records=exported,
        split_result=split_result,
        excluded=excluded,
        allocation=Allocation({}, [], []),
        lines=[],
        counter=counter,
        costs=LineCosts(),
        lock=lock,
        drawer=drawer,
        split_counts=counts,
        warnings=[f"split: {w}" for w in warnings],
        decontamination=decontamination,
    )

    counted = steps.cost

    def cost(record_id: str, repeat: int) -> int:
        """Each candidate's repeat 0 (kept in its `Candidate`), then each repeat the fill picks."""
        if counted is not None:
            return counted(record_id, repeat)
        # a candidate's draw is not kept: most candidates make no line
        draw = meta_draw(drawer, record_id, exported.meta[record_id], repeat)
        return line_cost(fmt, exported[record_id], draw, spec.rationale, repeat, counter)

    train = [k for k in exported if split_result.splits[k] == "train"]
    candidates = Candidates()
    with gc_paused():
        # the local engine reads the records a chunk at a time; counted costs need no record
        for chunk in exported.chunks(train) if counted is None else [train]:
            for rid in chunk:
                m = exported.meta[rid]
                candidates.add(rid, m.kind, m.clauses, cost(rid, 0))
                i = len(candidates) - 1
                if i % 1000 == 999 or i + 1 == len(train):
                    report("count", i + 1, len(train))
    if not candidates:
        raise CuratorError(
            f"{where}: nothing to export: no train records with statuses {', '.join(spec.statuses)} "
            f"({len(excluded)} excluded, {len(exported)} in eval or heldout)"
        )
    try:
        plan.allocation = allocate(
            candidates,
            cost,
            budget=spec.budget_tokens,
            shares={k: spec.share(k) for k in KINDS},
            kinds=KINDS,
            max_epochs=spec.max_epochs,
            balance=spec.balance,
            strict=spec.strict,
            seed=spec.seed,
            available=steps.cell_available(candidates) if steps.cell_available is not None else None,
        )
    except ShortfallError as err:
        raise SpecError(f"{where}: kinds.{err.kind}: {err}") from None
    report("allocate", 1, 1)
    del candidates, train  # a million records' candidates: the picked lines' counts are kept
    plan.costs = LineCosts.of(plan.allocation.picks, plan.allocation.costs)
    plan.allocation.costs = []

    seed = spec.seed
    meta = exported.meta
    train_lines = [Line("train", rid, meta[rid].kind, meta[rid].clauses, rep) for rid, rep in plan.allocation.picks]
    plan.allocation.picks = []  # the train lines are the picks (shuffled): not held twice
    train_lines.sort(key=lambda ln: _sha(seed, "shuffle", ln.id, ln.repeat))
    rest: list[Line] = []
    for split in ("eval", "heldout"):
        ids = [k for k in exported if split_result.splits[k] == split]
        ids.sort(key=lambda rid: _sha(seed, "shuffle", rid, 0))
        rest += [Line(split, rid, meta[rid].kind, meta[rid].clauses, 0) for rid in ids]
    plan.lines = train_lines + rest
    plan.lock = updated_lock(lock, split_result, exported)
    plan.pool_draws = pool_draws(plan)
    plan.warnings += pool_warnings(plan.pool_draws)
    return plan


def pool_draws(plan: ExportPlan) -> dict[str, dict[str, Any]]:
    """Per pool: draws of each entry over every exported line, and the records no entry fitted.

    `no_fit` counts the records (and lines) that were owed a draw (an advice or agentic record
    without its own system prompt; an agentic record, for tools) and got nothing because no tagged
    entry shares their tags and the pool has no generic entry; `short` (tools) those that got fewer
    than `extra_tools`.
    """
    pools = plan.pools
    out: dict[str, dict[str, Any]] = {}
    if pools.system_prompts:
        keys = pools.keys.get("system_prompts") or [f"entry {i + 1}" for i in range(len(pools.system_prompts))]
        counts = dict.fromkeys(keys, 0)
        missed: set[str] = set()
        lines = 0
        for line in plan.lines:
            if line.kind not in ("advice", "agentic") or plan.records.meta[line.id].system:
                continue
            d = plan.draw(line.id, line.repeat)
            if d.prompt is None:
                missed.add(line.id)
                lines += 1
            else:
                counts[keys[d.prompt]] += 1
        out["system_prompts"] = {
            "tagged": sum(1 for t in pools.tags.get("system_prompts", []) if t),
            "draws": counts,
            "no_fit": {"records": len(missed), "lines": lines},
        }
    if pools.tools and pools.extra_tools:
        tool_counts = dict.fromkeys((t.name for t in pools.tools), 0)
        none: set[str] = set()
        short: set[str] = set()
        none_lines = short_lines = 0
        for line in plan.lines:
            if line.kind != "agentic":
                continue
            extra = plan.draw(line.id, line.repeat).extra_tools
            for t in extra:
                tool_counts[t.name] += 1
            if not extra:
                none.add(line.id)
                none_lines += 1
            elif len(extra) < pools.extra_tools:
                short.add(line.id)
                short_lines += 1
        out["tools"] = {
            "tagged": sum(1 for t in pools.tags.get("tools", []) if t),
            "draws": tool_counts,
            "no_fit": {"records": len(none), "lines": none_lines},
            "short": {"records": len(short), "lines": short_lines},
        }
    return out


def pool_warnings(draws: dict[str, dict[str, Any]]) -> list[str]:
    """What the trainer should know about records the pools could not serve."""
    out: list[str] = []
    for pool, what in (("system_prompts", "system prompt"), ("tools", "distractor tool")):
        miss = draws.get(pool, {}).get("no_fit", {})
        if miss.get("records"):
            n = miss["records"]
            out.append(
                f"pools: {n:,} record{'' if n == 1 else 's'} ({miss['lines']:,} lines) got no {what}: no entry "
                f"of diversify.{pool} is tagged with one of their tags and the pool has no untagged entry"
            )
    return out


def draw_for(plan: ExportPlan, line: Line) -> Draw:
    """The draw for a line (no draw for kinds that are not diversified)."""
    if line.kind not in ("advice", "agentic"):
        return NO_DRAW
    return plan.draw(line.id, line.repeat)
