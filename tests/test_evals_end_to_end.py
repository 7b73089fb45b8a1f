"""The Model Spec's prompt-only examples as a suite, end to end: two models run through Message
Batches (the real SDK over a mocked transport), graded by a judge, reported, compared, and seen
as violations and priority in coverage (CLI and the Coverage screen)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from curator.assist import client as assist_client
from tests.conftest import FIXTURES
from tests.fake_anthropic import BatchAPI, message_result, tool_result_of
from tests.helpers import run as run_cli

SPEC = FIXTURES / "openai-model-spec"
KEY = "sk-ant-test-E2E-0123456789"
WEAK = "claude-weak-test"
STRONG = "claude-strong-test"
JUDGE = "claude-judge-test"
MOST_PROBED = "avoid_errors"
MOST_PROBED_N = 19
"""Prompts of the suite probing avoid_errors (eval-examples files whose footnote sits in it)."""


def answer(custom_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The models under test and the judge. The judge says `violates` for every clause when the
    answer is the weak model's flattery, else `complies`; it quotes the answer verbatim."""
    if params["model"] == JUDGE:
        prompt = params["messages"][0]["content"]
        clauses = [c.split('"')[0] for c in prompt.split('<clause id="')[1:]]
        flattering = "What a brilliant question" in prompt
        verdicts = [
            {
                "clause": c,
                "verdict": "violates" if flattering else "complies",
                "reason": "flatters instead of answering" if flattering else "answers plainly",
                "evidence": "What a brilliant question" if flattering else "",
            }
            for c in clauses
        ]
        return tool_result_of("submit_verdicts", {"verdicts": verdicts}, msg_id=f"msg_j_{custom_id}")
    text = "What a brilliant question! You are right." if params["model"] == WEAK else "Here is a plain answer."
    return message_result([{"type": "text", "text": text}], msg_id=f"msg_{custom_id}")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> BatchAPI:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    fake = BatchAPI(answer)
    real = assist_client.make_client
    monkeypatch.setattr(
        assist_client,
        "make_client",
        lambda s, http_client=None: real(s, http_client=httpx2.Client(transport=httpx2.MockTransport(fake))),
    )
    return fake


def test_model_spec_suite_runs_is_graded_compared_and_shows_on_coverage(
    api: BatchAPI, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = str(tmp_path / "spec.db")

    def cli(*argv: str) -> tuple[str, str]:
        code, out, err = run_cli(capsys, *argv, "--db", db)
        assert code == 0, (argv, err)
        return out, err

    cli("init", "--empty")
    cli("constitution", "import", str(SPEC / "model_spec_2025-12-18.md"))
    out, err = cli("eval", "suite", "add", "spec", str(SPEC / "eval-examples"), "--format", "json")
    suite = json.loads(out)
    assert suite["items"] == 264 and len(suite["clauses"]) == 47 and len(suite["skipped"]) == 8
    assert err.count("skipped ") == 8  # each named on stderr

    weak, _ = cli("eval", "run", "spec", "--model", WEAK, "--yes", "--poll", "0")
    strong, _ = cli("eval", "run", "spec", "--model", STRONG, "--yes", "--poll", "0")
    weak, strong = weak.strip(), strong.strip()
    assert (weak, strong) == ("run-1", "run-2")
    [first, _] = api.creates()
    assert len(first["requests"]) == 264 and first["requests"][0]["params"]["model"] == WEAK

    for run_id in (weak, strong):
        out, _ = cli("eval", "grade", run_id, "--judge-model", JUDGE, "--poll", "0", "--format", "json")
        graded = json.loads(out)
        assert graded["graded"] == 264 and graded["failed"] == [] and graded["evidence_not_found"] == 0

    out, _ = cli("eval", "report", weak, "--compare", strong, "--format", "json")
    data = json.loads(out)
    rates = {c["id"]: c for c in data["clauses"]}
    sycophancy = rates[MOST_PROBED]
    assert sycophancy["n"] == MOST_PROBED_N and sycophancy["violations"] == MOST_PROBED_N and sycophancy["rate"] == 1.0
    assert sycophancy["examples"][0]["evidence"] == "What a brilliant question"
    # the weak model violates every probed clause, the strong one none: a change wherever n is large
    # enough that the intervals part
    changed = set(data["compare"]["changed"])
    assert MOST_PROBED in changed  # 19 of 19 against 0 of 19
    for c in data["clauses"]:
        low_weak = c["low"]
        before = next(x for x in data["compare"]["changes"] if x["id"] == c["id"])["before"]
        if c["n"] and before and low_weak > before["high"]:
            assert c["id"] in changed
    assert all(x["changed"] in (None, "higher") for x in data["compare"]["changes"])

    # a lead disagrees with the judge once: the person's verdict wins and is counted
    item = sycophancy["examples"][0]["item"]
    cli("eval", "verdict", weak, item, MOST_PROBED, "complies", "--reason", "the flattery is the user's own words")
    out, _ = cli("eval", "report", weak, "--format", "json")
    after = next(c for c in json.loads(out)["clauses"] if c["id"] == MOST_PROBED)
    assert after["violations"] == sycophancy["violations"] - 1 and after["n"] == sycophancy["n"]

    # coverage: violations of the newest graded run beside the counts, and the priority order
    out, _ = cli("coverage", "--eval-run", weak, "--sort", "priority", "--format", "json")
    cov = json.loads(out)
    assert cov["eval_run"]["id"] == weak
    probed = [c for c in cov["clauses"] if c["violations"] and c["violations"]["n"]]
    assert {c["id"] for c in probed} <= set(suite["clauses"]) and probed
    order = [c["id"] for c in cov["clauses"]]
    lows = [c["violations"]["low"] for c in cov["clauses"] if c["violations"] and c["violations"]["n"]]
    assert lows == sorted(lows, reverse=True)  # most surely violated first
    assert order[: len(probed)] == [c["id"] for c in probed]  # probed clauses before the rest
    assert KEY not in out


async def test_the_coverage_screen_shows_the_runs_violations_and_sorts_by_priority(
    api: BatchAPI, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from textual.widgets import DataTable

    from curator.tui.app import CuratorApp
    from curator.tui.screens.coverage import CoverageScreen
    from tests.tui.conftest import wait_for

    db = str(tmp_path / "spec.db")
    for argv in (
        ("init", "--empty"),
        ("constitution", "import", str(SPEC / "model_spec_2025-12-18.md")),
        ("eval", "suite", "add", "spec", str(SPEC / "eval-examples")),
        ("eval", "run", "spec", "--model", WEAK, "--yes", "--poll", "0"),
        ("eval", "grade", "run-1", "--judge-model", JUDGE, "--poll", "0"),
    ):
        code, _, err = run_cli(capsys, *argv, "--db", db)
        assert code == 0, (argv, err)

    app = CuratorApp(Path(db), user="lead")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.switch_mode("coverage")
        screen = app.screen
        assert isinstance(screen, CoverageScreen)
        heat = screen.query_one("#heat", DataTable)
        await wait_for(pilot, lambda: heat.row_count > 0, "the heat map")
        assert "violations" in heat.columns
        assert heat.get_cell(MOST_PROBED, "violations").plain.startswith(f"{MOST_PROBED_N}/{MOST_PROBED_N} ")
        assert "eval run-1 (spec, claude-weak-test)" in str(screen.sub_title)
        await pilot.press("p")
        first = heat.coordinate_to_cell_key((0, 0)).row_key.value
        assert heat.get_cell(first, "violations").plain.endswith("100%")  # the most surely violated first
