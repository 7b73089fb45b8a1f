"""The docs cannot drift: README, docs/*.md and CHANGELOG.md checked against the code they describe."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import tomllib
import typing
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from curator.bootstrap import init_workspace
from curator.cli import cli
from curator.config import Settings
from curator.importer import import_file
from curator.mixture.spec import DiversifySpec, MixtureSpec, SplitSpec, load_spec
from curator.models import (
    KINDS,
    Example,
    Message,
    Source,
    TextBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
    parse_example,
)
from tests.helpers import MAIN_SCREENS, load_docs_script

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = (REPO / "README.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of any level."""
    rest = text[text.index(heading + "\n") + len(heading) + 1 :]
    end = re.search(r"^#{1,6} ", rest, flags=re.M)
    return rest[: end.start()] if end else rest


def table_rows(text: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell without backticks: {key: [cells...]}."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if cells:
                rows[cells[0].strip("`")] = cells
    return rows


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall("^```" + re.escape(language) + r"\n(.*?)^```", text, flags=re.M | re.S)


# ---------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------


def test_readme_starts_with_the_two_commands() -> None:
    assert README.startswith("# curator\n\n```sh\nmake run    # ")
    assert "\nmake test   # " in README.split("## ", 1)[0]


def test_readme_embeds_a_screenshot_of_every_main_screen_and_each_exists() -> None:
    linked = re.findall(r"\]\((docs/screenshots/[^)\s]+\.svg)\)", README)
    embedded = re.findall(r"!\[[^\]]*\]\((docs/screenshots/[^)\s]+\.svg)\)", README)
    assert {Path(p).stem for p in embedded} >= set(MAIN_SCREENS)
    missing = [p for p in linked if not (REPO / p).is_file()]
    assert not missing, f"README links screenshots that do not exist: {missing}; run docs/screenshots.py"
    for p in linked:
        assert (REPO / p).read_text(encoding="utf-8").lstrip().startswith("<svg")


def _readme_commands() -> list[str]:
    found = list(re.findall(r"`(curator [^`]*)`", README))
    for block in code_blocks(README, "sh"):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            for prefix in (".venv/bin/curator", "curator"):
                if line.startswith(prefix + " ") or line == prefix:
                    found.append("curator" + line[len(prefix) :])
    return found


_ALTERNATIVES = re.compile(r"^-*[\w-]+(/[\w-]+)+$")
"""`add/list/remove` or `--demo/--empty`: a family of commands or options, not one invocation."""


def _parses(command: str) -> bool:
    """Whether click accepts the command line: every level parsed and checked, no command run."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        mock.patch.object(click.Context, "invoke", lambda *_args, **_kwargs: None),
    ):
        return cli.main(shlex.split(command)[1:], standalone_mode=False) == 0  # 2 on a mistake, 0 after --help


def test_readme_command_examples_parse_with_the_real_parser() -> None:
    commands = _readme_commands()
    assert len(commands) >= 10
    checked = 0
    for command in commands:
        tokens = shlex.split(command)
        if any(_ALTERNATIVES.match(t) or t in ("COMMAND", "...") for t in tokens):
            continue
        assert _parses(command), f"README shows `{command}`, which the CLI rejects"
        checked += 1
    assert checked >= 10


def test_readme_top_commands_table_has_ten_runnable_rows() -> None:
    rows = table_rows(section(README, "## Commands"))
    commands = [key for key in rows if key.startswith("curator ")]
    assert len(commands) == 10
    for command in commands:
        assert _parses(command), f"README's command table shows `{command}`, which the CLI rejects"


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0].strip().lower()


def test_every_dependency_is_explained_in_the_readme() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [_requirement_name(r) for r in project["dependencies"]]
    names += [_requirement_name(r) for extra in project["optional-dependencies"].values() for r in extra]
    rows = table_rows(section(README, "## Dependencies"))
    documented = {key.split(" ", 1)[0].lower() for key in rows}
    missing = [n for n in names if n not in documented]
    assert not missing, f"README's Dependencies section lacks a row for {missing}"
    stale = documented - set(names) - {"package"}
    assert not stale, f"README's Dependencies section lists packages pyproject.toml does not: {stale}"


def _toml_literal(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f"`{json.dumps(value)}`"
    if isinstance(value, list):
        return "`[" + ", ".join(json.dumps(v) for v in value) + "]`"
    return f"`{value!r}`"


def test_readme_settings_table_matches_the_settings_model() -> None:
    rows = table_rows(section(README, "### The config file"))
    expected: set[str] = set()
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        nested = default.model_dump() if isinstance(default, BaseModel) else {None: default}
        for key, value in nested.items():
            row = name if key is None else f"{name}.{key}"
            expected.add(row)
            assert row in rows, f"README's config table lacks the setting {row!r}"
            assert rows[row][1] == _toml_literal(value), f"README: wrong default for {row}"
    assert set(rows) - {"setting"} == expected


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    pattern = re.compile(r"""["']((?:CURATOR|ANTHROPIC|XDG)_[A-Z_]+)["']""")
    used: set[str] = set()
    for path in (REPO / "curator").rglob("*.py"):
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert {"CURATOR_HOME", "CURATOR_DB", "CURATOR_USER", "ANTHROPIC_API_KEY"} <= used
    rows = table_rows(section(README, "### Environment variables"))
    missing = sorted(used - set(rows))
    assert not missing, f"README's environment table lacks {missing}"


def test_readme_record_sample_is_a_valid_record() -> None:
    (sample,) = code_blocks(section(README, "## The record"), "json")
    parse_example(json.loads(sample))


# ---------------------------------------------------------------------------
# docs/cli.md
# ---------------------------------------------------------------------------


def test_cli_reference_is_generated_from_the_parser() -> None:
    gen = load_docs_script("gen_cli")
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == gen.render(), "docs/cli.md is out of date: run `.venv/bin/python docs/gen_cli.py`"


def test_cli_reference_covers_every_command() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    gen = load_docs_script("gen_cli")
    paths = [path for path, _, _ in gen.walk(cli)]
    assert len(paths) > 25
    for path in paths:
        assert f"## `{' '.join(('curator', *path))}`" in text
    for _, command, _ in gen.walk(cli):
        for param in command.params:
            if isinstance(param, click.Option):
                for option in param.opts + param.secondary_opts:
                    assert option in text


# ---------------------------------------------------------------------------
# docs/spec.md
# ---------------------------------------------------------------------------

SPEC_MD = (DOCS / "spec.md").read_text(encoding="utf-8")
SPEC_MODELS: list[tuple[str, type[BaseModel]]] = [
    ("", MixtureSpec),
    ("split.", SplitSpec),
    ("diversify.", DiversifySpec),
]


def _spec_default_cell(prefix: str, name: str, field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    if field.default_factory in (SplitSpec, DiversifySpec):
        return f"see `[{name}]`"
    value = field.default_factory() if field.default_factory is not None else field.default
    return _toml_literal(value)


def test_every_spec_key_is_documented_with_its_default() -> None:
    rows = table_rows(SPEC_MD)
    for prefix, model in SPEC_MODELS:
        for name, field in model.model_fields.items():
            key = prefix + name
            assert key in rows, f"docs/spec.md has no row for `{key}`"
            expected = _spec_default_cell(prefix, name, field)
            assert rows[key][2] == expected, (
                f"docs/spec.md: `{key}` default is {rows[key][2]}, the model says {expected}"
            )


def test_spec_tables_list_no_key_the_models_lack() -> None:
    keys = {prefix + name for prefix, model in SPEC_MODELS for name in model.model_fields}
    documented = {k for k in table_rows(SPEC_MD) if k not in ("key",)}
    assert documented <= keys, f"docs/spec.md documents keys that do not exist: {documented - keys}"


def test_spec_kinds_section_names_every_kind() -> None:
    kinds = section(SPEC_MD, "## `[kinds]`")
    for kind in KINDS:
        assert f"`{kind}`" in kinds


def test_annotated_spec_example_parses_and_sets_every_key(tmp_path: Path) -> None:
    (example,) = code_blocks(SPEC_MD, "toml")
    path = tmp_path / "spec.toml"
    path.write_text(example, encoding="utf-8")
    spec = load_spec(path)
    raw = tomllib.loads(example)
    assert set(raw) == set(MixtureSpec.model_fields)
    assert set(raw["split"]) == set(SplitSpec.model_fields)
    assert set(raw["diversify"]) == set(DiversifySpec.model_fields)
    assert set(spec.kinds) == set(KINDS)


# ---------------------------------------------------------------------------
# docs/record.md
# ---------------------------------------------------------------------------

RECORD_MD = (DOCS / "record.md").read_text(encoding="utf-8")


def _record_examples() -> list[dict[str, Any]]:
    return [json.loads(block) for block in code_blocks(RECORD_MD, "json")]


def test_record_examples_parse_one_per_kind() -> None:
    records = [parse_example(r) for r in _record_examples()]
    assert sorted(r.kind for r in records) == sorted(KINDS)
    for record in records:
        assert section(RECORD_MD, f"### {record.kind}")


def test_record_examples_import_into_the_demo_workspace(tmp_path: Path) -> None:
    # clause ids must exist in the demo constitution; the texts must not duplicate demo records
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _record_examples()), encoding="utf-8")
    with init_workspace(tmp_path / "demo.db", demo=True, actor="tester") as ws:
        report = import_file(ws.db, path, "curator", actor="tester")
    assert len(report.imported) == len(KINDS) and not report.duplicates


def test_every_record_field_is_documented() -> None:
    rows = table_rows(section(RECORD_MD, "## Fields"))
    assert set(rows) - {"field"} == set(Example.model_fields)
    for model in (Message, TextBlock, ToolUseBlock, ToolResultBlock, Tool, Source):
        for name in model.model_fields:
            assert f"`{name}`" in RECORD_MD or f'"{name}"' in RECORD_MD, f"docs/record.md never names {name}"
    for kind in KINDS:
        assert f"| `{kind}` |" in section(RECORD_MD, "### Kinds")


def test_source_types_are_documented() -> None:
    source_types = typing.get_args(Source.model_fields["type"].annotation)
    rows = section(RECORD_MD, "### Provenance (`source`)")
    for value in source_types:
        assert f"`{value}`" in rows


# ---------------------------------------------------------------------------
# CHANGELOG.md
# ---------------------------------------------------------------------------


def test_changelog_follows_keep_a_changelog() -> None:
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "keepachangelog.com/en/1.1.0" in text
    versions = re.findall(r"^## \[([^\]]+)\]", text, flags=re.M)
    assert versions and versions[0] == "Unreleased"
    for version in versions:
        link = re.search(r"^\[" + re.escape(version) + r"\]: \S+", text, flags=re.M)
        assert link, f"CHANGELOG.md: no link definition for [{version}]"
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert set(re.findall(r"^### (.+)$", text, flags=re.M)) <= allowed


@pytest.mark.parametrize("doc", ["cli.md", "spec.md", "record.md"])
def test_readme_links_each_reference(doc: str) -> None:
    assert f"(docs/{doc})" in README


# ---------------------------------------------------------------------------
# docs/architecture.md, and a repository that stands alone
# ---------------------------------------------------------------------------

ARCHITECTURE_MD = DOCS / "architecture.md"
SELF_CONTAINED_DIRS = ("curator", "tests", "bench", "docs")
SELF_CONTAINED_SUFFIXES = {".py", ".md", ".toml", ".tcss"}

# Built from pieces so that this file does not match its own patterns.
_OUTSIDE_REFERENCES = {
    "the design notes outside the repository": re.compile(re.escape("DESIGN" + ".md") + "|" + "DESIGN" + " section"),
    "a folder outside the repository": re.compile(re.escape(".." + "/shared")),
    "a tracker number (write the reason or point to docs/)": re.compile(r"\b[Ii]ssu" + r"es? #?\d+"),
}


def test_no_file_points_outside_the_repository() -> None:
    """Comments, docstrings and docs say the reason or point to docs/, never to notes or trackers outside."""
    found: list[str] = []
    for top in SELF_CONTAINED_DIRS:
        for path in sorted((REPO / top).rglob("*")):
            if path.suffix not in SELF_CONTAINED_SUFFIXES or not path.is_file():
                continue
            if any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(REPO).parts):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.splitlines(), start=1):
                for what, pattern in _OUTSIDE_REFERENCES.items():
                    if match := pattern.search(line):
                        found.append(f"{path.relative_to(REPO)}:{number}: {match.group(0)!r}: {what}")
    assert not found, "references outside the repository:\n" + "\n".join(found)


def test_outside_reference_patterns_match_what_they_should() -> None:
    word = "iss" + "ue"
    samples = {
        f"{word} 12": True,
        f"{word} #12": True,
        f"({word} 4)": True,
        f"{word.capitalize()}s 3 and 4": True,
        "DESIGN" + " section 6": True,
        "the " + "DESIGN" + ".md file": True,
        ".." + "/shared/fixtures": True,
        f"a {word} of the text": False,
        f"{word}s premature warnings": False,
        "tissue 5": False,
    }
    for text, expected in samples.items():
        hit = any(p.search(text) for p in _OUTSIDE_REFERENCES.values())
        assert hit is expected, text


def _top_level_names() -> list[str]:
    """`name.py` for each top-level module of curator/ and `name/` for each package."""
    names = []
    for path in sorted((REPO / "curator").iterdir()):
        if path.is_file() and path.suffix == ".py" and path.name != "__init__.py":
            names.append(path.name)
        elif path.is_dir() and (path / "__init__.py").is_file():
            names.append(path.name + "/")
    return names


def test_architecture_names_every_top_level_module_and_package() -> None:
    assert ARCHITECTURE_MD.is_file(), "docs/architecture.md is missing"
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    names = _top_level_names()
    assert {"models.py", "store/", "cli/", "tui/"} <= set(names)
    missing = [n for n in names if f"`{n}`" not in text and f"curator/{n}" not in text]
    assert not missing, f"docs/architecture.md does not name {missing}: say where they sit in the layers"


def test_architecture_relative_links_resolve() -> None:
    text = ARCHITECTURE_MD.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)\s]*)?\)", text)
    assert links
    broken = [link for link in links if "://" not in link and not (DOCS / link).exists()]
    assert not broken, f"docs/architecture.md links to missing files: {broken}"


def test_readme_links_the_architecture() -> None:
    assert "(docs/architecture.md)" in README
