"""Mixture specs: defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from curator.mixture.pools import Drawer, load_pools, resolve_pool
from curator.mixture.spec import SpecError, load_spec, parse_spec, parse_spec_text
from tests.conftest import REPO
from tests.helpers import spec_data, toml_text, write_spec

SPECS = REPO / "tests" / "data" / "specs"


def error_of(tmp_path: Path, **overrides: Any) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(tmp_path, **overrides))
    return str(info.value)


def test_defaults_are_filled_in(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path))
    assert spec.statuses == ["approved"]
    assert spec.formats == ["anthropic", "openai", "hf-messages", "text"]
    assert spec.rationale == "thinking"
    assert spec.max_epochs == 1 and spec.balance == "unimax" and not spec.strict
    assert spec.license == "other"
    assert spec.split.by == "group" and spec.split.eval_fraction == 0.05
    assert spec.counted_format == "anthropic"
    assert spec.canonical()["kinds"] == {"story": 0.25, "advice": 0.25, "document": 0.25, "agentic": 0.25}


def test_spec_hash_ignores_comments_and_order(tmp_path: Path) -> None:
    a = load_spec(write_spec(tmp_path, "a.toml"))
    text = "# a comment\n" + toml_text(dict(reversed(list(spec_data().items()))))
    (tmp_path / "b.toml").write_text(text, encoding="utf-8")
    assert a.sha256() == load_spec(tmp_path / "b.toml").sha256()


def test_shares_must_sum_to_one(tmp_path: Path) -> None:
    msg = error_of(tmp_path, kinds={"story": 0.5, "advice": 0.4})
    assert msg == f"{tmp_path / 'spec.toml'}: kinds: shares must sum to 1 (got 0.9)"


def test_shipped_bad_specs_name_their_keys() -> None:
    for file, key in (("bad_shares.toml", "kinds: shares must sum to 1"), ("unsafe_name.toml", "name: unsafe name")):
        with pytest.raises(SpecError, match=key):
            load_spec(SPECS / file)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"kinds": {"stroy": 1.0}}, "kinds.stroy: unknown kind"),
        ({"kinds": {"story": 1.5, "advice": -0.5}}, "kinds.story: a share must be between 0 and 1"),
        ({"budget": 5}, "budget: unknown key"),
        ({"budget_tokens": 0}, "budget_tokens: Input should be greater than 0"),
        ({"formats": ["openai", "jsonl"]}, "formats[1]: unknown value 'jsonl'"),
        ({"formats": ["openai", "openai"]}, "formats: 'openai' is listed twice"),
        ({"rationale": "both"}, "rationale: unknown value 'both'"),
        ({"statuses": ["approved", "done"]}, "statuses[1]: unknown status 'done'"),
        ({"max_epochs": 0}, "max_epochs: Input should be greater than or equal to 1"),
        ({"license": "MIT License"}, "license: 'MIT License' is not a license identifier"),
        ({"split": {"eval_fraction": 1.5}}, "split.eval_fraction: Input should be less than 1"),
        ({"split": {"by": "title"}}, "split.by: unknown value 'title'"),
        ({"split": {"salt": "x", "color": "red"}}, "split.color: unknown key"),
        ({"diversify": {"extra_tools": 2}}, "diversify.extra_tools: needs a `tools` pool"),
        ({"formats": ["text"], "budget_format": "openai"}, "budget_format: 'openai' is not one of the exported"),
        ({"seed": "forty-two"}, "seed: Input should be a valid integer"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, overrides: dict[str, Any], expected: str) -> None:
    msg = error_of(tmp_path, **overrides)
    assert msg.startswith(f"{tmp_path / 'spec.toml'}: ")
    assert expected in msg


def test_missing_keys_are_named(tmp_path: Path) -> None:
    data = spec_data()
    del data["budget_tokens"]
    with pytest.raises(SpecError, match="budget_tokens: required key is missing"):
        parse_spec(data, "spec.toml")


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\\b", "..", ".hidden", "x..y", "", "a b", "é"])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    assert "name: " in error_of(tmp_path, name=name)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad.toml: invalid TOML \(.*line 1"):
        load_spec(bad)
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "missing.toml")


def test_spec_text_parses_without_a_file(tmp_path: Path) -> None:
    text = toml_text(spec_data())
    spec = parse_spec_text(text, "<editor>")
    assert spec.source == "<editor>" and spec.base_dir == Path()
    assert parse_spec_text(text, "<editor>", base_dir=tmp_path).base_dir == tmp_path
    assert list(tmp_path.iterdir()) == []
    # where a spec came from is not part of what it means
    from_file = load_spec(write_spec(tmp_path))
    assert from_file.source == str(tmp_path / "spec.toml") and from_file.base_dir == tmp_path
    assert from_file.sha256() == spec.sha256() and from_file.canonical() == spec.canonical()


def test_spec_text_errors_name_the_source_and_the_key() -> None:
    where = "<editor: spec.toml>"
    bad_shares = toml_text(spec_data(kinds={"story": 0.5, "advice": 0.4}))
    with pytest.raises(SpecError) as info:
        parse_spec_text(bad_shares, where)
    assert str(info.value) == f"{where}: kinds: shares must sum to 1 (got 0.9)"
    with pytest.raises(SpecError, match=r"^<editor: spec.toml>: invalid TOML \(.*line 1"):
        parse_spec_text("name = \n", where)
    with pytest.raises(SpecError, match=r"^<editor: spec.toml>: split.color: unknown key"):
        parse_spec_text(toml_text(spec_data(split={"color": "red"})), where)


@pytest.mark.parametrize("key", ["base_dir", "_base_dir", "source", "_source"])
def test_where_a_spec_came_from_cannot_be_set_in_the_spec(tmp_path: Path, key: str) -> None:
    assert f"{key}: unknown key" in error_of(tmp_path, **{key: "/"})


def test_pool_paths_resolve_in_spec_folder_then_project(tmp_path: Path) -> None:
    (tmp_path / "pools").mkdir()
    mine = tmp_path / "pools" / "prompts.jsonl"
    mine.write_text('{"id": "a", "text": "You are a helpful assistant."}\n', encoding="utf-8")
    assert resolve_pool("pools/prompts.jsonl", tmp_path, where="s", key="k") == mine.resolve()
    project = resolve_pool("corpora/pools/tools.jsonl", tmp_path, where="s", key="k")
    assert project == (REPO / "corpora" / "pools" / "tools.jsonl").resolve()


@pytest.mark.parametrize("value", ["../../../../../../../etc/passwd", "/etc/passwd", "corpora/../../outside.jsonl"])
def test_pool_paths_that_escape_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(SpecError, match=r"diversify.tools: "):
        resolve_pool(value, tmp_path, where="spec.toml", key="diversify.tools")


def test_shipped_escaping_pool_spec_is_refused() -> None:
    spec = load_spec(SPECS / "escaping_pool.toml")
    with pytest.raises(SpecError, match=r"diversify\.system_prompts: .* escapes"):
        load_pools(spec.diversify.system_prompts, None, 0, SPECS, str(SPECS / "escaping_pool.toml"))


def test_bad_pool_lines_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "tools.jsonl").write_text(
        '{"name": "ok", "input_schema": {"type": "object"}}\n{"name": "bad name", "input_schema": {}}\n',
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"tools.jsonl:2: name: "):
        load_pools(None, "tools.jsonl", 1, tmp_path, "spec.toml")


def test_draws_are_deterministic_and_repeats_differ() -> None:
    pools = load_pools("corpora/pools/system_prompts.jsonl", "corpora/pools/tools.jsonl", 2, REPO, "spec")
    drawer = Drawer(pools, seed=3)
    tags = frozenset({"code", "finance"})  # three tagged prompts, five tagged tools
    first = drawer.draw("ex_1", "agentic", False, frozenset({"send_email"}), 0, tags)
    assert first == Drawer(pools, seed=3).draw("ex_1", "agentic", False, frozenset({"send_email"}), 0, tags)
    again = drawer.draw("ex_1", "agentic", False, frozenset({"send_email"}), 1, tags)
    assert first.system != again.system
    assert {t.name for t in first.extra_tools}.isdisjoint(t.name for t in again.extra_tools)
    assert len(first.extra_tools) == 2
    # a record with its own system prompt keeps it; stories and documents are not diversified
    assert drawer.draw("ex_1", "advice", True, frozenset(), 0, tags).system is None
    assert drawer.draw("ex_1", "story", False, frozenset(), 0, tags).system is None
    # distractors never clash with the record's own tools, even after name rewriting
    own = frozenset(t.name for t in pools.tools[:39])
    for r in range(5):
        names = {t.name for t in drawer.draw("ex_2", "agentic", True, own, r, frozenset({"legal"})).extra_tools}
        assert names == {pools.tools[39].name}
