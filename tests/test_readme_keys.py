"""The README's key tables match the bindings, both ways.

A key the README lists must be bound on that screen (by the screen, or by a widget on it); a key the
footer shows (`show=True` with a description) must be in the README. Tables look like

    | Key (Review) | Action |          one table per screen, named by its HELP_NAME
    | Dialog | Key | Action |          several small screens in one table, named in the first cell

and a key cell holds one or more keys in backticks, spelled as a person reads them (`ctrl+s`,
`F6`, `Enter`, `/`, `alt+↑`).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator

import pytest
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, OptionList

import curator.tui
from curator.tui.app import CuratorApp
from curator.tui.screens.editor import LinkList
from curator.tui.screens.examples import ExampleTable
from curator.tui.widgets.assist_panel import SuggestionList
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
EVERYWHERE = "Everywhere"

for _module in pkgutil.walk_packages(curator.tui.__path__, "curator.tui."):
    importlib.import_module(_module.name)


def _subclasses(cls: type[DOMNode]) -> Iterator[type[DOMNode]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _ours(cls: type[DOMNode]) -> bool:
    return cls.__module__.startswith("curator.")


SCREENS: dict[str, type[DOMNode]] = {
    getattr(cls, "HELP_NAME", cls.__name__): cls for cls in _subclasses(Screen) if _ours(cls)
}

WIDGETS: dict[str, tuple[type[Widget], ...]] = {
    "Examples": (ExampleTable,),
    "New example": (OptionList,),
    "Editor": (LinkList, SuggestionList),
    "Review": (DataTable,),
    "Annotate": (DataTable,),
    "Adjudicate": (DataTable,),
    "Coverage": (DataTable,),
    "Evals": (DataTable,),
    "Eval suite": (DataTable,),
    "New suite": (Input,),
    "Grade run": (Input,),
    "Pick a run": (OptionList,),
    "Comment": (Input,),
}
"""Widgets whose keys a screen's table lists: ours (their shown keys must be there too) and
Textual's (Enter in a table or a list, which the README may name)."""


def _bindings(cls: type[DOMNode]) -> list[tuple[str, Binding]]:
    return [(key, b) for key, bindings in cls._merge_bindings().key_to_bindings.items() for b in bindings]


def bound(name: str) -> tuple[set[str], set[str]]:
    """(every key bound on screen `name`, the keys of those the footer shows)."""
    if name == EVERYWHERE:
        found = _bindings(CuratorApp)
        if CuratorApp.ENABLE_COMMAND_PALETTE:
            found.append((App.COMMAND_PALETTE_BINDING, Binding(App.COMMAND_PALETTE_BINDING, "command_palette")))
        owners: list[type[DOMNode]] = []
    else:
        found = _bindings(SCREENS[name])
        owners = list(WIDGETS.get(name, ()))
    shown = {key for key, b in found if b.show and b.description}
    for widget in owners:
        for key, b in _bindings(widget):
            found.append((key, b))
            if _ours(widget) and b.show and b.description:
                shown.add(key)
    return {key for key, _ in found}, shown


SPOKEN = {"/": "slash", "↑": "up", "↓": "down", "esc": "escape", "del": "delete"}


def key_name(spelled: str) -> str:
    """A key as the README spells it (`F6`, `Enter`, `alt+↑`, `/`, `A`) as Textual names it."""
    parts = spelled.split("+") if spelled != "+" else [spelled]
    named = []
    for part in parts:
        part = SPOKEN.get(part.lower(), SPOKEN.get(part, part))
        named.append(part if len(part) == 1 else part.lower())
    return "+".join(named)


def readme_keys() -> dict[str, set[str]]:
    """Screen name -> the keys its README table lists."""
    tables: dict[str, set[str]] = {}
    lines = README.splitlines()
    for i, line in enumerate(lines):
        single = re.fullmatch(r"\| Key \((.+)\) \| Action \|", line.strip())
        several = re.fullmatch(r"\| Dialog \| Key \| Action \|", line.strip())
        if not (single or several):
            continue
        name = single.group(1) if single else ""
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
            if several:
                name = cells.pop(0) or name
            keys = re.findall(r"`([^`]+)`", cells[0])
            assert keys, f"README: a {name} key row without a key in backticks: {row}"
            tables.setdefault(name, set()).update(key_name(k) for k in keys)
    return tables


TABLES = readme_keys()


def test_the_readme_has_key_tables_for_the_app_and_its_screens() -> None:
    assert EVERYWHERE in TABLES
    unknown = set(TABLES) - set(SCREENS) - {EVERYWHERE}
    assert not unknown, f"README key tables name screens that do not exist: {unknown} (use their HELP_NAME)"
    missing = {name for name in SCREENS if bound(name)[1]} - set(TABLES)
    assert not missing, f"README has no key table for {missing}"


def test_every_screen_has_a_help_name() -> None:
    nameless = [cls.__name__ for name, cls in SCREENS.items() if name == cls.__name__]
    assert not nameless, f"screens without HELP_NAME (F1 and the README name screens by it): {nameless}"


def test_widgets_with_keys_say_where_the_readme_lists_them() -> None:
    placed = {widget for widgets in WIDGETS.values() for widget in widgets}
    unplaced = [
        cls.__name__
        for cls in _subclasses(Widget)
        if _ours(cls) and not issubclass(cls, Screen) and "BINDINGS" in cls.__dict__ and cls not in placed
    ]
    assert not unplaced, f"widgets with keys of their own, missing from WIDGETS (and the README): {unplaced}"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_key_in_the_readme_is_bound(name: str) -> None:
    every, _ = bound(name)
    stale = TABLES[name] - every
    assert not stale, f"README lists keys for {name} that nothing binds: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted([*SCREENS, EVERYWHERE]))
def test_every_shown_key_is_in_the_readme(name: str) -> None:
    _, shown = bound(name)
    missing = shown - TABLES.get(name, set())
    assert not missing, f"the footer of {name} shows keys the README does not list: {sorted(missing)}"


def test_key_names_are_read_as_textual_names_them() -> None:
    assert [key_name(k) for k in ("F6", "Enter", "ctrl+s", "alt+↑", "/", "A", "a", "Escape", "space")] == [
        "f6",
        "enter",
        "ctrl+s",
        "alt+up",
        "slash",
        "A",
        "a",
        "escape",
        "space",
    ]
