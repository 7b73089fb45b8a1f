"""Pool entries fit the record: tags on system prompts and tools, the draw rule, the manifest's counts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator import paths
from curator.bootstrap import init_workspace
from curator.constitution.versions import import_constitution
from curator.importer import import_file
from curator.mixture import export_from_spec, parse_spec_text
from curator.mixture.pools import Drawer, load_pools
from curator.mixture.spec import SpecError
from curator.store.db import Workspace
from tests.conftest import REPO

DEMO_SPEC = REPO / "corpora" / "specs" / "demo.toml"
PROMPTS = REPO / "corpora" / "pools" / "system_prompts.jsonl"
TOOLS = REPO / "corpora" / "pools" / "tools.jsonl"
PERSONAL = {"family", "friendship", "relationships", "parenting"}
SCHEMA = {"type": "object", "properties": {}}


def _lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _pool_tags(path: Path, key: str) -> dict[str, frozenset[str]]:
    """Each entry's tags, read straight from the file (independent of the loader)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        out[obj[key] if key in obj else obj["function"][key]] = frozenset(t.casefold() for t in obj.get("tags", []))
    return out


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("family", r"prompts\.jsonl:2: tags: must be a list of non-empty strings \(got str\)"),
        (["family", ""], r"prompts\.jsonl:2: tags\[1\]: must be a non-empty string"),
        (["family", 3], r"prompts\.jsonl:2: tags\[1\]: must be a non-empty string"),
        (["  "], r"prompts\.jsonl:2: tags\[0\]: must be a non-empty string"),
    ],
)
def test_bad_prompt_tags_name_file_line_and_field(tmp_path: Path, tags: Any, message: str) -> None:
    _lines(
        tmp_path / "prompts.jsonl", [{"id": "a", "text": "You help."}, {"id": "b", "text": "You help.", "tags": tags}]
    )
    with pytest.raises(SpecError, match=message):
        load_pools("prompts.jsonl", None, 0, tmp_path, "spec.toml")


def test_prompt_ids_are_text_and_unique(tmp_path: Path) -> None:
    _lines(tmp_path / "prompts.jsonl", [{"id": "a", "text": "One."}, {"id": "a", "text": "Two."}])
    with pytest.raises(SpecError, match=r"prompts\.jsonl:2: id: duplicate id 'a'"):
        load_pools("prompts.jsonl", None, 0, tmp_path, "spec.toml")
    _lines(tmp_path / "prompts.jsonl", [{"id": 7, "text": "One."}])
    with pytest.raises(SpecError, match=r"prompts\.jsonl:1: id: must be a non-empty string"):
        load_pools("prompts.jsonl", None, 0, tmp_path, "spec.toml")


def test_tool_tags_sit_beside_every_accepted_shape(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"name": "a", "description": "A.", "input_schema": SCHEMA, "tags": ["Finance"]},
        {"name": "b", "description": "B.", "parameters": {"type": "dict", "properties": {}}, "tags": ["legal"]},
        {"type": "function", "function": {"name": "c", "description": "C.", "parameters": SCHEMA}, "tags": ["x"]},
        {"name": "d", "description": "D.", "input_schema": SCHEMA},
    ]
    pools = load_pools(None, str(_lines(tmp_path / "tools.jsonl", rows).name), 1, tmp_path, "spec.toml")
    assert [t.name for t in pools.tools] == ["a", "b", "c", "d"]
    assert pools.tags["tools"] == [frozenset({"finance"}), frozenset({"legal"}), frozenset({"x"}), frozenset()]
    assert pools.keys["tools"] == ["a", "b", "c", "d"]

    rows[2] = {"type": "function", "function": {"name": "c", "parameters": SCHEMA, "tags": ["x"]}}
    _lines(tmp_path / "tools.jsonl", rows)
    with pytest.raises(SpecError, match=r"tools\.jsonl:3: function\.tags: put `tags` next to"):
        load_pools(None, "tools.jsonl", 1, tmp_path, "spec.toml")
    rows[2] = {"name": "c", "input_schema": SCHEMA, "tags": "x"}
    _lines(tmp_path / "tools.jsonl", rows)
    with pytest.raises(SpecError, match=r"tools\.jsonl:3: tags: must be a list of non-empty strings"):
        load_pools(None, "tools.jsonl", 1, tmp_path, "spec.toml")


# -- the draw rule ---------------------------------------------------------------------------------


def _drawer(tmp_path: Path, prompts: list[dict[str, Any]], tools: list[dict[str, Any]], extra: int = 2) -> Drawer:
    _lines(tmp_path / "p.jsonl", prompts)
    _lines(tmp_path / "t.jsonl", [{"input_schema": SCHEMA, **t} for t in tools])
    return Drawer(load_pools("p.jsonl", "t.jsonl", extra, tmp_path, "spec.toml"), seed=5)


def test_matching_tagged_prompts_win_over_generic_ones(tmp_path: Path) -> None:
    drawer = _drawer(
        tmp_path,
        [
            {"id": "shop", "text": "Shop support.", "tags": ["support"]},
            {"id": "kin", "text": "Family help.", "tags": ["Family", "friendship"]},
            {"id": "kin2", "text": "More family help.", "tags": ["family"]},
            {"id": "any", "text": "Generic."},
        ],
        [{"name": "x"}],
    )
    family = frozenset({"family", "career"})
    drawn = {drawer.draw(f"ex_{i}", "advice", False, frozenset(), r, family).system for i in range(20) for r in (0, 1)}
    assert drawn == {"Family help.", "More family help."}  # the generic prompt only when nothing matches
    assert drawer.draw("ex_1", "advice", False, frozenset(), 0, frozenset({"weather"})).system == "Generic."
    assert drawer.draw("ex_1", "advice", False, frozenset(), 0, frozenset()).system == "Generic."
    # two matching prompts: a repeat gets the other one
    pair = {drawer.draw("ex_9", "advice", False, frozenset(), r, family).system for r in (0, 1)}
    assert pair == {"Family help.", "More family help."}
    assert drawer.draw("ex_9", "advice", False, frozenset(), 0, family).prompt in (1, 2)


def test_no_generic_entry_means_no_draw_rather_than_a_misfit(tmp_path: Path) -> None:
    drawer = _drawer(
        tmp_path,
        [{"id": "shop", "text": "Shop support.", "tags": ["support"]}],
        [{"name": "stock", "tags": ["finance"]}],
    )
    d = drawer.draw("ex_1", "agentic", False, frozenset(), 0, frozenset({"family"}))
    assert d.system is None and d.prompt is None and d.extra_tools == ()
    d = drawer.draw("ex_1", "agentic", False, frozenset(), 0, frozenset({"support", "finance"}))
    assert d.system == "Shop support." and [t.name for t in d.extra_tools] == ["stock"]


def test_tools_take_matching_ones_first_and_generic_ones_fill_the_rest(tmp_path: Path) -> None:
    drawer = _drawer(
        tmp_path,
        [{"text": "Generic."}],
        [
            {"name": "stock", "tags": ["finance"]},
            {"name": "fx", "tags": ["finance"]},
            {"name": "case", "tags": ["legal"]},
            {"name": "weather"},
            {"name": "clock"},
        ],
        extra=3,
    )
    finance = frozenset({"finance"})
    for r in range(4):
        names = {t.name for t in drawer.draw("ex_1", "agentic", True, frozenset(), r, finance).extra_tools}
        assert len(names) == 3 and {"stock", "fx"} < names and "case" not in names
    # the record's own tools are never drawn, matching or not
    names = {t.name for t in drawer.draw("ex_1", "agentic", True, frozenset({"fx"}), 0, finance).extra_tools}
    assert names == {"stock", "weather", "clock"}
    # repeats walk the generic ones in turn
    firsts = [drawer.draw("ex_2", "agentic", True, frozenset(), r, frozenset()).extra_tools for r in range(2)]
    assert [len(f) for f in firsts] == [2, 2] and firsts[0] == firsts[1]  # only two generic tools: both, every time
    one = _drawer(tmp_path, [{"text": "G."}], [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}], extra=2)
    a, b = (one.draw("ex_3", "agentic", True, frozenset(), r, frozenset()).extra_tools for r in (0, 1))
    assert {t.name for t in a}.isdisjoint(t.name for t in b)


# -- the demo export -------------------------------------------------------------------------------


@pytest.fixture
def bare_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The demo workspace with the advice and agentic records' own system prompts removed (so all draw)."""
    folder = tmp_path_factory.mktemp("bare")
    rows = []
    for line in paths.demo_corpus_file().read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["kind"] in ("advice", "agentic"):
            row.pop("system", None)
        rows.append(row)
    corpus = _lines(folder / "demo.jsonl", rows)
    ws = init_workspace(folder / "demo.db", demo=False, actor="ana")
    import_constitution(ws.db, paths.demo_constitution_file(), actor="ana")
    import_file(ws.db, corpus, "curator", actor="ana", keep_status=True)
    yield ws
    ws.close()


def _demo_spec(**changes: str) -> Any:
    text = DEMO_SPEC.read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return parse_spec_text(text, "<demo>", REPO)


def test_demo_export_draws_prompts_and_tools_that_fit(bare_demo: Workspace, tmp_path: Path) -> None:
    spec = _demo_spec(
        **{
            'statuses = ["approved"]': 'statuses = ["approved", "review", "draft"]',
            "budget_tokens = 12000": "budget_tokens = 1000000",
        }
    )
    result = export_from_spec(bare_demo.db, spec, tmp_path)
    assert result.folder and result.manifest
    prompt_tags = _pool_tags(PROMPTS, "text")
    tool_tags = _pool_tags(TOOLS, "name")
    support = {text for text, tags in prompt_tags.items() if "customer-support" in tags}
    assert len(support) == 2
    records = [json.loads(x) for x in (result.folder / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    stored = {ex.id: ex for ex in result.plan.records.values()}
    prompts_seen: Counter[str] = Counter()
    personal = repeats = 0
    for split in ("train", "eval", "heldout"):
        path = result.folder / "anthropic" / f"{split}.jsonl"
        if not path.exists():
            continue
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
        mine = [r for r in records if r["split"] == split]
        for rec, row in zip(mine, lines, strict=True):
            if rec["kind"] not in ("advice", "agentic"):
                continue
            tags = frozenset(t.casefold() for t in stored[rec["id"]].tags)
            system = row["system"]  # every advice and agentic line got one: the pool has a generic prompt
            prompts_seen[system] += 1
            matching = {text for text, t in prompt_tags.items() if t & tags}
            assert system in matching if matching else not prompt_tags[system], (rec["id"], system[:40])
            if rec["kind"] == "advice" and tags & PERSONAL:
                personal += 1
                assert system not in support and "customer" not in system.casefold(), (rec["id"], system[:40])
            repeats += rec["repeat"] > 0
            own = {t.name for t in stored[rec["id"]].tools or []}
            for tool in row.get("tools", []):
                name = tool["name"]
                if name in own:
                    continue
                original = next(n for n in tool_tags if n.replace(".", "_") == name)
                fits = tool_tags[original] & tags
                assert fits or not tool_tags[original], (rec["id"], name)
    assert personal >= 5 and repeats > 0 and len(prompts_seen) >= 5
    pools = result.manifest["pools"]
    draws = pools["system_prompts"]["draws"]
    assert list(draws) == [f"sp_{i:02d}" for i in range(1, 24)]
    assert sum(draws.values()) == sum(prompts_seen.values())
    assert pools["system_prompts"]["no_fit"] == {"records": 0, "lines": 0}
    assert pools["system_prompts"]["tagged"] == 22
    assert pools["tools"]["no_fit"] == {"records": 0, "lines": 0}
    assert pools["tools"]["tagged"] == 36 and sum(pools["tools"]["draws"].values()) > 0
    assert not [w for w in result.plan.warnings if w.startswith("pools:")]


def test_records_no_entry_fits_are_counted_and_warned(bare_demo: Workspace, tmp_path: Path) -> None:
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    _lines(spec_dir / "prompts.jsonl", [{"id": "shop", "text": "You support a bike shop.", "tags": ["support"]}])
    spec = _demo_spec(**{'system_prompts = "corpora/pools/system_prompts.jsonl"': 'system_prompts = "prompts.jsonl"'})
    spec._base_dir = spec_dir
    result = export_from_spec(bare_demo.db, spec, tmp_path / "out")
    assert result.manifest
    pool = result.manifest["pools"]["system_prompts"]
    owed = [ln for ln in result.plan.lines if ln.kind in ("advice", "agentic")]
    fitting = [ln for ln in owed if "support" in result.plan.records[ln.id].tags]
    assert pool["draws"] == {"shop": len(fitting)}
    assert pool["no_fit"]["lines"] == len(owed) - len(fitting) > 0
    assert pool["no_fit"]["records"] == len({ln.id for ln in owed if ln not in fitting})
    assert any(w.startswith(f"pools: {pool['no_fit']['records']} records") for w in result.plan.warnings)
    assert result.folder
    for line in (result.folder / "anthropic" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row.get("system") in (None, "You support a bike shop.")


def test_cli_refuses_bad_tags_with_one_line_and_writes_nothing(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from curator.cli import main

    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    _lines(spec_dir / "prompts.jsonl", [{"id": "a", "text": "You help.", "tags": ["family", ""]}])
    text = DEMO_SPEC.read_text(encoding="utf-8")
    text = text.replace('system_prompts = "corpora/pools/system_prompts.jsonl"', 'system_prompts = "prompts.jsonl"')
    (spec_dir / "spec.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["export", "--spec", str(spec_dir / "spec.toml"), "--out", str(out), "--db", str(demo_db)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.endswith("prompts.jsonl:1: tags[1]: must be a non-empty string")
    assert not out.exists() or not any(out.iterdir())
