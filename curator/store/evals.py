"""Eval suites, runs, responses, gradings and verdicts: the rows and the queries over them.

The *effective* verdict of a (run, item, sample, clause) is the newest human verdict when a person
gave one, else the verdict of the grading asked for (by default the run's newest finished
grading). Nothing is overwritten: re-grading adds a grading, a person's override adds a row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from curator.errors import NotFoundError, UsageError
from curator.models import utc_now
from curator.store.audit import record_event

VERDICTS = ("complies", "violates", "unclear")

RUN_SUBMITTED = "submitted"
"""A run whose batch was sent and whose results are not in yet (running the command again resumes it)."""
RUN_COMPLETE = "complete"


def _public(row: Any) -> dict[str, Any]:
    """A row's fields as JSON, in field order, without the batch bookkeeping (`requests`)."""
    return {k: v for k, v in asdict(row).items() if k != "requests"}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class SuiteItem:
    """One eval prompt as stored: `prompt` holds `system`, `messages` and `tools` (the API's shape)."""

    id: str
    prompt: dict[str, Any]
    clauses: tuple[str, ...]
    rubric: str | None
    prompt_sha256: str
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **{k: v for k, v in self.prompt.items() if v is not None},
            "clauses": list(self.clauses),
            "rubric": self.rubric,
            "prompt_sha256": self.prompt_sha256,
        }


@dataclass(frozen=True)
class Run:
    id: str
    suite: str
    model: str
    params: dict[str, Any]
    source: str
    batch_id: str | None
    requests: dict[str, Any] | None
    status: str
    created_at: str
    completed_at: str | None
    actor: str

    def to_json(self) -> dict[str, Any]:
        return _public(self)


@dataclass(frozen=True)
class Response:
    run: str
    item: str
    sample: int
    response: str
    content: list[dict[str, Any]] | None
    error: str | None
    request_id: str | None
    prompt_sha256: str


@dataclass(frozen=True)
class Grading:
    id: int
    run: str
    judge: str
    """The judge model's name, or "human" for a grading made only of people's verdicts."""
    prompt_sha256: str | None
    batch_id: str | None
    requests: dict[str, Any] | None
    status: str
    created_at: str
    completed_at: str | None
    actor: str

    def to_json(self) -> dict[str, Any]:
        return _public(self)


@dataclass(frozen=True)
class Verdict:
    item: str
    sample: int
    clause: str
    verdict: str
    reason: str
    evidence: str
    human: bool
    actor: str
    created_at: str
    grading: int | None

    def to_json(self) -> dict[str, Any]:
        return _public(self)


# ---------------------------------------------------------------------------
# Suites
# ---------------------------------------------------------------------------


def suite_names(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM eval_suites ORDER BY name")]


def suite_exists(db: Database, name: str) -> bool:
    return db.execute("SELECT 1 FROM eval_suites WHERE name = ?", [name]).fetchone() is not None


def require_suite(db: Database, name: str) -> None:
    if not suite_exists(db, name):
        raise NotFoundError(f"no eval suite named {name!r} (see `curator eval suite list`)")


def list_suites(db: Database) -> list[dict[str, Any]]:
    """Every suite with its item, clause and run counts, by name."""
    rows = db.execute(
        """
        SELECT s.name, s.source, s.created_at, s.actor,
               (SELECT count(*) FROM eval_suite_items i WHERE i.suite = s.name),
               (SELECT count(*) FROM eval_runs r WHERE r.suite = s.name)
        FROM eval_suites s ORDER BY s.name
        """
    ).fetchall()
    out = []
    for name, source, created_at, actor, items, runs in rows:
        clauses = suite_clauses(db, name)
        out.append(
            {
                "name": name,
                "source": source,
                "created_at": created_at,
                "actor": actor,
                "items": items,
                "clauses": len(clauses),
                "runs": runs,
            }
        )
    return out


def suite_clauses(db: Database, name: str) -> set[str]:
    """Every clause some item of the suite probes (without reading the prompts)."""
    return {
        c
        for (raw,) in db.execute("SELECT clauses FROM eval_suite_items WHERE suite = ?", [name])
        for c in json.loads(raw)
    }


def suite_items(db: Database, name: str) -> list[SuiteItem]:
    rows = db.execute(
        "SELECT id, prompt, clauses, rubric, prompt_sha256, position FROM eval_suite_items "
        "WHERE suite = ? ORDER BY position",
        [name],
    ).fetchall()
    return [SuiteItem(i, json.loads(p), tuple(json.loads(c)), r, h, pos) for i, p, c, r, h, pos in rows]


def insert_suite(db: Database, name: str, source: str, items: list[SuiteItem], *, actor: str) -> None:
    """Store a new suite (call inside a transaction; the name must be free)."""
    if suite_exists(db, name):
        raise UsageError(f"an eval suite named {name!r} exists; remove it first or pick another name")
    db.execute(
        "INSERT INTO eval_suites (name, source, created_at, actor) VALUES (?, ?, ?, ?)",
        [name, source, utc_now(), actor],
    )
    db.conn.executemany(
        "INSERT INTO eval_suite_items (suite, id, position, prompt, clauses, rubric, prompt_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (name, it.id, pos, _dumps(it.prompt), _dumps(list(it.clauses)), it.rubric, it.prompt_sha256)
            for pos, it in enumerate(items)
        ],
    )
    record_event(
        db,
        actor=actor,
        action="eval-suite-add",
        entity="eval_suite",
        entity_id=name,
        after={"source": source, "items": len(items)},
    )


def answered_items(db: Database, suite: str) -> set[str]:
    """Items of a suite that some run answered: their prompt is what those answers answered."""
    rows = db.execute(
        "SELECT DISTINCT r.item FROM eval_responses r JOIN eval_runs u ON u.id = r.run WHERE u.suite = ?", [suite]
    )
    return {row[0] for row in rows}


def answered_refusal(suite: str, item_id: str, *, removing: bool = False) -> str:
    """Why an answered item cannot change (the TUI says it before asking, the writes refuse with it)."""
    if removing:
        return f"item {item_id!r} of suite {suite!r} has answers in a run; remove the run first"
    return (
        f"item {item_id!r} of suite {suite!r} has answers in a run; they answered this prompt, so it "
        "cannot change (add a new item instead)"
    )


def put_item(db: Database, suite: str, item: SuiteItem, *, actor: str, replace: str | None = None) -> None:
    """Add an item, or replace item `replace` (call inside a transaction; audited)."""
    require_suite(db, suite)
    existing = {i.id: i for i in suite_items(db, suite)}
    if item.id in existing and item.id != replace:
        raise UsageError(f"suite {suite!r} already has an item {item.id!r}")
    before = None
    if replace is not None:
        if replace not in existing:
            raise NotFoundError(f"no item {replace!r} in suite {suite!r}")
        if replace in answered_items(db, suite):
            raise UsageError(answered_refusal(suite, replace))
        before = existing[replace].to_json()
        position = existing[replace].position
        db.execute("DELETE FROM eval_suite_items WHERE suite = ? AND id = ?", [suite, replace])
    else:
        position = max((i.position for i in existing.values()), default=-1) + 1
    db.execute(
        "INSERT INTO eval_suite_items (suite, id, position, prompt, clauses, rubric, prompt_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [suite, item.id, position, _dumps(item.prompt), _dumps(list(item.clauses)), item.rubric, item.prompt_sha256],
    )
    record_event(
        db,
        actor=actor,
        action="eval-item-edit" if replace is not None else "eval-item-add",
        entity="eval_suite",
        entity_id=suite,
        before=before,
        after=item.to_json(),
    )


def delete_item(db: Database, suite: str, item_id: str, *, actor: str) -> None:
    """Remove an item no run answered (call inside a transaction; audited)."""
    existing = {i.id: i for i in suite_items(db, suite)}
    if item_id not in existing:
        raise NotFoundError(f"no item {item_id!r} in suite {suite!r}")
    if item_id in answered_items(db, suite):
        raise UsageError(answered_refusal(suite, item_id, removing=True))
    db.execute("DELETE FROM eval_suite_items WHERE suite = ? AND id = ?", [suite, item_id])
    record_event(
        db,
        actor=actor,
        action="eval-item-remove",
        entity="eval_suite",
        entity_id=suite,
        before=existing[item_id].to_json(),
    )


def delete_suite(db: Database, name: str, *, actor: str) -> None:
    """Remove a suite that has no runs (call inside a transaction)."""
    require_suite(db, name)
    runs = db.execute("SELECT count(*) FROM eval_runs WHERE suite = ?", [name]).fetchone()[0]
    if runs:
        raise UsageError(
            f"eval suite {name!r} has {runs} run(s) whose results would lose their prompts; "
            "remove the runs first (`curator eval run-remove RUN`)"
        )
    db.execute("DELETE FROM eval_suites WHERE name = ?", [name])
    record_event(db, actor=actor, action="eval-suite-remove", entity="eval_suite", entity_id=name)


# ---------------------------------------------------------------------------
# Runs and responses
# ---------------------------------------------------------------------------

_RUN_COLUMNS = "id, suite, model, params, source, batch_id, requests, status, created_at, completed_at, actor"


def _run(row: tuple[Any, ...]) -> Run:
    rid, suite, model, params, source, batch_id, requests, status, created_at, completed_at, actor = row
    return Run(
        rid,
        suite,
        model,
        json.loads(params),
        source,
        batch_id,
        json.loads(requests) if requests else None,
        status,
        created_at,
        completed_at,
        actor,
    )


def next_run_id(db: Database) -> str:
    """`run-N`, N one more than the highest used (ids are never reused, even after a removal)."""
    used = [r[0] for r in db.execute("SELECT id FROM eval_runs WHERE id LIKE 'run-%'")]
    numbers = [int(u[4:]) for u in used if u[4:].isdigit()]
    removed = db.execute(
        "SELECT entity_id FROM audit WHERE entity = 'eval_run' AND action = 'eval-run-remove'"
    ).fetchall()
    numbers += [int(r[0][4:]) for r in removed if r[0].startswith("run-") and r[0][4:].isdigit()]
    return f"run-{max(numbers, default=0) + 1}"


def get_run(db: Database, run_id: str) -> Run:
    row = db.execute(f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no eval run {run_id!r} (see `curator eval runs`)")
    return _run(row)


def list_runs(db: Database, suite: str | None = None) -> list[Run]:
    where, args = ("WHERE suite = ?", [suite]) if suite else ("", [])
    rows = db.execute(f"SELECT {_RUN_COLUMNS} FROM eval_runs {where} ORDER BY created_at, id", args).fetchall()
    return [_run(r) for r in rows]


def find_open_run(db: Database, suite: str, model: str, params: dict[str, Any]) -> Run | None:
    """A submitted, unfinished run of the same suite, model and parameters (the one to resume)."""
    rows = db.execute(
        f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE suite = ? AND model = ? AND status = ? ORDER BY id",
        [suite, model, RUN_SUBMITTED],
    ).fetchall()
    for row in rows:
        run = _run(row)
        if run.params == params:
            return run
    return None


def insert_run(
    db: Database,
    *,
    suite: str,
    model: str,
    params: dict[str, Any],
    source: str,
    actor: str,
    status: str,
    batch_id: str | None = None,
    requests: dict[str, Any] | None = None,
) -> Run:
    """A new run row (call inside a transaction); its id is `next_run_id`."""
    require_suite(db, suite)
    run_id = next_run_id(db)
    now = utc_now()
    db.execute(
        f"INSERT INTO eval_runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            suite,
            model,
            _dumps(params),
            source,
            batch_id,
            _dumps(requests) if requests is not None else None,
            status,
            now,
            now if status == RUN_COMPLETE else None,
            actor,
        ],
    )
    record_event(
        db,
        actor=actor,
        action="eval-run",
        entity="eval_run",
        entity_id=run_id,
        after={"suite": suite, "model": model, "params": params, "source": source, "batch_id": batch_id},
    )
    return get_run(db, run_id)


def complete_run(db: Database, run_id: str, *, actor: str) -> None:
    db.execute("UPDATE eval_runs SET status = ?, completed_at = ? WHERE id = ?", [RUN_COMPLETE, utc_now(), run_id])
    n = db.execute("SELECT count(*) FROM eval_responses WHERE run = ?", [run_id]).fetchone()[0]
    record_event(
        db, actor=actor, action="eval-run-complete", entity="eval_run", entity_id=run_id, after={"responses": n}
    )


def delete_run(db: Database, run_id: str, *, actor: str) -> None:
    """Remove a run with its responses, gradings and verdicts (call inside a transaction)."""
    run = get_run(db, run_id)
    db.execute("DELETE FROM eval_runs WHERE id = ?", [run_id])
    record_event(db, actor=actor, action="eval-run-remove", entity="eval_run", entity_id=run_id, before=run.to_json())


def insert_responses(db: Database, run_id: str, responses: Iterable[Response]) -> int:
    """Add responses to a run (call inside a transaction); a second response for a slot is refused."""
    now = utc_now()
    rows = [
        (
            run_id,
            r.item,
            r.sample,
            r.response,
            _dumps(r.content) if r.content is not None else None,
            r.error,
            r.request_id,
            r.prompt_sha256,
            now,
        )
        for r in responses
    ]
    db.conn.executemany(
        "INSERT INTO eval_responses (run, item, sample, response, content, error, request_id, prompt_sha256, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def responses(db: Database, run_id: str) -> list[Response]:
    rows = db.execute(
        "SELECT r.item, r.sample, r.response, r.content, r.error, r.request_id, r.prompt_sha256 "
        "FROM eval_responses r JOIN eval_runs u ON u.id = r.run "
        "LEFT JOIN eval_suite_items i ON i.suite = u.suite AND i.id = r.item "
        "WHERE r.run = ? ORDER BY i.position, r.item, r.sample",
        [run_id],
    ).fetchall()
    return [
        Response(run_id, item, sample, text, json.loads(content) if content else None, error, request_id, sha)
        for item, sample, text, content, error, request_id, sha in rows
    ]


def response_count(db: Database, run_id: str) -> tuple[int, int]:
    """(responses, of which failed) of a run."""
    total, failed = db.execute("SELECT count(*), count(error) FROM eval_responses WHERE run = ?", [run_id]).fetchone()
    return int(total), int(failed)


# ---------------------------------------------------------------------------
# Gradings and verdicts
# ---------------------------------------------------------------------------

_GRADING_COLUMNS = "id, run, judge, prompt_sha256, batch_id, requests, status, created_at, completed_at, actor"


def _grading(row: tuple[Any, ...]) -> Grading:
    gid, run, judge, sha, batch_id, requests, status, created_at, completed_at, actor = row
    return Grading(
        gid,
        run,
        judge,
        sha,
        batch_id,
        json.loads(requests) if requests else None,
        status,
        created_at,
        completed_at,
        actor,
    )


def gradings(db: Database, run_id: str) -> list[Grading]:
    rows = db.execute(f"SELECT {_GRADING_COLUMNS} FROM eval_gradings WHERE run = ? ORDER BY id", [run_id]).fetchall()
    return [_grading(r) for r in rows]


def get_grading(db: Database, grading_id: int) -> Grading:
    row = db.execute(f"SELECT {_GRADING_COLUMNS} FROM eval_gradings WHERE id = ?", [grading_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no grading {grading_id}")
    return _grading(row)


def latest_grading(db: Database, run_id: str) -> Grading | None:
    """The run's newest finished grading by a judge (None when no judge has graded it)."""
    row = db.execute(
        f"SELECT {_GRADING_COLUMNS} FROM eval_gradings WHERE run = ? AND status = ? ORDER BY id DESC LIMIT 1",
        [run_id, RUN_COMPLETE],
    ).fetchone()
    return _grading(row) if row else None


def find_open_grading(db: Database, run_id: str, judge: str, prompt_sha256: str) -> Grading | None:
    row = db.execute(
        f"SELECT {_GRADING_COLUMNS} FROM eval_gradings WHERE run = ? AND judge = ? AND prompt_sha256 = ? "
        "AND status = ? ORDER BY id LIMIT 1",
        [run_id, judge, prompt_sha256, RUN_SUBMITTED],
    ).fetchone()
    return _grading(row) if row else None


def insert_grading(
    db: Database,
    run_id: str,
    *,
    judge: str,
    prompt_sha256: str | None,
    actor: str,
    status: str,
    batch_id: str | None = None,
    requests: dict[str, Any] | None = None,
) -> Grading:
    """A new grading of a run (call inside a transaction)."""
    get_run(db, run_id)
    now = utc_now()
    cursor = db.execute(
        "INSERT INTO eval_gradings (run, judge, prompt_sha256, batch_id, requests, status, created_at, completed_at, "
        "actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            judge,
            prompt_sha256,
            batch_id,
            _dumps(requests) if requests is not None else None,
            status,
            now,
            now if status == RUN_COMPLETE else None,
            actor,
        ],
    )
    gid = int(cursor.lastrowid or 0)
    record_event(
        db,
        actor=actor,
        action="eval-grading",
        entity="eval_run",
        entity_id=run_id,
        after={"grading": gid, "judge": judge, "prompt_sha256": prompt_sha256, "batch_id": batch_id},
    )
    return get_grading(db, gid)


def complete_grading(db: Database, grading_id: int, *, actor: str) -> None:
    db.execute(
        "UPDATE eval_gradings SET status = ?, completed_at = ? WHERE id = ?", [RUN_COMPLETE, utc_now(), grading_id]
    )
    g = get_grading(db, grading_id)
    n = db.execute("SELECT count(*) FROM eval_verdicts WHERE grading = ?", [grading_id]).fetchone()[0]
    record_event(
        db,
        actor=actor,
        action="eval-grading-complete",
        entity="eval_run",
        entity_id=g.run,
        after={"grading": grading_id, "verdicts": n},
    )


def insert_verdicts(
    db: Database, run_id: str, grading_id: int | None, verdicts: Iterable[Verdict], *, actor: str
) -> int:
    """Add verdicts (call inside a transaction); a human verdict (`grading_id` None) is audited one by one."""
    now = utc_now()
    rows = []
    for v in verdicts:
        if v.verdict not in VERDICTS:
            raise UsageError(f"verdict must be one of {', '.join(VERDICTS)}, not {v.verdict!r}")
        rows.append(
            (run_id, grading_id, v.item, v.sample, v.clause, v.verdict, v.reason, v.evidence, int(v.human), actor, now)
        )
    db.conn.executemany(
        "INSERT INTO eval_verdicts (run, grading, item, sample, clause, verdict, reason, evidence, human, actor, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    if grading_id is None:
        for row in rows:
            record_event(
                db,
                actor=actor,
                action="eval-verdict",
                entity="eval_run",
                entity_id=run_id,
                after={"item": row[2], "sample": row[3], "clause": row[4], "verdict": row[5], "reason": row[6]},
            )
    return len(rows)


_EFFECTIVE_SQL = """
WITH human AS (
    SELECT item, sample, clause, verdict, reason, evidence, actor, created_at, max(id) AS id
    FROM eval_verdicts WHERE run = :run AND human = 1 GROUP BY item, sample, clause
), judged AS (
    SELECT item, sample, clause, verdict, reason, evidence, actor, created_at, max(id) AS id
    FROM eval_verdicts WHERE grading = :grading GROUP BY item, sample, clause
)
SELECT item, sample, clause, verdict, reason, evidence, 1, actor, created_at, NULL FROM human
UNION ALL
SELECT j.item, j.sample, j.clause, j.verdict, j.reason, j.evidence, 0, j.actor, j.created_at, :grading
FROM judged j
WHERE NOT EXISTS (
    SELECT 1 FROM human h WHERE h.item = j.item AND h.sample = j.sample AND h.clause = j.clause
)
"""


def effective_verdicts(
    db: Database, run_id: str, grading_id: int | None = None, *, only: str | None = None
) -> list[Verdict]:
    """Per (item, sample, clause): the newest person's verdict, else the grading's (default: newest finished);
    `only` keeps one verdict value (filtered in SQL: a report wants its violations, not every verdict)."""
    if grading_id is None:
        latest = latest_grading(db, run_id)
        grading_id = latest.id if latest else -1
    sql = _EFFECTIVE_SQL if only is None else f"SELECT * FROM ({_EFFECTIVE_SQL}) WHERE verdict = :only"
    rows = db.execute(sql, {"run": run_id, "grading": grading_id, "only": only}).fetchall()
    out = [Verdict(i, s, c, v, r, e, bool(h), a, t, g) for i, s, c, v, r, e, h, a, t, g in rows]
    out.sort(key=lambda v: (v.item, v.sample, v.clause))
    return out


_COUNTS_SQL = f"""
SELECT clause, count(*) FILTER (WHERE verdict != 'unclear'),
       count(*) FILTER (WHERE verdict = 'violates'),
       count(*) FILTER (WHERE verdict = 'unclear')
FROM ({_EFFECTIVE_SQL}) GROUP BY clause
"""


def clause_counts(db: Database, run_id: str, grading_id: int | None = None) -> dict[str, tuple[int, int, int]]:
    """clause -> (n graded complies-or-violates, violations, unclear), over effective verdicts, in SQL."""
    if grading_id is None:
        latest = latest_grading(db, run_id)
        grading_id = latest.id if latest else -1
    rows = db.execute(_COUNTS_SQL, {"run": run_id, "grading": grading_id}).fetchall()
    return {c: (int(n), int(v), int(u)) for c, n, v, u in rows}


def latest_graded_run(db: Database) -> str | None:
    """The newest run that has verdicts (a judge's or a person's): what coverage shows by default."""
    row = db.execute(
        "SELECT r.id FROM eval_runs r WHERE EXISTS (SELECT 1 FROM eval_verdicts v WHERE v.run = r.id) "
        "ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else None


def iter_suite_texts(db: Database) -> Iterator[tuple[str, str, str]]:
    """(suite, item id, prompt text) of every suite item, for decontamination."""
    for suite, item, prompt in db.execute("SELECT suite, id, prompt FROM eval_suite_items ORDER BY suite, position"):
        yield suite, item, prompt_text(json.loads(prompt))


def prompt_text(prompt: dict[str, Any]) -> str:
    """The words of a prompt a training record must not contain: system, every turn's text, tool results."""
    parts: list[str] = []
    if prompt.get("system"):
        parts.append(str(prompt["system"]))
    for m in prompt.get("messages") or []:
        content = m.get("content")
        if isinstance(content, str):
            parts.append(content)
            continue
        for block in content or []:
            if block.get("type") == "text":
                parts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                parts.append(json.dumps(block.get("input", {}), ensure_ascii=False, sort_keys=True))
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, str):
                    parts.append(inner)
                else:
                    parts.extend(b.get("text", "") for b in inner or [])
    return "\n".join(p for p in parts if p)


def response_slots(db: Database, run_id: str) -> list[tuple[str, int, str | None]]:
    """(item, sample, error) of every response of a run, in suite order, without the texts."""
    rows = db.execute(
        "SELECT r.item, r.sample, r.error FROM eval_responses r JOIN eval_runs u ON u.id = r.run "
        "LEFT JOIN eval_suite_items i ON i.suite = u.suite AND i.id = r.item "
        "WHERE r.run = ? ORDER BY i.position, r.item, r.sample",
        [run_id],
    ).fetchall()
    return [(str(item), int(sample), error) for item, sample, error in rows]


def get_response(db: Database, run_id: str, item: str, sample: int) -> Response:
    row = db.execute(
        "SELECT response, content, error, request_id, prompt_sha256 FROM eval_responses "
        "WHERE run = ? AND item = ? AND sample = ?",
        [run_id, item, sample],
    ).fetchone()
    if row is None:
        raise NotFoundError(f"run {run_id} has no sample {sample} of item {item!r}")
    text, content, error, request_id, sha = row
    return Response(run_id, item, sample, text, json.loads(content) if content else None, error, request_id, sha)


def clause_verdicts(db: Database, run_id: str, clause: str, grading_id: int) -> list[Verdict]:
    """The effective verdicts of one clause (`grading_id` -1: people's verdicts only)."""
    rows = db.execute(
        f"SELECT * FROM ({_EFFECTIVE_SQL}) WHERE clause = :clause",
        {"run": run_id, "grading": grading_id, "clause": clause},
    ).fetchall()
    return [Verdict(i, s, c, v, r, e, bool(h), a, t, g) for i, s, c, v, r, e, h, a, t, g in rows]


def grading_verdict(db: Database, grading_id: int, item: str, sample: int, clause: str) -> Verdict | None:
    """What one grading (a judge's) said about one response and clause, whatever a person said since."""
    row = db.execute(
        "SELECT item, sample, clause, verdict, reason, evidence, human, actor, created_at, grading "
        "FROM eval_verdicts WHERE grading = ? AND item = ? AND sample = ? AND clause = ? ORDER BY id DESC LIMIT 1",
        [grading_id, item, sample, clause],
    ).fetchone()
    if row is None:
        return None
    i, s, c, v, r, e, h, a, t, g = row
    return Verdict(i, s, c, v, r, e, bool(h), a, t, g)
