"""Command palette: jump to a clause or an example, start a new example, go to a screen.

Data (titles, ids) is shown through `safe.highlight`, never through Textual's markup-parsing
`Matcher.highlight`; `help` strings (parsed as markup by the palette) never carry data.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from curator.models import KINDS
from curator.store.clauses import current_clauses
from curator.store.examples import find_by_id_or_title
from curator.tui.safe import highlight

if TYPE_CHECKING:
    from curator.tui.app import CuratorApp

SCREENS = {
    "constitution": "Constitution",
    "examples": "Examples",
    "review": "Review queue",
    "coverage": "Coverage",
    "export": "Export",
    "evals": "Evals",
}


class CuratorCommands(Provider):
    """Clauses, examples, new examples and screens."""

    @property
    def curator(self) -> CuratorApp:
        return self.app  # type: ignore[return-value]

    def _static(self) -> list[tuple[str, Any, str]]:
        app = self.curator
        items: list[tuple[str, Any, str]] = []
        for mode, name in SCREENS.items():
            items.append((f"Go to {name}", partial(app.switch_mode, mode), "screen"))
        for kind in KINDS:
            items.append((f"New {kind} example", partial(app.open_editor, None, kind=kind), "new"))
        items.append(("Go to Annotation queue (blind)", app.action_open_annotation, "screen"))
        items.append(("Go to Adjudicate disagreements", app.action_open_adjudication, "screen"))
        items.append(("Switch user", app.action_switch_user, "user"))
        return items

    async def discover(self) -> Hits:
        for text, command, _ in self._static():
            yield DiscoveryHit(highlight(text, ""), command, text=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, _ in self._static():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, highlight(text, query), command, text=text)
        clauses, rows = await self._data(query)
        for clause in clauses:
            text = f"Clause {clause.id}  {clause.title}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, highlight(text, query), partial(self.curator.open_clause, clause.id), text=text)
        for eid, title in rows:
            text = f"Example {eid}  {title}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, highlight(text, query), partial(self.curator.open_editor, eid), text=text)

    async def _data(self, query: str) -> tuple[list[Any], list[tuple[str, str]]]:
        def read() -> tuple[list[Any], list[tuple[str, str]]]:
            db = self.curator.workspace.db
            return current_clauses(db), find_by_id_or_title(db, query, limit=50)

        import asyncio

        return await asyncio.to_thread(read)
