"""Free-text search over records: a full-text index of which records hold a term (not where), and
an exact check of the few query words that stand for several terms.

The index is FTS5 with `detail=none`: per term, the records that hold it. That is a sixth of a
positional index (the largest saving in a workspace's size), and enough for what curator asks:
every typed word must be in the record, the last one as a prefix. A typed word that the tokenizer
splits into several terms ("self-exfiltration", "don't", "gpt-4") means those terms side by side,
which needs positions. Such a query first finds the records holding all the terms, then each of
those is checked against the typed phrase by the same tokenizer (a one-record positional index in
memory), so the answer is exactly what a positional index gives.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from curator.models import Example

TOKENIZE = "unicode61"
"""The tokenizer of the index, and of the in-memory index that checks phrases and splits words."""

INDEX_SQL = (
    f"CREATE VIRTUAL TABLE examples_fts USING fts5(title, search_text, content='', detail=none, tokenize='{TOKENIZE}')"
)
"""The workspace's search index: contentless (the writer indexes each record's text and removes
its old terms itself) and without positions. It keeps each record's column sizes (~11 bytes a
record): without them the index cannot list or count its rows, which checks rely on."""

PHRASE_FUNCTION = "curator_phrase_match"
"""SQL function (record JSON, FTS5 query) -> 1 when the record matches the query with positions;
registered on every workspace connection (`register`)."""

NOTHING = '""'
"""A query that matches no record."""

_local = threading.local()


def search_text(ex: Example, content: str | None = None) -> str:
    """What the index holds for a record besides its title: its content and rationale.

    The index keeps no copy of it, so removing a record's old terms takes this same text again.
    """
    if content is None:
        content = ex.searchable_text()
    return (ex.rationale + "\n" + content) if ex.rationale else content


def _scratch() -> sqlite3.Connection:
    """This thread's in-memory database: a positional index of one record, and its term list."""
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:")
        conn.execute(f"CREATE VIRTUAL TABLE one USING fts5(title, search_text, tokenize='{TOKENIZE}')")
        conn.execute("CREATE VIRTUAL TABLE one_terms USING fts5vocab(one, 'instance')")
        _local.conn = conn
    return conn


def terms(text: str) -> list[str]:
    """The terms the index's tokenizer makes of `text`, in order (folded as the index folds them)."""
    conn = _scratch()
    with conn:
        conn.execute("INSERT INTO one (rowid, title, search_text) VALUES (1, '', ?)", [text])
        found = [t for (t,) in conn.execute("SELECT term FROM one_terms ORDER BY offset")]
        conn.execute("DELETE FROM one")
    return found


def _quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts_query(text: str) -> str:
    """Free text as a safe FTS5 query: every word quoted, all must match (prefix on the last)."""
    words = text.split()
    if not words:
        return NOTHING
    quoted = [_quote(w) for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def plan(text: str) -> tuple[str, str | None]:
    """(query the index can answer, phrase query each found record must also match, or None).

    When every typed word is one term the index answers the query itself. Otherwise it finds
    the records holding every term (the last word's last term as a prefix), a superset of the
    answer, and the typed query, checked with positions, keeps the right ones.
    """
    words = text.split()
    if not words:
        return NOTHING, None
    split = [terms(w) for w in words]
    if all(len(t) == 1 for t in split):
        return fts_query(text), None
    parts = [_quote(t) for ts in split for t in ts]
    if not parts:
        return NOTHING, None  # only punctuation: a positional index matches nothing either
    if split[-1]:
        parts[-1] += "*"
    return " ".join(parts), fts_query(text)


def matches_phrase(record_json: str, query: str) -> bool:
    """Whether the record's title or search text matches `query` in a positional index."""
    ex = Example.model_validate_json(record_json)
    conn = _scratch()
    with conn:
        conn.execute("INSERT INTO one (rowid, title, search_text) VALUES (1, ?, ?)", [ex.title, search_text(ex)])
        hit = conn.execute("SELECT count(*) FROM one WHERE one MATCH ?", [query]).fetchone()[0]
        conn.execute("DELETE FROM one")
    return bool(hit)


def _phrase_match(record_json: str | None, query: str | None) -> int:
    if record_json is None or query is None:
        return 0
    return int(matches_phrase(record_json, query))


def register(conn: sqlite3.Connection) -> None:
    """Make the phrase check available to this connection's SQL."""
    conn.create_function(PHRASE_FUNCTION, 2, _phrase_match, deterministic=True)


def text_filter(text: str) -> tuple[str, list[Any]]:
    """SQL (`AND ...`, over `examples e`) keeping the records that match `text`, and its parameters."""
    query, phrase = plan(text)
    sql = " AND e.rowid IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)"
    if phrase is None:
        return sql, [query]
    return sql + f" AND {PHRASE_FUNCTION}(e.record, ?)", [query, phrase]


def index_rows(rows: Iterable[tuple[int, str]]) -> Iterable[tuple[int, str, str]]:
    """(rowid, title, search text) of stored (rowid, record JSON) rows, for filling the index."""
    for rowid, record in rows:
        ex = Example.model_validate_json(record)
        yield rowid, ex.title, search_text(ex)


def rebuild(db: Any, batch: int = 5000) -> int:
    """Fill an empty index from every stored record (live and deleted: filters pick); returns how many."""
    conn: sqlite3.Connection = db.conn
    done = 0
    last = 0
    while True:
        rows: Sequence[tuple[int, str]] = conn.execute(
            "SELECT rowid, record FROM examples WHERE rowid > ? ORDER BY rowid LIMIT ?", [last, batch]
        ).fetchall()
        if not rows:
            return done
        conn.executemany("INSERT INTO examples_fts (rowid, title, search_text) VALUES (?, ?, ?)", index_rows(rows))
        done += len(rows)
        last = rows[-1][0]
