"""Per-clause violation rates of a run, with Wilson 95% intervals, and the comparison of two runs.

`n` counts the responses whose effective verdict for the clause is `complies` or `violates`;
`unclear` verdicts are reported beside it and left out of the rate (a judge that cannot tell
says nothing about the model). A comparison flags a clause only when the two runs' intervals do
not overlap: a change the sample sizes cannot explain.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from curator.errors import UsageError
from curator.htmlpage import escape, page
from curator.proportions import ViolationRate, intervals_overlap
from curator.store import evals as store
from curator.store.clauses import current_clauses, last_known_clause
from curator.store.db import read_snapshot

EXAMPLES_PER_CLAUSE = 3
EVIDENCE_STYLE = (
    "blockquote { margin: 4px 0 8px 16px; color: #555; border-left: 3px solid #f4a6a6; padding-left: 6px; }\n"
)


@dataclass
class ClauseRate(ViolationRate):
    id: str
    title: str
    n: int
    violations: int
    unclear: int = 0
    current: bool = True
    """False for a clause the current constitution no longer has (its title is its last one)."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Up to three violations: item, sample, reason, evidence, human."""

    def to_json(self, *, examples: bool = True) -> dict[str, Any]:
        low, high = self.interval
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "n": self.n,
            "violations": self.violations,
            "unclear": self.unclear,
            "rate": self.rate,
            "low": low,
            "high": high,
            "in_constitution": self.current,
        }
        if examples:
            out["examples"] = self.examples
        return out


@dataclass
class Change:
    id: str
    before: ClauseRate | None
    """The clause in the run compared against (None when it has no graded response there)."""
    after: ClauseRate
    direction: str | None
    """"higher" or "lower" when the intervals do not overlap, else None."""

    def to_json(self) -> dict[str, Any]:
        before = self.before.to_json(examples=False) if self.before else None
        return {"id": self.id, "before": before, "changed": self.direction}


@dataclass
class RunReport:
    run: store.Run
    grading: store.Grading | None
    clauses: list[ClauseRate]
    responses: int
    failed: int
    human: int
    compare: RunReport | None = None
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run": self.run.id,
            "suite": self.run.suite,
            "model": self.run.model,
            "grading": self.grading.to_json() if self.grading else None,
            "responses": self.responses,
            "failed": self.failed,
            "human_verdicts": self.human,
            "clauses": [c.to_json() for c in self.clauses],
        }
        if self.compare is not None:
            out["compare"] = {
                "run": self.compare.run.id,
                "model": self.compare.run.model,
                "grading": self.compare.grading.to_json() if self.compare.grading else None,
                "clauses": [c.to_json(examples=False) for c in self.compare.clauses],
                "changes": [c.to_json() for c in self.changes],
                "changed": [c.id for c in self.changes if c.direction],
            }
        return out


def _titles(db: Database) -> tuple[dict[str, str], dict[str, int]]:
    clauses = current_clauses(db)
    return {c.id: c.title for c in clauses}, {c.id: i for i, c in enumerate(clauses)}


def rates(db: Database, run_id: str, grading_id: int | None = None) -> dict[str, tuple[int, int, int]]:
    """clause -> (n, violations, unclear) of a run's effective verdicts (what coverage shows)."""
    return store.clause_counts(db, run_id, grading_id)


def build_report(
    db: Database,
    run_id: str,
    *,
    grading_id: int | None = None,
    compare: str | None = None,
    examples: int = EXAMPLES_PER_CLAUSE,
) -> RunReport:
    """The per-clause report of a run (and of the run to compare it with), from one read snapshot."""
    with read_snapshot(db):
        report = _one(db, run_id, grading_id, examples)
        if compare is not None:
            if compare == run_id:
                raise UsageError("--compare names the same run; compare two different runs")
            report.compare = _one(db, compare, None, 0)
            report.changes = _changes(report, report.compare)
    return report


def _one(db: Database, run_id: str, grading_id: int | None, examples: int) -> RunReport:
    run = store.get_run(db, run_id)
    grading = store.get_grading(db, grading_id) if grading_id is not None else store.latest_grading(db, run_id)
    if grading is not None and grading.run != run_id:
        raise UsageError(f"grading {grading.id} belongs to run {grading.run}, not {run_id}")
    counts = store.clause_counts(db, run_id, grading.id if grading else -1)
    titles, order = _titles(db)
    rows = {
        cid: ClauseRate(cid, titles.get(cid, ""), n, violations, unclear)
        for cid, (n, violations, unclear) in counts.items()
    }
    suite_clauses = store.suite_clauses(db, run.suite)
    for cid in suite_clauses - set(rows):
        rows[cid] = ClauseRate(cid, titles.get(cid, ""), 0, 0)
    for rate in rows.values():
        if rate.id not in titles:
            found = last_known_clause(db, rate.id)
            rate.current, rate.title = False, found[1].title if found else ""
    if examples:
        for v in store.effective_verdicts(db, run_id, grading.id if grading else -1, only="violates"):
            row = rows.get(v.clause)
            if row is not None and len(row.examples) < examples:
                row.examples.append(
                    {"item": v.item, "sample": v.sample, "reason": v.reason, "evidence": v.evidence, "human": v.human}
                )
    human = db.execute("SELECT count(*) FROM eval_verdicts WHERE run = ? AND human = 1", [run_id]).fetchone()[0]
    total, failed = store.response_count(db, run_id)
    ordered = sorted(rows.values(), key=lambda r: (order.get(r.id, len(order)), r.id))
    return RunReport(run, grading, ordered, total, failed, int(human))


def _changes(after: RunReport, before: RunReport) -> list[Change]:
    earlier = {c.id: c for c in before.clauses}
    out = []
    for row in after.clauses:
        old = earlier.get(row.id)
        direction = None
        if old is not None and old.n and row.n and not intervals_overlap(old.interval, row.interval):
            assert old.rate is not None and row.rate is not None
            direction = "higher" if row.rate > old.rate else "lower"
        out.append(Change(row.id, old, row, direction))
    return out


# ---------------------------------------------------------------------------
# Renderings
# ---------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def table_rows(report: RunReport) -> tuple[list[str], list[list[str]]]:
    headers = ["clause", "n", "violations", "rate", "95% interval", "unclear"]
    changes = {c.id: c for c in report.changes}
    if report.compare is not None:
        headers += [f"{report.compare.run.id} rate", "change"]
    body = []
    for c in report.clauses:
        low, high = c.interval
        name = c.id if c.current else f"{c.id} (removed)"
        row = [name, str(c.n), str(c.violations), percent(c.rate), f"{percent(low)}–{percent(high)}" if c.n else "-"]
        row.append(str(c.unclear))
        if report.compare is not None:
            change = changes.get(c.id)
            before = change.before if change else None
            row.append(percent(before.rate) if before else "-")
            row.append(change.direction or "" if change else "")
        body.append(row)
    return headers, body


def summary_line(report: RunReport) -> str:
    graded = sum(c.n for c in report.clauses)
    violations = sum(c.violations for c in report.clauses)
    judge = f"judge {report.grading.judge} (grading {report.grading.id})" if report.grading else "no judge grading"
    line = (
        f"run {report.run.id} ({report.run.model} on {report.run.suite}): {report.responses} responses, "
        f"{graded} clause verdicts, {violations} violations; {judge}, {report.human} human verdicts"
    )
    if report.failed:
        line += f"; {report.failed} responses failed and are not graded"
    return line


def to_csv(report: RunReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    headers = ["clause", "title", "n", "violations", "unclear", "rate", "low", "high"]
    if report.compare is not None:
        headers += ["compare_n", "compare_violations", "compare_rate", "compare_low", "compare_high", "change"]
    writer.writerow(headers)
    changes = {c.id: c for c in report.changes}
    for c in report.clauses:
        low, high = c.interval
        row: list[Any] = [c.id, c.title, c.n, c.violations, c.unclear, "" if c.rate is None else f"{c.rate:.6f}"]
        row += [f"{low:.6f}", f"{high:.6f}"]
        if report.compare is not None:
            before = changes[c.id].before if c.id in changes else None
            if before is None:
                row += ["", "", "", "", ""]
            else:
                b_low, b_high = before.interval
                rate = "" if before.rate is None else f"{before.rate:.6f}"
                row += [before.n, before.violations, rate, f"{b_low:.6f}", f"{b_high:.6f}"]
            row.append(changes[c.id].direction or "" if c.id in changes else "")
        writer.writerow(row)
    return out.getvalue()


def _bar(low: float, high: float, rate: float | None, width: int = 160) -> str:
    """The interval as an inline SVG bar with the rate marked (no script, no external files)."""
    if rate is None:
        return ""
    x0, x1, x = (int(width * v) for v in (low, high, rate))
    return (
        f'<svg width="{width}" height="12" role="img" aria-label="{percent(low)} to {percent(high)}">'
        f'<rect x="0" y="5" width="{width}" height="2" fill="#ddd"/>'
        f'<rect x="{x0}" y="2" width="{max(x1 - x0, 1)}" height="8" fill="#f4a6a6"/>'
        f'<rect x="{x}" y="0" width="2" height="12" fill="#a00"/></svg>'
    )


def to_html(report: RunReport) -> str:
    """One self-contained page in the coverage report's style: rates, intervals, violation examples."""
    headers, body = table_rows(report)
    head = "".join(f"<th>{escape(h)}</th>" for h in [*headers, ""])
    trs = []
    for c, row in zip(report.clauses, body, strict=True):
        low, high = c.interval
        shade = "unknown" if c.rate is None else ("bad" if low > 0 else "ok")
        cells = [f'<td class="id" title="{escape(c.title)}">{escape(c.id)}</td>']
        cells += [f'<td class="{shade}">{escape(cell)}</td>' for cell in row[1:]]
        cells.append(f"<td>{_bar(low, high, c.rate)}</td>")
        trs.append("<tr>" + "".join(cells) + "</tr>")
    shown = []
    for c in report.clauses:
        for ex in c.examples:
            who = "human" if ex["human"] else "judge"
            evidence = f"<blockquote>{escape(ex['evidence'])}</blockquote>" if ex["evidence"] else ""
            shown.append(
                f"<li><b>{escape(c.id)}</b> · item <code>{escape(str(ex['item']))}</code> sample {ex['sample']} "
                f"({who}): {escape(ex['reason'])}{evidence}</li>"
            )
    title = f"Eval report — {report.run.id} ({report.run.model} on {report.run.suite})"
    text = f"""<p>{escape(summary_line(report))}.</p>
<p>Rate: violations / responses graded complies or violates for the clause (unclear verdicts are left out);
interval: Wilson 95%. A clause is red when even the interval's low end is above zero.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(trs)}
</tbody></table>
<h2>Violations (up to {EXAMPLES_PER_CLAUSE} per clause)</h2>
<ul>{"".join(shown) or "<li>none</li>"}</ul>"""
    return page(title, text, extra_style=EVIDENCE_STYLE)
