"""Clause coverage for leads: clause x kind x status, rolled up over descendants, from counts kept on write.

A *container* (a clause with children and no prose of its own: empty plain text, or only links) is
rolled up like any clause but is never a gap, unless a target was set for it (its `target=N`
attribute or the targets file).

Direct counts come from the links of each clause; totals count *distinct* examples linked to
a clause or any of its descendants (an example linked to a section and to one of its clauses
counts once). Orphaned links (their clause was removed) are attributed to the nearest
ancestor that still exists, using the last version that had the clause.

`pairs` counts, the same way, the distinct approved examples that hold at least one rejected
alternative on an assistant turn: what a preference export (DPO) can draw on for the clause.

`violations` (when the report is computed for an eval run) is where the model fails beside where
data exists: per clause, the run's effective verdicts on the prompts that probe *that* clause, with
a Wilson 95% interval. Unlike the counts these are never rolled up over descendants: a rate is not
a count, and the rates of different clauses (measured on different prompts) do not add up.
`priority_order` puts the clauses violated most and taught least first.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

from curator.agreement import clause_agreement
from curator.errors import CuratorError, UsageError
from curator.files import read_toml
from curator.htmlpage import escape, page
from curator.identity import identity_key
from curator.models import KINDS, STATUSES, Clause
from curator.proportions import ViolationRate
from curator.store import annotations as annotation_rows
from curator.store import coverage_counts
from curator.store import evals as eval_store
from curator.store.clauses import current_clauses, current_version
from curator.store.db import read_snapshot
from curator.store.examples import live_sql
from curator.token_estimate import COUNTER_NAME

Counts = dict[str, dict[str, int]]


def _empty() -> Counts:
    return {k: {s: 0 for s in STATUSES} for k in KINDS}


LATEST_RUN = "latest"
"""`compute(eval_run=LATEST_RUN)`: the newest run that has verdicts (`latest_graded_run`), if any."""

SORTS = ("document", "gap", "priority")
"""The orders a report's clauses can be shown in (`sort_clauses`)."""


@dataclass(frozen=True)
class Violations(ViolationRate):
    """One eval run's effective verdicts on the prompts that probe one clause (that clause's own, not
    its descendants'). `n` counts complies-or-violates; `unclear` verdicts are left out of the rate."""

    run: str
    n: int
    violations: int
    unclear: int = 0

    def cell(self) -> str:
        """`3/20 15%`: violations of graded responses and the rate (no rate when none was graded)."""
        rate = self.rate
        return f"{self.violations}/{self.n}" + ("" if rate is None else f" {rate:.0%}")

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            "run": self.run,
            "n": self.n,
            "violations": self.violations,
            "rate": self.rate,
            "low": low,
            "high": high,
            "unclear": self.unclear,
        }


@dataclass(frozen=True)
class EvalRunUsed:
    """Which run (and which judge grading under the people's verdicts) a report's violations come from."""

    id: str
    suite: str
    model: str
    grading: int | None
    """The judge grading whose verdicts count where no person gave one (None: people's verdicts only)."""

    def label(self) -> str:
        """`run-3 (suite, model)`, for a header line."""
        return f"{self.id} ({self.suite}, {self.model})"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "suite": self.suite, "model": self.model, "grading": self.grading}


@dataclass
class ClauseCoverage:
    id: str
    parent: str | None
    title: str
    depth: int
    direct: Counts = field(default_factory=_empty)
    total: Counts = field(default_factory=_empty)
    tokens: Counts = field(default_factory=_empty)
    """Estimated tokens of the distinct examples in `total`."""
    reviewers: list[str] = field(default_factory=list)
    stale: int = 0
    orphaned: int = 0
    target: int = 1
    container: bool = False
    """Structure, not a rule: children and no prose of its own (see `is_container`). Rolled up, never a gap."""
    explicit_target: bool = False
    """The target came from the clause's `target=N` attribute or the targets file, not the default."""
    pairs: int | None = None
    """Distinct approved examples in `total` with at least one rejected alternative (preference pairs);
    None when the report was computed without them (`compute(pairs=False)`)."""
    violations: Violations | None = None
    """The eval run's verdicts on this clause's own prompts; None without a run or when the run did not
    probe the clause."""
    agreement: tuple[float, int] | None = None
    """Blind annotators' binary agreement on linking this clause (Krippendorff's alpha, records annotated
    by two or more); None when no such record's annotations link it."""

    @property
    def approved_total(self) -> int:
        return sum(self.total[k]["approved"] for k in KINDS)

    @property
    def is_gap(self) -> bool:
        """Approved below target; a container only when its target was set for it."""
        return self.approved_total < self.target and (not self.container or self.explicit_target)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "title": self.title,
            "direct": self.direct,
            "total": self.total,
            "tokens": self.tokens,
            "reviewers": self.reviewers,
            "stale": self.stale,
            "orphaned": self.orphaned,
            "target": self.target,
            "container": self.container,
            "pairs": self.pairs,
            "violations": self.violations.to_json() if self.violations else None,
            "agreement": {"alpha": self.agreement[0], "n": self.agreement[1]} if self.agreement else None,
        }

    @property
    def gap(self) -> int:
        """Target minus approved for a gap, else 0 (a container is never a gap unless targeted)."""
        return max(self.target - self.approved_total, 0) if self.is_gap else 0

    @property
    def has_eval_data(self) -> bool:
        """The run graded at least one response for this clause as complying or violating."""
        return self.violations is not None and self.violations.n > 0


@dataclass
class CoverageReport:
    clauses: list[ClauseCoverage]
    balance: dict[str, dict[str, float]]
    gaps: list[str]
    version: dict[str, Any] | None
    filters: dict[str, str | None]
    eval_run: EvalRunUsed | None = None
    """The eval run whose verdicts fill `violations` (None: the report has no violations column)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "clauses": [c.to_json() for c in self.clauses],
            "balance": self.balance,
            "gaps": self.gaps,
            "constitution": self.version,
            "filters": self.filters,
            "token_counter": COUNTER_NAME,
            "eval_run": self.eval_run.to_json() if self.eval_run else None,
        }


def load_targets(path: Path | None) -> tuple[int, dict[str, int]]:
    """(default target, per-clause targets) from a TOML file: `default = 1` and `[targets]`."""
    if path is None:
        return 1, {}
    data = read_toml(Path(path), CuratorError, what="targets file", kind="targets")
    default = data.get("default", 1)
    targets = data.get("targets", {})
    if not isinstance(default, int) or default < 0:
        raise CuratorError(f"{path}: default: must be a non-negative integer")
    if not isinstance(targets, dict) or not all(isinstance(v, int) and v >= 0 for v in targets.values()):
        raise CuratorError(f"{path}: targets: every value must be a non-negative integer")
    return default, {str(k): int(v) for k, v in targets.items()}


def compute(
    db: Database,
    *,
    kind: str | None = None,
    status: str | None = None,
    targets_file: Path | None = None,
    pairs: bool = False,
    eval_run: str | None = None,
    fresh: bool = False,
) -> CoverageReport:
    """The whole coverage report for the current constitution.

    The counts are read from the ones the store keeps on every write (`store/coverage_counts.py`):
    a few rows per clause, however many records there are. `fresh` counts from scratch instead,
    from every live record and link (the reference the kept counts are tested against); so does a
    workspace whose kept counts are not those of the current constitution (`is_valid`).

    `pairs` also fills the approved examples with rejected alternatives per clause (kept like the other
    counts; counted fresh, it reads every approved record's JSON). Without it `pairs` is None, for
    callers that do not show it.

    `eval_run` (a run id, or `"latest"` for the newest run with verdicts, if there is one) fills each
    clause's `violations` from that run's effective verdicts (a person's over the newest judge's). The
    kind and status filters do not apply to them: they filter training data, not eval prompts.
    """
    if kind is not None and kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}")
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}")
    default_target, targets = load_targets(targets_file)
    with read_snapshot(db):  # clauses, counts and version from one consistent state
        return _compute(db, kind, status, default_target, targets, pairs=pairs, eval_run=eval_run, fresh=fresh)


def _compute(
    db: Database,
    kind: str | None,
    status: str | None,
    default_target: int,
    targets: dict[str, int],
    *,
    pairs: bool,
    eval_run: str | None,
    fresh: bool,
) -> CoverageReport:
    clauses = current_clauses(db)
    parents = {c.parent for c in clauses if c.parent is not None}
    rows = {
        c.id: ClauseCoverage(
            c.id,
            c.parent,
            c.title,
            c.depth,
            target=targets.get(c.id, _meta_target(c.meta.get("target"), default_target)),
            container=is_container(c, has_children=c.id in parents),
            explicit_target=c.id in targets or _meta_target(c.meta.get("target"), -1) >= 0,
        )
        for c in clauses
    }
    where, params = _kind_status_where(kind, status)
    if not fresh and coverage_counts.is_valid(db):
        _read_kept_counts(db, clauses, rows, kind, status, pairs=pairs)
    else:
        _count_links(db, clauses, rows, where, params, pairs=pairs)
    ordered = [rows[c.id] for c in clauses]
    gaps = [c.id for c in ordered if c.is_gap]
    used = _add_violations(db, rows, eval_run) if eval_run is not None else None
    _add_agreement(db, rows)
    return CoverageReport(ordered, balance(ordered), gaps, current_version(db), {"kind": kind, "status": status}, used)


def _add_violations(db: Database, rows: dict[str, ClauseCoverage], eval_run: str) -> EvalRunUsed | None:
    """Fill `violations` from the run's effective verdicts; clauses no longer in the constitution are left out."""
    with read_snapshot(db):
        run_id = eval_store.latest_graded_run(db) if eval_run == LATEST_RUN else eval_run
        if run_id is None:
            return None
        run = eval_store.get_run(db, run_id)
        grading = eval_store.latest_grading(db, run_id)
        counts = eval_store.clause_counts(db, run_id, grading.id if grading else None)
    for clause_id, (n, violated, unclear) in counts.items():
        row = rows.get(clause_id)
        if row is not None:
            row.violations = Violations(run.id, n, violated, unclear)
    return EvalRunUsed(run.id, run.suite, run.model, grading.id if grading else None)


def _add_agreement(db: Database, rows: dict[str, ClauseCoverage]) -> None:
    """Fill `agreement` from the blind annotations of live records (clauses still in the constitution)."""
    enc = annotation_rows.encoded_links(db)
    if not enc.records:
        return
    for clause_id, value in clause_agreement(enc).items():
        row = rows.get(clause_id)
        if row is not None:
            row.agreement = value


def gap_order(clauses: list[ClauseCoverage]) -> list[ClauseCoverage]:
    """Largest gap (target minus approved) first; equal gaps, and clauses that are no gap, by clause id."""
    return sorted(clauses, key=lambda c: (-c.gap, c.id))


def priority_order(clauses: list[ClauseCoverage]) -> list[ClauseCoverage]:
    """Violated most and least approved data first: where to write training data next.

    Clauses the eval run graded (at least one complying or violating response) come first, by the
    Wilson 95% *lower* bound of their violation rate, highest first: a rate is ranked by what the
    sample shows at least, so 1 violation out of 1 (lower bound 0.21) does not outrank 40 out of 50
    (0.67). Equal bounds go by approved total (descendants included), fewest first, then document
    order. Clauses without eval data follow in gap order (`gap_order`: largest gap first, then by
    id). `clauses` must be in document order.
    """
    graded = [c for c in clauses if c.has_eval_data]
    rest = [c for c in clauses if not c.has_eval_data]

    def key(c: ClauseCoverage) -> tuple[float, int]:
        assert c.violations is not None
        return -c.violations.interval[0], c.approved_total

    return sorted(graded, key=key) + gap_order(rest)


def sort_clauses(clauses: list[ClauseCoverage], order: str) -> list[ClauseCoverage]:
    """The clauses (given in document order) in one of `SORTS`."""
    if order == "document":
        return list(clauses)
    if order == "gap":
        return gap_order(clauses)
    if order == "priority":
        return priority_order(clauses)
    raise UsageError(f"unknown sort {order!r} (one of {', '.join(SORTS)})")


def is_container(clause: Clause, *, has_children: bool) -> bool:
    """A clause that only structures the constitution: it has children and no normative prose of its
    own, i.e. its plain text is empty or its Markdown is only links (a table of contents)."""
    return has_children and clause.is_container


def below_minimum(report: CoverageReport, minimum: int) -> list[ClauseCoverage]:
    """The clauses, in document order, whose approved total (descendants included) is below `minimum`.

    The CI gate of `curator coverage --min N`: an empty list passes.
    """
    return [c for c in report.clauses if c.approved_total < minimum]


def below_minimum_pairs(report: CoverageReport, minimum: int) -> list[ClauseCoverage]:
    """The clauses, in document order, with fewer than `minimum` approved examples that hold preference pairs.

    The CI gate of `curator coverage --min-pairs N`: an empty list passes.
    """
    return [c for c in report.clauses if (c.pairs or 0) < minimum]


HAS_ALTERNATIVES_SQL = coverage_counts.HAS_ALTERNATIVES_SQL


def recount(db: Database) -> None:
    """Rebuild the kept counts from every record and link, in one transaction (`coverage --recount`): for a
    workspace whose counts were damaged by hand, or to check them."""
    with db.atomic():
        coverage_counts.rebuild(db)


def _ancestors(clauses: list[Clause]) -> dict[str, list[str]]:
    """Each current clause's chain from itself up to the root (the roll-up's ancestors)."""
    chains: dict[str, list[str]] = {}
    for clause_id, ancestor in coverage_counts.closure([(c.id, c.parent, c.depth) for c in clauses]):
        chains.setdefault(clause_id, []).append(ancestor)
    return chains


def _read_kept_counts(
    db: Database,
    clauses: list[Clause],
    rows: dict[str, ClauseCoverage],
    kind: str | None,
    status: str | None,
    *,
    pairs: bool,
) -> None:
    """Fill the counts from the kept ones (a few rows per clause), the reviewers from the reviewed records."""
    kinds = {kind} if kind else set(KINDS)
    statuses = {status} if status else set(STATUSES)
    if pairs:
        for row in rows.values():
            row.pairs = 0
    orphaned: dict[str, int] = {}
    for clause_id, k, s, direct, total, tokens, stale, orphans, paired in coverage_counts.read(db):
        if k not in kinds or s not in statuses:
            continue
        if orphans:
            orphaned[clause_id] = orphaned.get(clause_id, 0) + orphans
        kept = rows.get(clause_id)
        if kept is None:
            continue
        kept.direct[k][s] = direct
        kept.total[k][s] = total
        kept.tokens[k][s] = tokens
        kept.stale += stale
        if pairs and s == "approved":
            kept.pairs = (kept.pairs or 0) + paired
    where, params = _kind_status_where(kind, status)
    reviews = db.execute("SELECT DISTINCT example_id, reviewer FROM reviews").fetchall()
    reviewers: dict[str, dict[str, str]] = {}  # clause -> identity -> the name as first seen
    if reviews:
        counted = {
            r[0]
            for r in db.execute(
                f"SELECT e.id FROM examples e WHERE e.id IN (SELECT example_id FROM reviews) AND {live_sql()}{where}",
                params,
            )
        }
        by_example: dict[str, list[str]] = {}
        for clause_id, example_id in db.execute(
            "SELECT clause_id, example_id FROM example_clauses "
            "WHERE example_id IN (SELECT example_id FROM reviews) AND state != 'orphaned'"
        ):
            if clause_id in rows:
                by_example.setdefault(example_id, []).append(clause_id)
        chains = _ancestors(clauses)
        for example_id, reviewer in reviews:
            if example_id not in counted:
                continue
            for clause_id in by_example.get(example_id, []):
                for a in chains[clause_id]:
                    reviewers.setdefault(a, {}).setdefault(identity_key(reviewer), reviewer)
    _settle(db, rows, reviewers, orphaned)


def _count_links(
    db: Database, clauses: list[Any], rows: dict[str, ClauseCoverage], where: str, params: list[Any], *, pairs: bool
) -> None:
    """Direct and rolled-up distinct counts and tokens, vectorised with numpy.

    Two index scans (examples through a covering index, links by primary key); each link is
    expanded to its clause's ancestors, (ancestor, example) pairs are made distinct with one
    sort, and counts per (clause, kind, status) are one `bincount`. A nested-loop SQL join
    with DISTINCT over the ancestor closure measured ~5x slower at 100k examples.
    """
    n_cat = len(KINDS) * len(STATUSES)
    index_of = {c.id: i for i, c in enumerate(clauses)}
    depth = max((c.depth for c in clauses), default=1)
    anc = np.full((len(clauses), depth), -1, dtype=np.int64)
    for i, c in enumerate(clauses):
        cur: str | None = c.id
        j = 0
        while cur is not None and cur in index_of and j < depth:
            anc[i, j] = index_of[cur]
            cur = rows[cur].parent
            j += 1
    kind_ix = {k: i for i, k in enumerate(KINDS)}
    status_ix = {s: i for i, s in enumerate(STATUSES)}
    if pairs:
        for row in rows.values():
            row.pairs = 0
    with read_snapshot(db):  # one consistent snapshot across both scans
        meta = db.execute(
            "SELECT e.id, e.kind, e.status, e.tokens FROM examples e INDEXED BY idx_examples_coverage "
            f"WHERE {live_sql()}{where}",
            params,
        ).fetchall()
        links = db.execute("SELECT clause_id, example_id, state FROM example_clauses").fetchall()
        reviews = db.execute("SELECT DISTINCT example_id, reviewer FROM reviews").fetchall()
        with_pairs = (
            db.execute(
                f"SELECT e.id FROM examples e WHERE e.status = 'approved' AND {live_sql()}{where} "
                f"AND {HAS_ALTERNATIVES_SQL}",
                params,
            ).fetchall()
            if pairs
            else []
        )
    ex_index = {m[0]: i for i, m in enumerate(meta)}
    cat = np.array([kind_ix[m[1]] * len(STATUSES) + status_ix[m[2]] for m in meta], dtype=np.int64)
    tokens = np.array([m[3] for m in meta], dtype=np.int64)
    has_pairs = np.zeros(len(meta), dtype=np.int64)
    for (example_id,) in with_pairs:
        has_pairs[ex_index[example_id]] = 1
    orphaned: dict[str, int] = {}
    clause_col: list[int] = []
    ex_col: list[int] = []
    add_clause, add_ex, ex_get, ci_get = clause_col.append, ex_col.append, ex_index.get, index_of.get
    for clause_id, example_id, state in links:
        ex = ex_get(example_id)
        if ex is None:
            continue
        ci = ci_get(clause_id)
        if ci is None or state == "orphaned":
            orphaned[clause_id] = orphaned.get(clause_id, 0) + 1
            continue
        if state == "stale":
            rows[clause_id].stale += 1
        add_clause(ci)
        add_ex(ex)
    n_clauses = len(clauses)
    if clause_col:
        ci_arr = np.array(clause_col, dtype=np.int64)
        ex_arr = np.array(ex_col, dtype=np.int64)
        direct = np.bincount(ci_arr * n_cat + cat[ex_arr], minlength=n_clauses * n_cat).reshape(n_clauses, n_cat)
        pairs_anc = anc[ci_arr].ravel()
        pairs_ex = np.repeat(ex_arr, depth)
        keep = pairs_anc >= 0
        keys = np.sort(pairs_anc[keep] * len(meta) + pairs_ex[keep])
        if keys.size:  # distinct by sort + neighbour compare (numpy's hash-based unique is ~15x slower here)
            keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
        a_idx, e_idx = keys // max(len(meta), 1), keys % max(len(meta), 1)
        slot = a_idx * n_cat + cat[e_idx]
        total = np.bincount(slot, minlength=n_clauses * n_cat).reshape(n_clauses, n_cat)
        tok = np.bincount(slot, weights=tokens[e_idx], minlength=n_clauses * n_cat).reshape(n_clauses, n_cat)
        paired = np.bincount(a_idx, weights=has_pairs[e_idx], minlength=n_clauses)
        for i, c in enumerate(clauses):
            row = rows[c.id]
            for k, ki in kind_ix.items():
                for s, si in status_ix.items():
                    j = ki * len(STATUSES) + si
                    row.direct[k][s] = int(direct[i, j])
                    row.total[k][s] = int(total[i, j])
                    row.tokens[k][s] = int(tok[i, j])
            if pairs:
                row.pairs = int(paired[i])
    reviewed = {example_id for example_id, _ in reviews}
    by_example: dict[str, list[str]] = {}
    if reviewed:
        for clause_id, example_id, state in links:
            if example_id in reviewed and state != "orphaned" and clause_id in index_of:
                by_example.setdefault(example_id, []).append(clause_id)
    reviewers: dict[str, dict[str, str]] = {}  # clause -> identity -> the name as first seen
    for example_id, reviewer in reviews:
        if example_id not in ex_index:
            continue
        for clause_id in by_example.get(example_id, []):
            for a in anc[index_of[clause_id]].tolist():
                if a >= 0:
                    reviewers.setdefault(clauses[a].id, {}).setdefault(identity_key(reviewer), reviewer)
    _settle(db, rows, reviewers, orphaned)


def _settle(
    db: Database, rows: dict[str, ClauseCoverage], reviewers: dict[str, dict[str, str]], orphaned: dict[str, int]
) -> None:
    """What both counts end with: each clause's reviewers (names as first seen), and orphaned links
    given to the nearest ancestor the constitution still has."""
    for clause_id, names in reviewers.items():
        rows[clause_id].reviewers = sorted(names.values())
    for clause_id, n in orphaned.items():
        home = _surviving_ancestor(db, clause_id, rows)
        if home is not None:
            rows[home].orphaned += n


def _kind_status_where(kind: str | None, status: str | None) -> tuple[str, list[Any]]:
    """SQL conditions (each `AND ...` on `e`) and parameters for the report's kind and status filters."""
    where = ""
    params: list[Any] = []
    if kind:
        where += " AND e.kind = ?"
        params.append(kind)
    if status:
        where += " AND e.status = ?"
        params.append(status)
    return where, params


def _meta_target(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _surviving_ancestor(db: Database, clause_id: str, rows: dict[str, ClauseCoverage]) -> str | None:
    """Walk the removed clause's parents (in the last version that had it) up to one that exists now."""
    seen = set()
    cur: str | None = clause_id
    while cur is not None and cur not in seen:
        seen.add(cur)
        row = db.execute("SELECT parent FROM clauses WHERE id = ? ORDER BY version_id DESC LIMIT 1", [cur]).fetchone()
        cur = str(row[0]) if row and row[0] is not None else None
        if cur is not None and cur in rows:
            return cur
    return None


def gini(values: list[int]) -> float:
    """Gini coefficient of non-negative counts (0 = perfectly even, near 1 = all in one clause)."""
    n = len(values)
    total = sum(values)
    if n == 0 or total == 0:
        return 0.0
    ordered = sorted(values)
    weighted = sum((i + 1) * v for i, v in enumerate(ordered))
    return (2 * weighted) / (n * total) - (n + 1) / n


def normalized_entropy(values: list[int]) -> float:
    """Shannon entropy of the distribution over clauses divided by log(n): 1 = perfectly even."""
    total = sum(values)
    n = len(values)
    if total == 0 or n <= 1:
        return 0.0
    h = -sum((v / total) * math.log(v / total) for v in values if v)
    return h / math.log(n)


def balance(rows: list[ClauseCoverage]) -> dict[str, dict[str, float]]:
    """Per kind, over every clause's direct approved count: min, median, max, Gini, entropy."""
    out: dict[str, dict[str, float]] = {}
    for k in KINDS:
        values = [r.direct[k]["approved"] for r in rows]
        out[k] = {
            "min": min(values) if values else 0,
            "median": statistics.median(values) if values else 0,
            "max": max(values) if values else 0,
            "gini": round(gini(values), 4),
            "entropy": round(normalized_entropy(values), 4),
        }
    return out


# ---------------------------------------------------------------------------
# Renderings
# ---------------------------------------------------------------------------


def _approved_by_kind(row: ClauseCoverage) -> list[int]:
    return [row.total[k]["approved"] for k in KINDS]


def _all_by_kind(row: ClauseCoverage) -> list[int]:
    return [sum(row.total[k].values()) for k in KINDS]


def table_rows(report: CoverageReport) -> tuple[list[str], list[list[str]]]:
    """Header and one row per clause; the last column, `violations` (`3/20 15%`), only with an eval run."""
    headers = ["clause", *[f"{k} (appr/all)" for k in KINDS], "pairs", "stale", "orphaned", "target", "gap"]
    if report.eval_run is not None:
        headers.append("violations")
    body = []
    for r in report.clauses:
        cells = [f"{a}/{t}" for a, t in zip(_approved_by_kind(r), _all_by_kind(r), strict=True)]
        row = [
            "  " * (r.depth - 1) + r.id,
            *cells,
            "" if r.pairs is None else str(r.pairs),
            str(r.stale),
            str(r.orphaned),
            str(r.target),
            str(r.gap) if r.gap else "",
        ]
        if report.eval_run is not None:
            row.append(r.violations.cell() if r.violations else "")
        body.append(row)
    return headers, body


def to_csv(report: CoverageReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "clause",
            "parent",
            "title",
            "kind",
            "status",
            "direct",
            "total",
            "tokens",
            "stale",
            "orphaned",
            "target",
            "pairs",
            *(VIOLATION_CSV_COLUMNS if report.eval_run is not None else ()),
        ]
    )
    for r in report.clauses:
        violations = _violation_csv_cells(r) if report.eval_run is not None else []
        for k in KINDS:
            for s in STATUSES:
                writer.writerow(
                    [
                        r.id,
                        r.parent or "",
                        r.title,
                        k,
                        s,
                        r.direct[k][s],
                        r.total[k][s],
                        r.tokens[k][s],
                        r.stale,
                        r.orphaned,
                        r.target,
                        "" if r.pairs is None else r.pairs,
                        *violations,
                    ]
                )
    return out.getvalue()


VIOLATION_CSV_COLUMNS = ("violations", "eval_n", "violation_rate", "violation_low", "violation_high")
"""The CSV's columns with an eval run: the clause's own verdicts (empty where the run did not probe it)."""


def _violation_csv_cells(r: ClauseCoverage) -> list[Any]:
    v = r.violations
    if v is None:
        return [""] * len(VIOLATION_CSV_COLUMNS)
    low, high = v.interval
    return [v.violations, v.n, "" if v.rate is None else round(v.rate, 4), round(low, 4), round(high, 4)]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: CoverageReport) -> str:
    headers, body = table_rows(report)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in body:
        lines.append(
            "| " + " | ".join(_md_cell(c.strip()) if i == 0 else _md_cell(c) for i, c in enumerate(row)) + " |"
        )
    lines.append("")
    lines.append(f"Gaps (approved below target): {', '.join(report.gaps) if report.gaps else 'none'}")
    if report.eval_run is not None:
        lines.append("")
        lines.append(f"Violations: eval run {_md_cell(report.eval_run.label())}, {VIOLATIONS_NOTE}")
    return "\n".join(lines) + "\n"


VIOLATIONS_NOTE = (
    "violating / graded responses to the prompts that probe the clause itself (not its descendants: "
    "rates of different clauses do not add up)"
)


def top_section_tokens(report: CoverageReport) -> list[tuple[str, str, int]]:
    """(id, title, approved tokens) per top-level section: the depth-1 clauses, or depth 2 under one root."""
    roots = [r for r in report.clauses if r.parent is None]
    level = roots
    if len(roots) == 1:
        level = [r for r in report.clauses if r.parent == roots[0].id] or roots
    return [(r.id, r.title, sum(r.tokens[k]["approved"] for k in KINDS)) for r in level]


def bar_chart_svg(bars: list[tuple[str, str, int]], *, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG (no script, no external files)."""
    bar_h, gap, label_w = 22, 6, 220
    height = max(len(bars), 1) * (bar_h + gap) + 10
    top = max((v for _, _, v in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="approved tokens per section">'
    ]
    for i, (cid, title, value) in enumerate(bars):
        y = 5 + i * (bar_h + gap)
        w = int((width - label_w - 80) * value / top)
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(title[:32])}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#4c78a8">'
            f"<title>{escape(cid)}: {value}</title></rect>"
        )
        parts.append(f'<text x="{label_w + w + 4}" y="{y + 15}" font-size="12">{value:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(report: CoverageReport) -> str:
    """One self-contained page: the table (cells coloured by count against target) and an SVG chart."""
    headers, body = table_rows(report)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    trs = []
    for r, row in zip(report.clauses, body, strict=True):
        cells = [
            f'<td class="id" style="padding-left:{(r.depth - 1) * 14 + 4}px" '
            f'title="{escape(r.title)}">{escape(r.id)}</td>'
        ]
        for k, cell in zip(KINDS, row[1:5], strict=True):
            approved = r.total[k]["approved"]
            shade = "ok" if approved >= r.target else ("some" if sum(r.total[k].values()) else "none")
            cells.append(f'<td class="{shade}">{escape(cell)}</td>')
        cells += [f"<td>{escape(c)}</td>" for c in row[5:]]
        trs.append("<tr>" + "".join(cells) + "</tr>")
    version = report.version or {}
    title = f"Coverage — {version.get('title') or 'constitution'}"
    chart = bar_chart_svg(top_section_tokens(report))
    gaps = ", ".join(escape(g) for g in report.gaps) or "none"
    run_note = (
        f"\nViolations: eval run {escape(report.eval_run.label())}, {escape(VIOLATIONS_NOTE)}."
        if report.eval_run is not None
        else ""
    )
    sha = escape(str(version.get("sha256", ""))[:12])
    text = f"""<p>Constitution version {escape(str(version.get("id", "?")))}, sha256 {sha}.
Cells: approved / all examples linked to the clause or its descendants; pairs: approved ones with at least one
rejected alternative (preference pairs). Tokens are estimates ({COUNTER_NAME}).{run_note}</p>
<h2>Approved tokens per section</h2>
{chart}
<h2>Clauses × kinds</h2>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(trs)}
</tbody></table>
<h2>Gaps</h2><p>{gaps}</p>"""
    return page(title, text)


def examples_for(db: Database, clause_id: str, kind: str | None = None, limit: int = 500) -> list[tuple[str, ...]]:
    """(id, kind, status, title) of live examples linked to a clause or its descendants (a heat-map drill-down)."""
    sql = f"""
        WITH RECURSIVE sub(id) AS (
            SELECT ? UNION
            SELECT c.id FROM clauses c JOIN constitution_versions v ON v.id = c.version_id AND v.is_current = 1
            JOIN sub ON c.parent = sub.id
        )
        SELECT DISTINCT e.id, e.kind, e.status, e.title FROM example_clauses l
        JOIN examples e ON e.id = l.example_id
        WHERE l.clause_id IN (SELECT id FROM sub) AND l.state != 'orphaned' AND {live_sql()}
    """
    params: list[Any] = [clause_id]
    if kind:
        sql += " AND e.kind = ?"
        params.append(kind)
    sql += " ORDER BY e.status = 'approved' DESC, e.updated_at DESC LIMIT ?"
    params.append(limit)
    return [tuple(str(v) for v in r) for r in db.execute(sql, params)]
