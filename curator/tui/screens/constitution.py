"""The Constitution screen: the clause tree with coverage badges and link problems, the selected
clause's text, and the examples linked to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, Tree
from textual.widgets.tree import TreeNode

from curator.agreement import LOW_AGREEMENT, is_low
from curator.annotation import clause_agreement
from curator.models import Clause
from curator.store.clauses import current_clauses, current_version
from curator.store.db import WorkspaceDB
from curator.store.links import LinkedExample, linked_examples, orphaned_link_count
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter

EXPANDED_NODES = 400
"""Clauses shown expanded on opening, at most (breadth first, down to depth 2): the rest wait for
a keypress, so a very long constitution opens as fast as a short one."""


@dataclass
class ClauseStats:
    """Examples linked to a clause or any of its descendants (distinct counts), and link problems."""

    approved: int = 0
    linked: int = 0
    stale: int = 0
    orphaned: int = 0
    agreement: tuple[float, int] | None = None
    """Blind annotators' binary alpha on linking the clause and the records in the sample (None: not measured)."""

    @property
    def unclear(self) -> bool:
        """Annotators agree too little on this clause (alpha below LOW_AGREEMENT): its text may be unclear."""
        return self.agreement is not None and is_low(self.agreement[0])


@dataclass
class ClauseData:
    version: dict[str, object] | None
    clauses: list[Clause]
    stats: dict[str, ClauseStats]
    orphaned: int


def load_clause_tree(db: WorkspaceDB) -> ClauseData:
    """Clauses of the current version without counts: what the first paint needs (milliseconds)."""
    return ClauseData(current_version(db), current_clauses(db), {}, 0)


def load_clause_data(db: WorkspaceDB) -> ClauseData:
    """Clauses of the current version with rolled-up badges and the annotators' agreement per clause
    (runs in a worker thread).

    Reuses the coverage core (two index scans + numpy), ~3x faster than walking every link here.
    """
    from curator import coverage

    report = coverage.compute(db)
    version = current_version(db)
    clauses = current_clauses(db)
    stats: dict[str, ClauseStats] = {}
    for row in report.clauses:
        approved = sum(row.total[k]["approved"] for k in row.total)
        linked = sum(sum(by_status.values()) for by_status in row.total.values())
        stats[row.id] = ClauseStats(approved, linked, row.stale, row.orphaned)
    for clause_id, value in clause_agreement(db).items():
        stats.setdefault(clause_id, ClauseStats()).agreement = value
    orphaned = orphaned_link_count(db)
    return ClauseData(version, clauses, stats, orphaned)


def clause_body(clause: Clause) -> str:
    """What the detail pane shows under the context: the clause's plain text (never its Markdown)."""
    if clause.plain:
        return clause.plain
    return "(no text of its own: see the clauses below it)"


class ClauseTree(Tree[str]):
    """The clause tree, each line cut with "…" at the pane's edge: a long clause title never makes
    the pane scroll sideways (the detail pane beside it shows the whole clause)."""

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        depth = 0
        parent = node.parent
        while parent is not None and (parent is not self.root or self.show_root):
            depth += 1
            parent = parent.parent
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if room > 0 and label.cell_len > room:
            label.truncate(room, overflow="ellipsis")
        return label


class ConstitutionScreen(Screen[None]):
    """Browse the constitution's sections and clauses, see what teaches each one."""

    HELP_NAME = "Constitution"

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_example", "New example", tooltip="Write a new example linked to the highlighted clause"),
        Binding("enter", "open_example", "Open example", show=False),
        Binding("r", "reload", "Reload", tooltip="Re-read the constitution from the workspace", show=False),
        Binding("e", "expand_all", "Expand all"),
        Binding("c", "collapse_all", "Collapse all"),
        Binding("tab", "focus_next", "Switch pane", show=False),
    ]

    class Loaded(Message):
        """Clauses arrived from the worker."""

        def __init__(self, data: ClauseData) -> None:
            super().__init__()
            self.data = data

    class LinksLoaded(Message):
        def __init__(self, clause_id: str, rows: list[LinkedExample]) -> None:
            super().__init__()
            self.clause_id = clause_id
            self.rows = rows

    def __init__(self) -> None:
        super().__init__()
        self.clauses: dict[str, Clause] = {}
        self.nodes: dict[str, TreeNode[str]] = {}
        """Tree nodes added so far (children are added when their parent is first expanded)."""
        self.clause_children: dict[str, list[Clause]] = {}
        self.stats: dict[str, ClauseStats] = {}
        self.selected: str | None = None
        self._pending_select: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield ClauseTree(plain("Constitution"), id="clause-tree")
            with Vertical(id="clause-side"):
                with VerticalScroll(id="clause-detail"):
                    yield Static(id="clause-heading")
                    yield Static(id="clause-context")
                    yield Static(id="clause-text")
                yield Static(content("Linked examples"), id="links-title")
                yield FitTable(id="clause-links", cursor_type="row", zebra_stripes=True, flex="title")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#clause-links", DataTable)
        for name in ("id", "kind", "status", "link", "title"):
            table.add_column(name, key=name)
        self.query_one("#clause-tree", Tree).loading = True
        self.load()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="constitution-load")
    def load(self) -> None:
        db = self.app.workspace.db  # type: ignore[attr-defined]
        if not self.clauses:  # first paint: the tree now, the badges (a corpus-wide count) right after
            self.post_message(self.Loaded(load_clause_tree(db)))
        self.post_message(self.Loaded(load_clause_data(db)))

    def on_constitution_screen_loaded(self, message: Loaded) -> None:
        data = message.data
        tree: Tree[str] = self.query_one("#clause-tree", Tree)
        tree.loading = False
        expanded = {cid for cid, node in self.nodes.items() if node.is_expanded}
        tree.clear()
        self.clauses = {c.id: c for c in data.clauses}
        self.stats = data.stats
        self.nodes = {}
        self.clause_children = {}
        for clause in data.clauses:
            self.clause_children.setdefault(clause.parent or "", []).append(clause)
        title = (data.version or {}).get("title") or "Constitution"
        tree.root.set_label(join((str(title), "bold")))
        # a document with one top-level heading is that heading: showing the root too would show
        # its title twice, on two lines
        tree.show_root = len(self.clause_children.get("", [])) != 1
        # nodes are added level by level as they are expanded: a 10,000-clause document would
        # otherwise take half a minute to build before the first paint
        self._add_clause_nodes(tree.root, "")
        budget = EXPANDED_NODES
        level = [c for c in self.clause_children.get("", [])]
        while level:
            following: list[Clause] = []
            for clause in level:
                kids = self.clause_children.get(clause.id, [])
                wanted = clause.id in expanded or (clause.depth <= 2 and len(kids) <= budget)
                if kids and wanted:
                    budget -= len(kids)
                    node = self.nodes[clause.id]
                    self._add_clause_nodes(node, clause.id)
                    node.expand()
                    following.extend(kids)
            level = following
        tree.root.expand()
        heading = self.query_one("#clause-heading", Static)
        if not data.clauses:
            heading.update(content("No constitution imported yet: run `curator constitution import FILE`."))
        elif data.orphaned:
            heading.update(
                join(
                    (f"{data.orphaned} links point at removed clauses", "bold red"),
                    " (see `curator constitution stale`)",
                )
            )
        target = self._pending_select or self.selected
        if not target and data.clauses and not data.orphaned:
            target = data.clauses[0].id  # the detail pane is never empty while a clause could show
        if target:
            shown = self.selected
            self.select_clause(target)
            if target == shown and not data.orphaned and target in self.clauses:
                # the cursor stayed, the agreement in its heading may have changed
                clause = self.clauses[target]
                self.query_one("#clause-heading", Static).update(self.clause_heading(clause, self.path_of(clause)))

    def _label(self, clause: Clause) -> Text:
        s = self.stats.get(clause.id, ClauseStats())
        badge_style = "dim" if not s.linked else ("green" if s.approved else "yellow")
        parts: list[tuple[str, str] | str] = [(f"{s.approved}/{s.linked} ", badge_style)]
        if s.unclear:  # before the title: a long title is cut at the pane's edge, the mark stays
            parts.append(("unclear? ", "bold yellow"))
        if clause.kind == "item":
            parts.append((clause.id + " ", "italic"))
        parts.append(clause.title)
        if s.stale:
            parts.append((f"  ◆{s.stale} stale", "bold yellow"))
        if s.orphaned:
            parts.append((f"  ✕{s.orphaned} orphaned", "bold red"))
        return join(*parts)

    def _add_clause_nodes(self, node: TreeNode[str], parent_id: str) -> None:
        """Add the clauses directly below `parent_id` under `node` (once)."""
        for clause in self.clause_children.get(parent_id, []):
            if clause.id in self.nodes:
                continue
            if self.clause_children.get(clause.id):
                child = node.add(self._label(clause), data=clause.id, allow_expand=True)
            else:
                child = node.add_leaf(self._label(clause), data=clause.id)
            self.nodes[clause.id] = child

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        clause_id = event.node.data
        if clause_id and not event.node.children:
            self._add_clause_nodes(event.node, clause_id)

    def _reveal(self, clause_id: str) -> TreeNode[str] | None:
        """The clause's node, adding its ancestors' children on the way down (None: no such clause)."""
        path: list[str] = []
        cur = self.clauses.get(clause_id)
        while cur is not None:
            path.append(cur.id)
            cur = self.clauses.get(cur.parent or "")
        for ancestor in reversed(path[1:]):
            node = self.nodes.get(ancestor)
            if node is not None and not node.children:
                self._add_clause_nodes(node, ancestor)
        return self.nodes.get(clause_id)

    def select_clause(self, clause_id: str) -> None:
        """Move the cursor to a clause (used by the command palette)."""
        node = self._reveal(clause_id) if self.clauses else None
        if node is None:
            self._pending_select = clause_id
            return
        self._pending_select = None
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        tree = self.query_one("#clause-tree", Tree)
        if node.line < 0:
            # added or revealed just now: the tree numbers its lines lazily (on idle); reading its
            # lines numbers them now, so the cursor lands on the node and not on the root
            _ = tree._tree_lines
        tree.move_cursor(node)
        tree.focus()
        if self.selected != clause_id:  # the cursor may already sit there: no highlight event then
            self.show_clause(clause_id)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        self.show_clause(event.node.data or "")

    def path_of(self, clause: Clause) -> list[str]:
        """The titles from the clause up to the top."""
        path = []
        cur: Clause | None = clause
        while cur is not None:
            path.append(cur.title)
            cur = self.clauses.get(cur.parent or "")
        return path

    def clause_heading(self, clause: Clause, path: list[str]) -> Text:
        """Id, path (`path`: the titles from the clause up), attributes, and the annotators' agreement."""
        meta = "  ".join(f"{k}={v}" for k, v in sorted(clause.meta.items()))
        heading: list[tuple[str, str] | str] = [(clause.id, "bold"), "   ", (" › ".join(reversed(path)), "dim")]
        if meta:
            heading.append("   " + meta)
        agreement = self.stats.get(clause.id, ClauseStats()).agreement
        if agreement is not None:
            alpha, n = agreement
            low = is_low(alpha)
            heading.append(
                (
                    f"\nannotators' agreement: alpha {alpha:.2f} over {n} records"
                    + (f" (below {LOW_AGREEMENT}): unclear? its text may read two ways" if low else ""),
                    "bold yellow" if low else "dim",
                )
            )
        return join(*heading)

    def show_clause(self, clause_id: str) -> None:
        """The clause's path, context, text and linked examples in the detail pane."""
        clause = self.clauses.get(clause_id)
        if clause is None:
            return
        self.selected = clause.id
        self.query_one("#clause-heading", Static).update(self.clause_heading(clause, self.path_of(clause)))
        context_view = self.query_one("#clause-context", Static)
        context_view.update(plain(clause.context, "italic") if clause.context else content(""))
        context_view.display = bool(clause.context)
        self.query_one("#clause-text", Static).update(content(clause_body(clause)))
        self.load_links(clause.id)

    @work(thread=True, exclusive=True, group="constitution-links")
    def load_links(self, clause_id: str) -> None:
        rows = linked_examples(self.app.workspace.db, clause_id)  # type: ignore[attr-defined]
        self.post_message(self.LinksLoaded(clause_id, rows))

    def on_constitution_screen_links_loaded(self, message: LinksLoaded) -> None:
        if message.clause_id != self.selected:
            return
        table = self.query_one("#clause-links", DataTable)
        table.clear()
        for eid, kind, status, state, title in message.rows:
            state_style = {"stale": "yellow", "orphaned": "red"}.get(state, "dim")
            table.add_row(plain(eid), plain(kind), plain(status), plain(state, state_style), clipped(title), key=eid)
        self.query_one("#links-title", Static).update(
            content(f"Linked examples ({len(message.rows)}) — Enter opens, n writes a new one for this clause")
        )

    @on(DataTable.RowSelected, "#clause-links")
    def _open_row(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.open_editor(event.row_key.value)  # type: ignore[attr-defined]

    def action_open_example(self) -> None:
        table = self.query_one("#clause-links", DataTable)
        if table.has_focus and table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.app.open_editor(key)  # type: ignore[attr-defined]

    def action_new_example(self) -> None:
        clauses = (self.selected,) if self.selected else ()
        self.app.open_editor(None, kind="story", clauses=clauses)  # type: ignore[attr-defined]

    def action_focus_next(self) -> None:
        """Tab moves between the clause tree and the linked examples (the tree would keep it)."""
        self.focus_next()

    def action_reload(self) -> None:
        self.load()

    def action_expand_all(self) -> None:
        for clause_id in list(self.clauses):  # every node must exist before it can be expanded
            self._reveal(clause_id)
        self.query_one("#clause-tree", Tree).root.expand_all()

    def action_collapse_all(self) -> None:
        tree = self.query_one("#clause-tree", Tree)
        tree.root.collapse_all()
        tree.root.expand()
