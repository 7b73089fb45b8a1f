"""The Coverage screen for leads: a clause x kind heat map beside the latest eval run's violations,
approved tokens per section, drill-down."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from curator import coverage
from curator.agreement import is_low
from curator.models import KINDS
from curator.tui.safe import clipped, content, join, plain
from curator.tui.screens.help import ScreenBindingCommands
from curator.tui.widgets.fit_table import FitTable
from curator.tui.widgets.footer import KeyFooter


def heat_cell(approved: int, linked: int, target: int) -> Text:
    """`approved/linked`, green when the target is met, amber when only drafts exist, red when empty."""
    if target and approved >= target:
        style = "black on green"
    elif linked:
        style = "black on yellow"
    elif target:
        style = "white on dark_red"
    else:
        style = "dim"
    return plain(f" {approved}/{linked} ", style)


def bars(rows: list[tuple[str, str, int]], width: int = 64) -> Text:
    """Approved tokens per top-level section as unicode bars fitting in `width` cells (data shown literally)."""
    top = max((v for _, _, v in rows), default=0) or 1
    digits = max((len(f"{v:,}") for _, _, v in rows), default=1)
    label = max(8, min(26, (width - digits - 2) // 2))
    bar = max(4, width - label - digits - 2)
    out = Text(end="", no_wrap=True, overflow="ellipsis")
    for _, title, value in rows:
        filled = round(bar * value / top)
        out.append(f"{title[:label]:<{label}} ")
        out.append("█" * filled, style="cyan")
        out.append(f" {value:,}\n")
    return out


def violations_cell(v: coverage.Violations | None) -> Text:
    """`4/5 80%` (violating of graded responses, rate), red when any violated; empty when not probed."""
    if v is None:
        return plain("")
    return plain(v.cell(), "bold red" if v.violations else "green")


def agreement_cell(value: tuple[float, int] | None) -> Text:
    """`0.42 n5` (the blind annotators' binary alpha on linking the clause, records in the sample), red
    below LOW_AGREEMENT; empty when no annotated record links the clause."""
    if value is None:
        return plain("")
    alpha, n = value
    return plain(f"{alpha:.2f} n{n}", "bold white on dark_red" if is_low(alpha) else "green")


CLAUSE_MIN = 16
"""Cells the clause column keeps at least; it takes what the kind columns leave, longer labels are cut."""


class CoverageScreen(Screen[None]):
    """Which clauses are taught, by which kinds, how well reviewed."""

    HELP_NAME = "Coverage"

    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {ScreenBindingCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "sort_gap", "Gap", tooltip="Largest gap (target minus approved) first"),
        Binding(
            "p",
            "sort_priority",
            "Priority",
            tooltip="Clauses the eval run violated most (Wilson lower bound) and with least approved data first",
        ),
        Binding("o", "sort_document", "Doc order", tooltip="Clauses in document order"),
        Binding("w", "write", "New example", tooltip="Write an example of the highlighted cell's kind for its clause"),
        Binding("r", "reload", "Reload", show=False),
    ]

    class Loaded(Message):
        def __init__(self, report: coverage.CoverageReport) -> None:
            super().__init__()
            self.report = report

    class DrillLoaded(Message):
        def __init__(self, rows: list[tuple[str, ...]]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self) -> None:
        super().__init__()
        self.report: coverage.CoverageReport | None = None
        self.order = "document"
        """One of `coverage.SORTS`."""

    def compose(self) -> ComposeResult:
        yield Header()
        # side by side; below 110 columns (the screen's -narrow class) the heat map takes the width
        # and the section chart and the drill-down sit under it, side by side
        with Horizontal(id="coverage-main"):
            with Vertical(id="heat-side"):
                yield Static(content("Coverage: approved/linked per clause (descendants included)"), id="heat-title")
                yield FitTable(id="heat", cursor_type="cell", zebra_stripes=False, flex="clause", flex_min=CLAUSE_MIN)
            with Vertical(id="chart-side"):
                with Vertical(id="chart-box"):
                    yield Static(content("Approved tokens per section (estimated)"), id="chart-title")
                    yield Static(id="chart")
                with Vertical(id="drill-box"):
                    yield Static(content("Examples in the selected cell"), id="drill-title")
                    yield FitTable(id="drill", cursor_type="row", flex="title")
        yield KeyFooter()

    def on_mount(self) -> None:
        heat = self.query_one("#heat", DataTable)
        heat.add_column("clause", key="clause")
        for kind in KINDS:
            heat.add_column(kind, key=kind)
        heat.add_column("gap", key="gap")
        heat.add_column("agree", key="agree")
        drill = self.query_one("#drill", DataTable)
        for name in ("id", "kind", "status", "title"):
            drill.add_column(name, key=name)
        heat.loading = True
        self.watch(self.app, "sub_title", lambda _: self._show_run(), init=False)  # a switch of user
        self.load()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="coverage")
    def load(self) -> None:
        db = self.app.workspace.db  # type: ignore[attr-defined]
        self.post_message(self.Loaded(coverage.compute(db, eval_run=coverage.LATEST_RUN)))

    def on_coverage_screen_loaded(self, message: Loaded) -> None:
        self.report = message.report
        self._fill()
        self._draw_chart()

    def _show_run(self) -> None:
        """The eval run the violations come from, after the workspace and user in the header."""
        run = self.report.eval_run if self.report else None
        self.sub_title = None if run is None else f"{self.app.sub_title} · eval {run.label()}"

    def _draw_chart(self) -> None:
        if self.report is not None:
            chart = self.query_one("#chart", Static)
            width = chart.content_region.width or 64
            chart.update(bars(coverage.top_section_tokens(self.report), width=width))

    def on_resize(self) -> None:
        self._draw_chart()

    def _fill(self) -> None:
        if self.report is None:
            return
        heat = self.query_one("#heat", DataTable)
        heat.loading = False
        heat.clear()
        run = self.report.eval_run
        if run is not None and "violations" not in heat.columns:
            heat.add_column("violations", key="violations")
        elif run is None and "violations" in heat.columns:
            heat.remove_column("violations")
        self._show_run()
        for r in coverage.sort_clauses(self.report.clauses, self.order):
            gap = r.gap  # a container is never a gap
            cells = [
                heat_cell(r.total[k]["approved"], sum(r.total[k].values()), r.target if r.depth > 1 else 0)
                for k in KINDS
            ]
            label = join(("  " * (r.depth - 1)) + r.id, (f"  {r.title}", "dim"))
            label.no_wrap, label.overflow = True, "ellipsis"  # cut at the column's edge
            extra = [violations_cell(r.violations)] if run is not None else []
            heat.add_row(
                label,
                *cells,
                plain(str(gap) if gap else "", "bold red"),
                agreement_cell(r.agreement),
                *extra,
                key=r.id,
            )

    @on(DataTable.CellHighlighted, "#heat")
    def _drill(self, event: DataTable.CellHighlighted) -> None:
        clause_id = event.cell_key.row_key.value
        column = event.cell_key.column_key.value
        if clause_id:
            self.load_drill(clause_id, column if column in KINDS else None)

    @work(thread=True, exclusive=True, group="coverage-drill")
    def load_drill(self, clause_id: str, kind: str | None) -> None:
        rows = coverage.examples_for(self.app.workspace.db, clause_id, kind)  # type: ignore[attr-defined]
        self.post_message(self.DrillLoaded(rows))

    def on_coverage_screen_drill_loaded(self, message: DrillLoaded) -> None:
        drill = self.query_one("#drill", DataTable)
        drill.clear()
        for eid, kind, status, title in message.rows:
            drill.add_row(plain(eid), plain(kind), plain(status), clipped(title), key=eid)
        self.query_one("#drill-title", Static).update(content(f"Examples in the selected cell ({len(message.rows)})"))

    @on(DataTable.RowSelected, "#drill")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.open_editor(event.row_key.value)  # type: ignore[attr-defined]

    def _current(self) -> tuple[str | None, str | None]:
        heat = self.query_one("#heat", DataTable)
        if not heat.row_count:
            return None, None
        key = heat.coordinate_to_cell_key(heat.cursor_coordinate)
        column = key.column_key.value
        return key.row_key.value, column if column in KINDS else None

    def action_write(self) -> None:
        clause_id, kind = self._current()
        if clause_id:
            self.app.open_editor(None, kind=kind or "story", clauses=(clause_id,))  # type: ignore[attr-defined]

    def action_sort_gap(self) -> None:
        self.order = "gap"
        self._fill()

    def action_sort_priority(self) -> None:
        self.order = "priority"
        self._fill()

    def action_sort_document(self) -> None:
        self.order = "document"
        self._fill()

    def action_reload(self) -> None:
        self.load()
