"""What a person browsing eval results reads: runs with their counts, one clause's responses with
their effective verdicts, and one response's transcript with the judge's evidence located in it.

The front ends call these instead of the store, so that each view is one read snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from curator.errors import NotFoundError
from curator.evals.runs import content_text
from curator.store import evals as store
from curator.store.clauses import current_clauses
from curator.store.db import read_snapshot


@dataclass(frozen=True)
class RunSummary:
    run: store.Run
    responses: int
    failed: int
    gradings: int

    @property
    def in_progress(self) -> bool:
        """Sent to the API and not back yet: its report counts only what has arrived."""
        return self.run.status == store.RUN_SUBMITTED


def run_summaries(db: Database, suite: str) -> list[RunSummary]:
    """A suite's runs, oldest first, with their response and grading counts."""
    with read_snapshot(db):
        out = []
        for run in store.list_runs(db, suite):
            total, failed = store.response_count(db, run.id)
            out.append(RunSummary(run, total, failed, len(store.gradings(db, run.id))))
        return out


@dataclass(frozen=True)
class ResponseRow:
    """One response to a prompt that probes the clause; `verdict` None while nobody has graded it."""

    item: str
    sample: int
    verdict: str | None
    human: bool
    reason: str
    error: str | None


def clause_responses(db: Database, run_id: str, clause: str, grading_id: int | None) -> list[ResponseRow]:
    """Every response of the run to an item linked to `clause`, in suite order, with its effective verdict
    (a person's, else grading `grading_id`'s; None: people's verdicts only)."""
    with read_snapshot(db):
        run = store.get_run(db, run_id)
        probing = {i.id for i in store.suite_items(db, run.suite) if clause in i.clauses}
        verdicts = {(v.item, v.sample): v for v in store.clause_verdicts(db, run_id, clause, grading_id or -1)}
        out = []
        for item, sample, error in store.response_slots(db, run_id):
            if item not in probing:
                continue
            v = verdicts.get((item, sample))
            out.append(
                ResponseRow(
                    item,
                    sample,
                    v.verdict if v else None,
                    v.human if v else False,
                    v.reason if v else "",
                    error,
                )
            )
        return out


def find_evidence(text: str, evidence: str) -> tuple[int, int] | None:
    """Where the quoted evidence stands in the response, verbatim (spaces around it aside); None when it
    does not: a paraphrase or an invented quote is never located by guessing."""
    quote = evidence.strip()
    if not quote:
        return None
    start = text.find(quote)
    return None if start < 0 else (start, start + len(quote))


@dataclass(frozen=True)
class Transcript:
    """One response to one prompt, read for one clause."""

    run: store.Run
    item: store.SuiteItem
    response: store.Response
    text: str
    """What the model said, as the judge read it (the text, or the content blocks flattened)."""
    clause: str
    clause_text: str
    verdict: store.Verdict | None
    """The effective verdict: the newest person's, else the grading's."""
    judge: store.Verdict | None
    """The grading's verdict (with its evidence), also when a person has overridden it."""
    grading: store.Grading | None

    @property
    def evidence(self) -> str:
        return self.judge.evidence if self.judge else ""

    @property
    def evidence_span(self) -> tuple[int, int] | None:
        return find_evidence(self.text, self.evidence)


def transcript(db: Database, run_id: str, item: str, sample: int, clause: str, grading_id: int | None) -> Transcript:
    """The prompt, the response, the clause and the verdicts of one response (grading `grading_id`; None: none)."""
    with read_snapshot(db):
        run = store.get_run(db, run_id)
        items = {i.id: i for i in store.suite_items(db, run.suite)}
        if item not in items:
            raise NotFoundError(f"no item {item!r} in suite {run.suite!r} of run {run_id}")
        response = store.get_response(db, run_id, item, sample)
        text = response.response or (content_text(response.content) if response.content else "")
        clause_text = next((c.text for c in current_clauses(db) if c.id == clause), "")
        effective = [
            v
            for v in store.clause_verdicts(db, run_id, clause, grading_id or -1)
            if (v.item, v.sample) == (item, sample)
        ]
        grading = store.get_grading(db, grading_id) if grading_id is not None else None
        judge = store.grading_verdict(db, grading_id, item, sample, clause) if grading_id is not None else None
        return Transcript(
            run, items[item], response, text, clause, clause_text, effective[0] if effective else None, judge, grading
        )
