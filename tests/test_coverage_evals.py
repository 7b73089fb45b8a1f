"""Coverage beside an eval run: each clause's own violation rate with a Wilson interval, and the
priority order (violated most, least approved data first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator import coverage
from curator.constitution.versions import import_constitution
from curator.evals.runs import set_verdict
from curator.store.db import Workspace, open_workspace
from tests.conftest import SMALL_CONSTITUTION
from tests.helpers import add_eval_run, run
from tests.test_coverage import add, by_id

VERDICTS = {
    "honesty.1": ["violates"] * 4 + ["complies"],  # 4/5: rate 80%, Wilson low 0.38
    "honesty.2": ["violates"],  # 1/1: rate 100% but Wilson low 0.21
    "privacy.1": ["complies", "complies"],  # 0/2, low 0
    "privacy.1.1": ["complies", "complies"],  # 0/2, low 0
    "privacy": ["unclear"],  # graded only unclear: no eval data
}


def fill(ws: Workspace, folder: Path) -> str:
    add(ws, "ex_1", ["privacy.1"])  # privacy.1 has 2 approved (this one and its child's)
    add(ws, "ex_2", ["privacy.1.1"])  # privacy.1.1 has 1
    return add_eval_run(ws.db, folder, VERDICTS)


def test_violations_are_each_clauses_own_verdicts_with_wilson_intervals(ws: Workspace, tmp_path: Path) -> None:
    run_id = fill(ws, tmp_path)
    report = coverage.compute(ws.db, eval_run=run_id)
    assert report.eval_run is not None and report.eval_run.id == run_id
    assert (report.eval_run.suite, report.eval_run.model) == ("probe", "model-a")
    rows = by_id(report)
    h1 = rows["honesty.1"].violations
    assert h1 is not None and (h1.n, h1.violations, h1.rate) == (5, 4, 0.8)
    assert h1.interval == pytest.approx((0.3755, 0.9638), abs=1e-4)
    assert rows["honesty"].violations is None  # never rolled up over the children
    assert rows["test-constitution"].violations is None
    unclear = rows["privacy"].violations
    assert unclear is not None and (unclear.n, unclear.unclear, unclear.rate) == (0, 1, None)
    assert rows["honesty.1"].to_json()["violations"] == {
        "run": run_id,
        "n": 5,
        "violations": 4,
        "rate": 0.8,
        "low": h1.interval[0],
        "high": h1.interval[1],
        "unclear": 0,
    }
    assert report.to_json()["eval_run"] == {"id": run_id, "suite": "probe", "model": "model-a", "grading": None}
    # a person changing a verdict changes the rate (the newest person's verdict counts)
    set_verdict(ws.db, run_id, "honesty.2-0", "honesty.2", "complies", actor="lead")
    assert by_id(coverage.compute(ws.db, eval_run=run_id))["honesty.2"].violations == coverage.Violations(
        run_id, 1, 0, 0
    )


def test_latest_is_the_newest_graded_run_and_none_without_runs(ws: Workspace, tmp_path: Path) -> None:
    plain = coverage.compute(ws.db, eval_run="latest")
    assert plain.eval_run is None and all(c.violations is None for c in plain.clauses)
    assert "violations" not in coverage.table_rows(plain)[0]
    assert plain.to_json()["eval_run"] is None
    fill(ws, tmp_path / "a")
    newer = add_eval_run(ws.db, tmp_path / "b", {"honesty.2": ["complies"]}, suite="second", model="model-b")
    report = coverage.compute(ws.db, eval_run="latest")
    assert report.eval_run is not None and report.eval_run.id == newer
    assert by_id(report)["honesty.1"].violations is None  # the newer run did not probe it


def test_priority_order_against_a_hand_worked_example(ws: Workspace, tmp_path: Path) -> None:
    report = coverage.compute(ws.db, eval_run=fill(ws, tmp_path))
    order = [c.id for c in coverage.priority_order(report.clauses)]
    assert order == [
        "honesty.1",  # Wilson low 0.38 outranks
        "honesty.2",  # 1 of 1 (low 0.21)
        "privacy.1.1",  # low 0, 1 approved
        "privacy.1",  # low 0, 2 approved
        "honesty",  # no eval data: gap order (a gap of 1)
        "privacy",  # only an unclear verdict is no eval data; no gap (a container): by id
        "test-constitution",
    ]
    assert [c.id for c in coverage.sort_clauses(report.clauses, "document")] == [c.id for c in report.clauses]
    assert [c.id for c in coverage.sort_clauses(report.clauses, "gap")][:3] == ["honesty", "honesty.1", "honesty.2"]


def test_priority_ranks_forty_of_fifty_above_one_of_one(ws: Workspace, tmp_path: Path) -> None:
    run_id = add_eval_run(
        ws.db, tmp_path, {"honesty.2": ["violates"], "privacy.1": ["violates"] * 40 + ["complies"] * 10}
    )
    report = coverage.compute(ws.db, eval_run=run_id)
    assert [c.id for c in coverage.priority_order(report.clauses)][:2] == ["privacy.1", "honesty.2"]


def test_reports_gain_a_violations_column_only_with_a_run(ws: Workspace, tmp_path: Path) -> None:
    before = coverage.compute(ws.db, pairs=True)
    plain_csv, plain_md = coverage.to_csv(before), coverage.to_markdown(before)
    report = coverage.compute(ws.db, pairs=True, eval_run=fill(ws, tmp_path))
    headers, body = coverage.table_rows(report)
    assert headers[-1] == "violations"
    cells = {row[0].strip(): row[-1] for row in body}
    shown = (cells["honesty.1"], cells["honesty.2"], cells["privacy"], cells["honesty"])
    assert shown == ("4/5 80%", "1/1 100%", "0/0", "")
    csv_lines = coverage.to_csv(report).splitlines()
    assert csv_lines[0].endswith(",pairs,violations,eval_n,violation_rate,violation_low,violation_high")
    assert next(line for line in csv_lines if line.startswith("honesty.1,")).endswith(",4,5,0.8,0.3755,0.9638")
    markdown = coverage.to_markdown(report)
    assert "| 4/5 80% |" in markdown and "Violations: eval run run-1 (probe, model-a)" in markdown
    assert "<th>violations</th>" in coverage.to_html(report)
    assert "violations" not in plain_csv and "violations" not in plain_md.lower()


def eval_db(tmp_path: Path) -> tuple[str, str]:
    db = tmp_path / "w.db"
    constitution = tmp_path / "c.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    with open_workspace(db, create=True) as ws:
        import_constitution(ws.db, constitution, actor="lead")
        run_id = fill(ws, tmp_path / "evals")
    return str(db), run_id


def test_cli_shows_the_latest_run_by_default_and_sorts_by_priority(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db, run_id = eval_db(tmp_path)
    code, out, _ = run(capsys, "coverage", "--format", "json", "--db", db)
    data = json.loads(out)
    assert code == 0 and data["eval_run"]["id"] == run_id
    assert {"clauses", "balance", "gaps", "constitution", "filters", "token_counter"} <= set(data)  # the contract
    first = data["clauses"][0]
    assert {"id", "parent", "title", "direct", "total", "tokens", "stale", "orphaned", "target", "pairs"} <= set(first)
    assert first["id"] == "test-constitution"  # document order by default
    assert {c["id"]: c["violations"] for c in data["clauses"]}["honesty.1"]["violations"] == 4
    code, out, _ = run(capsys, "coverage", "--format", "json", "--sort", "priority", "--db", db)
    assert [c["id"] for c in json.loads(out)["clauses"]][:2] == ["honesty.1", "honesty.2"]
    code, out, _ = run(capsys, "coverage", "--sort", "priority", "--db", db)
    lines = out.splitlines()
    assert "violations" in lines[0] and lines[2].lstrip().startswith("honesty.1") and "4/5 80%" in lines[2]
    code, out, _ = run(capsys, "coverage", "--format", "json", "--eval-run", "none", "--db", db)
    data = json.loads(out)
    assert data["eval_run"] is None and all(c["violations"] is None for c in data["clauses"])
    code, out, _ = run(capsys, "coverage", "--eval-run", "none", "--db", db)
    assert "violations" not in out
    code, _, err = run(capsys, "coverage", "--eval-run", "run-9", "--db", db)
    assert code == 1 and "run-9" in err
    code, _, err = run(capsys, "coverage", "--sort", "size", "--db", db)
    assert code == 2
