"""LLM assistance over the real anthropic SDK with a mocked HTTP transport (no network)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from curator.assist import actions
from curator.assist.client import AssistError, AssistUnavailable, make_client
from curator.assist.prompts import draft_schema
from curator.assist.results import (
    BatchDuplicate,
    BatchFailure,
    BatchReport,
    Critique,
    CritiqueVerdict,
    LinkSuggestions,
    NearDuplicate,
    ProposedTurn,
    RewriteProposal,
    SuggestedLink,
)
from curator.bootstrap import init_workspace
from curator.config import Settings
from curator.errors import ConflictError, UsageError
from curator.models import parse_example
from curator.store import examples
from curator.store.clauses import current_clauses
from curator.store.db import Workspace
from tests.fake_anthropic import MODEL, FakeAPI, batch_object

KEY = "sk-ant-test-SECRET-0123456789"

Handler = Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's retry backoff, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("anthropic._base_client.time.sleep", slept.append)
    return slept


@pytest.fixture
def settings() -> Settings:
    return Settings(assist_model=MODEL, assist_timeout_s=5.0, assist_max_tokens=2000)


@pytest.fixture
def client(api: FakeAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> anthropic.Anthropic:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return make_client(settings, http_client=httpx2.Client(transport=httpx2.MockTransport(api)))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Workspace]:
    ws = init_workspace(tmp_path / "ws.db", demo=True, actor="ana")
    yield ws
    ws.close()


STORY = {
    "title": "The sealed letters",
    "text": "The assistant found the letters in the archive and left them sealed.",
    "rationale": "Private information is never leverage: using it would betray the people it belongs to.",
    "tags": ["privacy"],
}


def _clause_text(ws: Workspace, clause_id: str) -> str:
    """The clause as prompts give it: its plain text (never its Markdown)."""
    return next(c.plain for c in current_clauses(ws.db) if c.id == clause_id)


def _advice(ws: Workspace) -> str:
    ex = parse_example(
        {
            "kind": "advice",
            "title": "A friend's secret",
            "clauses": ["honesty.1", "honesty.4"],
            "messages": [
                {"role": "user", "content": "Should I tell my friend I read her diary?"},
                {"role": "assistant", "content": "Yes, tell her.", "rationale": "Honesty."},
            ],
        }
    )
    return examples.create(ws.db, ex, actor="ana").id


def _everything_stored(ws: Workspace) -> str:
    rows = []
    for table in ws.db.table_names():
        rows += [repr(r) for r in ws.db.execute(f"SELECT * FROM [{table}]").fetchall()]
    return "\n".join(rows)


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


def test_missing_key_is_unavailable_and_names_the_variable(settings: Settings) -> None:
    with pytest.raises(AssistUnavailable) as err:
        make_client(settings)
    assert "ANTHROPIC_API_KEY" in str(err.value)
    assert "export ANTHROPIC_API_KEY=" in str(err.value)
    assert "\n" not in str(err.value)


def test_base_url_from_environment_is_kept(
    api: FakeAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch, demo: Workspace
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://gateway.internal:8080/anthropic")
    client = make_client(settings, http_client=httpx2.Client(transport=httpx2.MockTransport(api)))
    api.tool("submit_draft", STORY)
    actions.draft(demo.db, client, settings, clauses=["honesty.1"], kind="story", actor="ana")
    assert str(api.requests[0].url) == "http://gateway.internal:8080/anthropic/v1/messages"


# ---------------------------------------------------------------------------
# draft
# ---------------------------------------------------------------------------


def test_draft_request_payload(api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace) -> None:
    api.tool("submit_draft", STORY)
    actions.draft(demo.db, client, settings, clauses=["privacy.1", "honesty.1"], kind="story", actor="ana")
    [body] = api.bodies()
    assert body["model"] == MODEL
    assert body["max_tokens"] == 2000
    assert "why" in body["system"]
    assert body["tool_choice"] == {"type": "tool", "name": "submit_draft"}
    [tool] = body["tools"]
    assert tool["name"] == "submit_draft"
    assert tool["input_schema"] == draft_schema("story")
    assert set(tool["input_schema"]["required"]) == {"title", "text", "rationale"}
    prompt = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "user"
    for cid in ("privacy.1", "honesty.1"):
        assert f'id="{cid}"' in prompt
        assert _clause_text(demo, cid).strip() in prompt
    assert "fiction" in prompt  # the kind's guidance
    assert "rationale" in prompt  # the demand for explicit reasons
    sent = dict(api.requests[0].headers)
    assert any(KEY in value for value in sent.values())  # the SDK authenticates with the key


def test_draft_is_stored_as_draft_with_provenance_and_no_key(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    api.tool("submit_draft", STORY, msg_id="msg_01ABC")
    [eid] = actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    ex = examples.get(demo.db, eid)
    assert ex.status == "draft"
    assert ex.kind == "story"
    assert ex.author == "ana"
    assert ex.clauses == ["privacy.1"]
    assert ex.title == STORY["title"] and ex.text == STORY["text"] and ex.rationale == STORY["rationale"]
    assert ex.source.type == "generated"
    assert ex.source.model == MODEL
    assert ex.source.origin == "msg_01ABC"
    body = api.bodies()[0]
    expected = hashlib.sha256(f"{body['system']}\n\n{body['messages'][0]['content']}".encode()).hexdigest()
    assert ex.source.prompt_sha256 == expected
    assert KEY not in _everything_stored(demo)
    assert "SECRET" not in _everything_stored(demo)


def test_draft_advice_n_two_asks_for_distinct_drafts(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    for i in range(2):
        api.tool(
            "submit_draft",
            {
                "title": f"Dilemma {i}",
                "messages": [
                    {"role": "user", "content": "My boss asked me to shade the numbers. What do I do?"},
                    {
                        "role": "assistant",
                        "content": "Say plainly what the numbers are, and why.",
                        "rationale": "Honesty: asserting only what you believe keeps trust.",
                    },
                ],
                "rationale": "Shows principled guidance under pressure.",
            },
            msg_id=f"msg_{i}",
        )
    ids = actions.draft(demo.db, client, settings, clauses=["honesty.1"], kind="advice", n=2, actor="ana")
    assert len(ids) == 2
    second_prompt = api.bodies()[1]["messages"][0]["content"]
    assert "Dilemma 0" in second_prompt
    ex = examples.get(demo.db, ids[1])
    assert ex.messages is not None and ex.messages[1].rationale
    assert ex.source.origin == "msg_1"


def test_draft_agentic(api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace) -> None:
    api.tool(
        "submit_draft",
        {
            "title": "Inbox cleanup",
            "system": "You are an email assistant.",
            "tools": [
                {
                    "name": "search_email",
                    "description": "Search mail",
                    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
                }
            ],
            "messages": [
                {"role": "user", "content": "Clean up my inbox."},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Searching newsletters only."},
                        {"type": "tool_use", "id": "t1", "name": "search_email", "input": {"q": "newsletter"}},
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "3 hits"}]},
                {"role": "assistant", "content": "Archived 3.", "rationale": "Stayed in scope."},
            ],
            "rationale": "Scope discipline.",
        },
    )
    [eid] = actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="agentic", actor="ana")
    assert examples.get(demo.db, eid).tools is not None


def test_draft_unknown_clause_sends_nothing(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    with pytest.raises(UsageError, match="no-such-clause"):
        actions.draft(demo.db, client, settings, clauses=["no-such-clause"], kind="story", actor="ana")
    assert api.requests == []


@pytest.mark.parametrize(
    "bad",
    [
        {"title": "x", "text": "y"},  # no rationale
        {"title": "x", "text": "y", "rationale": "z", "surprise": 1},  # unknown field
        {"title": "  ", "text": "y", "rationale": "z"},  # fails the canonical record's rules
    ],
)
def test_malformed_tool_input_writes_nothing(
    bad: dict[str, Any], api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    before = examples.count(demo.db)
    api.tool("submit_draft", bad)
    with pytest.raises(AssistError, match=r"^malformed model output: "):
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    assert examples.count(demo.db) == before


def test_response_without_tool_call_is_malformed(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    before = examples.count(demo.db)
    api.text_only()
    with pytest.raises(AssistError, match=r"malformed model output: .*submit_draft"):
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    assert examples.count(demo.db) == before


def test_malformed_second_draft_keeps_the_first_and_says_so(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    before = examples.count(demo.db)
    api.tool("submit_draft", STORY)
    api.tool("submit_draft", {"title": "no body"})
    with pytest.raises(AssistError) as err:
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", n=2, actor="ana")
    assert len(err.value.created) == 1
    assert "draft 2 of 2" in str(err.value)
    assert examples.count(demo.db) == before + 1


# ---------------------------------------------------------------------------
# Errors after the SDK's own retries
# ---------------------------------------------------------------------------


def test_429_is_retried_by_the_sdk_then_succeeds(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace, sleeps: list[float]
) -> None:
    api.queue.append(
        httpx2.Response(
            429,
            json={"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
            headers={"retry-after-ms": "1"},
        )
    )
    api.tool("submit_draft", STORY)
    ids = actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    assert len(ids) == 1
    assert len(api.requests) == 2
    assert sleeps == [0.001]


def test_429_after_retries_is_one_line(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace, sleeps: list[float]
) -> None:
    for _ in range(3):
        api.error(429, "rate_limit_error")
    with pytest.raises(AssistError) as err:
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    assert str(err.value).startswith("rate limited (429) after 2 retries")
    assert len(api.requests) == 3 and len(sleeps) == 2


def test_529_overloaded_after_retries(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace, sleeps: list[float]
) -> None:
    before = examples.count(demo.db)
    for _ in range(3):
        api.error(529, "overloaded_error", "Overloaded")
    with pytest.raises(AssistError) as err:
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    message = str(err.value)
    assert "overloaded (529) after 2 retries" in message
    assert "\n" not in message and KEY not in message
    assert len(api.requests) == 3
    assert examples.count(demo.db) == before


def test_5xx_and_timeout_messages(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace, sleeps: list[float]
) -> None:
    for _ in range(3):
        api.error(500, "api_error")
    with pytest.raises(AssistError, match=r"^server error 500 after 2 retries"):
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    for _ in range(3):
        api.queue.append(httpx2.ReadTimeout("timed out"))
    with pytest.raises(AssistError, match=r"^request timed out \(5.0s\) after 2 retries"):
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")


def test_bad_request_is_not_retried(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace, sleeps: list[float]
) -> None:
    api.error(400, "invalid_request_error", "model: unknown\nmodel id")
    with pytest.raises(AssistError, match=r"^API error 400: ") as err:
        actions.draft(demo.db, client, settings, clauses=["privacy.1"], kind="story", actor="ana")
    assert "\n" not in str(err.value)
    assert len(api.requests) == 1


# ---------------------------------------------------------------------------
# critique, explain-why, suggest-links
# ---------------------------------------------------------------------------


def test_critique_parses_one_verdict_per_linked_clause(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    eid = _advice(demo)
    api.tool(
        "submit_critique",
        {
            "verdicts": [
                {"clause": "honesty.4", "verdict": "unrelated", "reason": "No mistake is owned.", "suggestions": []},
                {
                    "clause": "honesty.1",
                    "verdict": "partly",
                    "reason": "Right advice, reasons left implicit.",
                    "suggestions": ["Say why telling her matters."],
                },
            ]
        },
    )
    result = actions.critique(demo.db, client, settings, eid)
    assert result.id == eid and result.origin == "msg_01TEST"
    assert [v.clause for v in result.verdicts] == ["honesty.1", "honesty.4"]
    assert result.verdicts[0] == CritiqueVerdict(
        "honesty.1", "partly", "Right advice, reasons left implicit.", ("Say why telling her matters.",)
    )
    body = api.bodies()[0]
    assert body["tool_choice"] == {"type": "tool", "name": "submit_critique"}
    assert body["tools"][0]["input_schema"]["properties"]["verdicts"]["items"]["properties"]["verdict"]["enum"] == [
        "teaches",
        "partly",
        "contradicts",
        "unrelated",
    ]
    prompt = body["messages"][0]["content"]
    assert _clause_text(demo, "honesty.4").strip() in prompt
    assert "Should I tell my friend I read her diary?" in prompt


def test_critique_missing_or_bad_verdict_is_malformed(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    eid = _advice(demo)
    api.tool("submit_critique", {"verdicts": [{"clause": "honesty.1", "verdict": "teaches", "reason": "ok"}]})
    with pytest.raises(AssistError, match=r"no verdict for clause 'honesty.4'"):
        actions.critique(demo.db, client, settings, eid)
    api.tool("submit_critique", {"verdicts": [{"clause": "honesty.1", "verdict": "great", "reason": "ok"}]})
    with pytest.raises(AssistError, match=r"malformed model output: verdicts.0.verdict"):
        actions.critique(demo.db, client, settings, eid)


def test_explain_why_proposes_and_applies_only_on_accept(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    eid = _advice(demo)
    new_text = "Yes, tell her: a friendship that rests on a hidden intrusion is not the one she thinks she has."
    api.tool("submit_rewrite", {"turns": [{"index": 1, "content": new_text, "rationale": "Honesty.1, stated."}]})
    proposal = actions.explain_why(demo.db, client, settings, eid)
    assert proposal.id == eid and proposal.version == 1 and proposal.status == "draft"
    assert proposal.turns == (ProposedTurn(1, new_text, "Honesty.1, stated."),)
    assert any(line.startswith("-    Yes, tell her.") for line in proposal.diff)
    assert any(line.startswith("+    " + new_text) for line in proposal.diff)
    stored = examples.get(demo.db, eid)
    assert stored.version == 1 and stored.messages is not None and stored.messages[1].content == "Yes, tell her."

    updated = actions.apply_explain_why(demo.db, eid, proposal, 1, actor="ana")
    assert updated.version == 2
    assert updated.messages is not None and updated.messages[1].content == new_text
    assert updated.messages[1].rationale == "Honesty.1, stated."
    with pytest.raises(ConflictError):
        actions.apply_explain_why(demo.db, eid, proposal, 1, actor="ana")


def _approve(ws: Workspace, eid: str) -> None:
    from curator.review import decide, submit

    submitted = submit(ws.db, eid, expected_version=examples.get(ws.db, eid).version, actor="ana")
    decide(ws.db, eid, "approve", expected_version=submitted.version, actor="bob")
    assert examples.get(ws.db, eid).status == "approved"


def test_apply_explain_why_sends_an_approved_example_back_to_review(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    eid = _advice(demo)
    _approve(demo, eid)
    api.tool("submit_rewrite", {"turns": [{"index": 1, "content": "Tell her, and why.", "rationale": "Honesty."}]})
    proposal = actions.explain_why(demo.db, client, settings, eid)
    assert proposal.status == "approved"
    updated = actions.apply_explain_why(demo.db, eid, proposal, proposal.version, actor="ana")
    assert updated.status == "review"
    assert examples.get(demo.db, eid).status == "review"


def test_status_after_rewrite_only_reopens_changed_approved_turns(demo: Workspace) -> None:
    ex = examples.get(demo.db, _advice(demo))
    same = actions.rewrite_turns(ex, [])
    changed = actions.rewrite_turns(ex, [ProposedTurn(1, "Tell her, and why.", "r")])
    approved = ex.model_copy(update={"status": "approved"})
    assert actions.status_after_rewrite(approved, changed) == "review"
    assert actions.status_after_rewrite(approved, same) == "approved"
    assert actions.status_after_rewrite(ex, changed) == "draft"


def test_cli_explain_why_apply_says_back_to_review(
    api: FakeAPI,
    settings: Settings,
    demo: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from curator import cli
    from curator.assist import client as client_module

    eid = _advice(demo)
    _approve(demo, eid)
    real = client_module.make_client
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("CURATOR_MODEL", MODEL)
    monkeypatch.setattr(
        client_module,
        "make_client",
        lambda s: real(s, http_client=httpx2.Client(transport=httpx2.MockTransport(api))),
    )
    for _ in range(2):
        api.tool("submit_rewrite", {"turns": [{"index": 1, "content": "Tell her, and why.", "rationale": "r"}]})
    # the workspace fixture keeps its own connection; the CLI opens the same file
    path = demo.path
    assert cli.main(["assist", "explain-why", eid, "--db", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applied"] is False and out["back_to_review"] is False and out["status"] == "approved"
    assert cli.main(["assist", "explain-why", eid, "--db", str(path), "--apply"]) == 0
    text = capsys.readouterr().out
    assert "back in review" in text
    assert examples.get(demo.db, eid).status == "review"
    assert KEY not in text


def test_results_to_json_keep_the_json_shapes_scripts_read() -> None:
    # `curator assist ... --format json` prints to_json(): keys and their order are a contract
    from curator.dedup.engine import Match

    verdicts = (CritiqueVerdict("a.1", "partly", "why", ("do this",)), CritiqueVerdict("a.2", "teaches", "ok"))
    assert json.dumps(Critique("ex_1", "msg_1", verdicts).to_json()) == (
        '{"id": "ex_1", "origin": "msg_1", "verdicts": ['
        '{"clause": "a.1", "verdict": "partly", "reason": "why", "suggestions": ["do this"]}, '
        '{"clause": "a.2", "verdict": "teaches", "reason": "ok", "suggestions": []}]}'
    )
    proposal = RewriteProposal("ex_1", 3, "approved", "msg_1", (ProposedTurn(1, "text", "why"),), ("--- a", "+++ b"))
    assert json.dumps(proposal.to_json()) == (
        '{"id": "ex_1", "version": 3, "status": "approved", "origin": "msg_1", '
        '"turns": [{"index": 1, "content": "text", "rationale": "why"}], "diff": ["--- a", "+++ b"]}'
    )
    links = LinkSuggestions("ex_1", (SuggestedLink("a.1", "because"),))
    assert json.dumps(links.to_json()) == '{"id": "ex_1", "links": [{"clause": "a.1", "reason": "because"}]}'
    report = BatchReport(
        "msgbatch_1",
        True,
        ("ex_2",),
        (BatchDuplicate("c0-1", "ex_2"),),
        (NearDuplicate("ex_2", (Match("ex_0", 0.6, "jaccard"),)),),
        (BatchFailure("c1-0", "errored"),),
    )
    assert json.dumps(report.to_json()) == (
        '{"batch_id": "msgbatch_1", "resumed": true, "created": ["ex_2"], '
        '"duplicates": [{"custom_id": "c0-1", "id": "ex_2"}], '
        '"near_duplicates": [{"id": "ex_2", "matches": '
        '[{"id": "ex_0", "score": 0.6, "reason": "jaccard", "span": "", "field": ""}]}], '
        '"failed": [{"custom_id": "c1-0", "error": "errored"}]}'
    )


def test_cli_json_of_critique_and_suggest_links(
    api: FakeAPI,
    demo: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from curator import cli
    from curator.assist import client as client_module

    eid = _advice(demo)
    real = client_module.make_client
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setattr(
        client_module,
        "make_client",
        lambda s: real(s, http_client=httpx2.Client(transport=httpx2.MockTransport(api))),
    )
    verdicts = [
        {"clause": "honesty.1", "verdict": "partly", "reason": "Réasons implicit.", "suggestions": ["Say why."]},
        {"clause": "honesty.4", "verdict": "unrelated", "reason": "No mistake."},
    ]
    api.tool("submit_critique", {"verdicts": verdicts[::-1]})
    api.tool("submit_links", {"links": [{"clause": "honesty.2", "reason": "No deception."}]})
    db = str(demo.path)

    def printed(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"

    assert cli.main(["assist", "critique", eid, "--db", db, "--format", "json"]) == 0
    verdicts[1]["suggestions"] = []
    assert capsys.readouterr().out == printed({"id": eid, "origin": "msg_01TEST", "verdicts": verdicts})
    assert cli.main(["assist", "suggest-links", eid, "--db", db, "--format", "json"]) == 0
    links = [{"clause": "honesty.2", "reason": "No deception."}]
    assert capsys.readouterr().out == printed({"id": eid, "links": links})


def test_draft_record_is_not_stored(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    before = examples.count(demo.db)
    api.tool("submit_draft", STORY, msg_id="msg_01REC")
    clauses = actions.resolve_clauses(demo.db, ["privacy.1"])
    ex = actions.draft_record(client, settings, kind="story", clauses=clauses, actor="ana")
    assert examples.count(demo.db) == before
    assert ex.status == "draft" and ex.clauses == ["privacy.1"] and ex.title == STORY["title"]
    assert ex.source.type == "generated" and ex.source.origin == "msg_01REC" and ex.source.model == MODEL
    body = api.bodies()[0]
    assert (
        ex.source.prompt_sha256
        == hashlib.sha256(f"{body['system']}\n\n{body['messages'][0]['content']}".encode()).hexdigest()
    )


def test_critique_example_judges_an_unsaved_record(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    ex = parse_example({**STORY, "kind": "story", "clauses": ["privacy.1"]})
    api.tool("submit_critique", {"verdicts": [{"clause": "privacy.1", "verdict": "teaches", "reason": "ok"}]})
    result = actions.critique_example(demo.db, client, settings, ex)
    assert result.id == ex.id and result.verdicts[0].verdict == "teaches"
    assert STORY["text"] in api.bodies()[0]["messages"][0]["content"]


def test_explain_why_rejects_user_turn_index(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    eid = _advice(demo)
    api.tool("submit_rewrite", {"turns": [{"index": 0, "content": "hijacked", "rationale": "r"}]})
    with pytest.raises(AssistError, match="not an assistant turn"):
        actions.explain_why(demo.db, client, settings, eid)


def test_suggest_links_ranked_and_filtered(
    api: FakeAPI, client: anthropic.Anthropic, settings: Settings, demo: Workspace
) -> None:
    eid = _advice(demo)
    api.tool(
        "submit_links",
        {
            "links": [
                {"clause": "honesty.2", "reason": "No deception by arrangement."},
                {"clause": "made-up.9", "reason": "hallucinated"},
                {"clause": "honesty.1", "reason": "already linked"},
                {"clause": "honesty.3", "reason": "Truthful about itself."},
                {"clause": "honesty.2", "reason": "duplicate"},
            ]
        },
    )
    suggested = actions.suggest_links(demo.db, client, settings, eid)
    assert suggested == LinkSuggestions(
        eid,
        (
            SuggestedLink("honesty.2", "No deception by arrangement."),
            SuggestedLink("honesty.3", "Truthful about itself."),
        ),
    )
    prompt = api.bodies()[0]["messages"][0]["content"]
    assert "- honesty.2 (" in prompt
    assert "Already linked: honesty.1, honesty.4" in prompt


# ---------------------------------------------------------------------------
# Batch drafting
# ---------------------------------------------------------------------------

BATCH_ID = "msgbatch_01TEST"


class FakeBatchAPI:
    """Routes the Message Batches endpoints: create, retrieve (a scripted status sequence), results."""

    def __init__(self, statuses: list[str], results: list[dict[str, Any]]) -> None:
        self.statuses = statuses
        self.results = results
        self.requests: list[httpx2.Request] = []

    def batch(self, status: str) -> dict[str, Any]:
        return batch_object(status, requests=len(self.results), batch_id=BATCH_ID)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/v1/messages/batches":
            return httpx2.Response(200, json=self.batch("in_progress"))
        if request.method == "GET" and path == f"/v1/messages/batches/{BATCH_ID}":
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return httpx2.Response(200, json=self.batch(status))
        if request.method == "GET" and path == f"/v1/messages/batches/{BATCH_ID}/results":
            body = "".join(json.dumps(r) + "\n" for r in self.results)
            return httpx2.Response(200, content=body.encode(), headers={"content-type": "application/binary"})
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error", "message": path}})

    def creates(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


def _succeeded(custom_id: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "result": {
            "type": "succeeded",
            "message": {
                "id": f"msg_{custom_id}",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "submit_draft", "input": tool_input}],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        },
    }


def _batch_client(api: FakeBatchAPI, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> anthropic.Anthropic:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    return make_client(settings, http_client=httpx2.Client(transport=httpx2.MockTransport(api)))


def test_batch_submits_polls_and_imports(
    settings: Settings, demo: Workspace, monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    from curator.assist.batch import run_batch

    api = FakeBatchAPI(
        ["in_progress", "ended"],
        [
            _succeeded("c0-0", STORY),
            _succeeded("c0-1", {**STORY, "title": "Same text again"}),  # exact duplicate of c0-0
            {
                "custom_id": "c1-0",
                "result": {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                },
            },
            _succeeded("c1-1", {"title": "no body"}),  # malformed
        ],
    )
    client = _batch_client(api, settings, monkeypatch)
    counts: list[dict[str, int]] = []
    naps: list[float] = []
    before = examples.count(demo.db)
    report = run_batch(
        demo.db,
        client,
        settings,
        db_path=demo.path,
        clauses=["privacy.1", "honesty.1"],
        kind="story",
        per_clause=2,
        actor="ana",
        progress=counts.append,
        poll_interval=0.5,
        sleep=naps.append,
    )
    assert report.batch_id == BATCH_ID and report.resumed is False
    assert len(report.created) == 1
    assert report.duplicates == (BatchDuplicate("c0-1", report.created[0]),)
    assert [f.custom_id for f in report.failed] == ["c1-0", "c1-1"]
    assert "malformed model output" in report.failed[1].error
    assert examples.count(demo.db) == before + 1
    assert naps == [0.5] and counts[0]["processing"] == 4 and counts[-1]["succeeded"] == 4

    [body] = api.creates()
    assert [r["custom_id"] for r in body["requests"]] == ["c0-0", "c0-1", "c1-0", "c1-1"]
    params = body["requests"][2]["params"]
    assert params["model"] == MODEL
    assert params["tool_choice"] == {"type": "tool", "name": "submit_draft"}
    assert params["tools"][0]["input_schema"] == draft_schema("story")
    assert _clause_text(demo, "honesty.1").strip() in params["messages"][0]["content"]

    ex = examples.get(demo.db, report.created[0])
    assert ex.status == "draft" and ex.clauses == ["privacy.1"]
    assert ex.source.type == "generated" and ex.source.origin == f"{BATCH_ID}/c0-0"
    assert ex.source.prompt_sha256 and len(ex.source.prompt_sha256) == 64
    assert not list((hermetic_env / "batches").glob("*.json"))  # state removed once imported


def test_batch_resumes_after_interruption(
    settings: Settings, demo: Workspace, monkeypatch: pytest.MonkeyPatch, hermetic_env: Path
) -> None:
    from curator.assist.batch import run_batch

    api = FakeBatchAPI(["in_progress"], [_succeeded("c0-0", STORY)])
    client = _batch_client(api, settings, monkeypatch)

    def interrupt(counts: dict[str, int]) -> None:
        raise KeyboardInterrupt

    kwargs: dict[str, Any] = {
        "db_path": "ws.db",
        "clauses": ["privacy.1"],
        "kind": "story",
        "per_clause": 1,
        "actor": "ana",
        "sleep": lambda s: None,
    }
    with pytest.raises(KeyboardInterrupt):
        run_batch(demo.db, client, settings, progress=interrupt, **kwargs)
    [state_file] = (hermetic_env / "batches").glob("*.json")
    state = json.loads(state_file.read_text())
    assert state["batch_id"] == BATCH_ID
    assert KEY not in state_file.read_text()

    api.statuses = ["ended"]
    report = run_batch(demo.db, client, settings, **kwargs)
    assert report.resumed is True and len(report.created) == 1
    assert len(api.creates()) == 1  # submitted once, resumed once
    assert not state_file.exists()
