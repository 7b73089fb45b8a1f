"""The Constitution screen: the clause tree, and the selected clause's text and links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Markdown, Static, Tree
from textual.widgets.tree import TreeNode

from curator.models import Clause
from curator.store.clauses import current_clauses, current_version
from curator.tui.safe import content, join, plain


@dataclass
class ClauseStats:
    """Linked examples of one clause: approved and all."""

    approved: int = 0
    total: int = 0


def load_clause_data(db: object) -> tuple[dict[str, object] | None, list[Clause], dict[str, ClauseStats]]:
    """Clauses of the current version and per-clause link counts (run in a worker thread)."""
    from sqlite_utils import Database

    assert isinstance(db, Database)
    version = current_version(db)
    clauses = current_clauses(db)
    stats: dict[str, ClauseStats] = {}
    for clause_id, status, n in db.execute(
        "SELECT l.clause_id, e.status, count(*) FROM example_clauses l JOIN examples e ON e.id = l.example_id "
        "GROUP BY l.clause_id, e.status"
    ):
        s = stats.setdefault(clause_id, ClauseStats())
        s.total += n
        if status == "approved":
            s.approved += n
    return version, clauses, stats


class ConstitutionScreen(Screen[None]):
    """Browse the constitution's sections and clauses."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Reload", tooltip="Re-read the constitution from the workspace"),
        Binding("e", "expand_all", "Expand all"),
        Binding("c", "collapse_all", "Collapse all"),
    ]

    class Loaded(Message):
        """Clauses arrived from the worker."""

        def __init__(
            self, version: dict[str, object] | None, clauses: list[Clause], stats: dict[str, ClauseStats]
        ) -> None:
            super().__init__()
            self.version = version
            self.clauses = clauses
            self.stats = stats

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield Tree(plain("Constitution"), id="clause-tree")
            with VerticalScroll(id="clause-detail"):
                yield Static(id="clause-heading")
                yield Markdown(id="clause-text")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one("#clause-tree", Tree)
        tree.loading = True
        self.clauses: dict[str, Clause] = {}
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        version, clauses, stats = load_clause_data(self.app.workspace.db)  # type: ignore[attr-defined]
        self.post_message(self.Loaded(version, clauses, stats))

    def on_constitution_screen_loaded(self, message: Loaded) -> None:
        tree: Tree[str] = self.query_one("#clause-tree", Tree)
        tree.loading = False
        tree.clear()
        self.clauses = {c.id: c for c in message.clauses}
        title = (message.version or {}).get("title") or "Constitution"
        tree.root.set_label(join((str(title), "bold")))
        nodes: dict[str, TreeNode[str]] = {}
        for clause in message.clauses:
            parent = nodes.get(clause.parent or "", tree.root)
            s = message.stats.get(clause.id, ClauseStats())
            label = join((f"{s.approved}/{s.total} ", "dim" if not s.total else "green"), clause.title)
            if clause.kind == "item":
                label = join(
                    (f"{s.approved}/{s.total} ", "dim" if not s.total else "green"),
                    (clause.id + " ", "italic"),
                    clause.title,
                )
                nodes[clause.id] = parent.add_leaf(label, data=clause.id)
            else:
                nodes[clause.id] = parent.add(label, data=clause.id, expand=clause.depth == 1)
        tree.root.expand()
        if not message.clauses:
            self.query_one("#clause-heading", Static).update(
                content("No constitution imported yet: run `curator constitution import FILE`.")
            )

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        clause = self.clauses.get(event.node.data or "")
        if clause is None:
            return
        path = []
        cur: Clause | None = clause
        while cur is not None:
            path.append(cur.title)
            cur = self.clauses.get(cur.parent or "")
        meta = "  ".join(f"{k}={v}" for k, v in sorted(clause.meta.items()))
        self.query_one("#clause-heading", Static).update(
            join((clause.id, "bold"), "   ", (" › ".join(reversed(path)), "dim"), ("   " + meta if meta else ""))
        )
        self.query_one("#clause-text", Markdown).update(clause.text)

    def action_reload(self) -> None:
        self.load()

    def action_expand_all(self) -> None:
        self.query_one("#clause-tree", Tree).root.expand_all()

    def action_collapse_all(self) -> None:
        tree = self.query_one("#clause-tree", Tree)
        tree.root.collapse_all()
        tree.root.expand()
