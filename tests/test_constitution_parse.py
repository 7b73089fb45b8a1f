"""Tests for curator.constitution.parse: Markdown/JSON constitutions into clauses."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curator.constitution.parse import (
    clause_hash,
    constitution_json,
    normalize_clause_text,
    parse_file,
    parse_json,
    parse_markdown,
    slugify,
)
from curator.errors import ConstitutionError
from curator.models import Clause, ParsedConstitution

DATA = Path(__file__).parent / "data" / "constitution"
FIXTURES = Path(__file__).parent / "data" / "fixtures" / "openai-model-spec"
SPEC_FILES = [FIXTURES / "model_spec_2025-02-12.md", FIXTURES / "model_spec_2025-12-18.md"]
needs_fixtures = pytest.mark.skipif(not all(p.exists() for p in SPEC_FILES), reason="model spec fixtures not available")


def by_id(parsed: ParsedConstitution) -> dict[str, Clause]:
    return {c.id: c for c in parsed.clauses}


def ids(text: str) -> list[str]:
    return [c.id for c in parse_markdown(text).clauses]


# ---------------------------------------------------------------------------
# The sample file: every construct at once
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> ParsedConstitution:
    return parse_file(DATA / "sample.md")


def test_sample_clause_tree(sample: ParsedConstitution) -> None:
    tree = [(c.id, c.parent, c.depth, c.kind) for c in sample.clauses]
    assert tree == [
        ("principles", None, 1, "section"),
        ("principles.1", "principles", 2, "item"),
        ("principles.2", "principles", 2, "item"),
        ("principles.2.1", "principles.2", 3, "item"),
        ("principles.2.2", "principles.2", 3, "item"),
        ("principles.3", "principles", 2, "item"),
        ("care", "principles", 2, "section"),
        ("setext-heading", "principles", 2, "section"),
        ("second-part", None, 1, "section"),
        ("repeated", "second-part", 2, "section"),
        ("repeated-1", "second-part", 2, "section"),
    ]


def test_sample_titles_and_meta(sample: ParsedConstitution) -> None:
    clauses = by_id(sample)
    assert clauses["principles"].title == "Principles"
    assert clauses["principles"].meta == {"authority": "root"}
    assert clauses["care"].title == "Care for people"
    assert clauses["care"].meta == {"authority": "user", "tier": "very high"}
    assert clauses["principles.1"].title == "Be honest: never deceive the user."
    assert clauses["principles.2"].title == "Be kind, and explain why."
    assert clauses["setext-heading"].title == "Setext heading"


def test_sample_document(sample: ParsedConstitution) -> None:
    doc = sample.document
    assert doc["title"] == "Principles"
    assert doc["meta"] == {"title": "Sample Constitution", "version": "2", "tags": ["demo", "test"]}
    assert doc["filename"] == "sample.md"
    assert doc["clause_count"] == len(sample.clauses) == 11
    assert doc["sha256"] == hashlib.sha256((DATA / "sample.md").read_bytes()).hexdigest()
    assert doc["preamble"].startswith("This preamble belongs to no clause.")
    assert "- a preamble list item is not a clause" in doc["preamble"]


def test_sample_section_text_excludes_children(sample: ParsedConstitution) -> None:
    text = by_id(sample)["principles"].text
    assert text.startswith("The principles below apply everywhere.")  # no heading line
    assert "{#" not in text
    assert "Between the lists." in text
    assert "Be honest" not in text
    assert "Care text" not in text


def test_sample_blocks_stay_in_clause_text(sample: ParsedConstitution) -> None:
    text = by_id(sample)["care"].text
    for fragment in (
        "# not a heading",
        "# also not a heading",
        '!!! note "Commentary"',
        "    - not an item either",
        "> - quoted items are not clauses",
        "| 1   | 2   |",
        "# a comment, not a heading",
    ):
        assert fragment in text
    assert "Setext heading" not in text


def test_item_text_excludes_nested_items(sample: ParsedConstitution) -> None:
    clauses = by_id(sample)
    assert clauses["principles.2"].text == "Be *kind*, and explain [why](#care)."  # no marker
    assert clauses["principles.2.1"].text == "Kindness includes patience."  # dedented


def test_hash_is_of_normalised_text(sample: ParsedConstitution) -> None:
    for clause in sample.clauses:
        assert clause.hash == clause_hash(clause.text)
        assert re.fullmatch(r"[0-9a-f]{64}", clause.hash)


# ---------------------------------------------------------------------------
# Headings and ids
# ---------------------------------------------------------------------------


def test_atx_and_setext_headings_nest() -> None:
    text = "Top\n===\n\n## Sub\n\n### Deep\n\nBody\n---\n\n# Next\n"
    parsed = parse_markdown(text)
    assert [(c.id, c.parent, c.depth) for c in parsed.clauses] == [
        ("top", None, 1),
        ("sub", "top", 2),
        ("deep", "sub", 3),
        ("body", "top", 2),
        ("next", None, 1),
    ]


def test_heading_skipping_levels_nests_under_nearest_smaller() -> None:
    parsed = parse_markdown("## Two\n\n#### Four\n\n### Three\n\n# One\n")
    assert [(c.id, c.parent) for c in parsed.clauses] == [
        ("two", None),
        ("four", "two"),
        ("three", "two"),
        ("one", None),
    ]


def test_explicit_attributes() -> None:
    parsed = parse_markdown("# **Bold** `code` [link](http://x) {#my_id authority=root note='a b' .c1 .c2}\n")
    (clause,) = parsed.clauses
    assert clause.id == "my_id"
    assert clause.title == "Bold code link"
    assert clause.meta == {"authority": "root", "note": "a b", "class": "c1 c2"}


def test_attributes_without_id_give_meta_and_a_slug() -> None:
    (clause,) = parse_markdown("## Be careful {authority=guideline}\n").clauses
    assert clause.id == "be-careful"
    assert clause.meta == {"authority": "guideline"}
    assert clause.title == "Be careful"


def test_braces_that_are_not_attributes_are_heading_text() -> None:
    (clause,) = parse_markdown("# Use {braces} here {too much}\n").clauses
    assert clause.title == "Use {braces} here {too much}"
    assert clause.id == "use-braces-here-too-much"
    assert clause.meta == {}
    (escaped,) = parse_markdown("# Literal \\{#x}\n").clauses
    assert escaped.title == "Literal {#x}"
    assert escaped.id == "literal-x"


def test_heading_with_only_an_id_uses_it_as_title() -> None:
    (clause,) = parse_markdown("# {#lonely}\n").clauses
    assert (clause.id, clause.title) == ("lonely", "lonely")


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Hello World", "hello-world"),
        ("Don't panic!", "dont-panic"),
        ("C++ & Python", "c--python"),
        ("foo_bar-baz", "foo_bar-baz"),
        ("1. Intro: the (short) version", "1-intro-the-short-version"),
        ("Überblick über Ärger", "überblick-über-ärger"),
        ("Emoji 🎉 party", "emoji--party"),
        ("Don’t facilitate — ever", "dont-facilitate--ever"),
    ],
)
def test_github_slugs(heading: str, slug: str) -> None:
    assert slugify(heading) == slug
    assert ids(f"# {heading}\n") == [slug]


def test_slug_uses_rendered_text() -> None:
    assert ids("# Don't **do** [this](#x) `now`\n") == ["dont-do-this-now"]


def test_duplicate_ids_get_suffixes_in_document_order() -> None:
    assert ids("# A\n## A\n## A\n") == ["a", "a-1", "a-2"]
    # as github-slugger: a literal "A-1" heading claims the name first
    assert ids("# A\n# A-1\n# A\n") == ["a", "a-1", "a-2"]
    # an explicit id slugs can collide with is suffixed; two identical explicit ids are an error
    assert ids("# Dup\n# Y {#dup}\n") == ["dup", "dup-1"]


def test_two_identical_explicit_ids_name_both_lines() -> None:
    with pytest.raises(ConstitutionError, match=r"c.md: duplicate explicit id 'dup' on lines 1 and 3"):
        parse_markdown("# X {#dup}\n\n# Y {#dup}\n", filename="c.md")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty document"),
        ("  \n\n", "empty document"),
        ("just a paragraph\n\n- a list before any heading\n", "no clauses"),
        ("# ok\x00\x01\x02", "binary"),
    ],
)
def test_documents_without_clauses_are_errors(text: str, message: str) -> None:
    with pytest.raises(ConstitutionError, match=message):
        parse_markdown(text, filename="c.md")


def test_empty_heading_gets_a_fallback_id() -> None:
    parsed = parse_markdown("#\n\n# !!!\n")
    assert [c.id for c in parsed.clauses] == ["section", "section-1"]


def test_hash_line_in_fences_is_not_a_heading() -> None:
    text = "# Real\n\n```\n# fake\n```\n\n~~~\n## fake too\n~~~\n\n    # indented code\n"
    parsed = parse_markdown(text)
    assert [c.id for c in parsed.clauses] == ["real"]
    assert "# fake" in parsed.clauses[0].text
    assert "## fake too" in parsed.clauses[0].text


def test_unclosed_fence_swallows_the_rest() -> None:
    assert ids("# A\n```\n# B\n- c\n") == ["a"]


def test_headings_inside_containers_are_not_sections() -> None:
    text = "# A\n\n- # in item\n\n> # in quote\n\n!!! warning\n    # in admonition\n"
    parsed = parse_markdown(text)
    assert [c.id for c in parsed.clauses] == ["a", "a.1"]


# ---------------------------------------------------------------------------
# List items
# ---------------------------------------------------------------------------


def test_items_are_counted_across_lists_in_a_section() -> None:
    text = "# S\n\n- a\n- b\n\nText.\n\n1. c\n2. d\n\n* e\n\n## T\n\n- f\n"
    parsed = parse_markdown(text)
    assert [(c.id, c.parent, c.title) for c in parsed.clauses] == [
        ("s", None, "S"),
        ("s.1", "s", "a"),
        ("s.2", "s", "b"),
        ("s.3", "s", "c"),
        ("s.4", "s", "d"),
        ("s.5", "s", "e"),
        ("t", "s", "T"),
        ("t.1", "t", "f"),
    ]


def test_nested_items() -> None:
    text = "# S\n\n- a\n  - a1\n    - a1x\n  - a2\n- b\n  1. b1\n"
    parsed = parse_markdown(text)
    assert [(c.id, c.parent, c.depth) for c in parsed.clauses] == [
        ("s", None, 1),
        ("s.1", "s", 2),
        ("s.1.1", "s.1", 3),
        ("s.1.1.1", "s.1.1", 4),
        ("s.1.2", "s.1", 3),
        ("s.2", "s", 2),
        ("s.2.1", "s.2", 3),
    ]


def test_item_keeps_its_paragraphs_and_code() -> None:
    text = "# S\n\n- first line\n  second line\n\n  more\n\n  ```\n  code\n  ```\n  - nested\n- next\n"
    clauses = by_id(parse_markdown(text))
    assert clauses["s.1"].text == "first line\nsecond line\n\nmore\n\n```\ncode\n```"
    assert clauses["s.1"].title == "first line"
    assert clauses["s.1.1"].text == "nested"


def test_long_item_titles_are_truncated_at_a_word() -> None:
    words = " ".join(f"word{i}" for i in range(40))
    clause = by_id(parse_markdown(f"# S\n\n- {words}\n"))["s.1"]
    assert clause.title.endswith("…")
    assert len(clause.title) <= 81
    assert clause.title[:-1] in words
    assert words.startswith(clause.title[:-1] + " ")


def test_item_title_is_first_line_only() -> None:
    clause = by_id(parse_markdown("# S\n\n- **One** line\n  and *two*\n"))["s.1"]
    assert clause.title == "One line"


def test_items_without_a_paragraph_get_a_title() -> None:
    clauses = by_id(parse_markdown("# S\n\n-\n- ```\n  code\n  ```\n"))
    assert clauses["s.1"].title == "(empty item)"
    assert clauses["s.2"].title == "```"


def test_items_in_quotes_admonitions_and_preamble_are_not_clauses() -> None:
    text = (
        "- preamble item\n\n# S\n\n> - quoted\n\n!!! note\n    - admonished\n\n"
        "<div>\n\n- in html block? no: markdown resumes after the blank line\n\n</div>\n"
    )
    parsed = parse_markdown(text)
    assert [c.id for c in parsed.clauses] == ["s", "s.1"]
    assert parsed.document["preamble"] == "- preamble item"


def test_item_id_colliding_with_explicit_id_is_suffixed() -> None:
    assert ids("# A {#s.1}\n# S\n\n- x\n  - y\n") == ["s.1", "s", "s.1-1", "s.1-1.1"]


def test_html_comment_and_table_stay_in_text() -> None:
    text = "# S\n\n<!-- - not an item\n# not a heading -->\n\n| a | b |\n|---|---|\n| - | # |\n"
    (clause,) = parse_markdown(text).clauses
    assert "<!-- - not an item" in clause.text
    assert "| - | # |" in clause.text


# ---------------------------------------------------------------------------
# Document metadata
# ---------------------------------------------------------------------------


def test_front_matter_is_metadata_not_a_heading() -> None:
    text = '---\ntitle: "My Rules"\nversion: 3  # comment\n# a yaml comment\nnested:\n  k: v\n---\n# Body\n'
    parsed = parse_markdown(text)
    assert [c.id for c in parsed.clauses] == ["body"]
    assert parsed.document["meta"] == {"title": "My Rules", "version": "3", "nested": ""}
    assert parsed.document["title"] == "Body"  # the first H1 wins


def test_front_matter_title_when_there_is_no_h1() -> None:
    parsed = parse_markdown("---\ntitle: Fallback\n---\n## Only H2\n")
    assert parsed.document["title"] == "Fallback"
    assert parse_markdown("## Only H2\n").document["title"] is None


def test_unclosed_front_matter_is_an_ordinary_rule() -> None:
    parsed = parse_markdown("---\n# Heading\n")
    assert [c.id for c in parsed.clauses] == ["heading"]
    assert parsed.document["meta"] == {}


def test_preamble_belongs_to_no_clause() -> None:
    parsed = parse_markdown("\n\nJust prose.\n\n- and a list\n\n# First\n", filename="x.md")
    assert [c.id for c in parsed.clauses] == ["first"]
    assert parsed.document["preamble"] == "Just prose.\n\n- and a list"
    assert parsed.document["filename"] == "x.md"
    assert parsed.document["sha256"] == hashlib.sha256(b"\n\nJust prose.\n\n- and a list\n\n# First\n").hexdigest()


# ---------------------------------------------------------------------------
# Normalisation and hashing
# ---------------------------------------------------------------------------


def test_normalize_clause_text() -> None:
    raw = "\r\n\r\n# T  \r\n\r\n\r\n\r\nbody\t\rmore\n\n\n"
    assert normalize_clause_text(raw) == "# T\n\nbody\nmore"
    assert normalize_clause_text("") == ""
    assert normalize_clause_text("   \n\t\n") == ""


def test_hash_ignores_trailing_spaces_and_blank_runs() -> None:
    a = by_id(parse_markdown("# S\n\nOne.\n\nTwo.\n"))["s"]
    b = by_id(parse_markdown("# S   \n\n\n\nOne.  \n\n\nTwo.\t\n\n\n"))["s"]
    assert a.hash == b.hash
    c = by_id(parse_markdown("# S\n\nOne!\n\nTwo.\n"))["s"]
    assert c.hash != a.hash


def test_crlf_and_bom_give_identical_ids_and_hashes() -> None:
    text = (DATA / "sample.md").read_text(encoding="utf-8")
    lf = parse_markdown(text)
    crlf = parse_markdown("\ufeff" + text.replace("\n", "\r\n"))
    cr = parse_markdown(text.replace("\n", "\r"))
    for other in (crlf, cr):
        assert [(c.id, c.hash, c.title, c.parent) for c in other.clauses] == [
            (c.id, c.hash, c.title, c.parent) for c in lf.clauses
        ]
        assert other.document["meta"] == lf.document["meta"]
    assert crlf.document["sha256"] != lf.document["sha256"]  # the raw source differs


def test_parsing_twice_is_identical() -> None:
    text = (DATA / "sample.md").read_text(encoding="utf-8")
    assert parse_markdown(text) == parse_markdown(text)


def test_moving_a_section_keeps_its_children_hashes() -> None:
    a = by_id(parse_markdown("# A\n\n- x\n\n# B\n\n- y\n"))
    b = by_id(parse_markdown("# B\n\n- y\n\n# A\n\n- x\n"))
    assert {k: v.hash for k, v in a.items()} == {k: v.hash for k, v in b.items()}


# ---------------------------------------------------------------------------
# JSON constitutions
# ---------------------------------------------------------------------------


def test_json_strings() -> None:
    parsed = parse_json(json.dumps(["Be honest.", "Be **kind**\nalways."]), filename="p.json")
    assert [(c.id, c.title, c.depth, c.parent, c.kind) for c in parsed.clauses] == [
        ("p1", "Be honest.", 1, None, "section"),
        ("p2", "Be kind", 1, None, "section"),
    ]
    assert parsed.clauses[1].hash == clause_hash("Be **kind**\nalways.")
    assert parsed.document["clause_count"] == 2
    assert parsed.document["filename"] == "p.json"
    assert parsed.document["format"] == "json"


def test_json_objects() -> None:
    data = [{"id": "honesty", "text": "Never lie.", "title": "Honesty"}, {"id": "care", "text": "Care."}]
    parsed = parse_json(json.dumps(data))
    assert [(c.id, c.title, c.text) for c in parsed.clauses] == [
        ("honesty", "Honesty", "Never lie."),
        ("care", "Care.", "Care."),
    ]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{", "invalid JSON at line 1"),
        ('{"a": 1}', "expected a JSON array of principles, got an object"),
        ("[1]", "principle [0]: expected a string or an object, got a number"),
        ('["ok", null]', "principle [1]: expected a string or an object, got null"),
        ('[{"text": "x"}]', 'principle [0]: "id" must be'),
        ('[{"id": "a b", "text": "x"}]', 'principle [0]: "id" must be'),
        ('[{"id": "a"}]', 'principle [0]: "text" must be a string'),
        ('[{"id": "a", "text": "x", "title": 3}]', 'principle [0]: "title" must be a string'),
        ('[{"id": "a", "text": "x", "extra": 1}]', "principle [0]: unknown key 'extra'"),
        ('["x", "  "]', "principle [1]: text is empty"),
        ('["x", {"id": "p1", "text": "y"}]', "principle [1]: duplicate id 'p1'"),
    ],
)
def test_json_errors_name_the_index(payload: str, message: str) -> None:
    with pytest.raises(ConstitutionError, match=re.escape(message)):
        parse_json(payload)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def test_parse_file_dispatches_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "rules.JSON"
    raw = b"\xef\xbb\xbf" + json.dumps(["a"]).encode()
    path.write_bytes(raw)
    parsed = parse_file(path)
    assert [c.id for c in parsed.clauses] == ["p1"]
    assert parsed.document["filename"] == "rules.JSON"
    assert parsed.document["sha256"] == hashlib.sha256(raw).hexdigest()

    md = tmp_path / "rules.txt"
    md.write_bytes(b"\xef\xbb\xbf# Title\n")
    assert [c.id for c in parse_file(md).clauses] == ["title"]


def test_parse_file_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.md"
    with pytest.raises(ConstitutionError, match=re.escape(f"{missing}: no such constitution file")):
        parse_file(missing)
    with pytest.raises(ConstitutionError, match="is a directory"):
        parse_file(tmp_path)
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# Title\n\xff\xfe")
    with pytest.raises(ConstitutionError, match=re.escape(f"{bad}: not valid UTF-8")):
        parse_file(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[1]", encoding="utf-8")
    with pytest.raises(ConstitutionError, match=re.escape(f"{bad_json}: principle [0]")):
        parse_file(bad_json)


def test_unpaired_surrogates_are_rejected() -> None:
    with pytest.raises(ConstitutionError, match="not valid Unicode"):
        parse_markdown("# A\ud800\n")
    with pytest.raises(ConstitutionError, match="not valid Unicode"):
        parse_json('["\ud800"]')


# ---------------------------------------------------------------------------
# The real model spec releases
# ---------------------------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_model_spec_fixture(path: Path) -> None:
    parsed = parse_file(path)
    clauses = by_id(parsed)
    assert len(parsed.clauses) > 50
    assert parsed.document["clause_count"] == len(parsed.clauses)
    assert len(clauses) == len(parsed.clauses)  # ids unique
    for ident in ("overview", "structure", "follow_all_applicable_instructions", "protect_privacy"):
        assert ident in clauses
    assert clauses["overview"].depth == 1
    assert clauses["structure"].parent == "overview"
    # the 2025-02 release called the top level "platform"; 2025-12 calls it "root"
    expected = "platform" if "2025-02" in path.name else "root"
    assert clauses["follow_all_applicable_instructions"].meta == {"authority": expected}
    assert clauses["follow_all_applicable_instructions"].title == "Follow all applicable instructions"
    assert clauses["follow_all_applicable_instructions"].parent == "chain_of_command"
    assert "{#" not in "".join(c.title for c in parsed.clauses)
    # '# functions' inside a fenced dialogue is not a heading
    assert "functions" not in clauses
    # the admonition stays in its section's text
    assert '!!! meta "Commentary"' in clauses["structure"].text
    # parents come before children; depth follows the parent
    seen: dict[str, int] = {}
    for clause in parsed.clauses:
        if clause.parent is None:
            assert clause.depth == 1
        else:
            assert seen[clause.parent] == clause.depth - 1
        seen[clause.id] = clause.depth


@needs_fixtures
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_model_spec_anchor_links_resolve(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    heading_ids = set(re.findall(r"^#{1,6} .*\{#([^\s}]+)", source, flags=re.M))
    links = set(re.findall(r"\]\(#([^)\s]+)\)", source))
    assert links
    targets = links & heading_ids
    assert len(targets) >= len(links) * 0.9
    clause_ids = {c.id for c in parse_file(path).clauses}
    assert targets <= clause_ids
    assert links <= clause_ids  # in these releases every anchor resolves


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

_MD_PIECES = st.sampled_from(
    [
        "# ",
        "## ",
        "### ",
        "- ",
        "* ",
        "1. ",
        "  ",
        "    ",
        "> ",
        "!!! note ",
        "```",
        "~~~",
        "---",
        "===",
        "{#x}",
        "{#x a=b}",
        "{",
        "}",
        "|",
        "<!--",
        "-->",
        "\n",
        "\n\n",
        "\r\n",
        "\r",
        "word",
        "Ünï",
        "**",
        "`",
        "[a](#b)",
        "\t",
        "\ufeff",
        "\x00",
    ]
)
_MARKDOWNISH = st.lists(_MD_PIECES | st.text(max_size=5), max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | _MARKDOWNISH)
def test_parse_markdown_returns_or_raises_constitution_error(text: str) -> None:
    try:
        parsed = parse_markdown(text)
    except ConstitutionError:
        return
    seen: dict[str, int] = {}
    for clause in parsed.clauses:
        assert clause.id and clause.id not in seen
        assert clause.parent is None or clause.parent in seen
        assert clause.depth == (1 if clause.parent is None else seen[clause.parent] + 1)
        assert clause.hash == clause_hash(clause.text)
        seen[clause.id] = clause.depth
    assert parsed.document["clause_count"] == len(parsed.clauses)


@settings(max_examples=200, deadline=None)
@given(_MARKDOWNISH)
def test_line_endings_never_change_ids_or_hashes(text: str) -> None:
    lf = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        a = parse_markdown(lf)
    except ConstitutionError as err:
        with pytest.raises(ConstitutionError, match=re.escape(str(err))):
            parse_markdown(lf.replace("\n", "\r\n"))
        return
    b = parse_markdown(lf.replace("\n", "\r\n"))
    assert [(c.id, c.hash) for c in a.clauses] == [(c.id, c.hash) for c in b.clauses]


@settings(max_examples=200, deadline=None)
@given(st.text() | _MARKDOWNISH)
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_clause_text(text)
    assert normalize_clause_text(once) == once
    assert clause_hash(text) == clause_hash(once)


# ---------------------------------------------------------------------------
# The clause list as JSON
# ---------------------------------------------------------------------------


def test_constitution_json_is_the_clause_list_contract(sample: ParsedConstitution) -> None:
    data = constitution_json(sample)
    assert list(data) == ["document", "clauses"]
    assert data["document"] == {
        "title": "Principles",
        "sha256": sample.document["sha256"],
        "metadata": {"title": "Sample Constitution", "version": "2", "tags": ["demo", "test"]},
    }
    assert [c["id"] for c in data["clauses"]] == [c.id for c in sample.clauses]  # document order
    care = next(c for c in data["clauses"] if c["id"] == "care")
    assert list(care) == ["id", "parent", "depth", "title", "text", "plain", "context", "hash", "metadata"]
    assert care["metadata"] == {"authority": "user", "tier": "very high"}  # `meta` is called metadata here
    assert (care["parent"], care["depth"], care["hash"]) == ("principles", 2, clause_hash(care["text"]))
    assert json.loads(json.dumps(data)) == data


def test_constitution_json_of_a_principle_list_has_empty_metadata() -> None:
    data = constitution_json(parse_json('["Be honest.", "Be kind."]'))
    assert data["document"]["metadata"] == {}
    assert [c["metadata"] for c in data["clauses"]] == [{}, {}]
