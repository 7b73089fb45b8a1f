"""The headless face: every non-interactive job is a subcommand.

`curator` with no arguments opens the TUI; the Textual import happens only then,
so scripts and CI never pay for it. Reference: docs/cli.md (generated from this parser);
exit codes and JSON output shapes: docs/architecture.md, Contracts.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from curator import __version__, paths
from curator.config import load_settings, resolve_user
from curator.errors import CuratorError, StoreError, UsageError
from curator.models import KINDS, STATUSES

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _db_path(args: argparse.Namespace) -> Path:
    return Path(args.db).expanduser() if args.db else paths.default_db_path()


def _actor(args: argparse.Namespace) -> str:
    return resolve_user(getattr(args, "user", None), load_settings())


def _announce_upgrade(path: Path) -> Callable[[list[str]], None]:
    def announce(pending: list[str]) -> None:
        sys.stderr.write(
            f"curator: upgrading {path} to the current schema ({', '.join(pending)}); "
            "one-off, about 15 s per 100k records\n"
        )
        sys.stderr.flush()

    return announce


def _open(args: argparse.Namespace) -> Any:
    from curator.store.db import open_workspace

    path = _db_path(args)
    return open_workspace(path, create=False, on_upgrade=_announce_upgrade(path))


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def cmd_tui(args: argparse.Namespace) -> int:
    """Open the TUI on the workspace (created with the demo when missing)."""
    from curator.bootstrap import open_or_create_default
    from curator.tui.app import run

    path = _db_path(args)
    ws = open_or_create_default(path, actor=_actor(args), on_upgrade=_announce_upgrade(path))
    ws.close()
    run(_db_path(args), user=_actor(args))
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from curator.bootstrap import init_workspace

    path = _db_path(args)
    with init_workspace(path, demo=args.demo, actor=_actor(args)) as ws:
        n = ws.db.execute("SELECT count(*) FROM examples").fetchone()[0]
    what = f"demo workspace with {n} examples" if args.demo else "empty workspace"
    print(f"created {what} in {path}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from curator.importer import import_file

    with _open(args) as ws:
        report = import_file(
            ws.db,
            Path(args.file),
            args.input_format,
            actor=_actor(args),
            skip_invalid=args.skip_invalid,
            parallel=None,
        )
    if args.format == "json":
        _print_json(report.to_json(args.file))
    else:
        print(f"imported {len(report.imported)} records ({report.format} format) from {args.file}")
        for dup in report.duplicates:
            print(f"skipped {args.file}:{dup['line']}: exact duplicate of {dup['duplicate_of']}")
    for problem in report.invalid:
        print(f"skipped {problem.describe(args.file)}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from curator.store import examples

    with _open(args) as ws:
        records = examples.query(
            ws.db,
            kind=args.kind,
            status=args.status,
            clause=args.clause,
            tag=args.tag,
            author=args.author,
            text=args.text,
            limit=args.limit,
        )
    if args.format == "json":
        _print_json([r.canonical() for r in records])
    elif args.format == "jsonl":
        for r in records:
            sys.stdout.write(r.canonical_json() + "\n")
    else:
        rows = [[r.id, r.kind, r.status, r.author, _short(r.title, 48), ",".join(r.clauses)] for r in records]
        print(_table(rows, ["id", "kind", "status", "author", "title", "clauses"]))
        print(f"{len(records)} records")
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    from curator.dumpload import dump

    with _open(args) as ws:
        counts = dump(ws, Path(args.dir))
    print(f"dumped to {args.dir}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from curator.dumpload import load

    counts = load(Path(args.dir), _db_path(args))
    print(f"loaded {args.dir} into {_db_path(args)}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


def _clause_json(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "parent": c.parent,
        "depth": c.depth,
        "title": c.title,
        "text": c.text,
        "hash": c.hash,
        "metadata": c.meta,
    }


def cmd_constitution_show(args: argparse.Namespace) -> int:
    from curator.constitution.parse import parse_file

    parsed = parse_file(Path(args.file))
    if args.format == "json":
        doc = parsed.document
        _print_json(
            {
                "document": {"title": doc.get("title"), "sha256": doc.get("sha256"), "metadata": doc.get("meta", {})},
                "clauses": [_clause_json(c) for c in parsed.clauses],
            }
        )
    else:
        for c in parsed.clauses:
            meta = "".join(f" {k}={v}" for k, v in sorted(c.meta.items()))
            print(f"{'  ' * (c.depth - 1)}{c.id}  {_short(c.title, 70)}{meta}")
    return 0


def cmd_constitution_diff(args: argparse.Namespace) -> int:
    from curator.constitution.diff import diff_constitutions
    from curator.constitution.parse import parse_file

    diff = diff_constitutions(parse_file(Path(args.old)).clauses, parse_file(Path(args.new)).clauses)
    if args.format == "json":
        _print_json(diff.to_json())
    else:
        print(diff.summary())
    return 0


def cmd_constitution_import(args: argparse.Namespace) -> int:
    from curator.constitution.versions import import_constitution

    with _open(args) as ws:
        result = import_constitution(ws.db, Path(args.file), actor=_actor(args))
    if args.format == "json":
        _print_json(result.to_json())
    else:
        print(result.summary())
    return 0


def cmd_constitution_stale(args: argparse.Namespace) -> int:
    from curator.store.links import problem_links

    with _open(args) as ws:
        problems = problem_links(ws.db)
    if args.format == "json":
        _print_json(problems)
    else:
        rows = [
            [state, p["example_id"], p["clause_id"], p["status"], _short(p["example_title"], 50)]
            for state in ("stale", "orphaned")
            for p in problems[state]
        ]
        print(_table(rows, ["state", "example", "clause", "status", "title"]))
        print(f"{len(problems['stale'])} stale, {len(problems['orphaned'])} orphaned")
    return 0


def cmd_constitution_relink(args: argparse.Namespace) -> int:
    from curator.store import examples
    from curator.store.links import confirm_links, link_states

    actor = _actor(args)
    with _open(args) as ws:
        if args.to or args.drop:
            if not args.clause:
                raise UsageError("--to and --drop need --clause (the link to move or drop)")
            ex = examples.get(ws.db, args.example)
            if args.clause not in ex.clauses:
                raise UsageError(f"example {ex.id} is not linked to clause {args.clause!r}")
            clauses = [c for c in ex.clauses if c != args.clause]
            if args.to and args.to not in clauses:
                clauses.insert(ex.clauses.index(args.clause), args.to)
            examples.update(ws.db, ex.model_copy(update={"clauses": clauses}), expected_version=ex.version, actor=actor)
            print(f"{ex.id}: link to {args.clause} " + (f"moved to {args.to}" if args.to else "removed"))
        else:
            cleared = confirm_links(ws.db, args.example, actor=actor, clause_ids=[args.clause] if args.clause else None)
            states = link_states(ws.db, args.example)
            print(
                f"{args.example}: confirmed {len(cleared)} stale link(s)"
                + (f": {', '.join(cleared)}" if cleared else "")
            )
            orphaned = sorted(c for c, s in states.items() if s == "orphaned")
            if orphaned:
                print(f"still orphaned: {', '.join(orphaned)} (use --clause ID --to NEW or --drop)")
    return 0


def _read_text_arg(args: argparse.Namespace) -> str:
    if args.text is not None:
        return str(args.text)
    from curator.files import read_text

    return read_text(Path(args.file), CuratorError)


def cmd_dedup_check(args: argparse.Namespace) -> int:
    from curator.dedup.engine import DedupEngine

    with _open(args) as ws:
        engine = DedupEngine.load(ws.db)
        matches = (
            engine.check_example(args.id, limit=args.limit)
            if args.id
            else engine.check(_read_text_arg(args), limit=args.limit)
        )
    if args.format == "json":
        _print_json({"matches": [m.to_json() for m in matches]})
    else:
        print(_table([[m.id, f"{m.score:.3f}", m.reason] for m in matches], ["id", "score", "reason"]))
    return 0


def cmd_dedup_clusters(args: argparse.Namespace) -> int:
    from curator.dedup.engine import DedupEngine

    with _open(args) as ws:
        report = DedupEngine.load(ws.db).clusters()
    if args.format == "json":
        _print_json(report.to_json())
    else:
        for c in report.clusters:
            print(f"{len(c.ids)} records, max score {c.max_score:.3f}, keep {c.representative}: {' '.join(c.ids)}")
        for t in report.templates:
            print(f"template bucket of {len(t)} records (skipped): {' '.join(t[:10])}{' …' if len(t) > 10 else ''}")
        print(f"{len(report.clusters)} clusters, {len(report.templates)} template buckets")
    return 0


def cmd_dedup_ignore(args: argparse.Namespace) -> int:
    from curator.dedup.engine import DedupEngine

    with _open(args) as ws:
        DedupEngine.load(ws.db).ignore(args.a, args.b, actor=_actor(args))
    print(f"{args.a} and {args.b} are marked as not duplicates")
    return 0


def cmd_dedup_reindex(args: argparse.Namespace) -> int:
    from curator.store.examples import rebuild_signatures

    with _open(args) as ws, ws.db.atomic():
        count = rebuild_signatures(ws.db)
    print(f"recomputed the near-duplicate signatures of {count} records")
    return 0


def cmd_evalset_add(args: argparse.Namespace) -> int:
    from curator.dedup.decontam import add_evalset

    with _open(args) as ws:
        n = add_evalset(ws.db, args.name, Path(args.file), actor=_actor(args))
    print(f"eval set {args.name}: {n} items from {args.file}")
    return 0


def cmd_evalset_list(args: argparse.Namespace) -> int:
    from curator.dedup.decontam import list_evalsets

    with _open(args) as ws:
        sets = list_evalsets(ws.db)
    if args.format == "json":
        _print_json({"evalsets": sets})
    else:
        print(
            _table(
                [[s["name"], str(s["items"]), s["source"], s["created_at"]] for s in sets],
                ["name", "items", "source", "added"],
            )
        )
    return 0


def cmd_evalset_remove(args: argparse.Namespace) -> int:
    from curator.dedup.decontam import remove_evalset

    with _open(args) as ws:
        remove_evalset(ws.db, args.name, actor=_actor(args))
    print(f"eval set {args.name} removed")
    return 0


def cmd_decontam(args: argparse.Namespace) -> int:
    from curator.dedup.decontam import decontaminate

    with _open(args) as ws:
        checked, flags = decontaminate(ws.db, args.evalset or None, workers=None)
    if args.format == "json":
        _print_json({"checked": checked, "flagged": len({f.id for f in flags}), "flags": [f.to_json() for f in flags]})
    else:
        rows = [[f.id, f.evalset, f.item, f.rule, f"{f.score:.2f}", _short(f.span, 50)] for f in flags]
        print(_table(rows, ["id", "evalset", "item", "rule", "score", "span"]))
        print(f"{len({f.id for f in flags})} of {checked} records overlap an eval set")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from curator import coverage

    with _open(args) as ws:
        report = coverage.compute(
            ws.db, kind=args.kind, status=args.status, targets_file=Path(args.targets) if args.targets else None
        )
    if args.format == "json":
        text = json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "csv":
        text = coverage.to_csv(report)
    elif args.format == "markdown":
        text = coverage.to_markdown(report)
    elif args.format == "html":
        text = coverage.to_html(report)
    else:
        headers, body = coverage.table_rows(report)
        text = _table(body, headers) + f"\ngaps (approved below target): {len(report.gaps)}\n"
    if args.out:
        from curator.atomic import write_text

        write_text(Path(args.out), text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    if args.min is not None:
        below = [c for c in report.clauses if c.approved_total < args.min]
        for c in below:
            print(f"below --min {args.min}: {c.id} has {c.approved_total} approved", file=sys.stderr)
        if below:
            return 1
    return 0


def _assist(args: argparse.Namespace) -> tuple[Any, Any]:
    """(client, settings); without ANTHROPIC_API_KEY this raises AssistUnavailable (one line, exit 1)."""
    from curator.assist.client import make_client

    settings = load_settings()
    return make_client(settings), settings


def cmd_assist_draft(args: argparse.Namespace) -> int:
    from curator.assist.actions import draft

    client, settings = _assist(args)
    with _open(args) as ws:
        created = draft(ws.db, client, settings, clauses=args.clause, kind=args.kind, n=args.n, actor=_actor(args))
    if args.format == "json":
        _print_json({"created": created})
    else:
        for eid in created:
            print(eid)
        print(f"{len(created)} draft(s) created; review them before approving")
    return 0


def cmd_assist_critique(args: argparse.Namespace) -> int:
    from curator.assist.actions import critique

    client, settings = _assist(args)
    with _open(args) as ws:
        result = critique(ws.db, client, settings, args.id)
    if args.format == "json":
        _print_json(result.to_json())
    else:
        for v in result.verdicts:
            print(f"{v.clause}: {v.verdict} - {v.reason}")
            for s in v.suggestions:
                print(f"  - {s}")
    return 0


def cmd_assist_explain_why(args: argparse.Namespace) -> int:
    from curator.assist.actions import apply_explain_why, explain_why

    client, settings = _assist(args)
    with _open(args) as ws:
        proposal = explain_why(ws.db, client, settings, args.id)
        applied = None
        if args.apply and proposal.turns:
            applied = apply_explain_why(ws.db, args.id, proposal, proposal.version, actor=_actor(args))
    # an accepted rewrite of approved text is no longer what a person approved (see status_after_rewrite)
    back_to_review = applied is not None and proposal.status == "approved" and applied.status == "review"
    if args.format == "json":
        _print_json({**proposal.to_json(), "applied": applied is not None, "back_to_review": back_to_review})
    else:
        print("\n".join(proposal.diff) or "no change proposed")
        if applied is not None:
            print(f"applied: {args.id} is now version {applied.version}")
            if back_to_review:
                print(f"{args.id} was approved; the rewrite changed what was approved, so it is back in review")
        elif proposal.turns:
            print("not applied (run again with --apply to accept)")
    return 0


def cmd_assist_suggest_links(args: argparse.Namespace) -> int:
    from curator.assist.actions import suggest_links

    client, settings = _assist(args)
    with _open(args) as ws:
        suggested = suggest_links(ws.db, client, settings, args.id)
    if args.format == "json":
        _print_json(suggested.to_json())
    else:
        print(_table([[link.clause, _short(link.reason, 90)] for link in suggested.links], ["clause", "reason"]))
    return 0


def batch_progress_line(done: int, total: int, width: int = 30) -> str:
    """`batch [########------] 12/30 requests done`: one line, rewritten in place after each poll."""
    filled = round(width * done / total) if total else 0
    return f"batch [{'#' * filled}{'-' * (width - filled)}] {done}/{total} requests done"


def cmd_assist_batch(args: argparse.Namespace) -> int:
    from curator.assist.batch import run_batch

    client, settings = _assist(args)

    def progress(counts: dict[str, int]) -> None:
        done = sum(v for k, v in counts.items() if k != "processing")
        sys.stderr.write("\r" + batch_progress_line(done, done + counts.get("processing", 0)))
        sys.stderr.flush()

    with _open(args) as ws:
        report = run_batch(
            ws.db,
            client,
            settings,
            db_path=ws.path,
            clauses=args.clause,
            kind=args.kind,
            per_clause=args.per_clause,
            actor=_actor(args),
            progress=progress,
            poll_interval=args.poll,
        )
    sys.stderr.write("\n")
    if args.format == "json":
        _print_json(report.to_json())
    else:
        print(
            f"batch {report.batch_id}{' (resumed)' if report.resumed else ''}: "
            f"{len(report.created)} drafts created, {len(report.duplicates)} exact duplicates skipped, "
            f"{len(report.failed)} failed"
        )
        for n in report.near_duplicates:
            print(f"near-duplicate: {n.id} ~ {', '.join(m.id for m in n.matches)}")
        for f in report.failed:
            print(f"failed: {f.custom_id}: {f.error}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from curator.mixture import allocation_json, allocation_table, export_from_spec, load_spec

    with _open(args) as ws:
        spec = load_spec(Path(args.spec))
        result = export_from_spec(ws.db, spec, Path(args.out), dry_run=args.dry_run, force=args.force)
    if args.dry_run:
        if args.format == "json":
            _print_json(allocation_json(result.plan))
        else:
            sys.stdout.write(allocation_table(result.plan))
    elif args.format == "json":
        _print_json(
            {"folder": str(result.folder), "manifest": str(result.manifest_path), "lock": str(result.plan.lock_file)}
        )
    else:
        print(result.summary())
    return 0


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; every command and option carries help (a test checks)."""

    def options(default: Any) -> argparse.ArgumentParser:
        # subcommands SUPPRESS their defaults so `curator --db X list` keeps X
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--db", metavar="PATH", default=default, help="workspace database (default: $CURATOR_DB, else ./curator.db)"
        )
        common.add_argument(
            "--user", metavar="NAME", default=default, help="acting user (default: $CURATOR_USER, else the OS login)"
        )
        return common

    common = options(argparse.SUPPRESS)
    parser = _Parser(
        prog="curator",
        parents=[options(None)],
        description="A workbench for curating alignment-training data. With no command, opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"curator {__version__}")
    parser.set_defaults(handler=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, handler: Handler, help_text: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("tui", cmd_tui, "open the terminal UI (the default with no command)")

    p = add("init", cmd_init, "create a workspace database (with the demo data unless --empty)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--demo",
        dest="demo",
        action="store_true",
        default=True,
        help="fill it with the demo constitution and examples (default)",
    )
    group.add_argument("--empty", dest="demo", action="store_false", help="create it empty")

    p = add("import", cmd_import, "import records from a JSON-lines file, all or nothing")
    p.add_argument("file", help="JSON lines (or a JSON array) of records")
    p.add_argument(
        "--format",
        dest="input_format",
        choices=["auto", "curator", "messages", "hh"],
        default="auto",
        help="input format (default: detected from the first record)",
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid lines and list the invalid ones instead of failing",
    )
    p.add_argument(
        "--output", dest="format", choices=["text", "json"], default="text", help="report format (default: text)"
    )

    p = add("list", cmd_list, "list records as canonical JSON or a table")
    p.add_argument("--kind", choices=KINDS, help="only this kind")
    p.add_argument("--status", choices=STATUSES, help="only this status")
    p.add_argument("--clause", metavar="ID", help="only records linked to this clause")
    p.add_argument("--tag", help="only records with this tag")
    p.add_argument("--author", help="only records by this author")
    p.add_argument("--text", help="full-text search over titles and content")
    p.add_argument("--limit", type=int, help="at most this many records")
    p.add_argument(
        "--format",
        choices=["json", "jsonl", "table"],
        default="table",
        help="json: an array of canonical records; jsonl: one per line (default: table)",
    )

    p = add("dump", cmd_dump, "write the whole workspace as canonical, git-friendly files")
    p.add_argument("dir", help="target folder (replaced atomically if it holds an earlier dump)")

    p = add("load", cmd_load, "rebuild a workspace from a dump into a new database (--db)")
    p.add_argument("dir", help="a folder written by `curator dump`")

    cons = sub.add_parser(
        "constitution",
        help="parse and import constitution versions",
        description="Parse and import constitution versions.",
    )
    cons_sub = cons.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = add("show", cmd_constitution_show, "parse a constitution file (no database) and print its clauses", cons_sub)
    p.add_argument("file", help="Markdown (or a JSON list of principles)")
    p.add_argument(
        "--format",
        choices=["json", "tree"],
        default="tree",
        help="json: the clause list contract; tree: indented, for people (default)",
    )
    p = add("diff", cmd_constitution_diff, "compare two constitution files (no database)", cons_sub)
    p.add_argument("old", help="the earlier version")
    p.add_argument("new", help="the later version")
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    p = add(
        "import",
        cmd_constitution_import,
        "import a constitution file as the new current version; links follow renames, turn stale or orphaned",
        cons_sub,
    )
    p.add_argument("file", help="Markdown (or a JSON list of principles)")
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    p = add(
        "stale",
        cmd_constitution_stale,
        "list stale links (clause edited) and orphaned links (clause removed)",
        cons_sub,
    )
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format (default: table)")
    p = add(
        "relink",
        cmd_constitution_relink,
        "confirm an example's stale links against the current text, or move/drop a link",
        cons_sub,
    )
    p.add_argument("example", help="example id")
    p.add_argument("--clause", metavar="ID", help="only this link (default: every stale link of the example)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--to", metavar="NEW_ID", help="move the link to this clause instead")
    group.add_argument("--drop", action="store_true", help="remove the link from the example")

    dedup = sub.add_parser(
        "dedup",
        help="near-duplicates: check a text, cluster the corpus, mark false positives",
        description="Near-duplicates: check a text, cluster the corpus, mark false positives.",
    )
    dedup_sub = dedup.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = add(
        "check", cmd_dedup_check, "verified near-duplicates of a text, a file or a stored record, best first", dedup_sub
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to check")
    source.add_argument("--file", help="a UTF-8 file whose content is checked")
    source.add_argument("--id", help="a stored record (itself excluded)")
    p.add_argument("--limit", type=int, default=10, help="at most this many matches (default 10)")
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format (default: table)")
    p = add("clusters", cmd_dedup_clusters, "cluster the whole corpus over verified near-duplicate pairs", dedup_sub)
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    p = add(
        "ignore", cmd_dedup_ignore, "mark two records as not duplicates; the pair is never reported again", dedup_sub
    )
    p.add_argument("a", help="one record id")
    p.add_argument("b", help="the other record id")
    add(
        "reindex",
        cmd_dedup_reindex,
        "recompute every record's stored near-duplicate signature (after a damaged or hand-edited database)",
        dedup_sub,
    )

    evalset = sub.add_parser(
        "evalset",
        help="register held-out evaluation sets for decontamination",
        description="Register held-out evaluation sets for decontamination.",
    )
    ev_sub = evalset.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = add(
        "add",
        cmd_evalset_add,
        "register (or replace) an eval set: JSON lines with prompt/text/question/messages, a text file of "
        "blank-line-separated items, or a folder of .md files",
        ev_sub,
    )
    p.add_argument("name", help="the eval set's name")
    p.add_argument("file", help="file or folder of eval items")
    p = add("list", cmd_evalset_list, "list registered eval sets", ev_sub)
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format (default: table)")
    p = add("remove", cmd_evalset_remove, "unregister an eval set", ev_sub)
    p.add_argument("name", help="the eval set's name")

    p = add("coverage", cmd_coverage, "clause x kind coverage of the current constitution (for leads and CI gates)")
    p.add_argument("--kind", choices=KINDS, help="count only this kind")
    p.add_argument("--status", choices=STATUSES, help="count only this status")
    p.add_argument(
        "--min", type=int, metavar="N", help="exit 1 and list every clause whose approved total is below N (a CI gate)"
    )
    p.add_argument("--targets", metavar="FILE", help="TOML with `default = N` and a [targets] table per clause id")
    p.add_argument(
        "--format",
        choices=["table", "json", "csv", "markdown", "html"],
        default="table",
        help="output format (default: table)",
    )
    p.add_argument("--out", metavar="FILE", help="write to FILE (atomically) instead of stdout")

    p = add("export", cmd_export, "build a token-budgeted, balanced, decontaminated mixture from a spec (TOML)")
    p.add_argument(
        "--spec", required=True, metavar="SPEC.toml", help="the mixture spec (example: corpora/specs/demo.toml)"
    )
    p.add_argument("--out", metavar="DIR", default="exports", help="folder that receives <name>/ (default: exports)")
    p.add_argument("--dry-run", action="store_true", help="print the allocation (kind x clause) and write nothing")
    p.add_argument("--force", action="store_true", help="replace an existing export of the same name (atomically)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")

    p = add("decontam", cmd_decontam, "flag training records that overlap registered eval sets")
    p.add_argument("--evalset", action="append", metavar="NAME", help="only this eval set (repeatable; default all)")
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format (default: table)")
    assist = sub.add_parser(
        "assist",
        help="LLM assistance (needs ANTHROPIC_API_KEY): draft, critique, explain-why, suggest-links, batch",
        description="LLM assistance through the Anthropic API (needs ANTHROPIC_API_KEY). Generated text lands as "
        "drafts with provenance; nothing overwrites a person's text without --apply.",
    )
    as_sub = assist.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)
    p = add("draft", cmd_assist_draft, "draft new examples of a kind for one or more clauses", as_sub)
    p.add_argument("--clause", action="append", required=True, metavar="ID", help="clause to teach (repeatable)")
    p.add_argument("--kind", choices=KINDS, required=True, help="kind of example")
    p.add_argument("--n", type=int, default=1, help="how many drafts (default 1, at most 20)")
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    p = add("critique", cmd_assist_critique, "judge an example against each linked clause (writes nothing)", as_sub)
    p.add_argument("id", help="example id")
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    p = add(
        "explain-why",
        cmd_assist_explain_why,
        "propose assistant turns that state why, as a diff; applied only with --apply",
        as_sub,
    )
    p.add_argument("id", help="example id (advice or agentic)")
    p.add_argument("--apply", action="store_true", help="accept the proposal and save it as a new version")
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    p = add(
        "suggest-links", cmd_assist_suggest_links, "ranked clause links with a reason each (writes nothing)", as_sub
    )
    p.add_argument("id", help="example id")
    p.add_argument("--format", choices=["json", "table"], default="table", help="output format (default: table)")
    p = add(
        "batch",
        cmd_assist_batch,
        "draft in bulk through the Message Batches API; run the same command again to resume",
        as_sub,
    )
    p.add_argument("--clause", action="append", required=True, metavar="ID", help="clause to teach (repeatable)")
    p.add_argument("--kind", choices=KINDS, required=True, help="kind of example")
    p.add_argument("--per-clause", type=int, default=1, metavar="N", help="drafts per clause (default 1, at most 20)")
    p.add_argument("--poll", type=float, default=15.0, metavar="SECONDS", help="seconds between polls (default 15)")
    p.add_argument("--format", choices=["json", "text"], default="text", help="output format (default: text)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user mistakes become one line on stderr and a non-zero exit."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, value in vars(args).items():  # no OS call accepts one; say so instead of a ValueError traceback
        if any(isinstance(v, str) and "\x00" in v for v in (value if isinstance(value, list) else [value])):
            print(f"curator: error: argument {name}: contains a NUL byte", file=sys.stderr)
            return 2
    try:
        return int(args.handler(args))
    except CuratorError as err:
        print(f"curator: error: {err}", file=sys.stderr)
        return err.exit_code
    except UsageError as err:  # pragma: no cover - subclass of CuratorError, kept for clarity
        print(f"curator: error: {err}", file=sys.stderr)
        return 2
    except sqlite3.Error as err:
        print(f"curator: error: {StoreError(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("curator: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except OSError as err:  # a path the user gave cannot be read or written (permissions, missing folder, full disk)
        where = f"{err.filename}: " if err.filename else ""
        print(f"curator: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
