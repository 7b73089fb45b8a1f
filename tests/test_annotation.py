"""Blind double annotation: two users annotate the demo blind through the CLI, agreement matches nltk,
a lead adjudicates; the refusals (unknown user, own record, deleted record, a clause that changed or
went away mid-assignment, not assigned) are one line, a non-zero exit, and nothing written."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import binary_distance
from nltk.metrics.distance import masi_distance as nltk_masi

from curator import agreement
from tests.helpers import run

ANNOTATORS = ("eve", "finn")


@pytest.fixture
def team(hermetic_env: Path) -> None:
    (hermetic_env / "config.toml").write_text('team = ["eve", "finn", "ben"]\n', encoding="utf-8")


def cli(capsys: pytest.CaptureFixture[str], db: Path, user: str, *argv: str) -> tuple[int, str, str]:
    return run(capsys, "--db", str(db), *argv, "--user", user)


def written_state(db: Path) -> tuple[list[object], ...]:
    """Everything an annotation command may write: its tables, the records, the audit log."""
    con = sqlite3.connect(db)
    try:
        return tuple(
            con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("annotation_assignments", "annotations", "annotation_decisions", "examples", "audit")
        )
    finally:
        con.close()


def current_clause_ids(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT c.id FROM clauses c JOIN constitution_versions v ON v.id = c.version_id "
            "WHERE v.is_current = 1 ORDER BY c.position"
        )
        return [r[0] for r in rows]
    finally:
        con.close()


# ---------------------------------------------------------------------------
# End to end through the CLI
# ---------------------------------------------------------------------------


def test_two_users_annotate_the_demo_blind_and_a_lead_adjudicates(
    capsys: pytest.CaptureFixture[str], demo_db: Path, team: None
) -> None:
    code, out, err = cli(capsys, demo_db, "lee", "assign", "--to", "eve,finn", "--kind", "story", "--dry-run")
    assert code == 0, err
    code, out, err = cli(capsys, demo_db, "lee", "assign", "--to", "eve,finn", "--kind", "story")
    assert code == 1 and "pass --yes" in err
    assert written_state(demo_db)[0] == []
    code, out, err = cli(
        capsys, demo_db, "lee", "assign", "--to", "eve,finn", "--kind", "story", "--yes", "--format", "json"
    )
    assert code == 0, err
    plan = json.loads(out)
    assert plan["applied"] and plan["assignments"] == 2 * plan["records"] > 0

    # the queue shows each assigned record without its links
    code, out, err = cli(capsys, demo_db, "eve", "queue", "--format", "json")
    assert code == 0, err
    queued = json.loads(out)
    ids = [q["id"] for q in queued]
    assert len(ids) == plan["records"]
    assert all("clauses" not in q["record"] for q in queued)
    code, out, _ = cli(capsys, demo_db, "eve", "show", ids[0], "--format", "json")
    assert json.loads(out)["record"]["clauses"]  # the record has links: the queue hid them

    rng = random.Random(7)
    clauses = [c for c in current_clause_ids(demo_db) if "." in c]
    given: dict[tuple[str, str], list[str]] = {}
    for record in ids:
        base = rng.sample(clauses, rng.randint(1, 2))
        for user in ANNOTATORS:
            chosen = list(base)
            if rng.random() < 0.5:
                chosen = [*chosen[:1], rng.choice(clauses)]
            given[record, user] = chosen
            code, out, err = cli(capsys, demo_db, user, "annotate", record, *chosen)
            assert code == 0, err
    code, out, err = cli(capsys, demo_db, "eve", "queue", "--format", "json")
    assert json.loads(out) == []

    code, out, err = cli(capsys, demo_db, "lee", "agreement", "--format", "json", "--seed", "3")
    assert code == 0, err
    report = json.loads(out)
    assert {"alpha", "n_records", "annotators", "pairs", "clauses", "confusions"} <= set(report)
    triples = [(user, record, frozenset(cs)) for (record, user), cs in given.items()]
    assert report["alpha"] == pytest.approx(AnnotationTask(triples, distance=nltk_masi).alpha(), abs=1e-12)
    assert report["n_records"] == len(ids)
    assert report["annotators"] == list(ANNOTATORS)
    assert [p["annotators"] for p in report["pairs"]] == [list(ANNOTATORS)]
    assert report["pairs"][0]["alpha"] == pytest.approx(report["alpha"], abs=1e-12)
    low, high = report["interval"]
    assert low <= report["alpha"] <= high
    for row in report["clauses"]:
        binary = [(user, record, row["id"] in cs) for user, record, cs in triples]
        assert row["alpha"] == pytest.approx(AnnotationTask(binary, distance=binary_distance).alpha(), abs=1e-12)
        assert row["n"] == len(ids)
    # confusions counted by hand: clauses only one annotator linked, against the other's
    expected: dict[tuple[str, str], int] = {}
    for record in ids:
        a, b = set(given[record, "eve"]), set(given[record, "finn"])
        for x in a - b:
            for y in b - a:
                key = (min(x, y), max(x, y))
                expected[key] = expected.get(key, 0) + 1
    assert {tuple(c["clauses"]): c["count"] for c in report["confusions"]} == expected
    counts = [c["count"] for c in report["confusions"]]
    assert counts == sorted(counts, reverse=True)
    code, again, _ = cli(capsys, demo_db, "lee", "agreement", "--format", "json", "--seed", "3")
    assert again == out  # seeded: the same bytes

    # coverage shows each linked clause's agreement next to its counts
    code, out, err = cli(capsys, demo_db, "lee", "coverage", "--format", "json")
    assert code == 0, err
    by_id = {c["id"]: c for c in json.loads(out)["clauses"]}
    for row in report["clauses"]:
        assert by_id[row["id"]]["agreement"] == {"alpha": pytest.approx(row["alpha"]), "n": row["n"]}

    # disagreements side by side; the lead's set becomes the record's links
    code, out, err = cli(capsys, demo_db, "lee", "adjudicate", "--list", "--format", "json")
    listed = json.loads(out)
    differing = [r for r in ids if set(given[r, "eve"]) != set(given[r, "finn"])]
    assert [d["id"] for d in listed] == differing
    first = listed[0]
    assert {a["annotator"]: sorted(a["clauses"]) for a in first["annotations"]} == {
        u: sorted(given[first["id"], u]) for u in ANNOTATORS
    }
    final = sorted(given[first["id"], "finn"])
    code, out, err = cli(capsys, demo_db, "eve", "adjudicate", first["id"], *final)
    assert code == 1 and err.count("\n") == 1 and "another lead" in err
    code, out, err = cli(capsys, demo_db, "lee", "adjudicate", first["id"], *final)
    assert code == 0, err
    code, out, _ = cli(capsys, demo_db, "lee", "show", first["id"], "--format", "json")
    assert sorted(json.loads(out)["record"]["clauses"]) == final
    code, out, _ = cli(capsys, demo_db, "lee", "history", first["id"], "--format", "json")
    assert "lee" in out
    code, out, err = cli(capsys, demo_db, "eve", "annotate", first["id"], *final)
    assert code == 1 and "already adjudicated" in err

    # the sets both annotators agreed on become links in one step
    code, out, err = cli(capsys, demo_db, "lee", "adjudicate", "--agreed", "--format", "json")
    assert code == 0, err
    agreed = json.loads(out)["applied"]
    assert sorted(a["id"] for a in agreed) == sorted(r for r in ids if r not in differing)
    for item in agreed:
        assert sorted(item["record"]["record"]["clauses"]) == sorted(set(given[item["id"], "eve"]))
    code, out, _ = cli(capsys, demo_db, "lee", "adjudicate", "--list", "--format", "json")
    assert [d["id"] for d in json.loads(out)] == differing[1:]


# ---------------------------------------------------------------------------
# Refusals: one line, non-zero exit, nothing written
# ---------------------------------------------------------------------------


def refused(capsys: pytest.CaptureFixture[str], db: Path, user: str, *argv: str, says: str) -> None:
    before = written_state(db)
    code, _, err = cli(capsys, db, user, *argv)
    assert code != 0
    assert err.count("\n") == 1 and says in err, err
    assert written_state(db) == before


def test_assignment_refusals(capsys: pytest.CaptureFixture[str], demo_db: Path, team: None) -> None:
    refused(capsys, demo_db, "lee", "assign", "--to", "eve,zed", "ex_demo_001", says="unknown user 'zed'")
    con = sqlite3.connect(demo_db)
    bens = con.execute("SELECT id FROM examples WHERE author = 'ben' ORDER BY id").fetchone()[0]
    chens = con.execute("SELECT id FROM examples WHERE author = 'chen' ORDER BY id").fetchone()[0]
    con.close()
    refused(capsys, demo_db, "lee", "assign", "--to", "eve,Ben", "ex_demo_001", bens, says="their own record")
    # ana brought every demo record in: she may not annotate any of them
    refused(capsys, demo_db, "lee", "assign", "--to", "ana", chens, says="brought it into the workspace")
    code, _, err = cli(capsys, demo_db, "lee", "delete", "ex_demo_002")
    assert code == 0, err
    refused(capsys, demo_db, "lee", "assign", "--to", "eve", "ex_demo_001", "ex_demo_002", says="is deleted")
    refused(capsys, demo_db, "finn", "annotate", "ex_demo_001", "honesty.1", says="not assigned")


def test_a_clause_that_changed_or_went_away_mid_assignment(
    capsys: pytest.CaptureFixture[str], demo_db: Path, team: None, tmp_path: Path
) -> None:
    code, _, err = cli(capsys, demo_db, "lee", "assign", "--to", "eve,finn", "ex_demo_001")
    assert code == 0, err
    code, _, err = cli(capsys, demo_db, "finn", "annotate", "ex_demo_001", "honesty.1", "privacy.1")
    assert code == 0, err
    con = sqlite3.connect(demo_db)
    source = con.execute("SELECT source FROM constitution_versions WHERE is_current = 1").fetchone()[0]
    honesty_1 = con.execute("SELECT text FROM clauses WHERE id = 'honesty.1'").fetchone()[0]
    con.close()
    lines = source.split("\n")
    bullets = [i for i, line in enumerate(lines) if line.startswith("- ")]
    removed_line = bullets[-1]  # the last item of the last list: its clause goes away, no id moves
    edited = "\n".join(line for i, line in enumerate(lines) if i != removed_line)
    edited = edited.replace(honesty_1, honesty_1 + " Even when nobody asks.", 1)
    new = tmp_path / "constitution.md"
    new.write_text(edited, encoding="utf-8")
    before_ids = set(current_clause_ids(demo_db))
    code, _, err = cli(capsys, demo_db, "lee", "constitution", "import", str(new))
    assert code == 0, err
    gone = sorted(before_ids - set(current_clause_ids(demo_db)))
    assert len(gone) == 1

    refused(capsys, demo_db, "eve", "annotate", "ex_demo_001", "honesty.1", "privacy.1", says="'honesty.1' changed")
    refused(capsys, demo_db, "eve", "annotate", "ex_demo_001", gone[0], says="was removed from the constitution")
    code, out, err = cli(
        capsys, demo_db, "eve", "annotate", "ex_demo_001", "honesty.1", "privacy.1", "--confirm-changed", "honesty.1"
    )
    assert code == 0, err
    # finn's set was given against the old text of honesty.1: not applied as agreed, left to a lead
    code, out, err = cli(capsys, demo_db, "lee", "adjudicate", "--agreed", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["applied"] == []
    assert result["refused"] == [{"id": "ex_demo_001", "reason": "clause 'honesty.1' changed since finn linked it"}]


# ---------------------------------------------------------------------------
# The statistics: nltk on generated data, and cases worked by hand
# ---------------------------------------------------------------------------


def generated(seed: int, records: int = 40) -> list[tuple[str, str, list[str]]]:
    rng = random.Random(seed)
    clauses = [f"c{i}" for i in range(7)]
    rows = []
    for r in range(records):
        truth = rng.sample(clauses, rng.randint(1, 3))
        for user in ("ana", "ben", "cy"):
            if rng.random() < 0.2:
                continue  # missing annotations are allowed
            labels = set(truth)
            if rng.random() < 0.4:
                labels ^= {rng.choice(clauses)}
            rows.append((f"r{r:03d}", user, sorted(labels or {"c0"})))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_matches_nltk_on_generated_data(seed: int) -> None:
    rows = generated(seed)
    report = agreement.compute(rows, seed=seed)
    triples = [(user, record, frozenset(labels)) for record, user, labels in rows]
    assert report.alpha == pytest.approx(AnnotationTask(triples, distance=nltk_masi).alpha(), abs=1e-12)
    for pair in report.pairs:
        mine = [t for t in triples if t[0] in pair.annotators]
        assert pair.alpha == pytest.approx(AnnotationTask(mine, distance=nltk_masi).alpha(), abs=1e-12)
    for row in report.clauses:
        binary = [(user, record, row.id in labels) for user, record, labels in triples]
        assert row.alpha == pytest.approx(AnnotationTask(binary, distance=binary_distance).alpha(), abs=1e-12)
    assert report.interval is not None and report.interval[0] <= report.alpha <= report.interval[1]
    assert agreement.compute(rows, seed=seed).interval == report.interval


@pytest.mark.parametrize("seed", [1, 2])
def test_the_interval_resamples_records_and_keeps_the_expected_disagreement(seed: int) -> None:
    """Hayes & Krippendorff's bootstrap, recomputed naively: each replicate draws the records with two
        or more annotations with replacement, takes their observed disagreement (pairs by hand, nltk's
        MASI), and divides by the expected disagreement of the whole sample (every ordered pair of its
    annotations, as nltk's alpha takes it)."""
    import numpy as np

    rows = generated(seed, records=30)
    report = agreement.compute(rows, seed=seed, replicates=50)
    by_record: dict[str, list[frozenset[str]]] = {}
    for record, _, labels in rows:
        by_record.setdefault(record, []).append(frozenset(labels))
    pairable = sorted(r for r, sets in by_record.items() if len(sets) >= 2)
    values = [v for r in pairable for v in by_record[r]]
    n = len(values)
    expected = sum(nltk_masi(a, b) for i, a in enumerate(values) for j, b in enumerate(values) if i != j) / (
        n * (n - 1)
    )

    def disagreement(record: str) -> float:
        sets = by_record[record]
        return sum(nltk_masi(a, b) for i, a in enumerate(sets) for j, b in enumerate(sets) if i != j) / (len(sets) - 1)

    rng = np.random.default_rng(seed)
    alphas = []
    for _ in range(50):
        chosen = [pairable[int(i)] for i in rng.integers(0, len(pairable), size=len(pairable))]
        observed = sum(disagreement(r) for r in chosen) / sum(len(by_record[r]) for r in chosen)
        alphas.append(1 - observed / expected)
    assert report.interval == pytest.approx(tuple(np.percentile(alphas, [2.5, 97.5])), abs=1e-12)
    assert report.interval[0] < report.alpha < report.interval[1]


def test_columns_in_any_order_and_sets_in_any_order_encode_alike() -> None:
    rows = generated(4)
    shuffled = list(rows)
    random.Random(4).shuffle(shuffled)
    messy = [(r, u, [*reversed(labels), labels[0]]) for r, u, labels in shuffled]  # unsorted, a repeat
    want = agreement.encode(rows)
    for got in (
        agreement.encode(messy),
        agreement.encode_columns([r for r, _, _ in messy], [u for _, u, _ in messy], [tuple(x) for *_, x in messy]),
        agreement.encode_columns(
            [r for r, _, _ in shuffled],
            [u for _, u, _ in shuffled],
            [json.dumps(x) for *_, x in shuffled],
            lambda texts: [json.loads(t) for t in texts],
        ),
    ):
        for field in ("records", "annotators", "clauses"):
            assert getattr(got, field) == getattr(want, field)
        for field in ("item", "coder", "value", "padded", "sizes"):
            assert getattr(got, field).tolist() == getattr(want, field).tolist()
    with pytest.raises(ValueError, match="r001: ana has two annotations"):
        agreement.encode([*rows, ("r001", "ana", ["c1"])])
    with pytest.raises(ValueError, match="r002: ben's annotation links no clause"):
        agreement.encode([*rows, ("r002", "ben", [])])


@pytest.mark.parametrize("bad", ['{"a": 1}', '["a", 2]', '1],["b"', "not json"])
def test_a_stored_clause_set_that_is_not_an_array_of_ids_is_named(bad: str) -> None:
    from curator.errors import StoreError
    from curator.store.annotations import clause_text, decode_clause_sets

    good = [clause_text(["b", "a"]), clause_text(["é", '"quoted"'])]
    assert decode_clause_sets(good) == [("a", "b"), ('"quoted"', "é")]
    with pytest.raises(StoreError, match="is not a JSON array of clause ids") as err:
        decode_clause_sets([*good, bad])
    assert repr(bad) in str(err.value)


def test_low_agreement_is_below_krippendorffs_tentative_threshold() -> None:
    assert agreement.LOW_AGREEMENT == 0.667
    assert agreement.is_low(0.666) and agreement.is_low(-0.2)
    assert not agreement.is_low(0.667) and not agreement.is_low(1.0) and not agreement.is_low(None)


def test_masi_distance_matches_nltk() -> None:
    rng = random.Random(5)
    for _ in range(200):
        a = set(rng.sample(range(6), rng.randint(1, 4)))
        b = set(rng.sample(range(6), rng.randint(1, 4)))
        assert agreement.masi_distance(map(str, a), map(str, b)) == pytest.approx(nltk_masi(a, b))
    assert agreement.masi_distance({"1", "2"}, {"1", "2", "3", "4"}) == pytest.approx(2 / 3)


def test_small_cases_worked_by_hand() -> None:
    # r1: {a} and {a}; r2: {a, b} and {a}. d({a}, {a,b}) = 1 - 1/2 * 2/3 = 2/3.
    # observed: (2 * 2/3) / (2 - 1) / 4 values = 1/3; expected: 2 * 3 * 1 * 2/3 / (4 * 3) = 1/3: alpha 0.
    report = agreement.compute([("r1", "x", ["a"]), ("r1", "y", ["a"]), ("r2", "x", ["a", "b"]), ("r2", "y", ["a"])])
    assert report.alpha == pytest.approx(0.0)
    assert report.jaccard == pytest.approx((1 + 1 / 2) / 2)
    assert report.disagreements == 1
    assert report.confusions == ()  # b against nothing is not a confusion between two clauses

    # r1: {a} vs {b}; r2: {a} vs {a}; r3: {b} vs {b}. observed 2/6 = 1/3; expected 2*3*3/(6*5) = 3/5.
    rows = [("r1", "x", ["a"]), ("r1", "y", ["b"]), ("r2", "x", ["a"]), ("r2", "y", ["a"])]
    rows += [("r3", "x", ["b"]), ("r3", "y", ["b"])]
    report = agreement.compute(rows)
    assert report.alpha == pytest.approx(1 - (1 / 3) / (3 / 5))
    assert [c.to_json() for c in report.confusions] == [{"clauses": ["a", "b"], "count": 1}]
    assert {c.id: c.alpha for c in report.clauses} == {"a": pytest.approx(4 / 9), "b": pytest.approx(4 / 9)}

    rows = [("r1", "x", ["a", "b"]), ("r1", "y", ["b", "a"]), ("r2", "x", ["c"]), ("r2", "y", ["c"])]
    perfect = agreement.compute(rows)
    assert perfect.alpha == 1.0 and perfect.jaccard == 1.0 and perfect.disagreements == 0
    alone = agreement.compute([("r1", "x", ["a"]), ("r2", "y", ["a"])])
    assert alone.alpha is None and alone.n_records == 0 and alone.interval is None


def test_the_report_does_not_depend_on_the_order_of_the_rows() -> None:
    rows = generated(4)
    shuffled = list(rows)
    random.Random(9).shuffle(shuffled)
    assert agreement.compute(shuffled, seed=2).to_json() == agreement.compute(rows, seed=2).to_json()


def test_clause_option_html_and_unknown_clause(capsys: pytest.CaptureFixture[str], demo_db: Path, team: None) -> None:
    code, _, err = cli(capsys, demo_db, "lee", "assign", "--to", "eve,finn", "ex_demo_001", "ex_demo_003")
    assert code == 0, err
    for record, eve, finn in (
        ("ex_demo_001", ["privacy.1", "coercion.2"], ["privacy.1"]),
        ("ex_demo_003", ["honesty.1"], ["honesty.2"]),
    ):
        assert cli(capsys, demo_db, "eve", "annotate", record, *eve)[0] == 0
        assert cli(capsys, demo_db, "finn", "annotate", record, *finn)[0] == 0
    code, out, err = cli(capsys, demo_db, "lee", "agreement", "--clause", "honesty.1", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert [c["id"] for c in report["clauses"]] == ["honesty.1"]
    assert report["confusions"] == [{"clauses": ["honesty.1", "honesty.2"], "count": 1}]
    assert report["n_records"] == 2 and report["disagreements"] == 2
    code, out, err = cli(capsys, demo_db, "lee", "agreement", "--format", "html")
    assert code == 0 and out.startswith("<!doctype html>") and "honesty.1" in out
    code, out, err = cli(capsys, demo_db, "lee", "agreement", "--clause", "no.such", "--format", "json")
    assert code == 2 and err.count("\n") == 1 and "unknown clause id 'no.such'" in err and out == ""
    # a user already assigned is left as they are; nothing new is written
    before = written_state(demo_db)
    code, out, err = cli(capsys, demo_db, "lee", "assign", "--to", "eve", "ex_demo_001", "--format", "json")
    assert code == 0 and json.loads(out)["unchanged"] == 1
    assert written_state(demo_db) == before


def test_sets_larger_than_the_subset_limit_still_match_nltk() -> None:
    rng = random.Random(11)
    clauses = [f"c{i}" for i in range(14)]
    rows = []
    for r in range(30):
        truth = rng.sample(clauses, rng.randint(1, agreement.SUBSET_LIMIT + 4))
        for user in "xyz":
            labels = set(truth)
            if rng.random() < 0.5:
                labels ^= {rng.choice(clauses)}
            rows.append((f"r{r}", user, sorted(labels or {"c0"})))
    assert max(len(r[2]) for r in rows) > agreement.SUBSET_LIMIT
    triples = [(user, record, frozenset(labels)) for record, user, labels in rows]
    report = agreement.compute(rows, replicates=20)
    assert report.alpha == pytest.approx(AnnotationTask(triples, distance=nltk_masi).alpha(), abs=1e-12)
