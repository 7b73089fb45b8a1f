"""docs/screenshots.py cannot rot: its core function takes one screen's SVG into a tmp dir."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tests.helpers import MAIN_SCREENS, load_docs_script


def svg_text(svg: str) -> str:
    """The visible text of a Textual SVG screenshot, one string (runs joined, spaces restored)."""
    runs = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return "".join(html.unescape(r) for r in runs).replace("\xa0", " ")


def test_screenshot_script_knows_every_main_screen() -> None:
    shots = load_docs_script("screenshots").SHOTS
    assert set(MAIN_SCREENS) <= set(shots)


async def test_coverage_screenshot(tmp_path: Path) -> None:
    shots = load_docs_script("screenshots")
    path = await shots.capture("coverage", tmp_path / "out", work_dir=tmp_path / "ws")
    assert path == tmp_path / "out" / "coverage.svg"
    svg = path.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg")
    text = svg_text(svg)
    assert "Approved tokens per section" in text
    for header in ("clause", "story", "advice", "document", "agentic", "gap", "agree"):  # every column fits at 120
        assert header in text, header
    assert f"demo.db · {shots.USER}" in text
