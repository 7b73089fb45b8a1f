"""Parse a constitution (Markdown or a flat JSON list) into clauses (see docs/architecture.md, Contracts).

Pure: no printing, no UI, no database. Markdown is tokenised by markdown-it-py and
each clause's text is cut from the *source lines* (via the tokens' line maps), so
what a user sees is what the author wrote, and the hash changes only when the
clause's own words change.
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
from typing import Any, TypedDict

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from curator.errors import ConstitutionError
from curator.files import decode, read_bytes
from curator.models import Clause, ParsedConstitution

__all__ = [
    "clause_hash",
    "normalize_clause_text",
    "parse_file",
    "parse_json",
    "parse_markdown",
    "slugify",
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


def _inline_plain(children: list[Token] | None, *, first_line: bool = False) -> str:
    """Rendered text of inline tokens: no markup, links become their text, code its content."""
    parts: list[str] = []
    for child in children or []:
        if child.type in ("text", "code_inline", "text_special"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            if first_line:
                break
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_plain(child.children))
    text = _FOOTNOTE_REF.sub("", "".join(parts))
    return _SPACES.sub(" ", text).strip()


def _plain(source: str) -> str:
    """Plain text of a Markdown inline source string."""
    tokens = _markdown().parseInline(source)
    return _inline_plain(tokens[0].children if tokens else None)


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
    level: int = 0  # heading level, sections only
    children: list[_Node] = field(default_factory=list)
    item_count: int = 0
    depth: int = field(init=False)

    def __post_init__(self) -> None:
        self.depth = 1 if self.parent is None else self.parent.depth + 1


def _own_text(node: _Node, lines: list[str]) -> str:
    """The node's span minus its children's spans, readable: pieces joined by one blank line."""
    pieces: list[list[str]] = []
    pos = node.start
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
    text = "\n".join(out)
    if node.kind == "item":
        text = textwrap.dedent(text)
    return text


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
    # Container stack: (token type, clause node for list items that are clauses).
    stack: list[tuple[str, _Node | None]] = []
    meta: dict[str, Any] = {}
    body_start = 0
    first_heading: int | None = None
    first_h1: str | None = None
    pending_title: _Node | None = None  # item waiting for its first inline text

    for idx, tok in enumerate(tokens):
        if tok.nesting == -1:
            stack.pop()
            continue
        if tok.type == "front_matter" and not stack:
            meta = _parse_front_matter(tok.content)
            body_start = tok.map[1] if tok.map else 0
        elif tok.type == "heading_open" and not stack and tok.map:
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
                if explicit in explicit_lines:
                    where = f"{filename}: " if filename else ""
                    raise ConstitutionError(
                        f"{where}duplicate explicit id {explicit!r} on lines {explicit_lines[explicit]} and {start + 1}"
                    )
                explicit_lines[explicit] = start + 1
            node = _Node(
                id=registry.claim(base),
                parent=parent,
                kind="section",
                title=title or (explicit or "(untitled)"),
                meta=attrs,
                start=start,
                level=level,
            )
            if level == 1 and first_h1 is None:
                first_h1 = title
            if parent is not None:
                parent.children.append(node)
            open_sections.append(node)
            nodes.append(node)
        elif tok.type == "list_item_open":
            owner = _list_item_owner(stack, open_sections)
            node = None
            if owner is not None and tok.map:
                owner.item_count += 1
                node = _Node(
                    id=registry.claim(f"{owner.id}.{owner.item_count}"),
                    parent=owner,
                    kind="item",
                    title="",
                    meta={},
                    start=tok.map[0],
                    end=tok.map[1],
                )
                owner.children.append(node)
                nodes.append(node)
                pending_title = node
            stack.append((tok.type, node))
            continue
        elif tok.type == "inline" and pending_title is not None and _innermost_item(stack) is pending_title:
            # the item's first text (not a nested item's) is its title
            pending_title.title = _truncate(_inline_plain(tok.children, first_line=True))
            pending_title = None
        if tok.nesting == 1:
            stack.append((tok.type, None))

    for node in open_sections:
        node.end = len(lines)

    clauses: list[Clause] = []
    for node in nodes:
        own = _own_text(node, lines)
        title = node.title
        if node.kind == "item" and not title:
            first = next((ln for ln in own.split("\n") if ln.strip()), "")
            title = _truncate(_plain(_ITEM_MARKER.sub("", first, count=1))) or "(empty item)"
        clauses.append(
            Clause(
                id=node.id,
                parent=node.parent.id if node.parent else None,
                depth=node.depth,
                title=title,
                text=own,
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


def _innermost_item(stack: list[tuple[str, _Node | None]]) -> _Node | None:
    """The clause of the nearest enclosing list item, if that item is a clause."""
    for kind, node in reversed(stack):
        if kind == "list_item_open":
            return node
    return None


def _list_item_owner(stack: list[tuple[str, _Node | None]], open_sections: list[_Node]) -> _Node | None:
    """Which clause a new list item belongs to, or None if it is not a clause.

    A list directly in a section body belongs to the section; a list directly in a
    clause item belongs to that item; anything inside a block quote, admonition or
    an item that is not a clause (or before the first heading) is plain text.
    """
    if not stack or stack[-1][0] not in ("bullet_list_open", "ordered_list_open"):
        return None
    if len(stack) == 1:
        return open_sections[-1] if open_sections else None
    kind, node = stack[-2]
    return node if kind == "list_item_open" else None


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
    raw = read_bytes(path, ConstitutionError)
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


# ---------------------------------------------------------------------------
# The clause list as JSON (`curator constitution show --format json`)
# ---------------------------------------------------------------------------


class DocumentJSON(TypedDict):
    title: str | None
    sha256: str | None
    metadata: dict[str, Any]
    """Front matter."""


class ClauseJSON(TypedDict):
    id: str
    parent: str | None
    depth: int
    title: str
    text: str
    hash: str
    metadata: dict[str, str]
    """Heading attributes other than the id."""


class ConstitutionJSON(TypedDict):
    document: DocumentJSON
    clauses: list[ClauseJSON]


def clause_json(clause: Clause) -> ClauseJSON:
    """One clause in the clause-list contract (docs/architecture.md, Contracts)."""
    return {
        "id": clause.id,
        "parent": clause.parent,
        "depth": clause.depth,
        "title": clause.title,
        "text": clause.text,
        "hash": clause.hash,
        "metadata": clause.meta,
    }


def constitution_json(parsed: ParsedConstitution) -> ConstitutionJSON:
    """The document and its clauses in document order, with fixed keys (docs/architecture.md, Contracts)."""
    doc = parsed.document
    return {
        "document": {"title": doc.get("title"), "sha256": doc.get("sha256"), "metadata": doc.get("meta", {})},
        "clauses": [clause_json(c) for c in parsed.clauses],
    }
