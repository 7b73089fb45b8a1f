"""Coverage: direct and rolled-up distinct counts, stale/orphaned, gaps, balance, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curator import coverage
from curator.cli import main
from curator.constitution.versions import import_constitution
from curator.models import parse_example
from curator.store import examples
from curator.store.db import Workspace
from tests.conftest import SMALL_CONSTITUTION, advice, story


def add(ws: Workspace, eid: str, clauses: list[str], *, kind: str = "story", status: str = "approved") -> None:
    maker = story if kind == "story" else advice
    data = maker(id=eid, clauses=clauses, status=status)
    if kind == "story":
        data["text"] = f"story {eid}"
    else:
        data["messages"][0]["content"] = f"question {eid}"
    # records already reviewed: stored with their statuses as given (keep_status), as an import would
    examples.insert_many(ws.db, [parse_example({"author": "ana", **data})], actor="ana", keep_status=True)


def by_id(report: coverage.CoverageReport) -> dict[str, coverage.ClauseCoverage]:
    return {c.id: c for c in report.clauses}


def test_totals_count_distinct_examples_over_descendants(ws: Workspace) -> None:
    add(ws, "ex_1", ["privacy", "privacy.1"])  # linked to a section and its clause: counts once
    add(ws, "ex_2", ["privacy.1.1"], status="draft")
    add(ws, "ex_3", ["honesty.1"], kind="advice")
    rows = by_id(coverage.compute(ws.db))
    assert rows["privacy"].direct["story"]["approved"] == 1
    assert rows["privacy"].total["story"] == {"draft": 1, "review": 0, "approved": 1, "rejected": 0}
    assert rows["privacy.1"].total["story"]["approved"] == 1
    assert rows["privacy.1.1"].direct["story"]["draft"] == 1
    assert rows["honesty"].total["advice"]["approved"] == 1
    root = next(c for c in rows.values() if c.parent is None)
    assert sum(sum(k.values()) for k in root.total.values()) == 3
    assert rows["privacy"].tokens["story"]["approved"] > 0


def test_filters_by_kind_and_status(ws: Workspace) -> None:
    add(ws, "ex_1", ["honesty.1"])
    add(ws, "ex_2", ["honesty.1"], kind="advice", status="draft")
    rows = by_id(coverage.compute(ws.db, kind="advice"))
    assert rows["honesty.1"].total["story"]["approved"] == 0
    assert rows["honesty.1"].total["advice"]["draft"] == 1
    rows = by_id(coverage.compute(ws.db, status="approved"))
    assert rows["honesty.1"].total["advice"]["draft"] == 0


def test_gaps_targets_and_balance(ws: Workspace, tmp_path: Path) -> None:
    add(ws, "ex_1", ["honesty.1"])
    add(ws, "ex_2", ["honesty.1"])
    report = coverage.compute(ws.db)
    assert "honesty.1" not in report.gaps and "honesty.2" in report.gaps and "honesty" not in report.gaps
    targets = tmp_path / "t.toml"
    targets.write_text('default = 0\n[targets]\n"honesty.1" = 3\n')
    assert coverage.compute(ws.db, targets_file=targets).gaps == ["honesty.1"]
    assert report.balance["story"]["max"] == 2 and report.balance["story"]["min"] == 0
    assert report.balance["advice"] == {"min": 0, "median": 0, "max": 0, "gini": 0.0, "entropy": 0.0}


def test_gini_and_entropy() -> None:
    assert coverage.gini([5, 5, 5, 5]) == 0
    assert coverage.gini([0, 0, 0, 8]) == pytest.approx(0.75)
    assert coverage.normalized_entropy([3, 3, 3]) == pytest.approx(1.0)
    assert coverage.normalized_entropy([9, 0, 0]) == 0


def test_stale_and_orphaned_links(ws: Workspace, tmp_path: Path) -> None:
    add(ws, "ex_1", ["honesty.1", "privacy.1.1"])
    v2 = tmp_path / "v2.md"
    v2.write_text(
        SMALL_CONSTITUTION.replace("Say what you believe.", "Say what you know.").replace(
            "  - Not even to avoid shutdown.\n", ""
        )
    )
    import_constitution(ws.db, v2, actor="lead")
    rows = by_id(coverage.compute(ws.db))
    assert rows["honesty.1"].stale == 1
    assert rows["privacy.1"].orphaned == 1  # the removed clause's surviving parent
    assert "privacy.1.1" not in rows


def test_cli_json_contract_min_gate_and_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    main(["init", "--db", db])
    capsys.readouterr()
    assert main(["coverage", "--format", "json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"clauses", "balance", "gaps"} <= set(data)
    first = data["clauses"][0]
    assert {"id", "parent", "title", "direct", "total", "tokens", "stale", "orphaned", "target"} <= set(first)
    assert set(first["direct"]) == {"story", "advice", "document", "agentic"}
    assert set(first["direct"]["story"]) == {"draft", "review", "approved", "rejected"}
    assert main(["coverage", "--min", "1", "--db", db]) == 1
    err = capsys.readouterr().err
    assert all(f"below --min 1: {g} " in err for g in data["gaps"])
    assert main(["coverage", "--min", "0", "--db", db]) == 0
    capsys.readouterr()
    out = tmp_path / "report.html"
    assert main(["coverage", "--format", "html", "--out", str(out), "--db", db]) == 0
    capsys.readouterr()
    html = out.read_text()
    assert (
        html.startswith("<!doctype html>")
        and "<svg" in html
        and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert main(["coverage", "--format", "csv", "--db", db]) == 0
    assert capsys.readouterr().out.startswith("clause,parent,title,kind,status")
    assert main(["coverage", "--format", "markdown", "--db", db]) == 0
    assert capsys.readouterr().out.startswith("| clause |")


def test_html_escapes_hostile_titles(ws: Workspace, tmp_path: Path) -> None:
    hostile = tmp_path / "h.md"
    hostile.write_text("# Never `<script>alert(1)</script>` {#evil}\n\n- `<img src=x onerror=alert(1)>`\n")
    import_constitution(ws.db, hostile, actor="lead")
    html = coverage.to_html(coverage.compute(ws.db))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_below_minimum_is_the_min_gate(ws: Workspace) -> None:
    add(ws, "ex_1", ["privacy.1.1"])  # counts for privacy.1.1 and every clause above it
    add(ws, "ex_2", ["honesty.1"], status="draft")  # not approved: counts for nothing
    report = coverage.compute(ws.db)
    assert coverage.below_minimum(report, 0) == []
    assert [c.id for c in coverage.below_minimum(report, 1)] == ["honesty", "honesty.1", "honesty.2"]  # in order
    assert coverage.below_minimum(report, 2) == report.clauses


def add_with_pairs(ws: Workspace, eid: str, clauses: list[str], *, status: str = "approved", alts: int = 1) -> None:
    data = advice(id=eid, clauses=clauses, status=status, author="ana")
    data["messages"][0]["content"] = f"question {eid}"
    data["messages"][1]["alternatives"] = [
        {"content": f"wrong answer {n}", "why_not": "It would mislead."} for n in range(alts)
    ]
    examples.insert_many(ws.db, [parse_example(data)], actor="ana", keep_status=True)


def test_pairs_count_distinct_approved_examples_with_alternatives(ws: Workspace) -> None:
    add_with_pairs(ws, "ex_p1", ["privacy", "privacy.1"], alts=3)  # several alternatives, two links: one example
    add_with_pairs(ws, "ex_p2", ["privacy.1.1"])
    add_with_pairs(ws, "ex_p3", ["privacy.1.1"], status="review")  # not approved: not counted
    add(ws, "ex_plain", ["privacy.1.1"], kind="advice")  # approved without alternatives: not counted
    assert all(c.pairs is None for c in coverage.compute(ws.db).clauses)  # a scan of records: only when asked
    report = coverage.compute(ws.db, pairs=True)
    rows = by_id(report)
    assert (rows["privacy"].pairs, rows["privacy.1"].pairs, rows["privacy.1.1"].pairs) == (2, 2, 1)
    assert rows["honesty"].pairs == 0
    assert rows["privacy.1.1"].approved_total == 2
    assert rows["privacy.1.1"].to_json()["pairs"] == 1
    assert by_id(coverage.compute(ws.db, kind="story", pairs=True))["privacy"].pairs == 0
    headers, body = coverage.table_rows(report)
    pairs_at = headers.index("pairs")
    assert {row[0].strip(): row[pairs_at] for row in body}["privacy.1.1"] == "1"
    assert coverage.to_csv(report).splitlines()[0].endswith(",pairs")
    assert [c.id for c in coverage.below_minimum_pairs(report, 2)] == [
        "honesty",
        "honesty.1",
        "honesty.2",
        "privacy.1.1",
    ]
    assert coverage.below_minimum_pairs(report, 0) == []


def test_cli_min_pairs_gate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "w.db")
    main(["init", "--db", db])
    capsys.readouterr()
    assert main(["coverage", "--format", "json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(c["pairs"] == 0 for c in data["clauses"])
    assert main(["coverage", "--min-pairs", "1", "--db", db]) == 1
    err = capsys.readouterr().err
    first = data["clauses"][0]["id"]
    assert f"below --min-pairs 1: {first} has 0 approved with rejected alternatives" in err
    assert main(["coverage", "--min-pairs", "0", "--db", db]) == 0
    assert main(["coverage", "--min", "0", "--min-pairs", "1", "--db", db]) == 1  # either gate fails the run
