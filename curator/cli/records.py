"""Record commands: `list`, `show`, `history`, `edit`, and the verbs `link`, `unlink`, `tag`,
`untag`, `submit`, `approve`, `reject`, `delete`, `restore`, each over one function of
`curator.records`.

A verb takes one record (`ID`, with `--expect-version`) or, instead, the Examples screen's
filters (`record_target`), and `run_verb` does the rest: one record is changed at once and its
new version printed; with filters the plan is printed and applied, all or nothing, only with
`--yes`. A new verb is a function here:

    @cli.command("submit", epilog=BULK)
    @common_options
    @record_target()
    @format_option("text", "json", default="text")
    @pass_workspace
    def submit(ws: Workspace, target: RecordTarget, fmt: str) -> None:
        '''submit for review: draft or rejected -> review'''
        run_verb(ws, target, "submit", fmt)

`pass_workspace` opens the workspace and reports a schema upgrade, `emit` writes the format
asked for, and failures are `CuratorError`s (`curator.cli.root` turns them into one line and
the error's exit status). Then regenerate docs/cli.md with `docs/gen_cli.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, cast

import click

from curator.cli.options import (
    RecordFilters,
    RecordTarget,
    acting_user,
    common_options,
    exclusive,
    expect_version_option,
    format_option,
    pass_workspace,
    record_filters,
    record_target,
)
from curator.cli.output import emit, json_array, lines, short, table, table_row, warn, write
from curator.cli.root import cli

if TYPE_CHECKING:
    from curator.records import RecordChange, Verb
    from curator.store.db import Workspace
    from curator.store.examples import Listed

TEXT_OR_JSON = format_option("text", "json", default="text", help="json: the result's fixed keys (default: text)")

BULK = (
    "With filters instead of an ID: prints how many records match and what would change for each, "
    "and writes only with --yes (all or nothing; exit 1 without it); --dry-run only prints. "
    "Exit statuses: docs/cli.md, Exit status."
)


@cli.command("list")
@common_options
@record_filters
@format_option(
    "json",
    "jsonl",
    "table",
    default="table",
    help="json: an array of canonical records; jsonl: one per line (default: table)",
)
@pass_workspace
def list_records(ws: Workspace, filters: RecordFilters, fmt: str) -> None:
    """list records as canonical JSON or a table"""
    from curator.store import examples
    from curator.store.db import read_snapshot, scan_cache

    if fmt in ("json", "jsonl"):  # streamed: memory stays flat however many records match
        with scan_cache(ws.db):
            records = examples.iter_query(ws.db, **filters)
            pieces = (
                json_array(r.canonical() for r in records)
                if fmt == "json"
                else (r.canonical_json() + "\n" for r in records)
            )
            for piece in pieces:
                write(piece)
        return

    headers = ["id", "kind", "status", "author", "title", "clauses"]
    with read_snapshot(ws.db) as db, scan_cache(db):  # two passes over one state: column widths, then the rows
        widths = [len(h) for h in headers]
        n = 0
        for cells in _table_cells(examples.iter_listed(db, **filters)):
            widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=True)]
            n += 1
        write(table([], headers, widths=widths) + "\n")
        for cells in _table_cells(examples.iter_listed(db, **filters)):
            write(table_row(cells, widths) + "\n")
    write(f"{n} records\n")


def _table_cells(rows: Iterable[Listed]) -> Iterator[list[str]]:
    for r in rows:
        yield [r.id, r.kind, r.status, r.author, short(r.title, 48), ",".join(r.clauses)]


@cli.command("show")
@common_options
@click.argument("example_id", metavar="ID", help="example id (a soft-deleted record too)")
@TEXT_OR_JSON
@pass_workspace
def show(ws: Workspace, example_id: str, fmt: str) -> None:
    """print one record with its version, status, link states, reviews and deletion"""
    from curator import records

    view = records.show(ws.db, example_id)
    emit(fmt, json=view.to_json, text=lambda: lines([view.to_text()]))


@cli.command("history")
@common_options
@click.argument("example_id", metavar="ID", help="example id (a purged record's history is kept)")
@TEXT_OR_JSON
@pass_workspace
def history(ws: Workspace, example_id: str, fmt: str) -> None:
    """an example's audit events, oldest first, each named, with the words it changed per field

    Each event is a line with its time, actor, name (created, imported, edited title, turn 2,
    linked §honesty.1, unlinked §x, tagged x, untagged x, submitted for review, approved,
    rejected: COMMENT, back to review, relinked by constitution version N, confirmed links §x,
    deleted, restored, purged, conflict: edit of version N not saved ...), the version it left
    and its note. Below it, one line per changed field, labelled as the editor names it (title,
    text, group, tags, clauses, status, Turn 3 content, Turn 3 rationale, Turn 3 tool calls,
    tools ...), in git's --word-diff=plain form: [-deleted words-]{+inserted words+}, a few
    unchanged words around each change, "…" for the words left out.

    --format json: {"id", "events": [{"event", "at", "actor", "action", "name", "version",
    "note", "review", "diff", "changes"}]}. "action" is the audit log's word (update, import,
    follow-rename, ...), "diff" the field lines above, "changes" one object per changed field:
    {"field", "kind", "before", "after", "added", "removed", "segments"}. "kind" is "text" or
    "items" (tags and clauses); "before" and "after" are the whole values (null when absent);
    "added" and "removed" list the items of an "items" change; "segments" is the shortened word
    diff, [{"op": "equal" | "delete" | "insert", "text"}].
    """
    from curator.history import example_history

    found = example_history(ws.db, example_id)
    emit(fmt, json=found.to_json, text=lambda: lines([found.to_text()]))


# ---------------------------------------------------------------------------
# edit
# ---------------------------------------------------------------------------


def _interactive() -> bool:
    """Whether someone can answer a question: stdin is a terminal."""
    return sys.stdin is not None and sys.stdin.isatty()


def _edit_in_editor(ws: Workspace, example_id: str, expected_version: int | None, actor: str) -> RecordChange:
    """Open $VISUAL/$EDITOR on the record's JSON until it validates, the user gives up, or nothing changed."""
    from curator import records
    from curator.errors import RecordError

    ex = records.current(ws.db, example_id, expected_version=expected_version)
    original = records.editable_json(ex)
    text = original
    while True:
        edited = click.edit(text, extension=".json")
        edited = text if edited is None else edited  # closed without saving: the text it was given
        if edited == original:
            return records.unchanged("edit", ex, "the editor closed without changes")
        try:
            data = records.load_json_object(edited, source="the edited record")
            return records.replace(ws.db, example_id, data, expected_version=ex.version, actor=actor)
        except RecordError as err:
            if not _interactive():
                raise
            warn(f"curator: error: {err}")
            if not click.confirm("Re-open the editor with your text?", default=True, err=True):
                raise click.exceptions.Exit(1) from None
            text = edited


@cli.command("edit")
@common_options
@click.argument("example_id", metavar="ID", help="example id")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="set a field (repeatable): PATH=text, or PATH:=JSON; dotted paths, list items from 0 "
    "(messages.1.rationale=...)",
)
@click.option("--patch", metavar="FILE.json", help="apply a JSON Merge Patch (RFC 7386) from a file (- for stdin)")
@expect_version_option
@TEXT_OR_JSON
@exclusive("assignments", "patch")
@pass_workspace
def edit(
    ws: Workspace,
    example_id: str,
    assignments: tuple[str, ...],
    patch: str | None,
    expect_version: int | None,
    fmt: str,
) -> None:
    """edit a record: --set fields, --patch it, or open $VISUAL/$EDITOR on its JSON

    With neither --set nor --patch the record's canonical JSON opens in $VISUAL (else $EDITOR).
    When the saved text is not a valid record, the error is printed and you are asked whether to
    re-open the editor with your text; without a terminal, or on "no", the command exits 1 and
    writes nothing. Saving the file unchanged is nothing to do (exit 0). The status changes only
    through submit, approve and reject; a change to an approved record's content sends it back
    to review, and the output says so.
    """
    from curator import records

    actor = acting_user()
    if assignments:
        fields = records.parse_assignments(assignments)
        change = records.set_fields(ws.db, example_id, fields, expected_version=expect_version, actor=actor)
    elif patch is not None:
        from curator.errors import CuratorError
        from curator.files import read_input_text

        text = read_input_text(patch, CuratorError, what="patch file", kind="patch")
        data = records.load_json_object(text, source=patch)
        change = records.merge_patch(ws.db, example_id, data, expected_version=expect_version, actor=actor)
    else:
        change = _edit_in_editor(ws, example_id, expect_version, actor)
    emit(fmt, json=change.to_json, text=lambda: lines([change.summary()]))


# ---------------------------------------------------------------------------
# The verbs, by id or by filter
# ---------------------------------------------------------------------------


def run_verb(ws: Workspace, target: RecordTarget, verb: Verb, fmt: str, *, comment: str = "") -> None:
    """Run `verb` on the target: one record at once, or a plan over the filters applied only with --yes.

    Bulk exit status: 0 when the plan was applied, previewed (--dry-run) or had nothing to change;
    1 when changes were planned but --yes was not given, or when the plan refused any record. In
    both cases nothing is written: a bulk verb is all or nothing, so a script never has to work
    out which half of a batch went through.
    """
    from curator import records

    actor = acting_user()
    clauses = target.values if verb in ("link", "unlink") else ()
    tags = target.values if verb in ("tag", "untag") else ()
    if target.example_id is not None:
        change = records.perform(
            ws.db,
            verb,
            target.example_id,
            expected_version=target.expected_version,
            actor=actor,
            clauses=clauses,
            tags=tags,
            comment=comment,
        )
        emit(fmt, json=change.to_json, text=lambda: lines([change.summary()]))
        return
    filters = records.Filters(**target.filters)
    plan = records.plan(ws.db, verb, filters, actor=actor, clauses=clauses, tags=tags, comment=comment)
    planned, refused = plan.count("change"), plan.count("refused")
    if target.dry_run or planned == 0 or not target.yes or refused:
        emit(fmt, json=plan.to_json, text=lambda: lines([plan.to_text()]))
        if target.dry_run:
            return
        if refused:
            warn(
                f"nothing written: {refused} records refused (listed above); "
                "narrow the filters to the records that can be changed"
            )
        elif planned:
            warn(f"nothing written: pass --yes to apply the {planned} changes above, or --dry-run to only preview")
        if planned or refused:
            raise click.exceptions.Exit(1)
        return
    result = records.apply_plan(ws.db, plan)
    emit(fmt, json=result.to_json, text=lambda: lines([plan.to_text(), result.to_text()]))


def _plain_verb(name: Verb, summary: str, values: str | None = None) -> None:
    """Register a bulk verb that takes nothing but its target (and values): one shape, six verbs."""

    def command(ws: Workspace, target: RecordTarget, fmt: str) -> None:
        run_verb(ws, target, name, fmt)

    command.__name__ = name
    command.__doc__ = summary
    decorated = common_options(record_target(values)(TEXT_OR_JSON(pass_workspace(command))))
    cli.command(name, epilog=BULK)(decorated)


for _name, _summary, _values in (
    ("link", "link clauses of the current constitution (an approved record goes back to review)", "CLAUSE"),
    ("unlink", "remove clause links, orphaned ones too (an approved record goes back to review)", "CLAUSE"),
    ("tag", "add tags (metadata: an approved record stays approved)", "TAG"),
    ("untag", "remove tags (metadata: an approved record stays approved)", "TAG"),
    ("submit", "submit for review: draft or rejected -> review", None),
):
    _plain_verb(cast("Verb", _name), _summary, _values)


@cli.command("approve", epilog=BULK)
@common_options
@record_target()
@click.option("--comment", metavar="TEXT", default="", help="a note kept with the review")
@TEXT_OR_JSON
@pass_workspace
def approve(ws: Workspace, target: RecordTarget, comment: str, fmt: str) -> None:
    """approve records in review (not your own or ones you imported; links and rationales needed)"""
    run_verb(ws, target, "approve", fmt, comment=comment)


@cli.command("reject", epilog=BULK)
@common_options
@record_target()
@click.option("--comment", metavar="TEXT", required=True, help="why (required)")
@TEXT_OR_JSON
@pass_workspace
def reject(ws: Workspace, target: RecordTarget, comment: str, fmt: str) -> None:
    """reject with a comment saying why"""
    run_verb(ws, target, "reject", fmt, comment=comment)


@cli.command("delete", epilog=BULK)
@common_options
@record_target()
@click.option(
    "--purge", is_flag=True, help="remove already deleted records for good (a live record is refused: delete it first)"
)
@TEXT_OR_JSON
@pass_workspace
def delete(ws: Workspace, target: RecordTarget, purge: bool, fmt: str) -> None:
    """soft-delete (hidden everywhere, restorable), or --purge a deleted record for good

    A permanent removal takes two decisions: `delete ID`, then `delete ID --purge`. With filters,
    --purge selects among the soft-deleted records only. Purged records keep their history in
    the audit log.
    """
    run_verb(ws, target, "purge" if purge else "delete", fmt)


_plain_verb("restore", "bring soft-deleted records back as they were (with filters: among the deleted ones)")
