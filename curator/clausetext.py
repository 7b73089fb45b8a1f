"""Parse a constitution (Markdown or a flat JSON list) into clauses (see docs/architecture.md, Contracts).

A leaf module (the store's migrations re-derive stored clauses with it); services import it
through `curator.constitution.parse`, which also holds the clause JSON contract.

Pure: no printing, no UI, no database. Markdown is tokenised by markdown-it-py and
each clause's text is cut from the *source lines* (via the tokens' line maps), so
what a user sees is what the author wrote, and the hash changes only when the
clause's own words change: a section's text leaves out its heading line, an item's
its marker and attribute block, so renaming a heading or renumbering a list is not
an edit. Each clause also gets its text as plain text and, for a list item, the
context that introduces it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import textwrap
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from curator.errors import ConstitutionError
from curator.files import decode, read_bytes
from curator.models import Clause, ParsedConstitution

__all__ = [
    "CONTEXT_SEPARATOR",
    "clause_hash",
    "normalize_clause_text",
    "parse_file",
    "parse_json",
    "parse_markdown",
    "slugify",
    "strip_legacy_text",
    "text_plain",
]

ITEM_TITLE_MAX = 80
"""List-item titles longer than this are cut at a word boundary and end with an ellipsis."""

# ---------------------------------------------------------------------------
# Text normalisation and hashing
# ---------------------------------------------------------------------------


def _to_lf(text: str) -> str:
    """CRLF and lone CR become LF (what markdown-it does, so line numbers agree)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def normalize_clause_text(text: str) -> str:
    """The form that is hashed, so invisible edits (line endings, trailing spaces,
    extra blank lines) do not mark a clause as edited."""
    lines = [line.rstrip() for line in _to_lf(text).split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue  # drop leading blanks and collapse runs of blank lines
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def clause_hash(text: str) -> str:
    """SHA-256 (hex) of the normalised text: the clause's identity for diffs."""
    data = normalize_clause_text(text).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Slugs and ids
# ---------------------------------------------------------------------------

_KEEP_PUNCT = {"-", "_", " "}


def slugify(text: str) -> str:
    """GitHub's heading anchor (github-slugger): lower-case, drop punctuation and
    symbols except ``-`` and ``_``, each space becomes ``-``; so ``#anchor`` links
    written against GitHub's rendering resolve to our ids."""
    out = []
    for ch in text.lower():
        if ch in _KEEP_PUNCT or unicodedata.category(ch)[0] in "LMN" or ch == "_":
            out.append(ch)
    return "".join(out).replace(" ", "-")


class _IdRegistry:
    """Hands out unique ids the way github-slugger does: ``x``, ``x-1``, ``x-2`` ..."""

    def __init__(self) -> None:
        self._occurrences: dict[str, int] = {}

    def claim(self, base: str) -> str:
        result = base
        while result in self._occurrences:
            self._occurrences[base] += 1
            result = f"{base}-{self._occurrences[base]}"
        self._occurrences[result] = 0
        return result


_ATTR_BLOCK = re.compile(r"(?<!\\)\{([^{}]*)\}[ \t]*$")
_ATTR_TOKEN = re.compile(
    r"""\s*(?:
        \#(?P<id>[^\s{}"'=]+)
      | \.(?P<cls>[^\s{}"'=#.]+)
      | (?P<key>[A-Za-z_][\w.:-]*)=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s{}"']+))
    )""",
    re.VERBOSE,
)


def _split_heading_attrs(content: str) -> tuple[str, str | None, dict[str, str]]:
    """Split ``Title {#id key=value}`` into (title source, id, other attributes).

    A brace group that is not entirely attributes (``Use {braces}``) is heading text.
    """
    match = _ATTR_BLOCK.search(content)
    if not match or not match.group(1).strip():
        return content, None, {}
    body = match.group(1)
    pos = 0
    ident: str | None = None
    meta: dict[str, str] = {}
    classes: list[str] = []
    while pos < len(body):
        if not body[pos:].strip():
            break
        tok = _ATTR_TOKEN.match(body, pos)
        if not tok or tok.end() == pos:
            return content, None, {}
        pos = tok.end()
        if pos < len(body) and not body[pos].isspace():
            return content, None, {}
        if tok.group("id") is not None:
            ident = tok.group("id")
        elif tok.group("cls") is not None:
            classes.append(tok.group("cls"))
        else:
            value = next(v for v in (tok.group("dq"), tok.group("sq"), tok.group("bare")) if v is not None)
            meta[tok.group("key")] = value
    if classes:
        meta.setdefault("class", " ".join(classes))
    return content[: match.start()].rstrip(), ident, meta


# ---------------------------------------------------------------------------
# Plain text from inline Markdown
# ---------------------------------------------------------------------------

_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]+\]")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
@functools.cache
def _markdown() -> MarkdownIt:
    """One configured parser (building it costs more than parsing a short file)."""
    # No admonition plugin: `!!! note` bodies are indented 4 spaces, so CommonMark already keeps
    # them as paragraph continuation or indented code (never headings or list items); the plugin
    # only cost ~10% of parse time on list-heavy documents.
    return MarkdownIt("commonmark").enable("table").use(front_matter_plugin)


def _inline_plain(
    children: list[Token] | None, *, first_line: bool = False, anchors: dict[str, str] | None = None
) -> str:
    """Rendered text of inline tokens: no markup, links become their text, code its content.

    With `anchors` (clause id -> title), a link whose text is only ``?`` to ``#id`` (the Model
    Spec's cross-reference style) becomes the title of that clause, as the rendered spec shows it.
    """
    parts: list[str] = []
    href: str | None = None
    for child in children or []:
        if child.type == "link_open":
            href = str(child.attrGet("href") or "")
        elif child.type == "link_close":
            href = None
        elif child.type in ("text", "code_inline", "text_special"):
            if anchors and href and href.startswith("#") and child.content == "?" and href[1:] in anchors:
                parts.append(anchors[href[1:]])
            else:
                parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            if first_line:
                break
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_plain(child.children))
    text = _FOOTNOTE_REF.sub("", "".join(parts))
    return _SPACES.sub(" ", text).strip()


def _plain(source: str, anchors: dict[str, str] | None = None) -> str:
    """Plain text of a Markdown inline source string."""
    tokens = _markdown().parseInline(source)
    return _inline_plain(tokens[0].children if tokens else None, anchors=anchors)


_ADMONITION = re.compile(r'^(?P<indent>[ \t]*)!!!\s+(?P<type>[\w-]+)(?:\s+"(?P<title>[^"]*)")?[ \t]*$', re.M)
_TAG = re.compile(r"<[^>]*>")
_MARKUP = re.compile(r"[*_\[\]`<>#|!\\&~{}]|^[ \t]*(?:[-+]|\d{1,9}[.)])(?:[ \t]|$)|^[ \t]*[-=]+[ \t]*$|^ {4}|\t", re.M)
"""Anything that may be Markdown syntax; text without it is rendered without parsing."""
_BLANK_LINES = re.compile(r"\n[ \t]*\n")


def _admonition_label(match: re.Match[str]) -> str:
    label = match.group("title") if match.group("title") is not None else match.group("type").capitalize()
    return f"{match.group('indent')}{label}:" if label else match.group("indent")


def text_plain(text: str, anchors: dict[str, str] | None = None) -> str:
    """Plain text of a clause's Markdown `text`: no markup, links as their text, admonition markers as
    their title (``Commentary:``), one block per paragraph (blank line between blocks), whitespace
    inside a block collapsed. Fenced code keeps its lines, indented by four spaces (so no line of
    plain text starts with a code comment's ``#``); an ``xml`` fence is a dialogue (see
    `_fence_plain`); indented blocks (admonition bodies) are read as Markdown."""
    if not text.strip():
        return ""
    if not _MARKUP.search(text):  # prose only (most dialogue turns): paragraphs, whitespace collapsed
        paragraphs = (_SPACES.sub(" ", p).strip() for p in _BLANK_LINES.split(_to_lf(text)))
        return "\n\n".join(p for p in paragraphs if p)
    src = _ADMONITION.sub(_admonition_label, _to_lf(text))
    try:
        tokens = _markdown().parse(src)
    except RecursionError:
        return _SPACES.sub(" ", src).strip()
    blocks: list[str] = []
    row: list[str] = []
    in_cell = False
    item_depth = 0
    bullet_next = False
    for tok in tokens:
        kind = tok.type
        if kind in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = kind.endswith("_open")
        elif kind == "list_item_open":
            item_depth += 1
            bullet_next = True
        elif kind == "list_item_close":
            item_depth -= 1
            bullet_next = False
        elif kind == "inline":
            rendered = _inline_plain(tok.children, anchors=anchors)
            if in_cell:
                row.append(rendered)
            elif rendered:
                if bullet_next and item_depth:
                    rendered = "  " * (item_depth - 1) + "• " + rendered
                blocks.append(rendered)
            bullet_next = False
        elif kind == "tr_close":
            if row:
                blocks.append(" | ".join(row))
            row = []
        elif kind == "fence":
            body = _fence_plain(tok, anchors)
            if body.strip():
                blocks.append(body)
        elif kind == "code_block":
            inner = text_plain(textwrap.dedent(tok.content), anchors)
            if inner:
                blocks.append(inner)
        elif kind == "html_block" and not tok.content.lstrip().startswith("<!--"):
            inner = _SPACES.sub(" ", _TAG.sub(" ", tok.content)).strip()
            if inner:
                blocks.append(inner)
    return "\n\n".join(blocks)


_TAG_LINE = re.compile(r"^\s*(?:<[^<>]*>\s*)+$")
_COMMENT = re.compile(r"<!--(.*?)-->")


def _fence_plain(tok: Token, anchors: dict[str, str] | None) -> str:
    """A fenced block as plain text. Code keeps its lines. An ``xml`` fence is a dialogue (the
    Model Spec's convention): its tag lines (``<user>``, ``<assistant> <!-- GOOD -->``) stay, the
    messages between them are Markdown and are rendered as such."""
    lines = [line.rstrip() for line in tok.content.strip("\n").split("\n")]
    if tok.info.strip().split(" ")[0].lower() != "xml":
        return "\n".join(f"    {line}" if line else "" for line in lines)
    out: list[str] = []
    segment: list[str] = []

    def flush() -> None:
        if segment:
            rendered = text_plain("\n".join(segment), anchors)
            if rendered:
                out.append(rendered)
            segment.clear()

    for line in lines:
        if _TAG_LINE.match(line):
            flush()
            out.append(_COMMENT.sub(lambda m: f"<!-- {_plain(m.group(1), anchors)} -->", line.strip()))
        else:
            segment.append(line)
    flush()
    return "\n".join(out)


def _truncate(text: str, limit: int = ITEM_TITLE_MAX) -> str:
    """Cut long text at a word boundary so titles fit one line of a list view."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


_ITEM_MARKER = re.compile(r"^\s*(?:[-+*]|\d{1,9}[.)])\s*")


# ---------------------------------------------------------------------------
# Front matter
# ---------------------------------------------------------------------------


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _parse_front_matter(content: str) -> dict[str, Any]:
    """Top-level ``key: value`` lines (and ``- item`` lists under an empty key).

    Deliberately tiny: constitution metadata is a title, a version, a date; a full
    YAML parser would be a dependency for nothing. Nested mappings are skipped.
    """
    meta: dict[str, Any] = {}
    list_key: str | None = None
    for raw in content.split("\n"):
        line = raw.rstrip()
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if list_key is not None and stripped.startswith("- "):
            current = meta.get(list_key)
            if not isinstance(current, list):
                current = []
                meta[list_key] = current
            current.append(_unquote(stripped[2:]))
            continue
        if line[0].isspace():
            continue  # nested YAML is beyond this parser; keep going
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            list_key = None
            continue
        key = _unquote(key)
        value = value.strip()
        if " #" in value and value[0] not in "\"'":
            value = value.split(" #", 1)[0].rstrip()
        if value:
            meta[key] = _unquote(value)
            list_key = None
        else:
            meta[key] = ""
            list_key = key
    return meta


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------


@dataclass
class _Node:
    """A clause under construction: its span of source lines and its children's spans."""

    id: str
    parent: _Node | None
    kind: str
    title: str
    meta: dict[str, str]
    start: int
    end: int = -1
    body_start: int = -1
    """First line after a section's heading (a setext heading takes two lines)."""
    level: int = 0  # heading level, sections only
    children: list[_Node] = field(default_factory=list)
    item_count: int = 0
    first_line: str | None = None
    """An item's first line without its marker and attribute block, when it had attributes."""
    first_inline: Token | None = None
    """An item's first paragraph (its lead line, for the context of items nested in it)."""
    lead: Token | None = None
    """The paragraph that introduces the list an item is in (see `_context`)."""
    context: str = ""
    depth: int = field(init=False)

    def __post_init__(self) -> None:
        self.depth = 1 if self.parent is None else self.parent.depth + 1
        if self.body_start < 0:
            self.body_start = self.start


@dataclass
class _Frame:
    """An open container token (list, item, quote, paragraph ...) while walking the token stream."""

    kind: str
    node: _Node | None = None
    """The clause of a list item that is a clause."""
    last_para: Token | None = None
    """The inline token of the last paragraph seen directly inside this container."""
    lead: Token | None = None
    """For a list: the last paragraph before it inside the same parent."""


_LEAD_MAX = 300
"""A lead-in paragraph longer than this is cut to its last sentence (the one that opens the list)."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(*A-Z0-9])")
CONTEXT_SEPARATOR = " › "
"""Joins the parts of an item's context (an outer lead-in, the parent item's line, its own lead-in)."""


def _lead_text(inline: Token | None, anchors: dict[str, str], *, first_line: bool = False) -> str:
    if inline is None:
        return ""
    text = _inline_plain(inline.children, first_line=first_line, anchors=anchors)
    if len(text) > _LEAD_MAX and not first_line:
        sentences = _SENTENCE_END.split(text)
        text = sentences[-1] if sentences[-1] else text
    return text


def _context(node: _Node, anchors: dict[str, str]) -> str:
    """An item's context: what introduces it. Items directly in a section: the last paragraph
    before their list in the section body (often "X should never:"). Nested items: the parent
    item's context, the parent item's first line, and the last paragraph inside the parent item
    before the nested list when that is not its first line; joined by `CONTEXT_SEPARATOR`.
    Sections: empty (their place is the title path, see `models.title_path`)."""
    if node.kind != "item":
        return ""
    parts: list[str] = []
    parent = node.parent
    if parent is not None and parent.kind == "item":
        parts += [parent.context, _lead_text(parent.first_inline, anchors, first_line=True)]
        if node.lead is not None and node.lead is not parent.first_inline:
            parts.append(_lead_text(node.lead, anchors))
    else:
        parts.append(_lead_text(node.lead, anchors))
    return CONTEXT_SEPARATOR.join(p for p in parts if p)


def _own_lines(node: _Node, lines: list[str]) -> str:
    """The node's span (after its heading) minus its children's spans: pieces joined by one blank line."""
    pieces: list[list[str]] = []
    pos = node.body_start
    for child in sorted(node.children, key=lambda c: c.start):
        if child.start > pos:
            pieces.append(lines[pos : child.start])
        pos = max(pos, child.end)
    if node.end > pos:
        pieces.append(lines[pos : node.end])
    out: list[str] = []
    for piece in pieces:
        while piece and not piece[0].strip():
            piece = piece[1:]
        while piece and not piece[-1].strip():
            piece = piece[:-1]
        if piece:
            if out:
                out.append("")
            out.extend(piece)
    return "\n".join(out)


def _own_text(node: _Node, lines: list[str]) -> str:
    """A clause's own Markdown: a section's body without its heading line; an item's Markdown
    without its marker, its attribute block and its nested items."""
    text = _own_lines(node, lines)
    if node.kind != "item":
        return text
    first, sep, rest = textwrap.dedent(text).partition("\n")
    marker = _ITEM_MARKER.match(first)
    first = first[marker.end() :] if marker else first.lstrip()
    if node.first_line is not None:
        first = node.first_line
    return (first.rstrip() + sep + textwrap.dedent(rest)).strip("\n")


def strip_legacy_text(text: str, kind: str) -> str:
    """A clause text stored by an older curator (heading line or item marker included, item
    attributes never) as the clause model now has it: heading line dropped (two lines for a
    setext heading), item marker dropped. For stored versions whose source no longer parses."""
    lines = _to_lf(text).split("\n")
    if kind == "section":
        if lines and lines[0].lstrip().startswith("#"):
            lines = lines[1:]
        elif len(lines) > 1 and re.fullmatch(r"\s*(=+|-+)\s*", lines[1]):
            lines = lines[2:]
        return "\n".join(lines).strip("\n")
    first, sep, rest = "\n".join(lines).partition("\n")
    marker = _ITEM_MARKER.match(first)
    first = first[marker.end() :] if marker else first.lstrip()
    return (first.rstrip() + sep + textwrap.dedent(rest)).strip("\n")


def parse_markdown(text: str, *, filename: str | None = None) -> ParsedConstitution:
    """Parse a Markdown constitution: headings open sections, list items directly in a
    section body (and their nested items) are clauses; everything else is clause text."""
    return _parse_markdown(text, filename=filename, source_sha256=None)


def _check_unicode(text: str, filename: str | None) -> None:
    if "\x00" in text:
        where = f"{filename}: " if filename else ""
        raise ConstitutionError(f"{where}looks like a binary file (NUL bytes), not a constitution")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        where = f"{filename}: " if filename else ""
        raise ConstitutionError(
            f"{where}text is not valid Unicode (unpaired surrogate at character {err.start})"
        ) from None


def _claim_explicit(explicit: str, line: int, explicit_lines: dict[str, int], filename: str | None) -> None:
    """Remember where an explicit id was given; a second one is an error naming both lines."""
    if explicit in explicit_lines:
        where = f"{filename}: " if filename else ""
        raise ConstitutionError(
            f"{where}duplicate explicit id {explicit!r} on lines {explicit_lines[explicit]} and {line}"
        )
    explicit_lines[explicit] = line


def _item_attrs(tokens: list[Token], idx: int, lines: list[str]) -> tuple[str, str | None, dict[str, str]] | None:
    """(first line without marker and attributes, id, meta) when the item's first line ends with an
    attribute block (``- text {#id key=value}``), else None."""
    tok = tokens[idx]
    nxt = tokens[idx + 1] if idx + 1 < len(tokens) else None
    if tok.map is None or nxt is None or nxt.type != "paragraph_open" or not nxt.map or nxt.map[0] != tok.map[0]:
        return None
    first = lines[tok.map[0]]
    marker = _ITEM_MARKER.match(first)
    content = first[marker.end() :] if marker else first
    source, explicit, attrs = _split_heading_attrs(content.rstrip())
    if explicit is None and not attrs:
        return None
    return source, explicit, attrs


def _parse_markdown(text: str, *, filename: str | None, source_sha256: str | None) -> ParsedConstitution:
    _check_unicode(text, filename)
    sha = source_sha256 or hashlib.sha256(text.encode("utf-8")).hexdigest()
    src = _to_lf(text.removeprefix("\ufeff"))
    lines = src.split("\n")
    try:
        tokens = _markdown().parse(src)
    except RecursionError:
        where = f"{filename}: " if filename else ""
        raise ConstitutionError(f"{where}Markdown is nested too deeply to parse") from None

    registry = _IdRegistry()
    explicit_lines: dict[str, int] = {}  # explicit id -> 1-based line where it was given
    nodes: list[_Node] = []
    open_sections: list[_Node] = []  # heading stack, innermost last
    stack: list[_Frame] = []  # open containers, innermost last
    root = _Frame("root")  # the current section body: its last paragraph introduces its lists
    meta: dict[str, Any] = {}
    body_start = 0
    first_heading: int | None = None
    first_h1: str | None = None
    pending_title: _Node | None = None  # item waiting for its first inline text

    for idx, tok in enumerate(tokens):
        if tok.nesting == -1:
            stack.pop()
            continue
        container = stack[-1] if stack else root
        if tok.type == "front_matter" and not stack:
            meta = _parse_front_matter(tok.content)
            body_start = tok.map[1] if tok.map else 0
        elif tok.type == "heading_open" and not stack and tok.map:
            root = _Frame("root")
            level = int(tok.tag[1])
            start = tok.map[0]
            if first_heading is None:
                first_heading = start
            while open_sections and open_sections[-1].level >= level:
                open_sections.pop().end = start
            parent = open_sections[-1] if open_sections else None
            inline = tokens[idx + 1]
            source, explicit, attrs = _split_heading_attrs(inline.content)
            title = _plain(source) if explicit is not None or attrs else _inline_plain(inline.children)
            base = explicit if explicit else (slugify(title) or "section")
            if explicit:
                _claim_explicit(explicit, start + 1, explicit_lines, filename)
            node = _Node(
                id=registry.claim(base),
                parent=parent,
                kind="section",
                title=title or (explicit or "(untitled)"),
                meta=attrs,
                start=start,
                body_start=tok.map[1],
                level=level,
            )
            if level == 1 and first_h1 is None:
                first_h1 = title
            if parent is not None:
                parent.children.append(node)
            open_sections.append(node)
            nodes.append(node)
        elif tok.type == "paragraph_open":
            container.last_para = tokens[idx + 1]
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            stack.append(_Frame(tok.type, lead=container.last_para))
            continue
        elif tok.type == "list_item_open":
            owner = _list_item_owner(stack, open_sections)
            node = None
            if owner is not None and tok.map:
                owner.item_count += 1
                found = _item_attrs(tokens, idx, lines)
                explicit = found[1] if found else None
                if explicit:
                    _claim_explicit(explicit, tok.map[0] + 1, explicit_lines, filename)
                node = _Node(
                    id=registry.claim(explicit or f"{owner.id}.{owner.item_count}"),
                    parent=owner,
                    kind="item",
                    title="",
                    meta=found[2] if found else {},
                    start=tok.map[0],
                    end=tok.map[1],
                    lead=stack[-1].lead,
                )
                if found:
                    node.first_line = found[0]
                    node.title = _truncate(_plain(found[0])) or (explicit or "")
                owner.children.append(node)
                nodes.append(node)
                pending_title = node
            stack.append(_Frame(tok.type, node=node))
            continue
        elif tok.type == "inline" and pending_title is not None and _innermost_item(stack) is pending_title:
            # the item's first text (not a nested item's) is its title
            if not pending_title.title:
                pending_title.title = _truncate(_inline_plain(tok.children, first_line=True))
            pending_title.first_inline = tok
            pending_title = None
        if tok.nesting == 1:
            stack.append(_Frame(tok.type))

    for node in open_sections:
        node.end = len(lines)

    anchors = {node.id: node.title for node in nodes}
    clauses: list[Clause] = []
    for node in nodes:
        own = _own_text(node, lines)
        title = node.title
        if node.kind == "item" and not title:
            first = next((ln for ln in own.split("\n") if ln.strip()), "")
            title = _truncate(_plain(first)) or "(empty item)"
        node.context = _context(node, anchors)
        clauses.append(
            Clause(
                id=node.id,
                parent=node.parent.id if node.parent else None,
                depth=node.depth,
                title=title,
                text=own,
                plain=text_plain(own, anchors),
                context=node.context,
                hash=clause_hash(own),
                kind="item" if node.kind == "item" else "section",
                meta=node.meta,
            )
        )

    if not clauses:
        where = f"{filename}: " if filename else ""
        if not src.strip():
            raise ConstitutionError(f"{where}empty document: no headings and no list items")
        raise ConstitutionError(f"{where}no clauses: the document has no headings (and so no list items in a section)")
    preamble_end = first_heading if first_heading is not None else len(lines)
    preamble = "\n".join(lines[body_start:preamble_end]).strip("\n")
    fm_title = meta.get("title")
    document: dict[str, Any] = {
        "title": first_h1 or (fm_title if isinstance(fm_title, str) and fm_title else None),
        "meta": meta,
        "sha256": sha,
        "filename": filename,
        "clause_count": len(clauses),
        "preamble": preamble,
        "format": "markdown",
    }
    return ParsedConstitution(document=document, clauses=clauses)


def _innermost_item(stack: list[_Frame]) -> _Node | None:
    """The clause of the nearest enclosing list item, if that item is a clause."""
    for frame in reversed(stack):
        if frame.kind == "list_item_open":
            return frame.node
    return None


def _list_item_owner(stack: list[_Frame], open_sections: list[_Node]) -> _Node | None:
    """Which clause a new list item belongs to, or None if it is not a clause.

    A list directly in a section body belongs to the section; a list directly in a
    clause item belongs to that item; anything inside a block quote, admonition or
    an item that is not a clause (or before the first heading) is plain text.
    """
    if not stack or stack[-1].kind not in ("bullet_list_open", "ordered_list_open"):
        return None
    if len(stack) == 1:
        return open_sections[-1] if open_sections else None
    frame = stack[-2]
    return frame.node if frame.kind == "list_item_open" else None


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------

_JSON_KEYS = {"id", "text", "title"}
_BAD_ID = re.compile(r"\s")


def parse_json(text: str, *, filename: str | None = None) -> ParsedConstitution:
    """Parse a flat JSON list of principles (strings, or ``{"id", "text", "title"?}``
    objects); each becomes a top-level section clause."""
    where = f"{filename}: " if filename else ""
    _check_unicode(text, filename)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as err:
        raise ConstitutionError(f"{where}invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    except RecursionError:
        raise ConstitutionError(f"{where}JSON is nested too deeply") from None
    except ValueError:  # more digits than Python converts (sys.int_max_str_digits)
        raise ConstitutionError(f"{where}invalid JSON: a number has too many digits") from None
    if not isinstance(data, list):
        raise ConstitutionError(f"{where}expected a JSON array of principles, got {_json_type(data)}")
    if not data:
        raise ConstitutionError(f"{where}empty list: no principles")
    clauses: list[Clause] = []
    seen: set[str] = set()
    for i, entry in enumerate(data):
        ident, body, title = _json_entry(i, entry, where)
        if not body.strip():
            raise ConstitutionError(f"{where}principle [{i}]: text is empty")
        if ident in seen:
            raise ConstitutionError(f"{where}principle [{i}]: duplicate id {ident!r}")
        seen.add(ident)
        body = _to_lf(body)
        if not title or not title.strip():
            first = next(ln for ln in body.split("\n") if ln.strip())
            title = _truncate(_plain(first)) or _truncate(first.strip())
        clauses.append(
            Clause(
                id=ident,
                parent=None,
                depth=1,
                title=_SPACES.sub(" ", title).strip(),
                text=body,
                plain=text_plain(body),
                hash=clause_hash(body),
                kind="section",
            )
        )
    document: dict[str, Any] = {
        "title": None,
        "meta": {},
        "sha256": sha,
        "filename": filename,
        "clause_count": len(clauses),
        "preamble": "",
        "format": "json",
    }
    return ParsedConstitution(document=document, clauses=clauses)


def _json_entry(i: int, entry: Any, where: str) -> tuple[str, str, str | None]:
    """(id, text, title) of one JSON principle, or a ConstitutionError naming its index."""
    if isinstance(entry, str):
        return f"p{i + 1}", entry, None
    if not isinstance(entry, dict):
        raise ConstitutionError(f"{where}principle [{i}]: expected a string or an object, got {_json_type(entry)}")
    unknown = sorted(set(entry) - _JSON_KEYS)
    if unknown:
        raise ConstitutionError(f"{where}principle [{i}]: unknown key {unknown[0]!r} (allowed: id, text, title)")
    ident, body, title = entry.get("id"), entry.get("text"), entry.get("title")
    if not isinstance(ident, str) or not ident.strip() or _BAD_ID.search(ident):
        raise ConstitutionError(f'{where}principle [{i}]: "id" must be a non-empty string without spaces')
    if not isinstance(body, str):
        raise ConstitutionError(f'{where}principle [{i}]: "text" must be a string')
    if title is not None and not isinstance(title, str):
        raise ConstitutionError(f'{where}principle [{i}]: "title" must be a string')
    return ident, body, title


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def parse_file(path: Path) -> ParsedConstitution:
    """Read and parse a constitution file: ``.json`` as a principle list, anything else
    as Markdown. Every failure is a ConstitutionError naming the path."""
    path = Path(path)
    raw = read_bytes(path, ConstitutionError, what="constitution file", kind="constitution")
    text = decode(raw, str(path), ConstitutionError)
    sha = hashlib.sha256(raw).hexdigest()
    name = path.name
    if path.suffix.lower() == ".json":
        try:
            parsed = parse_json(text, filename=name)
        except ConstitutionError as err:
            raise ConstitutionError(f"{path}: {str(err).removeprefix(name + ': ')}") from None
        parsed.document["sha256"] = sha
        return parsed
    try:
        return _parse_markdown(text, filename=name, source_sha256=sha)
    except ConstitutionError as err:
        raise ConstitutionError(f"{path}: {str(err).removeprefix(name + ': ')}") from None
