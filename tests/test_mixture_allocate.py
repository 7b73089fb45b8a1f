"""Allocation: kind budgets with water-filling, UniMax across clauses, deterministic fill.

Budget and balance tests run a whole (small) export over generated records, so what is checked
is what a trainer gets: the files' records.jsonl and manifest.json.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from curator.mixture import SpecError, export_from_spec, load_spec
from curator.mixture.allocate import (
    Candidate,
    Candidates,
    allocate,
    largest_remainder,
    plan_kinds,
    water_fill,
)
from curator.store.db import Workspace
from tests.helpers import CLAUSES, fill_ws, gen_records, write_spec


def export(ws: Workspace, tmp_path: Path, **overrides: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run a real export (openai only, exact dedup); returns (manifest, records.jsonl rows)."""
    defaults: dict[str, Any] = {"formats": ["openai"], "dedup": "exact", "split": {"eval_fraction": 0.05}}
    defaults.update(overrides)
    spec = write_spec(tmp_path, **defaults)
    result = export_from_spec(ws.db, load_spec(spec), tmp_path / "out", force=True)
    assert result.folder is not None
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    rows = [json.loads(x) for x in (result.folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    return manifest, rows


@pytest.fixture
def genws(ws: Workspace) -> Workspace:
    fill_ws(ws, gen_records(800))
    return ws


# ---------------------------------------------------------------------------
# Pure pieces
# ---------------------------------------------------------------------------


def test_largest_remainder_adds_up() -> None:
    assert largest_remainder([1.5, 1.5, 1.0], 4) == [2, 1, 1]
    assert largest_remainder([0.2, 0.3, 0.5], 1) == [0, 0, 1]
    rng = random.Random(3)
    for _ in range(100):
        values = [rng.random() * 100 for _ in range(rng.randint(1, 12))]
        total = round(sum(values))
        parts = largest_remainder(values, total)
        assert sum(parts) == total
        assert all(abs(p - v) < 1 for p, v in zip(parts, values, strict=True))


def test_water_fill_passes_the_surplus_on() -> None:
    parts, capped = water_fill(100.0, [1, 1, 1, 1], [10, 100, 100, 100])
    assert parts == pytest.approx([10, 30, 30, 30])
    assert capped == [True, False, False, False]
    parts, capped = water_fill(100.0, [0.5, 0.5], [20, 30])
    assert parts == [20, 30] and capped == [True, True]
    parts, _ = water_fill(90.0, [0.5, 0.25, 0.25], [1000, 5, 1000])
    assert parts == pytest.approx([85 * 2 / 3, 5, 85 / 3])


def test_strict_mode_names_the_short_kind() -> None:
    cands = [Candidate(f"s{i}", "story", ("a",), 100) for i in range(3)]
    cands += [Candidate(f"d{i}", "document", ("a",), 100) for i in range(30)]
    kw: dict[str, Any] = {"budget": 1000, "shares": {"story": 0.5, "document": 0.5}, "kinds": ["story", "document"]}
    kinds = plan_kinds(cands, max_epochs=1, strict=False, **kw)
    assert kinds["story"].target == 300 and kinds["document"].target == 700
    from curator.mixture.allocate import ShortfallError

    with pytest.raises(ShortfallError, match="not enough story data"):
        plan_kinds(cands, max_epochs=1, strict=True, **kw)


def test_fill_is_deterministic_and_respects_max_epochs() -> None:
    rng = random.Random(5)
    cands = [
        Candidate(f"r{i}", "story", tuple(rng.sample(["a", "b", "c", "d"], rng.randint(1, 2))), rng.randint(50, 150))
        for i in range(40)
    ]
    cands += [Candidate(f"x{i}", "story", ("rare",), 100) for i in range(2)]
    costs = {c.id: c.cost for c in cands}

    def cost(rid: str, repeat: int) -> int:
        return costs[rid] + repeat  # repeats may cost a little more (another system prompt)

    kw: dict[str, Any] = {
        "budget": 6000,
        "shares": {"story": 1.0},
        "kinds": ["story"],
        "max_epochs": 3,
        "balance": "unimax",
        "strict": False,
        "seed": 9,
    }
    a = allocate(cands, cost, **kw)
    b = allocate(list(reversed(cands)), cost, **kw)
    assert a.picks == b.picks
    columns = Candidates(cands)  # what an export holds: columns, a Candidate made when asked for
    assert list(columns) == cands and columns[-1] == cands[-1] and columns[3:7] == cands[3:7]
    c = allocate(columns, cost, **kw)
    assert (c.picks, c.costs, [x.to_json() for x in c.cells]) == (a.picks, a.costs, [x.to_json() for x in a.cells])
    uses = Counter(rid for rid, _ in a.picks)
    assert max(uses.values()) <= 3
    assert {rep for _, rep in a.picks} <= {0, 1, 2}
    rare = next(c for c in a.cells if c.clause == "rare")
    assert rare.capped and rare.target == pytest.approx(600, abs=1)
    assert uses["x0"] == uses["x1"] == 3  # the scarce cell is repeated up to its cap
    assert abs(a.tokens - 6000) <= 160 / 2
    assert a.picks != allocate(cands, cost, **{**kw, "seed": 10}).picks  # the seed orders each cell


def test_each_cell_reports_its_distinct_records_after_the_id_lists_are_released() -> None:
    """A million candidates' member lists are not kept past the fill, and a cell counts its distinct
    records without holding them; what it reports stays right."""
    rng = random.Random(11)
    kinds = ["story", "advice"]
    cands = [
        Candidate(f"r{i:03}", rng.choice(kinds), tuple(rng.sample(["a", "b", "c"], rng.randint(0, 2))), 100)
        for i in range(120)
    ]
    clauses = {c.id: c.clauses or ("",) for c in cands}
    kind_of = {c.id: c.kind for c in cands}
    alloc = allocate(
        cands,
        lambda rid, repeat: 100,
        budget=15_000,
        shares={"story": 0.5, "advice": 0.5},
        kinds=kinds,
        max_epochs=2,
        balance="unimax",
        strict=False,
        seed=3,
    )
    assert max(Counter(rid for rid, _ in alloc.picks).values()) == 2  # some records were repeated
    for cell in alloc.cells:
        picked = {rid for rid, _ in alloc.picks if kind_of[rid] == cell.kind and cell.clause in clauses[rid]}
        assert cell.to_json()["unique"] == len(picked) > 0, (cell.kind, cell.clause)
        assert not cell.members
    assert len(alloc.costs) == len(alloc.picks) and set(alloc.costs) == {100}


# ---------------------------------------------------------------------------
# Whole exports over generated records
# ---------------------------------------------------------------------------


def test_shares_and_budget_when_data_suffices(genws: Workspace, tmp_path: Path) -> None:
    manifest, rows = export(genws, tmp_path, budget_tokens=40_000, max_epochs=1)
    budget = manifest["budget"]
    assert abs(budget["train_tokens_actual"] - 40_000) / 40_000 <= 0.02
    files = {f["split"]: f for f in manifest["files"]}
    assert files["train"]["tokens"] == budget["train_tokens_actual"]
    for kind, v in manifest["kinds"].items():
        assert abs(v["actual_share"] - 0.25) <= 0.01, kind
    train = [r for r in rows if r["split"] == "train"]
    assert {r["repeat"] for r in train} == {0}  # max_epochs = 1: no record repeated
    assert len({r["id"] for r in train}) == len(train)


def test_uneven_shares_and_proportional_balance(genws: Workspace, tmp_path: Path) -> None:
    shares = {"story": 0.1, "advice": 0.5, "document": 0.15, "agentic": 0.25}
    manifest, _ = export(genws, tmp_path, budget_tokens=30_000, kinds=shares, balance="proportional")
    for kind, share in shares.items():
        assert abs(manifest["kinds"][kind]["actual_share"] - share) <= 0.01
    cells = [c for c in manifest["cells"] if c["kind"] == "advice"]
    have = sum(c["available_tokens"] for c in cells)
    for c in cells:  # proportional: targets follow what each cell has
        assert c["target_tokens"] == pytest.approx(15_000 * c["available_tokens"] / have, abs=2)


def test_unimax_balances_clauses_inside_a_kind(genws: Workspace, tmp_path: Path) -> None:
    manifest, _ = export(genws, tmp_path, budget_tokens=24_000)
    for kind in ("story", "advice", "document", "agentic"):
        cells = [c for c in manifest["cells"] if c["kind"] == kind]
        assert len(cells) == len(CLAUSES)
        targets = [c["target_tokens"] for c in cells]
        assert max(targets) - min(targets) <= 1  # equal shares (no cell is scarce here)
        for c in cells:  # achieved within a record or two of the target
            assert abs(c["actual_tokens"] - c["target_tokens"]) <= 400, c


def test_scarce_kind_gives_its_surplus_and_repeats_up_to_max_epochs(ws: Workspace, tmp_path: Path) -> None:
    records = gen_records(600, kinds=("story", "advice", "document"))
    records += gen_records(4, seed=2, kinds=("agentic",))
    fill_ws(ws, records)
    manifest, rows = export(ws, tmp_path, budget_tokens=40_000, max_epochs=3)
    agentic = manifest["kinds"]["agentic"]
    assert agentic["actual_share"] < 0.25  # short: keeps everything it has...
    train = [r for r in rows if r["split"] == "train"]
    uses = Counter(r["id"] for r in train)
    assert max(uses.values()) <= 3
    assert all(r["repeat"] < 3 for r in train)
    agentic_ids = {r["id"] for r in train if r["kind"] == "agentic"}
    assert all(uses[i] == 3 for i in agentic_ids)  # ...three times over
    others = sum(manifest["kinds"][k]["tokens"] for k in ("story", "advice", "document"))
    total = manifest["budget"]["train_tokens_actual"]
    assert abs(total - 40_000) / 40_000 <= 0.02  # the surplus went to the other kinds
    for k in ("story", "advice", "document"):
        assert manifest["kinds"][k]["tokens"] / others == pytest.approx(1 / 3, abs=0.01)
    # a full pass before any repeat: no story/advice/document record repeats while others are unused
    for kind in ("story", "advice", "document"):
        assert {r["repeat"] for r in train if r["kind"] == kind} == {0}


def test_strict_mode_fails_naming_the_kind(ws: Workspace, tmp_path: Path) -> None:
    fill_ws(ws, gen_records(300, kinds=("story", "advice", "document")) + gen_records(4, seed=2, kinds=("agentic",)))
    with pytest.raises(SpecError, match=r"spec\.toml: kinds\.agentic: not enough agentic data"):
        export(ws, tmp_path, budget_tokens=20_000, strict=True, split={"eval_fraction": 0.0})


def test_full_pass_before_any_repeat_per_cell(ws: Workspace, tmp_path: Path) -> None:
    records = gen_records(400, kinds=("story",))
    rare = gen_records(5, seed=3, kinds=("document",))
    for ex in rare:
        ex.clauses[:] = ["privacy.1.1"]
    many = [ex for ex in gen_records(200, seed=4, kinds=("document",)) if "privacy.1.1" not in ex.clauses]
    fill_ws(ws, records + rare + many)
    _, rows = export(ws, tmp_path, budget_tokens=20_000, max_epochs=4, split={"eval_fraction": 0.0})
    by_repeat: dict[int, set[str]] = defaultdict(set)
    for r in rows:
        if r["split"] == "train" and r["kind"] == "document" and r["clauses"] == ["privacy.1.1"]:
            by_repeat[r["repeat"]].add(r["id"])
    assert by_repeat[1], "the scarce cell should repeat"
    for rep in sorted(by_repeat)[1:]:
        assert by_repeat[rep] <= by_repeat[rep - 1]
    assert by_repeat[0] == {ex.id for ex in rare}


@pytest.mark.parametrize("budget", [40_000, 200_000])
def test_the_plan_keeps_the_counts_of_its_lines_only(genws: Workspace, tmp_path: Path, budget: int) -> None:
    """Every train candidate is counted to allocate; afterwards only the picked lines' counts are
    held (the writer reuses them), and they are the counts the allocation adds up."""
    from curator.mixture.plan import line_cost, plan_export

    spec = load_spec(write_spec(tmp_path, formats=["openai"], max_epochs=2, budget_tokens=budget))
    plan = plan_export(genws.db, spec, tmp_path / "out")
    train = [line for line in plan.lines if line.split == "train"]
    assert len(plan.costs) == len({(line.id, line.repeat) for line in train}) == len(train)
    assert plan.allocation.picks == []  # the train lines are the picks; not held twice
    candidates = sum(1 for rid in plan.records if plan.split_result.splits[rid] == "train")
    if budget == 40_000:
        assert len(train) < candidates / 2  # the others' counts were dropped
    else:
        assert any(line.repeat for line in train)  # repeats are counted on their own draw
    for line in train[::7]:
        ex = plan.records[line.id]
        draw = plan.draw(line.id, line.repeat)
        cost = line_cost("openai", ex, draw, spec.rationale, line.repeat, plan.counter)
        assert plan.costs.get((line.id, line.repeat)) == cost
    assert sum(plan.costs.get((line.id, line.repeat)) or 0 for line in train) == plan.allocation.tokens


@pytest.mark.parametrize("budget", [20_000, 400_000])
def test_model_spec_examples_allocate_with_the_counts_they_report(tmp_path: Path, budget: int) -> None:
    """The Model Spec's own worked examples (174 real dialogues with their rejected answers, linked
    to the 57 sections they illustrate): each cell reports the distinct records picked for it, and
    each train line's kept count is its rendered count, whether the budget picks a few or repeats."""
    from curator.constitution.examples import import_examples
    from curator.constitution.versions import import_constitution
    from curator.mixture.plan import line_cost, plan_export
    from curator.store.db import open_workspace
    from tests.conftest import FIXTURES

    document = FIXTURES / "openai-model-spec" / "model_spec_2025-12-18.md"
    with open_workspace(":memory:") as real:
        import_constitution(real.db, document, actor="tester")
        import_examples(real.db, document, actor="tester")
        spec = load_spec(
            write_spec(
                tmp_path,
                formats=["openai", "trl-preference"],
                statuses=["draft"],
                kinds={"advice": 1.0},
                max_epochs=3,
                budget_tokens=budget,
                split={"eval_fraction": 0.1},
            )
        )
        plan = plan_export(real.db, spec, tmp_path / "out")
        train = [line for line in plan.lines if line.split == "train"]
        clauses = {line.id: plan.records.meta[line.id].clauses or ("",) for line in train}
        for cell in plan.allocation.cells:
            picked = {line.id for line in train if cell.clause in clauses[line.id]}
            assert cell.to_json()["unique"] == len(picked), cell.clause
        assert len(plan.costs) == len(train) == len({(line.id, line.repeat) for line in train})
        if budget == 400_000:
            assert max(line.repeat for line in train) == 2  # the spec's examples are short: repeated
        for line in train:
            ex, draw = plan.records[line.id], plan.draw(line.id, line.repeat)
            cost = line_cost("openai", ex, draw, spec.rationale, line.repeat, plan.counter)
            assert plan.costs.get((line.id, line.repeat)) == cost
        assert sum(plan.costs.get((line.id, line.repeat)) or 0 for line in train) == plan.allocation.tokens


def test_the_plan_loads_every_status_asked_for_in_one_id_order(ws: Workspace) -> None:
    """Records of three statuses come out merged in id order (the order every later step follows),
    with progress counted in records; a read that is not in id order is an error, not another plan."""
    from curator.errors import CuratorError
    from curator.mixture import plan as plan_module

    records = gen_records(90, seed=3)
    for i, ex in enumerate(records):
        ex.status = ("approved", "draft", "review")[i % 3]
    fill_ws(ws, records)
    seen: list[tuple[str, int, int]] = []
    meta, unusable = plan_module._load_records(ws.db, ["review", "approved", "draft"], lambda *p: seen.append(p))
    assert list(meta) == sorted(ex.id for ex in records) and unusable == {}
    assert {m.status for m in meta.values()} == {"approved", "draft", "review"}
    assert seen[-1] == ("load", 90, 90)

    original = plan_module.iter_query

    def backwards(db: Any, **filters: Any) -> Any:
        return reversed(list(original(db, **filters)))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plan_module, "iter_query", backwards)
        with pytest.raises(CuratorError, match="not read in id order"):
            plan_module._load_records(ws.db, ["approved"], lambda *p: None)


def test_the_loaded_records_table_answers_as_the_dict_it_replaces() -> None:
    """`MetaTable` (columns, a Meta made on demand) against a plain dict through the plan's own
    operations: loads in id order, drops in place, lookups, membership, order, items."""
    from curator.errors import CuratorError
    from curator.mixture.plan import Meta, MetaTable

    rng = random.Random(11)
    groups = [None, "g1", "g2", "g\u00e9"]
    plain: dict[str, Meta] = {}
    for i in range(300):  # many distinct groups before a second kind or status appears
        plain[f"aa_{i:03d}"] = Meta("story", "approved", f"group {i}", (), False, frozenset(), frozenset(), 0)
    for i in sorted(rng.sample(range(10_000), 600)):
        clauses = tuple(rng.sample(CLAUSES, rng.randint(0, 2)))
        tools = frozenset(rng.sample(["search", "mail", "calendar"], rng.randint(0, 2)))
        plain[f"ex_{i:05d}"] = Meta(
            rng.choice(["story", "advice", "document", "agentic"]),
            rng.choice(["approved", "draft"]),
            rng.choice(groups),
            clauses,
            rng.random() < 0.3,
            tools,
            frozenset(rng.sample(["a", "b"], rng.randint(0, 2))),
            rng.choice([0, 1, 3, 300, 70_000]),
        )
    table = MetaTable.of(plain.items())
    assert dict(table.items()) == plain and list(table) == list(plain) and len(table) == len(plain)
    gone = [*rng.sample(list(plain), 200), "ex_99999", "not an id"]  # unknown ids are ignored
    table.drop(gone)
    table.drop(gone[:50])  # dropping twice changes nothing
    for rid in gone:
        plain.pop(rid, None)
    assert dict(table.items()) == plain and list(table) == list(plain) and len(table) == len(plain)
    for rid in rng.sample(list(plain), 50):
        assert rid in table and table[rid] == plain[rid] and table.get(rid) == plain[rid]
    for rid in [*gone[:20], "", "ex_", "zzz"]:
        assert rid not in table and table.get(rid) is None
        with pytest.raises(KeyError):
            table[rid]
    assert 5 not in table
    with pytest.raises(CuratorError, match="ex_00001: records were not read in id order"):
        table.add("ex_00001", next(iter(plain.values())))
