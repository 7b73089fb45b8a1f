"""`curator export --engine ray`: the export's per-record work on Ray Data, its decisions on the driver.

1. *count* (`map_batches` over the snapshot's `record` column): each live record's `Meta`
   (`plan.record_meta`), why it cannot make a line (`plan.unusable_reason`) and its tokens in the
   counted format at every repeat the allocation may ask for (`plan.repeat_costs`, which calls
   `plan.line_cost`, the local engine's count);
2. *plan* (driver): `plan.plan_export` itself, fed from (1) through `PlanSteps`: the same split,
   decontamination, dedup and allocation code. Decontamination and near-duplicate clusters are
   the `scan` and `clusters` hooks (the local engine's by default); each kind x clause cell's
   available tokens come from a `groupby(kind, clause).map_groups` over the train candidates, each
   group summed in id order by `allocate.cell_available`;
3. *render* (`map_batches` over the records again): every planned line in every format
   (`write.render_line`, `write.encode_line`), the planned lines by record id broadcast with
   `ray.put`;
4. *write* (driver): the encoded lines sorted by (format, plan line index) and handed to
   `write.write_export`, which writes aside, checksums and renames into place as the local engine.

Nothing here decides an order: stage outputs are sorted on the driver by explicit keys, so the
folder is the local engine's, byte for byte, whatever the blocks, workers or input order.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curator.columnar import read_manifest
from curator.dedup.decontam import ScanResult
from curator.dedup.engine import ClusterReport
from curator.distributed.clusters import clusters_report
from curator.distributed.decontam import scan_snapshot
from curator.distributed.runtime import fetched, read_records, snapshot_folder, start
from curator.errors import CuratorError
from curator.gcpause import gc_paused
from curator.mixture.allocate import Candidate, cell_available
from curator.mixture.counters import counter_for
from curator.mixture.formats import with_contrast
from curator.mixture.plan import (
    ClustersFn,
    ExportPlan,
    Meta,
    MetaTable,
    PlanSteps,
    Progress,
    ScanFn,
    StatusExclusions,
    meta_draw,
    plan_export,
    record_meta,
    repeat_costs,
    status_exclusions,
    unusable_reason,
)
from curator.mixture.pools import Drawer, Pools, load_pools
from curator.mixture.spec import MixtureSpec
from curator.mixture.validate import FormatError
from curator.mixture.write import (
    Encoded,
    EncodeFn,
    ExportResult,
    database_file,
    encode_line,
    refuse_existing,
    render_line,
    write_export,
)
from curator.models import Example
from curator.store.db import read_snapshot, scan_cache

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data
    from sqlite_utils import Database

    from curator.store.db import Workspace


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


def _tables(ds: ray.data.Dataset) -> Iterator[Any]:
    """A dataset's blocks as pyarrow Tables, in the order Ray hands them (callers sort)."""
    yield from ds.iter_batches(batch_format="pyarrow", batch_size=None)


def _udf(fn: Callable[..., Any]) -> Any:
    """A batch function taking `fn_kwargs` beside the batch (Ray's stubs expect the batch only)."""
    return fn


# ---------------------------------------------------------------------------
# What workers are given
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Work:
    """What every worker needs of the spec (broadcast once with `ray.put`)."""

    statuses: tuple[str, ...]
    formats: tuple[str, ...]
    counted: str
    token_counter: str
    rationale: str
    contrast: bool
    seed: int
    max_epochs: int
    pools: Pools
    lines: dict[str, list[tuple[int, int, int | None]]]
    """Render stage: record id -> its plan lines as (index in plan.lines, repeat, the plan's
    counted-format tokens or None)."""


def _exported(ex: Example, work: _Work) -> Example:
    return with_contrast(ex) if work.contrast else ex


def _records(folder: Path, blocks: int | None) -> ray.data.Dataset:
    """The columns both map stages read, in `blocks` blocks, held in the object store for both."""
    ds = read_records(folder, blocks=blocks).select_columns(["id", "status", "deleted", "record"])
    held: ray.data.Dataset = ds.materialize()
    return held


# ---------------------------------------------------------------------------
# Stage 1: count
# ---------------------------------------------------------------------------


def _count_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("status", pa.string()),
            ("loaded", pa.bool_()),
            ("kind", pa.string()),
            ("group", pa.string()),
            ("clauses", pa.list_(pa.string())),
            ("system", pa.bool_()),
            ("tools", pa.list_(pa.string())),
            ("tags", pa.list_(pa.string())),
            ("pairs", pa.int64()),
            ("unusable", pa.string()),
            ("costs", pa.list_(pa.int64())),
            ("error", pa.string()),
        ]
    )


def _count_batch(batch: pa.Table, work: tuple[Any]) -> pa.Table:
    """Stage 1 on a worker: every live record's plan inputs (deleted records make no row)."""
    import pyarrow as pa

    spec: _Work = fetched(work[0])
    drawer = Drawer(spec.pools, spec.seed)
    counter = counter_for(spec.counted, spec.token_counter)
    schema = _count_schema()
    cols: dict[str, list[Any]] = {name: [] for name in schema.names}
    shared: dict[Any, Any] = {}
    for rid, status, deleted, record in zip(
        batch["id"].to_pylist(),
        batch["status"].to_pylist(),
        batch["deleted"].to_pylist(),
        batch["record"].to_pylist(),
        strict=True,
    ):
        if deleted:
            continue
        row: dict[str, Any] = dict.fromkeys(schema.names)
        row.update(id=rid, status=status, loaded=status in spec.statuses, clauses=[], tools=[], tags=[], costs=[])
        if row["loaded"]:
            ex = Example.model_validate_json(record)
            m = record_meta(ex, shared)
            why = unusable_reason(ex)
            row.update(
                kind=m.kind,
                group=m.group,
                clauses=list(m.clauses),
                system=m.system,
                tools=sorted(m.tools),
                tags=sorted(m.tags),
                pairs=m.pairs,
                unusable=why,
            )
            if why is None:
                try:
                    row["costs"] = repeat_costs(
                        spec.counted, _exported(ex, spec), m, drawer, spec.rationale, counter, spec.max_epochs
                    )
                except Exception as err:  # kept: only a record the plan goes on to count must fail the export
                    row["error"] = f"{type(err).__name__}: {err}"
        for name in schema.names:
            cols[name].append(row[name])
    return pa.Table.from_pydict(cols, schema=schema)


@dataclass
class _Counted:
    """Stage 1's result, gathered on the driver."""

    meta: MetaTable
    unusable: dict[str, str]
    statuses: list[tuple[str, str]]
    costs: dict[str, list[int]]
    errors: dict[str, str]

    def load(self, _db: Database, _statuses: list[str], report: Progress) -> tuple[MetaTable, dict[str, str]]:
        report("load", 1, 1)
        return self.meta, self.unusable

    def excluded_by_status(self, _db: Database, statuses: list[str]) -> StatusExclusions:
        return status_exclusions(self.statuses, statuses)

    def cost(self, record_id: str, repeat: int) -> int:
        costs = self.costs.get(record_id)
        if costs is None or repeat >= len(costs):
            why = self.errors.get(record_id, "no count was made for it")
            raise CuratorError(f"{record_id} (repeat {repeat}): cannot count its tokens: {why}")
        return costs[repeat]


def _gather_counts(counted: ray.data.Dataset) -> _Counted:
    """Stage 1's rows into the plan's inputs, sorted by id (arrival order decides nothing)."""
    intern = sys.intern
    shared: dict[Any, Any] = {}
    meta: dict[str, Meta] = {}
    unusable: dict[str, str] = {}
    statuses: list[tuple[str, str]] = []
    costs: dict[str, list[int]] = {}
    errors: dict[str, str] = {}
    for batch in _tables(counted):
        for r in batch.to_pylist():
            rid = r["id"]
            statuses.append((rid, r["status"]))
            if not r["loaded"]:
                continue
            clauses = tuple(intern(c) for c in r["clauses"])
            tools = frozenset(r["tools"])
            tags = frozenset(r["tags"])
            meta[rid] = Meta(
                intern(r["kind"]),
                intern(r["status"]),
                intern(r["group"]) if r["group"] else r["group"],
                shared.setdefault(clauses, clauses),
                r["system"],
                shared.setdefault(tools, tools),
                shared.setdefault(tags, tags),
                r["pairs"],
            )
            if r["unusable"] is not None:
                unusable[rid] = r["unusable"]
            if r["error"] is not None:
                errors[rid] = r["error"]
            else:
                costs[rid] = r["costs"]
    statuses.sort()
    return _Counted(MetaTable.of(sorted(meta.items())), dict(sorted(unusable.items())), statuses, costs, errors)


# ---------------------------------------------------------------------------
# Stage 2: the cells' available tokens (groupby)
# ---------------------------------------------------------------------------


def _cell_rows(batch: pa.Table, train: tuple[Any]) -> pa.Table:
    """One row per (train record, linked clause): the cell it is credited to, its cost, its links."""
    import pyarrow as pa

    from curator.mixture.allocate import NO_CLAUSE

    wanted: frozenset[str] = fetched(train[0])
    cols: dict[str, list[Any]] = {"kind": [], "clause": [], "id": [], "cost": [], "linked": []}
    for rid, kind, clauses, costs in zip(
        batch["id"].to_pylist(),
        batch["kind"].to_pylist(),
        batch["clauses"].to_pylist(),
        batch["costs"].to_pylist(),
        strict=True,
    ):
        if rid not in wanted:
            continue
        linked = clauses or [NO_CLAUSE]
        for clause in linked:
            cols["kind"].append(kind)
            cols["clause"].append(clause)
            cols["id"].append(rid)
            cols["cost"].append(costs[0])
            cols["linked"].append(len(linked))
    schema = pa.schema(
        [
            ("kind", pa.string()),
            ("clause", pa.string()),
            ("id", pa.string()),
            ("cost", pa.int64()),
            ("linked", pa.int64()),
        ]
    )
    return pa.Table.from_pydict(cols, schema=schema)


def _sum_cell(group: pa.Table) -> pa.Table:
    """One cell's available tokens: its members sorted by id, summed as the local engine sums them."""
    import pyarrow as pa

    ordered = group.sort_by([("id", "ascending")])
    total = cell_available(zip(ordered["cost"].to_pylist(), ordered["linked"].to_pylist(), strict=True))
    return pa.table(
        {"kind": [group["kind"][0].as_py()], "clause": [group["clause"][0].as_py()], "available": [total]},
        schema=pa.schema([("kind", pa.string()), ("clause", pa.string()), ("available", pa.float64())]),
    )


def _cells(counted: ray.data.Dataset) -> Callable[[Sequence[Candidate]], dict[tuple[str, str], float]]:
    """`PlanSteps.cell_available` on Ray: a groupby over the train candidates' stage-1 rows."""

    def available(candidates: Sequence[Candidate]) -> dict[tuple[str, str], float]:
        import ray
        from ray.data.context import ShuffleStrategy

        train = ray.put(frozenset(c.id for c in candidates))
        rows = counted.map_batches(_udf(_cell_rows), batch_format="pyarrow", fn_kwargs={"train": (train,)})
        # a sort-based shuffle runs as tasks; the default hash shuffle starts aggregator actors that
        # hold CPUs (and stall the next stage on a small cluster) to move a few small rows per record.
        # The context is this dataset's own copy: nothing else is changed.
        rows.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        sums = rows.groupby(["kind", "clause"]).map_groups(_sum_cell, batch_format="pyarrow")
        out: dict[tuple[str, str], float] = {}
        for batch in _tables(sums):
            for r in batch.to_pylist():
                out[(r["kind"], r["clause"])] = r["available"]
        return dict(sorted(out.items()))

    return available


# ---------------------------------------------------------------------------
# Stage 3: render
# ---------------------------------------------------------------------------


def _render_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("format", pa.int64()),
            ("index", pa.int64()),
            ("rows", pa.list_(pa.binary())),
            ("tokens", pa.int64()),
            ("error", pa.string()),
        ]
    )


def _render_batch(batch: pa.Table, work: tuple[Any]) -> pa.Table:
    """Stage 3 on a worker: every plan line of this batch's records, in every format."""
    import pyarrow as pa

    spec: _Work = fetched(work[0])
    drawer = Drawer(spec.pools, spec.seed)
    counters = [counter_for(fmt, spec.token_counter) for fmt in spec.formats]
    schema = _render_schema()
    cols: dict[str, list[Any]] = {name: [] for name in schema.names}
    shared: dict[Any, Any] = {}
    for rid, record in zip(batch["id"].to_pylist(), batch["record"].to_pylist(), strict=True):
        lines = spec.lines.get(rid)
        if not lines:
            continue
        ex = Example.model_validate_json(record)
        m = record_meta(ex, shared)
        exported = _exported(ex, spec)
        for index, repeat, cached in lines:
            draw = meta_draw(drawer, rid, m, repeat)
            for k, fmt in enumerate(spec.formats):
                data: list[bytes] = []
                tokens = 0
                error = None
                try:
                    made = render_line(fmt, exported, draw, spec.rationale, repeat)
                    data, tokens = encode_line(fmt, made, counters[k], cached if fmt == spec.counted else None)
                except FormatError as err:
                    error = str(err)
                for name, value in zip(schema.names, (k, index, data, tokens, error), strict=True):
                    cols[name].append(value)
    return pa.Table.from_pydict(cols, schema=schema)


def _render(records: ray.data.Dataset, plan: ExportPlan, work: _Work) -> dict[str, list[tuple[list[bytes], int]]]:
    """Stage 3: every format's encoded lines, in plan order (sorted by format and line index here)."""
    import ray

    lines: dict[str, list[tuple[int, int, int | None]]] = {}
    for i, line in enumerate(plan.lines):
        cached = plan.costs.get((line.id, line.repeat))  # used for the counted format only, as locally
        lines.setdefault(line.id, []).append((i, line.repeat, cached))
    ref = ray.put(replace(work, lines=lines))
    rendered = records.map_batches(_udf(_render_batch), batch_format="pyarrow", fn_kwargs={"work": (ref,)})
    got: list[tuple[int, int, list[bytes], int, str | None]] = []
    for batch in _tables(rendered):
        got += zip(
            batch["format"].to_pylist(),
            batch["index"].to_pylist(),
            batch["rows"].to_pylist(),
            batch["tokens"].to_pylist(),
            batch["error"].to_pylist(),
            strict=True,
        )
    got.sort(key=lambda g: (g[0], g[1]))
    for _, _, _, _, error in got:  # the first bad line in the order the local engine writes them
        if error is not None:
            raise FormatError(error)
    formats = plan.spec.formats
    total = len(plan.lines)
    out: dict[str, list[tuple[list[bytes], int]]] = {fmt: [] for fmt in formats}
    for k, index, data, tokens, _ in got:
        mine = out[formats[k]]
        if index != len(mine):
            raise CuratorError(f"render: {formats[k]} line {index + 1} of {total} came back twice or not at all")
        mine.append((data, tokens))
    for fmt, mine in out.items():
        if len(mine) != total:
            raise CuratorError(f"render: {fmt}: {len(mine)} of {total} lines came back")
    return out


def _encoded(rendered: dict[str, list[tuple[list[bytes], int]]]) -> EncodeFn:
    """The writer's `EncodeFn` over lines the workers rendered."""

    def encode(plan: ExportPlan, fmt: str, report: Progress) -> Iterator[Encoded]:
        total = len(plan.lines)
        for n, (line, (data, tokens)) in enumerate(zip(plan.lines, rendered[fmt], strict=True), start=1):
            yield line, data, tokens
            if n % 5000 == 0 or n == total:
                report(f"render:{fmt}", n, total)

    return encode


# ---------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------


@dataclass
class StageTimes:
    """Wall seconds per stage (for benchmarks)."""

    seconds: dict[str, float]

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - began, 4)


def export_on_ray(
    ws: Workspace,
    spec: MixtureSpec,
    out_dir: Path | None = None,
    *,
    address: str | None = None,
    blocks: int | None = None,
    snapshot: Path | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    scan: ScanFn | None = None,
    clusters: ClustersFn | None = None,
) -> tuple[ExportResult, dict[str, float]]:
    """`export_from_spec` on Ray Data: the same plan and, unless `dry_run`, the same folder.

    `scan` and `clusters` are the decontamination pass and the near-duplicate clusters: by
    default on Ray over the same snapshot (`decontam --engine ray`'s and `dedup clusters --engine
    ray`'s), or the functions given (e.g. the local engine's, on the driver). Returns the result
    and wall seconds per stage (`snapshot`, `count`, `plan` (with `cells`, the groupby, and
    `decontam`), `render`, `write`).
    """
    report = progress or _noop
    db = ws.db
    times = StageTimes({})
    if not dry_run:
        refuse_existing(spec, out_dir, force=force)
    ray = start(address)
    with ExitStack() as stack:
        with times.stage("snapshot"):
            folder = stack.enter_context(snapshot_folder(ws, snapshot))
        # one read snapshot: what the driver reads (eval sets, clauses, clusters) is what was snapshotted
        stack.enter_context(read_snapshot(db))
        stack.enter_context(scan_cache(db))
        stack.enter_context(gc_paused())
        newest = db.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]
        if read_manifest(folder).get("audit_event") != newest:
            raise CuratorError(f"{folder}: the workspace changed while its snapshot was read; run the export again")
        pools = load_pools(
            spec.diversify.system_prompts, spec.diversify.tools, spec.diversify.extra_tools, spec.base_dir, spec.source
        )
        work = _Work(
            statuses=tuple(spec.statuses),
            formats=tuple(spec.formats),
            counted=spec.counted_format,
            token_counter=spec.token_counter,
            rationale=spec.rationale,
            contrast=spec.contrast,
            seed=spec.seed,
            max_epochs=spec.max_epochs,
            pools=pools,
            lines={},
        )
        with times.stage("count"):
            records = _records(folder, blocks)
            counted = records.map_batches(
                _udf(_count_batch), batch_format="pyarrow", fn_kwargs={"work": (ray.put(work),)}
            ).materialize()
            inputs = _gather_counts(counted)
        cells = _cells(counted)

        def timed_cells(candidates: Sequence[Candidate]) -> dict[tuple[str, str], float]:
            with times.stage("cells"):
                return cells(candidates)

        def ray_scan(_db: Database, evalsets: list[str], _progress: Callable[[int], None]) -> ScanResult:
            with times.stage("decontam"):
                result, _ = scan_snapshot(folder, evalsets, None, blocks)
            return result

        def ray_clusters(_db: Database, _progress: Callable[[int, int], None]) -> ClusterReport:
            with times.stage("clusters"):
                report, _ = clusters_report(folder, None, blocks)
            return report

        steps = PlanSteps(
            load=inputs.load,
            excluded_by_status=inputs.excluded_by_status,
            scan=scan or ray_scan,
            clusters=clusters or ray_clusters,
            cost=inputs.cost,
            cell_available=timed_cells,
        )
        with times.stage("plan"):
            plan = plan_export(db, spec, out_dir, progress=report, steps=steps)
        if dry_run:
            result = ExportResult(plan, False)
        else:
            with times.stage("render"):
                rendered = _render(records, plan, work)
            with times.stage("write"):
                result = write_export(
                    plan, force=force, progress=report, db_path=database_file(db), encode=_encoded(rendered)
                )
    return result, times.seconds
