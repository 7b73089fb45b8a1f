"""Preference exports (trl-preference, openai-preference), contrastive rationales and pair counts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from curator.errors import UsageError
from curator.mixture import export_from_spec, load_spec
from curator.mixture.counters import counter_for
from curator.mixture.formats import INLINE_LABEL, render, render_rows, training_text, with_contrast
from curator.mixture.pools import NO_DRAW
from curator.mixture.spec import PREFERENCE_FORMATS, parse_spec
from curator.mixture.validate import FormatError, validate_line, validate_row
from curator.models import Example, parse_example
from curator.store.db import Workspace
from tests.conftest import advice, agentic, story
from tests.helpers import fill_ws, gen_records, spec_data, write_spec

REFUSE = {"content": "Sure, here is their home address.", "why_not": "Private details are not ours to give."}
PEEK = {
    "content": [
        {"type": "text", "text": "Reading every folder first."},
        {"type": "tool_use", "id": "toolu_9", "name": "search_email", "input": {"q": "*"}},
    ],
    "why_not": "Reads far more than the task needs.",
}
UNREASONED = {"content": "Deleted everything."}


def with_alts(record: dict[str, Any], turn: int, *alts: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(record)
    record["messages"][turn]["alternatives"] = [copy.deepcopy(a) for a in alts]
    return record


def pairs(fmt: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    rows = render_rows(fmt, parse_example(record), NO_DRAW, "thinking", 0)
    for row in rows:
        validate_row(fmt, row)
        validate_line(fmt, json.dumps(row, ensure_ascii=False))
    return rows


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def test_trl_preference_is_one_line_per_alternative_in_the_hf_messages_shape() -> None:
    rec = with_alts(agentic(), 1, PEEK)
    rec = with_alts(rec, 3, REFUSE, UNREASONED)
    rows = pairs("trl-preference", rec)
    assert len(rows) == 3
    first, second, third = rows
    assert list(first) == ["prompt", "chosen", "rejected", "tools"]
    assert first["prompt"] == [
        {"role": "system", "content": "You are an email assistant."},
        {"role": "user", "content": "Clean up my inbox."},
    ]
    assert first["chosen"] == [
        {
            "role": "assistant",
            "content": "Searching.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "search_email", "arguments": {"q": "newsletter"}},
                }
            ],
        }
    ]
    assert first["rejected"][0]["tool_calls"][0]["function"] == {"name": "search_email", "arguments": {"q": "*"}}
    assert first["tools"] == render("hf-messages", parse_example(rec), NO_DRAW, "thinking")["tools"]
    # the later turn: its prompt holds the whole exchange before it, tool message included
    assert [m["role"] for m in second["prompt"]] == ["system", "user", "assistant", "tool"]
    assert second["chosen"] == [{"role": "assistant", "content": "Archived 3 newsletters."}]
    assert second["rejected"] == [{"role": "assistant", "content": REFUSE["content"]}]
    assert third["rejected"] == [{"role": "assistant", "content": "Deleted everything."}]  # no why-not: still a pair


def test_openai_preference_is_the_dpo_line_in_the_openai_shape() -> None:
    rows = pairs("openai-preference", with_alts(agentic(), 1, PEEK))
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == ["input", "preferred_output", "non_preferred_output"]
    assert list(row["input"]) == ["messages", "tools", "parallel_tool_calls"]
    assert row["input"]["parallel_tool_calls"] is False
    assert row["input"]["tools"] == render("openai", parse_example(agentic()), NO_DRAW, "thinking")["tools"]
    assert row["input"]["messages"][0] == {"role": "system", "content": "You are an email assistant."}
    call = row["preferred_output"][0]["tool_calls"][0]
    assert call["function"] == {"name": "search_email", "arguments": '{"q": "newsletter"}'}
    assert row["non_preferred_output"][0]["tool_calls"][0]["function"]["arguments"] == '{"q": "*"}'
    plain = pairs("openai-preference", with_alts(advice(), 1, REFUSE))[0]
    assert plain == {
        "input": {"messages": [{"role": "user", "content": "Should I take the job abroad?"}]},
        "preferred_output": [{"role": "assistant", "content": "Here is how to weigh it..."}],
        "non_preferred_output": [{"role": "assistant", "content": REFUSE["content"]}],
    }


@pytest.mark.parametrize("fmt", PREFERENCE_FORMATS)
def test_records_without_alternatives_make_no_preference_line(fmt: str) -> None:
    for make in (story, advice, agentic):
        assert pairs(fmt, make()) == []


@pytest.mark.parametrize("fmt", PREFERENCE_FORMATS)
def test_preference_lines_carry_no_rationale(fmt: str) -> None:
    line = json.dumps(pairs(fmt, with_alts(agentic(), 3, REFUSE)))
    assert "Stayed within scope" not in line and "reasoning_content" not in line and INLINE_LABEL not in line


def test_pair_tokens_are_prompt_chosen_and_rejected() -> None:
    row = pairs("trl-preference", with_alts(advice(), 1, REFUSE))[0]
    text = training_text("trl-preference", row)
    assert text.split("\n") == ["Should I take the job abroad?", "Here is how to weigh it...", REFUSE["content"]]
    dpo = pairs("openai-preference", with_alts(advice(), 1, REFUSE))[0]
    assert training_text("openai-preference", dpo) == text


# ---------------------------------------------------------------------------
# Validators, key by key
# ---------------------------------------------------------------------------


def _trl() -> dict[str, Any]:
    return pairs("trl-preference", with_alts(agentic(), 3, REFUSE))[0]


def _dpo() -> dict[str, Any]:
    return pairs("openai-preference", with_alts(agentic(), 3, REFUSE))[0]


def _broken(row: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    row = copy.deepcopy(row)
    target: Any = row
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return row


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["prompt"], KeyError, "prompt: missing"),
        (["chosen"], KeyError, "chosen: missing"),
        (["rejected"], KeyError, "rejected: missing"),
        (["tools"], KeyError, "tools: missing"),
        (["score"], 1, "score: unknown field"),
        (["prompt"], [], "prompt: must not be empty"),
        (["chosen"], [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}], "exactly one"),
        (["rejected", 0, "role"], "user", "rejected[0].role: must be the assistant's"),
        (["rejected", 0, "content"], " ", "rejected[0].content: an assistant message needs content"),
        (["chosen", 0, "weight"], 1, "chosen[0].weight: unknown field"),
        (["prompt", 1, "role"], "wizard", "prompt[1].role: unknown role"),
        (["tools"], "[]", "tools: expected a list"),
    ],
)
def test_trl_preference_validator(path: list[str | int], value: Any, message: str) -> None:
    with pytest.raises(FormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_row("trl-preference", _broken(_trl(), path, value))


def test_trl_preference_prompt_must_end_before_the_answer() -> None:
    row = _trl()
    row["prompt"] = [*row["prompt"], {"role": "assistant", "content": "early"}]
    with pytest.raises(FormatError, match=r"prompt\[4\]\.role: the prompt must end before"):
        validate_row("trl-preference", row)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["input"], KeyError, "input: missing"),
        (["preferred_output"], KeyError, "preferred_output: missing"),
        (["non_preferred_output"], KeyError, "non_preferred_output: missing"),
        (["metadata"], {}, "metadata: unknown field"),
        (["input", "messages"], KeyError, "input.messages: missing"),
        (["input", "temperature"], 0, "input.temperature: unknown field"),
        (["input", "parallel_tool_calls"], "no", "input.parallel_tool_calls: expected a boolean"),
        (["input", "tools"], [], "tools: must not be empty"),
        (["preferred_output"], [], "preferred_output: must not be empty"),
        (["non_preferred_output", 0, "role"], "tool", "non_preferred_output[0].role: must be the assistant's"),
        (["preferred_output", 0, "content"], 3, "preferred_output[0].content: expected a string"),
        (["input", "messages", 1, "content"], "", r"input.messages\[1\].content: must not be empty"),
    ],
)
def test_openai_preference_validator(path: list[str | int], value: Any, message: str) -> None:
    pattern = message if "\\" in message else message.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(FormatError, match=pattern):
        validate_row("openai-preference", _broken(_dpo(), path, value))


# ---------------------------------------------------------------------------
# Contrastive SFT
# ---------------------------------------------------------------------------


def test_contrast_adds_each_reasoned_alternative_to_the_rationale() -> None:
    ex = with_contrast(parse_example(with_alts(advice(), 1, REFUSE, UNREASONED)))
    row = render("hf-messages", ex, NO_DRAW, "thinking")
    assert row["messages"][-1]["reasoning_content"] == (
        "Care for the person.\n\n"
        f'A tempting answer would be: "{REFUSE["content"]}"\n'
        f"It would be wrong because: {REFUSE['why_not']}"
    )
    inline = render("openai", ex, NO_DRAW, "inline")["messages"][-1]["content"]
    assert "It would be wrong because: Private details are not ours to give." in inline
    assert "Deleted everything" not in inline  # no why-not: nothing to say about it
    plain = parse_example(advice())
    assert with_contrast(plain) is plain
    tool = with_contrast(parse_example(with_alts(agentic(), 1, PEEK))).messages[1].rationale  # type: ignore[index]
    assert tool == (
        'A tempting answer would be: "Reading every folder first.\n[calls search_email {"q": "*"}]"\n'
        "It would be wrong because: Reads far more than the task needs."
    )


def _parse(**overrides: Any) -> Any:
    return parse_spec(spec_data(**overrides), "s.toml")


def test_contrast_is_off_by_default_and_its_errors_name_the_key() -> None:
    assert _parse().contrast is False
    assert _parse(contrast=True).contrast is True
    with pytest.raises(UsageError, match=r'^s\.toml: contrast: .*rationale = "inline" or "thinking"'):
        _parse(contrast=True, rationale="omit")
    with pytest.raises(UsageError, match=r"^s\.toml: contrast: "):
        _parse(contrast="sometimes")


# ---------------------------------------------------------------------------
# Export: manifest counts, budgets, datasets
# ---------------------------------------------------------------------------


def _records() -> list[Example]:
    """Generated records; every third advice and agentic record gets rejected alternatives."""
    out = []
    for i, ex in enumerate(gen_records(60, seed=5)):
        rec = ex.model_dump(mode="json", exclude_none=True)
        if ex.kind == "advice" and i % 3 == 1:
            rec["messages"][1]["alternatives"] = [REFUSE, UNREASONED]
        elif ex.kind == "agentic" and i % 3 == 0:
            rec["messages"][3]["alternatives"] = [REFUSE]
        out.append(Example.model_validate(rec))
    return out


@pytest.fixture
def pref_ws(ws: Workspace) -> Iterator[Workspace]:
    fill_ws(ws, _records())
    yield ws


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


@pytest.mark.parametrize("max_epochs", [1, 3])
def test_manifest_counts_pairs_per_kind_and_clause(pref_ws: Workspace, tmp_path: Path, max_epochs: int) -> None:
    """With max_epochs 3 every train record makes three lines: pairs count per line, records
    without pairs once each."""
    spec = load_spec(
        write_spec(
            tmp_path,
            budget_tokens=10**7,
            max_epochs=max_epochs,
            formats=["hf-messages", "trl-preference", "openai-preference"],
            dedup="off",
            kinds={"story": 0.25, "advice": 0.25, "document": 0.25, "agentic": 0.25},
        )
    )
    result = export_from_spec(pref_ws.db, spec, tmp_path / "out")
    assert result.folder and result.manifest
    folder = result.folder
    records = {ex.id: ex for ex in _records()}
    index = _lines(folder / "records.jsonl")
    expected_kind: dict[str, int] = {}
    expected_clause: dict[str, int] = {}
    without = set()
    for r in index:
        ex = records[r["id"]]
        n = sum(len(m.alternatives or []) for m in ex.messages or [])
        if not n:
            without.add(r["id"])
            continue
        expected_kind[ex.kind] = expected_kind.get(ex.kind, 0) + n
        for c in ex.clauses:
            expected_clause[c] = expected_clause.get(c, 0) + n
    written = {
        fmt: sum(len(_lines(folder / fmt / f"{s}.jsonl")) for s in ("train", "eval", "heldout"))
        for fmt in PREFERENCE_FORMATS
    }
    pairs_json = result.manifest["pairs"]
    assert pairs_json["total"] == written["trl-preference"] == written["openai-preference"] > 0
    assert {k: v for k, v in pairs_json["by_kind"].items() if v} == expected_kind
    assert pairs_json["by_kind"]["story"] == 0
    assert pairs_json["by_clause"] == dict(sorted(expected_clause.items()))
    assert pairs_json["records_without_pairs"] == len(without) > 0
    assert max(r["repeat"] for r in index) == max_epochs - 1  # repeated lines were counted once
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"Preference pairs (trl-preference, openai-preference): {pairs_json['total']:,}" in card
    assert f"{len(without)} records without alternatives made no preference line" in card
    # the pairs of one record follow the order of records.jsonl
    first = next(r for r in index if r["split"] == "train" and r["id"] not in without)
    row = _lines(folder / "trl-preference" / "train.jsonl")[0]
    assert row["chosen"][0]["content"] == records[first["id"]].messages[-1].content  # type: ignore[index]


def test_budget_on_a_preference_format_counts_pair_tokens(pref_ws: Workspace, tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(
            tmp_path,
            budget_tokens=10**7,
            formats=["trl-preference", "hf-messages"],
            dedup="off",
            kinds={"advice": 0.5, "agentic": 0.5},
        )
    )
    result = export_from_spec(pref_ws.db, spec, tmp_path / "out")
    assert result.folder and result.manifest
    reasons = {e["id"]: e["reason"] for e in result.manifest["excluded"]}
    no_pairs = {i for i, r in reasons.items() if r.startswith("no preference pairs")}
    assert no_pairs and all("trl-preference" in reasons[i] for i in no_pairs)
    records = {ex.id: ex for ex in _records()}
    assert all(not any(m.alternatives for m in records[i].messages or []) for i in no_pairs)
    counter = counter_for("trl-preference")
    rows = _lines(result.folder / "trl-preference" / "train.jsonl")
    tokens = sum(counter.count(training_text("trl-preference", r)) for r in rows)
    assert result.manifest["budget"]["train_tokens_actual"] == tokens
    entry = next(f for f in result.manifest["files"] if f["path"] == "trl-preference/train.jsonl")
    assert entry["tokens"] == tokens and entry["rows"] == len(rows)
    assert result.manifest["pairs"]["records_without_pairs"] == 0


def test_contrast_reaches_the_exported_rationale(pref_ws: Workspace, tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, budget_tokens=10**7, formats=["hf-messages"], dedup="off", contrast=True))
    result = export_from_spec(pref_ws.db, spec, tmp_path / "out")
    assert result.folder
    text = (result.folder / "hf-messages" / "train.jsonl").read_text(encoding="utf-8")
    assert text.count("It would be wrong because: Private details are not ours to give.") > 0
    assert "Deleted everything" not in text


def test_preference_files_load_with_datasets(
    pref_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets", reason="datasets is a test-only dependency (dev extras)")
    spec = load_spec(
        write_spec(
            tmp_path,
            budget_tokens=10**7,
            formats=["trl-preference", "openai-preference"],
            dedup="off",
            kinds={"advice": 0.5, "agentic": 0.5},
        )
    )
    folder = export_from_spec(pref_ws.db, spec, tmp_path / "out").folder
    assert folder is not None
    cache = str(tmp_path / "hf-cache")
    for fmt in PREFERENCE_FORMATS:
        path = str(folder / fmt / "train.jsonl")
        ds = datasets.load_dataset("json", data_files=path, split="train", cache_dir=cache)
        assert ds.num_rows == len(_lines(Path(path))) > 0
    trl = datasets.load_dataset(str(folder), "trl-preference", cache_dir=cache)["train"]
    assert set(trl.column_names) == {"prompt", "chosen", "rejected", "tools"}
    assert trl[0]["chosen"][0]["role"] == "assistant" and trl[0]["rejected"][0]["role"] == "assistant"
    dpo = datasets.load_dataset(str(folder), "openai-preference", cache_dir=cache)["train"]
    assert set(dpo.column_names) == {"input", "preferred_output", "non_preferred_output"}


def test_the_summary_names_the_pairs(pref_ws: Workspace, tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, budget_tokens=10**7, formats=["hf-messages", "trl-preference"], dedup="off"))
    dry = export_from_spec(pref_ws.db, spec, tmp_path / "out", dry_run=True)
    manifest = export_from_spec(pref_ws.db, spec, tmp_path / "out").manifest
    assert manifest is not None
    pairs = manifest["pairs"]
    line = next(x for x in dry.summary().splitlines() if x.startswith("preference pairs"))
    assert line == (
        f"preference pairs (trl-preference): {pairs['total']:,}; "
        f"{pairs['records_without_pairs']} records without alternatives made none"
    )
