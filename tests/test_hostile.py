"""Hostile input (README, Reliability).

- Fuzzing (hypothesis, derandomized): the importer, the constitution parser and the spec loader
  either succeed or raise the project's own error (CuratorError) with a one-line message; never
  anything else. Every crash the fuzzer found is kept as an `@example`.
- Paths: export names and dump targets with separators, '..', roots and NUL bytes are refused in
  one line, and nothing is written outside the intended folder.
- Round trip: hostile-but-valid text (markup, escapes, RTL, zero-width joiners, combining marks,
  emoji, a 1 MB line) survives import -> list -> dump -> load -> export exactly. Control
  characters (ANSI's ESC, C1's CSI, NUL) are dropped on the way in, so nothing stored can drive a
  terminal; what remains is inert text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from curator.constitution.parse import parse_file, parse_json, parse_markdown
from curator.constitution.versions import import_constitution
from curator.errors import CuratorError
from curator.importer import MAX_LINE_BYTES, import_file
from curator.mixture.spec import load_spec, parse_spec
from curator.models import MAX_FIELD_BYTES
from curator.store.db import Workspace, open_workspace
from tests.conftest import SMALL_CONSTITUTION, advice, agentic, story
from tests.helpers import BASE, reseal_dump, run, spec_data, toml_text

FUZZ = settings(
    max_examples=300,
    derandomize=True,  # the same examples on every run and machine
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


def assert_one_line_error(err: CuratorError) -> None:
    message = str(err)
    assert message.strip(), f"{type(err).__name__} without a message"
    assert "\n" not in message, message


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

HOSTILE_STRINGS = [
    "\ud800",  # unpaired surrogate (what JSON's "\ud800" escape decodes to)
    "a\udc00b",
    "\x1b[31mred\x1b[0m",
    "\x9b31m",
    "[bold red]x[/]",
    "[@click=app.quit]",
    "a\x00b",
    "$HOME ${x} %s {0}",
    "\u202eevil\u202c",
    "x" * (MAX_FIELD_BYTES + 1),
]

any_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=()), max_size=8),  # surrogates and controls included
    st.sampled_from(HOSTILE_STRINGS),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63) | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

RECORD_KEYS = [
    "id", "kind", "title", "status", "author", "tags", "clauses", "group", "system", "tools", "messages", "text",
    "rationale", "source", "created_at", "updated_at", "version", "role", "content", "type", "name", "input",
    "tool_use_id", "is_error", "input_schema", "tool_calls", "function", "arguments", "tool_call_id", "from",
    "value", "conversations", "chosen", "parameters",
]  # fmt: skip

OPENAI = {
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Find the file."},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "found"},
        {"role": "assistant", "content": "Here it is."},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}],
}
USER_Q = {"role": "user", "content": "q"}
DEEP_SCHEMA = (  # a string: hypothesis' own pretty-printer would recurse too deeply on the object
    '{"kind": "agentic", "title": "t", "tools": [{"name": "t", "input_schema": {"type": "object", "x": '
    + "[" * 900
    + "]" * 900
    + '}}], "messages": [{"role": "user", "content": "q"}]}'
)
HH = {"chosen": "\n\nHuman: Should I?\n\nAssistant: Here is why not.", "rejected": "\n\nHuman: x\n\nAssistant: y"}
TEMPLATES = [story(), advice(), agentic(), OPENAI, HH]


def _replace(template: Any, path: list[Any], value: Any) -> Any:
    """`template` with the node at `path` (keys, or indexes modulo the length) replaced by `value`."""
    obj = json.loads(json.dumps(template))
    if not path:
        return value
    node = obj
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, dict):
            key = step if isinstance(step, str) else (list(node)[step % len(node)] if node else "x")
            if last or not isinstance(node.get(key), dict | list):
                node[key] = value
                break
            node = node[key]
        elif isinstance(node, list):
            if not node:
                node.append(value)
                break
            index = (step if isinstance(step, int) else len(step)) % len(node)
            if last or not isinstance(node[index], dict | list):
                node[index] = value
                break
            node = node[index]
    return obj


mutated_records = st.builds(
    _replace,
    st.sampled_from(TEMPLATES),
    st.lists(st.sampled_from(RECORD_KEYS) | st.integers(0, 4), max_size=4),
    json_values,
)
import_lines = st.lists(st.one_of(json_values, mutated_records), min_size=1, max_size=3)


def deep(n: int) -> str:
    return "[" * n + "]" * n


def line_of(obj: Any) -> str:
    return obj if isinstance(obj, str) and obj.startswith(("{", "[")) else json.dumps(obj)


# ---------------------------------------------------------------------------
# Importer
# ---------------------------------------------------------------------------


@pytest.fixture
def fuzz_ws(constitution_file: Path) -> Iterator[Workspace]:
    workspace = open_workspace(":memory:")
    import_constitution(workspace.db, constitution_file, actor="tester")
    yield workspace
    workspace.close()


def _import(ws: Workspace, path: Path, fmt: str, skip: bool) -> None:
    before = ws.db.execute("SELECT count(*) FROM examples").fetchone()[0]
    try:
        import_file(ws.db, path, fmt, actor="fuzz", skip_invalid=skip)
    except CuratorError as err:
        assert_one_line_error(err)
        assert ws.db.execute("SELECT count(*) FROM examples").fetchone()[0] == before  # all or nothing


@FUZZ
@given(lines=import_lines, fmt=st.sampled_from(["auto", "curator", "messages", "hh"]), skip=st.booleans())
@example(lines=[story(title="\ud800")], fmt="auto", skip=False).via("surrogate -> UnicodeEncodeError")
@example(lines=[story(created_at="\udc00")], fmt="curator", skip=False).via("surrogate in a plain str field")
@example(lines=[DEEP_SCHEMA], fmt="auto", skip=True).via(
    "nesting within json.loads' limit but beyond Python's recursion limit -> RecursionError"
)
@example(lines=[story(version=10**20)], fmt="auto", skip=False).via("version too big for SQLite -> OverflowError")
@example(lines=['{"kind": "story", "version": ' + "9" * 5000 + "}"], fmt="auto", skip=False).via(
    "more digits than int() converts -> ValueError"
)
@example(lines=[{**OPENAI, "tools": 3.5}], fmt="messages", skip=False).via("tools not a list -> TypeError")
@example(
    lines=[{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": 5}]}],
    fmt="auto",
    skip=False,
)
@example(
    lines=[{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": ["x"]}]}],
    fmt="auto",
    skip=False,
)
@example(
    lines=[{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"function": "f"}]}]}],
    fmt="auto",
    skip=False,
).via("function not an object -> AttributeError")
@example(lines=[{"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}], fmt="auto", skip=False)
def test_importer_fuzz(fuzz_ws: Workspace, tmp_path: Path, lines: list[Any], fmt: str, skip: bool) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_text("".join(line_of(obj) + "\n" for obj in lines), encoding="utf-8")
    _import(fuzz_ws, path, fmt, skip)


@FUZZ
@given(raw=st.binary(max_size=300))
@example(raw=b"\xef\xbb\xbf[" + b"[" * 100_000).via("a JSON array nested too deeply")
@example(raw=deep(100_000).encode())
@example(raw=b"\x00\x01\x1b[31m\n{}\n")
def test_importer_fuzz_raw_bytes(fuzz_ws: Workspace, tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(raw)
    _import(fuzz_ws, path, "auto", False)


def test_huge_line_is_refused_without_reading_it_whole(fuzz_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(story()) + "\n")
        fh.write('{"kind": "story", "text": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n')
        fh.write(json.dumps(story(text="a third line")) + "\n")
    with pytest.raises(CuratorError, match=r"huge\.jsonl:2: line longer than 5,000,000 bytes$"):
        import_file(fuzz_ws.db, path, actor="fuzz")
    report = import_file(fuzz_ws.db, path, actor="fuzz", skip_invalid=True)
    assert len(report.imported) == 2 and [p.line for p in report.invalid] == [2]


# ---------------------------------------------------------------------------
# Constitution parser
# ---------------------------------------------------------------------------

md_lines = st.one_of(
    any_text,
    st.builds(
        lambda level, title, attrs: "#" * level + " " + title + attrs,
        st.integers(1, 7),
        any_text,
        st.sampled_from(["", " {#x}", " {#x key=v}", " {.c}", " {#}", " {#a #b}", " {k='v'}", " {", '{#x y="z"}']),
    ),
    st.builds(
        lambda indent, marker, text: " " * indent + marker + " " + text,
        st.integers(0, 8),
        st.sampled_from(["-", "*", "+", "1.", "2)", ">", "```", "---", "!!!", "|", "[^1]:"]),
        any_text,
    ),
    st.sampled_from(["---", "title: x", "  nested: y", "- a", "", "\t", "\r", "\r\n", "<div>", "[a](#x)", "\ufeff"]),
)
markdown_docs = st.lists(md_lines, max_size=20).map("\n".join)


def _parses_or_says_why(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except CuratorError as err:
        assert_one_line_error(err)


@FUZZ
@given(doc=markdown_docs, value=json_values, raw=st.binary(max_size=200))
@example(doc="# a\n" + "> " * 5000 + "x", value=deep(100_000), raw=b"\xff")
@example(doc="# t\n- \ud800", value="[" + "9" * 5000 + "]", raw=b"# x\n\x00")
def test_constitution_parser_fuzz(tmp_path: Path, doc: str, value: Any, raw: bytes) -> None:
    _parses_or_says_why(parse_markdown, doc)
    _parses_or_says_why(parse_json, doc)
    _parses_or_says_why(parse_json, value if isinstance(value, str) else json.dumps(value))
    for name in ("c.md", "c.json"):
        path = tmp_path / name
        path.write_bytes(raw)
        _parses_or_says_why(parse_file, path)


# ---------------------------------------------------------------------------
# Spec loader (TOML)
# ---------------------------------------------------------------------------

SPEC_KEYS = [
    "name", "description", "license", "budget_tokens", "seed", "max_epochs", "balance", "statuses", "formats",
    "budget_format", "token_counter", "rationale", "strict", "decontaminate", "dedup", "kinds", "split",
    "diversify", "eval_fraction", "by", "salt", "heldout_clauses", "system_prompts", "tools", "extra_tools",
    "story", "advice",
]  # fmt: skip
spec_values = st.recursive(
    st.booleans()
    | st.integers()
    | st.integers(min_value=10**30)
    | st.floats()
    | any_text
    | st.sampled_from(["approved", "anthropic", "story", "../x", "a/b", "..", ".h", "x\x00y", "/abs", "a\\b"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(SPEC_KEYS), inner, max_size=4),
    max_leaves=10,
)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are TOML's basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


@FUZZ
@given(overrides=st.dictionaries(st.sampled_from(SPEC_KEYS), spec_values, max_size=4), text=any_text, data=json_values)
@example(overrides={}, text="a = " + deep(5000), data=None).via("tomllib recursion -> RecursionError")
@example(overrides={}, text="budget_tokens = " + "9" * 5000, data=None).via("int digits -> ValueError")
@example(overrides={"name": "../escape"}, text="", data={"kinds": []})
def test_spec_loader_fuzz(tmp_path: Path, overrides: dict[str, Any], text: str, data: Any) -> None:
    _parses_or_says_why(parse_spec, data)
    _parses_or_says_why(parse_spec, {**json.loads(json.dumps(BASE)), **overrides})
    path = tmp_path / "spec.toml"
    document = {**json.loads(json.dumps(BASE)), **overrides}
    path.write_bytes("\n".join(f"{k} = {_toml_value(v)}" for k, v in document.items()).encode("utf-8", "surrogatepass"))
    _parses_or_says_why(load_spec, path)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _parses_or_says_why(load_spec, path)


# ---------------------------------------------------------------------------
# Paths: export names and dump targets
# ---------------------------------------------------------------------------


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("name", ["../escape", "a/b", "a\\b", "/abs", "..", ".hidden", "a\x00b", "", "a" * 101])
def test_unsafe_export_names_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path, name: str
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(toml_text(spec_data(name=name)), encoding="utf-8")
    out = tmp_path / "jail" / "exports"
    out.mkdir(parents=True)
    before = _listing(tmp_path)
    code, stdout, stderr = run(capsys, "export", "--spec", str(spec), "--out", str(out), "--db", str(demo_db))
    assert code != 0 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith(f"curator: error: {spec}: name: "), stderr
    assert _listing(tmp_path) == before  # nothing written anywhere


@pytest.mark.parametrize("target", ["..", ".", "/", "sub/.."])
def test_unusable_dump_targets_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    cwd = tmp_path / "cwd"
    (cwd / "sub").mkdir(parents=True)
    monkeypatch.chdir(cwd)
    before = _listing(tmp_path)
    code, stdout, stderr = run(capsys, "dump", target, "--db", str(demo_db))
    assert code != 0 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("curator: error: "), stderr
    assert _listing(tmp_path) == before


def test_nul_bytes_in_path_arguments_are_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    before = _listing(tmp_path)
    for argv in (
        ["dump", str(tmp_path / "d\x00x"), "--db", str(demo_db)],
        ["load", str(tmp_path / "d"), "--db", str(tmp_path / "n\x00.db")],
        ["import", "in\x00.jsonl", "--db", str(demo_db)],
        ["export", "--spec", "s\x00.toml", "--db", str(demo_db)],
    ):
        code, stdout, stderr = run(capsys, *argv)
        assert code == 2 and stdout == "", argv
        assert stderr.count("\n") == 1 and "contains a NUL byte" in stderr, stderr
    assert _listing(tmp_path) == before


def test_unwritable_targets_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path
) -> None:
    """OS errors on paths the user gave (a file where a folder is expected, and so on): one line, exit 1."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    spec = tmp_path / "spec.toml"
    spec.write_text(toml_text(spec_data()), encoding="utf-8")
    before = _listing(tmp_path)
    for argv in (
        ["coverage", "--format", "csv", "--out", str(tmp_path / "a-folder")],
        ["dump", str(tmp_path / "a-file" / "dump")],
        ["export", "--spec", str(spec), "--out", str(tmp_path / "a-file")],
        ["import", str(tmp_path / "a-folder")],
    ):
        code, stdout, stderr = run(capsys, *argv, "--db", str(demo_db))
        assert code == 1 and stdout == "", argv
        assert stderr.count("\n") == 1 and stderr.startswith(f"curator: error: {tmp_path}"), stderr
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("source_file", ["../../outside.md", "a/b.md", "a\\b.md", ".hidden", "v\x00.md", ""])
def test_load_refuses_unsafe_names_inside_a_dump(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, demo_db: Path, source_file: str
) -> None:
    dump_dir = tmp_path / "dump"
    assert run(capsys, "dump", str(dump_dir), "--db", str(demo_db))[0] == 0
    versions = dump_dir / "constitution" / "versions.jsonl"
    rows = [json.loads(x) for x in versions.read_text(encoding="utf-8").splitlines()]
    rows[0]["source_file"] = source_file
    versions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    reseal_dump(dump_dir)
    code, _, stderr = run(capsys, "load", str(dump_dir), "--db", str(tmp_path / "new.db"))
    assert code == 1 and stderr.count("\n") == 1 and "unsafe source_file" in stderr, stderr
    assert not list(tmp_path.glob("*new.db*"))  # nothing half-written


# ---------------------------------------------------------------------------
# Hostile-but-valid text round-trips exactly
# ---------------------------------------------------------------------------

INERT = [
    "[bold red]x[/]",
    "[link=https://example.com/x]click[/link]",
    "[@click=app.quit]quit[/]",
    "[ @click=app.quit]x[/]",
    "[/]",
    "a\\",
    "$variable ${HOME} %s %(x)s {0} {{x}} `rm -rf /`",
    "</script><script>alert(1)</script>",
    "שלום עולם مرحبا بالعالم",
    "\u202eevil\u202c \u2066isolate\u2069",
    "👨\u200d👩\u200d👧\u200d👦 zero\u200bwidth \ufeffbom",
    "e\u0301 Z\u0337\u0322\u0353a\u0334l\u0338g\u0335o",
    "🦜🏳️\u200d🌈 𝕦𝕟𝕚𝕔𝕠𝕕𝕖 \U0010fffd",
    "quotes \" ' and tabs\tkept",
]
HOSTILE_TEXT = " | ".join(INERT)

STRIPPED = {  # control characters are dropped on the way in; what remains is inert text
    "\x1b[31mred\x1b[0m \x9b1m \x00nul\x07bell": "[31mred[0m 1m nulbell",
    "line\r\nbreaks\rmixed": "line\nbreaks\nmixed",
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def _big_turn(seed: str) -> str:
    """Just under MAX_FIELD_BYTES of UTF-8 made of the hostile strings."""
    unit = HOSTILE_TEXT + f" {seed}\n"
    text = unit * (MAX_FIELD_BYTES // len(unit.encode("utf-8")))
    assert len(text.encode("utf-8")) <= MAX_FIELD_BYTES
    return text


def test_hostile_text_round_trips_through_import_list_dump_load_and_export(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    constitution = tmp_path / "constitution.md"
    constitution.write_text(SMALL_CONSTITUTION, encoding="utf-8")
    big = advice(
        id="ex_big",
        title="One megabyte " + INERT[0],
        status="approved",
        messages=[{"role": "user" if i % 2 == 0 else "assistant", "content": _big_turn(str(i))} for i in range(6)],
    )
    records = [
        story(
            id="ex_inert",
            title=HOSTILE_TEXT[:300],
            text=HOSTILE_TEXT,
            rationale=HOSTILE_TEXT,
            status="approved",
            tags=INERT[:4],
            group=INERT[8],
        ),
        advice(
            id="ex_dialog",
            title=INERT[9],
            status="approved",
            system=HOSTILE_TEXT,
            messages=[
                {"role": "user", "content": HOSTILE_TEXT + " ?"},
                {"role": "assistant", "content": HOSTILE_TEXT + " !", "rationale": HOSTILE_TEXT},
            ],
        ),
        big,
        *(
            story(id=f"ex_ctl_{i}", title=f"controls {i}", text=raw, status="approved")
            for i, raw in enumerate(STRIPPED)
        ),
    ]
    data = tmp_path / "hostile.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    assert len(lines[2].encode("utf-8")) > 1_000_000  # the 1 MB line
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")

    db = str(tmp_path / "ws.db")
    assert run(capsys, "init", "--empty", "--db", db)[0] == 0
    assert run(capsys, "constitution", "import", str(constitution), "--db", db)[0] == 0
    code, _, err = run(capsys, "import", str(data), "--db", db)
    assert code == 0, err

    code, out, _ = run(capsys, "list", "--format", "json", "--db", db)
    listed = {r["id"]: r for r in json.loads(out)}
    for rec in records[:3]:
        for key in ("title", "text", "rationale", "system", "messages", "tags", "group"):
            if key in rec:
                assert listed[rec["id"]][key] == rec[key], (rec["id"], key)  # byte-exact
    for i, kept in enumerate(STRIPPED.values()):
        assert listed[f"ex_ctl_{i}"]["text"] == kept

    code, table, _ = run(capsys, "list", "--db", db)  # the human table prints markup as text, no escapes
    assert code == 0 and INERT[0] in table and "\x1b" not in table and "\x9b" not in table

    dump_a, dump_b = tmp_path / "dump-a", tmp_path / "dump-b"
    assert run(capsys, "dump", str(dump_a), "--db", db)[0] == 0
    db2 = str(tmp_path / "loaded.db")
    assert run(capsys, "load", str(dump_a), "--db", db2)[0] == 0
    assert run(capsys, "dump", str(dump_b), "--db", db2)[0] == 0
    files_a = {str(p.relative_to(dump_a)): p.read_bytes() for p in dump_a.rglob("*") if p.is_file()}
    files_b = {str(p.relative_to(dump_b)): p.read_bytes() for p in dump_b.rglob("*") if p.is_file()}
    assert files_a == files_b
    code, out2, _ = run(capsys, "list", "--format", "json", "--db", db2)
    assert out2 == out  # the loaded workspace lists the same bytes

    spec = tmp_path / "spec.toml"
    spec.write_text(
        toml_text(
            spec_data(
                name="hostile",
                statuses=["draft"],  # `curator import` lands records as drafts: an import is not a review
                budget_tokens=10**9,
                token_counter="estimate",
                dedup="exact",
                kinds={"story": 0.5, "advice": 0.5},
                split={"eval_fraction": 0.0},
            )
        ),
        encoding="utf-8",
    )
    code, _, err = run(capsys, "export", "--spec", str(spec), "--out", str(tmp_path / "exports"), "--db", db2)
    assert code == 0, err
    folder = tmp_path / "exports" / "hostile"
    expected = [HOSTILE_TEXT, *(m["content"] for m in big["messages"])]
    for fmt in ("anthropic", "openai", "hf-messages", "text"):
        rows = [json.loads(x) for x in (folder / fmt / "train.jsonl").read_text(encoding="utf-8").splitlines()]
        exported = list(_strings(rows))
        for text in expected:
            assert any(text in s for s in exported), (fmt, text[:60])
