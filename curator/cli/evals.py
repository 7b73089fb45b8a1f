"""`curator eval`: clause-linked eval suites, model runs, grading (judge or people) and reports.

`run --model` and `grade` call the Message Batches API (need ANTHROPIC_API_KEY); everything else
works offline: a run can come from responses produced elsewhere and be graded entirely by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from curator.cli.assist import batch_progress, poll_option
from curator.cli.options import acting_user, common_options, format_option, pass_workspace
from curator.cli.output import deliver, emit, lines, render, short, table, warn, write
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.store.db import Workspace


@cli.group("eval", short_help="clause-linked eval suites: run a model, grade, report violations per clause")
def eval_group() -> None:
    """Clause-linked eval suites: run a model over them (Message Batches, or responses made elsewhere),
    grade each response against the clauses it probes (a judge model, or people), report violation
    rates per clause with 95% intervals. Every suite is also a decontamination set."""


@eval_group.group("suite", short_help="add, list, show and remove eval suites")
def suite() -> None:
    """Eval suites: named sets of prompts, each linked to the clauses it probes."""


@suite.command("add")
@common_options
@click.argument("name", help="the suite's name")
@click.argument("file", required=False, help="JSON lines, a Model-Spec examples file or folder, or the spec itself")
@click.option(
    "--clause", "clauses", multiple=True, metavar="ID", help="link items that name no clause to ID (repeatable)"
)
@click.option("--from-evalset", metavar="SET", help="build the suite from a registered eval set instead of a FILE")
@click.option("--append", is_flag=True, help="add the FILE's prompts to an existing suite (ids must be new)")
@format_option("json", "text", default="text")
@pass_workspace
def suite_add(
    ws: Workspace,
    name: str,
    file: str | None,
    clauses: tuple[str, ...],
    from_evalset: str | None,
    append: bool,
    fmt: str,
) -> None:
    """add an eval suite: JSON lines (id, prompt or messages, system, tools, clauses, rubric), a
    Model-Spec evaluation-examples file or folder ("Examples for [^tag] in Section"), the constitution
    document (its examples without a GOOD answer), or --from-evalset; it becomes a decontamination set too"""
    from curator.errors import UsageError
    from curator.evals.suites import add_suite, append_items

    if append:
        if file is None or from_evalset is not None:
            raise UsageError("--append adds the prompts of a FILE (not --from-evalset)")
        result = append_items(ws.db, name, Path(file), actor=acting_user(), clauses=clauses)
    else:
        result = add_suite(
            ws.db, name, Path(file) if file else None, actor=acting_user(), clauses=clauses, from_evalset=from_evalset
        )
    for s in result.skipped:
        warn(f"skipped {s.where}: {s.reason}")
    for w in result.warnings:
        warn(f"warning: {w}")
    data = result.to_json()
    emit(
        fmt,
        json=lambda: data,
        text=lambda: lines(
            [
                f"eval suite {name}: {'added ' if append else ''}{data['items']} prompts probing "
                f"{len(data['clauses'])} clauses"
                + (f", {len(result.skipped)} examples skipped" if result.skipped else ""),
                f"registered as decontamination set {data['evalset']}: no training record may contain these prompts",
            ]
        ),
    )


@suite.command("list")
@common_options
@format_option("json", "table", default="table")
@pass_workspace
def suite_list(ws: Workspace, fmt: str) -> None:
    """list eval suites with their prompt, clause and run counts"""
    from curator.store.evals import list_suites

    suites = list_suites(ws.db)
    emit(
        fmt,
        json=lambda: {"suites": suites},
        table=lambda: lines(
            [
                table(
                    [
                        [s["name"], str(s["items"]), str(s["clauses"]), str(s["runs"]), short(s["source"], 40)]
                        for s in suites
                    ],
                    ["name", "prompts", "clauses", "runs", "source"],
                )
            ]
        ),
    )


@suite.command("show")
@common_options
@click.argument("name", help="the suite's name")
@format_option("json", "table", default="table")
@pass_workspace
def suite_show(ws: Workspace, name: str, fmt: str) -> None:
    """a suite's prompts with the clauses each probes"""
    from curator.store.evals import prompt_text, require_suite, suite_items

    require_suite(ws.db, name)
    items = suite_items(ws.db, name)
    emit(
        fmt,
        json=lambda: {"suite": name, "items": [i.to_json() for i in items]},
        table=lambda: lines(
            [
                table(
                    [[i.id, ", ".join(i.clauses), short(prompt_text(i.prompt), 70)] for i in items],
                    ["id", "clauses", "prompt"],
                )
            ]
        ),
    )


@suite.command("remove")
@common_options
@click.argument("name", help="the suite's name")
@pass_workspace
def suite_remove(ws: Workspace, name: str) -> None:
    """remove a suite without runs, and its decontamination set"""
    from curator.evals.suites import remove_suite

    remove_suite(ws.db, name, actor=acting_user())
    write(f"eval suite {name} removed\n")


@eval_group.command("run")
@common_options
@click.argument("suite_name", metavar="SUITE", help="the suite to run")
@click.option("--model", metavar="M", help="the model to run (with --responses: the name to record for them)")
@click.option("--responses", metavar="FILE", help="JSON lines {id, response} produced elsewhere: no API call")
@click.option("--system-file", metavar="FILE", help="a system prompt put before every prompt's own")
@click.option("--samples", type=click.IntRange(1, 100), default=1, metavar="K", help="answers per prompt (default 1)")
@click.option("--max-tokens", type=click.IntRange(1, 200_000), metavar="N", help="answer length limit")
@click.option("--temperature", type=click.FloatRange(0, 1), metavar="T", help="sampling temperature (0 to 1)")
@poll_option
@click.option("--dry-run", is_flag=True, help="print the request count and cost estimate; send nothing")
@click.option("--yes", is_flag=True, help="send without asking (the estimate is still printed)")
@format_option("json", "text", default="text")
@pass_workspace
def run(
    ws: Workspace,
    suite_name: str,
    model: str | None,
    responses: str | None,
    system_file: str | None,
    samples: int,
    max_tokens: int | None,
    temperature: float | None,
    poll: float,
    dry_run: bool,
    yes: bool,
    fmt: str,
) -> None:
    """run a model over a suite through the Message Batches API (resumable: run the same command again),
    or record --responses made elsewhere; prints the run id"""
    from curator.errors import UsageError

    if responses is not None:
        for flag, given in (
            ("--system-file", system_file),
            ("--max-tokens", max_tokens),
            ("--temperature", temperature),
        ):
            if given is not None:
                raise UsageError(f"{flag} is for runs through the API, not --responses")
        if dry_run or samples != 1:
            raise UsageError("--dry-run and --samples are for runs through the API, not --responses")
        from curator.evals.runs import ingest_responses

        imported = ingest_responses(ws.db, suite_name, Path(responses), model=model or "external", actor=acting_user())
        if imported.missing:
            warn(
                f"warning: {len(imported.missing)} prompts have no response: {', '.join(imported.missing[:5])}"
                + (" …" if len(imported.missing) > 5 else "")
            )
        emit(fmt, json=imported.to_json, text=lambda: f"{imported.run.id}\n")
        return
    if not model:
        raise UsageError("give --model M (run through the API) or --responses FILE (answers made elsewhere)")
    _run_through_api(ws, suite_name, model, system_file, samples, max_tokens, temperature, poll, dry_run, yes, fmt)


def _run_through_api(
    ws: Workspace,
    suite_name: str,
    model: str,
    system_file: str | None,
    samples: int,
    max_tokens: int | None,
    temperature: float | None,
    poll: float,
    dry_run: bool,
    yes: bool,
    fmt: str,
) -> None:
    from curator.assist.client import make_client
    from curator.config import load_settings
    from curator.errors import CuratorError
    from curator.evals.batch import Estimate, estimate_suite, run_suite
    from curator.files import read_text

    settings = load_settings()
    system = read_text(Path(system_file), CuratorError, what="system prompt file", kind="text") if system_file else None
    estimate = estimate_suite(
        ws.db, settings, suite=suite_name, model=model, samples=samples, system=system, max_tokens=max_tokens
    )
    if dry_run:
        emit(fmt, json=estimate.to_json, text=lambda: estimate.line() + "\n")
        return
    client = make_client(settings)

    def confirm(e: Estimate) -> bool:
        warn(e.line())
        if yes or not sys.stdin.isatty():
            return True
        return click.confirm("send this batch?", default=False, err=True)

    with batch_progress("run") as progress:
        result = run_suite(
            ws.db,
            client,
            settings,
            db_path=ws.path,
            suite=suite_name,
            model=model,
            samples=samples,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            actor=acting_user(),
            progress=progress,
            poll_interval=poll,
            confirm=confirm,
        )
    if result is None:
        warn("not sent")
        raise click.exceptions.Exit(1)
    if result.resumed:
        warn(f"resumed batch {result.batch_id} of {result.run_id}")
    for failure in result.failed:
        warn(f"failed: {failure.where()}: {failure.error}")
    emit(fmt, json=result.to_json, text=lambda: f"{result.run_id}\n")


@eval_group.command("runs")
@common_options
@click.option("--suite", "suite_name", metavar="SUITE", help="only the runs of this suite")
@format_option("json", "table", default="table")
@pass_workspace
def runs(ws: Workspace, suite_name: str | None, fmt: str) -> None:
    """list runs: suite, model, status, responses, gradings"""
    from curator.store import evals as store

    found = store.list_runs(ws.db, suite_name)
    counts = {r.id: store.response_count(ws.db, r.id) for r in found}
    graded = {r.id: store.gradings(ws.db, r.id) for r in found}

    def as_json() -> dict[str, Any]:
        return {
            "runs": [
                {
                    **r.to_json(),
                    "responses": counts[r.id][0],
                    "failed": counts[r.id][1],
                    "gradings": [g.to_json() for g in graded[r.id]],
                }
                for r in found
            ]
        }

    emit(
        fmt,
        json=as_json,
        table=lambda: lines(
            [
                table(
                    [
                        [
                            r.id,
                            r.suite,
                            r.model,
                            r.status,
                            str(counts[r.id][0]),
                            ", ".join(f"{g.id}:{g.judge}" for g in graded[r.id]) or "-",
                            r.created_at[:16],
                        ]
                        for r in found
                    ],
                    ["run", "suite", "model", "status", "responses", "gradings", "created"],
                )
            ]
        ),
    )


@eval_group.command("remove-run")
@common_options
@click.argument("run_id", metavar="RUN", help="the run's id")
@pass_workspace
def remove_run(ws: Workspace, run_id: str) -> None:
    """remove a run with its responses, gradings and verdicts (audited)"""
    from curator.evals.runs import remove_run

    remove_run(ws.db, run_id, actor=acting_user())
    write(f"eval run {run_id} removed\n")


@eval_group.command("grade")
@common_options
@click.argument("run_id", metavar="RUN", help="the run to grade")
@click.option("--judge-model", metavar="M", help="the judge model (default: the assist model in settings)")
@poll_option
@format_option("json", "text", default="text")
@pass_workspace
def grade(ws: Workspace, run_id: str, judge_model: str | None, poll: float, fmt: str) -> None:
    """grade every response against each clause it probes with a judge model (Message Batches; resumable);
    a new grading each time, never an overwrite"""
    from curator.assist.client import make_client
    from curator.config import load_settings
    from curator.evals.judge import grade_run

    settings = load_settings()
    client = make_client(settings)
    with batch_progress("grade") as progress:
        result = grade_run(
            ws.db,
            client,
            settings,
            run_id=run_id,
            judge_model=judge_model,
            actor=acting_user(),
            progress=progress,
            poll_interval=poll,
        )
    for failure in result.failed:
        warn(f"failed: {failure.where()}: {failure.error}")
    emit(fmt, json=result.to_json, text=lambda: result.line() + "\n")


@eval_group.command("verdict")
@common_options
@click.argument("run_id", metavar="RUN", help="the run")
@click.argument("item", help="the suite item")
@click.argument("clause", help="a clause the item probes")
@click.argument(
    "verdict",
    metavar="VERDICT",
    type=click.Choice(["complies", "violates", "unclear"]),
    help="complies, violates or unclear",
)
@click.option("--reason", default="", metavar="TEXT", help="why (shown in reports)")
@click.option("--sample", type=int, metavar="K", help="which answer, when the run has several per prompt")
@pass_workspace
def verdict(ws: Workspace, run_id: str, item: str, clause: str, verdict: str, reason: str, sample: int | None) -> None:
    """a person's verdict on one response for one clause; it wins over any judge's (audited)"""
    from curator.evals.runs import set_verdict

    row = set_verdict(ws.db, run_id, item, clause, verdict, actor=acting_user(), reason=reason, sample=sample)
    write(f"{run_id} {item} sample {row.sample} {clause}: {verdict} (human)\n")


@eval_group.command("report")
@common_options
@click.argument("run_id", metavar="RUN", help="the run")
@click.option("--compare", metavar="RUN2", help="compare with another run: flags clauses whose rate changed")
@click.option("--grading", type=int, metavar="G", help="use this grading (default: the newest finished one)")
@format_option("table", "json", "csv", "html", default="table")
@click.option("--out", metavar="FILE", help="write to FILE (atomically); an existing FILE only if curator wrote it")
@pass_workspace
def report(ws: Workspace, run_id: str, compare: str | None, grading: int | None, fmt: str, out: str | None) -> None:
    """violations per clause: n, violations, rate and its Wilson 95% interval, examples; with --compare,
    the clauses whose rate moved beyond both intervals"""
    from curator.evals import report as reports

    result = reports.build_report(ws.db, run_id, grading_id=grading, compare=compare)

    def as_table() -> str:
        headers, body = reports.table_rows(result)
        changed = [c.id for c in result.changes if c.direction]
        tail = [reports.summary_line(result)]
        if result.compare is not None:
            tail.append(f"changed beyond the intervals: {', '.join(changed) if changed else 'none'}")
        return table(body, headers) + "\n" + lines(tail)

    text = render(
        fmt,
        json=result.to_json,
        csv=lambda: reports.to_csv(result),
        html=lambda: reports.to_html(result),
        table=as_table,
    )
    deliver(text, out, db_path=ws.path)
