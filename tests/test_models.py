"""The canonical record: valid records of each kind, and errors that name the field."""

from __future__ import annotations

import json

import pytest

from curator.errors import RecordError
from curator.models import MAX_FIELD_BYTES, parse_example
from curator.paths import demo_corpus_file
from tests.conftest import advice, agentic, story


def error_of(data: dict) -> RecordError:
    with pytest.raises(RecordError) as info:
        parse_example(data)
    return info.value


@pytest.mark.parametrize("make", [story, advice, agentic])
def test_valid_records_of_each_kind(make) -> None:
    ex = parse_example(make())
    assert ex.kind == make()["kind"]
    assert ex.id.startswith("ex_")
    assert ex.status == "draft"
    assert ex.version == 1


def test_document_kind_needs_text() -> None:
    assert parse_example(story(kind="document")).kind == "document"
    assert error_of(story(kind="document", text="")).field == "text"


def test_story_without_text_names_the_field() -> None:
    err = error_of(story(text=None))
    assert err.field == "text"
    assert "required for a story" in str(err)


def test_unknown_kind_lists_the_kinds() -> None:
    err = error_of(story(kind="poem"))
    assert err.field == "kind"
    assert "poem" in str(err) and "agentic" in str(err)


def test_bad_status() -> None:
    assert error_of(story(status="published")).field == "status"


def test_missing_title() -> None:
    data = story()
    del data["title"]
    err = error_of(data)
    assert err.field == "title"
    assert "missing" in str(err)


def test_unknown_field_is_rejected() -> None:
    assert error_of(story(colour="blue")).field == "colour"


def test_advice_must_start_with_user() -> None:
    data = advice(messages=[{"role": "assistant", "content": "hi"}])
    assert error_of(data).field == "messages[0].role"


def test_advice_turns_must_alternate() -> None:
    data = advice(
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "assistant", "content": "c"},
        ]
    )
    err = error_of(data)
    assert err.field == "messages[2].role"
    assert "alternate" in str(err)


def test_advice_needs_messages() -> None:
    assert error_of(advice(messages=[])).field == "messages"


def test_rationale_only_on_assistant_turns() -> None:
    data = advice(messages=[{"role": "user", "content": "a", "rationale": "no"}])
    assert "assistant" in str(error_of(data))


def test_agentic_needs_a_tool() -> None:
    assert error_of(agentic(tools=[])).field == "tools"


def test_agentic_input_schema_must_be_object() -> None:
    data = agentic()
    data["tools"][0]["input_schema"] = {"type": "array"}
    err = error_of(data)
    assert err.field == "tools[0].input_schema"
    assert "object" in str(err)


def test_tool_result_must_answer_an_earlier_tool_use() -> None:
    data = agentic()
    data["messages"][2]["content"][0]["tool_use_id"] = "toolu_missing"
    err = error_of(data)
    assert err.field == "messages[2].content[0].tool_use_id"
    assert "toolu_missing" in str(err)


def test_tool_use_must_name_a_defined_tool() -> None:
    data = agentic()
    data["messages"][1]["content"][1]["name"] = "delete_everything"
    assert error_of(data).field == "messages[1].content[1].name"


def test_tool_use_not_allowed_in_advice() -> None:
    data = agentic(kind="advice", tools=None)
    assert "agentic" in str(error_of(data))


def test_control_characters_are_stripped_but_newlines_and_tabs_kept() -> None:
    ex = parse_example(story(text="a\x00b\x1b[31mc\td\r\ne\x7f"))
    assert ex.text == "ab[31mc\td\ne"


def test_field_size_limit() -> None:
    err = error_of(story(text="x" * (MAX_FIELD_BYTES + 1)))
    assert err.field == "text"
    assert "limit" in str(err)


def test_ids_cannot_hold_path_separators() -> None:
    assert error_of(story(id="../etc/passwd")).field == "id"
    assert error_of(story(id="a/b")).field == "id"


def test_canonical_json_is_stable_and_keeps_source_nulls() -> None:
    ex = parse_example(story(id="ex_1", tags=["b", "a", "b"]))
    data = ex.canonical()
    assert list(data)[:6] == ["id", "kind", "title", "status", "author", "tags"]
    assert data["tags"] == ["b", "a"]
    assert data["source"] == {"type": "manual", "model": None, "prompt_sha256": None, "origin": None}
    assert "messages" not in data
    assert parse_example(data).canonical_json() == ex.canonical_json()


def test_markup_is_kept_as_inert_text() -> None:
    hostile = "[@click=app.quit]x[/] [bold]y[/bold] a\\"
    assert parse_example(story(text=hostile)).text == hostile


def test_content_text_of_the_json_is_searchable_text() -> None:
    """The dedup engine reads stored JSON without pydantic: the two must never drift apart."""
    from curator.models import content_text
    from tests.helpers import gen_records
    from tests.tui.conftest import HOSTILE

    records = [parse_example(json.loads(line)) for line in demo_corpus_file().read_text().splitlines() if line]
    records += gen_records(40, seed=3)
    records += [
        parse_example(
            advice(messages=[{"role": "user", "content": h}, {"role": "assistant", "content": h, "rationale": h}])
        )
        for h in HOSTILE
    ]
    records += [parse_example(agentic())]
    assert len(records) > 80
    for ex in records:
        assert content_text(json.loads(ex.model_dump_json())) == ex.searchable_text(), ex.id
        assert content_text(ex.canonical()) == ex.searchable_text(), ex.id


def test_utc_now_is_the_current_millisecond_in_iso_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timestamp is remembered per millisecond (bulk imports stamp thousands at once): a new
    millisecond, second or day must still give its own text, never the remembered one."""
    import time as time_module
    from datetime import UTC, datetime

    from curator import models

    before = datetime.now(UTC)
    stamped = models.utc_now()
    after = datetime.now(UTC)
    assert stamped.endswith("Z") and len(stamped) == len("2026-12-06T11:09:13.339Z")
    moment = datetime.fromisoformat(stamped)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= moment <= after
    clock = iter(
        [1_733_443_199_998_000_000, 1_733_443_199_998_500_000, 1_733_443_199_999_000_000, 1_733_443_200_000_000_000]
    )
    monkeypatch.setattr(time_module, "time_ns", lambda: next(clock))
    assert [models.utc_now() for _ in range(4)] == [
        "2024-12-05T23:59:59.998Z",
        "2024-12-05T23:59:59.998Z",
        "2024-12-05T23:59:59.999Z",
        "2024-12-06T00:00:00.000Z",
    ]
