"""Writing a command's result: `--format json` as one JSON document, or a text rendering.

Every command writes through `emit` (or `render`, when the text goes to a file), so the JSON
bytes are the same everywhere: `json.dumps(..., ensure_ascii=False, indent=2)` and a newline.
Output goes to `sys.stdout` as it is when written (never `click.echo`, which would strip
escape sequences that belong to the data).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any


def json_text(obj: Any) -> str:
    """The one JSON rendering of the CLI: indented, non-ASCII kept, a final newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def json_array(items: Iterable[Any]) -> Iterable[str]:
    """`json_text(list(items))`, byte for byte, written item by item (nothing is held but one item)."""
    first = True
    for item in items:
        body = json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  ")  # strings escape their newlines
        yield ("[\n  " if first else ",\n  ") + body
        first = False
    yield "[]\n" if first else "\n]\n"


Renderer = Callable[[], str | Iterable[str]]
"""The text of one format, whole or in pieces (a long listing is written as it is produced)."""


def _pieces(fmt: str, json: Callable[[], Any] | None, renderers: dict[str, Renderer]) -> str | Iterable[str]:
    if fmt == "json" and json is not None:
        return json_text(json())
    return renderers[fmt]()


def render(fmt: str, *, json: Callable[[], Any] | None = None, **renderers: Renderer) -> str:
    """The output for `--format fmt`: `json()` dumped for `json`, else the renderer of that name.

    Renderers are called only when chosen, so a table is never built for `--format json`.
    """
    pieces = _pieces(fmt, json, renderers)
    return pieces if isinstance(pieces, str) else "".join(pieces)


def emit(fmt: str, *, json: Callable[[], Any] | None = None, **renderers: Renderer) -> None:
    """Write the output for `--format fmt` (see `render`) to stdout."""
    pieces = _pieces(fmt, json, renderers)
    for piece in [pieces] if isinstance(pieces, str) else pieces:
        write(piece)


def write(text: str) -> None:
    sys.stdout.write(text)


def deliver(text: str, out: str | None, *, db_path: str) -> None:
    """A report to stdout, or to `out` (written aside and renamed; only a file curator wrote is replaced)."""
    if not out:
        write(text)
        return
    from pathlib import Path

    from curator.targets import write_file

    write_file(Path(out), text.encode("utf-8"), db_path=db_path)
    write(f"wrote {out}\n")


def lines(items: Iterable[str]) -> str:
    """Each item as one line (an empty iterable writes nothing)."""
    return "".join(f"{item}\n" for item in items)


def warn(text: str) -> None:
    """One line on stderr (skipped input, a gate that failed): not an error, the command goes on."""
    sys.stderr.write(f"{text}\n")


def table(rows: list[list[str]], headers: list[str], *, widths: list[int] | None = None) -> str:
    """Left-aligned columns under a header and a rule, two spaces apart, no trailing spaces.

    `widths` (each column's widest cell, header included) lets a caller that streams its rows
    write the header alone and then each row with `table_row`, the same bytes.
    """
    if widths is None:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = [table_row(headers, widths)]
    out.append("  ".join("-" * w for w in widths))
    out += [table_row(r, widths) for r in rows]
    return "\n".join(out)


def table_row(cells: list[str], widths: list[int]) -> str:
    """One row of `table`."""
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def short(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
